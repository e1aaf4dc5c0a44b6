//! Parsing, validation and execution against a fixed [`Root`]: the
//! language features the brief names, the error format, the bounds, and
//! no panic on truncated or garbage documents.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::error::errors_body;
use super::exec::{self, Root};
use super::parse;
use super::validate::{self, MAX_FRAGMENTS, MAX_ROOT_FIELDS};
use crate::serve::api::ApiError;

/// Root fields called, with their arguments.
type Calls = Vec<(String, Map<String, Value>)>;

/// Answers like the resolver, from fixed JSON; counts its calls.
struct Fixed {
    calls: Calls,
}

fn metrics() -> Value {
    json!({
        "project": "payment-service",
        "environment": "production",
        "timeRange": {"start": "2026-03-04T00:00:00Z", "end": "2026-04-03T00:00:00Z"},
        "deploymentFrequency": {
            "value": 2.4, "unit": "per_day", "level": "elite", "description": "On demand",
            "deployments": 72,
            "timeseries": [{"date": "2026-04-01", "deployments": 3}, {"date": "2026-04-02", "deployments": 0}],
        },
        "leadTimeForChanges": {
            "value": 45.5, "unit": "minutes", "level": "elite", "p50": 32, "p95": 85.25, "mean": 40,
            "description": "Less than one hour", "changes": 10,
            "stages": [{"name": "commit_to_deploy", "duration": 32, "unit": "minutes"}],
        },
        "changeFailureRate": {
            "value": 8.33, "unit": "percent", "level": "elite", "total_deployments": 72,
            "failed_deployments": 6, "successful_deployments": 66, "description": "0-15%",
        },
        "meanTimeToRestore": {
            "value": null, "unit": "minutes", "level": null, "p50": null, "p95": null, "mean": null,
            "description": null, "total_incidents": 0, "open_incidents": 0,
        },
        "operationalPerformance": {
            "value": null, "unit": "percent", "sloTarget": null, "p99Latency": null,
            "errorRate": null, "description": "Not measured",
        },
    })
}

impl Root for Fixed {
    async fn root(&mut self, name: &str, args: &Map<String, Value>) -> Result<Value, ApiError> {
        self.calls.push((name.to_string(), args.clone()));
        let project = args.get("project").and_then(Value::as_str).unwrap_or("");
        if project == "nope" {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "INVALID_PROJECT",
                "Project 'nope' not found",
            )
            .details(json!({"available_projects": ["payment-service"]})));
        }
        Ok(match name {
            "doraMetrics" => metrics(),
            "projects" => {
                json!([{"name": "payment-service", "environments": ["production", "staging"]}])
            }
            // A store answer missing a non-null field: propagation.
            "incidents" if project == "broken" => json!([{"id": "i-1", "created_at": null}]),
            "incidents" if project == "many" => Value::Array(
                (0..90_000)
                    .map(|i| json!({"id": format!("i-{i}"), "created_at": "2026-04-01T00:00:00Z"}))
                    .collect(),
            ),
            "incidents" => {
                json!([{"id": "i-1", "created_at": "2026-04-01T00:00:00Z", "title": null}])
            }
            _ => json!([]),
        })
    }
}

fn run_with(query: &str, op: Option<&str>, vars: Value) -> (Value, Calls) {
    let doc = match parse::document(query) {
        Ok(d) => d,
        Err(e) => return (errors_body(&[e]), Vec::new()),
    };
    let vars = vars.as_object().cloned().unwrap_or_default();
    let prepared = match validate::prepare(&doc, op, &vars) {
        Ok(p) => p,
        Err(errors) => return (errors_body(&errors), Vec::new()),
    };
    let mut root = Fixed { calls: Vec::new() };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let out = rt.block_on(exec::execute(&prepared, &mut root));
    (out, root.calls)
}

fn run(query: &str) -> Value {
    run_with(query, None, json!({})).0
}

