//! Issue "numbers you can trust": the paths that gave wrong numbers without
//! a warning, each on a real git repository.

use crate::util::*;

/// A release history: `v1.0.0`, then five commits and `v1.1.0`, then three
/// and `v1.2.0`, all annotated tags dated an hour after their commit.
fn released() -> (Repo, Vec<String>) {
    let mut repo = Repo::new();
    let mut shas = vec![repo.commit_at("feat: base", at(0, 0, 0))];
    repo.tag("v1.0.0", at(0, 1, 0));
    for i in 0..5 {
        shas.push(repo.commit_at(&format!("feat: a{i}"), at(0, 2 + i, 0)));
    }
    repo.tag("v1.1.0", at(0, 8, 0));
    for i in 0..3 {
        shas.push(repo.commit_at(&format!("feat: b{i}"), at(1, i, 0)));
    }
    repo.tag("v1.2.0", at(1, 4, 0));
    (repo, shas)
}

#[test]
fn backfill_in_a_shallow_clone_records_no_wrong_lead_times() {
    let (origin, _) = released();
    // What a CI job does, and what our own hint used to suggest.
    let (_tmp, clone) = origin.clone_with(&["--depth", "1"], "ci");
    origin.git_in(&clone, &["fetch", "-q", "--tags", "--depth", "1"]);
    let dm = Dm::default();
    let clone_s = clone.display().to_string();
    let run = dm.run(&[
        "backfill",
        "--from-tags",
        "v*",
        "--service",
        "api",
        "--repo",
        &clone_s,
    ]);
    let out = run.json();
    assert_eq!(out["recorded"], 3, "{out}");
    let notes: Vec<&str> = out["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["lead_time_note"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        notes,
        [
            "no_previous_deployment",
            "shallow_history",
            "shallow_history"
        ],
        "{out}"
    );
    for d in out["deployments"].as_array().unwrap() {
        assert!(
            d["lead_time"].is_null(),
            "no sample across the boundary: {d}"
        );
    }
    // One warning for both tags, naming them and the fix.
    let warned: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("shallow"))
        .collect();
    assert_eq!(warned.len(), 1, "{run:#?}");
    assert!(
        warned[0].contains("2 tags (v1.1.0, v1.2.0)") && warned[0].contains("fetch-depth: 0"),
        "{run:#?}"
    );
    let r = dm.report("api", at(-1, 0, 0), at(2, 0, 0), &[]);
    let lt = &r["metrics"]["lead_time_for_changes"];
    assert_eq!(lt["changes"], 0, "{r}");
    assert!(lt["level"].is_null(), "no band from no data: {r}");
    assert_eq!(lt["deployments_without_history"], 2, "{r}");
    let table = dm.run_raw(&[
        "--store",
        &dm.store_url(),
        "report",
        "--service",
        "api",
        "--since",
        &rfc(at(-1, 0, 0)),
        "--until",
        &rfc(at(2, 0, 0)),
    ]);
    assert!(
        table
            .stdout
            .contains("2 of 3 deployments not counted (history missing"),
        "the table says the value leaves deployments out: {table:#?}"
    );

    // The same repository with full history: the true numbers (6 and 3
    // changes: v1.1.0 ships a0..a4, v1.2.0 ships b0..b2).
    let full = Dm::default();
    let origin_s = origin.path.display().to_string();
    let out = full.json(&[
        "backfill",
        "--from-tags",
        "v*",
        "--service",
        "api",
        "--repo",
        &origin_s,
    ]);
    let changes: Vec<u64> = out["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["changes"].as_array().unwrap().len() as u64)
        .collect();
    assert_eq!(changes, [0, 5, 3], "{out}");
}

