//! JUnit ingestion (SPEC §4 `junit`/`flaky`, §6): every committed fixture
//! from a real (or documented) producer against its expected file, storing
//! and idempotency, flaky evidence over a scripted history, and hostile or
//! broken input.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

// ---------------------------------------------------------------------------
// helpers

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit")
}

/// Every `X.expected.json` below `dir` whose `X.xml` exists, sorted.
fn expected_files(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
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
            assert!(
                xml.is_file(),
                "{} has no report {}",
                p.display(),
                xml.display()
            );
            out.push((xml, p));
        }
    }
}

/// Stdout as one JSON value, whatever the exit code (the output is printed
/// even when a gate fails or no file was readable).
#[track_caller]
fn out_json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {run:#?}"))
}

/// Exit 0 and JSON on stdout, for runs over real fixtures: their failure
/// messages may say "panicked" (Rust tests), so only stderr is checked.
#[track_caller]
fn fixture_json(dm: &Dm, args: &[&str]) -> Value {
    let run = dm.run(args);
    assert!(
        run.code == 0 && !run.stderr.contains("panicked"),
        "expected exit 0 without a panic: {run:#?}"
    );
    out_json(&run)
}

#[track_caller]
fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} should be a non-negative integer: {v}"))
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} should be an array: {v}"))
}

