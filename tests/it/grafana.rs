//! The Grafana dashboards of `dashboards/grafana/` (SPEC §10): every panel's
//! SQL, expanded as Grafana expands its macros and variables, runs on a
//! real PostgreSQL holding the scripted month and equals `report --format
//! json`; the dashboards load their data source by variable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::postgres::{Db, server};
use crate::report_month::{SINCE, UNTIL, script};
use crate::util::*;

#[path = "../../benches/support/grafana.rs"]
mod macros;
use macros::{Value as Var, expand};

fn dashboard(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("dashboards/grafana")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn panels(d: &Value) -> Vec<&Value> {
    d["panels"].as_array().expect("panels").iter().collect()
}

/// Rows of `sql` as column name → text.
fn rows(db: &Db, sql: &str) -> Vec<BTreeMap<String, Option<String>>> {
    crate::postgres::query(&db.url, sql).unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

fn f(row: &BTreeMap<String, Option<String>>, column: &str) -> Option<f64> {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
        .as_deref()
        .map(|v| v.parse().unwrap_or_else(|e| panic!("{column}={v}: {e}")))
}

fn text<'a>(row: &'a BTreeMap<String, Option<String>>, column: &str) -> Option<&'a str> {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
        .as_deref()
}

/// The SQL of the panel titled `title`.
fn sql_of<'a>(d: &'a Value, title: &str) -> &'a str {
    panels(d)
        .into_iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel {title}"))["targets"][0]["rawSql"]
        .as_str()
        .expect("rawSql")
}

/// A panel's columns, each with the report field it shows.
type Columns = &'static [(&'static str, &'static str)];

/// The recovery panel's columns.
const RECOVERY: Columns = &[
    ("value", "p50"),
    ("p95", "p95"),
    ("mean", "mean"),
    ("failed_deployments", "failed_deployments"),
    ("unrecovered_deployments", "unrecovered_deployments"),
];

/// Each stat panel, the report metric it shows, and its columns with the
/// metric's fields they are.
const STATS: &[(&str, &str, Columns)] = &[
    (
        "Deployment frequency",
        "deployment_frequency",
        &[("value", "value"), ("deployments", "deployments")],
    ),
    (
        "Lead time for changes (p50)",
        "lead_time_for_changes",
        &[
            ("value", "p50"),
            ("p95", "p95"),
            ("mean", "mean"),
            ("changes", "changes"),
        ],
    ),
    (
        "Change failure rate",
        "change_failure_rate",
        &[
            ("value", "value"),
            ("failed_deployments", "failed_deployments"),
            ("total_deployments", "total_deployments"),
        ],
    ),
    (
        "Time to restore (p50)",
        "time_to_restore",
        &[
            ("value", "p50"),
            ("p95", "p95"),
            ("mean", "mean"),
            ("incidents", "incidents"),
            ("open_incidents", "open_incidents"),
        ],
    ),
    (
        "Failed deployment recovery (p50)",
        "failed_deployment_recovery_time",
        RECOVERY,
    ),
    ("Rework rate", "rework_rate", &[("value", "value")]),
];

/// A stat panel's row against `report`'s metric: every column its field
/// (report rounds per day to 4 decimals, the rest to 2), and the level.
#[track_caller]
fn assert_stat(
    row: &BTreeMap<String, Option<String>>,
    metric: &Value,
    columns: &[(&str, &str)],
    what: &str,
) {
    let tol = if metric["unit"] == "per_day" {
        1e-4
    } else {
        0.006
    };
    for (col, field) in columns {
        assert_opt_close(
            &metric[*field],
            f(row, col),
            tol,
            &format!("{what} {field}"),
        );
    }
    assert_eq!(text(row, "level"), metric["level"].as_str(), "{what} level");
}

