//! Sinks and reliable delivery (SPEC §5) against real HTTP servers on
//! 127.0.0.1: a Datadog stand-in validating every body against
//! `fixtures/datadog-dora-openapi.yaml`, a webhook receiver checking the
//! HMAC, a DevLake receiver checking shapes, a fault-injecting receiver, and
//! `kill -9` during delivery.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::server::{Reply, Server};
use super::util::{Dm, Repo, Run, at};

/// Fast retries for tests: the policy is the same, only the waits shrink.
const FAST: &[(&str, &str)] = &[
    ("DORAMETER_SINK_TIMEOUT", "2s"),
    ("DORAMETER_SINK_BACKOFF", "1ms"),
    ("DORAMETER_SINK_MAX_DELAY", "20ms"),
];

/// [`Dm::run_with_env`] with the fast retry policy, then `env`.
fn run_env(dm: &Dm, env: &[(&str, &str)], args: &[&str]) -> Run {
    let env: Vec<(&str, &str)> = FAST.iter().chain(env).copied().collect();
    dm.run_with_env(&env, args)
}

/// `dorameter --sink SINK ARGS...`, as [`run_env`].
fn run_sink(dm: &Dm, env: &[(&str, &str)], sink: &str, args: &[&str]) -> Run {
    let mut all = vec!["--sink", sink];
    all.extend_from_slice(args);
    run_env(dm, env, &all)
}

/// `deploy --repo REPO --service SERVICE ARGS...` through `sink`.
fn deploy_via(
    dm: &Dm,
    env: &[(&str, &str)],
    sink: &str,
    repo: &str,
    service: &str,
    args: &[&str],
) -> Run {
    let mut all = vec!["deploy", "--repo", repo, "--service", service];
    all.extend_from_slice(args);
    run_sink(dm, env, sink, &all)
}

fn open_incident(dm: &Dm, env: &[(&str, &str)], sink: &str, id: &str) -> Run {
    run_sink(
        dm,
        env,
        sink,
        &[
            "incident",
            "open",
            "--id",
            id,
            "--service",
            "api",
            "--started-at",
            "2026-04-01T10:00:00Z",
        ],
    )
}

// ---------------------------------------------------------------- schema

/// The OpenAPI document as JSON.
fn openapi() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/datadog-dora-openapi.yaml"
    ))
    .expect("fixtures/datadog-dora-openapi.yaml");
    serde_yaml::from_str(&text).expect("the OpenAPI fixture parses")
}

/// Checks `v` against `schema` (the subset the DORA schemas use: `$ref`,
/// type, required, properties — unknown properties rejected —, items,
/// enum, nullable, and the sha pattern).
fn check(doc: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "unresolved {r}");
        return check(doc, target, v, at, errs);
    }
    if v.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(obj) = v.as_object() else {
                return errs.push(format!("{at}: expected an object, got {v}"));
            };
            for req in schema["required"].as_array().into_iter().flatten() {
                let k = req.as_str().unwrap();
                if !obj.contains_key(k) {
                    errs.push(format!("{at}: missing required '{k}'"));
                }
            }
            for (k, val) in obj {
                match schema["properties"].get(k) {
                    Some(ps) => check(doc, ps, val, &format!("{at}.{k}"), errs),
                    None => errs.push(format!("{at}: unknown property '{k}'")),
                }
            }
        }
        Some("string") => {
            let Some(s) = v.as_str() else {
                return errs.push(format!("{at}: expected a string, got {v}"));
            };
            if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                assert_eq!(
                    p, "^[a-fA-F0-9]{40,}$",
                    "a pattern this checker does not know"
                );
                if s.len() < 40 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
                    errs.push(format!("{at}: '{s}' does not match {p}"));
                }
            }
            if let Some(e) = schema.get("enum").and_then(Value::as_array) {
                if !e.iter().any(|x| x.as_str() == Some(s)) {
                    errs.push(format!("{at}: '{s}' not in {e:?}"));
                }
            }
        }
        Some("integer") => {
            if v.as_i64().is_none() {
                errs.push(format!("{at}: expected an int64, got {v}"));
            }
        }
        Some("boolean") => {
            if !v.is_boolean() {
                errs.push(format!("{at}: expected a boolean, got {v}"));
            }
        }
        Some("array") => {
            let Some(items) = v.as_array() else {
                return errs.push(format!("{at}: expected an array, got {v}"));
            };
            for (i, item) in items.iter().enumerate() {
                check(doc, &schema["items"], item, &format!("{at}[{i}]"), errs);
            }
        }
        other => panic!("{at}: schema type {other:?} not handled"),
    }
}

/// Validates a POST body against the request schema of `path`; also the
/// rules the schema states only in prose (id length and alphabet, ns times).
fn validate_datadog(doc: &Value, path: &str, body: &Value) -> Vec<String> {
    let schema =
        &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
    if schema.is_null() {
        return vec![format!("no POST {path} in the API")];
    }
    let mut errs = Vec::new();
    check(doc, schema, body, "body", &mut errs);
    let a = &body["data"]["attributes"];
    if let Some(id) = a["id"].as_str() {
        let ok = (16..=128).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !ok {
            errs.push(format!("id '{id}' is not 16-128 chars of [A-Za-z0-9-_.:]"));
        }
    }
    for k in ["started_at", "finished_at"] {
        if let Some(t) = a[k].as_i64() {
            if t < 1_000_000_000_000_000_000 {
                errs.push(format!("{k} {t} is not in nanoseconds"));
            }
        }
    }
    errs
}

/// A Datadog stand-in: 202 for valid bodies with the right key, else 400/403
/// with a JSON:API error as Datadog sends it.
fn datadog_server(key: &'static str) -> Server {
    let doc = openapi();
    Server::start(move |req| {
        if req.header("dd-api-key") != Some(key) {
            return Reply::status(403, r#"{"errors":["Forbidden"]}"#);
        }
        let errs = validate_datadog(&doc, &req.path, &req.json());
        if errs.is_empty() {
            Reply::Status(
                202,
                vec![],
                r#"{"data":{"id":"x","type":"dora_deployment"}}"#.into(),
            )
        } else {
            Reply::status(400, &serde_json::json!({"errors": errs}).to_string())
        }
    })
}

#[test]
fn datadog_bodies_match_the_openapi_schema() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    repo.git(
        &[
            "remote",
            "add",
            "origin",
            "https://ci:ghp_repotoken@github.com/org/shop.git",
        ],
        at(0, 0, 0),
    );
    repo.commit_at("first", at(0, 9, 0));
    let sha = repo.commit_at("second", at(1, 9, 0));
    let key = "dd-test-key-0123456789abcdef";
    let server = datadog_server(key);
    let sink = format!("datadog:{}", server.url(""));
    let env = [("DD_API_KEY", key)];
    let repo_path = repo.path.display().to_string();

    let deploy = deploy_via(
        &dm,
        &env,
        &sink,
        &repo_path,
        "shop",
        &[
            "--id",
            "dep-1",
            "--version",
            "v1.2.3",
            "--team",
            "payments",
            "--tag",
            "region=eu",
            "--finished-at",
            "2026-03-02T10:00:00Z",
        ],
    );
    deploy.assert_ok();
    assert_eq!(
        deploy.json()["tags"]["region"],
        "eu",
        "the JSON shows the tags"
    );
    // A failed deploy job is not a Datadog deployment: stored, not sent.
    deploy_via(
        &dm,
        &env,
        &sink,
        &repo_path,
        "shop",
        &[
            "--status",
            "failure",
            "--finished-at",
            "2026-03-02T11:00:00Z",
        ],
    )
    .assert_ok();
    open_incident(&dm, &env, &sink, "INC 42").assert_ok();
    let resolved = run_sink(
        &dm,
        &env,
        &sink,
        &[
            "incident",
            "resolve",
            "--id",
            "INC 42",
            "--resolved-at",
            "2026-04-01T11:00:00Z",
            "--severity",
            "SEV-2",
            "--title",
            "checkout down",
        ],
    );
    resolved.assert_ok();

    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/v2/dora/deployment",
            "/api/v2/dora/failure",
            "/api/v2/dora/failure"
        ],
        "{reqs:#?}"
    );
    let doc = openapi();
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("dd-api-key"), Some(key));
        assert!(r.header("user-agent").unwrap().starts_with("dorameter/"));
        let errs = validate_datadog(&doc, &r.path, &r.json());
        assert!(errs.is_empty(), "{}: {errs:?}", r.path);
    }
    let d = reqs[0].json();
    let a = &d["data"]["attributes"];
    assert_eq!(a["git"]["commit_sha"], sha.as_str());
    assert_eq!(a["git"]["repository_url"], "https://github.com/org/shop");
    assert_eq!(a["started_at"], 1_772_445_600_000_000_000i64);
    assert_eq!(a["version"], "v1.2.3");
    assert!(a["id"].as_str().unwrap().starts_with("dep-1:"));
    let open = reqs[1].json();
    let resolve = reqs[2].json();
    assert_eq!(
        open["data"]["attributes"]["id"], resolve["data"]["attributes"]["id"],
        "one deterministic id per incident"
    );
    assert!(open["data"]["attributes"].get("finished_at").is_none());
    assert_eq!(
        resolve["data"]["attributes"]["finished_at"],
        1_775_041_200_000_000_000i64
    );
    for run in [&deploy, &resolved] {
        assert!(
            !run.stdout.contains(key) && !run.stderr.contains(key),
            "{run:#?}"
        );
        assert!(!run.stdout.contains("ghp_repotoken") && !run.stderr.contains("ghp_repotoken"));
    }
    let spool = std::fs::read(dm.dir.path().join("spool").join("events.log")).unwrap();
    assert!(!String::from_utf8_lossy(&spool).contains(key));
}