#[test]
fn previous_sha_in_a_shallow_clone_is_shallow_history_not_a_short_count() {
    let (origin, shas) = released();
    // Depth 3 has b0..b2 only; v1.0.0 is fetched on its own at depth 1.
    let (_tmp, clone) = origin.clone_with(&["--depth", "3", "--no-tags"], "ci");
    origin.git_in(
        &clone,
        &["fetch", "-q", "--depth", "1", "origin", "tag", "v1.0.0"],
    );
    let dm = Dm::default();
    let clone_s = clone.display().to_string();
    let run = dm.run(&[
        "deploy",
        "--repo",
        &clone_s,
        "--service",
        "api",
        "--previous-sha",
        "v1.0.0",
        "--id",
        "d-1",
    ]);
    let d = run.json();
    assert_eq!(d["sha"], shas[8].as_str());
    assert_eq!(d["lead_time_note"], "shallow_history", "{d}");
    assert!(d["lead_time"].is_null() && d["changes"] == serde_json::json!([]));
    assert!(run.stderr.contains("GIT_DEPTH: 0"), "{run:#?}");

    // With history, the same tag gives the true count: a0..a4 and b0..b2.
    let d = dm.deploy(
        &origin.path,
        &[
            "--service",
            "full",
            "--previous-sha",
            "v1.0.0",
            "--id",
            "d-2",
            "--dry-run",
        ],
    );
    assert_eq!(d["lead_time"]["changes"], 8, "{d}");

    // A boundary the walk never reaches is no boundary: v1.1.0 fetched at
    // depth 1 is b0's parent, so a4..b2 is complete in this clone.
    origin.git_in(
        &clone,
        &["fetch", "-q", "--depth", "1", "origin", "tag", "v1.1.0"],
    );
    let d = dm.deploy(
        &clone,
        &[
            "--service",
            "other",
            "--previous-sha",
            "v1.1.0",
            "--id",
            "d-3",
            "--dry-run",
        ],
    );
    assert_eq!(d["lead_time"]["changes"], 3, "{d}");
}

#[test]
fn rollforward_subject_comes_from_the_config_and_can_be_turned_off() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let cwd = dm.cwd();
    let config = cwd.join(".dorameter.toml");
    std::fs::write(&config, "[classify]\nrollforward_subject = \"^URGENT\"\n").unwrap();
    dm.deploy_at(&repo.path, "api", "d1", &c1, at(0, 1, 0), &[]);
    let c2 = repo.commit_at("hotfix: the default pattern would fire", at(0, 2, 0));
    let d = dm.deploy_at(&repo.path, "api", "d2", &c2, at(0, 3, 0), &[]);
    assert_eq!(d["kind"], "planned", "the config replaces the default: {d}");
    let c3 = repo.commit_at("URGENT stop the bleeding", at(0, 4, 0));
    let d = dm.deploy_at(&repo.path, "api", "d3", &c3, at(0, 5, 0), &[]);
    assert_eq!(d["kind"], "rollforward", "{d}");
    assert_eq!(remediates(&d), pairs(&[("d2", "hotfix_subject")]));
    assert_eq!(d["remediates"][0]["commit"], c3.as_str());

    // An empty pattern turns subject matching off.
    std::fs::write(&config, "[classify]\nrollforward_subject = \"\"\n").unwrap();
    let c4 = repo.commit_at("URGENT again", at(0, 6, 0));
    let d = dm.deploy_at(&repo.path, "api", "d4", &c4, at(0, 7, 0), &[]);
    assert_eq!(d["kind"], "planned", "{d}");

    // A bad pattern is a configuration error naming the file and line.
    std::fs::write(
        &config,
        "service = \"api\"\n[classify]\nrollforward_subject = \"(unclosed\"\n",
    )
    .unwrap();
    let run = dm.run(&["deploy", "--repo", &repo.path.display().to_string()]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("line 3") && run.stderr.contains("rollforward_subject"),
        "{run:#?}"
    );
    std::fs::remove_file(&config).unwrap();
    assert_eq!(
        dm.deployment_count("api"),
        4,
        "nothing recorded by the bad run"
    );
}

#[test]
fn deploy_output_names_the_rule_and_commit_that_fired() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "d1", &c1, at(0, 1, 0), &[]);
    let c2 = repo.commit_at("feat: risky", at(0, 2, 0));
    dm.deploy_at(&repo.path, "api", "d2", &c2, at(0, 3, 0), &[]);
    let rev = repo.revert(&c2, at(0, 4, 0));
    let started = rfc(at(0, 4, 30));
    let finished = rfc(at(0, 5, 0));
    let run = dm.run_raw(&[
        "--store",
        &dm.store_url(),
        "deploy",
        "--repo",
        &repo.path.display().to_string(),
        "--service",
        "api",
        "--id",
        "d3",
        "--started-at",
        &started,
        "--finished-at",
        &finished,
    ]);
    run.assert_ok();
    let short = &rev[..12];
    assert!(
        run.stdout.contains("marks failed")
            && run.stdout.contains("d2")
            && run.stdout.contains(short),
        "the table names the deployment, the rule and the commit: {run:#?}"
    );
    assert!(run.stdout.contains("revert"), "{run:#?}");
    assert!(
        run.stdout.contains("2026-03-01 05:00:00Z"),
        "human times read as SPEC §4's example: {run:#?}"
    );
}

