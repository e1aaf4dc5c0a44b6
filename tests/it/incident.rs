//! `dorameter incident open|resolve`: upserts by id, attribution to
//! deployments (SPEC §3 rule 3) and what the report makes of them.

use serde_json::Value;

use crate::util::*;

const TOL: f64 = 0.01;

/// `incident open --id ID --service S --started-at T ARGS...`
#[track_caller]
fn open(dm: &Dm, id: &str, service: &str, started: i64, extra: &[&str]) -> Value {
    let started = rfc(started);
    let mut args = vec![
        "incident",
        "open",
        "--id",
        id,
        "--service",
        service,
        "--started-at",
        started.as_str(),
    ];
    args.extend_from_slice(extra);
    dm.json(&args)
}

#[track_caller]
fn resolve(dm: &Dm, id: &str, resolved: i64) -> Value {
    let resolved = rfc(resolved);
    dm.json(&[
        "incident",
        "resolve",
        "--id",
        id,
        "--resolved-at",
        &resolved,
    ])
}

/// A store with one repo and deployments `d1..dN` of `api`, one per hour
/// starting at day 0 01:00; returns the repo and the deployed shas.
fn deployed(dm: &Dm, n: i64) -> (Repo, Vec<String>) {
    let mut repo = Repo::new();
    let mut shas = vec![];
    for i in 1..=n {
        let sha = repo.commit_at(&format!("feat: change {i}"), at(0, i - 1, 30));
        dm.deploy_at(&repo.path, "api", &format!("d{i}"), &sha, at(0, i, 0), &[]);
        shas.push(sha);
    }
    (repo, shas)
}

#[test]
fn open_then_resolve_is_an_upsert_by_id() {
    let dm = Dm::default();
    let i = open(
        &dm,
        "INC-1",
        "api",
        at(1, 10, 0),
        &[
            "--detected-at",
            &rfc(at(1, 10, 5)),
            "--severity",
            "sev2",
            "--title",
            "checkout errors",
            "--cause",
            "deploy",
        ],
    );
    assert_eq!(i["id"], "INC-1");
    assert_eq!(i["services"], serde_json::json!(["api"]));
    assert_eq!(i["env"], "production");
    assert_eq!(ts(&i["started_at"]), at(1, 10, 0));
    assert_eq!(ts(&i["detected_at"]), at(1, 10, 5));
    assert!(i["resolved_at"].is_null(), "{i}");
    assert_eq!(i["severity"], "sev2");
    assert_eq!(i["title"], "checkout errors");
    assert_eq!(i["cause"], "deploy");

    let r = resolve(&dm, "INC-1", at(1, 10, 45));
    assert_eq!(r["id"], "INC-1");
    assert_eq!(ts(&r["resolved_at"]), at(1, 10, 45));
    assert_eq!(r["services"], serde_json::json!(["api"]), "kept: {r}");
    assert_eq!(ts(&r["started_at"]), at(1, 10, 0), "kept: {r}");
    assert_eq!(r["title"], "checkout errors", "kept: {r}");
    assert_eq!(r["cause"], "deploy", "kept: {r}");

    // Re-sending the open event does not duplicate it.
    open(&dm, "INC-1", "api", at(1, 10, 0), &["--cause", "deploy"]);
    // Resolving again moves resolved_at; still one incident.
    resolve(&dm, "INC-1", at(1, 11, 0));

    let rep = dm.report("api", at(0, 0, 0), at(30, 0, 0), &[]);
    let ttr = &rep["metrics"]["time_to_restore"];
    assert_eq!(ttr["incidents"], 1, "{rep}");
    assert_eq!(ttr["open_incidents"], 0, "{rep}");
    assert_close(&ttr["p50"], 3600.0, TOL, "ttr p50");
    assert_close(&ttr["value"], 3600.0, TOL, "ttr value");
    assert_eq!(ttr["unit"], "seconds");
    assert_eq!(ttr["level"], "high");

    // resolve defaults to now.
    open(&dm, "INC-2", "api", at(32, 0, 0), &[]);
    let r = dm.json(&["incident", "resolve", "--id", "INC-2"]);
    assert_eq!(ts(&r["resolved_at"]), NOW);
    assert_eq!(r["cause"], "unknown", "the default cause: {r}");

    // Open and resolve in one event.
    let i = open(
        &dm,
        "INC-3",
        "api",
        at(2, 0, 0),
        &["--resolved-at", &rfc(at(2, 0, 30))],
    );
    assert_eq!(ts(&i["resolved_at"]), at(2, 0, 30));
}

