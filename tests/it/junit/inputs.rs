//! Inputs, merging and gates: globs and directories, one invocation as one
//! report, outcome rules within a file, gate exit codes, hostile names in
//! Markdown, paths with glob metacharacters, usage errors.

use std::collections::BTreeSet;

use super::support::*;
use crate::util::*;

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

/// Copies the real reports directory of `fixtures/junit/mixed-directory`
/// (a green pytest report beside a Maven `pom.xml` and a `phpunit.xml`) to
/// `reports/` in the world's working directory.
fn mixed_reports_dir(dm: &Dm) {
    let from = fixtures_root().join("mixed-directory/reports");
    for name in ["TEST-pytest.xml", "pom.xml", "phpunit.xml"] {
        let bytes = std::fs::read(from.join(name)).expect("read fixture");
        write(dm, &format!("reports/{name}"), bytes);
    }
}

/// Issue 10 item 13: `junit reports/` on a directory that also held
/// `pom.xml` or `phpunit.xml` exited 3 on a green run, saying only
/// `warning:`s. A file a directory or glob matched whose root is not a test
/// report is skipped with a note; named explicitly, it is still an error.
#[test]
fn junit_directory_with_pom_and_phpunit_xml_is_green() {
    let dm = Dm::default();
    mixed_reports_dir(&dm);
    for input in ["reports", "reports/", "reports/*.xml", "reports/**/*.xml"] {
        let run = dm.run(&["junit", input, "--dry-run", "--fail-on-failure"]);
        run.assert_no_panic();
        assert_eq!(run.code, 0, "{input}: {run:#?}");
        let v = out_json(&run);
        assert_eq!(
            (
                u(&v, "files"),
                u(&v, "tests"),
                u(&v, "passed"),
                u(&v, "skipped")
            ),
            (1, 4, 3, 1),
            "{input}: {v}"
        );
        assert!(arr(&v, "errors").is_empty(), "{input}: {v}");
        let skipped: BTreeSet<&str> = arr(&v, "not_reports")
            .iter()
            .map(|f| f["file"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(
            skipped,
            BTreeSet::from(["reports/phpunit.xml", "reports/pom.xml"]),
            "{input}: {v}"
        );
        for (file, root) in [("pom.xml", "<project>"), ("phpunit.xml", "<phpunit>")] {
            assert!(
                run.stderr
                    .lines()
                    .any(|l| l.starts_with("note: skipped reports/")
                        && l.contains(file)
                        && l.contains(root)),
                "{input}: a note names {file} and its root: {run:#?}"
            );
        }
        assert!(
            !run.stderr.contains("warning:") && !run.stderr.contains("error:"),
            "{input}: {run:#?}"
        );
    }
    // Stored, the run counts the one report.
    let v = dm.json(&["junit", "reports", "--service", "shop", "--id", "r1"]);
    assert_eq!(
        (v["recorded"].as_bool(), u(&v, "files")),
        (Some(true), 1),
        "{v}"
    );

    // Named on the command line, a pom.xml is an error: exit 3 under
    // --fail-on-failure, with the reason on an `error:` line.
    let run = dm.run(&[
        "junit",
        "reports/pom.xml",
        "reports/TEST-pytest.xml",
        "--dry-run",
        "--fail-on-failure",
    ]);
    run.assert_no_panic();
    assert_eq!(run.code, 3, "{run:#?}");
    let v = out_json(&run);
    assert_eq!(arr(&v, "errors")[0]["file"], "reports/pom.xml", "{v}");
    assert!(
        run.stderr
            .contains("warning: reports/pom.xml: not a test report")
            && run
                .stderr
                .ends_with("error: 1 report unreadable (--fail-on failures)\n"),
        "{run:#?}"
    );

    // A directory with no report at all: exit 4, saying why.
    std::fs::remove_file(cwd(&dm).join("reports/TEST-pytest.xml")).expect("rm");
    let run = dm.run(&["junit", "reports", "--dry-run"]);
    run.assert_no_panic();
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains(
            "error: no test report among the files matched (not test reports: reports/phpunit.xml, reports/pom.xml)\nhint: "
        ),
        "{run:#?}"
    );
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
        // Every non-zero exit says why, on its last line (issue 10 item 13).
        let last = run.stderr.lines().last().unwrap_or("");
        match run.code {
            0 => assert!(!run.stderr.contains("error:"), "{run:#?}"),
            _ => assert!(
                last.starts_with("error: ") && last.contains("(--fail-on "),
                "{run:#?}"
            ),
        }
        run.code
    };
    for (file, plain, on_failure, on_errors, on_flaky) in [
        ("failing.xml", 0, 3, 0, 0),
        ("erroring.xml", 0, 3, 3, 0),
        ("flaky.xml", 0, 0, 0, 3),
        ("green.xml", 0, 0, 0, 0),
    ] {
        assert_eq!(code(file, &[]), plain, "{file}");
        assert_eq!(code(file, &["--fail-on", "nothing"]), plain, "{file}");
        for (args, want) in [
            (&["--fail-on", "failures"][..], on_failure),
            (&["--fail-on-failure"], on_failure),
            (&["--fail-on", "errors"], on_errors),
            (&["--fail-on", "flaky"], on_flaky),
            (&["--fail-on-flaky"], on_flaky),
            (&["--fail-on", "failures,flaky"], on_failure.max(on_flaky)),
        ] {
            assert_eq!(code(file, args), want, "{file} {args:?}");
        }
    }
    assert_eq!(
        code("flaky.xml", &["--fail-on-failure", "--fail-on-flaky"]),
        3
    );
    // `nothing` with something to fail on is a contradiction; a value
    // that is none of them names the choices.
    dm.run(&[
        "junit",
        "failing.xml",
        "--dry-run",
        "--fail-on",
        "nothing,flaky",
    ])
    .assert_usage_error("--fail-on nothing");
    dm.run(&[
        "junit",
        "failing.xml",
        "--dry-run",
        "--fail-on-failure",
        "--fail-on",
        "nothing",
    ])
    .assert_usage_error("--fail-on-failure");
    let run = dm.run(&["junit", "failing.xml", "--dry-run", "--fail-on", "failure"]);
    run.assert_usage_error("--fail-on");
    assert!(
        run.stderr
            .contains("give failures, errors, flaky or nothing"),
        "{run:#?}"
    );
    // Under --strict, a sink that did not take the test run is exit 5,
    // said on the last line too.
    let down = crate::server::Server::start(|_| crate::server::Reply::status(503, "down"));
    let run = dm.run_with_env(
        &[
            ("DORAMETER_SINK_RETRIES", "0"),
            ("DORAMETER_SINKS", &format!("webhook:{}", down.url("/hook"))),
        ],
        &["--strict", "junit", "green.xml", "--service", "api"],
    );
    run.assert_no_panic();
    assert_eq!(run.code, 5, "{run:#?}");
    let last = run.stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: a sink did not take the test run"),
        "{run:#?}"
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

/// Issue 10 item 6: `--format markdown` stopped at 50 rows of each list and
/// never said how many it left out.
#[test]
fn junit_lists_cut_at_50_say_how_many_more() {
    let dm = Dm::default();
    let mut tests: Vec<(String, &str)> = Vec::new();
    tests.extend((0..63).map(|i| (format!("fails{i:02}"), "F")));
    tests.extend((0..57).map(|i| (format!("flaky{i:02}"), "FP")));
    tests.push(("passes".into(), "P"));
    let tests: Vec<(&str, &str)> = tests.iter().map(|(n, e)| (n.as_str(), *e)).collect();
    write(&dm, "many.xml", report(&tests));
    let run = |format: &str| {
        let run = dm.run_raw(&[
            "--store",
            &dm.store_url(),
            "--format",
            format,
            "junit",
            "many.xml",
            "--dry-run",
        ]);
        run.assert_ok();
        run.stdout
    };
    let md = run("markdown");
    // The lists, not the slowest tests after them.
    let lists = md.split("\n#### Slowest tests").next().unwrap_or_default();
    let rows = |prefix: &str| lists.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!((rows("| c::fails"), rows("| c::flaky")), (50, 50), "{md}");
    assert!(md.contains("\n… and 13 more failing tests\n"), "{md}");
    assert!(md.contains("\n… and 7 more flaky tests\n"), "{md}");
    assert_tables_intact(&md);
    let table = run("table");
    assert!(table.contains("  … and 13 more failing tests\n"), "{table}");
    assert!(table.contains("c::flaky49 and 7 more\n"), "{table}");

    // One left out is one test, not "tests".
    let tests: Vec<String> = (0..51).map(|i| format!("fails{i:02}")).collect();
    let tests: Vec<(&str, &str)> = tests.iter().map(|n| (n.as_str(), "F")).collect();
    write(&dm, "many.xml", report(&tests));
    assert!(run("markdown").contains("\n… and 1 more failing test\n"));
    assert!(run("table").contains("  … and 1 more failing test\n"));
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
    let args = ["junit", "reports/*.xml", "--dry-run"];
    let out = dm
        .command(&args)
        .current_dir(&work)
        .output()
        .expect("run dorameter");
    let run = Run::from_output(args.map(str::to_string).into(), out);
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
    assert_eq!(run.code, 0, "a glob run from 'job [1]': {run:#?}");
    assert_eq!(u(&out_json(&run), "tests"), 1, "{run:#?}");
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

/// On GitHub Actions `junit` writes the job's summary page by itself: the
/// counts, the failing tests with their first message line, the flaky
/// ones; a test name cannot break the table.
#[test]
fn junit_writes_the_github_step_summary() {
    let dm = Dm::default();
    write(
        &dm,
        "mixed.xml",
        report(&[("ok", "P"), ("bad | name", "F"), ("wobbly", "FP")]),
    );
    let summary = dm.dir.path().join("step-summary.md");
    std::fs::write(&summary, "# earlier step\n").unwrap();
    let summary_s = summary.display().to_string();
    let run = dm.run_with_env(
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/api"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_STEP_SUMMARY", &summary_s),
        ],
        &["junit", "mixed.xml", "--dry-run"],
    );
    run.assert_ok();
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("# earlier step\n"), "appended: {text}");
    assert!(text.contains("### Test results"), "{text}");
    assert!(text.contains("| 1 | 3 | 4 | 2 | 1 | 0 | 0 | 1 |"), "{text}");
    assert!(
        text.contains("| c::bad \\| name | failed | assertion failed |"),
        "{text}"
    );
    assert!(text.contains("| c::wobbly | 2 | 1 |"), "{text}");
    assert_tables_intact(&text);
    // Elsewhere, no summary file is touched.
    let run = dm.run(&["junit", "mixed.xml", "--dry-run"]);
    run.assert_ok();
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), text);
}

