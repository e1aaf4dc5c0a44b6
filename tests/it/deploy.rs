//! `dorameter deploy`: changes, lead times, kinds and remediations computed
//! from real git history (SPEC §3), and the store it writes.

use serde_json::Value;

use crate::util::*;

const TOL: f64 = 0.01;

#[track_caller]
fn assert_lead_time(d: &Value, changes: u64, p50: f64, p95: f64, mean: f64, min: f64, max: f64) {
    let lt = &d["lead_time"];
    assert!(lt.is_object(), "lead_time should be an object: {d}");
    assert_eq!(
        lt["changes"].as_u64(),
        Some(changes),
        "lead_time.changes: {d}"
    );
    assert_close(&lt["p50_seconds"], p50, TOL, "p50_seconds");
    assert_close(&lt["p95_seconds"], p95, TOL, "p95_seconds");
    assert_close(&lt["mean_seconds"], mean, TOL, "mean_seconds");
    assert_close(&lt["min_seconds"], min, TOL, "min_seconds");
    assert_close(&lt["max_seconds"], max, TOL, "max_seconds");
}

#[track_caller]
fn assert_no_samples(d: &Value, note: &str) {
    assert!(d["lead_time"].is_null(), "lead_time should be null: {d}");
    assert_eq!(d["lead_time_note"], note, "lead_time_note: {d}");
    assert_eq!(change_shas(d).len(), 0, "no changes expected: {d}");
}

/// A world and a repository whose first commit, `feat: one` at 00:00 on day
/// 0, was deployed to `api` in production as `id` at 01:00: the start most
/// scenarios share. Returns the world, the repository and that commit.
fn first_deployed(id: &str) -> (Dm, Repo, String) {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", id, &c1, at(0, 1, 0), &[]);
    (dm, repo, c1)
}

#[test]
fn linear_deploys_have_exact_lead_times() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let d1 = dm.deploy_at(&repo.path, "api", "lin-1", &c1, at(0, 1, 0), &[]);
    assert_eq!(d1["id"], "lin-1");
    assert_eq!(d1["service"], "api");
    assert_eq!(d1["env"], "production");
    assert_eq!(d1["sha"], c1.as_str());
    assert_eq!(d1["status"], "success");
    assert_eq!(d1["kind"], "planned");
    assert_eq!(d1["recorded"], true);
    assert_eq!(ts(&d1["finished_at"]), at(0, 1, 0));
    assert_eq!(ts(&d1["started_at"]), at(0, 0, 55));

    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    let c3 = repo.commit_at("feat: three", at(0, 3, 0));
    let c4 = repo.commit_at("feat: four", at(0, 5, 0));
    let d2 = dm.deploy_at(&repo.path, "api", "lin-2", &c4, at(0, 6, 0), &[]);
    assert_eq!(d2["previous_sha"], c1.as_str());
    assert_eq!(d2["kind"], "planned");
    assert!(d2["lead_time_note"].is_null(), "{d2}");
    assert_eq!(change_shas(&d2), set(&[&c2, &c3, &c4]));
    let lts = change_lead_times(&d2);
    assert_f(lts[&c2], 4.0 * 3600.0, TOL, "c2 lead time");
    assert_f(lts[&c3], 3.0 * 3600.0, TOL, "c3 lead time");
    assert_f(lts[&c4], 3600.0, TOL, "c4 lead time");
    // [3600, 10800, 14400]: p95 rank 1.9 → 10800 + 0.9 × 3600.
    assert_lead_time(&d2, 3, 10800.0, 14040.0, 9600.0, 3600.0, 14400.0);
    assert_eq!(d2["clamped_changes"], 0);
    assert_eq!(d2["truncated"], false);
    assert_eq!(remediates(&d2), vec![]);
    for c in d2["changes"].as_array().unwrap() {
        if c["sha"] == c2.as_str() {
            assert_eq!(ts(&c["authored_at"]), at(0, 2, 0));
            assert_eq!(ts(&c["committed_at"]), at(0, 2, 0));
        }
    }

    let c5 = repo.commit_at("feat: five", at(0, 7, 0));
    let d3 = dm.deploy_at(&repo.path, "api", "lin-3", &c5, at(0, 7, 30), &[]);
    assert_eq!(d3["previous_sha"], c4.as_str());
    assert_eq!(change_shas(&d3), set(&[&c5]));
    assert_lead_time(&d3, 1, 1800.0, 1800.0, 1800.0, 1800.0, 1800.0);

    // The report over that day: all four samples.
    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    assert_eq!(r["service"], "api");
    assert_eq!(r["env"], "production");
    assert_eq!(r["bands"], "classic");
    assert_eq!(ts(&r["window"]["start"]), at(0, 0, 0));
    assert_eq!(ts(&r["window"]["end"]), at(1, 0, 0));
    assert_close(&r["window"]["days"], 1.0, 1e-9, "window.days");
    let m = &r["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 3);
    assert_close(&m["deployment_frequency"]["value"], 3.0, 1e-3, "per_day");
    assert_eq!(m["deployment_frequency"]["unit"], "per_day");
    assert_eq!(m["deployment_frequency"]["level"], "elite");
    // [1800, 3600, 10800, 14400]
    let lt = &m["lead_time_for_changes"];
    assert_eq!(lt["changes"], 4);
    assert_eq!(lt["unit"], "seconds");
    assert_close(&lt["value"], 7200.0, TOL, "lead time value");
    assert_close(&lt["p50"], 7200.0, TOL, "lead time p50");
    assert_close(&lt["p95"], 13860.0, TOL, "lead time p95");
    assert_close(&lt["mean"], 7650.0, TOL, "lead time mean");
    assert_eq!(lt["level"], "high");
    let cfr = &m["change_failure_rate"];
    assert_eq!(cfr["failed_deployments"], 0);
    assert_eq!(cfr["total_deployments"], 3);
    assert_close(&cfr["value"], 0.0, TOL, "cfr");
    assert_eq!(cfr["level"], "elite");
    assert!(m["time_to_restore"]["value"].is_null(), "{r}");
    assert!(m["time_to_restore"]["level"].is_null(), "{r}");
    assert!(
        m["failed_deployment_recovery_time"]["value"].is_null(),
        "{r}"
    );
    assert_eq!(m["rework_rate"]["remediation_deployments"], 0);
    assert_eq!(m["rework_rate"]["total_deployments"], 3);
}

