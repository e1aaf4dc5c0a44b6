//! `dorameter store copy --from URL --to URL`: a history recorded by the
//! real commands (rollback, revert, hotfix, ties, a deployment recorded out
//! of order, incidents open, resolved and re-resolved, JUnit runs with
//! retried and merged tests) copied between SQLite, PostgreSQL and git
//! stores gives the same reports, the same flaky tests and the same rows;
//! copying again copies nothing.
//!
//! The PostgreSQL legs need `DORAMETER_TEST_POSTGRES` (see `postgres.rs`);
//! without it they say SKIPPED and the SQLite and git legs still run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::postgres::{Db, junit_file, server, with_user};
use crate::util::*;

/// A service repository whose `origin` is a bare remote over `file://`
/// (the git store's home), and the dorameter world that runs in it.
struct World {
    repo: Repo,
    remote: PathBuf,
    _remote_dir: tempfile::TempDir,
    dm: Dm,
}

impl World {
    fn new() -> World {
        let mut repo = Repo::new();
        repo.commit_at("chore: start", at(0, 0, 0));
        let remote_dir = tempfile::tempdir().unwrap();
        let remote = remote_dir.path().join("remote.git");
        let remote_s = remote.display().to_string();
        repo.git(&["init", "-q", "--bare", &remote_s], BASE);
        repo.git(
            &["remote", "add", "origin", &format!("file://{remote_s}")],
            BASE,
        );
        repo.git(&["push", "-q", "origin", "HEAD:refs/heads/main"], BASE);
        World {
            repo,
            remote,
            _remote_dir: remote_dir,
            dm: Dm::default(),
        }
    }

    /// A SQLite store in the world's temp dir.
    fn sqlite(&self, name: &str) -> String {
        format!("sqlite:{}", self.dm.dir.path().join(name).display())
    }

    /// `dorameter --format json --store STORE ARGS` in the checkout.
    fn on(&self, store: &str, args: &[&str]) -> Run {
        let mut all = vec!["--store", store];
        all.extend_from_slice(args);
        self.dm.run_in(&self.repo.path, &all)
    }

    /// `store copy --from A --to B` in the checkout, as JSON.
    fn copy(&self, from: &str, to: &str) -> Run {
        self.dm.run_in(
            &self.repo.path,
            &["store", "copy", "--from", from, "--to", to],
        )
    }

    /// `git` in the bare remote.
    fn remote_git(&self, args: &[&str]) -> String {
        self.repo.git_in(&self.remote, args)
    }

    /// Runs `args` on every store: each succeeds and prints the same.
    #[track_caller]
    fn each(&self, stores: &[String], args: &[&str]) {
        self.each_at(self.dm.now, stores, args);
    }

    /// [`World::each`] with "now" at `now`.
    #[track_caller]
    fn each_at(&self, now: i64, stores: &[String], args: &[&str]) {
        let at_now = Dm::new(now);
        let runs: Vec<Run> = stores
            .iter()
            .map(|s| {
                let mut all = vec!["--store", s.as_str()];
                all.extend_from_slice(args);
                at_now.run_in(&self.repo.path, &all)
            })
            .collect();
        for r in &runs {
            r.assert_ok();
        }
        for r in &runs[1..] {
            assert_eq!(r.stdout, runs[0].stdout, "stores disagree on {args:?}");
        }
    }

