//! libFuzzer target: arbitrary bytes through the JUnit parser and the
//! aggregator. The parser must never panic, and with a 64 KiB event limit it
//! must never allocate without bound (libFuzzer's `-rss_limit_mb` and
//! `-malloc_limit_mb` catch that). Invariants of what it hands out are
//! checked too, so a logic slip shows up as a crash.
//!
//! The same bytes are also read with the testcase fast path off, and both
//! readings must agree.
//!
//! Run: `cargo +nightly fuzz run junit_parse fuzz/corpus/junit_parse fixtures/junit -- -max_total_time=600 -rss_limit_mb=256`
//! (see docs/benchmarks.md, "JUnit").

#![no_main]

use dorameter::junit::{Aggregator, Limits, Outcome, parse};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_event_bytes: 64 << 10,
    message_bytes: 512,
    max_depth: 64,
    fast_testcases: true,
    // The failure bodies too: the annotations' path.
    keep_detail: true,
};

/// Every entry a parse hands out, and how it ended.
fn entries(data: &[u8], limits: &Limits) -> (Vec<String>, Result<u64, String>) {
    let mut seen = Vec::new();
    let result = parse(data, limits, &mut |e| {
        seen.push(format!(
            "{:?} {:?} {:?} {:?} {:?}",
            e.classname, e.name, e.attempts, e.time_text, e.message
        ))
    });
    (seen, result.map(|s| s.testcases).map_err(|e| e.to_string()))
}

fuzz_target!(|data: &[u8]| {
    // Plain testcases read straight from the input must come out exactly as
    // quick-xml reads them, errors and their positions included.
    let slow = Limits {
        fast_testcases: false,
        ..LIMITS
    };
    assert_eq!(
        entries(data, &LIMITS),
        entries(data, &slow),
        "the testcase fast path and quick-xml disagree"
    );
    let mut agg = Aggregator::default();
    // The same bytes as two files: once whole, once cut in half, so a file
    // that fails after delivering entries exercises the rollback path.
    for bytes in [data, &data[..data.len() / 2]] {
        let mut delivered = 0u64;
        let mut add_error = None;
        let result = parse(bytes, &LIMITS, &mut |e| {
            delivered += 1;
            assert!(!e.attempts.is_empty(), "an entry with no attempt");
            if let Some(t) = e.time() {
                assert!(t.is_finite() && t >= 0.0, "time {t}");
            }
            if let Some(m) = e.message {
                // Capped at message_bytes plus the 3-byte ellipsis.
                assert!(
                    m.len() <= LIMITS.message_bytes + 3,
                    "message of {} bytes",
                    m.len()
                );
                assert!(
                    e.attempts.iter().any(|o| o.is_failure()),
                    "a message without a failure"
                );
            }
            if let Err(err) = agg.add(e) {
                add_error = Some(err);
            }
        });
        assert!(add_error.is_none(), "aggregator I/O error: {add_error:?}");
        match result {
            Ok(stats) => {
                assert_eq!(
                    stats.testcases, delivered,
                    "entries delivered vs testcases counted"
                );
                agg.commit_file().expect("commit");
            }
            Err(e) => {
                assert!(!e.path.is_empty() && !e.message.is_empty());
                assert!(
                    e.offset <= bytes.len() as u64 + 8,
                    "error offset {} past the {} input bytes",
                    e.offset,
                    bytes.len()
                );
                agg.rollback_file().expect("rollback");
            }
        }
    }
    let s = agg.finish().expect("finish");
    assert_eq!(
        s.tests,
        s.passed + s.failed + s.errored + s.skipped,
        "{s:?}"
    );
    assert!(s.runs >= s.tests, "{s:?}");
    assert!(s.failures.len() as u64 <= s.failed + s.errored);
    assert!(
        s.failures
            .iter()
            .all(|f| f.outcome != Outcome::Passed && f.outcome != Outcome::Skipped)
    );
    assert!(
        s.flaky
            .iter()
            .all(|f| f.failures >= 1 && f.attempts > f.failures)
    );
});