#[test]
fn merge_commits_are_not_changes_but_feature_commits_are() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: base", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "mrg-1", &c1, at(0, 0, 30), &[]);
    repo.checkout_branch("feature");
    let f1 = repo.commit_at("feat: branch one", at(0, 1, 0));
    let f2 = repo.commit_at("feat: branch two", at(0, 2, 0));
    repo.checkout("main");
    let m1 = repo.commit_at("feat: main work", at(0, 3, 0));
    let merge = repo.merge("feature", "Merge branch 'feature'", at(0, 4, 0));
    assert_eq!(repo.info(&merge).parents.len(), 2);
    let d = dm.deploy_at(&repo.path, "api", "mrg-2", &merge, at(0, 5, 0), &[]);
    assert_eq!(d["sha"], merge.as_str());
    assert_eq!(d["previous_sha"], c1.as_str());
    assert_eq!(change_shas(&d), set(&[&f1, &f2, &m1]));
    // [7200, 10800, 14400]
    assert_lead_time(&d, 3, 10800.0, 14040.0, 10800.0, 7200.0, 14400.0);
}

#[test]
fn rebased_branch_uses_author_or_committer_time_as_asked() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: base", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "reb-1", &c1, at(0, 0, 30), &[]);
    repo.checkout_branch("feature");
    repo.commit_at("feat: branch one", at(0, 1, 0));
    repo.commit_at("feat: branch two", at(0, 2, 0));
    repo.checkout("main");
    let m1 = repo.commit_at("feat: main work", at(0, 3, 0));
    repo.checkout("feature");
    repo.rebase("main", at(0, 4, 0));
    let f1 = repo.rev_parse("HEAD~1");
    let f2 = repo.head();
    let i1 = repo.info(&f1);
    assert_eq!((i1.author, i1.committer), (at(0, 1, 0), at(0, 4, 0)));
    repo.checkout("main");
    repo.git(&["merge", "-q", "--ff-only", "feature"], at(0, 4, 0));
    assert_eq!(repo.head(), f2);

    let finished = rfc(at(0, 5, 0));
    let base = [
        "--service",
        "api",
        "--sha",
        "main",
        "--finished-at",
        finished.as_str(),
    ];

    let mut author_args = base.to_vec();
    author_args.extend(["--lead-time-from", "author", "--dry-run"]);
    let a = dm.deploy(&repo.path, &author_args);
    assert_eq!(a["recorded"], false);
    assert_eq!(a["sha"], f2.as_str());
    assert_eq!(change_shas(&a), set(&[&f1, &f2, &m1]));
    let lts = change_lead_times(&a);
    assert_f(lts[&f1], 4.0 * 3600.0, TOL, "f1 author lead time");
    assert_f(lts[&f2], 3.0 * 3600.0, TOL, "f2 author lead time");
    assert_f(lts[&m1], 2.0 * 3600.0, TOL, "m1 author lead time");
    assert_lead_time(&a, 3, 10800.0, 14040.0, 10800.0, 7200.0, 14400.0);
    for c in a["changes"].as_array().unwrap() {
        if c["sha"] == f1.as_str() {
            assert_eq!(ts(&c["authored_at"]), at(0, 1, 0));
            assert_eq!(ts(&c["committed_at"]), at(0, 4, 0));
        }
    }

    // The default is author time.
    let default = dm.deploy(&repo.path, &[&base[..], &["--dry-run"]].concat());
    assert_lead_time(&default, 3, 10800.0, 14040.0, 10800.0, 7200.0, 14400.0);

    let mut committer_args = base.to_vec();
    committer_args.extend(["--lead-time-from", "committer", "--id", "reb-2"]);
    let c = dm.deploy(&repo.path, &committer_args);
    assert_eq!(c["recorded"], true);
    let lts = change_lead_times(&c);
    assert_f(lts[&f1], 3600.0, TOL, "f1 committer lead time");
    assert_f(lts[&f2], 3600.0, TOL, "f2 committer lead time");
    assert_f(lts[&m1], 7200.0, TOL, "m1 committer lead time");
    // [3600, 3600, 7200]: p95 rank 1.9 → 3600 + 0.9 × 3600.
    assert_lead_time(&c, 3, 3600.0, 6840.0, 4800.0, 3600.0, 7200.0);
}

