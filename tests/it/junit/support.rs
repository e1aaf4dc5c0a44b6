//! Helpers shared by the JUnit tests: the fixture tree, reading the JSON
//! output, reports built from a compact script, and the store read back
//! through `sqlite3`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

pub(super) fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit")
}

/// Every `X.expected.json` below `dir` with its report, `X.xml` (JUnit) or
/// `X.json` (CTRF), sorted.
pub(super) fn expected_files(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            expected_files(&p, out);
        } else if let Some(stem) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".expected.json"))
        {
            let xml = p.with_file_name(format!("{stem}.xml"));
            let report = if xml.is_file() {
                xml
            } else {
                p.with_file_name(format!("{stem}.json"))
            };
            assert!(
                report.is_file(),
                "{} has no report {stem}.xml or {stem}.json",
                p.display(),
            );
            out.push((report, p));
        }
    }
}

/// Stdout as one JSON value, whatever the exit code (the output is printed
/// even when a gate fails or no file was readable).
#[track_caller]
pub(super) fn out_json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {run:#?}"))
}

/// Exit 0 and JSON on stdout, for runs over real fixtures: their failure
/// messages may say "panicked" (Rust tests), so only stderr is checked.
#[track_caller]
pub(super) fn fixture_json(dm: &Dm, args: &[&str]) -> Value {
    let run = dm.run(args);
    assert!(
        run.code == 0 && !run.stderr.contains("panicked"),
        "expected exit 0 without a panic: {run:#?}"
    );
    out_json(&run)
}

#[track_caller]
pub(super) fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} should be a non-negative integer: {v}"))
}

pub(super) fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} should be an array: {v}"))
}

/// `(id, attempts, failures)` of the `flaky` list, sorted by id.
pub(super) fn flaky_triples(v: &Value) -> Vec<(String, u64, u64)> {
    let mut out: Vec<(String, u64, u64)> = arr(v, "flaky")
        .iter()
        .map(|f| {
            (
                f["id"].as_str().expect("flaky id").to_string(),
                u(f, "attempts"),
                u(f, "failures"),
            )
        })
        .collect();
    out.sort();
    out
}

/// The ids of `failures` with the given outcome, sorted.
pub(super) fn failure_ids(v: &Value, outcome: &str) -> Vec<String> {
    let mut ids: Vec<String> = arr(v, "failures")
        .iter()
        .filter(|f| f["outcome"] == outcome)
        .map(|f| f["id"].as_str().expect("failure id").to_string())
        .collect();
    ids.sort();
    ids
}

pub(super) const COUNTS: [&str; 6] = ["tests", "runs", "passed", "failed", "errored", "skipped"];

pub(super) fn counts(v: &Value) -> Vec<(String, u64)> {
    COUNTS.iter().map(|k| (k.to_string(), u(v, k))).collect()
}

/// The counts of `v` as `sqlite3` prints a row of them:
/// `tests|runs|passed|failed|errored|skipped`.
pub(super) fn count_row(v: &Value) -> String {
    COUNTS
        .iter()
        .map(|k| u(v, k).to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// Runs `sqlite3 DB SQL`; `None` when the CLI is not installed (the callers
/// then rely on `junit`/`flaky` output alone).
#[allow(clippy::print_stderr, reason = "a note in the captured test output")]
pub(super) fn sqlite(db: &Path, sql: &str) -> Option<String> {
    let out = match Command::new("sqlite3").arg(db).arg(sql).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("sqlite3 not installed: skipping the direct store check");
            return None;
        }
        Err(e) => panic!("run sqlite3: {e}"),
    };
    assert!(
        out.status.success(),
        "sqlite3 {sql} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub(super) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A report with one suite. Each test is `(name, entries)`: one `<testcase>`
/// per character, in order: `P` passed, `F` failure, `E` error, `S` skipped.
/// Repeated entries of one identity are attempts of one test (SPEC §6).
pub(super) fn report(tests: &[(&str, &str)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"suite\">\n",
    );
    for (name, entries) in tests {
        let name = xml_escape(name);
        for c in entries.chars() {
            let body = match c {
                'P' => String::new(),
                'F' => "<failure message=\"assertion failed\">trace</failure>".into(),
                'E' => "<error message=\"exception\">trace</error>".into(),
                'S' => "<skipped/>".into(),
                _ => panic!("unknown entry {c}"),
            };
            xml.push_str(&format!(
                "<testcase classname=\"c\" name=\"{name}\" time=\"0.01\">{body}</testcase>\n"
            ));
        }
    }
    xml.push_str("</testsuite>\n</testsuites>\n");
    xml
}

pub(super) fn cwd(dm: &Dm) -> PathBuf {
    dm.dir.path().join("cwd")
}

/// Writes `bytes` to `name` under the world's working directory.
pub(super) fn write(dm: &Dm, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = cwd(dm).join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, bytes).expect("write report");
    p
}

pub(super) fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Two passing tests, `g::one` and `g::two`.
pub(super) const GOOD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"good\">\
    <testcase classname=\"g\" name=\"one\" time=\"0.1\"/><testcase classname=\"g\" name=\"two\" time=\"0.2\"/>\
    </testsuite></testsuites>\n";

/// Four entries, then cut off inside the fourth test's failure.
pub(super) const TRUNCATED: &str = "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"x\"><testcase name=\"a\"/>\
    <testcase name=\"b\"/><testcase name=\"c\"><failure message=\"m\">boom</failure></testcase>\
    <testcase name=\"d\"><failure>boom";
