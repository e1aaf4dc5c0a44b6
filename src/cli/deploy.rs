//! `dorameter deploy`: record a deployment in the deploy job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use super::context::{Context, Session, parse_choice, pick};
use crate::deploy::{DeployRequest, Planned, plan};
use crate::env_vars as ev;
use crate::event::{self, Deployment, DeploymentStatus, LeadTimeFrom};
use crate::git::Repo;
use crate::render::{self, DeploymentView, Format};
use crate::store::Access;
use crate::time::parse_time;
use crate::{Error, Result, exit};

pub const DEFAULT_MAX_COMMITS: usize = 5000;

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Service deployed [default: from CI, else the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment deployed to [default: production]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// Commit deployed: sha, tag or branch [default: the CI sha, else HEAD]
    #[arg(long, env = ev::SHA, value_name = "REV")]
    pub sha: Option<String>,
    /// The git repository (work tree or bare)
    #[arg(long, env = ev::REPO, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// When the deployment started (RFC 3339 or unix seconds) [default: --finished-at]
    #[arg(long, env = ev::STARTED_AT, value_name = "TIME")]
    pub started_at: Option<String>,
    /// When the deployment finished (RFC 3339 or unix seconds) [default: now]
    #[arg(long, env = ev::FINISHED_AT, value_name = "TIME")]
    pub finished_at: Option<String>,
    /// success, or failure for a failed deploy job (stored, never counted)
    #[arg(long, env = ev::STATUS, default_value = "success")]
    pub status: String,
    /// This deployment rolls back: the previous deployment failed
    #[arg(long, env = ev::ROLLBACK, value_parser = clap::builder::FalseyValueParser::new())]
    pub rollback: bool,
    /// This deployment is a hotfix: the previous deployment failed
    #[arg(long, env = ev::HOTFIX, value_parser = clap::builder::FalseyValueParser::new())]
    pub hotfix: bool,
    /// Compute lead time from this commit instead of the previous recorded deployment
    #[arg(long, env = ev::PREVIOUS_SHA, value_name = "REV")]
    pub previous_sha: Option<String>,
    /// Event id (idempotency key) [default: derived from the CI run, else a UUID v7]
    #[arg(long, env = ev::DEPLOYMENT_ID)]
    pub id: Option<String>,
    /// Version label of what was deployed
    #[arg(long, env = ev::VERSION)]
    pub version: Option<String>,
    /// Owning team
    #[arg(long, env = ev::TEAM)]
    pub team: Option<String>,
    /// Who deployed [default: the CI actor]
    #[arg(long, env = ev::DEPLOYED_BY)]
    pub deployed_by: Option<String>,
    /// Custom tag KEY=VALUE (repeatable; env: comma separated)
    #[arg(long = "tag", env = ev::TAGS, value_name = "KEY=VALUE", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// author (default) or committer: which commit time lead time starts from
    #[arg(long, env = ev::LEAD_TIME_FROM, value_name = "WHICH")]
    pub lead_time_from: Option<String>,
    /// Most commits one deployment may count [default: 5000]
    #[arg(long, env = ev::MAX_COMMITS, value_name = "N")]
    pub max_commits: Option<usize>,
    /// Compute and print, store nothing
    #[arg(long, env = ev::DRY_RUN, value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,
}

/// Formats `deploy` and `backfill` can print.
pub fn check_event_format(format: Format) -> Result<()> {
    match format {
        Format::Table | Format::Json | Format::Markdown => Ok(()),
        other => Err(Error::usage_hint(
            format!(
                "--format {} is not available for this command",
                other.as_str()
            ),
            "use --format table, json or markdown; prometheus and csv are for `dorameter report`",
        )),
    }
}

pub fn lead_time_from(arg: Option<&str>, session: &Session) -> Result<LeadTimeFrom> {
    match arg.or(session.config.lead_time_from.as_deref()) {
        Some(v) => parse_choice("--lead-time-from", v, &LeadTimeFrom::choices()),
        None => Ok(LeadTimeFrom::Author),
    }
}

pub fn max_commits(arg: Option<usize>, session: &Session) -> Result<usize> {
    let n = arg
        .or(session.config.max_commits)
        .unwrap_or(DEFAULT_MAX_COMMITS);
    if n == 0 {
        return Err(Error::usage_hint(
            "--max-commits must be at least 1",
            "pass --max-commits a positive number, e.g. 5000",
        ));
    }
    Ok(n)
}

