//! Which CI is this, and the one place that reads a file for it.

use std::io::Read;
use std::path::Path;

use super::context::{CiContext, Detection, EnvMap};
use super::{azure, bitbucket, buildkite, circleci, github, gitlab, jenkins};

/// Event payloads are a few kilobytes; a file this large is not one.
const MAX_EVENT_FILE: u64 = 32 * 1024 * 1024;

/// Read access to the environment map: empty values count as unset, as CI
/// systems export many variables empty.
#[derive(Clone, Copy)]
pub(crate) struct Vars<'a>(pub(crate) &'a EnvMap);

impl<'a> Vars<'a> {
    pub(crate) fn get(self, key: &str) -> Option<&'a str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub(crate) fn owned(self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    /// The first of `keys` that is set.
    pub(crate) fn first(self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| self.get(k))
    }

    pub(crate) fn is(self, key: &str, value: &str) -> bool {
        self.get(key).is_some_and(|v| v.eq_ignore_ascii_case(value))
    }
}

/// The parts that are set, as owned strings (for `run_key`).
pub(crate) fn parts(parts: &[Option<&str>]) -> Vec<String> {
    parts.iter().flatten().map(|s| s.to_string()).collect()
}

/// A commit id as CI variables give it: 40 (SHA-1) or 64 (SHA-256) hex
/// digits, lowercased. Anything else (`HEAD`, a branch name) is not one.
pub(crate) fn commit_id(value: Option<&str>) -> Option<String> {
    let v = value?;
    ((v.len() == 40 || v.len() == 64) && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| v.to_ascii_lowercase())
}

/// A pull/merge request number; `false`, `0` and non-numbers are none.
pub(crate) fn number(value: Option<&str>) -> Option<u64> {
    value?.parse().ok().filter(|n| *n > 0)
}

/// `refs/heads/x` → `x`; other refs and plain names unchanged.
pub(crate) fn branch_name(r: &str) -> String {
    r.strip_prefix("refs/heads/").unwrap_or(r).to_string()
}

/// Detects the CI provider from its variables alone; `None` outside CI.
///
/// Without GitHub's event payload a `pull_request` run reports the merge
/// commit `GITHUB_SHA`; use [`detect_with`] or [`detect_with_event_file`] to
/// get the pull request's head commit.
pub fn detect(env: &EnvMap) -> Option<CiContext> {
    detect_with(env, None).context
}

/// Detects the CI provider from its variables and, on GitHub Actions, the
/// already-read event payload (the contents of `GITHUB_EVENT_PATH`).
///
/// Pure: the same inputs give the same answer. A malformed payload is a
/// warning and detection falls back to the variables.
pub fn detect_with(env: &EnvMap, github_event: Option<&str>) -> Detection {
    detect_impl(env, github_event, true)
}

/// `warn_no_payload`: say that a pull-request run lacks its payload (not when
/// the caller already said why it could not read it).
fn detect_impl(env: &EnvMap, github_event: Option<&str>, warn_no_payload: bool) -> Detection {
    let vars = Vars(env);
    let mut warnings = Vec::new();
    // GitHub and GitLab first: their runners may run Jenkins-like tools and
    // set `JENKINS_URL`-style variables of their own; Jenkins last because
    // `JENKINS_URL` leaks into the environment of anything it starts.
    let context = if vars.is("GITHUB_ACTIONS", "true") {
        Some(github::detect(
            vars,
            github_event,
            warn_no_payload,
            &mut warnings,
        ))
    } else if vars.is("GITLAB_CI", "true") {
        Some(gitlab::detect(vars))
    } else if vars.is("BUILDKITE", "true") {
        Some(buildkite::detect(vars))
    } else if vars.is("CIRCLECI", "true") {
        Some(circleci::detect(vars))
    } else if vars.is("TF_BUILD", "true") {
        Some(azure::detect(vars))
    } else if vars.get("BITBUCKET_BUILD_NUMBER").is_some() && vars.get("BITBUCKET_COMMIT").is_some()
    {
        Some(bitbucket::detect(vars))
    } else if vars.first(&["JENKINS_URL", "JENKINS_HOME"]).is_some() {
        Some(jenkins::detect(vars))
    } else {
        None
    };
    Detection { context, warnings }
}

/// Detection at the edge: reads GitHub's event payload from
/// `GITHUB_EVENT_PATH` (only on GitHub Actions), then calls [`detect_with`].
/// An unreadable file is a warning, never an error.
pub fn detect_with_event_file(env: &EnvMap) -> Detection {
    let vars = Vars(env);
    let mut read_warning = None;
    let payload = match vars.get("GITHUB_EVENT_PATH") {
        Some(path) if vars.is("GITHUB_ACTIONS", "true") => match read_event_file(Path::new(path)) {
            Ok(text) => Some(text),
            Err(e) => {
                read_warning = Some(format!(
                    "could not read the GitHub event payload {path} ({e}); using GITHUB_SHA"
                ));
                None
            }
        },
        _ => None,
    };
    let mut detection = detect_impl(env, payload.as_deref(), read_warning.is_none());
    detection.warnings.splice(0..0, read_warning);
    detection
}

/// Reads an event payload file, bounded in size.
pub fn read_event_file(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_EVENT_FILE)
        .read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(crate) fn with(mut base: EnvMap, pairs: &[(&str, &str)]) -> EnvMap {
        base.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        base
    }

    #[test]
    fn outside_ci_is_none() {
        assert!(detect(&env(&[("CI", "true"), ("HOME", "/root")])).is_none());
        assert!(detect(&env(&[("GITHUB_ACTIONS", "false")])).is_none());
        assert!(detect(&env(&[("GITLAB_CI", "")])).is_none());
    }

    #[test]
    fn provider_order_prefers_the_real_runner_over_leaked_jenkins_vars() {
        let ctx = detect(&env(&[
            ("JENKINS_URL", "https://jenkins.example.com/"),
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", &"a".repeat(40)),
        ]))
        .unwrap();
        assert_eq!(ctx.provider.as_str(), "gitlab-ci");
    }

    #[test]
    fn commit_ids_and_numbers() {
        assert_eq!(commit_id(Some("HEAD")), None);
        assert_eq!(
            commit_id(Some(&"AB".repeat(20))).as_deref(),
            Some("ab".repeat(20).as_str())
        );
        assert_eq!(commit_id(Some(&"a".repeat(64))).map(|s| s.len()), Some(64));
        assert_eq!(number(Some("false")), None);
        assert_eq!(number(Some("0")), None);
        assert_eq!(number(Some("17")), Some(17));
        assert_eq!(branch_name("refs/heads/feat/x"), "feat/x");
        assert_eq!(branch_name("refs/tags/v1"), "refs/tags/v1");
    }

    #[test]
    fn missing_event_file_is_a_warning() {
        let d = detect_with_event_file(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_SHA", &"c".repeat(40)),
            ("GITHUB_EVENT_PATH", "/nonexistent/dorameter/event.json"),
        ]));
        assert_eq!(d.context.unwrap().sha, Some("c".repeat(40)));
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        assert!(d.warnings[0].contains("/nonexistent/dorameter/event.json"));
    }
}
