//! `store copy`: every event of one store written into another (SPEC §8:
//! the git store's history moved to PostgreSQL when a team outgrows it, or
//! any store to any other).
//!
//! - Everything goes through the destination's ordinary `WriteTx` calls, so
//!   its rules apply as if the events were recorded there: a deployment or a
//!   test run it already holds is left as it is (inserts by id), an incident
//!   takes the source's values (upsert by id, as `incident` does). Copying
//!   twice copies nothing the second time.
//! - Deployments go in timeline order (finished_at, then insertion order),
//!   so each commit's lead-time sample stays with the first deployment that
//!   shipped it, and ties keep their order.
//! - A test run's stored results go in as one entry per test whose attempts
//!   give back the same row ([`TestResult::replay`]), so the destination's
//!   merge rule stores exactly what the source holds.
//! - Writes go in batches of [`BATCH`] events, one transaction each, so a
//!   shared PostgreSQL store is never locked for the whole copy and a copy
//!   cut short keeps what it wrote (run it again to finish). Into a git
//!   store, where each write is a commit and a push, everything is one write:
//!   one commit on the ref.

use serde::Serialize;

use crate::event::{Deployment, Incident, TestRun};
use crate::store::{ReadTx, SourcesState, Store, StoreError, StoreUrl, StoredResult, WriteTx};
use crate::{Error, Result};

/// Events per write transaction (not for a git destination: one write).
pub const BATCH: usize = 500;

/// Deployments or incidents read from the source per read transaction.
const READ_BATCH: usize = 200;

/// Which stores, already checked: not the same one twice; the source exists.
#[derive(Debug)]
pub struct CopyRequest {
    pub from: StoreUrl,
    pub to: StoreUrl,
}

/// Checks the two stores a copy names. Copying a store into itself is a
/// usage error; a SQLite source that does not exist is no input (exit 4)
/// rather than an empty store read as nothing to copy.
pub fn request(from: StoreUrl, to: StoreUrl) -> Result<CopyRequest> {
    if from.same_store(&to) {
        return Err(Error::usage_hint(
            format!("--from and --to name the same store: {from}"),
            "give --to another store: a postgres:// URL, another sqlite:PATH or git:REMOTE#REF with another ref",
        ));
    }
    if let StoreUrl::Sqlite(path) = &from {
        if !path.is_file() {
            return Err(Error::NoInput {
                message: format!(
                    "no SQLite store to copy from at {} (--from)",
                    path.display()
                ),
                hint: Some("check the path in --from sqlite:PATH; the default store is .dorameter/dorameter.db at the repository root".into()),
            });
        }
    }
    Ok(CopyRequest { from, to })
}

/// Events per write into `to`: everything at once into a git store (each
/// write there is one commit and one push), [`BATCH`] elsewhere.
pub fn batch_size(to: &StoreUrl) -> usize {
    match to {
        StoreUrl::Git(_) => usize::MAX,
        StoreUrl::Sqlite(_) | StoreUrl::Postgres(_) => BATCH,
    }
}

/// The ids of every event the source holds, in the order they are copied.
#[derive(Debug, Default)]
pub struct Plan {
    pub deployments: Vec<String>,
    pub incidents: Vec<String>,
    pub test_runs: Vec<String>,
}

impl Plan {
    pub fn total(&self) -> usize {
        self.deployments.len() + self.incidents.len() + self.test_runs.len()
    }
}

/// Lists the source's events (one read). An empty source is no input:
/// there is nothing to copy, and the URL is likely not the one meant.
pub fn plan(from: &mut dyn Store) -> Result<Plan> {
    let mut plan = Plan::default();
    from.read(&mut |tx| {
        plan = Plan {
            deployments: tx.deployment_ids()?,
            incidents: tx.incident_ids()?,
            test_runs: tx.test_run_ids()?,
        };
        Ok(())
    })?;
    if plan.total() == 0 {
        return Err(Error::NoInput {
            message: format!("the store {} holds no events to copy", from.describe()),
            hint: Some(
                "check --from: the file, database or ref the events were recorded in".into(),
            ),
        });
    }
    Ok(plan)
}

