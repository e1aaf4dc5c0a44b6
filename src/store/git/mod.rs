//! The git store (SPEC §8): events as JSON files on a ref of the
//! repository's own remote, read through a local SQLite cache so every query
//! is the SQLite store's.
//!
//! - Layout: `deployments-<YYYY-MM>/<id>.json`, `incidents/<id>.json`,
//!   `test-runs-<YYYY-MM>/<id>.json`; an id's characters outside
//!   `[A-Za-z0-9._-]` are `%XX`-escaped. Two levels, not three: every
//!   commit rewrites one tree per level, and the flat month directories keep
//!   the packed ref under twice the size of the same events as gzipped
//!   JSON Lines (benches/git_store_read.py).
//! - Reads: fetch the ref into a local tracking ref, then load only the files
//!   the commits since the cache's last tip added or changed.
//! - Writes: record in the cache, commit the new files on the fetched tip
//!   (identity `dorameter`), push without force. A push the remote rejects
//!   because the ref moved fetches, loads the others' events, re-applies this
//!   write's files on the new tip (upsert by id) and pushes again, with
//!   backoff. The ref only ever moves forward.
//! - A write's files go to the spool (`.dorameter/git-spool-<key>/`)
//!   before the push. Pushed, they leave it; when the remote cannot be
//!   reached they wait there, in the cache too, and every later command (or
//!   `dorameter flush`) pushes them first. Pushing a file the ref already
//!   holds changes no tree and makes no commit: nothing doubles.
//! - The cache is trusted only with its tip file: a write removes the file
//!   until its events are spooled, so a job killed in between leaves a
//!   cache the next command rebuilds from the ref and the spool.

mod recorder;
mod spool;
mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Datelike, Utc};

use self::recorder::{Cursor, Recorder, RunFile, Written};
use self::spool::{Files, Spool};
use self::transport::{Failure, Pushed, Transport};
use super::{
    Access, Backlog, GitUrl, PullCommits, ReadTx, SqliteStore, Store, StoreError, WriteTx,
};
use crate::event::{Deployment, Incident};
use crate::git::Repo;

/// Pushes tried before a write gives up (each after a fetch and a re-apply):
/// enough for dozens of jobs writing at once.
const PUSH_ATTEMPTS: u32 = 40;
/// Fetches or pushes that fail for want of the remote before the events
/// go to the spool.
const TRANSIENT_ATTEMPTS: u32 = 3;

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
    spool: Spool,
    /// Why the remote could not be fetched at open: reads are stale.
    offline: Option<String>,
    /// Events pushed from the spool, and the last reason some wait.
    pushed: usize,
    waiting: usize,
    reason: Option<String>,
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
        "deployments-{:04}-{:02}/{}",
        t.year(),
        t.month(),
        file_name(&d.id)
    )
}

fn test_run_path(r: &crate::event::TestRun) -> String {
    let t = r.recorded_at;
    format!(
        "test-runs-{:04}-{:02}/{}",
        t.year(),
        t.month(),
        file_name(&r.id)
    )
}

fn incident_path(i: &Incident) -> String {
    format!("incidents/{}", file_name(&i.id))
}

fn cursor_path(c: &Cursor) -> String {
    format!("cursors/{}", file_name(&c.source))
}

