//! The PostgreSQL store against a real server: the same results as SQLite,
//! concurrent writers and migrations, the `deploy_events` view, JUnit
//! ingestion and the errors a user meets.
//!
//! `DORAMETER_TEST_POSTGRES` names a superuser on a throwaway server
//! (`scripts/test` starts one with `scripts/postgres.sh`). Unset, every test
//! here says SKIPPED on stderr and passes, unless
//! `DORAMETER_REQUIRE_POSTGRES=1` (CI), where it fails. Each test works in a
//! database of its own, dropped at the end.

use std::path::Path;

use serde_json::Value;
use tokio_postgres::NoTls;

use crate::server::{Reply, Server};
use crate::util::*;

/// The admin URL, or `None` (after saying so loudly) when there is no server.
#[expect(clippy::print_stderr, reason = "a skipped test must be visible")]
pub(crate) fn server() -> Option<String> {
    match std::env::var("DORAMETER_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("DORAMETER_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "DORAMETER_REQUIRE_POSTGRES=1 but DORAMETER_TEST_POSTGRES is not set: start a server with scripts/postgres.sh"
            );
            eprintln!(
                "SKIPPED: set DORAMETER_TEST_POSTGRES to a superuser URL of a throwaway PostgreSQL server \
                 (scripts/test starts one) to run the PostgreSQL store tests"
            );
            None
        }
    }
}

/// `url` with its database replaced by `db`.
fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").expect("a URL") + 3;
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| i + authority_start)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// `url` with its user (and password) replaced.
pub(crate) fn with_user(url: &str, user: &str, password: Option<&str>) -> String {
    let start = url.find("://").expect("a URL") + 3;
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = match rest[..authority_end].rsplit_once('@') {
        Some((_, h)) => h,
        None => &rest[..authority_end],
    };
    let userinfo = match password {
        Some(p) => format!("{user}:{p}"),
        None => user.to_string(),
    };
    format!(
        "{}{userinfo}@{host}{}",
        &url[..start],
        &rest[authority_end..]
    )
}

/// Runs SQL as the admin on `url`; the rows' first columns as text.
pub(crate) fn sql(url: &str, query: &str) -> Vec<Vec<Option<String>>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let messages = client
            .simple_query(query)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e:?}"));
        messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect()
    })
}

/// Runs `query` on `url` (its own runtime, on a thread of its own): the
/// rows as column name → text, or the server's message.
pub(crate) fn query(
    url: &str,
    query: &str,
) -> Result<Vec<std::collections::BTreeMap<String, Option<String>>>, String> {
    let (url, query) = (url.to_string(), query.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, NoTls)
                .await
                .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let messages = client.simple_query(&query).await.map_err(|e| {
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_string())
            })?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                        r.columns()
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (c.name().to_string(), r.get(i).map(str::to_string)))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect())
        })
    })
    .join()
    .expect("query thread")
}

/// A database of its own for one test, dropped at the end.
pub(crate) struct Db {
    admin: String,
    name: String,
    pub(crate) url: String,
}

impl Db {
    pub(crate) fn new(admin: &str) -> Db {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        sql(admin, &format!("CREATE DATABASE {name}"));
        let url = with_db(admin, &name);
        Db {
            admin: admin.to_string(),
            name,
            url,
        }
    }

    pub(crate) fn sql(&self, query: &str) -> Vec<Vec<Option<String>>> {
        sql(&self.url, query)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| {
            sql(
                &self.admin,
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            )
        });
    }
}

/// A test's worlds: `dm` on its private SQLite store, and `pg`, the same
/// world (HOME, working directory, now) on a database of its own; `None`
/// when there is no server.
fn worlds() -> Option<(Db, Dm, Dm)> {
    let admin = server()?;
    let db = Db::new(&admin);
    let dm = Dm::default();
    let pg = dm.with_store(&db.url);
    Some((db, dm, pg))
}

/// Runs the same command on both stores and asserts byte-identical output.
#[track_caller]
fn both(dm: &Dm, pg: &Dm, args: &[&str]) -> Value {
    let a = dm.run(args);
    let b = pg.run(args);
    a.assert_ok();
    b.assert_ok();
    assert_eq!(
        a.stdout, b.stdout,
        "SQLite and PostgreSQL disagree on {args:?}"
    );
    serde_json::from_str(&a.stdout).expect("JSON")
}

