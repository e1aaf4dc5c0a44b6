//! `dorameter junit FILE|GLOB…`: ingest test reports (JUnit XML, NUnit,
//! xUnit.net, TRX) in the test job.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use secrecy::SecretString;

use super::GlobalArgs;
use super::context::{Context, check_event_format};
use crate::app::annotate;
use crate::app::junit::{self, Ingested};
use crate::app::test_compare::{self, HeadTests};
use crate::env_vars as ev;
use crate::event::{self, TestRun};
use crate::forge::github::GitHub;
use crate::git::Repo;
use crate::junit::{Summary, WorkTree};
use crate::render::escape::terminal;
use crate::render::{self, Annotation, Format, JunitView, Level};
use crate::settings::{Settings, http_settings};
use crate::sink::SinkEvent;
use crate::store::Access;
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct JunitArgs {
    /// Test reports (JUnit XML, NUnit 2/3, xUnit.net, TRX, CTRF JSON), directories (all *.xml, *.trx and *.json below) or globs ('reports/**/*.xml')
    #[arg(required = true, value_name = "FILE|GLOB")]
    pub inputs: Vec<String>,
    /// Service the tests belong to [default: .dorameter.toml, the CI project, else the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// On GitHub Actions: also create a check run of this name on the tested commit, with the failing tests as annotations (needs `checks: write`)
    #[arg(long, env = ev::CHECK_RUN, value_name = "NAME")]
    pub check_run: Option<String>,
    /// Write GitLab's Code Quality report of the failing tests to FILE (declare it as `artifacts: reports: codequality`)
    #[arg(long, env = ev::CODE_QUALITY, value_name = "FILE")]
    pub code_quality: Option<String>,
    /// Commit tested [default: the CI sha, else HEAD of --repo when it is a repository]
    #[arg(long, env = ev::SHA, value_name = "REV")]
    pub sha: Option<String>,
    /// CI run id [default: from CI]
    #[arg(long, env = ev::RUN_ID)]
    pub run_id: Option<String>,
    /// CI job name [default: from CI]
    #[arg(long, env = ev::JOB)]
    pub job: Option<String>,
    /// Event id (idempotency key) [default: derived from the CI run, else a UUID v7]
    #[arg(long, env = ev::TEST_RUN_ID)]
    pub id: Option<String>,
    /// The git repository, to resolve --sha
    #[arg(long, env = ev::REPO, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// Parse and report, store nothing
    #[arg(long, env = ev::DRY_RUN, value_parser = crate::cli::on_off)]
    pub dry_run: bool,
    /// Exit 3 when the run has failures (a failed or errored test, an unreadable report), errors (an errored test, an unreadable report), flaky tests, or nothing; comma separated [default: nothing]
    #[arg(long, env = ev::FAIL_ON, value_name = "WHAT", value_delimiter = ',', value_parser = parse_fail_on)]
    pub fail_on: Vec<FailOnValue>,
    /// The same as --fail-on failures
    #[arg(long, env = ev::FAIL_ON_FAILURE, value_parser = crate::cli::on_off)]
    pub fail_on_failure: bool,
    /// The same as --fail-on flaky
    #[arg(long, env = ev::FAIL_ON_FLAKY, value_parser = crate::cli::on_off)]
    pub fail_on_flaky: bool,
}

/// What fails the `junit` step (`--fail-on`), as EnricoMi's `fail_on`
/// names them, and flaky tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A failed or errored test, or an unreadable report
    Failures,
    /// An errored test, or an unreadable report
    Errors,
    /// A test that failed, then passed on a retry
    Flaky,
    /// Never (the default)
    Nothing,
}

/// One `--fail-on` value; empty (a CI input passed through unset) is none.
#[derive(Clone, Copy, Debug)]
pub struct FailOnValue(Option<FailOn>);

fn parse_fail_on(v: &str) -> std::result::Result<FailOnValue, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(FailOnValue(None));
    }
    FailOn::from_str(v, true)
        .map(|f| FailOnValue(Some(f)))
        .map_err(|_| "give failures, errors, flaky or nothing (comma separated)".into())
}

