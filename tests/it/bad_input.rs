//! Bad input is a usage error (exit 2) that names the flag to fix, never a
//! panic, and never changes the store.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::util::*;

/// A store holding one deployment of `api`, and the repo it came from.
fn world() -> (Dm, Repo) {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "good-1", &c1, at(0, 1, 0), &[]);
    repo.commit_at("feat: two", at(0, 2, 0));
    assert_eq!(dm.deployment_count("api"), 1);
    (dm, repo)
}

/// `deploy --service api --repo REPO ARGS...` in `dm`'s store.
fn deploy(dm: &Dm, repo: &Repo, args: &[&str]) -> Run {
    let repo_s = repo.path.display().to_string();
    let mut all = vec!["deploy", "--service", "api", "--repo", repo_s.as_str()];
    all.extend_from_slice(args);
    dm.run(&all)
}

#[track_caller]
fn assert_rejected(dm: &Dm, run: &Run, flag: &str) {
    run.assert_usage_error(flag);
    assert_eq!(
        dm.deployment_count("api"),
        1,
        "the store is unchanged after {:?}",
        run.args
    );
}

/// The report of `api` has no time to restore: no incident was stored.
#[track_caller]
fn assert_no_incident_stored(dm: &Dm) {
    let rep = dm.report("api", at(0, 0, 0), NOW, &[]);
    assert!(
        rep["metrics"]["time_to_restore"]["value"].is_null(),
        "no incident stored: {rep}"
    );
}

#[test]
fn unknown_sha_is_a_usage_error() {
    let (dm, repo) = world();
    let run = deploy(&dm, &repo, &["--sha", "deadbeef"]);
    assert_rejected(&dm, &run, "--sha");
}

#[test]
fn unknown_tag_is_a_usage_error() {
    let (dm, repo) = world();
    let run = deploy(&dm, &repo, &["--sha", "v9.9.9"]);
    assert_rejected(&dm, &run, "--sha");
    let run = deploy(&dm, &repo, &["--previous-sha", "v0.0.1"]);
    assert_rejected(&dm, &run, "--previous-sha");
}

#[test]
fn not_a_git_repository_is_a_usage_error() {
    let (dm, _repo) = world();
    let empty = tempfile::tempdir().expect("tempdir");
    let path = empty.path().display().to_string();
    let run = dm.run(&["deploy", "--service", "api", "--repo", &path]);
    assert_rejected(&dm, &run, "--repo");
}

#[test]
fn invalid_times_are_usage_errors() {
    let (dm, repo) = world();
    let run = deploy(&dm, &repo, &["--finished-at", "yesterday"]);
    assert_rejected(&dm, &run, "--finished-at");
    let run = deploy(&dm, &repo, &["--started-at", "2026-13-45T99:00:00Z"]);
    assert_rejected(&dm, &run, "--started-at");
    let run = dm.run(&[
        "incident",
        "open",
        "--id",
        "INC-bad",
        "--service",
        "api",
        "--started-at",
        "not-a-time",
    ]);
    assert_rejected(&dm, &run, "--started-at");
    assert_no_incident_stored(&dm);
}

#[test]
fn future_garbage_times_are_usage_errors() {
    let (dm, repo) = world();
    let run = deploy(&dm, &repo, &["--finished-at", "9999-01-01T00:00:00Z"]);
    assert_rejected(&dm, &run, "--finished-at");
    // Unix milliseconds instead of seconds.
    let millis = (NOW * 1000).to_string();
    let run = deploy(&dm, &repo, &["--finished-at", &millis]);
    assert_rejected(&dm, &run, "--finished-at");
    // More than 24h after now.
    let run = deploy(&dm, &repo, &["--finished-at", &rfc(NOW + 25 * HOUR)]);
    assert_rejected(&dm, &run, "--finished-at");
    // Within 24h of now is accepted (clock skew between runners).
    let d = deploy(&dm, &repo, &["--finished-at", &rfc(NOW + HOUR)]).json();
    assert_eq!(d["recorded"], true);
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let (dm, repo) = world();
    let run = deploy(&dm, &repo, &["--status", "maybe"]);
    assert_rejected(&dm, &run, "--status");
    let run = deploy(&dm, &repo, &["--lead-time-from", "tomorrow"]);
    assert_rejected(&dm, &run, "--lead-time-from");
    let run = deploy(&dm, &repo, &["--max-commits", "many"]);
    assert_rejected(&dm, &run, "--max-commits");
    let run = dm.run(&["report", "--service", "api", "--window", "30x"]);
    assert_rejected(&dm, &run, "--window");
}

#[test]
fn unwritable_store_is_a_usage_error_naming_store() {
    let (dm, repo) = world();
    let run = deploy(&dm.with_store("sqlite:/proc/nope/x.db"), &repo, &[]);
    assert_rejected(&dm, &run, "--store");
    assert!(!std::path::Path::new("/proc/nope").exists());
}

#[test]
fn corrupted_store_is_a_usage_error_naming_store() {
    let (dm, repo) = world();
    let bad = dm.dir.path().join("corrupt.db");
    // Deterministic pseudo-random bytes (xorshift), not a SQLite header.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..16_384)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(&bad, &bytes).expect("write corrupt store");
    let corrupt = dm.with_store(&format!("sqlite:{}", bad.display()));
    let run = deploy(&corrupt, &repo, &[]);
    assert_rejected(&dm, &run, "--store");
    let run = corrupt.run(&["report", "--service", "api"]);
    run.assert_usage_error("--store");
    assert_eq!(
        std::fs::read(&bad).expect("read corrupt store"),
        bytes,
        "nothing was written to the corrupted file"
    );
}

