//! Helpers shared by the integration tests: running the real `dorameter`
//! binary against a private store with a pinned "now", building real git
//! repositories with pinned dates, and a reference implementation of the
//! percentile definition (SPEC §3) to compute expected values independently.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_dorameter");

pub const MIN: i64 = 60;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// 2026-03-01T00:00:00Z: the start of every scripted scenario.
pub const BASE: i64 = 1_772_323_200;
/// 2026-04-03T00:00:00Z: "now" for every command (DORAMETER_NOW).
pub const NOW: i64 = 1_775_174_400;

/// `BASE + days + hours + minutes`, for readable scripts.
pub fn at(day: i64, hour: i64, minute: i64) -> i64 {
    BASE + day * DAY + hour * HOUR + minute * MIN
}

/// RFC 3339 in UTC with second precision.
pub fn rfc(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .expect("valid timestamp")
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 JSON string into unix seconds.
pub fn ts(v: &Value) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("not RFC 3339: {s}: {e}"))
        .timestamp()
}

/// A number from JSON (integer or float).
pub fn num(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

/// Asserts `v` is a number within `tol` of `expected`.
#[track_caller]
pub fn assert_close(v: &Value, expected: f64, tol: f64, what: &str) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: expected the number {expected}, got {v}"));
    assert!(
        (got - expected).abs() <= tol,
        "{what}: expected {expected} (±{tol}), got {got}"
    );
}

/// Asserts `got` is within `tol` of `expected`.
#[track_caller]
pub fn assert_f(got: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (got - expected).abs() <= tol,
        "{what}: expected {expected} (±{tol}), got {got}"
    );
}

/// Asserts `v` is a number within `tol` of `expected`, or null when `expected` is None.
#[track_caller]
pub fn assert_opt_close(v: &Value, expected: Option<f64>, tol: f64, what: &str) {
    match expected {
        Some(e) => assert_close(v, e, tol, what),
        None => assert!(v.is_null(), "{what}: expected null, got {v}"),
    }
}

/// Linear interpolation between closest ranks (numpy default,
/// PostgreSQL `percentile_cont`). `None` for no samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut xs = samples.to_vec();
    xs.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let rank = p * (xs.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    Some(xs[lo] + (xs[hi] - xs[lo]) * (rank - lo as f64))
}

pub fn mean(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        None
    } else {
        Some(samples.iter().sum::<f64>() / samples.len() as f64)
    }
}

/// Rounds a percentage to 2 decimals, as the report does.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The result of one `dorameter` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: Vec<String>,
}

impl Run {
    /// The run of `args` that produced `out`, for commands built by hand
    /// (spawned children, another working directory, no `--format json`).
    pub fn from_output(args: Vec<String>, out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args,
        }
    }

    /// Asserts no panic, whatever the exit code.
    #[track_caller]
    pub fn assert_no_panic(&self) -> &Run {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "dorameter panicked: {self:#?}"
        );
        self
    }

    /// Asserts exit 0 and no panic.
    #[track_caller]
    pub fn assert_ok(&self) -> &Run {
        self.assert_no_panic();
        assert_eq!(self.code, 0, "expected exit 0: {self:#?}");
        self
    }

    /// Asserts exit 0 and parses stdout as one JSON value.
    #[track_caller]
    pub fn json(&self) -> Value {
        self.assert_ok();
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:#?}"))
    }

    /// Asserts a usage error (exit 2) reported as `error: ...` on stderr that
    /// names `flag`, without a panic.
    #[track_caller]
    pub fn assert_usage_error(&self, flag: &str) -> &Run {
        self.assert_no_panic();
        assert_eq!(self.code, 2, "expected exit 2 (usage error): {self:#?}");
        assert!(
            self.stderr.contains("error"),
            "stderr should carry an error message: {self:#?}"
        );
        assert!(
            self.stderr.contains(flag),
            "stderr should name {flag}: {self:#?}"
        );
        self
    }
}

/// A `dorameter` process started by [`Dm::spawn`].
pub struct Spawned {
    args: Vec<String>,
    child: Child,
}

impl Spawned {
    /// Closes the reading end of its stdout, as `| head` does once it has
    /// read enough.
    pub fn close_stdout(&mut self) {
        drop(self.child.stdout.take());
    }

    /// Waits for the process to exit.
    pub fn wait(self) -> Run {
        let out = self.child.wait_with_output().expect("wait for dorameter");
        Run::from_output(self.args, out)
    }
}

