//! Per-test outcomes over every entry of a report (SPEC §6), exact, in
//! memory bounded independently of the report's size.
//!
//! Every attempt becomes one 128-bit record: a 96-bit keyed hash of the
//! identity (`classname::name`), then the attempt's sequence number and
//! outcome. Sorting records therefore groups each identity's attempts in the
//! order they ran, and each group is folded by the outcome rule
//! ([`super::outcome::Tally`]: the outcome of the last attempt that was not a
//! skip; skipped when every attempt was). Records are appended to a buffer
//! (no lookups on the hot path); a full buffer is sorted and spilled to an
//! anonymous temp file, and the sorted runs are merged at the end. Names are
//! kept only for tests with a failing attempt (those that can be failed or
//! flaky), within a budget of `NAMES_BYTES` bytes.
//!
//! Files are staged: attempts of the file being read are committed when it
//! parsed completely and dropped when it did not, so a broken file never
//! contributes half its tests.

use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufWriter, Write};

use serde::Serialize;

use super::model::{Entry, Outcome, Unlisted};
use super::outcome::Tally;

/// Records held in memory before a sorted run is spilled (16 B each). Two
/// buffers exist while a full one is sorted and written on a helper thread.
const BUFFER_LIMIT: usize = 256 * 1024;
/// Records from which `finish` sorts and merges on two threads.
const PARALLEL_RECORDS: usize = 64 * 1024;
/// Sorted runs kept side by side before they are merged into one, so a
/// report of any size needs a bounded number of open files.
const RUNS_LIMIT: usize = 64;
/// Bytes of failing tests' names (and their share of bookkeeping) kept for
/// the summary's lists: a budget in bytes, not a count, so long names cannot
/// make memory grow with the report.
pub const NAMES_BYTES: usize = 8 << 20;
/// Bookkeeping counted per kept name (map slot, boxes, list entry).
const NAME_OVERHEAD: usize = 96;
/// Failing tests whose message is kept for the report (the store keeps all).
const MESSAGES_LIMIT: usize = 1000;
/// Bytes of each kept message.
const MESSAGE_BYTES: usize = 512;
/// Attempts numbered per run: the sequence number has 30 bits.
const MAX_SEQ: u64 = (1 << 30) - 1;

/// The identity part of a record: its top 96 bits.
const KEY_MASK: u128 = !0u128 << 32;

/// Passes a record's key (already uniformly random) through as the hash.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = (n >> 64) as u64;
    }
}

type Map<V> = HashMap<u128, V, BuildHasherDefault<PassThrough>>;

fn code(o: Outcome) -> u128 {
    match o {
        Outcome::Passed => 0,
        Outcome::Failed => 1,
        Outcome::Errored => 2,
        Outcome::Skipped => 3,
    }
}

fn outcome(c: u128) -> Outcome {
    match c & 3 {
        0 => Outcome::Passed,
        1 => Outcome::Failed,
        2 => Outcome::Errored,
        _ => Outcome::Skipped,
    }
}

/// One identity's attempts, folded in the order they ran by the outcome rule.
#[derive(Clone, Copy, Debug)]
struct Acc {
    key: u128,
    tally: Tally,
}

impl Acc {
    fn new(key: u128) -> Acc {
        Acc {
            key,
            tally: Tally::EMPTY,
        }
    }

    /// Records arrive sorted, so attempts arrive in the order they ran.
    fn push(&mut self, record: u128) {
        self.tally.push(outcome(record));
    }
}

/// A test that both failed and passed inside one report. Serialized with
/// `classname` and `name` beside `id`, read from `id` (one string per test).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlakyTest {
    /// `classname::name`.
    pub id: String,
    /// Length of the classname within `id`.
    pub classname_len: usize,
    pub attempts: u32,
    pub failures: u32,
    pub evidence: &'static str,
}

impl FlakyTest {
    pub fn classname(&self) -> &str {
        self.id.get(..self.classname_len).unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.id.get(self.classname_len + 2..).unwrap_or_default()
    }
}

impl Serialize for FlakyTest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("FlakyTest", 6)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("classname", self.classname())?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("attempts", &self.attempts)?;
        st.serialize_field("failures", &self.failures)?;
        st.serialize_field("evidence", self.evidence)?;
        st.end()
    }
}

/// A test whose final outcome is failed or errored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedTest {
    pub id: String,
    pub outcome: Outcome,
    pub attempts: u32,
    pub message: Option<String>,
}