#[test]
fn deploy_without_a_checkout_records_the_deployment_without_lead_time() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    dm.deploy_at(&repo.path, "api", "d1", &c1, at(0, 1, 0), &[]);
    let c2 = repo.commit_at("feat: two", at(0, 2, 0));
    // GIT_STRATEGY: none — the job's directory holds artifacts, no .git.
    let artifacts = tempfile::tempdir().unwrap();
    let dir = artifacts.path().display().to_string();
    let finished = rfc(at(0, 3, 0));
    let run = dm.run_with_env(
        &[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_NAME", "api"),
            ("CI_PROJECT_PATH", "acme/api"),
            ("CI_SERVER_URL", "https://gitlab.example.com"),
            ("CI_PIPELINE_ID", "100"),
            ("CI_JOB_ID", "200"),
            ("CI_COMMIT_SHA", c2.as_str()),
        ],
        &["deploy", "--repo", &dir, "--finished-at", &finished],
    );
    let d = run.json();
    assert_eq!(d["recorded"], true, "{run:#?}");
    assert_eq!(
        (&d["service"], &d["sha"]),
        (&"api".into(), &c2.as_str().into())
    );
    assert_eq!(d["lead_time_note"], "no_repository", "{d}");
    assert!(run.stderr.contains("no git repository"), "{run:#?}");
    assert_eq!(dm.deployment_count("api"), 2);

    // A short sha cannot be resolved without a repository: a usage error.
    let run = dm.run(&[
        "deploy",
        "--repo",
        &dir,
        "--service",
        "api",
        "--sha",
        &c2[..8],
    ]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("full 40-character sha"), "{run:#?}");
    // No sha at all outside a repository: the repository error, as before.
    let run = dm.run(&["deploy", "--repo", &dir, "--service", "api"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("is not a git repository"), "{run:#?}");
    assert_eq!(dm.deployment_count("api"), 2, "nothing half-recorded");
}

#[test]
fn a_new_service_is_announced_once_and_typos_in_flaky_exit_4() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let repo_s = repo.path.display().to_string();
    let deploy = |id: &str, t: i64| {
        let finished = rfc(t);
        dm.run(&[
            "deploy",
            "--repo",
            &repo_s,
            "--service",
            "payments-api",
            "--id",
            id,
            "--sha",
            &c1,
            "--finished-at",
            &finished,
        ])
    };
    let run = deploy("d1", at(0, 1, 0));
    run.assert_ok();
    assert!(
        run.stderr
            .contains("note: first deployment of 'payments-api' in sqlite:"),
        "{run:#?}"
    );
    let run = deploy("d2", at(0, 2, 0));
    run.assert_ok();
    assert!(!run.stderr.contains("first deployment"), "once: {run:#?}");

    let run = dm.run(&["flaky", "--service", "paymnets-api"]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr
            .contains("no events for service 'paymnets-api' in sqlite:")
            && run.stderr.contains("known: payments-api"),
        "{run:#?}"
    );
    // A known service with no test runs is normal output.
    dm.run(&["flaky", "--service", "payments-api"]).assert_ok();
}

