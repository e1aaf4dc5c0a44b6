//! Flaky tests from the stored history of a service, with the evidence.

use crate::junit::{Finding, Thresholds, evaluate};
use crate::metrics::Window;
use crate::store::Store;
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct FlakyRequest {
    pub service: String,
    pub window: Window,
    pub thresholds: Thresholds,
}

/// The tests that flake in the window, on one snapshot.
pub fn find(store: &mut dyn Store, req: &FlakyRequest) -> Result<Vec<Finding>> {
    let t = &req.thresholds;
    let d = Thresholds::default();
    for (name, v, default) in [
        (
            "--min-failure-rate",
            t.min_failure_percent,
            d.min_failure_percent,
        ),
        (
            "--max-failure-rate",
            t.max_failure_percent,
            d.max_failure_percent,
        ),
        ("--infra-threshold", t.infra_percent, d.infra_percent),
    ] {
        if !(0.0..=100.0).contains(&v) {
            return Err(Error::usage_hint(
                format!("{name} must be a percentage between 0 and 100, got {v}"),
                format!("pass {name} e.g. {default}"),
            ));
        }
    }
    if t.min_failure_percent > t.max_failure_percent {
        return Err(Error::usage_hint(
            "--min-failure-rate is above --max-failure-rate",
            "give a lower bound below the upper bound, e.g. 5 and 95",
        ));
    }
    let mut history = Vec::new();
    let shown = store.describe();
    store.read(&mut |tx| {
        super::report::require_service(tx, &req.service, None, &shown, false)?;
        history = tx.test_history(&req.service, req.window, t.infra_percent)?;
        Ok(())
    })?;
    Ok(evaluate(&history, t))
}
