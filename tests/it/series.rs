//! The metrics per bucket (`app::series`, the dashboard's charts): each
//! point is exactly `report --since START --until END --format json` for its
//! bucket, on a scripted repository of five weeks with a rollback, a
//! hotfix, incidents and a rollback after the window.

use chrono::{TimeZone, Utc};
use serde_json::Value;

use dorameter::app::report::ReportRequest;
use dorameter::app::series::{Bucket, SeriesRequest, dashboard, series};
use dorameter::metrics::{Window, band_table};
use dorameter::store::{Access, StoreUrl, open};

use crate::util::*;

/// A scripted world: two services (api, web) from one monorepo, api in
/// production and staging.
pub(crate) struct Scripted {
    pub dm: Dm,
    /// The monorepo every deployment came from.
    pub repo: Repo,
    /// The window: Sunday 2026-03-01 12:00 (the first week is that half
    /// day) to Thursday 2026-04-02 18:00 (the last week is cut there).
    pub since: i64,
    pub until: i64,
}

impl Scripted {
    /// `report --since --until` of every service+env, as JSON.
    pub fn report_all(&self) -> Value {
        let (since, until) = (rfc(self.since), rfc(self.until));
        self.dm.json(&[
            "report",
            "--since",
            since.as_str(),
            "--until",
            until.as_str(),
        ])
    }
}

/// Records `sha` as deployment `id` of `svc` finished at `(day, hour)`.
#[track_caller]
fn deploy(
    dm: &Dm,
    repo: &Repo,
    svc: &str,
    id: &str,
    sha: &str,
    (day, hour): (i64, i64),
    extra: &[&str],
) -> Value {
    let out = dm.deploy_at(&repo.path, svc, id, sha, at(day, hour, 0), extra);
    assert_eq!(out["recorded"], true, "{out}");
    out
}

#[track_caller]
fn incident(dm: &Dm, id: &str, svc: &str, cause: &str, started: i64, resolved: Option<i64>) {
    let started = rfc(started);
    let mut args = vec![
        "incident",
        "open",
        "--id",
        id,
        "--service",
        svc,
        "--cause",
        cause,
        "--started-at",
        started.as_str(),
    ];
    let resolved = resolved.map(rfc);
    if let Some(r) = &resolved {
        args.extend(["--resolved-at", r.as_str()]);
    }
    dm.json(&args);
}