pub fn non_empty(flag: &str, value: String) -> Result<String> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(Error::usage_hint(
            format!("{flag} must not be empty or contain control characters"),
            format!("pass {flag} a name such as api"),
        ));
    }
    Ok(value)
}

/// The service name when none is given: the CI project, else the repository's name.
pub fn default_service(session: &Session, repo: &Repo) -> Option<String> {
    let from_remote = repo.origin_url().and_then(|u| {
        let last = u
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()?
            .trim_end_matches(".git")
            .to_string();
        (!last.is_empty()).then_some(last)
    });
    let from_dir = repo
        .workdir()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    pick(&[
        session.config.service.clone(),
        session.ci.as_ref().and_then(|c| c.default_service.clone()),
        from_remote,
        from_dir,
    ])
}

/// `--service`, else the config file, the CI project or the repository name.
pub fn resolve_service(arg: Option<String>, session: &Session, repo: &Repo) -> Result<String> {
    match arg.or_else(|| default_service(session, repo)) {
        Some(s) => non_empty("--service", s),
        None => Err(Error::usage_hint(
            "no service name",
            "pass --service (DORAMETER_SERVICE)",
        )),
    }
}

/// `--env`, else the config file, else `production`.
pub fn resolve_env(arg: Option<String>, session: &Session) -> Result<String> {
    non_empty(
        "--env",
        pick(&[arg, session.config.env.clone()]).unwrap_or_else(|| "production".into()),
    )
}

pub fn render_deployment(
    format: Format,
    d: &Deployment,
    recorded: bool,
    warnings: &[String],
) -> String {
    let view = DeploymentView::new(d, recorded, warnings);
    match format {
        Format::Json => render::json(&view),
        Format::Markdown => render::deployment_markdown(&view),
        _ => render::deployment_table(&view),
    }
}

/// The store is unreachable (or refused us), but the sinks still hear of
/// the deployment: computed without history (no previous deployment, no
/// classification, unless `--previous-sha` gives the base), sent now or
/// spooled for the next run. The command still fails with the store's error.
fn deliver_without_store(
    ctx: &mut Context<'_>,
    global: &GlobalArgs,
    session: &Session,
    repo: &Repo,
    req: &DeployRequest,
    store_error: Error,
) -> Result<u8> {
    // A path that does not exist opens as an empty in-memory store.
    let mut empty = crate::store::SqliteStore::open(std::path::Path::new(""), Access::ReadOnly)?;
    let mut planned = None;
    crate::store::Store::read(&mut empty, &mut |tx| {
        planned = Some(plan(repo, tx, req)?);
        Ok(())
    })?;
    if let Some(p) = planned {
        ctx.warn(
            session,
            &format!("the store is unavailable: deployment {} goes to the sinks without its history (lead time from --previous-sha only)", req.id),
        )?;
        super::flush::emit(
            ctx,
            global,
            session,
            Some(repo),
            vec![crate::sink::SinkEvent::Deployment(p.deployment)],
            exit::OK,
        )?;
    }
    Err(store_error)
}

