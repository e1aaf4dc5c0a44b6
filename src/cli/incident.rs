//! `dorameter incident open|resolve`: upsert an incident by id.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::GlobalArgs;
use super::context::{Context, parse_choice, pick};
use super::deploy::{check_event_format, non_empty};
use crate::deploy::shipped_by;
use crate::env_vars as ev;
use crate::event::{self, Incident, IncidentCause};
use crate::git::Repo;
use crate::render::{self, Format, IncidentView};
use crate::store::Access;
use crate::time::{parse_duration, parse_time};
use crate::{Error, Result, exit};

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open (or update) an incident
    Open(IncidentArgs),
    /// Resolve an incident [--resolved-at defaults to now]
    Resolve(IncidentArgs),
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// Incident id, kept as given (e.g. INC-42 or a PagerDuty key)
    #[arg(long, env = ev::INCIDENT_ID)]
    pub id: String,
    /// Affected service (repeatable; env: comma separated)
    #[arg(long = "service", env = ev::SERVICE, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Environment [default: production]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// Impact start: alert firing or SLO burn start, not ticket creation [default: now on open]
    #[arg(long, env = ev::STARTED_AT, value_name = "TIME")]
    pub started_at: Option<String>,
    /// When it was detected
    #[arg(long, env = ev::DETECTED_AT, value_name = "TIME")]
    pub detected_at: Option<String>,
    /// When service was restored
    #[arg(long, env = ev::RESOLVED_AT, value_name = "TIME")]
    pub resolved_at: Option<String>,
    #[arg(long, env = ev::SEVERITY)]
    pub severity: Option<String>,
    #[arg(long, env = ev::TITLE)]
    pub title: Option<String>,
    /// deploy, infra or unknown [default: unknown]; infra never counts as a change failure
    #[arg(long, env = ev::CAUSE)]
    pub cause: Option<String>,
    /// The deployment id that caused it
    #[arg(long, env = ev::INCIDENT_DEPLOYMENT, value_name = "ID", conflicts_with = "sha")]
    pub deployment: Option<String>,
    /// The commit that caused it: the deployment that shipped it is linked
    #[arg(long, env = ev::INCIDENT_SHA, value_name = "REV")]
    pub sha: Option<String>,
    /// Link to the latest deployment finished at most this long before the start [default: 24h]
    #[arg(long, env = ev::ATTRIBUTION_WINDOW, value_name = "DURATION")]
    pub attribution_window: Option<String>,
    /// The git repository, to resolve --sha
    #[arg(long, env = ev::REPO, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
}

