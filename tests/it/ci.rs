//! CI detection end to end: the real binary run with each provider's
//! variables records the right commit (the change's head, never a merge
//! commit the CI made), the CI's default service, a deterministic event id
//! and a repository URL without credentials; and the edge function that reads
//! GitHub's event file.

use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// `deploy --repo REPO --dry-run ARGS` with `vars` as the CI environment.
fn deploy_in_ci(dm: &Dm, repo: &Path, vars: &[(&str, &str)], extra: &[&str]) -> Value {
    let repo = repo.display().to_string();
    let mut args = vec!["deploy", "--repo", repo.as_str()];
    args.extend_from_slice(extra);
    dm.run_with_env(vars, &args).json()
}

fn gitlab_merged_results<'a>(head: &'a str, merge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result"),
        ("CI_COMMIT_SHA", merge),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", head),
        ("CI_MERGE_REQUEST_IID", "17"),
        ("CI_MERGE_REQUEST_PROJECT_ID", "278964"),
        ("CI_PROJECT_ID", "278964"),
        ("CI_PROJECT_NAME", "checkout"),
        ("CI_PROJECT_PATH", "acme/checkout"),
        (
            "CI_PROJECT_URL",
            "https://gitlab-ci-token:glcbt-SECRET@gitlab.example.com/acme/checkout",
        ),
        ("CI_PIPELINE_ID", "1234567"),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.example.com/acme/checkout/-/pipelines/1234567",
        ),
        ("CI_JOB_ID", "7654321"),
        ("CI_JOB_NAME", "deploy"),
        ("GITLAB_USER_LOGIN", "ada"),
    ]
}

#[test]
fn gitlab_merged_results_pipeline_records_the_source_branch_head() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    repo.commit_at("feat: one", at(0, 0, 0));
    let head = repo.commit_at("feat: two", at(0, 1, 0));
    // The merge commit GitLab built exists only on the runner: if dorameter
    // used it, resolving it here would fail.
    let merge = "f".repeat(40);
    let vars = gitlab_merged_results(&head, &merge);

    let d = deploy_in_ci(&dm, &repo.path, &vars, &["--dry-run"]);
    assert_eq!(d["sha"], head.as_str(), "{d}");
    assert_eq!(
        d["service"], "checkout",
        "CI_PROJECT_NAME is the default service: {d}"
    );
    let id = d["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("gl:278964:7654321:"), "{id}");
    // Deterministic: a retried command in the same job gets the same id.
    let again = deploy_in_ci(&dm, &repo.path, &vars, &["--dry-run"]);
    assert_eq!(again["id"], id.as_str());
}

#[test]
fn ci_metadata_is_stored_without_credentials() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let head = repo.commit_at("feat: one", at(0, 0, 0));
    let merge = "e".repeat(40);
    let d = deploy_in_ci(&dm, &repo.path, &gitlab_merged_results(&head, &merge), &[]);
    assert_eq!(d["sha"], head.as_str());

    let db = rusqlite::Connection::open(dm.store_path()).unwrap();
    let (url, pipeline_id, pipeline_url, by): (String, String, String, String) = db
        .query_row(
            "SELECT repository_url, pipeline_id, pipeline_url, deployed_by FROM deployments",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(url, "https://gitlab.example.com/acme/checkout");
    assert_eq!(pipeline_id, "1234567");
    assert_eq!(
        pipeline_url,
        "https://gitlab.example.com/acme/checkout/-/pipelines/1234567"
    );
    assert_eq!(by, "ada");
    let raw = std::fs::read(dm.store_path()).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("glcbt-SECRET"),
        "the job token must never reach the store"
    );
}

#[test]
fn azure_pull_request_build_records_the_source_commit() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let head = repo.commit_at("feat: cart", at(0, 0, 0));
    let merge = "a".repeat(40);
    let d = deploy_in_ci(
        &dm,
        &repo.path,
        &[
            ("TF_BUILD", "True"),
            ("BUILD_REASON", "PullRequest"),
            ("BUILD_SOURCEVERSION", &merge),
            ("BUILD_SOURCEBRANCH", "refs/pull/31/merge"),
            ("SYSTEM_PULLREQUEST_SOURCECOMMITID", &head),
            ("SYSTEM_PULLREQUEST_PULLREQUESTID", "31"),
            ("BUILD_REPOSITORY_NAME", "fabrikam/web"),
            ("BUILD_BUILDID", "1432"),
            ("SYSTEM_TEAMPROJECTID", "7a1c1f8e"),
            ("SYSTEM_JOBID", "12f1170f"),
            ("SYSTEM_JOBATTEMPT", "1"),
        ],
        &["--dry-run"],
    );
    assert_eq!(d["sha"], head.as_str(), "{d}");
    assert_eq!(d["service"], "web");
    assert!(d["id"].as_str().unwrap().starts_with("azure:"), "{d}");
}

