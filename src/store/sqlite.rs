//! The embedded SQLite store: zero setup, safe under concurrent writers.
//!
//! - WAL journal and a generous busy timeout: twenty deploy jobs finishing at
//!   once queue up instead of failing with "database is locked".
//! - Every write runs in a `BEGIN IMMEDIATE` transaction, so the read of the
//!   previous deployment and the insert of the new one are one atomic step,
//!   and a deployment and its changes land together or not at all.
//! - Versioned migrations keyed on `PRAGMA user_version`; `application_id`
//!   marks the file as ours so we never write into somebody else's database.
//! - Instants are stored as integer milliseconds since the epoch.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{Access, DeploymentRef, ReadTx, ReportFacts, Store, StoreError, TestHistory, WriteTx};
use crate::event::{
    Change, Deployment, DeploymentKind, DeploymentStatus, Incident, IncidentCause, LeadTimeFrom,
    LeadTimeNote, Remediation, RemediationReason, TestRun,
};
use crate::junit::{Entry, Outcome};
use crate::metrics::{DeploymentFact, IncidentFact, Window};
use crate::time::{from_millis, to_millis};

/// 'dora' in ASCII.
const APPLICATION_ID: i64 = 0x646f_7261;
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

// Planner note: without ANALYZE statistics SQLite prefers the wide
// (service, env, status, …) index even where a sha pins one or two rows, so
// sha-keyed queries disable it with unary `+` on the other columns.

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    env TEXT NOT NULL,
    repository_url TEXT,
    sha TEXT NOT NULL,
    previous_sha TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('success', 'failure')),
    kind TEXT NOT NULL CHECK (kind IN ('planned', 'rollback', 'rollforward')),
    version TEXT,
    team TEXT,
    pipeline_id TEXT,
    pipeline_url TEXT,
    deployed_by TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    lead_time_from TEXT NOT NULL,
    lead_time_note TEXT,
    clamped_changes INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX deployments_timeline ON deployments (service, env, status, finished_at, seq);
CREATE INDEX deployments_sha ON deployments (sha);
CREATE TABLE changes (
    deployment_seq INTEGER NOT NULL REFERENCES deployments (seq),
    sha TEXT NOT NULL,
    authored_at INTEGER NOT NULL,
    committed_at INTEGER NOT NULL,
    lead_time_seconds INTEGER NOT NULL,
    PRIMARY KEY (deployment_seq, sha)
) WITHOUT ROWID;
CREATE INDEX changes_sha ON changes (sha);
CREATE TABLE remediations (
    deployment_seq INTEGER NOT NULL REFERENCES deployments (seq),
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (deployment_seq, target_id)
) WITHOUT ROWID;
CREATE TABLE incidents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    env TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    detected_at INTEGER,
    resolved_at INTEGER,
    severity TEXT,
    title TEXT,
    cause TEXT NOT NULL CHECK (cause IN ('deploy', 'infra', 'unknown')),
    deployment_id TEXT,
    deployment_sha TEXT,
    recorded_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE incident_services (
    service TEXT NOT NULL,
    incident_seq INTEGER NOT NULL REFERENCES incidents (seq) ON DELETE CASCADE,
    PRIMARY KEY (service, incident_seq)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE test_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    sha TEXT,
    run_id TEXT,
    run_attempt TEXT,
    job TEXT,
    recorded_at INTEGER NOT NULL,
    files INTEGER NOT NULL DEFAULT 0,
    tests INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    errored INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    flaky INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX test_runs_service ON test_runs (service, recorded_at);
CREATE TABLE test_results (
    run_seq INTEGER NOT NULL REFERENCES test_runs (seq),
    classname TEXT NOT NULL,
    name TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'errored', 'skipped')),
    attempts INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    passes INTEGER NOT NULL,
    -- Failed, then passed, inside this run (SPEC §6 retry evidence).
    flaky INTEGER NOT NULL DEFAULT 0,
    duration REAL,
    message TEXT,
    PRIMARY KEY (run_seq, classname, name)
) WITHOUT ROWID;
"#,
];

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    pub fn open(path: &Path, access: Access) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        if access == Access::ReadOnly && !path.exists() {
            // Nothing recorded yet: read an empty store without creating one.
            let conn = Connection::open_in_memory().map_err(|e| open_err(&shown, e))?;
            let mut store = SqliteStore {
                conn,
                path: path.to_path_buf(),
            };
            store.migrate()?;
            return Ok(store);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    path: shown.clone(),
                    source: Box::new(e),
                })?;
                // A store inside a checkout must never be committed by accident.
                if dir.file_name().is_some_and(|n| n == ".dorameter") {
                    let _ = std::fs::write(dir.join(".gitignore"), "*\n");
                }
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(&shown, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_err(&shown, e))?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        let shown = self.shown();
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| classify(&shown, e, "enable WAL"))?;
        let _ = mode; // "memory" or "delete" on filesystems without WAL support: still correct, just slower.
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(|e| classify(&shown, e, "configure"))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let shown = self.shown();
        let known = MIGRATIONS.len() as i64;
        let (version, app_id, tables) = self
            .schema_state()
            .map_err(|e| classify(&shown, e, "read the schema version"))?;
        if version == known && app_id == APPLICATION_ID {
            return Ok(());
        }
        check_ours(&shown, version, app_id, tables, known)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&shown, e, "lock for migration"))?;
        // Another process may have migrated while we waited for the lock.
        let (version, app_id, tables) =
            schema_state(&tx).map_err(|e| classify(&shown, e, "read the schema version"))?;
        check_ours(&shown, version, app_id, tables, known)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .map_err(|e| classify(&shown, e, &format!("apply migration {}", i + 1)))?;
        }
        tx.execute_batch(&format!(
            "PRAGMA user_version = {known}; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .map_err(|e| classify(&shown, e, "record the schema version"))?;
        tx.commit()
            .map_err(|e| classify(&shown, e, "commit the migration"))?;
        Ok(())
    }

    fn schema_state(&self) -> rusqlite::Result<(i64, i64, i64)> {
        schema_state(&self.conn)
    }
}