#[test]
fn resolving_an_unknown_incident_is_a_usage_error() {
    let dm = Dm::default();
    let run = dm.run(&["incident", "resolve", "--id", "INC-404"]);
    run.assert_no_panic();
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("error"), "{run:#?}");
    assert!(
        dm.has_no_events("api"),
        "the refused resolve stored nothing"
    );
}

#[test]
fn attribution_window_defaults_to_24h_and_is_configurable() {
    let dm = Dm::default();
    let (_repo, _) = deployed(&dm, 1);
    // d1 finished at day 0 01:00; the incident starts 25 hours later.
    let i = open(&dm, "INC-late", "api", at(1, 2, 0), &["--cause", "deploy"]);
    assert!(
        i["attributed_deployment"].is_null(),
        "25h after the last deployment is outside the default 24h: {i}"
    );
    let since = at(0, 0, 0);
    let until = at(3, 0, 0);
    let rep = dm.report("api", since, until, &[]);
    let cfr = &rep["metrics"]["change_failure_rate"];
    assert_eq!(cfr["failed_deployments"], 0, "{rep}");
    assert_close(&cfr["value"], 0.0, TOL, "cfr with 24h");

    let rep = dm.report("api", since, until, &["--attribution-window", "48h"]);
    let cfr = &rep["metrics"]["change_failure_rate"];
    assert_eq!(cfr["failed_deployments"], 1, "{rep}");
    assert_close(&cfr["value"], 100.0, TOL, "cfr with 48h");

    // The same flag on `incident open` widens the attribution it reports.
    let dm2 = Dm::default();
    let (_repo2, _) = deployed(&dm2, 1);
    let i = open(
        &dm2,
        "INC-late",
        "api",
        at(1, 2, 0),
        &["--cause", "deploy", "--attribution-window", "48h"],
    );
    assert_eq!(i["attributed_deployment"], "d1", "{i}");
}

#[test]
fn incident_within_the_window_is_attributed_to_the_latest_deployment() {
    let dm = Dm::default();
    let (_repo, _) = deployed(&dm, 3);
    // d3 finished at 03:00; the incident starts at 04:00.
    let i = open(&dm, "INC-a", "api", at(0, 4, 0), &["--cause", "unknown"]);
    assert_eq!(i["attributed_deployment"], "d3", "{i}");
    resolve(&dm, "INC-a", at(0, 5, 30));
    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &rep["metrics"];
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1);
    assert_eq!(m["change_failure_rate"]["total_deployments"], 3);
    assert_close(&m["change_failure_rate"]["value"], 33.33, TOL, "cfr");
    // d3 finished 03:00, recovered when the incident resolved at 05:30.
    let f = &m["failed_deployment_recovery_time"];
    assert_close(&f["p50"], 9000.0, TOL, "fdrt p50");
    assert_close(&f["mean"], 9000.0, TOL, "fdrt mean");
    // No rework: nothing was redeployed.
    assert_eq!(m["rework_rate"]["remediation_deployments"], 0);
}

