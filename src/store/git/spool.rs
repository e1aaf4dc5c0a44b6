//! The git store's spool: event files a write could not push (the remote
//! was unreachable), kept under `.dorameter/` in the ref's own layout until
//! the next command or `dorameter flush` pushes them. A file is written
//! here before its push is tried, so a job killed mid-push loses nothing;
//! pushing the same file again changes no tree, so nothing doubles.

use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Spool {
    dir: PathBuf,
    /// The store, as `--store` takes it without credentials: kept in
    /// [`STORE_FILE`] so `flush` can push a spool no setting names.
    store: String,
}

/// The spool's store URL, next to its events.
const STORE_FILE: &str = "STORE";

/// Files as the ref holds them: path in the tree, content.
pub type Files = Vec<(String, Vec<u8>)>;

impl Spool {
    pub fn new(dir: PathBuf, store: &str) -> Spool {
        Spool {
            dir,
            store: store.to_string(),
        }
    }

    /// The store and the number of events a spool directory holds; `None`
    /// for an empty or unreadable one.
    pub fn waiting(dir: &Path) -> Option<(String, usize)> {
        let store = std::fs::read_to_string(dir.join(STORE_FILE)).ok()?;
        let files = Spool::new(dir.to_path_buf(), store.trim()).files().ok()?;
        (!files.is_empty()).then(|| (store.trim().to_string(), files.len()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every spooled file, by path in the tree (sorted).
    pub fn files(&self) -> std::io::Result<Files> {
        let mut out = Vec::new();
        if self.dir.is_dir() {
            walk(&self.dir, "", &mut out)?;
        }
        out.sort();
        Ok(out)
    }

    /// Keeps `files`, each replacing a spooled file of the same path
    /// (written whole, then renamed into place).
    pub fn put(&self, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let store_file = self.dir.join(STORE_FILE);
        if !store_file.exists() {
            std::fs::create_dir_all(&self.dir)?;
            std::fs::write(store_file, format!("{}\n", self.store))?;
        }
        for (path, content) in files {
            let target = self.dir.join(path);
            let parent = target.parent().unwrap_or(&self.dir);
            std::fs::create_dir_all(parent)?;
            let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
            // No fsync: the spool guards against a killed job or a remote
            // that went away, not a power cut (which takes the runner).
            tmp.write_all(content)?;
            tmp.persist(&target).map_err(|e| e.error)?;
        }
        Ok(())
    }

    /// Removes the spooled files that are exactly `files` (a file spooled
    /// again since, with other content, stays).
    pub fn remove(&self, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
        for (path, content) in files {
            let target = self.dir.join(path);
            if std::fs::read(&target).is_ok_and(|c| &c == content) {
                std::fs::remove_file(&target)?;
            }
        }
        if self.files()?.is_empty() {
            let _ = std::fs::remove_file(self.dir.join(STORE_FILE));
        }
        remove_empty_dirs(&self.dir);
        Ok(())
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut Files) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &path, out)?;
        } else if kind.is_file() && name.ends_with(".json") {
            // `.tmp*` files are half-written puts: never an event.
            out.push((path, std::fs::read(entry.path())?));
        }
    }
    Ok(())
}

/// Empty directories left by [`Spool::remove`], the spool's own included.
fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
            }
        }
    }
    // Fails, harmlessly, while anything is left in it.
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_files_by_path_until_removed_as_pushed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(
            dir.path().join("git-spool-x"),
            "git:origin#refs/dorameter/events",
        );
        assert!(spool.files().unwrap().is_empty());
        let a = (
            "deployments-2026-11/a.json".to_string(),
            b"{\"a\":1}\n".to_vec(),
        );
        let b = ("incidents/b.json".to_string(), b"{\"b\":1}\n".to_vec());
        spool.put(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(spool.files().unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(
            Spool::waiting(spool.dir()),
            Some(("git:origin#refs/dorameter/events".to_string(), 2))
        );
        // A newer version of b replaces it; removing the old one keeps it.
        let b2 = (b.0.clone(), b"{\"b\":2}\n".to_vec());
        spool.put(std::slice::from_ref(&b2)).unwrap();
        spool.remove(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(spool.files().unwrap(), vec![b2.clone()]);
        spool.remove(&[b2]).unwrap();
        assert!(spool.files().unwrap().is_empty());
        assert!(!spool.dir().exists(), "empty spool directories are removed");
    }
}
