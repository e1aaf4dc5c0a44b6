//! `backfill --from-github-deployments | --from-github-releases |
//! --from-gitlab-deployments` (SPEC §11) against stand-in forges answering
//! from the published examples (fixtures/sources/), on a real repository:
//! statuses decide success or failure, environments map, and the same sha
//! is one deployment with `deploy` and every other backfill.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::server::{Reply, Server};
use crate::util::{DAY, Dm, HOUR, NOW, Repo, rfc};

const TOKEN: &str = "gh-backfill-5e1a";

/// `backfill FROM --repo REPO --service SERVICE --repository REPOSITORY
/// EXTRA…` with `env` added.
fn backfill(
    dm: &Dm,
    env: &[(&str, &str)],
    from: &str,
    (repo, service, repository): (&str, &str, &str),
    extra: &[&str],
) -> crate::util::Run {
    let mut args = vec![
        "backfill",
        from,
        "--repo",
        repo,
        "--service",
        service,
        "--repository",
        repository,
    ];
    args.extend_from_slice(extra);
    dm.run_with_env(env, &args)
}

/// A published example of `fixtures/sources/`.
pub(crate) fn example(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sources")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn gh_deployment(id: u64, sha: &str, env: &str, created: i64) -> Value {
    let mut d = example("github-deployment-example.json");
    let o = d.as_object_mut().unwrap();
    o.insert("id".into(), json!(id));
    o.insert("sha".into(), json!(sha));
    o.insert("ref".into(), json!("main"));
    o.insert("environment".into(), json!(env));
    o.insert("original_environment".into(), json!(env));
    o.insert("created_at".into(), json!(rfc(created)));
    o.insert("updated_at".into(), json!(rfc(created)));
    d
}

fn gh_status(state: &str, at: i64) -> Value {
    let mut s = example("github-deployment-status-example.json");
    let o = s.as_object_mut().unwrap();
    o.insert("state".into(), json!(state));
    o.insert("created_at".into(), json!(rfc(at)));
    o.insert("updated_at".into(), json!(rfc(at)));
    s
}

fn gh_release(tag: &str, published: i64, draft: bool, prerelease: bool) -> Value {
    let mut r = example("github-release-example.json");
    let o = r.as_object_mut().unwrap();
    o.insert("tag_name".into(), json!(tag));
    o.insert("name".into(), json!(tag));
    o.insert("draft".into(), json!(draft));
    o.insert("prerelease".into(), json!(prerelease));
    o.insert(
        "published_at".into(),
        if draft {
            Value::Null
        } else {
            json!(rfc(published))
        },
    );
    r
}

