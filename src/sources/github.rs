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

use super::{Fetched, Imported, labels, read_issues, root_cause, severity_label, text, time};
use crate::forge::ForgeError;
use crate::forge::api::Api;
use crate::http::HttpSettings;

pub const DEFAULT_URL: &str = "https://api.github.com";
pub const DEFAULT_LABEL: &str = "incident";
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
        let value = format!("Bearer {}", token.expose_secret().trim());
        let api = Api::new(
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
        )?;
        Ok(GitHub {
            api,
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
                let read = if item.get("pull_request").is_some_and(|p| !p.is_null()) {
                    Err("a pull request".into())
                } else {
                    issue(item, id.clone())
                };
                (id, read)
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