fn deploy_both(
    dm: &Dm,
    pg: &Dm,
    repo: &Path,
    id: &str,
    sha: &str,
    finished: i64,
    extra: &[&str],
) -> Value {
    let (started, finished) = (rfc(finished - 5 * MIN), rfc(finished));
    let repo = repo.display().to_string();
    let mut args = vec![
        "deploy",
        "--repo",
        &repo,
        "--service",
        "api",
        "--id",
        id,
        "--sha",
        sha,
        "--started-at",
        &started,
        "--finished-at",
        &finished,
    ];
    args.extend_from_slice(extra);
    both(dm, pg, &args)
}

fn incident_both(dm: &Dm, pg: &Dm, id: &str, started: i64, extra: &[&str]) -> Value {
    let started = rfc(started);
    let mut args = vec![
        "incident",
        "open",
        "--id",
        id,
        "--service",
        "api",
        "--started-at",
        &started,
    ];
    args.extend_from_slice(extra);
    both(dm, pg, &args)
}

/// A history with every kind of event: planned deploys, a failed job, a
/// rollback, a revert, a hotfix, incidents of each cause linked by id, by sha
/// and by timing, one still open. Recorded into SQLite and PostgreSQL alike.
fn scenario(dm: &Dm, pg: &Dm) -> (Repo, Vec<String>) {
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 10));
    deploy_both(dm, pg, &repo.path, "d1", &c1, at(0, 1, 0), &[]);
    let c2 = repo.commit_at("feat: two", at(0, 1, 10));
    let c3 = repo.commit_at("feat: three", at(0, 1, 40));
    deploy_both(
        dm,
        pg,
        &repo.path,
        "d2",
        &c3,
        at(0, 3, 0),
        &["--deployed-by", "ada"],
    );
    let c4 = repo.commit_at("feat: four", at(0, 4, 0));
    deploy_both(
        dm,
        pg,
        &repo.path,
        "d3-failed-job",
        &c4,
        at(0, 5, 0),
        &["--status", "failure"],
    );
    deploy_both(dm, pg, &repo.path, "d3", &c4, at(0, 6, 0), &[]);
    deploy_both(
        dm,
        pg,
        &repo.path,
        "d4-rollback",
        &c3,
        at(0, 7, 0),
        &["--rollback"],
    );
    deploy_both(dm, pg, &repo.path, "d5", &c4, at(1, 2, 0), &[]);
    let bad = repo.commit_at("feat: five", at(1, 3, 0));
    deploy_both(dm, pg, &repo.path, "d6", &bad, at(1, 4, 0), &[]);
    let rev = repo.revert(&bad, at(1, 5, 0));
    deploy_both(dm, pg, &repo.path, "d7-revert", &rev, at(1, 6, 0), &[]);
    let c8 = repo.commit_at("feat: eight", at(2, 0, 0));
    deploy_both(dm, pg, &repo.path, "d8", &c8, at(2, 1, 0), &[]);
    let fix = repo.commit_at("fix: urgent", at(2, 1, 30));
    deploy_both(
        dm,
        pg,
        &repo.path,
        "d9-hotfix",
        &fix,
        at(2, 2, 0),
        &["--hotfix"],
    );
    // Same finished_at twice: the (finished_at, seq) order decides.
    let c10 = repo.commit_at("feat: ten", at(3, 0, 0));
    deploy_both(dm, pg, &repo.path, "d10a", &c10, at(3, 1, 0), &[]);
    let c11 = repo.commit_at("feat: eleven", at(3, 0, 30));
    deploy_both(
        dm,
        pg,
        &repo.path,
        "d10b",
        &c11,
        at(3, 1, 0),
        &["--deployed-by", "bob"],
    );
    // Recorded out of order: the later deployment first, then its ancestor.
    let c12 = repo.commit_at("feat: twelve", at(3, 2, 0));
    let c13 = repo.commit_at("feat: thirteen", at(3, 2, 10));
    deploy_both(dm, pg, &repo.path, "d12b", &c13, at(3, 3, 0), &[]);
    deploy_both(dm, pg, &repo.path, "d12a", &c12, at(3, 2, 30), &[]);
    shas.extend([c1, c2, c3, c4, bad, rev, c8, fix, c10, c11]);

    let resolved = |t: i64| rfc(t);
    incident_both(
        dm,
        pg,
        "INC-by-id",
        at(0, 3, 30),
        &[
            "--cause",
            "deploy",
            "--deployment",
            "d2",
            "--resolved-at",
            &resolved(at(0, 6, 30)),
        ],
    );
    incident_both(
        dm,
        pg,
        "INC-by-sha",
        at(1, 4, 30),
        &[
            "--cause",
            "unknown",
            "--sha",
            &shas[4],
            "--resolved-at",
            &resolved(at(1, 6, 0)),
        ],
    );
    incident_both(
        dm,
        pg,
        "INC-shipped-sha",
        at(0, 3, 10),
        &["--cause", "deploy", "--sha", &shas[1]],
    );
    incident_both(
        dm,
        pg,
        "INC-timing",
        at(2, 1, 20),
        &["--cause", "deploy", "--resolved-at", &resolved(at(2, 2, 0))],
    );
    incident_both(
        dm,
        pg,
        "INC-infra",
        at(3, 2, 0),
        &["--cause", "infra", "--resolved-at", &resolved(at(3, 3, 0))],
    );
    incident_both(dm, pg, "INC-open", at(3, 4, 0), &["--cause", "unknown"]);
    incident_both(
        dm,
        pg,
        "INC-unmatched",
        at(3, 5, 0),
        &["--cause", "deploy", "--deployment", "no-such-deploy"],
    );
    // An upsert: the same id again, now resolved.
    incident_both(
        dm,
        pg,
        "INC-timing",
        at(2, 1, 20),
        &["--cause", "deploy", "--resolved-at", &resolved(at(2, 3, 0))],
    );
    // Another service, for the report over every service.
    let web = repo.head();
    let repo_s = repo.path.display().to_string();
    let finished = rfc(at(1, 0, 0));
    both(
        dm,
        pg,
        &[
            "deploy",
            "--repo",
            &repo_s,
            "--service",
            "web",
            "--id",
            "w1",
            "--sha",
            &web,
            "--finished-at",
            &finished,
        ],
    );
    let started = rfc(at(1, 1, 0));
    both(
        dm,
        pg,
        &[
            "incident",
            "open",
            "--id",
            "INC-web",
            "--service",
            "web",
            "--service",
            "api",
            "--started-at",
            &started,
            "--cause",
            "deploy",
        ],
    );
    (repo, shas)
}

