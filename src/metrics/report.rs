//! The six metrics of SPEC §3 for one service + env over a window.
//!
//! Input is plain facts loaded by a store: every deployment of the service+env
//! (a deployment's failed status depends on events after the window), the
//! incidents that touch it, and the lead-time samples of the window. Output is
//! the `report` JSON shape of SPEC §4.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::bands::{BandTable, Level};
use super::stats::{round_to, summarize};
use crate::event::{DeploymentKind, IncidentCause};

/// `[since, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since <= t && t < self.until
    }
    pub fn days(&self) -> f64 {
        (self.until - self.since).num_milliseconds() as f64 / 86_400_000.0
    }
}

/// What the metrics need to know of one deployment.
#[derive(Clone, Debug)]
pub struct DeploymentFact {
    pub id: String,
    pub finished_at: DateTime<Utc>,
    /// The deploy job succeeded. Failed jobs never count, nor remediate.
    pub success: bool,
    pub kind: DeploymentKind,
    /// Ids of earlier deployments this one marked failed.
    pub remediates: Vec<String>,
    /// No lead time because its history was missing (SPEC §3: shallow
    /// history, previous sha not found, no repository).
    pub history_missing: bool,
}

impl DeploymentFact {
    /// Counts as a deployment of `window` (frequency, CFR, the comment's
    /// weekly bars): a successful job that finished in it. Failed jobs never
    /// count.
    pub fn counts_in(&self, window: Window) -> bool {
        self.success && window.contains(self.finished_at)
    }
}

/// What the metrics need to know of one incident touching the service+env.
#[derive(Clone, Debug)]
pub struct IncidentFact {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub cause: IncidentCause,
    /// The deployment it was explicitly linked to (by id, or the store's
    /// resolution of `--sha`): attribution then ignores the window.
    pub explicit_deployment: Option<String>,
    /// An explicit link was given but matched no deployment of this
    /// service+env: the incident links to nothing here.
    pub explicit_unmatched: bool,
}

pub struct ReportInput<'a> {
    pub service: &'a str,
    pub env: &'a str,
    /// The deployments of the service+env finished at or after
    /// [`earliest_cause`] of the window (or all of them), any order.
    pub deployments: &'a [DeploymentFact],
    /// The service+env has deployments at all (some maybe before those
    /// given): frequency is then a number, never "no data".
    pub known: bool,
    /// All incidents that list the service, in the env, any time.
    pub incidents: &'a [IncidentFact],
    /// Lead times (seconds) of the changes of successful deployments that
    /// finished in the window.
    pub lead_times: &'a [i64],
    pub window: Window,
    pub attribution_window: Duration,
    pub bands: &'a BandTable,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub service: String,
    pub env: String,
    pub bands: String,
    pub window: WindowOut,
    pub metrics: Metrics,
}

