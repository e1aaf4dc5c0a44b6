//! The store behind the server: a fixed set of worker threads, each with its
//! own store connection (and clone of `--repo`), fed from one bounded queue.
//! The stores are blocking; the async handlers hand them a job and await its
//! answer. A full queue is an immediate "busy" (503), never an unbounded
//! backlog: the bounded concurrency of SPEC §9.
//!
//! Writes to SQLite and PostgreSQL go to one more thread, the writer, which
//! commits the writes waiting for it together in one transaction (group
//! commit): each store takes one writer at a time anyway, and one commit
//! (one fsync) for many webhooks is what makes a burst of them cheap. A
//! write that fails rolls its batch back, and the batch is written again
//! one write per transaction, so one bad event never costs another its
//! place; each caller hears only after its commit. A git store has a single
//! worker for reads and writes alike.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::git::Repo;
use std::any::Any;

use crate::store::{self, Access, Store, StoreError, StoreUrl, WriteTx};
use crate::{Error, Result};

/// What a job gets: the worker's store and repository.
pub struct Worker {
    pub store: Box<dyn Store>,
    pub repo: Option<Repo>,
    url: StoreUrl,
    access: Access,
    opened: Instant,
    /// Reopen (and so re-fetch) a git store older than this before a job.
    refresh: Option<Duration>,
    /// The last job lost the store's connection: reopen before the next.
    broken: bool,
}

impl Worker {
    fn open(spec: &PoolSpec) -> Result<Worker> {
        let store = store::open(&spec.url, spec.access)?;
        let repo = match &spec.repo {
            Some(path) => Some(Repo::discover(path)?),
            None => None,
        };
        Ok(Worker {
            store,
            repo,
            url: spec.url.clone(),
            access: spec.access,
            opened: Instant::now(),
            refresh: spec.refresh,
            broken: false,
        })
    }

    /// A git store reads the ref as fetched when it was opened: reopened
    /// after `refresh`, it sees what CI jobs pushed since.
    fn freshen(&mut self) {
        if self.broken {
            if let Ok(store) = store::open(&self.url, self.access) {
                self.store = store;
                self.broken = false;
                self.opened = Instant::now();
            }
            return;
        }
        let Some(refresh) = self.refresh else { return };
        if self.opened.elapsed() < refresh {
            return;
        }
        if let Ok(store) = store::open(&self.url, self.access) {
            self.store = store;
        }
        // A failed reopen keeps the old snapshot; the next job tries again.
        self.opened = Instant::now();
    }
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// Whether a job lost the store's connection (the database restarted): the
/// worker reopens it before the next job rather than failing every one.
fn lost<T>(r: &Result<T>) -> bool {
    matches!(
        r,
        Err(Error::Store(
            StoreError::Open { .. } | StoreError::Unreachable { .. }
        ))
    )
}

type Written = Box<dyn Any + Send>;
type Apply = Box<dyn FnMut(&mut dyn WriteTx, Option<&Repo>) -> Result<Written> + Send>;

struct WriteJob {
    apply: Apply,
    reply: oneshot::Sender<Result<Written>>,
}

/// Writes committed together at most.
const BATCH: usize = 256;

/// Whole-history jobs that may wait (each is computed once and shared by
/// its askers, so few are ever queued).
const HEAVY_QUEUE: usize = 8;

/// How the workers open their store.
#[derive(Clone, Debug)]
pub struct PoolSpec {
    pub url: StoreUrl,
    pub access: Access,
    pub repo: Option<std::path::PathBuf>,
    pub workers: usize,
    /// Jobs that may wait for a worker before the pool says busy.
    pub queue: usize,
    pub refresh: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("every store worker is busy")]
    Busy,
    #[error("the server is shutting down")]
    Closed,
    #[error(transparent)]
    Failed(#[from] Error),
}

#[derive(Clone)]
pub struct Pool {
    jobs: SyncSender<Job>,
    /// The writer's queue; `None`: writes run as jobs (the git store).
    writes: Option<SyncSender<WriteJob>>,
    /// The queue of `run_heavy`; `None`: they run as jobs (the git store).
    heavy: Option<SyncSender<Job>>,
}

impl Pool {
    /// Starts the workers, each opening its store in its own thread (a
    /// store is not shared across threads), and waits until they have: a
    /// bad store or repository fails the command before it listens.
    pub fn start(spec: &PoolSpec) -> Result<(Pool, Vec<std::thread::JoinHandle<()>>)> {
        let (tx, rx) = sync_channel::<Job>(spec.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let (opened_tx, opened) = std::sync::mpsc::channel::<Result<()>>();
        let mut handles = Vec::new();
        for n in 0..spec.workers.max(1) {
            let rx = Arc::clone(&rx);
            handles.push(spawn(&format!("store-{n}"), spec, &opened_tx, move |w| {
                work(w, &rx);
            })?);
        }
        let (writes, heavy) = match spec.url {
            StoreUrl::Git(_) => (None, None),
            _ => {
                let (wtx, wrx) = sync_channel::<WriteJob>(spec.queue.max(1));
                handles.push(spawn("store-writer", spec, &opened_tx, move |w| {
                    write(w, &wrx);
                })?);
                let (htx, hrx) = sync_channel::<Job>(HEAVY_QUEUE);
                let hrx = Mutex::new(hrx);
                handles.push(spawn("store-heavy", spec, &opened_tx, move |w| {
                    work(w, &hrx);
                })?);
                (Some(wtx), Some(htx))
            }
        };
        drop(opened_tx);
        for _ in 0..handles.len() {
            match opened.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(Error::internal("a store worker ended before it opened")),
            }
        }
        Ok((
            Pool {
                jobs: tx,
                writes,
                heavy,
            },
            handles,
        ))
    }

