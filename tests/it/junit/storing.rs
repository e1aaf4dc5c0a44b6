//! Storing: the dry-run counts stored once per id, the stored results
//! agreeing with the report, and nothing stored from an unreadable file.

use super::support::*;
use crate::util::*;

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
            "run-1|api|abc1234|pipe-7|unit|1|{}|{}",
            count_row(&dry),
            dry_flaky.len()
        );
        assert_eq!(row, want, "the stored run row");
        let results = sqlite(
            &db,
            "SELECT count(*), sum(attempts), sum(outcome = 'passed'), sum(outcome = 'failed'), \
             sum(outcome = 'errored'), sum(outcome = 'skipped') FROM test_results",
        )
        .expect("sqlite3");
        assert_eq!(
            results,
            count_row(&dry),
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
        let want = format!("{}|{}", count_row(&dry), arr(&dry, "flaky").len());
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
