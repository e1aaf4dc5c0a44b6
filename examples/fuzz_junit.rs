//! A self-contained mutation fuzzer for the JUnit parser (no nightly, no
//! libFuzzer): the companion of `fuzz/fuzz_targets/junit_parse.rs`.
//!
//! Inputs are the committed fixtures (`fixtures/junit/**/*.xml`), generated
//! JUnit-like documents and random byte streams, mutated by bit flips, byte
//! inserts and deletes, chunk duplication, splicing two inputs, truncation,
//! and inserting hostile fragments (DOCTYPEs with entities, CDATA, invalid
//! character references, deep nesting, huge attributes, invalid UTF-8).
//! Every input goes through `dorameter::junit::parse` (64 KiB event limit)
//! into an `Aggregator`, twice: read whole and read in small random chunks,
//! and the two results must agree. Checked: no panic, the invariants of
//! every entry and summary, peak RSS (`VmHWM`) under `--max-rss-mb`, and no
//! single input slower than `--max-input-ms`.
//!
//! ```text
//! cargo run --example fuzz_junit                         # smoke: seed 1, 2,000 inputs, a few seconds
//! cargo run --release --example fuzz_junit -- --seconds 600 --seed 7
//! ```
//! Options: `--seconds N` (time budget; also `DORAMETER_FUZZ_SECONDS`),
//! `--iterations N` (default 2000 when no time budget), `--seed N` (1),
//! `--max-rss-mb N` (200), `--max-input-ms N` (5000), `--quiet`.
//! A failing input is written to `fuzz/crashes/` and the exit code is 1.
//! With `panic = "abort"` (the release profile) a panic still saves the
//! input first, from the panic hook.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dorameter::junit::{Aggregator, Limits, Outcome, parse};

const LIMITS: Limits = Limits {
    max_event_bytes: 64 << 10,
    message_bytes: 512,
    max_depth: 64,
    fast_testcases: true,
    // The failure bodies too: the annotations' path.
    keep_detail: true,
};
/// Inputs grow no larger than this (a mutated input past it is cut).
const MAX_INPUT: usize = 4 << 20;

/// The input being parsed, for the panic hook.
static CURRENT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

// ------------------------------------------------------------------- random

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// --------------------------------------------------------------- generation

const ELEMENTS: &[&str] = &[
    "testsuites",
    "testsuite",
    "testcase",
    "failure",
    "error",
    "skipped",
    "flakyFailure",
    "flakyError",
    "rerunFailure",
    "rerunError",
    "system-out",
    "system-err",
    "properties",
    "property",
    "stackTrace",
    "html",
];
const ATTRS: &[&str] = &[
    "name",
    "classname",
    "time",
    "message",
    "type",
    "status",
    "tests",
    "failures",
    "value",
    "file",
];
const VALUES: &[&str] = &[
    "",
    "0.012",
    "0,03",
    "2,120.532",
    "-1",
    "NaN",
    "1e308",
    "inf",
    "notrun",
    "SKIPPED",
    "pytest",
    "pytest tests",
    "dd_tags[test.invocations]",
    "3",
    "1001",
    "com.example.FooTest",
    "a &amp; b",
    "&lt;&gt;&quot;&apos;",
    "&#x1F600;",
    "&#0;",
    "&#x110000;",
    "&#xD800;",
    "&unknown;",
    "&#",
    "&",
    "Root Suite",
    "😀 non-BMP",
    "\u{feff}",
];
const FRAGMENTS: &[&[u8]] = &[
    b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>",
    b"<!DOCTYPE t [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
    b"<!DOCTYPE t SYSTEM \"http://127.0.0.1:9/x.dtd\">",
    b"&xxe;",
    b"&b;",
    b"<![CDATA[",
    b"]]>",
    b"<![CDATA[x]]]]><![CDATA[>]]>",
    b"<!--",
    b"-->",
    b"<!-- - -- --->",
    b"&#x110000;",
    b"&#xFFFE;",
    b"&#55296;",
    b"&amp",
    b"<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    b"<?xml version=\"1.1\"?>",
    b"<?pi ?>",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC3\x28",
    b"\xF0\x9F\x98",
    b"\xED\xA0\x80",
    b"\x00",
    b"</",
    b"/>",
    b"<",
    b">",
    b"\"",
    b"'",
    b"</failure>",
    b"</testcase>",
    b"</testsuite >",
    b"<testcase name=\"x\"/>",
    b"<testcase name=\"x\"><failure/></testcase>",
    b"<testcase classname=\"c\" name=\"x\"><flakyFailure/><flakyError/></testcase>",
    b"<failure message=\"m\">",
    b"<skipped/>",
    b"<system-out>",
    b"</system-out>",
    b"<property name=\"dd_tags[test.invocations]\" value=\"1000\"/>",
    b"xmlns:a=\"urn:x\" a:name=\"n\"",
    b"<a:testcase xmlns:a=\"urn:x\" name=\"ns\"/>",
];