#[test]
fn datadog_4xx_is_not_retried_and_shows_the_api_message() {
    let dm = Dm::default();
    let key = "dd-secret-key-abcdef0123456789";
    for (status, body) in [
        (403, r#"{"errors":["Forbidden"]}"#.to_string()),
        (
            400,
            format!(r#"{{"errors":["bad key {key}: invalid payload"]}}"#),
        ),
    ] {
        let body: &'static str = Box::leak(body.into_boxed_str());
        let server = Server::start(move |_| Reply::status(status, body));
        let sink = format!("datadog:{}", server.url("/"));
        let env = [("DD_API_KEY", key)];
        let run = open_incident(&dm, &env, &sink, &format!("INC-{status}-a"));
        run.assert_ok();
        assert_eq!(server.requests().len(), 1, "a {status} is never retried");
        assert!(run.stderr.contains(&format!("HTTP {status}")), "{run:#?}");
        assert!(
            run.stderr.contains(if status == 403 {
                "Forbidden"
            } else {
                "invalid payload"
            }),
            "{run:#?}"
        );
        assert!(
            !run.stderr.contains(key) && !run.stdout.contains(key),
            "the key leaked: {run:#?}"
        );

        let strict = run_env(
            &dm,
            &env,
            &[
                "--strict",
                "--sink",
                &sink,
                "incident",
                "open",
                "--id",
                &format!("INC-{status}-b"),
                "--service",
                "api",
            ],
        );
        strict.assert_no_panic();
        assert_eq!(strict.code, 5, "{strict:#?}");
    }
    // No key at all: a configuration error before anything is stored (see
    // datadog_without_dd_api_key_is_refused_before_anything_is_stored).
    let server = Server::start(|_| Reply::ok());
    let run = open_incident(
        &dm,
        &[],
        &format!("datadog:{}", server.url("")),
        "INC-nokey",
    );
    run.assert_usage_error("DD_API_KEY is not set");
    assert!(server.requests().is_empty());
}

// --------------------------------------------------------------- webhook

#[test]
fn webhook_posts_signed_events_of_every_kind() {
    let dm = Dm::default();
    let secret = "whsec-test-5ecret";
    let server = Server::start(move |req| {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&req.body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if req.header("x-dorameter-signature") == Some(&format!("sha256={hex}")) {
            Reply::ok()
        } else {
            Reply::status(401, "bad signature")
        }
    });
    let sink = format!("webhook:{}", server.url("/hooks/dora"));
    let env = [("DORAMETER_WEBHOOK_SECRET", secret)];
    let mut repo = Repo::new();
    repo.commit_at("one", at(0, 9, 0));
    let repo_path = repo.path.display().to_string();
    let d = deploy_via(
        &dm,
        &env,
        &sink,
        &repo_path,
        "api",
        &["--id", "deploy-0001"],
    );
    d.assert_ok();
    open_incident(&dm, &env, &sink, "INC-7").assert_ok();
    let junit = dm.dir.path().join("report.xml");
    std::fs::write(
        &junit,
        r#"<testsuite name="s"><testcase classname="a" name="b"/></testsuite>"#,
    )
    .unwrap();
    run_sink(
        &dm,
        &env,
        &sink,
        &[
            "junit",
            junit.to_str().unwrap(),
            "--service",
            "api",
            "--id",
            "run-1",
        ],
    )
    .assert_ok();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    let kinds: Vec<(String, String)> = reqs
        .iter()
        .map(|r| {
            assert_eq!(r.path, "/hooks/dora");
            let b = r.json();
            assert_eq!(
                b.as_object().unwrap().len(),
                3,
                "exactly type, id, data: {b}"
            );
            assert_eq!(b["data"]["id"], b["id"]);
            (
                b["type"].as_str().unwrap().to_string(),
                b["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("deployment".into(), "deploy-0001".into()),
            ("incident".into(), "INC-7".into()),
            ("test_run".into(), "run-1".into())
        ]
    );
    assert_eq!(reqs[0].json()["data"]["service"], "api");
    assert_eq!(reqs[2].json()["data"]["tests"], 1);
    assert!(!d.stderr.contains(secret));

    // Re-running the same deploy sends nothing twice: the spool acknowledged it.
    deploy_via(
        &dm,
        &env,
        &sink,
        &repo_path,
        "api",
        &["--id", "deploy-0001"],
    )
    .assert_ok();
    assert_eq!(server.requests().len(), 3);
    // A wrong secret is a 401 from the receiver: reported, not retried.
    let bad = run_sink(
        &dm,
        &[("DORAMETER_WEBHOOK_SECRET", "wrong-secret")],
        &sink,
        &["incident", "open", "--id", "INC-8", "--service", "api"],
    );
    bad.assert_ok();
    assert!(bad.stderr.contains("HTTP 401"), "{bad:#?}");
    assert!(!bad.stderr.contains("wrong-secret"));
}

#[test]
fn invalid_sinks_are_usage_errors() {
    let dm = Dm::default();
    for spec in [
        "webhook:not a url",
        "webhook",
        "kafka:localhost:9092",
        "webhook:ftp://x.example.com/h",
        "devlake:",
    ] {
        let run = run_sink(
            &dm,
            &[],
            spec,
            &["incident", "open", "--id", "INC-1", "--service", "api"],
        );
        run.assert_usage_error("webhook:URL");
    }
    let run = run_env(
        &dm,
        &[("DORAMETER_SINKS", "datadog,webhook:http//oops")],
        &["incident", "open", "--id", "INC-1", "--service", "api"],
    );
    run.assert_usage_error("webhook:URL");
    let run = run_sink(
        &dm,
        &[("DORAMETER_SINK_TIMEOUT", "soon")],
        "datadog",
        &["incident", "open", "--id", "INC-1", "--service", "api"],
    );
    run.assert_usage_error("DORAMETER_SINK_TIMEOUT");
    // Nothing was stored by the refused commands.
    assert!(dm.has_no_events("api"));
    // Credentials in a refused URL are not echoed.
    let run = run_sink(
        &dm,
        &[],
        "webhook:ftp://bob:hunter2@x.example.com/",
        &["flush"],
    );
    run.assert_usage_error("webhook:URL");
    assert!(!run.stderr.contains("hunter2"), "{run:#?}");
}

#[test]
fn credentials_in_sink_urls_never_printed_or_spooled() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::status(500, "boom"));
    let sink = format!(
        "webhook:http://bob:pa55word@{}/hook?token=t0ken-value",
        server.addr
    );
    let run = run_env(
        &dm,
        &[("DORAMETER_SINK_RETRIES", "1")],
        &[
            "-v",
            "--sink",
            &sink,
            "incident",
            "open",
            "--id",
            "INC-9",
            "--service",
            "api",
        ],
    );
    run.assert_ok();
    assert!(run.stderr.contains("HTTP 500"), "{run:#?}");
    assert!(run.stderr.contains("***@"), "{run:#?}");
    for secret in ["pa55word", "t0ken-value"] {
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "{secret} leaked: {run:#?}"
        );
        for f in ["events.log", "acks.log"] {
            let bytes = std::fs::read(dm.dir.path().join("spool").join(f)).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{secret} in {f}"
            );
        }
    }
    assert_eq!(server.requests().len(), 2, "first attempt + 1 retry");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Basic Ym9iOnBhNTV3b3Jk")
    );
}

