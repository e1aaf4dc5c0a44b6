//! GitHub: the sticky comment on a pull request through the REST API
//! (issue comments). Only a comment with our marker *and* written by the
//! token's own user is updated; anyone else's is never touched.
//!
//! SPEC §7 names octocrab; it is async, pulls in hyper/tower and has no
//! timeouts of its own, while the four calls needed here fit the blocking
//! client every sink already uses (see docs/comment.md).

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::api::{Api, is_ours};
use super::{ForgeError, Posted};

/// The login the Actions `GITHUB_TOKEN` comments as. That token cannot read
/// `GET /user`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// Most pages of comments read (100 each).
const MAX_PAGES: usize = 100;

pub struct GitHub {
    api: Api,
    repository: String,
}

impl GitHub {
    /// `base`: `GITHUB_API_URL` (`https://api.github.com` by default).
    pub fn new(base: &str, repository: &str, token: SecretString) -> Result<GitHub, ForgeError> {
        let auth = format!("Bearer {}", token.expose_secret().trim());
        let api = Api::new(
            "GitHub",
            base,
            "authorization",
            auth,
            token,
            &[
                ("accept", "application/vnd.github+json"),
                ("x-github-api-version", "2022-11-28"),
            ],
        )?;
        Ok(GitHub {
            api,
            repository: repository.to_string(),
        })
    }

    /// The token's login: `GET /user`, or the Actions bot when the token
    /// may not read it (an installation token answers 403). A 401 is final.
    fn me(&self) -> Result<String, ForgeError> {
        match self
            .api
            .get("read the token's user", &self.api.url("user")?)
        {
            Ok(v) => v
                .get("login")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ForgeError::Response {
                    what: "GET /user".into(),
                    message: "no login".into(),
                }),
            Err(e @ ForgeError::Unauthorized { .. }) => Err(e),
            Err(_) => Ok(ACTIONS_BOT.to_string()),
        }
    }

    /// Creates or updates the comment carrying `marker` on pull request `number`.
    pub fn upsert(&self, number: u64, marker: &str, body: &str) -> Result<Posted, ForgeError> {
        let me = self.me()?;
        let list = self.api.url(&format!(
            "repos/{}/issues/{number}/comments?per_page=100",
            self.repository
        ))?;
        let mut next = Some(list);
        let mut found = None;
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let page = self
                .api
                .get_page("list the pull request's comments", &url)?;
            found = page.items.iter().find_map(|c| {
                let author = c
                    .pointer("/user/login")
                    .and_then(Value::as_str)
                    .is_some_and(|l| l.eq_ignore_ascii_case(&me));
                is_ours(c.get("body").and_then(Value::as_str), marker, author)
                    .then(|| c.get("id").and_then(Value::as_u64))
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
                let url = self
                    .api
                    .url(&format!("repos/{}/issues/comments/{id}", self.repository))?;
                self.api
                    .send_json("update the comment", Method::PATCH, &url, &payload)?;
                Ok(Posted::Updated { id })
            }
            None => {
                let url = self.api.url(&format!(
                    "repos/{}/issues/{number}/comments",
                    self.repository
                ))?;
                let v = self
                    .api
                    .send_json("create the comment", Method::POST, &url, &payload)?;
                Ok(Posted::Created {
                    id: v.get("id").and_then(Value::as_u64).unwrap_or(0),
                })
            }
        }
    }
}