fn xml_element(rng: &mut Rng, out: &mut Vec<u8>, depth: usize) {
    let name = if depth == 0 {
        *rng.pick(&["testsuites", "testsuite", "testsuite", "html"])
    } else {
        *rng.pick(ELEMENTS)
    };
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    for _ in 0..rng.below(4) {
        out.push(b' ');
        out.extend_from_slice(rng.pick(ATTRS).as_bytes());
        let q = if rng.chance(4) { b'\'' } else { b'"' };
        out.extend_from_slice(&[b'=', q]);
        out.extend_from_slice(rng.pick(VALUES).as_bytes());
        out.push(q);
    }
    if depth > 6 || rng.chance(3) {
        out.extend_from_slice(b"/>");
        return;
    }
    out.push(b'>');
    for _ in 0..rng.below(5) {
        match rng.below(6) {
            0 => out.extend_from_slice(rng.pick(VALUES).as_bytes()),
            1 => out.extend_from_slice(b"<![CDATA[at Foo.bar(Foo.java:1) <x> & ]]>"),
            2 => out.extend_from_slice(b"<!-- comment -->"),
            _ => xml_element(rng, out, depth + 1),
        }
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

fn generated(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    if rng.chance(2) {
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    xml_element(rng, &mut out, 0);
    out
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(512);
    (0..n)
        .map(|_| {
            if rng.chance(3) {
                *rng.pick(b"<>/=\"'&;![]- ?x")
            } else {
                rng.next() as u8
            }
        })
        .collect()
}

// ---------------------------------------------------------------- mutations

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    match rng.below(12) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                if !input.is_empty() {
                    let i = rng.below(input.len());
                    input[i] ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            let i = rng.below(input.len() + 1);
            let b = if rng.chance(2) {
                *rng.pick(b"<>/=\"'&;![]-")
            } else {
                rng.next() as u8
            };
            input.insert(i, b);
        }
        2 => {
            if !input.is_empty() {
                let i = rng.below(input.len());
                let n = 1 + rng.below((input.len() - i).min(64));
                input.drain(i..i + n);
            }
        }
        3 => {
            // Duplicate a chunk, possibly many times.
            if !input.is_empty() {
                let i = rng.below(input.len());
                let n = 1 + rng.below((input.len() - i).min(4096));
                let chunk = input[i..i + n].to_vec();
                let times = if rng.chance(8) { 1 + rng.below(200) } else { 1 };
                let at = rng.below(input.len() + 1);
                let repeated = chunk.repeat(times);
                input.splice(at..at, repeated);
            }
        }
        4 => {
            // Splice: the head of this input, the tail of another.
            let other = rng.pick(corpus);
            let cut = rng.below(input.len() + 1);
            let from = rng.below(other.len() + 1);
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        5 => {
            let cut = rng.below(input.len() + 1);
            input.truncate(cut);
        }
        6 | 7 => {
            let at = rng.below(input.len() + 1);
            let f = rng.pick(FRAGMENTS).to_vec();
            input.splice(at..at, f);
        }
        8 => {
            // Deep nesting.
            let at = rng.below(input.len() + 1);
            const OPENERS: &[&[u8]] = &[
                b"<testsuite name=\"n\">",
                b"<testcase name=\"c\">",
                b"<x>",
                b"<properties>",
            ];
            let open: &[u8] = rng.pick::<&[u8]>(OPENERS);
            let deep = rng.chance(4);
            let n = 1 + rng.below(if deep { 100_000 } else { 300 });
            let mut nest = open.repeat(n);
            if rng.chance(2) {
                let close = format!(
                    "</{}>",
                    String::from_utf8_lossy(&open[1..open.len() - 1])
                        .split(' ')
                        .next()
                        .unwrap_or("x")
                );
                nest.extend_from_slice(close.repeat(n).as_bytes());
            }
            input.splice(at..at, nest);
        }
        9 => {
            // A huge attribute value or text node, around the event limit.
            let at = rng.below(input.len() + 1);
            let n = *rng.pick(&[100usize, 4095, 65_535, 65_536, 65_537, 70_000, 300_000]);
            let fill = *rng.pick(b"xa& <\"");
            let mut blob = Vec::with_capacity(n + 40);
            match rng.below(3) {
                0 => {
                    blob.extend_from_slice(b"<testcase name=\"");
                    blob.resize(
                        blob.len() + n,
                        if fill == b'"' || fill == b'<' {
                            b'y'
                        } else {
                            fill
                        },
                    );
                    blob.extend_from_slice(b"\"/>");
                }
                1 => blob.resize(n, fill),
                _ => {
                    blob.extend_from_slice(b"<![CDATA[");
                    blob.resize(blob.len() + n, fill);
                    blob.extend_from_slice(b"]]>");
                }
            }
            input.splice(at..at, blob);
        }
        10 => {
            // Invalid UTF-8 in a random place.
            let at = rng.below(input.len() + 1);
            const BAD: &[&[u8]] = &[
                b"\xFF",
                b"\xC0\xAF",
                b"\xE2\x82",
                b"\xF4\x90\x80\x80",
                b"\x80\x80",
            ];
            let bad: &[u8] = rng.pick::<&[u8]>(BAD);
            input.splice(at..at, bad.iter().copied());
        }
        _ => {
            // Replace a name or value by one from the vocabularies.
            let at = rng.below(input.len() + 1);
            let word = if rng.chance(2) {
                rng.pick(ELEMENTS).as_bytes()
            } else {
                rng.pick(VALUES).as_bytes()
            };
            let n = rng.below((input.len() - at).min(12) + 1);
            input.splice(at..at + n, word.iter().copied());
        }
    }
    input.truncate(MAX_INPUT);
}

// ------------------------------------------------------------------ running

/// One entry as delivered: classname, name, attempts, time (bits), message.
type Seen = (String, String, Vec<Outcome>, Option<u64>, Option<String>);

/// What parsing one input gave: the entries, and `Ok(testcases)` or the error message.
#[derive(Debug, PartialEq)]
struct Outcomes {
    entries: Vec<Seen>,
    result: Result<u64, String>,
}

/// A reader that hands out the bytes in small random pieces.
struct Chunked<'a> {
    data: &'a [u8],
    rng: Rng,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = (1 + self.rng.below(97)).min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn run_one<R: Read>(source: R, agg: &mut Aggregator) -> Result<Outcomes, String> {
    run_with(source, agg, &LIMITS)
}

fn run_with<R: Read>(source: R, agg: &mut Aggregator, limits: &Limits) -> Result<Outcomes, String> {
    let mut entries = Vec::new();
    let mut problem = None;
    let result = parse(source, limits, &mut |e| {
        let mut check = || -> Result<(), String> {
            if e.attempts.is_empty() {
                return Err("an entry with no attempt".into());
            }
            if let Some(t) = e.time() {
                if !t.is_finite() || t < 0.0 {
                    return Err(format!("time {t}"));
                }
            }
            if let Some(m) = e.message {
                if m.len() > LIMITS.message_bytes + 3 {
                    return Err(format!("message of {} bytes", m.len()));
                }
                if !e.attempts.iter().any(|o| o.is_failure()) {
                    return Err("a message without a failure".into());
                }
            }
            agg.add(e).map_err(|err| format!("aggregator: {err}"))
        };
        if let Err(p) = check() {
            problem.get_or_insert(p);
        }
        entries.push((
            e.classname.to_string(),
            e.name.to_string(),
            e.attempts.to_vec(),
            e.time().map(f64::to_bits),
            e.message.map(str::to_string),
        ));
    });
    if let Some(p) = problem {
        return Err(p);
    }
    let result = match result {
        Ok(stats) => {
            if stats.testcases != entries.len() as u64 {
                return Err(format!(
                    "{} testcases counted, {} entries delivered",
                    stats.testcases,
                    entries.len()
                ));
            }
            agg.commit_file().map_err(|e| e.to_string())?;
            Ok(stats.testcases)
        }
        Err(e) => {
            if e.path.is_empty() || e.message.is_empty() {
                return Err(format!("an error without a path or message: {e:?}"));
            }
            agg.rollback_file()
                .map_err(|e| format!("aggregator: {e}"))?;
            Err(e.to_string())
        }
    };
    Ok(Outcomes { entries, result })
}

/// Checks one input; `Err` describes a finding.
fn check(input: &[u8], seed: u64) -> Result<bool, String> {
    let mut agg = Aggregator::default();
    let whole = run_one(input, &mut agg)?;
    let chunked = run_one(
        Chunked {
            data: input,
            rng: Rng(seed | 1),
        },
        &mut agg,
    )?;
    // A read split differently must not change the answer. (Only the event
    // size limit is checked at refill granularity, so a "larger than" error
    // may legitimately come a little earlier or later.)
    let limit_error = |o: &Outcomes| o.result.as_ref().is_err_and(|m| m.contains("larger than"));
    if whole != chunked && !limit_error(&whole) && !limit_error(&chunked) {
        return Err(format!(
            "whole read and chunked read disagree:\n whole:   {:?}\n chunked: {:?}",
            brief(&whole),
            brief(&chunked)
        ));
    }
    // Reading plain testcases straight from the input must agree with
    // reading every element through quick-xml, errors and positions included.
    let slow = Limits {
        fast_testcases: false,
        ..LIMITS
    };
    let through_quick_xml = run_with(input, &mut Aggregator::default(), &slow)?;
    if whole != through_quick_xml && !limit_error(&whole) && !limit_error(&through_quick_xml) {
        return Err(format!(
            "the testcase fast path and quick-xml disagree:\n fast:      {:?}\n quick-xml: {:?}",
            brief(&whole),
            brief(&through_quick_xml)
        ));
    }
    let s = agg.finish().map_err(|e| e.to_string())?;
    if s.tests != s.passed + s.failed + s.errored + s.skipped || s.runs < s.tests {
        return Err(format!("inconsistent summary {s:?}"));
    }
    if s.flaky
        .iter()
        .any(|f| f.failures == 0 || f.attempts <= f.failures)
    {
        return Err(format!("inconsistent flaky list {:?}", s.flaky));
    }
    Ok(whole.result.is_ok())
}

fn brief(o: &Outcomes) -> String {
    format!(
        "{} entries {:?}, first {:?}",
        o.entries.len(),
        o.result,
        o.entries.first()
    )
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn crash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("crashes")
}

fn save(input: &[u8], why: &str) -> PathBuf {
    let dir = crash_dir();
    let _ = std::fs::create_dir_all(&dir);
    // FNV-1a: a stable name for the same input.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("fuzz_junit-{hash:016x}.xml"));
    let _ = std::fs::write(&path, input);
    let _ = std::fs::write(path.with_extension("txt"), why);
    path
}

fn corpus_seeds() -> Vec<Vec<u8>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "xml") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join("junit"),
        &mut paths,
    );
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

