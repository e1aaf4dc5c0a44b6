//! JUnit ingestion benchmarks (run with `cargo bench --bench junit`).
//!
//! On generated Surefire-style reports (mostly passing tests, some failures
//! with multi-line stack traces, errors, skips and `flakyFailure` reruns):
//!
//! 1. `python`: `dorameter junit FILE --dry-run --format json` vs Python's
//!    `xml.etree.ElementTree.iterparse` counting the same outcomes (target:
//!    dorameter at least 5x faster), on the 1M-testcase (~175 MB) report.
//! 2. `floor`: the same run vs a bare quick-xml event loop over the same
//!    bytes, in this process (`read_event_into` with one reused buffer,
//!    counting Start/Empty events, nothing else) — the floor for any parser
//!    on quick-xml (target: within 2x).
//! 3. `rss`: peak RSS of `dorameter junit --dry-run` on the ~10 MB, ~175 MB
//!    and ~1.1 GB reports (`/usr/bin/time -v`; target: under 50 MB and
//!    independent of size).
//! 4. `sqlite`: `dorameter junit FILE --service bench --store sqlite:NEW.db -q`
//!    on the ~175 MB report, end to end into a fresh store (target: < 10 s).
//!
//! Timings are medians of whole-process wall times (the floor: in-process),
//! sides alternated run by run (A B, B A, ...) so machine noise hits both.
//! dorameter's and Python's counts are checked against the generator's.
//!
//! Environment:
//! - `DORAMETER_BENCH_RUNS` timed runs per side (3)
//! - `DORAMETER_BENCH_ONLY` comma list of python,floor,rss,sqlite (or give
//!   them as arguments: `cargo bench --bench junit -- rss sqlite`)
//! - `DORAMETER_BENCH_JUNIT_TESTS` test cases of the main report (1000000);
//!   the small and large reports are 1/16 and 6.4x of it
//! - `DORAMETER_BENCH_JUNIT_LARGE=0` skips the ~1 GB report
//!
//! Generated reports are cached in `target/bench-data/`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use quick_xml::Reader;
use quick_xml::events::Event;

const DORAMETER: &str = env!("CARGO_BIN_EXE_dorameter");

#[path = "support/bench_env.rs"]
mod bench_env;

use bench_env::{junit_peak_rss_kb, median, timed};
/// Bump when the generator changes, so cached reports are regenerated.
const GENERATOR_VERSION: u32 = 1;

const PYTHON_BASELINE: &str = r#"
import sys
import xml.etree.ElementTree as ET

# Counts each <testcase> by its outcome, as dorameter does for a report whose
# test identities are unique: failure > error > skipped > passed, and flaky
# when a flakyFailure/flakyError rerun came before the final pass.
counts = {"runs": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0, "flaky": 0}
root = None
for event, elem in ET.iterparse(sys.argv[1], events=("start", "end")):
    if event == "start":
        if root is None:
            root = elem
        continue
    tag = elem.tag
    if tag == "testcase":
        kids = {child.tag for child in elem}
        reruns = sum(1 for child in elem if child.tag in ("flakyFailure", "flakyError"))
        counts["runs"] += 1 + reruns
        if "failure" in kids:
            counts["failed"] += 1
        elif "error" in kids:
            counts["errored"] += 1
        elif "skipped" in kids:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
            if reruns:
                counts["flaky"] += 1
        elem.clear()
    elif tag == "testsuite":
        elem.clear()
        root.clear()
print(" ".join(f"{k}={v}" for k, v in counts.items()))
"#;

// ---------------------------------------------------------------- settings

struct Settings {
    runs: usize,
    only: Option<Vec<String>>,
    tests: usize,
    large: bool,
}

impl Settings {
    fn from_env() -> Settings {
        let num = |k: &str, d: usize| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        Settings {
            runs: num("DORAMETER_BENCH_RUNS", 3).max(1),
            // `cargo bench --bench junit -- rss sqlite`, or DORAMETER_BENCH_ONLY=rss,sqlite.
            only: {
                let args: Vec<String> = std::env::args()
                    .skip(1)
                    .filter(|a| !a.starts_with('-'))
                    .collect();
                let env = std::env::var("DORAMETER_BENCH_ONLY")
                    .ok()
                    .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
                if args.is_empty() { env } else { Some(args) }
            },
            tests: num("DORAMETER_BENCH_JUNIT_TESTS", 1_000_000),
            large: std::env::var("DORAMETER_BENCH_JUNIT_LARGE").map_or(true, |v| v != "0"),
        }
    }
    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == name))
    }
}