/// A private dorameter world: a temp dir holding the store and HOME, and the
/// pinned "now".
pub struct Dm {
    /// Shared with the worlds [`Dm::with_store`] derives, so they run with the
    /// same HOME and working directory.
    pub dir: Arc<TempDir>,
    pub now: i64,
    /// `--store` for [`Dm::command`]; `None` is the SQLite file in `dir`.
    store: Option<String>,
}

impl Default for Dm {
    fn default() -> Self {
        Dm::new(NOW)
    }
}

impl Dm {
    pub fn new(now: i64) -> Dm {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        std::fs::create_dir_all(dir.path().join("cwd")).expect("cwd");
        Dm {
            dir: Arc::new(dir),
            now,
            store: None,
        }
    }

    /// This world (same temp dir, HOME, working directory and now) with
    /// `url` as its store, e.g. a PostgreSQL database: the same commands run
    /// on two stores give comparable outputs.
    pub fn with_store(&self, url: &str) -> Dm {
        Dm {
            dir: Arc::clone(&self.dir),
            now: self.now,
            store: Some(url.to_string()),
        }
    }

    /// The SQLite file of this world's default store (also for a world
    /// [`Dm::with_store`] points elsewhere).
    /// The working directory commands run in (where `.dorameter.toml` is found).
    pub fn cwd(&self) -> PathBuf {
        self.dir.path().join("cwd")
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    /// The `--store` every [`Dm::command`] passes.
    pub fn store_url(&self) -> String {
        match &self.store {
            Some(url) => url.clone(),
            None => format!("sqlite:{}", self.store_path().display()),
        }
    }

    /// The bare command: clean environment, pinned now, no store or format.
    pub fn raw_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("DORAMETER_NOW", rfc(self.now))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .current_dir(self.dir.path().join("cwd"))
            .args(args);
        cmd
    }

    /// The command with this world's store and JSON output.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.raw_command(&["--store", &self.store_url(), "--format", "json"]);
        cmd.args(args);
        cmd
    }

    /// `ARGS` with `--format json` run in `dir` (a clone, for `--store git`).
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        let out = self
            .raw_command(&["--format", "json"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run dorameter");
        Run::from_output(args.iter().map(|s| s.to_string()).collect(), out)
    }

    /// [`Dm::run_in`], started and not waited for.
    pub fn spawn_in(&self, dir: &Path, args: &[&str]) -> Spawned {
        let child = self
            .raw_command(&["--format", "json"])
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn dorameter");
        Spawned {
            args: args.iter().map(|s| s.to_string()).collect(),
            child,
        }
    }

    pub fn run_raw(&self, args: &[&str]) -> Run {
        let out = self.raw_command(args).output().expect("run dorameter");
        Run::from_output(args.iter().map(|s| s.to_string()).collect(), out)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(&[], args)
    }

    /// [`Dm::run`] with `env` added to (or overriding) the world's variables.
    pub fn run_with_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .expect("run dorameter");
        Run::from_output(args.iter().map(|s| s.to_string()).collect(), out)
    }

    /// Starts [`Dm::command`] with stdout and stderr captured, for runs that
    /// race each other; [`Spawned::wait`] collects the [`Run`].
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dorameter");
        Spawned {
            args: args.iter().map(|s| s.to_string()).collect(),
            child,
        }
    }

    /// Runs and expects exit 0 with JSON on stdout.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        self.run(args).json()
    }

    /// `dorameter deploy --repo REPO ARGS...`, expecting success.
    #[track_caller]
    pub fn deploy(&self, repo: &Path, args: &[&str]) -> Value {
        let repo = repo.display().to_string();
        let mut all = vec!["deploy", "--repo", repo.as_str()];
        all.extend_from_slice(args);
        self.json(&all)
    }

    /// A deployment of `sha` finished at `finished` (started 5 minutes before).
    #[track_caller]
    pub fn deploy_at(
        &self,
        repo: &Path,
        service: &str,
        id: &str,
        sha: &str,
        finished: i64,
        extra: &[&str],
    ) -> Value {
        let started = rfc(finished - 5 * MIN);
        let finished = rfc(finished);
        let mut args = vec![
            "--service",
            service,
            "--id",
            id,
            "--sha",
            sha,
            "--started-at",
            started.as_str(),
            "--finished-at",
            finished.as_str(),
        ];
        args.extend_from_slice(extra);
        self.deploy(repo, &args)
    }

    /// `report --service S --since --until` as one JSON object.
    #[track_caller]
    pub fn report(&self, service: &str, since: i64, until: i64, extra: &[&str]) -> Value {
        let (since, until) = (rfc(since), rfc(until));
        let mut args = vec![
            "report",
            "--service",
            service,
            "--since",
            since.as_str(),
            "--until",
            until.as_str(),
        ];
        args.extend_from_slice(extra);
        let v = self.json(&args);
        assert!(v.is_object(), "report --service gives one object: {v}");
        v
    }

    /// The number of successful deployments of `service` the report counts in
    /// a window wide enough for every scenario.
    #[track_caller]
    pub fn deployment_count(&self, service: &str) -> u64 {
        if self.has_no_events(service) {
            return 0;
        }
        let r = self.report(service, BASE - 400 * DAY, self.now, &[]);
        r["metrics"]["deployment_frequency"]["deployments"]
            .as_u64()
            .unwrap_or_else(|| panic!("deployments count missing: {r}"))
    }

    /// Whether the store holds no event at all of `service` (in
    /// production): `report` says so with exit 4 (SPEC §4).
    #[track_caller]
    pub fn has_no_events(&self, service: &str) -> bool {
        let run = self.run(&["report", "--service", service]);
        run.assert_no_panic();
        match run.code {
            0 => false,
            4 => {
                let said = format!("no events for service '{service}'");
                assert!(run.stderr.contains(&said), "{run:#?}");
                true
            }
            _ => panic!("report --service {service}: {run:#?}"),
        }
    }
}

