//! A service's paths in a monorepo (`[[service]] paths`, SPEC §11): a
//! commit is one of the service's changes when it adds, modifies, deletes
//! or renames a file whose path matches one of the patterns. Both sides of a
//! rename are matched: moving a file into or out of the service's paths is
//! the service's change.
//!
//! Patterns are relative to the repository root, `/`-separated:
//! - `*` and `?` match within one path component, `[abc]` one character of
//!   the set, `**` any number of components (`services/api/**`);
//! - a pattern without any of those names a file or a directory and
//!   everything below it (`services/api` is `services/api/**` too);
//! - a leading `/` or `./` is ignored; `!` is not supported.

use std::collections::HashMap;

use git2::{DiffOptions, Oid};

use super::repo::{Commit, GitError, Repo, git_err};

/// The paths a service's changes touch.
#[derive(Clone, Debug)]
pub struct PathFilter {
    /// Glob patterns, each with the directory its literal part names
    /// (`services/api/**` → `services/api`), `None` when the first
    /// component is a glob.
    patterns: Vec<(glob::Pattern, Option<String>)>,
    /// Patterns without glob characters: the path or anything below.
    prefixes: Vec<String>,
}

const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl PathFilter {
    /// The filter of `patterns`; the error names the bad pattern.
    pub fn new(patterns: &[String]) -> Result<PathFilter, String> {
        let mut f = PathFilter {
            patterns: Vec::new(),
            prefixes: Vec::new(),
        };
        if patterns.is_empty() {
            return Err(
                "paths is empty; list at least one pattern, e.g. \"services/api/**\"".into(),
            );
        }
        for p in patterns {
            let t = p.trim().trim_start_matches("./").trim_start_matches('/');
            if t.is_empty() || t.starts_with('!') {
                return Err(format!(
                    "path pattern '{p}' is empty or negated; give a path such as \"services/api/**\""
                ));
            }
            if t.split('/').any(|c| c.is_empty() || c == "." || c == "..")
                || t.contains(['{', '}', '\\'])
            {
                return Err(format!(
                    "path pattern '{p}' can never match a path in the repository (no `..`, `.` or empty components, no braces or backslashes); give it relative to the root, e.g. \"services/api/**\""
                ));
            }
            if t.contains(['*', '?', '[']) {
                let pat = glob::Pattern::new(t)
                    .map_err(|e| format!("path pattern '{p}' is not a valid glob: {e}"))?;
                let literal = &t[..t.find(['*', '?', '[']).unwrap_or(t.len())];
                let dir = literal
                    .rfind('/')
                    .map(|i| literal[..i].to_string())
                    .filter(|d| !d.is_empty());
                f.patterns.push((pat, dir));
            } else {
                f.prefixes.push(t.trim_end_matches('/').to_string());
            }
        }
        Ok(f)
    }

    /// Whether the repository-relative `path` is the service's.
    pub fn matches(&self, path: &str) -> bool {
        self.prefixes.iter().any(|p| {
            path == p
                || (path.starts_with(p.as_str()) && path.as_bytes().get(p.len()) == Some(&b'/'))
        }) || self
            .patterns
            .iter()
            .any(|(p, _)| p.matches_with(path, OPTIONS))
    }
}

/// Commits' trees and first parents, by commit.
pub type Heads = HashMap<Oid, (Oid, Option<Oid>)>;

/// What [`Repo::touching`] keeps while it walks a range: each commit's
/// tree and first parent, and each tree's objects at the filter's
/// directories, so that a commit read as a parent is not read again.
#[derive(Default)]
struct Seen<'w> {
    /// The walk's: read once there, borrowed.
    walked: Option<&'w Heads>,
    commits: Heads,
    dirs: HashMap<Oid, Vec<Option<Oid>>>,
}

