//! Open or resolve an incident: an upsert by id that merges the new fields
//! into the recorded incident, resolves a `--sha` link to the deployment
//! that shipped it, and tells which deployment the incident is attributed to
//! (SPEC §3 rule 3, through [`crate::metrics::may_have_caused`]).

use chrono::{DateTime, Duration, Utc};

use crate::event::{Incident, IncidentCause};
use crate::git::Repo;
use crate::metrics::{latest_cause_instant, may_have_caused};
use crate::settings::defaults;
use crate::store::{DeploymentRef, Store, WriteTx};
use crate::{Error, Result};

/// What the caller asks for; `None` keeps the recorded value.
#[derive(Clone, Debug, Default)]
pub struct IncidentRequest {
    pub id: String,
    /// Resolving: `resolved_at` defaults to `now`, and an unknown incident
    /// needs a start.
    pub resolving: bool,
    /// `open --reopen`: a resolved incident is open again (SPEC §2: open
    /// then resolve is an upsert; reopening is never implicit).
    pub reopen: bool,
    /// Services given; empty keeps the recorded ones.
    pub services: Vec<String>,
    /// `incident import`: the request is the source's state of the
    /// incident, which is the truth. An incident recorded under other
    /// services moves (with a warning) instead of being refused as a typo,
    /// and one open there that is resolved here reopens.
    pub from_source: bool,
    /// The service when none is given and none is recorded.
    pub default_service: Option<String>,
    /// `--env` as given: changes a recorded incident's env.
    pub env: Option<String>,
    /// The env of a new incident when none is given (the config's or the
    /// CI's); never moves a recorded incident.
    pub default_env: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub severity: Option<String>,
    pub title: Option<String>,
    pub cause: Option<IncidentCause>,
    pub deployment_id: Option<String>,
    /// A full sha (resolved by the caller).
    pub deployment_sha: Option<String>,
    pub attribution_window: Duration,
    pub now: DateTime<Utc>,
}

/// The incident as recorded, and what it is attributed to.
#[derive(Debug)]
pub struct Recorded {
    pub incident: Incident,
    /// The deployment the incident counts against now, if any.
    pub attributed: Option<String>,
    /// Whether this changed the stored incident (a new one, or a field
    /// given anew): a retried notification changes nothing.
    pub changed: bool,
    /// Whether the store held no incident of this id before.
    pub created: bool,
    pub warnings: Vec<String>,
}

/// Upserts the incident in one write transaction.
pub fn record(
    store: &mut dyn Store,
    repo: Option<&Repo>,
    req: &IncidentRequest,
) -> Result<Recorded> {
    let mut out = None;
    store.write(&mut |tx| {
        out = Some(record_in(tx, repo, req)?);
        Ok(())
    })?;
    out.ok_or_else(|| Error::internal("the store ran no transaction for the incident"))
}

