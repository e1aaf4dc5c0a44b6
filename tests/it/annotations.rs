//! Annotations of failing tests as the GitHub Checks API takes them: the
//! bodies `render::check_run_batches` makes, validated against
//! `@octokit/openapi`'s `checks/create` and `checks/update` request bodies
//! (skipped loudly without the Node tools, as the other schema checks).

use std::path::Path;

use dorameter::render::{Annotation, CHECK_RUN_BATCH, Level, check_run_batches};
use serde_json::{Value, json};

use crate::incident_import::check_bodies;

const CREATE: &str = "#/paths/~1repos~1{owner}~1{repo}~1check-runs/post/requestBody";
const UPDATE: &str =
    "#/paths/~1repos~1{owner}~1{repo}~1check-runs~1{check_run_id}/patch/requestBody";

fn spec() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools/node/node_modules/@octokit/openapi/generated/api.github.com.json")
        .display()
        .to_string()
}

fn output(annotations: &Value) -> Value {
    json!({
        "title": "2 failing tests",
        "summary": "2 failed, 118 passed",
        "annotations": annotations,
    })
}

#[test]
fn check_run_bodies_follow_the_checks_api_schema() {
    let levels = [Level::Failure, Level::Warning, Level::Notice];
    let annotations: Vec<Annotation> = (0..120u32)
        .map(|i| Annotation {
            path: format!("tests/test_{i}.py"),
            line: i,
            end_line: i / 2,
            level: levels[i as usize % 3],
            title: format!(
                "tests.test_{i}::test_x, \"quoted\"\n\u{202E}{}",
                "🦀".repeat(300)
            ),
            message: format!(
                "AssertionError\r\n::error::x\u{1b}[31m{}",
                "é".repeat(40_000)
            ),
            raw_details: (i % 2 == 0).then(|| "Traceback (most recent call last):\n".repeat(3000)),
            identity: format!("tests.test_{i}::test_x"),
        })
        .collect();
    let batches = check_run_batches(&annotations);
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].as_array().unwrap().len(), CHECK_RUN_BATCH);
    let create = json!({
        "name": "dorameter",
        "head_sha": "9c1f2e3d4b5a69788796a5b4c3d2e1f00f1e2d3c",
        "status": "completed",
        "conclusion": "failure",
        "output": output(&batches[0]),
    });
    let updates: Vec<String> = batches[1..]
        .iter()
        .map(|b| json!({"output": output(b)}).to_string())
        .collect();
    check_bodies(&spec(), CREATE, &[create.to_string()]);
    check_bodies(&spec(), UPDATE, &updates);
}

