//! The SQLite store itself: opening, migrations, transactions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::schema::MIGRATIONS;
use crate::store::{Access, ReadTx, Store, StoreError, WriteTx};

/// 'dora' in ASCII.
const APPLICATION_ID: i64 = 0x646f_7261;
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

pub struct SqliteStore {
    pub(super) conn: Connection,
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
        match Self::open_with(
            path,
            access,
            flags,
            path.as_os_str().to_string_lossy().as_ref(),
        ) {
            // A command that only reads, on a store nobody can write (a
            // downloaded artifact, a read-only mount: SQLite cannot even
            // make its WAL index beside it): read the file as it is.
            Err(StoreError::ReadOnly { .. }) if access == Access::ReadOnly => Self::open_with(
                path,
                access,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                &format!("file:{}?immutable=1", uri_path(path)),
            ),
            other => other,
        }
    }

    fn open_with(
        path: &Path,
        access: Access,
        flags: OpenFlags,
        name: &str,
    ) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(name, flags).map_err(|e| open_err(&shown, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_err(&shown, e))?;
        // Recording a deployment cycles through more statements than
        // rusqlite's default cache of 16 holds: each would be prepared again
        // for every deployment of a bulk load (the git store's first read).
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        store.configure(access)?;
        store.migrate()?;
        Ok(store)
    }

    /// A page cache of up to `mib` MiB (SQLite's default is 2) for a bulk
    /// load, such as the git store's first read of 10k deployments, whose
    /// transaction would otherwise spill pages to the WAL and read them
    /// back. Not the default: a report scanning a large store runs faster
    /// recycling a small cache than allocating a large one.
    pub fn bulk_cache(&self, mib: u32) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{}", u64::from(mib) * 1024))
            .map_err(|e| open_err(&self.shown(), e))
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn configure(&mut self, access: Access) -> Result<(), StoreError> {
        let shown = self.shown();
        let journal =
            |conn: &Connection, sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0));
        // WAL is a property of the file: once set, every later open finds it.
        let current = journal(&self.conn, "PRAGMA journal_mode")
            .map_err(|e| classify(&shown, e, "read the journal mode"))?;
        // Switching writes the file's header: a command that only reads
        // leaves the file as it found it (and can read a write-protected
        // one, an artifact or a read-only mount).
        if access == Access::ReadWrite && !current.eq_ignore_ascii_case("wal") {
            // Switching needs the file to itself, and SQLite does not apply the
            // busy timeout to it: when several processes open a new store at
            // once (twenty deploy jobs), retry until the timeout instead.
            let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
            let mut pause = Duration::from_millis(5);
            loop {
                match journal(&self.conn, "PRAGMA journal_mode = WAL") {
                    // "memory" or "delete" on filesystems without WAL support:
                    // still correct, just slower.
                    Ok(_) => break,
                    Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(200));
                    }
                    Err(e) => return Err(classify(&shown, e, "enable WAL")),
                }
            }
        }
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

/// Schema version, application id and table count, read in one statement:
/// one snapshot, so another process's migration committing in between can
/// never make a half-migrated file look like somebody else's database.
fn schema_state(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version),
                (SELECT application_id FROM pragma_application_id),
                (SELECT count(*) FROM sqlite_master)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
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

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Maps SQLite failures to what the user can do about them.
/// `path` as the path of a `file:` URI (`%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> String {
    path.to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

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

/// The view of one transaction; `read` and `write` implement the traits on it.
pub(super) struct Tx<'a> {
    pub(super) conn: &'a Connection,
    pub(super) path: &'a str,
}

impl Tx<'_> {
    pub(super) fn err(&self, context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let path = self.path.to_string();
        let context = context.to_string();
        move |e| classify(&path, e, &context)
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

    /// A store written before `ref_name` existed (schema version 2, with a
    /// deployment in it) is upgraded in place on open, its rows kept.
    #[test]
    fn a_version_2_store_gains_ref_name_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(&format!(
                "PRAGMA user_version = 2; PRAGMA application_id = {APPLICATION_ID};
                 INSERT INTO deployments (id, service, env, sha, started_at, finished_at, status, kind,
                     lead_time_from, recorded_at)
                 VALUES ('d1', 'api', 'production', 'abc', 0, 0, 'success', 'planned', 'author', 0);"
            ))
            .unwrap();
        }
        let store = SqliteStore::open(&path, Access::ReadWrite).unwrap();
        let (version, refs): (i64, Option<String>) = store
            .conn
            .query_row(
                "SELECT (SELECT user_version FROM pragma_user_version), ref_name FROM deployments WHERE id = 'd1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((version, refs), (MIGRATIONS.len() as i64, None));
    }

    /// Regression: concurrent first opens of a new store failed with
    /// "database is locked" while switching to WAL (no busy timeout there).
    #[test]
    fn many_processes_opening_a_new_store_at_once_all_succeed() {
        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("s{round}.db"));
            let barrier = std::sync::Barrier::new(16);
            std::thread::scope(|scope| {
                for _ in 0..16 {
                    scope.spawn(|| {
                        barrier.wait();
                        let store = SqliteStore::open(&path, Access::ReadWrite);
                        assert!(store.is_ok(), "{:?}", store.err());
                    });
                }
            });
        }
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

    /// A command that only reads does not turn a store in another journal
    /// mode (one a script made with `sqlite3`, say) into WAL: the file is
    /// not written at all.
    #[test]
    fn read_only_access_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(SqliteStore::open(&path, Access::ReadWrite).unwrap());
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        let mut store = SqliteStore::open(&path, Access::ReadOnly).unwrap();
        store
            .read(&mut |tx| {
                assert!(tx.service_envs()?.is_empty());
                Ok(())
            })
            .unwrap();
        drop(store);
        assert!(
            std::fs::read(&path).unwrap() == before,
            "the file was written"
        );
    }
}
