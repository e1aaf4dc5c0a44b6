//! Performance benchmarks for dorameter (run with `cargo bench --bench core`).
//!
//! Every figure is a median wall time of whole-process runs of the release
//! binary, quoted against a baseline measured in the same run with the runs
//! alternated (A B, B A, ...), so machine noise hits both sides alike.
//!
//! 1. `walk`: `dorameter deploy --dry-run` over a 50k-commit range of a
//!    generated >= 200k-commit repository vs `git log --no-merges` on the same
//!    range, and dorameter's peak RSS (`/usr/bin/time -f %M`); the same
//!    range for a monorepo service (`[[service]] paths`) vs `git log --
//!    PATHS`.
//! 2. `backfill`: `dorameter backfill --from-tags` over 1,000 tags vs one
//!    `git log` over the whole history.
//! 3. `report`: `dorameter report` over stores of 1k/10k/100k deployments
//!    (10 changes each, incidents one per ten deployments) vs `sqlite3`
//!    reading the same rows.
//! 4. `version`: `dorameter --version` vs `git --version`, and the static
//!    release binary's size (built separately, see docs/benchmarks.md).
//! 5. `comment`: `dorameter comment --dry-run` (the PR comment: two windows
//!    with trend, weekly deployments) over the 100k-deployment store vs
//!    `sqlite3` reading the same rows.
//!
//! Environment:
//! - `DORAMETER_BENCH_COMMITS` total commits of the generated repo (200000)
//! - `DORAMETER_BENCH_DEPLOYMENTS` largest report store (100000)
//! - `DORAMETER_BENCH_RUNS` timed runs per side (5; `version` uses 20x)
//! - `DORAMETER_BENCH_ONLY` comma list of walk,backfill,report,version,comment
//!
//! Generated data is cached in `target/bench-data/`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dorameter::store::{Access, SqliteStore};

#[path = "support/report_data.rs"]
mod report_data;

const DORAMETER: &str = env!("CARGO_BIN_EXE_dorameter");
/// 2020-01-01T00:00:00Z: the first generated commit.
const REPO_EPOCH: i64 = 1_577_836_800;
/// Seconds between generated commits.
const COMMIT_STEP: i64 = 60;
/// A merge (with one side-branch commit) after this many main-line commits.
const MERGE_EVERY: usize = 100;
const TAGS: usize = 1000;
const WALK_RANGE: usize = 50_000;
/// 2022-01-01T00:00:00Z: the report stores span one year from here.
use report_data::{DAY, EPOCH as REPORT_EPOCH, SPAN as REPORT_SPAN, at};

// ---------------------------------------------------------------- settings

struct Settings {
    commits: usize,
    deployments: usize,
    runs: usize,
    /// A single dorameter run longer than this is killed and fails its target.
    limit: Duration,
    only: Option<Vec<String>>,
    data: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let num = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map_or(default, |v| {
                    v.replace('_', "")
                        .parse()
                        .unwrap_or_else(|_| panic!("{name} must be a number, got '{v}'"))
                })
        };
        let mut only: Vec<String> = std::env::var("DORAMETER_BENCH_ONLY")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        // `cargo bench --bench core -- walk` passes filters as arguments.
        only.extend(std::env::args().skip(1).filter(|a| !a.starts_with('-')));
        Settings {
            commits: num("DORAMETER_BENCH_COMMITS", 200_000).max(1_000),
            deployments: num("DORAMETER_BENCH_DEPLOYMENTS", 100_000).max(100),
            runs: num("DORAMETER_BENCH_RUNS", 5).max(1),
            limit: Duration::from_secs(num("DORAMETER_BENCH_TIMEOUT", 60) as u64),
            only: (!only.is_empty()).then_some(only),
            data: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data"),
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == name))
    }
}

// ---------------------------------------------------------------- results