/// A flag's text value; empty (a CI input passed through unset) is none.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl JunitArgs {
    /// `--fail-on` with the older flags folded in; `nothing` with
    /// anything else is a contradiction.
    fn fail_on(&self) -> Result<Vec<FailOn>> {
        let mut out: Vec<FailOn> = self.fail_on.iter().filter_map(|v| v.0).collect();
        if self.fail_on_failure {
            out.push(FailOn::Failures);
        }
        if self.fail_on_flaky {
            out.push(FailOn::Flaky);
        }
        if out.contains(&FailOn::Nothing) && out.iter().any(|f| *f != FailOn::Nothing) {
            return Err(Error::usage_hint(
                "--fail-on nothing was given with something to fail on",
                "pass --fail-on nothing alone, or the list of what fails the step (--fail-on failures,flaky); --fail-on-failure and --fail-on-flaky (DORAMETER_FAIL_ON_FAILURE, DORAMETER_FAIL_ON_FLAKY) count too",
            ));
        }
        out.retain(|f| *f != FailOn::Nothing);
        out.dedup();
        Ok(out)
    }
}

/// The test run to record (its header: the counts come from the reports);
/// `Ok(None)` for `--dry-run`. The service is
/// required only to store.
pub fn request(args: &JunitArgs, s: &Settings, repo: Option<&Repo>) -> Result<Option<TestRun>> {
    if args.dry_run {
        return Ok(None);
    }
    let ci = s.ci.as_ref();
    let Some(service) = s.service(args.service.clone(), repo)? else {
        return Err(Error::usage_hint(
            "no service name for the test run",
            "pass --service (DORAMETER_SERVICE), or --dry-run to only parse",
        ));
    };
    let sha = match args.sha.clone().or_else(|| ci.and_then(|c| c.sha.clone())) {
        Some(rev) => Some(
            repo.and_then(|r| r.resolve_commit("--sha", &rev).ok())
                .unwrap_or(rev),
        ),
        None => repo.and_then(|r| r.resolve_commit("--sha", "HEAD").ok()),
    };
    let id = event::event_id(
        "--id",
        args.id.as_deref(),
        ci.map(|c| c.run_key.as_slice()),
        &["junit", &service.value],
    )?;
    Ok(Some(TestRun {
        id,
        service: service.value,
        sha,
        run_id: args
            .run_id
            .clone()
            .or_else(|| ci.and_then(|c| c.pipeline_id.clone())),
        run_attempt: ci.and_then(|c| c.run_attempt.clone()),
        job: args.job.clone().or_else(|| ci.and_then(|c| c.job.clone())),
        recorded_at: s.now,
        ..TestRun::default()
    }))
}

fn on_github(s: &Settings) -> bool {
    matches!(
        s.ci.as_ref().map(|c| c.provider),
        Some(crate::ci::Provider::GitHubActions)
    )
}

/// On GitHub Actions, the failing tests as `::error` annotations on the
/// lines where they failed (those without a location name no file), then
/// the flaky tests as `::warning`s, within GitHub's limits per step and job
/// and the rest counted in a closing notice. Written to stderr so they
/// never mix with `--format json` on stdout; the runner reads both.
fn github_annotations(
    ctx: &mut Context<'_>,
    s: &Settings,
    summary: &Summary,
    failing: &[Annotation],
) -> Result<()> {
    // Not chatter: what the run's page shows, so `-q` keeps them too.
    if !on_github(s) {
        return Ok(());
    }
    let mut all = failing.to_vec();
    all.extend(summary.flaky.iter().map(|f| Annotation {
        path: String::new(),
        line: 0,
        end_line: 0,
        level: Level::Warning,
        title: "Flaky test".into(),
        message: format!(
            "{} failed, then passed on a retry ({} attempts)",
            f.id, f.attempts
        ),
        raw_details: None,
        identity: f.id.clone(),
    }));
    let commands = render::workflow_commands(&all, render::GITHUB_PER_JOB);
    write!(ctx.stderr, "{}", commands.text)?;
    Ok(())
}

/// `--code-quality FILE`: GitLab's Code Quality report of the failing tests
/// that have a location (written even when there are none: an empty array).
fn write_code_quality(ctx: &mut Context<'_>, file: &Path, failing: &[Annotation]) -> Result<()> {
    let path = ctx.cwd.join(file);
    let body = serde_json::to_string_pretty(&render::code_quality(failing)).unwrap_or_default();
    std::fs::write(&path, body + "\n").map_err(|e| {
        Error::usage_hint(
            format!(
                "cannot write the Code Quality report {}: {e}",
                file.display()
            ),
            "check --code-quality (DORAMETER_CODE_QUALITY): its directory must exist",
        )
    })
}