#[test]
fn first_deployment_has_no_lead_time() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    repo.commit_at("feat: one", at(0, 0, 0));
    let c2 = repo.commit_at("feat: two", at(0, 1, 0));
    let d = dm.deploy_at(&repo.path, "api", "first-1", &c2, at(0, 2, 0), &[]);
    assert_no_samples(&d, "no_previous_deployment");
    assert!(d["previous_sha"].is_null(), "{d}");
    assert_eq!(d["kind"], "planned");
    assert_eq!(remediates(&d), vec![]);
    assert_eq!(d["recorded"], true);

    // Another service in the same store is also a first deployment.
    let w = dm.deploy_at(&repo.path, "web", "first-w", &c2, at(0, 3, 0), &[]);
    assert_no_samples(&w, "no_previous_deployment");

    // --previous-sha gives a first deployment its samples.
    let mut repo2 = Repo::new();
    let p1 = repo2.commit_at("feat: one", at(0, 0, 0));
    let p2 = repo2.commit_at("feat: two", at(0, 1, 0));
    let d = dm.deploy_at(
        &repo2.path,
        "worker",
        "first-p",
        &p2,
        at(0, 2, 0),
        &["--previous-sha", &p1],
    );
    assert_eq!(d["previous_sha"], p1.as_str());
    assert_eq!(change_shas(&d), set(&[&p2]));
    assert_lead_time(&d, 1, 3600.0, 3600.0, 3600.0, 3600.0, 3600.0);
}