struct Row {
    name: String,
    ours: String,
    base: String,
    ratio: String,
    target: String,
    verdict: &'static str,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    fn push(
        &mut self,
        name: impl Into<String>,
        ours: String,
        base: String,
        ratio: String,
        target: impl Into<String>,
        pass: Option<bool>,
    ) {
        let row = Row {
            name: name.into(),
            ours,
            base,
            ratio,
            target: target.into(),
            verdict: match pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "info",
            },
        };
        println!(
            "  => {}: {} vs {} (ratio {}) target {} {}",
            row.name, row.ours, row.base, row.ratio, row.target, row.verdict
        );
        self.rows.push(row);
    }

    fn print(&self) {
        let header = [
            "benchmark",
            "dorameter",
            "baseline",
            "ratio",
            "target",
            "result",
        ];
        let cells: Vec<[&str; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.name.as_str(),
                    r.ours.as_str(),
                    r.base.as_str(),
                    r.ratio.as_str(),
                    r.target.as_str(),
                    r.verdict,
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.len());
            }
        }
        let line = |row: &[&str; 6]| {
            let parts: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("| {} |", parts.join(" | "))
        };
        println!();
        println!("{}", line(&header));
        let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        println!("|-{}-|", dashes.join("-|-"));
        for row in &cells {
            println!("{}", line(row));
        }
        println!();
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

// ---------------------------------------------------------------- processes

/// Runs a command to completion, output captured, and checks it succeeded.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Like [`timed`], but kills the process at `limit` and returns `None`.
fn timed_limited(cmd: &mut Command, limit: Duration) -> Option<(Duration, Output)> {
    let start = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => {
            let elapsed = start.elapsed();
            let out = out.expect("wait for the process");
            assert!(
                out.status.success(),
                "{cmd:?} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = waiter.join();
            Some((elapsed, out))
        }
        Err(_) => {
            // Our own child, by its id (the waiter reaps it only once it exits).
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let _ = waiter.join();
            None
        }
    }
}

fn timed(cmd: &mut Command) -> (Duration, Output) {
    let start = Instant::now();
    let out = run(cmd);
    (start.elapsed(), out)
}

/// Alternates `a` and `b` (A B, B A, ...) after one warm-up run of each.
/// Returns the medians.
fn alternate(
    runs: usize,
    a: &mut dyn FnMut() -> Command,
    b: &mut dyn FnMut() -> Command,
) -> (Duration, Duration) {
    run(&mut a());
    run(&mut b());
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if i % 2 == 0 {
            ta.push(timed(&mut a()).0);
            tb.push(timed(&mut b()).0);
        } else {
            tb.push(timed(&mut b()).0);
            ta.push(timed(&mut a()).0);
        }
    }
    (median(ta), median(tb))
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PAGER", "cat");
    c
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = run(git(dir).args(args));
    String::from_utf8(out.stdout)
        .expect("git output is UTF-8")
        .trim()
        .to_string()
}

/// dorameter with a clean environment: no DORAMETER_* or CI variables leak in.
fn dorameter(cwd: &Path, now: i64) -> Command {
    let mut c = Command::new(DORAMETER);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("DORAMETER_")
            || k == "CI"
            || k.starts_with("GITHUB_")
            || k.starts_with("GITLAB_")
            || k.starts_with("CI_")
        {
            c.env_remove(k);
        }
    }
    c.current_dir(cwd).env("DORAMETER_NOW", now.to_string());
    c
}

/// Peak resident set size of one run, in MiB, via GNU time.
fn peak_rss_mib(cmd: &Command, scratch: &Path) -> Option<f64> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let report = scratch.join("time.out");
    let mut c = Command::new(time);
    c.arg("-f").arg("%M").arg("-o").arg(&report);
    c.arg(cmd.get_program()).args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        c.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    run(&mut c);
    let kib: f64 = std::fs::read_to_string(&report)
        .ok()?
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

// ---------------------------------------------------------------- the repository

struct BenchRepo {
    dir: PathBuf,
    tip: String,
    /// Unix seconds of the newest commit.
    last_time: i64,
    /// Commits on the first-parent chain (main-line commits and merges).
    first_parent: usize,
}