    /// `deploy` of `sha` to api as `id`, finished at `finished` (started
    /// five minutes before), on every store.
    #[track_caller]
    fn deploy(&self, stores: &[String], id: &str, sha: &str, finished: i64, extra: &[&str]) {
        let (started, finished) = (rfc(finished - 5 * MIN), rfc(finished));
        let mut args = vec![
            "deploy",
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
        self.each(stores, &args);
    }

    /// The history, recorded by the real commands into every store.
    fn record(&mut self, stores: &[String]) {
        let deploy = |w: &World, id: &str, sha: &str, finished: i64, extra: &[&str]| {
            w.deploy(stores, id, sha, finished, extra);
        };
        let c1 = self.repo.commit_at("feat: one", at(0, 0, 10));
        deploy(self, "d1", &c1, at(0, 1, 0), &["--version", "v1"]);
        self.repo.commit_at("feat: two", at(0, 1, 10));
        let c3 = self.repo.commit_at("feat: three", at(0, 1, 40));
        deploy(
            self,
            "d2",
            &c3,
            at(0, 3, 0),
            &[
                "--deployed-by",
                "ada",
                "--tag",
                "region=eu",
                "--team",
                "pay",
            ],
        );
        let c4 = self.repo.commit_at("feat: four", at(0, 4, 0));
        deploy(
            self,
            "d3-failed-job",
            &c4,
            at(0, 5, 0),
            &["--status", "failure"],
        );
        deploy(self, "d3", &c4, at(0, 6, 0), &[]);
        deploy(self, "d4-rollback", &c3, at(0, 7, 0), &["--rollback"]);
        deploy(self, "d5", &c4, at(1, 2, 0), &[]);
        let bad = self.repo.commit_at("feat: five", at(1, 3, 0));
        deploy(self, "d6", &bad, at(1, 4, 0), &[]);
        let rev = self.repo.revert(&bad, at(1, 5, 0));
        deploy(self, "d7-revert", &rev, at(1, 6, 0), &[]);
        let c8 = self.repo.commit_at("feat: eight", at(2, 0, 0));
        deploy(self, "d8", &c8, at(2, 1, 0), &[]);
        let fix = self.repo.commit_at("fix: urgent", at(2, 1, 30));
        deploy(self, "d9-hotfix", &fix, at(2, 2, 0), &["--hotfix"]);
        // The same finished_at twice: insertion order decides.
        let c10 = self.repo.commit_at("feat: ten", at(3, 0, 0));
        deploy(self, "d10a", &c10, at(3, 1, 0), &[]);
        let c11 = self.repo.commit_at("feat: eleven", at(3, 0, 30));
        deploy(self, "d10b", &c11, at(3, 1, 0), &["--deployed-by", "bob"]);
        // Recorded out of order: the later deployment first.
        let c12 = self.repo.commit_at("feat: twelve", at(3, 2, 0));
        let c13 = self.repo.commit_at("feat: thirteen", at(3, 2, 10));
        deploy(self, "d12b", &c13, at(3, 3, 0), &[]);
        deploy(self, "d12a", &c12, at(3, 2, 30), &[]);
        let web = self.repo.head();
        let finished = rfc(at(1, 0, 0));
        self.each(
            stores,
            &[
                "deploy",
                "--service",
                "web",
                "--env",
                "staging",
                "--id",
                "w1",
                "--sha",
                &web,
                "--finished-at",
                &finished,
            ],
        );

        let incident = |w: &World, id: &str, started: i64, extra: &[&str]| {
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
            w.each(stores, &args);
        };
        incident(
            self,
            "INC-by-id",
            at(0, 3, 30),
            &[
                "--cause",
                "deploy",
                "--deployment",
                "d2",
                "--severity",
                "SEV1",
                "--title",
                "checkout down",
                "--detected-at",
                &rfc(at(0, 3, 40)),
                "--resolved-at",
                &rfc(at(0, 6, 30)),
            ],
        );
        incident(
            self,
            "INC-by-sha",
            at(1, 4, 30),
            &[
                "--cause",
                "unknown",
                "--sha",
                &bad,
                "--resolved-at",
                &rfc(at(1, 6, 0)),
            ],
        );
        incident(self, "INC-open", at(3, 4, 0), &["--cause", "unknown"]);
        incident(
            self,
            "INC 7/timing",
            at(2, 1, 20),
            &["--cause", "deploy", "--resolved-at", &rfc(at(2, 2, 0))],
        );
        incident(
            self,
            "INC-infra",
            at(3, 2, 0),
            &["--cause", "infra", "--resolved-at", &rfc(at(3, 3, 0))],
        );
        // An upsert: the same id again, resolved later.
        incident(
            self,
            "INC 7/timing",
            at(2, 1, 20),
            &["--cause", "deploy", "--resolved-at", &rfc(at(2, 3, 0))],
        );
        let started = rfc(at(1, 1, 0));
        self.each(
            stores,
            &[
                "incident",
                "open",
                "--id",
                "INC-web",
                "--service",
                "web",
                "--service",
                "api",
                "--env",
                "staging",
                "--started-at",
                &started,
                "--cause",
                "deploy",
            ],
        );

        // JUnit: pytest reruns (failed, then passed on the retry) on one
        // commit; the same test failing outright on that commit later; and a
        // large run of every outcome with Surefire retries and tests met
        // again in a second file.
        let reports = self.dm.dir.path().join("reports");
        std::fs::create_dir_all(&reports).unwrap();
        let rerun = reports.join("rerun.xml");
        std::fs::write(
            &rerun,
            r#"<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.test_pay" name="test_refund" time="1.25"><failure message="timeout">boom</failure></testcase>
<testcase classname="tests.test_pay" name="test_refund" time="0.5"/>
<testcase classname="tests.test_pay" name="test_charge" time="0.1"/>
<testcase classname="tests.test_pay" name="test_later"><skipped/></testcase>
<testcase classname="tests.test_pay" name="test_crash" time="2"><error message="segfault">core dumped</error></testcase>
</testsuite></testsuites>"#,
        )
        .unwrap();
        let plain = reports.join("plain.xml");
        std::fs::write(
            &plain,
            r#"<testsuite name="pytest" tests="2">
<testcase classname="tests.test_pay" name="test_refund" time="0.75"><failure message="timeout again"/></testcase>
<testcase classname="tests.test_pay" name="test_charge" time="0.125"/>
</testsuite>"#,
        )
        .unwrap();
        let big = reports.join("big");
        std::fs::create_dir_all(&big).unwrap();
        junit_file(&big.join("a.xml"), 700, 0, false);
        junit_file(&big.join("b.xml"), 300, 4, false);
        let big_glob = format!("{}/*.xml", big.display());
        for (now, id, sha, file) in [
            (
                self.dm.now - 3 * DAY,
                "run-1",
                &c3,
                rerun.display().to_string(),
            ),
            (
                self.dm.now - 2 * DAY,
                "run-2",
                &c3,
                plain.display().to_string(),
            ),
            (self.dm.now - DAY, "run-3", &c4, big_glob),
        ] {
            self.each_at(
                now,
                stores,
                &[
                    "junit",
                    &file,
                    "--service",
                    "api",
                    "--sha",
                    sha,
                    "--id",
                    id,
                    "--run-id",
                    id,
                    "--job",
                    "test",
                ],
            );
        }
        let _ = (c13, web);
    }

    /// What the reports and `flaky` print from `store`: all services and
    /// envs over a fixed window, each service, and the flaky tests.
    fn views(&self, store: &str) -> Vec<String> {
        let (since, until) = (rfc(BASE - DAY), rfc(self.dm.now));
        let report = |extra: &[&str]| {
            let mut args = vec!["report", "--since", &since, "--until", &until];
            args.extend_from_slice(extra);
            let run = self.on(store, &args);
            run.json();
            run.stdout
        };
        let flaky = |extra: &[&str]| {
            let mut args = vec!["flaky", "--service", "api"];
            args.extend_from_slice(extra);
            let run = self.on(store, &args);
            run.json();
            run.stdout
        };
        let out = vec![
            report(&[]),
            report(&["--service", "api"]),
            report(&["--service", "web", "--env", "staging"]),
            report(&["--service", "api", "--attribution-window", "2h"]),
            flaky(&[]),
            flaky(&["--min-runs", "1"]),
        ];
        let all: Value = serde_json::from_str(&out[0]).unwrap();
        assert!(all.as_array().is_some_and(|a| a.len() >= 2), "{all}");
        assert!(
            out[4].contains("test_refund") && out[4].contains("retry"),
            "{}",
            out[4]
        );
        out
    }
}

/// Every row of a SQLite store that an event carries, keyed by event ids
/// (not by the store's sequence numbers or recording times).
fn dump(path: &Path) -> BTreeMap<&'static str, Vec<String>> {
    let conn = rusqlite::Connection::open(path).expect("open the SQLite store");
    let tables: [(&'static str, &str); 7] = [
        (
            "deployments",
            "SELECT id, service, env, repository_url, sha, previous_sha, started_at, finished_at, status, kind,
                    version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from, lead_time_note,
                    clamped_changes, truncated, ref_name
             FROM deployments ORDER BY finished_at, seq",
        ),
        (
            "changes",
            "SELECT d.id, c.sha, c.authored_at, c.committed_at, c.lead_time_seconds
             FROM changes c JOIN deployments d ON d.seq = c.deployment_seq ORDER BY 1, 2",
        ),
        (
            "remediations",
            "SELECT d.id, r.target_id, r.reason, r.commit_sha
             FROM remediations r JOIN deployments d ON d.seq = r.deployment_seq ORDER BY 1, 2",
        ),
        (
            "incidents",
            "SELECT id, env, started_at, detected_at, resolved_at, severity, title, cause, deployment_id,
                    deployment_sha
             FROM incidents ORDER BY seq",
        ),
        (
            "incident_services",
            "SELECT i.id, s.service FROM incident_services s JOIN incidents i ON i.seq = s.incident_seq
             ORDER BY 1, 2",
        ),
        (
            "test_runs",
            "SELECT id, service, sha, run_id, run_attempt, job, recorded_at, files, tests, runs, passed,
                    failed, errored, skipped, flaky
             FROM test_runs ORDER BY seq",
        ),
        (
            "test_results",
            "SELECT t.id, r.classname, r.name, r.outcome, r.attempts, r.failures, r.passes, r.flaky,
                    r.duration, r.message
             FROM test_results r JOIN test_runs t ON t.seq = r.run_seq ORDER BY 1, 2, 3",
        ),
    ];
    tables
        .into_iter()
        .map(|(name, sql)| {
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map(|v| v.join(" | "))
                })
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            (name, rows)
        })
        .collect()
}

