//! `deployments list|show`: the audit trail (SPEC §4). Each deployment with
//! its kind, status and changes, and why it counts as failed: every cause
//! (SPEC §3's rule and the deployment, incident or commit that fired it)
//! and when it was remediated, decided by the same
//! [`compute_with_failures`] as `report`, from one snapshot of the store.
//!
//! Cost: `list` reads the facts of each service+env as `report` does, then
//! looks up only the deployments it shows (at most `limit`) and what fired
//! their causes. `show` reads one deployment, the facts of its service+env
//! from its finish (less the attribution window) on, and what fired its
//! causes and the deployments it remediated.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::breakdown::{Failure, explain};
use super::report::{ReportRequest, closest_first, input, targets};
use crate::event::{Deployment, Remediation};
use crate::metrics::{FailedDeployment, Window, compute_with_failures, earliest_cause};
use crate::settings::defaults;
use crate::store::{Ahead, ReadTx, ReportFacts, Store};
use crate::{Error, Result};

/// `deployments list`: the deployments of `report`'s service (else every
/// service) and env that finished in its window.
#[derive(Clone, Debug)]
pub struct ListRequest {
    pub report: ReportRequest,
    /// Only those that count as failed (the change failure rate's
    /// numerator), not failed deploy jobs.
    pub failed_only: bool,
    /// The most to return, newest first (at least 1).
    pub limit: usize,
}

/// A deployment, and why it counts as failed when it does.
#[derive(Clone, Debug)]
pub struct Listed {
    pub deployment: Deployment,
    pub failure: Option<Failure>,
}

#[derive(Clone, Debug)]
pub struct DeploymentList {
    /// The service listed, `None` for every one.
    pub service: Option<String>,
    /// The env listed (with a service, production unless given), `None`
    /// for every one.
    pub env: Option<String>,
    /// The deployments that matched (any status; with `failed_only`, the
    /// failed ones), before the cut to `limit`.
    pub total: usize,
    /// How many of `total` count as failed.
    pub failed: usize,
    /// How many of `total` are failed deploy jobs (never deployments, SPEC §3).
    pub failed_jobs: usize,
    /// At most `limit` of them, newest first (equal times by id,
    /// descending, so every store gives the same order).
    pub deployments: Vec<Listed>,
}

/// `deployments show ID`.
#[derive(Clone, Debug)]
pub struct ShowRequest {
    pub id: String,
    pub attribution_window: Duration,
    pub now: DateTime<Utc>,
}

/// One deployment with everything known about it.
#[derive(Clone, Debug)]
pub struct Shown {
    /// As recorded; its changes ordered by lead time, then sha.
    pub deployment: Deployment,
    /// Why it counts as failed, when it does (a failed deploy job never does).
    pub failure: Option<Failure>,
    /// The deployments it marked failed, in its `remediates` order, with
    /// each one's record when the store still has it.
    pub remediated: Vec<(Remediation, Option<Deployment>)>,
}

pub fn list(store: &mut dyn Store, req: &ListRequest) -> Result<DeploymentList> {
    if req.limit == 0 {
        return Err(Error::internal("a deployment list of at most 0"));
    }
    let shown = store.describe();
    let r = &req.report;
    let mut out = None;
    store.read(&mut |tx| {
        // (finished_at, id, failure) of every deployment that matches.
        let mut rows: Vec<(DateTime<Utc>, String, Option<FailedDeployment>)> = Vec::new();
        let mut failed_jobs = 0;
        for (service, env) in targets(tx, r, &shown)? {
            let from = earliest_cause(r.window.since, r.attribution_window);
            let facts = tx.report_facts(&service, &env, r.window, from)?;
            let mut failed = failures(r, &service, &env, &facts, r.window);
            for d in facts
                .deployments
                .iter()
                .filter(|d| r.window.contains(d.finished_at))
            {
                let failure = failed.remove(&d.id);
                if !req.failed_only || failure.is_some() {
                    failed_jobs += usize::from(!d.success);
                    rows.push((d.finished_at, d.id.clone(), failure));
                }
            }
        }
        rows.sort_unstable_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
        let total = rows.len();
        let failed = rows.iter().filter(|r| r.2.is_some()).count();
        rows.truncate(req.limit);
        let ahead: Vec<Ahead<'_>> = rows.iter().map(|r| Ahead::Deployment(&r.1)).collect();
        tx.read_ahead(&ahead)?;
        let mut deployments = Vec::with_capacity(rows.len());
        for (_, id, failure) in &rows {
            let Some(d) = tx.deployment(id)? else {
                continue;
            };
            let failure = failure.as_ref().map(|f| explained(tx, &d, f)).transpose()?;
            deployments.push(Listed {
                deployment: d,
                failure,
            });
        }
        out = Some(DeploymentList {
            service: r.service.clone(),
            env: r
                .env
                .clone()
                .or_else(|| r.service.as_ref().map(|_| defaults::ENV.to_string())),
            total,
            failed,
            failed_jobs,
            deployments,
        });
        Ok(())
    })?;
    out.ok_or_else(|| Error::internal("the store ran no read for the deployment list"))
}

