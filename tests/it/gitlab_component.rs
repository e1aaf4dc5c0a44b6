//! The GitLab CI/CD component (`gitlab-component/templates/*.yml`) run the
//! way GitLab runs it: the template's spec inputs interpolated into its jobs
//! document, the job's `variables:` and GitLab's predefined variables in the
//! environment (project CI/CD variables above the job's own, as GitLab ranks
//! them), and its `before_script:` and `script:` lines executed by `sh` in a
//! real git checkout, installing a "release" served over local HTTP whose
//! `dorameter` runs the binary under test.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Map, Value, json};

use crate::action::Server;
use crate::util::*;

fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("gitlab-component/templates")
}

/// One component template: its `spec: inputs:` and its jobs document, still
/// text with `$[[ inputs.x ]]` in it.
struct Template {
    file: PathBuf,
    inputs: Map<String, Value>,
    jobs: String,
}

impl Template {
    fn load(name: &str) -> Template {
        let file = templates().join(format!("{name}.yml"));
        let text = std::fs::read_to_string(&file).unwrap();
        let (header, jobs) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("{}: no '---' line", file.display()));
        let header: Value = serde_yaml::from_str(header).unwrap();
        let inputs = header["spec"]["inputs"].as_object().unwrap().clone();
        Template {
            file,
            inputs,
            jobs: jobs.to_string(),
        }
    }

    /// An input's default, as the template declares it.
    fn default(&self, input: &str) -> &Value {
        &self.inputs[input]["default"]
    }

    /// The template's one job with its inputs interpolated: `given` over the
    /// defaults. An array (the `rules`) goes in as JSON, which is YAML.
    fn job(&self, given: &[(&str, Value)]) -> Job {
        let mut text = String::new();
        let mut rest = self.jobs.as_str();
        while let Some(start) = rest.find("$[[") {
            text.push_str(&rest[..start]);
            let end = start + rest[start..].find("]]").expect("a closed $[[ ]]");
            let inner = rest[start + 3..end].trim();
            let name = inner
                .strip_prefix("inputs.")
                .filter(|n| !n.contains('|'))
                .unwrap_or_else(|| panic!("unsupported interpolation $[[ {inner} ]]"));
            let value = given
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v)
                .unwrap_or_else(|| self.default(name));
            text.push_str(&match value {
                Value::String(s) => s.clone(),
                Value::Null => panic!("{}: input {name} has no default", self.file.display()),
                other => other.to_string(),
            });
            rest = &rest[end + 2..];
        }
        text.push_str(rest);
        let doc: Map<String, Value> = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", self.file.display()));
        assert_eq!(doc.len(), 1, "one job per template: {doc:?}");
        let (name, spec) = doc.into_iter().next().unwrap();
        Job { name, spec }
    }
}

/// A job as GitLab sees it after interpolation.
struct Job {
    name: String,
    spec: Value,
}

impl Job {
    fn lines(&self, key: &str) -> Vec<&str> {
        match &self.spec[key] {
            Value::Null => vec![],
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().map(|l| l.as_str().unwrap()).collect(),
            other => panic!("{key}: {other}"),
        }
    }

    /// The job's `variables:` (all strings after interpolation).
    fn variables(&self) -> Vec<(String, String)> {
        let Some(vars) = self.spec["variables"].as_object() else {
            return vec![];
        };
        vars.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// Runs `before_script:` then `script:` in one shell in `checkout`, as
    /// a runner does: GitLab's `predefined` variables, then the job's
    /// `variables:`, then `project` (CI/CD settings, which GitLab ranks
    /// above the job's own variables).
    fn run(&self, checkout: &Path, predefined: &[(&str, &str)], project: &[(&str, &str)]) -> Run {
        let mut script = String::from("set -e\n");
        for line in self
            .lines("before_script")
            .into_iter()
            .chain(self.lines("script"))
        {
            script.push_str(line);
            script.push('\n');
        }
        let home = checkout.parent().unwrap().join("runner-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&script)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("CI_PROJECT_DIR", checkout)
            .env("CI_JOB_NAME", &self.name)
            .current_dir(checkout);
        cmd.envs(predefined.iter().copied());
        if let Some(env) = self.spec["environment"]["name"].as_str() {
            cmd.env("CI_ENVIRONMENT_NAME", env);
        }
        cmd.envs(self.variables());
        cmd.envs(project.iter().copied());
        let out: Output = cmd.output().expect("run sh");
        Run::from_output(vec![self.name.clone()], out)
    }
}

/// The Rust target triple the templates pick for this machine (`uname -m`).
fn linux_target() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        other => panic!("the component publishes no binary for {other}"),
    }
}

/// A release directory `v<version>/dorameter-<version>-<target>.tar.gz` whose
/// `dorameter` runs the binary under test (a one-line wrapper: the archive
/// stays small), served over HTTP; and the archive's SHA-256.
fn serve_release(dir: &Path, version: &str) -> (Server, String) {
    let stage = dir.join("stage");
    let out_dir = dir.join("releases").join(format!("v{version}"));
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(
        stage.join("dorameter"),
        format!("#!/bin/sh\nexec '{BIN}' \"$@\"\n"),
    )
    .unwrap();
    let archive = out_dir.join(format!("dorameter-{version}-{}.tar.gz", linux_target()));
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "chmod +x dorameter && tar -czf '{}' dorameter && sha256sum '{}'",
            archive.display(),
            archive.display()
        ))
        .current_dir(&stage)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sum = String::from_utf8(out.stdout).unwrap()[..64].to_string();
    (Server::start(&dir.join("releases")), sum)
}

