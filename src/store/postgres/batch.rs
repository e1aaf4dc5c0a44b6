//! Test results, buffered and written in batches: a round trip per entry
//! would make a large report take minutes over the network.
//!
//! `add_test_entry` buffers results and writes them in batches of [`BATCH`]
//! rows with one `INSERT … SELECT FROM unnest(…)`. Entries of one test met
//! twice inside a batch are merged in memory ([`TestResult::merge`], the
//! junit outcome rule), so each batch touches a row at most once, as
//! PostgreSQL requires. A key that may already be stored (met in an earlier
//! batch, or a run this transaction did not create) is read back and merged
//! the same way, and the merged values are written over the row: the rule
//! is never repeated in SQL.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::tx::{Tx, get};
use crate::junit::Entry;
use crate::store::StoreError;
use crate::store::results::{TestResult, to_sql_count};

/// Test results written per statement.
const BATCH: usize = 5_000;

/// Test results not yet written, merged per (run, classname, name).
#[derive(Default)]
pub(super) struct Pending {
    index: HashMap<(i64, String, String), usize>,
    rows: Vec<PendingRow>,
}

struct PendingRow {
    run_seq: i64,
    classname: String,
    name: String,
    result: TestResult,
}

/// Results whose key cannot exist yet: no conflict handling to pay for.
const INSERT_RESULTS: &str = "INSERT INTO test_results
        (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                         $8::boolean[], $9::float8[], $10::text[])";

/// The stored rows of some keys, to merge the buffered results into.
const STORED_RESULTS: &str =
    "SELECT t.run_seq, t.classname, t.name, t.outcome, t.attempts, t.failures, t.passes,
        t.flaky, t.duration, t.message
    FROM test_results t
    JOIN unnest($1::bigint[], $2::text[], $3::text[]) AS k (run_seq, classname, name)
      ON t.run_seq = k.run_seq AND t.classname = k.classname AND t.name = k.name";

/// Results merged in Rust with what was stored: they replace the row.
const WRITE_RESULTS: &str = "INSERT INTO test_results AS t
        (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                         $8::boolean[], $9::float8[], $10::text[])
    ON CONFLICT (run_seq, classname, name) DO UPDATE SET
        outcome = excluded.outcome, attempts = excluded.attempts, failures = excluded.failures,
        passes = excluded.passes, flaky = excluded.flaky, duration = excluded.duration,
        message = excluded.message";

impl Tx<'_> {
    /// Adds one entry to the buffer, merged with a buffered one of the same
    /// test; writes the buffer when it is full.
    pub(super) fn buffer_result(&self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
        let row = PendingRow {
            run_seq,
            classname: e.classname.to_string(),
            name: e.name.to_string(),
            result: TestResult::of(e),
        };
        let full = {
            let mut pending = self.pending.borrow_mut();
            let key = (run_seq, row.classname.clone(), row.name.clone());
            match pending.index.get(&key) {
                Some(&i) => pending.rows[i].result.merge(row.result),
                None => {
                    let i = pending.rows.len();
                    pending.rows.push(row);
                    pending.index.insert(key, i);
                }
            }
            pending.rows.len() >= BATCH
        };
        if full { self.flush() } else { Ok(()) }
    }

    /// Forgets what is buffered: it belongs to a file being dropped.
    pub(super) fn discard_pending(&self) {
        *self.pending.borrow_mut() = Pending::default();
    }

    /// Writes the buffered test results: new keys with a plain INSERT, keys
    /// that may exist merged with their stored row.
    pub fn flush(&self) -> Result<(), StoreError> {
        let rows = std::mem::take(&mut *self.pending.borrow_mut()).rows;
        if rows.is_empty() {
            return Ok(());
        }
        let (mut new, mut known) = (Columns::default(), Vec::new());
        {
            let fresh = self.fresh_runs.borrow();
            let mut written = self.written.borrow_mut();
            for r in rows {
                let key = key_hash(r.run_seq, &r.classname, &r.name);
                if !written.insert(key) || !fresh.contains(&r.run_seq) {
                    known.push(r);
                } else {
                    new.push(r);
                }
            }
        }
        self.write_columns(INSERT_RESULTS, &new)?;
        if !known.is_empty() {
            self.merge_stored(&mut known)?;
            let mut merged = Columns::default();
            for r in known {
                merged.push(r);
            }
            self.write_columns(WRITE_RESULTS, &merged)?;
        }
        Ok(())
    }

    /// Merges each row that is stored already into its stored values (the
    /// stored entries ran first).
    fn merge_stored(&self, rows: &mut [PendingRow]) -> Result<(), StoreError> {
        let context = "record test results";
        let run_seqs: Vec<i64> = rows.iter().map(|r| r.run_seq).collect();
        let classnames: Vec<&str> = rows.iter().map(|r| r.classname.as_str()).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        let stored = self.query(STORED_RESULTS, &[&run_seqs, &classnames, &names], context)?;
        let index: HashMap<(i64, &str, &str), usize> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.run_seq, r.classname.as_str(), r.name.as_str()), i))
            .collect();
        let mut merged = Vec::with_capacity(stored.len());
        for s in &stored {
            let key = (get::<i64>(s, 0)?, get::<&str>(s, 1)?, get::<&str>(s, 2)?);
            let Some(&i) = index.get(&key) else {
                continue;
            };
            let before = TestResult::from_columns(
                get(s, 3)?,
                get(s, 4)?,
                get(s, 5)?,
                get(s, 6)?,
                get(s, 7)?,
                get(s, 8)?,
                get(s, 9)?,
            );
            merged.push((i, before));
        }
        drop(index);
        for (i, before) in merged {
            let later = std::mem::replace(&mut rows[i].result, before);
            rows[i].result.merge(later);
        }
        Ok(())
    }

    fn write_columns(&self, sql: &'static str, c: &Columns) -> Result<(), StoreError> {
        if c.run_seq.is_empty() {
            return Ok(());
        }
        self.query(
            sql,
            &[
                &c.run_seq,
                &c.classname,
                &c.name,
                &c.outcome,
                &c.attempts,
                &c.failures,
                &c.passes,
                &c.flaky,
                &c.duration,
                &c.message,
            ],
            "record test results",
        )?;
        Ok(())
    }
}

fn key_hash(run_seq: i64, classname: &str, name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (run_seq, classname, name).hash(&mut h);
    h.finish()
}

/// Test results as the arrays `unnest` takes.
#[derive(Default)]
struct Columns {
    run_seq: Vec<i64>,
    classname: Vec<String>,
    name: Vec<String>,
    outcome: Vec<&'static str>,
    attempts: Vec<i64>,
    failures: Vec<i64>,
    passes: Vec<i64>,
    flaky: Vec<bool>,
    duration: Vec<Option<f64>>,
    message: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, r: PendingRow) {
        let t = r.result.tally;
        self.run_seq.push(r.run_seq);
        self.classname.push(r.classname);
        self.name.push(r.name);
        self.outcome.push(t.outcome.as_str());
        self.attempts.push(to_sql_count(t.attempts));
        self.failures.push(to_sql_count(t.failures));
        self.passes.push(to_sql_count(t.passes));
        self.flaky.push(t.flaky);
        self.duration.push(r.result.duration);
        self.message.push(r.result.message);
    }
}