pub(crate) fn scripted() -> Scripted {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let r = &mut repo;

    // Week of Sunday 03-01 (half of it in the window): the first deployment
    // (no lead time), the first of web too.
    let c1 = r.commit_at("feat: first", at(0, 10, 0));
    deploy(&dm, r, "api", "api-1", &c1, (0, 15), &[]);
    deploy(&dm, r, "web", "web-1", &c1, (0, 16), &[]);
    deploy(&dm, r, "api", "stg-1", &c1, (0, 13), &["--env", "staging"]);

    // Week of 03-02: two deployments, three changes.
    let c2 = r.commit_at("feat: two", at(2, 9, 0));
    deploy(&dm, r, "api", "api-2", &c2, (2, 17), &[]);
    r.commit_at("feat: three", at(4, 8, 0));
    let c4 = r.commit_at("feat: four", at(4, 12, 0));
    deploy(&dm, r, "api", "api-3", &c4, (5, 10), &[]);
    deploy(&dm, r, "api", "stg-2", &c4, (4, 14), &["--env", "staging"]);

    // Week of 03-09: api-4 is rolled back to api-3's commit two hours later.
    let c5 = r.commit_at("feat: five (broken)", at(8, 11, 0));
    deploy(&dm, r, "api", "api-4", &c5, (9, 14), &[]);
    let back = deploy(&dm, r, "api", "api-5", &c4, (9, 16), &[]);
    assert_eq!(back["kind"], "rollback", "{back}");
    let c6 = r.commit_at("fix: five", at(10, 9, 0));
    deploy(&dm, r, "api", "api-6", &c6, (11, 9), &[]);
    deploy(&dm, r, "web", "web-2", &c6, (12, 9), &[]);

    // Week of 03-16: api-7 causes an incident; a --hotfix deployment fixes it.
    let c7 = r.commit_at("feat: seven", at(15, 10, 0));
    deploy(&dm, r, "api", "api-7", &c7, (16, 10), &[]);
    incident(
        &dm,
        "INC-1",
        "api",
        "deploy",
        at(16, 12, 0),
        Some(at(16, 14, 30)),
    );
    let c8 = r.commit_at("hotfix: seven", at(16, 13, 0));
    let fix = deploy(&dm, r, "api", "api-8", &c8, (16, 15), &["--hotfix"]);
    assert_eq!(fix["kind"], "rollforward", "{fix}");

    // Week of 03-23: plain deployments, an infra incident (restore time,
    // never a change failure), web's unknown-cause incident.
    let c9 = r.commit_at("feat: nine", at(22, 8, 0));
    deploy(&dm, r, "api", "api-9", &c9, (23, 10), &[]);
    r.commit_at("feat: ten", at(24, 9, 0));
    let c11 = r.commit_at("feat: eleven", at(24, 18, 0));
    deploy(&dm, r, "api", "api-10", &c11, (25, 11), &[]);
    deploy(&dm, r, "web", "web-3", &c11, (25, 12), &[]);
    incident(
        &dm,
        "INC-2",
        "api",
        "infra",
        at(26, 2, 0),
        Some(at(26, 3, 15)),
    );
    incident(
        &dm,
        "INC-3",
        "web",
        "unknown",
        at(25, 20, 0),
        Some(at(26, 1, 0)),
    );

    // Week of 03-30 (cut on Thursday 18:00): api-11, a failed deploy job,
    // an open incident; after the window, api-11 is rolled back: it counts
    // as failed in its week all the same.
    let c12 = r.commit_at("feat: twelve", at(29, 9, 0));
    deploy(&dm, r, "api", "api-11", &c12, (30, 10), &[]);
    let c13 = r.commit_at("feat: thirteen", at(30, 12, 0));
    deploy(
        &dm,
        r,
        "api",
        "api-12",
        &c13,
        (31, 9),
        &["--status", "failure"],
    );
    incident(&dm, "INC-4", "api", "infra", at(31, 11, 0), None);
    let late = deploy(&dm, r, "api", "api-13", &c11, (32, 20), &[]);
    assert_eq!(late["kind"], "rollback", "{late}");

    Scripted {
        dm,
        repo,
        since: at(0, 12, 0),
        until: at(32, 18, 0),
    }
}

/// The request `report --since --until` makes, for the library calls.
fn request(s: &Scripted, service: Option<&str>, env: Option<&str>) -> ReportRequest {
    let t = |x: i64| Utc.timestamp_opt(x, 0).single().expect("time");
    ReportRequest {
        service: service.map(str::to_string),
        env: env.map(str::to_string),
        team: None,
        window: Window {
            since: t(s.since),
            until: t(s.until),
        },
        attribution_window: chrono::Duration::hours(24),
        bands: band_table("classic").expect("classic"),
        now: t(s.dm.now),
    }
}

fn store(s: &Scripted) -> Box<dyn dorameter::store::Store> {
    open(&StoreUrl::Sqlite(s.dm.store_path()), Access::ReadOnly).expect("open the store")
}

#[test]
fn each_point_is_thereport_of_its_bucket() {
    let s = scripted();
    let whole = s.report_all();
    let whole = whole.as_array().expect("one report per service+env");
    let mut store = store(&s);
    for by in [Bucket::Week, Bucket::Month, Bucket::Day] {
        let req = SeriesRequest {
            report: request(&s, None, None),
            by,
        };
        let got = series(store.as_mut(), &req).expect("series");
        let names: Vec<(&str, &str)> = got
            .iter()
            .map(|x| (x.service.as_str(), x.env.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("api", "production"),
                ("api", "staging"),
                ("web", "production")
            ]
        );
        for x in &got {
            // Days on api in production (it has the most events), weeks
            // and months on every series.
            if by == Bucket::Day && (x.service.as_str(), x.env.as_str()) != ("api", "production") {
                continue;
            }
            assert_eq!(x.by, by);
            for p in &x.points {
                let report = s.dm.report(
                    &x.service,
                    ts(&Value::from(p.start.as_str())),
                    ts(&Value::from(p.end.as_str())),
                    &["--env", &x.env],
                );
                assert_eq!(
                    serde_json::to_value(&p.metrics).expect("metrics as JSON"),
                    report["metrics"],
                    "{} {} {by:?} point {}..{}",
                    x.service,
                    x.env,
                    p.start,
                    p.end
                );
                assert_eq!(
                    (
                        report["window"]["start"].as_str(),
                        report["window"]["end"].as_str()
                    ),
                    (Some(p.start.as_str()), Some(p.end.as_str()))
                );
            }
            // The points tile the window: counts add up to the whole
            // window's (each change counts once, in its deployment's bucket).
            let total = whole
                .iter()
                .find(|r| r["service"] == x.service.as_str() && r["env"] == x.env.as_str())
                .expect("a report of every series");
            for (metric, field) in [
                ("deployment_frequency", "deployments"),
                ("lead_time_for_changes", "changes"),
                ("change_failure_rate", "failed_deployments"),
                ("rework_rate", "remediation_deployments"),
                ("time_to_restore", "incidents"),
                ("time_to_restore", "open_incidents"),
            ] {
                let sum: u64 = x
                    .points
                    .iter()
                    .map(|p| {
                        serde_json::to_value(&p.metrics).unwrap()[metric][field]
                            .as_u64()
                            .unwrap()
                    })
                    .sum();
                assert_eq!(
                    Some(sum),
                    total["metrics"][metric][field].as_u64(),
                    "{} {} {by:?} {metric}.{field}",
                    x.service,
                    x.env
                );
            }
        }
    }
}