/// Where a check run goes: the GitHub API, the repository, the token and the
/// commit; a usage error naming what is missing.
fn check_run_target<'s>(
    ctx: &Context<'_>,
    s: &'s Settings,
    sha: Option<&'s str>,
) -> Result<(&'s str, &'s str, String, &'s str)> {
    let token = ctx
        .env
        .get(ev::GITHUB_TOKEN)
        .filter(|t| !t.trim().is_empty())
        .cloned();
    let ci = s.ci.as_ref().filter(|_| on_github(s));
    let api = ci.and_then(|c| c.api_url.as_deref());
    let repository = ci.and_then(|c| c.repository.as_deref());
    match (api, repository, token, sha) {
        (Some(api), Some(repository), Some(token), Some(sha)) => Ok((api, repository, token, sha)),
        _ => Err(Error::usage_hint(
            "--check-run needs GitHub Actions: GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN and the commit",
            "run it in a GitHub Actions job whose token has `checks: write`, or drop --check-run",
        )),
    }
}

/// `--check-run NAME`: a completed check run on the tested commit with the
/// report as its summary and the located failing tests as annotations, 50
/// per request. Needs the workflow's token with `checks: write`; a failure
/// is a warning, or exit 5 under `--strict`.
fn check_run(
    ctx: &mut Context<'_>,
    s: &Settings,
    name: &str,
    sha: Option<&str>,
    view: &JunitView<'_>,
    failing: &[Annotation],
) -> Result<()> {
    let (api, repository, token, sha) = match check_run_target(ctx, s, sha) {
        Ok(target) => target,
        Err(e) if s.strict => return Err(e),
        Err(e) => return ctx.warn_error(s, &e),
    };
    let located = failing.iter().filter(|a| a.has_file()).count();
    let (create, updates) =
        annotate::check_run_bodies(name, sha, view, &render::junit_markdown(view), failing);
    let http = http_settings(&ctx.env)?;
    let posted = GitHub::new(api, repository, SecretString::from(token), http)
        .and_then(|gh| gh.check_run(&create, &updates));
    match posted {
        Ok((id, url)) => ctx.info(
            s,
            &format!(
                "check run {} ({id}) with {}: {}",
                terminal(name),
                render::count(located as u64, "annotation"),
                url.as_deref().unwrap_or("")
            ),
        ),
        Err(source) => {
            let e = Error::Forge {
                what: "create the check run",
                permission: Some("`permissions: checks: write`"),
                source,
            };
            if s.strict {
                return Err(e);
            }
            ctx.warn_error(s, &e)
        }
    }
}

/// Why the command fails: its exit code, what to print after `error:`, and
/// a hint.
struct Failing {
    code: u8,
    why: String,
    hint: Option<&'static str>,
}

/// Exit 4 when no file was a readable report, 3 when a gate fired; `None`
/// for exit 0. Every failure says why (SPEC §4).
fn gate(fail_on: &[FailOn], r: &Ingested) -> Option<Failing> {
    let s = &r.summary;
    if r.good == 0 {
        let why = if r.errors.is_empty() {
            let names: Vec<&str> = r.not_reports.iter().map(|f| f.file.as_str()).collect();
            format!(
                "no test report among the files matched (not test reports: {})",
                list(&names, 5)
            )
        } else {
            match (&r.errors[..], r.not_reports.len()) {
                ([one], 0) => format!("{} is not a readable test report", one.file),
                (errors, skipped) => format!(
                    "none of the {} files is a readable test report (see the warnings above)",
                    errors.len() + skipped
                ),
            }
        };
        return Some(Failing {
            code: exit::NO_INPUT,
            why,
            hint: Some(
                "check that the test step ran and wrote its report (JUnit XML, NUnit, xUnit.net, TRX or CTRF JSON), and the path relative to the working directory",
            ),
        });
    }
    let mut why = Vec::new();
    let on = |f: FailOn| fail_on.contains(&f);
    if on(FailOn::Failures) || on(FailOn::Errors) {
        let mut failing = Vec::new();
        let failed = on(FailOn::Failures) && s.failed > 0;
        if failed {
            failing.push(format!("{} failed", render::count(s.failed, "test")));
        }
        if s.errored > 0 && failed {
            failing.push(format!("{} errored", s.errored));
        } else if s.errored > 0 {
            failing.push(format!("{} errored", render::count(s.errored, "test")));
        }
        if !r.errors.is_empty() {
            let n = r.errors.len() as u64;
            failing.push(format!("{} unreadable", render::count(n, "report")));
        }
        if !failing.is_empty() {
            let flag = if on(FailOn::Failures) {
                "--fail-on failures"
            } else {
                "--fail-on errors"
            };
            why.push(format!("{} ({flag})", failing.join(", ")));
        }
    }
    if on(FailOn::Flaky) && s.flaky_count > 0 {
        why.push(format!(
            "{} (--fail-on flaky)",
            render::count(s.flaky_count, "flaky test")
        ));
    }
    (!why.is_empty()).then(|| Failing {
        code: exit::GATE,
        why: why.join("; "),
        hint: None,
    })
}

