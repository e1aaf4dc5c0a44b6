//! Band tables as data. Each table cites its source; every boundary that the
//! source leaves open (gaps and overlaps between clusters) is chosen here and
//! explained next to the number, and again in `docs/metrics.md`.
//!
//! Comparison rules are the same for every table: deployment frequency is
//! banded with `>=`, lead time and recovery times with `<`, change failure
//! rate with `<=`; a value that meets no boundary is `low`.

use serde::Serialize;

const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;
const WEEK: f64 = 7.0 * DAY;
const MONTH: f64 = 30.0 * DAY;
const SIX_MONTHS: f64 = 182.5 * DAY;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Elite,
    High,
    Medium,
    Low,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Elite => "elite",
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }

    /// 4 (elite) .. 1 (low): for Prometheus and CSV consumers.
    pub fn score(self) -> u8 {
        match self {
            Level::Elite => 4,
            Level::High => 3,
            Level::Medium => 2,
            Level::Low => 1,
        }
    }
}

/// Which recovery metric the table's fourth row was published for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMetric {
    TimeToRestore,
    FailedDeploymentRecoveryTime,
}

/// Boundaries for elite, high and medium, in that order.
#[derive(Clone, Debug, Serialize)]
pub struct BandTable {
    pub name: &'static str,
    pub source: &'static str,
    /// Deployments per day, `>=`.
    pub deploys_per_day: [f64; 3],
    /// Lead time p50 in seconds, `<`.
    pub lead_time_seconds: [f64; 3],
    /// Change failure rate in percent, `<=`.
    pub change_failure_percent: [f64; 3],
    /// Time to restore / failed deployment recovery time p50 in seconds, `<`.
    pub recovery_seconds: [f64; 3],
    /// The recovery metric the source published; both recovery metrics are
    /// banded with `recovery_seconds` so reports stay comparable across tables.
    pub recovery_metric: RecoveryMetric,
}

const LEVELS: [Level; 3] = [Level::Elite, Level::High, Level::Medium];

impl BandTable {
    pub fn deployment_frequency(&self, per_day: f64) -> Level {
        pick(|i| per_day >= self.deploys_per_day[i])
    }
    pub fn lead_time(&self, p50_seconds: f64) -> Level {
        pick(|i| p50_seconds < self.lead_time_seconds[i])
    }
    pub fn change_failure_rate(&self, percent: f64) -> Level {
        pick(|i| percent <= self.change_failure_percent[i])
    }
    pub fn recovery(&self, p50_seconds: f64) -> Level {
        pick(|i| p50_seconds < self.recovery_seconds[i])
    }

    /// Every banded metric of a report (its JSON name), the comparison the
    /// methods above make, and the elite, high and medium boundaries: the
    /// table as data for SQL (`dorameter.bands`, `dorameter.dora_level`).
    pub fn boundaries(&self) -> [(&'static str, &'static str, [f64; 3]); 5] {
        [
            ("deployment_frequency", ">=", self.deploys_per_day),
            ("lead_time_for_changes", "<", self.lead_time_seconds),
            ("change_failure_rate", "<=", self.change_failure_percent),
            ("time_to_restore", "<", self.recovery_seconds),
            (
                "failed_deployment_recovery_time",
                "<",
                self.recovery_seconds,
            ),
        ]
    }
}

/// The level names, best first, for [`BandTable::boundaries`].
pub const LEVEL_NAMES: [&str; 3] = ["elite", "high", "medium"];

/// The four banded metrics, for [`BandTable::describe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Banded {
    DeploymentFrequency,
    LeadTime,
    ChangeFailureRate,
    Recovery,
}

impl BandTable {
    /// What `level` of `metric` means in this table, in words (seed 000's
    /// `description`: "Less than one hour", "0-15% failure rate").
    pub fn describe(&self, metric: Banded, level: Level) -> String {
        let i = LEVELS.iter().position(|l| *l == level);
        match metric {
            Banded::DeploymentFrequency => {
                let b = &self.deploys_per_day;
                match i {
                    Some(0) => format!("Deploys {} or more often (on demand)", every(b[0])),
                    Some(i) => format!("Deploys {} to {}", every(b[i]), every(b[i - 1])),
                    None => format!("Deploys less often than {}", every(b[2])),
                }
            }
            Banded::LeadTime | Banded::Recovery => {
                let b = if metric == Banded::LeadTime {
                    &self.lead_time_seconds
                } else {
                    &self.recovery_seconds
                };
                match i {
                    Some(0) => format!("Less than {}", span(b[0])),
                    Some(i) => format!("{} to {}", capitalised(&span(b[i - 1])), span(b[i])),
                    None => format!("{} or more", capitalised(&span(b[2]))),
                }
            }
            Banded::ChangeFailureRate => {
                let b = &self.change_failure_percent;
                match i {
                    Some(0) => format!("0-{}% failure rate", b[0]),
                    Some(i) => format!("{}-{}% failure rate", b[i - 1], b[i]),
                    None => format!("More than {}% failure rate", b[2]),
                }
            }
        }
    }
}

