//! `dorameter junit FILE|GLOB…`: ingest JUnit XML in the test job.

use std::fs::File;
use std::path::{Path, PathBuf};

use clap::Args;

use super::GlobalArgs;
use super::context::{Context, pick};
use super::deploy::{check_event_format, non_empty};
use crate::env_vars as ev;
use crate::event::{self, TestRun};
use crate::git::Repo;
use crate::junit::{Aggregator, Limits, Summary, parse};
use crate::render::{self, FileError, Format, JunitView};
use crate::store::{Access, WriteTx};
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct JunitArgs {
    /// JUnit XML files, directories (all *.xml below) or globs ('reports/**/*.xml')
    #[arg(required = true, value_name = "FILE|GLOB")]
    pub inputs: Vec<String>,
    /// Service the tests belong to [default: from CI, else the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
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
    #[arg(long, env = ev::DRY_RUN, value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,
    /// Exit 3 when a test failed or errored (or a report is unreadable)
    #[arg(long, env = ev::FAIL_ON_FAILURE, value_parser = clap::builder::FalseyValueParser::new())]
    pub fail_on_failure: bool,
    /// Exit 3 when a test was flaky (failed, then passed on a retry)
    #[arg(long, env = ev::FAIL_ON_FLAKY, value_parser = clap::builder::FalseyValueParser::new())]
    pub fail_on_flaky: bool,
}

/// The files an input names: itself, every `*.xml` below a directory, or the
/// glob's matches. Only the user's pattern is a glob: the working directory
/// and a directory given literally are escaped (`results [ci]/` is a path).
pub(super) fn expand(cwd: &Path, input: &str) -> Result<Vec<PathBuf>> {
    let path = cwd.join(input);
    if path.is_file() {
        return Ok(vec![path]);
    }
    let literal = |p: &Path| glob::Pattern::escape(&p.to_string_lossy());
    let pattern = if path.is_dir() {
        format!("{}/**/*.xml", literal(&path))
    } else if Path::new(input).is_absolute() {
        input.to_string()
    } else {
        format!("{}/{input}", literal(cwd))
    };
    let paths = glob::glob(&pattern).map_err(|e| {
        Error::usage_hint(
            format!("invalid glob '{input}': {e}"),
            "quote globs ('reports/**/*.xml') and check the brackets",
        )
    })?;
    Ok(paths
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .collect())
}

