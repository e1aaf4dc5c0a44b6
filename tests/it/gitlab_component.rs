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

/// The deploy component's job, installing from a local release server of
/// the version it pins, with `inputs` besides: (job, server, version).
fn served_deploy_job(dir: &Path, inputs: &[(&str, Value)]) -> (Job, Server, String) {
    let template = Template::load("deploy");
    let version = template.default("version").as_str().unwrap().to_string();
    let (server, sum) = serve_release(dir, &version);
    let mut all = vec![
        ("download-base", json!(server.base)),
        ("sha256", json!(sum)),
    ];
    all.extend(inputs.iter().cloned());
    (template.job(&all), server, version)
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
    let dir = tempfile::tempdir().unwrap();
    let (job, server, dorameter_version) = served_deploy_job(dir.path(), &[]);
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

/// With no DORAMETER_STORE the components keep the history in the project's
/// own repository (SPEC §8), pushing with DORAMETER_GIT_TOKEN (a project
/// access token: CI_JOB_TOKEN cannot push) over the instance's URL.
#[test]
fn component_deploy_defaults_to_the_git_store_with_the_projects_token() {
    let dir = tempfile::tempdir().unwrap();
    let (job, _server, _) = served_deploy_job(dir.path(), &[]);
    let mut repo = Repo::new();
    let sha = repo.commit_at("feat: one", at(0, 0, 0));
    // The instance, under a relative URL root (/gitlab): acme/checkout.git
    // over smart HTTP, the token as password.
    let root = dir.path().join("www");
    let bare = root.join("gitlab/acme/checkout.git");
    std::fs::create_dir_all(&bare).unwrap();
    let bare_s = bare.display().to_string();
    repo.git(&["init", "-q", "--bare", &bare_s], BASE);
    repo.git_in(&bare, &["config", "http.receivepack", "true"]);
    repo.git(&["push", "-q", &bare_s, "HEAD:refs/heads/main"], BASE);
    let token = "glpat-s3cr3t-project-token";
    let gitlab = crate::git_store::HttpRemote::start(&root, "dorameter", token);
    let server_url = format!("http://127.0.0.1:{}/gitlab", gitlab.port);
    let mut ci = push_pipeline("main", &sha, "3001");
    ci.push(("CI_SERVER_URL".into(), server_url.clone()));
    let run = job.run(
        &repo.path,
        &pairs_ref(&ci),
        &[("DORAMETER_GIT_TOKEN", token)],
    );
    run.assert_ok();
    assert!(
        !run.stdout.contains(token) && !run.stderr.contains(token),
        "{run:#?}"
    );
    let file = repo.git_in(
        &bare,
        &["ls-tree", "-r", "--name-only", "refs/dorameter/events"],
    );
    assert!(
        file.starts_with("deployments-") && !file.contains('\n'),
        "{file}: {run:#?}"
    );
    assert!(!run.stderr.contains("spool"), "{run:#?}");
    let stored = repo.git_in(&bare, &["show", &format!("refs/dorameter/events:{file}")]);
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["sha"], sha.as_str());
    // A wrong token: the permission error naming the GitLab fix, no token.
    let sha2 = repo.commit_at("feat: two", at(0, 1, 0));
    let mut ci = push_pipeline("main", &sha2, "3002");
    ci.retain(|(k, _)| k != "CI_PIPELINE_ID");
    ci.push(("CI_PIPELINE_ID".into(), "1234568".into()));
    ci.push(("CI_SERVER_URL".into(), server_url.clone()));
    let run = job.run(
        &repo.path,
        &pairs_ref(&ci),
        &[("DORAMETER_GIT_TOKEN", "glpat-wrong")],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("DORAMETER_GIT_TOKEN"), "{run:#?}");
    assert!(!run.stderr.contains("glpat-wrong"), "{run:#?}");
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
                    | "DORAMETER_COMMENT_MODE"
            );
            assert!(
                meant || !cli.contains(&v.as_str()),
                "{name}: the template sets {v}, which dorameter reads as a setting"
            );
        }
    }
}

// --- rules: ------------------------------------------------------------------
//
// An evaluator for the part of GitLab's `rules:` the templates and the docs
// use: `if:` expressions (`$VAR`, "string", /regex/, null, `==`, `!=`, `=~`,
// `!~`, `&&` above `||`, parentheses) and `when:`. Anything else panics, so a
// template cannot outgrow what this test understands without saying so.