/// The counts of SPEC §4's `junit` JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub tests: u64,
    pub runs: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    /// Tests that failed, then passed on a retry (exact; `flaky` may list
    /// fewer when `names_incomplete`).
    pub flaky_count: u64,
    pub flaky: Vec<FlakyTest>,
    pub failures: Vec<FailedTest>,
    /// The failing tests' names outgrew `NAMES_BYTES`: the lists are
    /// incomplete (counts are exact).
    pub names_incomplete: bool,
}

/// What the report says about a failing test, for the summary's lists.
struct Names {
    /// `classname::name`.
    id: Box<str>,
    /// Length of the classname within `id`.
    classname_len: usize,
    message: Option<Box<str>>,
}

pub struct Aggregator {
    /// Random per process, so crafted names cannot collide on purpose.
    seed: u64,
    scratch: Vec<u8>,
    messages: usize,
    seq: u64,
    runs: u64,
    staged_runs: u64,
    /// Records in memory: committed before `file_start`, staged after.
    buffer: Vec<u128>,
    file_start: usize,
    spilled: Vec<Run>,
    staged_spills: Vec<Run>,
    /// The full buffer being sorted and written on a helper thread.
    pending: Option<Pending>,
    /// An emptied buffer to fill next (its capacity reused).
    spare: Vec<u128>,
    names: Map<Names>,
    /// Bytes of `names`, counted against `NAMES_BYTES`.
    names_bytes: usize,
    names_incomplete: bool,
    buffer_limit: usize,
    /// Tests suites declared without listing them: committed, and of the
    /// file being read.
    unlisted: Unlisted,
    staged_unlisted: Unlisted,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::with_limit(BUFFER_LIMIT)
    }
}

impl Aggregator {
    fn with_limit(buffer_limit: usize) -> Self {
        Aggregator {
            seed: {
                use std::hash::BuildHasher;
                std::collections::hash_map::RandomState::new().hash_one(0u8)
            },
            scratch: Vec::new(),
            messages: 0,
            seq: 0,
            runs: 0,
            staged_runs: 0,
            buffer: Vec::new(),
            file_start: 0,
            spilled: Vec::new(),
            staged_spills: Vec::new(),
            pending: None,
            spare: Vec::new(),
            names: Map::default(),
            names_bytes: 0,
            names_incomplete: false,
            buffer_limit,
            unlisted: Unlisted::default(),
            staged_unlisted: Unlisted::default(),
        }
    }

    /// The identity's 96-bit keyed hash, in a record's top bits.
    fn key(&mut self, classname: &str, name: &str) -> u128 {
        self.scratch.clear();
        self.scratch.extend_from_slice(classname.as_bytes());
        self.scratch.push(0xFF); // never in UTF-8: `a::b`+`c` ≠ `a`+`b::c`
        self.scratch.extend_from_slice(name.as_bytes());
        xxhash_rust::xxh3::xxh3_128_with_seed(&self.scratch, self.seed) & KEY_MASK
    }

    /// A test without a name is its own identity: entries without a name
    /// are not attempts of each other. The entry's first sequence number
    /// (unique in the run) makes its key; the `0xFE` after the separator
    /// never starts a UTF-8 name, so no named test shares it.
    fn unnamed_key(&mut self, classname: &str) -> u128 {
        self.scratch.clear();
        self.scratch.extend_from_slice(classname.as_bytes());
        self.scratch.extend_from_slice(&[0xFF, 0xFE]);
        self.scratch
            .extend_from_slice(&(self.seq + 1).to_le_bytes());
        xxhash_rust::xxh3::xxh3_128_with_seed(&self.scratch, self.seed) & KEY_MASK
    }

