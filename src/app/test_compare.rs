//! This pipeline's tests against its base commit's (issue 15): the base's
//! results come from the store — the test runs recorded for the pull or
//! merge request's base commit, else for the merge base or its nearest
//! first-parent ancestor that has some — so no artifact is downloaded.
//! Both sides fold a test's entries by the store's rule
//! ([`TestResult::merge`]), so a test counts alike on each side.

use std::collections::HashMap;

use crate::Result;
use crate::git::Repo;
use crate::junit::{Entry, Outcome, parse_seconds, plainly_below};
use crate::store::{ReadTx, TestResult};

/// Most tests kept per side; a report with more is compared by its counts
/// alone (memory stays bounded).
pub const MAX_TESTS: usize = 500_000;
/// Most first-parent commits walked back from the merge base looking for
/// recorded test runs.
const MAX_BASE_STEPS: usize = 20;
/// Most slow tests listed.
pub const SLOWEST: usize = 5;
/// Most failing tests whose failure text is kept for annotations.
pub const MAX_HINTS: usize = 1000;

/// What a report says about where a failing test failed (its last failing
/// entry's).
#[derive(Clone, Debug, Default)]
pub struct FailureText {
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub line: Option<String>,
    pub message: Option<String>,
    /// The failure's body, its stack trace, when the message came apart.
    pub detail: Option<String>,
}

impl FailureText {
    fn of(e: &Entry<'_>) -> FailureText {
        FailureText {
            classname: e.classname.to_string(),
            name: e.name.to_string(),
            file: e.file.map(str::to_string),
            line: e.line.map(str::to_string),
            message: e.message.map(str::to_string),
            detail: e.detail.map(str::to_string),
        }
    }
}

/// Every named test of one side: its folded result by identity.
#[derive(Debug, Default)]
pub struct TestSet {
    tests: HashMap<String, TestResult>,
    /// More than [`MAX_TESTS`]: `tests` was dropped.
    pub overflow: bool,
}

impl TestSet {
    fn add(&mut self, id: String, r: TestResult) {
        if self.overflow {
            return;
        }
        if let Some(had) = self.tests.get_mut(&id) {
            had.merge(r);
        } else if self.tests.len() >= MAX_TESTS {
            self.overflow = true;
            self.tests = HashMap::new();
        } else {
            self.tests.insert(id, r);
        }
    }

    /// Another run's result of a test: its attempts merge as the store
    /// merges them, but its time is one run's, the longest (a re-run of
    /// the same commit does not make a test slower).
    fn add_run(&mut self, id: String, r: TestResult) {
        match self.tests.get_mut(&id) {
            Some(had) => {
                let longest = match (had.duration, r.duration) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                had.merge(r);
                had.duration = longest;
            }
            None => self.add(id, r),
        }
    }

    pub fn len(&self) -> usize {
        self.tests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }

    /// The [`SLOWEST`] slowest tests, slowest first: identity and seconds.
    pub fn slowest(&self) -> Vec<(String, f64)> {
        let mut s = Slowest::default();
        for (id, r) in &self.tests {
            if let Some(d) = r.duration {
                s.offer(d, || id.clone());
            }
        }
        s.list()
    }

    fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.tests.values() {
            c.tests += 1;
            match r.tally.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed | Outcome::Errored => c.failing += 1,
                Outcome::Skipped => c.skipped += 1,
            }
        }
        c
    }
}

/// The [`SLOWEST`] slowest tests seen, in constant memory. A test's time is
/// the sum of its entries' times, as the store keeps it
/// ([`TestResult::merge`]): an entry of a listed test adds to its time. An
/// identity is built only for a time that makes the list, so entries of a
/// test read before it made the list are not in its time.
#[derive(Debug, Default)]
pub struct Slowest {
    /// Slowest first, at most [`SLOWEST`], each test once.
    top: Vec<(String, f64)>,
}

/// `a` is listed before `b`: slower, or as slow and sorting first.
fn precedes(a: &(String, f64), b: &(String, f64)) -> bool {
    a.1 > b.1 || (a.1 == b.1 && a.0 < b.0)
}

