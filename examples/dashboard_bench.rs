//! Measures what a dashboard asks of the stores (docs/grafana.md quotes its
//! output), on the report data set (`benches/support/report_data.rs`:
//! 100k deployments over a year, 10 changes each, 10k incidents):
//!
//! 1. every panel query and variable query of
//!    `dashboards/grafana/dorameter-postgres.json`, expanded as Grafana
//!    expands them, on PostgreSQL: the last 30 days and the whole year;
//! 2. `report --by week` over the year on SQLite (and PostgreSQL), next to
//!    `report` of the same year.
//!
//! ```text
//! cargo build --release --bin dorameter --example dashboard_bench
//! url=$(scripts/postgres.sh start 2>/tmp/pg.log)
//! target/release/examples/dashboard_bench "$url"
//! ```
//!
//! Environment: `DASH_BENCH_DEPLOYMENTS` (100000), `DASH_BENCH_RUNS` (5),
//! `DASH_BENCH_BIN` (target/release/dorameter), `DASH_BENCH_KEEP=1` keeps
//! the database `dorameter_dashboard_bench` (and reuses it when it exists),
//! `DASH_BENCH_POPULATE_ONLY=1` stops after filling it, and
//! `DASH_BENCH_NO_TRIGGERS=1` fills it with the incidents' triggers off
//! (the views' bookkeeping; foreign keys stay checked), for comparison.

#![expect(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dorameter::store::{self, Access, StoreUrl};
use report_data::{DAY, EPOCH, SPAN};

#[path = "../benches/support/report_data.rs"]
mod report_data;

#[path = "../benches/support/bench_env.rs"]
mod bench_env;
use bench_env::{Pg, env_num, median, with_db};

#[path = "../benches/support/grafana.rs"]
mod grafana;
use grafana::{Value as Var, expand};

const DB: &str = "dorameter_dashboard_bench";

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Whether PostgreSQL plans to compile the query (JIT): over this data,
/// compiling costs more than running (0.75 s for a 0.2 s query), so a
/// panel that plans it is a regression of its estimate.
fn plans_jit(pg: &Pg, sql: &str) -> bool {
    let rows = pg
        .rt
        .block_on(
            pg.client
                .simple_query(&format!("EXPLAIN (FORMAT JSON) {sql}")),
        )
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
    rows.iter().any(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => {
            r.get(0).is_some_and(|p| p.contains("\"JIT\""))
        }
        _ => false,
    })
}

/// The median wall time of `runs` runs of `dorameter ARGS` at `now`.
fn time_cli(bin: &Path, cwd: &Path, now: i64, args: &[&str], runs: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(bin)
            .args(args)
            .current_dir(cwd)
            .env("DORAMETER_NOW", now.to_string())
            .output()
            .expect("run dorameter");
        times.push(start.elapsed());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    median(times)
}

