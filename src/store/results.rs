//! One stored test result per test and run: what `WriteTx::add_test_entry`
//! writes. When a run's test comes again (a rerun entry, the same test in
//! another file), the stored row and the new entry merge here, by the junit
//! outcome rule ([`Tally::merge`]); both stores read the stored row, merge in
//! Rust and write the values back, so no SQL statement repeats the rule.
//! [`TestResult::replay`] turns a stored row back into an entry that gives
//! the same row (`store copy`).

use crate::junit::{Entry, Outcome, OwnedEntry, Tally, parse_seconds};

/// A `test_results` row, without its key.
#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    pub tally: Tally,
    /// Seconds, summed over the entries that gave a readable time.
    pub duration: Option<f64>,
    /// The message of the latest entry that had one.
    pub message: Option<String>,
}

impl TestResult {
    pub fn of(e: &Entry<'_>) -> TestResult {
        TestResult {
            tally: Tally::of(e.attempts),
            duration: e.time(),
            message: e.message.map(str::to_string),
        }
    }

    /// The entries of `later` came after those already merged here.
    pub fn merge(&mut self, later: TestResult) {
        self.tally.merge(&later.tally);
        if let Some(d) = later.duration {
            self.duration = Some(self.duration.unwrap_or(0.0) + d);
        }
        if later.message.is_some() {
            self.message = later.message;
        }
    }

    /// One entry that, added to a run that does not hold the test yet,
    /// stores exactly this row: its attempts replay the tally
    /// ([`Tally::replay`]), its `time` is the duration as text (an `f64`
    /// prints as the shortest text that reads back as itself), its message
    /// the message. `None` for a row no entries give (see
    /// [`Tally::replay`]).
    pub fn replay(&self, classname: &str, name: &str) -> Option<OwnedEntry> {
        let attempts = self.tally.replay()?;
        let time = match self.duration {
            Some(d) => {
                let text = d.to_string();
                // Only a duration a report could give reads back.
                if parse_seconds(&text) != Some(d) {
                    return None;
                }
                Some(text)
            }
            None => None,
        };
        Some(OwnedEntry {
            classname: classname.to_string(),
            name: name.to_string(),
            attempts,
            time,
            message: self.message.clone(),
            ..OwnedEntry::default()
        })
    }

    /// A row as a store reads it back: counts as SQL integers, the outcome
    /// as its text (the schema's CHECK admits only the four outcomes).
    pub(crate) fn from_columns(
        outcome: &str,
        attempts: i64,
        failures: i64,
        passes: i64,
        flaky: bool,
        duration: Option<f64>,
        message: Option<String>,
    ) -> TestResult {
        TestResult {
            tally: Tally {
                attempts: from_sql_count(attempts),
                failures: from_sql_count(failures),
                passes: from_sql_count(passes),
                outcome: Outcome::parse(outcome).unwrap_or(Outcome::Skipped),
                flaky,
            },
            duration,
            message,
        }
    }
}

/// One stored test result of a run, with its key (`ReadTx::test_results`).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResult {
    pub classname: String,
    pub name: String,
    pub result: TestResult,
}