#[test]
fn explicit_deployment_and_sha_links_override_the_window() {
    let dm = Dm::default();
    let (_repo, shas) = deployed(&dm, 3);
    let a = open(
        &dm,
        "INC-id",
        "api",
        at(0, 4, 0),
        &["--cause", "deploy", "--deployment", "d1"],
    );
    assert_eq!(a["deployment_id"], "d1");
    assert_eq!(a["attributed_deployment"], "d1", "{a}");
    let b = open(
        &dm,
        "INC-sha",
        "api",
        at(0, 4, 30),
        &["--cause", "unknown", "--sha", &shas[1]],
    );
    assert_eq!(b["deployment_sha"], shas[1].as_str());
    assert_eq!(b["attributed_deployment"], "d2", "{b}");

    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let cfr = &rep["metrics"]["change_failure_rate"];
    assert_eq!(
        cfr["failed_deployments"], 2,
        "d1 and d2 failed; d3 is not (explicit links win): {rep}"
    );
    assert_close(&cfr["value"], 66.67, TOL, "cfr");
}

#[test]
fn infra_incidents_never_count_toward_change_failure_rate() {
    let dm = Dm::default();
    let (_repo, _) = deployed(&dm, 2);
    open(
        &dm,
        "INC-infra-1",
        "api",
        at(0, 2, 30),
        &["--cause", "infra", "--resolved-at", &rfc(at(0, 3, 0))],
    );
    open(
        &dm,
        "INC-infra-2",
        "api",
        at(0, 3, 0),
        &[
            "--cause",
            "infra",
            "--deployment",
            "d1",
            "--resolved-at",
            &rfc(at(0, 5, 0)),
        ],
    );
    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &rep["metrics"];
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 0, "{rep}");
    assert_close(&m["change_failure_rate"]["value"], 0.0, TOL, "cfr");
    assert_eq!(m["change_failure_rate"]["level"], "elite");
    assert!(
        m["failed_deployment_recovery_time"]["value"].is_null(),
        "{rep}"
    );
    // They are still incidents: time to restore counts them.
    let ttr = &m["time_to_restore"];
    assert_eq!(ttr["incidents"], 2, "{rep}");
    assert_close(&ttr["p50"], 4500.0, TOL, "ttr p50");
    assert_close(&ttr["mean"], 4500.0, TOL, "ttr mean");
    // [1800, 7200]: p95 = 1800 + 0.95 × 5400.
    assert_close(&ttr["p95"], 6930.0, TOL, "ttr p95");
    assert_eq!(ttr["level"], "high");
}

#[test]
fn open_incidents_are_counted_apart_from_time_to_restore() {
    let dm = Dm::default();
    let (_repo, _) = deployed(&dm, 1);
    // d1 finished 01:00. An open incident attributed to it: d1 failed, but
    // with no remediation yet there is no recovery sample.
    open(&dm, "INC-open", "api", at(0, 2, 0), &["--cause", "unknown"]);
    // Two resolved incidents unattributed (more than 24h later).
    open(
        &dm,
        "INC-r1",
        "api",
        at(3, 0, 0),
        &["--cause", "infra", "--resolved-at", &rfc(at(3, 0, 30))],
    );
    open(
        &dm,
        "INC-r2",
        "api",
        at(4, 0, 0),
        &["--cause", "deploy", "--resolved-at", &rfc(at(4, 2, 0))],
    );
    let rep = dm.report("api", at(0, 0, 0), at(10, 0, 0), &[]);
    let m = &rep["metrics"];
    let ttr = &m["time_to_restore"];
    assert_eq!(ttr["open_incidents"], 1, "{rep}");
    let incidents = ttr["incidents"].as_u64();
    assert!(
        incidents == Some(2) || incidents == Some(3),
        "incidents counts the resolved ones (or all): {rep}"
    );
    assert_close(&ttr["p50"], 4500.0, TOL, "ttr p50 without the open one");
    assert_close(&ttr["mean"], 4500.0, TOL, "ttr mean without the open one");
    assert_close(&ttr["p95"], 6930.0, TOL, "ttr p95 without the open one");
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 1, "{rep}");
    assert!(
        m["failed_deployment_recovery_time"]["value"].is_null(),
        "an unremediated failed deployment gives no sample: {rep}"
    );
    assert!(
        m["failed_deployment_recovery_time"]["p50"].is_null(),
        "{rep}"
    );
}