#[test]
fn the_dashboards_load_their_data_source_by_variable() {
    for name in ["dorameter-postgres.json", "dorameter-prometheus.json"] {
        let d = dashboard(name);
        let vars = d["templating"]["list"].as_array().expect("variables");
        let ds = vars
            .iter()
            .find(|v| v["type"] == "datasource")
            .unwrap_or_else(|| panic!("{name}: a data source variable"));
        let ds_name = ds["name"].as_str().unwrap();
        let by_variable = format!("${{{ds_name}}}");
        let names: Vec<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
        let mut ids = std::collections::BTreeSet::new();
        for p in panels(&d) {
            assert!(
                ids.insert(p["id"].as_u64().expect("an id")),
                "{name}: ids unique"
            );
            assert_eq!(
                p["datasource"]["uid"], by_variable,
                "{name}: {}",
                p["title"]
            );
            for t in p["targets"].as_array().expect("targets") {
                assert_eq!(
                    t["datasource"]["uid"], by_variable,
                    "{name}: {}",
                    p["title"]
                );
                let query = t["rawSql"]
                    .as_str()
                    .or(t["expr"].as_str())
                    .expect("a query");
                // Every variable a query names is defined.
                for part in query.split('$').skip(1) {
                    let word: String = part
                        .trim_start_matches('{')
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    // $__macros, and label_replace's "$1".
                    if !word.starts_with("__")
                        && !word.starts_with(|c: char| c.is_ascii_digit())
                        && !word.is_empty()
                    {
                        assert!(names.contains(&word.as_str()), "{name}: ${word} undefined");
                    }
                }
            }
        }
        for v in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(v["datasource"]["uid"], by_variable, "{name}: {}", v["name"]);
        }
        // Nothing names a data source instance.
        let text = d.to_string();
        assert_eq!(
            text.matches("\"uid\":").count(),
            text.matches(&format!("\"uid\":\"{by_variable}\"")).count() + 1,
            "{name}: only the dashboard's own uid is not the variable"
        );
    }
}

#[test]
fn the_provisioning_files_provide_what_the_dashboards_ask_for() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboards/grafana/provisioning");
    let read = |name: &str| -> serde_yaml::Value {
        let text = std::fs::read_to_string(dir.join(name)).expect(name);
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let sources = read("datasources/dorameter.yaml");
    assert_eq!(sources["apiVersion"], 1);
    let types: Vec<&str> = sources["datasources"]
        .as_sequence()
        .expect("datasources")
        .iter()
        .map(|d| d["type"].as_str().expect("type"))
        .collect();
    // Each dashboard's data source variable lists sources of a type provided.
    for name in ["dorameter-postgres.json", "dorameter-prometheus.json"] {
        let d = dashboard(name);
        let wanted = d["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["type"] == "datasource")
            .and_then(|v| v["query"].as_str())
            .expect("a data source variable");
        assert!(types.contains(&wanted), "{name} wants {wanted}: {types:?}");
        for p in panels(&d) {
            assert_eq!(p["datasource"]["type"], wanted, "{name}: {}", p["title"]);
        }
    }
    let providers = read("dashboards/dorameter.yaml");
    let provider = &providers["providers"][0];
    assert_eq!(provider["type"], "file");
    assert!(
        provider["options"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with('/'))
    );
}

/// `grafana-dashboard-check.mjs` on `files`: its verdict, or `None` when
/// the Node.js tools are missing (skipped).
fn schema_check(files: &[PathBuf]) -> Option<Result<String, String>> {
    let (node, dir) = crate::comment_charts::node_tools(
        "the dashboards were not checked against @grafana/schema",
    )?;
    let out = std::process::Command::new(node)
        .arg(dir.join("grafana-dashboard-check.mjs"))
        .args(files)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    })
}

#[test]
fn the_dashboards_are_valid_grafana_dashboards() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboards/grafana");
    let files = [
        dir.join("dorameter-postgres.json"),
        dir.join("dorameter-prometheus.json"),
    ];
    let Some(verdict) = schema_check(&files) else {
        return;
    };
    let out = verdict.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        2,
        "{out}"
    );

    // The check can fail: a wrong type, an unknown field, a bad enum value.
    let tmp = tempfile::tempdir().unwrap();
    for (what, edit) in [
        (
            "schemaVersion",
            Box::new(|d: &mut Value| d["schemaVersion"] = "39".into()) as Box<dyn Fn(&mut Value)>,
        ),
        (
            "colour",
            Box::new(|d: &mut Value| {
                d["panels"][0]["fieldConfig"]["defaults"]["colour"] = "red".into()
            }),
        ),
        (
            "textMode",
            Box::new(|d: &mut Value| d["panels"][0]["options"]["textMode"] = "loud".into()),
        ),
        (
            "drawStyle",
            Box::new(|d: &mut Value| {
                let p = d["panels"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|p| p["type"] == "timeseries")
                    .unwrap();
                p["fieldConfig"]["defaults"]["custom"]["drawStyle"] = "zigzag".into();
            }),
        ),
    ] {
        let mut d = dashboard("dorameter-postgres.json");
        edit(&mut d);
        let file = tmp.path().join(format!("{what}.json"));
        std::fs::write(&file, d.to_string()).unwrap();
        let e = schema_check(&[file]).expect("tools").expect_err(what);
        assert!(
            e.contains(what) || e.contains("not assignable"),
            "{what}: {e}"
        );
    }
}