/// `'api'`, `'api', 'web'`.
fn quoted(services: &[String]) -> String {
    services
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Upserts the incident in an open write transaction (the body of
/// [`record`]; `serve` commits several in one).
pub fn record_in(
    tx: &mut dyn WriteTx,
    repo: Option<&Repo>,
    req: &IncidentRequest,
) -> Result<Recorded> {
    let mut warnings = Vec::new();
    let recorded = tx.incident(&req.id)?;
    let reopen = req.reopen
        || (req.from_source
            && !req.resolving
            && recorded.as_ref().is_some_and(|i| i.resolved_at.is_some()));
    // Resolving without a time resolves now, unless it already is: a
    // retried "resolved" notification does not move the resolution.
    let already = recorded
        .as_ref()
        .and_then(|i| i.resolved_at)
        .filter(|_| !reopen);
    let resolved_at = req
        .resolved_at
        .or(req.resolving.then(|| already.unwrap_or(req.now)));
    if let Some(i) = &recorded {
        let mut given = req.services.clone();
        let mut known = i.services.clone();
        given.sort();
        known.sort();
        if !given.is_empty() && given != known && req.from_source {
            warnings.push(format!(
                "incident {} moved from service {} to {}",
                req.id,
                quoted(&known),
                quoted(&given)
            ));
        } else if !given.is_empty() && given != known {
            return Err(Error::usage_hint(
                format!(
                    "incident {} is recorded for service {}; --service {} would move it",
                    req.id,
                    quoted(&known),
                    quoted(&given)
                ),
                "give another --id for another service's incident, or leave --service out to update this one",
            ));
        }
        if let (Some(at), false, false) = (i.resolved_at, req.resolving, reopen) {
            warnings.push(format!(
                "incident {} was resolved at {}; it stays resolved (pass --reopen to reopen it)",
                req.id,
                crate::time::format_time(at)
            ));
        }
    }
    if reopen && recorded.as_ref().is_none_or(|i| i.resolved_at.is_none()) {
        warnings.push(format!(
            "--reopen: incident {} is not resolved; nothing to reopen",
            req.id
        ));
    }
    let before = recorded.clone();
    let base = match recorded {
        Some(i) => i,
        None => new_incident(req)?,
    };
    let mut incident = Incident {
        services: if req.services.is_empty() {
            base.services.clone()
        } else {
            req.services.clone()
        },
        env: req.env.clone().unwrap_or_else(|| base.env.clone()),
        started_at: req.started_at.unwrap_or(base.started_at),
        detected_at: req.detected_at.or(base.detected_at),
        resolved_at: if reopen {
            resolved_at
        } else {
            resolved_at.or(base.resolved_at)
        },
        severity: req.severity.clone().or(base.severity.clone()),
        title: req.title.clone().or(base.title.clone()),
        cause: req.cause.unwrap_or(base.cause),
        deployment_id: req.deployment_id.clone().or(base.deployment_id.clone()),
        deployment_sha: req.deployment_sha.clone().or(base.deployment_sha.clone()),
        ..base
    };
    if req.deployment_id.is_some() {
        incident.deployment_sha = None;
    } else if req.deployment_sha.is_some() {
        incident.deployment_id = None;
    }
    for (flag, at, hint) in [
        (
            "--detected-at",
            incident.detected_at,
            "give --started-at the start of the impact (alert firing, SLO burn), and --detected-at when it was noticed, after it",
        ),
        (
            "--resolved-at",
            incident.resolved_at,
            "give --resolved-at the time service was restored, after --started-at",
        ),
    ] {
        if let Some(t) = at.filter(|t| *t < incident.started_at) {
            return Err(Error::usage_hint(
                format!(
                    "{flag} {} is before the incident started ({})",
                    crate::time::format_time(t),
                    crate::time::format_time(incident.started_at)
                ),
                hint,
            ));
        }
    }
    // Resolve a --sha link now, while the repository is at hand: a first
    // deployment records no changes, so only git can tell it shipped the sha.
    if let (Some(sha), None) = (&incident.deployment_sha, &incident.deployment_id) {
        let mut found = None;
        for s in &incident.services {
            if let Some(d) = super::deploy::shipped_by(repo, tx, s, &incident.env, sha, req.now)? {
                found = Some(d.id);
                break;
            }
        }
        match found {
            Some(id) => incident.deployment_id = Some(id),
            None => warnings.push(format!(
                "no recorded deployment of {} shipped {sha}; the link takes effect once one is recorded",
                incident.services.join(", ")
            )),
        }
    }
    let attributed = match &incident.deployment_id {
        Some(id) => {
            if tx.deployment(id)?.is_none() {
                warnings.push(format!("deployment '{id}' is not recorded (yet)"));
            }
            Some(id.clone())
        }
        None if incident.deployment_sha.is_some() => None,
        None => latest_cause(tx, &incident, req.attribution_window)?.map(|d| d.id),
    };
    let changed = before.as_ref() != Some(&incident);
    // A retried notification, an import that reads an incident again: no
    // write (nothing for the git store to push).
    if changed {
        tx.upsert_incident(&incident)?;
    }
    Ok(Recorded {
        created: before.is_none(),
        changed,
        incident,
        attributed,
        warnings,
    })
}

fn new_incident(req: &IncidentRequest) -> Result<Incident> {
    if req.resolving && req.started_at.is_none() {
        return Err(Error::usage_hint(
            format!(
                "incident '{}' is not recorded, so it cannot be resolved",
                req.id
            ),
            "open it first with `dorameter incident open`, or pass --service and --started-at to record it resolved",
        ));
    }
    let services: Vec<String> = if req.services.is_empty() {
        req.default_service.clone().into_iter().collect()
    } else {
        req.services.clone()
    };
    if services.is_empty() {
        return Err(Error::usage_hint(
            format!("incident '{}' needs a service", req.id),
            "pass --service (DORAMETER_SERVICE), repeatable",
        ));
    }
    Ok(Incident {
        id: req.id.clone(),
        services,
        env: req
            .default_env
            .clone()
            .unwrap_or_else(|| defaults::ENV.into()),
        started_at: req.started_at.unwrap_or(req.now),
        detected_at: None,
        resolved_at: None,
        severity: None,
        title: None,
        cause: IncidentCause::Unknown,
        deployment_id: None,
        deployment_sha: None,
    })
}

/// The latest successful deployment of any of the incident's services that
/// may have caused it (SPEC §3 rule 3).
fn latest_cause(
    tx: &dyn WriteTx,
    incident: &Incident,
    window: Duration,
) -> Result<Option<DeploymentRef>> {
    let mut best: Option<DeploymentRef> = None;
    let latest = latest_cause_instant(incident.started_at);
    for s in &incident.services {
        if let Some(d) = tx.previous_success(s, &incident.env, latest)? {
            if may_have_caused(d.finished_at, incident.started_at, window)
                && best.as_ref().is_none_or(|b| d.finished_at > b.finished_at)
            {
                best = Some(d);
            }
        }
    }
    Ok(best)
}
