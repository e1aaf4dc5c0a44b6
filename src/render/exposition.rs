//! `serve`'s `GET /metrics`: the Prometheus text exposition format with the
//! names and types of seed 000 (`dora_*`, labels `project`/`environment`)
//! and seed 001 (`deployments_total`, …, labels `service`/`environment`),
//! plus a level gauge per banded metric (SPEC §9).

use std::fmt::Write;

use super::escape::prometheus_label;
use crate::app::exposition::Exposed;
use crate::metrics::Level;
use crate::store::Histogram;

pub use crate::app::exposition::BUCKETS;

/// One metric family being written: samples of every service+env.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    body: String,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind,
            help,
            body: String::new(),
        }
    }

    fn sample(&mut self, suffix: &str, labels: &str, value: f64) {
        let _ = writeln!(
            self.body,
            "{}{suffix}{{{labels}}} {}",
            self.name,
            number(value)
        );
    }

    /// `_bucket` (cumulative), `_sum` and `_count` of `values`.
    fn histogram(&mut self, labels: &str, values: &mut [f64]) {
        values.sort_by(f64::total_cmp);
        let counted = Histogram {
            at_most: BUCKETS
                .iter()
                .map(|le| values.partition_point(|v| v <= le) as u64)
                .collect(),
            sum: values.iter().sum(),
            count: values.len() as u64,
        };
        self.counted(labels, &counted);
    }

    /// The same of samples the store counted per [`BUCKETS`].
    fn counted(&mut self, labels: &str, h: &Histogram) {
        for (le, n) in BUCKETS.iter().zip(&h.at_most) {
            self.sample(
                "_bucket",
                &format!("{labels},le=\"{}\"", number(*le)),
                *n as f64,
            );
        }
        self.sample("_bucket", &format!("{labels},le=\"+Inf\""), h.count as f64);
        self.sample("_sum", labels, h.sum);
        self.sample("_count", labels, h.count as f64);
    }
}

/// Prometheus' float text: integers without a fraction.
fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

pub fn exposition(all: &[Exposed]) -> String {
    let mut df = Family::new(
        "dora_deployment_frequency_total",
        "counter",
        "Successful deployments, all time (rate() gives the frequency).",
    );
    let mut lt = Family::new(
        "dora_lead_time_seconds",
        "histogram",
        "Commit-to-deploy lead time of every change shipped, all time.",
    );
    let mut cfr = Family::new(
        "dora_change_failure_rate",
        "gauge",
        "Failed deployments as a fraction of deployments in the report window.",
    );
    let mut mttr = Family::new(
        "dora_mttr_seconds",
        "histogram",
        "Time to restore of every resolved incident, all time.",
    );
    let mut level = Family::new(
        "dora_level",
        "gauge",
        "Band level per metric in the report window: 4 elite, 3 high, 2 medium, 1 low.",
    );
    let mut deployments = Family::new(
        "deployments_total",
        "counter",
        "Successful deployments, all time (seed 001's name).",
    );
    let mut failed = Family::new(
        "deployments_failed_total",
        "counter",
        "Successful deployments that count as failed (SPEC §3), all time (seed 001's name).",
    );
    let mut lead = Family::new(
        "lead_time_seconds",
        "histogram",
        "Commit-to-deploy lead time of every change shipped, all time (seed 001's name).",
    );
    let mut resolution = Family::new(
        "incident_resolution_time_seconds",
        "gauge",
        "Mean time to restore of the incidents resolved that started in the report window (seed 001's name).",
    );
    for e in all {
        let seed000 = format!(
            "project=\"{}\",environment=\"{}\"",
            prometheus_label(&e.service),
            prometheus_label(&e.env)
        );
        let seed001 = format!(
            "service=\"{}\",environment=\"{}\"",
            prometheus_label(&e.service),
            prometheus_label(&e.env)
        );
        let m = &e.report.metrics;
        df.sample("", &seed000, e.deployments as f64);
        deployments.sample("", &seed001, e.deployments as f64);
        failed.sample("", &seed001, e.failed_deployments as f64);
        lt.counted(&seed000, &e.lead_times);
        lead.counted(&seed001, &e.lead_times);
        let mut restores = e.restore_times.clone();
        mttr.histogram(&seed000, &mut restores);
        if let Some(v) = m.change_failure_rate.value {
            cfr.sample("", &seed000, v / 100.0);
        }
        if let Some(v) = m.time_to_restore.mean {
            resolution.sample("", &seed001, v);
        }
        let levels: [(&str, Option<Level>); 5] = [
            ("deployment_frequency", m.deployment_frequency.level),
            ("lead_time_for_changes", m.lead_time_for_changes.level),
            ("change_failure_rate", m.change_failure_rate.level),
            ("time_to_restore", m.time_to_restore.level),
            (
                "failed_deployment_recovery_time",
                m.failed_deployment_recovery_time.level,
            ),
        ];
        for (metric, l) in levels {
            if let Some(l) = l {
                level.sample(
                    "",
                    &format!(
                        "{seed000},metric=\"{metric}\",level=\"{}\",bands=\"{}\"",
                        l.as_str(),
                        prometheus_label(&e.report.bands)
                    ),
                    f64::from(l.score()),
                );
            }
        }
    }
    let mut out = String::new();
    for f in [
        df,
        lt,
        cfr,
        mttr,
        level,
        deployments,
        failed,
        lead,
        resolution,
    ] {
        let _ = write!(
            out,
            "# HELP {} {}\n# TYPE {} {}\n{}",
            f.name, f.help, f.name, f.kind, f.body
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_prometheus_floats() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(86400.0), "86400");
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_the_count() {
        let mut f = Family::new("x_seconds", "histogram", "h");
        f.histogram("a=\"1\"", &mut [30.0, 60.0, 61.0, 1e9]);
        assert!(
            f.body.contains("x_seconds_bucket{a=\"1\",le=\"60\"} 2\n"),
            "{}",
            f.body
        );
        assert!(f.body.contains("x_seconds_bucket{a=\"1\",le=\"300\"} 3\n"));
        assert!(f.body.contains("x_seconds_bucket{a=\"1\",le=\"+Inf\"} 4\n"));
        assert!(f.body.contains("x_seconds_count{a=\"1\"} 4\n"));
        assert!(f.body.contains("x_seconds_sum{a=\"1\"} 1000000151\n"));
    }
}
