//! GitHub Actions: detection from its variables and event payload, and the
//! text of its workflow commands and step outputs.
//!
//! The command and output helpers are pure functions returning strings; the
//! caller prints them or appends them to `$GITHUB_OUTPUT` (the one I/O
//! function here, [`append_to_file`], is for that edge).

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::context::{ChangeRequest, CiContext, Provider};
use super::detect::{Vars, branch_name, commit_id, number, parts};
use super::url::strip_credentials;

/// Events whose payload carries `pull_request` with the head commit.
const PULL_REQUEST_EVENTS: &[&str] = &[
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
];

pub(crate) fn detect(
    vars: Vars<'_>,
    event: Option<&str>,
    warn_no_payload: bool,
    warnings: &mut Vec<String>,
) -> CiContext {
    let server = vars
        .get("GITHUB_SERVER_URL")
        .unwrap_or("https://github.com")
        .trim_end_matches('/');
    let repo = vars.get("GITHUB_REPOSITORY");
    let run = vars.get("GITHUB_RUN_ID");
    let event_name = vars.get("GITHUB_EVENT_NAME");
    let github_sha = commit_id(vars.get("GITHUB_SHA"));
    let git_ref = vars.get("GITHUB_REF");

    let mut ctx = CiContext::new(Provider::GitHubActions);
    ctx.sha = github_sha.clone();
    ctx.repository = repo.map(str::to_string);
    ctx.repository_url = repo.map(|r| strip_credentials(&format!("{server}/{r}")));
    ctx.api_url = Some(match vars.get("GITHUB_API_URL") {
        Some(api) => api.trim_end_matches('/').to_string(),
        None if server == "https://github.com" => "https://api.github.com".to_string(),
        // GitHub Enterprise Server serves its API under /api/v3.
        None => format!("{server}/api/v3"),
    });
    ctx.pipeline_id = run.map(str::to_string);
    ctx.pipeline_url = repo
        .zip(run)
        .map(|(r, id)| format!("{server}/{r}/actions/runs/{id}"));
    ctx.event = event_name.map(str::to_string);
    ctx.actor = vars.owned("GITHUB_ACTOR");
    ctx.default_service = repo.and_then(|r| r.rsplit('/').next()).map(str::to_string);
    ctx.job = vars.owned("GITHUB_JOB");
    ctx.run_attempt = vars.owned("GITHUB_RUN_ATTEMPT");
    ctx.branch = match (vars.get("GITHUB_HEAD_REF"), git_ref) {
        (Some(head), _) => Some(head.to_string()),
        (None, Some(r)) if r.starts_with("refs/heads/") => Some(branch_name(r)),
        _ => None,
    };
    ctx.tag = git_ref
        .and_then(|r| r.strip_prefix("refs/tags/"))
        .map(str::to_string);
    ctx.run_key = parts(&[
        Some("gh"),
        repo,
        run,
        vars.get("GITHUB_RUN_ATTEMPT"),
        vars.get("GITHUB_JOB"),
    ]);

    let is_pr_event = event_name.is_some_and(|e| PULL_REQUEST_EVENTS.contains(&e));
    // Without a payload the PR number is still in `refs/pull/N/merge`.
    if is_pr_event {
        if let Some(n) = git_ref.and_then(pr_number_from_ref) {
            let mut change = ChangeRequest::new(n);
            change.source_branch = vars.owned("GITHUB_HEAD_REF");
            change.target_branch = vars.owned("GITHUB_BASE_REF");
            change.url = repo.map(|r| format!("{server}/{r}/pull/{n}"));
            ctx.change = Some(change);
        }
    }

    let payload = match event {
        None => {
            if warn_no_payload && (is_pr_event || event_name == Some("workflow_run")) {
                warnings.push(format!(
                    "no GitHub event payload for this {} run; using GITHUB_SHA, which is not the pull request's head commit",
                    event_name.unwrap_or("?")
                ));
            }
            return ctx;
        }
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!(
                    "the GitHub event payload (GITHUB_EVENT_PATH) is not valid JSON ({e}); using GITHUB_SHA"
                ));
                return ctx;
            }
        },
    };

    if is_pr_event {
        apply_pull_request(&mut ctx, &payload, server, warnings);
        // `refs/pull/N/merge` checks out a merge commit made by GitHub.
        if git_ref.is_some_and(|r| r.ends_with("/merge")) && github_sha != ctx.sha {
            ctx.merge_sha = github_sha;
        }
    } else if event_name == Some("workflow_run") {
        apply_workflow_run(&mut ctx, &payload, server, warnings);
    }
    ctx
}