#[derive(Clone, Debug, Serialize)]
pub struct WindowOut {
    pub start: String,
    pub end: String,
    pub days: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time_for_changes: LeadTimeForChanges,
    pub change_failure_rate: ChangeFailureRate,
    pub time_to_restore: TimeToRestore,
    pub failed_deployment_recovery_time: FailedDeploymentRecoveryTime,
    pub rework_rate: ReworkRate,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeploymentFrequency {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub deployments: u64,
    pub deployment_days_per_week: Option<f64>,
    pub mean_interval_seconds: Option<f64>,
    pub level: Option<Level>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LeadTimeForChanges {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub mean: Option<f64>,
    pub changes: u64,
    /// Successful deployments in the window with no lead time because their
    /// history was missing (a shallow clone, a previous commit not in the
    /// clone, no checkout): the value covers the others only.
    pub deployments_without_history: u64,
    pub level: Option<Level>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChangeFailureRate {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub failed_deployments: u64,
    pub total_deployments: u64,
    pub level: Option<Level>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimeToRestore {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub mean: Option<f64>,
    pub incidents: u64,
    pub open_incidents: u64,
    pub oldest_open_age_seconds: Option<f64>,
    pub level: Option<Level>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedDeploymentRecoveryTime {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub mean: Option<f64>,
    pub failed_deployments: u64,
    /// Failed deployments in the window with no remediation yet (no sample).
    pub unrecovered_deployments: u64,
    pub level: Option<Level>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReworkRate {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub remediation_deployments: u64,
    pub total_deployments: u64,
}

/// What fired the change failure rule for a deployment (SPEC §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureCause {
    /// A later deployment (rollback, hotfix, revert, rollforward) names it.
    RemediatedBy(String),
    /// An incident was attributed to it (explicit link, or rule 3).
    Incident(String),
}

/// A deployment of the window that counts as failed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedDeployment {
    pub id: String,
    pub finished_at: DateTime<Utc>,
    /// Every cause, remediations first, in timeline order.
    pub causes: Vec<FailureCause>,
    /// The earliest remediation: a remediating deployment or the
    /// resolution of an attributed incident.
    pub recovered_at: Option<DateTime<Utc>>,
}

/// Why a deployment counts as failed, with the earliest remediation instant.
#[derive(Default)]
struct Failure {
    causes: Vec<FailureCause>,
    remediated_at: Option<DateTime<Utc>>,
}

impl Failure {
    fn failed(&self) -> bool {
        !self.causes.is_empty()
    }

    fn mark(&mut self, cause: FailureCause, at: Option<DateTime<Utc>>) {
        self.causes.push(cause);
        if let Some(at) = at {
            self.remediated_at = Some(self.remediated_at.map_or(at, |r| r.min(at)));
        }
    }
}

pub fn compute(input: &ReportInput<'_>) -> Report {
    compute_with_failures(input).0
}

/// Which successful deployments count as failed, and why: worked out from
/// every recorded event of the input, whatever its window (SPEC §3: a
/// deployment's status comes from all events). A series computes these once
/// for all its buckets ([`compute_marked`]).
pub struct Marks<'a> {
    /// The successful deployments, by finished_at then id.
    successes: Vec<&'a DeploymentFact>,
    /// Each one's causes, by the same index.
    failures: Vec<Failure>,
}

pub fn marks<'a>(input: &ReportInput<'a>) -> Marks<'a> {
    let mut successes: Vec<&DeploymentFact> =
        input.deployments.iter().filter(|d| d.success).collect();
    successes.sort_by(|a, b| a.finished_at.cmp(&b.finished_at).then(a.id.cmp(&b.id)));
    let index: HashMap<&str, usize> = successes
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i))
        .collect();

    let mut failures: Vec<Failure> = successes.iter().map(|_| Failure::default()).collect();
    for remediation in &successes {
        for target in &remediation.remediates {
            if let Some(&i) = index.get(target.as_str()) {
                failures[i].mark(
                    FailureCause::RemediatedBy(remediation.id.clone()),
                    Some(remediation.finished_at),
                );
            }
        }
    }
    for incident in input.incidents {
        if !incident.cause.counts_as_change_failure() {
            continue;
        }
        if let Some(i) = attribute(incident, &successes, &index, input.attribution_window) {
            failures[i].mark(
                FailureCause::Incident(incident.id.clone()),
                incident.resolved_at,
            );
        }
    }
    Marks {
        successes,
        failures,
    }
}

/// [`compute`], and the failed deployments of the window with their causes
/// (the change failure rate's numerator, oldest first).
pub fn compute_with_failures(input: &ReportInput<'_>) -> (Report, Vec<FailedDeployment>) {
    compute_marked(input, &marks(input))
}

