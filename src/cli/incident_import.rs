//! `dorameter incident import --from pagerduty|github|gitlab`: the
//! incidents a tool holds, read since the cursor the last import stored
//! (SPEC §11). Meant for a scheduled pipeline.

use std::path::PathBuf;

use chrono::Duration;
use clap::Args;
use secrecy::SecretString;

use super::GlobalArgs;
use super::context::{Context, check_event_format};
use super::forge_args::{Api, Failed, ForgeArgs, Target, token};
use crate::app::incident_import::{self, ImportRequest, Summary};
use crate::env_vars as ev;
use crate::forge::ForgeError;
use crate::git::Repo;
use crate::render::Format;
use crate::settings::Settings;
use crate::sink::SinkEvent;
use crate::sources::{Fetched, github, gitlab, pagerduty};
use crate::store::Access;
use crate::{Error, Result, exit};

/// Days read by a first import without `--since`.
const FIRST_IMPORT_DAYS: i64 = 90;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Where the incidents are
    #[arg(long, env = ev::IMPORT_FROM, value_enum)]
    pub from: Api,
    /// Read from this time instead of the stored cursor [default: the cursor, else 90 days ago]
    #[arg(long, env = ev::IMPORT_SINCE, value_name = "TIME")]
    pub since: Option<String>,
    #[command(flatten)]
    pub forge: ForgeArgs,
    /// github: the label that marks an incident
    #[arg(long, env = ev::INCIDENT_LABEL, default_value = github::DEFAULT_LABEL)]
    pub label: String,
    /// The service of incidents the source names none for (GitHub and GitLab issues; PagerDuty services not mapped by [[service]] pagerduty) [default: .dorameter.toml, the CI project; PagerDuty: its service name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// The environment of new incidents [default: .dorameter.toml, the CI environment, else production]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// Print what would be recorded; record nothing, keep the cursor
    #[arg(long, env = ev::DRY_RUN, value_parser = crate::cli::on_off)]
    pub dry_run: bool,
    /// Link to the latest deployment finished at most this long before the start [default: 24h]
    #[arg(long, env = ev::ATTRIBUTION_WINDOW, value_name = "DURATION")]
    pub attribution_window: Option<String>,
    /// The git repository, to resolve an abbreviated `root cause: SHA`
    #[arg(long, env = ev::REPO, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
}

pub fn run(args: ImportArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, Some(&args.repo))?;
    check_event_format(&mut settings)?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo)).ok();
    // Everything that can be wrong here is found before any request.
    let token = token(ctx, args.from, &args.forge)?;
    let since = settings.time("since", args.since.clone())?;
    let import = settings
        .config
        .config
        .incident_import
        .clone()
        .unwrap_or_default();
    let target = Target::new(args.from, &args.forge, &settings)?;
    let service = settings
        .service_filter(args.service.clone())?
        .map(|v| v.value);
    let service = match &target.repository {
        // PagerDuty names each incident's service; this is the fallback.
        None => service,
        // An issue names none: the given one, the CI project, else the
        // repository whose issues these are (never the local clone's
        // remote: incidents are the forge repository's).
        Some(r) => service
            .or_else(|| settings.ci.as_ref().and_then(|c| c.default_service.clone()))
            .or_else(|| {
                r.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .map(str::to_string)
            })
            .filter(|s| !s.trim().is_empty()),
    };
    if target.repository.is_some() && service.is_none() {
        return Err(Error::usage_hint(
            "no service for the imported incidents",
            "pass --service (DORAMETER_SERVICE), or set service in .dorameter.toml",
        ));
    }
    let source = Source::new(&args, &settings, &target, token.0, service.clone())?;
    let req = ImportRequest {
        source: source.key(),
        default_service: service,
        env: settings.env(args.env.clone())?.value,
        severity: import.severity,
        attribution_window: settings
            .attribution_window(args.attribution_window.clone())?
            .value,
        now: settings.now,
        dry_run: args.dry_run,
    };
    if !args.dry_run {
        ctx.check_sinks(&settings)?;
    }
    // The cursor, read without creating a store: a dry run or a refused
    // token leaves nothing behind.
    let mut cursor = None;
    {
        let mut store = ctx.open_store(&settings, repo.as_ref(), Access::ReadOnly)?;
        store.read(&mut |tx| {
            cursor = tx.cursor(&req.source)?;
            Ok(())
        })?;
    }
    let from = match (since, &cursor) {
        (Some(t), _) => crate::sources::api_time(t),
        (None, Some(c)) => c.clone(),
        (None, None) => crate::sources::api_time(settings.now - Duration::days(FIRST_IMPORT_DAYS)),
    };
    let context = Failed {
        api: args.from,
        token_from: token.1,
        check: Failed::check_flags(target.repository.as_deref()),
        reading: "incidents",
    };
    let mut fetched = source
        .fetch(&from, &settings)
        .map_err(|e| context.error(e))?;
    let mut warnings = incident_import::resolve_root_causes(&mut fetched, repo.as_ref());
    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let mut store = ctx.open_store(&settings, repo.as_ref(), access)?;
    let summary = incident_import::record(store.as_mut(), repo.as_ref(), &req, cursor, fetched)?;
    let code = match args.dry_run {
        true => exit::OK,
        false => ctx.settle_store(&settings, store.as_ref(), exit::OK)?,
    };
    drop(store);
    warnings.extend(summary.warnings.iter().cloned());
    warn_some(ctx, &settings, &warnings)?;
    match settings.format.value {
        Format::Json => ctx.out_json(&summary)?,
        _ => ctx.out(&summary_text(args.from, &summary))?,
    }
    if args.dry_run {
        return Ok(code);
    }
    let events = summary
        .changed
        .into_iter()
        .map(SinkEvent::Incident)
        .collect();
    ctx.emit(&settings, repo.as_ref(), events, code)
}

