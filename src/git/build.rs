//! Writing a repository from scratch: what `dorameter demo` builds its
//! example history with. Every commit and tag carries an explicit identity
//! and date, so nothing depends on a configured git identity (CI has none)
//! and the history reads the same on every machine.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use git2::{Oid, Repository, RepositoryInitOptions, Signature, Time};

use super::repo::{GitError, git_err};

/// Who wrote a commit or a tag.
#[derive(Clone, Copy, Debug)]
pub struct Person {
    pub name: &'static str,
    pub email: &'static str,
}

/// A commit to write: its whole tree (path → content, `/`-separated
/// directories) and its parents, first parent first.
#[derive(Debug)]
pub struct NewCommit<'a> {
    pub parents: &'a [&'a str],
    pub files: &'a BTreeMap<String, String>,
    pub message: &'a str,
    pub author: Person,
    pub authored_at: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
}

/// A new repository being written.
pub struct Builder {
    inner: Repository,
}

impl Builder {
    /// Initialises a repository with a work tree in `dir` (which exists),
    /// `branch` its default branch.
    pub fn init(dir: &Path, branch: &str) -> Result<Builder, GitError> {
        let mut opts = RepositoryInitOptions::new();
        opts.initial_head(branch).no_reinit(true);
        let inner = Repository::init_opts(dir, &opts).map_err(git_err(format!(
            "create a git repository in {}",
            dir.display()
        )))?;
        Ok(Builder { inner })
    }

    /// Writes `commit` and points `refs/heads/<branch>` at it; returns its sha.
    pub fn commit(&self, branch: &str, commit: &NewCommit<'_>) -> Result<String, GitError> {
        let what = || {
            format!(
                "write the commit '{}'",
                commit.message.lines().next().unwrap_or("")
            )
        };
        let tree_id = write_tree(&self.inner, commit.files).map_err(git_err(what()))?;
        let tree = self.inner.find_tree(tree_id).map_err(git_err(what()))?;
        let mut parents = Vec::with_capacity(commit.parents.len());
        for p in commit.parents {
            let oid = Oid::from_str(p).map_err(git_err(what()))?;
            parents.push(self.inner.find_commit(oid).map_err(git_err(what()))?);
        }
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let author = signature(commit.author, commit.authored_at).map_err(git_err(what()))?;
        let committer = signature(commit.author, commit.committed_at).map_err(git_err(what()))?;
        let oid = self
            .inner
            .commit(
                None,
                &author,
                &committer,
                commit.message,
                &tree,
                &parent_refs,
            )
            .map_err(git_err(what()))?;
        self.inner
            .reference(&format!("refs/heads/{branch}"), oid, true, commit.message)
            .map_err(git_err(format!("move the branch {branch}")))?;
        Ok(oid.to_string())
    }

    /// An annotated tag `name` of the commit `sha`, tagged by `tagger` at `at`.
    pub fn tag(
        &self,
        name: &str,
        sha: &str,
        tagger: Person,
        at: DateTime<Utc>,
        message: &str,
    ) -> Result<(), GitError> {
        let what = || format!("tag {name}");
        let oid = Oid::from_str(sha).map_err(git_err(what()))?;
        let target = self
            .inner
            .find_object(oid, Some(git2::ObjectType::Commit))
            .map_err(git_err(what()))?;
        let sig = signature(tagger, at).map_err(git_err(what()))?;
        self.inner
            .tag(name, &target, &sig, message, false)
            .map_err(git_err(what()))?;
        Ok(())
    }

    /// Makes `branch` the checked-out branch and writes its files into the
    /// work tree and the index, so `git status` is clean.
    pub fn checkout(&self, branch: &str) -> Result<(), GitError> {
        let what = || format!("check out {branch}");
        self.inner
            .set_head(&format!("refs/heads/{branch}"))
            .map_err(git_err(what()))?;
        self.inner
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .map_err(git_err(what()))
    }
}

fn signature(who: Person, at: DateTime<Utc>) -> Result<Signature<'static>, git2::Error> {
    Signature::new(who.name, who.email, &Time::new(at.timestamp(), 0))
}

/// Writes the tree of `files`, a subtree per directory.
fn write_tree(repo: &Repository, files: &BTreeMap<String, String>) -> Result<Oid, git2::Error> {
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_bytes()))
        .collect();
    tree_of(repo, &entries)
}

fn tree_of(repo: &Repository, entries: &[(&str, &[u8])]) -> Result<Oid, git2::Error> {
    const BLOB: i32 = 0o100_644;
    const TREE: i32 = 0o040_000;
    let mut builder = repo.treebuilder(None)?;
    let mut dirs: BTreeMap<&str, Vec<(&str, &[u8])>> = BTreeMap::new();
    for &(path, content) in entries {
        match path.split_once('/') {
            Some((dir, rest)) => dirs.entry(dir).or_default().push((rest, content)),
            None => {
                builder.insert(path, repo.blob(content)?, BLOB)?;
            }
        }
    }
    for (dir, inner) in dirs {
        builder.insert(dir, tree_of(repo, &inner)?, TREE)?;
    }
    builder.write()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::{Repo, WalkOutcome};

    const ALEX: Person = Person {
        name: "Alex",
        email: "alex@example.com",
    };

    #[test]
    fn writes_commits_merges_and_tags_without_a_git_identity() {
        let dir = tempfile::tempdir().unwrap();
        let b = Builder::init(dir.path(), "main").unwrap();
        fn t(s: i64) -> DateTime<Utc> {
            DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
        }
        fn commit<'a>(
            parents: &'a [&'a str],
            files: &'a BTreeMap<String, String>,
            message: &'a str,
            at: i64,
        ) -> NewCommit<'a> {
            NewCommit {
                parents,
                files,
                message,
                author: ALEX,
                authored_at: t(at),
                committed_at: t(at + 60),
            }
        }
        let mut files = BTreeMap::from([("README.md".to_string(), "hi\n".to_string())]);
        let c1 = b.commit("main", &commit(&[], &files, "one", 0)).unwrap();
        files.insert("src/a/b.txt".into(), "nested\n".into());
        let side = b
            .commit("side", &commit(&[&c1], &files, "side", 100))
            .unwrap();
        let c2 = b
            .commit("main", &commit(&[&c1], &files, "two", 200))
            .unwrap();
        let merge = b
            .commit("main", &commit(&[&c2, &side], &files, "Merge side", 300))
            .unwrap();
        b.tag("v1.0.0", &merge, ALEX, t(400), "release").unwrap();
        b.checkout("main").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/a/b.txt")).unwrap(),
            "nested\n"
        );

        let repo = Repo::discover(dir.path()).unwrap();
        let tags = repo.tags("v*").unwrap();
        assert_eq!(
            (tags[0].sha.as_str(), tags[0].time),
            (merge.as_str(), t(400).timestamp())
        );
        let WalkOutcome::Walked(walk) = repo.walk(Some(&c1), &merge, 100).unwrap() else {
            panic!("walk");
        };
        assert_eq!((walk.commits.len(), walk.merges.len()), (2, 1));
        assert_eq!(walk.commits[0].authored_at, t(200).timestamp());
    }
}
