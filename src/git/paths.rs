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

use git2::{DiffOptions, Oid};

use super::repo::{Commit, GitError, Repo, git_err};

/// The paths a service's changes touch.
#[derive(Clone, Debug)]
pub struct PathFilter {
    patterns: Vec<glob::Pattern>,
    /// Patterns without glob characters: the path or anything below.
    prefixes: Vec<String>,
    shown: Vec<String>,
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
            shown: patterns.to_vec(),
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
            if t.contains(['*', '?', '[']) {
                let pat = glob::Pattern::new(t)
                    .map_err(|e| format!("path pattern '{p}' is not a valid glob: {e}"))?;
                f.patterns.push(pat);
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
        }) || self.patterns.iter().any(|p| p.matches_with(path, OPTIONS))
    }

    pub fn patterns(&self) -> &[String] {
        &self.shown
    }
}

impl Repo {
    /// The commits (and merges, by their first parent) that touch the
    /// filter's paths, in their order.
    pub fn touching(
        &self,
        commits: Vec<Commit>,
        filter: &PathFilter,
    ) -> Result<Vec<Commit>, GitError> {
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            if self.touches(&c.sha, filter)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Whether `sha` changes a path of the filter against its first parent
    /// (a root commit: against nothing).
    pub fn touches(&self, sha: &str, filter: &PathFilter) -> Result<bool, GitError> {
        let what = || format!("diff commit {sha}");
        let oid = Oid::from_str(sha).map_err(git_err(what()))?;
        let commit = self.inner.find_commit(oid).map_err(git_err(what()))?;
        let tree = commit.tree().map_err(git_err(what()))?;
        let parent = match commit.parent(0) {
            Ok(p) => Some(p.tree().map_err(git_err(what()))?),
            // A root commit, or a parent beyond a shallow boundary: every
            // file of the tree is new.
            Err(_) => None,
        };
        let mut opts = DiffOptions::new();
        opts.skip_binary_check(true);
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
        ] {
            assert!(PathFilter::new(bad).is_err(), "{bad:?}");
        }
    }
}
