//! `--store git` (SPEC §8) against real remotes: a bare repository over
//! `file://`, clones with no git identity (the runner's usual case), and
//! several writers at once.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// A service repository pushed to a bare remote, and clones of it.
struct World {
    origin: Repo,
    remote: PathBuf,
    _remote_dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let mut origin = Repo::new();
        origin.commit_at("feat: one", at(0, 0, 0));
        let remote_dir = tempfile::tempdir().unwrap();
        let remote = remote_dir.path().join("remote.git");
        let remote_s = remote.display().to_string();
        origin.git(&["init", "-q", "--bare", &remote_s], BASE);
        let url = format!("file://{remote_s}");
        origin.git(&["remote", "add", "origin", &url], BASE);
        origin.git(&["push", "-q", "origin", "HEAD:refs/heads/main"], BASE);
        World {
            origin,
            remote,
            _remote_dir: remote_dir,
        }
    }

    fn url(&self) -> String {
        format!("file://{}", self.remote.display())
    }

    /// A fresh clone of the remote (as a CI job makes).
    fn clone(&self, name: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join(name);
        let dest_s = dest.display().to_string();
        self.origin
            .git_in(dir.path(), &["clone", "-q", &self.url(), &dest_s]);
        (dir, dest)
    }

    fn commit_and_push(&mut self, msg: &str, t: i64) -> String {
        let sha = self.origin.commit_at(msg, t);
        self.origin
            .git(&["push", "-q", "origin", "HEAD:refs/heads/main"], t);
        sha
    }

    /// How many commits the event ref has on the remote.
    fn commits(&self) -> String {
        self.remote_git(&["rev-list", "--count", "refs/dorameter/events"])
    }

    /// `git` in the bare remote.
    fn remote_git(&self, args: &[&str]) -> String {
        self.origin.git_in(&self.remote, args)
    }
}

fn deploy(dm: &Dm, dir: &Path, id: &str, sha: &str, finished: i64) -> Run {
    let finished = rfc(finished);
    dm.run_in(
        dir,
        &[
            "--store",
            "git",
            "deploy",
            "--service",
            "api",
            "--id",
            id,
            "--sha",
            sha,
            "--finished-at",
            &finished,
        ],
    )
}

fn report(dm: &Dm, dir: &Path) -> Value {
    let (since, until) = (rfc(at(-1, 0, 0)), rfc(at(5, 0, 0)));
    dm.run_in(
        dir,
        &[
            "--store",
            "git",
            "report",
            "--service",
            "api",
            "--since",
            &since,
            "--until",
            &until,
        ],
    )
    .json()
}

/// `report`'s deployment count in `dir` is `n` (the report in the message).
#[track_caller]
fn assert_deployments(dm: &Dm, dir: &Path, n: usize) {
    let r = report(dm, dir);
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], n,
        "{r}"
    );
}