/// `id` is `classname::name`, without building it: first by the length and
/// the last eight bytes ([`tail_key`]), which tell most tests apart at the
/// cost of two comparisons.
fn is_identity(id: &str, key: (usize, u64), classname: &str, name: &str) -> bool {
    id.len() == key.0
        && tail(id.as_bytes()) == key.1
        && id.starts_with(classname)
        && id.ends_with(name)
        && id[classname.len()..].starts_with("::")
}

/// The last eight bytes of `b` (all of a shorter one, zeros before).
fn tail(b: &[u8]) -> u64 {
    match b.last_chunk::<8>() {
        Some(last) => u64::from_le_bytes(*last),
        None => last_eight(b.iter().rev().copied()),
    }
}

/// The last eight of the bytes given backwards, as [`tail`] reads them.
fn last_eight(backwards: impl Iterator<Item = u8>) -> u64 {
    let mut buf = [0u8; 8];
    for (slot, b) in buf.iter_mut().rev().zip(backwards) {
        *slot = b;
    }
    u64::from_le_bytes(buf)
}

/// The length and [`tail`] of `classname::name`, without building it.
fn tail_key(classname: &str, name: &str) -> (usize, u64) {
    let len = classname.len() + 2 + name.len();
    if name.len() >= 8 {
        return (len, tail(name.as_bytes()));
    }
    let backwards = name
        .bytes()
        .rev()
        .chain(*b"::")
        .chain(classname.bytes().rev());
    (len, last_eight(backwards))
}

impl Slowest {
    /// Offers one test's seconds; ties keep the identity that sorts first.
    pub fn offer(&mut self, secs: f64, id: impl FnOnce() -> String) {
        if secs <= 0.0 || !secs.is_finite() {
            return;
        }
        if self.top.len() == SLOWEST && self.top.last().is_some_and(|(_, s)| *s > secs) {
            return;
        }
        let id = id();
        let at = self
            .top
            .iter()
            .position(|(i, s)| *s < secs || (*s == secs && id < *i))
            .unwrap_or(self.top.len());
        self.top.insert(at, (id, secs));
        self.top.truncate(SLOWEST);
    }

    /// Adds `secs` to the time of the listed test at `at`, keeping the order.
    fn add_at(&mut self, mut at: usize, secs: f64) {
        if secs <= 0.0 || !secs.is_finite() {
            return;
        }
        self.top[at].1 += secs;
        while at > 0 && precedes(&self.top[at], &self.top[at - 1]) {
            self.top.swap(at, at - 1);
            at -= 1;
        }
    }

    /// More seconds of a test: added to its time when it is listed, else
    /// offered. A nameless test (`classname::`) is never another's entry.
    pub fn add(&mut self, secs: f64, id: String) {
        let listed = (!id.ends_with("::"))
            .then(|| self.top.iter().position(|(i, _)| *i == id))
            .flatten();
        match listed {
            Some(at) => self.add_at(at, secs),
            None => self.offer(secs, || id),
        }
    }

    /// One entry's `time` as written. It is parsed only when its test is
    /// listed or the time might make the list (most times of a large
    /// report plainly do not).
    #[inline]
    pub fn add_entry(&mut self, e: &Entry<'_>) {
        let Some(text) = e.time_text else {
            return;
        };
        let listed = if e.name.is_empty() {
            None
        } else {
            let key = tail_key(e.classname, e.name);
            self.top
                .iter()
                .position(|(i, _)| is_identity(i, key, e.classname, e.name))
        };
        if let Some(at) = listed {
            if let Some(secs) = parse_seconds(text) {
                self.add_at(at, secs);
            }
            return;
        }
        if self.top.len() == SLOWEST
            && self
                .top
                .last()
                .is_some_and(|(_, s)| plainly_below(text, *s))
        {
            return;
        }
        if let Some(secs) = parse_seconds(text) {
            self.offer(secs, || e.identity());
        }
    }

    pub fn list(self) -> Vec<(String, f64)> {
        self.top
    }
}