#[test]
fn redeploying_the_same_sha_is_planned_with_no_changes() {
    let (dm, mut repo, _) = first_deployed("same-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "same-2", &c2, at(0, 3, 0), &[]);
    let d = dm.deploy_at(&repo.path, "api", "same-3", &c2, at(0, 4, 0), &[]);
    assert_no_samples(&d, "no_new_changes");
    assert_eq!(d["previous_sha"], c2.as_str());
    assert_eq!(d["kind"], "planned");
    assert_eq!(remediates(&d), vec![]);

    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &r["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 3);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 0);
    assert_eq!(m["rework_rate"]["remediation_deployments"], 0);
}

#[test]
fn rollback_to_an_earlier_sha_marks_every_later_deployment_failed() {
    let (dm, mut repo, c1) = first_deployed("rb-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "rb-2", &c2, at(0, 3, 0), &[]);
    let c3 = repo.commit_at("feat: three", at(0, 4, 0));
    dm.deploy_at(&repo.path, "api", "rb-3", &c3, at(0, 5, 0), &[]);
    let d = dm.deploy_at(&repo.path, "api", "rb-4", &c1, at(0, 6, 0), &[]);
    assert_eq!(d["kind"], "rollback");
    assert_eq!(d["previous_sha"], c3.as_str());
    assert_eq!(
        remediates(&d),
        pairs(&[("rb-2", "rollback"), ("rb-3", "rollback")])
    );
    assert!(
        d["lead_time"].is_null(),
        "a rollback ships no new changes: {d}"
    );
    assert_eq!(change_shas(&d).len(), 0);

    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &r["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 4);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 2);
    assert_eq!(m["change_failure_rate"]["total_deployments"], 4);
    assert_close(&m["change_failure_rate"]["value"], 50.0, TOL, "cfr");
    assert_eq!(m["change_failure_rate"]["level"], "low");
    assert_eq!(m["rework_rate"]["remediation_deployments"], 1);
    assert_close(&m["rework_rate"]["value"], 25.0, TOL, "rework");
    // Recovery: rb-2 finished 03:00, rb-3 05:00, both remediated at 06:00.
    let f = &m["failed_deployment_recovery_time"];
    assert_close(&f["p50"], 7200.0, TOL, "fdrt p50");
    assert_close(&f["value"], 7200.0, TOL, "fdrt value");
    assert_close(&f["mean"], 7200.0, TOL, "fdrt mean");
    // [3600, 10800]: p95 = 3600 + 0.95 × 7200.
    assert_close(&f["p95"], 10440.0, TOL, "fdrt p95");
    assert_eq!(f["failed_deployments"], 2);
}

#[test]
fn explicit_rollback_flag_marks_the_previous_deployment() {
    let (dm, mut repo, _) = first_deployed("xrb-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "xrb-2", &c2, at(0, 3, 0), &[]);
    let c3 = repo.commit_at("feat: undo two by hand", at(0, 4, 0));
    let d = dm.deploy_at(
        &repo.path,
        "api",
        "xrb-3",
        &c3,
        at(0, 5, 0),
        &["--rollback"],
    );
    assert_eq!(d["kind"], "rollback");
    let marked = remediates(&d);
    assert!(
        marked.contains(&("xrb-2".to_string(), "rollback".to_string())),
        "--rollback marks the immediately previous deployment: {d}"
    );
    assert!(
        !marked.iter().any(|(id, _)| id == "xrb-1"),
        "xrb-1 was not remediated: {d}"
    );
}

#[test]
fn revert_shipped_later_is_a_rollforward_of_the_deployment_that_shipped_it() {
    let (dm, mut repo, _) = first_deployed("rv-1");
    let bad = repo.commit_at("feat: risky cache", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "rv-2", &bad, at(0, 3, 0), &[]);
    let c3 = repo.commit_at("feat: three", at(0, 4, 0));
    dm.deploy_at(&repo.path, "api", "rv-3", &c3, at(0, 5, 0), &[]);
    let r = repo.revert(&bad, at(0, 6, 0));
    assert!(
        repo.info(&r)
            .message
            .contains(&format!("This reverts commit {bad}"))
    );
    let d = dm.deploy_at(&repo.path, "api", "rv-4", &r, at(0, 7, 0), &[]);
    assert_eq!(d["kind"], "rollforward");
    assert_eq!(remediates(&d), pairs(&[("rv-2", "revert")]));
    assert_eq!(change_shas(&d), set(&[&r]));

    // A commit and its revert shipped together remediate nothing.
    let c5 = repo.commit_at("feat: five", at(0, 8, 0));
    let r5 = repo.revert(&c5, at(0, 9, 0));
    let d5 = dm.deploy_at(&repo.path, "api", "rv-5", &r5, at(0, 10, 0), &[]);
    assert_eq!(d5["kind"], "planned");
    assert_eq!(remediates(&d5), vec![]);
    assert_eq!(change_shas(&d5), set(&[&c5, &r5]));

    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &rep["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 5);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1);
    assert_close(&m["change_failure_rate"]["value"], 20.0, TOL, "cfr");
    assert_eq!(m["rework_rate"]["remediation_deployments"], 1);
    // rv-2 finished 03:00, remediated 07:00.
    assert_close(
        &m["failed_deployment_recovery_time"]["p50"],
        4.0 * 3600.0,
        TOL,
        "fdrt",
    );
}

#[test]
fn hotfix_flag_and_hotfix_subject_are_rollforwards() {
    let (dm, mut repo, _) = first_deployed("hf-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "hf-2", &c2, at(0, 3, 0), &[]);
    let c3 = repo.commit_at("fix: null check", at(0, 4, 0));
    let d = dm.deploy_at(&repo.path, "api", "hf-3", &c3, at(0, 5, 0), &["--hotfix"]);
    assert_eq!(d["kind"], "rollforward");
    assert_eq!(remediates(&d), pairs(&[("hf-2", "hotfix")]));

    let c4 = repo.commit_at("HotFix: login redirect", at(0, 6, 0));
    let d = dm.deploy_at(&repo.path, "api", "hf-4", &c4, at(0, 7, 0), &[]);
    assert_eq!(d["kind"], "rollforward");
    assert_eq!(remediates(&d), pairs(&[("hf-3", "hotfix_subject")]));

    let c5 = repo.commit_at("feat: five", at(0, 8, 0));
    let d = dm.deploy_at(&repo.path, "api", "hf-5", &c5, at(0, 9, 0), &[]);
    assert_eq!(d["kind"], "planned");
    assert_eq!(remediates(&d), vec![]);

    // A hand-written revert (no "This reverts commit" line).
    let c6 = repo.commit_at("Revert \"feat: five\"", at(0, 10, 0));
    let d = dm.deploy_at(&repo.path, "api", "hf-6", &c6, at(0, 11, 0), &[]);
    assert_eq!(d["kind"], "rollforward");
    assert_eq!(remediates(&d), pairs(&[("hf-5", "revert_subject")]));

    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &r["metrics"];
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 3);
    assert_eq!(m["change_failure_rate"]["total_deployments"], 6);
    assert_close(&m["change_failure_rate"]["value"], 50.0, TOL, "cfr");
    assert_eq!(m["change_failure_rate"]["level"], "low");
    assert_eq!(m["rework_rate"]["remediation_deployments"], 3);
    assert_close(&m["rework_rate"]["value"], 50.0, TOL, "rework");
}

#[test]
fn shallow_clone_without_the_previous_sha_names_the_fix() {
    let dm = Dm::default();
    let mut origin = Repo::new();
    let c1 = origin.commit_at("feat: one", at(0, 0, 0));
    dm.deploy_at(&origin.path, "api", "sh-1", &c1, at(0, 1, 0), &[]);
    origin.commit_at("feat: two", at(0, 2, 0));
    let c3 = origin.commit_at("feat: three", at(0, 3, 0));
    let (_tmp, clone) = origin.clone_with(&["--depth", "1"], "shallow");

    let finished = rfc(at(0, 4, 0));
    let clone_s = clone.display().to_string();
    let run = dm.run(&[
        "deploy",
        "--repo",
        &clone_s,
        "--service",
        "api",
        "--id",
        "sh-2",
        "--finished-at",
        &finished,
    ]);
    let d = run.json();
    assert_eq!(d["sha"], c3.as_str());
    assert_eq!(d["previous_sha"], c1.as_str());
    assert_no_samples(&d, "previous_sha_not_found");
    assert_eq!(d["recorded"], true);
    assert!(
        run.stderr.contains("fetch-depth: 0"),
        "the warning names the GitHub fix: {run:#?}"
    );
    assert!(
        run.stderr.contains("GIT_DEPTH: 0"),
        "the warning names the GitLab fix: {run:#?}"
    );
    assert!(
        d["warnings"].as_array().is_some_and(|w| !w.is_empty()),
        "the JSON carries the warning too: {d}"
    );
}

#[test]
fn commit_dated_after_its_deployment_is_clamped_and_counted() {
    let (dm, mut repo, _) = first_deployed("clk-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    let c3 = repo.commit_at("feat: skewed clock", at(0, 10, 0));
    let d = dm.deploy_at(&repo.path, "api", "clk-2", &c3, at(0, 5, 0), &[]);
    assert_eq!(change_shas(&d), set(&[&c2, &c3]));
    let lts = change_lead_times(&d);
    assert_f(lts[&c3], 0.0, TOL, "clamped lead time");
    assert_f(lts[&c2], 10800.0, TOL, "c2 lead time");
    assert_eq!(d["clamped_changes"], 1);
    assert_lead_time(&d, 2, 5400.0, 10260.0, 5400.0, 0.0, 10800.0);
}

#[test]
fn failed_deploy_job_is_stored_but_never_counted_or_previous() {
    let (dm, mut repo, c1) = first_deployed("fj-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    let f = dm.deploy_at(
        &repo.path,
        "api",
        "fj-2",
        &c2,
        at(0, 3, 0),
        &["--status", "failure"],
    );
    assert_eq!(f["status"], "failure");
    assert_eq!(f["recorded"], true);

    // Redeploying the last good sha after a failed job is not a rollback.
    let again = dm.deploy_at(&repo.path, "api", "fj-3", &c1, at(0, 4, 0), &[]);
    assert_eq!(again["kind"], "planned", "{again}");
    assert_eq!(again["previous_sha"], c1.as_str());
    assert_no_samples(&again, "no_new_changes");
    assert_eq!(remediates(&again), vec![]);

    let c3 = repo.commit_at("feat: three", at(0, 5, 0));
    let d = dm.deploy_at(&repo.path, "api", "fj-4", &c3, at(0, 6, 0), &[]);
    assert_eq!(d["previous_sha"], c1.as_str());
    assert_eq!(d["kind"], "planned");
    assert_eq!(change_shas(&d), set(&[&c2, &c3]));
    // c2: 4h, c3: 1h
    assert_lead_time(&d, 2, 9000.0, 13860.0, 9000.0, 3600.0, 14400.0);

    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &r["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 3);
    assert_eq!(m["change_failure_rate"]["total_deployments"], 3);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 0);
    assert_eq!(m["lead_time_for_changes"]["changes"], 2);
}

#[test]
fn dry_run_stores_nothing() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let c2 = repo.commit_at("feat: two", at(0, 1, 0));
    let d = dm.deploy_at(&repo.path, "api", "dry-1", &c1, at(0, 2, 0), &["--dry-run"]);
    assert_eq!(d["recorded"], false);
    assert_eq!(d["id"], "dry-1");
    assert_eq!(d["sha"], c1.as_str());
    assert_eq!(d["kind"], "planned");
    assert_eq!(d["lead_time_note"], "no_previous_deployment");

    // Nothing at all was stored: the service is unknown to the store.
    assert!(dm.has_no_events("api"));

    // The next real deployment still is the first one.
    let d = dm.deploy_at(&repo.path, "api", "dry-2", &c2, at(0, 3, 0), &[]);
    assert_no_samples(&d, "no_previous_deployment");
    assert_eq!(dm.deployment_count("api"), 1);
}

#[test]
fn bare_repository_works_with_repo_flag() {
    let dm = Dm::default();
    let mut origin = Repo::new();
    let c1 = origin.commit_at("feat: one", at(0, 0, 0));
    let c2 = origin.commit_at("feat: two", at(0, 1, 0));
    let (_tmp, bare) = origin.clone_with(&["--bare"], "bare.git");
    dm.deploy_at(&bare, "api", "bare-1", &c1, at(0, 2, 0), &[]);
    // The default --sha is HEAD of --repo.
    let finished = rfc(at(0, 3, 0));
    let bare_s = bare.display().to_string();
    let d = dm.json(&[
        "deploy",
        "--repo",
        &bare_s,
        "--service",
        "api",
        "--id",
        "bare-2",
        "--finished-at",
        &finished,
    ]);
    assert_eq!(d["sha"], c2.as_str());
    assert_eq!(d["previous_sha"], c1.as_str());
    assert_eq!(change_shas(&d), set(&[&c2]));
    assert_lead_time(&d, 1, 7200.0, 7200.0, 7200.0, 7200.0, 7200.0);
}

#[test]
fn twenty_concurrent_deploys_against_one_store_are_all_recorded() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let shas: Vec<String> = (0..20)
        .map(|i| repo.commit_at(&format!("feat: change {i}"), at(0, 0, i)))
        .collect();
    // Create the store first so the race is about concurrent writers.
    let mut repo0 = Repo::new();
    let s0 = repo0.commit_at("feat: other", at(0, 0, 0));
    dm.deploy_at(&repo0.path, "other", "conc-other", &s0, at(0, 0, 30), &[]);

    let repo_s = repo.path.display().to_string();
    let children: Vec<_> = shas
        .iter()
        .enumerate()
        .map(|(i, sha)| {
            let id = format!("conc-{i:02}");
            let finished = rfc(at(0, 1, i as i64));
            dm.spawn(&[
                "deploy",
                "--repo",
                &repo_s,
                "--service",
                "api",
                "--id",
                &id,
                "--sha",
                sha,
                "--finished-at",
                &finished,
            ])
        })
        .collect();
    for child in children {
        // Exit 0, no panic, JSON on stdout.
        let v = child.wait().json();
        assert_eq!(v["recorded"], true, "{v}");
    }
    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], 20,
        "{r}"
    );
    assert_eq!(r["metrics"]["change_failure_rate"]["failed_deployments"], 0);
}

#[test]
fn rerunning_deploy_with_the_same_id_records_nothing_new() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let d = dm.deploy_at(&repo.path, "api", "idem-1", &c1, at(0, 1, 0), &[]);
    assert_eq!(d["recorded"], true);
    let again = dm.deploy_at(&repo.path, "api", "idem-1", &c1, at(0, 1, 0), &[]);
    assert_eq!(again["recorded"], false);
    assert_eq!(dm.deployment_count("api"), 1);
}

#[test]
fn max_commits_caps_the_walk_and_says_so() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c0 = repo.commit_at("feat: base", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "cap-1", &c0, at(0, 0, 30), &[]);
    let shas: Vec<String> = (1..=10)
        .map(|i| repo.commit_at(&format!("feat: change {i}"), at(0, 1, i)))
        .collect();
    let d = dm.deploy_at(
        &repo.path,
        "api",
        "cap-2",
        &shas[9],
        at(0, 2, 0),
        &["--max-commits", "3"],
    );
    assert_eq!(d["truncated"], true, "{d}");
    assert_eq!(
        change_shas(&d),
        set(&[&shas[7], &shas[8], &shas[9]]),
        "the newest commits are kept"
    );
    assert_eq!(d["lead_time"]["changes"], 3);

    let c11 = repo.commit_at("feat: eleven", at(0, 3, 0));
    let d = dm.deploy_at(&repo.path, "api", "cap-3", &c11, at(0, 4, 0), &[]);
    assert_eq!(d["truncated"], false, "{d}");
}

#[test]
fn previous_deployment_is_by_finished_at_not_insertion_order() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    let c3 = repo.commit_at("feat: three", at(0, 4, 0));
    dm.deploy_at(&repo.path, "api", "ord-1", &c1, at(0, 1, 0), &[]);
    dm.deploy_at(&repo.path, "api", "ord-3", &c3, at(0, 5, 0), &[]);
    // Recorded late (a slow CI job), finished between the two.
    let d = dm.deploy_at(&repo.path, "api", "ord-2", &c2, at(0, 3, 0), &[]);
    assert_eq!(d["previous_sha"], c1.as_str(), "{d}");
    assert_eq!(d["kind"], "planned", "{d}");
    assert_eq!(change_shas(&d), set(&[&c2]));
    assert_lead_time(&d, 1, 3600.0, 3600.0, 3600.0, 3600.0, 3600.0);
}

