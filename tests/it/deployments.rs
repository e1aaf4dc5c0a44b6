//! `deployments list|show`: the audit trail over the scripted month agrees
//! with `report`, with `serve`'s failure causes and with what `deploy`
//! printed when each deployment was recorded; the same JSON on SQLite, the
//! git store and PostgreSQL; bad input exits 2 or 4 naming the fix; user
//! text stays inert.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::report_month::{Month, SINCE, UNTIL, script};
use crate::serve::{READ, Serving};
use crate::util::*;

/// `deployments list --service SVC` over the month, every deployment.
fn list(dm: &Dm, svc: &str, extra: &[&str]) -> Value {
    let (since, until) = (rfc(SINCE), rfc(UNTIL));
    let mut args = vec![
        "deployments",
        "list",
        "--service",
        svc,
        "--since",
        &since,
        "--until",
        &until,
    ];
    if !extra.contains(&"--limit") {
        args.extend(["--limit", "1000"]);
    }
    args.extend_from_slice(extra);
    dm.json(&args)
}

fn rows(v: &Value) -> &Vec<Value> {
    v["deployments"].as_array().expect("deployments")
}

fn ids(v: &Value) -> BTreeSet<String> {
    rows(v)
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

fn show(dm: &Dm, id: &str) -> Value {
    dm.json(&["deployments", "show", id])
}

/// `show ID` as the table a person reads.
fn show_table(dm: &Dm, id: &str) -> String {
    let run = dm.run_raw(&["--store", &dm.store_url(), "deployments", "show", id]);
    run.assert_ok();
    run.stdout
}

#[track_caller]
fn has_cause(v: &Value, cause: &Value) {
    let causes = v["causes"].as_array().expect("causes");
    assert!(
        causes.contains(cause),
        "{} should have the cause {cause}: {causes:?}",
        v["id"]
    );
}

/// Each change `show` lists is one `deploy` printed when it recorded the
/// deployment, with the same times and lead time; the ones it no longer
/// lists went to an earlier deployment recorded later (each commit counts
/// once).
fn check_changes(m: &Month) {
    let mut listed_anywhere: BTreeMap<(String, String), String> = BTreeMap::new();
    for (id, printed) in &m.printed {
        let shown = show(&m.dm, id);
        let svc = shown["service"].as_str().unwrap().to_string();
        let printed_changes: BTreeMap<&str, &Value> = printed["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["sha"].as_str().unwrap(), c))
            .collect();
        let mut last = i64::MIN;
        for c in shown["changes"].as_array().unwrap() {
            let sha = c["sha"].as_str().unwrap();
            assert_eq!(
                Some(&c),
                printed_changes.get(sha),
                "{id}: change {sha} as deploy printed it"
            );
            let lead = c["lead_time_seconds"].as_i64().unwrap();
            assert!(lead >= last, "{id}: changes by lead time");
            last = lead;
            if shown["status"] == "success" {
                let before = listed_anywhere.insert((svc.clone(), sha.to_string()), id.clone());
                assert!(before.is_none(), "{sha} counted by {id} and {before:?}");
            }
        }
        let n = shown["changes"].as_array().unwrap().len();
        assert_eq!(shown["lead_time"].is_null(), n == 0, "{id}: {shown}");
        if n < printed_changes.len() {
            assert_eq!(id, "api-d26-b", "only the out-of-order one loses commits");
        }
        for key in ["sha", "previous_sha", "kind", "status", "lead_time_note"] {
            assert_eq!(shown[key], printed[key], "{id}: {key}");
        }
        assert_eq!(
            shown["remediates"].as_array().unwrap().len(),
            printed["remediates"].as_array().unwrap().len()
        );
    }
    // Nothing deploy counted is lost: what api-d26-b gave up, api-d26-a has.
    for (id, printed) in m.printed.iter().filter(|(_, p)| p["status"] == "success") {
        let svc = printed["service"].as_str().unwrap().to_string();
        for c in printed["changes"].as_array().unwrap() {
            let key = (svc.clone(), c["sha"].as_str().unwrap().to_string());
            assert!(listed_anywhere.contains_key(&key), "{id}: {key:?} lost");
        }
    }
    assert_eq!(listed_anywhere[&("api".into(), stolen(m))], "api-d26-a");
}

/// A commit api-d26-b printed and api-d26-a (recorded after it, finished
/// before it) took.
fn stolen(m: &Month) -> String {
    let a: BTreeSet<&str> = m.printed["api-d26-a"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha"].as_str().unwrap())
        .collect();
    m.printed["api-d26-b"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha"].as_str().unwrap())
        .find(|s| a.contains(s))
        .expect("api-d26-a took a commit of api-d26-b")
        .to_string()
}

#[test]
fn the_audit_trail_of_the_scripted_month_agrees_with_report_and_serve() {
    let m = script();
    let at_end = Dm::new(UNTIL).with_store(&m.dm.store_url());
    let srv = Serving::start(
        &at_end,
        &at_end.cwd(),
        &[("DORAMETER_API_TOKENS", &format!("read:{READ}"))],
        &["--store", &m.dm.store_url()],
    );
    let mut everything = 0;
    for svc in ["api", "web"] {
        let e = m.expected(svc);
        let r = m.dm.report(svc, SINCE, UNTIL, &[]);
        let cfr = &r["metrics"]["change_failure_rate"];
        let all = list(&m.dm, svc, &[]);
        assert_eq!(
            (&all["service"], &all["env"]),
            (&json!(svc), &json!("production"))
        );
        assert_eq!(all["more"], 0, "{all}");
        let listed = rows(&all);
        assert_eq!(all["total"], listed.len());
        everything += listed.len();
        let successes = listed.iter().filter(|d| d["status"] == "success").count();
        assert_eq!(successes as u64, cfr["total_deployments"].as_u64().unwrap());
        // The failed deploy jobs are counted apart: the rest are report's.
        assert_eq!(
            all["failed_jobs"].as_u64().unwrap(),
            (listed.len() - successes) as u64,
            "{all}"
        );
        assert_eq!(all["failed"], cfr["failed_deployments"]);
        let failed: Vec<&Value> = listed.iter().filter(|d| d["failed"] == true).collect();
        assert_eq!(
            failed.len() as u64,
            cfr["failed_deployments"].as_u64().unwrap()
        );
        let changes: u64 = listed
            .iter()
            .filter(|d| d["status"] == "success")
            .map(|d| d["changes"].as_u64().unwrap())
            .sum();
        assert_eq!(changes, r["metrics"]["lead_time_for_changes"]["changes"]);
        // Newest first.
        let times: Vec<i64> = listed.iter().map(|d| ts(&d["finished_at"])).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
        assert!(times.iter().all(|&t| (SINCE..UNTIL).contains(&t)));

        // --failed: exactly the month's failed deployments, each with why.
        let only = list(&m.dm, svc, &["--failed"]);
        let want: BTreeSet<String> = e.failed_ids.iter().cloned().collect();
        assert_eq!(ids(&only), want, "{svc}");
        assert_eq!(only["total"], cfr["failed_deployments"]);
        assert_eq!(only["failed_only"], true);

        // The same causes serve gives, and the same recovery.
        let api = srv
            .get(
                &format!("/api/dora/change-failure-rate?project={svc}&timeRange=last30days"),
                Some(READ),
            )
            .json();
        let served: BTreeMap<&str, &Value> = api["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["deployment_id"].as_str().unwrap(), f))
            .collect();
        assert_eq!(served.len(), rows(&only).len(), "{svc}");
        for d in rows(&only) {
            let id = d["id"].as_str().unwrap();
            assert!(d["failed"] == true && !d["causes"].as_array().unwrap().is_empty());
            assert_eq!(d["causes"], served[id]["causes"], "{id}");
            assert_eq!(d["recovered_at"], served[id]["resolved_at"], "{id}");
            let shown = show(&m.dm, id);
            assert_eq!(
                (&shown["failed"], &shown["causes"], &shown["recovered_at"]),
                (&d["failed"], &d["causes"], &d["recovered_at"]),
                "show {id} says what list says"
            );
        }
    }
    drop(srv);

    // Without --service: every service, the same deployments.
    let (since, until) = (rfc(SINCE), rfc(UNTIL));
    let both = m.dm.json(&[
        "deployments",
        "list",
        "--since",
        &since,
        "--until",
        &until,
        "--limit",
        "1000",
    ]);
    assert!(both["service"].is_null() && both["env"].is_null(), "{both}");
    assert_eq!(rows(&both).len(), everything);

    // A failed deploy job is listed, never counted as failed.
    let job = rows(&list(&m.dm, "api", &[]))
        .iter()
        .find(|d| d["id"] == "api-d15-failed-job")
        .cloned()
        .expect("the failed job is listed");
    assert_eq!(
        (&job["status"], &job["failed"]),
        (&json!("failure"), &json!(false))
    );
    assert!(
        show_table(&m.dm, "api-d15-failed-job").contains("the deploy job failed: it never counts")
    );

    // Rolled back: names the rollback deployment.
    let d29 = show(&m.dm, "api-d29");
    has_cause(
        &d29,
        &json!({"rule": "remediation", "deployment_id": "api-d30-rollback", "reason": "rollback"}),
    );
    assert_eq!(ts(&d29["recovered_at"]), at(30, 9, 0));
    let text = show_table(&m.dm, "api-d29");
    assert!(
        text.contains("rolled back by deployment api-d30-rollback"),
        "{text}"
    );
    assert!(
        text.contains("2026-03-31 09:00:00Z"),
        "times to the second: {text}"
    );
    let rollback = show(&m.dm, "api-d30-rollback");
    assert_eq!(rollback["kind"], "rollback");
    let marked: Vec<&Value> = rollback["remediates"].as_array().unwrap().iter().collect();
    assert!(
        marked
            .iter()
            .any(|r| r["deployment_id"] == "api-d29" && r["sha"] == m.printed["api-d29"]["sha"]),
        "{rollback}"
    );

    // Attributed by the window, linked explicitly, and after the window.
    has_cause(
        &show(&m.dm, "api-d09"),
        &json!({"rule": "incident", "incident_id": "api-1", "severity": null, "title": null}),
    );
    has_cause(
        &show(&m.dm, "api-d22"),
        &json!({"rule": "incident", "incident_id": "api-5", "severity": null, "title": null}),
    );
    has_cause(
        &show(&m.dm, "web-d28"),
        &json!({"rule": "incident", "incident_id": "web-6", "severity": null, "title": null}),
    );
    assert!(show_table(&m.dm, "api-d22").contains("incident api-5"));

    // A revert names the commit; the reverting deployment names its target.
    let revert = show(&m.dm, "api-d11-revert");
    let commit = revert["sha"].as_str().unwrap();
    has_cause(
        &show(&m.dm, "api-d10"),
        &json!({"rule": "remediation", "deployment_id": "api-d11-revert", "reason": "revert", "commit": commit}),
    );
    assert_eq!(revert["remediates"][0]["deployment_id"], "api-d10");
    assert_eq!(revert["remediates"][0]["commit"], commit);
    let text = show_table(&m.dm, "api-d10");
    assert!(
        text.contains(&format!(
            "reverted by commit {} in deployment api-d11-revert",
            &commit[..12]
        )),
        "{text}"
    );
    has_cause(
        &show(&m.dm, "api-d14"),
        &json!({"rule": "remediation", "deployment_id": "api-d14-hotfix", "reason": "hotfix"}),
    );

    check_changes(&m);

    // A cut list says how many more, in every human format and in JSON.
    let cut = list(&m.dm, "api", &["--limit", "3"]);
    assert_eq!(rows(&cut).len(), 3);
    let total = cut["total"].as_u64().unwrap();
    assert_eq!(cut["more"].as_u64().unwrap(), total - 3);
    for format in ["table", "markdown"] {
        let run = m.dm.run_raw(&[
            "--store",
            &m.dm.store_url(),
            "--format",
            format,
            "deployments",
            "list",
            "--service",
            "api",
            "--since",
            &since,
            "--until",
            &until,
            "--limit",
            "3",
        ]);
        run.assert_ok();
        assert!(
            run.stdout
                .contains(&format!("{} more not shown", total - 3)),
            "{format}: {}",
            run.stdout
        );
    }
    let run = m.dm.run_raw(&[
        "--store",
        &m.dm.store_url(),
        "--format",
        "csv",
        "deployments",
        "list",
        "--service",
        "api",
        "--since",
        &since,
        "--until",
        &until,
        "--limit",
        "3",
    ]);
    run.assert_ok();
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("service,env,finished_at,id,sha,"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains(&format!("{} more deployments not listed", total - 3)),
        "{}",
        run.stderr
    );

    same_json_on_every_store(&m);
}

/// The outputs compared across stores: every list, and `show` of the
/// deployments with each kind of cause and remediation.
fn outputs(dm: &Dm) -> Vec<Value> {
    let mut out = vec![list(dm, "api", &[]), list(dm, "web", &["--failed"])];
    for id in [
        "api-d29",
        "api-d30-rollback",
        "api-d10",
        "api-d11-revert",
        "api-d22",
        "web-d28",
        "api-d26-b",
    ] {
        out.push(show(dm, id));
    }
    out
}

fn same_json_on_every_store(m: &Month) {
    let want = outputs(&m.dm);
    // The git store, from the repository's checkout.
    let remote = tempfile::tempdir().unwrap();
    let bare = remote.path().join("origin.git");
    m.repo
        .git(&["init", "-q", "--bare", bare.to_str().unwrap()], UNTIL);
    m.repo
        .git(&["remote", "add", "origin", bare.to_str().unwrap()], UNTIL);
    m.dm.run_in(
        &m.repo.path,
        &["store", "copy", "--from", &m.dm.store_url(), "--to", "git"],
    )
    .assert_ok();
    let git = Dm::new(m.dm.now);
    let (since, until) = (rfc(SINCE), rfc(UNTIL));
    let run = git.run_in(
        &m.repo.path,
        &[
            "--store",
            "git",
            "deployments",
            "list",
            "--service",
            "api",
            "--since",
            &since,
            "--until",
            &until,
            "--limit",
            "1000",
        ],
    );
    assert_eq!(run.json(), want[0], "git store: list");
    let run = git.run_in(
        &m.repo.path,
        &["--store", "git", "deployments", "show", "api-d10"],
    );
    assert_eq!(run.json(), want[4], "git store: show");

    let Some(admin) = crate::postgres::server() else {
        return;
    };
    let db = crate::postgres::Db::new(&admin);
    m.dm.run_raw(&[
        "store",
        "copy",
        "--from",
        &m.dm.store_url(),
        "--to",
        &db.url,
    ])
    .assert_ok();
    let pg = m.dm.with_store(&db.url);
    for (got, want) in outputs(&pg).iter().zip(&want) {
        assert_eq!(got, want, "PostgreSQL");
    }
}

/// One deployment outside any repository and an incident whose title and
/// severity carry terminal escapes and Markdown.
fn hostile() -> Dm {
    let dm = Dm::default();
    let t = rfc(NOW - DAY);
    let run = dm.run(&[
        "deploy",
        "--service",
        "api",
        "--id",
        "dep|1",
        "--sha",
        "abc1234def0123456789abcdef0123456789abcd",
        "--finished-at",
        &t,
        "--version",
        "v1 <b>x</b>",
    ]);
    run.assert_ok();
    let started = rfc(NOW - DAY + HOUR);
    dm.json(&[
        "incident",
        "open",
        "--id",
        "INC-7",
        "--service",
        "api",
        "--cause",
        "deploy",
        "--started-at",
        &started,
        "--title",
        "boom | [x](javascript:1) \u{1b}[2J\nforged line",
        "--severity",
        "sev\u{202e}1",
    ]);
    dm
}

#[test]
fn user_text_stays_inert_in_every_format() {
    let dm = hostile();
    let store = dm.store_url();
    for args in [
        vec!["deployments", "list", "--service", "api"],
        vec!["deployments", "show", "dep|1"],
    ] {
        let mut table = vec!["--store", store.as_str()];
        table.extend(&args);
        let run = dm.run_raw(&table);
        run.assert_ok();
        assert!(run.stdout.contains("boom"), "{}", run.stdout);
        assert!(
            !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{202e}'),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains("\nforged line"), "{}", run.stdout);
        let mut md = vec!["--store", store.as_str(), "--format", "markdown"];
        md.extend(&args);
        let run = dm.run_raw(&md);
        run.assert_ok();
        assert!(
            !run.stdout.contains("](javascript") && run.stdout.contains("boom \\|"),
            "{}",
            run.stdout
        );
        assert!(
            !run.stdout.contains("dep|1") && !run.stdout.contains('\u{1b}'),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains("<b>"), "{}", run.stdout);
    }
    // JSON keeps the text as recorded.
    let v = dm.json(&["deployments", "show", "dep|1"]);
    assert_eq!(
        v["causes"][0]["title"],
        "boom | [x](javascript:1) \u{1b}[2J\nforged line"
    );
    assert_eq!(v["lead_time_note"], "no_previous_deployment");
}

#[test]
fn bad_input_exits_2_or_4_naming_the_fix() {
    let dm = hostile();
    // An id the store does not hold: the closest it does.
    let run = dm.run(&["deployments", "show", "dep|2"]);
    run.assert_no_panic();
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains("no deployment 'dep|2' in sqlite:")
            && run.stderr.contains("; closest known: dep|1"),
        "{run:#?}"
    );
    // An empty store says so.
    let empty = Dm::default();
    let run = empty.run(&["deployments", "show", "x"]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains("which holds no deployments"),
        "{run:#?}"
    );
    let run = empty.run(&["deployments", "list"]);
    assert_eq!(run.json()["total"], 0);

    // A service or env with no event: exit 4 with the known ones.
    let run = dm.run(&["deployments", "list", "--service", "apo"]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains("no events for service 'apo'") && run.stderr.contains("known: api"),
        "{run:#?}"
    );
    let run = dm.run(&["deployments", "list", "--service", "api", "--env", "prod"]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains("known envs of api: production"),
        "{run:#?}"
    );

    // Usage errors name the flag (or the variable it came from).
    for (args, env, said) in [
        (vec!["--limit", "0"], vec![], "--limit must be at least 1"),
        (
            vec!["--limit", "lots"],
            vec![],
            "invalid number 'lots' for --limit",
        ),
        (
            vec![],
            vec![("DORAMETER_DEPLOYMENTS_LIMIT", "0")],
            "--limit (from DORAMETER_DEPLOYMENTS_LIMIT) must be at least 1",
        ),
        (vec!["--window", "30"], vec![], "--window"),
        (
            vec![
                "--failed",
                "--window",
                "7d",
                "--since",
                "2026-03-01T00:00:00Z",
            ],
            vec![],
            "--window and --since",
        ),
    ] {
        let mut all = vec!["deployments", "list"];
        all.extend(&args);
        let run = dm.run_with_env(&env, &all);
        run.assert_usage_error(said);
    }
    let run = dm.run_with_env(
        &[("DORAMETER_DEPLOYMENTS_FAILED", "maybe")],
        &["deployments", "list"],
    );
    run.assert_usage_error("DORAMETER_DEPLOYMENTS_FAILED");
    let run = dm.run_with_env(
        &[("DORAMETER_DEPLOYMENTS_FAILED", "yes")],
        &["deployments", "list"],
    );
    assert_eq!(run.json()["failed_only"], true);

    // --format prometheus is refused; from DORAMETER_FORMAT it falls back.
    let store = dm.store_url();
    let run = dm.run_raw(&[
        "--store",
        &store,
        "--format",
        "prometheus",
        "deployments",
        "list",
    ]);
    run.assert_usage_error("--format prometheus is not available for deployments list");
    let run = dm.run_raw(&[
        "--store",
        &store,
        "--format",
        "csv",
        "deployments",
        "show",
        "dep|1",
    ]);
    run.assert_usage_error("--format csv is not available for deployments show");
    let out = dm
        .raw_command(&["--store", &store, "deployments", "show", "dep|1"])
        .env("DORAMETER_FORMAT", "prometheus")
        .output()
        .unwrap();
    let run = Run::from_output(vec![], out);
    run.assert_ok();
    assert!(run.stdout.starts_with("deployment "), "{}", run.stdout);
    // The id from DORAMETER_DEPLOYMENT_ID, as deploy takes it.
    let v = dm
        .raw_command(&["--store", &store, "--format", "json", "deployments", "show"])
        .env("DORAMETER_DEPLOYMENT_ID", "dep|1")
        .output()
        .unwrap();
    let run = Run::from_output(vec![], v);
    assert_eq!(run.json()["id"], "dep|1");
}