/// A bare repository of `total` commits, generated once with `git fast-import`:
/// a linear main line with a merge of a one-commit side branch every
/// `MERGE_EVERY` commits, committer dates a minute apart from 2020, and
/// `TAGS` lightweight tags `bench-NNNN` spread evenly over the main line.
fn bench_repo(s: &Settings) -> BenchRepo {
    let dir = s.data.join(format!("repo-{}.git", s.commits));
    let meta = dir.join("dorameter-bench-complete");
    if !meta.exists() {
        generate_repo(&dir, s.commits);
        std::fs::write(&meta, "ok\n").expect("write the completion marker");
    } else {
        println!("  using cached repository {}", dir.display());
    }
    let tip = git_out(&dir, &["rev-parse", "refs/heads/main"]);
    let last_time: i64 = git_out(&dir, &["log", "-1", "--format=%ct", &tip])
        .parse()
        .expect("commit time");
    let first_parent: usize = git_out(&dir, &["rev-list", "--first-parent", "--count", &tip])
        .parse()
        .expect("count");
    BenchRepo {
        dir,
        tip,
        last_time,
        first_parent,
    }
}

fn generate_repo(dir: &Path, total: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the repository directory");
    let start = Instant::now();
    run(git(dir).args(["init", "--quiet", "--bare", "--initial-branch=main"]));

    // Plan: which main-line steps get a tag. Each merge adds 2 commits
    // (side + merge) per MERGE_EVERY main-line commits.
    let main_commits = total * MERGE_EVERY / (MERGE_EVERY + 2);
    let tags = TAGS.min(main_commits / 2);
    let tag_at: Vec<usize> = (0..tags)
        .map(|k| (k + 1) * main_commits / tags - 1)
        .collect();

    let mut child = git(dir)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("start git fast-import");
    let stdin = child.stdin.take().expect("fast-import stdin");
    let mut w = BufWriter::with_capacity(1 << 20, stdin);
    let mut mark = 0usize;
    let mut count = 0usize;
    let mut last_main = 0usize;
    let mut main_marks: Vec<usize> = Vec::with_capacity(main_commits);
    let mut next_tag = 0usize;
    let mut step = 0usize;
    while count < total {
        let ts = REPO_EPOCH + count as i64 * COMMIT_STEP;
        mark += 1;
        count += 1;
        let subject = if step % 997 == 500 {
            format!("hotfix: repair change {step}")
        } else {
            format!("feat(area{}): change {step}", step % 17)
        };
        let msg = format!("{subject}\n\nGenerated commit {step} of the dorameter benchmark.\n");
        let file = format!("d{:02}/f{:02}.txt", step % 20, (step / 20) % 25);
        let content = format!("change {step}\n");
        write!(
            w,
            "commit refs/heads/main\nmark :{mark}\nauthor Bench <bench@example.com> {ts} +0000\n\
             committer Bench <bench@example.com> {ts} +0000\ndata {}\n{msg}",
            msg.len()
        )
        .and_then(|()| {
            if last_main > 0 {
                writeln!(w, "from :{last_main}")?;
            }
            write!(
                w,
                "M 100644 inline {file}\ndata {}\n{content}\n",
                content.len()
            )
        })
        .expect("write to fast-import");
        last_main = mark;
        main_marks.push(mark);
        if next_tag < tag_at.len() && tag_at[next_tag] == step {
            writeln!(w, "reset refs/tags/bench-{next_tag:04}\nfrom :{mark}\n").expect("write tag");
            next_tag += 1;
        }
        step += 1;

        if step % MERGE_EVERY == 0 && count + 2 <= total && main_marks.len() > 3 {
            // A side-branch commit off a slightly older main commit, merged back.
            let base = main_marks[main_marks.len() - 4];
            mark += 1;
            count += 1;
            let ts = REPO_EPOCH + count as i64 * COMMIT_STEP;
            let msg = format!("fix: side change {step}\n");
            let content = format!("side {step}\n");
            write!(
                w,
                "commit refs/heads/side\nmark :{mark}\nauthor Side <side@example.com> {ts} +0000\n\
                 committer Side <side@example.com> {ts} +0000\ndata {}\n{msg}from :{base}\n\
                 M 100644 inline side/s{:02}.txt\ndata {}\n{content}\n",
                msg.len(),
                step / MERGE_EVERY % 50,
                content.len()
            )
            .expect("write to fast-import");
            let side = mark;
            mark += 1;
            count += 1;
            let ts = REPO_EPOCH + count as i64 * COMMIT_STEP;
            let msg = format!("Merge branch 'side' ({step})\n");
            write!(
                w,
                "commit refs/heads/main\nmark :{mark}\nauthor Bench <bench@example.com> {ts} +0000\n\
                 committer Bench <bench@example.com> {ts} +0000\ndata {}\n{msg}from :{last_main}\nmerge :{side}\n\n",
                msg.len()
            )
            .expect("write to fast-import");
            last_main = mark;
        }
    }
    w.write_all(b"done\n").expect("finish fast-import");
    drop(w.into_inner().expect("flush fast-import input"));
    let status = child.wait().expect("wait for fast-import");
    assert!(status.success(), "git fast-import failed: {status}");
    // fast-import writes objects in stream order (commits, trees and blobs
    // interleaved, few deltas). A CI clone gets a server-made pack with the
    // commits together, so repack like a server would. No commit-graph: a
    // fresh clone has none either.
    run(git(dir).args([
        "repack",
        "-a",
        "-d",
        "-f",
        "-q",
        "--no-write-bitmap-index",
        "--window=10",
        "--depth=50",
    ]));
    println!(
        "  generated {count} commits ({next_tag} tags) in {} at {}",
        ms(start.elapsed()),
        dir.display()
    );
}