    /// Adds one `<testcase>` entry of the file being read.
    pub fn add(&mut self, e: &Entry<'_>) -> std::io::Result<()> {
        if self.seq + e.attempts.len() as u64 > MAX_SEQ {
            return Err(std::io::Error::other(format!(
                "more than {MAX_SEQ} test attempts in one run: split the reports over several `dorameter junit` calls"
            )));
        }
        let key = if e.name.is_empty() {
            self.unnamed_key(e.classname)
        } else {
            self.key(e.classname, e.name)
        };
        let mut failing = false;
        for &a in e.attempts {
            self.seq += 1;
            failing |= a.is_failure();
            self.buffer.push(key | u128::from(self.seq) << 2 | code(a));
        }
        self.staged_runs += e.attempts.len() as u64;
        if failing {
            self.remember(key, e);
        }
        if self.buffer.len() >= self.buffer_limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the buffer out as sorted runs — the committed part and the
    /// staged part separately, so a rollback can still drop the latter — on a
    /// helper thread while the next buffer fills. At most one spill is in
    /// flight.
    fn spill(&mut self) -> std::io::Result<()> {
        self.join_pending()?;
        let next = std::mem::take(&mut self.spare);
        let buffer = std::mem::replace(&mut self.buffer, next);
        let split = std::mem::take(&mut self.file_start);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("junit-spill".into())
            .spawn(move || {
                let mut buffer = buffer;
                let result = write_runs(&mut buffer, split);
                buffer.clear();
                // The receiver waits for this; it only goes away on an earlier error.
                let _ = tx.send((buffer, result));
            })
            .map_err(|e| std::io::Error::other(format!("cannot start a thread: {e}")))?;
        self.pending = Some(Pending(rx));
        Ok(())
    }

    /// Waits for the spill in flight and files its runs.
    fn join_pending(&mut self) -> std::io::Result<()> {
        let Some(Pending(rx)) = self.pending.take() else {
            return Ok(());
        };
        let (buffer, result) = rx
            .recv()
            .map_err(|_| std::io::Error::other("the thread sorting test results stopped"))?;
        self.spare = buffer;
        let (committed, staged) = result?;
        self.spilled.extend(committed);
        self.staged_spills.extend(staged);
        compact(&mut self.spilled)?;
        compact(&mut self.staged_spills)
    }

    fn remember(&mut self, key: u128, e: &Entry<'_>) {
        // Messages for the summary are a bounded sample; the store keeps every one.
        let message = match e.message {
            Some(m) if self.messages < MESSAGES_LIMIT => {
                let mut m = m.to_string();
                if m.len() > MESSAGE_BYTES {
                    let mut cut = MESSAGE_BYTES;
                    while !m.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    m.truncate(cut);
                    m.push('…');
                }
                Some(m.into_boxed_str())
            }
            _ => None,
        };
        let message_bytes = message.as_deref().map_or(0, str::len);
        if let Some(n) = self.names.get_mut(&key) {
            if message.is_some() && n.message.is_none() {
                self.messages += 1;
                self.names_bytes += message_bytes;
                n.message = message;
            }
            return;
        }
        let cost = NAME_OVERHEAD + e.classname.len() + 2 + e.name.len() + message_bytes;
        if self.names_bytes + cost <= NAMES_BYTES {
            self.names_bytes += cost;
            self.messages += usize::from(message.is_some());
            self.names.insert(
                key,
                Names {
                    id: format!("{}::{}", e.classname, e.name).into_boxed_str(),
                    classname_len: e.classname.len(),
                    message,
                },
            );
        } else {
            self.names_incomplete = true;
        }
    }

    /// Tests the file's suites declare without listing them
    /// ([`crate::junit::FileStats::unlisted`]): counted as tests and runs,
    /// without names.
    pub fn add_unlisted(&mut self, u: &Unlisted) {
        self.staged_unlisted.add(u);
    }

    /// The file parsed completely: its entries count.
    pub fn commit_file(&mut self) -> std::io::Result<()> {
        self.join_pending()?;
        self.runs += self.staged_runs;
        self.staged_runs = 0;
        let staged = std::mem::take(&mut self.staged_unlisted);
        self.unlisted.add(&staged);
        self.spilled.append(&mut self.staged_spills);
        self.file_start = self.buffer.len();
        compact(&mut self.spilled)
    }

    /// The file failed to parse: forget everything it added.
    pub fn rollback_file(&mut self) -> std::io::Result<()> {
        self.join_pending()?;
        self.buffer.truncate(self.file_start);
        self.staged_spills.clear();
        self.staged_runs = 0;
        self.staged_unlisted = Unlisted::default();
        Ok(())
    }

    /// Every identity's final state, merged. The key space is folded in two
    /// halves (by the key's top bit) side by side: each sorted run holds each
    /// half contiguously.
    pub fn finish(mut self) -> std::io::Result<Summary> {
        self.rollback_file()?;
        let runs = std::mem::take(&mut self.spilled);
        // The last buffer: its halves sorted side by side, merged as two runs.
        let mut first = std::mem::take(&mut self.buffer);
        let mut second = first.split_off(first.len() / 2);
        // Helper threads pay off for big reports only (and a fuzzer feeding
        // thousands of tiny inputs should not start thousands of threads).
        let parallel = !runs.is_empty() || first.len() + second.len() >= PARALLEL_RECORDS;
        let sorted_aside = parallel
            && std::thread::scope(|scope| {
                let helper =
                    std::thread::Builder::new().spawn_scoped(scope, || second.sort_unstable());
                first.sort_unstable();
                helper.is_ok()
            });
        if !sorted_aside {
            first.sort_unstable();
            second.sort_unstable();
        }
        let (low_names, high_names): (Map<Names>, Map<Names>) = std::mem::take(&mut self.names)
            .into_iter()
            .partition(|(key, _)| in_low_half(*key));
        // Each sorted run holds the low half of the key space, then the high.
        let readers = |high: bool| -> Vec<RunReader<'_>> {
            let mut readers: Vec<RunReader<'_>> = runs
                .iter()
                .map(|r| match high {
                    false => r.reader(0, r.low),
                    true => r.reader(r.low, r.records),
                })
                .collect();
            for memory in [&first, &second] {
                let (low, rest) = memory.split_at(memory.partition_point(|r| in_low_half(*r)));
                readers.push(RunReader::memory(if high { rest } else { low }));
            }
            readers
        };
        let (low, high) = if parallel {
            std::thread::scope(|scope| {
                let helper = std::thread::Builder::new()
                    .spawn_scoped(scope, || fold_half(readers(false), low_names));
                let high = fold_half(readers(true), high_names);
                let low = match helper {
                    Ok(h) => h.join().unwrap_or_else(|_| {
                        Err(std::io::Error::other(
                            "the thread merging test results stopped",
                        ))
                    }),
                    Err(e) => Err(e),
                };
                (low, high)
            })
        } else {
            (
                fold_half(readers(false), low_names),
                fold_half(readers(true), high_names),
            )
        };
        let (mut summary, high) = (low?, high?);
        let u = &self.unlisted;
        summary.runs = self.runs.saturating_add(u.tests());
        summary.names_incomplete = self.names_incomplete;
        summary.tests += high.tests;
        summary.passed += high.passed;
        summary.failed += high.failed;
        summary.errored += high.errored;
        summary.skipped += high.skipped;
        summary.tests = summary.tests.saturating_add(u.tests());
        summary.passed = summary.passed.saturating_add(u.passed);
        summary.failed = summary.failed.saturating_add(u.failed);
        summary.errored = summary.errored.saturating_add(u.errored);
        summary.skipped = summary.skipped.saturating_add(u.skipped);
        summary.flaky_count += high.flaky_count;
        summary.flaky.extend(high.flaky);
        summary.failures.extend(high.failures);
        // Ids are unique but for tests without a name (`suite::`), which
        // are alike: no stability needed.
        summary.flaky.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        summary.failures.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(summary)
    }
}