#[test]
fn an_incident_can_name_several_services() {
    let dm = Dm::default();
    let i = open(
        &dm,
        "INC-multi",
        "api",
        at(0, 1, 0),
        &[
            "--service",
            "web",
            "--cause",
            "infra",
            "--resolved-at",
            &rfc(at(0, 1, 20)),
        ],
    );
    assert_eq!(i["services"], serde_json::json!(["api", "web"]), "{i}");
    for svc in ["api", "web"] {
        let rep = dm.report(svc, at(0, 0, 0), at(1, 0, 0), &[]);
        let ttr = &rep["metrics"]["time_to_restore"];
        assert_eq!(ttr["incidents"], 1, "{svc}: {rep}");
        assert_close(&ttr["p50"], 1200.0, TOL, "ttr p50");
        assert_eq!(ttr["level"], "elite");
    }
    // Nothing was recorded against a service the incident does not name.
    assert!(dm.has_no_events("worker"));
}

#[test]
fn failed_deploy_jobs_are_never_attributed() {
    let dm = Dm::default();
    let (repo, _) = deployed(&dm, 1);
    let mut repo = repo;
    let c2 = repo.commit_at("feat: two", at(0, 1, 30));
    dm.deploy_at(
        &repo.path,
        "api",
        "d2-failed",
        &c2,
        at(0, 2, 0),
        &["--status", "failure"],
    );
    let i = open(&dm, "INC-x", "api", at(0, 3, 0), &["--cause", "deploy"]);
    assert_eq!(i["attributed_deployment"], "d1", "{i}");
    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let cfr = &rep["metrics"]["change_failure_rate"];
    assert_eq!(cfr["failed_deployments"], 1, "{rep}");
    assert_eq!(cfr["total_deployments"], 1, "{rep}");
}

#[test]
fn incidents_of_another_env_do_not_count() {
    let dm = Dm::default();
    let (_repo, _) = deployed(&dm, 1);
    open(
        &dm,
        "INC-stg",
        "api",
        at(0, 2, 0),
        &[
            "--env",
            "staging",
            "--cause",
            "deploy",
            "--resolved-at",
            &rfc(at(0, 3, 0)),
        ],
    );
    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &rep["metrics"];
    assert_eq!(m["change_failure_rate"]["failed_deployments"], 0, "{rep}");
    assert!(m["time_to_restore"]["value"].is_null(), "{rep}");
    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &["--env", "staging"]);
    assert_eq!(rep["metrics"]["time_to_restore"]["incidents"], 1, "{rep}");
}

/// SPEC §3 rule 3: a deployment that finished at the very instant the impact
/// started did not cause it. `incident open` and `report` used to disagree
/// at this instant (`<=` against `<`); both now ask `metrics::may_have_caused`.
#[test]
fn an_incident_at_the_instant_a_deployment_finished_is_not_attributed_to_it() {
    let dm = Dm::default();
    let (_repo, _) = deployed(&dm, 2);
    // d2 finished at day 0 02:00; d1 at 01:00.
    let same_instant = open(&dm, "INC-AT", "api", at(0, 2, 0), &["--cause", "deploy"]);
    assert_eq!(
        same_instant["attributed_deployment"], "d1",
        "{same_instant}"
    );
    let after = open(&dm, "INC-AFTER", "api", at(0, 2, 1), &["--cause", "deploy"]);
    assert_eq!(after["attributed_deployment"], "d2", "{after}");
    let r = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let cfr = &r["metrics"]["change_failure_rate"];
    // Both deployments failed: d1 by INC-AT, d2 by INC-AFTER, as `incident open` said.
    assert_eq!(cfr["failed_deployments"], 2, "{r}");
    assert_eq!(cfr["total_deployments"], 2, "{r}");
}