// ---------------------------------------------------------------- 1. walk

fn bench_walk(s: &Settings, repo: &BenchRepo, table: &mut Table) {
    let range = WALK_RANGE.min(repo.first_parent / 4);
    println!("\n[walk] deploy --dry-run over tip~{range}..tip");
    let prev = git_out(&repo.dir, &["rev-parse", &format!("{}~{range}", repo.tip)]);
    let scratch = tempfile::tempdir().expect("tempdir");
    let range_spec = format!("{prev}..{}", repo.tip);
    let max = (range * 2).max(100_000).to_string();

    let mut ours = || dry_run_deploy(scratch.path(), repo, &prev, &max);
    let mut base = || {
        let mut c = git(&repo.dir);
        c.args(["log", "--no-merges", "--format=%H %at", &range_spec]);
        c
    };

    // Same commits on both sides, and nothing written.
    let (json, ours_n, base_n) = counts(&mut ours(), &mut base());
    println!(
        "  dorameter counted {ours_n} changes, git log listed {base_n} (truncated: {})",
        json["truncated"]
    );
    assert_eq!(
        ours_n, base_n,
        "dorameter and git log disagree on the range"
    );
    assert!(
        !scratch.path().join("s.db").exists(),
        "a dry run created the store"
    );

    let (a, b) = alternate(s.runs, &mut ours, &mut base);
    let r = ratio(a, b);
    table.push(
        format!("walk {ours_n} commits (deploy --dry-run vs git log)"),
        ms(a),
        ms(b),
        format!("{r:.2}x"),
        "<= 1.5x",
        Some(r <= 1.5),
    );

    bench_walk_paths(s, repo, &prev, &max, table);

    // Peak RSS in MB (10^6 bytes), the target's unit.
    let mb = |mib: f64| mib * 1024.0 * 1024.0 / 1e6;
    match (
        peak_rss_mib(&ours(), scratch.path()),
        peak_rss_mib(&base(), scratch.path()),
    ) {
        (Some(rss), base_rss) => table.push(
            format!("walk peak RSS ({ours_n} commits, vs git log)"),
            format!("{:.1} MB", mb(rss)),
            base_rss.map_or("-".into(), |b| format!("{:.1} MB", mb(b))),
            base_rss.map_or("-".into(), |b| format!("{:.2}x", rss / b)),
            "< 100 MB",
            Some(mb(rss) < 100.0),
        ),
        (None, _) => table.push(
            "walk peak RSS",
            "-".into(),
            "-".into(),
            "-".into(),
            "< 100 MB (needs /usr/bin/time: apt-get install time)",
            None,
        ),
    }
}