#[test]
fn environments_and_services_are_separate_histories() {
    let (dm, mut repo, c1) = first_deployed("env-p1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    let s = dm.deploy_at(
        &repo.path,
        "api",
        "env-s1",
        &c2,
        at(0, 3, 0),
        &["--env", "staging"],
    );
    assert_eq!(s["env"], "staging");
    assert_no_samples(&s, "no_previous_deployment");
    let w = dm.deploy_at(&repo.path, "web", "env-w1", &c2, at(0, 3, 30), &[]);
    assert_no_samples(&w, "no_previous_deployment");
    // c2 was deployed to staging and to web, never to api in production.
    let d = dm.deploy_at(&repo.path, "api", "env-p2", &c2, at(0, 4, 0), &[]);
    assert_eq!(d["previous_sha"], c1.as_str());
    assert_eq!(d["kind"], "planned");
    assert_eq!(change_shas(&d), set(&[&c2]));
    // A rollback of api in production marks nothing in staging or web.
    let d = dm.deploy_at(&repo.path, "api", "env-p3", &c1, at(0, 5, 0), &[]);
    assert_eq!(d["kind"], "rollback");
    assert_eq!(remediates(&d), pairs(&[("env-p2", "rollback")]));

    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &["--env", "staging"]);
    assert_eq!(r["env"], "staging");
    assert_eq!(r["metrics"]["deployment_frequency"]["deployments"], 1);
    assert_eq!(r["metrics"]["change_failure_rate"]["failed_deployments"], 0);
    let r = dm.report("web", at(0, 0, 0), at(1, 0, 0), &[]);
    assert_eq!(r["metrics"]["change_failure_rate"]["failed_deployments"], 0);
    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    assert_eq!(r["metrics"]["deployment_frequency"]["deployments"], 3);
    assert_eq!(r["metrics"]["change_failure_rate"]["failed_deployments"], 1);
}