#[test]
fn retry_after_is_honoured() {
    let dm = Dm::default();
    let n = Arc::new(AtomicU64::new(0));
    let n2 = n.clone();
    let server = Server::start(move |_| {
        if n2.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::Status(429, vec![("Retry-After".into(), "1".into())], "{}".into())
        } else {
            Reply::ok()
        }
    });
    let sink = format!("webhook:{}", server.url("/h"));
    let run = run_sink(
        &dm,
        &[("DORAMETER_SINK_MAX_DELAY", "30s")],
        &sink,
        &["incident", "open", "--id", "INC-1", "--service", "api"],
    );
    run.assert_ok();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at - reqs[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert!(run.stderr.is_empty(), "{run:#?}");
}

// --------------------------------------------------------------- devlake

#[test]
fn devlake_receives_deployments_and_incident_issues() {
    let dm = Dm::default();
    let server = Server::start(|req| {
        if req.header("authorization") != Some("Bearer lake-api-key") {
            return Reply::status(401, "unauthorized");
        }
        Reply::ok()
    });
    let sink = format!(
        "devlake:{}",
        server.url("/api/rest/plugins/webhook/connections/3")
    );
    let env = [("DORAMETER_DEVLAKE_TOKEN", "lake-api-key")];
    let mut repo = Repo::new();
    repo.git(
        &["remote", "add", "origin", "https://github.com/org/shop.git"],
        at(0, 0, 0),
    );
    let sha = repo.commit_at("one", at(0, 9, 0));
    let repo_path = repo.path.display().to_string();
    deploy_via(
        &dm,
        &env,
        &sink,
        &repo_path,
        "shop",
        &[
            "--env",
            "staging",
            "--id",
            "dep-42",
            "--started-at",
            "2026-03-02T09:55:00Z",
            "--finished-at",
            "2026-03-02T10:00:00Z",
        ],
    )
    .assert_ok();
    open_incident(&dm, &env, &sink, "INC-5").assert_ok();
    run_sink(
        &dm,
        &env,
        &sink,
        &[
            "incident",
            "resolve",
            "--id",
            "INC-5",
            "--resolved-at",
            "2026-04-01T10:30:00Z",
        ],
    )
    .assert_ok();

    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/rest/plugins/webhook/connections/3/deployments",
            "/api/rest/plugins/webhook/connections/3/issues",
            "/api/rest/plugins/webhook/connections/3/issues"
        ]
    );
    let d = reqs[0].json();
    assert_eq!(d["id"], "dep-42");
    assert_eq!(d["environment"], "STAGING");
    assert_eq!(d["originalEnvironment"], "staging");
    assert_eq!(d["result"], "SUCCESS");
    assert_eq!(d["startedDate"], "2026-03-02T09:55:00Z");
    assert_eq!(d["finishedDate"], "2026-03-02T10:00:00Z");
    let c = &d["deploymentCommits"][0];
    assert_eq!(c["repoUrl"], "https://github.com/org/shop");
    assert_eq!(c["commitSha"], sha.as_str());
    assert!(c["startedDate"].is_string() && c["finishedDate"].is_string());
    let open = reqs[1].json();
    assert_eq!(open["issueKey"], "INC-5");
    assert_eq!(open["type"], "INCIDENT");
    assert_eq!(open["status"], "IN_PROGRESS");
    assert!(open["title"].is_string() && open["originalStatus"].is_string());
    assert_eq!(open["createdDate"], "2026-04-01T10:00:00Z");
    assert!(open.get("resolutionDate").is_none());
    let resolved = reqs[2].json();
    assert_eq!(resolved["status"], "DONE");
    assert_eq!(resolved["resolutionDate"], "2026-04-01T10:30:00Z");
    assert_eq!(resolved["leadTimeMinutes"], 30);
}

/// DevLake attributes every `INCIDENT` issue to the last production
/// deployment: an infra incident sent as one becomes a change failure that
/// dorameter's own report excludes. It is not sent, and `-v` says why.
#[test]
fn infra_incidents_are_not_sent_to_devlake() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!(
        "devlake:{}",
        server.url("/api/rest/plugins/webhook/connections/3")
    );
    for (id, cause) in [("INC-infra", "infra"), ("INC-deploy", "deploy")] {
        let run = run_sink(
            &dm,
            &[],
            &sink,
            &[
                "-v",
                "incident",
                "open",
                "--id",
                id,
                "--service",
                "api",
                "--cause",
                cause,
                "--started-at",
                "2026-04-01T10:00:00Z",
            ],
        );
        run.assert_ok();
        if cause == "infra" {
            assert!(
                run.stderr
                    .contains("not applicable: an infra incident is not sent"),
                "{run:#?}"
            );
        }
    }
    run_sink(
        &dm,
        &[],
        &sink,
        &[
            "incident",
            "resolve",
            "--id",
            "INC-infra",
            "--resolved-at",
            "2026-04-01T11:00:00Z",
        ],
    )
    .assert_ok();
    let keys: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.json()["issueKey"].clone())
        .collect();
    assert_eq!(keys, [Value::from("INC-deploy")]);
    // Acknowledged as not applicable: nothing waits in the spool.
    let flush = run_sink(&dm, &[], &sink, &["flush"]);
    flush.assert_ok();
    let sinks = &flush.json()["sinks"][0];
    assert_eq!(sinks["pending"], 0, "{flush:#?}");
    assert_eq!(server.requests().len(), 1);
}

/// A GitLab CI deploy job's variables (a branch pipeline on `main`).
fn gitlab_job<'a>(sha: &'a str, project_url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_SHA", sha),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_PROJECT_ID", "42"),
        ("CI_PROJECT_NAME", "api"),
        ("CI_PROJECT_PATH", "acme/api"),
        ("CI_PROJECT_URL", project_url),
        ("CI_PIPELINE_ID", "900"),
        ("CI_JOB_ID", "901"),
        ("CI_JOB_NAME", "deploy"),
    ]
}

/// DevLake links a deployment to the previous one of the same `repoUrl`:
/// history backfilled from the origin remote (`git@host:acme/api.git`) and
/// a GitLab CI deployment (`CI_PROJECT_URL`) must name one repository, or
/// the backfilled history never connects.
#[test]
fn backfilled_and_ci_deployments_name_the_repository_alike() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!(
        "devlake:{}",
        server.url("/api/rest/plugins/webhook/connections/1")
    );
    let mut repo = Repo::new();
    repo.git(
        &[
            "remote",
            "add",
            "origin",
            "git@gitlab.example.com:acme/api.git",
        ],
        at(0, 0, 0),
    );
    for (i, tag) in ["v1", "v2"].iter().enumerate() {
        repo.commit_at(tag, at(i as i64, 9, 0));
        repo.tag(tag, at(i as i64, 10, 0));
    }
    let head = repo.commit_at("three", at(3, 9, 0));
    let repo_path = repo.path.display().to_string();
    run_sink(
        &dm,
        &[],
        &sink,
        &[
            "backfill",
            "--from-tags",
            "v*",
            "--repo",
            &repo_path,
            "--service",
            "api",
        ],
    )
    .assert_ok();
    let mut env = gitlab_job(&head, "https://gitlab.example.com/acme/api/");
    env.extend(FAST.iter().copied());
    dm.run_with_env(
        &env,
        &[
            "--sink",
            &sink,
            "deploy",
            "--repo",
            &repo_path,
            "--env",
            "production",
        ],
    )
    .assert_ok();

    let urls: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.json()["deploymentCommits"][0]["repoUrl"].clone())
        .collect();
    assert_eq!(
        urls,
        vec![Value::from("https://gitlab.example.com/acme/api"); 3],
        "two backfilled tags and one CI deployment"
    );
    let db = rusqlite::Connection::open(dm.store_path()).unwrap();
    let stored: Vec<String> = db
        .prepare("SELECT DISTINCT repository_url FROM deployments")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored, ["https://gitlab.example.com/acme/api"]);
}