/// A deployment frequency boundary in words.
fn every(per_day: f64) -> String {
    let days = 1.0 / per_day;
    match days {
        d if (d - 1.0).abs() < 1e-9 => "daily".into(),
        d if (d - 7.0).abs() < 1e-9 => "weekly".into(),
        d if (d - 30.0).abs() < 1e-9 => "monthly".into(),
        d if (d - 182.5).abs() < 1e-9 => "every six months".into(),
        d => format!("every {d:.1} days"),
    }
}

/// A duration boundary in words.
fn span(seconds: f64) -> String {
    match seconds {
        s if s == HOUR => "one hour".into(),
        s if s == DAY => "one day".into(),
        s if s == WEEK => "one week".into(),
        s if s == MONTH => "one month".into(),
        s if s == SIX_MONTHS => "six months".into(),
        s => crate::time::humanize_seconds(s),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn pick(meets: impl Fn(usize) -> bool) -> Level {
    (0..3).find(|&i| meets(i)).map_or(Level::Low, |i| LEVELS[i])
}

fn tables() -> [BandTable; 4] {
    [
        BandTable {
            name: "classic",
            source: "The table most often quoted in practice (Accelerate / State of DevOps 2018-2019, as used throughout the seed material); SPEC §3.",
            deploys_per_day: [1.0, 1.0 / 7.0, 1.0 / 30.0],
            lead_time_seconds: [HOUR, DAY, WEEK],
            change_failure_percent: [15.0, 30.0, 45.0],
            recovery_seconds: [HOUR, DAY, WEEK],
            recovery_metric: RecoveryMetric::TimeToRestore,
        },
        BandTable {
            name: "dora-2021",
            source: "Accelerate State of DevOps 2021, performance clusters (reference/dora-bands.md).",
            // Elite "on demand (multiple per day)": >= 1/day. High "once per week –
            // once per month": >= 1/30, so the daily–weekly gap goes to high.
            // Medium "once per month – once every 6 months": >= 1/182.5.
            deploys_per_day: [1.0, 1.0 / 30.0, 1.0 / 182.5],
            // Elite < 1 h. High "1 day – 1 week": the 1 h – 1 day gap goes to high.
            // Medium "1 – 6 months": the 1 week – 1 month gap goes to medium.
            lead_time_seconds: [HOUR, WEEK, SIX_MONTHS],
            // Elite 0–15 %; high, medium and low all reported 16–30 %: the best
            // level that fits wins, so 15–30 % is high and medium is never
            // assigned for this metric; above 30 % is low.
            change_failure_percent: [15.0, 30.0, 30.0],
            // Elite < 1 h, high < 1 day, medium 1 day – 1 week; low reported
            // > 6 months: the 1 week – 6 months gap goes to low.
            recovery_seconds: [HOUR, DAY, WEEK],
            recovery_metric: RecoveryMetric::TimeToRestore,
        },
        BandTable {
            name: "dora-2023",
            source: "Accelerate State of DevOps 2023, performance clusters (reference/dora-bands.md).",
            // Elite "on demand": >= 1/day, the classic boundary (the report's high
            // cluster starts at "once per day"). High >= 1/week, medium >= 1/month;
            // low reported the same range as medium: below monthly is low.
            deploys_per_day: [1.0, 1.0 / 7.0, 1.0 / 30.0],
            // Elite < 1 day, high < 1 week, medium < 1 month; low reported the
            // same range as medium: a month or more is low.
            lead_time_seconds: [DAY, WEEK, MONTH],
            // Clusters reported exact rates 5 / 10 / 15 / 64 %: each is used as
            // the upper bound of its level.
            change_failure_percent: [5.0, 10.0, 15.0],
            // Failed deployment recovery time: elite < 1 h, high < 1 day, medium
            // < 1 week; low reported 1–6 months: the 1 week – 1 month gap goes to low.
            recovery_seconds: [HOUR, DAY, WEEK],
            recovery_metric: RecoveryMetric::FailedDeploymentRecoveryTime,
        },
        BandTable {
            name: "dora-2024",
            source: "Accelerate State of DevOps 2024, performance clusters (reference/dora-bands.md).",
            // As 2023; low "once per month – once every 6 months" and below.
            deploys_per_day: [1.0, 1.0 / 7.0, 1.0 / 30.0],
            // Elite < 1 day, high < 1 week, medium < 1 month, low 1–6 months and beyond.
            lead_time_seconds: [DAY, WEEK, MONTH],
            // 2024 inverted high (20 %) and medium (10 %), so no monotonic
            // mapping exists: we band change failure rate with the 2023 values.
            change_failure_percent: [5.0, 10.0, 15.0],
            // Elite < 1 h, high < 1 day; medium was also reported "< 1 day": the
            // 1 day – 1 week gap goes to medium; low reported 1 week – 1 month.
            recovery_seconds: [HOUR, DAY, WEEK],
            recovery_metric: RecoveryMetric::FailedDeploymentRecoveryTime,
        },
    ]
}

/// The names `--bands` accepts.
pub fn band_table_names() -> Vec<&'static str> {
    tables().iter().map(|t| t.name).collect()
}

/// The table called `name`, if any.
pub fn band_table(name: &str) -> Option<BandTable> {
    tables().into_iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_boundaries_are_exactly_the_spec_table() {
        let t = band_table("classic").unwrap();
        assert_eq!(t.deployment_frequency(1.0), Level::Elite);
        assert_eq!(t.deployment_frequency(0.99), Level::High);
        assert_eq!(t.deployment_frequency(1.0 / 7.0), Level::High);
        assert_eq!(t.deployment_frequency(1.0 / 30.0), Level::Medium);
        assert_eq!(t.deployment_frequency(0.03), Level::Low);
        assert_eq!(t.deployment_frequency(0.0), Level::Low);
        assert_eq!(t.lead_time(3599.0), Level::Elite);
        assert_eq!(t.lead_time(3600.0), Level::High);
        assert_eq!(t.lead_time(WEEK), Level::Low);
        assert_eq!(t.change_failure_rate(15.0), Level::Elite);
        assert_eq!(t.change_failure_rate(15.01), Level::High);
        assert_eq!(t.change_failure_rate(45.0), Level::Medium);
        assert_eq!(t.change_failure_rate(45.01), Level::Low);
        assert_eq!(t.recovery(DAY - 1.0), Level::High);
    }

    #[test]
    fn every_table_is_monotonic_and_named() {
        for name in band_table_names() {
            let t = band_table(name).unwrap();
            for w in [
                t.deploys_per_day,
                t.lead_time_seconds,
                t.change_failure_percent,
                t.recovery_seconds,
            ] {
                assert!(w[0] != w[2], "{name}: degenerate row");
            }
            assert!(t.deploys_per_day.windows(2).all(|w| w[0] >= w[1]), "{name}");
            assert!(
                t.lead_time_seconds.windows(2).all(|w| w[0] <= w[1]),
                "{name}"
            );
            assert!(
                t.change_failure_percent.windows(2).all(|w| w[0] <= w[1]),
                "{name}"
            );
            assert!(
                t.recovery_seconds.windows(2).all(|w| w[0] <= w[1]),
                "{name}"
            );
        }
        assert!(band_table("nope").is_none());
        assert_eq!(
            band_table_names(),
            ["classic", "dora-2021", "dora-2023", "dora-2024"]
        );
    }

    #[test]
    fn descriptions_read_as_the_seed_does() {
        let t = band_table("classic").unwrap();
        assert_eq!(
            t.describe(Banded::LeadTime, Level::Elite),
            "Less than one hour"
        );
        assert_eq!(
            t.describe(Banded::LeadTime, Level::High),
            "One hour to one day"
        );
        assert_eq!(t.describe(Banded::Recovery, Level::Low), "One week or more");
        assert_eq!(
            t.describe(Banded::ChangeFailureRate, Level::Elite),
            "0-15% failure rate"
        );
        assert_eq!(
            t.describe(Banded::ChangeFailureRate, Level::Low),
            "More than 45% failure rate"
        );
        assert_eq!(
            t.describe(Banded::DeploymentFrequency, Level::Elite),
            "Deploys daily or more often (on demand)"
        );
        assert_eq!(
            t.describe(Banded::DeploymentFrequency, Level::Medium),
            "Deploys monthly to weekly"
        );
        let t = band_table("dora-2021").unwrap();
        assert_eq!(
            t.describe(Banded::DeploymentFrequency, Level::Low),
            "Deploys less often than every six months"
        );
    }

    #[test]
    fn gap_choices() {
        let t = band_table("dora-2021").unwrap();
        assert_eq!(t.change_failure_rate(20.0), Level::High);
        assert_eq!(t.change_failure_rate(31.0), Level::Low);
        assert_eq!(t.deployment_frequency(1.0 / 3.0), Level::High);
        let t = band_table("dora-2024").unwrap();
        assert_eq!(t.change_failure_rate(12.0), Level::Medium);
        assert_eq!(t.recovery(2.0 * DAY), Level::Medium);
    }
}
