//! Test results, buffered and written in batches: a round trip per entry
//! would make a large report take minutes over the network.
//!
//! `add_test_entry` buffers results and writes them in batches of [`BATCH`]
//! rows with one `INSERT … SELECT FROM unnest(…) ON CONFLICT`. Entries of one
//! test met twice inside a batch are merged in memory by the same rules the
//! upsert applies (all of them associative), so each batch touches a row at
//! most once, as PostgreSQL requires.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::tx::Tx;
use crate::junit::{Entry, Outcome};
use crate::store::StoreError;

/// Test results written per statement.
const BATCH: usize = 5_000;

/// Test results not yet written, merged per (run, classname, name).
#[derive(Default)]
pub(super) struct Pending {
    index: HashMap<(i64, String, String), usize>,
    rows: Vec<ResultRow>,
}

struct ResultRow {
    run_seq: i64,
    classname: String,
    name: String,
    outcome: Outcome,
    attempts: i64,
    failures: i64,
    passes: i64,
    flaky: bool,
    duration: Option<f64>,
    message: Option<String>,
}

impl ResultRow {
    /// The upsert's rules: see `FLUSH_RESULTS`.
    fn merge(&mut self, new: ResultRow) {
        self.flaky = self.flaky || new.flaky || (self.failures > 0 && new.passes > 0);
        self.attempts += new.attempts;
        self.failures += new.failures;
        self.passes += new.passes;
        if new.outcome != Outcome::Skipped {
            self.outcome = new.outcome;
        }
        if let Some(d) = new.duration {
            self.duration = Some(self.duration.unwrap_or(0.0) + d);
        }
        if new.message.is_some() {
            self.message = new.message;
        }
    }
}

impl Tx<'_> {
    /// Adds one entry to the buffer, merged with a buffered one of the same
    /// test; writes the buffer when it is full.
    pub(super) fn buffer_result(&self, run_seq: i64, e: &Entry<'_>) -> Result<(), StoreError> {
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
        let row = ResultRow {
            run_seq,
            classname: e.classname.to_string(),
            name: e.name.to_string(),
            outcome: last,
            attempts,
            failures,
            passes,
            flaky,
            duration: e.time(),
            message: e.message.map(str::to_string),
        };
        let full = {
            let mut pending = self.pending.borrow_mut();
            let key = (run_seq, row.classname.clone(), row.name.clone());
            match pending.index.get(&key) {
                Some(&i) => pending.rows[i].merge(row),
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

    /// Writes the buffered test results: new keys with a plain INSERT,
    /// keys that may exist with the merging upsert.
    pub fn flush(&self) -> Result<(), StoreError> {
        let rows = std::mem::take(&mut *self.pending.borrow_mut()).rows;
        if rows.is_empty() {
            return Ok(());
        }
        let (mut new, mut merge) = (Columns::default(), Columns::default());
        {
            let fresh = self.fresh_runs.borrow();
            let mut written = self.written.borrow_mut();
            for r in rows {
                let key = key_hash(r.run_seq, &r.classname, &r.name);
                let known = !written.insert(key) || !fresh.contains(&r.run_seq);
                if known { merge.push(r) } else { new.push(r) }
            }
        }
        for (sql, columns) in [(INSERT_RESULTS, new), (FLUSH_RESULTS, merge)] {
            if columns.run_seq.is_empty() {
                continue;
            }
            let c = &columns;
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
        }
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
    fn push(&mut self, r: ResultRow) {
        self.run_seq.push(r.run_seq);
        self.classname.push(r.classname);
        self.name.push(r.name);
        self.outcome.push(r.outcome.as_str());
        self.attempts.push(r.attempts);
        self.failures.push(r.failures);
        self.passes.push(r.passes);
        self.flaky.push(r.flaky);
        self.duration.push(r.duration);
        self.message.push(r.message);
    }
}

/// Results whose key cannot exist yet: no conflict handling to pay for.
const INSERT_RESULTS: &str = "INSERT INTO test_results
        (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                         $8::boolean[], $9::float8[], $10::text[])";

/// The per-result merge of the SQLite store, for a batch of distinct keys.
const FLUSH_RESULTS: &str = "INSERT INTO test_results AS t
        (run_seq, classname, name, outcome, attempts, failures, passes, flaky, duration, message)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                         $8::boolean[], $9::float8[], $10::text[])
    ON CONFLICT (run_seq, classname, name) DO UPDATE SET
        flaky = t.flaky OR excluded.flaky OR (t.failures > 0 AND excluded.passes > 0),
        attempts = t.attempts + excluded.attempts,
        failures = t.failures + excluded.failures,
        passes = t.passes + excluded.passes,
        outcome = CASE WHEN excluded.outcome = 'skipped' THEN t.outcome ELSE excluded.outcome END,
        duration = CASE WHEN excluded.duration IS NULL THEN t.duration ELSE coalesce(t.duration, 0) + excluded.duration END,
        message = coalesce(excluded.message, t.message)";