fn schema_state(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let app_id = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let tables = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok((version, app_id, tables))
}

fn check_ours(
    path: &str,
    version: i64,
    app_id: i64,
    tables: i64,
    known: i64,
) -> Result<(), StoreError> {
    let foreign = if version == 0 {
        tables > 0 && app_id != APPLICATION_ID
    } else {
        app_id != APPLICATION_ID
    };
    if foreign {
        return Err(StoreError::Corrupt {
            path: path.to_string(),
            source: "the file is an SQLite database of another application".into(),
        });
    }
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_string(),
            found: version,
            known,
        });
    }
    Ok(())
}

fn open_err(path: &str, e: rusqlite::Error) -> StoreError {
    classify(path, e, "open")
}

/// Maps SQLite failures to what the user can do about them.
fn classify(path: &str, e: rusqlite::Error, context: &str) -> StoreError {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    let path = path.to_string();
    match code {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            source: Box::new(e),
        },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
            path,
            source: Box::new(e),
        },
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure,
        ) => StoreError::Open {
            path,
            source: Box::new(e),
        },
        _ => StoreError::Query {
            context: context.to_string(),
            source: Box::new(e),
        },
    }
}

impl Store for SqliteStore {
    fn write(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let shown = self.shown();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&shown, e, "begin a write transaction"))?;
        let mut view = Tx {
            conn: &tx,
            path: &shown,
        };
        f(&mut view)?;
        tx.commit().map_err(|e| classify(&shown, e, "commit"))?;
        Ok(())
    }

    fn simulate(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let shown = self.shown();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| classify(&shown, e, "begin a dry-run transaction"))?;
        let mut view = Tx {
            conn: &tx,
            path: &shown,
        };
        let result = f(&mut view);
        tx.rollback()
            .map_err(|e| classify(&shown, e, "roll back the dry run"))?;
        result
    }

    fn read(&mut self, f: &mut dyn FnMut(&dyn ReadTx) -> crate::Result<()>) -> crate::Result<()> {
        let shown = self.shown();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| classify(&shown, e, "begin a read transaction"))?;
        let view = Tx {
            conn: &tx,
            path: &shown,
        };
        f(&view)?;
        tx.commit()
            .map_err(|e| classify(&shown, e, "end a read transaction"))?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

