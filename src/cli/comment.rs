//! `dorameter comment`: render the sticky PR/MR comment and post it (SPEC §7).
//!
//! Posting never fails the pipeline by default: a missing token, no pull
//! request context or a forge refusal (a fork's read-only token) is a
//! warning and exit 0; `--strict` turns them into exit 2 (context, token)
//! and exit 5 (the forge failed).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::GlobalArgs;
use super::context::{Context, Session, pick};
use crate::ci::{CiContext, Provider};
use crate::env_vars as ev;
use crate::forge::{ForgeError, Posted, github::GitHub, gitlab::GitLab};
use crate::git::{Repo, WalkOutcome};
use crate::metrics::{Report, ReportInput, Window, band_table, band_table_names, compute};
use crate::render::{
    ChangeView, CommentView, CommitView, FlakyLine, FlakySource, comment_markdown,
};
use crate::store::Access;
use crate::time::parse_duration;
use crate::{Error, Result, exit};

/// A token from a flag or env var: never shown by `Debug`, cloneable for clap.
#[derive(Clone)]
pub struct Token(Arc<SecretString>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

fn parse_token(s: &str) -> std::result::Result<Token, std::convert::Infallible> {
    Ok(Token(Arc::new(SecretString::from(s.to_string()))))
}

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// Service to report [default: from the config, else from CI]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment [default: production]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// Window ending now, compared with the window before it [default: 30d]
    #[arg(long, env = ev::WINDOW, value_name = "DURATION")]
    pub window: Option<String>,
    /// This pipeline's JUnit reports, for its flaky tests (files, directories or globs)
    #[arg(long, env = ev::COMMENT_JUNIT, value_name = "FILE|GLOB", num_args = 1.., value_delimiter = ',')]
    pub junit: Vec<String>,
    /// Print the comment body instead of posting it
    #[arg(long, env = ev::DRY_RUN, value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,
    /// GitHub token [default: GITHUB_TOKEN]
    #[arg(long, env = ev::GITHUB_TOKEN, value_name = "TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub github_token: Option<Token>,
    /// GitLab token, sent as PRIVATE-TOKEN [default: DORAMETER_GITLAB_TOKEN, else GITLAB_TOKEN]
    #[arg(long, env = ev::GITLAB_TOKEN, value_name = "TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub gitlab_token: Option<Token>,
    /// The git repository, for this change's commits
    #[arg(long, env = ev::REPO, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
}

/// Most commits of the change walked.
const MAX_CHANGE_COMMITS: usize = 10_000;
/// Most flaky tests read from the store for the comment.
const STORED_FLAKY_LIMIT: usize = 1000;

pub fn run(args: CommentArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let session = ctx.session(global, Some(&args.repo))?;
    let now = session.now;
    let ci = session.ci.clone();
    let service = pick(&[
        args.service.clone(),
        session.config.service.clone(),
        ci.as_ref().and_then(|c| c.default_service.clone()),
    ])
    .ok_or_else(|| {
        Error::usage_hint(
            "no service name for the comment",
            "pass --service (DORAMETER_SERVICE)",
        )
    })?;
    let env = pick(&[args.env.clone(), session.config.env.clone()])
        .unwrap_or_else(|| "production".into());
    let window_text =
        pick(&[args.window.clone(), session.config.window.clone()]).unwrap_or_else(|| "30d".into());
    let span = parse_duration("--window", &window_text)?;
    let bands_name = session
        .config
        .bands
        .clone()
        .unwrap_or_else(|| "classic".into());
    let bands = band_table(&bands_name).ok_or_else(|| {
        Error::usage_hint(
            format!("unknown band table '{bands_name}' in the config file"),
            format!("bands is one of: {}", band_table_names().join(", ")),
        )
    })?;
    let attribution_window = parse_duration(
        "attribution_window",
        &session
            .config
            .attribution_window
            .clone()
            .unwrap_or_else(|| "24h".into()),
    )?;

    // Flaky tests first: a bad --junit is a usage error before any I/O.
    let from_reports = flaky_tests(&args.junit, ctx)?;

    let current_window = Window {
        since: now - span,
        until: now,
    };
    let previous_window = Window {
        since: now - span - span,
        until: now - span,
    };
    let repo = Repo::discover(&ctx.cwd.join(&args.repo)).ok();
    let mut store = ctx.open_store(global, &session, repo.as_ref(), Access::ReadOnly)?;
    let mut reports: Vec<Report> = Vec::new();
    let mut from_store = Vec::new();
    let mut weekly = vec![0u64; weeks(span)];
    let sha = ci.as_ref().and_then(|c| c.sha.clone());
    store.read(&mut |tx| {
        // Deployments and incidents once (they hold every window); only the
        // lead times are per window.
        let facts = tx.report_facts(&service, &env, current_window)?;
        let previous_lead_times = tx.lead_times(&service, &env, previous_window)?;
        for d in facts
            .deployments
            .iter()
            .filter(|d| current_window.contains(d.finished_at))
        {
            let week =
                ((d.finished_at - current_window.since).num_seconds() / (7 * 86_400)) as usize;
            if let Some(slot) = weekly.get_mut(week) {
                *slot += 1;
            }
        }
        for (window, lead_times) in [
            (current_window, &facts.lead_times),
            (previous_window, &previous_lead_times),
        ] {
            reports.push(compute(&ReportInput {
                service: &service,
                env: &env,
                deployments: &facts.deployments,
                incidents: &facts.incidents,
                lead_times,
                window,
                attribution_window,
                bands: &bands,
                now,
            }));
        }
        // Without --junit: what this commit's recorded test runs say.
        if from_reports.is_none() {
            if let Some(sha) = sha.as_deref() {
                from_store = tx
                    .flaky_at_sha(&service, sha, STORED_FLAKY_LIMIT)?
                    .into_iter()
                    .map(|f| FlakyLine {
                        id: format!("{}::{}", f.classname, f.name),
                        attempts: u32::try_from(f.attempts).unwrap_or(u32::MAX),
                        failures: u32::try_from(f.failures).unwrap_or(u32::MAX),
                    })
                    .collect();
            }
        }
        Ok(())
    })?;
    let (flaky, flaky_source) = match from_reports {
        Some(lines) => (lines, FlakySource::Reports),
        None if sha.is_some() => (from_store, FlakySource::Store),
        None => (Vec::new(), FlakySource::Unknown),
    };

    let change = ci.as_ref().and_then(|c| {
        c.change
            .as_ref()
            .map(|_| change_view(c, repo.as_ref(), now))
    });
    let body = comment_markdown(&CommentView {
        service: &service,
        env: &env,
        current: &reports[0],
        previous: reports.get(1),
        weekly_deployments: &weekly,
        change: change.as_ref(),
        flaky: &flaky,
        flaky_source,
    });

    if let Some(path) = ctx
        .env
        .get(ev::GITHUB_STEP_SUMMARY)
        .filter(|p| !p.is_empty())
        .cloned()
    {
        let text = format!("{body}\n");
        if let Err(e) = crate::ci::github::append_to_file(std::path::Path::new(&path), &text) {
            ctx.warn(
                &session,
                &format!("could not append the comment to GITHUB_STEP_SUMMARY ({e})"),
            )?;
        }
    }

    if args.dry_run {
        ctx.out(&body)?;
        return Ok(exit::OK);
    }
    post(
        &args,
        global,
        ctx,
        &session,
        ci.as_ref(),
        &service,
        &env,
        &body,
    )
}