/// What is kept of the head's tests as reports are read: the slowest ones
/// always; every named test's result only when asked ([`HeadTests::comparing`]),
/// to compare with the base. Entries of the file being read are held until
/// it ends well ([`HeadTests::end_file`]), as the store does.
#[derive(Debug, Default)]
pub struct HeadTests {
    pub set: TestSet,
    /// Keep every test (a base to compare with).
    keep: bool,
    /// Keep where failing tests failed (annotations), by identity.
    annotate: bool,
    hints: HashMap<String, FailureText>,
    pending_hints: Vec<(String, FailureText)>,
    pending: Vec<(String, TestResult)>,
    slowest: Slowest,
    pending_slow: Slowest,
}

impl HeadTests {
    /// Keeps every named test, to compare with the base.
    pub fn comparing() -> HeadTests {
        HeadTests {
            keep: true,
            ..HeadTests::default()
        }
    }

    /// Also keeps what failing tests' reports say about where they failed
    /// (the first [`MAX_HINTS`] failing tests).
    pub fn annotating(mut self, on: bool) -> HeadTests {
        self.annotate = on;
        self
    }

    pub fn is_annotating(&self) -> bool {
        self.annotate
    }

    /// What the report said about a failing test's failure, by identity.
    pub fn failure_text(&self, id: &str) -> Option<&FailureText> {
        self.hints.get(id)
    }

    /// The slowest tests of the files read whole, slowest first.
    pub fn slowest(&self) -> Vec<(String, f64)> {
        self.slowest.top.clone()
    }

    #[inline]
    pub fn entry(&mut self, e: &Entry<'_>) {
        self.pending_slow.add_entry(e);
        if self.annotate || self.keep {
            self.keep_entry(e);
        }
    }

    /// What a pull request's comparison or annotations keep of an entry.
    #[inline(never)]
    fn keep_entry(&mut self, e: &Entry<'_>) {
        if self.annotate
            && e.attempts.iter().any(|o| o.is_failure())
            && self.hints.len() + self.pending_hints.len() < MAX_HINTS
        {
            self.pending_hints.push((e.identity(), FailureText::of(e)));
        }
        // A nameless test is not kept by the store either: no history.
        if !self.keep || e.name.is_empty() || self.set.overflow {
            return;
        }
        if self.set.tests.len() + self.pending.len() >= MAX_TESTS {
            self.set.overflow = true;
            self.set.tests = HashMap::new();
            self.pending = Vec::new();
            return;
        }
        self.pending.push((e.identity(), TestResult::of(e)));
    }

    pub fn end_file(&mut self, keep: bool) {
        let pending = std::mem::take(&mut self.pending);
        let slow = std::mem::take(&mut self.pending_slow);
        let hints = std::mem::take(&mut self.pending_hints);
        if keep {
            self.hints.extend(hints);
            for (id, r) in pending {
                self.set.add(id, r);
            }
            for (id, secs) in slow.top {
                self.slowest.add(secs, id);
            }
        }
    }
}

/// The stored tests of the service's runs of `sha`, and how many runs;
/// `None` when no run of it is recorded.
pub fn stored_set(tx: &dyn ReadTx, service: &str, sha: &str) -> Result<Option<(TestSet, usize)>> {
    let runs = tx.test_runs_at(service, sha)?;
    if runs.is_empty() {
        return Ok(None);
    }
    let mut set = TestSet::default();
    for id in &runs {
        for r in tx.test_results(id)? {
            set.add_run(format!("{}::{}", r.classname, r.name), r.result);
        }
    }
    Ok(Some((set, runs.len())))
}

/// Which commit the base's results are those of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseFrom {
    /// The commit the CI names as the base.
    Named,
    /// The merge base of the base and head, or its ancestor this many
    /// first-parent commits back.
    MergeBase { back: usize },
}

/// The base's results: the named base commit's runs, else the merge base's,
/// else its nearest first-parent ancestor's (within [`MAX_BASE_STEPS`]).
pub fn find_base(
    tx: &dyn ReadTx,
    service: &str,
    repo: Option<&Repo>,
    base_sha: &str,
    head_sha: Option<&str>,
) -> Result<Option<Base>> {
    if let Some((set, runs)) = stored_set(tx, service, base_sha)? {
        return Ok(Some(Base {
            sha: base_sha.to_string(),
            from: BaseFrom::Named,
            runs,
            set,
        }));
    }
    let (Some(repo), Some(head)) = (repo, head_sha) else {
        return Ok(None);
    };
    let Some(mut sha) = repo.merge_base(base_sha, head) else {
        return Ok(None);
    };
    for back in 0..=MAX_BASE_STEPS {
        if back > 0 || sha != base_sha {
            if let Some((set, runs)) = stored_set(tx, service, &sha)? {
                return Ok(Some(Base {
                    sha,
                    from: BaseFrom::MergeBase { back },
                    runs,
                    set,
                }));
            }
        }
        match repo.parents(&sha).into_iter().next() {
            Some(p) => sha = p,
            None => break,
        }
    }
    Ok(None)
}