/// DevLake's `refName` is the branch the pipeline built (a tag pipeline's
/// tag), never the `--version` label it used to carry.
#[test]
fn devlake_ref_name_is_the_ci_branch_not_the_version() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!(
        "devlake:{}",
        server.url("/api/rest/plugins/webhook/connections/1")
    );
    let mut repo = Repo::new();
    let one = repo.commit_at("one", at(0, 9, 0));
    let two = repo.commit_at("two", at(1, 9, 0));
    let three = repo.commit_at("three", at(2, 9, 0));
    let repo_path = repo.path.display().to_string();
    let deploy = |env: &[(&str, &str)], args: &[&str]| {
        let mut all = vec!["--sink", sink.as_str(), "deploy", "--repo", &repo_path];
        all.extend_from_slice(args);
        let env: Vec<(&str, &str)> = FAST.iter().chain(env).copied().collect();
        dm.run_with_env(&env, &all).assert_ok();
    };
    // GitLab: a branch pipeline on `main`, to an env DevLake must count.
    let gitlab = gitlab_job(&one, "https://gitlab.example.com/acme/api");
    deploy(&gitlab, &["--version", "1.4.2", "--env", "live-eu"]);
    // A retried job reads its deployment back from the store, ref and all:
    // the same event, so nothing is sent again.
    deploy(&gitlab, &["--version", "1.4.2", "--env", "live-eu"]);
    assert_eq!(server.requests().len(), 1);
    // GitHub Actions: a push to a release branch.
    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_SHA", two.as_str()),
        ("GITHUB_REF", "refs/heads/release/2.x"),
        ("GITHUB_REF_NAME", "release/2.x"),
        ("GITHUB_RUN_ID", "77"),
        ("GITHUB_JOB", "deploy"),
    ];
    deploy(&github, &["--version", "2.0.0", "--env", "production"]);
    // GitLab: a tag pipeline has no branch; its ref is the tag.
    let mut tag = gitlab_job(&three, "https://gitlab.example.com/acme/api");
    tag.retain(|(k, _)| *k != "CI_COMMIT_BRANCH" && *k != "CI_JOB_ID");
    tag.extend([
        ("CI_COMMIT_TAG", "v2.0.1"),
        ("CI_COMMIT_REF_NAME", "v2.0.1"),
        ("CI_JOB_ID", "902"),
    ]);
    deploy(&tag, &["--version", "2.0.1-build.7", "--env", "production"]);
    // Outside CI no ref is known: none is sent (DevLake's field is optional).
    deploy(
        &[],
        &["--sha", &one, "--env", "staging", "--version", "1.4.2"],
    );

    let bodies: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
    let refs: Vec<&Value> = bodies
        .iter()
        .map(|b| &b["deploymentCommits"][0]["refName"])
        .collect();
    assert_eq!(
        refs,
        [
            &Value::from("main"),
            &Value::from("release/2.x"),
            &Value::from("v2.0.1"),
            &Value::Null
        ],
        "{bodies:#?}"
    );
    assert_eq!(bodies[0]["environment"], "PRODUCTION", "live-eu");
    assert_eq!(bodies[0]["originalEnvironment"], "live-eu");
    let db = rusqlite::Connection::open(dm.store_path()).unwrap();
    let stored: Vec<Option<String>> = db
        .prepare("SELECT ref_name FROM deployments ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        stored,
        [Some("main"), Some("release/2.x"), Some("v2.0.1"), None].map(|r| r.map(String::from))
    );
    // The version label stays in the title.
    assert!(
        bodies[0]["displayTitle"]
            .as_str()
            .unwrap()
            .contains("1.4.2"),
        "{:#?}",
        bodies[0]
    );
}

/// A sink that accepts connections and never answers used to cost every
/// event command 10 s × 4 attempts. The delivery budget bounds the wait;
/// what was not delivered waits in the spool, and a later flush delivers it
/// exactly once.
#[test]
fn a_hanging_sink_costs_at_most_the_delivery_budget() {
    let dm = Dm::default();
    let hang = Arc::new(AtomicBool::new(true));
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let (h, a) = (hang.clone(), accepted.clone());
    let server = Server::start(move |req| {
        if h.load(Ordering::SeqCst) {
            return Reply::Stall(Duration::from_secs(120));
        }
        a.lock()
            .unwrap()
            .push(req.json()["id"].as_str().unwrap().to_string());
        Reply::ok()
    });
    let sink = format!("webhook:{}", server.url("/hook"));
    // The default per-attempt timeout (10 s) and retries (3): only the budget
    // stands between the deploy job and a 43 s wait.
    let budget = [("DORAMETER_SINK_BUDGET", "2s")];
    let start = Instant::now();
    let run = dm.run_with_env(
        &budget,
        &[
            "--sink",
            &sink,
            "incident",
            "open",
            "--id",
            "INC-1",
            "--service",
            "api",
            "--started-at",
            "2026-04-01T10:00:00Z",
        ],
    );
    let took = start.elapsed();
    run.assert_ok();
    assert!(took < Duration::from_secs(6), "took {took:?}: {run:#?}");
    assert!(
        run.stderr
            .contains("delivery budget of 2s (DORAMETER_SINK_BUDGET) ran out"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("kept in the spool"), "{run:#?}");
    assert!(!server.requests().is_empty(), "the sink was tried");

    hang.store(false, Ordering::SeqCst);
    let flush = run_sink(&dm, &[], &sink, &["flush"]);
    flush.assert_ok();
    assert_eq!(flush.json()["sinks"][0]["delivered"], 1, "{flush:#?}");
    run_sink(&dm, &[], &sink, &["flush"]).assert_ok();
    assert_eq!(*accepted.lock().unwrap(), ["INC-1"], "once, never twice");
}

/// `DORAMETER_SINK_BUDGET` is a duration with its unit: `15` is refused
/// before anything is stored, naming the variable and the fix.
#[test]
fn a_sink_budget_without_a_unit_is_a_usage_error() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!("webhook:{}", server.url("/hook"));
    let run = dm.run_with_env(
        &[("DORAMETER_SINK_BUDGET", "15")],
        &[
            "--sink",
            &sink,
            "incident",
            "open",
            "--id",
            "INC-1",
            "--service",
            "api",
        ],
    );
    run.assert_usage_error("DORAMETER_SINK_BUDGET");
    assert!(run.stderr.contains("15s"), "{run:#?}");
    assert!(server.requests().is_empty());
    assert!(dm.has_no_events("api"));
}

/// A `datadog` sink without `DD_API_KEY` can never deliver: a configuration
/// error (exit 2) naming the variable and how to set it, before anything is
/// stored or spooled, instead of an event spooled to fail on every run.
#[test]
fn datadog_without_dd_api_key_is_refused_before_anything_is_stored() {
    let dm = Dm::default();
    let server = datadog_server("k");
    let sink = format!("datadog:{}", server.url(""));
    let mut repo = Repo::new();
    repo.commit_at("one", at(0, 9, 0));
    repo.tag("v1", at(0, 10, 0));
    let repo_path = repo.path.display().to_string();
    let spool = dm.dir.path().join("spool");
    let spool_env = spool.display().to_string();
    let env = [("DORAMETER_SPOOL", spool_env.as_str())];
    for (key, args) in [
        (
            None,
            vec!["deploy", "--repo", &repo_path, "--service", "api"],
        ),
        (
            None,
            vec!["incident", "open", "--id", "INC-1", "--service", "api"],
        ),
        (
            None,
            vec![
                "backfill",
                "--from-tags",
                "v*",
                "--repo",
                &repo_path,
                "--service",
                "api",
            ],
        ),
        (None, vec!["flush"]),
        (
            Some("   "),
            vec!["incident", "open", "--id", "INC-1", "--service", "api"],
        ),
        (
            Some("bad\u{7}key"),
            vec!["deploy", "--repo", &repo_path, "--service", "api"],
        ),
    ] {
        let mut env = env.to_vec();
        if let Some(k) = key {
            env.push(("DD_API_KEY", k));
        }
        let run = run_sink(&dm, &env, &sink, &args);
        run.assert_usage_error("DD_API_KEY");
        assert!(run.stderr.contains("hint: set DD_API_KEY"), "{run:#?}");
        assert!(!run.stderr.contains("bad\u{7}key"), "{run:#?}");
    }
    assert!(dm.has_no_events("api"), "nothing recorded half-way");
    assert!(!spool.join("events.log").exists(), "nothing spooled");
    assert!(server.requests().is_empty());
    // `deploy --dry-run` sends nothing: not refused.
    run_sink(
        &dm,
        &env,
        &sink,
        &[
            "deploy",
            "--dry-run",
            "--repo",
            &repo_path,
            "--service",
            "api",
        ],
    )
    .assert_ok();
}