#[test]
fn buildkite_head_placeholder_falls_back_to_the_checkout() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let head = repo.commit_at("feat: one", at(0, 0, 0));
    let d = deploy_in_ci(
        &dm,
        &repo.path,
        &[
            ("BUILDKITE", "true"),
            ("BUILDKITE_COMMIT", "HEAD"),
            ("BUILDKITE_PIPELINE_SLUG", "payments"),
            ("BUILDKITE_JOB_ID", "d593f546-8c9a-45f8-8701-a2b92fbea9a7"),
        ],
        &["--dry-run"],
    );
    assert_eq!(d["sha"], head.as_str(), "{d}");
    assert_eq!(d["service"], "payments");
}

#[test]
fn flags_still_win_over_ci_defaults() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let first = repo.commit_at("feat: one", at(0, 0, 0));
    let head = repo.commit_at("feat: two", at(0, 1, 0));
    let merge = "f".repeat(40);
    let d = deploy_in_ci(
        &dm,
        &repo.path,
        &gitlab_merged_results(&head, &merge),
        &["--dry-run", "--service", "api", "--sha", &first],
    );
    assert_eq!(d["sha"], first.as_str());
    assert_eq!(d["service"], "api");
}

fn github_pr_env(event_path: &Path) -> dorameter::ci::EnvMap {
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_SHA", "2222222222222222222222222222222222222222"),
        ("GITHUB_REF", "refs/pull/42/merge"),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_RUN_ID", "1"),
        ("GITHUB_EVENT_PATH", event_path.to_str().unwrap()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn github_event_file_gives_the_pull_request_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    let head = "1111111111111111111111111111111111111111";
    std::fs::write(
        &path,
        serde_json::json!({
            "number": 42,
            "pull_request": {"number": 42, "head": {"sha": head, "ref": "feat"},
                             "base": {"sha": "3333333333333333333333333333333333333333", "ref": "main"}}
        })
        .to_string(),
    )
    .unwrap();
    let d = dorameter::ci::detect_with_event_file(&github_pr_env(&path));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let ctx = d.context.unwrap();
    assert_eq!(ctx.sha.as_deref(), Some(head));
    assert_eq!(
        ctx.merge_sha.as_deref(),
        Some("2222222222222222222222222222222222222222")
    );
    assert_eq!(ctx.change.map(|c| c.number), Some(42));
}

#[test]
fn malformed_github_event_file_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, "{\"pull_request\": {\"head\": ").unwrap();
    let d = dorameter::ci::detect_with_event_file(&github_pr_env(&path));
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(d.warnings[0].contains("not valid JSON"), "{:?}", d.warnings);
    assert_eq!(
        d.context.unwrap().sha.as_deref(),
        Some("2222222222222222222222222222222222222222")
    );
    // Not a file at all.
    let d = dorameter::ci::detect_with_event_file(&github_pr_env(dir.path()));
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(d.context.is_some());
}

/// The CLI end to end in a GitHub `pull_request` run: the deployment is the
/// pull request's head from the event payload (the merge commit GitHub put in
/// GITHUB_SHA does not even exist here), and the step outputs `action.yml`
/// mirrors are written to `$GITHUB_OUTPUT`.
#[test]
fn github_pull_request_run_records_the_head_and_writes_step_outputs() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let t0 = dm.now - 3 * 86_400;
    repo.commit_at("first", t0);
    let base = repo.head();
    repo.commit_at("feature", t0 + 3_600);
    let head = repo.head();
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(&event, serde_json::json!({"number": 7, "pull_request": {"number": 7, "head": {"sha": head, "ref": "feat"}, "base": {"sha": base, "ref": "main"}}}).to_string()).unwrap();
    let output = dir.path().join("github_output");
    let mut env = github_pr_env(&event);
    env.insert("GITHUB_OUTPUT".into(), output.display().to_string());
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let d = deploy_in_ci(
        &dm,
        &repo.path,
        &vars,
        &["--service", "api", "--previous-sha", &base],
    );
    assert_eq!(d["sha"], head.as_str());
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(written.contains("lead-time<<ghadelimiter_"), "{written}");
    let lead = written
        .split("lead-time<<")
        .nth(1)
        .and_then(|rest| rest.lines().nth(1))
        .unwrap();
    assert_eq!(
        lead.parse::<f64>().unwrap(),
        d["lead_time"]["p50_seconds"].as_f64().unwrap()
    );
    assert!(
        written.contains(&format!("\"sha\":\"{head}\"")),
        "the json output is the deploy JSON: {written}"
    );

    // A flaky test becomes a `::warning` annotation, escaped for the runner.
    let report = dir.path().join("r.xml");
    std::fs::write(&report, r#"<testsuite name="s"><testcase classname="c" name="a%b"><flakyFailure message="x"/></testcase></testsuite>"#).unwrap();
    let run = dm.run_with_env(&vars, &["junit", report.to_str().unwrap(), "--dry-run"]);
    run.assert_ok();
    assert!(
        run.stderr.contains(
            "::warning title=Flaky test::c::a%25b failed, then passed on a retry (2 attempts)"
        ),
        "{run:#?}"
    );
    serde_json::from_str::<Value>(&run.stdout).expect("stdout stays pure JSON");
}