impl Repo {
    /// The commits (and merges, by their first parent) that touch the
    /// filter's paths, in their order.
    pub fn touching(
        &self,
        commits: Vec<Commit>,
        filter: &PathFilter,
        heads: Option<&Heads>,
    ) -> Result<Vec<Commit>, GitError> {
        // The walk that listed the commits read their heads already.
        let mut seen = Seen {
            walked: heads,
            ..Seen::default()
        };
        let odb = self
            .inner
            .odb()
            .map_err(git_err("open the object database".to_string()))?;
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            if self.touches_in(&odb, &c.sha, filter, &mut seen)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Whether `sha` changes a path of the filter against its first parent
    /// (a root commit: against nothing). As git's path-limited log does, a directory whose
    /// tree is the same object on both sides is not read: a literal path is
    /// decided by its object ids, a glob only diffs the directories its
    /// literal part names that changed.
    fn touches_in(
        &self,
        odb: &git2::Odb<'_>,
        sha: &str,
        filter: &PathFilter,
        seen: &mut Seen<'_>,
    ) -> Result<bool, GitError> {
        let what = || format!("diff commit {sha}");
        let oid = Oid::from_str(sha).map_err(git_err(what()))?;
        let dirs: Vec<&str> = filter
            .prefixes
            .iter()
            .map(String::as_str)
            .chain(filter.patterns.iter().filter_map(|(_, d)| d.as_deref()))
            .collect();
        let (tree, parent) = self.commit_of(oid, seen).map_err(git_err(what()))?;
        let mine = self
            .dirs_of(odb, tree, &dirs, seen)
            .map_err(git_err(what()))?;
        // A root commit, or a parent beyond a shallow boundary: every file
        // of the tree is new.
        let theirs = match parent.and_then(|p| self.commit_of(p, seen).ok()) {
            Some((t, _)) => self.dirs_of(odb, t, &dirs, seen).map_err(git_err(what()))?,
            None => vec![None; dirs.len()],
        };
        let n = filter.prefixes.len();
        if (0..n).any(|k| mine[k] != theirs[k]) {
            return Ok(true);
        }
        // The globs whose directory changed (or that name none).
        let mut changed: Vec<&str> = Vec::new();
        let mut whole = false;
        let mut k = n;
        for (_, dir) in &filter.patterns {
            match dir {
                Some(d) => {
                    if mine[k] != theirs[k] {
                        changed.push(d);
                    }
                    k += 1;
                }
                None => whole = true,
            }
        }
        if changed.is_empty() && !whole {
            return Ok(false);
        }
        let commit = self.inner.find_commit(oid).map_err(git_err(what()))?;
        let tree = commit.tree().map_err(git_err(what()))?;
        let parent = match commit.parent(0) {
            Ok(p) => Some(p.tree().map_err(git_err(what()))?),
            Err(_) => None,
        };
        let mut opts = DiffOptions::new();
        opts.skip_binary_check(true);
        if !whole {
            for d in &changed {
                opts.pathspec(*d);
            }
        }
        let diff = self
            .inner
            .diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut opts))
            .map_err(git_err(what()))?;
        let path_of = |f: git2::DiffFile<'_>| f.path().and_then(|p| p.to_str().map(str::to_string));
        Ok(diff.deltas().any(|d| {
            [path_of(d.old_file()), path_of(d.new_file())]
                .into_iter()
                .flatten()
                .any(|p| filter.matches(&p))
        }))
    }

    /// A commit's tree and first parent.
    fn commit_of(&self, oid: Oid, seen: &mut Seen<'_>) -> Result<(Oid, Option<Oid>), git2::Error> {
        if let Some(c) = seen
            .walked
            .and_then(|w| w.get(&oid))
            .or_else(|| seen.commits.get(&oid))
        {
            return Ok(*c);
        }
        let c = self.inner.find_commit(oid)?;
        let v = (c.tree_id(), c.parent_id(0).ok());
        seen.commits.insert(oid, v);
        Ok(v)
    }

    /// The objects at `dirs` in `tree` (`None`: nothing there).
    fn dirs_of(
        &self,
        odb: &git2::Odb<'_>,
        tree: Oid,
        dirs: &[&str],
        seen: &mut Seen<'_>,
    ) -> Result<Vec<Option<Oid>>, git2::Error> {
        if let Some(v) = seen.dirs.get(&tree) {
            return Ok(v.clone());
        }
        let mut v = Vec::with_capacity(dirs.len());
        for d in dirs {
            // Each component's entry read from the raw tree object: no
            // entry list is built for the names not asked for.
            let mut at = Some(tree);
            for part in d.split('/') {
                at = match at {
                    Some(t) => {
                        let object = odb.read(t)?;
                        // A file where a directory is named: nothing there.
                        (object.kind() == git2::ObjectType::Tree)
                            .then(|| entry(&object, part.as_bytes()))
                            .flatten()
                    }
                    None => None,
                };
            }
            v.push(at);
        }
        seen.dirs.insert(tree, v.clone());
        Ok(v)
    }
}

/// The object id of the entry `name` in a raw tree object (`MODE NAME\0`
/// then the binary id, for each entry).
fn entry(tree: &git2::OdbObject<'_>, name: &[u8]) -> Option<Oid> {
    let data = tree.data();
    let len = tree.id().as_bytes().len();
    let mut rest = data;
    while !rest.is_empty() {
        let space = memchr::memchr(b' ', rest)?;
        let nul = space + 1 + memchr::memchr(0, &rest[space + 1..])?;
        let id = rest.get(nul + 1..nul + 1 + len)?;
        if &rest[space + 1..nul] == name {
            return Oid::from_bytes(id).ok();
        }
        rest = &rest[nul + 1 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_documented() {
        let f = PathFilter::new(&[
            "services/api/**".into(),
            "./libs/auth".into(),
            "/config/*.toml".into(),
            "docs/api-?.md".into(),
        ])
        .unwrap();
        for yes in [
            "services/api/main.go",
            "services/api/internal/db/x.go",
            "libs/auth",
            "libs/auth/token.rs",
            "config/api.toml",
            "docs/api-v.md",
        ] {
            assert!(f.matches(yes), "{yes}");
        }
        for no in [
            "services/apix/main.go",
            "services/web/main.go",
            "libs/authz/x.rs",
            "config/sub/api.toml",
            "docs/api-v2.md",
            "services/api",
        ] {
            assert!(!f.matches(no), "{no}");
        }
        for bad in [
            &[][..],
            &["".to_string()][..],
            &["!services/api".to_string()][..],
            &["a/[b".to_string()][..],
            &["../outside".to_string()][..],
            &["services//api".to_string()][..],
            &["services/{api,web}/**".to_string()][..],
        ] {
            assert!(PathFilter::new(bad).is_err(), "{bad:?}");
        }
    }
}