/// GitLab's predefined variables of a push pipeline on `branch` at `sha`
/// (the project's default branch is `main`).
fn push_pipeline(branch: &str, sha: &str, job_id: &str) -> Vec<(String, String)> {
    [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_SHA", sha),
        ("CI_COMMIT_BRANCH", branch),
        ("CI_COMMIT_REF_NAME", branch),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_PROJECT_ID", "278964"),
        ("CI_PROJECT_NAME", "checkout"),
        ("CI_PROJECT_PATH", "acme/checkout"),
        ("CI_PROJECT_URL", "https://gitlab.example.com/acme/checkout"),
        ("CI_PIPELINE_ID", "1234567"),
        ("CI_JOB_ID", job_id),
        ("GITLAB_USER_LOGIN", "ada"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn pairs_ref(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The recorded deployment of `sha`: (version, env).
fn recorded(store: &Path, sha: &str) -> (Option<String>, String) {
    let db = rusqlite::Connection::open(store).unwrap();
    db.query_row(
        "SELECT version, env FROM deployments WHERE sha = ?1",
        [sha],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap_or_else(|e| panic!("no deployment of {sha} in {}: {e}", store.display()))
}

/// Issue 10 item 9: the templates picked the binary to install with
/// `DORAMETER_VERSION`, which `deploy` reads as `--version`, so every
/// deployment was labelled with dorameter's own version (and a project's
/// `DORAMETER_VERSION` made the installer fetch the application's version of
/// dorameter).
#[test]
fn component_deploy_records_the_applications_version_not_dorameters() {
    let template = Template::load("deploy");
    let dorameter_version = template.default("version").as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (server, sum) = serve_release(dir.path(), &dorameter_version);
    let job = template.job(&[
        ("download-base", json!(server.base)),
        ("sha256", json!(sum)),
    ]);
    let mut repo = Repo::new();
    repo.commit_at("feat: one", at(0, 0, 0));
    let first = repo.commit_at("feat: two", at(0, 1, 0));
    let store = dir.path().join("store.db");
    let store_url = format!("sqlite:{}", store.display());

    // No application version given: none recorded.
    let mut ci = push_pipeline("main", &first, "1001");
    ci.push(("DORAMETER_STORE".into(), store_url.clone()));
    let run = job.run(&repo.path, &pairs_ref(&ci), &[]);
    run.assert_ok();
    assert!(
        run.stdout
            .contains(&format!("dorameter {dorameter_version}")),
        "the template installs and runs dorameter {dorameter_version}: {run:#?}"
    );
    let (version, env) = recorded(&store, &first);
    assert_eq!(
        version, None,
        "dorameter's own version is no label: {run:#?}"
    );
    assert_eq!(env, "production", "the job's environment");

    // The application's version as a project CI/CD variable: recorded, and
    // dorameter still installs its own pinned version.
    let second = repo.commit_at("feat: three", at(0, 2, 0));
    let mut ci = push_pipeline("main", &second, "1002");
    ci.push(("DORAMETER_STORE".into(), store_url));
    let run = job.run(
        &repo.path,
        &pairs_ref(&ci),
        &[("DORAMETER_VERSION", "2.4.0")],
    );
    run.assert_ok();
    assert!(
        run.stdout
            .contains(&format!("dorameter {dorameter_version}")),
        "{run:#?}"
    );
    assert_eq!(recorded(&store, &second).0.as_deref(), Some("2.4.0"));
    let asset = format!(
        "/v{dorameter_version}/dorameter-{dorameter_version}-{}.tar.gz",
        linux_target()
    );
    assert_eq!(
        server.requests(),
        [asset.clone(), asset],
        "only dorameter's own release is downloaded"
    );
}

/// No template sets a variable the CLI reads as a setting of its own unless
/// it means that setting: the installer's variables are not the CLI's. The
/// GitHub Action's installer gets its version as `INPUT_VERSION`.
#[test]
fn installer_variables_are_not_cli_settings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["action.yml", "scripts/action.sh"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(!text.contains("DORAMETER_VERSION"), "{file}");
    }
    let cli: Vec<&str> = dorameter::env_vars::ALL.to_vec();
    for name in ["deploy", "incident", "junit", "comment"] {
        let job = Template::load(name).job(&[]);
        let vars: Vec<String> = job.variables().into_iter().map(|(k, _)| k).collect();
        assert!(
            vars.iter().any(|v| v == "DORAMETER_INSTALL_VERSION"),
            "{name}: {vars:?}"
        );
        for v in &vars {
            let meant = matches!(
                v.as_str(),
                // The command's own settings, set on purpose from inputs.
                "DORAMETER_STATUS"
                    | "DORAMETER_WINDOW"
                    | "DORAMETER_FAIL_ON_FLAKY"
                    | "DORAMETER_COMMENT_JUNIT"
            );
            assert!(
                meant || !cli.contains(&v.as_str()),
                "{name}: the template sets {v}, which dorameter reads as a setting"
            );
        }
    }
}