/// Resolving an incident never moves it to another env: the config's or the
/// CI's env is a default for a new incident only (found by a walkthrough:
/// `resolve` under `env = "qa"` moved an incident opened with `--env prod2`
/// and dropped its attribution).
#[test]
fn resolving_keeps_the_recorded_env_whatever_the_config_or_ci_says() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let sha = repo.commit_at("feat: one", at(0, 0, 30));
    dm.deploy_at(
        &repo.path,
        "api",
        "d1",
        &sha,
        at(0, 1, 0),
        &["--env", "prod2"],
    );
    let opened = open(
        &dm,
        "INC-1",
        "api",
        at(0, 2, 0),
        &["--env", "prod2", "--cause", "deploy"],
    );
    assert_eq!(opened["attributed_deployment"], "d1", "{opened}");
    std::fs::write(
        dm.dir.path().join("cwd").join(".dorameter.toml"),
        "env = \"qa\"\n",
    )
    .unwrap();
    let resolved_at = rfc(at(0, 3, 0));
    let ci = [("GITLAB_CI", "true"), ("CI_ENVIRONMENT_NAME", "ops")];
    let r = dm
        .run_with_env(
            &ci,
            &[
                "incident",
                "resolve",
                "--id",
                "INC-1",
                "--resolved-at",
                &resolved_at,
            ],
        )
        .json();
    assert_eq!(
        (r["env"].as_str(), r["attributed_deployment"].as_str()),
        (Some("prod2"), Some("d1")),
        "{r}"
    );
    // A new incident takes the default env.
    let n = dm
        .run_with_env(
            &ci,
            &["incident", "open", "--id", "INC-2", "--service", "api"],
        )
        .json();
    assert_eq!(n["env"], "qa", "the config beats the CI: {n}");
}

#[test]
fn reopening_needs_reopen_and_a_changed_service_is_refused() {
    let dm = Dm::default();
    open(&dm, "INC-20", "api", at(0, 1, 0), &["--cause", "unknown"]);
    resolve(&dm, "INC-20", at(0, 2, 0));

    // `open` on a resolved incident keeps it resolved, and says how to reopen.
    let run = dm.run(&["incident", "open", "--id", "INC-20", "--title", "again"]);
    let v = run.json();
    assert_eq!(ts(&v["resolved_at"]), at(0, 2, 0), "{v}");
    assert_eq!(v["title"], "again");
    assert!(run.stderr.contains("--reopen"), "{run:#?}");

    // Another service: refused, and the incident stays where it was.
    let run = dm.run(&["incident", "open", "--id", "INC-20", "--service", "other"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("recorded for service 'api'") && run.stderr.contains("'other'"),
        "{run:#?}"
    );
    assert!(dm.has_no_events("other"), "nothing moved to 'other'");
    let r = dm.report("api", at(-1, 0, 0), at(1, 0, 0), &[]);
    assert_eq!(r["metrics"]["time_to_restore"]["incidents"], 1, "{r}");

    // --reopen opens it again; resolving closes it with the new time.
    let v = dm.json(&["incident", "open", "--id", "INC-20", "--reopen"]);
    assert!(v["resolved_at"].is_null(), "{v}");
    let r = dm.report("api", at(-1, 0, 0), at(1, 0, 0), &[]);
    assert_eq!(r["metrics"]["time_to_restore"]["open_incidents"], 1, "{r}");
    let v = resolve(&dm, "INC-20", at(0, 5, 0));
    assert_eq!(ts(&v["resolved_at"]), at(0, 5, 0), "{v}");
    let run = dm.run(&["incident", "resolve", "--id", "INC-20", "--reopen"]);
    assert_eq!(run.code, 2, "{run:#?}");
}
