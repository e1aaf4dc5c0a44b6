//! One service+env's metrics with what is behind them: the failed
//! deployments of the window and why they count (the rule and the
//! deployment, incident or commit that fired it), and the incidents that
//! started in it. `serve`'s `/api/dora/*` endpoints answer from this.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::report::{ReportRequest, input, require_service};
use crate::event::RemediationReason;
use crate::metrics::{
    FailedDeployment, FailureCause, Report, compute_with_failures, earliest_cause,
};
use crate::settings::defaults;
use crate::store::{ReadTx, Store};
use crate::{Error, Result};

/// The metrics of one service+env and their evidence.
#[derive(Clone, Debug)]
pub struct Breakdown {
    pub report: Report,
    /// Failed deployments of the window, oldest first.
    pub failures: Vec<Failure>,
    /// Incidents that started in the window (after the severity filter),
    /// oldest first.
    pub incidents: Vec<IncidentLine>,
    /// The first recorded event of the service+env (a deployment finished or
    /// an incident started), any time: a window that ends before it has no
    /// data rather than zero deployments.
    pub history_from: Option<DateTime<Utc>>,
    /// When each deployment the window counts finished, oldest first.
    pub deployed_at: Vec<DateTime<Utc>>,
}

/// A failed deployment and every cause that marked it.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub deployment_id: String,
    pub sha: String,
    pub finished_at: DateTime<Utc>,
    pub causes: Vec<Cause>,
    /// When it was remediated: a remediating deployment finished or an
    /// attributed incident was resolved, whichever came first.
    pub recovered_at: Option<DateTime<Utc>>,
}

/// One rule that fired (SPEC §3).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Cause {
    /// A later deployment remediated it: rollback, hotfix, revert, or a
    /// rollforward subject.
    Remediation {
        deployment_id: String,
        reason: RemediationReason,
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
    },
    /// An incident was attributed to it.
    Incident {
        incident_id: String,
        severity: Option<String>,
        title: Option<String>,
    },
}

/// An incident that started in the window.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentLine {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub severity: Option<String>,
    pub title: Option<String>,
}

/// The evidence to gather besides the metrics: each costs a store lookup
/// per failed deployment or incident, so it is asked for only where shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Evidence {
    /// The failed deployments with their causes.
    pub failures: bool,
    /// The incidents that started in the window, with severity and title.
    pub incidents: bool,
}

/// The breakdown of `req`'s service (required) in its env (else
/// production). `severity`, when given, keeps only the incidents of that
/// severity (case-insensitive) for time to restore and the incident list;
/// deployments and their failures are all counted. `evidence` says which
/// lists to fill (the others stay empty).
pub fn breakdown(
    store: &mut dyn Store,
    req: &ReportRequest,
    severity: Option<&str>,
    evidence: Evidence,
) -> Result<Breakdown> {
    let Some(service) = req.service.as_deref() else {
        return Err(Error::internal("a breakdown needs a service"));
    };
    let env = req.env.as_deref().unwrap_or(defaults::ENV);
    let shown = store.describe();
    let mut out = None;
    store.read(&mut |tx| {
        require_service(tx, service, Some(env), &shown, false)?;
        let from = earliest_cause(req.window.since, req.attribution_window);
        let mut facts = tx.report_facts(service, env, req.window, from)?;
        let history_from = facts
            .first_deployment
            .into_iter()
            .chain(facts.incidents.iter().map(|i| i.started_at))
            .min();
        let mut deployed_at: Vec<_> = facts
            .deployments
            .iter()
            .filter(|d| d.counts_in(req.window))
            .map(|d| d.finished_at)
            .collect();
        deployed_at.sort();
        let mut lines = Vec::new();
        if let Some(want) = severity {
            let mut kept = Vec::new();
            for fact in facts.incidents.drain(..) {
                let recorded = tx.incident(&fact.id)?;
                let sev = recorded.as_ref().and_then(|i| i.severity.as_deref());
                if sev.is_some_and(|s| s.eq_ignore_ascii_case(want)) {
                    kept.push(fact);
                }
            }
            facts.incidents = kept;
        }
        let (report, failed) = compute_with_failures(&input(
            req,
            service,
            env,
            &facts,
            &facts.lead_times,
            req.window,
        ));
        let mut started: Vec<_> = facts
            .incidents
            .iter()
            .filter(|i| req.window.contains(i.started_at))
            .collect();
        started.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
        for fact in started.into_iter().filter(|_| evidence.incidents) {
            let recorded = tx.incident(&fact.id)?;
            lines.push(IncidentLine {
                id: fact.id.clone(),
                started_at: fact.started_at,
                resolved_at: fact.resolved_at,
                severity: recorded.as_ref().and_then(|i| i.severity.clone()),
                title: recorded.and_then(|i| i.title),
            });
        }
        let failures = if evidence.failures {
            explain_failures(tx, failed)?
        } else {
            Vec::new()
        };
        out = Some(Breakdown {
            report,
            failures,
            incidents: lines,
            history_from,
            deployed_at: std::mem::take(&mut deployed_at),
        });
        Ok(())
    })?;
    out.ok_or_else(|| Error::internal("the store ran no read for the breakdown"))
}

/// The failed deployments with their recorded sha and each cause's details
/// (the remediating deployment's rule and commit, the incident's severity
/// and title): `serve`'s evidence and the comment's list.
pub(crate) fn explain_failures(
    tx: &dyn ReadTx,
    failed: Vec<FailedDeployment>,
) -> Result<Vec<Failure>> {
    let mut failures = Vec::with_capacity(failed.len());
    for f in failed {
        let sha = tx.deployment(&f.id)?.map(|d| d.sha).unwrap_or_default();
        let mut causes = Vec::with_capacity(f.causes.len());
        for cause in &f.causes {
            causes.push(explain(tx, &f.id, cause)?);
        }
        failures.push(Failure {
            deployment_id: f.id,
            sha,
            finished_at: f.finished_at,
            causes,
            recovered_at: f.recovered_at,
        });
    }
    Ok(failures)
}

/// A cause of the failure of deployment `failed`, with the recorded
/// details of what fired it (`deployments list|show` explain theirs here too).
pub(crate) fn explain(tx: &dyn ReadTx, failed: &str, cause: &FailureCause) -> Result<Cause> {
    Ok(match cause {
        FailureCause::RemediatedBy(by) => {
            let remediation = tx
                .deployment(by)?
                .and_then(|d| d.remediates.into_iter().find(|r| r.deployment_id == failed));
            Cause::Remediation {
                deployment_id: by.clone(),
                reason: remediation
                    .as_ref()
                    .map_or(RemediationReason::Rollback, |r| r.reason),
                commit: remediation.and_then(|r| r.commit),
            }
        }
        FailureCause::Incident(id) => {
            let incident = tx.incident(id)?;
            Cause::Incident {
                incident_id: id.clone(),
                severity: incident.as_ref().and_then(|i| i.severity.clone()),
                title: incident.and_then(|i| i.title),
            }
        }
    })
}