#[derive(Debug)]
pub struct Base {
    pub sha: String,
    pub from: BaseFrom,
    /// Test runs recorded for it.
    pub runs: usize,
    pub set: TestSet,
}

/// Tests by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub tests: u64,
    pub passed: u64,
    /// Failed or errored.
    pub failing: u64,
    pub skipped: u64,
}

/// The head against the base.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub base_sha: String,
    /// `named` or `merge_base`.
    pub base_from: &'static str,
    /// First-parent commits between the merge base and the commit used.
    pub base_back: usize,
    pub base_runs: usize,
    pub base: Counts,
    pub head: Counts,
    /// Failing now, not failing at the base (passed, skipped or absent).
    pub newly_failing: Vec<String>,
    /// Failing at the base, passing now.
    pub fixed: Vec<String>,
    /// At the base, not in this pipeline's reports.
    pub removed: Vec<String>,
    /// In this pipeline's reports, not at the base.
    pub added: u64,
}

impl Comparison {
    /// Anything differs from the base.
    pub fn changed(&self) -> bool {
        self.base != self.head
            || !self.newly_failing.is_empty()
            || !self.fixed.is_empty()
            || !self.removed.is_empty()
            || self.added > 0
    }
}

/// Compares two sides; `None` when either side was too large to keep.
pub fn compare(base: &Base, head: &TestSet) -> Option<Comparison> {
    if base.set.overflow || head.overflow {
        return None;
    }
    let failing = |r: &TestResult| r.tally.outcome.is_failure();
    let mut newly_failing = Vec::new();
    let mut fixed = Vec::new();
    let mut added = 0;
    for (id, now) in &head.tests {
        match base.set.tests.get(id) {
            None => {
                added += 1;
                if failing(now) {
                    newly_failing.push(id.clone());
                }
            }
            Some(before) => {
                if failing(now) && !failing(before) {
                    newly_failing.push(id.clone());
                } else if failing(before) && now.tally.outcome == Outcome::Passed {
                    fixed.push(id.clone());
                }
            }
        }
    }
    let mut removed: Vec<String> = base
        .set
        .tests
        .keys()
        .filter(|id| !head.tests.contains_key(*id))
        .cloned()
        .collect();
    newly_failing.sort();
    fixed.sort();
    removed.sort();
    Some(Comparison {
        base_sha: base.sha.clone(),
        base_from: match base.from {
            BaseFrom::Named => "named",
            BaseFrom::MergeBase { .. } => "merge_base",
        },
        base_back: match base.from {
            BaseFrom::Named => 0,
            BaseFrom::MergeBase { back } => back,
        },
        base_runs: base.runs,
        base: base.set.counts(),
        head: head.counts(),
        newly_failing,
        fixed,
        removed,
        added,
    })
}