#[test]
fn comment_for_an_unknown_service_exits_4_but_a_first_comment_posts() {
    let dm = Dm::default();
    // An empty store: the first pull request, before any deployment.
    let run = dm.run(&["comment", "--dry-run", "--service", "api"]);
    run.assert_ok();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    dm.deploy_at(&repo.path, "payments-api", "d1", &c1, at(0, 1, 0), &[]);
    let run = dm.run(&["comment", "--dry-run", "--service", "paymnets-api"]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(run.stderr.contains("known: payments-api"), "{run:#?}");
    dm.run(&["comment", "--dry-run", "--service", "payments-api"])
        .assert_ok();
    let run = dm.run(&[
        "comment",
        "--dry-run",
        "--service",
        "payments-api",
        "--env",
        "prod",
    ]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr
            .contains("known envs of payments-api: production"),
        "{run:#?}"
    );
}

#[test]
fn re_running_a_deploy_job_is_the_same_deployment() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let repo_s = repo.path.display().to_string();
    let github = |attempt: &'static str, status: &'static str| {
        let finished = rfc(at(0, 1, 0) + attempt.parse::<i64>().unwrap() * MIN);
        let run = dm.run_with_env(
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_REPOSITORY", "acme/api"),
                ("GITHUB_SHA", c1.as_str()),
                ("GITHUB_RUN_ID", "777"),
                ("GITHUB_RUN_ATTEMPT", attempt),
                ("GITHUB_JOB", "deploy"),
            ],
            &[
                "deploy",
                "--repo",
                &repo_s,
                "--status",
                status,
                "--finished-at",
                &finished,
            ],
        );
        run.assert_ok();
        run
    };
    // Attempt 1 fails, attempt 2 succeeds: one successful deployment.
    github("1", "failure");
    assert_eq!(github("2", "success").json()["recorded"], true);
    assert_eq!(dm.deployment_count("api"), 1);
    // Attempt 3 re-runs the green job: the same deployment, said so.
    let run = github("3", "success");
    assert_eq!(run.json()["recorded"], false, "{run:#?}");
    assert!(
        run.stderr.contains("already recorded by this CI run"),
        "{run:#?}"
    );
    assert_eq!(
        dm.deployment_count("api"),
        1,
        "a re-run is not a deployment"
    );
}

#[test]
fn a_report_right_after_a_deploy_counts_it() {
    // Real time, no DORAMETER_NOW: the job deploys, then writes its summary.
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c1 = repo.commit_at("feat: one", at(0, 0, 0));
    let repo_s = repo.path.display().to_string();
    let real = [("DORAMETER_NOW", "")];
    for id in ["d1", "d2", "d3"] {
        dm.run_with_env(
            &real,
            &[
                "deploy",
                "--repo",
                &repo_s,
                "--service",
                "api",
                "--sha",
                &c1,
                "--id",
                id,
            ],
        )
        .assert_ok();
        let r = dm
            .run_with_env(&real, &["report", "--service", "api", "--window", "30d"])
            .json();
        let n = r["metrics"]["deployment_frequency"]["deployments"].as_u64();
        let want = id[1..].parse::<u64>().unwrap();
        assert_eq!(n, Some(want), "the deployment just recorded counts: {r}");
        let end = r["window"]["end"].as_str().unwrap();
        assert!(
            end.len() == 20 && end.ends_with('Z'),
            "to the second: {end}"
        );
    }
}

#[test]
fn a_shallow_clone_still_sees_the_hotfix_it_ships() {
    let mut origin = Repo::new();
    let c1 = origin.commit_at("feat: one", at(0, 0, 0));
    origin.tag("v1.0.0", at(0, 1, 0));
    origin.checkout_branch("hotfix/login");
    origin.commit_at("fix: login loop", at(0, 2, 0));
    origin.checkout("main");
    let merge = origin.merge("hotfix/login", "Merge branch 'hotfix/login'", at(0, 3, 0));
    origin.tag("v1.0.1", at(0, 4, 0));

    // The deploy job of the hotfix runs in a `--depth 1` clone. The
    // previous deployment finished after the merge was committed (a slow
    // pipeline): the deployed commit itself still counts.
    let dm = Dm::default();
    dm.deploy_at(&origin.path, "api", "d1", &c1, at(0, 3, 30), &[]);
    let (_tmp, clone) = origin.clone_with(&["--depth", "1"], "ci");
    let d = dm.deploy_at(&clone, "api", "d2", &merge, at(0, 4, 0), &[]);
    assert_eq!(d["lead_time_note"], "previous_sha_not_found", "{d}");
    assert_eq!(
        d["kind"], "rollforward",
        "CFR must not depend on the depth: {d}"
    );
    assert_eq!(remediates(&d), pairs(&[("d1", "hotfix_subject")]));
    let r = dm.report("api", at(-1, 0, 0), at(1, 0, 0), &[]);
    assert_eq!(r["metrics"]["change_failure_rate"]["value"], 50.0, "{r}");

    // Backfill in a shallow clone with its tags fetched at depth 1: the same.
    let (_tmp2, clone2) = origin.clone_with(&["--depth", "1"], "ci2");
    origin.git_in(&clone2, &["fetch", "-q", "--tags", "--depth", "1"]);
    let fresh = Dm::default();
    let out = fresh.json(&[
        "backfill",
        "--from-tags",
        "v*",
        "--service",
        "api",
        "--repo",
        &clone2.display().to_string(),
    ]);
    let kinds: Vec<&str> = out["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["planned", "rollforward"], "{out}");
}