/// Whether the job is added to a pipeline with `vars`, and its `when:`.
fn added(job: &Job, vars: &[(&str, &str)]) -> Option<String> {
    let job_when = job.spec["when"].as_str().unwrap_or("on_success");
    let Some(rules) = job.spec.get("rules") else {
        return Some(job_when.to_string());
    };
    for rule in rules.as_array().expect("rules: a list") {
        let rule = rule.as_object().expect("a rule: a mapping");
        for key in rule.keys() {
            // `changes:`/`exists:` would need files; not used.
            assert!(
                ["if", "when", "allow_failure", "variables", "needs"].contains(&key.as_str()),
                "rules: {key} is outside what this test evaluates"
            );
        }
        let matches = match rule.get("if") {
            Some(expr) => Expr::parse(expr.as_str().expect("if: a string")).eval(vars),
            None => true,
        };
        if matches {
            let when = rule.get("when").and_then(Value::as_str).unwrap_or(job_when);
            return (when != "never").then(|| when.to_string());
        }
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Var(String),
    Str(String),
    Re(String),
    Null,
    Op(&'static str),
}

#[derive(Debug)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Cmp(Tok, &'static str, Tok),
    Truthy(Tok),
}

impl Expr {
    fn parse(src: &str) -> Expr {
        let toks = lex(src);
        let mut pos = 0;
        let e = Expr::or(&toks, &mut pos);
        assert_eq!(pos, toks.len(), "trailing tokens in {src:?}: {toks:?}");
        e
    }

    fn or(t: &[Tok], pos: &mut usize) -> Expr {
        let mut e = Expr::and(t, pos);
        while t.get(*pos) == Some(&Tok::Op("||")) {
            *pos += 1;
            e = Expr::Or(Box::new(e), Box::new(Expr::and(t, pos)));
        }
        e
    }

    fn and(t: &[Tok], pos: &mut usize) -> Expr {
        let mut e = Expr::unary(t, pos);
        while t.get(*pos) == Some(&Tok::Op("&&")) {
            *pos += 1;
            e = Expr::And(Box::new(e), Box::new(Expr::unary(t, pos)));
        }
        e
    }

    fn unary(t: &[Tok], pos: &mut usize) -> Expr {
        if t.get(*pos) == Some(&Tok::Op("(")) {
            *pos += 1;
            let e = Expr::or(t, pos);
            assert_eq!(t.get(*pos), Some(&Tok::Op(")")), "unclosed ( in {t:?}");
            *pos += 1;
            return e;
        }
        let left = t.get(*pos).cloned().expect("an operand");
        assert!(!matches!(left, Tok::Op(_)), "an operand expected: {t:?}");
        *pos += 1;
        match t.get(*pos) {
            Some(Tok::Op(op @ ("==" | "!=" | "=~" | "!~"))) => {
                *pos += 1;
                let right = t.get(*pos).cloned().expect("a right operand");
                *pos += 1;
                Expr::Cmp(left, op, right)
            }
            _ => Expr::Truthy(left),
        }
    }

    fn eval(&self, vars: &[(&str, &str)]) -> bool {
        // An undefined variable is null, as in GitLab.
        let value = |t: &Tok| -> Option<String> {
            match t {
                Tok::Var(name) => vars
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.to_string()),
                Tok::Str(s) => Some(s.clone()),
                Tok::Null => None,
                Tok::Re(_) | Tok::Op(_) => panic!("not a value: {t:?}"),
            }
        };
        match self {
            Expr::Or(a, b) => a.eval(vars) || b.eval(vars),
            Expr::And(a, b) => a.eval(vars) && b.eval(vars),
            Expr::Truthy(t) => value(t).is_some_and(|v| !v.is_empty()),
            Expr::Cmp(a, op @ ("==" | "!="), b) => (value(a) == value(b)) == (*op == "=="),
            Expr::Cmp(a, op, Tok::Re(re)) => {
                let hit = value(a).is_some_and(|v| regex_search(re, &v));
                hit == (*op == "=~")
            }
            Expr::Cmp(_, op, b) => panic!("{op} needs a /regex/, got {b:?}"),
        }
    }
}