/// `(id, attempts, failures)` of the `flaky` list, sorted by id.
fn flaky_triples(v: &Value) -> Vec<(String, u64, u64)> {
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
fn failure_ids(v: &Value, outcome: &str) -> Vec<String> {
    let mut ids: Vec<String> = arr(v, "failures")
        .iter()
        .filter(|f| f["outcome"] == outcome)
        .map(|f| f["id"].as_str().expect("failure id").to_string())
        .collect();
    ids.sort();
    ids
}

const COUNTS: [&str; 6] = ["tests", "runs", "passed", "failed", "errored", "skipped"];

fn counts(v: &Value) -> Vec<(String, u64)> {
    COUNTS.iter().map(|k| (k.to_string(), u(v, k))).collect()
}

/// Runs `sqlite3 DB SQL`; `None` when the CLI is not installed (the callers
/// then rely on `junit`/`flaky` output alone).
#[allow(clippy::print_stderr, reason = "a note in the captured test output")]
fn sqlite(db: &Path, sql: &str) -> Option<String> {
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

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A report with one suite. Each test is `(name, entries)`: one `<testcase>`
/// per character, in order: `P` passed, `F` failure, `E` error, `S` skipped.
/// Repeated entries of one identity are attempts of one test (SPEC §6).
fn report(tests: &[(&str, &str)]) -> String {
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

fn cwd(dm: &Dm) -> PathBuf {
    dm.dir.path().join("cwd")
}

/// Writes `bytes` to `name` under the world's working directory.
fn write(dm: &Dm, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = cwd(dm).join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, bytes).expect("write report");
    p
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------
// 1. every fixture against its expected file

#[test]
#[allow(clippy::print_stderr, reason = "notes in the captured test output")]
fn junit_fixtures_match_their_expected_files() {
    let dm = Dm::default();
    let mut cases = Vec::new();
    expected_files(&fixtures_root(), &mut cases);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (xml, expected_path) in &cases {
        let name = xml
            .strip_prefix(fixtures_root())
            .unwrap_or(xml)
            .display()
            .to_string();
        let all: Value = serde_json::from_str(
            &std::fs::read_to_string(expected_path).expect("read expected file"),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        // fixtures/junit/README.md: compare against what the file can express.
        let exp = all.get("recoverable_from_file").unwrap_or(&all);
        let xml_s = xml.display().to_string();
        let run = dm.run(&["junit", &xml_s, "--dry-run"]);
        // Not `assert_no_panic`: failure messages of Rust tests say "panicked".
        assert!(
            !run.stderr.contains("panicked") && run.code != 101,
            "{name}: dorameter panicked: {run:#?}"
        );
        if run.code != 0 {
            problems.push(format!(
                "{name}: exit {} (stderr: {})",
                run.code, run.stderr
            ));
            continue;
        }
        let got = out_json(&run);
        checked += 1;
        // `recoverable_from_file` is exactly what the file can express.
        let sources: Vec<&Value> = vec![exp];
        let mut check = |what: &str, expected: Vec<String>, actual: String| {
            if !expected.contains(&actual) {
                problems.push(format!(
                    "{name}: {what}: expected {}, got {actual}",
                    expected.join(" or ")
                ));
            } else if expected.len() > 1 && expected[0] != actual {
                eprintln!(
                    "{name}: {what}: recovered the truth {actual} (the file's expected floor is {})",
                    expected[0]
                );
            }
        };
        let mut mismatch =
            |what: &str, expected: String, actual: String| check(what, vec![expected], actual);
        mismatch("files", "1".into(), got["files"].to_string());
        let flaky_of = |v: &Value| {
            let mut want: Vec<(String, u64, u64)> = arr(v, "flaky")
                .iter()
                .map(|f| {
                    (
                        f["id"].as_str().expect("id").to_string(),
                        u(f, "attempts"),
                        u(f, "failures"),
                    )
                })
                .collect();
            want.sort();
            format!("{want:?}")
        };
        let ids_of = |v: &Value, key: &str| {
            let mut want: Vec<String> = arr(v, key)
                .iter()
                .map(|s| s.as_str().expect("id").to_string())
                .collect();
            want.sort();
            format!("{want:?}")
        };
        let attempts_of = |v: &Value, id: &str| {
            arr(v, "per_test")
                .iter()
                .find(|t| t["id"] == id)
                .map(|t| u(t, "attempts").to_string())
        };
        let mut expected_pairs: Vec<(String, Vec<String>, String)> = Vec::new();
        for k in COUNTS {
            expected_pairs.push((
                k.to_string(),
                sources.iter().map(|v| v[k].to_string()).collect(),
                got[k].to_string(),
            ));
        }
        expected_pairs.push((
            "flaky (id, attempts, failures)".into(),
            sources.iter().map(|v| flaky_of(v)).collect(),
            format!("{:?}", flaky_triples(&got)),
        ));
        for (key, outcome) in [("failed_ids", "failed"), ("errored_ids", "errored")] {
            expected_pairs.push((
                key.into(),
                sources.iter().map(|v| ids_of(v, key)).collect(),
                format!("{:?}", failure_ids(&got, outcome)),
            ));
        }
        // Each failing test's attempts, per the expected per-test table.
        for f in arr(&got, "failures") {
            let id = f["id"].as_str().unwrap_or("?");
            let want: Vec<String> = sources.iter().filter_map(|v| attempts_of(v, id)).collect();
            if !want.is_empty() {
                expected_pairs.push((
                    format!("failures[{id}].attempts"),
                    want,
                    f["attempts"].to_string(),
                ));
            }
        }
        for f in arr(&got, "flaky") {
            let id = format!(
                "{}::{}",
                f["classname"].as_str().unwrap_or("?"),
                f["name"].as_str().unwrap_or("?")
            );
            expected_pairs.push((
                "flaky id = classname::name".into(),
                vec![format!("{id:?}")],
                f["id"].to_string(),
            ));
            expected_pairs.push((
                "flaky evidence".into(),
                vec!["\"retry\"".into()],
                f["evidence"].to_string(),
            ));
        }
        for (what, expected, actual) in expected_pairs {
            check(&what, expected, actual);
        }
        let mut mismatch =
            |what: &str, expected: String, actual: String| check(what, vec![expected], actual);
        mismatch("errors", "[]".into(), got["errors"].to_string());
        mismatch(
            "names_incomplete",
            "false".into(),
            got["names_incomplete"].to_string(),
        );
        let sum = u(&got, "passed") + u(&got, "failed") + u(&got, "errored") + u(&got, "skipped");
        mismatch(
            "passed+failed+errored+skipped",
            got["tests"].to_string(),
            sum.to_string(),
        );
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) over {} fixtures:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
    assert!(
        checked >= 20,
        "only {checked} fixtures with an expected file were checked under {}",
        fixtures_root().display()
    );
}

// ---------------------------------------------------------------------------
// 2. storing

#[test]
fn junit_stores_the_dry_run_counts_once_per_id() {
    let mut dm = Dm::default();
    let fixture = fixtures_root().join("surefire/TEST-com.example.FooTest.xml");
    let other = fixtures_root().join("gradle/TEST-com.example.RetryTest.xml");
    let (fixture, other) = (fixture.display().to_string(), other.display().to_string());

    let dry = dm.json(&["junit", &fixture, "--dry-run"]);
    assert_eq!(dry["recorded"], false, "{dry}");
    assert!(dry["id"].is_null(), "a dry run has no id: {dry}");
    let dry_flaky: Vec<String> = flaky_triples(&dry).into_iter().map(|t| t.0).collect();
    assert!(!dry_flaky.is_empty(), "the fixture has flaky tests: {dry}");
    assert!(
        !dm.store_path().exists()
            || sqlite(&dm.store_path(), "SELECT count(*) FROM test_runs").as_deref() == Some("0"),
        "a dry run stores nothing"
    );

    let stored = dm.json(&[
        "junit",
        &fixture,
        "--service",
        "api",
        "--sha",
        "abc1234",
        "--id",
        "run-1",
        "--run-id",
        "pipe-7",
        "--job",
        "unit",
    ]);
    assert_eq!(
        counts(&stored),
        counts(&dry),
        "storing reports what the dry run reported"
    );
    assert_eq!(flaky_triples(&stored), flaky_triples(&dry));
    assert_eq!(stored["id"], "run-1", "{stored}");
    assert_eq!(stored["recorded"], true, "{stored}");

    let db = dm.store_path();
    if let Some(row) = sqlite(
        &db,
        "SELECT id, service, sha, run_id, job, files, tests, runs, passed, failed, errored, skipped, flaky FROM test_runs",
    ) {
        let want = format!(
            "run-1|api|abc1234|pipe-7|unit|1|{}|{}|{}|{}|{}|{}|{}",
            u(&dry, "tests"),
            u(&dry, "runs"),
            u(&dry, "passed"),
            u(&dry, "failed"),
            u(&dry, "errored"),
            u(&dry, "skipped"),
            dry_flaky.len()
        );
        assert_eq!(row, want, "the stored run row");
        let results = sqlite(
            &db,
            "SELECT count(*), sum(attempts), sum(outcome = 'passed'), sum(outcome = 'failed'), \
             sum(outcome = 'errored'), sum(outcome = 'skipped') FROM test_results",
        )
        .expect("sqlite3");
        let want = format!(
            "{}|{}|{}|{}|{}|{}",
            u(&dry, "tests"),
            u(&dry, "runs"),
            u(&dry, "passed"),
            u(&dry, "failed"),
            u(&dry, "errored"),
            u(&dry, "skipped")
        );
        assert_eq!(
            results, want,
            "per-test rows: one per identity, attempts sum to runs"
        );
        let flaky_rows = sqlite(
            &db,
            "SELECT classname || '::' || name FROM test_results WHERE flaky = 1 ORDER BY 1",
        )
        .expect("sqlite3");
        assert_eq!(
            flaky_rows.lines().map(str::to_string).collect::<Vec<_>>(),
            dry_flaky
        );
        let failed_rows = sqlite(
            &db,
            "SELECT classname || '::' || name FROM test_results WHERE outcome = 'failed' ORDER BY 1",
        )
        .expect("sqlite3");
        assert_eq!(
            failed_rows.lines().map(str::to_string).collect::<Vec<_>>(),
            failure_ids(&dry, "failed")
        );
    }

    // `flaky` sees the stored retries (asked an hour later, so the run
    // recorded at NOW is well inside the window).
    let flaky_later = |dm: &mut Dm| {
        dm.now = NOW + HOUR;
        let v = dm.json(&["flaky", "--service", "api"]);
        dm.now = NOW;
        v
    };
    let before = flaky_later(&mut dm);
    // The same --id again, even with another file: nothing is recorded.
    for (file, what) in [(&fixture, "the same file"), (&other, "another file")] {
        let again = dm.run(&[
            "junit",
            file,
            "--service",
            "api",
            "--sha",
            "abc1234",
            "--id",
            "run-1",
        ]);
        let v = again.json();
        assert_eq!(v["recorded"], false, "{what} under a recorded id: {v}");
        assert_eq!(v["id"], "run-1", "{v}");
        assert!(
            again.stderr.contains("warning") && again.stderr.contains("run-1"),
            "re-ingesting a recorded id warns: {again:#?}"
        );
        if let Some(n) = sqlite(
            &db,
            "SELECT (SELECT count(*) FROM test_runs) || '|' || (SELECT count(*) FROM test_results)",
        ) {
            assert_eq!(
                n,
                format!("1|{}", u(&dry, "tests")),
                "{what}: the store is unchanged"
            );
        }
        assert_eq!(
            flaky_later(&mut dm),
            before,
            "{what}: flaky history is unchanged"
        );
    }
    let mut ids: Vec<String> = arr(&before, "tests")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, dry_flaky, "flaky lists the retried tests: {before}");
    for t in arr(&before, "tests") {
        assert_eq!(t["evidence"], serde_json::json!(["retry"]), "{t}");
        assert_eq!(u(t, "runs"), 1, "one stored run: {t}");
        assert_eq!(u(t, "failed_runs"), 0, "it passed in the end: {t}");
        assert_eq!(u(t, "retried_runs"), 1, "{t}");
        assert_eq!(ts(&t["first_seen"]), NOW, "{t}");
        assert_eq!(ts(&t["last_seen"]), NOW, "{t}");
    }

    // Storing needs a service.
    let run = dm.run(&["junit", &fixture, "--id", "run-2"]);
    run.assert_usage_error("--service");
    if let Some(n) = sqlite(&db, "SELECT count(*) FROM test_runs") {
        assert_eq!(n, "1", "a usage error stores nothing");
    }
}

/// Every fixture stored as its own run: the stored per-test rows and the run
/// row agree with the dry run's report, and `flaky` finds exactly the
/// report's flaky tests by `retry`.
#[test]
fn junit_stored_results_agree_with_the_report_for_every_fixture() {
    let mut dm = Dm::default();
    let mut cases = Vec::new();
    expected_files(&fixtures_root(), &mut cases);
    let mut problems = Vec::new();
    for (i, (xml, _)) in cases.iter().enumerate() {
        let name = xml
            .strip_prefix(fixtures_root())
            .unwrap_or(xml)
            .display()
            .to_string();
        let xml = xml.display().to_string();
        let dry = fixture_json(&dm, &["junit", &xml, "--dry-run"]);
        let (id, service) = (format!("fx-{i}"), format!("svc-{i}"));
        dm.now = NOW - HOUR;
        let stored = fixture_json(&dm, &["junit", &xml, "--service", &service, "--id", &id]);
        dm.now = NOW;
        if counts(&stored) != counts(&dry) || flaky_triples(&stored) != flaky_triples(&dry) {
            problems.push(format!(
                "{name}: storing reported {stored} but the dry run {dry}"
            ));
        }
        let want = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            u(&dry, "tests"),
            u(&dry, "runs"),
            u(&dry, "passed"),
            u(&dry, "failed"),
            u(&dry, "errored"),
            u(&dry, "skipped"),
            arr(&dry, "flaky").len()
        );
        if let Some(rows) = sqlite(
            &dm.store_path(),
            &format!(
                "SELECT count(*), sum(r.attempts), sum(r.outcome = 'passed'), sum(r.outcome = 'failed'), \
                 sum(r.outcome = 'errored'), sum(r.outcome = 'skipped'), sum(r.flaky) \
                 FROM test_results r JOIN test_runs t ON r.run_seq = t.seq WHERE t.id = '{id}'"
            ),
        ) {
            if rows != want {
                problems.push(format!(
                    "{name}: stored rows (tests|runs|passed|failed|errored|skipped|flaky) {rows}, report {want}"
                ));
            }
            let run_row = sqlite(
                &dm.store_path(),
                &format!("SELECT tests, runs, passed, failed, errored, skipped, flaky FROM test_runs WHERE id = '{id}'"),
            )
            .expect("sqlite3");
            if run_row != want {
                problems.push(format!(
                    "{name}: stored run counts {run_row}, report {want}"
                ));
            }
        }
        let f = dm.json(&["flaky", "--service", &service]);
        let mut retried: Vec<String> = arr(&f, "tests")
            .iter()
            .filter(|t| {
                t["evidence"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|k| k == "retry"))
            })
            .map(|t| t["id"].as_str().expect("id").to_string())
            .collect();
        retried.sort();
        let want: Vec<String> = flaky_triples(&dry).into_iter().map(|t| t.0).collect();
        if retried != want {
            problems.push(format!(
                "{name}: flaky finds retries {retried:?}, the report {want:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cases.len() >= 20, "only {} fixtures", cases.len());
}

/// Two passing tests, `g::one` and `g::two`.
const GOOD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"good\">\
    <testcase classname=\"g\" name=\"one\" time=\"0.1\"/><testcase classname=\"g\" name=\"two\" time=\"0.2\"/>\
    </testsuite></testsuites>\n";

/// Four entries, then cut off inside the fourth test's failure.
const TRUNCATED: &str = "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"x\"><testcase name=\"a\"/>\
    <testcase name=\"b\"/><testcase name=\"c\"><failure message=\"m\">boom</failure></testcase>\
    <testcase name=\"d\"><failure>boom";

#[test]
fn junit_unreadable_file_stores_nothing() {
    let dm = Dm::default();
    write(&dm, "good.xml", GOOD);
    write(&dm, "truncated.xml", TRUNCATED);
    let run = dm.run(&[
        "junit",
        "good.xml",
        "truncated.xml",
        "--service",
        "api",
        "--id",
        "run-bad",
    ]);
    run.assert_ok();
    let v = out_json(&run);
    assert_eq!(
        (u(&v, "files"), u(&v, "tests"), u(&v, "runs")),
        (1, 2, 2),
        "{v}"
    );
    assert_eq!(v["recorded"], true, "{v}");
    assert_eq!(arr(&v, "errors").len(), 1, "{v}");
    if let Some(rows) = sqlite(
        &dm.store_path(),
        "SELECT classname || '::' || name || ':' || outcome FROM test_results ORDER BY 1",
    ) {
        assert_eq!(
            rows.lines().collect::<Vec<_>>(),
            ["g::one:passed", "g::two:passed"],
            "none of the truncated file's entries is stored"
        );
        let row = sqlite(
            &dm.store_path(),
            "SELECT files, tests, runs, failed FROM test_runs",
        )
        .expect("sqlite3");
        assert_eq!(row, "1|2|2|0");
    }
}

// ---------------------------------------------------------------------------
// 3. flaky evidence over a scripted history

/// Ingests `tests` as one stored run of `service`, recorded at `t`.
#[track_caller]
fn ingest(
    dm: &mut Dm,
    service: &str,
    id: &str,
    sha: &str,
    t: i64,
    tests: &[(&str, &str)],
) -> Value {
    let file = format!("{id}.xml");
    write(dm, &file, report(tests));
    dm.now = t;
    let v = dm.json(&[
        "junit",
        &file,
        "--service",
        service,
        "--sha",
        sha,
        "--id",
        id,
    ]);
    dm.now = NOW;
    assert_eq!(v["recorded"], true, "{v}");
    v
}

/// `flaky --service S ARGS` at NOW: the findings by id, and the whole output.
#[track_caller]
fn flaky(dm: &Dm, service: &str, extra: &[&str]) -> (BTreeMap<String, Value>, Value) {
    let mut args = vec!["flaky", "--service", service];
    args.extend_from_slice(extra);
    let v = dm.json(&args);
    let mut by_id = BTreeMap::new();
    for t in arr(&v, "tests") {
        let id = t["id"].as_str().expect("id").to_string();
        assert_eq!(
            format!(
                "{}::{}",
                t["classname"].as_str().unwrap_or("?"),
                t["name"].as_str().unwrap_or("?")
            ),
            id,
            "id = classname::name: {t}"
        );
        assert!(by_id.insert(id, t.clone()).is_none(), "each test once: {v}");
    }
    (by_id, v)
}

/// What one finding must say: evidence, failure_rate, runs, failed_runs,
/// retried_runs, mixed_shas.
#[track_caller]
fn assert_finding(
    found: &BTreeMap<String, Value>,
    id: &str,
    evidence: &[&str],
    rate: f64,
    runs_failed_retried_mixed: [u64; 4],
) {
    let [runs, failed, retried, mixed] = runs_failed_retried_mixed;
    let f = found.get(id).unwrap_or_else(|| {
        panic!(
            "{id} should be reported as flaky; reported: {:?}",
            found.keys().collect::<Vec<_>>()
        )
    });
    let got_evidence: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("evidence is a list: {f}"))
        .iter()
        .map(|e| e.as_str().expect("evidence kind"))
        .collect();
    assert_eq!(got_evidence, evidence, "{id}: evidence: {f}");
    assert_close(
        &f["failure_rate"],
        rate,
        0.005,
        &format!("{id}: failure_rate"),
    );
    assert_eq!(
        (
            u(f, "runs"),
            u(f, "failed_runs"),
            u(f, "retried_runs"),
            u(f, "mixed_shas")
        ),
        (runs, failed, retried, mixed),
        "{id}: (runs, failed_runs, retried_runs, mixed_shas): {f}"
    );
}

#[track_caller]
fn assert_ids(found: &BTreeMap<String, Value>, want: &[&str], what: &str) {
    let got: BTreeSet<&str> = found.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = want.iter().copied().collect();
    assert_eq!(got, want, "{what}: the tests reported as flaky");
}

/// Twenty ordinary runs, 12 hours apart, the first 13 days before NOW.
fn run_time(i: i64) -> i64 {
    NOW - 13 * DAY + i * 12 * HOUR
}

fn run_sha(i: i64) -> String {
    if i == 10 || i == 11 {
        "shared".into()
    } else {
        format!("sha{i:02}")
    }
}

/// The tests of ordinary run `i` (0..20).
fn history_run(i: i64) -> Vec<(&'static str, &'static str)> {
    let mut t = vec![
        ("steady", "P"),
        ("broken", "F"),
        ("rate95", if i == 19 { "P" } else { "F" }),
        ("rate5", if i == 0 { "F" } else { "P" }),
        ("retried", if i == 5 { "FP" } else { "P" }),
        (
            "multi",
            match i {
                3 => "FP",
                10 => "F",
                _ => "P",
            },
        ),
    ];
    match i {
        10 => t.push(("samesha", "P")),
        11 => t.push(("samesha", "F")),
        12 => t.push(("diffsha", "P")),
        13 => t.push(("diffsha", "F")),
        _ => {}
    }
    if i < 19 {
        t.push(("rate_few", if i == 7 { "F" } else { "P" }));
    }
    t.push((
        "skippy",
        match i {
            0 => "S",
            19 => "F",
            _ => "P",
        },
    ));
    if i > 0 {
        t.push(("infra_only", "P"));
    }
    t
}

/// A scripted history of service `shop`: 20 ordinary runs, one
/// infrastructure run (9 of 10 tests failed) and one run 14 days and an hour
/// old.
fn history() -> Dm {
    let mut dm = Dm::default();
    for i in 0..20 {
        let id = format!("run-{i:02}");
        ingest(
            &mut dm,
            "shop",
            &id,
            &run_sha(i),
            run_time(i),
            &history_run(i),
        );
    }
    // Every test failed but one: an infrastructure failure, ignored. It
    // shares sha01 with run 1, where steady and infra_only passed.
    let infra = ingest(
        &mut dm,
        "shop",
        "run-infra",
        "sha01",
        NOW - 2 * DAY,
        &[
            ("steady", "F"),
            ("broken", "F"),
            ("rate95", "F"),
            ("rate5", "F"),
            ("retried", "F"),
            ("multi", "F"),
            ("rate_few", "F"),
            ("skippy", "F"),
            ("infra_only", "F"),
            ("infra_retry", "FP"),
        ],
    );
    assert_eq!(
        (u(&infra, "tests"), u(&infra, "failed"), u(&infra, "passed")),
        (10, 9, 1),
        "{infra}"
    );
    // Older than the 14-day window.
    ingest(
        &mut dm,
        "shop",
        "run-old",
        "old",
        NOW - 14 * DAY - HOUR,
        &[
            ("steady", "P"),
            ("broken", "F"),
            ("rate5", "F"),
            ("old_flaky", "FP"),
        ],
    );
    dm
}

#[test]
fn flaky_reports_each_kind_of_evidence_exactly() {
    let dm = history();
    let c = |s: &str| format!("c::{s}");

    // Defaults: --window 14d --min-runs 20 --min-failure-rate 5 --max-failure-rate 95 --infra-threshold 80.
    let (found, v) = flaky(&dm, "shop", &[]);
    assert_eq!(v["service"], "shop", "{v}");
    assert_eq!(ts(&v["window"]["start"]), NOW - 14 * DAY, "{v}");
    assert_eq!(ts(&v["window"]["end"]), NOW, "{v}");
    assert_close(&v["window"]["days"], 14.0, 1e-9, "window.days");
    assert_ids(
        &found,
        &[
            &c("rate95"),
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
        ],
        "defaults",
    );
    // 19 of 20 runs failed: 95 % is still flaky (the cap is inclusive); 20 of 20 (broken) is not.
    assert_finding(
        &found,
        &c("rate95"),
        &["failure_rate"],
        95.0,
        [20, 19, 0, 0],
    );
    // 1 of 20: exactly the 5 % floor.
    assert_finding(&found, &c("rate5"), &["failure_rate"], 5.0, [20, 1, 0, 0]);
    // Failed then passed inside run 5: its outcome there is passed.
    assert_finding(&found, &c("retried"), &["retry"], 0.0, [20, 0, 1, 0]);
    // Passed in run 10 and failed in run 11, both on sha `shared`; two runs only.
    assert_finding(&found, &c("samesha"), &["same_sha"], 50.0, [2, 1, 0, 1]);
    // All three kinds, listed in SPEC order.
    assert_finding(
        &found,
        &c("multi"),
        &["retry", "same_sha", "failure_rate"],
        5.0,
        [20, 1, 1, 1],
    );
    // Seen from the first to the last ordinary run: neither the older run nor
    // the later infrastructure run counts.
    let rate5 = &found[&c("rate5")];
    assert_eq!(ts(&rate5["first_seen"]), run_time(0), "{rate5}");
    assert_eq!(ts(&rate5["last_seen"]), run_time(19), "{rate5}");
    let samesha = &found[&c("samesha")];
    assert_eq!(ts(&samesha["first_seen"]), run_time(10), "{samesha}");
    assert_eq!(ts(&samesha["last_seen"]), run_time(11), "{samesha}");
    // Not reported: steady (0 %), broken (100 %), diffsha (pass and fail on
    // different shas), rate_few (19 runs), skippy (20 entries, one skipped:
    // 19 runs), infra_only and infra_retry (their failures are in the
    // infrastructure run only), old_flaky (older than the window).

    // --min-runs 19 admits the tests with 19 counted runs.
    let (found, _) = flaky(&dm, "shop", &["--min-runs", "19"]);
    assert_ids(
        &found,
        &[
            &c("rate95"),
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
            &c("rate_few"),
            &c("skippy"),
        ],
        "--min-runs 19",
    );
    assert_finding(
        &found,
        &c("rate_few"),
        &["failure_rate"],
        100.0 / 19.0,
        [19, 1, 0, 0],
    );
    assert_finding(
        &found,
        &c("skippy"),
        &["failure_rate"],
        100.0 / 19.0,
        [19, 1, 0, 0],
    );

    // The rate bounds are flags.
    let (found, _) = flaky(
        &dm,
        "shop",
        &["--min-failure-rate", "6", "--max-failure-rate", "100"],
    );
    assert_ids(
        &found,
        &[
            &c("broken"),
            &c("rate95"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
        ],
        "--min-failure-rate 6 --max-failure-rate 100",
    );
    assert_finding(
        &found,
        &c("broken"),
        &["failure_rate"],
        100.0,
        [20, 20, 0, 0],
    );
    assert_finding(
        &found,
        &c("multi"),
        &["retry", "same_sha"],
        5.0,
        [20, 1, 1, 1],
    );

    // A wider window takes in the old run.
    let (found, _) = flaky(&dm, "shop", &["--window", "15d"]);
    assert_ids(
        &found,
        &[
            &c("rate95"),
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
            &c("old_flaky"),
        ],
        "--window 15d",
    );
    assert_finding(
        &found,
        &c("rate5"),
        &["failure_rate"],
        200.0 / 21.0,
        [21, 2, 0, 0],
    );
    assert_finding(&found, &c("old_flaky"), &["retry"], 0.0, [1, 0, 1, 0]);
    assert_eq!(ts(&found[&c("rate5")]["first_seen"]), NOW - 14 * DAY - HOUR);

    // Proof that the infrastructure run is what hid infra_only and
    // infra_retry: with the threshold above its 90 %, it counts (and shares
    // sha01 with run 1, where most tests passed).
    let (found, _) = flaky(&dm, "shop", &["--infra-threshold", "95"]);
    assert_ids(
        &found,
        &[
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
            &c("steady"),
            &c("infra_only"),
            &c("infra_retry"),
            &c("skippy"),
            &c("rate_few"),
        ],
        "--infra-threshold 95",
    );
    assert_finding(
        &found,
        &c("infra_only"),
        &["same_sha", "failure_rate"],
        5.0,
        [20, 1, 0, 1],
    );
    assert_finding(
        &found,
        &c("steady"),
        &["same_sha"],
        100.0 / 21.0,
        [21, 1, 0, 1],
    );
    assert_finding(&found, &c("infra_retry"), &["retry"], 0.0, [1, 0, 1, 0]);
    assert_finding(
        &found,
        &c("rate5"),
        &["same_sha", "failure_rate"],
        200.0 / 21.0,
        [21, 2, 0, 1],
    );
    assert_finding(
        &found,
        &c("multi"),
        &["retry", "same_sha", "failure_rate"],
        200.0 / 21.0,
        [21, 2, 1, 2],
    );
    assert_finding(
        &found,
        &c("skippy"),
        &["same_sha", "failure_rate"],
        10.0,
        [20, 2, 0, 1],
    );
    assert_eq!(ts(&found[&c("rate5")]["last_seen"]), NOW - 2 * DAY);

    // The gate, and a service with no history.
    let gate = dm.run(&["flaky", "--service", "shop", "--fail-on-flaky"]);
    gate.assert_no_panic();
    assert_eq!(
        gate.code, 3,
        "--fail-on-flaky with flaky tests exits 3: {gate:#?}"
    );
    assert_eq!(
        arr(&out_json(&gate), "tests").len(),
        5,
        "the findings are still printed"
    );
    let none = dm.run(&["flaky", "--service", "nobody", "--fail-on-flaky"]);
    let v = none.json();
    assert!(arr(&v, "tests").is_empty(), "{v}");
}

#[test]
fn flaky_infrastructure_threshold_is_more_than_80_percent() {
    let mut dm = Dm::default();
    let t0 = NOW - 3 * DAY;
    // Exactly 80 % failed: not an infrastructure run.
    ingest(
        &mut dm,
        "edge",
        "a",
        "x",
        t0,
        &[
            ("t1", "F"),
            ("t2", "F"),
            ("t3", "E"),
            ("t4", "F"),
            ("t5", "P"),
        ],
    );
    ingest(
        &mut dm,
        "edge",
        "b",
        "x",
        t0 + HOUR,
        &[
            ("t1", "P"),
            ("t2", "P"),
            ("t3", "P"),
            ("t4", "P"),
            ("t5", "P"),
        ],
    );
    // 90 % failed: ignored.
    let many: Vec<(String, &str)> = (1..=10)
        .map(|i| (format!("u{i:02}"), if i == 10 { "P" } else { "F" }))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, o)| (n.as_str(), *o)).collect();
    ingest(&mut dm, "edge", "c", "y", t0 + 2 * HOUR, &many);
    let pass: Vec<(&str, &str)> = many.iter().map(|(n, _)| (*n, "P")).collect();
    ingest(&mut dm, "edge", "d", "y", t0 + 3 * HOUR, &pass);

    // Pass and fail in two runs without a sha: no same_sha evidence.
    for (id, t, outcome) in [("n1", t0 + 4 * HOUR, "P"), ("n2", t0 + 5 * HOUR, "F")] {
        write(
            &dm,
            &format!("{id}.xml"),
            report(&[("nosha", outcome), ("t5", "P")]),
        );
        dm.now = t;
        let v = dm.json(&[
            "junit",
            &format!("{id}.xml"),
            "--service",
            "edge",
            "--id",
            id,
        ]);
        dm.now = NOW;
        assert_eq!(v["recorded"], true, "{v}");
    }

    let t_ids = ["c::t1", "c::t2", "c::t3", "c::t4"];
    let u_ids: Vec<String> = (1..=9).map(|i| format!("c::u{i:02}")).collect();

    let (found, _) = flaky(&dm, "edge", &[]);
    assert_ids(&found, &t_ids, "80 % is not more than 80 %; 90 % is");
    for id in t_ids {
        assert_finding(&found, id, &["same_sha"], 50.0, [2, 1, 0, 1]);
    }

    let (found, _) = flaky(&dm, "edge", &["--infra-threshold", "75"]);
    assert_ids(
        &found,
        &[],
        "--infra-threshold 75 ignores both failing runs",
    );

    let (found, _) = flaky(&dm, "edge", &["--infra-threshold", "95"]);
    let mut all: Vec<&str> = t_ids.to_vec();
    all.extend(u_ids.iter().map(String::as_str));
    assert_ids(
        &found,
        &all,
        "--infra-threshold 95 counts both failing runs",
    );
    for id in &u_ids {
        assert_finding(&found, id, &["same_sha"], 50.0, [2, 1, 0, 1]);
    }
}

// ---------------------------------------------------------------------------
// 4. bad input: reported per file, the good file still counted

/// `junit good.xml NAME --dry-run EXTRA...` with `bytes` in NAME.
fn with_bad_file(name: &str, bytes: &[u8], extra: &[&str]) -> (Dm, Run, Duration) {
    let dm = Dm::default();
    write(&dm, "good.xml", GOOD);
    write(&dm, name, bytes);
    let mut args = vec!["junit", "good.xml", name, "--dry-run"];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let run = dm.run(&args);
    (dm, run, start.elapsed())
}

/// The good file counted, `name` listed in `errors` and warned about, no
/// panic, exit 0, and exit 3 under `--fail-on-failure` (an unreadable
/// file fails the gate). Returns the error message.
#[track_caller]
fn assert_rejected_beside_good(name: &str, bytes: &[u8], limit: Duration) -> String {
    let (_dm, run, elapsed) = with_bad_file(name, bytes, &[]);
    run.assert_no_panic();
    assert!(
        elapsed < limit,
        "{name}: took {elapsed:?} (limit {limit:?})"
    );
    assert_eq!(
        run.code, 0,
        "{name}: a readable report beside it: exit 0: {run:#?}"
    );
    let v = out_json(&run);
    assert_eq!(
        (
            u(&v, "files"),
            u(&v, "tests"),
            u(&v, "runs"),
            u(&v, "passed")
        ),
        (1, 2, 2, 2),
        "{name}: only the good file counts: {v}"
    );
    assert_eq!(
        (u(&v, "failed"), u(&v, "errored"), u(&v, "skipped")),
        (0, 0, 0),
        "{name}: {v}"
    );
    let errors = arr(&v, "errors");
    assert_eq!(errors.len(), 1, "{name}: one unreadable file: {v}");
    assert_eq!(errors[0]["file"], name, "{name}: {v}");
    let message = errors[0]["message"].as_str().expect("message").to_string();
    assert!(message.trim().len() > 5, "{name}: a message: {v}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("warning:") && l.contains(name)),
        "{name}: a warning names the file: {run:#?}"
    );
    let (_dm, gated, _) = with_bad_file(name, bytes, &["--fail-on-failure"]);
    gated.assert_no_panic();
    assert_eq!(
        gated.code, 3,
        "{name}: --fail-on-failure with an unreadable file: {gated:#?}"
    );
    assert_eq!(
        u(&out_json(&gated), "tests"),
        2,
        "{name}: output still printed"
    );
    message
}

const FAST: Duration = Duration::from_secs(5);

#[test]
fn junit_bad_input_truncated() {
    let m = assert_rejected_beside_good("truncated.xml", TRUNCATED.as_bytes(), FAST);
    assert!(
        m.contains(r#"testsuites/testsuite[0]("x")/testcase[3]"#),
        "the element path: {m}"
    );
    assert!(m.contains("truncated") || m.contains("end of file"), "{m}");
    let offset: u64 = m
        .split("byte ")
        .nth(1)
        .and_then(|s| {
            s.trim_end_matches(')')
                .split(|c: char| !c.is_ascii_digit())
                .next()
        })
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("the byte offset: {m}"));
    assert!(
        offset > 0 && offset <= TRUNCATED.len() as u64,
        "offset {offset} inside the {}-byte file: {m}",
        TRUNCATED.len()
    );
}

#[test]
fn junit_bad_input_not_xml() {
    let m = assert_rejected_beside_good(
        "log.xml",
        b"collected 3 items\n\ntest_a.py ... PASSED\n",
        FAST,
    );
    assert!(m.contains("XML") || m.contains("JUnit"), "{m}");
    let m = assert_rejected_beside_good(
        "report.xml",
        br#"{"tests": [{"name": "a", "ok": true}]}"#,
        FAST,
    );
    assert!(m.contains("XML") || m.contains("JUnit"), "{m}");
    let m = assert_rejected_beside_good(
        "binary.xml",
        &[
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xff, 0x00, 0x80,
        ],
        FAST,
    );
    assert!(!m.is_empty());
}

#[test]
fn junit_bad_input_html_root() {
    let m = assert_rejected_beside_good(
        "index.xml",
        b"<html><head><title>404</title></head><body><p>Not Found</p></body></html>",
        FAST,
    );
    assert!(m.contains("html"), "names the root: {m}");
    assert!(m.contains("JUnit") || m.contains("testsuite"), "{m}");
}

#[test]
fn junit_bad_input_utf16() {
    let text = GOOD.replace("UTF-8", "UTF-16");
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let m = assert_rejected_beside_good("utf16.xml", &bytes, FAST);
    assert!(m.contains("UTF-16"), "{m}");
}

#[test]
fn junit_bad_input_empty_file() {
    let m = assert_rejected_beside_good("empty.xml", b"", FAST);
    assert!(m.contains("empty") || m.contains("no XML"), "{m}");
}

#[test]
fn junit_bad_input_deeply_nested_suites() {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuites>");
    for i in 0..100_000 {
        xml.push_str(&format!("<testsuite name=\"n{i}\">"));
    }
    xml.push_str("<testcase classname=\"deep\" name=\"t\"/>");
    for _ in 0..100_000 {
        xml.push_str("</testsuite>");
    }
    xml.push_str("</testsuites>\n");
    let m = assert_rejected_beside_good("deep.xml", xml.as_bytes(), FAST);
    assert!(m.contains("nested deeper"), "{m}");
}

/// A DOCTYPE may be refused or ignored; what matters is that nothing is
/// fetched or expanded. The good file counts either way.
#[track_caller]
fn assert_entities_inert(name: &str, xml: &str, forbidden: &str) -> Value {
    let (_dm, run, elapsed) = with_bad_file(name, xml.as_bytes(), &[]);
    run.assert_no_panic();
    assert!(elapsed < FAST, "{name}: took {elapsed:?}");
    assert_eq!(run.code, 0, "{name}: {run:#?}");
    assert!(
        !run.stdout.contains(forbidden) && !run.stderr.contains(forbidden),
        "{name}: the entity was expanded ({forbidden:?} in the output): {run:#?}"
    );
    assert!(
        run.stdout.len() < 64 * 1024,
        "{name}: {} bytes of output",
        run.stdout.len()
    );
    let v = out_json(&run);
    assert_eq!(u(&v, "passed"), 2, "{name}: the good file counts: {v}");
    let errors = arr(&v, "errors");
    if errors.is_empty() {
        // Parsed, the entity left as it was: one more (failed) test.
        assert_eq!(
            (u(&v, "files"), u(&v, "tests"), u(&v, "failed")),
            (2, 3, 1),
            "{name}: {v}"
        );
    } else {
        assert_eq!((u(&v, "files"), u(&v, "tests")), (1, 2), "{name}: {v}");
        assert_eq!(errors[0]["file"], name, "{v}");
    }
    v
}

#[test]
fn junit_bad_input_xxe_is_never_resolved() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(
        passwd.contains("root:"),
        "the probe relies on /etc/passwd holding root:"
    );
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
        <testsuite name=\"x\"><testcase classname=\"xxe\" name=\"&xxe;\">\
        <failure message=\"&xxe;\">&xxe;</failure></testcase></testsuite>\n";
    let v = assert_entities_inert("xxe.xml", xml, "root:");
    if let Some(f) = arr(&v, "failures").first() {
        assert!(f["id"].as_str().unwrap_or("").starts_with("xxe::"), "{v}");
    }
    // A parameter entity and an external DTD: nothing is fetched either.
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite SYSTEM \"file:///etc/passwd\" [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>\n\
        <testsuite name=\"x\"><testcase classname=\"xxe\" name=\"t\"><failure message=\"m\">body</failure></testcase></testsuite>\n";
    assert_entities_inert("xxe-param.xml", xml, "root:");
}

#[test]
fn junit_bad_input_entity_bomb_is_not_expanded() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str(
        "]>\n<testsuite name=\"x\"><testcase classname=\"bomb\" name=\"&lol9;\">\
         <failure message=\"&lol9;\">&lol9;&lol9;&lol9;</failure></testcase></testsuite>\n",
    );
    assert_entities_inert("bomb.xml", &xml, "lollollollol");
}

#[test]
fn junit_huge_system_out_streams_and_is_not_stored() {
    let dm = Dm::default();
    write(&dm, "good.xml", GOOD);
    let path = cwd(&dm).join("huge.xml");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        f.write_all(
            b"<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"big\">\
              <testcase classname=\"big\" name=\"noisy\"><failure type=\"AssertionError\">",
        )
        .unwrap();
        let trace = "at com.example.Big.noisy(Big.java:42)\n".repeat(1 << 15); // ~1.2 MB
        f.write_all(trace.as_bytes()).unwrap();
        f.write_all(b"</failure><system-out>").unwrap();
        let mut line = b"log line with &amp; entities and <![CDATA[ <raw> ]]> text ".to_vec();
        line.resize(1023, b'y');
        line.push(b'\n');
        let chunk = line.repeat(1024); // 1 MiB
        for _ in 0..64 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"</system-out></testcase><testcase classname=\"big\" name=\"after\"/>")
            .unwrap();
        // Bazel puts the whole test log in the suite's system-out: 20 MiB,
        // above any per-event buffer a parser might keep.
        f.write_all(b"<system-out>").unwrap();
        for _ in 0..20 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"</system-out></testsuite></testsuites>\n")
            .unwrap();
        f.flush().unwrap();
    }
    assert!(std::fs::metadata(&path).unwrap().len() > 84 << 20);
    let start = Instant::now();
    let run = dm.run(&[
        "junit",
        "good.xml",
        "huge.xml",
        "--service",
        "api",
        "--id",
        "huge",
    ]);
    let elapsed = start.elapsed();
    run.assert_ok();
    assert!(
        elapsed < Duration::from_secs(20),
        "an 85 MB report took {elapsed:?}"
    );
    let v = out_json(&run);
    assert_eq!(
        (
            u(&v, "files"),
            u(&v, "tests"),
            u(&v, "passed"),
            u(&v, "failed")
        ),
        (2, 4, 3, 1),
        "{v}"
    );
    assert!(arr(&v, "errors").is_empty(), "{v}");
    assert!(
        run.stdout.len() < 32 * 1024,
        "output stays small: {} bytes",
        run.stdout.len()
    );
    let failures = arr(&v, "failures");
    assert_eq!(failures.len(), 1, "{v}");
    assert_eq!(failures[0]["id"], "big::noisy");
    let msg = failures[0]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("Big.noisy"),
        "the failure body is the message: {msg:.200}"
    );
    assert!(
        msg.len() <= 8 * 1024,
        "the message is capped: {} bytes",
        msg.len()
    );
    assert!(!msg.contains("log line"), "system-out is not the message");
    if let Some(n) = sqlite(
        &dm.store_path(),
        "SELECT max(length(message)), sum(message LIKE '%log line%') FROM test_results",
    ) {
        let (len, out) = n.split_once('|').expect("two columns");
        let len: usize = len.parse().expect("length");
        assert!(
            len > 0 && len <= 8 * 1024,
            "stored message capped at a few KB: {len}"
        );
        assert_eq!(out, "0", "system-out is not stored");
    }
}

