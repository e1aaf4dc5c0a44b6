//! The PostgreSQL store itself: one connection, its migrations and its
//! transactions.
//!
//! - The traits are synchronous; the store owns a current-thread tokio
//!   runtime and blocks on each call. One connection per invocation.
//! - Everything lives in the `dorameter` schema. Migrations are versioned in
//!   `dorameter.schema_migrations` and applied on open under a session
//!   advisory lock, so two jobs starting on a fresh database at once both
//!   succeed and the migrations run once.
//! - Every write transaction takes a transaction advisory lock first: writers
//!   queue like SQLite's `BEGIN IMMEDIATE`, so reading the previous
//!   deployment and inserting the next one is one atomic step. Writes run at
//!   READ COMMITTED on purpose: each statement after the lock sees what the
//!   previous writer committed (a REPEATABLE READ snapshot could predate it).
//! - Reads run in a REPEATABLE READ READ ONLY transaction: one snapshot.
//! - JUnit results are buffered and written in batches (see `batch`), flushed
//!   before a file's savepoint is released and before commit.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use tokio::runtime::Runtime;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Statement};

use super::connect;
use super::schema::MIGRATIONS;
use super::tx;
use crate::metrics::{LEVEL_NAMES, band_table, band_table_names};
use crate::store::url::PostgresUrl;
use crate::store::{Access, ReadTx, Store, StoreError, WriteTx};

/// `pg_advisory_lock` key held while migrating: 'doramigr' in ASCII.
const MIGRATION_LOCK: i64 = 0x646f_7261_6d69_6772;
/// `pg_advisory_xact_lock` key every write transaction takes: 'dorawrit'.
const WRITE_LOCK: i64 = 0x646f_7261_7772_6974;

/// Begins a write transaction: one writer at a time (`WRITE_LOCK`), and generic
/// plans. A write's statements are keyed lookups and inserts whose plans do
/// not depend on the values; re-planning them on every execution (the
/// planner's default while a generic plan looks costlier than the custom
/// ones) cost 0.8 ms per recorded deployment, four times its execution.
/// A generic plan is kept as long as its statement, though, and one made on
/// a new store's empty tables scans what it should look up: see
/// [`PostgresStore::replan_as_it_grows`].
fn begin_write() -> String {
    format!(
        "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL plan_cache_mode = force_generic_plan;
        SELECT pg_advisory_xact_lock({WRITE_LOCK})"
    )
}

const SCHEMA: &str = "dorameter";

pub struct PostgresStore {
    pub(super) rt: Runtime,
    pub(super) client: Client,
    /// The URL, redacted.
    shown: String,
    who: Who,
    /// Prepared statements, by SQL text: one round trip per query after
    /// the first.
    pub(super) statements: RefCell<HashMap<&'static str, Statement>>,
    /// Deployments this connection recorded, and the count at which the
    /// write statements are planned again (see `replan_as_it_grows`).
    pub(super) recorded: Cell<u64>,
    replan_at: Cell<u64>,
}

/// The session's identity, for the GRANT a permission error needs.
#[derive(Clone, Debug)]
struct Who {
    user: String,
    database: String,
}

/// A message that already says everything: rendered once, no source chain.
#[derive(Debug)]
struct PgError(String);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

fn boxed(message: String) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(PgError(message))
}

/// `"name"` when `name` needs quoting in SQL.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

impl Who {
    /// The statement that grants what a permission error says is missing;
    /// `migrating`: the failed statement was creating the schema's objects.
    fn grant_for(&self, message: &str, migrating: bool) -> String {
        let user = ident(&self.user);
        if message.contains("for database") {
            format!(
                "GRANT CREATE ON DATABASE {} TO {user}",
                ident(&self.database)
            )
        } else if message.contains("for schema") && migrating {
            format!("GRANT USAGE, CREATE ON SCHEMA {SCHEMA} TO {user}")
        } else if message.contains("for schema") {
            format!("GRANT USAGE ON SCHEMA {SCHEMA} TO {user}")
        } else {
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO {user}"
            )
        }
    }
}

/// Maps a failed statement to what the user can do about it.
fn classify(shown: &str, who: &Who, e: &tokio_postgres::Error, context: &str) -> StoreError {
    let message = connect::describe(e);
    if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        return StoreError::Denied {
            path: shown.to_string(),
            what: format!("cannot {context} as {}", who.user),
            grant: who.grant_for(
                &message,
                context.starts_with("create") || context.starts_with("apply migration"),
            ),
            source: boxed(message),
        };
    }
    if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
        return StoreError::ReadOnly {
            path: shown.to_string(),
            source: boxed(message),
        };
    }
    if e.is_closed()
        || e.code()
            .is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
    {
        return StoreError::Open {
            path: shown.to_string(),
            source: boxed(format!("lost the connection: {message}")),
        };
    }
    StoreError::Query {
        context: context.to_string(),
        source: boxed(message),
    }
}

