//! `dorameter flush` of 10,000 spooled events to a local webhook receiver
//! (keep-alive, bounded concurrency). Target: ≥ 1,000 events/s.
//!
//! Run: `cargo bench --bench flush` (builds the release binary first).

#![allow(clippy::print_stdout)]

#[path = "support/bench_env.rs"]
mod bench_env;
#[path = "../tests/it/server.rs"]
mod server;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dorameter::event::{Incident, IncidentCause};
use dorameter::sink::{Record, SinkEvent, SinkSpec, Spool};
use server::{Reply, Server};

const EVENTS: usize = 10_000;

fn main() {
    let bin = bench_env::release_binary();

    let accepted = Arc::new(AtomicU64::new(0));
    let a = accepted.clone();
    let server = Server::start(move |_| {
        a.fetch_add(1, Ordering::Relaxed);
        Reply::ok()
    });
    let sink = format!("webhook:{}", server.url("/bench"));
    let spec = SinkSpec::parse(&sink, &dorameter::sink::SinkEnv::default()).expect("sink");
    let dir = tempfile::tempdir().expect("tempdir");
    let spool_dir = dir.path().join("spool");
    let now = chrono::Utc::now();
    {
        let mut spool = Spool::open(&spool_dir).expect("spool");
        let records = (0..EVENTS)
            .map(|i| {
                let event = SinkEvent::Incident(Incident {
                    id: format!("BENCH-{i:05}"),
                    services: vec!["api".into()],
                    env: "production".into(),
                    started_at: now,
                    detected_at: None,
                    resolved_at: None,
                    severity: Some("SEV-2".into()),
                    title: Some(format!("benchmark incident {i}")),
                    cause: IncidentCause::Deploy,
                    deployment_id: None,
                    deployment_sha: None,
                });
                Record::new(spec.key(), event, now)
            })
            .collect();
        spool.append(records).expect("append");
    }
    let start = Instant::now();
    let out = Command::new(&bin)
        .args([
            "--store",
            &format!("sqlite:{}", dir.path().join("s.db").display()),
            "--format",
            "json",
            "--sink",
            &sink,
            "flush",
        ])
        .env("DORAMETER_SPOOL", &spool_dir)
        .output()
        .expect("run flush");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["sinks"][0]["delivered"], EVENTS as u64, "{report}");
    assert_eq!(accepted.load(Ordering::Relaxed), EVENTS as u64);
    let rate = EVENTS as f64 / elapsed.as_secs_f64();
    println!(
        "flush: {EVENTS} events in {:.2} s = {rate:.0} events/s (concurrency 8, keep-alive)",
        elapsed.as_secs_f64()
    );
    assert!(rate >= 1000.0, "below 1,000 events/s");
}
