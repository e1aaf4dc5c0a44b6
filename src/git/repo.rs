//! A thin wrapper over `git2::Repository` with the operations dorameter needs.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use super::lead_time::RemediationSignals;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("'{path}' is not a git repository")]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("unknown revision '{rev}' given to {flag}")]
    UnknownRevision { flag: String, rev: String },
    /// `git fetch` in a clone the server keeps (`serve --repo`).
    #[error("failed to fetch {remote} into {path}: {why}")]
    Fetch {
        path: PathBuf,
        remote: String,
        why: String,
    },
    #[error("failed to {action}")]
    Git {
        action: String,
        #[source]
        source: git2::Error,
    },
}

impl GitError {
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            GitError::NotARepository { .. } | GitError::UnknownRevision { .. }
        )
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            GitError::NotARepository { .. } => Some(
                "run dorameter inside the repository's checkout, or point --repo (DORAMETER_REPO) at it"
                    .into(),
            ),
            GitError::UnknownRevision { flag, .. } => Some(format!(
                "{flag} takes a commit sha, tag or branch that exists in this clone; in CI, fetch full history (actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`)"
            )),
            GitError::Fetch { path, .. } => Some(format!(
                "check that `git -C {} fetch origin` works for the user the server runs as (credentials, network)",
                path.display()
            )),
            GitError::Git { .. } => None,
        }
    }
}

pub(super) fn git_err(action: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let action = action.into();
    move |source| GitError::Git { action, source }
}

/// One commit, in our own terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    /// Unix seconds.
    pub authored_at: i64,
    /// Unix seconds.
    pub committed_at: i64,
    pub parents: usize,
    pub signals: RemediationSignals,
}

/// The commits of a range.
#[derive(Debug)]
pub struct Walk {
    /// Non-merge commits reachable from the target and not from the base.
    pub commits: Vec<Commit>,
    /// The merge commits of the range (not changes; their subjects can name
    /// a hotfix branch).
    pub merges: Vec<Commit>,
    /// Stopped at the cap.
    pub truncated: bool,
    /// Each commit read: its tree and first parent (what a path-scoped
    /// service's filter needs, without reading the commits again).
    pub heads: super::paths::Heads,
}

#[derive(Debug)]
pub enum WalkOutcome {
    Walked(Walk),
    /// The base commit is not in this clone (shallow clone, rewritten history).
    BaseNotFound,
    /// The range crosses a shallow boundary: a commit reachable from the
    /// target and not (as far as this clone knows) from the base has parents
    /// the clone does not have, so the range's size is unknown. Holds the
    /// part of the range the clone has (no lead time from it; it can still
    /// classify the deployment).
    ShallowBoundary(Walk),
    /// The walk reached a root commit: base and target share no history, and
    /// the range would be the whole history.
    Unrelated,
}

/// A tag and the commit it points at.
#[derive(Clone, Debug)]
pub struct Tag {
    pub name: String,
    pub sha: String,
    /// Tagger time of an annotated tag, else the commit's committer time.
    pub time: i64,
}

pub struct Repo {
    pub(super) inner: Repository,
}