/// Everything we know about one commit, read back from git.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    pub sha: String,
    pub parents: Vec<String>,
    pub author: i64,
    pub committer: i64,
    pub message: String,
}

/// A real git repository in a temp dir, built with pinned identities and dates.
pub struct Repo {
    _dir: TempDir,
    pub path: PathBuf,
    home: PathBuf,
    counter: usize,
}

impl Default for Repo {
    fn default() -> Self {
        Repo::new()
    }
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("repo");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&path).expect("repo dir");
        std::fs::create_dir_all(&home).expect("home dir");
        let repo = Repo {
            _dir: dir,
            path,
            home,
            counter: 0,
        };
        repo.git(&["init", "-q"], BASE);
        repo
    }

    fn git_command(home: &Path, cwd: &Path, args: &[&str], author: i64, committer: i64) -> Command {
        let mut cmd = Command::new("git");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Author")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Cid Committer")
            .env("GIT_COMMITTER_EMAIL", "cid@example.com")
            .env("GIT_AUTHOR_DATE", format!("@{author} +0000"))
            .env("GIT_COMMITTER_DATE", format!("@{committer} +0000"))
            .current_dir(cwd)
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
                "-c",
                "core.autocrlf=false",
                "-c",
                "advice.detachedHead=false",
                "-c",
                "protocol.file.allow=always",
            ])
            .args(args);
        cmd
    }

    fn run_git(home: &Path, cwd: &Path, args: &[&str], author: i64, committer: i64) -> String {
        let out = Repo::git_command(home, cwd, args, author, committer)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs git in the repository with both dates pinned to `t`.
    pub fn git(&self, args: &[&str], t: i64) -> String {
        Repo::run_git(&self.home, &self.path, args, t, t)
    }

    /// Commits a new file with `msg`, with the given author and committer dates.
    pub fn commit(&mut self, msg: &str, author: i64, committer: i64) -> String {
        self.counter += 1;
        let file = format!("file-{:04}.txt", self.counter);
        std::fs::write(self.path.join(&file), format!("{msg}\n{}\n", self.counter))
            .expect("write file");
        Repo::run_git(&self.home, &self.path, &["add", &file], author, committer);
        Repo::run_git(
            &self.home,
            &self.path,
            &["commit", "-q", "-m", msg],
            author,
            committer,
        );
        self.head()
    }

    /// Commits with author date = committer date = `t`.
    pub fn commit_at(&mut self, msg: &str, t: i64) -> String {
        self.commit(msg, t, t)
    }

    /// A `--no-ff` merge of `branch` into the current branch.
    pub fn merge(&self, branch: &str, msg: &str, t: i64) -> String {
        self.git(&["merge", "-q", "--no-ff", "-m", msg, branch], t);
        self.head()
    }

    /// `git revert --no-edit SHA`: subject `Revert "..."`, body `This reverts commit SHA.`
    pub fn revert(&self, sha: &str, t: i64) -> String {
        self.git(&["revert", "--no-edit", sha], t);
        self.head()
    }

    /// An annotated tag on HEAD whose tagger date is `t`.
    pub fn tag(&self, name: &str, t: i64) {
        self.git(&["tag", "-a", name, "-m", &format!("release {name}")], t);
    }

    /// A lightweight tag on `rev`.
    pub fn lightweight_tag(&self, name: &str, rev: &str) {
        self.git(&["tag", name, rev], BASE);
    }

    pub fn checkout_branch(&self, name: &str) {
        self.git(&["checkout", "-q", "-b", name], BASE);
    }

    pub fn checkout(&self, rev: &str) {
        self.git(&["checkout", "-q", rev], BASE);
    }

    /// Rebases the current branch onto `onto`; the rewritten commits keep their
    /// author dates and get committer date `t`.
    pub fn rebase(&self, onto: &str, t: i64) {
        self.git(&["rebase", "-q", onto], t);
    }

    pub fn head(&self) -> String {
        self.rev_parse("HEAD")
    }

    pub fn rev_parse(&self, rev: &str) -> String {
        self.git(
            &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
            BASE,
        )
    }

    pub fn info(&self, rev: &str) -> CommitInfo {
        let out = self.git(&["log", "-1", "--format=%H%n%P%n%at%n%ct%n%B", rev], BASE);
        let mut lines = out.lines();
        let sha = lines.next().expect("sha").to_string();
        let parents = lines
            .next()
            .expect("parents")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let author = lines.next().expect("at").parse().expect("author time");
        let committer = lines.next().expect("ct").parse().expect("committer time");
        let message = lines.collect::<Vec<_>>().join("\n");
        CommitInfo {
            sha,
            parents,
            author,
            committer,
            message,
        }
    }

    /// Runs git in another directory (a clone), dates pinned to `BASE`.
    pub fn git_in(&self, cwd: &Path, args: &[&str]) -> String {
        Repo::run_git(&self.home, cwd, args, BASE, BASE)
    }

    /// `git clone ARGS... file://REPO DEST` into a new temp dir.
    pub fn clone_with(&self, args: &[&str], dest_name: &str) -> (TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join(dest_name);
        let url = format!("file://{}", self.path.display());
        let mut all = vec!["clone", "-q"];
        all.extend_from_slice(args);
        all.push(&url);
        let dest_s = dest.display().to_string();
        all.push(&dest_s);
        Repo::run_git(&self.home, dir.path(), &all, BASE, BASE);
        (dir, dest)
    }
}