#[test]
fn report_on_postgres_is_byte_identical_to_sqlite() {
    let Some((_db, dm, pg)) = worlds() else {
        return;
    };
    scenario(&dm, &pg);
    let (since, until) = (rfc(BASE - DAY), rfc(dm.now));
    for args in [
        vec![
            "report",
            "--service",
            "api",
            "--since",
            &since,
            "--until",
            &until,
        ],
        vec![
            "report",
            "--service",
            "web",
            "--since",
            &since,
            "--until",
            &until,
        ],
        vec!["report", "--since", &since, "--until", &until],
        vec![
            "report",
            "--service",
            "api",
            "--since",
            &since,
            "--until",
            &until,
            "--attribution-window",
            "2h",
        ],
        vec!["report", "--service", "api"],
    ] {
        let v = both(&dm, &pg, &args);
        assert!(!v.is_null());
    }
    let r = both(
        &dm,
        &pg,
        &[
            "report",
            "--service",
            "api",
            "--since",
            &since,
            "--until",
            &until,
        ],
    );
    assert!(
        r["metrics"]["deployment_frequency"]["deployments"]
            .as_u64()
            .unwrap()
            >= 10,
        "{r}"
    );
    // Each commit once (SPEC §3): c2 c3 (d2), c4 (d3; not again at d5, the
    // redeploy after the rollback), five, its revert, eight, the hotfix, ten,
    // eleven, twelve (d12a, recorded after d12b), thirteen (d12b).
    assert_eq!(r["metrics"]["lead_time_for_changes"]["changes"], 11, "{r}");
    assert!(
        r["metrics"]["change_failure_rate"]["value"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{r}"
    );
    for format in ["table", "markdown", "csv", "prometheus"] {
        let args = [
            "--format", format, "report", "--since", &since, "--until", &until,
        ];
        // Not `run`: it would add `--format json`.
        let on = |w: &Dm| {
            let store = w.store_url();
            let mut all = vec!["--store", store.as_str()];
            all.extend_from_slice(&args);
            w.run_raw(&all)
        };
        let (a, b) = (on(&dm), on(&pg));
        a.assert_ok();
        assert_eq!(a.stdout, b.stdout, "--format {format}");
    }
}

#[test]
fn deploy_events_view_offers_the_seed_columns() {
    let Some((db, dm, pg)) = worlds() else {
        return;
    };
    let (_repo, shas) = scenario(&dm, &pg);
    let columns: Vec<String> = db
        .sql(
            "SELECT column_name || ':' || data_type FROM information_schema.columns
             WHERE table_schema = 'dora_compat' AND table_name = 'deploy_events' ORDER BY ordinal_position",
        )
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    // Seed 002's columns in its order, then dorameter's.
    assert_eq!(
        columns,
        [
            "id:bigint",
            "sha:text",
            "repo:text",
            "environment:text",
            "deployed_at:timestamp with time zone",
            "deployed_by:text",
            "status:text",
            "caused_incident:boolean",
            "incident_id:text",
            "lead_time_seconds:bigint",
            "deployment_id:text",
            "kind:text",
            "failure_rule:text",
            "team:text",
            "changes:bigint",
        ]
    );
    // Reachable as seed 002 names it (public), and where it was before.
    let rows = db.sql(
        "SELECT deployment_id, sha, repo, environment, deployed_by, status, caused_incident::text,
                incident_id, lead_time_seconds::text, kind, failure_rule
         FROM deploy_events WHERE repo = 'api' ORDER BY deployed_at, id",
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM dorameter.deploy_events WHERE repo = 'api'")[0][0],
        Some(rows.len().to_string())
    );
    let by_id: std::collections::BTreeMap<String, Vec<Option<String>>> = rows
        .iter()
        .map(|r| (r[0].clone().unwrap(), r.clone()))
        .collect();
    let s = |v: &str| Some(v.to_string());
    // Successful deployments only: the failed job is not a deployment.
    assert!(!by_id.contains_key("d3-failed-job"), "{by_id:?}");
    let r = pg.json(&[
        "report",
        "--service",
        "api",
        "--since",
        &rfc(at(0, 0, 0)),
        "--until",
        &rfc(at(5, 0, 0)),
    ]);
    let cfr = &r["metrics"]["change_failure_rate"];
    assert_eq!(
        rows.len() as u64,
        cfr["total_deployments"].as_u64().unwrap()
    );
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r[6].as_deref() == Some("true"))
        .map(|r| r[0].as_deref().unwrap())
        .collect();
    // Every rule of report: incidents by sha (d2: c2 shipped by d2, the
    // earlier of its two incidents named), by id, by timing (d4-rollback:
    // INC-web; d8; d12b: the open one), a rollback (d3) and a revert (d6).
    assert_eq!(failed, ["d2", "d3", "d4-rollback", "d6", "d8", "d12b"]);
    assert_eq!(
        failed.len() as u64,
        cfr["failed_deployments"].as_u64().unwrap()
    );
    let d2 = &by_id["d2"];
    assert_eq!(d2[1], s(&shas[2]));
    assert_eq!(
        (d2[2].clone(), d2[3].clone(), d2[4].clone(), d2[5].clone()),
        (s("api"), s("production"), s("ada"), s("success"))
    );
    assert_eq!(
        (d2[7].clone(), d2[10].clone()),
        (s("INC-shipped-sha"), s("incident"))
    );
    // The median of its two changes' lead times (author time to finish).
    let c2 = at(0, 3, 0) - at(0, 1, 10);
    let c3 = at(0, 3, 0) - at(0, 1, 40);
    assert_eq!(d2[8], Some(((c2 + c3) / 2).to_string()));
    let d3 = &by_id["d3"];
    assert_eq!((d3[7].clone(), d3[10].clone()), (None, s("rollback")));
    let rb = &by_id["d4-rollback"];
    assert_eq!(
        (rb[5].clone(), rb[9].clone(), rb[8].clone(), rb[7].clone()),
        (s("success"), s("rollback"), None, s("INC-web")),
        "a rollback is a deployment (status success) that ships nothing"
    );
    assert_eq!(by_id["d9-hotfix"][9], s("rollforward"));
    assert_eq!(by_id["d6"][7], s("INC-by-sha"));
    assert_eq!(by_id["d12b"][7], s("INC-open"));
    // d6: its incident came first, the revert (d7-revert) second.
    assert_eq!(
        db.sql("SELECT causes::text, failure_rule FROM dorameter.dora_deployments WHERE deployment_id = 'd6'"),
        [vec![s("2"), s("incident")]]
    );

    // The seed's own query, unchanged: report's change failure rate.
    let seed = db.sql(
        "SELECT ROUND(100.0 * COUNT(*) FILTER (WHERE caused_incident) / COUNT(*), 1) AS cfr_pct
         FROM deploy_events WHERE environment = 'production' AND repo = 'api'",
    );
    assert_eq!(
        seed[0][0].as_deref().map(|v| v.parse::<f64>().unwrap()),
        cfr["value"].as_f64().map(|v| (v * 10.0).round() / 10.0)
    );
}