/// The first `max` items, then how many more.
fn list(items: &[&str], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
}

pub fn run(args: JunitArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, Some(&args.repo))?;
    check_event_format(&mut settings)?;
    let fail_on = args.fail_on()?;
    let hint = "check the path relative to the working directory, and that the test step ran and wrote its report";
    // A report file that cannot be written fails before anything is stored.
    if let Some(file) = given(&args.code_quality) {
        let dir = ctx.cwd.join(file);
        let dir = dir.parent().unwrap_or(&ctx.cwd);
        if !dir.is_dir() {
            return Err(Error::usage_hint(
                format!(
                    "cannot write the Code Quality report {file}: {} is not a directory",
                    dir.display()
                ),
                "check --code-quality (DORAMETER_CODE_QUALITY): its directory must exist",
            ));
        }
    }
    let (files, misses) = junit::find_reports(&ctx.cwd, &args.inputs, hint)?;
    for miss in &misses {
        ctx.warn(
            &settings,
            &format!("'{miss}' matches no file: the other reports were read without it ({hint})"),
        )?;
    }
    let repo = Repo::discover(&ctx.cwd.join(&args.repo)).ok();
    let mut settled = exit::OK;
    // In a pull or merge request: against the base's recorded runs.
    let base = settings
        .ci
        .as_ref()
        .and_then(|c| c.change.as_ref()?.base_sha.clone());
    let req = request(&args, &settings, repo.as_ref())?;
    // Every test is kept only to compare with a base; the slowest always.
    let mut head = if base.is_some() && req.is_some() {
        HeadTests::comparing()
    } else {
        HeadTests::default()
    }
    .annotating(
        on_github(&settings)
            || given(&args.check_run).is_some()
            || given(&args.code_quality).is_some(),
    );
    let tested = req.as_ref().and_then(|r| r.sha.clone()).or_else(|| {
        args.sha
            .clone()
            .or_else(|| settings.ci.as_ref().and_then(|c| c.sha.clone()))
    });
    // Under --strict, a check run that cannot be created fails before
    // anything is stored, as a Code Quality path does.
    if let (Some(_), true, false) = (given(&args.check_run), settings.strict, args.dry_run) {
        check_run_target(ctx, &settings, tested.as_deref())?;
    }
    let mut against = None;
    let (ingested, run) = match req {
        None => (
            junit::ingest(&files, &ctx.cwd, None, Some(&mut head))?,
            None,
        ),
        Some(req) => {
            let mut store = ctx.open_store(&settings, repo.as_ref(), Access::ReadWrite)?;
            let r = junit::record(store.as_mut(), &files, &ctx.cwd, &req, Some(&mut head))?;
            if let Some(base) = &base {
                store.read(&mut |tx| {
                    against = Some(test_compare::against_base(
                        tx,
                        &req.service,
                        repo.as_ref(),
                        base,
                        req.sha.as_deref(),
                        Some(&head.set),
                    )?);
                    Ok(())
                })?;
            }
            if r.run.is_none() {
                ctx.warn(
                    &settings,
                    &format!("test run {} was already recorded; nothing changed", req.id),
                )?;
            }
            settled = ctx.settle_store(&settings, store.as_ref(), exit::OK)?;
            (r.ingested, Some((req.id, r.run)))
        }
    };
    if !settings.quiet {
        for f in &ingested.not_reports {
            writeln!(
                ctx.stderr,
                "note: skipped {}: {}",
                terminal(&f.file),
                terminal(&f.message)
            )?;
        }
    }
    for e in ingested.notes.iter().chain(&ingested.errors) {
        ctx.warn(&settings, &format!("{}: {}", e.file, e.message))?;
    }
    if ingested.summary.names_incomplete {
        ctx.warn(&settings, &format!("too many failing tests to list (names are kept up to {} MiB): the failed and flaky lists are incomplete (the counts are exact)", crate::junit::NAMES_BYTES >> 20))?;
    }
    let (id, stored) = match run {
        Some((id, stored)) => (Some(id), stored),
        None => (None, None),
    };
    let view = JunitView::new(
        ingested.good,
        &ingested.summary,
        (&ingested.errors, &ingested.not_reports),
        id.as_deref(),
        stored.is_some(),
    )
    .with_tests(against.as_ref(), head.slowest());
    match settings.format.value {
        Format::Json => ctx.out_json(&view)?,
        Format::Markdown => ctx.out(&render::junit_markdown(&view))?,
        _ => ctx.out(&render::junit_table(&view))?,
    }
    let failing = if head.is_annotating() && !ingested.summary.failures.is_empty() {
        let root = repo
            .as_ref()
            .and_then(Repo::workdir)
            .unwrap_or_else(|| ctx.cwd.clone());
        annotate::annotations(&ingested.summary.failures, &head, &WorkTree::open(&root))
    } else {
        Vec::new()
    };
    github_annotations(ctx, &settings, &ingested.summary, &failing)?;
    if let Some(file) = given(&args.code_quality) {
        write_code_quality(ctx, Path::new(file), &failing)?;
    }
    if let (Some(_), true) = (given(&args.check_run), args.dry_run) {
        ctx.info(&settings, "--dry-run: no check run created")?;
    } else if let Some(name) = given(&args.check_run) {
        check_run(ctx, &settings, name, tested.as_deref(), &view, &failing)?;
    }
    // The job's summary page shows the run by itself (issue 15).
    ctx.step_summary(
        &settings,
        "the test results",
        &render::junit_markdown(&view),
    )?;
    ctx.github_outputs(&settings, || {
        let json = serde_json::to_string(&view).unwrap_or_default();
        vec![(crate::ci::github::outputs::JSON, json)]
    })?;
    let failing = gate(&fail_on, &ingested);
    let events = stored.into_iter().map(SinkEvent::TestRun).collect();
    let code = failing.as_ref().map_or(settled, |f| f.code);
    let code = ctx.emit(&settings, repo.as_ref(), events, code)?;
    // Every non-zero exit says why: under --strict, the events that did
    // not get through.
    let failing = failing.or_else(|| {
        (code == exit::SINK).then(|| Failing {
            code,
            why: "a sink did not take the test run, or the git store kept it in its spool (--strict; see the warnings above)".into(),
            hint: None,
        })
    });
    // Last on stderr, whatever `--quiet` says: the reason for the exit code.
    if let Some(f) = failing {
        writeln!(ctx.stderr, "error: {}", terminal(&f.why))?;
        if let Some(hint) = f.hint {
            writeln!(ctx.stderr, "hint: {hint}")?;
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::request;
    use crate::cli::Command;
    use crate::cli::tests::parse;

    fn junit(args: &[&str], env: &[(&str, &str)]) -> crate::Result<Option<crate::event::TestRun>> {
        let mut all = vec!["dorameter", "junit", "reports/*.xml"];
        all.extend_from_slice(args);
        let (cmd, s, _dir) = parse(&all, env, "");
        let Command::Junit(a) = cmd else {
            unreachable!()
        };
        request(&a, &s, None)
    }

    #[test]
    fn dry_run_needs_no_service_and_storing_does() {
        assert!(junit(&["--dry-run"], &[]).unwrap().is_none());
        let e = junit(&[], &[]).unwrap_err().to_string();
        assert!(e.contains("no service name for the test run"), "{e}");
        let r = junit(
            &[
                "--service",
                "api",
                "--sha",
                "abc123",
                "--job",
                "unit",
                "--id",
                "tr-1",
            ],
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                r.service.as_str(),
                r.sha.as_deref(),
                r.job.as_deref(),
                r.id.as_str()
            ),
            ("api", Some("abc123"), Some("unit"), "tr-1")
        );
    }

    #[test]
    fn ci_gives_service_sha_job_and_a_stable_id() {
        let gh = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_RUN_ID", "99"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_JOB", "test"),
            ("GITHUB_SERVER_URL", "https://github.com"),
        ];
        let r = junit(&[], &gh).unwrap().unwrap();
        assert_eq!(
            (
                r.service.as_str(),
                r.job.as_deref(),
                r.run_attempt.as_deref()
            ),
            ("shop", Some("test"), Some("2"))
        );
        assert_eq!(
            r.sha.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(r.id, junit(&[], &gh).unwrap().unwrap().id);
    }
}
