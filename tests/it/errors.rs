//! The error UX, pinned: the full stderr (headline, `Caused by:` lines,
//! `hint:`) and the exit code of representative failures, as snapshots in
//! `tests/it/snapshots/`. A change to any of them shows up as a snapshot
//! diff (`INSTA_UPDATE=always cargo test --test it errors` rewrites them;
//! review the diff).

use std::path::Path;

use crate::util::{BIN, Dm, Repo, rfc};

/// Runs `args` in a clean world with `env` and `config` as the working
/// directory's `.dorameter.toml`, and renders exit code and stderr with the
/// world's temp dir replaced by `[DIR]`.
fn failure(args: &[&str], env: &[(&str, &str)], config: Option<&str>) -> String {
    let dm = Dm::default();
    let cwd = dm.dir.path().join("cwd");
    if let Some(text) = config {
        std::fs::write(cwd.join(".dorameter.toml"), text).unwrap();
    }
    let out = std::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dm.dir.path().join("home"))
        .env("DORAMETER_NOW", rfc(dm.now))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .envs(env.iter().copied())
        .current_dir(&cwd)
        .args(args)
        .output()
        .unwrap();
    render(dm.dir.path(), out)
}

fn render(dir: &Path, out: std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let dir = dir.display().to_string();
    let real = std::fs::canonicalize(&dir)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| dir.clone());
    let stderr = stderr.replace(&real, "[DIR]").replace(&dir, "[DIR]");
    format!("exit {}\n{stderr}", out.status.code().unwrap_or(-1))
}

#[test]
fn unknown_band_table_flag() {
    insta::assert_snapshot!(failure(&["report", "--bands", "dora-2025"], &[], None));
}

#[test]
fn bad_value_from_an_env_var_names_the_variable() {
    insta::assert_snapshot!(failure(
        &["report", "--service", "api"],
        &[("DORAMETER_WINDOW", "a fortnight")],
        None
    ));
}

/// A flag's value clap refuses (an unknown boolean, an unknown format)
/// names the environment variable it came from: the user typed no flag.
/// An unknown boolean is refused, never taken as true.
#[test]
fn bad_flag_value_from_an_env_var_names_the_variable() {
    insta::assert_snapshot!(failure(
        &[
            "deploy",
            "--dry-run",
            "--service",
            "api",
            "--sha",
            "abc1234"
        ],
        &[("DORAMETER_ROLLBACK", "nope")],
        None
    ));
    insta::assert_snapshot!(failure(&["report"], &[("DORAMETER_FORMAT", "yaml")], None));
}

#[test]
fn bad_value_in_the_config_file_names_file_and_line() {
    insta::assert_snapshot!(failure(
        &["report"],
        &[],
        Some("service = \"api\"\nenv = \"production\"\n\nbands = \"dora-2025\"\n")
    ));
}

#[test]
fn unknown_config_key() {
    insta::assert_snapshot!(failure(&["report"], &[], Some("sevrice = \"api\"\n")));
}

#[test]
fn config_file_that_does_not_exist() {
    insta::assert_snapshot!(failure(&["--config", "nope.toml", "report"], &[], None));
}

#[test]
fn deploy_outside_a_repository() {
    insta::assert_snapshot!(failure(&["deploy", "--service", "api"], &[], None));
}

#[test]
fn deploy_of_an_unknown_revision() {
    let repo = Repo::new();
    let path = repo.path.display().to_string();
    let dm = Dm::default();
    let out = dm
        .raw_command(&[
            "--store",
            &dm.store_url(),
            "deploy",
            "--repo",
            &path,
            "--service",
            "api",
            "--sha",
            "v9.9.9",
        ])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(repo.path.parent().unwrap_or(&repo.path), out));
}

#[test]
fn junit_glob_that_matches_nothing() {
    insta::assert_snapshot!(failure(
        &["junit", "reports/**/*.xml", "--service", "api"],
        &[],
        None
    ));
}

#[test]
fn store_url_of_an_unknown_kind() {
    insta::assert_snapshot!(failure(
        &["--store", "mysql://root:hunter2@db/dora", "report"],
        &[],
        None
    ));
}

