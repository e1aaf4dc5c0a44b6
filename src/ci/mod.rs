//! CI detection: a pure function of an environment map, called once at the
//! edge and passed down as a value. Core code never reads `std::env`.

use std::collections::HashMap;

pub type EnvMap = HashMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    GitHubActions,
    GitLabCi,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHubActions => "github-actions",
            Provider::GitLabCi => "gitlab-ci",
        }
    }
}

/// What the CI run tells us about the deployment being recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CiContext {
    pub provider: Provider,
    pub sha: Option<String>,
    /// Credentials stripped.
    pub repository_url: Option<String>,
    pub pipeline_id: Option<String>,
    pub pipeline_url: Option<String>,
    pub actor: Option<String>,
    pub default_service: Option<String>,
    /// The job's name (GitHub `GITHUB_JOB`, GitLab `CI_JOB_NAME`).
    pub job: Option<String>,
    /// The run attempt (GitHub `GITHUB_RUN_ATTEMPT`).
    pub run_attempt: Option<String>,
    /// Stable parts that identify this job run, for deterministic event ids.
    pub run_key: Vec<String>,
}

fn get<'a>(env: &'a EnvMap, key: &str) -> Option<&'a str> {
    env.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// Detects the CI provider from its variables; `None` outside CI.
pub fn detect(env: &EnvMap) -> Option<CiContext> {
    if get(env, "GITHUB_ACTIONS") == Some("true") {
        let server = get(env, "GITHUB_SERVER_URL").unwrap_or("https://github.com");
        let repo = get(env, "GITHUB_REPOSITORY");
        let run = get(env, "GITHUB_RUN_ID");
        return Some(CiContext {
            provider: Provider::GitHubActions,
            sha: get(env, "GITHUB_SHA").map(str::to_string),
            repository_url: repo.map(|r| strip_credentials(&format!("{server}/{r}"))),
            pipeline_id: run.map(str::to_string),
            pipeline_url: repo
                .zip(run)
                .map(|(r, id)| format!("{server}/{r}/actions/runs/{id}")),
            actor: get(env, "GITHUB_ACTOR").map(str::to_string),
            default_service: repo.and_then(|r| r.rsplit('/').next()).map(str::to_string),
            job: get(env, "GITHUB_JOB").map(str::to_string),
            run_attempt: get(env, "GITHUB_RUN_ATTEMPT").map(str::to_string),
            run_key: [
                Some("gh"),
                repo,
                run,
                get(env, "GITHUB_RUN_ATTEMPT"),
                get(env, "GITHUB_JOB"),
            ]
            .into_iter()
            .flatten()
            .map(str::to_string)
            .collect(),
        });
    }
    if get(env, "GITLAB_CI") == Some("true") {
        return Some(CiContext {
            provider: Provider::GitLabCi,
            sha: get(env, "CI_COMMIT_SHA").map(str::to_string),
            repository_url: get(env, "CI_PROJECT_URL").map(strip_credentials),
            pipeline_id: get(env, "CI_PIPELINE_ID").map(str::to_string),
            pipeline_url: get(env, "CI_PIPELINE_URL").map(str::to_string),
            actor: get(env, "GITLAB_USER_LOGIN").map(str::to_string),
            default_service: get(env, "CI_PROJECT_NAME").map(str::to_string),
            job: get(env, "CI_JOB_NAME").map(str::to_string),
            run_attempt: None,
            run_key: [Some("gl"), get(env, "CI_PROJECT_ID"), get(env, "CI_JOB_ID")]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect(),
        });
    }
    None
}

/// Removes user and password from an http(s) URL, and the password from any
/// other URL with an authority. `git@host:path` (no secret in it) is kept.
pub fn strip_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let scheme = &url[..scheme_end];
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    let host_and_path = &rest[at + 1..];
    if scheme.starts_with("http") {
        format!("{scheme}://{host_and_path}")
    } else {
        let user = userinfo.split(':').next().unwrap_or("");
        format!("{scheme}://{user}@{host_and_path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn github_and_gitlab() {
        let gh = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REPOSITORY", "org/api"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ]))
        .unwrap();
        assert_eq!(gh.default_service.as_deref(), Some("api"));
        assert_eq!(
            gh.pipeline_url.as_deref(),
            Some("https://github.com/org/api/actions/runs/42")
        );
        assert_eq!(gh.run_key, ["gh", "org/api", "42", "2"]);
        let gl = detect(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_URL", "https://u:tok@gitlab.example.com/g/p"),
        ]))
        .unwrap();
        assert_eq!(
            gl.repository_url.as_deref(),
            Some("https://gitlab.example.com/g/p")
        );
        assert!(detect(&env(&[("CI", "true")])).is_none());
    }

    #[test]
    fn strips_credentials() {
        assert_eq!(
            strip_credentials("https://x-access-token:ghs_abc@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(strip_credentials("ssh://git:pw@host/r"), "ssh://git@host/r");
        assert_eq!(
            strip_credentials("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            strip_credentials("https://github.com/o/r@v1"),
            "https://github.com/o/r@v1"
        );
    }
}