/// The branch CI built (DevLake's `refName`) is stored by both stores: a
/// retried job reads its deployment back with it, so the sinks see the same
/// event and send nothing twice.
#[test]
fn the_ci_ref_is_stored_and_read_back_by_both_stores() {
    let Some((db, dm, pg)) = worlds() else { return };
    let server = Server::start(|_| Reply::ok());
    let hook = format!("webhook:{}", server.url("/hook"));
    let mut repo = Repo::new();
    let sha = repo.commit_at("one", at(0, 9, 0));
    let repo_path = repo.path.display().to_string();
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_SHA", sha.as_str()),
        ("CI_COMMIT_BRANCH", "release/2.x"),
        ("CI_PROJECT_ID", "42"),
        ("CI_PROJECT_NAME", "api"),
        ("CI_JOB_ID", "901"),
    ];
    for world in [&dm, &pg] {
        for _ in 0..2 {
            world
                .run_with_env(&env, &["--sink", &hook, "deploy", "--repo", &repo_path])
                .assert_ok();
        }
    }
    let refs: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.json()["data"]["ref_name"].clone())
        .collect();
    assert_eq!(refs, vec![Value::from("release/2.x"); 2], "one per store");
    assert_eq!(
        db.sql("SELECT ref_name FROM dorameter.deployments"),
        [[Some("release/2.x".to_string())]]
    );
}