fn pr_number_from_ref(r: &str) -> Option<u64> {
    let rest = r.strip_prefix("refs/pull/")?;
    number(rest.split('/').next())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))?
        .as_str()
        .filter(|s| !s.is_empty())
}

fn full_name(v: &Value, repo_key: &str) -> Option<String> {
    str_at(v, &[repo_key, "full_name"]).map(str::to_string)
}

fn apply_pull_request(
    ctx: &mut CiContext,
    payload: &Value,
    server: &str,
    warnings: &mut Vec<String>,
) {
    let pr = &payload["pull_request"];
    let Some(head_sha) = commit_id(str_at(pr, &["head", "sha"])) else {
        warnings.push(
            "the GitHub event payload has no pull_request.head.sha; using GITHUB_SHA".to_string(),
        );
        return;
    };
    ctx.sha = Some(head_sha);
    let Some(n) = pr["number"].as_u64().or_else(|| payload["number"].as_u64()) else {
        return;
    };
    let mut change = ChangeRequest::new(n);
    change.url = str_at(pr, &["html_url"]).map(str::to_string).or_else(|| {
        ctx.repository
            .as_deref()
            .map(|r| format!("{server}/{r}/pull/{n}"))
    });
    change.source_branch = str_at(pr, &["head", "ref"]).map(str::to_string);
    change.target_branch = str_at(pr, &["base", "ref"]).map(str::to_string);
    change.base_sha = commit_id(str_at(pr, &["base", "sha"]));
    let head_repo = full_name(&pr["head"], "repo");
    let base_repo = full_name(&pr["base"], "repo");
    if let (Some(h), Some(b)) = (&head_repo, &base_repo) {
        change.from_fork = Some(h != b);
        if h != b {
            ctx.head_repository = Some(h.clone());
        }
    }
    if change.source_branch.is_some() {
        ctx.branch.clone_from(&change.source_branch);
    }
    ctx.change = Some(change);
}

fn apply_workflow_run(
    ctx: &mut CiContext,
    payload: &Value,
    server: &str,
    warnings: &mut Vec<String>,
) {
    let run = &payload["workflow_run"];
    let Some(head_sha) = commit_id(str_at(run, &["head_sha"])) else {
        warnings.push(
            "the GitHub event payload has no workflow_run.head_sha; using GITHUB_SHA".to_string(),
        );
        return;
    };
    ctx.sha = Some(head_sha);
    ctx.branch = str_at(run, &["head_branch"]).map(str::to_string);
    let head_repo = full_name(run, "head_repository");
    let base_repo = full_name(run, "repository").or_else(|| ctx.repository.clone());
    let from_fork = head_repo
        .as_ref()
        .zip(base_repo.as_ref())
        .map(|(h, b)| h != b);
    if from_fork == Some(true) {
        ctx.head_repository = head_repo;
    }
    // GitHub leaves `pull_requests` empty when the head is in a fork.
    let Some(pr) = run["pull_requests"].as_array().and_then(|a| a.first()) else {
        return;
    };
    let Some(n) = pr["number"].as_u64() else {
        return;
    };
    let mut change = ChangeRequest::new(n);
    change.url = ctx
        .repository
        .as_deref()
        .map(|r| format!("{server}/{r}/pull/{n}"));
    change.source_branch = str_at(pr, &["head", "ref"]).map(str::to_string);
    change.target_branch = str_at(pr, &["base", "ref"]).map(str::to_string);
    change.base_sha = commit_id(str_at(pr, &["base", "sha"]));
    change.from_fork = from_fork;
    ctx.change = Some(change);
}