// ----------------------------------------------------------- reliability

/// Deterministic per-request fault choice.
fn roll(n: u64) -> u64 {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 29)) % 100
}

/// What the fault-injecting receiver stored under one `Idempotency-Key`.
#[derive(Default)]
struct Stored {
    id: String,
    body: Vec<u8>,
    /// Times it was stored, answered or not.
    times: u32,
    /// Stored, then not answered before the client's timeout.
    unanswered: u32,
    /// The last time it was stored, the receiver answered 200 at once.
    last_answered: bool,
    /// A copy came with another body.
    other_body: bool,
}

/// What the fault-injecting receiver stored.
#[derive(Default)]
struct Received {
    by_key: HashMap<String, Stored>,
    /// Copies stored per event id, whatever their key.
    by_id: HashMap<String, u32>,
}

/// Events the receiver stores and leaves unanswered 5 times, as many
/// attempts as one run makes: a later process must send them again.
fn held(id: &str) -> bool {
    id.ends_with("57")
}

/// The `delivered` count of a `-v` event command's summary line for its one
/// sink (`sink NAME: N delivered, …`).
fn delivered_per_v(run: &Run) -> u64 {
    let counts: Vec<u64> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("sink ")?.split_once(" delivered, "))
        .map(|(head, _)| head.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 1, "one summary line: {run:#?}");
    counts[0]
}

/// 1,000 events from 4 concurrent writers sharing one spool, through a
/// receiver that fails ~34 % of requests and is down for a fifth of them,
/// arrive exactly once per id as docs/sinks.md promises ("Once per id"):
///
/// - nothing is lost: every id is stored;
/// - every copy of an event carries the same `Idempotency-Key` and body, so
///   a receiver deduping on the key (as Datadog and DevLake do on the id)
///   keeps each event exactly once;
/// - dorameter re-sends only what it could not confirm: the runs report
///   exactly 1,000 deliveries in all (an acknowledged record is never sent
///   again, and no two processes send one record), and a request stored but
///   not answered in time is always sent again.
///
/// A copy the receiver stores twice is not a failure by itself: an answer
/// that comes after the client's timeout cannot be told from a lost
/// request. The receiver injects that fault (4 % of requests, and the first
/// 5 copies of 8 events, which another process must then send), and a
/// loaded machine adds its own (a client descheduled past its 100 ms timeout
/// after the 200 was sent), which made this test fail when it counted raw
/// copies per id.
#[test]
fn faults_and_an_outage_deliver_every_id_exactly_once() {
    let dm = Arc::new(Dm::default());
    let received: Arc<Mutex<Received>> = Arc::default();
    let outage = Arc::new(AtomicBool::new(false));
    let outage_requests = Arc::new(AtomicU64::new(0));
    let faults = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    // When each 429 (`Retry-After: 1`) was sent, by key.
    let throttled: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let server = {
        let (received, outage, outage_requests, faults, seen, throttled) = (
            received.clone(),
            outage.clone(),
            outage_requests.clone(),
            faults.clone(),
            seen.clone(),
            throttled.clone(),
        );
        Server::start(move |req| {
            if outage.load(Ordering::SeqCst) {
                outage_requests.fetch_add(1, Ordering::SeqCst);
                return Reply::status(503, "maintenance");
            }
            let key = req
                .header("idempotency-key")
                .expect("an Idempotency-Key header")
                .to_string();
            let id = req.json()["id"].as_str().unwrap().to_string();
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let mut received = received.lock().unwrap();
            let copies = received.by_id.get(&id).copied().unwrap_or(0);
            let (store, reply) = match roll(n) {
                _ if held(&id) && copies < 5 => (true, Reply::Stall(Duration::from_millis(250))),
                0..10 => (false, Reply::status(500, "internal error")),
                10..18 => {
                    throttled.lock().unwrap().push((key.clone(), req.at));
                    let retry_after = vec![("Retry-After".into(), "1".into())];
                    (false, Reply::Status(429, retry_after, "{}".into()))
                }
                18..24 => (false, Reply::Drop),
                24..30 => (false, Reply::Stall(Duration::from_millis(250))),
                // Stored, but answered only after the client gave up.
                30..34 => (true, Reply::Stall(Duration::from_millis(250))),
                _ => (true, Reply::ok()),
            };
            let answered = matches!(reply, Reply::Status(200, ..));
            if !answered {
                faults.fetch_add(1, Ordering::SeqCst);
            }
            if store {
                *received.by_id.entry(id.clone()).or_default() += 1;
                let s = received.by_key.entry(key).or_default();
                if s.times == 0 {
                    s.id = id;
                    s.body = req.body.clone();
                }
                s.other_body |= s.body != req.body;
                s.times += 1;
                s.unanswered += u32::from(!answered);
                s.last_answered = answered;
            }
            reply
        })
    };
    let sink = format!("webhook:{}", server.url("/ingest"));
    let env: &[(&str, &str)] = &[
        ("DORAMETER_SINK_TIMEOUT", "100ms"),
        ("DORAMETER_SINK_RETRIES", "4"),
        ("DORAMETER_SINK_CONCURRENCY", "8"),
    ];
    let started = Arc::new(AtomicU64::new(0));
    let confirmed = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (dm, sink, started, outage, confirmed) = (
                dm.clone(),
                sink.clone(),
                started.clone(),
                outage.clone(),
                confirmed.clone(),
            );
            s.spawn(move || {
                for i in 0..250 {
                    let n = started.fetch_add(1, Ordering::SeqCst);
                    if n == 350 {
                        outage.store(true, Ordering::SeqCst);
                    } else if n == 550 {
                        outage.store(false, Ordering::SeqCst);
                    }
                    let id = format!("INC-{t}-{i:03}");
                    let run = run_sink(
                        &dm,
                        env,
                        &sink,
                        &[
                            "-v",
                            "incident",
                            "open",
                            "--id",
                            &id,
                            "--service",
                            "api",
                            "--started-at",
                            "2026-04-01T10:00:00Z",
                        ],
                    );
                    run.assert_ok();
                    confirmed.fetch_add(delivered_per_v(&run), Ordering::SeqCst);
                }
            });
        }
    });
    let recorded = t0.elapsed();
    let mut flushes = 0;
    loop {
        flushes += 1;
        let report = run_sink(&dm, env, &sink, &["flush"]).json();
        confirmed.fetch_add(
            report["sinks"][0]["delivered"].as_u64().unwrap(),
            Ordering::SeqCst,
        );
        if report["sinks"][0]["pending"] == 0 {
            break;
        }
        assert!(flushes < 20, "the spool does not drain: {report}");
    }
    let f = faults.load(Ordering::SeqCst);
    let total = seen.load(Ordering::SeqCst);
    let how = format!(
        "{f} injected faults of {total} requests, {} during the outage; recording took {recorded:?}, then {flushes} flush(es)",
        outage_requests.load(Ordering::SeqCst)
    );

    let received = received.lock().unwrap();
    let stored = &received.by_key;
    // Nothing lost; one key per event, so a receiver deduping on it keeps
    // each event exactly once.
    let mut keys_by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for (key, s) in stored.iter() {
        keys_by_id.entry(&s.id).or_default().push(key);
    }
    let expected: BTreeSet<String> = (0..4)
        .flat_map(|t| (0..250).map(move |i| format!("INC-{t}-{i:03}")))
        .collect();
    let got: BTreeSet<String> = keys_by_id.keys().map(|s| s.to_string()).collect();
    assert_eq!(
        got.len(),
        1000,
        "missing: {:?}",
        expected.difference(&got).take(5).collect::<Vec<_>>()
    );
    assert_eq!(got, expected);
    let split: Vec<_> = keys_by_id.iter().filter(|(_, k)| k.len() > 1).collect();
    assert!(split.is_empty(), "one event under several keys: {split:?}");
    let changed: Vec<_> = stored.iter().filter(|(_, s)| s.other_body).collect();
    assert!(
        changed.is_empty(),
        "one key, two bodies: {:?}",
        changed.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    // Re-sent only what was not confirmed: every record acknowledged once,
    // and nothing acknowledged that was not answered.
    assert_eq!(
        confirmed.load(Ordering::SeqCst),
        1000,
        "deliveries the runs confirmed ({how})"
    );
    let unconfirmed: Vec<_> = stored
        .iter()
        .filter(|(_, s)| !s.last_answered)
        .map(|(k, _)| k)
        .collect();
    assert!(
        unconfirmed.is_empty(),
        "acknowledged without a 200: {unconfirmed:?}"
    );
    let unanswered: u32 = stored.values().map(|s| s.unanswered).sum();
    let copies: u32 = stored.values().map(|s| s.times).sum();
    assert!(unanswered > 0, "the fault was injected ({how})");
    assert!(copies >= 1000 + unanswered, "{copies} copies ({how})");
    let held_back: Vec<_> = received.by_id.iter().filter(|(id, _)| held(id)).collect();
    assert_eq!(held_back.len(), 8);
    assert!(
        held_back.iter().all(|(_, n)| **n > 5),
        "held events were sent again by a later process: {held_back:?}"
    );

    // The faults cost little time, whatever the machine's load (a wall-clock
    // limit failed on a busy runner): the outage trips the breaker, so each
    // command that overlaps it tries at most 8 records × 5 attempts (the 200
    // started in it, and up to 3 others at either end), and `Retry-After: 1`
    // waits at most DORAMETER_SINK_MAX_DELAY (20ms).
    assert!(f * 100 / total >= 30, "fault rate: {how}");
    assert!(
        outage_requests.load(Ordering::SeqCst) <= (200 + 2 * 3) * 8 * 5,
        "the breaker did not stop the outage's retries: {how}"
    );
    let requests = server.requests();
    let mut waits: Vec<Duration> = throttled
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(key, at)| {
            requests
                .iter()
                .filter(|r| r.header("idempotency-key") == Some(key) && r.at > *at)
                .map(|r| r.at - *at)
                .min()
        })
        .collect();
    waits.sort();
    assert!(!waits.is_empty(), "429s were answered ({how})");
    let median = waits[waits.len() / 2];
    assert!(
        median < Duration::from_millis(500),
        "Retry-After not capped: median wait {median:?} ({how})"
    );
}