#[test]
fn store_file_that_is_not_a_database() {
    let dm = Dm::default();
    let bogus = dm.dir.path().join("cwd").join("notes.db");
    std::fs::write(&bogus, "these are my notes, not a database\n".repeat(200)).unwrap();
    let out = dm
        .raw_command(&["--store", "sqlite:notes.db", "report"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(dm.dir.path(), out));
}

#[test]
fn resolving_an_incident_that_was_never_opened() {
    insta::assert_snapshot!(failure(
        &["incident", "resolve", "--id", "INC-9"],
        &[],
        None
    ));
}

#[test]
fn bad_sink_spec() {
    insta::assert_snapshot!(failure(
        &["--sink", "ftp://example.com/x", "report"],
        &[],
        None
    ));
}

#[test]
fn bad_sink_timeout() {
    insta::assert_snapshot!(failure(
        &["--sink", "webhook:http://127.0.0.1:9/hook", "report"],
        &[("DORAMETER_SINK_TIMEOUT", "soon")],
        None
    ));
}

#[test]
fn datadog_sink_without_dd_api_key() {
    insta::assert_snapshot!(failure(
        &[
            "--sink",
            "datadog",
            "incident",
            "open",
            "--id",
            "INC-1",
            "--service",
            "api"
        ],
        &[],
        None
    ));
}

#[test]
fn sink_budget_without_a_unit() {
    insta::assert_snapshot!(failure(
        &[
            "--sink",
            "webhook:http://127.0.0.1:9/hook",
            "incident",
            "open",
            "--id",
            "INC-1",
            "--service",
            "api"
        ],
        &[("DORAMETER_SINK_BUDGET", "15")],
        None
    ));
}

#[test]
fn comment_under_strict_without_a_pull_request() {
    insta::assert_snapshot!(failure(
        &["--strict", "comment", "--service", "api"],
        &[],
        None
    ));
}

#[test]
fn window_and_since_together() {
    insta::assert_snapshot!(failure(
        &[
            "report",
            "--window",
            "7d",
            "--since",
            "2026-03-01T00:00:00Z"
        ],
        &[],
        None
    ));
}

#[test]
fn flush_in_an_unsupported_format() {
    insta::assert_snapshot!(failure(&["flush", "--format", "csv"], &[], None));
}

/// An unreachable PostgreSQL server is the environment, not the user's
/// input: exit 1, the server named, the password never shown.
#[test]
fn unreachable_postgres() {
    insta::assert_snapshot!(failure(
        &[
            "--store",
            "postgres://dora:hunter2@127.0.0.1:1/dora?connect_timeout=5",
            "report"
        ],
        &[],
        None
    ));
}

#[test]
fn bad_name_in_the_config_file_names_the_key_and_line() {
    insta::assert_snapshot!(failure(
        &["report"],
        &[],
        Some("# team defaults\nbands = \"classic\"\nservice = \"  \"\n")
    ));
}

/// SPEC §4: a typo in a service name is exit 4 with the known names, closest
/// first, never "no data".
#[test]
fn report_for_a_service_with_no_event_names_the_known_ones() {
    let dm = Dm::default();
    for (id, service) in [("INC-1", "payments-api"), ("INC-2", "api")] {
        dm.json(&["incident", "open", "--id", id, "--service", service]);
    }
    let out = dm
        .command(&["report", "--service", "paymnets-api"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(dm.dir.path(), out));
    let out = dm
        .command(&["report", "--service", "payments-api", "--env", "prod"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(dm.dir.path(), out));
    // Without --service, an env filter that matches nothing says so too.
    let out = dm.command(&["report", "--env", "prod"]).output().unwrap();
    insta::assert_snapshot!(render(dm.dir.path(), out));
}

/// `deployments show` of an id the store does not hold names the closest
/// ones it does; `deployments list` of an unknown service, the known ones.
#[test]
fn deployments_of_an_unknown_id_or_service_name_the_closest() {
    let dm = Dm::default();
    for id in ["api-2026-03-01", "api-2026-03-02", "web-2026-03-01"] {
        let service = &id[..3];
        dm.json(&[
            "deploy",
            "--service",
            service,
            "--id",
            id,
            "--sha",
            "0123456789abcdef0123456789abcdef01234567",
        ]);
    }
    let out = dm
        .command(&["deployments", "show", "api-2026-03-03"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(dm.dir.path(), out));
    let out = dm
        .command(&["deployments", "list", "--service", "wbe"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(dm.dir.path(), out));
}

#[test]
fn deployments_list_limit_of_zero() {
    insta::assert_snapshot!(failure(&["deployments", "list", "--limit", "0"], &[], None));
}
