//! `dorameter incident import --from pagerduty|github|gitlab`: the
//! incidents a tool holds, read since the cursor the last import stored
//! (SPEC §11). Meant for a scheduled pipeline.

use std::path::PathBuf;

use chrono::Duration;
use clap::{Args, ValueEnum};
use secrecy::SecretString;

use super::GlobalArgs;
use super::comment::Token;
use super::context::{Context, check_event_format};
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum From {
    /// PagerDuty incidents (REST API v2)
    Pagerduty,
    /// GitHub issues with a label (--label, default incident)
    Github,
    /// GitLab incidents (issues of type incident)
    Gitlab,
}

impl From {
    fn name(self) -> &'static str {
        match self {
            From::Pagerduty => "PagerDuty",
            From::Github => "GitHub",
            From::Gitlab => "GitLab",
        }
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Where the incidents are
    #[arg(long, env = ev::IMPORT_FROM, value_enum)]
    pub from: From,
    /// Read from this time instead of the stored cursor [default: the cursor, else 90 days ago]
    #[arg(long, env = ev::IMPORT_SINCE, value_name = "TIME")]
    pub since: Option<String>,
    /// The API token [default: DORAMETER_PAGERDUTY_TOKEN; GITHUB_TOKEN; DORAMETER_GITLAB_TOKEN, else GITLAB_TOKEN]
    #[arg(long, env = ev::IMPORT_TOKEN, value_name = "TOKEN", hide_env_values = true, value_parser = super::comment::parse_token)]
    pub token: Option<Token>,
    /// The API [default: https://api.pagerduty.com; the CI's GITHUB_API_URL or CI_API_V4_URL, else github.com's or gitlab.com's]
    #[arg(long, env = ev::IMPORT_API_URL, value_name = "URL")]
    pub api_url: Option<String>,
    /// github: owner/repo; gitlab: the project's path or id [default: the CI's GITHUB_REPOSITORY or CI_PROJECT_PATH]
    #[arg(long, env = ev::IMPORT_REPOSITORY, value_name = "PATH")]
    pub repository: Option<String>,
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
    let token = token(ctx, &args)?;
    let since = settings.time("since", args.since.clone())?;
    let service = match args.from {
        // PagerDuty names each incident's service.
        From::Pagerduty => settings
            .flag("service", args.service.clone())
            .map(|v| v.named("--service", "api"))
            .transpose()?
            .map(|v| v.value),
        From::Github | From::Gitlab => settings
            .service(args.service.clone(), repo.as_ref())?
            .map(|v| v.value),
    };
    let import = settings
        .config
        .config
        .incident_import
        .clone()
        .unwrap_or_default();
    let source = Source::new(&args, &settings, token, service.clone())?;
    let mut req = ImportRequest {
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
    ctx.check_sinks(&settings)?;
    let mut store = ctx.open_store(&settings, repo.as_ref(), Access::ReadWrite)?;
    let mut cursor = None;
    store.read(&mut |tx| {
        cursor = tx.cursor(&req.source)?;
        Ok(())
    })?;
    let from = match (since, &cursor) {
        (Some(t), _) => crate::sources::api_time(t),
        (None, Some(c)) => c.clone(),
        (None, None) => crate::sources::api_time(settings.now - Duration::days(FIRST_IMPORT_DAYS)),
    };
    let mut fetched = source
        .fetch(&from, &settings)
        .map_err(|e| forge_error(args.from, e))?;
    let mut warnings = incident_import::resolve_root_causes(&mut fetched, repo.as_ref());
    req.dry_run = args.dry_run;
    let summary = incident_import::record(store.as_mut(), repo.as_ref(), &req, cursor, fetched)?;
    let code = ctx.settle_store(&settings, store.as_ref(), exit::OK)?;
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

/// `imported 120 PagerDuty incidents: 100 new, 15 updated, 5 unchanged …`
fn summary_text(from: From, s: &Summary) -> String {
    let verb = if s.dry_run {
        "would import"
    } else {
        "imported"
    };
    let mut text = format!(
        "{verb} {} {} incidents: {} new, {} updated, {} unchanged; {} open; {} request{}\n",
        s.new + s.updated + s.unchanged,
        from.name(),
        s.new,
        s.updated,
        s.unchanged,
        s.open,
        s.requests,
        if s.requests == 1 { "" } else { "s" }
    );
    for (reason, n) in &s.skipped {
        text.push_str(&format!("skipped {n}: {reason}\n"));
    }
    let kept = if s.dry_run {
        "cursor kept at"
    } else {
        "next import from"
    };
    text.push_str(&format!(
        "{kept} {}\n",
        if s.dry_run {
            s.cursor_before.as_deref().unwrap_or("(none)")
        } else {
            &s.cursor
        }
    ));
    text
}

/// The token: `--token`, else the source's own variable.
fn token(ctx: &Context<'_>, args: &ImportArgs) -> Result<SecretString> {
    use secrecy::ExposeSecret;
    let given = args
        .token
        .as_ref()
        .map(|t| t.0.expose_secret().to_string())
        .filter(|t| !t.trim().is_empty());
    let names: &[&str] = match args.from {
        From::Pagerduty => &[ev::PAGERDUTY_TOKEN],
        From::Github => &[ev::GITHUB_TOKEN],
        From::Gitlab => &[ev::GITLAB_TOKEN, ev::GITLAB_TOKEN_FALLBACK],
    };
    given
        .or_else(|| {
            names
                .iter()
                .find_map(|n| ctx.env.get(*n).filter(|t| !t.trim().is_empty()).cloned())
        })
        .map(SecretString::from)
        .ok_or_else(|| {
            Error::usage_hint(
                format!("no {} token", args.from.name()),
                format!(
                    "pass --token (DORAMETER_IMPORT_TOKEN) or set {}",
                    names.join(" or ")
                ),
            )
        })
}

/// A source's API failure as the user's error to fix, where it is one.
fn forge_error(from: From, e: ForgeError) -> Error {
    match e {
        ForgeError::Unauthorized { message, .. } => Error::usage_hint(
            format!(
                "the {} API rejected the token (HTTP 401){message}",
                from.name()
            ),
            "check --token (DORAMETER_IMPORT_TOKEN) or the source's token variable",
        ),
        ForgeError::Forbidden { message, .. } => Error::usage_hint(
            format!(
                "the {} token may not read incidents here (HTTP 403){message}",
                from.name()
            ),
            match from {
                From::Pagerduty => "give a PagerDuty API key with read access",
                From::Github => {
                    "give the workflow `issues: read`, or a token that may read the repository's issues"
                }
                From::Gitlab => {
                    "give a token with the read_api scope (a CI job token cannot list issues)"
                }
            },
        ),
        ForgeError::Status {
            status: 404,
            message,
            what,
        } => Error::usage_hint(
            format!("{what} failed: HTTP 404{message}"),
            "check --repository (DORAMETER_IMPORT_REPOSITORY) and --api-url",
        ),
        other => Error::Forge {
            what: "import incidents",
            source: other,
        },
    }
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
        token: SecretString,
        service: Option<String>,
    ) -> Result<Source> {
        let ci = s.ci.as_ref();
        let api = |default: &str, provider: crate::ci::Provider| {
            args.api_url.clone().unwrap_or_else(|| {
                ci.filter(|c| c.provider == provider)
                    .and_then(|c| c.api_url.clone())
                    .unwrap_or_else(|| default.to_string())
            })
        };
        let repository = |provider: crate::ci::Provider, example: &str| {
            args.repository
                .clone()
                .or_else(|| {
                    ci.filter(|c| c.provider == provider)
                        .and_then(|c| c.repository.clone())
                })
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| {
                    Error::usage_hint(
                        format!("no {} repository to read incidents from", args.from.name()),
                        format!("pass --repository {example} (DORAMETER_IMPORT_REPOSITORY)"),
                    )
                })
        };
        let bad = |e: ForgeError| forge_error(args.from, e);
        Ok(match args.from {
            From::Pagerduty => {
                let services = s.pagerduty_services()?;
                Source::PagerDuty(
                    pagerduty::PagerDuty::new(
                        &args
                            .api_url
                            .clone()
                            .unwrap_or_else(|| pagerduty::DEFAULT_URL.into()),
                        token,
                        services,
                        service,
                        s.http.clone(),
                    )
                    .map_err(bad)?,
                )
            }
            From::Github => {
                let repository = repository(crate::ci::Provider::GitHubActions, "owner/repo")?;
                if repository.split('/').count() != 2 || repository.split('/').any(str::is_empty) {
                    return Err(Error::usage_hint(
                        format!("--repository '{repository}' is not owner/repo"),
                        "pass --repository owner/repo (DORAMETER_IMPORT_REPOSITORY)",
                    ));
                }
                Source::GitHub(
                    github::GitHub::new(
                        &api(github::DEFAULT_URL, crate::ci::Provider::GitHubActions),
                        &repository,
                        &args.label,
                        token,
                        s.http.clone(),
                    )
                    .map_err(bad)?,
                )
            }
            From::Gitlab => Source::GitLab(
                gitlab::GitLab::new(
                    &api(gitlab::DEFAULT_URL, crate::ci::Provider::GitLabCi),
                    &repository(crate::ci::Provider::GitLabCi, "group/project")?,
                    token,
                    s.http.clone(),
                )
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