#[test]
fn weekly_points_show_the_script() {
    let s = scripted();
    let mut store = store(&s);
    let req = SeriesRequest {
        report: request(&s, Some("api"), None),
        by: Bucket::Week,
    };
    let d = dashboard(store.as_mut(), &req).expect("dashboard");
    assert_eq!(d.reports.len(), 1);
    let series = d.series();
    let [api] = series.as_slice() else {
        panic!("one series for --service api: {series:?}")
    };
    assert_eq!(
        (api.service.as_str(), api.env.as_str()),
        ("api", "production")
    );
    let bounds: Vec<(&str, &str)> = api
        .points
        .iter()
        .map(|p| (p.start.as_str(), p.end.as_str()))
        .collect();
    assert_eq!(
        bounds,
        [
            ("2026-03-01T12:00:00Z", "2026-03-02T00:00:00Z"),
            ("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"),
            ("2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z"),
            ("2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z"),
            ("2026-03-23T00:00:00Z", "2026-03-30T00:00:00Z"),
            ("2026-03-30T00:00:00Z", "2026-04-02T18:00:00Z"),
        ]
    );
    let m = |k: usize| serde_json::to_value(&api.points[k].metrics).unwrap();
    let col = |metric: &str, field: &str| -> Vec<Value> {
        (0..6).map(|k| m(k)[metric][field].clone()).collect()
    };
    let n = |v: &[i64]| -> Vec<Value> { v.iter().map(|&x| Value::from(x)).collect() };
    assert_eq!(
        col("deployment_frequency", "deployments"),
        n(&[1, 2, 3, 2, 2, 1])
    );
    // api-4 (rollback), api-7 (incident and hotfix), api-11 (rolled back
    // after the window).
    assert_eq!(
        col("change_failure_rate", "failed_deployments"),
        n(&[0, 0, 1, 1, 0, 1])
    );
    assert_eq!(
        col("rework_rate", "remediation_deployments"),
        n(&[0, 0, 1, 1, 0, 0])
    );
    // The first deployment has no lead time; api-5 re-ships api-3's commit.
    assert_eq!(
        col("lead_time_for_changes", "changes"),
        n(&[0, 3, 2, 2, 3, 1])
    );
    assert!(m(0)["lead_time_for_changes"]["value"].is_null());
    assert_eq!(col("time_to_restore", "incidents"), n(&[0, 0, 0, 1, 1, 0]));
    assert_eq!(
        col("time_to_restore", "open_incidents"),
        n(&[0, 0, 0, 0, 0, 1])
    );
    // Recovery of api-7: the incident resolved at 14:30, before the hotfix
    // at 15:00 (4.5 h after api-7 finished at 10:00).
    assert_eq!(m(3)["failed_deployment_recovery_time"]["p50"], 4.5 * 3600.0);
    // The whole-window report of the same snapshot is `report`'s.
    let cli = s.dm.report("api", s.since, s.until, &[]);
    assert_eq!(serde_json::to_value(&d.reports[0]).unwrap(), cli);
}

