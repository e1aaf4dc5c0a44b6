//! dorameter's counts against the golden results of
//! EnricoMi/publish-unit-test-result-action (`fixtures/junit/
//! publish-unit-test-result-action/`: the action's JUnit corpus, each report
//! with the `.results.json` the action's own tests expect). Where the two
//! count differently on purpose, `docs/junit.md` says so; on this corpus
//! they agree on every file.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::support::*;
use crate::util::*;

fn corpus() -> PathBuf {
    fixtures_root().join("publish-unit-test-result-action/junit-xml")
}

/// Every `X.results.json` below `dir` with its `X.xml`, sorted.
fn golden_files(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            golden_files(&p, out);
        } else if let Some(stem) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".results.json"))
        {
            out.push((p.with_file_name(format!("{stem}.xml")), p));
        }
    }
}

/// The action's `stats` in dorameter's terms.
fn peer_counts(stats: &Value) -> Vec<(&'static str, u64)> {
    let n = |k: &str| {
        stats[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {stats}"))
    };
    vec![
        ("tests", n("tests")),
        ("runs", n("runs")),
        ("passed", n("tests_succ")),
        ("failed", n("tests_fail")),
        ("errored", n("tests_error")),
        ("skipped", n("tests_skip")),
        (
            "unreadable",
            stats["errors"].as_array().map_or(0, |e| e.len() as u64),
        ),
    ]
}

fn our_counts(v: &Value) -> Vec<(&'static str, u64)> {
    vec![
        ("tests", u(v, "tests")),
        ("runs", u(v, "runs")),
        ("passed", u(v, "passed")),
        ("failed", u(v, "failed")),
        ("errored", u(v, "errored")),
        ("skipped", u(v, "skipped")),
        ("unreadable", arr(v, "errors").len() as u64),
    ]
}

/// Issue 10 item 7: four `<testcase/>`s without names were merged into one
/// test (the action counts 4), and a suite declaring `tests="6"
/// failures="1" skipped="2"` without test cases counted 0 tests (the action
/// counts its attributes).
#[test]
fn junit_counts_agree_with_publish_unit_test_result_action() {
    let dm = Dm::default();
    let mut files = Vec::new();
    golden_files(&corpus(), &mut files);
    assert!(files.len() >= 25, "{} golden files", files.len());
    let mut problems = Vec::new();
    for (xml, golden) in &files {
        let name = xml
            .strip_prefix(corpus())
            .unwrap_or(xml)
            .display()
            .to_string();
        let golden: Value =
            serde_json::from_str(&std::fs::read_to_string(golden).expect("read golden"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let run = dm.run(&["junit", &xml.display().to_string(), "--dry-run"]);
        run.assert_no_panic();
        let v = out_json(&run);
        let (theirs, ours) = (peer_counts(&golden["stats"]), our_counts(&v));
        if theirs != ours {
            problems.push(format!("{name}: the action {theirs:?}, dorameter {ours:?}"));
        }
        // Unreadable is exit 4 (nothing else was given), else 0.
        let want = if v["files"] == 0 { 4 } else { 0 };
        if run.code != want {
            problems.push(format!("{name}: exit {} (stderr {})", run.code, run.stderr));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The two files of item 7, spelled out: what is counted, what is listed,
/// what is said, and what is stored.
#[test]
fn junit_tests_without_names_and_suites_without_cases() {
    let dm = Dm::default();
    let file = |n: &str| corpus().join(n).display().to_string();

    // <testcase/>, <testcase><skipped/>, <testcase><failure/>, <testcase><error/>:
    // four tests, not one test with four attempts.
    let v = dm.json(&["junit", &file("no-attributes.xml"), "--dry-run"]);
    assert_eq!(
        counts(&v),
        counts(
            &serde_json::json!({"tests": 4, "runs": 4, "passed": 1, "failed": 1, "errored": 1, "skipped": 1})
        ),
        "{v}"
    );
    assert!(arr(&v, "flaky").is_empty(), "{v}");
    assert_eq!(arr(&v, "failures").len(), 2, "{v}");

    // <testsuite tests="6" failures="1" skipped="2"> with no test case:
    // counted from its attributes, with a warning that says so.
    let run = dm.run(&["junit", &file("no-cases-but-tests.xml"), "--dry-run"]);
    run.assert_ok();
    let v = out_json(&run);
    assert_eq!(
        counts(&v),
        counts(
            &serde_json::json!({"tests": 6, "runs": 6, "passed": 3, "failed": 1, "errored": 0, "skipped": 2})
        ),
        "{v}"
    );
    assert!(
        run.stderr.contains(
            "no-cases-but-tests.xml: suite \"pytest\" lists no <testcase> but declares 6 tests (3 passed, 1 failed, 2 skipped): counted from the suite attributes, without names"
        ),
        "{run:#?}"
    );
    // The terminal output says the failure is not listed.
    let run = dm.run_raw(&["junit", &file("no-cases-but-tests.xml"), "--dry-run", "-q"]);
    run.assert_ok();
    assert!(
        run.stdout
            .ends_with("· 0 flaky\n  1 failing test not listed\n"),
        "{run:#?}"
    );
    // The declared failure fails the gate, and says so.
    let run = dm.run(&[
        "junit",
        &file("no-cases-but-tests.xml"),
        "--dry-run",
        "--fail-on-failure",
    ]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(
        run.stderr
            .ends_with("error: 1 test failed (--fail-on failures)\n"),
        "{run:#?}"
    );
    // `tests="0"` is nothing to say.
    let run = dm.run(&["junit", &file("no-cases.xml"), "--dry-run"]);
    run.assert_ok();
    assert_eq!(u(&out_json(&run), "tests"), 0);
    assert!(!run.stderr.contains("warning"), "{run:#?}");

    // Stored: the run's counts hold every test; the history holds only
    // tests with a name (a nameless test cannot be followed across runs).
    let v = dm.json(&[
        "junit",
        &file("no-attributes.xml"),
        &file("no-cases-but-tests.xml"),
        &file("minimal-attributes.xml"),
        "--service",
        "peer",
        "--id",
        "p1",
    ]);
    assert_eq!((u(&v, "tests"), u(&v, "failed")), (14, 3), "{v}");
    if let Some(rows) = sqlite(
        &dm.store_path(),
        "SELECT tests, failed FROM test_runs WHERE id = 'p1'; SELECT count(*), count(DISTINCT name), min(name) FROM test_results",
    ) {
        assert_eq!(rows, "14|3\n4|4|error_test", "{rows}");
    }
}