#[test]
fn twenty_concurrent_deploys_are_all_recorded() {
    let Some((db, dm, pg)) = worlds() else {
        return;
    };
    let mut repo = Repo::new();
    let mut shas = Vec::new();
    for i in 0..20 {
        shas.push(repo.commit_at(&format!("feat: {i}"), at(0, 0, i)));
    }
    let repo_s = repo.path.display().to_string();
    // A fresh database: the twenty also race to migrate it.
    let children: Vec<_> = (0..20)
        .map(|i| {
            let finished = rfc(at(0, 1, i));
            let id = format!("c{i}");
            let args = [
                "deploy",
                "--repo",
                &repo_s,
                "--service",
                "api",
                "--id",
                &id,
                "--sha",
                &shas[i as usize],
                "--finished-at",
                &finished,
            ];
            pg.spawn(&args)
        })
        .collect();
    for child in children {
        child.wait().assert_ok();
    }
    let count = db.sql("SELECT count(*), count(DISTINCT id) FROM dorameter.deployments");
    assert_eq!(count[0], vec![Some("20".into()), Some("20".into())]);
    let migrations = db.sql(
        "SELECT string_agg(version::text, ',' ORDER BY version) FROM dorameter.schema_migrations",
    );
    let all: Vec<String> = (1..=dorameter::store::POSTGRES_SCHEMA_VERSION)
        .map(|v| v.to_string())
        .collect();
    assert_eq!(migrations[0][0].as_deref(), Some(all.join(",").as_str()));
    // Serialized writers: each deployment's previous deployment was
    // committed before it (a lower seq), never a concurrent one.
    let orphans = db.sql(
        "SELECT count(*) FROM dorameter.deployments d WHERE d.previous_sha IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM dorameter.deployments p WHERE p.sha = d.previous_sha AND p.seq < d.seq)",
    );
    assert_eq!(orphans[0][0].as_deref(), Some("0"));
    let (since, until) = (rfc(BASE - DAY), rfc(dm.now));
    let r = pg
        .run(&[
            "report",
            "--service",
            "api",
            "--since",
            &since,
            "--until",
            &until,
        ])
        .json();
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], 20,
        "{r}"
    );
}

