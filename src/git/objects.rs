//! Files on a ref, read and written as git objects (SPEC §8, the git store):
//! the blobs a commit range added or changed, and a new commit that adds or
//! replaces files on top of a parent. Objects go to the local repository's
//! object database; moving them to and from a remote is the `git` CLI's job.

use std::path::Path;

use git2::{Oid, Signature, build::TreeUpdateBuilder};

use super::repo::{GitError, Repo, git_err as err};

/// The identity of commits dorameter writes: a runner usually has no
/// `user.name` / `user.email`, and none is needed.
const NAME: &str = "dorameter";
const EMAIL: &str = "dorameter@localhost";

impl Repo {
    /// The git directory (`.git`), where git commands run.
    pub fn git_dir(&self) -> &Path {
        self.inner.path()
    }

    /// The commit a local ref points at, if the ref exists.
    pub fn ref_target(&self, name: &str) -> Option<String> {
        self.inner
            .find_reference(name)
            .ok()
            .and_then(|r| r.target())
            .map(|o| o.to_string())
    }

    /// Points the local ref `name` at `target` (a commit this repository has).
    pub fn set_ref(&self, name: &str, target: &str) -> Result<(), GitError> {
        let oid = Oid::from_str(target).map_err(err(format!("parse commit id {target}")))?;
        self.inner
            .reference(name, oid, true, "dorameter: pushed")
            .map(|_| ())
            .map_err(err(format!("update {name}")))
    }

    /// The files (path, content) that commit `new` adds or changes against
    /// commit `old` (every file of `new` without one). Deletions are ignored:
    /// the event ref only ever adds or replaces files.
    pub fn changed_files(
        &self,
        old: Option<&str>,
        new: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let tree_of = |sha: &str| -> Result<git2::Tree<'_>, GitError> {
            let oid = Oid::from_str(sha).map_err(err(format!("parse commit id {sha}")))?;
            self.inner
                .find_commit(oid)
                .and_then(|c| c.tree())
                .map_err(err(format!("read commit {sha}")))
        };
        let new_tree = tree_of(new)?;
        let old_tree = old.map(tree_of).transpose()?;
        let diff = self
            .inner
            .diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)
            .map_err(err("compare the event commits"))?;
        let mut out = Vec::new();
        for delta in diff.deltas() {
            let file = delta.new_file();
            if file.id().is_zero() {
                continue; // deleted
            }
            let Some(path) = file.path().and_then(|p| p.to_str()) else {
                continue;
            };
            let blob = self
                .inner
                .find_blob(file.id())
                .map_err(err(format!("read {path}")))?;
            out.push((path.to_string(), blob.content().to_vec()));
        }
        Ok(out)
    }

    /// Writes a commit whose tree is `parent`'s (empty without one) with
    /// `files` added or replaced, and returns its id; `None` when `parent`
    /// already holds every file as given (nothing to commit). No ref moves.
    pub fn commit_files(
        &self,
        parent: Option<&str>,
        files: &[(String, Vec<u8>)],
        message: &str,
        time: i64,
    ) -> Result<Option<String>, GitError> {
        let parent = parent
            .map(|p| {
                Oid::from_str(p)
                    .and_then(|oid| self.inner.find_commit(oid))
                    .map_err(err(format!("read commit {p}")))
            })
            .transpose()?;
        let base = match &parent {
            Some(c) => c.tree().map_err(err("read the event tree"))?,
            None => {
                let empty = self
                    .inner
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .map_err(err("write an empty tree"))?;
                self.inner
                    .find_tree(empty)
                    .map_err(err("read an empty tree"))?
            }
        };
        let mut update = TreeUpdateBuilder::new();
        for (path, content) in files {
            let blob = self
                .inner
                .blob(content)
                .map_err(err(format!("write {path}")))?;
            update.upsert(path.as_str(), blob, git2::FileMode::Blob);
        }
        let tree_id = update
            .create_updated(&self.inner, &base)
            .map_err(err("write the event tree"))?;
        if parent.is_some() && tree_id == base.id() {
            return Ok(None);
        }
        let tree = self
            .inner
            .find_tree(tree_id)
            .map_err(err("read the event tree"))?;
        let sig = Signature::new(NAME, EMAIL, &git2::Time::new(time, 0))
            .map_err(err("make the commit signature"))?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = self
            .inner
            .commit(None, &sig, &sig, message, &tree, &parents)
            .map_err(err("write the event commit"))?;
        Ok(Some(oid.to_string()))
    }
}