/// This pipeline's tests against the base's recorded ones; `Err` says why
/// there is nothing to compare.
pub fn against_base(
    tx: &dyn ReadTx,
    service: &str,
    repo: Option<&Repo>,
    base: &str,
    head_sha: Option<&str>,
    head: Option<&TestSet>,
) -> Result<std::result::Result<Comparison, String>> {
    let short: String = base.chars().take(12).collect();
    let Some(head) = head.filter(|h| !h.is_empty() || h.overflow) else {
        return Ok(Err(
            "no tests of this pipeline to compare: pass its reports with --junit, or record them with `dorameter junit` first"
                .into(),
        ));
    };
    let Some(found) = find_base(tx, service, repo, base, head_sha)? else {
        // Only a shallow clone asks again why (its history is short).
        let shallow_without_merge_base = match (repo, head_sha) {
            (Some(r), Some(h)) => r.is_shallow() && r.merge_base(base, h).is_none(),
            _ => false,
        };
        if shallow_without_merge_base {
            return Ok(Err(format!(
                "no test runs of {service} are recorded for the base commit {short}, and this shallow clone cannot find the merge base: fetch more history (actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`)"
            )));
        }
        return Ok(Err(format!(
            "no test runs of {service} are recorded for the base commit {short} or its merge base: record the base branch's tests with `dorameter junit` to compare"
        )));
    };
    Ok(compare(&found, head)
        .ok_or_else(|| format!("more than {MAX_TESTS} tests on one side: not compared")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Outcome::*;

    fn set(tests: &[(&str, &[Outcome], Option<&str>)]) -> TestSet {
        let mut h = HeadTests::comparing();
        for (name, attempts, time) in tests {
            h.entry(&Entry {
                classname: "c",
                name,
                attempts,
                time_text: *time,
                message: None,
                ..Entry::default()
            });
        }
        h.end_file(true);
        h.set
    }

    #[test]
    fn newly_failing_fixed_removed_added() {
        let base = Base {
            sha: "b".into(),
            from: BaseFrom::Named,
            runs: 1,
            set: set(&[
                ("stays", &[Passed], None),
                ("breaks", &[Passed], None),
                ("heals", &[Failed], None),
                ("goes", &[Passed], None),
                ("still_red", &[Errored], None),
                ("was_skipped", &[Skipped], None),
            ]),
        };
        let head = set(&[
            ("stays", &[Passed], Some("0.5")),
            ("breaks", &[Failed], Some("3")),
            ("heals", &[Failed, Passed], Some("1")),
            ("still_red", &[Failed], None),
            ("was_skipped", &[Failed], None),
            ("new_red", &[Errored], None),
            ("new_green", &[Passed], None),
        ]);
        let c = compare(&base, &head).unwrap();
        assert_eq!(
            c.newly_failing,
            ["c::breaks", "c::new_red", "c::was_skipped"]
        );
        assert_eq!(c.fixed, ["c::heals"]);
        assert_eq!(c.removed, ["c::goes"]);
        assert_eq!(c.added, 2);
        assert_eq!(
            (c.base, c.head),
            (
                Counts {
                    tests: 6,
                    passed: 3,
                    failing: 2,
                    skipped: 1
                },
                Counts {
                    tests: 7,
                    passed: 3,
                    failing: 4,
                    skipped: 0
                }
            )
        );
        assert!(c.changed());
        assert_eq!(
            head.slowest()[..2],
            [
                ("c::breaks".to_string(), 3.0),
                ("c::heals".to_string(), 1.0)
            ]
        );
        // The same tests, the same outcomes: nothing changed.
        let same = Base {
            set: set(&[("a", &[Passed], None)]),
            ..base
        };
        assert!(
            !compare(&same, &set(&[("a", &[Passed], Some("9"))]))
                .unwrap()
                .changed()
        );
    }

    #[test]
    fn the_slowest_tests_in_constant_memory() {
        let mut h = HeadTests::default();
        for (i, t) in ["3", "9", "1", "9", "0", "7", "2", "x", "5", "4"]
            .iter()
            .enumerate()
        {
            let name = format!("t{i}");
            h.entry(&Entry {
                classname: "c",
                name: &name,
                attempts: &[Passed],
                time_text: Some(t),
                message: None,
                ..Entry::default()
            });
        }
        h.end_file(true);
        // An unreadable file's times do not count.
        h.entry(&Entry {
            classname: "c",
            name: "bad",
            attempts: &[Passed],
            time_text: Some("99"),
            message: None,
            ..Entry::default()
        });
        h.end_file(false);
        let ids: Vec<String> = h.slowest().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["c::t1", "c::t3", "c::t5", "c::t8", "c::t9"]);
        // Without `comparing`, no test is kept.
        assert!(h.set.is_empty());
    }

    /// Reads `(name, time)` entries of class `c` as files, each ending well.
    fn slowest_of(files: &[&[(&str, &str)]]) -> Vec<(String, f64)> {
        let mut h = HeadTests::default();
        for file in files {
            for (name, time) in *file {
                h.entry(&Entry {
                    classname: "c",
                    name,
                    attempts: &[Passed],
                    time_text: Some(time),
                    ..Entry::default()
                });
            }
            h.end_file(true);
        }
        h.slowest()
    }

    /// A test's entries (reruns, the same test in two files) add up to one
    /// time and one row, as the store and the comment count them; the list
    /// does not depend on the order of the entries.
    #[test]
    fn a_test_is_listed_once_with_the_sum_of_its_entries() {
        let file: &[(&str, &str)] = &[
            ("a", "1"),
            ("b", "2"),
            ("slow", "9"),
            ("c", "3"),
            ("d", "4"),
            ("e", "5"),
            ("slow", "8"),
            // Below the list's fifth time, but the test is listed.
            ("slow", "0.5"),
            ("", "6"),
            ("", "6"),
        ];
        assert_eq!(
            slowest_of(&[file]),
            [
                ("c::slow".to_string(), 17.5),
                ("c::".into(), 6.0),
                ("c::".into(), 6.0),
                ("c::e".into(), 5.0),
                ("c::d".into(), 4.0),
            ]
        );
        // The same report twice: each listed test twice as slow, once.
        let twice = slowest_of(&[&file[..8], &file[..8]]);
        assert_eq!(
            twice,
            [
                ("c::slow".to_string(), 35.0),
                ("c::e".into(), 10.0),
                ("c::d".into(), 8.0),
                ("c::c".into(), 6.0),
                ("c::b".into(), 4.0),
            ]
        );
        // Ties keep the identity that sorts first, wherever it comes, and a
        // time written with more digits than a double holds reads as the
        // tie it is.
        let ties: Vec<(&str, &str)> = ["b", "c", "d", "e", "f"]
            .into_iter()
            .map(|n| (n, "3"))
            .collect();
        let late = [ties.clone(), vec![("a", "2.99999999999999999999")]].concat();
        let early = [vec![("a", "2.99999999999999999999")], ties].concat();
        let ids = |l: Vec<(String, f64)>| l.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(
            ids(slowest_of(&[&late])),
            ["c::a", "c::b", "c::c", "c::d", "c::e"]
        );
        assert_eq!(ids(slowest_of(&[&late])), ids(slowest_of(&[&early])));
    }

    #[test]
    fn an_identity_is_recognised_without_building_it() {
        for (c, n) in [
            ("c", "t"),
            ("com.example.FooTest", "testParse"),
            ("a", "bcdefgh"),
            ("", ""),
        ] {
            let id = format!("{c}::{n}");
            let key = tail_key(c, n);
            assert_eq!(key, (id.len(), tail(id.as_bytes())), "{id}");
            assert!(is_identity(&id, key, c, n), "{id}");
        }
        assert!(!is_identity("c::u", tail_key("c", "t"), "c", "t"));
    }

    #[test]
    fn a_rerun_of_the_same_commit_does_not_make_a_test_slower() {
        let r = |t: &str| {
            TestResult::of(&Entry {
                classname: "c",
                name: "t",
                attempts: &[Passed],
                time_text: Some(t),
                ..Entry::default()
            })
        };
        let mut s = TestSet::default();
        s.add_run("c::t".into(), r("0.3"));
        s.add_run("c::t".into(), r("0.2"));
        assert_eq!(s.slowest(), [("c::t".to_string(), 0.3)]);
    }

    #[test]
    fn an_unreadable_file_adds_nothing_and_too_many_tests_compare_nothing() {
        let mut h = HeadTests::comparing();
        h.entry(&Entry {
            classname: "c",
            name: "a",
            attempts: &[Failed],
            time_text: None,
            message: None,
            ..Entry::default()
        });
        h.end_file(false);
        assert!(h.set.is_empty());
        let mut big = TestSet::default();
        for i in 0..=MAX_TESTS {
            big.add(
                format!("t{i}"),
                TestResult::of(&Entry {
                    classname: "c",
                    name: "n",
                    attempts: &[Passed],
                    time_text: None,
                    message: None,
                    ..Entry::default()
                }),
            );
        }
        assert!(big.overflow && big.is_empty());
        let base = Base {
            sha: "b".into(),
            from: BaseFrom::Named,
            runs: 1,
            set: TestSet::default(),
        };
        assert!(compare(&base, &big).is_none());
    }
}
