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