#[test]
fn unknown_band_table_is_a_usage_error() {
    let (dm, _repo) = world();
    let run = dm.run(&["report", "--service", "api", "--bands", "nope"]);
    assert_rejected(&dm, &run, "--bands");
    for bands in ["classic", "dora-2021", "dora-2023", "dora-2024"] {
        let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &["--bands", bands]);
        assert_eq!(r["bands"], bands);
    }
}

#[test]
fn since_after_until_is_a_usage_error() {
    let (dm, _repo) = world();
    let run = dm.run(&[
        "report",
        "--service",
        "api",
        "--since",
        &rfc(at(2, 0, 0)),
        "--until",
        &rfc(at(1, 0, 0)),
    ]);
    assert_rejected(&dm, &run, "--since");
}

#[test]
fn inverted_intervals_are_usage_errors() {
    let (dm, repo) = world();
    let run = deploy(
        &dm,
        &repo,
        &[
            "--started-at",
            &rfc(at(0, 5, 0)),
            "--finished-at",
            &rfc(at(0, 4, 0)),
        ],
    );
    assert_rejected(&dm, &run, "--started-at");
    let run = dm.run(&[
        "incident",
        "open",
        "--id",
        "INC-neg",
        "--service",
        "api",
        "--started-at",
        &rfc(at(0, 5, 0)),
        "--resolved-at",
        &rfc(at(0, 4, 0)),
    ]);
    assert_rejected(&dm, &run, "--resolved-at");
    assert_no_incident_stored(&dm);
}

#[test]
fn bad_global_settings_are_usage_errors() {
    let (dm, repo) = world();
    let run = deploy(&dm, &repo, &["--id", ""]);
    assert_rejected(&dm, &run, "--id");
    let run = dm.run_raw(&[
        "--store",
        &dm.store_url(),
        "--format",
        "yaml",
        "report",
        "--service",
        "api",
    ]);
    assert_rejected(&dm, &run, "--format");
    let run = dm.run_raw(&["--store", "mysql://localhost/db", "report"]);
    assert_rejected(&dm, &run, "--store");
    let run = dm.run_with_env(
        &[("DORAMETER_NOW", "half past nine")],
        &["report", "--service", "api"],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("DORAMETER_NOW"), "{run:#?}");
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
}

/// A deployment is a rollback or a hotfix, not both (issue 10 item 17).
#[test]
fn rollback_and_hotfix_together_are_refused() {
    let (dm, repo) = world();
    let run = deploy(&dm, &repo, &["--rollback", "--hotfix"]);
    assert_rejected(&dm, &run, "--hotfix");
}

/// Detection cannot come before the impact started (issue 10 item 17).
#[test]
fn detected_before_started_is_refused() {
    let (dm, _repo) = world();
    let (started, detected) = (rfc(at(0, 3, 0)), rfc(at(0, 2, 0)));
    let run = dm.run(&[
        "incident",
        "open",
        "--id",
        "INC-1",
        "--service",
        "api",
        "--started-at",
        &started,
        "--detected-at",
        &detected,
    ]);
    run.assert_usage_error("--detected-at");
    assert_no_incident_stored(&dm);
}

/// Human output: correct plurals, times to the second (SPEC §4).
#[test]
fn table_output_counts_in_words_and_seconds() {
    let (dm, _repo) = world();
    let run = dm.run_raw(&[
        "--store",
        &dm.store_url(),
        "report",
        "--service",
        "api",
        "--window",
        "60d",
    ]);
    run.assert_ok();
    assert!(
        run.stdout.contains("1 deployment") && !run.stdout.contains("1 deployments"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("0 of 1 deployment failed")
            || run.stdout.contains("of 1 deployment failed"),
        "{}",
        run.stdout
    );
    // Without DORAMETER_NOW, "now" still prints to the second.
    let out = std::process::Command::new(BIN)
        .args([
            "--store",
            &dm.store_url(),
            "--format",
            "json",
            "report",
            "--service",
            "api",
        ])
        .env_remove("DORAMETER_NOW")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let end = v["window"]["end"].as_str().unwrap().to_string();
    assert!(end.ends_with('Z') && !end.contains('.'), "{end}");
}

/// `report` on a store nobody may write: the file write-protected in a
/// directory its reader cannot write either (a downloaded artifact, a
/// read-only mount), in WAL mode as dorameter leaves it. Run as `nobody`
/// (root writes anywhere), so only where the tests run as root and `su`
/// exists; said loudly otherwise.
#[test]
fn report_reads_a_store_nobody_may_write() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let su = Path::new("/bin/su").exists() || Path::new("/usr/bin/su").exists();
    if !is_root || !su {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: report_reads_a_store_nobody_may_write needs root and su to run as nobody"
        );
        return;
    }
    let (dm, _repo) = world();
    let want = dm.json(&["report", "--service", "api"]);
    // Outside the world's private temp dir: nobody must reach it.
    let dir = tempfile::Builder::new()
        .prefix("dm-ro-")
        .tempdir_in("/tmp")
        .unwrap();
    let set = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(dir.path(), 0o755);
    let bin = dir.path().join("dorameter");
    std::fs::copy(BIN, &bin).unwrap();
    set(&bin, 0o755);
    let store = dir.path().join("ro");
    std::fs::create_dir(&store).unwrap();
    let db = store.join("store.db");
    std::fs::copy(dm.store_path(), &db).unwrap();
    set(&db, 0o444);
    set(&store, 0o555);
    let script = format!(
        "DORAMETER_NOW={} {} --store sqlite:{} --format json report --service api",
        rfc(dm.now),
        bin.display(),
        db.display()
    );
    let out = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    set(&store, 0o755);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["metrics"], want["metrics"]);
    assert_eq!(
        std::fs::read_dir(&store).unwrap().count(),
        1,
        "nothing written beside the store"
    );
}
