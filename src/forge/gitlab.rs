//! GitLab: the sticky note on a merge request through the REST API v4
//! (`PRIVATE-TOKEN`). Only a note with our marker *and* written by the
//! token's own user (`GET /user`) is updated.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::http::HttpSettings;

use super::api::{Api, is_ours};
use super::{ForgeError, Posted};

/// Most pages of notes read (100 each).
const MAX_PAGES: usize = 100;

/// The REST API v4 at `base` with `token` as `PRIVATE-TOKEN`.
pub fn api(base: &str, token: SecretString, settings: HttpSettings) -> Result<Api, ForgeError> {
    let value = token.expose_secret().trim().to_string();
    Api::new("GitLab", base, "private-token", value, token, &[], settings)
}

/// A project's numeric id or path (`group/project`) as a URL path segment.
pub fn encode_project(project: &str) -> String {
    project
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub struct GitLab {
    api: Api,
    /// Numeric id or path, percent-encoded for the URL.
    project: String,
}

impl GitLab {
    /// `base`: `CI_API_V4_URL` (`https://gitlab.com/api/v4`).
    pub fn new(
        base: &str,
        project: &str,
        token: SecretString,
        settings: HttpSettings,
    ) -> Result<GitLab, ForgeError> {
        Ok(GitLab {
            api: api(base, token, settings)?,
            project: encode_project(project),
        })
    }

    fn me(&self) -> Result<u64, ForgeError> {
        let v = self
            .api
            .get("read the token's user", &self.api.url("user")?)?;
        v.get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| ForgeError::Response {
                what: "GET /user".into(),
                message: "no id".into(),
            })
    }

    /// Creates or updates the note carrying `marker` on merge request `iid`.
    ///
    /// With `create` false, only an existing comment is updated.
    pub fn upsert(
        &self,
        iid: u64,
        marker: &str,
        body: &str,
        create: bool,
    ) -> Result<Posted, ForgeError> {
        let me = self.me()?;
        let notes = format!("projects/{}/merge_requests/{iid}/notes", self.project);
        let mut next = Some(self.api.url(&format!(
            "{notes}?per_page=100&sort=asc&order_by=created_at"
        ))?);
        let mut found = None;
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let page = self.api.get_page("list the merge request's notes", &url)?;
            found = page.items.iter().find_map(|n| {
                let author = n.pointer("/author/id").and_then(Value::as_u64) == Some(me);
                is_ours(n.get("body").and_then(Value::as_str), marker, author)
                    .then(|| n.get("id").and_then(Value::as_u64))
                    .flatten()
            });
            if found.is_some() || pages >= MAX_PAGES {
                break;
            }
            next = page.next;
        }
        let payload = json!({ "body": body });
        match found {
            Some(id) => {
                let url = self.api.url(&format!("{notes}/{id}"))?;
                self.api
                    .send_json("update the note", Method::PUT, &url, &payload)?;
                Ok(Posted::Updated { id, url: None })
            }
            None if !create => Ok(Posted::NotCreated),
            None => {
                let url = self.api.url(&notes)?;
                let v = self
                    .api
                    .send_json("create the note", Method::POST, &url, &payload)?;
                Ok(Posted::Created {
                    id: v.get("id").and_then(Value::as_u64).unwrap_or(0),
                    url: None,
                })
            }
        }
    }
}