impl PostgresStore {
    pub fn open(url: &PostgresUrl, access: Access) -> Result<PostgresStore, StoreError> {
        let shown = url.redacted().to_string();
        let open_err = |message: String| StoreError::Open {
            path: shown.clone(),
            source: boxed(message),
        };
        let target = connect::Target::parse(url.expose()).map_err(|reason| StoreError::BadUrl {
            url: shown.clone(),
            reason,
        })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| open_err(format!("cannot start the I/O runtime: {e}")))?;
        let client = rt
            .block_on(target.connect())
            .map_err(|e| match e.unreachable {
                true => StoreError::Unreachable {
                    path: shown.clone(),
                    source: boxed(e.message),
                },
                false => open_err(e.message),
            })?;
        let who = rt
            .block_on(client.query_one("SELECT current_user::text, current_database()::text", &[]))
            .map(|r| Who {
                user: r.get(0),
                database: r.get(1),
            })
            .map_err(|e| open_err(target.scrub(connect::describe(&e))))?;
        let mut store = PostgresStore {
            rt,
            client,
            shown,
            who,
            statements: RefCell::new(HashMap::new()),
            recorded: Cell::new(0),
            replan_at: Cell::new(64),
        };
        store.prepare_schema(access)?;
        Ok(store)
    }

    pub(super) fn err(
        &self,
        context: &str,
    ) -> impl FnOnce(tokio_postgres::Error) -> StoreError + use<> {
        let shown = self.shown.clone();
        let who = self.who.clone();
        let context = context.to_string();
        move |e| classify(&shown, &who, &e, &context)
    }

    pub(super) fn exec(&self, sql: &str, context: &str) -> Result<(), StoreError> {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .map_err(self.err(context))
    }

    /// The applied schema version, `None` when the schema or its migrations
    /// table does not exist.
    fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let row = self
            .rt
            .block_on(self.client.query_one(
                "SELECT to_regclass('dorameter.schema_migrations') IS NOT NULL",
                &[],
            ))
            .map_err(self.err("read the schema version"))?;
        if !row.get::<_, bool>(0) {
            return Ok(None);
        }
        let row = self
            .rt
            .block_on(self.client.query_one(
                "SELECT coalesce(max(version), 0)::bigint FROM dorameter.schema_migrations",
                &[],
            ))
            .map_err(self.err("read the schema version"))?;
        Ok(Some(row.get(0)))
    }

    fn schema_exists(&self) -> Result<bool, StoreError> {
        let row = self
            .rt
            .block_on(self.client.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'dorameter')",
                &[],
            ))
            .map_err(self.err("look for the dorameter schema"))?;
        Ok(row.get(0))
    }

    fn too_new(&self, found: i64) -> StoreError {
        StoreError::TooNew {
            path: self.shown.clone(),
            found,
            known: MIGRATIONS.len() as i64,
        }
    }

    fn prepare_schema(&mut self, access: Access) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as i64;
        // Writers queue for up to two minutes, like SQLite's busy timeout.
        self.exec(
            "SET lock_timeout = '120s'; SET search_path = dorameter",
            "configure the session",
        )?;
        match self.schema_version()? {
            Some(v) if v == known => return Ok(()),
            Some(v) if v > known => return Err(self.too_new(v)),
            None if access == Access::ReadOnly && !self.schema_exists()? => {
                // Nothing recorded yet: read an empty store without creating
                // anything, from temporary tables of this session.
                self.exec("SET search_path = pg_temp", "prepare an empty store")?;
                for (i, m) in MIGRATIONS.iter().enumerate().filter(|(_, m)| m.temporary) {
                    self.exec(
                        m.sql,
                        &format!("prepare an empty store (migration {})", i + 1),
                    )?;
                }
                return Ok(());
            }
            _ => {}
        }
        self.exec(
            &format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"),
            "lock for migration",
        )?;
        let result = self.migrate_locked();
        let unlocked = self.exec(
            &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"),
            "unlock after migration",
        );
        result.and(unlocked)
    }

    fn migrate_locked(&mut self) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as i64;
        // Another process may have migrated while we waited for the lock.
        let version = match self.schema_version()? {
            Some(v) => v,
            None => {
                if self.schema_exists()? {
                    let row = self
                        .rt
                        .block_on(self.client.query_one(
                            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'dorameter'",
                            &[],
                        ))
                        .map_err(self.err("inspect the dorameter schema"))?;
                    if row.get::<_, i64>(0) > 0 {
                        return Err(StoreError::Corrupt {
                            path: self.shown.clone(),
                            source: boxed("the schema dorameter exists, holds tables and has no dorameter.schema_migrations: another application's".into()),
                        });
                    }
                } else {
                    // CREATE SCHEMA checks the database privilege even with
                    // IF NOT EXISTS: only ask for it when the schema is missing.
                    self.exec(
                        &format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"),
                        "create the dorameter schema",
                    )?;
                }
                self.exec(
                    "SET search_path = dorameter;
                     CREATE TABLE IF NOT EXISTS dorameter.schema_migrations (
                         version bigint PRIMARY KEY,
                         description text NOT NULL,
                         applied_at timestamptz NOT NULL DEFAULT now()
                     )",
                    "create the migrations table",
                )?;
                0
            }
        };
        if version > known {
            return Err(self.too_new(version));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let n = i as i64 + 1;
            let context = format!("apply migration {n}");
            self.exec("BEGIN", &context)?;
            let applied = self.exec(m.sql, &context).and_then(|()| {
                self.rt
                    .block_on(self.client.execute(
                        "INSERT INTO dorameter.schema_migrations (version, description) VALUES ($1, $2)",
                        &[&n, &m.description],
                    ))
                    .map(|_| ())
                    .map_err(self.err(&context))
            });
            match applied {
                Ok(()) => self.exec("COMMIT", &context)?,
                Err(e) => {
                    let _ = self.exec("ROLLBACK", &context);
                    return Err(e);
                }
            }
        }
        if version < known {
            self.write_bands()?;
        }
        Ok(())
    }

    /// Writes the band tables into `dorameter.bands` for SQL readers (the
    /// dashboards' `dorameter.dora_level`), after a migration: a release
    /// that changes a table's numbers adds a migration, so this runs.
    fn write_bands(&mut self) -> Result<(), StoreError> {
        let mut rows = Vec::new();
        for name in band_table_names() {
            let Some(table) = band_table(name) else {
                continue;
            };
            for (metric, comparison, boundaries) in table.boundaries() {
                for (rank, (level, boundary)) in LEVEL_NAMES.iter().zip(boundaries).enumerate() {
                    rows.push(format!(
                        "('{name}', '{metric}', {rank}, '{level}', '{comparison}', {boundary:?})"
                    ));
                }
            }
        }
        self.exec(
            &format!(
                "BEGIN; DELETE FROM dorameter.bands;
                 INSERT INTO dorameter.bands (bands, metric, rank, level, comparison, boundary) VALUES {};
                 COMMIT",
                rows.join(", ")
            ),
            "write the band tables",
        )
    }

    /// Once this connection has recorded 64, then 128, 256… deployments
    /// (counted as each is recorded, inside its transaction: `store copy`
    /// and `backfill` record thousands in one), refreshes the statistics of
    /// the tables a deployment goes into and forgets the prepared
    /// statements, so their generic plans are made again for the store as
    /// it is now. A plan made on a new store's empty tables, or on tables
    /// grown tenfold since their last statistics, scans what it should look
    /// up (a walk of the service's deployments for every one recorded: 45
    /// deployments/s after 5,000 webhooks, against over 1,000/s; 2,000
    /// deployments copied in one transaction took 32 s, a quadratic walk);
    /// redone as the store doubles, plans follow it at the cost of a few
    /// dozen `ANALYZE`s (which sample: 0.2 s on a 100k store) in a store's
    /// life. `ANALYZE` sees the transaction's own rows. It skips a table
    /// another session is analyzing rather than wait, and runs in a
    /// savepoint: whatever becomes of it, the write goes on (without the
    /// right to analyze, PostgreSQL only warns).
    pub(super) fn replan_as_it_grows(&self) {
        let recorded = self.recorded.get();
        if recorded < self.replan_at.get() {
            return;
        }
        self.replan_at.set(recorded.saturating_mul(2));
        let analyzed = self.exec(
            "SAVEPOINT replan;
             ANALYZE (SKIP_LOCKED) dorameter.deployments, dorameter.changes, dorameter.remediations;
             RELEASE replan",
            "refresh the statistics",
        );
        if analyzed.is_err() {
            let _ = self.exec(
                "ROLLBACK TO replan; RELEASE replan",
                "refresh the statistics",
            );
        }
        self.statements.borrow_mut().clear();
    }

    /// Runs `f` between `begin` and COMMIT (or ROLLBACK when `keep` is false
    /// or `f` fails).
    fn transaction(
        &mut self,
        begin: &str,
        keep: bool,
        f: &mut dyn FnMut(&mut tx::Tx<'_>) -> crate::Result<()>,
    ) -> crate::Result<()> {
        if let Err(e) = self.exec(begin, "begin a transaction") {
            self.exec("ROLLBACK", "roll back").ok();
            return Err(e.into());
        }
        let result = {
            let mut view = tx::Tx::new(self);
            f(&mut view).and_then(|()| Ok(view.flush()?))
        };
        match result {
            Ok(()) if keep => {
                self.exec("COMMIT", "commit")?;
                Ok(())
            }
            other => {
                self.exec("ROLLBACK", "roll back").ok();
                other
            }
        }
    }
}

impl Store for PostgresStore {
    fn write(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()> {
        self.transaction(&begin_write(), true, &mut |tx| f(tx))
    }

    fn simulate(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> crate::Result<()>,
    ) -> crate::Result<()> {
        self.transaction(&begin_write(), false, &mut |tx| f(tx))
    }

    fn read(&mut self, f: &mut dyn FnMut(&dyn ReadTx) -> crate::Result<()>) -> crate::Result<()> {
        self.transaction(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            true,
            &mut |tx| f(tx),
        )
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}
