//! Where the store and the spool live when nothing says otherwise: the
//! `.dorameter/` folder at the repository root (the current directory
//! outside a repository).

use std::path::{Path, PathBuf};

use crate::Result;
use crate::git::Repo;
use crate::store::{self, StoreUrl};

/// The repository root: `repo`'s work tree, else the repository around `cwd`.
fn root(cwd: &Path, repo: Option<&Repo>) -> Option<PathBuf> {
    repo.and_then(Repo::workdir)
        .or_else(|| Repo::discover(cwd).ok().and_then(|r| r.workdir()))
}

/// The store a configured URL names (relative SQLite paths from `cwd`), else
/// `.dorameter/dorameter.db` at the repository root.
pub fn store_url(configured: Option<&str>, cwd: &Path, repo: Option<&Repo>) -> Result<StoreUrl> {
    Ok(match configured {
        Some(raw) => match StoreUrl::parse(raw)? {
            StoreUrl::Sqlite(p) => StoreUrl::Sqlite(cwd.join(p)),
            // The repository around the working directory (or --repo).
            StoreUrl::Git(g) => {
                let dir = root(cwd, repo).unwrap_or_else(|| cwd.to_path_buf());
                StoreUrl::Git(g.with_dir(dir))
            }
            other => other,
        },
        None => StoreUrl::Sqlite(store::default_store_path(root(cwd, repo).as_deref(), cwd)),
    })
}

/// The spool for sink events: `explicit` (`DORAMETER_SPOOL`), else `spool/`
/// next to the SQLite store, else `.dorameter/spool` at the repository root.
pub fn spool_dir(
    explicit: Option<&str>,
    configured_store: Option<&str>,
    cwd: &Path,
    repo: Option<&Repo>,
) -> PathBuf {
    if let Some(dir) = explicit.filter(|v| !v.trim().is_empty()) {
        return cwd.join(dir);
    }
    match configured_store.map(StoreUrl::parse) {
        Some(Ok(StoreUrl::Sqlite(p))) => match cwd.join(p).parent() {
            Some(parent) => parent.join("spool"),
            None => cwd.join(".dorameter").join("spool"),
        },
        Some(_) => root(cwd, repo)
            .unwrap_or_else(|| cwd.to_path_buf())
            .join(".dorameter")
            .join("spool"),
        None => store::default_store_path(root(cwd, repo).as_deref(), cwd).with_file_name("spool"),
    }
}