fn codes(out: &Value) -> Vec<String> {
    out["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn first_message(out: &Value) -> String {
    out["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn the_seeds_example_query_answers_in_its_shape() {
    let (out, calls) = run_with(
        r#"query GetDORAMetrics {
  doraMetrics(project: "payment-service", timeRange: LAST_30_DAYS) {
    project
    deploymentFrequency { value unit level timeseries { date count } }
    leadTimeForChanges { value unit level p50 p95 stages { name duration } }
    changeFailureRate { value level totalDeployments failedDeployments }
    meanTimeToRestore { value unit level p50 p95 }
  }
}"#,
        None,
        json!({}),
    );
    assert!(out.get("errors").is_none(), "{out}");
    let m = &out["data"]["doraMetrics"];
    assert_eq!(m["project"], "payment-service");
    assert_eq!(
        m["deploymentFrequency"],
        json!({"value": 2.4, "unit": "per_day", "level": "elite",
               "timeseries": [{"date": "2026-04-01", "count": 3}, {"date": "2026-04-02", "count": 0}]})
    );
    assert_eq!(m["leadTimeForChanges"]["p95"], 85.25);
    assert_eq!(
        m["leadTimeForChanges"]["stages"],
        json!([{"name": "commit_to_deploy", "duration": 32}])
    );
    assert_eq!(
        m["changeFailureRate"],
        json!({"value": 8.33, "level": "elite", "totalDeployments": 72, "failedDeployments": 6})
    );
    assert_eq!(
        m["meanTimeToRestore"],
        json!({"value": null, "unit": "minutes", "level": null, "p50": null, "p95": null})
    );
    // Only the selected fields, in the document's order.
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1["timeRange"], "LAST_30_DAYS");
    assert_eq!(calls[0].1["project"], "payment-service");
}

#[test]
fn aliases_variables_fragments_and_typename() {
    let (out, calls) = run_with(
        r#"
        query Two($p: String!, $range: TimeRange = LAST_7_DAYS, $withUnit: Boolean!) {
          __typename
          a: doraMetrics(project: $p) { __typename ...Df }
          b: doraMetrics(project: $p, timeRange: $range) {
            ... on DORAMetrics { cfr: changeFailureRate { total: totalDeployments __typename } }
            ... { project }
            ... @include(if: $withUnit) { deploymentFrequency { unit } }
          }
          projects { name environments }
        }
        fragment Df on DORAMetrics { deploymentFrequency { value unit @skip(if: true) } }
        query Other { projects { name } }
        "#,
        Some("Two"),
        json!({"p": "payment-service", "withUnit": true}),
    );
    assert!(out.get("errors").is_none(), "{out}");
    let d = &out["data"];
    assert_eq!(d["__typename"], "Query");
    assert_eq!(
        d["a"],
        json!({"__typename": "DORAMetrics", "deploymentFrequency": {"value": 2.4}})
    );
    assert_eq!(
        d["b"],
        json!({"cfr": {"total": 72, "__typename": "ChangeFailureRate"}, "project": "payment-service",
               "deploymentFrequency": {"unit": "per_day"}})
    );
    assert_eq!(
        d["projects"][0]["environments"],
        json!(["production", "staging"])
    );
    assert_eq!(calls.len(), 3);
    assert!(calls[0].1.get("timeRange").is_none(), "{:?}", calls[0]);
    assert_eq!(calls[1].1["timeRange"], "LAST_7_DAYS");
}

#[test]
fn the_deployments_limit_defaults_to_100() {
    let (_, calls) = run_with(
        r#"{ deployments(project: "payment-service") { id } }"#,
        None,
        json!({}),
    );
    assert_eq!(calls[0].1["limit"], 100);
}

