//! Measures the PostgreSQL store (docs/postgres.md quotes its output):
//!
//! 1. `report` over 100k deployments / ~1M changes / 10k incidents (the
//!    shape of `benches/core.rs`'s report store: 10 changes per deployment,
//!    one failed job in 50, rollbacks and hotfixes, incidents linked a third
//!    by id, a third by sha, a third by timing), next to the same data in
//!    SQLite.
//! 2. `junit` ingestion of one large JUnit file (retries, duplicates, every
//!    outcome) into PostgreSQL and SQLite.
//!
//! ```text
//! cargo build --release
//! url=$(scripts/postgres.sh start)
//! cargo run --release --example pg_bench -- "$url"
//! ```
//!
//! Environment: `PG_BENCH_DEPLOYMENTS` (100000), `PG_BENCH_TESTS` (1000000),
//! `PG_BENCH_RUNS` (5), `PG_BENCH_BIN` (target/release/dorameter);
//! `PG_BENCH_WRITE_JUNIT=PATH` only writes the JUnit file to PATH.
//! Creates and drops the database `dorameter_bench` on the server.

#![expect(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dorameter::store::{self, Access, StoreUrl};

/// 2022-01-01T00:00:00Z: the data spans one year from here.
use report_data::{DAY, EPOCH, SPAN};
#[path = "../benches/support/report_data.rs"]
mod report_data;

#[path = "../benches/support/bench_env.rs"]
mod bench_env;
use bench_env::{Pg, env_num, with_db};

const DB: &str = "dorameter_bench";

fn admin(url: &str, sql: &str) {
    Pg::connect(url).exec(sql);
}

/// Fills `url` with the report data set through the store's own write path.
fn populate(url: &str, n: usize) -> Duration {
    let start = Instant::now();
    let parsed = StoreUrl::parse(url).expect("store URL");
    let mut st = store::open(&parsed, Access::ReadWrite).expect("open the store");
    report_data::populate(st.as_mut(), n);
    start.elapsed()
}

/// The median wall time of `runs` runs of `dorameter ARGS` at `now`, and the last stdout.
fn time_runs(bin: &Path, cwd: &Path, now: i64, args: &[&str], runs: usize) -> (Duration, Vec<u8>) {
    let mut times = Vec::new();
    let mut last = Vec::new();
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
        last = out.stdout;
    }
    times.sort();
    (times[times.len() / 2], last)
}