// ---------------------------------------------------------------------------
// inputs, merging, gates

#[test]
fn junit_glob_matching_nothing_exits_4() {
    let dm = Dm::default();
    let run = dm.run(&["junit", "nomatch/**/*.xml", "--dry-run"]);
    run.assert_no_panic();
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains("nomatch/**/*.xml"),
        "names the pattern: {run:#?}"
    );
    // The same without --dry-run and without a service: still "no input".
    let run = dm.run(&["junit", "nomatch/**/*.xml"]);
    run.assert_no_panic();
    assert_eq!(run.code, 4, "{run:#?}");
}

#[test]
fn junit_no_readable_report_exits_4_with_output() {
    let dm = Dm::default();
    write(&dm, "empty.xml", "");
    write(&dm, "page.xml", "<html/>");
    let run = dm.run(&["junit", "empty.xml", "page.xml", "--dry-run"]);
    run.assert_no_panic();
    assert_eq!(run.code, 4, "{run:#?}");
    let v = out_json(&run);
    assert_eq!((u(&v, "files"), u(&v, "tests")), (0, 0), "{v}");
    let files: BTreeSet<&str> = arr(&v, "errors")
        .iter()
        .map(|e| e["file"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(files, BTreeSet::from(["empty.xml", "page.xml"]), "{v}");
}

#[test]
fn junit_directory_and_glob_inputs() {
    let dm = Dm::default();
    write(&dm, "reports/a.xml", report(&[("a1", "P"), ("a2", "F")]));
    write(
        &dm,
        "reports/nested/deeper/b.xml",
        report(&[("b1", "P"), ("b2", "S")]),
    );
    write(&dm, "reports/notes.txt", "not a report");
    let dir = dm.json(&["junit", "reports", "--dry-run"]);
    assert_eq!(
        counts(&dir),
        counts(
            &serde_json::json!({"tests": 4, "runs": 4, "passed": 2, "failed": 1, "errored": 0, "skipped": 1})
        ),
        "{dir}"
    );
    assert_eq!(u(&dir, "files"), 2, "{dir}");
    assert!(arr(&dir, "errors").is_empty(), "{dir}");
    assert_eq!(failure_ids(&dir, "failed"), strs(&["c::a2"]));
    let glob = dm.json(&["junit", "reports/**/*.xml", "--dry-run"]);
    assert_eq!(counts(&glob), counts(&dir), "{glob}");
    assert_eq!(u(&glob, "files"), 2, "{glob}");
    // A file named twice is one file.
    let twice = dm.json(&["junit", "reports/a.xml", "reports/*.xml", "--dry-run"]);
    assert_eq!(
        (u(&twice, "files"), u(&twice, "tests"), u(&twice, "runs")),
        (1, 2, 2),
        "{twice}"
    );
    // An absolute path works too.
    let abs = cwd(&dm).join("reports").display().to_string();
    let v = dm.json(&["junit", &abs, "--dry-run"]);
    assert_eq!(counts(&v), counts(&dir), "{v}");
}

#[test]
fn junit_one_invocation_is_one_report() {
    let dm = Dm::default();
    write(
        &dm,
        "1-first.xml",
        report(&[("t", "F"), ("stable", "P"), ("gone", "F")]),
    );
    write(
        &dm,
        "2-second.xml",
        report(&[("t", "P"), ("stable", "P"), ("gone", "S"), ("new", "E")]),
    );
    let v = dm.json(&["junit", "1-first.xml", "2-second.xml", "--dry-run"]);
    assert_eq!(u(&v, "files"), 2);
    assert_eq!(
        counts(&v),
        counts(
            &serde_json::json!({"tests": 4, "runs": 7, "passed": 2, "failed": 1, "errored": 1, "skipped": 0})
        ),
        "identities merge across files; a skip after a failure keeps the failure: {v}"
    );
    assert_eq!(flaky_triples(&v), [("c::t".to_string(), 2, 1)], "{v}");
    assert_eq!(failure_ids(&v, "failed"), strs(&["c::gone"]));
    assert_eq!(failure_ids(&v, "errored"), strs(&["c::new"]));
}

#[test]
fn junit_outcome_rules_within_one_file() {
    let dm = Dm::default();
    write(
        &dm,
        "rules.xml",
        report(&[
            ("pass_after_two", "FEP"),
            ("fail_after_pass", "PF"),
            ("all_skipped", "SS"),
            ("skip_then_fail", "SF"),
            ("fail_then_skip", "FS"),
            ("error_last", "FE"),
            ("pass_then_skip", "FPS"),
        ]),
    );
    let v = dm.json(&["junit", "rules.xml", "--dry-run"]);
    assert_eq!(
        counts(&v),
        counts(
            &serde_json::json!({"tests": 7, "runs": 16, "passed": 2, "failed": 3, "errored": 1, "skipped": 1})
        ),
        "{v}"
    );
    assert_eq!(
        flaky_triples(&v),
        [
            ("c::pass_after_two".to_string(), 3, 2),
            ("c::pass_then_skip".to_string(), 3, 1)
        ],
        "flaky = a failed attempt followed later by a passed one: {v}"
    );
    assert_eq!(
        failure_ids(&v, "failed"),
        strs(&[
            "c::fail_after_pass",
            "c::fail_then_skip",
            "c::skip_then_fail"
        ])
    );
    assert_eq!(failure_ids(&v, "errored"), strs(&["c::error_last"]));
}

#[test]
fn junit_gates_exit_3() {
    let dm = Dm::default();
    write(&dm, "failing.xml", report(&[("ok", "P"), ("bad", "F")]));
    write(&dm, "erroring.xml", report(&[("ok", "P"), ("bad", "E")]));
    write(&dm, "flaky.xml", report(&[("ok", "P"), ("wobbly", "FP")]));
    write(&dm, "green.xml", report(&[("ok", "P"), ("skip", "S")]));
    let code = |file: &str, flags: &[&str]| {
        let mut args = vec!["junit", file, "--dry-run"];
        args.extend_from_slice(flags);
        let run = dm.run(&args);
        run.assert_no_panic();
        let v = out_json(&run);
        assert_eq!(
            u(&v, "files"),
            1,
            "output printed whatever the gate: {run:#?}"
        );
        run.code
    };
    for (file, plain, on_failure, on_flaky) in [
        ("failing.xml", 0, 3, 0),
        ("erroring.xml", 0, 3, 0),
        ("flaky.xml", 0, 0, 3),
        ("green.xml", 0, 0, 0),
    ] {
        assert_eq!(code(file, &[]), plain, "{file}");
        assert_eq!(
            code(file, &["--fail-on-failure"]),
            on_failure,
            "{file} --fail-on-failure"
        );
        assert_eq!(
            code(file, &["--fail-on-flaky"]),
            on_flaky,
            "{file} --fail-on-flaky"
        );
    }
    assert_eq!(
        code("flaky.xml", &["--fail-on-failure", "--fail-on-flaky"]),
        3
    );
    // The gates apply when storing too.
    let run = dm.run(&[
        "junit",
        "failing.xml",
        "--service",
        "api",
        "--fail-on-failure",
    ]);
    run.assert_no_panic();
    assert_eq!(run.code, 3, "{run:#?}");
    assert_eq!(
        out_json(&run)["recorded"],
        true,
        "the run is still recorded"
    );
}

/// Every line of every Markdown table has as many unescaped `|` as its header.
#[track_caller]
fn assert_tables_intact(md: &str) {
    let pipes = |line: &str| {
        let mut n = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '|' => n += 1,
                _ => {}
            }
        }
        n
    };
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = pipes(line);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(
                    n, h,
                    "a table row with a different column count: {line:?}\n{md}"
                ),
            }
        } else {
            header = None;
        }
    }
}

