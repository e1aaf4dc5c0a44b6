//! `POST /api/graphql` against the real `dorameter serve` on a scripted
//! store: the same numbers as `GET /api/dora/*` field by field, seed 000's
//! example query verbatim, the language features (aliases, variables,
//! fragments, `__typename`), the error format and the read scope.

use serde_json::{Value, json};

use crate::serve::Serving;
use crate::util::*;

const READ: &str = "read-token-graphql";
const WRITE: &str = "write-token-graphql";

/// `dorameter serve` with a read and a write token (`serve.rs`'s server),
/// asked for JSON.
struct Served(Serving);

impl Served {
    fn start(dm: &Dm) -> Served {
        Served(Serving::start(
            dm,
            &dm.cwd(),
            &[(
                "DORAMETER_API_TOKENS",
                &format!("read:{READ},write:{WRITE}"),
            )],
            &["--store", &dm.store_url(), "--no-access-log"],
        ))
    }

    /// `GET path` with the read token: status and JSON body.
    fn get(&self, path: &str) -> (u16, Value) {
        let a = self.0.get(path, Some(READ));
        (a.status, a.json())
    }

    /// `POST /api/graphql` of `body` with `token`: status and JSON body.
    fn post(&self, token: Option<&str>, body: &str) -> (u16, Value) {
        let a = self.0.call("POST", "/api/graphql", token, Some(body));
        (a.status, a.json())
    }

    /// A query with variables, expecting 200.
    #[track_caller]
    fn query(&self, query: &str, variables: Value) -> Value {
        let body = json!({"query": query, "variables": variables}).to_string();
        let (status, v) = self.post(Some(READ), &body);
        assert_eq!(status, 200, "{v}");
        v
    }
}

/// payment-service in production: five counted deployments, d3 hotfixed
/// by d4, d5 a failed job, d6 with an attributed incident (INC-1, one
/// hour); INC-2 still open; search in staging, for `projects`.
fn world() -> (Dm, Repo) {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let svc = "payment-service";
    for (id, day, hour, lead_h, extra) in [
        ("d1", 10, 9, 2, &[][..]),
        ("d2", 12, 9, 5, &[][..]),
        ("d3", 20, 9, 1, &[][..]),
        ("d4", 20, 10, 0, &["--hotfix"][..]),
        ("d5", 25, 9, 3, &["--status", "failure"][..]),
        ("d6", 28, 9, 4, &["--version", "1.4.0"][..]),
    ] {
        let t = at(day, hour, 0);
        let sha = repo.commit_at(&format!("change {id}"), t - lead_h * HOUR - 30 * MIN);
        dm.deploy_at(&repo.path, svc, id, &sha, t, extra);
    }
    let sha = repo.commit_at("search", at(5, 0, 0));
    dm.deploy_at(
        &repo.path,
        "search",
        "s1",
        &sha,
        at(5, 1, 0),
        &["--env", "staging"],
    );
    for (id, start, end, sev, title) in [
        (
            "INC-1",
            at(28, 10, 0),
            Some(at(28, 11, 0)),
            "high",
            "checkout down",
        ),
        ("INC-2", at(30, 8, 0), None, "low", "slow search"),
    ] {
        let start = rfc(start);
        let mut args = vec![
            "incident",
            "open",
            "--id",
            id,
            "--service",
            svc,
            "--started-at",
            &start,
            "--severity",
            sev,
            "--title",
            title,
            "--cause",
            "deploy",
        ];
        let end = end.map(rfc);
        if let Some(e) = &end {
            args.extend(["--resolved-at", e.as_str()]);
        }
        dm.run(&args).assert_ok();
    }
    (dm, repo)
}