/// A record or key in the low half of the key space (top bit clear).
fn in_low_half(record: u128) -> bool {
    record >> 127 == 0
}

/// Counts and lists (not `runs`) of the identities in some sorted runs.
fn fold_half(runs: Vec<RunReader<'_>>, mut names: Map<Names>) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    let mut visit = |acc: Acc| {
        let t = acc.tally;
        summary.tests += 1;
        let out = t.outcome;
        match out {
            Outcome::Passed => summary.passed += 1,
            Outcome::Failed => summary.failed += 1,
            Outcome::Errored => summary.errored += 1,
            Outcome::Skipped => summary.skipped += 1,
        }
        if t.failures == 0 {
            return;
        }
        summary.flaky_count += u64::from(t.flaky);
        let Some(n) = names.remove(&acc.key) else {
            return;
        };
        // At most `MAX_SEQ` attempts per run: the counts fit.
        let attempts = u32::try_from(t.attempts).unwrap_or(u32::MAX);
        let flaky = |id: String| FlakyTest {
            id,
            classname_len: n.classname_len,
            attempts,
            failures: u32::try_from(t.failures).unwrap_or(u32::MAX),
            evidence: "retry",
        };
        let failed = |id: String, message: Option<Box<str>>| FailedTest {
            id,
            outcome: out,
            attempts,
            message: message.map(String::from),
        };
        let id = String::from(n.id);
        match (t.flaky, out.is_failure()) {
            (true, true) => {
                summary.flaky.push(flaky(id.clone()));
                summary.failures.push(failed(id, n.message));
            }
            (true, false) => summary.flaky.push(flaky(id)),
            (false, true) => summary.failures.push(failed(id, n.message)),
            (false, false) => {}
        }
    };
    let mut group: Option<Acc> = None;
    merge_runs(runs, &mut |record: u128| {
        let key = record & KEY_MASK;
        match &mut group {
            Some(acc) if acc.key == key => acc.push(record),
            _ => {
                if let Some(done) = group.take() {
                    visit(done);
                }
                let mut acc = Acc::new(key);
                acc.push(record);
                group = Some(acc);
            }
        }
    })?;
    if let Some(done) = group.take() {
        visit(done);
    }
    Ok(summary)
}