/// What copying did with one kind of event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Written into the destination (for incidents: also one it held with
    /// other values, now the source's).
    pub copied: u64,
    /// The destination held it already, the same.
    pub existing: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.copied += other.copied;
        self.existing += other.existing;
    }

    fn count(&mut self, copied: bool) {
        if copied {
            self.copied += 1;
        } else {
            self.existing += 1;
        }
    }
}

/// What a copy did, per kind of event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Copied {
    pub deployments: Counts,
    pub incidents: Counts,
    pub test_runs: Counts,
}

impl Copied {
    fn add(&mut self, other: &Copied) {
        self.deployments.add(other.deployments);
        self.incidents.add(other.incidents);
        self.test_runs.add(other.test_runs);
    }

    pub fn copied(&self) -> u64 {
        self.deployments.copied + self.incidents.copied + self.test_runs.copied
    }

    pub fn existing(&self) -> u64 {
        self.deployments.existing + self.incidents.existing + self.test_runs.existing
    }
}

#[derive(Clone, Copy)]
enum Item<'a> {
    Deployment(&'a str),
    Incident(&'a str),
    TestRun(&'a str),
}

/// One event as read from the source.
enum Event {
    Deployment(Deployment),
    Incident(Incident),
    TestRun(TestRun, Vec<StoredResult>),
}

/// Copies every event of `plan` from `from` into `to`, in writes of
/// [`batch_size`] events, calling `progress` once per event.
pub fn copy(
    req: &CopyRequest,
    from: &mut dyn Store,
    to: &mut dyn Store,
    plan: &Plan,
    progress: &dyn Fn(),
) -> Result<Copied> {
    let items: Vec<Item<'_>> = plan
        .deployments
        .iter()
        .map(|id| Item::Deployment(id))
        .chain(plan.incidents.iter().map(|id| Item::Incident(id)))
        .chain(plan.test_runs.iter().map(|id| Item::TestRun(id)))
        .collect();
    let source = from.describe();
    let mut done = Copied::default();
    copy_sources_state(from, to)?;
    for batch in items.chunks(batch_size(&req.to).max(1)) {
        let mut this = Copied::default();
        to.write(&mut |tx| {
            this = Copied::default();
            for group in reads(batch) {
                for event in read(from, group)? {
                    apply(tx, event, &mut this, &source)?;
                    progress();
                }
            }
            Ok(())
        })?;
        done.add(&this);
    }
    Ok(done)
}

/// The import cursors and the cached squash commits, in one write: what
/// the destination lacks (a cursor it keeps is its own, newer one).
fn copy_sources_state(from: &mut dyn Store, to: &mut dyn Store) -> Result<()> {
    let mut state = SourcesState::default();
    from.read(&mut |tx| {
        state = tx.sources_state()?;
        Ok(())
    })?;
    let SourcesState {
        cursors,
        pull_commits: pulls,
    } = state;
    if cursors.is_empty() && pulls.is_empty() {
        return Ok(());
    }
    to.write(&mut |tx| {
        for (source, value) in &cursors {
            if tx.cursor(source)?.is_none() {
                tx.set_cursor(source, value)?;
            }
        }
        let shas: Vec<String> = pulls.iter().map(|p| p.sha.clone()).collect();
        let held: std::collections::HashSet<String> =
            tx.pull_commits(&shas)?.into_iter().map(|p| p.sha).collect();
        for p in pulls.iter().filter(|p| !held.contains(&p.sha)) {
            tx.set_pull_commits(p)?;
        }
        Ok(())
    })
}

/// `batch` cut into the groups read in one transaction each: up to
/// [`READ_BATCH`] deployments or incidents, a test run alone (its results
/// may be many).
fn reads<'b, 'a>(batch: &'b [Item<'a>]) -> Vec<&'b [Item<'a>]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, item) in batch.iter().enumerate() {
        let full = i - start >= READ_BATCH;
        if matches!(item, Item::TestRun(_)) || full {
            if start < i {
                out.push(&batch[start..i]);
            }
            start = i;
        }
        if matches!(item, Item::TestRun(_)) {
            out.push(&batch[i..=i]);
            start = i + 1;
        }
    }
    if start < batch.len() {
        out.push(&batch[start..]);
    }
    out
}

