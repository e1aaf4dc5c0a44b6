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
    // Everything that can be wrong here is found before any request.
    let token = token(ctx, &args)?;
    let since = settings.time("since", args.since.clone())?;
    let import = settings
        .config
        .config
        .incident_import
        .clone()
        .unwrap_or_default();
    check_severity(&import.severity)?;
    let target = Target::new(&args, &settings)?;
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
        from: args.from,
        token_from: token.1,
        repository: target.repository.clone(),
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

/// `[incident_import] severity`: no empty name on either side.
fn check_severity(map: &std::collections::BTreeMap<String, String>) -> Result<()> {
    match map
        .iter()
        .find(|(k, v)| k.trim().is_empty() || v.trim().is_empty())
    {
        Some((k, v)) => Err(Error::usage_hint(
            format!(
                "[incident_import] severity maps '{k}' to '{v}' in .dorameter.toml: a severity cannot be empty"
            ),
            "map each source severity to a name, e.g. severity = { P1 = \"sev1\" }",
        )),
        None => Ok(()),
    }
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
fn summary_text(from: From, s: &Summary) -> String {
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

/// The token: `--token`, else the source's own variable; and where it came
/// from, for the hint when the API refuses it.
fn token(ctx: &Context<'_>, args: &ImportArgs) -> Result<(SecretString, &'static str)> {
    use secrecy::ExposeSecret;
    let names: &[&'static str] = match args.from {
        From::Pagerduty => &[ev::PAGERDUTY_TOKEN],
        From::Github => &[ev::GITHUB_TOKEN],
        From::Gitlab => &[ev::GITLAB_TOKEN, ev::GITLAB_TOKEN_FALLBACK],
    };
    if let Some(t) = args
        .token
        .as_ref()
        .map(|t| t.0.expose_secret().to_string())
        .filter(|t| !t.trim().is_empty())
    {
        let from = if ctx.env.contains_key(ev::IMPORT_TOKEN)
            && !std::env::args().any(|a| a == "--token" || a.starts_with("--token="))
        {
            ev::IMPORT_TOKEN
        } else {
            "--token"
        };
        return Ok((SecretString::from(t), from));
    }
    if let Some((name, t)) = names.iter().find_map(|n| {
        ctx.env
            .get(*n)
            .filter(|t| !t.trim().is_empty())
            .map(|t| (*n, t.clone()))
    }) {
        return Ok((SecretString::from(t), name));
    }
    let job_token = if args.from == From::Gitlab && ctx.env.contains_key("CI_JOB_TOKEN") {
        " (CI_JOB_TOKEN cannot list issues: create a project access token with read_api and store it as a masked CI/CD variable)"
    } else {
        ""
    };
    Err(Error::usage_hint(
        format!("no {} token", args.from.name()),
        format!(
            "pass --token (DORAMETER_IMPORT_TOKEN) or set {}{job_token}",
            names.join(" or ")
        ),
    ))
}

/// What an API failure is reported with.
struct Failed {
    from: From,
    /// Where the token came from (a flag or a variable).
    token_from: &'static str,
    repository: Option<String>,
}

impl Failed {
    /// A source's API failure: the user's to fix (exit 2) for a refusal
    /// (4xx), the API's or the network's (exit 5) otherwise.
    fn error(&self, e: ForgeError) -> Error {
        let name = self.from.name();
        let check = match (&self.repository, self.from) {
            (Some(r), _) => format!("check --repository '{r}' (DORAMETER_IMPORT_REPOSITORY) and --api-url"),
            (None, _) => "check --api-url: PagerDuty's REST API is https://api.pagerduty.com (https://api.eu.pagerduty.com for the EU service region)".into(),
        };
        match e {
            ForgeError::Unauthorized { message, .. } => Error::usage_hint(
                format!("the {name} API rejected the token (HTTP 401){message}"),
                format!("check the token given by {}", self.token_from),
            ),
            ForgeError::Forbidden { message, .. } => Error::usage_hint(
                format!("the {name} token may not read incidents here (HTTP 403){message}"),
                match self.from {
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
            } => Error::usage_hint(format!("{what} failed: HTTP 404{message}"), check),
            ForgeError::Status {
                status,
                message,
                what,
            } if (400..500).contains(&status) => Error::usage_hint(
                format!("{what} failed: HTTP {status}{message}"),
                format!("the {name} API refused the request; {check}"),
            ),
            ForgeError::Url { url, message } => Error::usage_hint(
                format!("invalid --api-url '{url}': {message}"),
                "pass --api-url (DORAMETER_IMPORT_API_URL) an http:// or https:// URL",
            ),
            other => Error::Forge {
                what: "import incidents",
                source: other,
            },
        }
    }
}

/// The API and, for GitHub and GitLab, the repository, checked before any
/// request.
struct Target {
    api: String,
    repository: Option<String>,
}

impl Target {
    fn new(args: &ImportArgs, s: &Settings) -> Result<Target> {
        let ci = s.ci.as_ref();
        let provider = match args.from {
            From::Pagerduty => None,
            From::Github => Some(crate::ci::Provider::GitHubActions),
            From::Gitlab => Some(crate::ci::Provider::GitLabCi),
        };
        let of_ci = |p: crate::ci::Provider| ci.filter(|c| c.provider == p);
        let api = args.api_url.clone().unwrap_or_else(|| match provider {
            None => pagerduty::DEFAULT_URL.into(),
            Some(p) => {
                of_ci(p)
                    .and_then(|c| c.api_url.clone())
                    .unwrap_or_else(|| match args.from {
                        From::Gitlab => gitlab::DEFAULT_URL.into(),
                        _ => github::DEFAULT_URL.into(),
                    })
            }
        });
        let origin = s.origin("api_url");
        match reqwest::Url::parse(api.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(Error::usage_hint(
                    format!("{origin} '{api}' is not an http:// or https:// URL"),
                    "pass --api-url (DORAMETER_IMPORT_API_URL) the API's base URL, e.g. https://api.pagerduty.com",
                ));
            }
        }
        let repository = match provider {
            None => None,
            Some(p) => {
                let example = if args.from == From::Github {
                    "owner/repo"
                } else {
                    "group/project"
                };
                let r = args
                    .repository
                    .clone()
                    .or_else(|| of_ci(p).and_then(|c| c.repository.clone()))
                    .filter(|r| !r.trim().is_empty())
                    .ok_or_else(|| {
                        Error::usage_hint(
                            format!("no {} repository to read incidents from", args.from.name()),
                            format!("pass --repository {example} (DORAMETER_IMPORT_REPOSITORY)"),
                        )
                    })?;
                if args.from == From::Github
                    && (r.split('/').count() != 2 || r.split('/').any(str::is_empty))
                {
                    return Err(Error::usage_hint(
                        format!("--repository '{r}' is not owner/repo"),
                        "pass --repository owner/repo (DORAMETER_IMPORT_REPOSITORY)",
                    ));
                }
                Some(r)
            }
        };
        Ok(Target { api, repository })
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
        target: &Target,
        token: SecretString,
        service: Option<String>,
    ) -> Result<Source> {
        let bad = |e: ForgeError| {
            Failed {
                from: args.from,
                token_from: "--token",
                repository: target.repository.clone(),
            }
            .error(e)
        };
        let repository = target.repository.clone().unwrap_or_default();
        Ok(match args.from {
            From::Pagerduty => Source::PagerDuty(
                pagerduty::PagerDuty::new(
                    &target.api,
                    token,
                    s.pagerduty_services()?,
                    service,
                    s.http.clone(),
                )
                .map_err(bad)?,
            ),
            From::Github => Source::GitHub(
                github::GitHub::new(&target.api, &repository, &args.label, token, s.http.clone())
                    .map_err(bad)?,
            ),
            From::Gitlab => Source::GitLab(
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
