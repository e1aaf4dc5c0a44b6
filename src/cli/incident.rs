//! `dorameter incident open|resolve`: upsert an incident by id.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::GlobalArgs;
use super::context::{Context, check_event_format};
use crate::app::incident::{self, IncidentRequest};
use crate::env_vars as ev;
use crate::event::{self, IncidentCause};
use crate::git::Repo;
use crate::render::{self, Format, IncidentView};
use crate::settings::{Setting, Settings};
use crate::sink::SinkEvent;
use crate::store::Access;
use crate::{Error, Result, exit};

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open (or update) an incident
    Open(IncidentArgs),
    /// Resolve an incident [--resolved-at defaults to now]
    Resolve(IncidentArgs),
    /// Import incidents from PagerDuty, GitHub issues or GitLab incidents, since the last import
    Import(super::incident_import::ImportArgs),
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// Incident id, kept as given (e.g. INC-42 or a PagerDuty key)
    #[arg(long, env = ev::INCIDENT_ID)]
    pub id: String,
    /// Affected service (repeatable; env: comma separated)
    #[arg(long = "service", env = ev::SERVICE, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Environment [default: .dorameter.toml, the CI environment, else production]
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
    /// Severity, as your incident tool names it (sev1, P2, critical)
    #[arg(long, env = ev::SEVERITY)]
    pub severity: Option<String>,
    /// A one-line summary
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
    /// open: reopen a resolved incident (without it, a resolved incident stays resolved)
    #[arg(long, env = ev::REOPEN, value_parser = crate::cli::on_off)]
    pub reopen: bool,
}

/// The request from the flags and settings; `--sha` is resolved in `repo`
/// when there is one.
pub fn request(
    args: &IncidentArgs,
    resolving: bool,
    s: &Settings,
    repo: Option<&Repo>,
) -> Result<IncidentRequest> {
    event::validate_user_id("--id", &args.id)?;
    if resolving && args.reopen {
        return Err(Error::usage_hint(
            "--reopen is for `incident open`",
            "reopen with `incident open --id ID --reopen`, or drop --reopen to resolve",
        ));
    }
    let services = args
        .services
        .iter()
        .map(|v| {
            Ok(Setting::new(v.clone(), s.origin("services"))
                .named("--service", "api")?
                .value)
        })
        .collect::<Result<Vec<_>>>()?;
    let deployment_sha = match &args.sha {
        None => None,
        Some(rev) => Some(match repo {
            Some(r) => r.resolve_or_keep_full_sha("--sha", rev)?,
            None if crate::git::is_full_sha(rev) => rev.to_ascii_lowercase(),
            None => {
                return Err(Error::usage_hint(
                    format!("cannot resolve --sha '{rev}' outside a git repository"),
                    "give the full 40-character sha, or run inside the repository (or pass --repo)",
                ));
            }
        }),
    };
    Ok(IncidentRequest {
        id: args.id.clone(),
        resolving,
        reopen: args.reopen,
        from_source: false,
        default_service: if services.is_empty() {
            s.service(None, repo)?.map(|v| v.value)
        } else {
            None
        },
        services,
        env: s
            .flag("env", args.env.clone())
            .map(|v| v.named("--env", "production"))
            .transpose()?
            .map(|v| v.value),
        default_env: s.env_given(None)?.map(|v| v.value),
        started_at: s.time("started_at", args.started_at.clone())?,
        detected_at: s.time("detected_at", args.detected_at.clone())?,
        resolved_at: s.time("resolved_at", args.resolved_at.clone())?,
        severity: args.severity.clone(),
        title: args.title.clone(),
        cause: args
            .cause
            .clone()
            .map(|c| s.choice::<IncidentCause>("cause", c, &IncidentCause::choices()))
            .transpose()?,
        deployment_id: args.deployment.clone(),
        deployment_sha,
        attribution_window: s.attribution_window(args.attribution_window.clone())?.value,
        now: s.now,
    })
}