#[test]
fn dry_run_of_a_rollback_marks_nothing() {
    let (dm, mut repo, c1) = first_deployed("dr-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "dr-2", &c2, at(0, 3, 0), &[]);
    let d = dm.deploy_at(&repo.path, "api", "dr-3", &c1, at(0, 4, 0), &["--dry-run"]);
    assert_eq!(d["recorded"], false);
    assert_eq!(d["kind"], "rollback");
    assert_eq!(remediates(&d), pairs(&[("dr-2", "rollback")]));
    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &r["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 2);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 0, "{r}");
    assert_eq!(m["rework_rate"]["remediation_deployments"], 0, "{r}");
}

#[test]
fn flags_env_vars_and_time_forms_are_interchangeable() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let c2 = repo.commit_at("feat: two", at(0, 1, 0));
    let repo_s = repo.path.display().to_string();
    let short = &c1[..10];
    // Global flags after the subcommand, unix-seconds times, a short sha.
    let finished = at(0, 2, 0).to_string();
    let run = dm.run_raw(&[
        "deploy",
        "--service",
        "api",
        "--repo",
        &repo_s,
        "--sha",
        short,
        "--finished-at",
        &finished,
        "--store",
        &dm.store_url(),
        "--format",
        "json",
    ]);
    let d = run.json();
    assert_eq!(d["sha"], c1.as_str(), "the full sha is stored");
    assert_eq!(ts(&d["finished_at"]), at(0, 2, 0));
    // The store and format from the environment.
    let finished = rfc(at(0, 3, 0));
    let args = [
        "deploy",
        "--service",
        "api",
        "--repo",
        &repo_s,
        "--sha",
        &c2,
        "--finished-at",
        &finished,
    ];
    let out = dm
        .raw_command(&args)
        .env("DORAMETER_STORE", dm.store_url())
        .env("DORAMETER_FORMAT", "json")
        .output()
        .expect("run");
    let d = Run::from_output(args.map(str::to_string).into(), out).json();
    assert_eq!(d["previous_sha"], c1.as_str(), "{d}");
    // --finished-at defaults to now.
    let c3 = repo.commit_at("feat: three", at(0, 4, 0));
    let now_dm = Dm::new(at(0, 5, 0));
    let d = now_dm.deploy(
        &repo.path,
        &["--service", "api", "--sha", &c3, "--previous-sha", &c2],
    );
    assert_eq!(ts(&d["finished_at"]), at(0, 5, 0));
    assert_lead_time(&d, 1, 3600.0, 3600.0, 3600.0, 3600.0, 3600.0);
    // --window uses now as its end; the window is [now - 2w, now).
    let r = now_dm.json(&["report", "--service", "api", "--window", "2w"]);
    assert_eq!(ts(&r["window"]["end"]), at(0, 5, 0));
    assert_eq!(ts(&r["window"]["start"]), at(0, 5, 0) - 14 * DAY);
    assert_close(&r["window"]["days"], 14.0, 1e-9, "days");
    assert_eq!(r["metrics"]["deployment_frequency"]["deployments"], 0);
    let later = Dm::new(at(0, 6, 0)).with_store(&now_dm.store_url());
    let r = later.json(&["report", "--service", "api", "--window", "2w"]);
    assert_eq!(ts(&r["window"]["end"]), at(0, 6, 0));
    assert_eq!(r["metrics"]["deployment_frequency"]["deployments"], 1);
}

#[test]
fn window_is_half_open_on_finished_at() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "hw-1", &c1, at(1, 0, 0), &[]);
    let c2 = repo.commit_at("feat: two", at(1, 1, 0));
    dm.deploy_at(&repo.path, "api", "hw-2", &c2, at(2, 0, 0), &[]);
    let r = dm.report("api", at(1, 0, 0), at(2, 0, 0), &[]);
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], 1,
        "{r}"
    );
    assert!(
        r["metrics"]["lead_time_for_changes"]["value"].is_null(),
        "hw-1 has no samples and hw-2 is outside: {r}"
    );
    let r = dm.report("api", at(1, 0, 1), at(2, 0, 1), &[]);
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], 1,
        "{r}"
    );
    assert_eq!(r["metrics"]["lead_time_for_changes"]["changes"], 1, "{r}");
    let r = dm.report("api", at(3, 0, 0), at(4, 0, 0), &[]);
    let df = &r["metrics"]["deployment_frequency"];
    assert_eq!(df["deployments"], 0, "{r}");
    assert!(
        r["metrics"]["change_failure_rate"]["value"].is_null(),
        "no deployments: no change failure rate: {r}"
    );
    assert!(
        r["metrics"]["change_failure_rate"]["level"].is_null(),
        "{r}"
    );
    assert!(r["metrics"]["rework_rate"]["value"].is_null(), "{r}");
}

