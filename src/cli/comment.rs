//! `dorameter comment`: render the sticky PR/MR comment and post it (SPEC §7).
//!
//! Posting never fails the pipeline by default: a missing token, no pull
//! request context or a forge refusal (a fork's read-only token) is a
//! warning and exit 0; `--strict` turns them into exit 2 (context, token)
//! and exit 5 (the forge failed).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

use super::GlobalArgs;
use super::context::Context;
use crate::app::comment::{
    self, Action, CommentMode, CommentRequest, Destination, JunitInput, Outcome, Unpostable,
};
use crate::app::junit::find_reports;
use crate::env_vars as ev;
use crate::git::Repo;
use crate::metrics::Level;
use crate::render::Format;
use crate::settings::{Settings, http_settings};
use crate::store::Access;
use crate::{Error, Result, exit};

/// A token from a flag or env var: never shown by `Debug`, cloneable for clap.
#[derive(Clone)]
pub struct Token(pub Arc<SecretString>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

pub fn parse_token(s: &str) -> std::result::Result<Token, std::convert::Infallible> {
    Ok(Token(Arc::new(SecretString::from(s.to_string()))))
}

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// Service to report [default: .dorameter.toml, the CI project, else the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment [default: .dorameter.toml, the CI environment, else production]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// Window ending now, compared with the window before it [default: 30d]
    #[arg(long, env = ev::WINDOW, value_name = "DURATION")]
    pub window: Option<String>,
    /// This pipeline's JUnit reports, for its failing and flaky tests (files, directories or globs)
    #[arg(long, env = ev::COMMENT_JUNIT, value_name = "FILE|GLOB", num_args = 1.., value_delimiter = ',')]
    pub junit: Vec<String>,
    /// When to post: always, changes (the tests differ from the base's), failures (a test fails), off. An existing comment is updated in every mode but off
    #[arg(long, env = ev::COMMENT_MODE, value_parser = parse_comment_mode, default_value = "always")]
    pub comment_mode: CommentMode,
    /// Print the comment body instead of posting it
    #[arg(long, env = ev::DRY_RUN, value_parser = crate::cli::on_off)]
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

/// The request from the flags and settings.
pub fn request(args: &CommentArgs, s: &Settings, repo: Option<&Repo>) -> Result<CommentRequest> {
    let Some(service) = s.service(args.service.clone(), repo)? else {
        return Err(Error::usage_hint(
            "no service name for the comment",
            "pass --service (DORAMETER_SERVICE)",
        ));
    };
    Ok(CommentRequest {
        service: service.value,
        env: s.env(args.env.clone())?.value,
        span: s.window("window", args.window.clone())?.value,
        bands: s.bands(None)?.value,
        attribution_window: s.attribution_window(None)?.value,
        now: s.now,
        sha: s.ci.as_ref().and_then(|c| c.sha.clone()),
        run_url: s.ci.as_ref().and_then(|c| c.pipeline_url.clone()),
        base_sha: s
            .ci
            .as_ref()
            .and_then(|c| c.change.as_ref())
            .and_then(|c| c.base_sha.clone()),
    })
}

/// `--comment-mode`; empty (a CI input passed through unset) is `always`.
fn parse_comment_mode(v: &str) -> std::result::Result<CommentMode, String> {
    match v.trim() {
        "" => Ok(CommentMode::Always),
        v => CommentMode::from_str(v, true)
            .map_err(|_| "give always, changes, failures or off".into()),
    }
}

/// A token given and not blank.
fn secret(t: Option<&Token>) -> Option<SecretString> {
    t.filter(|t| !t.0.expose_secret().trim().is_empty())
        .map(|t| SecretString::from(t.0.expose_secret().to_string()))
}

/// What `comment` prints: the body (`--dry-run`, or `--format markdown`),
/// the comment's URL (table), or the outcome (json).
const FORMATS: &[Format] = &[Format::Table, Format::Json, Format::Markdown];

pub fn run(args: CommentArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, Some(&args.repo))?;
    settings.use_format(
        FORMATS,
        "comment",
        "use --format table (the comment's URL), json or markdown (the body)",
    )?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo)).ok();
    let req = request(&args, &settings, repo.as_ref())?;
    // Flaky tests first: a bad --junit glob is a usage error before any I/O.
    let junit = junit_input(ctx, &settings, &args)?;
    let mut store = ctx.open_store(&settings, repo.as_ref(), Access::ReadOnly)?;
    let gathered = comment::gather(store.as_mut(), &req, junit, repo.as_ref())?;
    drop(store);
    let ci = settings.ci.as_ref();
    let paths = settings.service_paths(&req.service)?;
    let change = ci.and_then(|c| comment::change_view(c, repo.as_ref(), paths.as_ref(), req.now));
    let body = comment::body(&req, &gathered, change.as_ref());
    ctx.step_summary(&settings, "the comment", &body)?;
    let outcome = if args.dry_run {
        Outcome::new(&req, &gathered, &body, Action::DryRun)
    } else {
        let fallback = ctx.env.get(ev::GITLAB_TOKEN_FALLBACK);
        let gitlab = secret(args.gitlab_token.as_ref()).or_else(|| {
            let t = fallback.filter(|t| !t.trim().is_empty())?;
            Some(SecretString::from(t.clone()))
        });
        let mut outcome = Outcome::new(&req, &gathered, &body, Action::NotPosted);
        match args.comment_mode.creates(&gathered) {
            None => {
                outcome.action = Action::Skipped;
                outcome.reason = Some("--comment-mode off".into());
            }
            Some(create) => {
                match comment::destination(ci, secret(args.github_token.as_ref()), gitlab) {
                    Ok(dest) => post(ctx, &settings, &req, dest, &body, create, &mut outcome)?,
                    Err(u) => unposted(ctx, &settings, u, &mut outcome)?,
                }
                if outcome.action == Action::Skipped {
                    outcome.reason = Some(format!(
                        "--comment-mode {}: no comment was needed, and there was none to update",
                        args.comment_mode
                            .to_possible_value()
                            .map(|v| v.get_name().to_string())
                            .unwrap_or_default()
                    ));
                }
            }
        }
        outcome
    };
    show(ctx, &settings, &outcome, &body)?;
    ctx.github_outputs(&settings, || outputs(&outcome))?;
    Ok(exit::OK)
}

