//! Settings resolution as a user meets it (`src/settings.rs`): one service
//! and env chain for every command, the repository root's `.dorameter.toml`
//! from a subdirectory, and errors that name where a value came from.
//! Regressions found by trying the product as a new user would.

use crate::util::*;

/// GitLab CI variables of a deploy job to `staging`.
const GITLAB: &[(&str, &str)] = &[
    ("GITLAB_CI", "true"),
    ("CI_SERVER_URL", "https://gitlab.example.com"),
    ("CI_PROJECT_NAME", "billing"),
    ("CI_PROJECT_PATH", "acme/billing"),
    ("CI_PIPELINE_ID", "1234567"),
    ("CI_JOB_ID", "7654321"),
    ("CI_JOB_NAME", "deploy-staging"),
    ("CI_ENVIRONMENT_NAME", "staging"),
];

#[test]
fn report_and_flaky_read_the_repository_roots_config_from_a_subdirectory() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let sha = repo.commit_at("feat: one", at(31, 9, 0));
    std::fs::write(
        repo.path.join(".dorameter.toml"),
        "service = \"fromcfg\"\nenv = \"qa\"\nbands = \"dora-2023\"\n",
    )
    .unwrap();
    let path = repo.path.display().to_string();
    let finished = rfc(at(32, 9, 0));
    dm.json(&[
        "deploy",
        "--repo",
        &path,
        "--sha",
        &sha,
        "--finished-at",
        &finished,
    ]);
    let sub = repo.path.join("reports");
    std::fs::create_dir_all(&sub).unwrap();
    for args in [&["report"][..], &["flaky"]] {
        let out = dm.command(args).current_dir(&sub).output().unwrap();
        let run = Run::from_output(args.iter().map(|s| s.to_string()).collect(), out);
        let v = run.json();
        let v = if v.is_array() { v[0].clone() } else { v };
        assert_eq!(v["service"], "fromcfg", "{args:?}: {v}");
        if args[0] == "report" {
            assert_eq!(
                (v["env"].as_str(), v["bands"].as_str()),
                (Some("qa"), Some("dora-2023")),
                "{v}"
            );
            assert_eq!(
                v["metrics"]["deployment_frequency"]["deployments"], 1,
                "{v}"
            );
        }
    }
}

#[test]
fn gitlab_environment_is_the_env_of_deploy_report_and_incident() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let sha = repo.commit_at("feat: one", at(31, 9, 0));
    let path = repo.path.display().to_string();
    let finished = rfc(at(32, 9, 0));
    let mut env = GITLAB.to_vec();
    env.push(("CI_COMMIT_SHA", &sha));
    let d = dm
        .run_with_env(
            &env,
            &["deploy", "--repo", &path, "--finished-at", &finished],
        )
        .json();
    assert_eq!(
        (d["service"].as_str(), d["env"].as_str()),
        (Some("billing"), Some("staging")),
        "{d}"
    );
    let started = rfc(at(32, 10, 0));
    let i = dm
        .run_with_env(
            &env,
            &[
                "incident",
                "open",
                "--id",
                "INC-1",
                "--started-at",
                &started,
            ],
        )
        .json();
    assert_eq!(i["env"], "staging", "{i}");
    assert_eq!(i["attributed_deployment"], d["id"], "{i}");
    let r = dm
        .run_with_env(&env, &["report", "--service", "billing"])
        .json();
    assert_eq!(r["env"], "staging", "{r}");
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], 1,
        "{r}"
    );
    // Outside the job, the flag names it.
    let r = dm.json(&["report", "--service", "billing", "--env", "staging"]);
    assert_eq!(
        r["metrics"]["change_failure_rate"]["failed_deployments"], 1,
        "{r}"
    );
}

#[test]
fn bad_numbers_from_env_vars_name_the_variable() {
    let dm = Dm::default();
    let run = dm.run_with_env(
        &[("DORAMETER_MIN_RUNS", "many")],
        &["flaky", "--service", "api"],
    );
    run.assert_usage_error("--min-runs (from DORAMETER_MIN_RUNS)");
    assert!(
        run.stderr.contains("hint: pass --min-runs a number"),
        "{run:#?}"
    );
    let run = dm.run(&["flaky", "--service", "api", "--min-failure-rate", "lots"]);
    run.assert_usage_error("--min-failure-rate");
}

#[test]
fn bad_store_and_sinks_in_the_config_file_name_the_key() {
    let dm = Dm::default();
    let cwd = dm.dir.path().join("cwd");
    std::fs::write(
        cwd.join(".dorameter.toml"),
        "# team store\nstore = \"mysql://x/y\"\n",
    )
    .unwrap();
    let run = dm.run_raw(&["report"]);
    run.assert_usage_error("`store` in .dorameter.toml line 2");
    std::fs::write(cwd.join(".dorameter.toml"), "sinks = [\"ftp://x\"]\n").unwrap();
    let run = dm.run_raw(&["report"]);
    run.assert_usage_error("`sinks` in .dorameter.toml line 1");
}

#[test]
fn an_empty_env_filter_is_refused() {
    let dm = Dm::default();
    dm.run(&["report", "--env", ""]).assert_usage_error("--env");
}

/// SPEC §4: a team's `format = "prometheus"` (for `report`) must not stop a
/// deployment from being recorded; only an explicit `--format` is refused.
#[test]
fn a_configured_format_a_command_cannot_print_falls_back_to_its_default() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let sha = repo.commit_at("feat: one", at(31, 9, 0));
    let path = repo.path.display().to_string();
    std::fs::write(
        repo.path.join(".dorameter.toml"),
        "service = \"api\"\nformat = \"prometheus\"\n",
    )
    .unwrap();
    let store = dm.store_url();
    let deploy = [
        "--store",
        store.as_str(),
        "deploy",
        "--repo",
        path.as_str(),
        "--sha",
        sha.as_str(),
    ];
    let run = dm.run_raw(&deploy);
    run.assert_ok();
    assert!(
        run.stdout.contains("recorded"),
        "a table, not an error: {run:#?}"
    );
    // The config's format is still report's.
    let run = dm.run_raw(&[
        "--store",
        &store,
        "--config",
        &format!("{path}/.dorameter.toml"),
        "report",
    ]);
    run.assert_ok();
    assert!(
        run.stdout
            .contains("# TYPE dora_deployments gauge\ndora_deployments{"),
        "{run:#?}"
    );
    // From DORAMETER_FORMAT too.
    let out = dm
        .raw_command(&["--store", &store, "flaky", "--service", "api"])
        .env("DORAMETER_FORMAT", "csv")
        .output()
        .unwrap();
    Run::from_output(vec![], out).assert_ok();
    // An explicit flag a command cannot print is an error.
    dm.run_raw(&[
        "--store", &store, "--format", "csv", "deploy", "--repo", &path,
    ])
    .assert_usage_error("--format csv");
}

/// SPEC §4: a duration needs a unit; `--window 30` is not 30 seconds.
#[test]
fn a_bare_number_is_not_a_duration() {
    let dm = Dm::default();
    let run = dm.run(&["report", "--window", "30"]);
    run.assert_usage_error("--window");
    assert!(
        run.stderr.contains("no unit") && run.stderr.contains("30d"),
        "{run:#?}"
    );
    let run = dm.run(&["report", "--attribution-window", "24"]);
    run.assert_usage_error("--attribution-window");
    let cwd = dm.dir.path().join("cwd");
    std::fs::write(cwd.join(".dorameter.toml"), "window = \"30\"\n").unwrap();
    dm.run(&["report"]).assert_usage_error(".dorameter.toml");
}