#[test]
fn two_processes_migrating_a_fresh_database_both_succeed() {
    let Some((db, _dm, pg)) = worlds() else {
        return;
    };
    // Read-only commands on a fresh database create nothing.
    let r = pg.run(&["report"]);
    r.assert_ok();
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'dorameter'")[0][0].as_deref(),
        Some("0")
    );
    let children: Vec<_> = (0..2)
        .map(|i| {
            let id = format!("INC-{i}");
            let started = rfc(at(0, i, 0));
            let args = [
                "incident",
                "open",
                "--id",
                &id,
                "--service",
                "api",
                "--started-at",
                &started,
            ];
            pg.spawn(&args)
        })
        .collect();
    for child in children {
        child.wait().assert_ok();
    }
    let versions = db.sql("SELECT count(*), max(version) FROM dorameter.schema_migrations");
    let version = dorameter::store::POSTGRES_SCHEMA_VERSION.to_string();
    assert_eq!(versions[0], vec![Some(version.clone()), Some(version)]);
    assert_eq!(
        db.sql("SELECT count(*) FROM dorameter.incidents")[0][0].as_deref(),
        Some("2")
    );
    // A newer schema than this binary knows is refused, not written into.
    db.sql("INSERT INTO dorameter.schema_migrations (version, description) VALUES (99, 'from the future')");
    let r = pg.run(&["incident", "open", "--id", "INC-9", "--service", "api"]);
    r.assert_no_panic();
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stderr.contains("schema version 99"), "{r:#?}");
}

/// A JUnit file of `n` tests with every kind of outcome, retries included.
pub(crate) fn junit_file(path: &Path, n: usize, shift: usize, broken: bool) {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<testsuites>\n<testsuite name=\"suite\">\n");
    for i in 0..n {
        let k = (i + shift) % 9;
        let body = match k {
            0..=2 => String::new(),
            3 => "<failure message=\"boom\">trace</failure>".into(),
            4 => "<error message=\"crash\"/>".into(),
            5 => "<skipped/>".into(),
            6 => "<flakyFailure message=\"first try\"/>".into(),
            7 => "<failure message=\"again\"/><rerunFailure message=\"again\"/>".into(),
            _ => "<flakyError message=\"timeout\"/>".into(),
        };
        xml.push_str(&format!(
            "<testcase classname=\"pkg.C{}\" name=\"test_{i}\" time=\"0.{k}5\">{body}</testcase>\n",
            i % 13
        ));
        // Every 50th test appears twice in the file: entries merge by identity.
        if i % 50 == 0 {
            let again = if (i / 50 + shift) % 2 == 0 {
                ""
            } else {
                "<failure message=\"dup\"/>"
            };
            xml.push_str(&format!(
                "<testcase classname=\"pkg.C{}\" name=\"test_{i}\" time=\"1\">{again}</testcase>\n",
                i % 13
            ));
        }
    }
    if broken {
        xml.push_str("<testcase classname=\"pkg.Broken\" name=\"never_stored\"><failure");
    } else {
        xml.push_str("</testsuite>\n</testsuites>\n");
    }
    std::fs::write(path, xml).expect("write junit");
}