/// Reads the events of `group` in one read transaction. An event the
/// source no longer holds is left out (stores never delete one).
fn read(from: &mut dyn Store, group: &[Item<'_>]) -> Result<Vec<Event>> {
    let mut events = Vec::with_capacity(group.len());
    from.read(&mut |tx: &dyn ReadTx| {
        events.clear();
        for item in group {
            let event = match *item {
                Item::Deployment(id) => tx.deployment(id)?.map(Event::Deployment),
                Item::Incident(id) => tx.incident(id)?.map(Event::Incident),
                Item::TestRun(id) => match tx.test_run(id)? {
                    Some(run) => Some(Event::TestRun(run, tx.test_results(id)?)),
                    None => None,
                },
            };
            events.extend(event);
        }
        Ok(())
    })?;
    Ok(events)
}

/// Writes one event through the destination's ordinary calls.
fn apply(tx: &mut dyn WriteTx, event: Event, done: &mut Copied, source: &str) -> Result<()> {
    match event {
        Event::Deployment(d) => {
            let inserted = tx.insert_deployment(&d)?;
            done.deployments.count(inserted);
        }
        Event::Incident(i) => {
            // Upserting an identical incident would still be a write (a
            // commit on a git store): leave it.
            let same = tx.incident(&i.id)?.is_some_and(|held| held == i);
            if !same {
                tx.upsert_incident(&i)?;
            }
            done.incidents.count(!same);
        }
        Event::TestRun(run, results) => {
            let Some(seq) = tx.insert_test_run(&run)? else {
                done.test_runs.count(false);
                return Ok(());
            };
            tx.begin_file()?;
            for r in &results {
                let entry = r.result.replay(&r.classname, &r.name).ok_or_else(|| {
                    StoreError::Query {
                        context: format!("copy the test run {} from {source}", run.id),
                        source: format!(
                            "the stored result of {}::{} ({} attempts, {} failures, {} passes, {}{}) is not one a JUnit report gives, so it cannot be written elsewhere",
                            r.classname,
                            r.name,
                            r.result.tally.attempts,
                            r.result.tally.failures,
                            r.result.tally.passes,
                            r.result.tally.outcome.as_str(),
                            if r.result.tally.flaky { ", flaky" } else { "" },
                        )
                        .into(),
                    }
                })?;
                tx.add_test_entry(seq, &entry.as_entry())?;
            }
            tx.end_file(true)?;
            tx.update_test_run_counts(seq, &run)?;
            done.test_runs.count(true);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_come_in_groups_with_each_test_run_alone() {
        let ids: Vec<String> = (0..450).map(|i| format!("x{i}")).collect();
        let mut items: Vec<Item<'_>> = ids[..410].iter().map(|s| Item::Deployment(s)).collect();
        items.push(Item::TestRun(&ids[410]));
        items.push(Item::TestRun(&ids[411]));
        items.extend(ids[412..].iter().map(|s| Item::Incident(s)));
        let groups = reads(&items);
        let sizes: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(sizes, [200, 200, 10, 1, 1, 38]);
        assert_eq!(sizes.iter().sum::<usize>(), items.len());
        assert!(reads(&[]).is_empty());
    }

    #[test]
    fn a_store_is_not_copied_into_itself_and_a_missing_file_is_no_input() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        std::fs::write(&db, "").unwrap();
        let url = |p: &std::path::Path| StoreUrl::Sqlite(p.to_path_buf());
        let e = request(url(&db), url(&dir.path().join(".").join("s.db"))).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::USAGE, "{e}");
        let missing = dir.path().join("nope.db");
        let e = request(url(&missing), url(&db)).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::NO_INPUT, "{e}");
        assert!(e.to_string().contains("nope.db"), "{e}");
        assert!(request(url(&db), url(&missing)).is_ok());
        assert_eq!(batch_size(&url(&db)), BATCH);
        assert_eq!(batch_size(&StoreUrl::parse("git").unwrap()), usize::MAX);
    }
}