/// `pull-commits/<sha>.json`: a squash commit's request, one file each.
fn pull_commits_path(p: &PullCommits) -> String {
    format!("pull-commits/{}", file_name(&p.sha))
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
        let k = key(url);
        let dir = local_dir(&objects);
        if !dir.join(".gitignore").exists() {
            // Cache and spool are this checkout's, never the repository's
            // (also when something else made the directory first).
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(".gitignore"), "*\n");
        }
        let cache_path = dir.join(format!("git-cache-{k}.db"));
        let tip_path = cache_path.with_extension("tip");
        if !tip_path.exists() {
            // A cache without its tip file is not trusted: start over.
            remove_cache_files(&cache_path);
        }
        let cache = SqliteStore::open(&cache_path, Access::ReadWrite)?;
        let transport = Transport::new(&git_dir, url.expose(), &url.shown_remote());
        let mut store = GitStore {
            objects,
            transport,
            refname: url.refname.clone(),
            tracking: format!("refs/dorameter/remotes/{k}"),
            cache,
            tip_path,
            cache_path,
            shown,
            access,
            spool: Spool::new(dir.join(format!("git-spool-{k}")), &url.to_string()),
            offline: None,
            pushed: 0,
            waiting: 0,
            reason: None,
        };
        store.fetch_at_open()?;
        store.sync()?;
        store.send_spooled(&[])?;
        Ok(store)
    }

    /// Fetches, retrying a remote that does not answer; still unreachable,
    /// the store reads the events as of the last fetch (and spools writes),
    /// or fails if this clone never fetched them.
    fn fetch_at_open(&mut self) -> Result<(), StoreError> {
        let mut pause = Duration::from_millis(200);
        for attempt in 1..=TRANSIENT_ATTEMPTS {
            match self.fetch() {
                Ok(_) => return Ok(()),
                Err(StoreError::Unreachable { path, source }) => {
                    if attempt == TRANSIENT_ATTEMPTS {
                        if self.objects.ref_target(&self.tracking).is_none() {
                            // Never fetched here: no history to read, and a
                            // deployment's previous one is unknown.
                            return Err(StoreError::Unreachable { path, source });
                        }
                        self.offline = Some(source.to_string());
                    }
                }
                Err(e) => return Err(e),
            }
            if attempt < TRANSIENT_ATTEMPTS {
                std::thread::sleep(pause);
                pause *= 3;
            }
        }
        Ok(())
    }

    /// Loads the spooled events into the cache and pushes them with
    /// `new` (this write's files, already spooled). A remote that cannot be
    /// reached leaves them waiting; a refusal is the caller's error.
    fn send_spooled(&mut self, new: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let files = self.spool.files().map_err(|e| self.spool_err("read", &e))?;
        if files.is_empty() {
            return Ok(());
        }
        if new.is_empty() {
            // Events of an earlier run: the cache may have been rebuilt
            // from the ref without them.
            self.load(&files)?;
        }
        if let Some(why) = &self.offline {
            self.waiting = files.len();
            self.reason = Some(why.clone());
            return Ok(());
        }
        match self.push(&files, &commit_message(&files)) {
            Ok(()) => {
                self.spool
                    .remove(&files)
                    .map_err(|e| self.spool_err("clear", &e))?;
                // Counted: the events of earlier runs, not this write's.
                self.pushed += files.iter().filter(|f| !new.contains(f)).count();
                self.waiting = 0;
                self.reason = None;
                Ok(())
            }
            Err(StoreError::Unreachable { source, .. }) => {
                self.waiting = files.len();
                self.reason = Some(source.to_string());
                Ok(())
            }
            Err(e) if new.is_empty() => {
                // Refused at open: the command still reads; what waits is told.
                self.waiting = files.len();
                self.reason = Some(crate::error::chain(&e));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn spool_err(&self, what: &str, e: &std::io::Error) -> StoreError {
        open_err(
            &self.shown,
            format!("{what} the spool {}: {e}", self.spool.dir().display()),
        )
    }

    fn failure(&self, f: Failure) -> StoreError {
        match f {
            Failure::Denied(m) => StoreError::NoAccess {
                path: self.shown.clone(),
                what: "writing the event ref".into(),
                fix: "give the job push access: on GitHub `permissions: contents: write` (actions/checkout keeps the token); on GitLab a project access token with write_repository, as the DORAMETER_GIT_TOKEN variable of the components or in the remote URL (--store git:https://oauth2:$TOKEN@gitlab.example.com/group/project.git), since CI_JOB_TOKEN cannot push; a host that takes only branches: --store 'git:origin#refs/heads/dorameter-data'".into(),
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
                    fix: "check the credentials of the remote (the token in its URL, e.g. the GitLab components' DORAMETER_GIT_TOKEN, or the checkout's credential helper): reading needs read access to the repository".into(),
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
        remove_cache_files(&self.cache_path);
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
        self.load(&files)?;
        self.set_loaded_tip(&tip)
    }

    /// Puts event files into the cache: a deployment or test run it holds
    /// stays as it is, an incident is replaced.
    fn load(&mut self, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut deployments: Vec<Deployment> = Vec::new();
        let mut incidents: Vec<Incident> = Vec::new();
        let mut runs: Vec<RunFile> = Vec::new();
        let mut cursors: Vec<Cursor> = Vec::new();
        let mut pulls: Vec<PullCommits> = Vec::new();
        for (path, content) in files {
            let bad = |e: serde_json::Error| StoreError::BadEventFile {
                path: self.shown.clone(),
                refname: self.refname.clone(),
                file: path.clone(),
                source: Box::new(e),
            };
            if path.starts_with("deployments-") {
                deployments.push(serde_json::from_slice(content).map_err(bad)?);
            } else if path.starts_with("incidents/") {
                incidents.push(serde_json::from_slice(content).map_err(bad)?);
            } else if path.starts_with("test-runs-") {
                runs.push(serde_json::from_slice(content).map_err(bad)?);
            } else if path.starts_with("cursors/") {
                cursors.push(serde_json::from_slice(content).map_err(bad)?);
            } else if path.starts_with("pull-commits/") {
                pulls.push(serde_json::from_slice(content).map_err(bad)?);
            }
        }
        // Latest first: a deployment inserted before a later one takes its
        // commits' samples from it (each commit counts once).
        deployments.sort_by_key(|d| std::cmp::Reverse(d.finished_at));
        let bulk = deployments.len() + runs.len() > 1000;
        if bulk {
            self.cache.bulk_cache(64)?;
        }
        let loaded = self.cache.write(&mut |tx| {
            for d in &deployments {
                tx.insert_deployment(d)?;
            }
            for i in &incidents {
                tx.upsert_incident(i)?;
            }
            for c in &cursors {
                tx.set_cursor(&c.source, &c.value)?;
            }
            for p in &pulls {
                tx.set_pull_commits(p)?;
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
        });
        if bulk {
            // SQLite's default again, for the reads that follow.
            self.cache.bulk_cache(2)?;
        }
        loaded.map_err(|e| open_err(&self.shown, e.to_string()))
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
        for c in &written.cursors {
            files.push((cursor_path(c), to_json(c)));
        }
        for p in &written.pull_commits {
            files.push((pull_commits_path(p), to_json(p)));
        }
        Ok(files)
    }

    /// Commits `files` on the tracking ref's tip and pushes, re-applying on
    /// the new tip while the remote's ref moves on. A tip that already holds
    /// them all (pushed before, by a run that did not learn it) needs no
    /// commit.
    fn push(&mut self, files: &[(String, Vec<u8>)], message: &str) -> Result<(), StoreError> {
        let mut pause = Duration::from_millis(50);
        let mut last = String::new();
        let mut transient = 0;
        for attempt in 1..=PUSH_ATTEMPTS {
            let parent = self.objects.ref_target(&self.tracking);
            let commit = self
                .objects
                .commit_files(parent.as_deref(), files, message, Utc::now().timestamp())
                .map_err(|e| open_err(&self.shown, e.to_string()))?;
            let Some(commit) = commit else {
                return Ok(());
            };
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
                Err(Failure::Transient(m)) => {
                    transient += 1;
                    if transient == TRANSIENT_ATTEMPTS {
                        return Err(self.failure(Failure::Transient(m)));
                    }
                    last = m;
                }
                Err(f) => return Err(self.failure(f)),
            }
            // Half the pause, plus up to the whole again at random: racing
            // writers spread out instead of colliding in step.
            let ms = pause.as_millis() as u64;
            std::thread::sleep(Duration::from_millis(ms / 2 + jitter(attempt, ms)));
            pause = (pause * 2).min(Duration::from_secs(1));
            self.fetch()?;
            self.sync()?;
        }
        Err(StoreError::Unreachable {
            path: self.shown.clone(),
            source: format!("gave up after {PUSH_ATTEMPTS} pushes: {last}").into(),
        })
    }
}

/// `.dorameter/` at the checkout's root (the git directory's, bare).
fn local_dir(objects: &Repo) -> PathBuf {
    let git_dir = objects.git_dir();
    let root = match git_dir.file_name() {
        Some(n) if n == ".git" => git_dir.parent().unwrap_or(git_dir),
        _ => git_dir,
    };
    root.join(".dorameter")
}

/// Events waiting in a git store's spool of the checkout around `dir`.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// The store they wait for, as `--store` takes it (no credentials).
    pub store: String,
    pub spool: PathBuf,
    pub events: usize,
}

/// Every git store spool of the checkout around `dir` that holds events.
pub fn waiting(dir: &Path) -> Vec<Waiting> {
    let Ok(objects) = Repo::discover(dir) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(local_dir(&objects)) else {
        return Vec::new();
    };
    let mut out: Vec<Waiting> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("git-spool-"))
        .filter_map(|e| {
            let (store, events) = Spool::waiting(&e.path())?;
            Some(Waiting {
                store,
                spool: e.path(),
                events,
            })
        })
        .collect();
    out.sort_by(|a, b| a.spool.cmp(&b.spool));
    out
}

/// A cache file and its WAL companions, gone.
fn remove_cache_files(cache_path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = cache_path.to_path_buf().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The subject only: `git log --stat` names the files, and a short message
/// keeps the ref small (one commit per event in the usual case).
fn commit_message(files: &Files) -> String {
    format!(
        "dorameter: {}\n",
        crate::render::count(files.len() as u64, "event")
    )
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap_or_default();
    s.push(b'\n');
    s
}

/// Up to `max_ms`, different per process and attempt.
fn jitter(attempt: u32, max_ms: u64) -> u64 {
    let seed = u64::from(std::process::id()) ^ (u64::from(attempt) << 32);
    xxhash_rust::xxh3::xxh3_64(&seed.to_le_bytes()) % max_ms.max(1)
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
        // Until this write's events are spooled, the cache is not trusted:
        // a job killed in between leaves one the next command rebuilds.
        let tip = self.loaded_tip();
        let _ = std::fs::remove_file(&self.tip_path);
        let mut written = Written::default();
        let recorded = self.cache.write(&mut |tx| {
            written = Written::default();
            let mut rec = Recorder {
                inner: tx,
                written: &mut written,
            };
            f(&mut rec)
        });
        if let Err(e) = recorded {
            // Rolled back: the cache is as it was.
            if let Some(tip) = &tip {
                self.set_loaded_tip(tip)?;
            }
            return Err(e);
        }
        let files = match self.files(&written) {
            Ok(files) => files,
            Err(e) => {
                self.drop_cache();
                return Err(e);
            }
        };
        if let Err(e) = self.spool.put(&files) {
            let e = self.spool_err("write", &e);
            self.drop_cache();
            return Err(e.into());
        }
        if let Some(tip) = tip {
            self.set_loaded_tip(&tip)?;
        }
        if files.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.send_spooled(&files) {
            // Refused: this write is not recorded (the error says why).
            let _ = self.spool.remove(&files);
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

    fn backlog(&self) -> Option<Backlog> {
        Some(Backlog {
            store: self.shown.clone(),
            spool: self.spool.dir().display().to_string(),
            pushed: self.pushed,
            waiting: self.waiting,
            stale: self.offline.is_some(),
            reason: self.reason.clone().or_else(|| self.offline.clone()),
        })
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
