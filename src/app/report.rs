//! The metrics for one service+env or for every one in the store, over a
//! window, with bands: the store loads the facts, [`crate::metrics::compute`]
//! turns them into reports.

use chrono::{DateTime, Duration, Utc};

use crate::metrics::{BandTable, Report, ReportInput, Window, compute};
use crate::settings::defaults;
use crate::store::{ReadTx, Store};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct ReportRequest {
    /// One service, or every service+env in the store.
    pub service: Option<String>,
    /// The environment; with a service and none given, `production`; without
    /// a service, a filter.
    pub env: Option<String>,
    pub window: Window,
    pub attribution_window: Duration,
    pub bands: BandTable,
    pub now: DateTime<Utc>,
}

/// The window `[since, until)`: `since`, else `until - span`.
pub fn window(
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    span: Duration,
) -> Result<Window> {
    let since = since.unwrap_or(until - span);
    if since >= until {
        return Err(Error::usage_hint(
            format!(
                "--since ({}) is not before --until ({})",
                crate::time::format_time(since),
                crate::time::format_time(until)
            ),
            "give a --since earlier than --until; the window is [since, until)",
        ));
    }
    Ok(Window { since, until })
}

/// One report per service+env asked for, on one snapshot.
pub fn reports(store: &mut dyn Store, req: &ReportRequest) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    store.read(&mut |tx| {
        reports.clear();
        for (service, env) in targets(tx, req)? {
            let facts = tx.report_facts(&service, &env, req.window)?;
            reports.push(compute(&ReportInput {
                service: &service,
                env: &env,
                deployments: &facts.deployments,
                incidents: &facts.incidents,
                lead_times: &facts.lead_times,
                window: req.window,
                attribution_window: req.attribution_window,
                bands: &req.bands,
                now: req.now,
            }));
        }
        Ok(())
    })?;
    Ok(reports)
}

fn targets(tx: &dyn ReadTx, req: &ReportRequest) -> Result<Vec<(String, String)>> {
    Ok(match &req.service {
        Some(s) => vec![(
            s.clone(),
            req.env.clone().unwrap_or_else(|| defaults::ENV.into()),
        )],
        None => tx
            .service_envs()?
            .into_iter()
            .filter(|(_, e)| req.env.as_ref().is_none_or(|want| want == e))
            .collect(),
    })
}
