//! `incident import --from pagerduty` of 10,000 incidents (100 pages of 100,
//! one 90-day window) from a local stand-in of PagerDuty's REST API v2,
//! into a new SQLite store; then a rerun with nothing new. Targets (issue
//! 14): the import < 10 s; the rerun makes one request.
//!
//! Baseline, in the same run: `benches/pagerduty_import.py`, the script a
//! team pastes into a scheduled job (urllib over the same pages, one
//! `INSERT OR REPLACE` per incident into SQLite, no cursor).
//!
//! Run: `cargo bench --bench incident_import` (builds the release binary).
//! `IMPORT_BENCH_INCIDENTS` (10000), `IMPORT_BENCH_RUNS` (5).

#![allow(clippy::print_stdout)]

#[path = "support/bench_env.rs"]
mod bench_env;
#[path = "../tests/it/server.rs"]
mod server;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bench_env::{env_num, median, release_binary, rfc};
use serde_json::{Value, json};
use server::{Reply, Server};

const TOKEN: &str = "bench-token";
/// 2026-04-03T00:00:00Z, "now" for every run.
const NOW: i64 = 1_775_174_400;

/// PagerDuty's documented example incident with these values.
fn incident(example: &Value, n: usize, created: i64) -> Value {
    let mut i = example.clone();
    let o = i.as_object_mut().unwrap();
    o.remove("alert_grouping");
    o.remove("resolve_reason");
    o.insert("id".into(), json!(format!("Q{n:07}")));
    o.insert("incident_number".into(), json!(n));
    o.insert("title".into(), json!(format!("Checkout errors #{n}")));
    o.insert("created_at".into(), json!(rfc(created)));
    o.insert("status".into(), json!("resolved"));
    o.insert(
        "resolved_at".into(),
        json!(rfc(created + 1800 + n as i64 % 7200)),
    );
    let service = ["PAPI001", "PWEB001"][n % 2];
    o.insert(
        "service".into(),
        json!({"id": service, "type": "service_reference", "summary": "Checkout"}),
    );
    i
}

fn main() {
    let bin = release_binary();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let n = env_num("IMPORT_BENCH_INCIDENTS", 10_000);
    let runs = env_num("IMPORT_BENCH_RUNS", 5);

    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("fixtures/sources/pagerduty-incidents-example.json"))
            .unwrap(),
    )
    .unwrap();
    let start = NOW - 80 * 86_400;
    let step = (75 * 86_400) / n as i64;
    let incidents: Arc<Vec<(i64, Value)>> = Arc::new(
        (0..n)
            .map(|k| {
                let created = start + k as i64 * step;
                (created, incident(&example["incidents"][0], k, created))
            })
            .collect(),
    );
    let requests = Arc::new(AtomicUsize::new(0));
    let (inc, req_count) = (incidents.clone(), requests.clone());
    let pd = Server::start(move |req| {
        if req.header("authorization") != Some(&format!("Token token={TOKEN}")) {
            return Reply::status(401, "{}");
        }
        req_count.fetch_add(1, Ordering::SeqCst);
        let q = req.path.split_once('?').map_or("", |(_, q)| q);
        let url = reqwest::Url::parse(&format!("http://x/?{q}")).unwrap();
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let t = |s: String| {
            chrono::DateTime::parse_from_rfc3339(&s)
                .unwrap()
                .timestamp()
        };
        let (since, until) = (t(get("since")), t(get("until")));
        let limit: usize = get("limit").parse().unwrap();
        let offset: usize = get("offset").parse().unwrap();
        let all: Vec<&Value> = inc
            .iter()
            .filter(|(c, _)| *c >= since && *c < until)
            .map(|(_, v)| v)
            .collect();
        let page: Vec<&Value> = all.iter().skip(offset).take(limit).copied().collect();
        let body = json!({"incidents": page, "limit": limit, "offset": offset, "more": offset + limit < all.len(), "total": null});
        Reply::Status(
            200,
            vec![("content-type".into(), "application/json".into())],
            body.to_string(),
        )
    });
    let api = pd.url("");
    let since = rfc(start - 86_400);

    println!("{n} PagerDuty incidents, median of {runs}");
    let (mut first, mut again, mut py) = (Vec::new(), Vec::new(), Vec::new());
    let (mut first_requests, mut again_requests) = (0, 0);
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("s.db").display());
        let run = |args: &[&str]| {
            let before = requests.load(Ordering::SeqCst);
            let t = Instant::now();
            let out = Command::new(&bin)
                .args([
                    "--store",
                    &store,
                    "--format",
                    "json",
                    "incident",
                    "import",
                    "--from",
                    "pagerduty",
                ])
                .args(["--api-url", &api, "--service", "api"])
                .args(args)
                .env("DORAMETER_PAGERDUTY_TOKEN", TOKEN)
                .env("DORAMETER_NOW", rfc(NOW))
                .current_dir(dir.path())
                .output()
                .unwrap();
            let took = t.elapsed();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            (took, requests.load(Ordering::SeqCst) - before, v)
        };
        let (t, r, v) = run(&["--since", &since]);
        assert_eq!(v["new"], n, "{v:#}");
        first.push(t);
        first_requests = r;
        let (t, r, v) = run(&[]);
        assert_eq!(v["new"], 0);
        again.push(t);
        again_requests = r;

        let db = dir.path().join("py.db");
        let t = Instant::now();
        let out = Command::new("python3")
            .arg(root.join("benches/pagerduty_import.py"))
            .args([&api, TOKEN, &since, &rfc(NOW), &db.display().to_string()])
            .output()
            .expect("python3");
        py.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), n.to_string());
    }
    let (f, a, p) = (median(first), median(again), median(py));
    println!(
        "dorameter incident import: {:.2} s, {first_requests} requests (target < 10 s)",
        f.as_secs_f64()
    );
    println!(
        "rerun with nothing new:    {:.3} s, {again_requests} request(s) (target 1)",
        a.as_secs_f64()
    );
    println!(
        "python3 urllib + sqlite3:  {:.2} s (baseline)",
        p.as_secs_f64()
    );
    println!(
        "ratio: dorameter / python = {:.2}",
        f.as_secs_f64() / p.as_secs_f64()
    );
}
