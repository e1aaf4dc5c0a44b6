//! The git store (SPEC §8): events as JSON files on a ref of the
//! repository's own remote, read through a local SQLite cache so every query
//! is the SQLite store's.
//!
//! - Layout: `deployments/<YYYY-MM>/<id>.json`, `incidents/<id>.json`,
//!   `test-runs/<YYYY-MM>/<id>.json`; an id's characters outside
//!   `[A-Za-z0-9._-]` are `%XX`-escaped.
//! - Reads: fetch the ref into a local tracking ref, then load only the files
//!   the commits since the cache's last tip added or changed.
//! - Writes: record in the cache, commit the new files on the fetched tip
//!   (identity `dorameter`), push without force. A push the remote rejects
//!   because the ref moved fetches, loads the others' events, re-applies this
//!   write's files on the new tip (upsert by id) and pushes again, with
//!   backoff. The ref only ever moves forward.
//! - A write that cannot be pushed drops the cache (it would hold events the
//!   ref does not), so the next command rebuilds it from the ref.

mod recorder;
mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Datelike, Utc};

use self::recorder::{Recorder, RunFile, Written};
use self::transport::{Failure, Pushed, Transport};
use super::{Access, GitUrl, ReadTx, SqliteStore, Store, StoreError, WriteTx};
use crate::event::{Deployment, Incident};
use crate::git::Repo;

/// Pushes tried before a write gives up (each after a fetch and a re-apply).
const PUSH_ATTEMPTS: u32 = 8;

pub struct GitStore {
    objects: Repo,
    transport: Transport,
    refname: String,
    /// The local ref the remote's event ref is fetched into.
    tracking: String,
    cache: SqliteStore,
    cache_path: PathBuf,
    /// The tracking ref's commit the cache holds, kept next to the cache.
    tip_path: PathBuf,
    shown: String,
    access: Access,
}

fn open_err(shown: &str, message: String) -> StoreError {
    StoreError::Open {
        path: shown.to_string(),
        source: message.into(),
    }
}

/// A short stable name for (remote, ref): the tracking ref and cache file.
fn key(url: &GitUrl) -> String {
    let h =
        xxhash_rust::xxh3::xxh3_64(format!("{}#{}", url.shown_remote(), url.refname).as_bytes());
    format!("{h:016x}")
}

/// An event id as a file name: `[A-Za-z0-9._-]` kept (not a leading dot),
/// everything else `%XX` per UTF-8 byte.
pub fn file_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 5);
    for (i, b) in id.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str(".json");
    out
}

fn deployment_path(d: &Deployment) -> String {
    let t = d.finished_at;
    format!(
        "deployments/{:04}-{:02}/{}",
        t.year(),
        t.month(),
        file_name(&d.id)
    )
}

fn test_run_path(r: &crate::event::TestRun) -> String {
    let t = r.recorded_at;
    format!(
        "test-runs/{:04}-{:02}/{}",
        t.year(),
        t.month(),
        file_name(&r.id)
    )
}

fn incident_path(i: &Incident) -> String {
    format!("incidents/{}", file_name(&i.id))
}

impl GitStore {
    pub fn open(url: &GitUrl, access: Access) -> Result<GitStore, StoreError> {
        let shown = url.to_string();
        let objects = Repo::discover(&url.dir).map_err(|e| {
            open_err(
                &shown,
                format!("{e}: the git store keeps events on a ref of this repository's remote, so run dorameter inside the checkout"),
            )
        })?;
        let git_dir = objects.git_dir().to_path_buf();
        let root = match git_dir.file_name() {
            Some(n) if n == ".git" => git_dir.parent().unwrap_or(&git_dir).to_path_buf(),
            _ => git_dir.clone(),
        };
        let k = key(url);
        let cache_path = root.join(".dorameter").join(format!("git-cache-{k}.db"));
        let cache = SqliteStore::open(&cache_path, Access::ReadWrite)?;
        let transport = Transport::new(&git_dir, url.expose(), &url.shown_remote());
        let mut store = GitStore {
            objects,
            transport,
            refname: url.refname.clone(),
            tracking: format!("refs/dorameter/remotes/{k}"),
            cache,
            tip_path: cache_path.with_extension("tip"),
            cache_path,
            shown,
            access,
        };
        store.fetch()?;
        store.sync()?;
        Ok(store)
    }

