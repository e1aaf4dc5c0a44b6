//! Per-test outcomes over every entry of a report (SPEC §6), exact, in
//! memory bounded independently of the report's size.
//!
//! Each identity (`classname::name`) keeps a compact state keyed by a 128-bit
//! keyed hash. The rule that decides a test's outcome — the outcome of its
//! last attempt that was not a skip; skipped when every attempt was — is
//! order-independent given the attempts' sequence numbers, so a map that
//! grows past its limit is spilled, sorted, to an anonymous temp file and the
//! runs are merged at the end. Names are kept only for tests with a failing
//! attempt (those that can be failed or flaky), up to `NAMES_LIMIT`.
//!
//! Files are staged: entries of the file being read are committed when it
//! parsed completely and dropped when it did not, so a broken file never
//! contributes half its tests.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use serde::Serialize;

use super::model::{Entry, Outcome};

/// Identities held in one in-memory map before it is spilled (~60 B each).
const MAP_LIMIT: usize = 64 * 1024;
/// Failing tests whose names are kept for the report.
pub const NAMES_LIMIT: usize = 100_000;
/// Failing tests whose message is kept for the report (the store keeps all).
const MESSAGES_LIMIT: usize = 1000;
/// Bytes of each kept message.
const MESSAGE_BYTES: usize = 512;

/// A 128-bit keyed hash of `classname`, a separator and `name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key([u64; 2]);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already uniformly random: no need to hash it again.
        state.write_u64(self.0[0]);
    }
}

/// Passes a `Key`'s first word through as the hash.
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
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map<V> = HashMap<Key, V, BuildHasherDefault<PassThrough>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Acc {
    /// Sequence number of the last non-skip attempt; 0 when there was none.
    last_seq: u64,
    /// Sequence number of the first failed attempt; `u64::MAX` when none.
    first_failure_seq: u64,
    /// Sequence number of the last passed attempt; 0 when none.
    last_pass_seq: u64,
    attempts: u32,
    failures: u32,
    passes: u32,
    /// Outcome of that last non-skip attempt.
    last: u8,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            last_seq: 0,
            first_failure_seq: u64::MAX,
            last_pass_seq: 0,
            attempts: 0,
            failures: 0,
            passes: 0,
            last: 0,
        }
    }
}

const RECORD: usize = 16 + 8 + 8 + 8 + 4 + 4 + 4 + 1;

fn code(o: Outcome) -> u8 {
    match o {
        Outcome::Passed => 0,
        Outcome::Failed => 1,
        Outcome::Errored => 2,
        Outcome::Skipped => 3,
    }
}

fn outcome(c: u8) -> Outcome {
    match c {
        0 => Outcome::Passed,
        1 => Outcome::Failed,
        2 => Outcome::Errored,
        _ => Outcome::Skipped,
    }
}

impl Acc {
    fn merge(&mut self, other: &Acc) {
        self.attempts += other.attempts;
        self.failures += other.failures;
        self.passes += other.passes;
        self.first_failure_seq = self.first_failure_seq.min(other.first_failure_seq);
        self.last_pass_seq = self.last_pass_seq.max(other.last_pass_seq);
        if other.last_seq > self.last_seq {
            self.last_seq = other.last_seq;
            self.last = other.last;
        }
    }

    fn outcome(&self) -> Outcome {
        if self.last_seq == 0 {
            Outcome::Skipped
        } else {
            outcome(self.last)
        }
    }

    /// Failed, then passed (SPEC §6 `retry`). A pass followed by a failure
    /// is not a retry that worked (and is what a genuine name collision looks
    /// like): the test failed.
    fn flaky(&self) -> bool {
        self.last_pass_seq > self.first_failure_seq
    }
}

/// A test that both failed and passed inside one report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlakyTest {
    pub id: String,
    pub classname: String,
    pub name: String,
    pub attempts: u32,
    pub failures: u32,
    pub evidence: &'static str,
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
    pub flaky: Vec<FlakyTest>,
    pub failures: Vec<FailedTest>,
    /// More failing tests than `NAMES_LIMIT`: the lists are incomplete (counts are exact).
    pub names_incomplete: bool,
}

struct Names {
    classname: Box<str>,
    name: Box<str>,
    message: Option<Box<str>>,
}

pub struct Aggregator {
    /// Random per process, so crafted names cannot collide on purpose.
    seed: u64,
    scratch: Vec<u8>,
    spill_buf: Vec<(Key, Acc)>,
    messages: usize,
    seq: u64,
    runs: u64,
    staged_runs: u64,
    active: Map<Acc>,
    committed: Map<Acc>,
    spilled: Vec<std::fs::File>,
    staged_spills: Vec<std::fs::File>,
    names: Map<Names>,
    names_incomplete: bool,
    map_limit: usize,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::with_limit(MAP_LIMIT)
    }
}

