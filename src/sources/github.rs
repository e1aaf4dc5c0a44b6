//! GitHub issues with a label as incidents, as Four Keys reads them:
//! opened is the start, closed the resolution, a body line `root cause:
//! SHA` the commit that caused it. `GET /repos/{owner}/{repo}/issues`
//! (`state=all`, sorted by update), 100 per page, `Link` pagination.
//!
//! The cursor is the latest `updated_at` read: the API's `since` returns
//! the issues updated at or after it, so a rerun reads that one issue
//! again and nothing else.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{
    Deployed, DeployedList, Fetched, Imported, labels, read_issues, root_cause, severity_label,
    text, time,
};
use crate::forge::ForgeError;
use crate::forge::api::Api;
use crate::http::HttpSettings;

pub const DEFAULT_URL: &str = "https://api.github.com";
pub const DEFAULT_LABEL: &str = "incident";

/// GitHub's REST API at `base`, with a bearer token and the API version.
pub fn api(base: &str, token: SecretString, http: HttpSettings) -> Result<Api, ForgeError> {
    let value = format!("Bearer {}", token.expose_secret().trim());
    Api::new(
        "GitHub",
        base,
        "authorization",
        value,
        token,
        &[
            ("accept", "application/vnd.github+json"),
            ("x-github-api-version", "2022-11-28"),
        ],
        http,
    )
}

pub struct GitHub {
    api: Api,
    /// `owner/repo`.
    repository: String,
    label: String,
}

impl GitHub {
    pub fn new(
        base: &str,
        repository: &str,
        label: &str,
        token: SecretString,
        http: HttpSettings,
    ) -> Result<GitHub, ForgeError> {
        Ok(GitHub {
            api: api(base, token, http)?,
            repository: repository.to_string(),
            label: label.to_string(),
        })
    }

    pub fn source(&self) -> String {
        format!(
            "github {} {} label {}",
            self.api.base.as_str().trim_end_matches('/'),
            self.repository,
            self.label
        )
    }

    /// Every issue with the label updated at or after `since` (RFC 3339).
    pub fn fetch(&self, since: &str) -> Result<Fetched, ForgeError> {
        let mut url = self.api.url(&format!("repos/{}/issues", self.repository))?;
        url.query_pairs_mut()
            .append_pair("labels", &self.label)
            .append_pair("state", "all")
            .append_pair("sort", "updated")
            .append_pair("direction", "asc")
            .append_pair("since", since)
            .append_pair("per_page", "100");
        read_issues(
            &self.api,
            "list the repository's issues",
            url,
            since,
            |item| {
                let id = format!(
                    "github:{}#{}",
                    self.repository,
                    item.get("number").and_then(Value::as_u64).unwrap_or(0)
                );
                if item.get("pull_request").is_some_and(|p| !p.is_null()) {
                    Err("a pull request".into())
                } else {
                    issue(item, id)
                }
            },
        )
    }
}

/// One issue; closed as not planned, it is not an incident.
fn issue(v: &Value, id: String) -> Result<Imported, String> {
    let started_at = time(v, &["created_at"]).ok_or("no created_at")?;
    let resolved_at = match text(v, &["state"]).as_deref() {
        Some("closed") => {
            if text(v, &["state_reason"]).as_deref() == Some("not_planned") {
                return Err("closed as not planned".into());
            }
            Some(
                time(v, &["closed_at"])
                    .ok_or("closed without closed_at")?
                    .max(started_at),
            )
        }
        Some("open") => None,
        other => return Err(format!("unknown state {other:?}")),
    };
    let labels = labels(v);
    Ok(Imported {
        id,
        service: None,
        started_at,
        resolved_at,
        severity: severity_label(&labels),
        title: text(v, &["title"]),
        root_cause: text(v, &["body"]).as_deref().and_then(root_cause),
    })
}