/// Every field of every metric, as the brief's schema names them.
const ALL: &str = r#"query All($p: String!, $r: TimeRange) {
  doraMetrics(project: $p, timeRange: $r) {
    project environment timeRange { start end }
    deploymentFrequency { value unit level description deployments timeseries { date count } }
    leadTimeForChanges { value unit level p50 p95 mean description changes stages { name duration unit } }
    changeFailureRate { value unit level totalDeployments failedDeployments description }
    meanTimeToRestore { value unit level p50 p95 mean description totalIncidents openIncidents }
    operationalPerformance { value unit sloTarget p99Latency errorRate description }
  }
}"#;

/// GraphQL field name → REST key, per object.
fn same(gql: &Value, rest: &Value, pairs: &[(&str, &str)], what: &str) {
    for (g, r) in pairs {
        assert_eq!(gql[*g], rest[*r], "{what}.{g} (REST {r}): {gql} vs {rest}");
        assert!(gql.get(*g).is_some(), "{what}.{g} missing: {gql}");
    }
}

#[test]
fn graphql_gives_the_numbers_of_rest_field_by_field() {
    let (dm, _repo) = world();
    let s = Served::start(&dm);
    let (status, rest) = s.get("/api/dora/metrics?project=payment-service&timeRange=last30days");
    assert_eq!(status, 200, "{rest}");
    let out = s.query(ALL, json!({"p": "payment-service", "r": "LAST_30_DAYS"}));
    assert!(out.get("errors").is_none(), "{out}");
    let g = &out["data"]["doraMetrics"];
    assert_eq!(g["project"], rest["project"]);
    assert_eq!(g["environment"], "production");
    assert_eq!(g["timeRange"], rest["timeRange"]);
    let m = &rest["metrics"];
    let basic = [
        ("value", "value"),
        ("unit", "unit"),
        ("level", "level"),
        ("description", "description"),
    ];
    same(
        &g["deploymentFrequency"],
        &m["deploymentFrequency"],
        &basic,
        "deploymentFrequency",
    );
    same(
        &g["deploymentFrequency"],
        &m["deploymentFrequency"],
        &[("deployments", "deployments")],
        "deploymentFrequency",
    );
    for metric in ["leadTimeForChanges", "meanTimeToRestore"] {
        same(&g[metric], &m[metric], &basic, metric);
        same(
            &g[metric],
            &m[metric],
            &[("p50", "p50"), ("p95", "p95"), ("mean", "mean")],
            metric,
        );
    }
    same(
        &g["leadTimeForChanges"],
        &m["leadTimeForChanges"],
        &[("changes", "changes")],
        "leadTime",
    );
    same(
        &g["changeFailureRate"],
        &m["changeFailureRate"],
        &[
            ("value", "value"),
            ("unit", "unit"),
            ("level", "level"),
            ("description", "description"),
            ("totalDeployments", "total_deployments"),
            ("failedDeployments", "failed_deployments"),
        ],
        "changeFailureRate",
    );
    same(
        &g["meanTimeToRestore"],
        &m["meanTimeToRestore"],
        &[
            ("totalIncidents", "total_incidents"),
            ("openIncidents", "open_incidents"),
        ],
        "meanTimeToRestore",
    );
    same(
        &g["operationalPerformance"],
        &m["operationalPerformance"],
        &[
            ("value", "value"),
            ("unit", "unit"),
            ("sloTarget", "sloTarget"),
            ("p99Latency", "p99Latency"),
            ("errorRate", "errorRate"),
            ("description", "description"),
        ],
        "operationalPerformance",
    );
    // The scripted values themselves, so equal is not equally wrong.
    let cfr = &g["changeFailureRate"];
    assert_eq!(cfr["totalDeployments"], 5, "d5 is a failed job: {cfr}");
    assert_eq!(
        cfr["failedDeployments"], 2,
        "d3 hotfixed, d6 an incident: {cfr}"
    );
    assert_close(&cfr["value"], 40.0, 0.01, "change failure rate");
    assert_eq!(g["deploymentFrequency"]["deployments"], 5);
    let mttr = &g["meanTimeToRestore"];
    assert_close(
        &mttr["value"],
        60.0,
        0.01,
        "the one resolved incident took an hour",
    );
    assert_eq!(mttr["openIncidents"], 1);
    assert_eq!(mttr["unit"], "minutes");
    // Lead times (d1 has no previous deployment; d6 ships d5's commit,
    // whose job failed, and its own): 5.5, 1.5, 0.5, 75.5 and 4.5 hours.
    assert_close(
        &g["leadTimeForChanges"]["p50"],
        270.0,
        0.01,
        "lead time p50",
    );
    assert_eq!(g["leadTimeForChanges"]["changes"], 5);

    // The timeseries and stages of their own endpoints.
    let (_, df) =
        s.get("/api/dora/deployment-frequency?project=payment-service&timeRange=last30days");
    let series = df["timeseries"].as_array().expect("timeseries");
    let gseries = g["deploymentFrequency"]["timeseries"]
        .as_array()
        .expect("timeseries");
    assert_eq!(series.len(), gseries.len());
    assert_eq!(series.len(), 30);
    for (r, q) in series.iter().zip(gseries) {
        assert_eq!(q["date"], r["date"]);
        assert_eq!(q["count"], r["deployments"]);
    }
    let total: u64 = gseries.iter().filter_map(|p| p["count"].as_u64()).sum();
    assert_eq!(total, 5);
    let (_, lt) = s.get("/api/dora/lead-time?project=payment-service&includeStages=true");
    assert_eq!(g["leadTimeForChanges"]["stages"], lt["stages"]);
}