/// A sorted run spilled to an anonymous temp file.
struct Run {
    file: std::fs::File,
    records: u64,
    /// Records in the low half of the key space (they come first).
    low: u64,
}

impl Run {
    /// Reads the records from `from` up to `to` (indexes).
    fn reader(&self, from: u64, to: u64) -> RunReader<'_> {
        RunReader {
            file: Some(&self.file),
            at: from,
            end: to,
            block: Vec::new(),
            memory: &[],
            pos: 0,
        }
    }
}

/// What a helper thread hands back: the emptied buffer, and the sorted runs
/// of its committed and staged parts.
type Spilled = (Vec<u128>, std::io::Result<(Option<Run>, Option<Run>)>);

struct Pending(std::sync::mpsc::Receiver<Spilled>);

/// Sorts and writes `records[..split]` and `records[split..]` as two runs
/// (either absent when empty).
fn write_runs(records: &mut [u128], split: usize) -> std::io::Result<(Option<Run>, Option<Run>)> {
    let (committed, staged) = records.split_at_mut(split);
    let committed = if committed.is_empty() {
        None
    } else {
        Some(write_run(committed)?)
    };
    let staged = if staged.is_empty() {
        None
    } else {
        Some(write_run(staged)?)
    };
    Ok((committed, staged))
}

/// Sorts the records and writes them to an anonymous temp file.
fn write_run(records: &mut [u128]) -> std::io::Result<Run> {
    records.sort_unstable();
    let mut out = RunWriter::new()?;
    for &r in records.iter() {
        out.push(r)?;
    }
    out.finish()
}

/// Writes a sorted run, counting its halves.
struct RunWriter {
    out: BufWriter<std::fs::File>,
    records: u64,
    low: u64,
}

impl RunWriter {
    fn new() -> std::io::Result<RunWriter> {
        Ok(RunWriter {
            out: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            records: 0,
            low: 0,
        })
    }

    fn push(&mut self, record: u128) -> std::io::Result<()> {
        self.records += 1;
        self.low += u64::from(in_low_half(record));
        self.out.write_all(&record.to_le_bytes())
    }

    fn finish(self) -> std::io::Result<Run> {
        Ok(Run {
            file: self.out.into_inner().map_err(|e| e.into_error())?,
            records: self.records,
            low: self.low,
        })
    }
}

/// Merges the runs into one when there are too many to keep open.
fn compact(runs: &mut Vec<Run>) -> std::io::Result<()> {
    if runs.len() < RUNS_LIMIT {
        return Ok(());
    }
    let mut out = RunWriter::new()?;
    let mut result = Ok(());
    merge_runs(
        runs.iter().map(|r| r.reader(0, r.records)).collect(),
        &mut |r| {
            if result.is_ok() {
                result = out.push(r);
            }
        },
    )?;
    result?;
    let merged = out.finish()?;
    runs.clear();
    runs.push(merged);
    Ok(())
}

/// Reads `buf.len()` bytes at `offset` without moving a shared cursor, so two
/// threads can read one run's halves.
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_read(file, buf, offset) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "a spilled run of test results was cut short",
                    ));
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// One sorted run being merged: a range of a spilled file read in blocks,
/// or an in-memory slice.
struct RunReader<'a> {
    file: Option<&'a std::fs::File>,
    /// Next record to read from the file, and the end of the range.
    at: u64,
    end: u64,
    block: Vec<u128>,
    memory: &'a [u128],
    pos: usize,
}