/// Whole weeks covering the window (at least one).
fn weeks(span: chrono::Duration) -> usize {
    let secs = span.num_seconds().max(1);
    usize::try_from(secs.div_euclid(7 * 86_400) + i64::from(secs % (7 * 86_400) != 0))
        .unwrap_or(1)
        .clamp(1, 520)
}

/// The flaky tests of the `--junit` reports; `None` when none were given.
fn flaky_tests(inputs: &[String], ctx: &mut Context<'_>) -> Result<Option<Vec<FlakyLine>>> {
    let inputs: Vec<&String> = inputs.iter().filter(|s| !s.trim().is_empty()).collect();
    if inputs.is_empty() {
        return Ok(None);
    }
    let mut files = Vec::new();
    for input in &inputs {
        files.extend(super::junit::expand(&ctx.cwd, input)?);
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(Error::NoInput {
            message: format!(
                "no JUnit file matches {}",
                inputs
                    .iter()
                    .map(|i| format!("'{i}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: Some(
                "check --junit (DORAMETER_COMMENT_JUNIT) relative to the working directory".into(),
            ),
        });
    }
    let (summary, _errors, _good) = super::junit::ingest(&files, &ctx.cwd, None)?;
    Ok(Some(
        summary
            .flaky
            .into_iter()
            .map(|f| FlakyLine {
                id: f.id,
                attempts: f.attempts,
                failures: f.failures,
            })
            .collect(),
    ))
}

/// This change's commits: `base..head` (the commits of head not reachable
/// from base, i.e. from their merge base), and lead time so far from the
/// oldest author time.
fn change_view(ci: &CiContext, repo: Option<&Repo>, now: DateTime<Utc>) -> ChangeView {
    let note = |s: &str| ChangeView {
        note: Some(s.to_string()),
        ..ChangeView::default()
    };
    let Some(repo) = repo else {
        return note("no git repository here: commits not shown");
    };
    let (Some(base), Some(head)) = (
        ci.change.as_ref().and_then(|c| c.base_sha.as_deref()),
        ci.sha.as_deref(),
    ) else {
        return note("the CI does not name the base commit: commits not shown");
    };
    match repo.walk(Some(base), head, MAX_CHANGE_COMMITS) {
        Ok(WalkOutcome::Walked(w)) => {
            let oldest = w.commits.iter().map(|c| c.authored_at).min();
            ChangeView {
                lead_time_so_far: oldest.map(|t| (now.timestamp() - t).max(0) as f64),
                commits: w
                    .commits
                    .iter()
                    .map(|c| CommitView {
                        sha: c.sha.clone(),
                        authored_at: c.authored_at,
                    })
                    .collect(),
                truncated: w.truncated,
                note: None,
            }
        }
        Ok(WalkOutcome::BaseNotFound) => {
            note("the base commit is not in this clone (fetch more history): commits not shown")
        }
        Ok(WalkOutcome::Unrelated) => note("the base and head commits share no history"),
        Err(e) => note(&format!("could not read the commits: {e}")),
    }
}

/// A problem that stops posting: a warning, or under `--strict` an error
/// with `code`.
fn give_up(
    ctx: &mut Context<'_>,
    session: &Session,
    strict: bool,
    code: u8,
    message: &str,
    hint: Option<String>,
) -> Result<u8> {
    if strict {
        writeln!(
            ctx.stderr,
            "error: {}",
            crate::render::escape::terminal(message)
        )?;
        if let Some(h) = hint {
            writeln!(ctx.stderr, "hint: {}", crate::render::escape::terminal(&h))?;
        }
        return Ok(code);
    }
    let text = match hint {
        Some(h) => format!("{message}; the comment was not posted ({h})"),
        None => format!("{message}; the comment was not posted"),
    };
    ctx.warn(session, &text)?;
    Ok(exit::OK)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, all distinct inputs"
)]
fn post(
    args: &CommentArgs,
    global: &GlobalArgs,
    ctx: &mut Context<'_>,
    session: &Session,
    ci: Option<&CiContext>,
    service: &str,
    env: &str,
    body: &str,
) -> Result<u8> {
    let strict = global.strict;
    let Some((ci, change)) = ci.and_then(|c| c.change.as_ref().map(|ch| (c, ch))) else {
        return give_up(
            ctx,
            session,
            strict,
            exit::USAGE,
            "no pull or merge request in this CI run",
            Some("run `comment` in a pull_request (GitHub) or merge_request_event (GitLab) pipeline, or pass --dry-run".into()),
        );
    };
    let marker = crate::render::comment_marker(service, env);
    // The sinks' timeouts and backoff (DORAMETER_SINK_*); two retries unless set.
    let mut settings = super::flush::http_settings(&ctx.env)?;
    if !ctx.env.contains_key(ev::SINK_RETRIES) {
        settings.retries = 2;
    }
    let result: std::result::Result<Posted, ForgeError> = match ci.provider {
        Provider::GitHubActions => {
            let Some(token) = args
                .github_token
                .as_ref()
                .filter(|t| !t.0.expose_secret().trim().is_empty())
            else {
                return give_up(
                    ctx,
                    session,
                    strict,
                    exit::USAGE,
                    "no GitHub token",
                    Some("pass --github-token or set GITHUB_TOKEN".into()),
                );
            };
            let Some(repository) = ci.repository.as_deref() else {
                return give_up(
                    ctx,
                    session,
                    strict,
                    exit::USAGE,
                    "GITHUB_REPOSITORY is not set",
                    None,
                );
            };
            let base = ci.api_url.as_deref().unwrap_or("https://api.github.com");
            GitHub::new(
                base,
                repository,
                SecretString::from(token.0.expose_secret().to_string()),
                settings,
            )
            .and_then(|gh| gh.upsert(change.number, &marker, body))
        }
        Provider::GitLabCi => {
            let fallback = ctx
                .env
                .get(ev::GITLAB_TOKEN_FALLBACK)
                .filter(|t| !t.trim().is_empty())
                .map(|t| SecretString::from(t.clone()));
            let token = args
                .gitlab_token
                .as_ref()
                .filter(|t| !t.0.expose_secret().trim().is_empty())
                .map(|t| SecretString::from(t.0.expose_secret().to_string()))
                .or(fallback);
            let Some(token) = token else {
                return give_up(ctx, session, strict, exit::USAGE, "no GitLab token", Some("pass --gitlab-token or set DORAMETER_GITLAB_TOKEN (a token with the api scope)".into()));
            };
            let Some(project) = change.project_id.as_deref().or(ci.repository.as_deref()) else {
                return give_up(
                    ctx,
                    session,
                    strict,
                    exit::USAGE,
                    "CI_MERGE_REQUEST_PROJECT_ID is not set",
                    None,
                );
            };
            let Some(base) = ci.api_url.as_deref() else {
                return give_up(
                    ctx,
                    session,
                    strict,
                    exit::USAGE,
                    "CI_API_V4_URL is not set",
                    None,
                );
            };
            GitLab::new(base, project, token, settings)
                .and_then(|gl| gl.upsert(change.number, &marker, body))
        }
        other => {
            return give_up(
                ctx,
                session,
                strict,
                exit::USAGE,
                &format!("posting comments from {} is not supported", other.as_str()),
                Some("use --dry-run and post the body yourself".into()),
            );
        }
    };
    match result {
        Ok(Posted::Created { id }) => {
            ctx.info(session, &format!("created comment {id}"))?;
            Ok(exit::OK)
        }
        Ok(Posted::Updated { id }) => {
            ctx.info(session, &format!("updated comment {id}"))?;
            Ok(exit::OK)
        }
        Err(e) => {
            let hint = e.hint();
            give_up(
                ctx,
                session,
                strict,
                exit::SINK,
                &format!("could not post the comment: {e}"),
                hint,
            )
        }
    }
}