/// Seed 000's example query and example request body, verbatim.
#[test]
fn the_seeds_example_query_runs_verbatim() {
    let (dm, _repo) = world();
    let s = Served::start(&dm);
    let example = r#"query GetDORAMetrics {
  doraMetrics(project: "payment-service", timeRange: LAST_30_DAYS) {
    project
    deploymentFrequency {
      value
      unit
      level
      timeseries {
        date
        count
      }
    }
    leadTimeForChanges {
      value
      unit
      level
      p50
      p95
      stages {
        name
        duration
      }
    }
    changeFailureRate {
      value
      level
      totalDeployments
      failedDeployments
    }
    meanTimeToRestore {
      value
      unit
      level
      p50
      p95
    }
  }
}"#;
    let out = s.query(example, Value::Null);
    assert!(out.get("errors").is_none(), "{out}");
    let (_, rest) = s.get("/api/dora/metrics?project=payment-service&timeRange=last30days");
    let g = &out["data"]["doraMetrics"];
    assert_eq!(g["project"], "payment-service");
    assert_eq!(
        g["deploymentFrequency"]["value"],
        rest["metrics"]["deploymentFrequency"]["value"]
    );
    assert_eq!(g["changeFailureRate"]["failedDeployments"], 2);
    assert_eq!(
        g["meanTimeToRestore"]["p95"],
        rest["metrics"]["meanTimeToRestore"]["p95"]
    );
    assert_eq!(
        g["leadTimeForChanges"]["stages"][0],
        json!({"name": "commit_to_deploy", "duration": rest["metrics"]["leadTimeForChanges"]["p50"]})
    );
    let keys: Vec<&String> = g["deploymentFrequency"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys.len(), 4, "only what was selected: {keys:?}");

    let request = r#"{
    "query": "query GetDORAMetrics { doraMetrics(project: \"payment-service\", timeRange: LAST_30_DAYS) { deploymentFrequency { value unit level } } }"
  }"#;
    let (status, out) = s.post(Some(READ), request);
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        json!({"data": {"doraMetrics": {"deploymentFrequency": {
            "value": rest["metrics"]["deploymentFrequency"]["value"],
            "unit": rest["metrics"]["deploymentFrequency"]["unit"],
            "level": rest["metrics"]["deploymentFrequency"]["level"],
        }}}})
    );
}

