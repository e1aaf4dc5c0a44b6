//! `dorameter demo`: the README's Quick start. A demo repository and its
//! recorded history, created where no git identity is configured (CI), that
//! `report` in the demo directory measures with every key metric set.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// `dorameter ARGS` in `cwd`: clean environment, HOME an empty directory,
/// no global or system git config, so no git identity at all.
fn dorameter(dm: &Dm, cwd: &Path, args: &[&str]) -> Run {
    let out = dm
        .raw_command(args)
        .current_dir(cwd)
        .output()
        .expect("run dorameter");
    Run::from_output(args.iter().map(|s| s.to_string()).collect(), out)
}

/// `git ARGS` in `repo`, read-only questions about the demo repository.
fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .current_dir(repo)
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[track_caller]
fn level(metric: &Value) -> &str {
    metric["level"]
        .as_str()
        .unwrap_or_else(|| panic!("no level: {metric}"))
}

#[test]
fn demo_reports_every_key_metric_with_no_git_identity() {
    let dm = Dm::new(NOW);
    let home = dm.dir.path().join("home");
    let run = dorameter(&dm, &dm.cwd(), &["demo"]);
    run.assert_ok();
    assert!(
        run.stdout.contains("cd dorameter-demo && dorameter report"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.is_empty(), "no warnings: {}", run.stderr);
    let dir = dm.cwd().join("dorameter-demo");
    // Nothing outside the demo directory was written.
    assert_eq!(names(&dm.cwd()), ["dorameter-demo"]);
    assert!(names(&home).is_empty(), "{:?}", names(&home));

    // The next command as printed: `report` in the demo directory finds
    // its store and its service without a flag.
    let report = dorameter(&dm, &dir, &["report", "--format", "json"]).json();
    assert_eq!(report["service"], "shop-api");
    let m = &report["metrics"];
    for key in [
        "deployment_frequency",
        "lead_time_for_changes",
        "change_failure_rate",
        "time_to_restore",
    ] {
        assert!(m[key]["value"].is_number(), "{key} is null: {report:#}");
    }
    // 5 tags backfilled and 9 deployments (a rollback among them) in 30 days.
    assert_eq!(m["deployment_frequency"]["deployments"], 14);
    assert_close(
        &m["deployment_frequency"]["value"],
        14.0 / 30.0,
        0.01,
        "frequency",
    );
    assert_eq!(level(&m["deployment_frequency"]), "high");
    // The rolled-back, the reverted and the hotfixed release failed.
    assert_close(
        &m["change_failure_rate"]["value"],
        round2(300.0 / 14.0),
        0.01,
        "CFR",
    );
    assert_eq!(level(&m["change_failure_rate"]), "high");
    // And which ones, with why: the audit trail of the same window.
    let failed = dorameter(
        &dm,
        &dir,
        &["deployments", "list", "--failed", "--format", "json"],
    )
    .json();
    assert_eq!(failed["total"], 3, "{failed:#}");
    let reasons: Vec<&str> = failed["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["causes"][0]["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["hotfix", "revert", "rollback"], "{failed:#}");
    // Restored in 35 and 55 minutes.
    assert_close(
        &m["time_to_restore"]["value"],
        45.0 * 60.0,
        1.0,
        "time to restore",
    );
    assert_eq!(level(&m["time_to_restore"]), "elite");
    // Changes wait hours, not days, for a release.
    let lead = num(&m["lead_time_for_changes"]["value"]);
    assert!((2.0 * 3600.0..12.0 * 3600.0).contains(&lead), "{lead}");
    assert_eq!(level(&m["lead_time_for_changes"]), "high");

    // A real repository: release tags, a merge, a revert, a clean checkout,
    // written by the demo's own people rather than a configured identity.
    let tags = git(&dir, &["tag", "-l", "v*"]);
    assert_eq!(tags.lines().count(), 13, "{tags}");
    assert!(tags.lines().any(|t| t == "v1.0.0") && tags.lines().any(|t| t == "v1.8.1"));
    assert_eq!(
        git(&dir, &["rev-list", "--merges", "--count", "HEAD"]).trim(),
        "1"
    );
    let log = git(&dir, &["log", "--format=%s"]);
    assert!(log.lines().any(|s| s.starts_with("Revert \"")), "{log}");
    assert!(log.lines().any(|s| s.starts_with("hotfix:")), "{log}");
    assert_eq!(
        git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "main"
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    let authors = git(&dir, &["log", "--format=%an <%ae>"]);
    assert!(
        authors.lines().all(|a| a.ends_with("@shop.example>")),
        "{authors}"
    );
}

#[test]
fn demo_refuses_a_directory_that_is_not_empty() {
    // Today's clock, as a user runs it: the history lands in the window.
    let dm = Dm::new(NOW);
    let cmd = |cwd: &Path, args: &[&str]| {
        let out = dm
            .raw_command(args)
            .env_remove("DORAMETER_NOW")
            .current_dir(cwd)
            .output()
            .expect("run dorameter");
        Run::from_output(args.iter().map(|s| s.to_string()).collect(), out)
    };
    let created = cmd(&dm.cwd(), &["--format", "json", "demo", "my demo"]).json();
    assert_eq!(created["dir"], "my demo");
    assert_eq!(created["next"][0], "cd 'my demo' && dorameter report");
    let dir = dm.cwd().join("my demo");
    let deployments = |dir: &Path| {
        cmd(dir, &["report", "--format", "json"]).json()["metrics"]["deployment_frequency"]
            ["deployments"]
            .clone()
    };
    assert_eq!(deployments(&dir), 14);
    let head = git(&dir, &["rev-parse", "HEAD"]);

    let again = cmd(&dm.cwd(), &["demo", "my demo"]);
    again.assert_usage_error("'my demo' is not empty");
    assert!(again.stdout.is_empty(), "{}", again.stdout);
    insta::assert_snapshot!(format!("exit {}\n{}", again.code, again.stderr));
    // Nothing changed.
    assert_eq!(deployments(&dir), 14);
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);

    std::fs::write(dm.cwd().join("a-file"), "x").unwrap();
    cmd(&dm.cwd(), &["demo", "a-file"])
        .assert_usage_error("'a-file' exists and is not a directory");
    cmd(&dm.cwd(), &["demo", "no/such/parent"]).assert_usage_error("'no/such/parent'");
    assert!(!dm.cwd().join("no").exists());
    // An empty directory is fine.
    std::fs::create_dir(dm.cwd().join("empty")).unwrap();
    cmd(&dm.cwd(), &["-q", "demo", "empty"]).assert_ok();
    assert_eq!(deployments(&dm.cwd().join("empty")), 14);
}