    fn failure(&self, f: Failure) -> StoreError {
        match f {
            Failure::Denied(m) => StoreError::NoAccess {
                path: self.shown.clone(),
                what: "writing the event ref".into(),
                fix: "give the job push access: on GitHub `permissions: contents: write` (actions/checkout keeps the token); on GitLab a token with write_repository in the remote URL (--store git:https://oauth2:$TOKEN@gitlab.example.com/group/project.git), since CI_JOB_TOKEN cannot push".into(),
                source: m.into(),
            },
            Failure::NotFound(m) => open_err(
                &self.shown,
                format!("{m} (check the remote name or URL in --store git:REMOTE)"),
            ),
            Failure::Transient(m) => StoreError::Unreachable {
                path: self.shown.clone(),
                source: m.into(),
            },
        }
    }

    fn fetch(&mut self) -> Result<bool, StoreError> {
        self.transport
            .fetch(&self.refname, &self.tracking)
            .map_err(|f| match f {
                // Reading a ref needs read access only: a denial here is
                // about the credentials, not about pushing.
                Failure::Denied(m) => StoreError::NoAccess {
                    path: self.shown.clone(),
                    what: "reading the event ref".into(),
                    fix: "check the credentials of the remote (the token in its URL, or the checkout's credential helper): reading needs read access to the repository".into(),
                    source: m.into(),
                },
                other => self.failure(other),
            })
    }