#[test]
fn unknown_services_and_envs_fail_asreport_does() {
    let s = scripted();
    let mut store = store(&s);
    for (service, env, flags) in [
        (Some("apii"), None, vec!["--service", "apii"]),
        (
            Some("api"),
            Some("prod"),
            vec!["--service", "api", "--env", "prod"],
        ),
        (None, Some("qa"), vec!["--env", "qa"]),
    ] {
        let req = SeriesRequest {
            report: request(&s, service, env),
            by: Bucket::Week,
        };
        let e = series(store.as_mut(), &req).expect_err("an unknown target");
        assert_eq!(e.exit_code(), 4, "{e}");
        let mut args = vec!["report"];
        args.extend(flags);
        let run = s.dm.run(&args);
        assert_eq!(run.code, 4, "{run:#?}");
        assert!(run.stderr.contains(&e.to_string()), "{e} / {run:#?}");
    }
    // Too many points is a usage error, before any read.
    let mut req = SeriesRequest {
        report: request(&s, None, None),
        by: Bucket::Day,
    };
    req.report.window.since = req.report.window.until - chrono::Duration::days(1500);
    let e = series(store.as_mut(), &req).expect_err("1500 days");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("at most 1000 points"), "{e}");
}

/// `report --by`: the CLI's series is the app's, in every format it
/// shows; a format that cannot show a series is refused.
#[test]
fn report_by_gives_the_series_in_every_format() {
    let s = scripted();
    let mut store = store(&s);
    let (since, until) = (rfc(s.since), rfc(s.until));
    let window = ["report", "--since", &since, "--until", &until];
    let want = series(
        store.as_mut(),
        &SeriesRequest {
            report: request(&s, None, None),
            by: Bucket::Week,
        },
    )
    .expect("series");
    fn with<'a>(window: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        window.iter().chain(extra).copied().collect()
    }
    let got = s.dm.json(&with(&window, &["--by", "week"]));
    assert_eq!(got, serde_json::to_value(&want).unwrap());

    // CSV: one row per bucket and metric, each with its bucket's window.
    let csv =
        s.dm.run(&with(&window, &["--by", "week", "--format", "csv"]));
    csv.assert_ok();
    let lines: Vec<&str> = csv.stdout.lines().skip(1).collect();
    let points: usize = want.iter().map(|x| x.points.len()).sum();
    assert_eq!(lines.len(), points * 6, "{}", csv.stdout);
    let api = &want[0];
    assert_eq!(
        (api.service.as_str(), api.env.as_str()),
        ("api", "production")
    );
    for p in &api.points {
        let prefix = format!("api,production,{},{},", p.start, p.end);
        let deployments = lines
            .iter()
            .find(|l| l.starts_with(&prefix) && l.contains(",deployment_frequency,"))
            .unwrap_or_else(|| panic!("no row for {prefix}: {}", csv.stdout));
        let value = serde_json::to_value(&p.metrics).unwrap()["deployment_frequency"]["value"]
            .as_f64()
            .map(|v| v.to_string())
            .unwrap_or_default();
        assert!(
            deployments.contains(&format!(",deployment_frequency,{value},")),
            "{deployments}"
        );
    }

    // Table and Markdown: a row per bucket under each service+env.
    for (format, header) in [
        ("table", "api / production  by week"),
        ("markdown", "### DORA metrics by week: api (production)"),
    ] {
        let out =
            s.dm.run(&with(&window, &["--by", "week", "--format", format]));
        out.assert_ok();
        assert!(out.stdout.contains(header), "{}", out.stdout);
        let rows = out
            .stdout
            .lines()
            .filter(|l| {
                l.starts_with("2026-03-")
                    || l.starts_with("| 2026-03-")
                    || l.starts_with("2026-04-")
                    || l.starts_with("| 2026-04-")
            })
            .count();
        assert_eq!(rows, points, "{format}: {}", out.stdout);
    }

    for format in ["prometheus", "html"] {
        let refused =
            s.dm.run(&with(&window, &["--by", "week", "--format", format]));
        assert_eq!(refused.code, 2, "{refused:#?}");
        assert!(
            refused.stderr.contains("--by gives a series"),
            "{refused:#?}"
        );
    }
    let bad = s.dm.run(&with(&window, &["--by", "fortnight"]));
    assert_eq!(bad.code, 2, "{bad:#?}");
}