/// Prints the outcome in the chosen format.
fn show(ctx: &mut Context<'_>, s: &Settings, o: &Outcome, body: &str) -> Result<()> {
    match (s.format.value, o.action) {
        (Format::Json, _) => ctx.out_json(o),
        (Format::Markdown, _) | (_, Action::DryRun) => ctx.out(body),
        (_, Action::NotPosted) => Ok(()),
        (_, Action::Skipped) => ctx.out(&format!(
            "comment not posted ({})\n",
            o.reason.as_deref().unwrap_or("--comment-mode")
        )),
        (_, action) => ctx.out(&match (&o.url, o.id) {
            (Some(url), _) => format!("comment {}: {url}\n", action.as_str()),
            (None, Some(id)) => format!("comment {} (id {id})\n", action.as_str()),
            (None, None) => format!("comment {}\n", action.as_str()),
        }),
    }
}

/// `action.yml`'s comment outputs: the JSON outcome and the four bands.
fn outputs(o: &Outcome) -> Vec<(&'static str, String)> {
    use crate::ci::github::outputs;
    let level = |l: Option<Level>| l.map(|l| l.as_str().to_string()).unwrap_or_default();
    let l = &o.levels;
    vec![
        (outputs::JSON, serde_json::to_string(o).unwrap_or_default()),
        (
            outputs::DEPLOYMENT_FREQUENCY_LEVEL,
            level(l.deployment_frequency),
        ),
        (outputs::LEAD_TIME_LEVEL, level(l.lead_time_for_changes)),
        (
            outputs::CHANGE_FAILURE_RATE_LEVEL,
            level(l.change_failure_rate),
        ),
        (outputs::TIME_TO_RESTORE_LEVEL, level(l.time_to_restore)),
    ]
}

