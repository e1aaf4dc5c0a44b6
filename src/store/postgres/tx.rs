//! The view of one PostgreSQL transaction, shared by its halves: `read`
//! (the `ReadTx` queries), `write` (the `WriteTx` inserts and upserts) and
//! `batch` (test results buffered and written in batches). The same
//! semantics as the SQLite store's, statement for statement; where the two
//! differ, only for speed, the module that does it says why.

use std::cell::RefCell;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Row, Statement};

use super::batch::Pending;
use super::store::PostgresStore;
use crate::store::StoreError;
use crate::time::{from_millis, to_millis};

pub(super) type Param<'a> = &'a (dyn ToSql + Sync);

/// Whole milliseconds, as the SQLite store keeps instants: both stores then
/// compare, order and return identical values.
pub(super) fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    from_millis(to_millis(t))
}

pub struct Tx<'a> {
    store: &'a PostgresStore,
    /// Test results not yet written (see `batch`).
    pub(super) pending: RefCell<Pending>,
    /// Test runs created in this transaction: nobody else can have written
    /// their results.
    pub(super) fresh_runs: RefCell<HashSet<i64>>,
    /// Hashes of the result keys written in this transaction. A key whose
    /// hash is absent (and whose run is fresh) cannot exist yet, so it is a
    /// plain INSERT; anything else is merged with the stored row. A hash
    /// collision or a file rolled back only sends a row down the (correct,
    /// slower) merge.
    pub(super) written: RefCell<HashSet<u64>>,
    /// Answers read ahead (`ReadTx::read_ahead`), by question, each taken
    /// once; forgotten when the transaction writes.
    pub(super) ahead: RefCell<Vec<(String, Vec<Row>)>>,
}

impl<'a> Tx<'a> {
    pub fn new(store: &'a PostgresStore) -> Tx<'a> {
        Tx {
            store,
            pending: RefCell::new(Pending::default()),
            fresh_runs: RefCell::new(HashSet::new()),
            written: RefCell::new(HashSet::new()),
            ahead: RefCell::new(Vec::new()),
        }
    }

    pub(super) fn err(
        &self,
        context: &str,
    ) -> impl FnOnce(tokio_postgres::Error) -> StoreError + use<> {
        self.store.err(context)
    }

    /// The prepared statement of `sql`, prepared on first use.
    fn prepared(&self, sql: &'static str, context: &str) -> Result<Statement, StoreError> {
        let store = self.store;
        if let Some(s) = store.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = store
            .rt
            .block_on(store.client.prepare(sql))
            .map_err(self.err(context))?;
        store.statements.borrow_mut().insert(sql, s.clone());
        Ok(s)
    }

    /// Runs a cached prepared statement.
    pub(super) fn query(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
        context: &str,
    ) -> Result<Vec<Row>, StoreError> {
        let stmt = self.prepared(sql, context)?;
        let store = self.store;
        store
            .rt
            .block_on(store.client.query(&stmt, params))
            .map_err(self.err(context))
    }

    /// Runs a cached prepared statement and hands `each` its rows as they
    /// arrive: a long result is never held whole.
    pub(super) fn query_each(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
        context: &str,
        mut each: impl FnMut(Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let stmt = self.prepared(sql, context)?;
        let store = self.store;
        store.rt.block_on(async {
            let rows = store
                .client
                .query_raw(&stmt, params.iter().copied())
                .await
                .map_err(self.err(context))?;
            let mut rows = std::pin::pin!(rows);
            while let Some(row) = rows.try_next().await.map_err(self.err(context))? {
                each(row)?;
            }
            Ok(())
        })
    }

    /// Runs cached prepared statements pipelined: all are sent before the
    /// first answer is awaited, so they cost one round trip, not one each.
    pub(super) fn query_together(
        &self,
        queries: &[(&'static str, Vec<Param<'_>>)],
        context: &str,
    ) -> Result<Vec<Vec<Row>>, StoreError> {
        let stmts = queries
            .iter()
            .map(|(sql, _)| self.prepared(sql, context))
            .collect::<Result<Vec<_>, _>>()?;
        let store = self.store;
        let all = stmts
            .iter()
            .zip(queries)
            .map(|(stmt, (_, params))| store.client.query(stmt, params));
        store
            .rt
            .block_on(futures_util::future::try_join_all(all))
            .map_err(self.err(context))
    }

    /// What was read ahead for `question`, taken (asked again, it is
    /// queried). Nothing read ahead (every transaction but a deployment's
    /// record) costs no formatting.
    pub(super) fn answered(&self, question: &impl std::fmt::Debug) -> Option<Vec<Row>> {
        let mut ahead = self.ahead.borrow_mut();
        if ahead.is_empty() {
            return None;
        }
        let question = format!("{question:?}");
        let i = ahead.iter().position(|(q, _)| *q == question)?;
        Some(ahead.swap_remove(i).1)
    }

    /// Counts a deployment recorded (see `PostgresStore::replan_as_it_grows`).
    pub(super) fn recorded(&self) {
        let n = &self.store.recorded;
        n.set(n.get() + 1);
        self.store.replan_as_it_grows();
    }

    /// Called by every write: answers read before it may be stale.
    pub(super) fn wrote(&self) {
        self.ahead.borrow_mut().clear();
    }

    /// Runs a statement built at run time (not cached: it is prepared for
    /// this one call).
    pub(super) fn query_dynamic(
        &self,
        sql: &str,
        params: &[Param<'_>],
        context: &str,
    ) -> Result<Vec<Row>, StoreError> {
        let store = self.store;
        store
            .rt
            .block_on(store.client.query(sql, params))
            .map_err(self.err(context))
    }

    pub(super) fn query_opt(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
        context: &str,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params, context)?.into_iter().next())
    }

    pub(super) fn exec(&self, sql: &str, context: &str) -> Result<(), StoreError> {
        self.store.exec(sql, context)
    }
}

pub(super) fn get<'r, T: FromSql<'r>>(row: &'r Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(|e| StoreError::Query {
        context: format!("read column {i} of a result"),
        source: Box::new(e),
    })
}