/// At most ten warnings, then how many more.
fn warn_some(ctx: &mut Context<'_>, s: &Settings, warnings: &[String]) -> Result<()> {
    const SHOWN: usize = 10;
    ctx.warn_all(s, &warnings[..warnings.len().min(SHOWN)])?;
    if warnings.len() > SHOWN {
        ctx.warn(
            s,
            &format!("… and {} more warnings like these", warnings.len() - SHOWN),
        )?;
    }
    Ok(())
}

/// `imported 120 PagerDuty incidents: 100 new, 15 updated, 5 unchanged …`;
/// a dry run lists each incident first.
fn summary_text(from: Api, s: &Summary) -> String {
    use crate::render::escape::terminal;
    let mut text = String::new();
    for r in &s.incidents {
        text.push_str(&format!(
            "{:<9} {}  {}  started {}  {}{}{}\n",
            r.action,
            terminal(&r.id),
            terminal(&r.services.join(",")),
            crate::time::format_time(r.started_at),
            r.resolved_at.map_or_else(
                || "open".to_string(),
                |t| format!("resolved {}", crate::time::format_time(t))
            ),
            r.severity
                .as_deref()
                .map(|v| format!("  {}", terminal(v)))
                .unwrap_or_default(),
            r.title
                .as_deref()
                .map(|v| format!("  {}", terminal(v)))
                .unwrap_or_default(),
        ));
    }
    let verb = if s.dry_run {
        "would import"
    } else {
        "imported"
    };
    let total = s.new + s.updated + s.unchanged;
    text.push_str(&format!(
        "{verb} {total} {} {}: {} new, {} updated, {} unchanged; {} open; {}\n",
        from.name(),
        if total == 1 { "incident" } else { "incidents" },
        s.new,
        s.updated,
        s.unchanged,
        s.open,
        crate::render::count(s.requests as u64, "request"),
    ));
    for (reason, n) in &s.skipped {
        text.push_str(&format!("skipped {n}: {reason}\n"));
    }
    if s.dry_run {
        text.push_str(&format!(
            "cursor kept at {}\n",
            s.cursor_before.as_deref().unwrap_or("(none)")
        ));
    } else {
        text.push_str(&format!("next import from {}\n", s.cursor));
    }
    text
}

/// A source ready to read.
enum Source {
    PagerDuty(pagerduty::PagerDuty),
    GitHub(github::GitHub),
    GitLab(gitlab::GitLab),
}

impl Source {
    fn new(
        args: &ImportArgs,
        s: &Settings,
        target: &Target,
        token: SecretString,
        service: Option<String>,
    ) -> Result<Source> {
        let bad = |e: ForgeError| {
            Failed {
                api: args.from,
                token_from: "--token",
                check: Failed::check_flags(target.repository.as_deref()),
                reading: "incidents",
            }
            .error(e)
        };
        let repository = target.repository.clone().unwrap_or_default();
        Ok(match args.from {
            Api::Pagerduty => Source::PagerDuty(
                pagerduty::PagerDuty::new(
                    &target.api,
                    token,
                    s.pagerduty_services()?,
                    service,
                    s.http.clone(),
                )
                .map_err(bad)?,
            ),
            Api::Github => Source::GitHub(
                github::GitHub::new(&target.api, &repository, &args.label, token, s.http.clone())
                    .map_err(bad)?,
            ),
            Api::Gitlab => Source::GitLab(
                gitlab::GitLab::new(&target.api, &repository, token, s.http.clone())
                    .map_err(bad)?,
            ),
        })
    }
    fn key(&self) -> String {
        match self {
            Source::PagerDuty(p) => p.source(),
            Source::GitHub(g) => g.source(),
            Source::GitLab(g) => g.source(),
        }
    }

    fn fetch(&self, since: &str, s: &Settings) -> std::result::Result<Fetched, ForgeError> {
        match self {
            Source::PagerDuty(p) => {
                let from = chrono::DateTime::parse_from_rfc3339(since)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or(s.now - Duration::days(FIRST_IMPORT_DAYS));
                p.fetch(from, s.now)
            }
            Source::GitHub(g) => g.fetch(since),
            Source::GitLab(g) => g.fetch(since),
        }
    }
}