struct Tx<'a> {
    conn: &'a Connection,
    path: &'a str,
}

impl Tx<'_> {
    fn err(&self, context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let path = self.path.to_string();
        let context = context.to_string();
        move |e| classify(&path, e, &context)
    }
}

const REF_COLUMNS: &str = "id, sha, finished_at, kind, seq";

/// The earliest successful deployment that deployed ?3 or shipped it as a change.
const DEPLOYMENT_SHIPPING: &str = "SELECT id, sha, finished_at, kind, seq FROM (
    SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE sha = ?3 AND +service = ?1 AND +env = ?2 AND +status = 'success'
    UNION ALL
    SELECT d.id, d.sha, d.finished_at, d.kind, d.seq FROM changes c CROSS JOIN deployments d ON d.seq = c.deployment_seq
    WHERE c.sha = ?3 AND +d.service = ?1 AND +d.env = ?2 AND +d.status = 'success'
) ORDER BY finished_at, seq LIMIT 1";

/// The latest successful deployment of sha ?3 at or before ?4.
const LAST_SUCCESS_OF_SHA: &str = "SELECT id, sha, finished_at, kind, seq FROM deployments
    WHERE sha = ?3 AND +service = ?1 AND +env = ?2 AND +status = 'success' AND +finished_at <= ?4
    ORDER BY finished_at DESC, seq DESC LIMIT 1";