#[test]
fn junit_ingestion_gives_the_same_flaky_verdicts_as_sqlite() {
    let Some((db, dm, pg)) = worlds() else {
        return;
    };
    let dir = dm.dir.path().join("reports");
    std::fs::create_dir_all(&dir).unwrap();
    // More tests than one write batch, so merges cross batch boundaries.
    for run_no in 0..4usize {
        let run_dir = dir.join(format!("run{run_no}"));
        std::fs::create_dir_all(&run_dir).unwrap();
        junit_file(&run_dir.join("a.xml"), 7_000, run_no, false);
        // The same tests again in a second file, other outcomes.
        junit_file(&run_dir.join("b.xml"), 3_000, run_no + 4, false);
        junit_file(&run_dir.join("c-broken.xml"), 100, run_no, true);
        let sha = if run_no < 2 {
            "1111111111111111111111111111111111111111"
        } else {
            "2222222222222222222222222222222222222222"
        };
        let pattern = format!("{}/*.xml", run_dir.display());
        let id = format!("run-{run_no}");
        let now = rfc(dm.now - (4 - run_no as i64) * HOUR);
        let args = [
            "junit",
            &pattern,
            "--service",
            "api",
            "--sha",
            sha,
            "--id",
            &id,
        ];
        let a = dm.run_with_env(&[("DORAMETER_NOW", &now)], &args);
        let b = pg.run_with_env(&[("DORAMETER_NOW", &now)], &args);
        assert_eq!(a.code, b.code, "{a:#?}\n{b:#?}");
        assert_eq!(a.stdout, b.stdout);
        assert!(a.stderr.contains("c-broken.xml"), "{a:#?}");
    }
    let stored = db.sql(
        "SELECT count(*), sum(attempts), sum(failures), sum(passes), count(*) FILTER (WHERE flaky),
                count(*) FILTER (WHERE classname = 'pkg.Broken')
         FROM dorameter.test_results",
    );
    let sqlite = sqlite_counts(&dm);
    assert_eq!(
        stored[0]
            .iter()
            .map(|v| v.clone().unwrap())
            .collect::<Vec<_>>(),
        sqlite
    );
    for extra in [
        &["--min-runs", "1"][..],
        &["--min-runs", "3", "--min-failure-rate", "1"],
        &["--infra-threshold", "10"],
    ] {
        let mut args = vec!["flaky", "--service", "api", "--window", "1d"];
        args.extend_from_slice(extra);
        let v = both(&dm, &pg, &args);
        assert!(!v.is_null());
    }
    let v = both(
        &dm,
        &pg,
        &[
            "flaky",
            "--service",
            "api",
            "--window",
            "1d",
            "--min-runs",
            "1",
        ],
    );
    assert!(v.to_string().contains("test_"), "some tests are flaky: {v}");
    // The PR comment reads this commit's flaky tests (and both windows'
    // figures) alike from either store.
    let comment = |w: &Dm| {
        w.run_with_env(
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REPOSITORY", "o/r"),
                ("GITHUB_SHA", "1111111111111111111111111111111111111111"),
            ],
            &["comment", "--service", "api", "--dry-run"],
        )
    };
    // `--format json` (as `Dm` runs): the dry run's body is in the outcome.
    let (a, b) = (comment(&dm).json(), comment(&pg).json());
    let (a, b) = (a["body"].as_str().unwrap(), b["body"].as_str().unwrap());
    assert_eq!(a, b, "SQLite and PostgreSQL comments differ");
    assert!(
        a.contains("#### Flaky tests in this commit's recorded test runs\n\n- "),
        "{a}"
    );
}

/// The same totals as the PostgreSQL query, from the SQLite store's file.
fn sqlite_counts(dm: &Dm) -> Vec<String> {
    let conn = rusqlite::Connection::open(dm.store_path()).expect("open sqlite store");
    let row: (i64, i64, i64, i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), sum(attempts), sum(failures), sum(passes), sum(flaky), sum(classname = 'pkg.Broken') FROM test_results",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .expect("count");
    [row.0, row.1, row.2, row.3, row.4, row.5]
        .iter()
        .map(i64::to_string)
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bad_urls_are_usage_errors_and_unreachable_servers_environment_errors_without_the_password() {
    let Some(admin) = server() else { return };
    let dm = Dm::default();
    for url in [
        "postgres://dora:hunter22@db:notaport/dora",
        "postgres://dora:hunter22@db/dora?sslmode=sometimes",
    ] {
        let r = dm.with_store(url).run(&["report"]);
        r.assert_usage_error("--store");
        assert!(
            r.stderr.contains("postgres://USER"),
            "the expected form: {r:#?}"
        );
        assert!(!r.stderr.contains("hunter22"), "{r:#?}");
    }
    let url = format!(
        "postgres://dora:hunter22@127.0.0.1:{}/dora?connect_timeout=5",
        free_port()
    );
    let r = dm
        .with_store(&url)
        .run(&["incident", "open", "--id", "INC-1", "--service", "api"]);
    // Nothing listens there: the environment, not a setting (exit 1), with
    // the fix named all the same.
    r.assert_no_panic();
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr
            .contains("failed to reach the store at postgres://dora:***@127.0.0.1")
            && r.stderr.contains("--store"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("hunter22"), "{r:#?}");

    // This server has no TLS: sslmode=require must say so, not fall back.
    let db = Db::new(&admin);
    let base = db.url.split('?').next().unwrap();
    let r = dm
        .with_store(&format!("{base}?sslmode=require"))
        .run(&["report"]);
    r.assert_usage_error("--store");
    assert!(r.stderr.contains("TLS"), "{r:#?}");
    // prefer falls back to plain.
    dm.with_store(&format!("{base}?sslmode=prefer"))
        .run(&["report"])
        .assert_ok();
}

#[test]
fn a_role_without_create_rights_is_told_which_grant_is_missing() {
    let Some((db, dm, pg)) = worlds() else {
        return;
    };
    let admin = db.admin.clone();
    let role = format!("r_{}", uuid::Uuid::now_v7().simple());
    sql(&admin, &format!("CREATE ROLE {role} LOGIN"));
    let as_role = dm.with_store(&with_user(&db.url, &role, None));
    // Reading a fresh database needs no rights beyond CONNECT and TEMP.
    as_role.run(&["report"]).assert_ok();
    let r = as_role.run(&["incident", "open", "--id", "INC-1", "--service", "api"]);
    r.assert_usage_error("--store");
    assert!(
        r.stderr
            .contains(&format!("GRANT CREATE ON DATABASE {} TO {role}", db.name)),
        "{r:#?}"
    );
    // The schema exists (made by its owner) but the role may not use it.
    pg.run(&["incident", "open", "--id", "INC-0", "--service", "api"])
        .assert_ok();
    let r = as_role.run(&["incident", "open", "--id", "INC-1", "--service", "api"]);
    r.assert_usage_error("--store");
    assert!(
        r.stderr
            .contains(&format!("GRANT USAGE ON SCHEMA dorameter TO {role}")),
        "{r:#?}"
    );
    db.sql(&format!("GRANT USAGE ON SCHEMA dorameter TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA dorameter TO {role}"));
    as_role.run(&["report"]).assert_ok();
    let r = as_role.run(&["incident", "open", "--id", "INC-1", "--service", "api"]);
    r.assert_usage_error("--store");
    assert!(
        r.stderr.contains("ON ALL TABLES IN SCHEMA dorameter"),
        "{r:#?}"
    );
    db.sql(&format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dorameter TO {role}"
    ));
    as_role
        .run(&["incident", "open", "--id", "INC-1", "--service", "api"])
        .assert_ok();
    drop(db);
    sql(&admin, &format!("DROP ROLE IF EXISTS {role}"));
}