impl Repo {
    /// Opens the repository containing `path` (a work tree, a subdirectory of
    /// one, or a bare repository).
    pub fn discover(path: &Path) -> Result<Repo, GitError> {
        // Every commit is read once and never revisited: libgit2's object
        // cache only costs memory, and re-hashing each object it reads costs
        // time git itself does not spend.
        git2::opts::enable_caching(false);
        git2::opts::strict_hash_verification(false);
        let inner = Repository::open_ext(path, git2::RepositoryOpenFlags::empty(), &[] as &[&Path])
            .map_err(|source| GitError::NotARepository {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Repo { inner })
    }

    /// The work tree root, or `None` for a bare repository.
    pub fn workdir(&self) -> Option<PathBuf> {
        self.inner.workdir().map(Path::to_path_buf)
    }

    /// Fetches `origin` (branches and tags) with the git CLI and the
    /// clone's own credentials; never prompts. Its message is not shown: a
    /// remote's URL can carry credentials.
    pub fn fetch_origin(&self) -> Result<(), GitError> {
        let path = self.inner.path().to_path_buf();
        let err = |why: String| GitError::Fetch {
            path: path.clone(),
            remote: "origin".into(),
            why,
        };
        let status = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&path)
            .args(["fetch", "--quiet", "--tags", "origin"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| err(format!("git could not run: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(err(format!("git fetch exited with {status}")))
        }
    }

    pub fn is_shallow(&self) -> bool {
        self.inner.is_shallow()
    }

    /// Resolves a revision (sha, abbreviated sha, tag, branch, `HEAD~2`) to a
    /// full commit sha.
    pub fn resolve_commit(&self, flag: &str, rev: &str) -> Result<String, GitError> {
        let unknown = || GitError::UnknownRevision {
            flag: flag.to_string(),
            rev: rev.to_string(),
        };
        let obj = self.inner.revparse_single(rev).map_err(|_| unknown())?;
        let commit = obj.peel_to_commit().map_err(|_| unknown())?;
        Ok(commit.id().to_string())
    }

    /// Resolves `rev` like [`Repo::resolve_commit`], except that a full sha
    /// this clone lacks (a shallow clone) is kept as given, lowercased.
    pub fn resolve_or_keep_full_sha(&self, flag: &str, rev: &str) -> Result<String, GitError> {
        match self.resolve_commit(flag, rev) {
            Ok(full) => Ok(full),
            Err(_) if is_full_sha(rev) => Ok(rev.to_ascii_lowercase()),
            Err(e) => Err(e),
        }
    }

    /// Whether the commit object is present in this clone.
    pub fn has_commit(&self, sha: &str) -> bool {
        Oid::from_str(sha).is_ok_and(|oid| self.inner.find_commit(oid).is_ok())
    }

    /// The commit's parents, first parent first; empty for a commit this
    /// clone lacks.
    pub fn parents(&self, sha: &str) -> Vec<String> {
        Oid::from_str(sha)
            .ok()
            .and_then(|oid| self.inner.find_commit(oid).ok())
            .map(|c| c.parent_ids().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    /// The best common ancestor of two commits; `None` when either is
    /// missing or they share no history.
    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        let (a, b) = (Oid::from_str(a).ok()?, Oid::from_str(b).ok()?);
        self.inner.merge_base(a, b).ok().map(|o| o.to_string())
    }

    /// Whether `ancestor` is `descendant` or reachable from it.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        let (Ok(a), Ok(d)) = (Oid::from_str(ancestor), Oid::from_str(descendant)) else {
            return false;
        };
        a == d || self.inner.graph_descendant_of(d, a).unwrap_or(false)
    }

    /// The commits in `base..target` (all of `target`'s history when `base` is
    /// `None`), merge commits skipped, at most `max_commits` of them.
    pub fn walk(
        &self,
        base: Option<&str>,
        target: &str,
        max_commits: usize,
    ) -> Result<WalkOutcome, GitError> {
        let target_oid =
            Oid::from_str(target).map_err(git_err(format!("parse commit id {target}")))?;
        let base_oid = match base {
            None => None,
            Some(b) => match Oid::from_str(b) {
                Ok(oid) => Some(oid),
                Err(_) => return Ok(WalkOutcome::BaseNotFound),
            },
        };
        let odb = self
            .inner
            .odb()
            .map_err(git_err("open the object database"))?;
        super::walk::walk(&odb, base_oid, target_oid, max_commits)
            .map_err(git_err(format!("walk {target}")))
    }

    /// Tags matching a glob (`v*`), with the commit each points at.
    pub fn tags(&self, pattern: &str) -> Result<Vec<Tag>, GitError> {
        let names = self
            .inner
            .tag_names(Some(pattern))
            .map_err(git_err("list tags"))?;
        let mut tags = Vec::new();
        for name in names.iter().flatten() {
            let reference = self
                .inner
                .find_reference(&format!("refs/tags/{name}"))
                .map_err(git_err(format!("read tag {name}")))?;
            // Tags of trees or blobs are not deployments.
            let Ok(commit) = reference.peel_to_commit() else {
                continue;
            };
            let time = match reference
                .peel(git2::ObjectType::Tag)
                .ok()
                .and_then(|o| o.into_tag().ok())
                .and_then(|t| t.tagger().map(|s| s.when().seconds()))
            {
                Some(t) => t,
                None => commit.committer().when().seconds(),
            };
            tags.push(Tag {
                name: name.to_string(),
                sha: commit.id().to_string(),
                time,
            });
        }
        Ok(tags)
    }

    /// The `origin` remote's URL, if configured.
    pub fn origin_url(&self) -> Option<String> {
        self.remote_url("origin")
    }

    /// The URL of the remote `name`, if configured.
    pub fn remote_url(&self, name: &str) -> Option<String> {
        self.inner.find_remote(name).ok()?.url().map(str::to_string)
    }
}

/// A 40-character hex sha.
pub fn is_full_sha(rev: &str) -> bool {
    rev.len() >= 40 && rev.chars().all(|c| c.is_ascii_hexdigit())
}