/// A count as an SQL integer.
pub(crate) fn to_sql_count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An SQL integer as a count.
pub(crate) fn from_sql_count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::event::TestRun;
    use crate::junit::OwnedEntry;
    use crate::store::{Access, SqliteStore, Store};
    use Outcome::*;

    fn entry<'a>(
        attempts: &'a [Outcome],
        time: Option<&'a str>,
        message: Option<&'a str>,
    ) -> Entry<'a> {
        Entry {
            classname: "c",
            name: "t",
            attempts,
            time_text: time,
            message,

            ..Entry::default()
        }
    }

    #[test]
    fn durations_add_up_and_the_latest_message_stays() {
        let mut r = TestResult::of(&entry(&[Failed], Some("1.5"), Some("boom")));
        r.merge(TestResult::of(&entry(&[Passed], None, None)));
        assert_eq!(r.duration, Some(1.5));
        assert_eq!(r.message.as_deref(), Some("boom"));
        r.merge(TestResult::of(&entry(&[Errored], Some("2"), Some("crash"))));
        assert_eq!(r.duration, Some(3.5));
        assert_eq!(r.message.as_deref(), Some("crash"));
        assert_eq!(r.tally, Tally::of(&[Failed, Passed, Errored]));
        let mut none = TestResult::of(&entry(&[Skipped], None, None));
        none.merge(TestResult::of(&entry(&[Skipped], Some("x"), None)));
        assert_eq!(none.duration, None);
    }

    /// Every row up to four attempts, with and without a duration and a
    /// message, replayed into a store as one entry, reads back unchanged.
    #[test]
    fn a_replayed_row_is_stored_as_it_was() {
        let all = [Passed, Failed, Errored, Skipped];
        let durations = [
            None,
            Some(0.0),
            Some(0.1 + 0.2),
            Some(1e-7),
            Some(12_345.678_9),
            Some(1e21),
        ];
        let messages = [None, Some("boom"), Some("")];
        let mut rows = Vec::new();
        for len in 0..=4u32 {
            for n in 0..4usize.pow(len) {
                let attempts: Vec<Outcome> = (0..len).map(|i| all[n / 4usize.pow(i) % 4]).collect();
                for (i, duration) in durations.iter().enumerate() {
                    rows.push(TestResult {
                        tally: Tally::of(&attempts),
                        duration: *duration,
                        message: messages[(n + i) % messages.len()].map(str::to_string),
                    });
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("s.db"), Access::ReadWrite).unwrap();
        let entries: Vec<OwnedEntry> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let e = r.replay("c", &format!("t{i:05}")).expect("replayable");
                // The entry alone gives the row (what the stores merge from).
                assert_eq!(TestResult::of(&e.as_entry()), *r, "{e:?}");
                e
            })
            .collect();
        ingest(&mut store, &[(entries, true)]);
        store
            .read(&mut |tx| {
                let stored = tx.test_results("run")?;
                assert_eq!(stored.len(), rows.len());
                for (i, s) in stored.iter().enumerate() {
                    assert_eq!((s.classname.as_str(), &s.name), ("c", &format!("t{i:05}")));
                    assert_eq!(s.result, rows[i]);
                }
                assert!(tx.test_results("no-such-run")?.is_empty());
                Ok(())
            })
            .unwrap();
        let broken = TestResult {
            tally: Tally {
                attempts: 1,
                failures: 2,
                ..Tally::of(&[Failed])
            },
            duration: None,
            message: None,
        };
        assert_eq!(broken.replay("c", "t"), None);
        let nan = TestResult {
            duration: Some(f64::NAN),
            ..rows[1].clone()
        };
        assert_eq!(nan.replay("c", "t"), None);
    }

    /// Files of entries (and whether each parsed), many of one test: again
    /// within a PostgreSQL batch, across batches, across files, and in a
    /// file rolled back. Times are quarters, so sums are exact in any order.
    fn script() -> Vec<(Vec<OwnedEntry>, bool)> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let all = [Passed, Failed, Errored, Skipped];
        [(7_000, true), (3_000, true), (500, false), (2_000, true)]
            .into_iter()
            .map(|(n, keep)| {
                let cases = (0..n)
                    .map(|_| {
                        let id = next(4_000);
                        let attempts: Vec<Outcome> =
                            (0..=next(3)).map(|_| all[next(4) as usize]).collect();
                        let failing = attempts.iter().any(|o| o.is_failure());
                        OwnedEntry {
                            classname: format!("pkg.C{}", id % 7),
                            name: format!("test_{id}"),
                            attempts,
                            time: (next(4) > 0).then(|| format!("{}", next(40) as f64 / 4.0)),
                            message: (failing && next(2) == 0).then(|| format!("m{}", next(100))),
                            ..OwnedEntry::default()
                        }
                    })
                    .collect();
                (cases, keep)
            })
            .collect()
    }

    type Results = BTreeMap<(String, String), TestResult>;

    /// The Rust rule over the files that parsed, entry by entry.
    fn expected(files: &[(Vec<OwnedEntry>, bool)]) -> Results {
        let mut out = Results::new();
        for (cases, _) in files.iter().filter(|(_, keep)| *keep) {
            for c in cases {
                let r = TestResult::of(&c.as_entry());
                match out.get_mut(&(c.classname.clone(), c.name.clone())) {
                    Some(stored) => stored.merge(r),
                    None => {
                        out.insert((c.classname.clone(), c.name.clone()), r);
                    }
                }
            }
        }
        out
    }

    fn ingest(store: &mut dyn Store, files: &[(Vec<OwnedEntry>, bool)]) {
        store
            .write(&mut |tx| {
                let run = TestRun {
                    id: "run".into(),
                    service: "api".into(),
                    recorded_at: chrono::Utc::now(),
                    ..TestRun::default()
                };
                let seq = tx.insert_test_run(&run)?.expect("a new run");
                for (cases, keep) in files {
                    tx.begin_file()?;
                    for c in cases {
                        tx.add_test_entry(seq, &c.as_entry())?;
                    }
                    tx.end_file(*keep)?;
                }
                Ok(())
            })
            .expect("write the test results");
    }

    /// What `store` holds for the run `ingest` wrote, through its own read.
    fn stored(store: &mut dyn Store) -> Results {
        let mut out = Results::new();
        store
            .read(&mut |tx| {
                for r in tx.test_results("run")? {
                    out.insert((r.classname, r.name), r.result);
                }
                Ok(())
            })
            .expect("read the test results");
        out
    }

    #[test]
    fn both_stores_keep_what_the_rust_rule_gives() {
        let files = script();
        let want = expected(&files);
        assert!(want.values().any(|r| r.tally.attempts > 3 && r.tally.flaky));

        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("s.db"), Access::ReadWrite).unwrap();
        ingest(&mut store, &files);
        let sqlite = stored(&mut store);
        assert!(sqlite == want, "SQLite differs from the Rust rule");

        crate::store::testing::with_postgres_store(|store| {
            ingest(store, &files);
            let postgres = stored(store);
            assert!(postgres == want, "PostgreSQL differs from the Rust rule");
        });
    }
}
