//! GitLab incidents: `GET /projects/:id/issues?issue_type=incident`, sorted
//! by update, 100 per page (`Link`, else `X-Next-Page`). Opened is the
//! start, closed the resolution, the incident's `severity` (`UNKNOWN`
//! left out) or a `severity::…` label the severity, a description line
//! `root cause: SHA` the commit that caused it.
//!
//! The cursor is the latest `updated_at` read (`updated_after` is
//! inclusive: a rerun reads that one incident again).

use secrecy::SecretString;
use serde_json::Value;

use super::{Fetched, Imported, labels, read_issues, root_cause, severity_label, text, time};
use crate::forge::ForgeError;
use crate::forge::api::Api;
use crate::http::HttpSettings;

pub const DEFAULT_URL: &str = "https://gitlab.com/api/v4";
pub struct GitLab {
    api: Api,
    /// The project's numeric id or path, as given.
    project: String,
}

impl GitLab {
    pub fn new(
        base: &str,
        project: &str,
        token: SecretString,
        http: HttpSettings,
    ) -> Result<GitLab, ForgeError> {
        Ok(GitLab {
            api: crate::forge::gitlab::api(base, token, http)?,
            project: project.to_string(),
        })
    }

    pub fn source(&self) -> String {
        format!(
            "gitlab {} {}",
            self.api.base.as_str().trim_end_matches('/'),
            self.project
        )
    }

    /// Every incident updated at or after `since` (RFC 3339).
    pub fn fetch(&self, since: &str) -> Result<Fetched, ForgeError> {
        let project = crate::forge::gitlab::encode_project(&self.project);
        let mut url = self.api.url(&format!("projects/{project}/issues"))?;
        url.query_pairs_mut()
            .append_pair("issue_type", "incident")
            .append_pair("scope", "all")
            .append_pair("order_by", "updated_at")
            .append_pair("sort", "asc")
            .append_pair("updated_after", since)
            .append_pair("per_page", "100");
        read_issues(
            &self.api,
            "list the project's incidents",
            url,
            since,
            |item| {
                let id = format!(
                    "gitlab:{}#{}",
                    text(item, &["references", "full"])
                        .and_then(|r| r.split('#').next().map(str::to_string))
                        .unwrap_or_else(|| self.project.clone()),
                    item.get("iid").and_then(Value::as_u64).unwrap_or(0)
                );
                (id.clone(), incident(item, id))
            },
        )
    }
}

fn incident(v: &Value, id: String) -> Result<Imported, String> {
    let started_at = time(v, &["created_at"]).ok_or("no created_at")?;
    let resolved_at = match text(v, &["state"]).as_deref() {
        Some("closed") => Some(
            time(v, &["closed_at"])
                .or_else(|| time(v, &["updated_at"]))
                .ok_or("closed without closed_at")?
                .max(started_at),
        ),
        Some("opened") => None,
        other => return Err(format!("unknown state {other:?}")),
    };
    let labels = labels(v);
    let severity = text(v, &["severity"])
        .filter(|s| !s.eq_ignore_ascii_case("unknown"))
        .map(|s| s.to_ascii_lowercase())
        .or_else(|| severity_label(&labels));
    Ok(Imported {
        id,
        service: None,
        started_at,
        resolved_at,
        severity,
        title: text(v, &["title"]),
        root_cause: text(v, &["description"]).as_deref().and_then(root_cause),
    })
}