/// The check itself catches what the API refuses: 51 annotations in one
/// request, a level the API does not know.
#[test]
fn the_checks_api_schema_check_refuses_a_body_the_api_refuses() {
    let Some((node, dir)) = crate::comment_charts::node_tools("the schema check was not exercised")
    else {
        return;
    };
    let one = json!({"path": "a.rs", "start_line": 1, "end_line": 1, "annotation_level": "failure", "message": "m"});
    let bad_level = json!([{"path": "a.rs", "start_line": 1, "end_line": 1, "annotation_level": "error", "message": "m"}]);
    let tmp = tempfile::tempdir().unwrap();
    for (i, annotations) in [json!(vec![one; CHECK_RUN_BATCH + 1]), bad_level]
        .iter()
        .enumerate()
    {
        let body =
            json!({"name": "dorameter", "head_sha": "0".repeat(40), "output": output(annotations)});
        let file = tmp.path().join(format!("{i}.json"));
        std::fs::write(&file, body.to_string()).unwrap();
        let out = std::process::Command::new(&node)
            .arg(dir.join("openapi-check.mjs"))
            .args([spec().as_str(), CREATE])
            .arg(&file)
            .output()
            .expect("run node");
        assert!(
            !out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// The 1-based line of `tests/test_calc.py` (the real pytest project the
/// report came from) that holds `text`: where each test failed, read from
/// the source, not from dorameter.
fn line_of(source: &str, text: &str) -> u32 {
    source
        .lines()
        .position(|l| l.contains(text))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("{text:?} not in the source"))
}

/// Issue 15: `junit` on GitHub Actions annotates each failing test on the
/// line where it failed. A real pytest report (xunit1: `file`/`line`
/// attributes, long tracebacks) of the project in `fixtures/locate/pytest`,
/// committed to a git repository: the workflow commands name the file and
/// line, `--check-run` creates a check run on a stand-in GitHub whose body
/// follows `@octokit/openapi`'s `checks/create`, and `--code-quality` writes
/// GitLab's report. A stand-in that refuses (403, no `checks: write`) is a
/// warning, or exit 5 under `--strict`.
#[test]
fn junit_annotates_failing_tests_where_they_failed() {
    use super::server::{Reply, Server};
    use super::util::{Dm, Repo, at};
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/locate/pytest");
    let mut repo = Repo::new();
    for rel in [
        "pyproject.toml",
        "src/calc/__init__.py",
        "src/calc/core.py",
        "tests/__init__.py",
        "tests/test_calc.py",
    ] {
        let to = repo.path.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixture.join("project").join(rel), &to).unwrap();
    }
    std::fs::create_dir_all(repo.path.join("reports")).unwrap();
    std::fs::copy(
        fixture.join("report-long.xml"),
        repo.path.join("reports/pytest.xml"),
    )
    .unwrap();
    repo.git(&["add", "-A"], at(0, 0, 0));
    let sha = repo.commit_at("the project", at(0, 0, 0));
    let source = std::fs::read_to_string(repo.path.join("tests/test_calc.py")).unwrap();
    let want = [
        (
            "tests.test_calc::test_fails",
            line_of(&source, "assert total == 5"),
        ),
        (
            "tests.test_calc::test_raises_in_library",
            line_of(&source, "assert divide(1, 0) == 0"),
        ),
        (
            "tests.test_calc.TestParse::test_parse[x]",
            line_of(&source, "assert parse(text) >= 0"),
        ),
        (
            "tests.test_calc::test_helper_in_same_file",
            line_of(&source, "check_positive(-1)"),
        ),
    ];

    let deny = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let denied = deny.clone();
    let server = Server::start(move |req| {
        if denied.load(std::sync::atomic::Ordering::SeqCst) {
            return Reply::status(
                403,
                r#"{"message":"Resource not accessible by integration"}"#,
            );
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/repos/o/r/check-runs") => Reply::status(
                201,
                r#"{"id": 42, "html_url": "https://github.com/o/r/runs/42"}"#,
            ),
            ("PATCH", "/repos/o/r/check-runs/42") => Reply::status(200, r#"{"id": 42}"#),
            _ => Reply::status(404, r#"{"message":"Not Found"}"#),
        }
    });
    let dm = Dm::default();
    let api = server.url("");
    let store = dm.store_url();
    // `junit reports/pytest.xml --id ID --check-run pytest EXTRA…` in a
    // GitHub Actions push job, with a token unless `token` is false.
    let junit = |id: &str, token: bool, extra: &[&str]| {
        let mut args = vec![
            "--store",
            &store,
            "junit",
            "reports/pytest.xml",
            "--id",
            id,
            "--check-run",
            "pytest",
        ];
        args.extend_from_slice(extra);
        let mut cmd = dm.raw_command(&["--format", "json"]);
        cmd.args(&args).current_dir(&repo.path).envs([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", sha.as_str()),
            ("GITHUB_API_URL", api.as_str()),
            ("DORAMETER_SINK_BACKOFF", "1ms"),
            ("DORAMETER_SINK_RETRIES", "0"),
        ]);
        if token {
            cmd.env("GITHUB_TOKEN", "ghs_secret_token");
        }
        let out = cmd.output().expect("run dorameter");
        super::util::Run::from_output(args.iter().map(|s| s.to_string()).collect(), out)
    };
    let run = |extra: &[&str]| {
        let id = format!("run-{}", server.requests().len());
        let mut args = vec!["--code-quality", "codequality.json"];
        args.extend_from_slice(extra);
        junit(&id, true, &args)
    };
    let out = run(&[]);
    out.assert_ok();
    // Workflow commands: each failing test on its line.
    for (id, line) in want {
        let title = format!(
            "title={} failed",
            id.replace(':', "%3A").replace(',', "%2C")
        );
        let cmd = out
            .stderr
            .lines()
            .find(|l| l.starts_with("::error ") && l.contains(&title))
            .unwrap_or_else(|| panic!("no ::error for {id}: {}", out.stderr));
        assert!(
            cmd.starts_with(&format!(
                "::error file=tests/test_calc.py,line={line},endLine={line},"
            )),
            "{id}: {cmd}"
        );
    }
    assert!(!out.stderr.contains("ghs_secret_token"), "{}", out.stderr);

    // The check run: one POST, its body per the schema, four annotations.
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let body: Value = serde_json::from_slice(&posts[0].body).expect("json body");
    assert_eq!(body["name"], "pytest");
    assert_eq!(body["head_sha"], sha.as_str());
    assert_eq!(body["conclusion"], "failure");
    let lines: Vec<(String, u64)> = body["output"]["annotations"]
        .as_array()
        .expect("annotations")
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap().to_string(),
                a["start_line"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = want
        .iter()
        .map(|(_, l)| ("tests/test_calc.py".to_string(), u64::from(*l)))
        .collect();
    assert_eq!(lines, expected);
    check_bodies(
        &spec(),
        CREATE,
        &[String::from_utf8_lossy(&posts[0].body).into_owned()],
    );

    // GitLab's Code Quality report: the same four places.
    let cq: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path.join("codequality.json")).unwrap())
            .unwrap();
    let cq_lines: Vec<(String, u64)> = cq
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap().to_string(),
                f["location"]["lines"]["begin"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(cq_lines, expected);

    // 120 failing tests: one POST with 50 annotations, then PATCHes of 50
    // and 20; GitHub's log shows 10 errors per step, the rest counted.
    let mut xml = String::from("<testsuite name=\"pytest\">");
    for i in 0..120 {
        xml.push_str(&format!(
            "<testcase classname=\"tests.test_calc\" name=\"t{i}\" file=\"tests/test_calc.py\" line=\"{i}\"><failure message=\"boom\"/></testcase>"
        ));
    }
    xml.push_str("</testsuite>");
    std::fs::write(repo.path.join("reports/pytest.xml"), xml).unwrap();
    let before = server.requests().len();
    let out = run(&[]);
    out.assert_ok();
    let new: Vec<_> = server.requests().into_iter().skip(before).collect();
    let sizes: Vec<(String, usize)> = new
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            (
                r.method.clone(),
                v["output"]["annotations"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        [
            ("POST".to_string(), 50),
            ("PATCH".to_string(), 50),
            ("PATCH".to_string(), 20)
        ]
    );
    let updates: Vec<String> = new[1..]
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    check_bodies(&spec(), UPDATE, &updates);
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("::error "))
            .count(),
        10,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("110 more tests not annotated"),
        "{}",
        out.stderr
    );

    // `-q` keeps the annotations: they are the run page's, not chatter.
    let out = run(&["-q"]);
    out.assert_ok();
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("::error file="))
            .count(),
        10,
        "{}",
        out.stderr
    );

    // A CTRF report's trace locates its failure too.
    std::fs::write(
        repo.path.join("reports/pytest.xml"),
        r#"{"results": {"tool": {"name": "pytest"}, "tests": [{"name": "test_fails", "status": "failed", "duration": 1, "suite": "tests.test_calc", "message": "AssertionError: deliberate failure", "trace": "def test_fails():\n>       assert total == 5\n\ntests/test_calc.py:12: AssertionError"}]}}"#,
    )
    .unwrap();
    let out = run(&[]);
    out.assert_ok();
    assert!(
        out.stderr.contains(&format!(
            "::error file=tests/test_calc.py,line={},",
            line_of(&source, "assert total == 5")
        )),
        "{}",
        out.stderr
    );

    // --dry-run posts nothing, and says so.
    let before = server.requests().len();
    let out = run(&["--dry-run"]);
    out.assert_ok();
    assert_eq!(server.requests().len(), before);

    // Without `checks: write`: a warning naming the permission, exit 0;
    // exit 5 under --strict.
    deny.store(true, std::sync::atomic::Ordering::SeqCst);
    let out = run(&[]);
    out.assert_ok();
    assert!(
        out.stderr.contains("warning: ")
            && out.stderr.contains("check run")
            && out.stderr.contains("checks: write"),
        "{}",
        out.stderr
    );
    let out = run(&["--strict"]);
    assert_eq!(out.code, 5, "{out:#?}");
    assert!(!out.stderr.contains("ghs_secret_token"), "{}", out.stderr);

    // Without a token, --check-run --strict fails before anything is stored
    // (exit 2); without --strict it warns and the run is recorded.
    let no_token = |extra: &[&str]| junit("run-no-token", false, extra);
    let out = no_token(&["--strict"]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("GITHUB_TOKEN"), "{}", out.stderr);
    let out = no_token(&[]);
    out.assert_ok();
    assert!(
        !out.stderr.contains("already recorded"),
        "the --strict run stored nothing: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("warning: --check-run needs GitHub Actions"),
        "{}",
        out.stderr
    );
    let out = no_token(&[]);
    assert!(out.stderr.contains("already recorded"), "{}", out.stderr);
}