pub fn run(cmd: IncidentCommand, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let (args, resolving) = match cmd {
        IncidentCommand::Open(a) => (a, false),
        IncidentCommand::Resolve(a) => (a, true),
    };
    let session = ctx.session(global, Some(&args.repo))?;
    check_event_format(session.format)?;
    event::validate_user_id("--id", &args.id)?;
    let now = session.now;
    let time =
        |flag: &str, v: &Option<String>| v.as_deref().map(|v| parse_time(flag, v, now)).transpose();
    let started_at = time("--started-at", &args.started_at)?;
    let detected_at = time("--detected-at", &args.detected_at)?;
    let mut resolved_at = time("--resolved-at", &args.resolved_at)?;
    if resolving && resolved_at.is_none() {
        resolved_at = Some(now);
    }
    let cause = args
        .cause
        .as_deref()
        .map(|c| parse_choice::<IncidentCause>("--cause", c, &IncidentCause::choices()))
        .transpose()?;
    let window = parse_duration(
        "--attribution-window",
        &pick(&[
            args.attribution_window.clone(),
            session.config.attribution_window.clone(),
        ])
        .unwrap_or_else(|| "24h".into()),
    )?;
    let services = args
        .services
        .iter()
        .map(|s| non_empty("--service", s.clone()))
        .collect::<Result<Vec<_>>>()?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo)).ok();
    let deployment_sha = match &args.sha {
        None => None,
        Some(rev) => Some(
            match repo.as_ref().map(|r| r.resolve_commit("--sha", rev)) {
                Some(Ok(full)) => full,
                _ if rev.len() >= 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) => {
                    rev.to_ascii_lowercase()
                }
                Some(Err(e)) => return Err(e.into()),
                None => {
                    return Err(Error::usage_hint(
                        format!("cannot resolve --sha '{rev}' outside a git repository"),
                        "give the full 40-character sha, or run inside the repository (or pass --repo)",
                    ));
                }
            },
        ),
    };

    let mut store = ctx.open_store(global, &session, repo.as_ref(), Access::ReadWrite)?;
    let mut out: Option<(Incident, Option<String>, Vec<String>)> = None;
    store.write(&mut |tx| {
        let existing = tx.incident(&args.id)?;
        let mut warnings = Vec::new();
        let base = match existing {
            Some(i) => i,
            None => {
                if resolving && started_at.is_none() {
                    return Err(Error::usage_hint(
                        format!("incident '{}' is not recorded, so it cannot be resolved", args.id),
                        "open it first with `dorameter incident open`, or pass --service and --started-at to record it resolved",
                    ));
                }
                let default_service = session.config.service.clone().or_else(|| session.ci.as_ref().and_then(|c| c.default_service.clone()));
                let services = if services.is_empty() { default_service.into_iter().collect() } else { services.clone() };
                if services.is_empty() {
                    return Err(Error::usage_hint(format!("incident '{}' needs a service", args.id), "pass --service (DORAMETER_SERVICE), repeatable"));
                }
                Incident {
                    id: args.id.clone(),
                    services,
                    env: "production".into(),
                    started_at: started_at.unwrap_or(now),
                    detected_at: None,
                    resolved_at: None,
                    severity: None,
                    title: None,
                    cause: IncidentCause::Unknown,
                    deployment_id: None,
                    deployment_sha: None,
                }
            }
        };
        let env = pick(&[args.env.clone(), session.config.env.clone()]);
        let mut incident = Incident {
            services: if services.is_empty() { base.services.clone() } else { services.clone() },
            env: match env {
                Some(e) => non_empty("--env", e)?,
                None => base.env.clone(),
            },
            started_at: started_at.unwrap_or(base.started_at),
            detected_at: detected_at.or(base.detected_at),
            resolved_at: resolved_at.or(base.resolved_at),
            severity: args.severity.clone().or(base.severity.clone()),
            title: args.title.clone().or(base.title.clone()),
            cause: cause.unwrap_or(base.cause),
            deployment_id: args.deployment.clone().or(base.deployment_id.clone()),
            deployment_sha: deployment_sha.clone().or(base.deployment_sha.clone()),
            ..base
        };
        if args.deployment.is_some() {
            incident.deployment_sha = None;
        } else if deployment_sha.is_some() {
            incident.deployment_id = None;
        }
        if let Some(r) = incident.resolved_at {
            if r < incident.started_at {
                return Err(Error::usage_hint(
                    format!("--resolved-at {} is before the incident started ({})", crate::time::format_time(r), crate::time::format_time(incident.started_at)),
                    "give --resolved-at the time service was restored, after --started-at",
                ));
            }
        }
        // Resolve a --sha link now, while the repository is at hand: a first
        // deployment records no changes, so only git can tell it shipped the sha.
        if let (Some(sha), None) = (&incident.deployment_sha, &incident.deployment_id) {
            let mut found = None;
            for s in &incident.services {
                if let Some(d) = shipped_by(repo.as_ref(), tx, s, &incident.env, sha, now)? {
                    found = Some(d.id);
                    break;
                }
            }
            match found {
                Some(id) => incident.deployment_id = Some(id),
                None => warnings.push(format!("no recorded deployment of {} shipped {sha}; the link takes effect once one is recorded", incident.services.join(", "))),
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
            None => {
                let mut best: Option<crate::store::DeploymentRef> = None;
                for s in &incident.services {
                    if let Some(d) = tx.previous_success(s, &incident.env, incident.started_at)? {
                        if incident.started_at - d.finished_at <= window && best.as_ref().is_none_or(|b| d.finished_at > b.finished_at) {
                            best = Some(d);
                        }
                    }
                }
                best.map(|d| d.id)
            }
        };
        tx.upsert_incident(&incident)?;
        out = Some((incident, attributed, warnings));
        Ok(())
    })?;
    let Some((incident, attributed, warnings)) = out else {
        return Err(Error::usage("no incident was recorded"));
    };
    for w in &warnings {
        ctx.warn(&session, w)?;
    }
    let view = IncidentView::new(&incident, attributed.as_deref(), &warnings);
    let text = match session.format {
        Format::Json => render::json(&view),
        _ => render::incident_table(&view),
    };
    ctx.out(&text)?;
    drop(store);
    let events = vec![crate::sink::SinkEvent::Incident(incident)];
    super::flush::emit(ctx, global, &session, repo.as_ref(), events, exit::OK)
}