/// The test server trusts every local connection, so a wrong password is
/// only checked after adding a password rule for one role to pg_hba.conf
/// (through the superuser's COPY TO a server file). Servers where that is
/// not possible skip this part, saying so.
#[test]
#[expect(clippy::print_stderr, reason = "a skipped part must be visible")]
fn a_wrong_password_is_an_open_error_that_never_shows_the_password() {
    let Some(admin) = server() else { return };
    let db = Db::new(&admin);
    let dm = Dm::default();
    let role = "dorameter_pw_test";
    sql(
        &admin,
        &format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                 CREATE ROLE {role} LOGIN PASSWORD 'right-horse-battery'; END IF; END $$"
        ),
    );
    let hba = sql(&admin, "SHOW hba_file")[0][0].clone().unwrap();
    let lines = sql(
        &admin,
        &format!("SELECT line FROM regexp_split_to_table(pg_read_file('{hba}'), E'\\n') AS line"),
    );
    let rule = format!("host all {role} 127.0.0.1/32 scram-sha-256");
    if !lines.iter().any(|l| l[0].as_deref() == Some(rule.as_str())) {
        let mut all = vec![rule.clone()];
        all.extend(
            lines
                .into_iter()
                .filter_map(|l| l[0].clone())
                // Comments go: they are all this file's quotes.
                .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
                .map(|l| l.replace('\t', " ")),
        );
        if all.iter().any(|l| l.contains('\\') || l.contains('\'')) {
            eprintln!(
                "SKIPPED (wrong password): pg_hba.conf has characters this test will not rewrite"
            );
            return;
        }
        let values = all
            .iter()
            .enumerate()
            .map(|(i, l)| format!("({i}, '{l}')"))
            .collect::<Vec<_>>()
            .join(",");
        sql(
            &admin,
            &format!("COPY (SELECT l FROM (VALUES {values}) AS v(i, l) ORDER BY i) TO '{hba}'"),
        );
        sql(&admin, "SELECT pg_reload_conf()");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let good = with_user(&db.url, role, Some("right-horse-battery"));
    let r = dm.with_store(&good).run(&["-v", "report"]);
    r.assert_ok();
    assert!(
        !r.stderr.contains("right-horse-battery") && !r.stdout.contains("right-horse-battery"),
        "{r:#?}"
    );
    let bad = with_user(&db.url, role, Some("wrong-horse-battery"));
    let r = dm.with_store(&bad).run(&["report"]);
    r.assert_usage_error("--store");
    assert!(
        r.stderr.contains("password authentication failed"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("wrong-horse-battery"), "{r:#?}");
}
