//! Ingest JUnit XML reports: find the files, stream each through the parser
//! into the aggregator (and the store, one savepoint per file so an
//! unreadable file contributes nothing), and record the test run.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::test_compare::HeadTests;
use crate::event::TestRun;
use crate::junit::{Aggregator, FileStats, Limits, Summary, parse};
use crate::render::FileError;
use crate::store::{Store, WriteTx};
use crate::{Error, Result};

/// A file to read as a JUnit report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFile {
    pub path: PathBuf,
    /// Named on the command line itself, not found by expanding a directory
    /// or a glob: a file that is not a test report is then an error, not a
    /// note (a directory of reports may also hold `pom.xml`).
    pub named: bool,
}

/// The files `inputs` name (files, directories, globs), deduplicated and in
/// reading order, and the inputs that matched no file while others did (a
/// mistyped path among several: the caller warns). No match at all is
/// [`Error::NoInput`] with `hint`.
pub fn find_reports(
    cwd: &Path,
    inputs: &[String],
    hint: &str,
) -> Result<(Vec<ReportFile>, Vec<String>)> {
    let mut files = Vec::new();
    let mut misses = Vec::new();
    for input in inputs {
        let found = expand(cwd, input)?;
        if found.is_empty() {
            misses.push(input.clone());
        }
        files.extend(found);
    }
    // A file both named and matched counts as named.
    files.sort_by(|a, b| a.path.cmp(&b.path).then(b.named.cmp(&a.named)));
    files.dedup_by(|later, first| later.path == first.path);
    files.sort_by_cached_key(|f| report_order(&f.path));
    if files.is_empty() {
        return Err(Error::NoInput {
            message: format!(
                "no test report matches {}",
                inputs
                    .iter()
                    .map(|i| format!("'{i}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: Some(hint.into()),
        });
    }
    Ok((files, misses))
}

/// The files an input names: itself, every `*.xml` (JUnit, NUnit,
/// xUnit.net), `*.trx` and `*.json` (CTRF) below a directory, or the glob's matches. Only the user's pattern
/// is a glob: the working directory and a directory given literally are
/// escaped (`results [ci]/` is a path). A `*.json` that is not a CTRF report
/// (`package.json`) is then skipped with a note, as a `pom.xml` is.
fn expand(cwd: &Path, input: &str) -> Result<Vec<ReportFile>> {
    let path = cwd.join(input);
    if path.is_file() {
        return Ok(vec![ReportFile { path, named: true }]);
    }
    let literal = |p: &Path| glob::Pattern::escape(&p.to_string_lossy());
    let patterns = if path.is_dir() {
        vec![
            format!("{}/**/*.xml", literal(&path)),
            format!("{}/**/*.trx", literal(&path)),
            format!("{}/**/*.json", literal(&path)),
        ]
    } else if Path::new(input).is_absolute() {
        vec![input.to_string()]
    } else {
        vec![format!("{}/{input}", literal(cwd))]
    };
    let mut files = Vec::new();
    for pattern in patterns {
        let paths = glob::glob(&pattern).map_err(|e| {
            Error::usage_hint(
                format!("invalid glob '{input}': {e}"),
                "quote globs ('reports/**/*.xml') and check the brackets",
            )
        })?;
        files.extend(
            paths
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .map(|path| ReportFile { path, named: false }),
        );
    }
    Ok(files)
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

/// What reading the reports gave.
#[derive(Debug)]
pub struct Ingested {
    pub summary: Summary,
    /// Files that could not be read, each with why.
    pub errors: Vec<FileError>,
    /// Files a directory or glob matched that are not test reports (their
    /// root element is none of the report formats'): skipped.
    pub not_reports: Vec<FileError>,
    /// What a reader should know about a file that was read: tests counted
    /// from suite attributes because the suite listed none.
    pub notes: Vec<FileError>,
    /// Files read whole.
    pub good: u64,
}

/// Reads every file into the aggregator (and the store, when `tx` is given;
/// and each named test's result, when `head` is), one savepoint per file so
/// an unreadable file contributes nothing.
pub fn ingest(
    files: &[ReportFile],
    cwd: &Path,
    mut tx: Option<(&mut dyn WriteTx, i64)>,
    mut head: Option<&mut HeadTests>,
) -> Result<Ingested> {
    let limits = Limits {
        keep_detail: head.as_ref().is_some_and(|h| h.is_annotating()),
        ..Limits::default()
    };
    let mut agg = Aggregator::default();
    let mut errors = Vec::new();
    let mut not_reports = Vec::new();
    let mut notes = Vec::new();
    let mut good = 0u64;
    for ReportFile { path, named } in files {
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
            if let Some(h) = head.as_mut() {
                h.entry(entry);
            }
            if let Err(e) = agg.add(entry) {
                failure = Some(Error::Spill(e));
            } else if let Some((tx, seq)) = tx.as_mut() {
                // A test without a name has no history to keep: the next run
                // cannot tell it from another nameless test. It counts in
                // this run's numbers only (the aggregator's).
                if entry.name.is_empty() {
                    return;
                }
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
        if let Some(h) = head.as_mut() {
            h.end_file(ok);
        }
        match parsed {
            Ok(stats) => {
                agg.add_unlisted(&stats.unlisted);
                agg.commit_file().map_err(Error::Spill)?;
                good += 1;
                if let Some(note) = unlisted_note(&stats) {
                    notes.push(FileError {
                        file: file_name,
                        message: note,
                    });
                }
            }
            Err(e) => {
                agg.rollback_file().map_err(Error::Spill)?;
                if e.not_a_report && !named {
                    // The message names the root element; no position needed.
                    not_reports.push(FileError {
                        file: file_name,
                        message: e.message,
                    });
                } else {
                    errors.push(FileError {
                        file: file_name,
                        message: e.to_string(),
                    });
                }
            }
        }
    }
    Ok(Ingested {
        summary: agg.finish().map_err(Error::Spill)?,
        errors,
        not_reports,
        notes,
        good,
    })
}

/// `suite "pytest" lists no <testcase> but declares 6 tests (3 passed, 1
/// failed, 2 skipped): counted from its attributes, without names`.
fn unlisted_note(stats: &FileStats) -> Option<String> {
    let u = &stats.unlisted;
    if stats.unlisted_suites == 0 {
        return None;
    }
    let suites = match (&stats.unlisted_suite, stats.unlisted_suites) {
        (Some(name), 1) if !name.is_empty() => {
            format!("suite {name:?} lists no <testcase> but declares")
        }
        (_, 1) => "a suite lists no <testcase> but declares".into(),
        (_, n) => format!("{n} suites list no <testcase> but declare"),
    };
    let parts: Vec<String> = [
        (u.passed, "passed"),
        (u.failed, "failed"),
        (u.errored, "errored"),
        (u.skipped, "skipped"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    Some(format!(
        "{suites} {} ({}): counted from the suite attributes, without names",
        crate::render::count(u.tests(), "test"),
        parts.join(", ")
    ))
}

/// What recording gave.
#[derive(Debug)]
pub struct Recorded {
    pub ingested: Ingested,
    /// The stored run; `None` when the id was already recorded (nothing changed).
    pub run: Option<TestRun>,
}

/// Reads the reports into the store as the test run `header` (its counts
/// are ignored: they come from the reports), in one write transaction. A
/// test run id that is already recorded stores nothing.
pub fn record(
    store: &mut dyn Store,
    files: &[ReportFile],
    cwd: &Path,
    header: &TestRun,
    mut head: Option<&mut HeadTests>,
) -> Result<Recorded> {
    let mut run = header.clone();
    let mut result = None;
    store.write(&mut |tx| {
        let seq = tx.insert_test_run(&run)?;
        let ingested = match seq {
            Some(seq) => ingest(files, cwd, Some((&mut *tx, seq)), head.as_deref_mut())?,
            None => ingest(files, cwd, None, head.as_deref_mut())?,
        };
        if let Some(seq) = seq {
            let s = &ingested.summary;
            run = TestRun {
                files: ingested.good,
                tests: s.tests,
                runs: s.runs,
                passed: s.passed,
                failed: s.failed,
                errored: s.errored,
                skipped: s.skipped,
                flaky: s.flaky_count,
                ..run.clone()
            };
            tx.update_test_run_counts(seq, &run)?;
        }
        result = Some((ingested, seq.is_some()));
        Ok(())
    })?;
    let (ingested, recorded) =
        result.ok_or_else(|| Error::internal("the store ran no transaction for the test run"))?;
    Ok(Recorded {
        ingested,
        run: recorded.then_some(run),
    })
}