fn incident_event(id: &str) -> dorameter::sink::SinkEvent {
    dorameter::sink::SinkEvent::Incident(dorameter::event::Incident {
        id: id.into(),
        services: vec!["api".into()],
        env: "production".into(),
        started_at: chrono::DateTime::from_timestamp(1_775_000_000, 0).unwrap(),
        detected_at: None,
        resolved_at: None,
        severity: Some("SEV-3".into()),
        title: Some(format!("backlog {id}")),
        cause: dorameter::event::IncidentCause::Unknown,
        deployment_id: None,
        deployment_sha: None,
    })
}

/// Spools `ids` for `sink` through the library, as a past outage would have.
fn prefill(dir: &Path, sink: &str, ids: &[String]) {
    let spec =
        dorameter::sink::SinkSpec::parse(sink, &dorameter::sink::SinkEnv::default()).unwrap();
    let now = chrono::Utc::now();
    let mut spool = dorameter::sink::Spool::open(dir).expect("open spool");
    let records = ids
        .iter()
        .map(|id| dorameter::sink::Record::new(spec.key(), incident_event(id), now))
        .collect();
    spool.append(records).expect("append");
}

#[test]
fn kill_9_during_delivery_never_corrupts_or_loses_the_spool() {
    let dm = Dm::default();
    let accepted: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let server = {
        let accepted = accepted.clone();
        Server::start(move |req| {
            std::thread::sleep(Duration::from_millis(2));
            let id = req.json()["id"].as_str().unwrap().to_string();
            *accepted.lock().unwrap().entry(id).or_default() += 1;
            Reply::ok()
        })
    };
    let sink = format!("webhook:{}", server.url("/k"));
    let spool = dm.dir.path().join("spool");
    let mut must_arrive: BTreeSet<String> = BTreeSet::new();
    let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ u64::from(std::process::id());
    let mut kills = 0;
    for round in 0..24 {
        let ids: Vec<String> = (0..120).map(|i| format!("BK-{round:02}-{i:02}")).collect();
        prefill(&spool, &sink, &ids);
        must_arrive.extend(ids);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % 70_000);
        let own = format!("KILL-{round:02}");
        let args: Vec<&str> = if round % 2 == 0 {
            vec!["--sink", &sink, "flush"]
        } else {
            vec![
                "--sink",
                &sink,
                "incident",
                "open",
                "--id",
                &own,
                "--service",
                "api",
            ]
        };
        let mut cmd: Command = dm.command(&args);
        cmd.env("DORAMETER_SINK_CONCURRENCY", "4")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("spawn");
        std::thread::sleep(delay);
        let finished = matches!(child.try_wait(), Ok(Some(_)));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !finished && !status.success() {
            kills += 1;
        } else if round % 2 == 1 {
            must_arrive.insert(own);
        }
        let s = dorameter::sink::Spool::open(&spool).expect("the spool opens after kill -9");
        assert_eq!(s.health.corrupt_records, 0, "round {round}: {:?}", s.health);
        assert_eq!(
            s.health.unreadable_records, 0,
            "round {round}: {:?}",
            s.health
        );
    }
    assert!(kills >= 8, "only {kills} runs were killed mid-flight");
    let report = dm.json(&["--sink", &sink, "flush"]);
    assert_eq!(report["sinks"][0]["pending"], 0, "{report}");
    assert_eq!(report["corrupt_records"], 0, "{report}");
    let accepted = accepted.lock().unwrap();
    let missing: Vec<&String> = must_arrive
        .iter()
        .filter(|id| !accepted.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "lost after kill -9: {missing:?}");
}

#[test]
fn a_spool_from_a_newer_version_is_refused_and_kept() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!("webhook:{}", server.url("/n"));
    let spool = dm.dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let mut bytes = b"DMSPOOL\n".to_vec();
    bytes.extend_from_slice(&9u32.to_le_bytes());
    bytes.extend_from_slice(b"records in a future format");
    std::fs::write(spool.join("events.log"), &bytes).unwrap();

    let flush = run_sink(&dm, &[], &sink, &["flush"]);
    flush.assert_usage_error("newer dorameter");
    assert!(flush.stderr.contains("hint:"), "{flush:#?}");
    // An event command still records and sends its event, and says so.
    let run = open_incident(&dm, &[], &sink, "INC-new");
    run.assert_ok();
    assert!(run.stderr.contains("newer dorameter"), "{run:#?}");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        std::fs::read(spool.join("events.log")).unwrap(),
        bytes,
        "the newer spool is untouched"
    );
}

#[test]
fn flush_without_sinks_reports_what_waits() {
    let dm = Dm::default();
    let run = run_env(&dm, &[], &["flush"]);
    assert_eq!(run.json()["sinks"], serde_json::json!([]));
    let down = Server::start(|_| Reply::status(503, "down"));
    let sink = format!("webhook:{}", down.url("/x"));
    open_incident(&dm, &[("DORAMETER_SINK_RETRIES", "0")], &sink, "INC-1").assert_ok();
    let run = run_env(&dm, &[], &["flush"]);
    let report = run.json();
    assert_eq!(report["unconfigured"][0]["pending"], 1, "{report}");
    assert!(run.stderr.contains("no sink configured"), "{run:#?}");
    let strict = run_env(&dm, &[], &["--strict", "flush"]);
    assert_eq!(strict.code, 5, "{strict:#?}");
}