#[test]
fn aliases_variables_fragments_typename_and_the_lists() {
    let (dm, _repo) = world();
    let s = Served::start(&dm);
    let out = s.query(
        r#"query Lists($p: String!, $week: TimeRange = LAST_7_DAYS) {
  __typename
  month: doraMetrics(project: $p) { ...Cfr }
  week: doraMetrics(project: $p, timeRange: $week) { __typename ... on DORAMetrics { deploymentFrequency { deployments } } }
  projects { name environments }
  deployments(project: $p) { id status kind version failed failureReason recoveredAt changes ... { __typename } }
  incidents(project: $p) { id title severity createdAt resolvedAt durationMinutes }
}
fragment Cfr on DORAMetrics { changeFailureRate { failed: failedDeployments } }"#,
        json!({"p": "payment-service"}),
    );
    assert!(out.get("errors").is_none(), "{out}");
    let d = &out["data"];
    assert_eq!(d["__typename"], "Query");
    assert_eq!(d["month"], json!({"changeFailureRate": {"failed": 2}}));
    // The last 7 days (from 2026-03-27) hold d6 only.
    assert_eq!(
        d["week"],
        json!({"__typename": "DORAMetrics", "deploymentFrequency": {"deployments": 1}})
    );
    assert_eq!(
        d["projects"],
        json!([
            {"name": "payment-service", "environments": ["production"]},
            {"name": "search", "environments": ["staging"]},
        ])
    );
    let ids: Vec<&str> = d["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(ids, ["d6", "d5", "d4", "d3", "d2", "d1"], "newest first");
    let dep = |id: &str| {
        d["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .cloned()
            .unwrap()
    };
    let d3 = dep("d3");
    assert_eq!(d3["failed"], true);
    assert_eq!(d3["failureReason"], "hotfixed by deployment d4");
    assert_eq!(d3["recoveredAt"], rfc(at(20, 10, 0)));
    assert_eq!(d3["__typename"], "Deployment");
    let d6 = dep("d6");
    assert_eq!(d6["failureReason"], "incident INC-1: checkout down");
    assert_eq!(d6["version"], "1.4.0");
    assert_eq!(d6["changes"], 2, "d5's commit and its own");
    let d5 = dep("d5");
    assert_eq!(
        (d5["status"].as_str(), d5["failed"].as_bool()),
        (Some("failure"), Some(false))
    );
    assert_eq!(d5["failureReason"], Value::Null);
    assert_eq!(dep("d4")["kind"], "rollforward");
    // The same list as the REST failures and incidents.
    let (_, cfr) = s.get("/api/dora/change-failure-rate?project=payment-service");
    for f in cfr["failures"].as_array().unwrap() {
        let g = dep(f["deployment_id"].as_str().unwrap());
        assert_eq!(g["failureReason"], f["reason"]);
        assert_eq!(g["recoveredAt"], f["resolved_at"]);
    }
    let (_, mttr) = s.get("/api/dora/mttr?project=payment-service");
    let rest: Vec<Value> = mttr["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!({"id": i["id"], "title": i["title"], "severity": i["severity"],
                   "createdAt": i["created_at"], "resolvedAt": i["resolved_at"],
                   "durationMinutes": i["duration_minutes"]})
        })
        .collect();
    assert_eq!(d["incidents"], Value::Array(rest));
    assert_eq!(d["incidents"][0]["durationMinutes"], 60.0);
    assert_eq!(d["incidents"][1]["resolvedAt"], Value::Null);

    let out = s.query(
        "query ($n: Int) { deployments(project: \"payment-service\", limit: $n) { id } }",
        json!({"n": 2}),
    );
    assert_eq!(
        out["data"]["deployments"],
        json!([{"id": "d6"}, {"id": "d5"}])
    );
}