fn lex(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let two: String = s[i..(i + 2).min(s.len())].iter().collect();
        if c.is_whitespace() {
            i += 1;
        } else if let Some(op) = ["&&", "||", "==", "!=", "=~", "!~"]
            .into_iter()
            .find(|op| *op == two)
        {
            toks.push(Tok::Op(op));
            i += 2;
        } else if c == '(' || c == ')' {
            toks.push(Tok::Op(if c == '(' { "(" } else { ")" }));
            i += 1;
        } else if c == '$' {
            // GitLab rejects `${VAR}` in rules ("invalid expression syntax").
            let mut end = i + 1;
            while end < s.len() && (s[end].is_ascii_alphanumeric() || s[end] == '_') {
                end += 1;
            }
            assert!(end > i + 1, "a variable name after $ in {src:?}");
            toks.push(Tok::Var(s[i + 1..end].iter().collect()));
            i = end;
        } else if c == '"' || c == '\'' {
            let end = i
                + 1
                + s[i + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .expect("a closing quote");
            toks.push(Tok::Str(s[i + 1..end].iter().collect()));
            i = end + 1;
        } else if c == '/' {
            let mut j = i + 1;
            let mut re = String::new();
            while s[j] != '/' {
                if s[j] == '\\' {
                    re.push(s[j]);
                    j += 1;
                }
                re.push(s[j]);
                j += 1;
            }
            // Flags (e.g. /i) are not in the subset.
            assert!(
                s.get(j + 1).is_none_or(|c| !c.is_ascii_alphabetic()),
                "regex flags in {src:?}"
            );
            toks.push(Tok::Re(re));
            i = j + 1;
        } else if s[i..].starts_with(&['n', 'u', 'l', 'l']) {
            toks.push(Tok::Null);
            i += 4;
        } else {
            panic!("unsupported syntax at {i} in {src:?}");
        }
    }
    toks
}

/// One regex element: a char class and how many times it repeats.
struct Piece {
    class: Box<dyn Fn(char) -> bool>,
    min: usize,
    max: usize,
}

/// An unanchored search, as GitLab's `=~`, for a subset of RE2: literals,
/// `.`, `\d \w \s`, escapes, `[...]` sets with ranges, `* + ?`, `^` and `$`.
fn regex_search(re: &str, text: &str) -> bool {
    let mut r: Vec<char> = re.chars().collect();
    let start = r.first() == Some(&'^');
    if start {
        r.remove(0);
    }
    let end = r.last() == Some(&'$') && !r.ends_with(&['\\', '$']);
    if end {
        r.pop();
    }
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < r.len() {
        let class: Box<dyn Fn(char) -> bool> = match r[i] {
            '.' => Box::new(|_| true),
            '\\' => {
                i += 1;
                match r[i] {
                    'd' => Box::new(|c: char| c.is_ascii_digit()),
                    'w' => Box::new(|c: char| c.is_ascii_alphanumeric() || c == '_'),
                    's' => Box::new(char::is_whitespace),
                    lit => Box::new(move |c| c == lit),
                }
            }
            '[' => {
                let negated = r.get(i + 1) == Some(&'^');
                i += 1 + usize::from(negated);
                let mut ranges = Vec::new();
                while r[i] != ']' {
                    let lo = if r[i] == '\\' {
                        i += 1;
                        r[i]
                    } else {
                        r[i]
                    };
                    if r.get(i + 1) == Some(&'-') && r.get(i + 2).is_some_and(|&c| c != ']') {
                        ranges.push((lo, r[i + 2]));
                        i += 3;
                    } else {
                        ranges.push((lo, lo));
                        i += 1;
                    }
                }
                Box::new(move |c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != negated)
            }
            c @ ('(' | ')' | '|' | '{' | '}' | '^' | '$') => {
                panic!("/{re}/: {c} is outside the regex subset of this test")
            }
            lit => Box::new(move |c| c == lit),
        };
        i += 1;
        let (min, max) = match r.get(i) {
            Some('*') => (0, usize::MAX),
            Some('+') => (1, usize::MAX),
            Some('?') => (0, 1),
            _ => (1, 1),
        };
        if min != 1 || max != 1 {
            i += 1;
        }
        pieces.push(Piece { class, min, max });
    }
    fn here(p: &[Piece], t: &[char], end: bool) -> bool {
        let Some((first, rest)) = p.split_first() else {
            return !end || t.is_empty();
        };
        let n = t
            .iter()
            .take(first.max)
            .take_while(|&&c| (first.class)(c))
            .count();
        (first.min..=n).rev().any(|k| here(rest, &t[k..], end))
    }
    let t: Vec<char> = text.chars().collect();
    let starts = if start { 0..=0 } else { 0..=t.len() };
    starts.into_iter().any(|s| here(&pieces, &t[s..], end))
}