/// Reading order: by path, except that Bazel's earlier attempts
/// (`test_attempts/attempt_N.xml`) come before the final `test.xml` of the
/// same target, so attempts merge in the order they ran.
fn report_order(p: &Path) -> (PathBuf, u8, u64, PathBuf) {
    let parent = p.parent().unwrap_or(Path::new(""));
    if parent.file_name().is_some_and(|n| n == "test_attempts") {
        let n = p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("attempt_"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        return (
            parent.parent().unwrap_or(Path::new("")).to_path_buf(),
            0,
            n,
            p.to_path_buf(),
        );
    }
    (parent.to_path_buf(), 1, 0, p.to_path_buf())
}

fn shown(cwd: &Path, p: &Path) -> String {
    p.strip_prefix(cwd).unwrap_or(p).display().to_string()
}

/// Reads every file into the aggregator (and the store, when `tx` is given),
/// one savepoint per file so an unreadable file contributes nothing.
pub(super) fn ingest(
    files: &[PathBuf],
    cwd: &Path,
    mut tx: Option<(&mut dyn WriteTx, i64)>,
) -> Result<(Summary, Vec<FileError>, u64)> {
    let limits = Limits::default();
    let mut agg = Aggregator::default();
    let mut errors = Vec::new();
    let mut good = 0u64;
    for path in files {
        let file_name = shown(cwd, path);
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                errors.push(FileError {
                    file: file_name,
                    message: format!("cannot open: {e}"),
                });
                continue;
            }
        };
        if let Some((tx, _)) = tx.as_mut() {
            tx.begin_file()?;
        }
        let mut failure: Option<Error> = None;
        let parsed = parse(file, &limits, &mut |entry| {
            if failure.is_some() {
                return;
            }
            if let Err(e) = agg.add(entry) {
                failure = Some(Error::Output(e));
            } else if let Some((tx, seq)) = tx.as_mut() {
                if let Err(e) = tx.add_test_entry(*seq, entry) {
                    failure = Some(e.into());
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let ok = parsed.is_ok();
        if let Some((tx, _)) = tx.as_mut() {
            tx.end_file(ok)?;
        }
        match parsed {
            Ok(_) => {
                agg.commit_file()?;
                good += 1;
            }
            Err(e) => {
                agg.rollback_file()?;
                errors.push(FileError {
                    file: file_name,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok((agg.finish()?, errors, good))
}

/// On GitHub Actions, one `::warning` annotation per flaky test (the first
/// 20), escaped as workflow commands require. Written to stderr so it never
/// mixes with `--format json` on stdout; the runner reads both.
fn github_annotations(
    ctx: &mut Context<'_>,
    session: &super::context::Session,
    summary: &Summary,
) -> Result<()> {
    use crate::ci::{Provider, github};
    if session.quiet
        || !matches!(
            session.ci.as_ref().map(|c| c.provider),
            Some(Provider::GitHubActions)
        )
    {
        return Ok(());
    }
    for f in summary.flaky.iter().take(20) {
        let message = format!(
            "{} failed, then passed on a retry ({} attempts)",
            f.id, f.attempts
        );
        writeln!(
            ctx.stderr,
            "{}",
            github::warning(&message, &[("title", "Flaky test")])
        )?;
    }
    Ok(())
}

pub fn run(args: JunitArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let session = ctx.session(global, Some(&args.repo))?;
    check_event_format(session.format)?;

    let mut files = Vec::new();
    for input in &args.inputs {
        files.extend(expand(&ctx.cwd, input)?);
    }
    files.sort();
    files.dedup();
    files.sort_by_cached_key(|p| report_order(p));
    if files.is_empty() {
        return Err(Error::NoInput {
            message: format!("no JUnit file matches {}", args.inputs.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", ")),
            hint: Some("check the path relative to the working directory, and that the test step ran and wrote its report".into()),
        });
    }

    let repo = Repo::discover(&ctx.cwd.join(&args.repo)).ok();
    let ci = session.ci.clone();
    let service = pick(&[
        args.service.clone(),
        session.config.service.clone(),
        ci.as_ref().and_then(|c| c.default_service.clone()),
    ])
    .or_else(|| {
        repo.as_ref()
            .and_then(|r| super::deploy::default_service(&session, r))
    });
    let sha = match pick(&[args.sha.clone(), ci.as_ref().and_then(|c| c.sha.clone())]) {
        Some(rev) => Some(
            match repo.as_ref().map(|r| r.resolve_commit("--sha", &rev)) {
                Some(Ok(full)) => full,
                _ => rev,
            },
        ),
        None => repo
            .as_ref()
            .and_then(|r| r.resolve_commit("--sha", "HEAD").ok()),
    };

    let mut stored_run: Option<TestRun> = None;
    let (summary, errors, good, id, recorded) = if args.dry_run {
        let (s, e, g) = ingest(&files, &ctx.cwd, None)?;
        (s, e, g, None, false)
    } else {
        let Some(service) = service else {
            return Err(Error::usage_hint(
                "no service name for the test run",
                "pass --service (DORAMETER_SERVICE), or --dry-run to only parse",
            ));
        };
        let service = non_empty("--service", service)?;
        let job = pick(&[args.job.clone(), ci.as_ref().and_then(|c| c.job.clone())]);
        let id = match &args.id {
            Some(id) => {
                event::validate_user_id("--id", id)?;
                id.clone()
            }
            None => match &ci {
                Some(c) if c.run_key.len() > 1 => {
                    let mut parts: Vec<&str> = c.run_key.iter().map(String::as_str).collect();
                    parts.extend(["junit", service.as_str()]);
                    event::derived_id(&parts)
                }
                _ => event::new_id(),
            },
        };
        let mut run = TestRun {
            id: id.clone(),
            service,
            sha,
            run_id: pick(&[
                args.run_id.clone(),
                ci.as_ref().and_then(|c| c.pipeline_id.clone()),
            ]),
            run_attempt: ci.as_ref().and_then(|c| c.run_attempt.clone()),
            job,
            recorded_at: session.now,
            files: 0,
            tests: 0,
            runs: 0,
            passed: 0,
            failed: 0,
            errored: 0,
            skipped: 0,
            flaky: 0,
        };
        let mut store = ctx.open_store(global, &session, repo.as_ref(), Access::ReadWrite)?;
        let mut result = None;
        store.write(&mut |tx| {
            let seq = tx.insert_test_run(&run)?;
            let (s, e, g) = match seq {
                Some(seq) => ingest(&files, &ctx.cwd, Some((&mut *tx, seq)))?,
                None => ingest(&files, &ctx.cwd, None)?,
            };
            if let Some(seq) = seq {
                run.files = g;
                run.tests = s.tests;
                run.runs = s.runs;
                run.passed = s.passed;
                run.failed = s.failed;
                run.errored = s.errored;
                run.skipped = s.skipped;
                run.flaky = s.flaky_count;
                tx.update_test_run_counts(seq, &run)?;
            }
            result = Some((s, e, g, seq.is_some()));
            Ok(())
        })?;
        let Some((s, e, g, recorded)) = result else {
            return Err(Error::usage("no test run was recorded"));
        };
        if recorded {
            stored_run = Some(run);
        }
        if !recorded {
            ctx.warn(
                &session,
                &format!("test run {id} was already recorded; nothing changed"),
            )?;
        }
        (s, e, g, Some(id), recorded)
    };

    for e in &errors {
        ctx.warn(&session, &format!("{}: {}", e.file, e.message))?;
    }
    if summary.names_incomplete {
        ctx.warn(&session, &format!("too many failing tests to list (names are kept up to {} MiB): the failed and flaky lists are incomplete (the counts are exact)", crate::junit::NAMES_BYTES >> 20))?;
    }
    let view = JunitView::new(good, &summary, &errors, id.as_deref(), recorded);
    match session.format {
        Format::Json => ctx.out_json(&view)?,
        Format::Markdown => ctx.out(&render::junit_markdown(&view))?,
        _ => ctx.out(&render::junit_table(&view))?,
    }
    github_annotations(ctx, &session, &summary)?;
    ctx.github_outputs(
        &session,
        &[(
            crate::ci::github::outputs::JSON,
            serde_json::to_string(&view).unwrap_or_default(),
        )],
    )?;

    let events: Vec<crate::sink::SinkEvent> = stored_run
        .into_iter()
        .map(crate::sink::SinkEvent::TestRun)
        .collect();
    let code = if good == 0 {
        ctx.warn(&session, "none of the files is a readable JUnit report")?;
        exit::NO_INPUT
    } else {
        let failing = summary.failed + summary.errored > 0 || !errors.is_empty();
        if (args.fail_on_failure && failing) || (args.fail_on_flaky && summary.flaky_count > 0) {
            exit::GATE
        } else {
            exit::OK
        }
    };
    super::flush::emit(ctx, global, &session, repo.as_ref(), events, code)
}