/// The scripted month in PostgreSQL.
fn month_in_postgres() -> Option<(Db, Dm)> {
    let admin = server()?;
    let m = script();
    let db = Db::new(&admin);
    m.dm.run(&[
        "store",
        "copy",
        "--from",
        &m.dm.store_url(),
        "--to",
        &db.url,
    ])
    .assert_ok();
    let pg = m.dm.with_store(&db.url);
    Some((db, pg))
}

#[test]
fn every_panel_of_the_postgres_dashboard_equals_report() {
    let Some((db, pg)) = month_in_postgres() else {
        return;
    };
    let d = dashboard("dorameter-postgres.json");
    let all = "'__all'";
    let vars = |service: Option<&'static [&'static str]>, bands: &'static str| {
        vec![
            ("env", Var::One("production")),
            ("bands", Var::One(bands)),
            ("team", Var::All(all)),
            ("service", service.map_or(Var::All(all), Var::Many)),
        ]
    };
    // Every panel and variable runs, for one service and for all.
    for service in [None, Some(&["api"][..])] {
        for p in panels(&d) {
            let sql = expand(
                p["targets"][0]["rawSql"].as_str().unwrap(),
                SINCE,
                UNTIL,
                &vars(service, "classic"),
            );
            rows(&db, &sql);
        }
        for v in d["templating"]["list"].as_array().unwrap() {
            if v["type"] == "query" {
                let sql = expand(
                    v["query"].as_str().unwrap(),
                    SINCE,
                    UNTIL,
                    &vars(service, "classic"),
                );
                let values = rows(&db, &sql);
                // No deployment of the month names a team.
                assert_eq!(
                    values.is_empty(),
                    v["name"] == "team",
                    "{}: {values:?}",
                    v["name"]
                );
            }
        }
    }

    let run = |title: &str, service: Option<&'static [&'static str]>, bands: &'static str| {
        rows(
            &db,
            &expand(sql_of(&d, title), SINCE, UNTIL, &vars(service, bands)),
        )
    };
    for (svc, one) in [("api", &["api"][..]), ("web", &["web"][..])] {
        for bands in ["classic", "dora-2023"] {
            let r = pg.report(svc, SINCE, UNTIL, &["--bands", bands]);
            let m = &r["metrics"];
            let stat = |title: &str| run(title, Some(one), bands).remove(0);
            let what = |x: &str| format!("{svc} {bands} {x}");

            for (title, metric, columns) in STATS {
                let row = stat(title);
                assert_stat(&row, &m[*metric], columns, &what(metric));
            }
            let c = &m["change_failure_rate"];
            let t = &m["time_to_restore"];

            // One row per service, with every service shown.
            let summary = run("Services", None, bands);
            let row = summary
                .iter()
                .find(|r| text(r, "service") == Some(svc))
                .unwrap_or_else(|| panic!("{svc} in {summary:?}"));
            for (col, metric, field) in [
                ("deploys_per_day", "deployment_frequency", "value"),
                (
                    "deployment_frequency_level",
                    "deployment_frequency",
                    "level",
                ),
                ("lead_time_p50", "lead_time_for_changes", "p50"),
                ("lead_time_level", "lead_time_for_changes", "level"),
                ("change_failure_rate", "change_failure_rate", "value"),
                ("change_failure_rate_level", "change_failure_rate", "level"),
                ("time_to_restore_p50", "time_to_restore", "p50"),
                ("time_to_restore_level", "time_to_restore", "level"),
                ("open_incidents", "time_to_restore", "open_incidents"),
                ("recovery_p50", "failed_deployment_recovery_time", "p50"),
                ("recovery_level", "failed_deployment_recovery_time", "level"),
                ("rework_rate", "rework_rate", "value"),
            ] {
                let want = &m[metric][field];
                if col.ends_with("_level") {
                    assert_eq!(text(row, col), want.as_str(), "{}", what(col));
                } else {
                    // report rounds per day to 4 decimals, the rest to 2.
                    let tol = if col == "deploys_per_day" {
                        1e-4
                    } else {
                        0.006
                    };
                    assert_opt_close(want, f(row, col), tol, &what(col));
                }
            }
            if bands == "classic" {
                let shown: Vec<&str> = summary.iter().filter_map(|r| text(r, "service")).collect();
                assert_eq!(shown, ["api", "web"]);
            }

            // The failed deployments and open incidents behind the numbers.
            let failed = run("Failed deployments and why", Some(one), bands);
            assert_eq!(
                failed.len() as f64,
                num(&c["failed_deployments"]),
                "{}",
                what("failed")
            );
            for r in &failed {
                assert!(
                    text(r, "rule").is_some() && text(r, "fired_by").is_some(),
                    "{r:?}"
                );
            }
            let open = run("Open incidents", Some(one), bands);
            assert_eq!(
                open.len() as f64,
                num(&t["open_incidents"]),
                "{}",
                what("open")
            );
        }

        // The series: report --by week and --by day.
        for (title, by, column, metric, field) in [
            (
                "Deployments per week",
                "week",
                "deployments",
                "deployment_frequency",
                "deployments",
            ),
            (
                "Lead time p50 per week",
                "week",
                "lead_time_p50",
                "lead_time_for_changes",
                "p50",
            ),
            (
                "Change failure rate per week",
                "week",
                "change_failure_rate",
                "change_failure_rate",
                "value",
            ),
            (
                "Deployments per day",
                "day",
                "deployments",
                "deployment_frequency",
                "deployments",
            ),
        ] {
            let series = pg.json(&[
                "report",
                "--service",
                svc,
                "--by",
                by,
                "--since",
                &rfc(SINCE),
                "--until",
                &rfc(UNTIL),
            ]);
            let mut want = BTreeMap::new();
            for p in series[0]["points"].as_array().expect("points") {
                let start = ts(&p["start"]);
                let bucket = if by == "week" {
                    start - (start - 4 * DAY).rem_euclid(7 * DAY)
                } else {
                    start - start.rem_euclid(DAY)
                };
                let v = &p["metrics"][metric][field];
                let counted = num(&p["metrics"]["deployment_frequency"]["deployments"]) > 0.0;
                if !v.is_null() && counted {
                    want.insert(bucket, num(v));
                }
            }
            let got: BTreeMap<i64, f64> = run(title, Some(one), "classic")
                .iter()
                .map(|r| {
                    let t = text(r, "time").expect("time");
                    let t = t.parse::<f64>().map(|s| s as i64).unwrap_or_else(|_| {
                        chrono::DateTime::parse_from_str(&format!("{t}00"), "%Y-%m-%d %H:%M:%S%z")
                            .unwrap_or_else(|e| panic!("{t}: {e}"))
                            .timestamp()
                    });
                    (t, f(r, column).unwrap())
                })
                .collect();
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{svc} {title}"
            );
            for (k, v) in &want {
                assert_f(got[k], *v, 0.006, &format!("{svc} {title} at {}", rfc(*k)));
            }
        }
    }

    // A failed deployment not yet recovered (an open incident linked to
    // it) is no 0-second recovery: the panels count it unrecovered.
    let listed = pg.json(&[
        "deployments",
        "list",
        "--service",
        "api",
        "--since",
        &rfc(SINCE),
        "--until",
        &rfc(UNTIL),
    ]);
    let healthy = listed["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .find(|d| d["failed"] == false && d["status"] == "success")
        .and_then(|d| d["id"].as_str())
        .expect("a deployment that did not fail")
        .to_string();
    pg.run(&[
        "incident",
        "open",
        "--id",
        "still-open",
        "--service",
        "api",
        "--cause",
        "deploy",
        "--deployment",
        &healthy,
        "--started-at",
        &rfc(UNTIL - DAY),
    ])
    .assert_ok();
    let r = pg.report("api", SINCE, UNTIL, &[]);
    let x = &r["metrics"]["failed_deployment_recovery_time"];
    assert!(x["unrecovered_deployments"].as_u64().unwrap() >= 1, "{x}");
    let fd = run(
        "Failed deployment recovery (p50)",
        Some(&["api"]),
        "classic",
    )
    .remove(0);
    assert_stat(&fd, x, RECOVERY, "unrecovered");
    let summary = run("Services", None, "classic");
    let api = summary
        .iter()
        .find(|r| text(r, "service") == Some("api"))
        .unwrap();
    assert_opt_close(
        &x["p50"],
        f(api, "recovery_p50"),
        0.006,
        "Services recovery_p50",
    );
    let failed = run("Failed deployments and why", Some(&["api"]), "classic");
    let open_one = failed
        .iter()
        .find(|r| text(r, "deployment_id") == Some(healthy.as_str()))
        .expect("the newly failed deployment is listed");
    assert_eq!(f(open_one, "recovery"), None, "{open_one:?}");

    // --team: the services of the team only.
    rows(
        &db,
        "UPDATE dorameter.deployments SET team = 'payments' WHERE service = 'api'",
    );
    let team_vars = vec![
        ("env", Var::One("production")),
        ("bands", Var::One("classic")),
        ("team", Var::Many(&["payments"])),
        ("service", Var::All(all)),
    ];
    let summary = rows(
        &db,
        &expand(sql_of(&d, "Services"), SINCE, UNTIL, &team_vars),
    );
    let shown: Vec<&str> = summary.iter().filter_map(|r| text(r, "service")).collect();
    assert_eq!(shown, ["api"]);
}
