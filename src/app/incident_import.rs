//! `incident import`: records what a source read (`crate::sources`) as
//! incidents, each as `incident open|resolve` would (an upsert by id that
//! follows the source: an incident open there again is reopened here), and
//! stores the source's cursor, all in one write transaction: a failed
//! import records nothing and leaves the cursor where it was.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::incident::{IncidentRequest, record_in};
use crate::Result;
use crate::event::{Incident, IncidentCause};
use crate::git::Repo;
use crate::sources::{Fetched, Imported};
use crate::store::{Store, WriteTx};

/// How to record what a source read.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// The cursor's key (`PagerDuty::source` …).
    pub source: String,
    /// The service of an incident its source names none for.
    pub default_service: Option<String>,
    /// The env of a new incident.
    pub env: String,
    /// `[incident_import] severity`.
    pub severity: BTreeMap<String, String>,
    pub attribution_window: Duration,
    pub now: DateTime<Utc>,
    pub dry_run: bool,
}

/// What an import did, for the summary line and `--format json`.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub source: String,
    pub dry_run: bool,
    pub requests: usize,
    pub read: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Per reason, how many items were not recorded.
    pub skipped: BTreeMap<String, usize>,
    pub open: usize,
    pub cursor_before: Option<String>,
    pub cursor: String,
    /// `--dry-run`: each incident as it would be recorded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<DryRunRow>,
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The incidents this import changed (for the sinks).
    #[serde(skip)]
    pub changed: Vec<Incident>,
}

/// An incident a dry run would record, and whether it is new, updated or
/// unchanged.
#[derive(Debug, Serialize)]
pub struct DryRunRow {
    pub id: String,
    pub action: &'static str,
    pub services: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub severity: Option<String>,
    pub title: Option<String>,
}

/// Records `fetched` and stores its cursor (nothing under `dry_run`).
pub fn record(
    store: &mut dyn Store,
    repo: Option<&Repo>,
    req: &ImportRequest,
    cursor_before: Option<String>,
    fetched: Fetched,
) -> Result<Summary> {
    let mut summary = Summary {
        source: req.source.clone(),
        dry_run: req.dry_run,
        requests: fetched.requests,
        read: fetched.incidents.len() + fetched.skipped.len(),
        cursor_before,
        cursor: fetched.cursor.clone(),
        ..Summary::default()
    };
    for reason in &fetched.skipped {
        *summary.skipped.entry(reason.clone()).or_default() += 1;
    }
    let mut body = |tx: &mut dyn WriteTx| -> Result<()> {
        for i in &fetched.incidents {
            let r = request(i, req)?;
            let recorded = record_in(tx, repo, &r)?;
            summary.warnings.extend(
                recorded
                    .warnings
                    .into_iter()
                    .map(|w| format!("{}: {w}", i.id)),
            );
            let action = match (recorded.created, recorded.changed) {
                (true, _) => {
                    summary.new += 1;
                    "new"
                }
                (false, true) => {
                    summary.updated += 1;
                    "updated"
                }
                (false, false) => {
                    summary.unchanged += 1;
                    "unchanged"
                }
            };
            if req.dry_run {
                let i = &recorded.incident;
                summary.incidents.push(DryRunRow {
                    id: i.id.clone(),
                    action,
                    services: i.services.clone(),
                    started_at: i.started_at,
                    resolved_at: i.resolved_at,
                    severity: i.severity.clone(),
                    title: i.title.clone(),
                });
            }
            if recorded.incident.resolved_at.is_none() {
                summary.open += 1;
            }
            if recorded.changed {
                summary.changed.push(recorded.incident);
            }
        }
        tx.set_cursor(&req.source, &fetched.cursor)?;
        Ok(())
    };
    if req.dry_run {
        store.simulate(&mut |tx| body(tx))?;
    } else {
        store.write(&mut |tx| body(tx))?;
    }
    Ok(summary)
}

/// The `incident open|resolve` request that records `i`. An incident
/// without a service fails the import (nothing recorded, the cursor kept):
/// skipping it would lose it behind the cursor.
fn request(i: &Imported, req: &ImportRequest) -> Result<IncidentRequest> {
    let service = i
        .service
        .clone()
        .or_else(|| req.default_service.clone())
        .ok_or_else(|| {
            crate::Error::usage_hint(
                format!("incident {} names no service", i.id),
                "pass --service (DORAMETER_SERVICE)",
            )
        })?;
    crate::event::validate_user_id("the imported incident id", &i.id)?;
    let deployment_sha = i
        .root_cause
        .as_ref()
        .filter(|s| crate::git::is_full_sha(s))
        .map(|s| s.to_ascii_lowercase());
    let severity = i
        .severity
        .as_ref()
        .map(|s| req.severity.get(s).cloned().unwrap_or_else(|| s.clone()));
    Ok(IncidentRequest {
        id: i.id.clone(),
        resolving: i.resolved_at.is_some(),
        reopen: false,
        services: vec![service],
        from_source: true,
        default_service: None,
        env: None,
        default_env: Some(req.env.clone()),
        started_at: Some(i.started_at),
        detected_at: Some(i.started_at),
        resolved_at: i.resolved_at,
        severity,
        title: i.title.clone(),
        cause: i.root_cause.is_some().then_some(IncidentCause::Deploy),
        deployment_id: None,
        deployment_sha,
        attribution_window: req.attribution_window,
        now: req.now,
    })
}

/// An abbreviated root cause resolved in the repository, when there is one.
pub fn resolve_root_causes(fetched: &mut Fetched, repo: Option<&Repo>) -> Vec<String> {
    let mut warnings = Vec::new();
    for i in &mut fetched.incidents {
        let Some(sha) = i.root_cause.clone() else {
            continue;
        };
        if crate::git::is_full_sha(&sha) {
            continue;
        }
        match repo.map(|r| r.resolve_or_keep_full_sha("root cause", &sha)) {
            Some(Ok(full)) => i.root_cause = Some(full),
            _ => {
                warnings.push(format!(
                    "{}: root cause {sha} is not a full sha and the repository does not resolve it; counted by timing instead",
                    i.id
                ));
                i.root_cause = None;
            }
        }
    }
    warnings
}