#[test]
fn default_store_is_at_the_repository_root() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let sub = repo.path.join("services").join("api");
    std::fs::create_dir_all(&sub).expect("subdir");
    // No --store, no --repo: run from a subdirectory of the repository.
    let args = [
        "--format",
        "json",
        "deploy",
        "--service",
        "api",
        "--finished-at",
        "2026-03-01T03:00:00+02:00",
    ];
    let out = dm
        .raw_command(&args)
        .current_dir(&sub)
        .output()
        .expect("run");
    let d = Run::from_output(args.map(str::to_string).into(), out).json();
    assert_eq!(d["sha"], c1.as_str());
    assert_eq!(ts(&d["finished_at"]), at(0, 1, 0), "offsets are honoured");
    assert!(
        repo.path.join(".dorameter").join("dorameter.db").is_file(),
        "the default store lives at the repository root"
    );
    assert!(!sub.join(".dorameter").exists());
}

#[test]
fn the_same_id_sent_concurrently_is_recorded_once() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c0 = repo.commit_at("feat: zero", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "race-0", &c0, at(0, 0, 30), &[]);
    let c1 = repo.commit_at("feat: one", at(0, 1, 0));
    let repo_s = repo.path.display().to_string();
    let finished = rfc(at(0, 2, 0));
    let children: Vec<_> = (0..6)
        .map(|_| {
            dm.spawn(&[
                "deploy",
                "--repo",
                &repo_s,
                "--service",
                "api",
                "--id",
                "race-1",
                "--sha",
                &c1,
                "--finished-at",
                &finished,
            ])
        })
        .collect();
    let mut recorded = 0;
    for child in children {
        let v = child.wait().json();
        if v["recorded"] == true {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 1, "exactly one process records the event");
    assert_eq!(dm.deployment_count("api"), 2);
}