/// Asserts two dumps hold the same rows, naming the first that differs.
#[track_caller]
fn assert_same_rows(a: &Path, b: &Path) {
    let (x, y) = (dump(a), dump(b));
    for (table, rows) in &x {
        let other = &y[table];
        for (i, (r, s)) in rows.iter().zip(other).enumerate() {
            assert_eq!(r, s, "{table} row {i}: {} vs {}", a.display(), b.display());
        }
        assert_eq!(rows.len(), other.len(), "{table}: row counts");
        assert!(!rows.is_empty(), "{table}: no rows to compare");
    }
}

fn path_of(sqlite_url: &str) -> PathBuf {
    PathBuf::from(sqlite_url.strip_prefix("sqlite:").unwrap())
}

/// The counts a copy printed: (copied, existing) per kind.
fn counts(v: &Value) -> [(u64, u64); 3] {
    ["deployments", "incidents", "test_runs"].map(|k| {
        (
            v[k]["copied"].as_u64().unwrap_or_else(|| panic!("{v}")),
            v[k]["existing"].as_u64().unwrap_or_else(|| panic!("{v}")),
        )
    })
}

/// 15 deployments, 6 incidents, 3 test runs.
const ALL: [(u64, u64); 3] = [(15, 0), (6, 0), (3, 0)];
const NONE_NEW: [(u64, u64); 3] = [(0, 15), (0, 6), (0, 3)];