/// Records for a sink that no longer exists used to wait forever (every
/// `flush` listing them, `--strict` exiting 5). `flush --drop SINK` removes
/// them, saying how many, and never touches a configured sink's records.
#[test]
fn flush_drop_removes_the_records_of_a_sink_that_no_longer_exists() {
    let dm = Dm::default();
    let old = Server::start(|_| Reply::status(503, "down"));
    let new = Server::start(|_| Reply::ok());
    let old_sink = format!("webhook:{}", old.url("/old?token=s3cret-t0ken"));
    let new_sink = format!("webhook:{}", new.url("/new"));
    let retries = [("DORAMETER_SINK_RETRIES", "0")];
    open_incident(&dm, &retries, &old_sink, "INC-1").assert_ok();
    open_incident(&dm, &retries, &old_sink, "INC-2").assert_ok();
    // The name `flush` lists for the old sink: redacted, no token.
    let listed = run_env(&dm, &[], &["flush"]).json();
    let name = listed["unconfigured"][0]["sink"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(listed["unconfigured"][0]["pending"], 2, "{listed}");
    assert!(!name.contains("s3cret"), "{name}");

    // A name nothing waits for: exit 4, naming what does wait.
    let typo = run_sink(
        &dm,
        &[],
        &new_sink,
        &["flush", "--drop", "webhook:http://nowhere/x"],
    );
    assert_eq!(typo.code, 4, "{typo:#?}");
    assert!(typo.stderr.contains(&name), "{typo:#?}");
    // A sink this run sends to is never dropped.
    let live = run_sink(&dm, &[], &old_sink, &["flush", "--drop", &old_sink]);
    live.assert_usage_error("configured");
    assert!(!live.stderr.contains("s3cret"), "{live:#?}");

    let old_requests = old.requests().len();
    let store = dm.store_url();
    let args = [
        "--store", &store, "--sink", &new_sink, "flush", "--drop", &name,
    ];
    let out = dm.raw_command(&args).output().unwrap();
    let run = Run::from_output(args.iter().map(|a| a.to_string()).collect(), out);
    run.assert_ok();
    assert!(
        run.stdout
            .contains(&format!("dropped 2 spooled records for {name}")),
        "{run:#?}"
    );
    let after = run_env(&dm, &[], &["--strict", "--sink", &new_sink, "flush"]);
    after.assert_ok();
    let report = after.json();
    assert_eq!(report["unconfigured"], serde_json::json!([]), "{report}");
    assert_eq!(
        old.requests().len(),
        old_requests,
        "nothing more sent to the old sink"
    );
    assert!(
        new.requests().is_empty(),
        "records are not moved to another sink"
    );
    // The spec itself works too (its exact records), and in JSON.
    open_incident(&dm, &retries, &old_sink, "INC-3").assert_ok();
    let json = run_env(&dm, &[], &["flush", "--drop", &old_sink]);
    json.assert_ok();
    assert_eq!(
        json.json()["dropped"],
        serde_json::json!([{"sink": name, "records": 1}])
    );
}

/// Backfilled history reaches the sinks like any recorded deployment: each
/// tag once, and a second backfill (which records nothing) sends nothing.
#[test]
fn backfill_sends_each_recorded_tag_once() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!("webhook:{}", server.url("/hooks"));
    let mut repo = Repo::new();
    for (i, tag) in ["v1", "v2", "v3"].iter().enumerate() {
        repo.commit_at(tag, at(i as i64, 9, 0));
        repo.tag(tag, at(i as i64, 10, 0));
    }
    let repo_path = repo.path.display().to_string();
    let args = [
        "--sink",
        &sink,
        "backfill",
        "--from-tags",
        "v*",
        "--repo",
        &repo_path,
        "--service",
        "api",
    ];
    run_env(&dm, &[], &args).assert_ok();
    let ids = |reqs: &[_]| -> Vec<String> {
        let reqs: &[crate::server::Req] = reqs;
        reqs.iter()
            .map(|r| r.json()["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let first = ids(&server.requests());
    assert_eq!(first.len(), 3, "{first:?}");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.json()["type"] == "deployment")
    );
    run_env(&dm, &[], &args).assert_ok();
    assert_eq!(
        ids(&server.requests()),
        first,
        "nothing new recorded, nothing sent"
    );
}

/// An unreachable store fails the command (exit 1), but the deployment still
/// reaches the sinks rather than being lost.
#[test]
fn unreachable_store_still_delivers_the_deployment_to_sinks() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!("webhook:{}", server.url("/hooks"));
    let mut repo = Repo::new();
    repo.commit_at("one", at(0, 9, 0));
    let repo_path = repo.path.display().to_string();
    let spool = dm.dir.path().join("spool");
    let spool_s = spool.display().to_string();
    // No `--format json`: run_env's command would add it.
    let args = [
        "--store",
        "postgres://dora:s3cret@127.0.0.1:1/dora",
        "--sink",
        &sink,
        "deploy",
        "--repo",
        &repo_path,
        "--service",
        "api",
        "--id",
        "deploy-when-store-down",
    ];
    let out = dm
        .raw_command(&args)
        .envs(FAST.iter().copied())
        .env("DORAMETER_SPOOL", &spool_s)
        .output()
        .unwrap();
    let run = Run::from_output(args.map(str::to_string).into(), out);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("store") && !run.stderr.contains("s3cret"),
        "{}",
        run.stderr
    );
    let got: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(got, ["deploy-when-store-down"]);
}

/// `sinks = [...]` in `.dorameter.toml` works when no flag or env var names a sink.
#[test]
fn sinks_from_the_config_file() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    std::fs::write(
        dm.dir.path().join("cwd").join(".dorameter.toml"),
        format!("sinks = [\"webhook:{}\"]\n", server.url("/hooks")),
    )
    .unwrap();
    let mut repo = Repo::new();
    repo.commit_at("one", at(0, 9, 0));
    let repo_path = repo.path.display().to_string();
    run_env(
        &dm,
        &[],
        &[
            "deploy",
            "--repo",
            &repo_path,
            "--service",
            "api",
            "--id",
            "from-config-0001",
        ],
    )
    .assert_ok();
    let ids: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, ["from-config-0001"]);
}

// ------------------------------------------------------------- CloudWatch

/// A stand-in CloudWatch: checks each request's SigV4 signature over what
/// arrived on the wire (the headers it names, the body), computed here
/// from AWS's description of the algorithm, and keeps the form bodies.
/// A request's form fields, in order.
type Form = Vec<(String, String)>;

/// A data point: name, unit, values, dimensions, timestamp.
type Point = (String, String, Vec<f64>, Vec<(String, String)>, String);

fn cloudwatch_stand_in(secret: &'static str) -> (Server, Arc<Mutex<Vec<Form>>>) {
    use sha2::Digest;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let server = Server::start(move |req| {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mac = |k: &[u8], d: &str| {
            let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(k).unwrap();
            hmac::Mac::update(&mut m, d.as_bytes());
            hmac::Mac::finalize(m).into_bytes().to_vec()
        };
        let auth = req.header("authorization").unwrap_or_default().to_string();
        let field = |name: &str| {
            auth.split([' ', ','])
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_string()
        };
        let (credential, signed, signature) = (
            field("Credential"),
            field("SignedHeaders"),
            field("Signature"),
        );
        let scope: Vec<&str> = credential
            .split_once('/')
            .map(|x| x.1)
            .unwrap_or_default()
            .split('/')
            .collect();
        if scope.len() != 4 || scope[2] != "monitoring" || !credential.starts_with("AKIDTEST/") {
            return Reply::status(
                403,
                &format!(
                    "<Error><Code>IncompleteSignature</Code><Message>{auth}</Message></Error>"
                ),
            );
        }
        let canonical_headers: String = signed
            .split(';')
            .map(|h| format!("{h}:{}\n", req.header(h).unwrap_or_default().trim()))
            .collect();
        let path = req.path.split('?').next().unwrap_or("/");
        let canonical = format!(
            "POST\n{path}\n\n{canonical_headers}\n{signed}\n{}",
            hex(&Sha256::digest(&req.body))
        );
        let date = req.header("x-amz-date").unwrap_or_default();
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{}\n{}",
            scope.join("/"),
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = format!("AWS4{secret}").into_bytes();
        for part in &scope {
            key = mac(&key, part);
        }
        if hex(&mac(&key, &to_sign)) != signature
            || !signed.split(';').any(|h| h == "host")
            || req.header("content-type")
                != Some("application/x-www-form-urlencoded; charset=utf-8")
        {
            return Reply::status(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>");
        }
        let form: Vec<(String, String)> =
            reqwest::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(&req.body)))
                .unwrap()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        kept.lock().unwrap().push(form);
        Reply::Status(
            200,
            vec![("content-type".into(), "text/xml".into())],
            "<PutMetricDataResponse/>".into(),
        )
    });
    (server, bodies)
}

