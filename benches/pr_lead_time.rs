//! `deploy --lead-time-source pr` over a range of 1,000 squash merges
//! (`Feature k (#k)`, three original commits each that only the forge has)
//! against a local stand-in of GitHub's REST API answering from
//! @octokit/openapi's example commit. Targets (issue 14): at most one
//! request per pull request; the same range deployed again (another
//! environment) makes none.
//!
//! In the same run: `deploy` with git alone (the squash commits as
//! changes), and `benches/pr_lead_time.py`, the script a team would paste
//! into a deploy job (`git log` for the `(#N)` subjects, one urllib request
//! per pull request, lead times in Python; no store, no cache).
//!
//! Run: `cargo bench --bench pr_lead_time` (builds the release binary).
//! `PR_BENCH_MERGES` (1000), `PR_BENCH_RUNS` (5).

#![allow(clippy::print_stdout)]

#[path = "support/bench_env.rs"]
mod bench_env;
#[path = "../tests/it/server.rs"]
mod server;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bench_env::{env_num, median, release_binary, rfc};
use serde_json::{Value, json};
use server::{Reply, Server};

const TOKEN: &str = "bench-token";
/// 2026-04-03T00:00:00Z, "now" for every run.
const NOW: i64 = 1_775_174_400;
const ORIGINALS: usize = 3;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository of `init` then `n` squash commits on main, written with
/// `git fast-import` (pinned dates).
fn repository(dir: &Path, n: usize, start: i64) {
    git(dir, &["init", "-q", "-b", "main"]);
    let mut stream = String::new();
    let mut commit = |mark: usize, t: i64, msg: &str, file: &str| {
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{mark}\nauthor Ada <ada@example.com> {t} +0000\ncommitter GitHub <noreply@github.com> {t} +0000\ndata {}\n{msg}\nM 100644 inline {file}\ndata {}\n{msg}\n\n",
            msg.len() + 1,
            msg.len() + 1
        ));
    };
    commit(1, start, "init", "README");
    for k in 1..=n {
        let t = start + 3600 + k as i64 * 600;
        commit(
            k + 1,
            t,
            &format!("Feature {k} (#{k})"),
            &format!("f/{k}.txt"),
        );
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    git(dir, &["reset", "-q", "--hard", "main"]);
}

/// Pull request `k`'s commits: made up, a day before its merge.
fn originals(example: &Value, k: usize, start: i64) -> String {
    let merged = start + 3600 + k as i64 * 600;
    let list: Vec<Value> = (0..ORIGINALS)
        .map(|i| {
            let mut c = example.clone();
            let at = merged - 86_400 + i as i64 * 3600;
            c["sha"] = json!(format!("{k:020x}{i:020x}"));
            c["commit"]["author"]["date"] = json!(rfc(at));
            c["commit"]["committer"]["date"] = json!(rfc(at));
            c
        })
        .collect();
    json!(list).to_string()
}

fn main() {
    let bin = release_binary();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let n = env_num("PR_BENCH_MERGES", 1000);
    let runs = env_num("PR_BENCH_RUNS", 5);
    let start = NOW - 30 * 86_400;

    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    repository(repo, n, start);
    let init = git(repo, &["rev-list", "--max-parents=0", "HEAD"]);
    let head = git(repo, &["rev-parse", "HEAD"]);

    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("fixtures/sources/github-pull-commit-example.json"))
            .unwrap(),
    )
    .unwrap();
    let bodies: Arc<Vec<String>> =
        Arc::new((0..=n).map(|k| originals(&example, k, start)).collect());
    let requests = Arc::new(AtomicUsize::new(0));
    let (b, count) = (bodies.clone(), requests.clone());
    let gh = Server::start(move |req| {
        if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return Reply::status(401, r#"{"message":"Bad credentials"}"#);
        }
        count.fetch_add(1, Ordering::SeqCst);
        let path = req.path.split('?').next().unwrap_or("");
        let k = path
            .strip_prefix("/repos/acme/api/pulls/")
            .and_then(|p| p.strip_suffix("/commits"))
            .and_then(|k| k.parse::<usize>().ok())
            .filter(|k| (1..b.len()).contains(k));
        match k {
            Some(k) => Reply::Status(
                200,
                vec![("content-type".into(), "application/json".into())],
                b[k].clone(),
            ),
            None => Reply::status(404, r#"{"message":"Not Found"}"#),
        }
    });
    let api = gh.url("");
    let api = api.trim_end_matches('/').to_string();
    let finished = rfc(start + 3600 + (n as i64 + 6) * 600);

    println!("{n} squash merges of {ORIGINALS} commits each, median of {runs}");
    let (mut pr, mut again, mut plain, mut py) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut pr_requests, mut again_requests) = (0, 0);
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("s.db").display());
        let deploy = |env: &str, sha: &str, extra: &[&str]| {
            let before = requests.load(Ordering::SeqCst);
            let t = Instant::now();
            let out = Command::new(&bin)
                .args(["--store", &store, "--format", "json", "deploy"])
                .args(["--repo", &repo.display().to_string(), "--service", "api"])
                .args(["--env", env, "--sha", sha, "--finished-at", &finished])
                .args(["--id", &format!("{env}-{sha}")])
                .args(extra)
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_REPOSITORY", "acme/api")
                .env("GITHUB_API_URL", &api)
                .env("GITHUB_TOKEN", TOKEN)
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
        let pr_flag = ["--lead-time-source", "pr"];
        for env in ["production", "staging", "qa"] {
            deploy(env, &init, &[]);
        }
        let (t, r, v) = deploy("production", &head, &pr_flag);
        assert_eq!(
            v["changes"].as_array().unwrap().len(),
            n * ORIGINALS,
            "{v:#}"
        );
        pr.push(t);
        pr_requests = r;
        let (t, r, v) = deploy("staging", &head, &pr_flag);
        assert_eq!(v["changes"].as_array().unwrap().len(), n * ORIGINALS);
        again.push(t);
        again_requests = r;
        let (t, _, v) = deploy("qa", &head, &[]);
        assert_eq!(v["changes"].as_array().unwrap().len(), n);
        plain.push(t);

        let before = requests.load(Ordering::SeqCst);
        let t = Instant::now();
        let out = Command::new("python3")
            .arg(root.join("benches/pr_lead_time.py"))
            .args([&api, "acme/api", TOKEN, &init, &head, &finished])
            .current_dir(repo)
            .output()
            .expect("python3");
        py.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            (n * ORIGINALS).to_string()
        );
        assert_eq!(requests.load(Ordering::SeqCst) - before, n);
    }
    let (p, a, g, y) = (median(pr), median(again), median(plain), median(py));
    println!(
        "deploy --lead-time-source pr: {:.3} s, {pr_requests} requests for {n} pull requests (target: at most 1 each)",
        p.as_secs_f64()
    );
    println!(
        "the same range again (another env): {:.3} s, {again_requests} requests (target 0)",
        a.as_secs_f64()
    );
    println!(
        "deploy with git alone: {:.3} s; pr / git = {:.2}x",
        g.as_secs_f64(),
        p.as_secs_f64() / g.as_secs_f64()
    );
    println!(
        "baseline benches/pr_lead_time.py: {:.3} s, {n} requests; dorameter takes {:.2}x its time",
        y.as_secs_f64(),
        p.as_secs_f64() / y.as_secs_f64()
    );
}