/// A fresh database on the test server, or `None` (said loudly).
fn postgres() -> Option<Db> {
    server().map(|admin| Db::new(&admin))
}

#[test]
fn sqlite_to_postgres_to_sqlite_keeps_every_row_and_report() {
    let mut w = World::new();
    let source = w.sqlite("source.db");
    w.record(std::slice::from_ref(&source));
    let expected = w.views(&source);
    let db = postgres();
    // Through PostgreSQL when there is a server, else straight across.
    let mut chain = vec![source.clone()];
    chain.extend(db.as_ref().map(|d| d.url.clone()));
    chain.push(w.sqlite("final.db"));
    for pair in chain.windows(2) {
        let out = w.copy(&pair[0], &pair[1]).json();
        assert_eq!(counts(&out), ALL, "{out}");
        assert_eq!(w.views(&pair[1]), expected, "{} differs", pair[1]);
    }
    let last = chain.last().unwrap();
    assert_same_rows(&path_of(last), &path_of(&source));

    // Again: nothing new, nothing written, the same numbers.
    for pair in chain.windows(2) {
        let out = w.copy(&pair[0], &pair[1]).json();
        assert_eq!(counts(&out), NONE_NEW, "{out}");
        assert_eq!(w.views(&pair[1]), expected);
    }
    assert_same_rows(&path_of(last), &path_of(&source));

    // The table form says the same in a line.
    let run =
        w.dm.run_raw(&["store", "copy", "--from", &source, "--to", last]);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        format!(
            "copied 0 deployments, 0 incidents and 0 test runs from {source} to {last}; 24 already there\n"
        )
    );
}

