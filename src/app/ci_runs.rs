//! Seed 000's `/api/dora/rework` means CI rework: how often builds pass,
//! how often they are run again, how flaky the tests are. dorameter's builds
//! are the test runs `junit` recorded; what it does not record (quality
//! gates, build durations) stays unknown.

use std::collections::HashSet;

use serde::Serialize;

use crate::junit::{Thresholds, evaluate};
use crate::metrics::{Window, round_to};
use crate::store::Store;
use crate::{Error, Result};

#[derive(Clone, Debug, Serialize)]
pub struct CiRuns {
    /// Test runs of the service recorded in the window.
    pub total_builds: u64,
    /// Runs whose tests all passed in the end.
    pub successful_builds: u64,
    pub failed_builds: u64,
    /// Runs of a CI run attempt after the first, or of a commit (and job)
    /// the window already had a run of: the work was done again.
    pub retry_builds: u64,
    /// Tests with flaky evidence (`dorameter flaky`'s rules) among the
    /// tests that ran.
    pub flaky_tests: u64,
    pub tests: u64,
}

impl CiRuns {
    pub fn build_success_rate(&self) -> Option<f64> {
        percent(self.successful_builds, self.total_builds)
    }
    pub fn rework_rate(&self) -> Option<f64> {
        percent(self.retry_builds, self.total_builds)
    }
    pub fn test_flakiness(&self) -> Option<f64> {
        percent(self.flaky_tests, self.tests)
    }
}

fn percent(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| round_to(n as f64 * 100.0 / of as f64, 2))
}

/// The CI runs of `service` in `window`, on one snapshot.
pub fn ci_runs(store: &mut dyn Store, service: &str, window: Window) -> Result<CiRuns> {
    let thresholds = Thresholds::default();
    let mut out = None;
    store.read(&mut |tx| {
        let mut runs = Vec::new();
        for id in tx.test_run_ids()? {
            if let Some(run) = tx.test_run(&id)? {
                if run.service == service && window.contains(run.recorded_at) {
                    runs.push(run);
                }
            }
        }
        runs.sort_by(|a, b| a.recorded_at.cmp(&b.recorded_at).then(a.id.cmp(&b.id)));
        let mut seen = HashSet::new();
        let mut retry_builds = 0;
        for run in &runs {
            let later_attempt = run
                .run_attempt
                .as_deref()
                .and_then(|a| a.parse::<u64>().ok())
                .is_some_and(|a| a > 1);
            let again = run
                .sha
                .as_ref()
                .is_some_and(|sha| !seen.insert((sha.clone(), run.job.clone())));
            if later_attempt || again {
                retry_builds += 1;
            }
        }
        let history = tx.test_history(service, window, thresholds.infra_percent)?;
        let flaky = evaluate(&history, &thresholds);
        let failed_builds = runs.iter().filter(|r| r.failed + r.errored > 0).count() as u64;
        out = Some(CiRuns {
            total_builds: runs.len() as u64,
            successful_builds: runs.len() as u64 - failed_builds,
            failed_builds,
            retry_builds,
            flaky_tests: flaky.len() as u64,
            tests: history.iter().filter(|h| h.runs > 0).count() as u64,
        });
        Ok(())
    })?;
    out.ok_or_else(|| Error::internal("the store ran no read for the CI runs"))
}
