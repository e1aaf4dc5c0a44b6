//! `dorameter backfill --from-tags`: release tags become deployments in
//! tag-date order, with lead times against the previous tag.

use serde_json::Value;

use crate::util::*;

const TOL: f64 = 0.01;

struct Tagged {
    repo: Repo,
    c1: String,
    c2: String,
    c3: String,
    c4: String,
    c5: String,
}

/// Tags whose name order differs from their date order:
/// v1.8.0 (c1, 01:00) < v1.9.0 (c3, 05:00) < v1.10.0 (c4, 08:00, annotated)
/// < v1.11.0 (c5, lightweight: commit time 10:00), plus a non-matching tag.
fn tagged_repo() -> Tagged {
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    repo.tag("v1.8.0", at(0, 1, 0));
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    repo.lightweight_tag("nightly-2", &c2);
    let c3 = repo.commit_at("feat: three", at(0, 3, 0));
    repo.tag("v1.9.0", at(0, 5, 0));
    let c4 = repo.commit_at("feat: four", at(0, 6, 0));
    repo.tag("v1.10.0", at(0, 8, 0));
    let c5 = repo.commit("feat: five", at(0, 9, 0), at(0, 10, 0));
    repo.lightweight_tag("v1.11.0", &c5);
    Tagged {
        repo,
        c1,
        c2,
        c3,
        c4,
        c5,
    }
}

fn backfill(dm: &Dm, repo: &Repo, pattern: &str) -> crate::util::Run {
    let repo_s = repo.path.display().to_string();
    dm.run(&[
        "backfill",
        "--from-tags",
        pattern,
        "--service",
        "api",
        "--repo",
        &repo_s,
    ])
}

#[test]
fn tags_become_deployments_in_tag_date_order_with_lead_times() {
    let dm = Dm::default();
    let t = tagged_repo();
    let out = backfill(&dm, &t.repo, "v*").json();
    assert_eq!(out["tags"], 4, "{out}");
    assert_eq!(out["recorded"], 4, "{out}");
    assert_eq!(out["skipped"], 0, "{out}");
    let deps: &Vec<Value> = out["deployments"].as_array().expect("deployments");
    assert_eq!(deps.len(), 4, "{out}");

    let shas: Vec<&str> = deps.iter().map(|d| d["sha"].as_str().unwrap()).collect();
    assert_eq!(
        shas,
        vec![t.c1.as_str(), t.c3.as_str(), t.c4.as_str(), t.c5.as_str()],
        "tag-date order, not name order: {out}"
    );
    let finished: Vec<i64> = deps.iter().map(|d| ts(&d["finished_at"])).collect();
    assert_eq!(
        finished,
        vec![at(0, 1, 0), at(0, 5, 0), at(0, 8, 0), at(0, 10, 0)],
        "annotated tags use the tagger date, lightweight ones the commit date"
    );
    for d in deps {
        assert_eq!(d["service"], "api");
        assert_eq!(d["env"], "production");
        assert_eq!(d["status"], "success");
        assert_eq!(d["kind"], "planned");
    }

    assert!(deps[0]["lead_time"].is_null(), "{out}");
    assert_eq!(deps[0]["lead_time_note"], "no_previous_deployment");

    assert_eq!(deps[1]["previous_sha"], t.c1.as_str());
    assert_eq!(change_shas(&deps[1]), set(&[&t.c2, &t.c3]));
    let lts = change_lead_times(&deps[1]);
    assert_f(lts[&t.c2], 10800.0, TOL, "c2");
    assert_f(lts[&t.c3], 7200.0, TOL, "c3");

    assert_eq!(deps[2]["previous_sha"], t.c3.as_str());
    assert_eq!(change_shas(&deps[2]), set(&[&t.c4]));
    assert_f(change_lead_times(&deps[2])[&t.c4], 7200.0, TOL, "c4");

    assert_eq!(deps[3]["previous_sha"], t.c4.as_str());
    assert_eq!(change_shas(&deps[3]), set(&[&t.c5]));
    assert_f(
        change_lead_times(&deps[3])[&t.c5],
        3600.0,
        TOL,
        "c5 (author time)",
    );

    let rep = dm.report("api", at(0, 0, 0), at(1, 0, 0), &[]);
    let m = &rep["metrics"];
    assert_eq!(m["deployment_frequency"]["deployments"], 4);
    let lt = &m["lead_time_for_changes"];
    assert_eq!(lt["changes"], 4);
    // [3600, 7200, 7200, 10800]
    assert_close(&lt["p50"], 7200.0, TOL, "p50");
    assert_close(&lt["mean"], 7200.0, TOL, "mean");
    assert_close(&lt["p95"], 10260.0, TOL, "p95");
}

#[test]
fn running_backfill_twice_records_nothing_new() {
    let dm = Dm::default();
    let t = tagged_repo();
    let first = backfill(&dm, &t.repo, "v*").json();
    assert_eq!(first["recorded"], 4, "{first}");
    let second = backfill(&dm, &t.repo, "v*").json();
    assert_eq!(second["tags"], 4, "{second}");
    assert_eq!(second["recorded"], 0, "{second}");
    assert_eq!(second["skipped"], 4, "{second}");
    assert_eq!(dm.deployment_count("api"), 4);

    // A deploy after the backfill continues from the last tag.
    let mut repo = t.repo;
    let c6 = repo.commit_at("feat: six", at(0, 11, 0));
    let d = dm.deploy_at(&repo.path, "api", "after-backfill", &c6, at(0, 12, 0), &[]);
    assert_eq!(d["previous_sha"], t.c5.as_str());
    assert_eq!(change_shas(&d), set(&[&c6]));
}

#[test]
fn a_pattern_matching_no_tag_is_reported() {
    let dm = Dm::default();
    let t = tagged_repo();
    let run = backfill(&dm, &t.repo, "release-*");
    run.assert_no_panic();
    assert!(
        run.code == 4 || run.code == 2,
        "no matching tag: exit 4 (no input) or 2: {run:#?}"
    );
    assert!(
        run.stderr.contains("release-*"),
        "stderr names the pattern: {run:#?}"
    );
    assert_eq!(dm.deployment_count("api"), 0);
}