#[test]
fn a_resolver_error_nulls_its_field_and_carries_the_rest_code() {
    let out = run(r#"{ ok: projects { name } doraMetrics(project: "nope") { project } }"#);
    assert_eq!(out["data"]["doraMetrics"], Value::Null);
    assert_eq!(out["data"]["ok"][0]["name"], "payment-service");
    let e = &out["errors"][0];
    assert_eq!(e["extensions"]["code"], "INVALID_PROJECT");
    assert_eq!(e["message"], "Project 'nope' not found");
    assert_eq!(e["path"], json!(["doraMetrics"]));
    assert_eq!(e["locations"], json!([{"line": 1, "column": 25}]));
    assert_eq!(
        e["extensions"]["details"]["available_projects"],
        json!(["payment-service"])
    );
}

#[test]
fn an_error_in_a_non_null_root_field_nulls_data() {
    let out = run(r#"{ projects { name } incidents(project: "nope") { id } }"#);
    assert_eq!(out["data"], Value::Null, "{out}");
    assert_eq!(codes(&out), ["INVALID_PROJECT"]);
    // A null in a non-null field inside a non-null list bubbles up as far.
    let out = run(r#"{ incidents(project: "broken") { id createdAt } }"#);
    assert_eq!(out["data"], Value::Null, "{out}");
    assert_eq!(
        out["errors"][0]["path"],
        json!(["incidents", 0, "createdAt"])
    );
}

#[test]
fn validation_errors_execute_nothing() {
    for (query, says) in [
        (
            r#"{ doraMetrics(project: "p") { nope } }"#,
            "Cannot query field \"nope\" on type \"DORAMetrics\".",
        ),
        (
            "{ doraMetrics { project } }",
            "argument \"project\" of type \"String!\" is required",
        ),
        (
            r#"{ doraMetrics(project: "p") }"#,
            "must have a selection of subfields",
        ),
        (
            r#"{ projects { name { x } } }"#,
            "must not have a selection",
        ),
        (
            r#"{ doraMetrics(project: "p", timeRange: LAST_YEAR) { project } }"#,
            "LAST_YEAR is not a valid TimeRange",
        ),
        (
            r#"{ doraMetrics(project: 3) { project } }"#,
            "3 is not a valid String",
        ),
        (
            r#"{ doraMetrics(project: "p", team: "x") { project } }"#,
            "Unknown argument \"team\"",
        ),
        (
            r#"{ deployments(project: "p", limit: 99999999999) { id } }"#,
            "99999999999 is not a valid Int",
        ),
        ("{ __schema { types { name } } }", "introspection"),
        ("{ projects { ...F } }", "Unknown fragment \"F\""),
        (
            "{ projects { ...F } } fragment F on Project { ...F }",
            "within itself",
        ),
        (
            "{ projects { ...F } } fragment F on Query { projects { name } }",
            "can never be of type \"Query\"",
        ),
        (
            "{ projects { name } } fragment F on Project { name }",
            "Fragment \"F\" is never used.",
        ),
        (
            "query ($x: String) { projects { name } }",
            "Variable \"$x\" is never used.",
        ),
        (
            "{ doraMetrics(project: $p) { project } }",
            "Variable \"$p\" is not defined.",
        ),
        (
            "query ($p: String) { doraMetrics(project: $p) { project } }",
            "used in position expecting type \"String!\"",
        ),
        (
            "{ projects { name @deprecated } }",
            "Unknown directive \"@deprecated\".",
        ),
        (
            "{ p: projects { name } p: incidents(project: \"x\") { id } }",
            "\"projects\" and \"incidents\" are different fields",
        ),
        ("mutation { projects { name } }", "only queries are served"),
        (
            "subscription { projects { name } }",
            "only queries are served",
        ),
        (
            "{ projects { name } } { projects { name } }",
            "anonymous operation must be the only",
        ),
        (
            "query A { projects { name } } query A { projects { name } }",
            "only one operation named \"A\"",
        ),
    ] {
        let (out, calls) = run_with(query, None, json!({}));
        assert!(out.get("data").is_none(), "{query}: {out}");
        assert!(calls.is_empty(), "{query}");
        let all: Vec<&str> = out["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {out}"))
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert!(all.iter().any(|m| m.contains(says)), "{query}: {out}");
        assert!(
            out["errors"][0]["locations"][0]["line"].as_u64().is_some()
                || query.starts_with("mutation"),
            "{query}: {out}"
        );
    }
}

#[test]
fn variables_are_coerced_to_their_types() {
    let q = "query ($p: String!, $r: TimeRange) { doraMetrics(project: $p, timeRange: $r) { project } }";
    let (out, _) = run_with(q, None, json!({"r": "LAST_7_DAYS"}));
    assert_eq!(codes(&out), ["BAD_USER_INPUT"], "{out}");
    assert!(first_message(&out).contains("\"$p\""), "{out}");
    let (out, _) = run_with(q, None, json!({"p": "payment-service", "r": "LAST_YEAR"}));
    assert_eq!(codes(&out), ["BAD_USER_INPUT"], "{out}");
    let (out, _) = run_with(q, None, json!({"p": 7}));
    assert_eq!(codes(&out), ["BAD_USER_INPUT"], "{out}");
    // An absent nullable variable leaves its argument out.
    let (out, calls) = run_with(q, None, json!({"p": "payment-service"}));
    assert_eq!(
        out["data"]["doraMetrics"]["project"], "payment-service",
        "{out}"
    );
    assert!(calls[0].1.get("timeRange").is_none());
}

#[test]
fn operations_are_picked_by_name() {
    let doc = "query A { projects { name } } query B { __typename }";
    let (out, _) = run_with(doc, Some("B"), json!({}));
    assert_eq!(out, json!({"data": {"__typename": "Query"}}));
    let (out, _) = run_with(doc, None, json!({}));
    assert_eq!(codes(&out), ["OPERATION_NOT_FOUND"]);
    let (out, _) = run_with(doc, Some("C"), json!({}));
    assert_eq!(first_message(&out), "Unknown operation named \"C\".");
}

#[test]
fn queries_are_bounded() {
    let deep = format!(
        "{{ projects {} name {} }}",
        "{ name ".repeat(11),
        "}".repeat(11)
    );
    let out = run(&deep);
    assert_eq!(codes(&out), ["QUERY_TOO_DEEP"], "{out}");
    let wide: String = (0..=MAX_ROOT_FIELDS)
        .map(|i| format!("p{i}: projects {{ name }} "))
        .collect();
    let out = run(&format!("{{ {wide} }}"));
    assert_eq!(codes(&out), ["QUERY_TOO_LARGE"], "{out}");
    assert!(first_message(&out).contains("21 root fields"), "{out}");
    // Fragments spread in fragments: 2^20 fields if expanded.
    let mut doc = String::from("{ projects { ...F0 } }\n");
    for i in 0..20 {
        doc.push_str(&format!(
            "fragment F{i} on Project {{ ...F{} ...F{} }}\n",
            i + 1,
            i + 1
        ));
    }
    doc.push_str("fragment F20 on Project { name }\n");
    let started = std::time::Instant::now();
    let out = run(&doc);
    assert!(
        codes(&out).contains(&"QUERY_TOO_LARGE".to_string()),
        "{out}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Answers: at most MAX_VALUES values, else no data at all.
    let out = run(r#"{ incidents(project: "many") { id } }"#);
    assert_eq!(
        out["data"]["incidents"].as_array().map(Vec::len),
        Some(90_000)
    );
    let out = run(r#"{ incidents(project: "many") { id createdAt } }"#);
    assert_eq!(out["data"], Value::Null);
    assert_eq!(codes(&out), ["RESPONSE_TOO_LARGE"], "{}", out["errors"]);
    // Fragments chained through each other, without brackets.
    let mut doc = String::from("{ projects { ...F0 } }\n");
    for i in 0..=MAX_FRAGMENTS {
        doc.push_str(&format!("fragment F{i} on Project {{ ...F{} }}\n", i + 1));
    }
    let out = run(&doc);
    assert_eq!(codes(&out), ["QUERY_TOO_LARGE"], "{}", out["errors"]);
    // Brackets nested too deep to parse safely.
    let out = run(&"{".repeat(100_000));
    assert_eq!(codes(&out), ["QUERY_TOO_DEEP"], "{out}");
    let out = run(&format!(
        "{{ projects(x: {}) {{ name }} }}",
        "[".repeat(50_000)
    ));
    assert_eq!(codes(&out), ["QUERY_TOO_DEEP"], "{out}");
}

#[test]
fn syntax_errors_have_a_location() {
    let out = run("{ projects { name }");
    assert_eq!(codes(&out), ["GRAPHQL_PARSE_FAILED"], "{out}");
    assert!(first_message(&out).starts_with("Syntax Error"), "{out}");
    assert!(
        out["errors"][0]["locations"][0]["line"].as_u64().is_some(),
        "{out}"
    );
}

#[test]
fn nesting_skips_strings_and_comments() {
    assert_eq!(parse::nesting(r#"{ a(x: "{{{{") { b } } # {{{{"#, 100).0, 2);
    assert_eq!(
        parse::nesting("{ a(x: \"\"\" {{{ \\\"\"\" {{ \"\"\") }", 100).0,
        2
    );
    let (_, at) = parse::nesting("{\n  { {", 2);
    assert_eq!(at.map(|p| (p.line, p.column)), Some((2, 5)));
    // Unterminated strings and multi-byte text end the scan, no panic.
    assert_eq!(parse::nesting("{ \"é{", 100).0, 1);
    assert_eq!(parse::nesting("\"\"\"", 100).0, 0);
    assert_eq!(parse::nesting("\"\\", 100).0, 0);
}

/// Every prefix of a query that uses every feature, and byte garbage:
/// parsing, validation and execution never panic.
#[test]
fn truncated_and_garbage_documents_never_panic() {
    let full = r#"query Q($p: String! = "x", $r: [TimeRange!] = [LAST_7_DAYS], $f: Float = -1.5e3) {
  a: doraMetrics(project: $p, timeRange: LAST_30_DAYS, startDate: """block "" \""" """) {
    ...F @include(if: true)
    ... on DORAMetrics { __typename deploymentFrequency { timeseries { date count } } }
  }
  deployments(project: "p\u00e9\n", limit: 5) { id failed failureReason }
  # a comment {
}
fragment F on DORAMetrics { leadTimeForChanges { p50 stages { name } } }
"#;
    let mut cuts: Vec<String> = full
        .char_indices()
        .map(|(i, _)| full[..i].to_string())
        .collect();
    cuts.extend(full.char_indices().map(|(i, _)| full[i..].to_string()));
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let alphabet = b"{}[]()$@!:=.,\"\\#\n \t...onquery fragment 01e-x_\xc3\xa9";
    for len in [1, 2, 3, 5, 8, 13, 40, 200] {
        for _ in 0..40 {
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            cuts.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    for text in &cuts {
        let (out, _) = run_with(text, None, json!({"p": "x", "r": ["LAST_90_DAYS"], "f": 2}));
        assert!(
            out.get("data").is_some() || out["errors"][0]["message"].is_string(),
            "{text:?}: {out}"
        );
    }
}