pub fn run(args: DeployArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let session = ctx.session(global, Some(&args.repo))?;
    check_event_format(session.format)?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo))?;

    let service = resolve_service(args.service.clone(), &session, &repo)?;
    let env = resolve_env(args.env.clone(), &session)?;
    let status: DeploymentStatus =
        parse_choice("--status", &args.status, &DeploymentStatus::choices())?;

    let sha_rev = pick(&[
        args.sha.clone(),
        session.ci.as_ref().and_then(|c| c.sha.clone()),
    ])
    .unwrap_or_else(|| "HEAD".into());
    let sha = repo.resolve_commit("--sha", &sha_rev)?;
    let previous_sha = match &args.previous_sha {
        None => None,
        Some(rev) => match repo.resolve_commit("--previous-sha", rev) {
            Ok(full) => Some(full),
            // A full sha this clone lacks (shallow): recorded as not found, not an error.
            Err(_) if rev.len() >= 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) => {
                Some(rev.to_ascii_lowercase())
            }
            Err(e) => return Err(e.into()),
        },
    };

    let finished_at = match &args.finished_at {
        Some(v) => parse_time("--finished-at", v, session.now)?,
        None => session.now,
    };
    let started_at = match &args.started_at {
        Some(v) => parse_time("--started-at", v, session.now)?,
        None => finished_at,
    };
    if started_at > finished_at {
        return Err(Error::usage_hint(
            "--started-at is after --finished-at",
            "give the time the deployment started as --started-at and the time it finished as --finished-at",
        ));
    }

    let id = match &args.id {
        Some(id) => {
            event::validate_user_id("--id", id)?;
            id.clone()
        }
        None => match &session.ci {
            Some(ci) if ci.run_key.len() > 1 => {
                let mut parts: Vec<&str> = ci.run_key.iter().map(String::as_str).collect();
                parts.extend([service.as_str(), env.as_str()]);
                event::derived_id(&parts)
            }
            _ => event::new_id(),
        },
    };

    let mut tags = BTreeMap::new();
    for t in &args.tags {
        let Some((k, v)) = t.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(Error::usage_hint(
                format!("invalid --tag '{t}'"),
                "give each --tag as KEY=VALUE, e.g. --tag region=eu-west-1",
            ));
        };
        tags.insert(k.trim().to_string(), v.to_string());
    }

    let req = DeployRequest {
        id,
        service,
        env,
        sha,
        previous_sha,
        started_at,
        finished_at,
        status,
        rollback: args.rollback,
        hotfix: args.hotfix,
        lead_time_from: lead_time_from(args.lead_time_from.as_deref(), &session)?,
        max_commits: max_commits(args.max_commits, &session)?,
        repository_url: session
            .ci
            .as_ref()
            .and_then(|c| c.repository_url.clone())
            .or_else(|| repo.origin_url().map(|u| crate::ci::strip_credentials(&u))),
        version: args.version.clone(),
        team: args.team.clone().or_else(|| session.config.team.clone()),
        pipeline_id: session.ci.as_ref().and_then(|c| c.pipeline_id.clone()),
        pipeline_url: session.ci.as_ref().and_then(|c| c.pipeline_url.clone()),
        deployed_by: args
            .deployed_by
            .clone()
            .or_else(|| session.ci.as_ref().and_then(|c| c.actor.clone())),
        tags,
    };

    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let mut store = match ctx.open_store(global, &session, Some(&repo), access) {
        Ok(store) => store,
        Err(e @ Error::Store(crate::store::StoreError::Open { .. }))
            if !args.dry_run && !session.sinks.is_empty() =>
        {
            return deliver_without_store(ctx, global, &session, &repo, &req, e);
        }
        Err(e) => return Err(e),
    };
    let mut result: Option<(Planned, bool)> = None;
    if args.dry_run {
        store.read(&mut |tx| {
            result = Some((plan(&repo, tx, &req)?, false));
            Ok(())
        })?;
    } else {
        store.write(&mut |tx| {
            if let Some(existing) = tx.deployment(&req.id)? {
                let warning = format!(
                    "deployment {} was already recorded; nothing changed",
                    req.id
                );
                result = Some((
                    Planned {
                        deployment: existing,
                        warnings: vec![warning],
                    },
                    false,
                ));
                return Ok(());
            }
            let planned = plan(&repo, tx, &req)?;
            let inserted = tx.insert_deployment(&planned.deployment)?;
            result = Some((planned, inserted));
            Ok(())
        })?;
    }
    let Some((planned, recorded)) = result else {
        return Err(Error::usage("no deployment was planned"));
    };
    for w in &planned.warnings {
        ctx.warn(&session, w)?;
    }
    ctx.info(&session, &format!("store: {}", store.describe()))?;
    ctx.out(&render_deployment(
        session.format,
        &planned.deployment,
        recorded,
        &planned.warnings,
    ))?;
    {
        use crate::ci::github::outputs;
        let view = DeploymentView::new(&planned.deployment, recorded, &planned.warnings);
        let lead = view
            .lead_time
            .as_ref()
            .map(|l| l.p50_seconds.to_string())
            .unwrap_or_default();
        let json = serde_json::to_string(&view).unwrap_or_default();
        ctx.github_outputs(
            &session,
            &[(outputs::LEAD_TIME, lead), (outputs::JSON, json)],
        )?;
    }
    drop(store);
    let events = if args.dry_run {
        Vec::new()
    } else {
        vec![crate::sink::SinkEvent::Deployment(planned.deployment)]
    };
    super::flush::emit(ctx, global, &session, Some(&repo), events, exit::OK)
}