fn to_ref(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeploymentRef> {
    Ok(DeploymentRef {
        id: r.get(0)?,
        sha: r.get(1)?,
        finished_at: from_millis(r.get(2)?),
        kind: parse_enum(r.get::<_, String>(3)?),
        seq: r.get(4)?,
    })
}

/// Values this module wrote itself; a foreign value falls back to the first variant.
fn parse_enum<T: std::str::FromStr + Copy + EnumAll>(s: String) -> T {
    s.parse().unwrap_or(T::first())
}

trait EnumAll {
    fn first() -> Self;
}
macro_rules! enum_all {
    ($($t:ty),*) => {$(impl EnumAll for $t { fn first() -> Self { <$t>::ALL[0] } })*};
}
enum_all!(
    DeploymentKind,
    DeploymentStatus,
    LeadTimeFrom,
    LeadTimeNote,
    IncidentCause,
    RemediationReason
);

impl ReadTx for Tx<'_> {
    fn previous_success(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {REF_COLUMNS} FROM deployments WHERE service = ?1 AND env = ?2 AND status = 'success'
                 AND finished_at <= ?3 ORDER BY finished_at DESC, seq DESC LIMIT 1"
            ))
            .and_then(|mut stmt| stmt.query_row(params![service, env, to_millis(at)], to_ref))
            .optional()
            .map_err(self.err("find the previous deployment"))
    }

    fn last_success_of_sha(
        &self,
        service: &str,
        env: &str,
        sha: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        self.conn
            .prepare_cached(LAST_SUCCESS_OF_SHA)
            .and_then(|mut stmt| stmt.query_row(params![service, env, sha, to_millis(at)], to_ref))
            .optional()
            .map_err(self.err("find earlier deployments of the sha"))
    }

    fn successes_after(
        &self,
        service: &str,
        env: &str,
        after: &DeploymentRef,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {REF_COLUMNS} FROM deployments WHERE service = ?1 AND env = ?2 AND status = 'success'
                 AND (finished_at > ?3 OR (finished_at = ?3 AND seq > ?4)) AND finished_at <= ?5
                 ORDER BY finished_at, seq"
            ))
            .map_err(self.err("list later deployments"))?;
        let rows = stmt
            .query_map(
                params![
                    service,
                    env,
                    to_millis(after.finished_at),
                    after.seq,
                    to_millis(at)
                ],
                to_ref,
            )
            .map_err(self.err("list later deployments"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(self.err("list later deployments"))
    }

    fn successes_before(
        &self,
        service: &str,
        env: &str,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeploymentRef>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {REF_COLUMNS} FROM deployments WHERE service = ?1 AND env = ?2 AND status = 'success'
                 AND finished_at <= ?3 ORDER BY finished_at DESC, seq DESC LIMIT ?4"
            ))
            .map_err(self.err("list earlier deployments"))?;
        let rows = stmt
            .query_map(params![service, env, to_millis(at), limit as i64], to_ref)
            .map_err(self.err("list earlier deployments"))?;
        let mut out: Vec<DeploymentRef> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("list earlier deployments"))?;
        out.reverse();
        Ok(out)
    }

    fn deployment_shipping(
        &self,
        service: &str,
        env: &str,
        sha: &str,
    ) -> Result<Option<DeploymentRef>, StoreError> {
        // Two index lookups (deployed sha; shipped change) rather than one OR
        // that would defeat both indexes.
        self.conn
            .prepare_cached(DEPLOYMENT_SHIPPING)
            .and_then(|mut stmt| stmt.query_row(params![service, env, sha], to_ref))
            .optional()
            .map_err(self.err("find the deployment that shipped a commit"))
    }

    fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let err = self.err("read a deployment");
        let row = self
            .conn
            .query_row(
                "SELECT seq, id, service, env, repository_url, sha, previous_sha, started_at, finished_at, status, kind,
                        version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from, lead_time_note,
                        clamped_changes, truncated
                 FROM deployments WHERE id = ?1",
                [id],
                |r| {
                    let tags: String = r.get(16)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        Deployment {
                            id: r.get(1)?,
                            service: r.get(2)?,
                            env: r.get(3)?,
                            repository_url: r.get(4)?,
                            sha: r.get(5)?,
                            previous_sha: r.get(6)?,
                            started_at: from_millis(r.get(7)?),
                            finished_at: from_millis(r.get(8)?),
                            status: parse_enum(r.get(9)?),
                            kind: parse_enum(r.get(10)?),
                            version: r.get(11)?,
                            team: r.get(12)?,
                            pipeline_id: r.get(13)?,
                            pipeline_url: r.get(14)?,
                            deployed_by: r.get(15)?,
                            tags: serde_json::from_str::<BTreeMap<String, String>>(&tags).unwrap_or_default(),
                            lead_time_from: parse_enum(r.get(17)?),
                            lead_time_note: r.get::<_, Option<String>>(18)?.and_then(|s| s.parse().ok()),
                            clamped_changes: r.get(19)?,
                            truncated: r.get(20)?,
                            changes: Vec::new(),
                            remediates: Vec::new(),
                        },
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        let Some((seq, mut d)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sha, authored_at, committed_at, lead_time_seconds FROM changes WHERE deployment_seq = ?1")
            .map_err(self.err("read changes"))?;
        d.changes = stmt
            .query_map([seq], |r| {
                Ok(Change {
                    sha: r.get(0)?,
                    authored_at: from_millis(r.get(1)?),
                    committed_at: from_millis(r.get(2)?),
                    lead_time_seconds: r.get(3)?,
                })
            })
            .map_err(self.err("read changes"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("read changes"))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT target_id, reason FROM remediations WHERE deployment_seq = ?1 ORDER BY target_id")
            .map_err(self.err("read remediations"))?;
        d.remediates = stmt
            .query_map([seq], |r| {
                Ok(Remediation {
                    deployment_id: r.get(0)?,
                    reason: parse_enum(r.get(1)?),
                })
            })
            .map_err(self.err("read remediations"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("read remediations"))?;
        Ok(Some(d))
    }

    fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT seq, id, env, started_at, detected_at, resolved_at, severity, title, cause, deployment_id, deployment_sha
                 FROM incidents WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        Incident {
                            id: r.get(1)?,
                            services: Vec::new(),
                            env: r.get(2)?,
                            started_at: from_millis(r.get(3)?),
                            detected_at: r.get::<_, Option<i64>>(4)?.map(from_millis),
                            resolved_at: r.get::<_, Option<i64>>(5)?.map(from_millis),
                            severity: r.get(6)?,
                            title: r.get(7)?,
                            cause: parse_enum(r.get(8)?),
                            deployment_id: r.get(9)?,
                            deployment_sha: r.get(10)?,
                        },
                    ))
                },
            )
            .optional()
            .map_err(self.err("read an incident"))?;
        let Some((seq, mut i)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT service FROM incident_services WHERE incident_seq = ?1 ORDER BY service",
            )
            .map_err(self.err("read incident services"))?;
        i.services = stmt
            .query_map([seq], |r| r.get(0))
            .map_err(self.err("read incident services"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err("read incident services"))?;
        Ok(Some(i))
    }

    fn service_envs(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT service, env FROM deployments
                 UNION SELECT s.service, i.env FROM incident_services s JOIN incidents i ON i.seq = s.incident_seq
                 ORDER BY 1, 2",
            )
            .map_err(self.err("list services"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err("list services"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(self.err("list services"))
    }

    fn test_run(&self, id: &str) -> Result<Option<TestRun>, StoreError> {
        self.test_run_row(id)
    }

    fn test_history(
        &self,
        service: &str,
        window: Window,
        infra_percent: f64,
    ) -> Result<Vec<TestHistory>, StoreError> {
        self.history(service, window, infra_percent)
    }

    fn report_facts(
        &self,
        service: &str,
        env: &str,
        window: Window,
    ) -> Result<ReportFacts, StoreError> {
        let err = || self.err("load report data");
        let mut facts = ReportFacts::default();

        let mut remediates: HashMap<i64, Vec<String>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.deployment_seq, r.target_id FROM remediations r JOIN deployments d ON d.seq = r.deployment_seq
                 WHERE d.service = ?1 AND d.env = ?2",
            )
            .map_err(err())?;
        let mut rows = stmt.query(params![service, env]).map_err(err())?;
        while let Some(r) = rows.next().map_err(err())? {
            remediates
                .entry(r.get(0).map_err(err())?)
                .or_default()
                .push(r.get(1).map_err(err())?);
        }

        let mut stmt = self
            .conn
            .prepare("SELECT seq, id, finished_at, status, kind FROM deployments WHERE service = ?1 AND env = ?2")
            .map_err(err())?;
        let mut rows = stmt.query(params![service, env]).map_err(err())?;
        while let Some(r) = rows.next().map_err(err())? {
            let seq: i64 = r.get(0).map_err(err())?;
            let status: String = r.get(3).map_err(err())?;
            facts.deployments.push(DeploymentFact {
                id: r.get(1).map_err(err())?,
                finished_at: from_millis(r.get(2).map_err(err())?),
                success: status == "success",
                kind: parse_enum(r.get(4).map_err(err())?),
                remediates: remediates.remove(&seq).unwrap_or_default(),
            });
        }

        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.lead_time_seconds FROM deployments d JOIN changes c ON c.deployment_seq = d.seq
                 WHERE d.service = ?1 AND d.env = ?2 AND d.status = 'success' AND d.finished_at >= ?3 AND d.finished_at < ?4",
            )
            .map_err(err())?;
        let mut rows = stmt
            .query(params![
                service,
                env,
                to_millis(window.since),
                to_millis(window.until)
            ])
            .map_err(err())?;
        while let Some(r) = rows.next().map_err(err())? {
            facts.lead_times.push(r.get(0).map_err(err())?);
        }

        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.id, i.started_at, i.resolved_at, i.cause, i.deployment_id, i.deployment_sha
                 FROM incidents i JOIN incident_services s ON s.incident_seq = i.seq
                 WHERE s.service = ?1 AND i.env = ?2",
            )
            .map_err(err())?;
        let mut rows = stmt.query(params![service, env]).map_err(err())?;
        while let Some(r) = rows.next().map_err(err())? {
            let by_id: Option<String> = r.get(4).map_err(err())?;
            let by_sha: Option<String> = r.get(5).map_err(err())?;
            // Only incidents linked by sha need a lookup: resolving it inside
            // the query would scan every deployment for every incident.
            let explicit_deployment = match (&by_id, &by_sha) {
                (Some(id), _) => Some(id.clone()),
                (None, Some(sha)) => self.deployment_shipping(service, env, sha)?.map(|d| d.id),
                (None, None) => None,
            };
            facts.incidents.push(IncidentFact {
                id: r.get(0).map_err(err())?,
                started_at: from_millis(r.get(1).map_err(err())?),
                resolved_at: r.get::<_, Option<i64>>(2).map_err(err())?.map(from_millis),
                cause: parse_enum(r.get(3).map_err(err())?),
                explicit_unmatched: explicit_deployment.is_none()
                    && (by_id.is_some() || by_sha.is_some()),
                explicit_deployment,
            });
        }
        Ok(facts)
    }
}

