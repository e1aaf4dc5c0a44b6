//! What the benchmarks share: sizes from the environment, the median of
//! timed runs and times as the APIs write them; for the PostgreSQL ones
//! (`examples/pg_bench.rs`, `examples/dashboard_bench.rs`), the URL of a
//! database of their own on the server they are given, and a connection
//! to run SQL on.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `name`'s value as a number, else `default`.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds the release binary and gives its path.
pub fn release_binary() -> std::path::PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", "dorameter"])
        .status()
        .expect("cargo build --release");
    assert!(status.success());
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/dorameter")
}

/// The median of timed runs.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Unix seconds as RFC 3339 UTC: `2026-04-03T00:00:00Z`.
pub fn rfc(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `url` with its database replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").expect("a URL") + 3;
    let path = base[start..].find('/').map_or(base.len(), |i| i + start);
    let mut out = format!("{}/{db}", &base[..path]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A connection on its own runtime.
pub struct Pg {
    pub rt: tokio::runtime::Runtime,
    pub client: tokio_postgres::Client,
}

impl Pg {
    pub fn connect(url: &str) -> Pg {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        });
        Pg { rt, client }
    }

    pub fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Rows returned, and the wall time of the query (one round trip).
    pub fn time(&self, sql: &str) -> (usize, Duration) {
        let start = Instant::now();
        let rows = self
            .rt
            .block_on(self.client.simple_query(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = rows
            .iter()
            .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
            .count();
        (n, start.elapsed())
    }
}

/// Runs a command to completion: its wall time and stdout. Panics on failure.
pub fn timed(cmd: &mut Command) -> (Duration, String) {
    let t = Instant::now();
    let out = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .expect("run the command");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Peak RSS in KiB of `bin junit REPORT --dry-run --format json`, read from
/// GNU time's `-v` output (`apt-get install time`).
pub fn junit_peak_rss_kb(bin: &Path, report: &Path) -> u64 {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .arg("junit")
        .arg(report)
        .args(["--dry-run", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("/usr/bin/time (apt-get install time)");
    assert!(
        out.status.success(),
        "dorameter failed under /usr/bin/time: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Maximum resident set size in /usr/bin/time -v's output")
}
