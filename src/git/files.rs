//! The files of a checkout, as repository-relative paths: what a stack
//! trace's paths are matched against (`junit::WorkTree`). Read from the
//! git index (no work tree walk: fast on 100k-file repositories); outside
//! a repository, a bounded walk of the directory.

use std::path::{Path, PathBuf};

use git2::Repository;

/// Files a directory walk lists at most (an index has no such limit).
pub const WALK_LIMIT: usize = 200_000;

/// Directories a walk does not enter: dependencies and build output, whose
/// files never count as where a test failed.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "__pycache__"];

/// The files of a checkout.
#[derive(Debug, Default)]
pub struct CheckoutFiles {
    /// The directory the paths are relative to: the repository's work tree,
    /// else the directory walked.
    pub root: PathBuf,
    /// `/`-separated, relative to `root`, unsorted.
    pub paths: Vec<String>,
    /// Whether they come from the git index (else from a walk).
    pub from_index: bool,
    /// A walk stopped at [`WALK_LIMIT`]: some files are missing.
    pub partial: bool,
}

/// The files of the checkout around `dir`: the git index of the repository
/// containing it (its work tree the root), else a walk of `dir` itself.
/// Never fails: an unreadable directory is left out.
pub fn checkout_files(dir: &Path) -> CheckoutFiles {
    if let Some(files) = index_files(dir) {
        return files;
    }
    let mut files = CheckoutFiles {
        root: dir.to_path_buf(),
        ..CheckoutFiles::default()
    };
    walk(dir, "", &mut files);
    files
}

fn index_files(dir: &Path) -> Option<CheckoutFiles> {
    let repo = Repository::discover(dir).ok()?;
    let root = repo.workdir()?.to_path_buf();
    let index = repo.index().ok()?;
    let paths = index
        .iter()
        // Submodules (mode 160000) are commits, not files.
        .filter(|e| e.mode & 0o170000 != 0o160000)
        .filter_map(|e| String::from_utf8(e.path).ok())
        .collect();
    Some(CheckoutFiles {
        root,
        paths,
        from_index: true,
        partial: false,
    })
}

fn walk(dir: &Path, prefix: &str, files: &mut CheckoutFiles) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if files.paths.len() >= WALK_LIMIT {
            files.partial = true;
            return;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // Not followed: a link can lead outside the checkout, or in a circle.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = format!("{prefix}{name}");
        if kind.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(&entry.path(), &format!("{path}/"), files);
            }
        } else if kind.is_file() {
            files.paths.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, paths: &[&str]) {
        for p in paths {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "x").unwrap();
        }
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn a_repository_lists_its_index_from_any_subdirectory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        write(&root, &["src/a.rs", "tests/b.rs", "untracked.txt"]);
        let repo = Repository::init(&root).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("src/a.rs")).unwrap();
        index.add_path(Path::new("tests/b.rs")).unwrap();
        index.write().unwrap();

        let files = checkout_files(&root.join("src"));
        assert!(files.from_index && !files.partial);
        assert_eq!(files.root.canonicalize().unwrap(), root);
        // The index, not the work tree: the untracked file is not there.
        assert_eq!(sorted(files.paths), ["src/a.rs", "tests/b.rs"]);
    }

    #[test]
    fn outside_a_repository_the_directory_is_walked_without_dependencies() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            &[
                "app/x.test.js",
                "node_modules/jest/index.js",
                ".cache/y.js",
                "target/debug/z.rs",
                "lib/deep/w.py",
            ],
        );
        let files = checkout_files(tmp.path());
        assert!(!files.from_index && !files.partial);
        assert_eq!(files.root, tmp.path());
        assert_eq!(sorted(files.paths), ["app/x.test.js", "lib/deep/w.py"]);
    }
}