/// The same range for one service of a monorepo (`[[service]] paths`):
/// the commits that touch `d03/` or `side/`, against `git log -- PATHS`.
fn bench_walk_paths(s: &Settings, repo: &BenchRepo, prev: &str, max: &str, table: &mut Table) {
    let scratch = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        scratch.path().join(".dorameter.toml"),
        "[[service]]\nname = \"bench\"\npaths = [\"d03/**\", \"side\"]\n",
    )
    .expect("write the config");
    let range_spec = format!("{prev}..{}", repo.tip);
    let mut ours = || dry_run_deploy(scratch.path(), repo, prev, max);

    let mut base = || {
        let mut c = git(&repo.dir);
        c.args([
            "log",
            "--no-merges",
            "--full-history",
            "--format=%H %at",
            &range_spec,
            "--",
            "d03",
            "side",
        ]);
        c
    };
    let (_, ours_n, base_n) = counts(&mut ours(), &mut base());
    println!(
        "  paths d03/**, side: dorameter counted {ours_n} changes, git log -- PATHS listed {base_n}"
    );
    assert_eq!(ours_n, base_n, "dorameter and git log -- PATHS disagree");
    let (a, b) = alternate(s.runs, &mut ours, &mut base);
    let r = ratio(a, b);
    table.push(
        format!(
            "walk with [[service]] paths, {ours_n} of the range's commits (vs git log -- PATHS)"
        ),
        ms(a),
        ms(b),
        format!("{r:.2}x"),
        "<= 1.5x",
        Some(r <= 1.5),
    );
}

/// `dorameter deploy --dry-run` of the tip against `prev`, run in `cwd`
/// (its `.dorameter.toml` applies), with a store there it must not create.
fn dry_run_deploy(cwd: &Path, repo: &BenchRepo, prev: &str, max: &str) -> Command {
    let store = format!("sqlite:{}", cwd.join("s.db").display());
    let mut c = dorameter(cwd, repo.last_time + DAY);
    c.args(["deploy", "--dry-run", "--repo"])
        .arg(&repo.dir)
        .args([
            "--service",
            "bench",
            "--sha",
            &repo.tip,
            "--previous-sha",
            prev,
        ])
        .args(["--max-commits", max, "--format", "json", "--store", &store]);
    c
}

/// The deploy's JSON, the changes it counted, and the lines `git log` listed.
fn counts(ours: &mut Command, base: &mut Command) -> (serde_json::Value, usize, usize) {
    let json: serde_json::Value =
        serde_json::from_slice(&run(ours).stdout).expect("deploy --format json");
    let ours_n = json["changes"].as_array().map_or(0, Vec::len);
    let base_n = run(base)
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    (json, ours_n, base_n)
}

// ---------------------------------------------------------------- 2. backfill