const HOSTILE: &str = "evil | <!-- hidden --> [x](javascript:x) @org/team";

#[track_caller]
fn assert_inert_markdown(md: &str) {
    assert!(!md.contains("<!--"), "a raw HTML comment: {md}");
    assert!(!md.contains("]("), "a raw link: {md}");
    assert!(!md.contains("@org"), "a live @mention: {md}");
    assert!(!md.contains("<script"), "{md}");
    assert_tables_intact(md);
}

#[test]
fn junit_markdown_escapes_hostile_names() {
    let mut dm = Dm::default();
    let flaky_name = "flaky | <!-- y --> ](javascript:y) @org/team";
    let mut xml = String::from("<testsuite name=\"s\">");
    let hostile = xml_escape(HOSTILE);
    let cls = xml_escape("cls|@org/team");
    let msg =
        xml_escape("see [here](javascript:alert(1)) <!-- x --> @org/team | pipe\nsecond line");
    xml.push_str(&format!(
        "<testcase classname=\"{cls}\" name=\"{hostile}\"><failure message=\"{msg}\"/></testcase>"
    ));
    for body in ["<failure message=\"first\"/>", ""] {
        xml.push_str(&format!(
            "<testcase classname=\"{cls}\" name=\"{}\">{body}</testcase>",
            xml_escape(flaky_name)
        ));
    }
    xml.push_str("</testsuite>");
    write(&dm, "hostile.xml", &xml);

    let run = dm.run_raw(&[
        "--store",
        &dm.store_url(),
        "--format",
        "markdown",
        "junit",
        "hostile.xml",
        "--dry-run",
    ]);
    run.assert_ok();
    let md = &run.stdout;
    assert!(
        md.contains("evil") && md.contains("flaky"),
        "the tests are listed: {md}"
    );
    assert_inert_markdown(md);
    for line in md
        .lines()
        .filter(|l| l.contains("evil") || l.contains("flaky \\|") || l.contains("flaky |"))
    {
        assert!(
            line.starts_with('|'),
            "a hostile name stays inside its table row: {line:?}\n{md}"
        );
    }

    // The same names from stored history, through `flaky --format markdown`.
    dm.now = NOW - HOUR;
    let stored = dm.json(&["junit", "hostile.xml", "--service", "hostile", "--id", "h1"]);
    assert_eq!(stored["recorded"], true, "{stored}");
    dm.now = NOW;
    let run = dm.run_raw(&[
        "--store",
        &dm.store_url(),
        "--format",
        "markdown",
        "flaky",
        "--service",
        "hostile",
    ]);
    run.assert_ok();
    assert!(run.stdout.contains("flaky"), "{}", run.stdout);
    assert_inert_markdown(&run.stdout);
}