/// `report` without `--service`: one row per service+env in the table and
/// Markdown, each value and level as `--format json` has them; `--team`
/// keeps the services whose latest deployment names the team, in every
/// format and in `deployments list`.
#[test]
fn report_is_one_row_per_service_and_team_filters() {
    let s = scripted();
    let (since, until) = (rfc(s.since), rfc(s.until));
    let window = ["--since", since.as_str(), "--until", until.as_str()];
    let all = s.report_all();
    let reports = all.as_array().expect("an array without --service");
    assert!(reports.len() >= 3, "{all}");
    let store = s.dm.store_url();
    let run = |format: &str, extra: &[&str]| {
        let mut args = vec!["--store", store.as_str(), "--format", format, "report"];
        args.extend(window);
        args.extend(extra);
        let run = s.dm.run_raw(&args);
        run.assert_ok();
        run.stdout
    };
    for format in ["table", "markdown"] {
        let text = run(format, &[]);
        let lines: Vec<&str> = text.lines().collect();
        for r in reports {
            let (svc, env) = (r["service"].as_str().unwrap(), r["env"].as_str().unwrap());
            let row = lines
                .iter()
                .find(|l| {
                    let cells: Vec<&str> = l
                        .split(if format == "table" { "  " } else { "|" })
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .collect();
                    cells.first() == Some(&svc) && cells.get(1) == Some(&env)
                })
                .unwrap_or_else(|| panic!("{format}: a row for {svc}/{env}:\n{text}"));
            let m = &r["metrics"];
            let per_day = m["deployment_frequency"]["value"].as_f64().unwrap();
            assert!(
                row.contains(&format!("{per_day:.2}/day")),
                "{format} {svc}/{env}: {row}"
            );
            if let Some(level) = m["deployment_frequency"]["level"].as_str() {
                assert!(row.contains(level), "{format} {svc}/{env}: {row}");
            }
            match m["change_failure_rate"]["value"].as_f64() {
                Some(cfr) => assert!(row.contains(&format!("{cfr:.2}%")), "{row}"),
                None => assert!(row.contains("no data"), "{row}"),
            }
        }
        // One row per service+env, not a table per service.
        assert_eq!(
            text.matches("Deployment frequency").count(),
            1,
            "{format}:\n{text}"
        );
    }

    // Teams: api's latest production deployment names payments, web's
    // core; staging names none.
    let head = s.repo.head();
    // After everything else (a rollback follows the window).
    let t = s.dm.now - 2 * MIN;
    for (svc, team, at) in [("api", "payments", t), ("web", "core", t + 60)] {
        let finished = rfc(at);
        s.dm.json(&[
            "deploy",
            "--repo",
            &s.repo.path.display().to_string(),
            "--service",
            svc,
            "--sha",
            &head,
            "--finished-at",
            &finished,
            "--team",
            team,
        ]);
    }
    let pairs = |v: &Value| -> Vec<(String, String)> {
        let list = if v.is_array() {
            v.as_array().unwrap().clone()
        } else {
            vec![v.clone()]
        };
        list.iter()
            .map(|r| {
                (
                    r["service"].as_str().unwrap().into(),
                    r["env"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let mut args = vec!["report", "--team", "payments"];
    args.extend(window);
    assert_eq!(
        pairs(&s.dm.json(&args)),
        [("api".to_string(), "production".to_string())]
    );
    for format in ["table", "markdown", "csv"] {
        let text = run(format, &["--team", "core"]);
        assert!(
            text.contains("web") && !text.contains("api"),
            "{format}:\n{text}"
        );
    }
    let listed = s.dm.json(&[
        "deployments",
        "list",
        "--team",
        "payments",
        "--since",
        &since,
    ]);
    let services: std::collections::BTreeSet<&str> = listed["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .filter_map(|d| d["service"].as_str())
        .collect();
    assert_eq!(services, ["api"].into_iter().collect(), "{listed}");
    // A mistyped team names the known ones, closest first (exit 4).
    let mut bad = vec!["report", "--team", "paymnts"];
    bad.extend(window);
    let e = s.dm.run(&bad);
    assert_eq!(e.code, 4, "{e:#?}");
    assert!(
        e.stderr.contains("no service of team 'paymnts'")
            && e.stderr.contains("known teams: payments, core"),
        "{}",
        e.stderr
    );
}