fn bench_backfill(s: &Settings, repo: &BenchRepo, table: &mut Table) {
    let tags = git_out(&repo.dir, &["tag", "-l", "bench-*"])
        .lines()
        .count();
    println!("\n[backfill] {tags} tags");
    let scratch = tempfile::tempdir().expect("tempdir");
    let now = repo.last_time + DAY;
    let mut n = 0usize;
    let mut ours = || {
        n += 1;
        let db = scratch.path().join(format!("s{n}.db"));
        let mut c = dorameter(scratch.path(), now);
        c.args([
            "backfill",
            "--from-tags",
            "bench-*",
            "--service",
            "bench",
            "--repo",
        ])
        .arg(&repo.dir)
        .arg("--store")
        .arg(format!("sqlite:{}", db.display()))
        .arg("-q");
        c
    };
    let mut base = || {
        let mut c = git(&repo.dir);
        c.args(["log", "--format=%H %at", &repo.tip]);
        c
    };

    // Check one run: every tag a deployment, every commit between the first
    // and last tag a change.
    run(&mut ours());
    let conn =
        rusqlite::Connection::open(scratch.path().join("s1.db")).expect("open backfilled store");
    let deployments: i64 = conn
        .query_row("SELECT count(*) FROM deployments", [], |r| r.get(0))
        .expect("count");
    let changes: i64 = conn
        .query_row("SELECT count(*) FROM changes", [], |r| r.get(0))
        .expect("count");
    let truncated: i64 = conn
        .query_row(
            "SELECT count(*) FROM deployments WHERE truncated",
            [],
            |r| r.get(0),
        )
        .expect("count");
    drop(conn);
    let first = format!("bench-{:04}", 0);
    let last = format!("bench-{:04}", tags - 1);
    let expected: i64 = git_out(
        &repo.dir,
        &[
            "rev-list",
            "--no-merges",
            "--count",
            &format!("{first}..{last}"),
        ],
    )
    .parse()
    .expect("count");
    println!(
        "  recorded {deployments} deployments, {changes} changes (git: {expected}), {truncated} truncated"
    );
    assert_eq!(deployments as usize, tags, "one deployment per tag");
    assert_eq!(changes, expected, "backfill changes vs git rev-list");

    let (a, b) = alternate(s.runs, &mut ours, &mut base);
    let r = ratio(a, b);
    table.push(
        format!("backfill {tags} tags (vs git log whole history)"),
        ms(a),
        ms(b),
        format!("{r:.2}x"),
        "<= 3x",
        Some(r <= 3.0),
    );
}

// ---------------------------------------------------------------- 3. report

fn report_store(s: &Settings, n: usize) -> PathBuf {
    let path = s.data.join(format!("report-{n}.db"));
    if path.exists() {
        println!("  using cached store {}", path.display());
        return path;
    }
    let tmp = s.data.join(format!("report-{n}.db.tmp"));
    let _ = std::fs::remove_file(&tmp);
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", tmp.display()));
    }
    let start = Instant::now();
    let mut store = SqliteStore::open(&tmp, Access::ReadWrite).expect("create the store");
    let succeeded = report_data::populate(&mut store, n);
    drop(store);
    // Fold the WAL in so the cached file stands alone.
    let conn = rusqlite::Connection::open(&tmp).expect("reopen");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
        .expect("checkpoint");
    drop(conn);
    std::fs::rename(&tmp, &path).expect("move the store into place");
    println!(
        "  populated {n} deployments, {} changes, {} incidents in {}",
        succeeded * 10,
        n / 10,
        ms(start.elapsed())
    );
    path
}

/// Deployments of `report_store(n)` whose job failed (they carry no changes).
fn failed_jobs(n: usize) -> usize {
    (0..n).filter(|i| i % 50 == 7).count()
}

/// The floor of a report: the same rows read by the sqlite3 shell.
const FLOOR_SQL: &str = "SELECT count(*), sum(c.lead_time_seconds) FROM deployments d JOIN changes c ON c.deployment_seq = d.seq \
    WHERE d.service = 'bench' AND d.env = 'production' AND d.status = 'success'; \
    SELECT count(*), max(id) FROM deployments WHERE service = 'bench' AND env = 'production'; \
    SELECT count(*) FROM remediations; \
    SELECT count(*), max(i.id) FROM incidents i JOIN incident_services s ON s.incident_seq = i.seq \
    WHERE s.service = 'bench' AND i.env = 'production';";