impl Aggregator {
    fn with_limit(map_limit: usize) -> Self {
        Aggregator {
            seed: {
                use std::hash::BuildHasher;
                std::collections::hash_map::RandomState::new().hash_one(0u8)
            },
            scratch: Vec::new(),
            spill_buf: Vec::new(),
            messages: 0,
            seq: 0,
            runs: 0,
            staged_runs: 0,
            active: Map::default(),
            committed: Map::default(),
            spilled: Vec::new(),
            staged_spills: Vec::new(),
            names: Map::default(),
            names_incomplete: false,
            map_limit,
        }
    }

    fn key(&mut self, classname: &str, name: &str) -> Key {
        self.scratch.clear();
        self.scratch.extend_from_slice(classname.as_bytes());
        self.scratch.push(0xFF); // never in UTF-8: `a::b`+`c` ≠ `a`+`b::c`
        self.scratch.extend_from_slice(name.as_bytes());
        let h = xxhash_rust::xxh3::xxh3_128_with_seed(&self.scratch, self.seed);
        Key([h as u64, (h >> 64) as u64])
    }

    /// Adds one `<testcase>` entry of the file being read.
    pub fn add(&mut self, e: &Entry<'_>) -> std::io::Result<()> {
        let key = self.key(e.classname, e.name);
        let mut acc = Acc::default();
        for &a in e.attempts {
            self.seq += 1;
            acc.attempts += 1;
            match a {
                Outcome::Passed => {
                    acc.passes += 1;
                    acc.last_pass_seq = self.seq;
                }
                Outcome::Failed | Outcome::Errored => {
                    acc.failures += 1;
                    acc.first_failure_seq = acc.first_failure_seq.min(self.seq);
                }
                Outcome::Skipped => continue,
            }
            acc.last_seq = self.seq;
            acc.last = code(a);
        }
        self.staged_runs += u64::from(acc.attempts);
        if acc.failures > 0 {
            self.remember(key, e);
        }
        match self.active.entry(key) {
            MapEntry::Occupied(mut o) => o.get_mut().merge(&acc),
            MapEntry::Vacant(v) => {
                v.insert(acc);
            }
        }
        if self.active.len() >= self.map_limit {
            let run = spill(&mut self.active, &mut self.spill_buf)?;
            self.staged_spills.push(run);
        }
        Ok(())
    }

    fn remember(&mut self, key: Key, e: &Entry<'_>) {
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
        if let Some(n) = self.names.get_mut(&key) {
            if message.is_some() && n.message.is_none() {
                self.messages += 1;
                n.message = message;
            }
        } else if self.names.len() < NAMES_LIMIT {
            self.messages += usize::from(message.is_some());
            self.names.insert(
                key,
                Names {
                    classname: e.classname.into(),
                    name: e.name.into(),
                    message,
                },
            );
        } else {
            self.names_incomplete = true;
        }
    }

    /// The file parsed completely: its entries count.
    pub fn commit_file(&mut self) -> std::io::Result<()> {
        self.runs += self.staged_runs;
        self.staged_runs = 0;
        self.spilled.append(&mut self.staged_spills);
        for (k, v) in self.active.drain() {
            match self.committed.entry(k) {
                MapEntry::Occupied(mut o) => o.get_mut().merge(&v),
                MapEntry::Vacant(slot) => {
                    slot.insert(v);
                }
            }
        }
        if self.committed.len() >= self.map_limit {
            let run = spill(&mut self.committed, &mut self.spill_buf)?;
            self.spilled.push(run);
        }
        Ok(())
    }

    /// The file failed to parse: forget everything it added.
    pub fn rollback_file(&mut self) {
        self.active.clear();
        self.staged_spills.clear();
        self.staged_runs = 0;
    }