pub fn show(store: &mut dyn Store, req: &ShowRequest) -> Result<Shown> {
    let shown = store.describe();
    let mut out = None;
    store.read(&mut |tx| {
        let Some(mut d) = tx.deployment(&req.id)? else {
            return Err(unknown(tx, &req.id, &shown)?);
        };
        d.changes
            .sort_by(|a, b| (a.lead_time_seconds, &a.sha).cmp(&(b.lead_time_seconds, &b.sha)));
        // The window of this one instant: the failures `report` finds
        // there, from every event recorded before and after it.
        let window = Window {
            since: d.finished_at,
            until: d.finished_at + Duration::milliseconds(1),
        };
        let bands = crate::metrics::band_table(defaults::BANDS)
            .ok_or_else(|| Error::internal("the default band table is missing"))?;
        let r = ReportRequest {
            service: Some(d.service.clone()),
            env: Some(d.env.clone()),
            team: None,
            window,
            attribution_window: req.attribution_window,
            bands,
            now: req.now,
        };
        let from = earliest_cause(window.since, r.attribution_window);
        let facts = tx.report_facts(&d.service, &d.env, window, from)?;
        let failure = failures(&r, &d.service, &d.env, &facts, window)
            .remove(&d.id)
            .map(|f| explained(tx, &d, &f))
            .transpose()?;
        let mut remediated = Vec::with_capacity(d.remediates.len());
        for rem in &d.remediates {
            remediated.push((rem.clone(), tx.deployment(&rem.deployment_id)?));
        }
        out = Some(Shown {
            deployment: d,
            failure,
            remediated,
        });
        Ok(())
    })?;
    out.ok_or_else(|| Error::internal("the store ran no read for the deployment"))
}

/// The failed deployments of `window`, by id: `report`'s own computation
/// over the facts.
fn failures(
    r: &ReportRequest,
    service: &str,
    env: &str,
    facts: &ReportFacts,
    window: Window,
) -> HashMap<String, FailedDeployment> {
    let (_, failed) = compute_with_failures(&input(r, service, env, facts, &[], window));
    failed.into_iter().map(|f| (f.id.clone(), f)).collect()
}

/// `f` with each cause's recorded details.
fn explained(tx: &dyn ReadTx, d: &Deployment, f: &FailedDeployment) -> Result<Failure> {
    let causes = f
        .causes
        .iter()
        .map(|c| explain(tx, &d.id, c))
        .collect::<Result<_>>()?;
    Ok(Failure {
        deployment_id: d.id.clone(),
        sha: d.sha.clone(),
        finished_at: d.finished_at,
        causes,
        recovered_at: f.recovered_at,
    })
}

/// How many known ids an unknown one is shown with.
const CLOSEST_IDS: usize = 5;

/// A deployment id the store does not hold: exit 4 naming the closest
/// ids it does (SPEC §4, as for an unknown service).
fn unknown(tx: &dyn ReadTx, id: &str, store: &str) -> Result<Error> {
    let ids = tx.deployment_ids()?;
    let message = format!("no deployment '{id}' in {store}");
    let mut closest = closest_first(ids.iter().map(String::as_str).collect(), id);
    closest.truncate(CLOSEST_IDS);
    Ok(if closest.is_empty() {
        Error::NoInput {
            message: format!("{message}, which holds no deployments"),
            hint: Some(
                "record one with `dorameter deploy`, or check --store (DORAMETER_STORE)".into(),
            ),
        }
    } else {
        Error::NoInput {
            message: format!("{message}; closest known: {}", closest.join(", ")),
            hint: Some(
                "give an id as `deploy` printed it; `dorameter deployments list` lists them (--service, --window)"
                    .into(),
            ),
        }
    })
}
