//! Every committed fixture from a real (or documented) producer against its
//! expected file.

use serde_json::Value;

use super::support::*;
use crate::util::*;

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
