//! What `serve`'s Prometheus endpoint exposes for every service+env: the
//! all-time counts behind its counters and histograms (one observation per
//! change shipped or incident resolved, as Prometheus expects of a
//! counter), and the report of the recent window behind its gauges. The
//! changes' lead times are counted per bucket by the store: a store's
//! whole history of samples is never loaded.

use chrono::{DateTime, Utc};

use super::report::{ReportRequest, report_of};
use crate::Result;
use crate::metrics::{Report, Window};
use crate::store::{Histogram, Store};
use crate::time::END_OF_TIME;

/// One service+env's numbers.
#[derive(Clone, Debug)]
pub struct Exposed {
    pub service: String,
    pub env: String,
    /// Successful deployments, all time.
    pub deployments: u64,
    /// Successful deployments that count as failed (SPEC §3), all time.
    pub failed_deployments: u64,
    /// Lead time of every change shipped, all time, per [`BUCKETS`].
    pub lead_times: Histogram,
    /// Time to restore of every resolved incident, seconds, all time.
    pub restore_times: Vec<f64>,
    /// The metrics of `req.window` (the gauges).
    pub report: Report,
}

/// Histogram upper bounds, seconds: fine enough between a minute and six
/// months that `histogram_quantile(0.95, …)` lands near the exact p95.
pub const BUCKETS: &[f64] = &[
    60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0, 86400.0,
    172800.0, 259200.0, 432000.0, 604800.0, 1209600.0, 2592000.0, 5184000.0, 7776000.0, 15552000.0,
];

/// Every service+env of the store (filtered by `req.service`/`req.env` when
/// given), on one snapshot.
pub fn exposition(store: &mut dyn Store, req: &ReportRequest) -> Result<Vec<Exposed>> {
    // From 1970: every store can take it (PostgreSQL's timestamps end
    // long before chrono's minimum), and no event is older.
    let all_time = Window {
        since: DateTime::<Utc>::UNIX_EPOCH,
        until: END_OF_TIME,
    };
    let mut out = Vec::new();
    store.read(&mut |tx| {
        out.clear();
        for (service, env) in tx.service_envs()? {
            if req.service.as_ref().is_some_and(|s| *s != service)
                || req.env.as_ref().is_some_and(|e| *e != env)
            {
                continue;
            }
            // Every deployment (the counters), the window's samples (the
            // gauges' report).
            let facts = tx.report_facts(&service, &env, req.window, all_time.since)?;
            let ever = report_of(req, &service, &env, &facts, &[], all_time);
            let report = report_of(req, &service, &env, &facts, &facts.lead_times, req.window);
            let lead_times = tx.lead_time_histogram(&service, &env, BUCKETS)?;
            let restore_times = facts
                .incidents
                .iter()
                .filter_map(|i| {
                    i.resolved_at
                        .map(|r| ((r - i.started_at).num_milliseconds() as f64 / 1000.0).max(0.0))
                })
                .collect();
            out.push(Exposed {
                deployments: ever.metrics.deployment_frequency.deployments,
                failed_deployments: ever.metrics.change_failure_rate.failed_deployments,
                lead_times,
                restore_times,
                report,
                service,
                env,
            });
        }
        Ok(())
    })?;
    Ok(out)
}