const TEST_RUN_COLUMNS: &str = "id, service, sha, run_id, run_attempt, job, recorded_at, files, tests, runs, passed, failed, errored, skipped, flaky";

fn to_test_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<TestRun> {
    Ok(TestRun {
        id: r.get(0)?,
        service: r.get(1)?,
        sha: r.get(2)?,
        run_id: r.get(3)?,
        run_attempt: r.get(4)?,
        job: r.get(5)?,
        recorded_at: from_millis(r.get(6)?),
        files: r.get(7)?,
        tests: r.get(8)?,
        runs: r.get(9)?,
        passed: r.get(10)?,
        failed: r.get(11)?,
        errored: r.get(12)?,
        skipped: r.get(13)?,
        flaky: r.get(14)?,
    })
}

impl Tx<'_> {
    fn test_run_row(&self, id: &str) -> Result<Option<TestRun>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {TEST_RUN_COLUMNS} FROM test_runs WHERE id = ?1"),
                [id],
                to_test_run,
            )
            .optional()
            .map_err(self.err("read a test run"))
    }

    fn history(
        &self,
        service: &str,
        window: Window,
        infra_percent: f64,
    ) -> Result<Vec<TestHistory>, StoreError> {
        let err = || self.err("load test history");
        // Per test and sha first (for same-sha evidence), then per test.
        let mut stmt = self
            .conn
            .prepare(
                "WITH runs AS (
                    SELECT seq, sha, recorded_at FROM test_runs
                    WHERE service = ?1 AND recorded_at >= ?2 AND recorded_at < ?3
                      AND NOT (tests > 0 AND (failed + errored) * 100.0 > tests * ?4)
                 ), per_sha AS (
                    SELECT r.classname, r.name, t.sha,
                           count(*) AS runs,
                           sum(r.outcome IN ('failed', 'errored')) AS failed_runs,
                           sum(r.flaky) AS retried_runs,
                           max(r.outcome = 'passed') AS passed_any,
                           max(r.outcome IN ('failed', 'errored')) AS failed_any,
                           min(t.recorded_at) AS first_seen,
                           max(t.recorded_at) AS last_seen
                    FROM runs t JOIN test_results r ON r.run_seq = t.seq
                    WHERE r.outcome != 'skipped'
                    GROUP BY r.classname, r.name, t.sha
                 )
                 SELECT classname, name, sum(runs), sum(failed_runs), sum(retried_runs),
                        sum(sha IS NOT NULL AND passed_any AND failed_any), min(first_seen), max(last_seen)
                 FROM per_sha GROUP BY classname, name ORDER BY classname, name",
            )
            .map_err(err())?;
        let rows = stmt
            .query_map(
                params![
                    service,
                    to_millis(window.since),
                    to_millis(window.until),
                    infra_percent
                ],
                |r| {
                    Ok(TestHistory {
                        classname: r.get(0)?,
                        name: r.get(1)?,
                        runs: r.get(2)?,
                        failed_runs: r.get(3)?,
                        retried_runs: r.get(4)?,
                        mixed_shas: r.get(5)?,
                        first_seen: from_millis(r.get(6)?),
                        last_seen: from_millis(r.get(7)?),
                    })
                },
            )
            .map_err(err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(err())
    }
}