/// One JUnit file of `n` test cases: 1 in 10 fails, 1 in 20 errors, 1 in 25
/// is skipped, 1 in 15 passes on a retry, and 1 in 100 appears twice.
fn junit_file(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(
        f,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>"
    )
    .unwrap();
    for suite in 0..n.div_ceil(1000) {
        writeln!(
            f,
            "<testsuite name=\"com.example.Suite{suite}\" tests=\"1000\">"
        )
        .unwrap();
        for i in suite * 1000..((suite + 1) * 1000).min(n) {
            let body = if i % 10 == 3 {
                "<failure message=\"expected 1 but was 2\" type=\"AssertionError\">at Foo.java:12</failure>"
            } else if i % 20 == 7 {
                "<error message=\"NullPointerException\"/>"
            } else if i % 25 == 11 {
                "<skipped/>"
            } else if i % 15 == 1 {
                "<flakyFailure message=\"timeout\"/>"
            } else {
                ""
            };
            writeln!(
                f,
                "<testcase classname=\"com.example.Suite{suite}\" name=\"test_{i}\" time=\"0.{:03}\">{body}</testcase>",
                i % 1000
            )
            .unwrap();
            if i % 100 == 50 {
                writeln!(f, "<testcase classname=\"com.example.Suite{suite}\" name=\"test_{i}\" time=\"0.5\"/>").unwrap();
            }
        }
        writeln!(f, "</testsuite>").unwrap();
    }
    writeln!(f, "</testsuites>").unwrap();
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    if let Ok(path) = std::env::var("PG_BENCH_WRITE_JUNIT") {
        // Only write the JUnit file, for timing `dorameter junit` by hand.
        junit_file(Path::new(&path), env_num("PG_BENCH_TESTS", 1_000_000));
        return;
    }
    let server = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DORAMETER_TEST_POSTGRES").ok())
        .expect("usage: pg_bench POSTGRES_SUPERUSER_URL");
    let n = env_num("PG_BENCH_DEPLOYMENTS", 100_000);
    let tests = env_num("PG_BENCH_TESTS", 1_000_000);
    let runs = env_num("PG_BENCH_RUNS", 5);
    let bin = std::path::PathBuf::from(
        std::env::var("PG_BENCH_BIN").unwrap_or_else(|_| "target/release/dorameter".into()),
    );
    let bin =
        std::fs::canonicalize(&bin).expect("build the release binary first: cargo build --release");
    let scratch = tempfile::tempdir().expect("tempdir");
    let pg = with_db(&server, DB);
    let sqlite = format!("sqlite:{}", scratch.path().join("bench.db").display());

    admin(
        &server,
        &format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"),
    );
    admin(&server, &format!("CREATE DATABASE {DB}"));
    println!("populating {n} deployments, {} incidents", n / 10);
    let t = populate(&pg, n);
    println!("  postgres: {}", secs(t));
    // Statistics as autovacuum would gather them; VACUUM sets the visibility
    // map that index-only scans rely on.
    admin(&pg, "VACUUM ANALYZE");
    let t = populate(&sqlite, n);
    println!("  sqlite:   {}", secs(t));

    let (since, until) = (EPOCH.to_string(), (EPOCH + SPAN + 60).to_string());
    let report = [
        "report",
        "--service",
        "bench",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "json",
    ];
    let mut pg_args = vec!["--store", pg.as_str()];
    pg_args.extend_from_slice(&report);
    let mut sq_args = vec!["--store", sqlite.as_str()];
    sq_args.extend_from_slice(&report);
    let (pg_t, pg_out) = time_runs(&bin, scratch.path(), EPOCH + SPAN + DAY, &pg_args, runs);
    let (sq_t, sq_out) = time_runs(&bin, scratch.path(), EPOCH + SPAN + DAY, &sq_args, runs);
    assert_eq!(pg_out, sq_out, "the two stores disagree");
    println!(
        "report (median of {runs}): postgres {}, sqlite {} (identical JSON)",
        secs(pg_t),
        secs(sq_t)
    );

    let file = scratch.path().join("big.xml");
    junit_file(&file, tests);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "junit: {tests} test cases, {:.1} MiB",
        size as f64 / 1048576.0
    );
    let file_s = file.display().to_string();
    for (name, store) in [("postgres", pg.as_str()), ("sqlite", sqlite.as_str())] {
        let mut times = Vec::new();
        for r in 0..runs.min(3) {
            let id = format!("bench-run-{r}");
            let args = [
                "--store",
                store,
                "--format",
                "json",
                "junit",
                &file_s,
                "--service",
                "bench",
                "--id",
                &id,
            ];
            times.push(time_runs(&bin, scratch.path(), EPOCH + SPAN, &args, 1).0);
        }
        times.sort();
        println!(
            "  {name}: median {} ({} runs)",
            secs(times[times.len() / 2]),
            times.len()
        );
    }
    let flaky = [
        "flaky",
        "--service",
        "bench",
        "--window",
        "400d",
        "--format",
        "json",
    ];
    let mut pg_args = vec!["--store", pg.as_str()];
    pg_args.extend_from_slice(&flaky);
    let mut sq_args = vec!["--store", sqlite.as_str()];
    sq_args.extend_from_slice(&flaky);
    let (pg_t, pg_out) = time_runs(
        &bin,
        scratch.path(),
        EPOCH + SPAN + DAY,
        &pg_args,
        runs.min(3),
    );
    let (sq_t, sq_out) = time_runs(
        &bin,
        scratch.path(),
        EPOCH + SPAN + DAY,
        &sq_args,
        runs.min(3),
    );
    assert_eq!(pg_out, sq_out, "flaky: the two stores disagree");
    println!(
        "flaky over the ingested runs: postgres {}, sqlite {} (identical JSON)",
        secs(pg_t),
        secs(sq_t)
    );
    admin(
        &server,
        &format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"),
    );
}