    fn loaded_tip(&self) -> Option<String> {
        std::fs::read_to_string(&self.tip_path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn set_loaded_tip(&self, tip: &str) -> Result<(), StoreError> {
        std::fs::write(&self.tip_path, format!("{tip}\n")).map_err(|e| {
            open_err(
                &self.shown,
                format!("write {}: {e}", self.tip_path.display()),
            )
        })
    }

    /// Starts the cache over (it may hold events the ref does not).
    fn drop_cache(&mut self) {
        let _ = std::fs::remove_file(&self.tip_path);
        if let Ok(empty) = SqliteStore::open(Path::new(""), Access::ReadOnly) {
            // Close the file before removing it.
            drop(std::mem::replace(&mut self.cache, empty));
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.cache_path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }

    /// Loads into the cache what the tracking ref has and the cache does not.
    fn sync(&mut self) -> Result<(), StoreError> {
        let Some(tip) = self.objects.ref_target(&self.tracking) else {
            return Ok(());
        };
        let loaded = self.loaded_tip();
        if loaded.as_deref() == Some(tip.as_str()) {
            return Ok(());
        }
        let from = match loaded {
            Some(l) if self.objects.is_ancestor(&l, &tip) => Some(l),
            Some(_) => {
                // Not an ancestor: the ref was rewritten by hand. Start over.
                self.drop_cache();
                self.cache = SqliteStore::open(&self.cache_path, Access::ReadWrite)?;
                None
            }
            None => None,
        };
        let files = self
            .objects
            .changed_files(from.as_deref(), &tip)
            .map_err(|e| open_err(&self.shown, e.to_string()))?;
        let mut deployments: Vec<Deployment> = Vec::new();
        let mut incidents: Vec<Incident> = Vec::new();
        let mut runs: Vec<RunFile> = Vec::new();
        for (path, content) in &files {
            let bad = |e: serde_json::Error| StoreError::Corrupt {
                path: format!("{} ({path})", self.shown),
                source: Box::new(e),
            };
            if path.starts_with("deployments/") {
                deployments.push(serde_json::from_slice(content).map_err(bad)?);
            } else if path.starts_with("incidents/") {
                incidents.push(serde_json::from_slice(content).map_err(bad)?);
            } else if path.starts_with("test-runs/") {
                runs.push(serde_json::from_slice(content).map_err(bad)?);
            }
        }
        // Latest first: a deployment inserted before a later one takes its
        // commits' samples from it (each commit counts once).
        deployments.sort_by_key(|d| std::cmp::Reverse(d.finished_at));
        self.cache
            .write(&mut |tx| {
                for d in &deployments {
                    tx.insert_deployment(d)?;
                }
                for i in &incidents {
                    tx.upsert_incident(i)?;
                }
                // Replayed through the same merge rules as the first
                // ingestion; a run already in the cache is left as it is.
                for f in &runs {
                    if let Some(seq) = tx.insert_test_run(&f.run)? {
                        tx.begin_file()?;
                        for e in &f.entries {
                            tx.add_test_entry(seq, &e.as_entry())?;
                        }
                        tx.end_file(true)?;
                        tx.update_test_run_counts(seq, &f.run)?;
                    }
                }
                Ok(())
            })
            .map_err(|e| open_err(&self.shown, e.to_string()))?;
        self.set_loaded_tip(&tip)
    }

    /// The files of the events `written` names, as the cache now holds them.
    fn files(&mut self, written: &Written) -> crate::Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        self.cache.read(&mut |tx| {
            for id in &written.deployments {
                if let Some(d) = tx.deployment(id)? {
                    files.push((deployment_path(&d), to_json(&d)));
                }
            }
            for id in &written.incidents {
                if let Some(i) = tx.incident(id)? {
                    files.push((incident_path(&i), to_json(&i)));
                }
            }
            Ok(())
        })?;
        for f in &written.test_runs {
            files.push((test_run_path(&f.run), to_json(f)));
        }
        Ok(files)
    }

    /// Commits `files` on the tracking ref's tip and pushes, re-applying on
    /// the new tip while the remote's ref moves on.
    fn push(&mut self, files: &[(String, Vec<u8>)], message: &str) -> Result<(), StoreError> {
        let mut pause = Duration::from_millis(50);
        let mut last = String::new();
        for attempt in 1..=PUSH_ATTEMPTS {
            let parent = self.objects.ref_target(&self.tracking);
            let commit = self
                .objects
                .commit_files(parent.as_deref(), files, message, Utc::now().timestamp())
                .map_err(|e| open_err(&self.shown, e.to_string()))?;
            match self.transport.push(&commit, &self.refname) {
                Ok(Pushed::Done) => {
                    // The remote's ref is this commit now, and the cache
                    // holds its parent's events and ours: no second fetch.
                    self.objects
                        .set_ref(&self.tracking, &commit)
                        .map_err(|e| open_err(&self.shown, e.to_string()))?;
                    self.set_loaded_tip(&commit)?;
                    return Ok(());
                }
                Ok(Pushed::Behind) => last = "the remote's ref moved on".into(),
                Err(Failure::Transient(m)) if attempt < PUSH_ATTEMPTS => last = m,
                Err(f) => return Err(self.failure(f)),
            }
            std::thread::sleep(pause + Duration::from_millis(jitter(attempt)));
            pause = (pause * 2).min(Duration::from_secs(2));
            self.fetch()?;
            self.sync()?;
        }
        Err(StoreError::Unreachable {
            path: self.shown.clone(),
            source: format!("gave up after {PUSH_ATTEMPTS} pushes: {last}").into(),
        })
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap_or_default();
    s.push(b'\n');
    s
}

/// Up to 50 ms, different per process, so racing writers spread out.
fn jitter(attempt: u32) -> u64 {
    let seed = u64::from(std::process::id()) ^ (u64::from(attempt) << 32);
    xxhash_rust::xxh3::xxh3_64(&seed.to_le_bytes()) % 50
}

impl Store for GitStore {
    fn write(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()> {
        if self.access == Access::ReadOnly {
            return Err(StoreError::ReadOnly {
                path: self.shown.clone(),
                source: "opened read-only".into(),
            }
            .into());
        }
        let mut written = Written::default();
        self.cache.write(&mut |tx| {
            written = Written::default();
            let mut rec = Recorder {
                inner: tx,
                written: &mut written,
            };
            f(&mut rec)
        })?;
        if written.is_empty() {
            return Ok(());
        }
        let files = self.files(&written)?;
        let ids: Vec<&String> = written
            .deployments
            .iter()
            .chain(&written.incidents)
            .chain(written.test_runs.iter().map(|f| &f.run.id))
            .collect();
        let message = format!(
            "dorameter: {} event{}\n\n{}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.iter()
                .map(|id| format!("- {id}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        if let Err(e) = self.push(&files, &message) {
            self.drop_cache();
            return Err(e.into());
        }
        Ok(())
    }

    fn simulate(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let mut written = Written::default();
        self.cache.simulate(&mut |tx| {
            let mut rec = Recorder {
                inner: tx,
                written: &mut written,
            };
            f(&mut rec)
        })
    }

    fn read(&mut self, f: &mut dyn FnMut(&dyn ReadTx) -> crate::Result<()>) -> crate::Result<()> {
        self.cache.read(f)
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn ids_become_safe_file_names() {
        assert_eq!(
            file_name("gh:acme-api:9001:1"),
            "gh%3Aacme-api%3A9001%3A1.json"
        );
        assert_eq!(file_name("INC-42"), "INC-42.json");
        assert_eq!(file_name("../x y"), "%2E.%2Fx%20y.json");
        assert_eq!(file_name("é"), "%C3%A9.json");
    }
}