/// A stand-in GitHub: deployments (by environment), their statuses
/// (newest first), releases; every body it serves is kept, by kind, for
/// the schema check.
fn github(
    deployments: Vec<(Value, Vec<Value>)>,
    releases: Vec<Value>,
    served: Arc<Mutex<Vec<(&'static str, String)>>>,
) -> Server {
    Server::start(move |req| {
        if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return Reply::status(401, r#"{"message":"Bad credentials"}"#);
        }
        let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
        let q: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{query}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let env = q
            .iter()
            .find(|(k, _)| k == "environment")
            .map(|(_, v)| v.clone());
        let (kind, body) = if path == "/repos/acme/api/deployments" {
            let list: Vec<&Value> = deployments
                .iter()
                .map(|(d, _)| d)
                .filter(|d| env.as_deref().is_none_or(|e| d["environment"] == e))
                .collect();
            ("deployments", json!(list))
        } else if let Some(id) = path
            .strip_prefix("/repos/acme/api/deployments/")
            .and_then(|p| p.strip_suffix("/statuses"))
        {
            let statuses = deployments
                .iter()
                .find(|(d, _)| d["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id))
                .map(|(_, s)| s.clone())
                .unwrap_or_default();
            let (text, headers) = crate::incident_import::github_page(req, &statuses);
            served.lock().unwrap().push(("statuses", text.clone()));
            return Reply::Status(200, headers, text);
        } else if path == "/repos/acme/api/releases" {
            ("releases", json!(releases))
        } else {
            return Reply::status(404, r#"{"message":"Not Found"}"#);
        };
        let text = body.to_string();
        served.lock().unwrap().push((kind, text.clone()));
        Reply::Status(
            200,
            vec![("content-type".into(), "application/json".into())],
            text,
        )
    })
}

/// The deployments the store holds: (env, sha, status, version) sorted.
fn recorded(dm: &Dm) -> Vec<(String, String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(dm.store_path()).unwrap();
    let mut st = conn
        .prepare("SELECT env, sha, status, version FROM deployments ORDER BY finished_at, env")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn github_deployments_and_releases_backfill_once_per_sha() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let t = NOW - 20 * DAY;
    let c1 = repo.commit_at("one", t);
    let c2 = repo.commit_at("two", t + DAY);
    let c3 = repo.commit_at("three", t + 2 * DAY);
    let c4 = repo.commit_at("four", t + 3 * DAY);
    let repo_s = repo.path.display().to_string();
    // c1 was recorded by `deploy` already.
    dm.deploy_at(&repo.path, "api", "deploy-c1", &c1, t + HOUR, &[]);
    let deployments = vec![
        (
            gh_deployment(11, &c1, "prod", t + HOUR - 300),
            vec![gh_status("success", t + HOUR)],
        ),
        (
            gh_deployment(12, &c2, "prod", t + DAY + HOUR),
            vec![
                gh_status("failure", t + DAY + 2 * HOUR),
                gh_status("in_progress", t + DAY + HOUR),
            ],
        ),
        (
            gh_deployment(13, &c3, "staging", t + 2 * DAY + HOUR),
            vec![gh_status("success", t + 2 * DAY + 2 * HOUR)],
        ),
        // Superseded later (inactive), after it succeeded.
        (
            gh_deployment(14, &c3, "prod", t + 2 * DAY + 3 * HOUR),
            vec![
                gh_status("inactive", t + 3 * DAY),
                gh_status("success", t + 2 * DAY + 4 * HOUR),
            ],
        ),
        (
            gh_deployment(15, &c4, "prod", t + 3 * DAY + HOUR),
            vec![gh_status("in_progress", t + 3 * DAY + HOUR)],
        ),
        // 149 inactive statuses after its success: the success is on the
        // second page of statuses.
        (
            gh_deployment(16, &c4, "prod", t + 3 * DAY + 2 * HOUR),
            std::iter::repeat_n(gh_status("inactive", t + 4 * DAY), 149)
                .chain([gh_status("success", t + 3 * DAY + 3 * HOUR)])
                .collect(),
        ),
    ];
    let served = Arc::new(Mutex::new(Vec::new()));
    let gh = github(deployments, vec![], served.clone());
    let api = gh.url("");
    let env = [("GITHUB_TOKEN", TOKEN)];
    let args = [
        "backfill",
        "--from-github-deployments",
        "--repo",
        &repo_s,
        "--service",
        "api",
        "--api-url",
        &api,
        "--repository",
        "acme/api",
        "--environment",
        "prod=production",
    ];
    let r = dm.run_with_env(&env, &args).json();
    // d11: c1 already deployed; d12 a failed job; d14 c3's production
    // deployment; d13 (staging) not asked for; d15 not finished; d16 c4's,
    // its success on the second page of its statuses.
    assert_eq!(
        (r["recorded"].as_u64(), r["skipped"].as_u64()),
        (Some(3), Some(1)),
        "{r:#}"
    );
    assert_eq!(
        recorded(&dm),
        vec![
            ("production".into(), c1.clone(), "success".into(), None),
            (
                "production".into(),
                c2.clone(),
                "failure".into(),
                Some("main".into())
            ),
            (
                "production".into(),
                c3.clone(),
                "success".into(),
                Some("main".into())
            ),
            (
                "production".into(),
                c4.clone(),
                "success".into(),
                Some("main".into())
            ),
        ]
    );
    // The production deployment of c3 counts c2 and c3 as its changes
    // (the failed job shipped nothing).
    let list = dm.json(&["deployments", "list", "--service", "api"]);
    let d14 = list["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["sha"] == c3.as_str())
        .unwrap()
        .clone();
    assert_eq!(d14["changes"], 2, "{d14:#}");
    // Again: nothing new. Without a mapping, every environment as named.
    let again = dm.run_with_env(&env, &args).json();
    assert_eq!(
        (again["recorded"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(4)),
        "{again:#}"
    );
    let all = dm.run_with_env(&env, &args[..args.len() - 2]).json();
    assert_eq!(
        all["recorded"], 5,
        "prod's four finished ones again under their own name (c1 too: `prod` is not `production`), and staging's: {all:#}"
    );
    let envs: Vec<String> = recorded(&dm).into_iter().map(|r| r.0).collect();
    assert!(
        envs.contains(&"staging".to_string()) && envs.contains(&"prod".to_string()),
        "{envs:?}"
    );

    // Releases: drafts and prereleases left out; a release's tag resolved here.
    let c5 = repo.commit_at("five", t + 4 * DAY);
    repo.git(&["tag", "v1", &c1], t);
    repo.git(&["tag", "v2", &c5], t);
    let releases = vec![
        gh_release("v1", t + 2 * HOUR, false, false),
        gh_release("v2-draft", t + 3 * DAY, true, false),
        gh_release("v2-rc1", t + 3 * DAY, false, true),
        gh_release("v2", t + 4 * DAY + 2 * HOUR, false, false),
        gh_release("v9", t + 5 * DAY, false, false),
    ];
    let served_r = Arc::new(Mutex::new(Vec::new()));
    let gh = github(vec![], releases, served_r.clone());
    let api = gh.url("");
    let r = backfill(
        &dm,
        &env,
        "--from-github-releases",
        (&repo_s, "api", "acme/api"),
        &["--api-url", &api],
    );
    let v = r.json();
    assert_eq!(
        (v["recorded"].as_u64(), v["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{v:#}"
    );
    assert!(
        r.stderr
            .contains("release v9: its tag is not in this clone"),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains("a draft") && r.stderr.contains("a prerelease"),
        "{r:#?}"
    );
    assert!(
        recorded(&dm)
            .iter()
            .any(|d| d.1 == c5 && d.3.as_deref() == Some("v2") && d.0 == "production")
    );

    // What the stand-in served follows GitHub's published schemas.
    let all: Vec<(&str, String)> = served
        .lock()
        .unwrap()
        .iter()
        .chain(served_r.lock().unwrap().iter())
        .cloned()
        .collect();
    crate::incident_import::check_github_bodies(
        &all,
        &[
            (
                "deployments",
                "#/paths/~1repos~1{owner}~1{repo}~1deployments/get/responses/200",
            ),
            (
                "statuses",
                "#/paths/~1repos~1{owner}~1{repo}~1deployments~1{deployment_id}~1statuses/get/responses/200",
            ),
            (
                "releases",
                "#/paths/~1repos~1{owner}~1{repo}~1releases/get/responses/200",
            ),
        ],
    );
}

#[test]
fn gitlab_deployments_success_and_failed() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let t = NOW - 10 * DAY;
    let c1 = repo.commit_at("one", t);
    let c2 = repo.commit_at("two", t + DAY);
    let repo_s = repo.path.display().to_string();
    let gl_dep = |id: u64, sha: &str, status: &str, finished: i64| {
        let mut d = example("gitlab-deployment-example.json");
        let o = d.as_object_mut().unwrap();
        o.insert("id".into(), json!(id));
        o.insert("iid".into(), json!(id));
        o.insert("sha".into(), json!(sha));
        o.insert("status".into(), json!(status));
        o.insert("updated_at".into(), json!(rfc(finished)));
        o.insert("created_at".into(), json!(rfc(finished - 600)));
        o["deployable"]["finished_at"] = json!(rfc(finished));
        o["deployable"]["status"] = json!(if status == "running" {
            "running"
        } else {
            status
        });
        d
    };
    let items = vec![
        gl_dep(1, &c1, "success", t + HOUR),
        gl_dep(2, &c2, "failed", t + DAY + HOUR),
        gl_dep(3, &c2, "success", t + DAY + 2 * HOUR),
        gl_dep(4, &c2, "running", t + DAY + 3 * HOUR),
    ];
    let gl = Server::start(move |req| {
        if req.header("private-token") != Some("gl-backfill-77") {
            return Reply::status(401, r#"{"message":"401 Unauthorized"}"#);
        }
        let (path, _) = req.path.split_once('?').unwrap();
        assert_eq!(path, "/api/v4/projects/acme%2Fshop/deployments");
        Reply::Status(
            200,
            vec![("x-next-page".into(), String::new())],
            json!(items).to_string(),
        )
    });
    let api = gl.url("/api/v4");
    let r = backfill(
        &dm,
        &[("DORAMETER_GITLAB_TOKEN", "gl-backfill-77")],
        "--from-gitlab-deployments",
        (&repo_s, "shop", "acme/shop"),
        &["--api-url", &api],
    )
    .json();
    assert_eq!(r["recorded"], 3, "{r:#}");
    assert_eq!(
        recorded(&dm)
            .into_iter()
            .map(|d| (d.1, d.2))
            .collect::<Vec<_>>(),
        vec![
            (c1.clone(), "success".into()),
            (c2.clone(), "failure".into()),
            (c2, "success".into())
        ]
    );
}

#[test]
fn backfill_needs_one_source_and_a_token() {
    let dm = Dm::default();
    let repo = Repo::new();
    let repo_s = repo.path.display().to_string();
    let r = dm.run(&["backfill", "--repo", &repo_s, "--service", "api"]);
    r.assert_no_panic();
    assert_eq!(r.code, 2, "{r:#?}");
    let target = (repo_s.as_str(), "api", "acme/api");
    backfill(&dm, &[], "--from-github-deployments", target, &[]).assert_usage_error("GITHUB_TOKEN");
    backfill(
        &dm,
        &[("GITHUB_TOKEN", TOKEN)],
        "--from-github-releases",
        target,
        &["--environment", "prod"],
    )
    .assert_usage_error("--environment");
}

#[test]
fn one_forge_environment_maps_to_one_env() {
    let dm = Dm::default();
    let repo = Repo::new();
    let repo_s = repo.path.display().to_string();
    backfill(
        &dm,
        &[("GITHUB_TOKEN", TOKEN)],
        "--from-github-deployments",
        (&repo_s, "api", "acme/api"),
        &[
            "--environment",
            "prod=production",
            "--environment",
            "prod=staging",
        ],
    )
    .assert_usage_error("--environment maps prod to both production and staging");
}