#[test]
fn rollback_marks_only_successful_deployments_since_the_last_one_of_that_sha() {
    let (dm, mut repo, c1) = first_deployed("rr-1");
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "rr-2", &c2, at(0, 3, 0), &[]);
    let d = dm.deploy_at(&repo.path, "api", "rr-3", &c1, at(0, 4, 0), &[]);
    assert_eq!(remediates(&d), pairs(&[("rr-2", "rollback")]));
    let c3 = repo.commit_at("feat: three", at(0, 5, 0));
    dm.deploy_at(&repo.path, "api", "rr-4", &c3, at(0, 6, 0), &[]);
    let c4 = repo.commit_at("feat: four", at(0, 7, 0));
    dm.deploy_at(
        &repo.path,
        "api",
        "rr-5-job-failed",
        &c4,
        at(0, 8, 0),
        &["--status", "failure"],
    );
    // c1's last deployment is rr-3: only rr-4 is marked (rr-2 already was,
    // and a failed job is not a deployment).
    let d = dm.deploy_at(&repo.path, "api", "rr-6", &c1, at(0, 9, 0), &[]);
    assert_eq!(d["kind"], "rollback");
    assert_eq!(remediates(&d), pairs(&[("rr-4", "rollback")]));

    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &r["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 5);
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 2);
    assert_eq!(m["rework_rate"]["remediation_deployments"], 2);
    // rr-2: 03:00 → 04:00, rr-4: 06:00 → 09:00.
    let f = &m["failed_deployment_recovery_time"];
    assert_close(&f["p50"], 7200.0, TOL, "fdrt p50");
    assert_close(&f["mean"], 7200.0, TOL, "fdrt mean");
}

#[test]
fn only_the_subject_line_names_a_hotfix_or_revert() {
    let (dm, mut repo, _) = first_deployed("subj-1");
    let c2 = repo.commit_at(
        "feat: retry payments\n\nThis is not a hotfix; it replaces the hotfix branch.",
        at(0, 2, 0),
    );
    let d = dm.deploy_at(&repo.path, "api", "subj-2", &c2, at(0, 3, 0), &[]);
    assert_eq!(d["kind"], "planned", "{d}");
    assert_eq!(remediates(&d), vec![]);
    let c3 = repo.commit_at("docs: explain when to Revert \"x\"", at(0, 4, 0));
    let d = dm.deploy_at(&repo.path, "api", "subj-3", &c3, at(0, 5, 0), &[]);
    assert_eq!(d["kind"], "planned", "{d}");
    assert_eq!(remediates(&d), vec![]);
    // SPEC §3: a subject that merely names the word is no hotfix.
    let c35 = repo.commit_at("docs: describe the hotfix branching process", at(0, 5, 30));
    let d = dm.deploy_at(&repo.path, "api", "subj-35", &c35, at(0, 5, 45), &[]);
    assert_eq!(d["kind"], "planned", "{d}");
    let c4 = repo.commit_at("HOTFIX(api): timeout", at(0, 6, 0));
    let d = dm.deploy_at(&repo.path, "api", "subj-4", &c4, at(0, 7, 0), &[]);
    assert_eq!(d["kind"], "rollforward", "{d}");
    assert_eq!(remediates(&d), pairs(&[("subj-35", "hotfix_subject")]));
    assert_eq!(
        d["remediates"][0]["commit"],
        c4.as_str(),
        "names the commit: {d}"
    );
}
