//! Incidents from the tools that hold them (SPEC §11): PagerDuty's REST API
//! v2, GitHub issues with a label (Four Keys' way), GitLab incident issues.
//! Each source lists what changed since its cursor and reads each item as an
//! [`Imported`] incident; `app::incident_import` records them.

pub mod github;
pub mod gitlab;
pub mod pagerduty;
pub mod pulls;

use chrono::{DateTime, Utc};
use reqwest::Url;
use serde_json::Value;

use crate::forge::ForgeError;
use crate::forge::api::Api;

/// One incident as a source gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// `pagerduty:PT4KHLK`, `github:owner/repo#12`, `gitlab:group/project#7`.
    pub id: String,
    /// The service it affects; `None`: the import's default service.
    pub service: Option<String>,
    pub started_at: DateTime<Utc>,
    /// `None` while it is open.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The severity as the source names it (before `[incident_import]
    /// severity` maps it).
    pub severity: Option<String>,
    pub title: Option<String>,
    /// The commit its issue names as root cause (`root cause: SHA`), as
    /// written: full or abbreviated.
    pub root_cause: Option<String>,
}

/// A deployment or release a forge recorded (`backfill --from-github-…`).
#[derive(Clone, Debug, PartialEq)]
pub struct Deployed {
    /// The forge's id for it (a deployment id, a release's tag).
    pub name: String,
    /// The deployed commit; a release's is its tag, resolved by the caller.
    pub sha: Option<String>,
    /// The forge's environment (`production`); `None` for a release.
    pub environment: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub success: bool,
    /// The release's or tag's name, the deployment's ref.
    pub version: Option<String>,
}

/// What a deployment list read: the finished ones, what was left out and
/// why, and the requests made.
#[derive(Debug, Default)]
pub struct DeployedList {
    pub deployments: Vec<Deployed>,
    pub skipped: Vec<String>,
    pub requests: usize,
}

/// What a source read: the incidents, what it left out and why, the
/// requests it made, and where the next import starts.
#[derive(Debug, Default)]
pub struct Fetched {
    pub incidents: Vec<Imported>,
    /// Why each item read is not an incident to record (counted per
    /// reason in the summary).
    pub skipped: Vec<String>,
    pub requests: usize,
    /// The cursor to store once the incidents are recorded.
    pub cursor: String,
}

/// Pages read at most from an issue list (100 items each).
const MAX_PAGES: usize = 1000;

/// Reads an issue list sorted by update, from `first` through its next
/// pages: `read` gives each item's incident, or why it is not one. The cursor is the latest `updated_at` read, else `since`: the APIs'
/// `since`/`updated_after` are inclusive, so the next import reads that
/// one item again and nothing older.
pub(crate) fn read_issues(
    api: &Api,
    what: &str,
    first: Url,
    since: &str,
    read: impl Fn(&Value) -> Result<Imported, String>,
) -> Result<Fetched, ForgeError> {
    let mut out = Fetched {
        cursor: since.to_string(),
        ..Fetched::default()
    };
    let mut latest = DateTime::parse_from_rfc3339(since)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    let mut next = Some(first);
    while let Some(url) = next.take() {
        if out.requests == MAX_PAGES {
            break;
        }
        let page = api.get_page(what, &url)?;
        out.requests += 1;
        for item in &page.items {
            if let Some(u) = time(item, &["updated_at"]) {
                if latest.is_none_or(|l| u > l) {
                    latest = Some(u);
                    out.cursor = api_time(u);
                }
            }
            match read(item) {
                Ok(i) => out.incidents.push(i),
                Err(reason) => out.skipped.push(reason),
            }
        }
        next = page.next;
    }
    Ok(out)
}

/// A string field at `path`, trimmed, `None` when missing or empty.
pub(crate) fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut at = v;
    for p in path {
        at = at.get(p)?;
    }
    at.as_str()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// An RFC 3339 time field at `path`.
pub(crate) fn time(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    text(v, path)
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// An issue's label names (GitLab gives strings, GitHub objects).
pub(crate) fn labels(v: &Value) -> Vec<String> {
    v.get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| {
            l.as_str()
                .map(str::to_string)
                .or_else(|| text(l, &["name"]))
        })
        .collect()
}

/// A time as the APIs take it: `2026-01-02T03:04:05Z`.
pub(crate) fn api_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The commit an issue's text names as root cause, Four Keys' convention:
/// a line `root cause: SHA` (any case), 7 to 40 hex digits.
pub fn root_cause(body: &str) -> Option<String> {
    body.lines().find_map(|line| {
        // Markdown emphasis and code marks around the words or the sha.
        let line: String = line
            .chars()
            .filter(|c| !matches!(c, '*' | '_' | '`'))
            .collect();
        let line = line.trim().trim_start_matches(['-', '>', ' ']);
        let lower = line.to_ascii_lowercase();
        let rest = lower.strip_prefix("root cause")?;
        let rest = rest.trim_start().strip_prefix(':')?.trim();
        let sha: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        let ends = rest[sha.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        ((7..=40).contains(&sha.len()) && ends).then_some(sha)
    })
}

/// The severity a label names: `severity::high`, `severity:high`,
/// `severity/high`, `sev:1` give the part after the separator; `sev1`,
/// `SEV-2` are the severity themselves.
pub fn severity_label(labels: &[String]) -> Option<String> {
    labels.iter().find_map(|l| {
        let lower = l.trim().to_ascii_lowercase();
        for prefix in ["severity", "sev"] {
            let Some(rest) = lower.strip_prefix(prefix) else {
                continue;
            };
            if let Some(v) = rest
                .strip_prefix("::")
                .or_else(|| rest.strip_prefix(':'))
                .or_else(|| rest.strip_prefix('/'))
                .or_else(|| rest.strip_prefix('='))
            {
                let v = v.trim();
                return (!v.is_empty()).then(|| v.to_string());
            }
            let digits = rest.trim_start_matches('-');
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                return Some(l.trim().to_string());
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cause_lines() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            root_cause(&format!("Checkout down.\n\nRoot cause: {sha}\n")),
            Some(sha.into())
        );
        assert_eq!(
            root_cause("- root cause:   abc1234."),
            Some("abc1234".into())
        );
        assert_eq!(
            root_cause("**Root cause:** `abc1234`"),
            Some("abc1234".into())
        );
        for no in [
            "root cause: unknown",
            "root cause: abc12",
            "the root cause: abc1234 was",
            "root cause: abc1234xyz",
            "",
        ] {
            assert_eq!(root_cause(no), None, "{no:?}");
        }
    }

    #[test]
    fn severity_labels() {
        let l = |v: &[&str]| severity_label(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&["bug", "severity::high"]), Some("high".into()));
        assert_eq!(l(&["Severity: Critical"]), Some("critical".into()));
        assert_eq!(l(&["sev1"]), Some("sev1".into()));
        assert_eq!(l(&["SEV-2"]), Some("SEV-2".into()));
        assert_eq!(l(&["incident", "several", "severity"]), None);
    }
}