/// Deployment and incident files of a ref, by path.
fn ref_files(w: &World, refname: &str, dirs: &[&str]) -> BTreeMap<String, String> {
    let list = w.remote_git(&["ls-tree", "-r", "--name-only", refname]);
    list.lines()
        .filter(|p| dirs.iter().any(|d| p.starts_with(d)))
        .map(|p| {
            (
                p.to_string(),
                w.remote_git(&["show", &format!("{refname}:{p}")]),
            )
        })
        .collect()
}

#[test]
fn git_to_postgres_to_sqlite_and_back_to_a_new_ref_keeps_every_event() {
    let mut w = World::new();
    let git = "git".to_string();
    let direct = w.sqlite("direct.db");
    // The same commands into the git store and a SQLite store.
    w.record(&[git.clone(), direct.clone()]);
    let expected = w.views(&git);
    assert_eq!(w.views(&direct), expected);

    let db = postgres();
    let mut chain = vec![git.clone()];
    chain.extend(db.as_ref().map(|d| d.url.clone()));
    chain.push(w.sqlite("final.db"));
    let copy = "git:origin#refs/dorameter/copy".to_string();
    chain.push(copy.clone());
    for pair in chain.windows(2) {
        let out = w.copy(&pair[0], &pair[1]).json();
        assert_eq!(counts(&out), ALL, "{} -> {}: {out}", pair[0], pair[1]);
        assert_eq!(w.views(&pair[1]), expected, "{} differs", pair[1]);
    }
    let final_db = path_of(&chain[chain.len() - 2]);
    assert_same_rows(&final_db, &path_of(&direct));

    // The whole copy is one commit on the new ref.
    assert_eq!(
        w.remote_git(&["rev-list", "--count", "refs/dorameter/copy"]),
        "1"
    );
    // Every deployment and incident file is the original's, byte for byte,
    // but one: d12b was recorded before d12a, which then took the sample of
    // the commit both shipped (each commit counts once, at the first
    // deployment). The original ref keeps d12b's file as first written and
    // lets loading apply the rule; the copy writes d12b as the store holds
    // it, without that commit.
    let dirs = ["deployments-", "incidents/"];
    let original = ref_files(&w, "refs/dorameter/events", &dirs);
    let copied = ref_files(&w, "refs/dorameter/copy", &dirs);
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        copied.keys().collect::<Vec<_>>()
    );
    assert_eq!(original.len(), 15 + 6);
    let differ: Vec<&String> = original
        .keys()
        .filter(|p| original[*p] != copied[*p])
        .collect();
    assert_eq!(differ, ["deployments-2026-03/d12b.json"], "{differ:?}");
    let mut was: Value = serde_json::from_str(&original["deployments-2026-03/d12b.json"]).unwrap();
    let now: Value = serde_json::from_str(&copied["deployments-2026-03/d12b.json"]).unwrap();
    let d12a: Value = serde_json::from_str(&copied["deployments-2026-03/d12a.json"]).unwrap();
    let was_changes = was["changes"].as_array_mut().unwrap();
    assert_eq!(was_changes.len(), 2);
    was_changes.retain(|c| c["sha"] != d12a["sha"]);
    assert_eq!(was, now);
    // Test runs: the same files, the same headers (their entries are one
    // per test now, each giving the stored result).
    let original = ref_files(&w, "refs/dorameter/events", &["test-runs/"]);
    let copied = ref_files(&w, "refs/dorameter/copy", &["test-runs/"]);
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        copied.keys().collect::<Vec<_>>()
    );
    for (path, text) in &original {
        let a: Value = serde_json::from_str(text).unwrap();
        let b: Value = serde_json::from_str(&copied[path]).unwrap();
        assert_eq!(a["run"], b["run"], "{path}");
    }

    // Again, into the git store: nothing new, no commit.
    let tip = w.remote_git(&["rev-parse", "refs/dorameter/copy"]);
    let out = w.copy(&chain[chain.len() - 2], &copy).json();
    assert_eq!(counts(&out), NONE_NEW, "{out}");
    assert_eq!(w.remote_git(&["rev-parse", "refs/dorameter/copy"]), tip);
    assert_eq!(w.views(&copy), expected);
    // And from the git store: nothing new.
    let out = w.copy(&git, &chain[1]).json();
    assert_eq!(counts(&out), NONE_NEW, "{out}");
    // A fresh clone reads the copied ref as the writer does.
    let (_c, clone) = w.repo.clone_with(&[], "fresh");
    w.repo.git_in(
        &clone,
        &[
            "remote",
            "set-url",
            "origin",
            &format!("file://{}", w.remote.display()),
        ],
    );
    let (since, until) = (rfc(BASE - DAY), rfc(w.dm.now));
    let fresh = w.dm.run_in(
        &clone,
        &[
            "--store", &copy, "report", "--since", &since, "--until", &until,
        ],
    );
    fresh.assert_ok();
    assert_eq!(fresh.stdout, expected[0]);
}