/// The git store's spool directory in the checkout `dir` (named like its
/// cache, which every command opens).
fn spool_of(dir: &Path) -> PathBuf {
    let cache = std::fs::read_dir(dir.join(".dorameter"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("git-cache-") && n.ends_with(".db"))
        .expect("the git store's cache");
    let name = cache.replace("git-cache-", "git-spool-");
    dir.join(".dorameter").join(name.trim_end_matches(".db"))
}

#[test]
fn events_written_in_one_clone_are_read_in_another() {
    let mut w = World::new();
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    let c1 = w.origin.head();
    deploy(&dm, &a, "d1", &c1, at(0, 1, 0)).assert_ok();
    let c2 = w.commit_and_push("feat: two", at(0, 2, 0));
    let c3 = w.commit_and_push("feat: three", at(0, 3, 0));
    w.origin.git_in(&a, &["fetch", "-q", "origin"]);
    let d = deploy(&dm, &a, "d2", &c3, at(0, 4, 0)).json();
    assert_eq!(d["lead_time"]["changes"], 2, "{d}");
    let inc = dm.run_in(
        &a,
        &[
            "--store",
            "git",
            "incident",
            "open",
            "--id",
            "INC 7/x",
            "--service",
            "api",
            "--cause",
            "deploy",
            "--started-at",
            &rfc(at(0, 4, 30)),
            "--resolved-at",
            &rfc(at(0, 5, 0)),
        ],
    );
    inc.assert_ok();

    // A fresh clone (another job, a fork PR) reads the same numbers.
    let (_b, b) = w.clone("b");
    let ra = report(&dm, &a);
    let rb = report(&dm, &b);
    assert_eq!(ra, rb, "the writer's clone and a fresh clone agree");
    let m = &rb["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 2, "{rb}");
    assert_eq!(m["lead_time_for_changes"]["changes"], 2);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1, "{rb}");
    assert_eq!(m["time_to_restore"]["incidents"], 1);
    let _ = c2;

    // The ref is plain git: one commit per write, by `dorameter`, readable
    // JSON named by the ids.
    let log = w.remote_git(&["log", "--format=%an <%ae> %s", "refs/dorameter/events"]);
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(
        log.lines()
            .all(|l| l.starts_with("dorameter <dorameter@localhost>"))
    );
    let files = w.remote_git(&["ls-tree", "-r", "--name-only", "refs/dorameter/events"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            "deployments-2026-03/d1.json",
            "deployments-2026-03/d2.json",
            "incidents/INC%207%2Fx.json"
        ],
        "{files}"
    );
    let d2 = w.remote_git(&["show", "refs/dorameter/events:deployments-2026-03/d2.json"]);
    let d2: Value = serde_json::from_str(&d2).unwrap();
    assert_eq!(d2["sha"], c3.as_str());
}

#[test]
fn concurrent_writers_each_land_exactly_once_on_a_linear_ref() {
    const N: usize = 20;
    let w = World::new();
    let dm = Dm::default();
    let sha = w.origin.head();
    let clones: Vec<_> = (0..N).map(|i| w.clone(&format!("job{i}"))).collect();
    let finished: Vec<String> = (0..N).map(|i| rfc(at(1, 0, i as i64))).collect();
    let ids: Vec<String> = (0..N).map(|i| format!("job-{i}")).collect();
    let running: Vec<_> = clones
        .iter()
        .enumerate()
        .map(|(i, (_, dir))| {
            dm.spawn_in(
                dir,
                &[
                    "--store",
                    "git",
                    "deploy",
                    "--service",
                    "api",
                    "--id",
                    &ids[i],
                    "--sha",
                    &sha,
                    "--finished-at",
                    &finished[i],
                ],
            )
        })
        .collect();
    for r in running {
        let run = r.wait();
        run.assert_ok();
        assert!(
            !run.stderr.contains("not pushed"),
            "pushed, not spooled: {run:#?}"
        );
    }
    // Every tip descends from the one before: no merge, no rewrite.
    let history = w.remote_git(&["rev-list", "--parents", "refs/dorameter/events"]);
    assert_eq!(history.lines().count(), N, "{history}");
    assert!(
        history.lines().all(|l| l.split(' ').count() <= 2),
        "linear: {history}"
    );
    let files = w.remote_git(&["ls-tree", "-r", "--name-only", "refs/dorameter/events"]);
    assert_eq!(files.lines().count(), N, "each event once: {files}");
    let (_f, fresh) = w.clone("fresh");
    assert_deployments(&dm, &fresh, N);
}

#[test]
fn a_second_read_loads_only_what_is_new() {
    let w = World::new();
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    let (_b, b) = w.clone("b");
    let sha = w.origin.head();
    deploy(&dm, &a, "d1", &sha, at(0, 1, 0)).assert_ok();
    assert_deployments(&dm, &b, 1);
    let cache = std::fs::read_dir(b.join(".dorameter"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tip"))
        .expect("the cache records the tip it holds");
    let first = std::fs::read_to_string(&cache).unwrap();
    deploy(&dm, &a, "d2", &sha, at(0, 2, 0)).assert_ok();
    assert_deployments(&dm, &b, 2);
    let second = std::fs::read_to_string(&cache).unwrap();
    assert_ne!(first, second);
    let tip = w.remote_git(&["rev-parse", "refs/dorameter/events"]);
    assert_eq!(second.trim(), tip, "the cache holds the remote's tip");
    // The cache is not part of the work tree's changes.
    let status = w.origin.git_in(&b, &["status", "--porcelain"]);
    assert_eq!(status, "", "{status}");
}

/// A file on the ref that is no event (edited by hand) names itself and
/// how to repair the ref; a commit that removes it repairs every clone.
#[test]
fn a_damaged_file_on_the_ref_names_itself_and_the_repair() {
    let w = World::new();
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    let sha = w.origin.head();
    deploy(&dm, &a, "d1", &sha, at(0, 1, 0)).assert_ok();
    // Someone commits a truncated file onto the ref, as the docs' repair
    // would (a worktree on the fetched tip).
    let edit = a.parent().unwrap().join("edit");
    let edit_s = edit.display().to_string();
    w.origin
        .git_in(&a, &["fetch", "-q", "origin", "refs/dorameter/events"]);
    w.origin.git_in(
        &a,
        &["worktree", "add", "-q", "--detach", &edit_s, "FETCH_HEAD"],
    );
    std::fs::write(
        edit.join("deployments-2026-03/broken.json"),
        "{\"id\": \"br",
    )
    .unwrap();
    w.origin.git(&["-C", &edit_s, "add", "-A"], BASE);
    w.origin
        .git(&["-C", &edit_s, "commit", "-q", "-m", "by hand"], BASE);
    w.origin.git(
        &[
            "-C",
            &edit_s,
            "push",
            "-q",
            "origin",
            "HEAD:refs/dorameter/events",
        ],
        BASE,
    );
    let (_b, b) = w.clone("b");
    let run = dm.run_in(&b, &["--store", "git", "report", "--service", "api"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("deployments-2026-03/broken.json")
            && run.stderr.contains("fix or remove")
            && run.stderr.contains("refs/dorameter/events")
            && !run.stderr.contains("start a new store"),
        "{run:#?}"
    );
    // The repair: a commit that removes it.
    w.origin.git(
        &["-C", &edit_s, "rm", "-q", "deployments-2026-03/broken.json"],
        BASE,
    );
    w.origin.git(
        &["-C", &edit_s, "commit", "-q", "-m", "remove a broken event"],
        BASE,
    );
    w.origin.git(
        &[
            "-C",
            &edit_s,
            "push",
            "-q",
            "origin",
            "HEAD:refs/dorameter/events",
        ],
        BASE,
    );
    let (_c, c) = w.clone("c");
    assert_deployments(&dm, &c, 1);
}

#[test]
fn bad_remotes_are_clear_errors() {
    let w = World::new();
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    let run = dm.run_in(&a, &["--store", "git:nosuch", "report"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("nosuch"), "{run:#?}");
    assert!(
        run.stderr.contains("git remote add") && !run.stderr.contains("sqlite:"),
        "the hint is about the remote: {run:#?}"
    );

    let secret = "https://user:s3cr3t-token@127.0.0.1:9/acme/api.git";
    let store = format!("git:{secret}");
    let run = dm.run_in(&a, &["--store", &store, "report"]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(
        !run.stderr.contains("s3cr3t") && !run.stdout.contains("s3cr3t"),
        "{run:#?}"
    );

    let run = dm.run_in(&a, &["--store", "git#heads/x", "report"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("full ref name"), "{run:#?}");
}

#[test]
fn test_runs_on_the_ref_give_every_clone_the_flaky_tests() {
    let w = World::new();
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    // pytest with reruns: the same test twice, failed then passed.
    std::fs::write(
        a.join("report.xml"),
        r#"<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.test_pay" name="test_refund"><failure message="timeout">boom</failure></testcase>
<testcase classname="tests.test_pay" name="test_refund"/>
<testcase classname="tests.test_pay" name="test_charge"/>
</testsuite></testsuites>"#,
    )
    .unwrap();
    let run = dm.run_in(
        &a,
        &[
            "--store",
            "git",
            "junit",
            "--service",
            "api",
            "--run-id",
            "r1",
            "report.xml",
        ],
    );
    let out = run.json();
    assert_eq!(
        (&out["tests"], &out["runs"]),
        (&2.into(), &3.into()),
        "{out}"
    );
    let files = w.remote_git(&["ls-tree", "-r", "--name-only", "refs/dorameter/events"]);
    assert!(files.starts_with("test-runs-"), "{files}");

    // Another job, an hour later, in a fresh clone.
    let later = Dm::new(dm.now + HOUR);
    let (_b, b) = w.clone("b");
    let found = later
        .run_in(&b, &["--store", "git", "flaky", "--service", "api"])
        .json();
    let tests = found["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "{found}");
    assert_eq!(tests[0]["name"], "test_refund");
    assert_eq!(tests[0]["evidence"][0], "retry", "{found}");
    // The writer's clone agrees with the fresh one.
    let mine = later
        .run_in(&a, &["--store", "git", "flaky", "--service", "api"])
        .json();
    assert_eq!(mine, found);
}

/// A free port outside the ephemeral range, for a server a test stops and
/// starts again: no server on port 0 (another test's) can take it while it
/// is down, and each call of this process gets a block of its own.
fn spare_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let block =
        20000 + (std::process::id() % 50) as u16 * 200 + NEXT.fetch_add(20, Ordering::Relaxed);
    (block..block + 20)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}

/// `fixtures/git/http-server.py` serving the bare remote's directory.
pub(crate) struct HttpRemote {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl HttpRemote {
    pub(crate) fn start(root: &Path, user: &str, password: &str) -> HttpRemote {
        HttpRemote::start_on(root, user, password, 0)
    }

    /// On `port` (0: a free one).
    fn start_on(root: &Path, user: &str, password: &str, port: u16) -> HttpRemote {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/git/http-server.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(root)
            .args([user, password, &port.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the git HTTP stand-in (python3)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        HttpRemote { child, port }
    }

    fn url(&self, user: &str, password: &str, repo: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for HttpRemote {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn smart_http_with_basic_auth_and_a_wrong_password() {
    let w = World::new();
    w.remote_git(&["config", "http.receivepack", "true"]);
    let root = w.remote.parent().unwrap();
    let server = HttpRemote::start(root, "ci", "s3cret-pw");
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    let good = server.url("ci", "s3cret-pw", "remote.git");
    w.origin.git_in(&a, &["remote", "set-url", "origin", &good]);
    let sha = w.origin.head();
    let run = deploy(&dm, &a, "d1", &sha, at(0, 1, 0));
    run.assert_ok();
    assert!(!run.stderr.contains("s3cret"), "{run:#?}");
    assert_eq!(w.commits(), "1");

    // The password is wrong: the permission error, with the fix, no password.
    let bad = format!("git:{}", server.url("ci", "wrong-pw", "remote.git"));
    let finished = rfc(at(0, 2, 0));
    let run = dm.run_in(
        &a,
        &[
            "--store",
            &bad,
            "deploy",
            "--service",
            "api",
            "--id",
            "d2",
            "--sha",
            &sha,
            "--finished-at",
            &finished,
        ],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("access denied"), "{run:#?}");
    assert!(run.stderr.contains("credentials"), "{run:#?}");
    for secret in ["wrong-pw", "s3cret-pw"] {
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "{secret}: {run:#?}"
        );
    }
    assert_eq!(w.commits(), "1", "nothing written");

    // A reader over HTTP gets the writer's numbers.
    let (_b, b) = w.clone("b");
    w.origin.git_in(&b, &["remote", "set-url", "origin", &good]);
    assert_deployments(&dm, &b, 1);

    // Read access only (a fork's pull request): the comment reads the
    // history; a deployment is refused with the fix for each forge.
    w.remote_git(&["config", "http.receivepack", "false"]);
    let comment = ["--store", "git", "comment", "--dry-run", "--service", "api"];
    let reader = dm.run_in(&b, &comment);
    reader.assert_ok();
    let writer = dm.run_in(&a, &comment);
    writer.assert_ok();
    assert!(
        reader.stdout.contains("Deployment frequency"),
        "{reader:#?}"
    );
    assert_eq!(
        reader.stdout, writer.stdout,
        "the fork sees the writer's numbers"
    );
    let run = deploy(&dm, &b, "d3", &sha, at(0, 3, 0));
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("writing the event ref")
            && run.stderr.contains("contents: write")
            && run.stderr.contains("write_repository"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("s3cret-pw"), "{run:#?}");
    // The refused event is not left in the reader's cache either.
    assert_deployments(&dm, &b, 1);
}

#[test]
fn events_wait_in_the_spool_while_the_remote_is_away_and_land_once() {
    let w = World::new();
    w.remote_git(&["config", "http.receivepack", "true"]);
    let root = w.remote.parent().unwrap().to_path_buf();
    let port = spare_port();
    let server = HttpRemote::start_on(&root, "ci", "s3cret-pw", port);
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    let url = server.url("ci", "s3cret-pw", "remote.git");
    w.origin.git_in(&a, &["remote", "set-url", "origin", &url]);
    let sha = w.origin.head();
    deploy(&dm, &a, "d1", &sha, at(0, 1, 0)).assert_ok();
    let count = || w.commits();
    assert_eq!(count(), "1");

    // The remote goes away mid-run: deploys still succeed, with a warning.
    drop(server);
    let run = deploy(&dm, &a, "d2", &sha, at(0, 2, 0));
    run.assert_ok();
    assert!(
        run.stderr.contains("1 event not pushed") && run.stderr.contains("flush"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("s3cret"), "{run:#?}");
    let run = dm.run_in(
        &a,
        &[
            "--store",
            "git",
            "--strict",
            "deploy",
            "--service",
            "api",
            "--id",
            "d3",
            "--sha",
            &sha,
            "--finished-at",
            &rfc(at(0, 3, 0)),
        ],
    );
    assert_eq!(run.code, 5, "--strict: exit 5 while events wait {run:#?}");
    assert!(run.stderr.contains("2 events not pushed"), "{run:#?}");
    let spooled = spool_of(&a);
    assert!(spooled.join("deployments-2026-03/d2.json").is_file());
    assert_eq!(count(), "1", "nothing reached the remote");
    // Reads meanwhile see the spooled events, and say the copy may be old.
    let run = dm.run_in(
        &a,
        &[
            "--store",
            "git",
            "report",
            "--service",
            "api",
            "--since",
            &rfc(at(-1, 0, 0)),
            "--until",
            &rfc(at(5, 0, 0)),
        ],
    );
    run.assert_ok();
    assert_eq!(
        run.json()["metrics"]["deployment_frequency"]["deployments"],
        3,
        "{run:#?}"
    );
    assert!(run.stderr.contains("not pushed"), "{run:#?}");

    // It comes back: `flush` pushes both, once, in one commit. No --store:
    // the spool knows its store.
    let _server = HttpRemote::start_on(&root, "ci", "s3cret-pw", port);
    let run = dm.run_in(&a, &["flush", "--format", "json"]);
    run.assert_ok();
    let flushed = run.json();
    assert_eq!(flushed["stores"][0]["pushed"], 2, "{run:#?}");
    assert_eq!(flushed["stores"][0]["waiting"], 0, "{run:#?}");
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"));
    assert_eq!(count(), "2");
    assert!(!spooled.exists(), "the spool is empty");
    // A second flush has nothing to push; the ref does not move.
    let run = dm.run_in(&a, &["--store", "git", "flush", "--format", "json"]);
    run.assert_ok();
    assert_eq!(run.json()["stores"][0]["pushed"], 0);
    assert_eq!(count(), "2");
    let (_f, fresh) = w.clone("fresh");
    w.origin
        .git_in(&fresh, &["remote", "set-url", "origin", &url]);
    assert_deployments(&dm, &fresh, 3);
}

/// Two deployments of one environment recorded from the same stale view
/// (here: one spooled while its job could not reach the remote, the other
/// pushed meanwhile from another clone): the later one measured from the
/// deployment before both, yet every clone counts each commit once.
#[test]
fn a_deployment_recorded_from_a_stale_view_still_counts_each_commit_once() {
    let mut w = World::new();
    w.remote_git(&["config", "http.receivepack", "true"]);
    let root = w.remote.parent().unwrap().to_path_buf();
    let port = spare_port();
    let server = HttpRemote::start_on(&root, "ci", "pw", port);
    let dm = Dm::default();
    let base = w.origin.head();
    let (_a, a) = w.clone("a");
    deploy(&dm, &a, "w", &base, at(0, 1, 0)).assert_ok();
    let x = {
        w.commit_and_push("feat: x1", at(0, 2, 0));
        w.commit_and_push("feat: x2", at(0, 3, 0))
    };
    let y = w.commit_and_push("feat: y1", at(0, 4, 0));
    // Clone b reads the history over HTTP, then loses the remote.
    let (_b, b) = w.clone("b");
    let url = server.url("ci", "pw", "remote.git");
    w.origin.git_in(&b, &["remote", "set-url", "origin", &url]);
    report(&dm, &b);
    drop(server);
    let run = deploy(&dm, &b, "y", &y, at(0, 6, 0));
    run.assert_ok();
    assert!(run.stderr.contains("not pushed"), "{run:#?}");
    // Meanwhile clone a deploys x, earlier in time, straight to the remote.
    w.origin.git_in(&a, &["pull", "-q", "origin", "main"]);
    deploy(&dm, &a, "x", &x, at(0, 5, 0)).assert_ok();
    // b's flush re-applies y on top of x.
    let _server = HttpRemote::start_on(&root, "ci", "pw", port);
    dm.run_in(&b, &["flush"]).assert_ok();
    let y_file = w.remote_git(&["show", "refs/dorameter/events:deployments-2026-03/y.json"]);
    let y_file: Value = serde_json::from_str(&y_file).unwrap();
    assert_eq!(y_file["previous_sha"], base.as_str(), "y measured from w");
    assert_eq!(y_file["changes"].as_array().unwrap().len(), 3);
    for dir in [&a, &b] {
        let r = report(&dm, dir);
        let lead = &r["metrics"]["lead_time_for_changes"];
        assert_eq!(lead["changes"], 3, "x1, x2 at x; y1 at y: {r}");
    }
    let (_f, fresh) = w.clone("fresh");
    let r = report(&dm, &fresh);
    assert_eq!(r["metrics"]["lead_time_for_changes"]["changes"], 3, "{r}");
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], 3,
        "{r}"
    );
}

/// A push that reached the remote but whose answer was lost leaves its
/// events in the spool: pushing them again changes nothing.
#[test]
fn a_spooled_event_the_remote_already_has_is_not_doubled() {
    let w = World::new();
    let dm = Dm::default();
    let (_a, a) = w.clone("a");
    let sha = w.origin.head();
    deploy(&dm, &a, "d1", &sha, at(0, 1, 0)).assert_ok();
    let file = w.remote_git(&["show", "refs/dorameter/events:deployments-2026-03/d1.json"]);
    let spool = spool_of(&a);
    std::fs::create_dir_all(spool.join("deployments-2026-03")).unwrap();
    std::fs::write(
        spool.join("deployments-2026-03/d1.json"),
        format!("{file}\n"),
    )
    .unwrap();
    let run = dm.run_in(&a, &["--store", "git", "flush", "--format", "json"]);
    run.assert_ok();
    assert_eq!(run.json()["stores"][0]["pushed"], 1, "{run:#?}");
    assert_eq!(w.commits(), "1", "no second commit");
    assert_deployments(&dm, &a, 1);
}

#[test]
fn ci_with_the_default_sqlite_store_is_told_about_the_git_store() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let sha = repo.commit_at("feat: one", at(0, 0, 0));
    let repo_s = repo.path.display().to_string();
    let args = [
        "deploy",
        "--repo",
        &repo_s,
        "--service",
        "api",
        "--sha",
        &sha,
    ];
    let ci = |extra: &[(&str, &str)]| {
        let mut cmd = dm.raw_command(&args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Run::from_output(Vec::new(), cmd.output().unwrap())
    };
    let run = ci(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_RUN_ID", "1"),
        ("GITHUB_SHA", sha.as_str()),
    ]);
    run.assert_ok();
    assert!(
        run.stderr.contains("will not outlive this CI job") && run.stderr.contains("--store git"),
        "{run:#?}"
    );
    // Outside CI, or with a store chosen, nothing to say.
    let run = ci(&[]);
    run.assert_ok();
    assert!(!run.stderr.contains("outlive"), "{run:#?}");
    let store = format!("sqlite:{}", dm.store_path().display());
    let run = ci(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_RUN_ID", "2"),
        ("DORAMETER_STORE", store.as_str()),
    ]);
    run.assert_ok();
    assert!(!run.stderr.contains("outlive"), "{run:#?}");
}

/// `incident import`'s cursor is kept on the ref with the incidents: a
/// later job in a fresh clone reads on from where the first left off.
#[test]
fn the_import_cursor_travels_on_the_ref() {
    use crate::incident_import::{PD_TOKEN, PagerDuty, pd_incident};
    let w = World::new();
    let dm = Dm::default();
    let incidents = (1..=3)
        .map(|n| {
            pd_incident(
                n,
                NOW - 2 * DAY + n as i64 * HOUR,
                "PAPI001",
                "resolved",
                Some(NOW - DAY),
            )
        })
        .collect();
    let pd = PagerDuty::start(incidents, false);
    let import = |dir: &Path| {
        let out = dm
            .raw_command(&["--format", "json", "--store", "git"])
            .args([
                "incident",
                "import",
                "--from",
                "pagerduty",
                "--service",
                "api",
            ])
            .args(["--api-url", &pd.url()])
            .env("DORAMETER_PAGERDUTY_TOKEN", PD_TOKEN)
            .current_dir(dir)
            .output()
            .unwrap();
        Run::from_output(vec![], out).json()
    };
    let (_a, a) = w.clone("job-a");
    let first = import(&a);
    assert_eq!(first["new"], 3, "{first:#}");
    let files = w.remote_git(&["ls-tree", "-r", "--name-only", "refs/dorameter/events"]);
    assert!(files.lines().any(|f| f.starts_with("cursors/")), "{files}");
    let (_b, b) = w.clone("job-b");
    let before = pd.requests();
    let second = import(&b);
    assert_eq!(second["cursor_before"], first["cursor"], "{second:#}");
    assert_eq!(
        (second["new"].as_u64(), pd.requests() - before),
        (Some(0), 1)
    );
}