    /// Runs `f`, which reads a store's whole history, on the one worker
    /// kept for that (a git store's single worker): the memory such a job
    /// takes is then held by one thread, not by every worker in turn.
    pub async fn run_heavy<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, PoolError> {
        match &self.heavy {
            Some(heavy) => submit(heavy, f).await,
            None => submit(&self.jobs, f).await,
        }
    }

    /// Runs `f` on a worker and waits for its answer.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, PoolError> {
        submit(&self.jobs, f).await
    }

    /// Runs `f` in a write transaction (with the writer's repository) and
    /// waits until it is committed.
    pub async fn write<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn WriteTx, Option<&Repo>) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, PoolError> {
        let Some(writes) = &self.writes else {
            return self
                .run(move |w| {
                    let mut out = None;
                    let repo = w.repo.as_ref();
                    w.store.write(&mut |tx| {
                        out = Some(f(tx, repo)?);
                        Ok(())
                    })?;
                    out.ok_or_else(|| Error::internal("the store ran no write"))
                })
                .await;
        };
        let (reply, rx) = oneshot::channel();
        let apply: Apply = Box::new(move |tx, repo| f(tx, repo).map(|t| Box::new(t) as Written));
        match writes.try_send(WriteJob { apply, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(PoolError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(PoolError::Closed),
        }
        match rx.await {
            Ok(Ok(written)) => written
                .downcast::<T>()
                .map(|t| *t)
                .map_err(|_| PoolError::Failed(Error::internal("a write answered another type"))),
            Ok(Err(e)) => Err(PoolError::Failed(e)),
            Err(_) => Err(PoolError::Closed),
        }
    }
}

/// Queues `f` on `jobs` and waits for its answer; a full queue is busy.
async fn submit<T: Send + 'static>(
    jobs: &SyncSender<Job>,
    f: impl FnOnce(&mut Worker) -> Result<T> + Send + 'static,
) -> std::result::Result<T, PoolError> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |w| {
        let r = f(w);
        w.broken |= lost(&r);
        let _ = tx.send(r);
    });
    match jobs.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => return Err(PoolError::Busy),
        Err(TrySendError::Disconnected(_)) => return Err(PoolError::Closed),
    }
    match rx.await {
        Ok(r) => r.map_err(PoolError::Failed),
        Err(_) => Err(PoolError::Closed),
    }
}

/// A thread named `name` that opens its own store (and repository), says
/// so on `opened`, and then runs `body`.
fn spawn(
    name: &str,
    spec: &PoolSpec,
    opened: &std::sync::mpsc::Sender<Result<()>>,
    body: impl FnOnce(Worker) + Send + 'static,
) -> Result<std::thread::JoinHandle<()>> {
    let spec = spec.clone();
    let opened = opened.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match Worker::open(&spec) {
            Ok(w) => {
                let _ = opened.send(Ok(()));
                drop(opened);
                body(w);
            }
            Err(e) => {
                let _ = opened.send(Err(e));
            }
        })
        .map_err(|e| Error::internal(format!("failed to start the store thread {name}: {e}")))
}

