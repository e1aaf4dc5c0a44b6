//! SPEC §10 on a real PostgreSQL: the seed setups' SQL statements, copied
//! verbatim into `fixtures/seed-sql/`, run on dorameter's store and give
//! `report`'s numbers; seed 002's `INSERT INTO deploy_events` and seed
//! 001's inserts record deployments and incidents by the rules `deploy`
//! and the webhooks follow; the views land where the seeds look for them
//! and nowhere they may not.
//!
//! Like `postgres`, every test here needs `DORAMETER_TEST_POSTGRES`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::postgres::{Db, server};
use crate::report_month::{SINCE, UNTIL, script};
use crate::serve::{Serving, WRITE};
use crate::util::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/seed-sql")
}

/// A seed statement, as the fixture has it.
fn seed(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Statements prefixed so that `NOW()` is `now` (a function on the search
/// path ahead of pg_catalog: the seed's text is not touched), in UTC, with
/// `path` searched for names.
fn at_now(now: i64, path: &str, statements: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS testclock;
         CREATE OR REPLACE FUNCTION testclock.now() RETURNS timestamptz LANGUAGE sql
             AS $$ SELECT to_timestamp({now}) $$;
         SET TimeZone = 'UTC';
         SET search_path = testclock, pg_catalog, {path};
         {statements}"
    )
}

/// One text cell as a number (`NULL` is `None`).
fn cell(v: &Option<String>) -> Option<f64> {
    v.as_deref()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
}

fn round_half_away(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[test]
fn every_seed_statement_is_the_seed_documents_own() {
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/seeds");
    let mut names = Vec::new();
    for dir in ["seed001", "seed002"] {
        for e in std::fs::read_dir(fixtures().join(dir)).expect("fixtures") {
            let path = e.expect("entry").path();
            names.push(format!(
                "{dir}/{}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    names.sort();
    assert_eq!(names.len(), 17, "{names:?}");
    let readme = seed("README.md");
    for n in &names {
        assert!(readme.contains(n), "README.md lists {n}");
    }
    let Ok(entries) = std::fs::read_dir(&seeds) else {
        #[expect(clippy::print_stderr, reason = "a skipped check must be visible")]
        {
            eprintln!(
                "SKIPPED: {} is not here (a clone without ../shared): the fixtures are not compared with the seeds",
                seeds.display()
            );
        }
        return;
    };
    let mut texts = BTreeMap::new();
    for e in entries {
        let path = e.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        texts.insert(
            name[..3].to_string(),
            std::fs::read_to_string(&path).unwrap(),
        );
    }
    for n in &names {
        let text = seed(n);
        let text = text.trim_end();
        let source = &texts[&n[4..7]];
        assert!(
            source.contains(text),
            "{n} is not verbatim in seed {}",
            &n[4..7]
        );
    }
}

/// The scripted month (two services, every change failure rule, incidents
/// of every cause) copied into PostgreSQL, and `report` of each service.
struct Month {
    db: Db,
    reports: BTreeMap<&'static str, Value>,
    month: crate::report_month::Month,
}

fn month() -> Option<Month> {
    let admin = server()?;
    let month = script();
    let db = Db::new(&admin);
    month
        .dm
        .run(&[
            "store",
            "copy",
            "--from",
            &month.dm.store_url(),
            "--to",
            &db.url,
        ])
        .assert_ok();
    let pg = month.dm.with_store(&db.url);
    let reports = ["api", "web"]
        .into_iter()
        .map(|s| (s, pg.report(s, SINCE, UNTIL, &[])))
        .collect();
    Some(Month { db, reports, month })
}

#[test]
fn seed_002s_queries_run_unchanged_and_give_reports_numbers() {
    let Some(m) = month() else {
        return;
    };
    // The seed's windows have no end: NOW() - 30 days onwards, events
    // after the month included (some are, to mark deployments of it failed).
    let pg = m.month.dm.with_store(&m.db.url);
    let open: BTreeMap<&str, Value> = ["api", "web"]
        .into_iter()
        .map(|svc| (svc, pg.report(svc, SINCE, pg.now, &[])))
        .collect();
    let sum = |name: &str, field: &str| -> f64 {
        open.values().map(|r| num(&r["metrics"][name][field])).sum()
    };

    // Change failure rate (both statements), over both services of
    // production: report's failed and total deployments.
    let (failed, total) = (
        sum("change_failure_rate", "failed_deployments"),
        sum("change_failure_rate", "total_deployments"),
    );
    assert!(failed > 0.0 && total > failed, "{failed} of {total}");
    let cfr = m.db.sql(&at_now(
        UNTIL,
        "public",
        &seed("seed002/04-change-failure-rate.sql"),
    ));
    assert_eq!(
        cfr[0].iter().map(cell).collect::<Vec<_>>(),
        [
            Some(round_half_away(100.0 * failed / total, 1)),
            Some(failed),
            Some(total)
        ],
        "seed 002's change failure rate"
    );
    let scenario = m.db.sql(&at_now(
        UNTIL,
        "public",
        &seed("seed002/08-cfr-scenario.sql"),
    ));
    assert_eq!(
        cell(&scenario[0][0]),
        Some(round_half_away(100.0 * failed / total, 1))
    );

    // Deployments per week over the last 28 days: report over each part of
    // each ISO week in that range.
    let since = UNTIL - 28 * DAY;
    let mut weeks: BTreeMap<i64, f64> = BTreeMap::new();
    for svc in ["api", "web"] {
        let series = pg.json(&[
            "report",
            "--service",
            svc,
            "--by",
            "week",
            "--since",
            &rfc(since),
            "--until",
            &rfc(pg.now),
        ]);
        let points = series[0]["points"].as_array().expect("points");
        assert!(points.len() >= 4, "{series}");
        for p in points {
            let start = ts(&p["start"]);
            // The Monday the part belongs to (1970-01-05 was one).
            let monday = start - (start - 4 * DAY).rem_euclid(7 * DAY);
            *weeks.entry(monday).or_default() +=
                num(&p["metrics"]["deployment_frequency"]["deployments"]);
        }
    }
    weeks.retain(|_, n| *n > 0.0);
    let rows = m.db.sql(&at_now(
        UNTIL,
        "public",
        &format!(
            "SELECT extract(epoch FROM week)::bigint, deploys, deploys_per_day FROM ({}) q",
            seed("seed002/02-frequency-by-week.sql")
                .trim_end()
                .trim_end_matches(';')
        ),
    ));
    let got: BTreeMap<i64, (f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_deref().unwrap().parse().unwrap(),
                (cell(&r[1]).unwrap(), cell(&r[2]).unwrap()),
            )
        })
        .collect();
    let want: BTreeMap<i64, (f64, f64)> = weeks
        .iter()
        .map(|(&w, &n)| (w, (n, round_half_away(n / 7.0, 1))))
        .collect();
    assert_eq!(got, want, "deployments per week");
    // The verbatim statement runs as is too.
    assert_eq!(
        m.db.sql(&at_now(
            UNTIL,
            "public",
            &seed("seed002/02-frequency-by-week.sql")
        ))
        .len(),
        want.len()
    );

    // Lead time: the seed's query reads one value per deployment, the
    // median of its changes (rounded half away from zero), computed here
    // from the rows dorameter wrote.
    let raw = m.db.sql(
        "SELECT d.seq::text, c.lead_time_seconds::text FROM dorameter.deployments d
         JOIN dorameter.changes c ON c.deployment_seq = d.seq
         WHERE d.status = 'success' AND d.env = 'production' AND d.finished_at >= to_timestamp(0)",
    );
    let window = m.db.sql(&format!(
        "SELECT seq::text FROM dorameter.deployments WHERE status = 'success' AND env = 'production'
         AND finished_at >= to_timestamp({})",
        UNTIL - 30 * DAY
    ));
    let mut per_deployment: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &raw {
        per_deployment
            .entry(r[0].clone().unwrap())
            .or_default()
            .push(cell(&r[1]).unwrap());
    }
    let medians: Vec<f64> = window
        .iter()
        .filter_map(|r| per_deployment.get(r[0].as_ref().unwrap()))
        .map(|v| percentile(v, 0.5).unwrap().round())
        .collect();
    assert!(medians.len() > 20, "{medians:?}");
    let lt = m.db.sql(&at_now(
        UNTIL,
        "public",
        &seed("seed002/03-lead-time-percentiles.sql"),
    ));
    assert_f(
        cell(&lt[0][0]).unwrap(),
        percentile(&medians, 0.5).unwrap() / 3600.0,
        1e-9,
        "p50_hours",
    );
    assert_f(
        cell(&lt[0][1]).unwrap(),
        percentile(&medians, 0.95).unwrap() / 3600.0,
        1e-9,
        "p95_hours",
    );
    // report's lead time is over commits: the same query over
    // dorameter.dora_changes, per service (docs/postgres.md).
    for svc in ["api", "web"] {
        let q = m.db.sql(&at_now(
            UNTIL,
            "public",
            &format!(
                "SELECT PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY lead_time_seconds),
                        PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY lead_time_seconds),
                        AVG(lead_time_seconds), COUNT(*)
                 FROM dorameter.dora_changes
                 WHERE env = 'production' AND service = '{svc}'
                   AND deployed_at >= NOW() - INTERVAL '30 days' AND deployed_at < NOW()"
            ),
        ));
        let lt = &m.reports[svc]["metrics"]["lead_time_for_changes"];
        for (i, field) in ["p50", "p95", "mean", "changes"].into_iter().enumerate() {
            assert_f(
                cell(&q[0][i]).unwrap(),
                num(&lt[field]),
                0.006,
                &format!("{svc} lead time {field}"),
            );
        }
    }

    // Seed 002's MTTR names `incidents`: seed-shaped in dora_compat.
    let mttr = m.db.sql(&at_now(
        UNTIL,
        "dora_compat",
        &seed("seed002/09-mttr-p1.sql"),
    ));
    assert_eq!(mttr, vec![vec![None]], "no P1 in the scripted month");
}

/// What the dashboards read: per service, every metric of `report` from
/// the documented views.
#[test]
fn the_views_give_every_metric_of_report() {
    let Some(m) = month() else {
        return;
    };
    for svc in ["api", "web"] {
        let r = &m.reports[svc]["metrics"];
        let w = format!(
            "service = '{svc}' AND env = 'production' AND finished_at >= to_timestamp({SINCE}) AND finished_at < to_timestamp({UNTIL})"
        );
        let d = m.db.sql(&format!(
            "SELECT count(*), count(*) FILTER (WHERE failed), count(*) FILTER (WHERE kind <> 'planned'),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM recovered_at - finished_at))
                        FILTER (WHERE failed),
                    count(*) FILTER (WHERE failed AND recovered_at IS NULL)
             FROM dorameter.dora_deployments WHERE {w}"
        ));
        let row: Vec<Option<f64>> = d[0].iter().map(cell).collect();
        assert_eq!(
            row[0],
            Some(num(&r["deployment_frequency"]["deployments"])),
            "{svc}"
        );
        assert_eq!(
            row[1],
            Some(num(&r["change_failure_rate"]["failed_deployments"])),
            "{svc}"
        );
        assert_eq!(
            row[2],
            Some(num(&r["rework_rate"]["remediation_deployments"])),
            "{svc}"
        );
        assert_opt_close(
            &r["failed_deployment_recovery_time"]["p50"],
            row[3],
            0.006,
            &format!("{svc} recovery p50"),
        );
        assert_eq!(
            row[4],
            Some(num(
                &r["failed_deployment_recovery_time"]["unrecovered_deployments"]
            )),
            "{svc}"
        );
        let i = m.db.sql(&format!(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY restore_seconds) FILTER (WHERE NOT open),
                    avg(restore_seconds) FILTER (WHERE NOT open),
                    count(*) FILTER (WHERE NOT open), count(*) FILTER (WHERE open)
             FROM dorameter.dora_incidents
             WHERE service = '{svc}' AND env = 'production'
               AND started_at >= to_timestamp({SINCE}) AND started_at < to_timestamp({UNTIL})"
        ));
        let t = &r["time_to_restore"];
        assert_opt_close(&t["p50"], cell(&i[0][0]), 0.006, &format!("{svc} mttr"));
        assert_opt_close(&t["mean"], cell(&i[0][1]), 0.006, &format!("{svc} mean"));
        assert_eq!(cell(&i[0][2]), Some(num(&t["incidents"])), "{svc}");
        assert_eq!(cell(&i[0][3]), Some(num(&t["open_incidents"])), "{svc}");
    }
    // Each failed deployment names what fired, as serve's breakdown does.
    let failed = m.db.sql(
        "SELECT deployment_id, failure_rule, failed_by_deployment, failed_by_incident, failed_by_commit
         FROM dorameter.dora_deployments WHERE failed ORDER BY finished_at",
    );
    let rules: std::collections::BTreeSet<&str> =
        failed.iter().filter_map(|r| r[1].as_deref()).collect();
    assert_eq!(
        rules,
        ["hotfix", "hotfix_subject", "incident", "revert", "rollback"]
            .into_iter()
            .collect(),
        "{failed:?}"
    );
    for r in &failed {
        match r[1].as_deref() {
            Some("incident") => assert!(r[3].is_some() && r[2].is_none(), "{r:?}"),
            Some("revert" | "hotfix_subject") => {
                assert!(r[2].is_some() && r[4].is_some(), "{r:?}")
            }
            _ => assert!(r[2].is_some() && r[3].is_none(), "{r:?}"),
        }
    }
}

/// A deployment as the seeds' SQL gives it.
struct Row {
    sha: &'static str,
    at: i64,
    lead: Option<i64>,
    status: &'static str,
    hotfix: bool,
}

const fn row(sha: &'static str, at: i64, lead: Option<i64>) -> Row {
    Row {
        sha,
        at,
        lead,
        status: "success",
        hotfix: false,
    }
}

/// The deployments, changes and remediations of a database, by sha and
/// time rather than id (the SQL and the webhook derive different ids).
fn recorded(db: &Db) -> Vec<Vec<Option<String>>> {
    db.sql(
        "SELECT 'deployment', d.sha, extract(epoch FROM d.finished_at)::text, d.status, d.kind, d.previous_sha,
                d.lead_time_note, d.clamped_changes::text, NULL
         FROM dorameter.deployments d
         UNION ALL
         SELECT 'change', d.sha, extract(epoch FROM d.finished_at)::text, c.sha,
                extract(epoch FROM c.authored_at)::text, c.lead_time_seconds::text, NULL, NULL, NULL
         FROM dorameter.changes c JOIN dorameter.deployments d ON d.seq = c.deployment_seq
         UNION ALL
         SELECT 'remediation', d.sha, extract(epoch FROM d.finished_at)::text, t.sha,
                extract(epoch FROM t.finished_at)::text, r.reason, r.commit_sha, NULL, NULL
         FROM dorameter.remediations r JOIN dorameter.deployments d ON d.seq = r.deployment_seq
         JOIN dorameter.deployments t ON t.id = r.target_id
         ORDER BY 1, 3, 2, 4, 5",
    )
}

#[test]
fn inserting_into_deploy_events_records_what_the_webhook_records() {
    let Some(admin) = server() else {
        return;
    };
    let t0 = NOW - 10 * DAY;
    let h = |n: i64| t0 + n * HOUR;
    let rows = [
        row("a1a1", h(0), Some(3600)),
        row("b2b2", h(24), Some(7200)),
        // The same row again (a retried job): one deployment.
        row("b2b2", h(24), Some(7200)),
        row("c3c3", h(48), Some(60)),
        // Back to bbb2: a rollback marking ccc3.
        row("b2b2", h(50), Some(9999)),
        // Forward again to c3c3 (first shipped after bbb2): planned, no sample.
        row("c3c3", h(60), Some(60)),
        // A hotfix: marks the previous deployment.
        Row {
            hotfix: true,
            ..row("d4d4", h(70), Some(100))
        },
        // A failed deploy job: stored, never counted.
        Row {
            status: "failure",
            ..row("e5e5", h(80), Some(100))
        },
        // Recorded late, before an existing deployment of its sha: takes
        // the sample.
        row("f6f6", h(100), Some(500)),
        row("f6f6", h(90), Some(400)),
        // Clock skew: the commit is after the deployment.
        row("0707", h(110), Some(-30)),
        // No lead time given.
        row("0808", h(120), None),
    ];

    // Through SQL: deploy.sh's statement as the shell expands it, and
    // seed 001's insert where the row is a hotfix (deploy.sh has no flag).
    let by_sql = Db::new(&admin);
    // A store dorameter created first (any command that writes).
    let dm = Dm::default();
    let sql_dm = dm.with_store(&by_sql.url);
    create_store(&sql_dm, t0 - DAY);
    for r in &rows {
        let deploy_time = rfc(r.at);
        if r.hotfix {
            let stmt = seed("seed001/03-insert-deployment.sql");
            by_sql.sql(&format!(
                "SET search_path = dora_compat; PREPARE s AS {stmt};
                 EXECUTE s('api', 'production', '{}', '{}', '{}', false, true)",
                r.sha,
                rfc(r.at - r.lead.unwrap()),
                deploy_time
            ));
            continue;
        }
        let lead = r.lead.map_or("NULL".to_string(), |l| l.to_string());
        let stmt = seed("seed002/05-deploy-sh-insert.sql")
            .replace("$SHA", r.sha)
            .replace("$REPO", "api")
            .replace("$DEPLOY_TIME", &deploy_time)
            .replace("$GITHUB_ACTOR", "ada")
            .replace("'success'", &format!("'{}'", r.status))
            .replace("$LEAD_TIME", &lead);
        by_sql.sql(&stmt);
    }

    // Through the webhook (seed 001's body, the Rust path of a deployment
    // with a commit time and no repository).
    let by_hook = Db::new(&admin);
    let hook_dm = dm.with_store(&by_hook.url);
    create_store(&hook_dm, t0 - DAY);
    let srv = Serving::start(
        &hook_dm,
        &hook_dm.cwd(),
        &[("DORAMETER_API_TOKENS", &format!("write:{WRITE}"))],
        &["--store", &by_hook.url],
    );
    for r in &rows {
        let mut body = json!({"service": "api", "environment": "production", "commit_sha": r.sha,
            "deployed_at": rfc(r.at), "is_hotfix": r.hotfix, "status": r.status});
        match r.lead {
            Some(l) => body["commit_timestamp"] = json!(rfc(r.at - l)),
            // Seed 001 requires a commit time: seed 000's body has none.
            None => {
                body = json!({"project": "api", "environment": "production", "commit_sha": r.sha,
                    "status": r.status, "timestamp": rfc(r.at), "duration_seconds": 0});
            }
        }
        let path = if r.lead.is_some() {
            "/events/deployment"
        } else {
            "/api/plugins/webhook/1/deployments"
        };
        let a = srv.post(path, Some(WRITE), &body);
        assert_eq!(a.status, 200, "{body}: {a:?}");
    }
    drop(srv);

    let (a, b) = (recorded(&by_sql), recorded(&by_hook));
    assert_eq!(a, b, "SQL inserts record what the webhook records");
    let kinds: Vec<(Option<String>, Option<String>)> = a
        .iter()
        .filter(|r| r[0].as_deref() == Some("deployment"))
        .map(|r| (r[1].clone(), r[4].clone()))
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        kinds,
        [
            (s("a1a1"), s("planned")),
            (s("b2b2"), s("planned")),
            (s("c3c3"), s("planned")),
            (s("b2b2"), s("rollback")),
            (s("c3c3"), s("planned")),
            (s("d4d4"), s("rollforward")),
            (s("e5e5"), s("planned")),
            (s("f6f6"), s("planned")),
            (s("f6f6"), s("planned")),
            (s("0707"), s("planned")),
            (s("0808"), s("planned")),
        ]
    );
    // report reads both the same.
    let window = ["--since", &rfc(t0 - DAY), "--until", &rfc(NOW)];
    let report = |d: &Dm| {
        let mut args = vec!["report", "--service", "api"];
        args.extend(window);
        d.json(&args)["metrics"].clone()
    };
    let metrics = report(&sql_dm);
    assert_eq!(metrics, report(&hook_dm));
    assert_eq!(metrics["deployment_frequency"]["deployments"], 10);
    // c3c3 rolled back, b2b2 hot-fixed.
    assert_eq!(metrics["change_failure_rate"]["failed_deployments"], 2);
    // a1a1, b2b2, c3c3, d4d4, f6f6 (at h90) and 0707 (clamped to 0).
    assert_eq!(metrics["lead_time_for_changes"]["changes"], 6);
    // The view shows what report counts.
    let ev = by_sql
        .sql("SELECT count(*), count(*) FILTER (WHERE caused_incident) FROM public.deploy_events");
    assert_eq!(ev[0], [s("10"), s("2")]);

    // Wrong rows are refused with what to fix, and record nothing.
    for (values, message) in [
        (
            "('abcd', 'api', 'production', now(), 'ada', 'shipped', 1)",
            "status 'shipped' is not one of success (or succeeded, successful), rollback, hotfix, failure (or failed, error)",
        ),
        (
            "('abcd', '', 'production', now(), 'ada', 'success', 1)",
            "needs the service (repo), not empty",
        ),
        (
            "('not-a-sha', 'api', 'production', now(), 'ada', 'success', 1)",
            "sha 'not-a-sha' is not a commit sha: 4 to 64 hexadecimal digits",
        ),
        (
            "('abcd', 'api', 'production', now() + interval '10 years', 'ada', 'success', 1)",
            "is in the future",
        ),
        (
            "(NULL, 'api', 'production', now(), 'ada', 'success', 1)",
            "needs the deployed commit sha",
        ),
    ] {
        let e = try_sql(
            &by_sql,
            &format!(
                "INSERT INTO deploy_events (sha, repo, environment, deployed_at, deployed_by, status, lead_time_seconds) VALUES {values}"
            ),
        )
        .expect_err(values);
        assert!(e.contains(message), "{values}: {e}");
    }
    assert_eq!(recorded(&by_sql), a);
}

/// Runs SQL, giving the server's message on an error.
fn try_sql(db: &Db, query: &str) -> Result<(), String> {
    crate::postgres::query(&db.url, query).map(drop)
}

/// Creates `dm`'s store (dorameter's schema and views) as any first
/// write does: an incident of another service.
fn create_store(dm: &Dm, at: i64) {
    dm.run(&[
        "incident",
        "open",
        "--id",
        "setup",
        "--service",
        "other",
        "--started-at",
        &rfc(at),
    ])
    .assert_ok();
}

#[test]
fn seed_001s_statements_run_on_dora_compat() {
    let Some(admin) = server() else {
        return;
    };
    let db = Db::new(&admin);
    let dm = Dm::default().with_store(&db.url);
    let t0 = NOW - 5 * DAY;
    create_store(&dm, t0 - DAY);
    let prepared = |name: &str, stmt: &str, args: &str| -> Vec<Vec<Option<String>>> {
        db.sql(&format!(
            "SET search_path = dora_compat; SET TimeZone = 'UTC'; PREPARE {name} AS {stmt}; EXECUTE {name}({args})"
        ))
    };
    let insert = seed("seed001/03-insert-deployment.sql");
    // (sha, commit, deployed, rollback, hotfix)
    let deployments = [
        ("a1a1", t0, t0 + 2 * HOUR, false, false),
        ("b2b2", t0 + 3 * HOUR, t0 + 5 * HOUR, false, false),
        (
            "c3c3",
            t0 + 6 * HOUR,
            t0 + 6 * HOUR + 30 * MIN,
            false,
            false,
        ),
        ("b2b2", t0, t0 + 8 * HOUR, true, false),
        ("d4d4", t0 + 20 * HOUR, t0 + 21 * HOUR, false, true),
    ];
    for (sha, commit, deployed, rb, hf) in deployments {
        prepared(
            "d",
            &insert,
            &format!(
                "'svc', 'production', '{sha}', '{}', '{}', {rb}, {hf}",
                rfc(commit),
                rfc(deployed)
            ),
        );
    }
    let upsert = seed("seed001/04-upsert-incident.sql");
    // Opened, then resolved by the same upsert; another one resolved at once.
    for (id, sev, detected, resolved) in [
        ("PD-1", "P1", t0 + 7 * HOUR, None),
        ("PD-1", "P1", t0 + 7 * HOUR, Some(t0 + 7 * HOUR + 40 * MIN)),
        (
            "PD-2",
            "P2",
            t0 + 22 * HOUR,
            Some(t0 + 22 * HOUR + 10 * MIN),
        ),
    ] {
        let resolved = resolved.map_or("NULL".into(), |r| format!("'{}'", rfc(r)));
        prepared(
            "i",
            &upsert,
            &format!("'{id}', 'svc', '{sev}', '{}', {resolved}", rfc(detected)),
        );
    }
    // A row without a service, or one far ahead, is refused.
    for (values, message) in [
        (
            "'PD-3', '', 'P2', now(), NULL",
            "incident PD-3 needs its service, not empty",
        ),
        (
            "'PD-3', NULL, 'P2', now(), NULL",
            "incident PD-3 needs its service, not empty",
        ),
        (
            "'PD-3', 'svc', 'P2', now() + interval '3 days', NULL",
            "incident PD-3 has a time in the future",
        ),
    ] {
        let e = try_sql(
            &db,
            &format!(
                "SET search_path = dora_compat; INSERT INTO incidents (incident_id, service, severity, detected_at, resolved_at) VALUES ({values})"
            ),
        )
        .expect_err(values);
        assert!(e.contains(message), "{values}: {e}");
    }
    let r = dm.report("svc", t0 - DAY, NOW, &[]);
    let m = &r["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 5, "{r}");
    assert_eq!(m["rework_rate"]["remediation_deployments"], 2, "{r}");
    assert_eq!(m["time_to_restore"]["incidents"], 2, "{r}");
    assert_eq!(m["time_to_restore"]["open_incidents"], 0, "{r}");

    let since = format!("'{}'", rfc(t0 - DAY));
    let args = format!("'svc', {since}");
    let count = prepared("f", &seed("seed001/05-frequency.sql"), &args);
    assert_eq!(
        cell(&count[0][0]),
        Some(num(&m["deployment_frequency"]["deployments"]))
    );
    // One commit per deployment here: the seed's per-deployment lead time
    // is report's lead time over commits.
    let lt = prepared("l", &seed("seed001/06-lead-time.sql"), &args);
    let lead = &m["lead_time_for_changes"];
    assert_eq!(lead["changes"], 4, "the rollback ships nothing new: {lead}");
    assert_f(cell(&lt[0][0]).unwrap(), num(&lead["mean"]), 0.006, "avg");
    assert_f(cell(&lt[0][1]).unwrap(), num(&lead["p50"]), 0.006, "median");
    // The seed counts rollbacks and hotfixes: report's rework.
    let cfr = prepared("c", &seed("seed001/07-cfr.sql"), &args);
    assert_eq!(
        (cell(&cfr[0][0]), cell(&cfr[0][1])),
        (
            Some(num(&m["rework_rate"]["remediation_deployments"])),
            Some(num(&m["rework_rate"]["total_deployments"]))
        )
    );
    // Detected is started for an incident the seed's SQL recorded.
    let mttr = prepared("m", &seed("seed001/08-mttr.sql"), &args);
    assert_f(
        cell(&mttr[0][0]).unwrap(),
        num(&m["time_to_restore"]["mean"]) / 60.0,
        1e-6,
        "avg_minutes",
    );
    let weekly = db.sql(&at_now(
        NOW,
        "dora_compat",
        &seed("seed001/02-cfr-by-week.sql"),
    ));
    let total: f64 = weekly.iter().map(|r| cell(&r[3]).unwrap()).sum();
    assert_eq!(total, 5.0, "{weekly:?}");
    // Seed 002's MTTR over the P1 incident.
    let p1 = db.sql(&at_now(NOW, "dora_compat", &seed("seed002/09-mttr-p1.sql")));
    assert_f(cell(&p1[0][0]).unwrap(), 40.0 / 60.0, 1e-9, "P1 hours");
}

#[test]
fn the_test_runs_view_has_seed_002s_rows_and_its_flaky_report_runs() {
    let Some(admin) = server() else {
        return;
    };
    let db = Db::new(&admin);
    let dm = Dm::default().with_store(&db.url);
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for run in 0..20 {
        // `t.flaky` fails in 5 of 20 runs; `t.retried` fails, then passes
        // on its retry, every 4th run; `t.skipped` is skipped.
        let flaky = if run % 4 == 0 {
            r#"<testcase classname="t" name="flaky"><failure message="boom">x</failure></testcase>"#
        } else {
            r#"<testcase classname="t" name="flaky"/>"#
        };
        let retried = if run % 4 == 1 {
            r#"<testcase classname="t" name="retried"><error message="e"/></testcase>
               <testcase classname="t" name="retried"/>"#
        } else {
            r#"<testcase classname="t" name="retried"/>"#
        };
        let xml = format!(
            r#"<testsuite name="s">{flaky}{retried}<testcase classname="t" name="ok"/><testcase classname="t" name="skipped"><skipped/></testcase></testsuite>"#
        );
        // The seed script's own rule: one row per <testcase>, failed when
        // it has a <failure> or an <error>.
        for case in xml.split("<testcase ").skip(1) {
            let name = case
                .split(" name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let failed = case.contains("<failure") || case.contains("<error");
            *expected
                .entry((
                    format!("t.{name}"),
                    if failed { "failed" } else { "passed" }.into(),
                ))
                .or_default() += 1;
        }
        let file = dm.cwd().join(format!("run{run}.xml"));
        std::fs::write(&file, xml).unwrap();
        dm.run(&[
            "junit",
            file.to_str().unwrap(),
            "--service",
            "api",
            "--id",
            &format!("run-{run}"),
        ])
        .assert_ok();
    }
    let rows = db.sql(
        "SELECT test_name, status, count(*)::text FROM public.test_runs WHERE suite = 'api' GROUP BY 1, 2",
    );
    let got: BTreeMap<(String, String), u64> = rows
        .iter()
        .map(|r| {
            (
                (r[0].clone().unwrap(), r[1].clone().unwrap()),
                r[2].as_deref().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let report = db.sql(&at_now(
        dm.now,
        "public",
        &seed("seed002/07-flaky-report.sql"),
    ));
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        report,
        [
            vec![s("t.flaky"), s("20"), s("25.0")],
            vec![s("t.retried"), s("25"), s("20.0")],
        ]
    );
}

#[test]
fn views_go_only_where_the_role_may_create_them_and_nothing_is_replaced() {
    let Some(admin) = server() else {
        return;
    };
    // A team's own deploy_events table, made by seed 002's statement.
    let own = Db::new(&admin);
    own.sql(&seed("seed002/01-create-table.sql"));
    own.sql(
        "INSERT INTO deploy_events (sha, repo, environment) VALUES ('x', 'mine', 'production')",
    );
    let dm = Dm::default().with_store(&own.url);
    dm.run(&[
        "incident",
        "open",
        "--id",
        "i",
        "--service",
        "api",
        "--started-at",
        &rfc(NOW - DAY),
    ])
    .assert_ok();
    let kinds = own.sql(
        "SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relname IN ('deploy_events', 'test_runs') ORDER BY 1",
    );
    let s = |v: &str| vec![Some(v.to_string())];
    assert_eq!(
        kinds,
        [
            s("dora_compat.deploy_events:v"),
            s("dora_compat.test_runs:v"),
            s("dorameter.deploy_events:v"),
            s("dorameter.test_runs:r"),
            s("public.deploy_events:r"),
            s("public.test_runs:v"),
        ]
    );
    assert_eq!(
        own.sql("SELECT repo FROM public.deploy_events"),
        [s("mine")],
        "the team's table is untouched"
    );

    // A role that may not create in public: no view there, the rest works.
    let db = Db::new(&admin);
    let role = format!("w_{}", &db.url.rsplit('/').next().unwrap()[2..12]);
    db.sql(&format!(
        "CREATE ROLE {role} LOGIN; GRANT CREATE ON DATABASE {} TO {role}; REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        db.url.rsplit('/').next().unwrap()
    ));
    let as_role = crate::postgres::with_user(&db.url, &role, None);
    let writer = Dm::default().with_store(&as_role);
    writer
        .run(&[
            "incident",
            "open",
            "--id",
            "i",
            "--service",
            "api",
            "--started-at",
            &rfc(NOW - DAY),
        ])
        .assert_ok();
    assert_eq!(
        db.sql("SELECT to_regclass('public.deploy_events')::text, to_regclass('dora_compat.deploy_events')::text"),
        [vec![None, Some("dora_compat.deploy_events".to_string())]]
    );
    db.sql(&format!("DROP OWNED BY {role} CASCADE"));
    drop(db);
    crate::postgres::sql(&admin, &format!("DROP ROLE {role}"));
}

/// An incident linked by sha before any deployment shipped the commit:
/// the deployment that ships it later is the one it is attributed to, and
/// an earlier one recorded after that takes it over, in the views as in
/// `report`.
#[test]
fn an_incident_linked_by_sha_follows_the_deployments_recorded_after_it() {
    let Some(admin) = server() else {
        return;
    };
    let db = Db::new(&admin);
    let dm = Dm::default().with_store(&db.url);
    let t = NOW - 2 * DAY;
    dm.run(&[
        "incident",
        "open",
        "--id",
        "by-sha",
        "--service",
        "api",
        "--cause",
        "deploy",
        "--sha",
        "abcd1234abcd1234abcd1234abcd1234abcd1234",
        "--started-at",
        &rfc(t),
    ])
    .assert_ok();
    let insert = |at: i64| {
        db.sql(&format!(
            "INSERT INTO deploy_events (sha, repo, environment, deployed_at) VALUES ('abcd1234abcd1234abcd1234abcd1234abcd1234', 'api', 'production', '{}')",
            rfc(at)
        ));
    };
    let failed = || -> Vec<Vec<Option<String>>> {
        db.sql("SELECT extract(epoch FROM deployed_at)::bigint::text, incident_id FROM deploy_events WHERE caused_incident ORDER BY 1")
    };
    let report_failed = || {
        let r = dm.report("api", t - DAY, NOW, &[]);
        r["metrics"]["change_failure_rate"]["failed_deployments"]
            .as_u64()
            .unwrap()
    };
    insert(t - HOUR);
    assert_eq!(
        failed(),
        [vec![Some((t - HOUR).to_string()), Some("by-sha".into())]]
    );
    assert_eq!(report_failed(), 1);
    // An earlier deployment of the commit, recorded late: it shipped first.
    insert(t - 2 * HOUR);
    assert_eq!(
        failed(),
        [vec![
            Some((t - 2 * HOUR).to_string()),
            Some("by-sha".into())
        ]]
    );
    assert_eq!(report_failed(), 1);
    let listed = dm.json(&[
        "deployments",
        "list",
        "--service",
        "api",
        "--failed",
        "--since",
        &rfc(t - DAY),
    ]);
    let at: Vec<i64> = listed["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| ts(&d["finished_at"]))
        .collect();
    assert_eq!(at, [t - 2 * HOUR]);
}