pub fn run(cmd: IncidentCommand, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let (args, resolving) = match cmd {
        IncidentCommand::Open(a) => (a, false),
        IncidentCommand::Resolve(a) => (a, true),
        IncidentCommand::Import(a) => return super::incident_import::run(a, global, ctx),
    };
    let mut settings = ctx.settings(global, Some(&args.repo))?;
    check_event_format(&mut settings)?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo)).ok();
    let req = request(&args, resolving, &settings, repo.as_ref())?;
    ctx.check_sinks(&settings)?;
    let mut store = ctx.open_store(&settings, repo.as_ref(), Access::ReadWrite)?;
    let recorded = incident::record(store.as_mut(), repo.as_ref(), &req)?;
    let code = ctx.settle_store(&settings, store.as_ref(), exit::OK)?;
    drop(store);
    ctx.warn_all(&settings, &recorded.warnings)?;
    let view = IncidentView::new(
        &recorded.incident,
        recorded.attributed.as_deref(),
        &recorded.warnings,
    );
    let text = match settings.format.value {
        Format::Json => render::json(&view),
        _ => render::incident_table(&view),
    };
    ctx.out(&text)?;
    let events = vec![SinkEvent::Incident(recorded.incident)];
    ctx.emit(&settings, repo.as_ref(), events, code)
}

#[cfg(test)]
mod tests {
    use super::{IncidentCommand, request};
    use crate::cli::Command;
    use crate::cli::tests::parse;
    use crate::event::IncidentCause;

    fn incident(
        args: &[&str],
        config: &str,
    ) -> crate::Result<crate::app::incident::IncidentRequest> {
        let mut all = vec!["dorameter", "incident"];
        all.extend_from_slice(args);
        let (cmd, s, _dir) = parse(&all, &[], config);
        let Command::Incident(c) = cmd else {
            unreachable!()
        };
        let (a, resolving) = match c {
            IncidentCommand::Open(a) => (a, false),
            IncidentCommand::Resolve(a) => (a, true),
            IncidentCommand::Import(_) => unreachable!(),
        };
        request(&a, resolving, &s, None)
    }

    #[test]
    fn open_and_resolve() {
        let r = incident(
            &[
                "open",
                "--id",
                "INC-1",
                "--service",
                "api,web",
                "--cause",
                "deploy",
                "--started-at",
                "2026-01-01T10:00:00Z",
            ],
            "",
        )
        .unwrap();
        assert_eq!(r.services, ["api", "web"]);
        assert_eq!(
            (r.cause, r.resolving, r.env.as_deref()),
            (Some(IncidentCause::Deploy), false, None)
        );
        assert_eq!(r.attribution_window, chrono::Duration::hours(24));
        let r = incident(
            &["resolve", "--id", "INC-1"],
            "service = \"api\"\nenv = \"staging\"\nattribution_window = \"2h\"\n",
        )
        .unwrap();
        assert!(r.resolving && r.services.is_empty());
        // The config's env is a default for a new incident, never a move.
        assert_eq!(
            (
                r.default_service.as_deref(),
                r.default_env.as_deref(),
                r.env.as_deref()
            ),
            (Some("api"), Some("staging"), None)
        );
        assert_eq!(r.attribution_window, chrono::Duration::hours(2));
    }

    #[test]
    fn bad_values() {
        for (args, words) in [
            (
                &["open", "--id", "INC-1", "--cause", "aliens"][..],
                "--cause",
            ),
            (&["open", "--id", "INC 1\n"], "--id"),
            (
                &["open", "--id", "INC-1", "--sha", "abc"],
                "outside a git repository",
            ),
            (
                &["open", "--id", "INC-1", "--attribution-window", "soon"],
                "--attribution-window",
            ),
        ] {
            let e = incident(args, "").unwrap_err().to_string();
            assert!(e.contains(words), "{args:?}: {e}");
        }
    }
}