/// [`compute_with_failures`] with the failure marks of an input over the
/// same deployments and incidents (only the window and the lead-time
/// samples may differ).
pub fn compute_marked(
    input: &ReportInput<'_>,
    marks: &Marks<'_>,
) -> (Report, Vec<FailedDeployment>) {
    let w = input.window;
    let bands = input.bands;
    let successes = &marks.successes;
    let failures = &marks.failures;

    let in_window: Vec<usize> = (0..successes.len())
        .filter(|&i| successes[i].counts_in(w))
        .collect();
    let n = in_window.len() as u64;
    let days = w.days();

    // Deployment frequency: null only when nothing was ever recorded here.
    let known = input.known || !input.deployments.is_empty();
    let per_day = (known && days > 0.0).then(|| n as f64 / days);
    let deploy_days: BTreeSet<_> = in_window
        .iter()
        .map(|&i| successes[i].finished_at.date_naive())
        .collect();
    let mean_interval = (in_window.len() >= 2).then(|| {
        let first = successes[in_window[0]].finished_at;
        let last = successes[in_window[in_window.len() - 1]].finished_at;
        (last - first).num_milliseconds() as f64 / 1000.0 / (in_window.len() - 1) as f64
    });
    let deployment_frequency = DeploymentFrequency {
        value: per_day.map(|v| round_to(v, 4)),
        unit: "per_day",
        deployments: n,
        deployment_days_per_week: per_day
            .map(|_| round_to(deploy_days.len() as f64 / (days / 7.0), 2)),
        mean_interval_seconds: mean_interval.map(|v| round_to(v, 2)),
        level: per_day.map(|v| bands.deployment_frequency(v)),
    };

    let mut lead: Vec<f64> = input.lead_times.iter().map(|&s| s as f64).collect();
    let lead_summary = summarize(&mut lead);
    let lead_time_for_changes = LeadTimeForChanges {
        value: lead_summary.map(|s| round_to(s.p50, 2)),
        unit: "seconds",
        p50: lead_summary.map(|s| round_to(s.p50, 2)),
        p95: lead_summary.map(|s| round_to(s.p95, 2)),
        mean: lead_summary.map(|s| round_to(s.mean, 2)),
        changes: lead.len() as u64,
        deployments_without_history: in_window
            .iter()
            .filter(|&i| successes[*i].history_missing)
            .count() as u64,
        level: lead_summary.map(|s| bands.lead_time(s.p50)),
    };

    let failed_in_window: Vec<usize> = in_window
        .iter()
        .copied()
        .filter(|&i| failures[i].failed())
        .collect();
    let cfr = (n > 0).then(|| failed_in_window.len() as f64 * 100.0 / n as f64);
    let change_failure_rate = ChangeFailureRate {
        value: cfr.map(|v| round_to(v, 2)),
        unit: "percent",
        failed_deployments: failed_in_window.len() as u64,
        total_deployments: n,
        level: cfr.map(|v| bands.change_failure_rate(v)),
    };

    let started: Vec<&IncidentFact> = input
        .incidents
        .iter()
        .filter(|i| w.contains(i.started_at))
        .collect();
    let mut restore: Vec<f64> = started
        .iter()
        .filter_map(|i| i.resolved_at.map(|r| seconds(r - i.started_at)))
        .collect();
    let open: Vec<&&IncidentFact> = started.iter().filter(|i| i.resolved_at.is_none()).collect();
    let oldest_open = open
        .iter()
        .map(|i| seconds(input.now - i.started_at))
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        });
    let ttr = summarize(&mut restore);
    let time_to_restore = TimeToRestore {
        value: ttr.map(|s| round_to(s.p50, 2)),
        unit: "seconds",
        p50: ttr.map(|s| round_to(s.p50, 2)),
        p95: ttr.map(|s| round_to(s.p95, 2)),
        mean: ttr.map(|s| round_to(s.mean, 2)),
        incidents: restore.len() as u64,
        open_incidents: open.len() as u64,
        oldest_open_age_seconds: oldest_open.map(|v| round_to(v, 2)),
        level: ttr.map(|s| bands.recovery(s.p50)),
    };

    let mut recovery: Vec<f64> = failed_in_window
        .iter()
        .filter_map(|&i| {
            failures[i]
                .remediated_at
                .map(|r| seconds(r - successes[i].finished_at))
        })
        .collect();
    let unrecovered = (failed_in_window.len() - recovery.len()) as u64;
    let fdrt = summarize(&mut recovery);
    let failed_deployment_recovery_time = FailedDeploymentRecoveryTime {
        value: fdrt.map(|s| round_to(s.p50, 2)),
        unit: "seconds",
        p50: fdrt.map(|s| round_to(s.p50, 2)),
        p95: fdrt.map(|s| round_to(s.p95, 2)),
        mean: fdrt.map(|s| round_to(s.mean, 2)),
        failed_deployments: failed_in_window.len() as u64,
        unrecovered_deployments: unrecovered,
        level: fdrt.map(|s| bands.recovery(s.p50)),
    };

    let remediations = in_window
        .iter()
        .filter(|&&i| successes[i].kind != DeploymentKind::Planned)
        .count() as u64;
    let rework_rate = ReworkRate {
        value: (n > 0).then(|| round_to(remediations as f64 * 100.0 / n as f64, 2)),
        unit: "percent",
        remediation_deployments: remediations,
        total_deployments: n,
    };

    let failed = failed_in_window
        .iter()
        .map(|&i| FailedDeployment {
            id: successes[i].id.clone(),
            finished_at: successes[i].finished_at,
            causes: failures[i].causes.clone(),
            recovered_at: failures[i].remediated_at,
        })
        .collect();
    let report = Report {
        service: input.service.to_string(),
        env: input.env.to_string(),
        bands: bands.name.to_string(),
        window: WindowOut {
            start: crate::time::format_time(w.since),
            end: crate::time::format_time(w.until),
            days: round_to(days, 4),
        },
        metrics: Metrics {
            deployment_frequency,
            lead_time_for_changes,
            change_failure_rate,
            time_to_restore,
            failed_deployment_recovery_time,
            rework_rate,
        },
    };
    (report, failed)
}