/// A model of commit reachability, to compute `git rev-list --no-merges
/// prev..sha` independently of the implementation.
#[derive(Default)]
pub struct Graph {
    pub commits: HashMap<String, CommitInfo>,
}

impl Graph {
    pub fn add(&mut self, info: CommitInfo) {
        self.commits.insert(info.sha.clone(), info);
    }

    /// `sha` and every commit reachable from it.
    pub fn ancestors(&self, sha: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![sha.to_string()];
        while let Some(s) = stack.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            let info = self
                .commits
                .get(&s)
                .unwrap_or_else(|| panic!("commit {s} not in the model"));
            stack.extend(info.parents.iter().cloned());
        }
        seen
    }

    /// Merge commits reachable from `sha` and not from `prev`.
    pub fn merges(&self, prev: &str, sha: &str) -> BTreeSet<String> {
        let old = self.ancestors(prev);
        self.ancestors(sha)
            .into_iter()
            .filter(|s| !old.contains(s) && self.commits[s].parents.len() > 1)
            .collect()
    }

    /// Non-merge commits reachable from `sha` and not from `prev`.
    pub fn changes(&self, prev: &str, sha: &str) -> BTreeSet<String> {
        let old = self.ancestors(prev);
        self.ancestors(sha)
            .into_iter()
            .filter(|s| !old.contains(s) && self.commits[s].parents.len() <= 1)
            .collect()
    }
}

/// The set of `sha` values in a deploy JSON's `changes`.
pub fn change_shas(deploy: &Value) -> BTreeSet<String> {
    deploy["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("changes should be an array: {deploy}"))
        .iter()
        .map(|c| c["sha"].as_str().expect("change sha").to_string())
        .collect()
}

/// `sha → lead_time_seconds` from a deploy JSON's `changes`.
pub fn change_lead_times(deploy: &Value) -> HashMap<String, f64> {
    deploy["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("changes should be an array: {deploy}"))
        .iter()
        .map(|c| {
            (
                c["sha"].as_str().expect("change sha").to_string(),
                num(&c["lead_time_seconds"]),
            )
        })
        .collect()
}

/// `(deployment_id, reason)` pairs of a deploy JSON's `remediates`, sorted.
pub fn remediates(deploy: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = deploy["remediates"]
        .as_array()
        .unwrap_or_else(|| panic!("remediates should be an array: {deploy}"))
        .iter()
        .map(|r| {
            (
                r["deployment_id"]
                    .as_str()
                    .expect("deployment_id")
                    .to_string(),
                r["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Owned `(id, reason)` pairs, sorted, for comparisons.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// The sorted set of owned strings.
pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}