struct Options {
    seconds: Option<u64>,
    iterations: Option<u64>,
    seed: u64,
    max_rss_mb: u64,
    max_input_ms: u64,
    quiet: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        seconds: None,
        iterations: None,
        seed: 1,
        max_rss_mb: 200,
        max_input_ms: 5000,
        quiet: false,
    };
    if let Ok(s) = std::env::var("DORAMETER_FUZZ_SECONDS") {
        o.seconds = Some(
            s.parse()
                .map_err(|_| format!("DORAMETER_FUZZ_SECONDS={s}: not a number"))?,
        );
    }
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--quiet" {
            o.quiet = true;
            continue;
        }
        let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        let n: u64 = v.parse().map_err(|_| format!("{a} {v}: not a number"))?;
        match a.as_str() {
            "--seconds" => o.seconds = Some(n),
            "--iterations" => o.iterations = Some(n),
            "--seed" => o.seed = n,
            "--max-rss-mb" => o.max_rss_mb = n,
            "--max-input-ms" => o.max_input_ms = n,
            _ => return Err(format!("unknown option {a}")),
        }
    }
    if o.seconds.is_none() && o.iterations.is_none() {
        o.iterations = Some(2000);
    }
    Ok(o)
}

fn main() -> std::process::ExitCode {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fuzz_junit: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let input = CURRENT.lock().map(|g| g.clone()).unwrap_or_default();
        let path = save(&input, &format!("panic: {info}"));
        eprintln!("fuzz_junit: PANIC on the input saved as {}", path.display());
        default_hook(info);
    }));

    let seeds = corpus_seeds();
    if seeds.is_empty() {
        eprintln!("fuzz_junit: no fixtures found under fixtures/junit");
        return std::process::ExitCode::from(2);
    }
    let mut corpus = seeds.clone();
    let mut rng = Rng(opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = Instant::now();
    let deadline = opts.seconds.map(|s| start + Duration::from_secs(s));
    let (mut iterations, mut ok, mut err, mut findings) = (0u64, 0u64, 0u64, 0u64);
    let mut slowest = (Duration::ZERO, 0usize);
    let mut last_report = start;
    loop {
        if opts.iterations.is_some_and(|n| iterations >= n)
            || deadline.is_some_and(|d| Instant::now() >= d)
        {
            break;
        }
        // Pick a base: a seed fixture as is (first pass), or a mutated corpus entry,
        // a generated document, or random bytes.
        let mut input = if (iterations as usize) < seeds.len() {
            seeds[iterations as usize].clone()
        } else {
            let mut base = match rng.below(10) {
                0 => generated(&mut rng),
                1 => random_bytes(&mut rng),
                _ => rng.pick(&corpus).clone(),
            };
            for _ in 0..1 + rng.below(4) {
                mutate(&mut rng, &mut base, &corpus);
            }
            base
        };
        input.truncate(MAX_INPUT);
        if let Ok(mut g) = CURRENT.lock() {
            g.clone_from(&input);
        }
        let t = Instant::now();
        let caught = std::panic::catch_unwind(|| check(&input, iterations));
        let took = t.elapsed();
        iterations += 1;
        let verdict = match caught {
            Ok(Ok(true)) => {
                ok += 1;
                // Keep parseable mutants (small ones) as material for later rounds.
                if input.len() < 64 << 10 && corpus.len() < 4096 && rng.chance(4) {
                    corpus.push(input.clone());
                }
                None
            }
            Ok(Ok(false)) => {
                err += 1;
                None
            }
            Ok(Err(finding)) => Some(finding),
            Err(_) => Some("panic (see above)".to_string()),
        };
        let verdict = verdict.or_else(|| {
            (took > Duration::from_millis(opts.max_input_ms))
                .then(|| format!("one input took {took:?} ({} bytes)", input.len()))
        });
        if took > slowest.0 {
            slowest = (took, input.len());
        }
        if let Some(why) = verdict {
            findings += 1;
            let path = save(&input, &why);
            eprintln!("fuzz_junit: FINDING ({}): {why}", path.display());
            if findings >= 20 {
                break;
            }
        }
        let rss = peak_rss_mb();
        if rss > opts.max_rss_mb {
            let path = save(&input, &format!("peak RSS {rss} MB after this input"));
            eprintln!(
                "fuzz_junit: FINDING: peak RSS {rss} MB > {} MB ({})",
                opts.max_rss_mb,
                path.display()
            );
            findings += 1;
            break;
        }
        if !opts.quiet && last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            let secs = start.elapsed().as_secs_f64();
            println!(
                "fuzz_junit: {secs:.0} s, {iterations} inputs ({:.0}/s), {ok} ok, {err} err, corpus {}, peak RSS {rss} MB",
                iterations as f64 / secs,
                corpus.len()
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz_junit: seed {}, {iterations} inputs in {secs:.1} s ({:.0}/s): {ok} parsed, {err} rejected with an error, {findings} findings; \
         corpus {}, slowest input {:?} ({} bytes), peak RSS {} MB",
        opts.seed,
        iterations as f64 / secs.max(1e-9),
        corpus.len(),
        slowest.0,
        slowest.1,
        peak_rss_mb()
    );
    if findings > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
