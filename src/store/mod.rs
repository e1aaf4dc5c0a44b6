//! Where events live. One trait, [`Store`], with transactional read and write
//! views; SQLite is the zero-setup default, PostgreSQL the shared team store
//! behind the same trait.

mod git;
mod postgres;
mod results;
mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
mod url;

pub use git::{GitStore, Waiting as GitSpool, waiting as git_spools};
pub use postgres::{PostgresStore, SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION};
pub use results::{StoredResult, TestResult};
pub use sqlite::SqliteStore;
pub use url::{DEFAULT_EVENTS_REF, GitUrl, PostgresUrl, StoreUrl, default_store_path};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Deployment, DeploymentKind, Incident, TestRun};
use crate::junit::{Entry, TestHistory};
use crate::metrics::{DeploymentFact, IncidentFact, Window};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid store URL '{url}': {reason}")]
    BadUrl { url: String, reason: String },
    #[error("failed to open the store at {path}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server could not be reached at all: the environment (network,
    /// server down), not a setting to change. Exit 1.
    #[error("failed to reach the store at {path}")]
    Unreachable {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the store at {path} is not a dorameter database (corrupted or another file)")]
    Corrupt {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "the store at {path} has schema version {found}, newer than this dorameter understands ({known})"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("the store at {path} is read-only")]
    ReadOnly {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database refused an operation for want of a privilege.
    #[error("permission denied by the store at {path}: {what}")]
    Denied {
        path: String,
        what: String,
        /// The statement a database owner can run to allow it.
        grant: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A remote refused the credentials it was given, or their rights
    /// (the git store): a setting to change. Exit 2.
    #[error("access denied by the store at {path} while {what}")]
    NoAccess {
        path: String,
        what: String,
        /// How to give the job the access it needs.
        fix: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file on the git store's ref that is not an event dorameter can
    /// read (edited by hand, or written by a newer version). Exit 2.
    #[error("the git store at {path} holds a file that is not a readable event: {file}")]
    BadEventFile {
        path: String,
        refname: String,
        file: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("store query failed: {context}")]
    Query {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            StoreError::Query { .. } | StoreError::Unreachable { .. }
        )
    }

    /// What to change, naming `--store` (DORAMETER_STORE).
    pub fn hint(&self) -> Option<String> {
        self.hint_for("--store", crate::env_vars::STORE)
    }

    /// What to change, naming `flag` and its env var as where the store
    /// came from (`store copy --from`, `--to`).
    pub fn hint_for(&self, flag: &str, env: &str) -> Option<String> {
        let setting = format!("{flag} ({env})");
        Some(match self {
            StoreError::BadUrl { .. } => {
                format!(
                    "give {setting} as sqlite:PATH, postgres://USER@HOST/DB or git[:REMOTE][#REF]"
                )
            }
            StoreError::Unreachable { .. } => {
                format!(
                    "check that the server is up and reachable from here (host, port, firewall) in {setting}; the command can be run again once it is"
                )
            }
            StoreError::Open { path, .. } if is_postgres(path) => {
                format!(
                    "check the host, port, database, user and password in {setting} and that the server accepts connections from here; add sslmode=disable for a server without TLS, sslrootcert=FILE for a private CA"
                )
            }
            StoreError::Denied { grant, .. } => format!(
                "ask the database owner to run `{grant}`, or point {setting} at a database you may change"
            ),
            StoreError::Open { path, .. } if path.starts_with("git:") => {
                format!(
                    "run dorameter inside the repository's checkout, with the remote {setting} names: add it (`git remote add origin URL`) or give git:REMOTE as a remote name or URL"
                )
            }
            StoreError::BadEventFile { refname, file, .. } => format!(
                "fix or remove {file} with a commit on {refname} (never a force push): every clone reads it; docs/git-store.md, \"A damaged file\", shows how"
            ),
            StoreError::Open { .. } | StoreError::ReadOnly { .. } => {
                format!(
                    "point {setting} at a writable location, e.g. {flag} sqlite:.dorameter/dorameter.db"
                )
            }
            StoreError::Corrupt { path, .. } => format!(
                "move {path} aside and run again to start a new store, or point {setting} elsewhere"
            ),
            StoreError::NoAccess { fix, .. } => fix.clone(),
            StoreError::TooNew { .. } => {
                "upgrade dorameter to the version that wrote this store".into()
            }
            StoreError::Query { .. } => return None,
        })
    }
}

fn is_postgres(path: &str) -> bool {
    path.starts_with("postgres://") || path.starts_with("postgresql://")
}

/// Where a deployment sits on its service+env timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentRef {
    pub id: String,
    pub sha: String,
    pub finished_at: DateTime<Utc>,
    pub kind: DeploymentKind,
    /// Insertion order: breaks ties between equal finished_at.
    pub seq: i64,
}

/// Everything `report` needs for one service+env.
#[derive(Debug, Default)]
pub struct ReportFacts {
    /// The deployments finished at or after `from` (see
    /// [`ReadTx::report_facts`]), any status.
    pub deployments: Vec<DeploymentFact>,
    /// When the service+env's first deployment finished, any time: whether
    /// there is history at all, and where it starts.
    pub first_deployment: Option<DateTime<Utc>>,
    pub incidents: Vec<IncidentFact>,
    pub lead_times: Vec<i64>,
}

/// A question a use case is about to ask, announced with
/// [`ReadTx::read_ahead`]: each names the `ReadTx` method and its arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ahead<'a> {
    Deployment(&'a str),
    HasService(&'a str),
    PreviousSuccess {
        service: &'a str,
        env: &'a str,
        at: DateTime<Utc>,
    },
    LastSuccessOfSha {
        service: &'a str,
        env: &'a str,
        sha: &'a str,
        at: DateTime<Utc>,
    },
    DeploymentShipping {
        service: &'a str,
        env: &'a str,
        sha: &'a str,
    },
}

/// Queries inside a transaction. "Successful" means status success; the
/// timeline order is (finished_at, seq).
pub trait ReadTx {
    /// The questions the caller will ask next. A store across a network
    /// sends them together (one round trip instead of one each) and answers
    /// each from what came back, once, until the transaction next writes;
    /// a local store ignores it. Only a hint: asking nothing of it, or
    /// something else, stays correct.
    fn read_ahead(&self, _questions: &[Ahead<'_>]) -> Result<(), StoreError> {
        Ok(())
    }
    /// The latest successful deployment at or before `at`.
    fn previous_success(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError>;
    /// The latest successful deployment of `sha` at or before `at`.
    fn last_success_of_sha(
        &self,
        service: &str,
        env: &str,
        sha: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError>;
    /// Successful deployments after `after` on the timeline, at or before `at`.
    fn successes_after(
        &self,
        service: &str,
        env: &str,
        after: &DeploymentRef,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRef>, StoreError>;
    /// Successful deployments at or before `at`, oldest first, at most `limit`
    /// of the newest.
    fn successes_before(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeploymentRef>, StoreError>;
    /// The earliest successful deployment that shipped `sha`: deployed it, or
    /// listed it among its changes.
    fn deployment_shipping(
        &self,
        service: &str,
        env: &str,
        sha: &str,
    ) -> Result<Option<DeploymentRef>, StoreError>;
    fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError>;
    fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError>;
    /// Every (service, env) with a deployment or incident, sorted.
    fn service_envs(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Every service with a stored test run, sorted.
    fn test_services(&self) -> Result<Vec<String>, StoreError>;
    /// Whether any deployment, incident or test run names `service` (three
    /// index lookups).
    fn has_service(&self, service: &str) -> Result<bool, StoreError>;
    /// What the metrics of `window` need: the deployments finished at or
    /// after `from` ([`crate::metrics::earliest_cause`] of the window: an
    /// older one can neither count nor be the cause of an incident that
    /// matters), every incident, and the window's lead times.
    fn report_facts(
        &self,
        service: &str,
        env: &str,
        window: Window,
        from: DateTime<Utc>,
    ) -> Result<ReportFacts, StoreError>;
    /// Lead times (seconds) of the changes of the successful deployments
    /// that finished in the window (`report_facts` includes these).
    fn lead_times(&self, service: &str, env: &str, window: Window) -> Result<Vec<i64>, StoreError>;
    /// [`ReadTx::lead_times`] of every deployment ever, counted rather than
    /// loaded: how many are at most each of `bounds` (seconds, ascending),
    /// their sum and their count (Prometheus' histogram of a store of any
    /// size).
    fn lead_time_histogram(
        &self,
        service: &str,
        env: &str,
        bounds: &[f64],
    ) -> Result<Histogram, StoreError>;
    /// Tests that failed, then passed on a retry, in the service's stored
    /// test runs of `sha`: attempts and failures summed over those runs,
    /// ordered by classname and name, at most `limit`.
    fn flaky_at_sha(
        &self,
        service: &str,
        sha: &str,
        limit: usize,
    ) -> Result<Vec<FlakyAtSha>, StoreError>;
    fn test_run(&self, id: &str) -> Result<Option<TestRun>, StoreError>;
    /// Every deployment's id in timeline order (finished_at, seq): inserted
    /// again in this order, each commit's sample stays with the first
    /// deployment that shipped it.
    fn deployment_ids(&self) -> Result<Vec<String>, StoreError>;
    /// Every incident's id, in the order they were first recorded.
    fn incident_ids(&self) -> Result<Vec<String>, StoreError>;
    /// Every test run's id, in the order they were recorded.
    fn test_run_ids(&self) -> Result<Vec<String>, StoreError>;
    /// The ids of the service's test runs of commit `sha`, in the order
    /// they were recorded (a base commit's results, to compare with).
    fn test_runs_at(&self, service: &str, sha: &str) -> Result<Vec<String>, StoreError>;
    /// The stored results of the test run `run_id`, ordered by classname
    /// and name; empty for a run the store does not hold.
    fn test_results(&self, run_id: &str) -> Result<Vec<StoredResult>, StoreError>;
    /// Per-test history of the service's test runs recorded in the window,
    /// leaving out runs where more than `infra_percent` % of tests failed.
    fn test_history(
        &self,
        service: &str,
        window: Window,
        infra_percent: f64,
    ) -> Result<Vec<TestHistory>, StoreError>;
    /// Where an import from `source` left off (`incident import`'s
    /// cursor), as it stored it.
    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError>;
    /// The cached pull/merge requests of these squash commits (those the
    /// store holds, in any order).
    fn pull_commits(&self, shas: &[String]) -> Result<Vec<PullCommits>, StoreError>;
    /// What the imports and lookups keep beside the events (`store copy`
    /// takes it along): every cursor (source, value) and every cached
    /// squash commit, sorted.
    fn sources_state(&self) -> Result<SourcesState, StoreError>;
}

/// What the imports and lookups keep beside the events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourcesState {
    /// Each import's cursor: (source, value).
    pub cursors: Vec<(String, String)>,
    pub pull_commits: Vec<PullCommits>,
}

/// A squash commit's pull or merge request and its original commits, as
/// the forge gave them (`--lead-time-source pr`, SPEC §11): cached by the
/// squash commit's sha, so a second run asks the forge nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullCommits {
    /// The squash commit.
    pub sha: String,
    /// `github` or `gitlab`.
    pub forge: String,
    /// The request; `None`: the commit belongs to no merged request, so it
    /// is its own change.
    pub number: Option<u64>,
    /// The request's commits, oldest first.
    pub commits: Vec<OriginalCommit>,
}

/// One commit of a pull or merge request, as the forge lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalCommit {
    pub sha: String,
    pub authored_at: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
}

/// Counts of samples at most each bound, their sum and count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub at_most: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

/// The SQL of [`ReadTx::lead_time_histogram`] for both stores: one
/// `sum(CASE …)` per bound over the changes of successful deployments of
/// `$1`/`$2` (SQLite's `?1`/`?2` read the same). Bounds are numbers this
/// code chose, never input.
pub(crate) fn lead_time_histogram_sql(bounds: &[f64]) -> String {
    let mut cols: Vec<String> = bounds
        .iter()
        .map(|b| {
            format!("coalesce(sum(CASE WHEN c.lead_time_seconds <= {b} THEN 1 ELSE 0 END), 0)")
        })
        .collect();
    cols.push("CAST(coalesce(sum(c.lead_time_seconds), 0) AS BIGINT)".into());
    cols.push("count(*)".into());
    format!(
        "SELECT {} FROM deployments d JOIN changes c ON c.deployment_seq = d.seq
         WHERE d.service = $1 AND d.env = $2 AND d.status = 'success'",
        cols.join(", ")
    )
}

/// A test that was flaky in the stored runs of one commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlakyAtSha {
    pub classname: String,
    pub name: String,
    pub attempts: u64,
    pub failures: u64,
}

pub trait WriteTx: ReadTx {
    /// Inserts a deployment with its changes and remediations. Returns false,
    /// writing nothing, when a deployment with this id exists.
    fn insert_deployment(&mut self, d: &Deployment) -> Result<bool, StoreError>;
    /// Inserts or replaces the incident with this id.
    fn upsert_incident(&mut self, i: &Incident) -> Result<(), StoreError>;
    /// Inserts a test run's header; `None`, writing nothing, when the id exists.
    fn insert_test_run(&mut self, run: &TestRun) -> Result<Option<i64>, StoreError>;
    /// Stores the counts computed once every file was read.
    fn update_test_run_counts(&mut self, run_seq: i64, run: &TestRun) -> Result<(), StoreError>;
    /// Starts a file's results: `end_file(false)` undoes everything since.
    fn begin_file(&mut self) -> Result<(), StoreError>;
    fn end_file(&mut self, keep: bool) -> Result<(), StoreError>;
    /// Adds one `<testcase>` entry; entries with the same identity merge by
    /// the outcome rules of SPEC §6 (the last attempt that was not a skip).
    fn add_test_entry(&mut self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError>;
    /// Stores where an import from `source` left off.
    fn set_cursor(&mut self, source: &str, value: &str) -> Result<(), StoreError>;
    /// Stores (or replaces) a squash commit's request and original commits.
    fn set_pull_commits(&mut self, p: &PullCommits) -> Result<(), StoreError>;
}

pub trait Store {
    /// Runs `f` in one write transaction that excludes other writers, and
    /// commits when `f` returns `Ok`; an error rolls everything back.
    fn write(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()>;
    /// Runs `f` exactly as `write` would, then rolls everything back: a dry
    /// run that sees its own writes (backfill chains deployments).
    fn simulate(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()>;
    /// Runs `f` on a consistent snapshot.
    fn read(&mut self, f: &mut dyn FnMut(&dyn ReadTx) -> crate::Result<()>) -> crate::Result<()>;
    /// A printable description, credentials redacted.
    fn describe(&self) -> String;
    /// Events taken but not yet where the store keeps them, and reads from
    /// an old copy: the git store's spool while its remote cannot be
    /// reached (SPEC §8). `None` for stores without one.
    fn backlog(&self) -> Option<Backlog> {
        None
    }
}

/// The git store's spool after this process's pushes (see [`Store::backlog`]).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Backlog {
    /// The store, credentials redacted.
    pub store: String,
    /// Where waiting events are kept.
    pub spool: String,
    /// Events this process pushed from the spool.
    pub pushed: usize,
    /// Events still waiting in the spool.
    pub waiting: usize,
    /// The remote could not be fetched: reads show it as of the last fetch.
    pub stale: bool,
    /// The remote's last error, when something waits or reads are stale.
    pub reason: Option<String>,
}

/// Listing a store's events (`store copy`): the same SQL on SQLite and
/// PostgreSQL. Deployments in timeline order, so each commit is inserted at
/// the first deployment that shipped it.
pub(crate) mod list_sql {
    pub const DEPLOYMENT_IDS: &str = "SELECT id FROM deployments ORDER BY finished_at, seq";
    pub const INCIDENT_IDS: &str = "SELECT id FROM incidents ORDER BY seq";
    pub const TEST_RUN_IDS: &str = "SELECT id FROM test_runs ORDER BY seq";
    /// `$1`/`?1` the service, `$2`/`?2` the sha.
    pub const TEST_RUNS_AT: &str =
        "SELECT id FROM test_runs WHERE service = $1 AND sha = $2 ORDER BY seq";
}

/// How a command uses the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Never creates or changes anything; a missing store reads as empty.
    ReadOnly,
}

/// Opens the store a URL names.
pub fn open(url: &StoreUrl, access: Access) -> Result<Box<dyn Store>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Box::new(SqliteStore::open(path, access)?)),
        StoreUrl::Postgres(url) => Ok(Box::new(PostgresStore::open(url, access)?)),
        StoreUrl::Git(url) => Ok(Box::new(GitStore::open(url, access)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// A store named by another flag (`store copy --to`) gets hints that
    /// name that flag, never `--store`.
    #[test]
    fn hints_name_the_flag_that_gave_the_store() {
        let src = || -> Box<dyn std::error::Error + Send + Sync> { "x".into() };
        let path = |p: &str| p.to_string();
        let all = [
            StoreError::BadUrl {
                url: path("x"),
                reason: path("y"),
            },
            StoreError::Unreachable {
                path: path("postgres://db/x"),
                source: src(),
            },
            StoreError::Open {
                path: path("postgres://db/x"),
                source: src(),
            },
            StoreError::Open {
                path: path("/tmp/x.db"),
                source: src(),
            },
            StoreError::ReadOnly {
                path: path("/tmp/x.db"),
                source: src(),
            },
            StoreError::Corrupt {
                path: path("/tmp/x.db"),
                source: src(),
            },
            StoreError::Denied {
                path: path("postgres://db/x"),
                what: path("create"),
                grant: path("GRANT …"),
                source: src(),
            },
        ];
        for e in &all {
            let usual = e.hint().unwrap();
            assert!(usual.contains("--store (DORAMETER_STORE)"), "{usual}");
            let other = e.hint_for("--to", "DORAMETER_COPY_TO").unwrap();
            assert!(
                other.contains("--to (DORAMETER_COPY_TO)") && !other.contains("--store"),
                "{other}"
            );
        }
    }
}