/// The writer: every write waiting, committed in one transaction.
fn write(mut worker: Worker, rx: &Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        worker.freshen();
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let repo = worker.repo.as_ref();
        let mut done: Vec<Written> = Vec::with_capacity(batch.len());
        let together = worker.store.write(&mut |tx| {
            done.clear();
            for job in batch.iter_mut() {
                done.push((job.apply)(tx, repo)?);
            }
            Ok(())
        });
        worker.broken |= lost(&together);
        if together.is_ok() && done.len() == batch.len() {
            for (job, out) in batch.into_iter().zip(done) {
                let _ = job.reply.send(Ok(out));
            }
            continue;
        }
        // One of them failed: each alone, so each hears its own answer.
        for mut job in batch {
            let mut out = None;
            let r = worker.store.write(&mut |tx| {
                out = Some((job.apply)(tx, repo)?);
                Ok(())
            });
            worker.broken |= lost(&r);
            let answer = match (r, out) {
                (Ok(()), Some(o)) => Ok(o),
                (Err(e), _) => Err(e),
                (Ok(()), None) => Err(Error::internal("the store ran no write")),
            };
            let _ = job.reply.send(answer);
        }
    }
}

fn work(mut worker: Worker, rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        worker.freshen();
        job(&mut worker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Incident, IncidentCause};

    fn incident(id: &str) -> Incident {
        Incident {
            id: id.into(),
            services: vec!["api".into()],
            env: "production".into(),
            started_at: chrono::Utc::now(),
            detected_at: None,
            resolved_at: None,
            severity: None,
            title: None,
            cause: IncidentCause::Unknown,
            deployment_id: None,
            deployment_sha: None,
        }
    }

    /// A pool of `workers` over a new SQLite store in `dir`, and a runtime
    /// to ask it from.
    fn sqlite_pool(
        dir: &std::path::Path,
        workers: usize,
        queue: usize,
    ) -> (Pool, tokio::runtime::Runtime) {
        let spec = PoolSpec {
            url: StoreUrl::Sqlite(dir.join("s.db")),
            access: Access::ReadWrite,
            repo: None,
            workers,
            queue,
            refresh: None,
        };
        let (pool, _threads) = Pool::start(&spec).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        (pool, rt)
    }

    /// Writes sent at once share commits; one that fails costs the others
    /// nothing and hears its own error.
    #[test]
    fn a_failing_write_does_not_take_its_batch_down() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, rt) = sqlite_pool(dir.path(), 2, 512);
        let results = rt.block_on(async {
            let mut handles = Vec::new();
            for n in 0..200 {
                let pool = pool.clone();
                handles.push(tokio::spawn(async move {
                    pool.write(move |tx, _| {
                        if n == 77 {
                            // Writes first, then fails: rolled back too.
                            tx.upsert_incident(&incident("i-77"))?;
                            return Err(Error::usage_hint("no", "no"));
                        }
                        tx.upsert_incident(&incident(&format!("i-{n}")))?;
                        Ok(n)
                    })
                    .await
                }));
            }
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        });
        let failed: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_err())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(failed, vec![77]);
        assert!(matches!(results[5], Ok(5)));
        let ids = rt
            .block_on(pool.run(|w| {
                let mut ids = Vec::new();
                w.store.read(&mut |tx| {
                    ids = tx.incident_ids()?;
                    Ok(())
                })?;
                Ok(ids)
            }))
            .unwrap();
        assert_eq!(ids.len(), 199);
        assert!(!ids.contains(&"i-77".to_string()));
    }

    /// Whole-history jobs all run on the one thread kept for them, every
    /// other read on the workers.
    #[test]
    fn heavy_jobs_run_on_their_own_thread() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, rt) = sqlite_pool(dir.path(), 3, 64);
        let thread = || Ok(std::thread::current().name().unwrap_or("").to_string());
        let (heavy, light) = rt.block_on(async {
            let mut heavy = Vec::new();
            let mut light = Vec::new();
            for _ in 0..20 {
                let (h, l) = tokio::join!(
                    pool.run_heavy(move |_| thread()),
                    pool.run(move |_| thread())
                );
                heavy.push(h.unwrap());
                light.push(l.unwrap());
            }
            (heavy, light)
        });
        assert!(heavy.iter().all(|t| t == "store-heavy"), "{heavy:?}");
        assert!(
            light
                .iter()
                .all(|t| t.starts_with("store-") && t != "store-heavy"),
            "{light:?}"
        );
    }
}