/// Issue 15: a directory of NUnit, xUnit.net, TRX and JUnit reports (from
/// the action's corpus and a pytest run) is one report: every format read,
/// the `.trx` file found by the directory walk, a `pom.xml` beside them
/// skipped with a note.
#[test]
fn junit_reads_nunit_xunit_and_trx_beside_junit() {
    let dm = Dm::default();
    mixed_reports_dir(&dm);
    let peer = fixtures_root().join("publish-unit-test-result-action");
    for (from, to) in [
        (
            "nunit/nunit3/jenkins/NUnit-correct.xml",
            "reports/nunit.xml",
        ),
        ("xunit/mstest/jenkinsci/testcase1.xml", "reports/xunit.xml"),
        ("trx/xunit/dotnet-trx.trx", "reports/dotnet.trx"),
    ] {
        write(
            &dm,
            to,
            std::fs::read(peer.join(from)).expect("read fixture"),
        );
    }
    std::fs::remove_file(cwd(&dm).join("reports/phpunit.xml")).expect("rm");
    let each = |file: &str| dm.json(&["junit", file, "--dry-run"]);
    let parts: Vec<serde_json::Value> = [
        "reports/nunit.xml",
        "reports/xunit.xml",
        "reports/dotnet.trx",
        "reports/TEST-pytest.xml",
    ]
    .iter()
    .map(|f| each(f))
    .collect();
    for p in &parts {
        assert!(u(p, "tests") > 0, "{p}");
    }
    let run = dm.run(&["junit", "reports", "--dry-run"]);
    run.assert_no_panic();
    let all = out_json(&run);
    assert_eq!(u(&all, "files"), 4, "{all}");
    for key in ["tests", "runs", "passed", "failed", "errored", "skipped"] {
        let sum: u64 = parts.iter().map(|p| u(p, key)).sum();
        assert_eq!(u(&all, key), sum, "{key}: {all}");
    }
    assert_eq!(arr(&all, "not_reports").len(), 1, "{all}");
    assert!(
        run.stderr.contains("reports/pom.xml: not a test report"),
        "{run:#?}"
    );
}