/// What `--junit` gave. No file matching any pattern is a warning: the
/// comment is still posted, and says so.
fn junit_input(ctx: &mut Context<'_>, s: &Settings, args: &CommentArgs) -> Result<JunitInput> {
    let junit: Vec<String> = args
        .junit
        .iter()
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .collect();
    if junit.is_empty() {
        return Ok(JunitInput::NotGiven);
    }
    let hint = "check --junit (DORAMETER_COMMENT_JUNIT) relative to the working directory";
    match find_reports(&ctx.cwd, &junit, hint) {
        Ok((files, misses)) => {
            for miss in &misses {
                ctx.warn(
                    s,
                    &format!("--junit '{miss}' matches no file: the other reports were read without it ({hint})"),
                )?;
            }
            Ok(JunitInput::Read(comment::from_reports(&files, &ctx.cwd)?))
        }
        Err(Error::NoInput { message, hint }) => {
            let e = Error::NoInput {
                message: format!("{message}; the comment says so"),
                hint,
            };
            ctx.warn_error(s, &e)?;
            Ok(JunitInput::NoneMatched(junit))
        }
        Err(e) => Err(e),
    }
}

/// Posts the body; a forge failure is a warning, or exit 5 under `--strict`.
fn post(
    ctx: &mut Context<'_>,
    s: &Settings,
    req: &CommentRequest,
    dest: Destination,
    body: &str,
    create: bool,
    outcome: &mut Outcome,
) -> Result<()> {
    // The sinks' timeouts and backoff (DORAMETER_SINK_*); two retries unless set.
    let mut http = http_settings(&ctx.env)?;
    if !ctx.env.contains_key(ev::SINK_RETRIES) {
        http.retries = 2;
    }
    let marker = crate::render::comment_marker(&req.service, &req.env);
    match comment::post(dest, &marker, body, http, create) {
        Ok(d) if d.action == Action::Skipped => outcome.action = d.action,
        Ok(d) => {
            ctx.info(s, &format!("{} comment {}", d.action.as_str(), d.id))?;
            outcome.action = d.action;
            outcome.id = Some(d.id);
            outcome.url = d.url;
        }
        Err(source) => {
            let e = Error::Forge {
                what: "post the comment",
                permission: Some("`pull-requests: write` (GitHub) or the api scope (GitLab)"),
                source,
            };
            if s.strict {
                return Err(e);
            }
            ctx.warn_error(s, &e)?;
            outcome.reason = Some(e.to_string());
        }
    }
    Ok(())
}

/// Posting is impossible from here: a warning (exit 0), or under `--strict`
/// a usage error.
fn unposted(
    ctx: &mut Context<'_>,
    s: &Settings,
    u: Unpostable,
    outcome: &mut Outcome,
) -> Result<()> {
    if s.strict {
        return Err(Error::Usage {
            message: u.message,
            hint: u.hint,
        });
    }
    outcome.reason = Some(u.message.clone());
    let e = Error::Usage {
        message: format!("{}; the comment was not posted", u.message),
        hint: u.hint,
    };
    ctx.warn_error(s, &e)
}

#[cfg(test)]
mod tests {
    use super::request;
    use crate::cli::Command;
    use crate::cli::tests::parse;

    #[test]
    fn windows_bands_and_service_from_the_config() {
        let (cmd, s, _dir) = parse(
            &["dorameter", "comment", "--dry-run"],
            &[],
            "service = \"api\"\nbands = \"dora-2024\"\nwindow = \"7d\"\nattribution_window = \"1h\"\n",
        );
        let Command::Comment(a) = cmd else {
            unreachable!()
        };
        let r = request(&a, &s, None).unwrap();
        assert_eq!(
            (r.service.as_str(), r.env.as_str(), r.bands.name),
            ("api", "production", "dora-2024")
        );
        assert_eq!(
            (r.span, r.attribution_window),
            (chrono::Duration::days(7), chrono::Duration::hours(1))
        );
        let (cmd, s, _dir) = parse(&["dorameter", "comment"], &[], "");
        let Command::Comment(a) = cmd else {
            unreachable!()
        };
        assert!(
            request(&a, &s, None)
                .unwrap_err()
                .to_string()
                .contains("no service name for the comment")
        );
    }
}