// --------------------------------------------------------------- generator

/// What the generator wrote, to check everyone's counts against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    runs: u64,
    passed: u64,
    failed: u64,
    errored: u64,
    skipped: u64,
    flaky: u64,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn stack_trace(
    out: &mut impl Write,
    rng: &mut Rng,
    exception: &str,
    message: &str,
    class: &str,
    method: &str,
) -> std::io::Result<()> {
    write!(out, "{exception}: {message}")?;
    writeln!(
        out,
        "\n\tat org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)"
    )?;
    writeln!(
        out,
        "\tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)"
    )?;
    writeln!(
        out,
        "\tat {class}.{method}({}.java:{})",
        class.rsplit('.').next().unwrap_or(class),
        20 + rng.below(400)
    )?;
    let frames = [
        "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
        "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
        "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)",
        "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)",
        "org.junit.jupiter.engine.execution.InvocationInterceptorChain$ValidatingInvocation.proceed(InvocationInterceptorChain.java:131)",
        "org.junit.jupiter.engine.extension.TimeoutExtension.intercept(TimeoutExtension.java:156)",
        "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:218)",
        "org.junit.platform.engine.support.hierarchical.NodeTestTask.executeRecursively(NodeTestTask.java:141)",
        "org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invoke(JUnitPlatformProvider.java:184)",
        "org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)",
    ];
    let n = 4 + rng.below(7) as usize;
    for f in &frames[..n] {
        writeln!(out, "\tat {f}")?;
    }
    Ok(())
}