    /// Every identity's final state, merged.
    pub fn finish(mut self) -> std::io::Result<Summary> {
        self.rollback_file();
        let mut summary = Summary {
            runs: self.runs,
            names_incomplete: self.names_incomplete,
            ..Summary::default()
        };
        let names = std::mem::take(&mut self.names);
        let mut visit = |key: Key, acc: Acc| {
            summary.tests += 1;
            let out = acc.outcome();
            match out {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed => summary.failed += 1,
                Outcome::Errored => summary.errored += 1,
                Outcome::Skipped => summary.skipped += 1,
            }
            let Some(n) = names.get(&key) else { return };
            let id = format!("{}::{}", n.classname, n.name);
            if acc.flaky() {
                summary.flaky.push(FlakyTest {
                    id: id.clone(),
                    classname: n.classname.to_string(),
                    name: n.name.to_string(),
                    attempts: acc.attempts,
                    failures: acc.failures,
                    evidence: "retry",
                });
            }
            if out.is_failure() {
                summary.failures.push(FailedTest {
                    id,
                    outcome: out,
                    attempts: acc.attempts,
                    message: n.message.as_deref().map(str::to_string),
                });
            }
        };
        if self.spilled.is_empty() {
            for (k, v) in self.committed.drain() {
                visit(k, v);
            }
        } else {
            if !self.committed.is_empty() {
                let run = spill(&mut self.committed, &mut self.spill_buf)?;
                self.spilled.push(run);
            }
            merge_runs(std::mem::take(&mut self.spilled), &mut visit)?;
        }
        summary.flaky.sort_by(|a, b| a.id.cmp(&b.id));
        summary.failures.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(summary)
    }
}

/// Writes the map sorted by key to an anonymous temp file and empties it,
/// keeping its capacity (it will fill again) and reusing `buf`.
fn spill(map: &mut Map<Acc>, buf: &mut Vec<(Key, Acc)>) -> std::io::Result<std::fs::File> {
    buf.clear();
    buf.extend(map.drain());
    buf.sort_unstable_by_key(|(k, _)| *k);
    let mut out = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
    for (k, a) in buf.iter() {
        out.write_all(&encode(k, a))?;
    }
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

fn encode(k: &Key, a: &Acc) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[0..8].copy_from_slice(&k.0[0].to_le_bytes());
    r[8..16].copy_from_slice(&k.0[1].to_le_bytes());
    r[16..24].copy_from_slice(&a.last_seq.to_le_bytes());
    r[24..32].copy_from_slice(&a.first_failure_seq.to_le_bytes());
    r[32..40].copy_from_slice(&a.last_pass_seq.to_le_bytes());
    r[40..44].copy_from_slice(&a.attempts.to_le_bytes());
    r[44..48].copy_from_slice(&a.failures.to_le_bytes());
    r[48..52].copy_from_slice(&a.passes.to_le_bytes());
    r[52] = a.last;
    r
}

fn decode(r: &[u8; RECORD]) -> (Key, Acc) {
    let u64_at = |i: usize| u64::from_le_bytes(r[i..i + 8].try_into().unwrap_or_default());
    let u32_at = |i: usize| u32::from_le_bytes(r[i..i + 4].try_into().unwrap_or_default());
    (
        Key([u64_at(0), u64_at(8)]),
        Acc {
            last_seq: u64_at(16),
            first_failure_seq: u64_at(24),
            last_pass_seq: u64_at(32),
            attempts: u32_at(40),
            failures: u32_at(44),
            passes: u32_at(48),
            last: r[52],
        },
    )
}

fn next_record(r: &mut BufReader<std::fs::File>) -> std::io::Result<Option<(Key, Acc)>> {
    let mut rec = [0u8; RECORD];
    match r.read_exact(&mut rec) {
        Ok(()) => Ok(Some(decode(&rec))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// K-way merge of sorted runs, combining equal keys.
fn merge_runs(runs: Vec<std::fs::File>, visit: &mut dyn FnMut(Key, Acc)) -> std::io::Result<()> {
    let mut readers: Vec<BufReader<std::fs::File>> = runs
        .into_iter()
        .map(|f| BufReader::with_capacity(8 << 10, f))
        .collect();
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some((k, a)) = next_record(r)? {
            heap.push(std::cmp::Reverse((k, i, HeapAcc(a))));
        }
    }
    let mut current: Option<(Key, Acc)> = None;
    while let Some(std::cmp::Reverse((k, i, HeapAcc(a)))) = heap.pop() {
        match &mut current {
            Some((ck, ca)) if *ck == k => ca.merge(&a),
            _ => {
                if let Some((ck, ca)) = current.take() {
                    visit(ck, ca);
                }
                current = Some((k, a));
            }
        }
        if let Some((nk, na)) = next_record(&mut readers[i])? {
            heap.push(std::cmp::Reverse((nk, i, HeapAcc(na))));
        }
    }
    if let Some((ck, ca)) = current {
        visit(ck, ca);
    }
    Ok(())
}

/// Orders heap entries by key and run only.
#[derive(Clone, Copy, Debug)]
struct HeapAcc(Acc);
impl PartialEq for HeapAcc {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for HeapAcc {}
impl PartialOrd for HeapAcc {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapAcc {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
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
            time: None,
            message: None,
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
        agg.rollback_file();
        check(&agg.finish().unwrap());
    }
}