fn has_sqlite3() -> bool {
    Command::new("sqlite3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Times `ours` against the sqlite3 floor over `db` when sqlite3 is
/// installed (alternated runs), else alone, and adds the row.
fn push_vs_floor(
    table: &mut Table,
    name: String,
    runs: usize,
    ours: &mut dyn FnMut() -> Command,
    db: &Path,
    target: &str,
    limit: Option<Duration>,
) {
    let pass = |a: Duration| limit.map(|l| a < l);
    if has_sqlite3() {
        let mut base = || {
            let mut c = Command::new("sqlite3");
            c.arg("-readonly").arg(db).arg(FLOOR_SQL);
            c
        };
        let (a, b) = alternate(runs, ours, &mut base);
        table.push(
            name,
            ms(a),
            ms(b),
            format!("{:.2}x", ratio(a, b)),
            target,
            pass(a),
        );
    } else {
        let a = median((0..runs).map(|_| timed(&mut ours()).0).collect());
        table.push(name, ms(a), "-".into(), "-".into(), target, pass(a));
    }
}

fn bench_report(s: &Settings, table: &mut Table) {
    let sizes = [s.deployments / 100, s.deployments / 10, s.deployments];
    let now = REPORT_EPOCH + REPORT_SPAN + DAY;
    let (since, until) = (
        REPORT_EPOCH.to_string(),
        (REPORT_EPOCH + REPORT_SPAN + 60).to_string(),
    );
    let mut skipped = false;
    for (k, n) in sizes.into_iter().enumerate() {
        println!("\n[report] {n} deployments");
        if skipped {
            // A smaller store already hit the limit.
            let target = if k == sizes.len() - 1 {
                "< 1 s"
            } else {
                "(scaling)"
            };
            table.push(
                format!("report {n} deploys"),
                "skipped".into(),
                "-".into(),
                "-".into(),
                target,
                Some(false),
            );
            continue;
        }
        let db = report_store(s, n);
        let scratch = tempfile::tempdir().expect("tempdir");
        // Report runs on a copy so WAL/SHM files never touch the cache.
        let copy = scratch.path().join("s.db");
        std::fs::copy(&db, &copy).expect("copy the store");
        let store = format!("sqlite:{}", copy.display());
        let mut ours = || {
            let mut c = dorameter(scratch.path(), now);
            c.args([
                "report",
                "--service",
                "bench",
                "--since",
                &since,
                "--until",
                &until,
            ])
            .args(["--format", "json", "--store", &store]);
            c
        };
        let largest = k == sizes.len() - 1;
        let changes = (n - failed_jobs(n)) * 10;
        let name = format!(
            "report {n} deploys / {changes} changes / {} incidents",
            n / 10
        );
        let target = if largest { "< 1 s" } else { "(scaling)" };
        // A probe run, killed at the limit: a superlinear query must not
        // stall the whole benchmark.
        let Some((probe, out)) = timed_limited(&mut ours(), s.limit) else {
            println!("  killed after {}", ms(s.limit));
            table.push(
                name,
                format!("> {}", ms(s.limit)),
                "-".into(),
                "-".into(),
                target,
                Some(false),
            );
            skipped = true;
            continue;
        };
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("report --format json");
        let m = &json["metrics"];
        println!(
            "  probe {}: deployments {}, changes {}, failed {}, incidents {}",
            ms(probe),
            m["deployment_frequency"]["deployments"],
            m["lead_time_for_changes"]["changes"],
            m["change_failure_rate"]["failed_deployments"],
            m["time_to_restore"]["incidents"]
        );
        let runs = if probe > Duration::from_secs(10) {
            1
        } else {
            s.runs
        };
        let limit = largest.then_some(Duration::from_secs(1));
        push_vs_floor(table, name, runs, &mut ours, &copy, target, limit);
    }
}

// ---------------------------------------------------------------- 5. comment

fn bench_comment(s: &Settings, table: &mut Table) {
    let n = s.deployments;
    println!("\n[comment] {n} deployments");
    let db = report_store(s, n);
    let scratch = tempfile::tempdir().expect("tempdir");
    let copy = scratch.path().join("s.db");
    std::fs::copy(&db, &copy).expect("copy the store");
    let store = format!("sqlite:{}", copy.display());
    // The store's last day: both 30-day windows hold deployments.
    let now = REPORT_EPOCH + REPORT_SPAN;
    let mut ours = || {
        let mut c = dorameter(scratch.path(), now);
        c.args([
            "comment",
            "--dry-run",
            "--service",
            "bench",
            "--store",
            &store,
        ]);
        c
    };
    let (probe, out) = timed(&mut ours());
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && body.contains("Deployment frequency"),
        "comment --dry-run: {}{}",
        body,
        String::from_utf8_lossy(&out.stderr)
    );
    println!("  probe {}: {} bytes of Markdown", ms(probe), body.len());
    let name = format!("comment --dry-run, {n} deploys");
    let limit = Some(Duration::from_millis(300));
    push_vs_floor(table, name, s.runs, &mut ours, &copy, "< 300 ms", limit);
}

// ---------------------------------------------------------------- 4. version, size

fn bench_version(s: &Settings, table: &mut Table) {
    println!("\n[version]");
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut ours = || {
        let mut c = dorameter(scratch.path(), REPO_EPOCH);
        c.arg("--version");
        c
    };
    let mut base = || {
        let mut c = Command::new("git");
        c.arg("--version");
        c
    };
    let (a, b) = alternate(s.runs * 20, &mut ours, &mut base);
    table.push(
        "dorameter --version (vs git --version)",
        ms(a),
        ms(b),
        format!("{:.2}x", ratio(a, b)),
        "< 10 ms",
        Some(a < Duration::from_millis(10)),
    );

    let bench_bin = Path::new(DORAMETER);
    let static_bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/static/x86_64-unknown-linux-gnu/release/dorameter");
    let mib = |p: &Path| std::fs::metadata(p).map(|m| m.len() as f64 / (1024.0 * 1024.0));
    if let Ok(size) = mib(bench_bin) {
        table.push(
            "release binary size (dynamic, bench build)",
            format!("{size:.2} MiB"),
            "-".into(),
            "-".into(),
            "(info)",
            None,
        );
    }
    match mib(&static_bin) {
        Ok(size) => {
            let ldd = Command::new("ldd").arg(&static_bin).output().map(|o| {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                text.contains("not a dynamic executable") || text.contains("statically linked")
            });
            let is_static = ldd.unwrap_or(false);
            println!("  {}: static = {is_static}", static_bin.display());
            table.push(
                format!(
                    "static release binary size (ldd: {})",
                    if is_static { "static" } else { "NOT static" }
                ),
                format!("{size:.2} MiB"),
                "-".into(),
                "-".into(),
                "< 25 MB",
                Some(is_static && size * 1024.0 * 1024.0 < 25e6),
            );
        }
        Err(_) => table.push(
            "static release binary size",
            "not built".into(),
            "-".into(),
            "-".into(),
            "< 25 MB (see docs/benchmarks.md)",
            None,
        ),
    }
}

fn main() {
    let s = Settings::from_env();
    std::fs::create_dir_all(&s.data).expect("create target/bench-data");
    println!(
        "dorameter benchmarks: {} commits, {} deployments, {} runs per side, {} CPUs",
        s.commits,
        s.deployments,
        s.runs,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!("binary: {DORAMETER}");
    let mut table = Table::default();
    if s.wants("walk") || s.wants("backfill") {
        println!("\n[repository]");
        let repo = bench_repo(&s);
        println!(
            "  tip {} ({} first-parent commits, last commit at {})",
            repo.tip,
            repo.first_parent,
            at(repo.last_time).to_rfc3339()
        );
        if s.wants("walk") {
            bench_walk(&s, &repo, &mut table);
        }
        if s.wants("backfill") {
            bench_backfill(&s, &repo, &mut table);
        }
    }
    if s.wants("report") {
        bench_report(&s, &mut table);
    }
    if s.wants("version") {
        bench_version(&s, &mut table);
    }
    if s.wants("comment") {
        bench_comment(&s, &mut table);
    }
    table.print();
}