#[test]
fn errors_carry_the_rest_codes_and_the_graphql_format() {
    let (dm, _repo) = world();
    let s = Served::start(&dm);
    let q = "query ($p: String!, $r: TimeRange, $from: String, $to: String) {
  doraMetrics(project: $p, timeRange: $r, startDate: $from, endDate: $to) { project }
}";
    for (vars, code) in [
        (json!({"p": "nope"}), "INVALID_PROJECT"),
        (
            json!({"p": "payment-service", "from": "2020-01-01", "to": "2020-02-01"}),
            "NO_DATA",
        ),
        (
            json!({"p": "payment-service", "r": "LAST_7_DAYS", "from": "2026-03-01"}),
            "INVALID_TIME_RANGE",
        ),
        (
            json!({"p": "payment-service", "from": "yesterday"}),
            "INVALID_TIME_RANGE",
        ),
    ] {
        let out = s.query(q, vars.clone());
        assert_eq!(out["data"], json!({"doraMetrics": null}), "{vars}: {out}");
        let e = &out["errors"][0];
        assert_eq!(e["extensions"]["code"], code, "{vars}: {out}");
        assert_eq!(e["path"], json!(["doraMetrics"]));
        assert_eq!(e["locations"], json!([{"line": 2, "column": 3}]));
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let out = s.query(q, json!({"p": "nope"}));
    assert_eq!(
        out["errors"][0]["extensions"]["details"]["available_projects"],
        json!(["payment-service", "search"])
    );
    // A non-null root field that fails takes data with it.
    let out = s.query("{ incidents(project: \"nope\") { id } }", Value::Null);
    assert_eq!(out["data"], Value::Null);
    assert_eq!(out["errors"][0]["extensions"]["code"], "INVALID_PROJECT");
    // Validation: 200, no data, nothing run.
    let out = s.query(
        "{ doraMetrics(project: \"payment-service\") { nope } }",
        Value::Null,
    );
    assert!(out.get("data").is_none(), "{out}");
    assert_eq!(
        out["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert_eq!(
        out["errors"][0]["locations"],
        json!([{"line": 1, "column": 45}])
    );
    // Unparsable requests: 400.
    for body in [
        "not json",
        "{\"query\": 3}",
        "{}",
        "{\"query\": \"{ projects { name }\"}",
        "{\"query\": \"{ projects { name } }\", \"variables\": [1]}",
    ] {
        let (status, out) = s.post(Some(READ), body);
        assert_eq!(status, 400, "{body}: {out}");
        assert!(out["errors"][0]["message"].is_string(), "{body}: {out}");
        assert!(out.get("data").is_none());
    }
    let (status, out) = s.post(Some(READ), &json!({"query": "{".repeat(5000)}).to_string());
    assert_eq!(status, 400);
    assert_eq!(out["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP");
    // Bounded: more than 20 root fields.
    let wide: String = (0..21)
        .map(|i| format!("p{i}: projects {{ name }} "))
        .collect();
    let out = s.query(&format!("{{ {wide} }}"), Value::Null);
    assert_eq!(
        out["errors"][0]["extensions"]["code"], "QUERY_TOO_LARGE",
        "{out}"
    );
}

#[test]
fn graphql_needs_a_read_token_and_prints_its_schema() {
    let (dm, _repo) = world();
    let s = Served::start(&dm);
    let body = r#"{"query": "{ projects { name } }"}"#;
    let (status, _) = s.post(None, body);
    assert_eq!(status, 401);
    let (status, _) = s.post(Some("not-a-token-at-all"), body);
    assert_eq!(status, 401);
    for token in [READ, WRITE] {
        let (status, out) = s.post(Some(token), body);
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["data"]["projects"][0]["name"], "payment-service");
    }
    let r = s.0.get("/api/graphql/schema", Some(READ));
    assert_eq!(r.status, 200);
    let ct = r.header("content-type").unwrap_or("").to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    let sdl = r.body;
    assert!(
        sdl.contains("enum TimeRange {\n  LAST_7_DAYS\n  LAST_30_DAYS\n  LAST_90_DAYS\n}"),
        "{sdl}"
    );
    assert!(sdl.contains("type Query {"), "{sdl}");
    assert!(sdl.contains("  incidents(project: String!"), "{sdl}");
    assert!(sdl.contains("type MTTR {"), "{sdl}");
    let r = s.0.get("/api/graphql/schema", None);
    assert_eq!(r.status, 401);
}