/// Seconds, never negative: a remediation recorded before the failure it
/// fixes (clock skew, a late incident link) recovers in zero time.
fn seconds(d: Duration) -> f64 {
    (d.num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// The index (into `successes`, sorted by finished_at) of the deployment an
/// incident is attributed to: the explicit link, else the latest successful
/// deployment that finished before the incident started, within the window.
fn attribute(
    incident: &IncidentFact,
    successes: &[&DeploymentFact],
    index: &HashMap<&str, usize>,
    window: Duration,
) -> Option<usize> {
    if let Some(id) = &incident.explicit_deployment {
        return index.get(id.as_str()).copied();
    }
    if incident.explicit_unmatched {
        return None;
    }
    let before = successes.partition_point(|d| d.finished_at < incident.started_at);
    let candidate = before.checked_sub(1)?;
    may_have_caused(
        successes[candidate].finished_at,
        incident.started_at,
        window,
    )
    .then_some(candidate)
}

/// SPEC §3 change failure rule 3, the one home of the attribution rule: a
/// deployment that finished at `finished` may have caused an incident that
/// started at `started` when it finished strictly before it, within
/// `window`. A deployment that finishes at the very instant the impact
/// starts did not cause it. `report`, `comment` and `incident open` all ask
/// this function.
pub fn may_have_caused(finished: DateTime<Utc>, started: DateTime<Utc>, window: Duration) -> bool {
    finished < started && started - finished <= window
}

/// The earliest a deployment can have finished and still matter to the
/// metrics of a window starting at `since`: it counts only if it finished
/// in the window, and an older one is more than the attribution window
/// before any incident that could make an in-window deployment failed. The
/// stores load deployments from here on (SPEC §3 rule 3, with
/// [`may_have_caused`]).
pub fn earliest_cause(since: DateTime<Utc>, attribution_window: Duration) -> DateTime<Utc> {
    since
        .checked_sub_signed(attribution_window)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The latest instant at which a deployment that may have caused an
/// incident started at `started` can have finished, for "at or before"
/// store queries (which keep milliseconds).
pub fn latest_cause_instant(started: DateTime<Utc>) -> DateTime<Utc> {
    started - Duration::milliseconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::band_table;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::hours(h)
    }

    fn dep(id: &str, h: i64, kind: DeploymentKind, remediates: &[&str]) -> DeploymentFact {
        DeploymentFact {
            id: id.into(),
            finished_at: t(h),
            success: true,
            kind,
            remediates: remediates.iter().map(|s| s.to_string()).collect(),
            history_missing: false,
        }
    }

    fn inc(h: i64, resolved: Option<i64>, cause: IncidentCause) -> IncidentFact {
        IncidentFact {
            id: format!("i{h}"),
            started_at: t(h),
            resolved_at: resolved.map(t),
            cause,
            explicit_deployment: None,
            explicit_unmatched: false,
        }
    }

    #[test]
    fn failures_after_the_window_count_and_infra_never_does() {
        use DeploymentKind::*;
        let deployments = vec![
            dep("a", 1, Planned, &[]),
            dep("b", 2, Planned, &[]),
            dep("c", 30, Planned, &[]),
            // After the window: rolls back c (in the window).
            dep("d", 50, Rollback, &["c"]),
            DeploymentFact {
                success: false,
                ..dep("x", 3, Planned, &[])
            },
        ];
        let incidents = vec![
            inc(3, Some(5), IncidentCause::Infra), // would hit b: infra never counts
            inc(4, Some(6), IncidentCause::Unknown), // b (2 h before, within 24 h)
        ];
        let bands = band_table("classic").unwrap();
        let r = compute(&ReportInput {
            service: "api",
            env: "production",
            deployments: &deployments,
            known: false,
            incidents: &incidents,
            lead_times: &[60, 120, 7200],
            window: Window {
                since: t(0),
                until: t(48),
            },
            attribution_window: Duration::hours(24),
            bands: &bands,
            now: t(60),
        });
        let m = &r.metrics;
        assert_eq!(m.deployment_frequency.deployments, 3);
        assert_eq!(m.deployment_frequency.value, Some(1.5));
        assert_eq!(m.deployment_frequency.level, Some(Level::Elite));
        assert_eq!(m.change_failure_rate.failed_deployments, 2);
        assert_eq!(m.change_failure_rate.value, Some(66.67));
        assert_eq!(m.change_failure_rate.level, Some(Level::Low));
        assert_eq!(m.lead_time_for_changes.p50, Some(120.0));
        // b: incident resolved at 6 h → 4 h; c: rollback at 50 h → 20 h.
        assert_eq!(m.failed_deployment_recovery_time.p50, Some(12.0 * 3600.0));
        assert_eq!(m.time_to_restore.incidents, 2);
        assert_eq!(m.time_to_restore.p50, Some(2.0 * 3600.0));
        assert_eq!(m.rework_rate.value, Some(0.0));
    }

    #[test]
    fn no_data_is_null_never_a_guess() {
        let bands = band_table("classic").unwrap();
        let r = compute(&ReportInput {
            service: "api",
            env: "production",
            deployments: &[],
            known: false,
            incidents: &[],
            lead_times: &[],
            window: Window {
                since: t(0),
                until: t(24),
            },
            attribution_window: Duration::hours(24),
            bands: &bands,
            now: t(24),
        });
        let v = serde_json::to_value(&r).unwrap();
        for m in [
            "deployment_frequency",
            "lead_time_for_changes",
            "change_failure_rate",
            "time_to_restore",
            "failed_deployment_recovery_time",
            "rework_rate",
        ] {
            assert!(v["metrics"][m]["value"].is_null(), "{m}");
        }
        assert!(v["metrics"]["change_failure_rate"]["level"].is_null());
    }

    #[test]
    fn attribution_window_bounds_implicit_links() {
        let deployments = vec![dep("a", 0, DeploymentKind::Planned, &[])];
        let incidents = vec![inc(25, Some(26), IncidentCause::Deploy)];
        let bands = band_table("classic").unwrap();
        let run = |hours| {
            compute(&ReportInput {
                service: "s",
                env: "e",
                deployments: &deployments,
                known: false,
                incidents: &incidents,
                lead_times: &[],
                window: Window {
                    since: t(0),
                    until: t(48),
                },
                attribution_window: Duration::hours(hours),
                bands: &bands,
                now: t(48),
            })
            .metrics
            .change_failure_rate
            .failed_deployments
        };
        assert_eq!(run(24), 0);
        assert_eq!(run(48), 1);
    }
}
