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

use super::{
    Deployed, DeployedList, Fetched, Imported, labels, read_issues, root_cause, severity_label,
    text, time,
};
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
                incident(item, id)
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

impl GitLab {
    /// The project's finished deployments (of `environment` when given):
    /// `success` and `failed`; the rest (created, running, canceled,
    /// skipped, blocked) are left out, with why.
    pub fn deployments(&self, environment: Option<&str>) -> Result<DeployedList, ForgeError> {
        let project = crate::forge::gitlab::encode_project(&self.project);
        let mut url = self.api.url(&format!("projects/{project}/deployments"))?;
        url.query_pairs_mut()
            .append_pair("order_by", "id")
            .append_pair("sort", "asc")
            .append_pair("per_page", "100");
        if let Some(e) = environment {
            url.query_pairs_mut().append_pair("environment", e);
        }
        let mut out = DeployedList::default();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let page = self.api.get_page("list the project's deployments", &url)?;
            out.requests += 1;
            for d in &page.items {
                let name = d
                    .get("id")
                    .and_then(Value::as_u64)
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                match gitlab_deployment(d, &name) {
                    Ok(dep) => out.deployments.push(dep),
                    Err(why) => out.skipped.push(why),
                }
            }
            next = page.next;
        }
        Ok(out)
    }
}

fn gitlab_deployment(d: &Value, name: &str) -> Result<Deployed, String> {
    // The deployment's own status; older GitLab only had the job's.
    let status = text(d, &["status"])
        .or_else(|| text(d, &["deployable", "status"]))
        .unwrap_or_default();
    let success = match status.as_str() {
        "success" => true,
        "failed" => false,
        other => return Err(format!("not finished ({other})")),
    };
    let finished_at = time(d, &["finished_at"])
        .or_else(|| time(d, &["deployable", "finished_at"]))
        .or_else(|| time(d, &["updated_at"]))
        .ok_or("no finish time")?;
    let started_at = time(d, &["deployable", "started_at"])
        .or_else(|| time(d, &["created_at"]))
        .unwrap_or(finished_at)
        .min(finished_at);
    Ok(Deployed {
        name: name.to_string(),
        sha: Some(text(d, &["sha"]).ok_or("no sha")?),
        environment: text(d, &["environment", "name"]),
        started_at,
        finished_at,
        success,
        version: text(d, &["ref"]),
    })
}