impl<'a> RunReader<'a> {
    fn memory(records: &'a [u128]) -> RunReader<'a> {
        RunReader {
            file: None,
            at: 0,
            end: 0,
            block: Vec::new(),
            memory: records,
            pos: 0,
        }
    }

    fn next(&mut self) -> std::io::Result<Option<u128>> {
        const BLOCK: u64 = 1024;
        let Some(file) = self.file else {
            let record = self.memory.get(self.pos).copied();
            self.pos += 1;
            return Ok(record);
        };
        if self.pos == self.block.len() {
            let n = BLOCK.min(self.end - self.at);
            if n == 0 {
                return Ok(None);
            }
            let mut bytes = [0u8; BLOCK as usize * 16];
            let bytes = &mut bytes[..n as usize * 16];
            read_exact_at(file, bytes, self.at * 16)?;
            self.at += n;
            self.block.clear();
            self.block.extend(
                bytes
                    .chunks_exact(16)
                    .map(|c| u128::from_le_bytes(c.try_into().unwrap_or_default())),
            );
            self.pos = 0;
        }
        self.pos += 1;
        Ok(Some(self.block[self.pos - 1]))
    }
}

/// K-way merge of sorted runs, in order.
fn merge_runs(mut runs: Vec<RunReader<'_>>, visit: &mut dyn FnMut(u128)) -> std::io::Result<()> {
    let mut heap = BinaryHeap::with_capacity(runs.len());
    for (i, r) in runs.iter_mut().enumerate() {
        if let Some(record) = r.next()? {
            heap.push(std::cmp::Reverse((record, i)));
        }
    }
    while let Some(mut top) = heap.peek_mut() {
        let std::cmp::Reverse((record, i)) = *top;
        visit(record);
        match runs[i].next()? {
            Some(next) => *top = std::cmp::Reverse((next, i)),
            None => {
                std::collections::binary_heap::PeekMut::pop(top);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    fn entry<'a>(c: &'a str, n: &'a str, attempts: &'a [Outcome]) -> Entry<'a> {
        Entry {
            classname: c,
            name: n,
            attempts,
            time_text: None,
            message: None,

            ..Entry::default()
        }
    }

    fn feed(agg: &mut Aggregator, entries: &[(&str, &str, &[Outcome])]) {
        for (c, n, a) in entries {
            agg.add(&entry(c, n, a)).unwrap();
        }
    }

    const SCRIPT: &[(&str, &str, &[Outcome])] = &[
        ("c", "pass", &[Passed]),
        ("c", "rerun_then_pass", &[Failed]),
        ("c", "skip", &[Skipped]),
        ("c", "rerun_then_pass", &[Passed]),
        ("c", "always_fails", &[Failed, Errored]),
        ("c", "pass_then_fail", &[Passed]),
        ("c", "pass_then_fail", &[Failed]),
        ("c", "skip_after_fail", &[Failed]),
        ("c", "skip_after_fail", &[Skipped]),
        ("c", "surefire_flaky", &[Failed, Errored, Passed]),
    ];

    fn check(s: &Summary) {
        assert_eq!(
            (s.tests, s.runs, s.passed, s.failed, s.errored, s.skipped),
            (7, 13, 3, 2, 1, 1),
            "{s:?}"
        );
        // pass_then_fail failed and is not flaky: no pass came after a failure.
        let flaky: Vec<_> = s
            .flaky
            .iter()
            .map(|f| (f.id.as_str(), f.attempts, f.failures))
            .collect();
        assert_eq!(
            flaky,
            [("c::rerun_then_pass", 2, 1), ("c::surefire_flaky", 3, 2)]
        );
        let failed: Vec<_> = s
            .failures
            .iter()
            .map(|f| (f.id.as_str(), f.outcome))
            .collect();
        assert_eq!(
            failed,
            [
                ("c::always_fails", Errored),
                ("c::pass_then_fail", Failed),
                ("c::skip_after_fail", Failed)
            ]
        );
    }

    #[test]
    fn outcome_rules() {
        let mut agg = Aggregator::default();
        feed(&mut agg, SCRIPT);
        agg.commit_file().unwrap();
        check(&agg.finish().unwrap());
    }

    #[test]
    fn spilling_gives_the_same_answer() {
        let mut agg = Aggregator::with_limit(2);
        for chunk in SCRIPT.chunks(3) {
            feed(&mut agg, chunk);
            agg.commit_file().unwrap();
        }
        assert!(!agg.spilled.is_empty());
        check(&agg.finish().unwrap());
    }

    #[test]
    fn a_rolled_back_file_contributes_nothing() {
        let mut agg = Aggregator::with_limit(2);
        feed(&mut agg, SCRIPT);
        agg.commit_file().unwrap();
        feed(
            &mut agg,
            &[
                ("c", "pass", &[Failed]),
                ("x", "new", &[Passed]),
                ("y", "new", &[Passed]),
            ],
        );
        agg.rollback_file().unwrap();
        check(&agg.finish().unwrap());
    }

    #[test]
    fn many_runs_are_compacted_with_the_same_answer() {
        let mut names = Vec::new();
        for i in 0..300 {
            names.push(format!("t{}", i % 170));
        }
        let outcomes = [Passed, Failed, Skipped, Errored, Passed];
        let mut whole = Aggregator::default();
        let mut small = Aggregator::with_limit(3);
        for (i, n) in names.iter().enumerate() {
            let attempts = &outcomes[i % 3..i % 3 + 1 + i % 2];
            for agg in [&mut whole, &mut small] {
                agg.add(&entry("c", n, attempts)).unwrap();
                if i % 7 == 0 {
                    agg.commit_file().unwrap();
                }
            }
            assert!(small.spilled.len() < RUNS_LIMIT && small.staged_spills.len() < RUNS_LIMIT);
        }
        whole.commit_file().unwrap();
        small.commit_file().unwrap();
        let (a, b) = (whole.finish().unwrap(), small.finish().unwrap());
        assert_eq!(a, b);
        assert_eq!(a.tests, 170);
        assert!(a.flaky.len() > 10 && a.failures.len() > 10, "{a:?}");
    }

    /// Issue 10 item 7: entries without a name are not attempts of each
    /// other, whether in one buffer, across spills or across files; a
    /// named test beside them keeps its identity.
    #[test]
    fn tests_without_a_name_are_each_their_own_test() {
        for limit in [BUFFER_LIMIT, 2] {
            let mut agg = Aggregator::with_limit(limit);
            feed(
                &mut agg,
                &[
                    ("s", "", &[Passed]),
                    ("s", "", &[Skipped]),
                    ("s", "", &[Failed]),
                    ("s", "", &[Errored]),
                    ("s", "named", &[Failed]),
                ],
            );
            agg.commit_file().unwrap();
            feed(
                &mut agg,
                &[("s", "", &[Failed, Passed]), ("s", "named", &[Passed])],
            );
            agg.commit_file().unwrap();
            let s = agg.finish().unwrap();
            assert_eq!(
                (s.tests, s.runs, s.passed, s.failed, s.errored, s.skipped),
                (6, 8, 3, 1, 1, 1),
                "{s:?}"
            );
            let flaky: Vec<_> = s
                .flaky
                .iter()
                .map(|f| (f.id.as_str(), f.attempts))
                .collect();
            assert_eq!(flaky, [("s::", 2), ("s::named", 2)], "{s:?}");
        }
    }

    #[test]
    fn unlisted_tests_count_once_and_only_for_committed_files() {
        let unlisted = Unlisted {
            passed: 3,
            failed: 1,
            errored: 0,
            skipped: 2,
        };
        let mut agg = Aggregator::default();
        feed(&mut agg, &[("c", "a", &[Passed])]);
        agg.add_unlisted(&unlisted);
        agg.commit_file().unwrap();
        agg.add_unlisted(&unlisted);
        agg.rollback_file().unwrap();
        let s = agg.finish().unwrap();
        assert_eq!(
            (s.tests, s.runs, s.passed, s.failed, s.errored, s.skipped),
            (7, 7, 4, 1, 0, 2),
            "{s:?}"
        );
        assert!(s.failures.is_empty(), "no names to list: {s:?}");
    }

    #[test]
    fn too_many_attempts_is_an_error_not_a_wrap() {
        let mut agg = Aggregator {
            seq: MAX_SEQ - 1,
            ..Aggregator::default()
        };
        agg.add(&entry("c", "a", &[Passed])).unwrap();
        let e = agg.add(&entry("c", "b", &[Passed])).unwrap_err();
        assert!(e.to_string().contains("split the reports"), "{e}");
    }
}