impl GitHub {
    /// The repository's deployments (of `environment` when given), each with
    /// its outcome from its statuses: the first `success` is its finish, else
    /// the last `failure` or `error`; one with neither is not finished.
    /// One request per page of deployments and one per deployment.
    pub fn deployments(&self, environment: Option<&str>) -> Result<DeployedList, ForgeError> {
        let mut url = self
            .api
            .url(&format!("repos/{}/deployments", self.repository))?;
        url.query_pairs_mut().append_pair("per_page", "100");
        if let Some(e) = environment {
            url.query_pairs_mut().append_pair("environment", e);
        }
        let mut out = DeployedList::default();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let page = self
                .api
                .get_page("list the repository's deployments", &url)?;
            out.requests += 1;
            for d in &page.items {
                let id = d.get("id").and_then(Value::as_u64).unwrap_or(0);
                let mut statuses = self.api.url(&format!(
                    "repos/{}/deployments/{id}/statuses",
                    self.repository
                ))?;
                statuses.query_pairs_mut().append_pair("per_page", "100");
                let mut all = Vec::new();
                let mut next_status = Some(statuses);
                while let Some(u) = next_status.take() {
                    let st = self.api.get_page("list a deployment's statuses", &u)?;
                    out.requests += 1;
                    all.extend(st.items);
                    next_status = st.next;
                }
                match deployment(d, &all) {
                    Ok(dep) => out.deployments.push(dep),
                    Err(why) => out.skipped.push(why),
                }
            }
            next = page.next;
        }
        Ok(out)
    }

    /// The repository's published releases (drafts and prereleases left out).
    pub fn releases(&self) -> Result<DeployedList, ForgeError> {
        let mut url = self
            .api
            .url(&format!("repos/{}/releases", self.repository))?;
        url.query_pairs_mut().append_pair("per_page", "100");
        let mut out = DeployedList::default();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let page = self.api.get_page("list the repository's releases", &url)?;
            out.requests += 1;
            for r in &page.items {
                let tag = text(r, &["tag_name"]).unwrap_or_default();
                let flag = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
                if flag("draft") {
                    out.skipped.push("a draft".into());
                    continue;
                }
                if flag("prerelease") {
                    out.skipped.push("a prerelease".into());
                    continue;
                }
                let Some(at) = time(r, &["published_at"]) else {
                    out.skipped.push("not published".into());
                    continue;
                };
                out.deployments.push(Deployed {
                    name: tag.clone(),
                    sha: None,
                    environment: None,
                    started_at: at,
                    finished_at: at,
                    success: true,
                    version: Some(tag),
                });
            }
            next = page.next;
        }
        Ok(out)
    }
}

/// A deployment and its statuses (newest first, as the API lists them).
fn deployment(d: &Value, statuses: &[Value]) -> Result<Deployed, String> {
    let sha = text(d, &["sha"]).ok_or("no sha")?;
    let started_at = time(d, &["created_at"]).ok_or("no created_at")?;
    let state = |s: &Value| text(s, &["state"]).unwrap_or_default();
    let at = |s: &Value| time(s, &["created_at"]);
    let success = statuses
        .iter()
        .filter(|s| state(s) == "success")
        .filter_map(at)
        .min();
    let failure = statuses
        .iter()
        .filter(|s| matches!(state(s).as_str(), "failure" | "error"))
        .filter_map(at)
        .max();
    let (finished_at, success) = match (success, failure) {
        (Some(t), _) => (t, true),
        (None, Some(t)) => (t, false),
        (None, None) => return Err("not finished (no success, failure or error status)".into()),
    };
    Ok(Deployed {
        name: d
            .get("id")
            .and_then(Value::as_u64)
            .map(|i| i.to_string())
            .unwrap_or_default(),
        sha: Some(sha),
        environment: text(d, &["environment"]),
        started_at: started_at.min(finished_at),
        finished_at,
        success,
        version: text(d, &["ref"]),
    })
}