/// A Surefire-style report of `tests` test cases in suites of 40 (one class
/// each, with Surefire's `<properties>` block), ~175 bytes per test case.
fn generate(path: &Path, tests: usize) -> std::io::Result<Counts> {
    let tmp = path.with_extension("partial");
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut c = Counts::default();
    const PER_SUITE: usize = 40;
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="bench" tests="{tests}">"#)?;
    let mut i = 0usize;
    let mut suite = 0usize;
    while i < tests {
        let module = suite % 97;
        let class = format!("com.example.module{module}.Foo{suite}Test");
        let n = PER_SUITE.min(tests - i);
        writeln!(
            out,
            r#"  <testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="3.0.2" name="{class}" time="{}.{:03}" tests="{n}" errors="0" skipped="0" failures="0">"#,
            rng.below(30),
            rng.below(1000)
        )?;
        if suite % 10 == 0 {
            writeln!(out, "    <properties>")?;
            for (k, v) in [
                ("java.version", "21.0.3"),
                ("os.name", "Linux"),
                ("user.dir", "/home/runner/work/app/app"),
                (
                    "surefire.test.class.path",
                    "/home/runner/work/app/app/target/test-classes:/home/runner/.m2/repository/org/junit/jupiter/junit-jupiter-api/5.10.2/junit-jupiter-api-5.10.2.jar",
                ),
                ("file.encoding", "UTF-8"),
            ] {
                writeln!(out, r#"      <property name="{k}" value="{v}"/>"#)?;
            }
            writeln!(out, "    </properties>")?;
        }
        for j in 0..n {
            let method = format!(
                "test{}Case{j}",
                ["Parse", "Render", "Save", "Load", "Merge", "Split"][j % 6]
            );
            let time = format!("{}.{:03}", rng.below(2), rng.below(1000));
            let roll = rng.below(1000);
            c.runs += 1;
            match roll {
                // 2 %: failed first, passed on the rerun (flakyFailure).
                0..=19 => {
                    c.runs += 1;
                    c.passed += 1;
                    c.flaky += 1;
                    writeln!(
                        out,
                        r#"    <testcase name="{method}" classname="{class}" time="{time}">"#
                    )?;
                    writeln!(
                        out,
                        r#"      <flakyFailure message="expected: &lt;200&gt; but was: &lt;503&gt;" type="org.opentest4j.AssertionFailedError">"#
                    )?;
                    write!(out, "        <stackTrace>")?;
                    stack_trace(
                        &mut out,
                        &mut rng,
                        "org.opentest4j.AssertionFailedError",
                        "expected: &lt;200&gt; but was: &lt;503&gt;",
                        &class,
                        &method,
                    )?;
                    writeln!(out, "</stackTrace>")?;
                    writeln!(
                        out,
                        "        <system-out><![CDATA[GET /health -> 503 after 1021 ms\n]]></system-out>"
                    )?;
                    writeln!(out, "      </flakyFailure>")?;
                    writeln!(out, "    </testcase>")?;
                }
                // 3 %: failed; a third without a message attribute (the body is the message).
                20..=49 => {
                    c.failed += 1;
                    writeln!(
                        out,
                        r#"    <testcase name="{method}" classname="{class}" time="{time}">"#
                    )?;
                    if roll % 3 == 0 {
                        write!(out, r#"      <failure type="java.lang.AssertionError">"#)?;
                    } else {
                        write!(
                            out,
                            r#"      <failure message="expected: &lt;true&gt; but was: &lt;false&gt;" type="org.opentest4j.AssertionFailedError">"#
                        )?;
                    }
                    stack_trace(
                        &mut out,
                        &mut rng,
                        "org.opentest4j.AssertionFailedError",
                        "expected: &lt;true&gt; but was: &lt;false&gt;",
                        &class,
                        &method,
                    )?;
                    writeln!(out, "</failure>")?;
                    if roll % 2 == 0 {
                        writeln!(
                            out,
                            "      <system-out><![CDATA[loading fixture {method}.json\nconnected to db in 12 ms\n]]></system-out>"
                        )?;
                    }
                    writeln!(out, "    </testcase>")?;
                }
                // 1 %: errored.
                50..=59 => {
                    c.errored += 1;
                    writeln!(
                        out,
                        r#"    <testcase name="{method}" classname="{class}" time="{time}">"#
                    )?;
                    write!(
                        out,
                        r#"      <error message="Cannot invoke &quot;String.length()&quot; because &quot;s&quot; is null" type="java.lang.NullPointerException">"#
                    )?;
                    stack_trace(
                        &mut out,
                        &mut rng,
                        "java.lang.NullPointerException",
                        "Cannot invoke &quot;String.length()&quot;",
                        &class,
                        &method,
                    )?;
                    writeln!(out, "</error>")?;
                    writeln!(out, "    </testcase>")?;
                }
                // 4 %: skipped.
                60..=99 => {
                    c.skipped += 1;
                    writeln!(
                        out,
                        r#"    <testcase name="{method}" classname="{class}" time="0">"#
                    )?;
                    writeln!(
                        out,
                        r#"      <skipped message="Disabled until JIRA-{} is fixed"/>"#,
                        rng.below(9999)
                    )?;
                    writeln!(out, "    </testcase>")?;
                }
                _ => {
                    c.passed += 1;
                    writeln!(
                        out,
                        r#"    <testcase name="{method}" classname="{class}" time="{time}"/>"#
                    )?;
                }
            }
        }
        writeln!(out, "  </testsuite>")?;
        i += n;
        suite += 1;
    }
    writeln!(out, "</testsuites>")?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(c)
}

fn counts_line(c: &Counts) -> String {
    format!(
        "runs={} passed={} failed={} errored={} skipped={} flaky={}",
        c.runs, c.passed, c.failed, c.errored, c.skipped, c.flaky
    )
}

fn parse_counts(line: &str) -> Option<Counts> {
    let mut c = Counts::default();
    for kv in line.split_whitespace() {
        let (k, v) = kv.split_once('=')?;
        let v: u64 = v.parse().ok()?;
        match k {
            "runs" => c.runs = v,
            "passed" => c.passed = v,
            "failed" => c.failed = v,
            "errored" => c.errored = v,
            "skipped" => c.skipped = v,
            "flaky" => c.flaky = v,
            _ => return None,
        }
    }
    Some(c)
}

struct Report {
    label: &'static str,
    path: PathBuf,
    tests: usize,
    bytes: u64,
    counts: Counts,
}

/// The cached report of `tests` test cases, generated when missing.
fn report(dir: &Path, label: &'static str, tests: usize) -> Report {
    let path = dir.join(format!("junit-v{GENERATOR_VERSION}-{tests}.xml"));
    let meta = path.with_extension("counts");
    let cached = std::fs::read_to_string(&meta)
        .ok()
        .and_then(|s| parse_counts(s.trim()));
    let counts = match cached {
        Some(c) if path.exists() => c,
        _ => {
            let t = Instant::now();
            eprint!("generating {} ({tests} test cases)... ", path.display());
            let c = generate(&path, tests).expect("generate the report");
            std::fs::write(&meta, counts_line(&c)).expect("write the counts");
            eprintln!("{:.1} s", t.elapsed().as_secs_f64());
            c
        }
    };
    let bytes = std::fs::metadata(&path).expect("the report").len();
    Report {
        label,
        path,
        tests,
        bytes,
        counts,
    }
}

// ----------------------------------------------------------------- running

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn dry_run(path: &Path) -> Command {
    let mut c = Command::new(DORAMETER);
    c.arg("junit")
        .arg(path)
        .args(["--dry-run", "--format", "json"]);
    c
}

fn dorameter_counts(json: &str) -> Counts {
    let v: serde_json::Value = serde_json::from_str(json).expect("dorameter's JSON");
    let n = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_else(|| panic!("no {k} in {json:.400}"))
    };
    // The exact count: the `flaky` list itself stops at the names budget.
    let flaky = n("flaky_count");
    Counts {
        runs: n("runs"),
        passed: n("passed"),
        failed: n("failed"),
        errored: n("errored"),
        skipped: n("skipped"),
        flaky,
    }
}

/// The floor: a bare quick-xml event loop, counting Start and Empty events.
fn floor(path: &Path) -> (Duration, u64) {
    let t = Instant::now();
    let file = File::open(path).expect("open the report");
    let mut reader = Reader::from_reader(BufReader::with_capacity(64 * 1024, file));
    let mut buf = Vec::with_capacity(4096);
    let mut elements = 0u64;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(_) | Event::Empty(_)) => elements += 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("quick-xml: {e}"),
        }
        buf.clear();
    }
    (t.elapsed(), elements)
}