// ---------------------------------------------------------------------------
// Workflow commands and step outputs.

/// Escapes a workflow command's message (the part after `::`): `%`, CR and
/// LF, so the message stays on its one line and cannot start a command.
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a workflow command property value: as [`escape_data`], plus `:`
/// and `,`, which would end the value.
pub fn escape_property(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' => out.push_str("%3A"),
            ',' => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// One workflow command line, newline-terminated:
/// `::name key=value,key=value::message`. Properties with empty values are
/// left out. `name` and the keys are ours (constants), never user text.
pub fn command(name: &str, properties: &[(&str, &str)], message: &str) -> String {
    let props: Vec<String> = properties
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!(
        "::{name}{sep}{}::{}\n",
        props.join(","),
        escape_data(message)
    )
}

/// A `::warning` annotation; `properties` are `title`, `file`, `line`, …
pub fn warning(message: &str, properties: &[(&str, &str)]) -> String {
    command("warning", properties, message)
}

/// A `::notice` annotation.
pub fn notice(message: &str, properties: &[(&str, &str)]) -> String {
    command("notice", properties, message)
}

/// `::add-mask::` lines for a secret. The runner masks log lines one at a
/// time, so a multi-line secret is masked line by line as well as whole.
pub fn add_mask(secret: &str) -> String {
    let mut out = String::new();
    if secret.trim().is_empty() {
        return out;
    }
    out.push_str(&command("add-mask", &[], secret));
    if secret.contains(['\n', '\r']) {
        for line in secret.lines().map(str::trim).filter(|l| !l.is_empty()) {
            out.push_str(&command("add-mask", &[], line));
        }
    }
    out
}

/// Why an output entry could not be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutputError {
    #[error("invalid output name '{0}' (letters, digits, '-' and '_'; not starting with a digit)")]
    InvalidName(String),
    #[error("the output value for '{0}' contains its delimiter")]
    DelimiterInValue(String),
}