#[test]
fn junit_paths_with_glob_metacharacters() {
    let dm = Dm::default();
    // A directory whose name holds glob metacharacters is still a directory.
    write(&dm, "results [ci]/a.xml", report(&[("a", "P")]));
    let run = dm.run(&["junit", "results [ci]", "--dry-run"]);
    run.assert_no_panic();
    assert_eq!(
        run.code, 0,
        "a directory input named 'results [ci]': {run:#?}"
    );
    assert_eq!(u(&out_json(&run), "tests"), 1, "{run:#?}");

    // A glob is relative to the working directory, whatever its name.
    let work = cwd(&dm).join("job [1]");
    std::fs::create_dir_all(work.join("reports")).expect("mkdir");
    std::fs::write(work.join("reports/b.xml"), report(&[("b", "P")])).expect("write");
    let mut cmd = dm.command(&["junit", "reports/*.xml", "--dry-run"]);
    let out = cmd.current_dir(&work).output().expect("run dorameter");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "a glob run from 'job [1]': {stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(u(&v, "tests"), 1, "{v}");
}

/// Suite names are repeated in every error's element path: a hostile file
/// of nested suites with long names must not turn into a message (and a
/// warning line, and memory) as large as the file.
#[test]
fn junit_error_messages_stay_small_with_long_suite_names() {
    let long = "N".repeat(200 * 1024);
    let mut xml = String::from("<testsuites>");
    for i in 0..100 {
        xml.push_str(&format!("<testsuite name=\"{long}{i}\">"));
    }
    xml.push_str("<testcase name=\"t\"><failure>cut here");
    assert!(xml.len() > 20_000_000);
    let start = Instant::now();
    let (_dm, run, _) = with_bad_file("long-names.xml", xml.as_bytes(), &[]);
    run.assert_no_panic();
    assert!(start.elapsed() < FAST, "took {:?}", start.elapsed());
    assert_eq!(
        run.code,
        0,
        "the good file is readable: {}",
        &run.stderr[..run.stderr.len().min(500)]
    );
    let v = out_json(&run);
    assert_eq!(u(&v, "tests"), 2);
    let message = arr(&v, "errors")[0]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(message.contains("testcase[0]"), "{:.300}", message);
    assert!(
        message.len() <= 64 * 1024,
        "an error message of {} bytes for a {} byte file: {:.200}…",
        message.len(),
        xml.len(),
        message
    );
    assert!(
        run.stderr.len() <= 64 * 1024,
        "{} bytes of warnings on stderr",
        run.stderr.len()
    );
}

#[test]
fn junit_and_flaky_usage_errors_exit_2() {
    let dm = Dm::default();
    dm.run(&["flaky"]).assert_usage_error("--service");
    dm.run(&["flaky", "--service", "s", "--window", "fortnight"])
        .assert_usage_error("--window");
    dm.run(&["flaky", "--service", "s", "--min-failure-rate", "101"])
        .assert_usage_error("--min-failure-rate");
    dm.run(&["flaky", "--service", "s", "--infra-threshold", "150"])
        .assert_usage_error("--infra-threshold");
    dm.run(&[
        "flaky",
        "--service",
        "s",
        "--min-failure-rate",
        "50",
        "--max-failure-rate",
        "10",
    ])
    .assert_usage_error("--min-failure-rate");
    dm.run(&["junit", "--dry-run"]).assert_usage_error("FILE");
    write(&dm, "good.xml", GOOD);
    let run = dm.run(&["junit", "good.xml"]);
    run.assert_usage_error("--service");
}