fn main() {
    let server = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DORAMETER_TEST_POSTGRES").ok())
        .expect("usage: dashboard_bench POSTGRES_SUPERUSER_URL");
    let n = env_num("DASH_BENCH_DEPLOYMENTS", 100_000);
    let runs = env_num("DASH_BENCH_RUNS", 5);
    let keep = std::env::var("DASH_BENCH_KEEP").as_deref() == Ok("1");
    let bin = std::fs::canonicalize(
        std::env::var("DASH_BENCH_BIN").unwrap_or_else(|_| "target/release/dorameter".into()),
    )
    .expect("build the release binary first: cargo build --release");
    let scratch = tempfile::tempdir().expect("tempdir");
    let url = with_db(&server, DB);
    let admin = Pg::connect(&server);
    let exists = admin
        .rt
        .block_on(
            admin
                .client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DB]),
        )
        .expect("look for the database")
        .is_some();
    if !(keep && exists) {
        admin.exec(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"));
        admin.exec(&format!("CREATE DATABASE {DB}"));
        println!("populating {n} deployments, {} incidents", n / 10);
        let start = Instant::now();
        let mut st = store::open(&StoreUrl::parse(&url).expect("URL"), Access::ReadWrite)
            .expect("open the store");
        if std::env::var("DASH_BENCH_NO_TRIGGERS").as_deref() == Ok("1") {
            // Migrated by the open above; foreign keys stay checked.
            st.write(&mut |_| Ok(())).expect("migrate");
            Pg::connect(&url).exec(
                "ALTER TABLE dorameter.incidents DISABLE TRIGGER USER;
                 ALTER TABLE dorameter.incident_services DISABLE TRIGGER USER",
            );
        }
        report_data::populate(st.as_mut(), n);
        drop(st);
        println!("  postgres: {:.1} s", start.elapsed().as_secs_f64());
        Pg::connect(&url).exec("VACUUM ANALYZE");
    } else {
        // A kept database: migrated to this build's schema.
        store::open(&StoreUrl::parse(&url).expect("URL"), Access::ReadWrite)
            .expect("open the store")
            .write(&mut |_| Ok(()))
            .expect("migrate");
    }
    if std::env::var("DASH_BENCH_POPULATE_ONLY").as_deref() == Ok("1") {
        return;
    }
    let pg = Pg::connect(&url);
    let (deployments, _) = pg.time("SELECT 1 FROM dorameter.deployments");
    let (changes, _) = pg.time("SELECT 1 FROM dorameter.changes");
    let (incidents, _) = pg.time("SELECT 1 FROM dorameter.incidents");
    println!("store: {deployments} deployments, {changes} changes, {incidents} incidents");

    let text = std::fs::read_to_string("dashboards/grafana/dorameter-postgres.json")
        .expect("run from the repository root");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let end = EPOCH + SPAN;
    let all = "'__all'";
    let vars = [
        ("env", Var::One("production")),
        ("bands", Var::One("classic")),
        ("team", Var::All(all)),
        ("service", Var::All(all)),
    ];
    let mut queries: Vec<(String, String)> = Vec::new();
    for v in dash["templating"]["list"].as_array().expect("variables") {
        if let Some(q) = v["query"].as_str().filter(|_| v["type"] == "query") {
            queries.push((format!("variable {}", v["name"]), q.to_string()));
        }
    }
    for p in dash["panels"].as_array().expect("panels") {
        queries.push((
            p["title"].as_str().unwrap_or("?").to_string(),
            p["targets"][0]["rawSql"]
                .as_str()
                .expect("rawSql")
                .to_string(),
        ));
    }
    println!(
        "\n| query | last 30 days | rows | the whole year | rows |\n| --- | --- | --- | --- | --- |"
    );
    let mut worst = (Duration::ZERO, Duration::ZERO);
    for (name, sql) in &queries {
        let mut cells = Vec::new();
        for (from, to, slot) in [(end - 30 * DAY, end, 0), (EPOCH, end, 1)] {
            let sql = expand(sql, from, to, &vars);
            let (rows, _) = pg.time(&sql); // warm the cache and the plan
            let t = median((0..runs).map(|_| pg.time(&sql).1).collect());
            if slot == 0 {
                worst.0 = worst.0.max(t);
            } else {
                worst.1 = worst.1.max(t);
            }
            let jit = if plans_jit(&pg, &sql) { " (JIT)" } else { "" };
            cells.push(format!("{}{jit} | {rows}", ms(t)));
        }
        println!("| {name} | {} | {} |", cells[0], cells[1]);
    }
    println!(
        "slowest: {} (30 days), {} (year); target < 100 ms",
        ms(worst.0),
        ms(worst.1)
    );

    // report --by week over the year, on SQLite and PostgreSQL.
    let sqlite = format!("sqlite:{}", scratch.path().join("bench.db").display());
    let mut st = store::open(&StoreUrl::parse(&sqlite).expect("URL"), Access::ReadWrite)
        .expect("open SQLite");
    report_data::populate(st.as_mut(), n);
    drop(st);
    let (since, until) = (EPOCH.to_string(), (end + 60).to_string());
    println!();
    for (name, store) in [("sqlite", sqlite.as_str()), ("postgres", url.as_str())] {
        for by in [None, Some("week")] {
            let mut args = vec![
                "--store",
                store,
                "--format",
                "json",
                "report",
                "--service",
                "bench",
                "--since",
                &since,
                "--until",
                &until,
            ];
            if let Some(b) = by {
                args.extend(["--by", b]);
            }
            let t = time_cli(&bin, scratch.path(), end + DAY, &args, runs);
            println!(
                "{name}: report{} over the year: {:.3} s (median of {runs})",
                by.map_or(String::new(), |b| format!(" --by {b}")),
                t.as_secs_f64()
            );
        }
    }
    if !keep {
        admin.exec(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"));
    }
}
