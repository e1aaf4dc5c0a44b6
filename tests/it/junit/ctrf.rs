//! CTRF JSON reports (`fixtures/junit/ctrf/`): each real reporter's file
//! against its expected file, and CTRF beside JUnit XML in one directory.

use serde_json::{Value, json};

use super::support::*;
use crate::util::*;

/// `(id, attempts)` of each failing test, sorted.
fn failing_attempts(v: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = arr(v, "failures")
        .iter()
        .map(|f| (f["id"].as_str().expect("id").to_string(), u(f, "attempts")))
        .collect();
    out.sort();
    out
}

#[test]
fn ctrf_fixtures_match_their_expected_files() {
    let dm = Dm::default();
    let mut cases = Vec::new();
    expected_files(&fixtures_root().join("ctrf"), &mut cases);
    assert!(cases.len() >= 6, "{cases:?}");
    for (report, expected) in &cases {
        assert_eq!(
            report.extension().and_then(|e| e.to_str()),
            Some("json"),
            "{}",
            report.display()
        );
        let all: Value =
            serde_json::from_str(&std::fs::read_to_string(expected).expect("read expected file"))
                .expect("expected file is JSON");
        // fixtures/junit/README.md: compare against what the file can express.
        let want = all.get("recoverable_from_file").unwrap_or(&all);
        let name = report.display().to_string();
        let got = fixture_json(&dm, &["junit", &name, "--dry-run"]);
        assert_eq!(counts(&got), counts(want), "{name}: {got}");
        assert_eq!(
            flaky_triples(&got),
            flaky_triples(want),
            "{name}: flaky (id, attempts, failures)"
        );
        let mut failing_ids = failure_ids(&got, "failed");
        failing_ids.extend(failure_ids(&got, "errored"));
        let mut want_ids: Vec<String> = ["failed_ids", "errored_ids"]
            .iter()
            .flat_map(|k| arr(want, k))
            .map(|s| s.as_str().expect("id").to_string())
            .collect();
        want_ids.sort();
        failing_ids.sort();
        assert_eq!(failing_ids, want_ids, "{name}: failing tests");
        let want_attempts: Vec<(String, u64)> = {
            let mut w: Vec<(String, u64)> = arr(want, "per_test")
                .iter()
                .filter(|t| t["outcome"] == "failed" || t["outcome"] == "errored")
                .map(|t| (t["id"].as_str().expect("id").to_string(), u(t, "attempts")))
                .collect();
            w.sort();
            w
        };
        assert_eq!(
            failing_attempts(&got),
            want_attempts,
            "{name}: attempts of the failing tests"
        );
        assert!(
            arr(&got, "errors").is_empty() && arr(&got, "not_reports").is_empty(),
            "{name}: {got}"
        );
    }
}

/// One directory, both formats: every `*.xml` and `*.json` below it is read,
/// a `package.json` beside them is skipped with a note, and a test found in
/// both formats is one test with the attempts of both files.
#[test]
fn junit_directory_with_junit_xml_and_ctrf_reads_both() {
    let dm = Dm::default();
    write(&dm, "reports/a.xml", report(&[("a1", "P"), ("a2", "F")]));
    // Read after a.xml: the pass on retry of c::a2.
    let retry = json!({"reportFormat": "CTRF", "specVersion": "0.0.0", "results": {
    "tool": {"name": "hand"},
    "summary": {"tests": 2, "passed": 1, "failed": 0, "skipped": 1, "pending": 0, "other": 0, "start": 0, "stop": 1},
    "tests": [
        {"name": "a2", "suite": ["c"], "status": "passed", "duration": 12},
        {"name": "b1", "suite": ["c"], "status": "skipped", "duration": 0}
    ]}});
    write(&dm, "reports/b.json", retry.to_string());
    let jest = std::fs::read(fixtures_root().join("ctrf/jest-ctrf.json")).expect("fixture");
    write(&dm, "reports/nested/jest-ctrf.json", jest);
    write(
        &dm,
        "reports/package.json",
        r#"{"name": "web", "version": "1.0.0"}"#,
    );
    let run = dm.run(&["junit", "reports", "--dry-run", "--fail-on-failure"]);
    run.assert_no_panic();
    let v = out_json(&run);
    assert_eq!(u(&v, "files"), 3, "{v}");
    // a.xml: c::a1, c::a2; b.json: c::a2 again, c::b1; jest-ctrf.json: 7.
    assert_eq!(
        counts(&v),
        counts(
            &json!({"tests": 10, "runs": 16, "passed": 5, "failed": 2, "errored": 0, "skipped": 3})
        ),
        "{v}"
    );
    assert_eq!(
        flaky_triples(&v),
        [
            ("c::a2".to_string(), 2, 1),
            ("sample.test.js > math::math flaky".to_string(), 2, 1)
        ],
        "{v}"
    );
    assert!(arr(&v, "errors").is_empty(), "{v}");
    assert_eq!(arr(&v, "not_reports").len(), 1, "{v}");
    assert_eq!(v["not_reports"][0]["file"], "reports/package.json", "{v}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("note: skipped reports/package.json")
                && l.contains("not a CTRF report")),
        "{run:#?}"
    );
    // jest's two failing tests fail the gate; nothing else does.
    assert_eq!(run.code, 3, "{run:#?}");
    // Named on the command line, the package.json is an unreadable report.
    let named = dm.run(&[
        "junit",
        "reports/package.json",
        "reports/a.xml",
        "--dry-run",
    ]);
    named.assert_no_panic();
    let v = out_json(&named);
    assert_eq!(arr(&v, "errors")[0]["file"], "reports/package.json", "{v}");
    // A glob picks the CTRF files alone.
    let glob = dm.json(&["junit", "reports/**/*-ctrf.json", "--dry-run"]);
    assert_eq!((u(&glob, "files"), u(&glob, "tests")), (1, 7), "{glob}");
}
