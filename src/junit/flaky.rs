//! Flaky-test evidence over stored history (SPEC §6). Pure: takes the
//! per-test history a store computed, returns findings.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::metrics::round_to;
use crate::time::format_time;

/// One test's record over the stored runs of a window: what a store computes
/// for `evaluate`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestHistory {
    pub classname: String,
    pub name: String,
    /// Runs in which the test ran (not skipped).
    pub runs: u64,
    /// Runs whose final outcome was failed or errored.
    pub failed_runs: u64,
    /// Runs in which it failed, then passed on a retry.
    pub retried_runs: u64,
    /// Commits on which it both passed and failed.
    pub mixed_shas: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Every threshold is a flag (`dorameter flaky --help`).
#[derive(Clone, Debug)]
pub struct Thresholds {
    /// `failure_rate` evidence needs at least this many runs.
    pub min_runs: u64,
    /// … and a failure rate within [min, max] percent.
    pub min_failure_percent: f64,
    pub max_failure_percent: f64,
    /// Runs where more than this percentage of tests failed are infrastructure
    /// failures and are left out entirely.
    pub infra_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_runs: 20,
            min_failure_percent: 5.0,
            max_failure_percent: 95.0,
            infra_percent: 80.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    pub classname: String,
    pub name: String,
    /// `retry`, `same_sha`, `failure_rate`: every kind that holds.
    pub evidence: Vec<&'static str>,
    pub failure_rate: f64,
    pub runs: u64,
    pub failed_runs: u64,
    pub retried_runs: u64,
    pub mixed_shas: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// Tests with at least one kind of evidence, worst failure rate first.
pub fn evaluate(history: &[TestHistory], t: &Thresholds) -> Vec<Finding> {
    let mut out: Vec<Finding> = history
        .iter()
        .filter_map(|h| {
            let rate = if h.runs == 0 {
                0.0
            } else {
                h.failed_runs as f64 * 100.0 / h.runs as f64
            };
            let mut evidence = Vec::new();
            if h.retried_runs > 0 {
                evidence.push("retry");
            }
            if h.mixed_shas > 0 {
                evidence.push("same_sha");
            }
            if h.runs >= t.min_runs
                && rate >= t.min_failure_percent
                && rate <= t.max_failure_percent
            {
                evidence.push("failure_rate");
            }
            (!evidence.is_empty()).then(|| Finding {
                id: format!("{}::{}", h.classname, h.name),
                classname: h.classname.clone(),
                name: h.name.clone(),
                evidence,
                failure_rate: round_to(rate, 2),
                runs: h.runs,
                failed_runs: h.failed_runs,
                retried_runs: h.retried_runs,
                mixed_shas: h.mixed_shas,
                first_seen: format_time(h.first_seen),
                last_seen: format_time(h.last_seen),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.failure_rate
            .total_cmp(&a.failure_rate)
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, runs: u64, failed: u64, retried: u64, mixed: u64) -> TestHistory {
        TestHistory {
            classname: "c".into(),
            name: name.into(),
            runs,
            failed_runs: failed,
            retried_runs: retried,
            mixed_shas: mixed,
            first_seen: Utc::now(),
            last_seen: Utc::now(),
        }
    }

    #[test]
    fn each_kind_of_evidence_and_its_thresholds() {
        let t = Thresholds::default();
        let found = evaluate(
            &[
                h("steady", 100, 0, 0, 0),
                h("always_broken", 100, 100, 0, 0),
                h("rate", 20, 1, 0, 0),
                h("too_few_runs", 19, 5, 0, 0),
                h("retried", 3, 0, 1, 0),
                h("same_sha", 4, 2, 0, 1),
                h("rate_just_over", 100, 96, 0, 0),
            ],
            &t,
        );
        let got: Vec<(&str, Vec<&str>)> = found
            .iter()
            .map(|f| (f.name.as_str(), f.evidence.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("same_sha", vec!["same_sha"]),
                ("rate", vec!["failure_rate"]),
                ("retried", vec!["retry"])
            ]
        );
        assert_eq!(found[1].failure_rate, 5.0);
    }
}