#[test]
fn refusals_say_why_and_never_show_a_password() {
    let w = World::new();
    let source = w.sqlite("source.db");
    let sha = w.repo.head();
    w.on(
        &source,
        &["deploy", "--service", "api", "--id", "d1", "--sha", &sha],
    )
    .assert_ok();

    // The same store on both sides, however written.
    let dotted = format!(
        "sqlite:{}",
        w.dm.dir.path().join(".").join("source.db").display()
    );
    for (from, to) in [(&source, &source), (&source, &dotted)] {
        w.copy(from, to).assert_usage_error("same");
    }
    w.copy("git", "git:origin#refs/dorameter/events")
        .assert_usage_error("--to");

    // No file at the source's path: exit 4, the path named, nothing created.
    let missing = w.dm.dir.path().join("nope").join("missing.db");
    let target = w.dm.dir.path().join("target.db");
    let run = w.copy(
        &format!("sqlite:{}", missing.display()),
        &format!("sqlite:{}", target.display()),
    );
    run.assert_no_panic();
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains(&missing.display().to_string()),
        "{run:#?}"
    );
    assert!(!target.exists() && !missing.exists());
    // A ref with no events: nothing to copy, exit 4.
    let run = w.copy("git:origin#refs/dorameter/none", &source);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(run.stderr.contains("no events"), "{run:#?}");
    // A bad URL names its flag.
    let run = w.copy("mysql://root:hunter2@db/x", &source);
    run.assert_usage_error("--from (DORAMETER_COPY_FROM)");
    assert!(!run.stderr.contains("hunter2"), "{run:#?}");

    // A password in a PostgreSQL URL is never printed: unreachable server...
    let secret = "s3cr3t-pw";
    let unreachable = format!("postgres://dora:{secret}@127.0.0.1:1/dora?connect_timeout=2");
    let run = w.copy(&source, &unreachable);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("postgres://dora:***@127.0.0.1:1/dora")
            && run.stderr.contains("--to (DORAMETER_COPY_TO)"),
        "{run:#?}"
    );
    // ...nor by a copy that works, in either format, from the flag or the
    // env var.
    let Some(db) = postgres() else {
        return;
    };
    let with_password = with_user(&db.url, "postgres", Some(secret));
    let json = w.copy(&source, &with_password);
    let table =
        w.dm.raw_command(&["store", "copy", "--from", &source])
            .env("DORAMETER_COPY_TO", &with_password)
            .current_dir(&w.repo.path)
            .output()
            .unwrap();
    let table = Run::from_output(Vec::new(), table);
    table.assert_ok();
    assert!(
        table.stdout.contains("postgres://postgres:***@"),
        "{table:#?}"
    );
    for run in [&json, &table] {
        run.assert_ok();
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{run:#?}"
        );
    }
    assert_eq!(counts(&json.json())[0], (1, 0));
    assert!(table.stdout.contains("1 already there"), "{table:#?}");
}