impl WriteTx for Tx<'_> {
    fn insert_deployment(&mut self, d: &Deployment) -> Result<bool, StoreError> {
        let err = || self.err("record the deployment");
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO deployments (id, service, env, repository_url, sha, previous_sha, started_at, finished_at,
                    status, kind, version, team, pipeline_id, pipeline_url, deployed_by, tags, lead_time_from,
                    lead_time_note, clamped_changes, truncated, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
                 ON CONFLICT (id) DO NOTHING",
            )
            .map_err(err())?
            .execute(params![
                d.id,
                d.service,
                d.env,
                d.repository_url,
                d.sha,
                d.previous_sha,
                to_millis(d.started_at),
                to_millis(d.finished_at),
                d.status.as_str(),
                d.kind.as_str(),
                d.version,
                d.team,
                d.pipeline_id,
                d.pipeline_url,
                d.deployed_by,
                serde_json::to_string(&d.tags).unwrap_or_else(|_| "{}".into()),
                d.lead_time_from.as_str(),
                d.lead_time_note.map(|n| n.as_str()),
                d.clamped_changes,
                d.truncated,
                to_millis(Utc::now()),
            ])
            .map_err(err())?;
        if inserted == 0 {
            return Ok(false);
        }
        let seq = self.conn.last_insert_rowid();
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO changes (deployment_seq, sha, authored_at, committed_at, lead_time_seconds)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(err())?;
        for c in &d.changes {
            stmt.execute(params![
                seq,
                c.sha,
                to_millis(c.authored_at),
                to_millis(c.committed_at),
                c.lead_time_seconds
            ])
            .map_err(err())?;
        }
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO remediations (deployment_seq, target_id, reason) VALUES (?1, ?2, ?3)")
            .map_err(err())?;
        for r in &d.remediates {
            stmt.execute(params![seq, r.deployment_id, r.reason.as_str()])
                .map_err(err())?;
        }
        Ok(true)
    }

    fn upsert_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        let err = || self.err("record the incident");
        let now = to_millis(Utc::now());
        let seq: i64 = self
            .conn
            .query_row(
                "INSERT INTO incidents (id, env, started_at, detected_at, resolved_at, severity, title, cause,
                    deployment_id, deployment_sha, recorded_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
                 ON CONFLICT (id) DO UPDATE SET env = excluded.env, started_at = excluded.started_at,
                    detected_at = excluded.detected_at, resolved_at = excluded.resolved_at,
                    severity = excluded.severity, title = excluded.title, cause = excluded.cause,
                    deployment_id = excluded.deployment_id, deployment_sha = excluded.deployment_sha,
                    updated_at = excluded.updated_at
                 RETURNING seq",
                params![
                    i.id,
                    i.env,
                    to_millis(i.started_at),
                    i.detected_at.map(to_millis),
                    i.resolved_at.map(to_millis),
                    i.severity,
                    i.title,
                    i.cause.as_str(),
                    i.deployment_id,
                    i.deployment_sha,
                    now,
                ],
                |r| r.get(0),
            )
            .map_err(err())?;
        self.conn
            .execute(
                "DELETE FROM incident_services WHERE incident_seq = ?1",
                [seq],
            )
            .map_err(err())?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO incident_services (service, incident_seq) VALUES (?1, ?2)",
            )
            .map_err(err())?;
        for s in &i.services {
            stmt.execute(params![s, seq]).map_err(err())?;
        }
        Ok(())
    }

    fn insert_test_run(&mut self, run: &TestRun) -> Result<Option<i64>, StoreError> {
        let inserted = self
            .conn
            .execute(
                "INSERT INTO test_runs (id, service, sha, run_id, run_attempt, job, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                params![
                    run.id,
                    run.service,
                    run.sha,
                    run.run_id,
                    run.run_attempt,
                    run.job,
                    to_millis(run.recorded_at)
                ],
            )
            .map_err(self.err("record the test run"))?;
        Ok((inserted > 0).then(|| self.conn.last_insert_rowid()))
    }

    fn update_test_run_counts(&mut self, run_seq: i64, run: &TestRun) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE test_runs SET files = ?2, tests = ?3, runs = ?4, passed = ?5, failed = ?6, errored = ?7,
                    skipped = ?8, flaky = ?9 WHERE seq = ?1",
                params![run_seq, run.files, run.tests, run.runs, run.passed, run.failed, run.errored, run.skipped, run.flaky],
            )
            .map_err(self.err("record the test run counts"))?;
        Ok(())
    }

    fn begin_file(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("SAVEPOINT junit_file")
            .map_err(self.err("start a file"))
    }

    fn end_file(&mut self, keep: bool) -> Result<(), StoreError> {
        let sql = if keep {
            "RELEASE junit_file"
        } else {
            "ROLLBACK TO junit_file; RELEASE junit_file"
        };
        self.conn
            .execute_batch(sql)
            .map_err(self.err("finish a file"))
    }

    fn add_test_entry(&mut self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
        let attempts = e.attempts.len() as i64;
        let failures = e.attempts.iter().filter(|o| o.is_failure()).count() as i64;
        let passes = e.attempts.iter().filter(|o| **o == Outcome::Passed).count() as i64;
        let last = e
            .attempts
            .iter()
            .rev()
            .copied()
            .find(|o| *o != Outcome::Skipped)
            .unwrap_or(Outcome::Skipped);
        let first_failure = e.attempts.iter().position(|o| o.is_failure());
        let last_pass = e.attempts.iter().rposition(|o| *o == Outcome::Passed);
        let flaky = matches!((first_failure, last_pass), (Some(f), Some(p)) if p > f);
        self.conn
            .prepare_cached(
                "INSERT INTO test_results (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?10, ?8, ?9)
                 ON CONFLICT (run_seq, classname, name) DO UPDATE SET
                    flaky = flaky OR excluded.flaky OR (failures > 0 AND excluded.passes > 0),
                    attempts = attempts + excluded.attempts,
                    failures = failures + excluded.failures,
                    passes = passes + excluded.passes,
                    outcome = CASE WHEN excluded.outcome = 'skipped' THEN outcome ELSE excluded.outcome END,
                    duration = CASE WHEN excluded.duration IS NULL THEN duration ELSE coalesce(duration, 0) + excluded.duration END,
                    message = coalesce(excluded.message, message)",
            )
            .map_err(self.err("record a test result"))?
            .execute(params![run_seq, e.classname, e.name, last.as_str(), attempts, failures, passes, e.time, e.message, flaky])
            .map_err(self.err("record a test result"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_foreign_and_newer_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(SqliteStore::open(&path, Access::ReadWrite).unwrap());
        drop(SqliteStore::open(&path, Access::ReadWrite).unwrap());

        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            SqliteStore::open(&foreign, Access::ReadWrite),
            Err(StoreError::Corrupt { .. })
        ));

        let newer = dir.path().join("newer.db");
        drop(SqliteStore::open(&newer, Access::ReadWrite).unwrap());
        Connection::open(&newer)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        assert!(matches!(
            SqliteStore::open(&newer, Access::ReadWrite),
            Err(StoreError::TooNew { found: 99, .. })
        ));

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        assert!(matches!(
            SqliteStore::open(&garbage, Access::ReadWrite),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&garbage).unwrap(), vec![0x5a; 8192]);
    }

    #[test]
    fn read_only_access_never_creates_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("s.db");
        let mut store = SqliteStore::open(&path, Access::ReadOnly).unwrap();
        store
            .read(&mut |tx| {
                assert!(tx.service_envs().unwrap().is_empty());
                Ok(())
            })
            .unwrap();
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    /// Regression: sha lookups scanned every deployment of the service (the
    /// planner preferred the timeline index), which made `report` over 100k
    /// deployments with sha-linked incidents take minutes.
    #[test]
    fn sha_lookups_use_the_sha_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db"), Access::ReadWrite).unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = stmt
                .query_map(params!["api", "production", "abc", 0i64], |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
        };
        let p = plan(&DEPLOYMENT_SHIPPING.replace("?3 AND", "?3 AND ?4 = ?4 AND"));
        assert!(
            p.contains("deployments_sha")
                && p.contains("changes_sha")
                && !p.contains("deployments_timeline"),
            "{p}"
        );
        let p = plan(LAST_SUCCESS_OF_SHA);
        assert!(
            p.contains("deployments_sha") && !p.contains("deployments_timeline"),
            "{p}"
        );
    }
}