#[test]
fn the_rules_evaluator_reads_gitlab_expressions() {
    let vars = [("A", "main"), ("B", "main"), ("E", ""), ("T", "v1.20.3")];
    let yes = |e: &str| Expr::parse(e).eval(&vars);
    assert!(yes("$A == $B") && yes("$A == \"main\"") && yes("$A != 'dev'"));
    assert!(yes("$UNSET == null") && yes("$UNSET == $ALSO_UNSET") && !yes("$UNSET == \"\""));
    assert!(yes("$A") && !yes("$E") && !yes("$UNSET"));
    assert!(yes("$T =~ /^v\\d+\\.\\d+\\.\\d+$/") && !yes("$T =~ /^\\d+$/"));
    assert!(yes("$T =~ /1\\.2/") && yes("$T !~ /^release-/") && !yes("$UNSET =~ /.*/"));
    assert!(yes("$T =~ /^v[0-9]+[.]2[0-9]*/") && !yes("$T =~ /^v[^0-9]/"));
    // && binds tighter than ||; parentheses regroup.
    assert!(yes("$A == \"x\" && $B == \"x\" || $A == \"main\""));
    assert!(!yes("$A == \"x\" && ($B == \"x\" || $A == \"main\")"));
}

/// The predefined variables of each kind of pipeline the rules must tell
/// apart (the project's default branch is `main`).
fn pipelines() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let base = [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];
    let kinds: [(&str, &[(&str, &str)]); 8] = [
        (
            "default-branch push",
            &[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_COMMIT_REF_NAME", "main"),
            ],
        ),
        (
            "manual run of the default branch",
            &[
                ("CI_PIPELINE_SOURCE", "web"),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_COMMIT_REF_NAME", "main"),
            ],
        ),
        (
            "feature-branch push",
            &[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_BRANCH", "feature/cart"),
                ("CI_COMMIT_REF_NAME", "feature/cart"),
                ("CI_OPEN_MERGE_REQUESTS", "acme/checkout!17"),
            ],
        ),
        (
            "tag pipeline",
            &[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_TAG", "v1.2.0"),
                ("CI_COMMIT_REF_NAME", "v1.2.0"),
            ],
        ),
        (
            "merge request pipeline",
            &[
                ("CI_PIPELINE_SOURCE", "merge_request_event"),
                ("CI_COMMIT_REF_NAME", "feature/cart"),
                ("CI_MERGE_REQUEST_IID", "17"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/cart"),
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ],
        ),
        (
            "merge request from the default branch of a fork",
            &[
                ("CI_PIPELINE_SOURCE", "merge_request_event"),
                ("CI_COMMIT_REF_NAME", "main"),
                ("CI_MERGE_REQUEST_IID", "18"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "main"),
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ],
        ),
        (
            "scheduled pipeline of the default branch",
            &[
                ("CI_PIPELINE_SOURCE", "schedule"),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_COMMIT_REF_NAME", "main"),
            ],
        ),
        (
            "incident pipeline (trigger API) of the default branch",
            &[
                ("CI_PIPELINE_SOURCE", "trigger"),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_COMMIT_REF_NAME", "main"),
                ("DORAMETER_INCIDENT_ACTION", "open"),
                ("DORAMETER_INCIDENT_ID", "INC-20"),
            ],
        ),
    ];
    kinds
        .into_iter()
        .map(|(name, vars)| (name, base.iter().chain(vars).copied().collect()))
        .collect()
}

fn deploying(job: &Job) -> Vec<&'static str> {
    pipelines()
        .into_iter()
        .filter(|(_, vars)| added(job, vars).is_some())
        .map(|(name, _)| name)
        .collect()
}

/// The incident job runs where an incident is given (the trigger API), or
/// where a schedule asks for an import; nowhere else.
#[test]
fn incident_template_runs_for_an_incident_or_a_scheduled_import() {
    let job = Template::load("incident").job(&[]);
    assert_eq!(
        deploying(&job),
        ["incident pipeline (trigger API) of the default branch"]
    );
    let import = [
        ("CI_PIPELINE_SOURCE", "schedule"),
        ("CI_COMMIT_BRANCH", "main"),
        ("DORAMETER_INCIDENT_ACTION", "import"),
        ("DORAMETER_IMPORT_FROM", "pagerduty"),
    ];
    assert_eq!(added(&job, &import).as_deref(), Some("on_success"));
    let script = job.spec["script"].to_string();
    assert!(script.contains("open | resolve | import"), "{script}");
}

