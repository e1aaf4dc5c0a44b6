//! A squash commit's pull or merge request and its original commits
//! (`--lead-time-source pr`, SPEC §11).
//!
//! The commit's message names the request (GitHub's squash subject `Title
//! (#12)`, GitLab's `See merge request group/project!12`), so one list of
//! the request's commits answers it: `GET /repos/{r}/pulls/{n}/commits`,
//! `GET /projects/:id/merge_requests/:iid/commits`. When that number is no
//! request (an issue), the forge is asked which merged request produced the
//! commit (`commits/{sha}/pulls`, `repository/commits/:sha/merge_requests`)
//! and that one's commits are read.

use secrecy::SecretString;
use serde_json::Value;

use super::{text, time};
use crate::forge::ForgeError;
use crate::forge::api::Api;
use crate::http::HttpSettings;
use crate::store::{OriginalCommit, PullCommits};

/// Pages of a request's commits read at most (GitHub lists 250 at most).
const MAX_PAGES: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
}

impl Forge {
    /// As the cache stores it.
    pub fn key(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "GitHub",
            Forge::GitLab => "GitLab",
        }
    }
}

/// The forge of one repository, and the requests made to it.
pub struct Pulls {
    api: Api,
    forge: Forge,
    /// GitHub: `owner/repo`; GitLab: the project's path or id, encoded.
    repository: String,
    pub requests: usize,
}

impl Pulls {
    pub fn new(
        forge: Forge,
        base: &str,
        repository: &str,
        token: SecretString,
        http: HttpSettings,
    ) -> Result<Pulls, ForgeError> {
        let (api, repository) = match forge {
            Forge::GitHub => (super::github::api(base, token, http)?, repository.into()),
            Forge::GitLab => (
                crate::forge::gitlab::api(base, token, http)?,
                crate::forge::gitlab::encode_project(repository),
            ),
        };
        Ok(Pulls {
            api,
            forge,
            repository,
            requests: 0,
        })
    }

    pub fn forge(&self) -> Forge {
        self.forge
    }

    /// The request `number` that squash commit `sha` names, with its
    /// commits; when `number` is no request, the merged request the forge
    /// says produced `sha`; `number: None` when there is none. `None`
    /// when the forge does not have the commit (not pushed there).
    pub fn originals(&mut self, sha: &str, number: u64) -> Result<Option<PullCommits>, ForgeError> {
        let forge = self.forge.key();
        let found = |number, commits| PullCommits {
            sha: sha.to_string(),
            forge: forge.into(),
            number,
            commits,
        };
        match self.commits_of(number) {
            Ok(commits) => return Ok(Some(found(Some(number), commits))),
            Err(ForgeError::Status { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        let number = match self.request_of(sha) {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(Some(found(None, Vec::new()))),
            Err(e) if self.unknown_commit(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let commits = self.commits_of(number)?;
        Ok(Some(found(Some(number), commits)))
    }

    /// The forge's answer for a commit it does not have: GitHub's 422 "No
    /// commit found for SHA", GitLab's 404 "Commit Not Found" (a project
    /// it does not have is another 404).
    fn unknown_commit(&self, e: &ForgeError) -> bool {
        match (self.forge, e) {
            (Forge::GitHub, ForgeError::Status { status: 422, .. }) => true,
            (
                Forge::GitLab,
                ForgeError::Status {
                    status: 404,
                    message,
                    ..
                },
            ) => message.to_ascii_lowercase().contains("commit not found"),
            _ => false,
        }
    }

    /// The commits of request `number`, oldest first.
    fn commits_of(&mut self, number: u64) -> Result<Vec<OriginalCommit>, ForgeError> {
        let (path, what) = match self.forge {
            Forge::GitHub => (
                format!("repos/{}/pulls/{number}/commits", self.repository),
                "list a pull request's commits",
            ),
            Forge::GitLab => (
                format!(
                    "projects/{}/merge_requests/{number}/commits",
                    self.repository
                ),
                "list a merge request's commits",
            ),
        };
        let mut url = self.api.url(&path)?;
        url.query_pairs_mut().append_pair("per_page", "100");
        let mut out = Vec::new();
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            if pages == MAX_PAGES {
                break;
            }
            // Counted whether it answers or not (a 404 is an answer too).
            self.requests += 1;
            pages += 1;
            let page = self.api.get_page(what, &url)?;
            for item in &page.items {
                out.push(self.commit(item).ok_or_else(|| ForgeError::Response {
                    what: what.to_string(),
                    message: "a commit without its sha or dates".into(),
                })?);
            }
            next = page.next;
        }
        out.sort_by(|a, b| (a.committed_at, &a.sha).cmp(&(b.committed_at, &b.sha)));
        Ok(out)
    }

    fn commit(&self, v: &Value) -> Option<OriginalCommit> {
        Some(match self.forge {
            Forge::GitHub => OriginalCommit {
                sha: text(v, &["sha"])?.to_ascii_lowercase(),
                authored_at: time(v, &["commit", "author", "date"])?,
                committed_at: time(v, &["commit", "committer", "date"])?,
            },
            Forge::GitLab => OriginalCommit {
                sha: text(v, &["id"])?.to_ascii_lowercase(),
                authored_at: time(v, &["authored_date"])?,
                committed_at: time(v, &["committed_date"])?,
            },
        })
    }

    /// The merged request whose squash (or merge) commit is `sha`.
    fn request_of(&mut self, sha: &str) -> Result<Option<u64>, ForgeError> {
        let (path, what, number, keys): (_, _, _, &[&str]) = match self.forge {
            Forge::GitHub => (
                format!("repos/{}/commits/{sha}/pulls", self.repository),
                "list a commit's pull requests",
                "number",
                &["merge_commit_sha"],
            ),
            Forge::GitLab => (
                format!(
                    "projects/{}/repository/commits/{sha}/merge_requests",
                    self.repository
                ),
                "list a commit's merge requests",
                "iid",
                &["squash_commit_sha", "merge_commit_sha"],
            ),
        };
        let mut url = self.api.url(&path)?;
        url.query_pairs_mut().append_pair("per_page", "100");
        self.requests += 1;
        let page = self.api.get_page(what, &url)?;
        Ok(page.items.iter().find_map(|r| {
            let produced = keys
                .iter()
                .any(|k| text(r, &[k]).is_some_and(|s| s.eq_ignore_ascii_case(sha)));
            produced.then(|| r.get(number).and_then(Value::as_u64))?
        }))
    }
}