struct Row {
    what: String,
    value: String,
    baseline: String,
    ratio: String,
    target: String,
    pass: bool,
}

fn print_table(rows: &[Row]) {
    let head = [
        "measurement",
        "dorameter",
        "baseline",
        "ratio",
        "target",
        "result",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.what.clone(),
                r.value.clone(),
                r.baseline.clone(),
                r.ratio.clone(),
                r.target.clone(),
                if r.pass { "PASS".into() } else { "FAIL".into() },
            ]
        })
        .collect();
    let mut w = head.map(str::len);
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let parts: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<width$}", width = w[i]))
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    println!("{}", line(&head.map(String::from)));
    println!(
        "|{}|",
        w.iter()
            .map(|n| "-".repeat(n + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for c in &cells {
        println!("{}", line(c));
    }
}

fn main() {
    let s = Settings::from_env();
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data");
    std::fs::create_dir_all(&data).expect("create target/bench-data");
    let main = report(&data, "main", s.tests);
    let small = report(&data, "small", s.tests / 16);
    let large = s.large.then(|| report(&data, "large", s.tests * 32 / 5));
    for r in [Some(&small), Some(&main), large.as_ref()]
        .into_iter()
        .flatten()
    {
        println!(
            "{} report: {} ({} test cases, {}; {})",
            r.label,
            r.path.display(),
            r.tests,
            mb(r.bytes),
            counts_line(&r.counts)
        );
    }
    println!("dorameter: {DORAMETER}\nruns per side: {}\n", s.runs);
    let mut rows = Vec::new();

    // Warm the page cache and check dorameter's counts once.
    let (_, json) = timed(&mut dry_run(&main.path));
    let got = dorameter_counts(&json);
    assert_eq!(
        got, main.counts,
        "dorameter's counts differ from the generator's"
    );

    let mut dorameter_times = Vec::new();
    if s.wants("python") {
        let script = data.join("junit_iterparse.py");
        std::fs::write(&script, PYTHON_BASELINE).expect("write the Python baseline");
        let mut py_times = Vec::new();
        for i in 0..s.runs {
            let mut py = || {
                let (t, out) = timed(Command::new("python3").arg(&script).arg(&main.path));
                assert_eq!(
                    parse_counts(out.trim()),
                    Some(main.counts),
                    "Python's counts: {out}"
                );
                py_times.push(t);
            };
            let mut dm = || dorameter_times.push(timed(&mut dry_run(&main.path)).0);
            if i % 2 == 0 {
                dm();
                py();
            } else {
                py();
                dm();
            }
        }
        let (d, p) = (median(dorameter_times.clone()), median(py_times));
        let ratio = p.as_secs_f64() / d.as_secs_f64();
        rows.push(Row {
            what: format!(
                "junit --dry-run vs Python iterparse, {} ({} tests)",
                mb(main.bytes),
                main.tests
            ),
            value: secs(d),
            baseline: secs(p),
            ratio: format!("{ratio:.1}x faster"),
            target: ">= 5x faster".into(),
            pass: ratio >= 5.0,
        });
    }

    if s.wants("floor") {
        let mut floor_times = Vec::new();
        let mut dm_times = Vec::new();
        for i in 0..s.runs {
            let mut fl = || {
                let (t, n) = floor(&main.path);
                assert!(n as usize > main.tests, "the floor saw {n} elements");
                floor_times.push(t);
            };
            let mut dm = || dm_times.push(timed(&mut dry_run(&main.path)).0);
            if i % 2 == 0 {
                fl();
                dm();
            } else {
                dm();
                fl();
            }
        }
        dorameter_times.extend(&dm_times);
        let (d, f) = (median(dm_times), median(floor_times));
        let ratio = d.as_secs_f64() / f.as_secs_f64();
        rows.push(Row {
            what: format!("junit --dry-run vs bare quick-xml loop, {}", mb(main.bytes)),
            value: secs(d),
            baseline: secs(f),
            ratio: format!("{ratio:.2}x the floor"),
            target: "<= 2x the floor".into(),
            pass: ratio <= 2.0,
        });
    }

    if s.wants("rss") {
        let mut peaks = Vec::new();
        for r in [Some(&small), Some(&main), large.as_ref()]
            .into_iter()
            .flatten()
        {
            let kb = junit_peak_rss_kb(Path::new(DORAMETER), &r.path);
            peaks.push(kb);
            rows.push(Row {
                what: format!(
                    "peak RSS, junit --dry-run, {} report ({})",
                    r.label,
                    mb(r.bytes)
                ),
                value: format!("{:.1} MB", kb as f64 / 1024.0),
                baseline: String::new(),
                ratio: String::new(),
                target: "< 50 MB".into(),
                pass: kb < 50 * 1024,
            });
        }
        // "Independent of size": memory is bounded by constants (the record
        // buffers, the names budget), not by the report. A small report may
        // stay under those bounds; from the main report on, a 6.4x larger
        // file must not need more (within 20 % or 4 MB).
        if let [_, main_kb, large_kb] = peaks[..] {
            let bounded = large_kb <= main_kb + (main_kb / 5).max(4096);
            rows.push(Row {
                what: "peak RSS growth, main -> large report".into(),
                value: format!(
                    "{:.1} -> {:.1} MB",
                    main_kb as f64 / 1024.0,
                    large_kb as f64 / 1024.0
                ),
                baseline: String::new(),
                ratio: format!("{:.2}x", large_kb as f64 / main_kb.max(1) as f64),
                target: "no growth (<= +20 %)".into(),
                pass: bounded,
            });
        }
    }

    if s.wants("sqlite") {
        let mut times = Vec::new();
        for _ in 0..s.runs {
            let dir = tempfile::tempdir().expect("a temp dir");
            let db = dir.path().join("s.db");
            let (t, _) = timed(
                Command::new(DORAMETER)
                    .current_dir(dir.path())
                    .arg("junit")
                    .arg(&main.path)
                    .args(["--service", "bench", "--store"])
                    .arg(format!("sqlite:{}", db.display()))
                    .arg("-q"),
            );
            times.push(t);
        }
        let d = median(times);
        rows.push(Row {
            what: format!(
                "junit into a fresh SQLite store, {} ({} tests)",
                mb(main.bytes),
                main.tests
            ),
            value: secs(d),
            baseline: String::new(),
            ratio: String::new(),
            target: "< 10 s".into(),
            pass: d < Duration::from_secs(10),
        });
    }

    if !dorameter_times.is_empty() {
        let d = median(dorameter_times);
        println!(
            "junit --dry-run on {}: median {} ({:.0} MB/s)\n",
            mb(main.bytes),
            secs(d),
            main.bytes as f64 / 1e6 / d.as_secs_f64()
        );
    }
    print_table(&rows);
    println!("\ncommands:");
    println!(
        "  dorameter: {DORAMETER} junit {} --dry-run --format json",
        main.path.display()
    );
    println!(
        "  python:    python3 {} {}",
        data.join("junit_iterparse.py").display(),
        main.path.display()
    );
    println!(
        "  floor:     in-process quick-xml Reader::read_event_into loop (benches/junit.rs `floor`)"
    );
    println!("  rss:       /usr/bin/time -v {DORAMETER} junit REPORT --dry-run --format json");
    println!(
        "  sqlite:    {DORAMETER} junit {} --service bench --store sqlite:TMP/s.db -q",
        main.path.display()
    );
    let failed = rows.iter().filter(|r| !r.pass).count();
    if failed > 0 {
        println!("\n{failed} target(s) missed");
    }
}
