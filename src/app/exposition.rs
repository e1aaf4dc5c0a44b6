//! What `serve`'s Prometheus endpoint exposes for every service+env: the
//! all-time counts and samples behind its counters and histograms (one
//! observation per change shipped or incident resolved, as Prometheus
//! expects of a counter), and the report of the recent window behind its
//! gauges.

use chrono::{DateTime, Utc};

use super::report::{ReportRequest, report_of};
use crate::Result;
use crate::metrics::{Report, Window};
use crate::store::Store;
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
    /// Lead time of every change shipped, seconds, all time.
    pub lead_times: Vec<i64>,
    /// Time to restore of every resolved incident, seconds, all time.
    pub restore_times: Vec<f64>,
    /// The metrics of `req.window` (the gauges).
    pub report: Report,
}

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
            let facts = tx.report_facts(&service, &env, all_time, all_time.since)?;
            let ever = report_of(req, &service, &env, &facts, &facts.lead_times, all_time);
            let recent = tx.lead_times(&service, &env, req.window)?;
            let report = report_of(req, &service, &env, &facts, &recent, req.window);
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
                lead_times: facts.lead_times,
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
