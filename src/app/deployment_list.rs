//! The deployments of one service+env that finished in a window, newest
//! first, as recorded (successful and failed jobs alike). `serve`'s GraphQL
//! `deployments` field answers from this.
//!
//! Cost: one `report_facts` read of the service+env (the same read a
//! report makes), then one `deployment(id)` lookup for each of the at most
//! `limit` newest deployments of the window. Nothing else of the store is
//! read.

use super::report::{ReportRequest, require_service};
use crate::event::Deployment;
use crate::settings::defaults;
use crate::store::Store;
use crate::{Error, Result};

/// The newest `limit` deployments of `req`'s service (required) and env
/// (else production) that finished in its window, newest first (equal times by id,
/// descending, so every store gives the same order).
pub fn deployment_list(
    store: &mut dyn Store,
    req: &ReportRequest,
    limit: usize,
) -> Result<Vec<Deployment>> {
    let Some(service) = req.service.as_deref() else {
        return Err(Error::internal("a deployment list needs a service"));
    };
    let env = req.env.as_deref().unwrap_or(defaults::ENV);
    let shown = store.describe();
    let mut out = None;
    store.read(&mut |tx| {
        require_service(tx, service, Some(env), &shown, false)?;
        // Only the window's own deployments are listed.
        let facts = tx.report_facts(service, env, req.window, req.window.since)?;
        let mut inside: Vec<_> = facts
            .deployments
            .iter()
            .filter(|d| req.window.contains(d.finished_at))
            .map(|d| (d.finished_at, d.id.as_str()))
            .collect();
        inside.sort_unstable();
        let mut list = Vec::with_capacity(inside.len().min(limit));
        for (_, id) in inside.iter().rev().take(limit) {
            if let Some(d) = tx.deployment(id)? {
                list.push(d);
            }
        }
        out = Some(list);
        Ok(())
    })?;
    out.ok_or_else(|| Error::internal("the store ran no read for the deployment list"))
}