/// Issue 10 item 10: the deploy template's only rule excluded merge request
/// pipelines, so every feature-branch push (and schedule, tag, incident
/// pipeline) recorded a production deployment. By default the job runs in
/// pushes and manual runs of the default branch, nowhere else; a tag
/// pipeline is not a deployment unless the `rules` input says so (a tag
/// usually points at a commit the default branch already deployed).
#[test]
fn deploy_template_records_default_branch_pipelines_only() {
    let job = Template::load("deploy").job(&[]);
    assert_eq!(
        deploying(&job),
        ["default-branch push", "manual run of the default branch"]
    );
    for (name, vars) in pipelines() {
        if let Some(when) = added(&job, &vars) {
            assert_eq!(when, "on_success", "{name}");
        }
    }
    // The job's environment is dorameter's env (CI_ENVIRONMENT_NAME), and
    // GitLab does not count the job as a deployment of its own.
    assert_eq!(
        job.spec["environment"],
        json!({"name": "production", "action": "verify"})
    );
    assert!(
        !job.variables()
            .iter()
            .any(|(k, _)| k == "DORAMETER_INPUT_ENV"),
        "the env is the job's environment, not a second setting"
    );

    // The rules are an input.
    let job =
        Template::load("deploy").job(&[("rules", json!([{"if": "$CI_COMMIT_TAG =~ /^v\\d+/"}]))]);
    assert_eq!(deploying(&job), ["tag pipeline"]);
}

/// The `rules` overrides docs/gitlab.md shows do what it says they do.
#[test]
fn documented_rules_overrides_select_the_documented_pipelines() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/gitlab.md"))
        .unwrap();
    let template = Template::load("deploy");
    let mut found = Vec::new();
    let mut shows_the_default = false;
    for block in doc.split("```yaml\n").skip(1) {
        let block = &block[..block.find("```").unwrap()];
        let parsed: Value = serde_yaml::from_str(block).unwrap();
        shows_the_default |= parsed == *template.default("rules");
        for include in parsed["include"].as_array().into_iter().flatten() {
            let component = include["component"].as_str().unwrap_or_default();
            if let Some(rules) = include["inputs"].get("rules") {
                assert!(component.contains("/deploy@"), "{component}");
                let inputs: Vec<(&str, Value)> = include["inputs"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                let job = template.job(&inputs);
                assert!(rules.is_array(), "{block}");
                found.push(deploying(&job));
            }
        }
    }
    assert_eq!(
        found,
        [
            vec!["tag pipeline"],
            vec![
                "default-branch push",
                "manual run of the default branch",
                "tag pipeline",
            ],
        ],
        "docs/gitlab.md: release tags only, then the default branch and tags"
    );
    assert!(shows_the_default, "docs/gitlab.md lists the default rules");
}

/// The rules and the job together, with the real binary: only the
/// default-branch push of three pipelines records a deployment, in the
/// environment the `environment` input names (CI_ENVIRONMENT_NAME).
#[test]
fn component_pipelines_record_the_default_branch_deployment_in_the_jobs_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (job, _server, _) = served_deploy_job(dir.path(), &[("environment", json!("staging"))]);
    let mut repo = Repo::new();
    let main = repo.commit_at("feat: one", at(0, 0, 0));
    repo.checkout_branch("feature/cart");
    let feature = repo.commit_at("feat: cart", at(0, 1, 0));
    let store = dir.path().join("store.db");
    let store_url = format!("sqlite:{}", store.display());

    let runs = [
        ("feature/cart", feature.as_str(), "schedule"),
        ("feature/cart", feature.as_str(), "push"),
        ("main", main.as_str(), "push"),
    ];
    let mut ran = Vec::new();
    for (i, (branch, sha, source)) in runs.into_iter().enumerate() {
        repo.checkout(sha);
        let mut ci = push_pipeline(branch, sha, &format!("{}", 2001 + i));
        ci.retain(|(k, _)| k != "CI_PIPELINE_SOURCE");
        ci.push(("CI_PIPELINE_SOURCE".into(), source.into()));
        ci.push(("DORAMETER_STORE".into(), store_url.clone()));
        let vars = pairs_ref(&ci);
        if added(&job, &vars).is_some() {
            job.run(&repo.path, &vars, &[]).assert_ok();
            ran.push(sha.to_string());
        }
    }
    assert_eq!(ran, std::slice::from_ref(&main));
    let db = rusqlite::Connection::open(&store).unwrap();
    let recorded: Vec<(String, String)> = db
        .prepare("SELECT sha, env FROM deployments")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(recorded, [(main, "staging".to_string())]);
}