/// A deployment recorded from a stale view (two git-store jobs at once, a
/// spooled write) lists commits an earlier deployment shipped. Wherever it
/// lands, inserted in any order, each commit counts once: here a source
/// made stale by hand, copied oldest first into SQLite and PostgreSQL.
#[test]
fn commits_an_earlier_deployment_shipped_count_once_in_every_store() {
    let mut w = World::new();
    let source = w.sqlite("stale.db");
    let stores = std::slice::from_ref(&source);
    let w0 = w.repo.head();
    w.deploy(stores, "w", &w0, at(0, 1, 0), &[]);
    w.repo.commit_at("feat: x1", at(0, 2, 0));
    let x = w.repo.commit_at("feat: x2", at(0, 2, 10));
    w.deploy(stores, "x", &x, at(0, 3, 0), &[]);
    let y = w.repo.commit_at("feat: y1", at(0, 3, 10));
    w.deploy(stores, "y", &y, at(0, 4, 0), &[]);
    let changes = |store: &str| -> Value {
        let (since, until) = (rfc(BASE - DAY), rfc(w.dm.now));
        let run = w.on(
            store,
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
        run.json()["metrics"]["lead_time_for_changes"]["changes"].clone()
    };
    assert_eq!(changes(&source), 3);
    // y as a job that had not seen x would have recorded it.
    let db = rusqlite::Connection::open(path_of(&source)).unwrap();
    let copied = db
        .execute(
            "INSERT INTO changes (deployment_seq, sha, authored_at, committed_at, lead_time_seconds)
             SELECT (SELECT seq FROM deployments WHERE id = 'y'), sha, authored_at, committed_at,
                    lead_time_seconds + 3600
             FROM changes WHERE deployment_seq = (SELECT seq FROM deployments WHERE id = 'x')",
            [],
        )
        .unwrap();
    assert_eq!(copied, 2);
    drop(db);
    assert_eq!(
        changes(&source),
        5,
        "the stale source counts x1 and x2 twice"
    );
    let db = postgres();
    let mut targets = vec![w.sqlite("deduped.db")];
    targets.extend(db.as_ref().map(|d| d.url.clone()));
    for target in &targets {
        w.copy(&source, target).assert_ok();
        assert_eq!(changes(target), 3, "{target}: x1, x2 at x; y1 at y");
    }
}