/// Output names GitHub accepts (the same rule as step ids).
pub fn is_valid_output_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// One `$GITHUB_OUTPUT` entry in the heredoc form, safe for any value
/// (multi-line JSON included): `name<<DELIM\nvalue\nDELIM\n`.
pub fn output_entry_with_delimiter(
    name: &str,
    value: &str,
    delimiter: &str,
) -> Result<String, OutputError> {
    if !is_valid_output_name(name) {
        return Err(OutputError::InvalidName(name.to_string()));
    }
    if delimiter.is_empty() || value.contains(delimiter) || name.contains(delimiter) {
        return Err(OutputError::DelimiterInValue(name.to_string()));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// [`output_entry_with_delimiter`] with a fresh random delimiter, as
/// `@actions/core` does: a value cannot guess it to end the entry early.
pub fn output_entry(name: &str, value: &str) -> Result<String, OutputError> {
    loop {
        let delimiter = format!("ghadelimiter_{}", uuid::Uuid::now_v7().simple());
        match output_entry_with_delimiter(name, value, &delimiter) {
            Err(OutputError::DelimiterInValue(_)) => continue,
            other => return other,
        }
    }
}

/// Appends already-rendered entries to a file such as `$GITHUB_OUTPUT` or
/// `$GITHUB_STEP_SUMMARY` (the edge: the only I/O in this module).
pub fn append_to_file(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// The step outputs the CLI writes and `action.yml` mirrors; keep the two
/// in step (a test in `tests/it/action.rs` checks `action.yml`).
pub mod outputs {
    /// The command's JSON document (`--format json` shape).
    pub const JSON: &str = "json";
    /// `deploy`: the median lead time of this deployment's changes, seconds.
    pub const LEAD_TIME: &str = "lead-time";
    /// `report`/`comment`: the band of each metric (`elite`, `high`, …).
    pub const DEPLOYMENT_FREQUENCY_LEVEL: &str = "deployment-frequency-level";
    pub const LEAD_TIME_LEVEL: &str = "lead-time-level";
    pub const CHANGE_FAILURE_RATE_LEVEL: &str = "change-failure-rate-level";
    pub const TIME_TO_RESTORE_LEVEL: &str = "time-to-restore-level";
    /// Every output above.
    pub const ALL: &[&str] = &[
        JSON,
        LEAD_TIME,
        DEPLOYMENT_FREQUENCY_LEVEL,
        LEAD_TIME_LEVEL,
        CHANGE_FAILURE_RATE_LEVEL,
        TIME_TO_RESTORE_LEVEL,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::detect::tests::env;
    use crate::ci::{EnvMap, detect, detect_with};

    const HEAD: &str = "1111111111111111111111111111111111111111";
    const MERGE: &str = "2222222222222222222222222222222222222222";
    const BASE: &str = "3333333333333333333333333333333333333333";

    /// The variables a hosted runner sets for a `pull_request` job.
    fn pr_env() -> EnvMap {
        env(&[
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            (
                "GITHUB_EVENT_PATH",
                "/home/runner/work/_temp/_github_workflow/event.json",
            ),
            ("GITHUB_SHA", MERGE),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_REF_NAME", "42/merge"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_HEAD_REF", "feat/login"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_REPOSITORY", "acme/api"),
            ("GITHUB_REPOSITORY_OWNER", "acme"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_API_URL", "https://api.github.com"),
            ("GITHUB_RUN_ID", "9876543210"),
            ("GITHUB_RUN_NUMBER", "77"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_JOB", "deploy"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_WORKFLOW", "CI"),
            ("RUNNER_OS", "Linux"),
            ("RUNNER_ARCH", "X64"),
        ])
    }

    fn pr_payload(head_repo: &str) -> String {
        serde_json::json!({
            "action": "synchronize",
            "number": 42,
            "pull_request": {
                "number": 42,
                "html_url": "https://github.com/acme/api/pull/42",
                "head": {"sha": HEAD, "ref": "feat/login", "repo": {"full_name": head_repo}},
                "base": {"sha": BASE, "ref": "main", "repo": {"full_name": "acme/api"}}
            },
            "repository": {"full_name": "acme/api"}
        })
        .to_string()
    }

    #[test]
    fn the_ref_is_the_branch_else_the_pushed_tag() {
        let tag = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_SHA", HEAD),
            ("GITHUB_REF", "refs/tags/v2.0.1"),
            ("GITHUB_REF_NAME", "v2.0.1"),
        ]))
        .unwrap();
        assert_eq!(
            (tag.branch.as_deref(), tag.ref_name()),
            (None, Some("v2.0.1"))
        );
        let pr = detect(&pr_env()).unwrap();
        // Not `42/merge`: the pull request's own branch.
        assert_eq!(pr.ref_name(), Some("feat/login"));
    }

    #[test]
    fn push_uses_github_sha() {
        let ctx = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_SHA", HEAD),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_REPOSITORY", "org/api"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ]))
        .unwrap();
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.merge_sha, None);
        assert_eq!(ctx.branch.as_deref(), Some("main"));
        assert_eq!(ctx.default_service.as_deref(), Some("api"));
        assert_eq!(
            ctx.repository_url.as_deref(),
            Some("https://github.com/org/api")
        );
        assert_eq!(ctx.api_url.as_deref(), Some("https://api.github.com"));
        assert_eq!(
            ctx.pipeline_url.as_deref(),
            Some("https://github.com/org/api/actions/runs/42")
        );
        // Unchanged from the first release: stored event ids depend on it.
        assert_eq!(ctx.run_key, ["gh", "org/api", "42", "2"]);
        assert_eq!(ctx.change, None);
    }

    #[test]
    fn pull_request_uses_the_head_sha_from_the_event_not_the_merge_sha() {
        let d = detect_with(&pr_env(), Some(&pr_payload("acme/api")));
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let ctx = d.context.unwrap();
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.merge_sha.as_deref(), Some(MERGE));
        assert_eq!(ctx.branch.as_deref(), Some("feat/login"));
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 42);
        assert_eq!(
            change.url.as_deref(),
            Some("https://github.com/acme/api/pull/42")
        );
        assert_eq!(change.source_branch.as_deref(), Some("feat/login"));
        assert_eq!(change.target_branch.as_deref(), Some("main"));
        assert_eq!(change.base_sha.as_deref(), Some(BASE));
        assert_eq!(change.from_fork, Some(false));
        assert_eq!(ctx.head_repository, None);
        assert_eq!(ctx.run_key, ["gh", "acme/api", "9876543210", "1", "deploy"]);
    }

    #[test]
    fn pull_request_from_a_fork_is_marked() {
        let ctx = detect_with(&pr_env(), Some(&pr_payload("mallory/api")))
            .context
            .unwrap();
        assert_eq!(ctx.change.unwrap().from_fork, Some(true));
        assert_eq!(ctx.head_repository.as_deref(), Some("mallory/api"));
    }

    #[test]
    fn pull_request_without_payload_falls_back_to_the_merge_sha_and_ref_number() {
        let d = detect_with(&pr_env(), None);
        let ctx = d.context.unwrap();
        assert_eq!(ctx.sha.as_deref(), Some(MERGE));
        assert_eq!(ctx.change.as_ref().map(|c| c.number), Some(42));
        assert_eq!(d.warnings.len(), 1);
    }

    #[test]
    fn malformed_event_payload_is_a_warning_and_falls_back() {
        for bad in [
            "{not json",
            "",
            "[]",
            "{\"pull_request\": {\"head\": {\"sha\": \"HEAD\"}}}",
        ] {
            let d = detect_with(&pr_env(), Some(bad));
            let ctx = d.context.unwrap();
            assert_eq!(ctx.sha.as_deref(), Some(MERGE), "{bad}");
            assert_eq!(d.warnings.len(), 1, "{bad}: {:?}", d.warnings);
            assert!(d.warnings[0].contains("GITHUB_SHA"), "{:?}", d.warnings);
            // The ref still names the pull request.
            assert_eq!(ctx.change.map(|c| c.number), Some(42));
        }
    }

    #[test]
    fn workflow_run_takes_the_triggering_runs_head_and_pr() {
        let mut vars = pr_env();
        for (k, v) in [
            ("GITHUB_EVENT_NAME", "workflow_run"),
            ("GITHUB_SHA", BASE),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_HEAD_REF", ""),
            ("GITHUB_BASE_REF", ""),
            ("GITHUB_JOB", "comment"),
        ] {
            vars.insert(k.into(), v.into());
        }
        let payload = serde_json::json!({
            "action": "completed",
            "workflow_run": {
                "id": 111, "event": "pull_request", "head_sha": HEAD,
                "head_branch": "feat/login",
                "pull_requests": [{"number": 42, "head": {"ref": "feat/login", "sha": HEAD},
                                    "base": {"ref": "main", "sha": BASE}}],
                "head_repository": {"full_name": "acme/api"},
                "repository": {"full_name": "acme/api"}
            }
        })
        .to_string();
        let d = detect_with(&vars, Some(&payload));
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let ctx = d.context.unwrap();
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.branch.as_deref(), Some("feat/login"));
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 42);
        assert_eq!(change.target_branch.as_deref(), Some("main"));
        assert_eq!(change.from_fork, Some(false));

        // From a fork, GitHub sends no pull_requests: the fork and branch remain.
        let fork = serde_json::json!({
            "workflow_run": {
                "head_sha": HEAD, "head_branch": "main", "pull_requests": [],
                "head_repository": {"full_name": "mallory/api"},
                "repository": {"full_name": "acme/api"}
            }
        })
        .to_string();
        let ctx = detect_with(&vars, Some(&fork)).context.unwrap();
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.change, None);
        assert_eq!(ctx.head_repository.as_deref(), Some("mallory/api"));
        assert_eq!(ctx.branch.as_deref(), Some("main"));
    }

    #[test]
    fn enterprise_server_api_url() {
        let ctx = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://ghe.example.com/"),
            ("GITHUB_REPOSITORY", "team/svc"),
        ]))
        .unwrap();
        assert_eq!(
            ctx.api_url.as_deref(),
            Some("https://ghe.example.com/api/v3")
        );
        assert_eq!(
            ctx.repository_url.as_deref(),
            Some("https://ghe.example.com/team/svc")
        );
    }

    #[test]
    fn escaping_hostile_messages() {
        let hostile = "50% done\r\n::error::pwned\n::add-mask::x";
        let line = warning(hostile, &[]);
        assert_eq!(
            line,
            "::warning::50%25 done%0D%0A::error::pwned%0A::add-mask::x\n"
        );
        // One line: nothing after the first newline can start a command.
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        // Already-escaped text is escaped again, not decoded.
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn escaping_hostile_properties() {
        let line = warning(
            "flaky: a::b",
            &[
                ("title", "t,file=/etc/passwd::boom"),
                ("file", "src/a b.rs"),
                ("line", ""),
            ],
        );
        assert_eq!(
            line,
            "::warning title=t%2Cfile=/etc/passwd%3A%3Aboom,file=src/a b.rs::flaky: a::b\n"
        );
        assert_eq!(escape_property("100%\r\n:,"), "100%25%0D%0A%3A%2C");
        assert_eq!(notice("", &[]), "::notice::\n");
        let long = "é".repeat(10_000);
        assert_eq!(escape_data(&long), long);
    }

    #[test]
    fn masks_each_line_of_a_multiline_secret() {
        assert_eq!(add_mask("s3cr%t"), "::add-mask::s3cr%25t\n");
        assert_eq!(
            add_mask("line1\nline2\n"),
            "::add-mask::line1%0Aline2%0A\n::add-mask::line1\n::add-mask::line2\n"
        );
        assert_eq!(add_mask("  "), "");
    }

    #[test]
    fn output_entries_survive_multiline_and_hostile_values() {
        let value = "{\n  \"a\": 1\n}\nEOF\nname=evil";
        let entry = output_entry_with_delimiter("json", value, "ghadelimiter_x").unwrap();
        assert_eq!(
            entry,
            "json<<ghadelimiter_x\n{\n  \"a\": 1\n}\nEOF\nname=evil\nghadelimiter_x\n"
        );
        assert_eq!(
            output_entry_with_delimiter("json", "ends ghadelimiter_x", "ghadelimiter_x"),
            Err(OutputError::DelimiterInValue("json".into()))
        );
        for bad in ["", "1x", "a b", "a\nb", "a<<b", "a=b"] {
            assert!(output_entry(bad, "v").is_err(), "{bad:?}");
        }
        let a = output_entry("lead-time", "3600").unwrap();
        let b = output_entry("lead-time", "3600").unwrap();
        assert_ne!(a, b, "delimiters are random");
        let delim = a.lines().last().unwrap();
        assert!(
            delim.starts_with("ghadelimiter_") && delim.len() > 20,
            "{a}"
        );
        assert_eq!(a, format!("lead-time<<{delim}\n3600\n{delim}\n"));
    }

    #[test]
    fn appends_to_the_output_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        append_to_file(&path, "a<<D\n1\nD\n").unwrap();
        append_to_file(&path, "b<<D\n2\nD\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a<<D\n1\nD\nb<<D\n2\nD\n"
        );
    }
}