/// Issue 15's walkthrough: an input among several that matches nothing is
/// a warning (the others are read); an empty CI input (`DORAMETER_FAIL_ON=`,
/// `DORAMETER_CODE_QUALITY=`) is unset; a `--code-quality` file whose
/// directory does not exist is exit 2 before anything is stored.
#[test]
fn junit_misses_empty_inputs_and_an_unwritable_report_file() {
    let dm = Dm::default();
    write(&dm, "a.xml", report(&[("ok", "P"), ("bad", "F")]));
    let run = dm.run(&["junit", "a.xml", "typo.xml", "--dry-run"]);
    run.assert_ok();
    assert_eq!(u(&out_json(&run), "tests"), 2);
    assert!(
        run.stderr.contains(
            "warning: 'typo.xml' matches no file: the other reports were read without it"
        ),
        "{run:#?}"
    );
    let out = dm
        .command(&["junit", "a.xml", "--dry-run"])
        .envs([
            ("DORAMETER_FAIL_ON", ""),
            ("DORAMETER_CODE_QUALITY", ""),
            ("DORAMETER_CHECK_RUN", ""),
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = dm.run(&[
        "junit",
        "a.xml",
        "--service",
        "s",
        "--id",
        "r1",
        "--code-quality",
        "missing/cq.json",
    ]);
    run.assert_usage_error("--code-quality");
    assert!(run.stderr.contains("is not a directory"), "{run:#?}");
    // Checked before the store is even opened: nothing is stored.
    assert!(!dm.store_path().exists(), "the store was written");
}