/// The data points of one `PutMetricData` form: name, unit, values,
/// dimensions, timestamp.
fn metric_data(form: &[(String, String)]) -> Vec<Point> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("Action").as_deref(), Some("PutMetricData"));
    assert_eq!(get("Version").as_deref(), Some("2010-08-01"));
    let mut out = Vec::new();
    for n in 1.. {
        let p = format!("MetricData.member.{n}");
        let Some(name) = get(&format!("{p}.MetricName")) else {
            break;
        };
        let mut values: Vec<f64> = get(&format!("{p}.Value"))
            .map(|v| v.parse().unwrap())
            .into_iter()
            .collect();
        for k in 1.. {
            let Some(v) = get(&format!("{p}.Values.member.{k}")) else {
                break;
            };
            let n: usize = get(&format!("{p}.Counts.member.{k}")).map_or(1, |c| c.parse().unwrap());
            values.extend(std::iter::repeat_n(v.parse::<f64>().unwrap(), n));
            assert_eq!(
                values
                    .iter()
                    .filter(|x| **x == values[values.len() - 1])
                    .count(),
                n,
                "each value once, with its count"
            );
        }
        let mut dims = Vec::new();
        for k in 1.. {
            let Some(d) = get(&format!("{p}.Dimensions.member.{k}.Name")) else {
                break;
            };
            dims.push((d, get(&format!("{p}.Dimensions.member.{k}.Value")).unwrap()));
        }
        out.push((
            name,
            get(&format!("{p}.Unit")).unwrap(),
            values,
            dims,
            get(&format!("{p}.Timestamp")).unwrap(),
        ));
    }
    out
}

#[test]
fn cloudwatch_gets_signed_put_metric_data() {
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYTESTKEY";
    let (server, bodies) = cloudwatch_stand_in(SECRET);
    // CloudWatch takes points at most two weeks old: the world's now is now.
    let now = chrono::Utc::now().timestamp() / 60 * 60;
    let dm = Dm::new(now);
    let mut repo = Repo::new();
    // Behind a proxy path: the signature covers the path sent.
    let endpoint = server.url("/proxy/cw");
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", "session-token-3f9a"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL_CLOUDWATCH", endpoint.as_str()),
    ];
    let repo_s = repo.path.display().to_string();
    let c1 = repo.commit_at("one", now - 3 * 3600);
    let t = |s: i64| crate::util::rfc(s);
    let deploy = |sha: &str, at: i64| {
        run_sink(
            &dm,
            &env,
            "cloudwatch",
            &[
                "deploy",
                "--repo",
                &repo_s,
                "--service",
                "api",
                "--sha",
                sha,
                "--started-at",
                &t(at - 60),
                "--finished-at",
                &t(at),
            ],
        )
    };
    deploy(&c1, now - 2 * 3600).assert_ok();
    let c2 = repo.commit_at("two", now - 90 * 60);
    // Two changes with one lead time: one value, counted twice.
    repo.commit_at("two and a half", now - 60 * 60);
    let c3 = repo.commit_at("three", now - 60 * 60);
    deploy(&c3, now - 30 * 60).assert_ok();
    run_sink(
        &dm,
        &env,
        "cloudwatch",
        &[
            "incident",
            "open",
            "--id",
            "INC-1",
            "--service",
            "api",
            "--started-at",
            &t(now - 20 * 60),
        ],
    )
    .assert_ok();
    run_sink(
        &dm,
        &env,
        "cloudwatch",
        &[
            "incident",
            "resolve",
            "--id",
            "INC-1",
            "--resolved-at",
            &t(now - 5 * 60),
        ],
    )
    .assert_ok();
    let forms = bodies.lock().unwrap().clone();
    assert_eq!(
        forms.len(),
        3,
        "two deployments and the resolution; the open incident waits"
    );
    for f in &forms {
        assert!(f.contains(&("Namespace".into(), "DORA".into())), "{f:?}");
    }
    let dims = vec![
        ("Service".to_string(), "api".to_string()),
        ("Environment".to_string(), "production".to_string()),
    ];
    let second = metric_data(&forms[1]);
    assert_eq!(
        second[0],
        (
            "DeploymentCount".into(),
            "Count".into(),
            vec![1.0],
            dims.clone(),
            t(now - 30 * 60)
        )
    );
    assert_eq!(
        second[1],
        (
            "DeploymentCount".into(),
            "Count".into(),
            vec![1.0],
            vec![],
            t(now - 30 * 60)
        )
    );
    // The lead times of c2 and c3 (c1 shipped before).
    assert_eq!(second[2].0, "LeadTimeForChanges");
    let mut lead = second[2].2.clone();
    lead.sort_by(f64::total_cmp);
    assert_eq!(lead, [1800.0, 1800.0, 3600.0]);
    assert!(second.len() == 3 && !c2.is_empty());
    let incident = metric_data(&forms[2]);
    assert_eq!(
        incident[0],
        (
            "TimeToRestore".into(),
            "Seconds".into(),
            vec![900.0],
            dims.clone(),
            t(now - 20 * 60)
        )
    );
    assert_eq!(incident[1].0, "IncidentCount");

    // A point CloudWatch would refuse (older than two weeks) is skipped.
    let old = repo.commit_at("old", now - 40 * 86_400);
    let r = run_sink(
        &dm,
        &env,
        "cloudwatch",
        &[
            "deploy",
            "--repo",
            &repo_s,
            "--service",
            "web",
            "--sha",
            &old,
            "--finished-at",
            &t(now - 30 * 86_400),
        ],
    );
    r.assert_ok();
    assert_eq!(bodies.lock().unwrap().len(), 3, "{r:#?}");
    let deploy_c3 = [
        "deploy",
        "--repo",
        &repo_s,
        "--service",
        "api",
        "--sha",
        &c3,
    ];
    // No credentials: refused before anything is stored; the secret never shown.
    let r = run_sink(
        &dm,
        &[("AWS_REGION", "eu-west-1")],
        "cloudwatch",
        &deploy_c3,
    );
    r.assert_usage_error("AWS_ACCESS_KEY_ID");
    assert!(!r.stderr.contains(SECRET));
    // Half the pair: the message names the missing half.
    let r = run_sink(
        &dm,
        &[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ],
        "cloudwatch",
        &deploy_c3,
    );
    r.assert_usage_error("AWS_SECRET_ACCESS_KEY is not set");
}

/// `dorameter junit … | head -1`: a reader that stops reading stdout does
/// not stop the run. The test run still reaches the webhook, the exit code is
/// the run's, and no `error:` is printed. The output is larger than a pipe's
/// buffer, so the write meets the closed pipe whenever the reader leaves.
#[test]
fn a_reader_that_stops_reading_stdout_does_not_stop_the_run() {
    let dm = Dm::default();
    let server = Server::start(|_| Reply::ok());
    let sink = format!("webhook:{}", server.url("/hooks/dora"));
    let report = dm.dir.path().join("report.xml");
    let cases: String = (0..3000)
        .map(|i| format!(r#"<testcase classname="com.example.SomeLongClassNameTest" name="test_{i:05}_with_a_long_name"><failure message="boom {i}"/></testcase>"#))
        .collect();
    std::fs::write(
        &report,
        format!(r#"<testsuite name="s">{cases}</testsuite>"#),
    )
    .unwrap();
    let mut args = vec!["--sink", &sink];
    let report_arg = report.to_str().unwrap();
    args.extend([
        "junit",
        report_arg,
        "--service",
        "api",
        "--id",
        "run-piped",
        "--fail-on",
        "nothing",
    ]);
    let mut spawned = dm.spawn(&args);
    spawned.close_stdout();
    let run = spawned.wait();
    run.assert_no_panic();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!run.stderr.contains("error:"), "{run:#?}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    let body = reqs[0].json();
    assert_eq!(body["type"], "test_run");
    assert_eq!(body["id"], "run-piped");
    assert_eq!(body["data"]["tests"], 3000);
}
