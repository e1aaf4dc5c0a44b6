//! `cargo bench --bench report_formats`: NUnit 3 and TRX reports of about
//! 160 MB each, shaped as `dotnet test` writes them (NUnit's
//! `--logger nunit`, VSTest's `--logger trx`), read by `dorameter junit
//! --dry-run`: the counts checked against the generator's, the time against
//! Python's `ElementTree.iterparse` counting the same outcomes, and peak
//! RSS (issue 15: these formats stream in bounded memory too).
//!
//! `DORAMETER_BENCH_NUNIT_TESTS` (default 400000) and
//! `DORAMETER_BENCH_TRX_TESTS` (default 136000) set the test cases of each
//! report (about 160 MB each); peak RSS is also measured on a report a
//! quarter that size, to show it does not grow with the file.
//! `DORAMETER_BENCH_RUNS` (default 3) sets the timed runs per side.

#![allow(clippy::print_stdout)]

#[path = "support/bench_env.rs"]
mod bench_env;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use bench_env::{env_num, junit_peak_rss_kb, median, release_binary, timed};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    tests: u64,
    passed: u64,
    failed: u64,
    errored: u64,
    skipped: u64,
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn guid(n: u64, salt: u64) -> String {
    let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xffff,
        n & 0xffff,
        n
    )
}

/// The outcome of test `i`: 90 % pass, 3 % fail, 1 % error, 4 % skip, and
/// the rest pass with output.
fn outcome(rng: &mut Rng) -> &'static str {
    match rng.below(100) {
        0..=2 => "fail",
        3 => "error",
        4..=7 => "skip",
        _ => "pass",
    }
}

const STACK: &str = "   at App.Tests.Module.FooTests.Method() in /home/runner/work/app/app/tests/App.Tests/FooTests.cs:line 42\n   at System.RuntimeMethodHandle.InvokeMethod(Object target, Void** arguments, Signature sig, Boolean isConstructor)\n   at System.Reflection.MethodBaseInvoker.InvokeWithNoArgs(Object obj, BindingFlags invokeAttr)";
const OUTPUT: &str = "info: Microsoft.Hosting.Lifetime[0]\n      Application started. Press Ctrl+C to shut down.\ninfo: Microsoft.Hosting.Lifetime[0]\n      Hosting environment: Development\n";

fn nunit(path: &Path, tests: usize) -> std::io::Result<Counts> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut c = Counts::default();
    writeln!(
        out,
        r#"<?xml version="1.0" encoding="utf-8" standalone="no"?>"#
    )?;
    writeln!(
        out,
        r#"<test-run id="0" testcasecount="{tests}" result="Failed" engine-version="3.16.3.0" clr-version="8.0.1">"#
    )?;
    writeln!(
        out,
        r#"<command-line><![CDATA[dotnet test --logger nunit]]></command-line>"#
    )?;
    writeln!(
        out,
        r#"<test-suite type="Assembly" id="0-1" name="App.Tests.dll" fullname="/src/App.Tests.dll" runstate="Runnable" testcasecount="{tests}" result="Failed">"#
    )?;
    writeln!(
        out,
        r#"<environment framework-version="3.14.0.0" clr-version="8.0.1" os-version="Unix 6.5.0" platform="Unix" cwd="/home/runner/work/app/app" machine-name="runner" user="runner" user-domain="runner" culture="en-US" uiculture="en-US" os-architecture="x64" />"#
    )?;
    writeln!(
        out,
        r#"<settings><setting name="DefaultTimeout" value="0" /><setting name="NumberOfTestWorkers" value="2" /></settings>"#
    )?;
    let mut i = 0;
    let mut fixture = 0;
    while i < tests {
        let class = format!("App.Tests.Module{}.Foo{fixture}Tests", fixture % 50);
        writeln!(
            out,
            r#"<test-suite type="TestFixture" id="0-{fixture}" name="Foo{fixture}Tests" fullname="{class}" classname="{class}" runstate="Runnable" testcasecount="40" result="Passed">"#
        )?;
        for j in 0..40.min(tests - i) {
            let name = format!("Method{j}");
            let common = format!(
                r#"id="0-{i}" name="{name}" fullname="{class}.{name}" methodname="{name}" classname="{class}" runstate="Runnable" seed="{}" start-time="2026-11-29T10:00:00.0000000Z" end-time="2026-11-29T10:00:00.0120000Z" duration="0.{:03}" asserts="1""#,
                rng.below(1 << 30),
                rng.below(1000)
            );
            c.tests += 1;
            match outcome(&mut rng) {
                "fail" | "error" => {
                    // NUnit 3 writes an exception as Failed, label Error:
                    // counted failed, as the action counts it.
                    c.failed += 1;
                    writeln!(
                        out,
                        r#"<test-case {common} result="Failed"><failure><message><![CDATA[  Expected: 200
  But was:  503
]]></message><stack-trace><![CDATA[{STACK}]]></stack-trace></failure><output><![CDATA[{OUTPUT}]]></output><assertions><assertion result="Failed"><message><![CDATA[  Expected: 200]]></message><stack-trace><![CDATA[{STACK}]]></stack-trace></assertion></assertions></test-case>"#
                    )?;
                }
                "skip" => {
                    c.skipped += 1;
                    writeln!(
                        out,
                        r#"<test-case {common} result="Skipped" label="Ignored"><properties><property name="_SKIPREASON" value="flaky on CI" /></properties><reason><message><![CDATA[flaky on CI]]></message></reason></test-case>"#
                    )?;
                }
                _ => {
                    c.passed += 1;
                    if rng.below(10) == 0 {
                        writeln!(
                            out,
                            r#"<test-case {common} result="Passed"><output><![CDATA[{OUTPUT}]]></output></test-case>"#
                        )?;
                    } else {
                        writeln!(out, r#"<test-case {common} result="Passed" />"#)?;
                    }
                }
            }
            i += 1;
        }
        writeln!(out, "</test-suite>")?;
        fixture += 1;
    }
    writeln!(out, "</test-suite>\n</test-run>")?;
    out.flush()?;
    Ok(c)
}

fn trx(path: &Path, tests: usize) -> std::io::Result<Counts> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = Rng(0x0fed_cba9_8765_4321);
    let mut c = Counts::default();
    let list = "8c84fa94-04c1-424b-9868-57a2d4851a1d";
    let class = |i: usize| format!("App.Tests.Module{}.Foo{}Tests", (i / 40) % 50, i / 40);
    writeln!(out, r#"<?xml version="1.0" encoding="utf-8"?>"#)?;
    writeln!(
        out,
        r#"<TestRun id="{}" name="runner@runner 2026-11-29 10:00:00" runUser="runner" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">"#,
        guid(0, 7)
    )?;
    writeln!(
        out,
        r#"  <Times creation="2026-11-29T10:00:00.0000000+00:00" queuing="2026-11-29T10:00:00.0000000+00:00" start="2026-11-29T10:00:00.0000000+00:00" finish="2026-11-29T10:05:00.0000000+00:00" />"#
    )?;
    writeln!(
        out,
        r#"  <TestSettings name="default" id="{}"><Deployment runDeploymentRoot="runner_runner_2026-11-29_10_00_00" /></TestSettings>"#,
        guid(1, 7)
    )?;
    writeln!(out, "  <Results>")?;
    for i in 0..tests {
        let name = format!("{}.Method{}", class(i), i % 40);
        let head = format!(
            r#"<UnitTestResult executionId="{}" testId="{}" testName="{name}" computerName="runner" duration="00:00:00.{:07}" startTime="2026-11-29T10:00:00.0000000+00:00" endTime="2026-11-29T10:00:00.0120000+00:00" testType="13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b""#,
            guid(i as u64, 1),
            guid(i as u64, 2),
            rng.below(10_000_000)
        );
        c.tests += 1;
        match outcome(&mut rng) {
            "fail" => {
                c.failed += 1;
                writeln!(
                    out,
                    r#"    {head} outcome="Failed" testListId="{list}" relativeResultsDirectory="{}"><Output><StdOut>{OUTPUT}</StdOut><ErrorInfo><Message>Assert.Equal() Failure: Values differ
Expected: 200
Actual:   503</Message><StackTrace>{STACK}</StackTrace></ErrorInfo></Output></UnitTestResult>"#,
                    guid(i as u64, 1)
                )?;
            }
            "error" => {
                c.errored += 1;
                writeln!(
                    out,
                    r#"    {head} outcome="Error" testListId="{list}" relativeResultsDirectory="{}"><Output><ErrorInfo><Message>System.NullReferenceException : Object reference not set to an instance of an object.</Message><StackTrace>{STACK}</StackTrace></ErrorInfo></Output></UnitTestResult>"#,
                    guid(i as u64, 1)
                )?;
            }
            "skip" => {
                c.skipped += 1;
                writeln!(
                    out,
                    r#"    {head} outcome="NotExecuted" testListId="{list}" relativeResultsDirectory="{}"><Output><StdOut>Test skipped: flaky on CI</StdOut></Output></UnitTestResult>"#,
                    guid(i as u64, 1)
                )?;
            }
            _ => {
                c.passed += 1;
                if rng.below(10) == 0 {
                    writeln!(
                        out,
                        r#"    {head} outcome="Passed" testListId="{list}" relativeResultsDirectory="{}"><Output><StdOut>{OUTPUT}</StdOut></Output></UnitTestResult>"#,
                        guid(i as u64, 1)
                    )?;
                } else {
                    writeln!(
                        out,
                        r#"    {head} outcome="Passed" testListId="{list}" relativeResultsDirectory="{}" />"#,
                        guid(i as u64, 1)
                    )?;
                }
            }
        }
    }
    writeln!(out, "  </Results>\n  <TestDefinitions>")?;
    for i in 0..tests {
        writeln!(
            out,
            r#"    <UnitTest name="{}.Method{}" storage="/home/runner/work/app/app/tests/app.tests/bin/debug/net8.0/app.tests.dll" id="{}"><Execution id="{}" /><TestMethod codeBase="/home/runner/work/app/app/tests/App.Tests/bin/Debug/net8.0/App.Tests.dll" adapterTypeName="executor://xunit/VsTestRunner2/netcoreapp" className="{}" name="Method{}" /></UnitTest>"#,
            class(i),
            i % 40,
            guid(i as u64, 2),
            guid(i as u64, 1),
            class(i),
            i % 40
        )?;
    }
    writeln!(out, "  </TestDefinitions>\n  <TestEntries>")?;
    for i in 0..tests {
        writeln!(
            out,
            r#"    <TestEntry testId="{}" executionId="{}" testListId="{list}" />"#,
            guid(i as u64, 2),
            guid(i as u64, 1)
        )?;
    }
    writeln!(
        out,
        "  </TestEntries>\n  <TestLists><TestList name=\"Results Not in a List\" id=\"{list}\" /></TestLists>"
    )?;
    writeln!(
        out,
        r#"  <ResultSummary outcome="Failed"><Counters total="{tests}" executed="{}" passed="{}" failed="{}" error="{}" /></ResultSummary>"#,
        c.tests - c.skipped,
        c.passed,
        c.failed,
        c.errored
    )?;
    writeln!(out, "</TestRun>")?;
    out.flush()?;
    Ok(c)
}

/// Python's `iterparse`, counting the same outcomes per test element.
const PYTHON: &str = r#"
import sys, xml.etree.ElementTree as ET
kind, path = sys.argv[1], sys.argv[2]
c = {"tests": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0}
ns = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"
root = None
for ev, el in ET.iterparse(path, events=("start", "end")):
    if ev == "start":
        if root is None:
            root = el
        continue
    if kind == "nunit" and el.tag == "test-case":
        c["tests"] += 1
        r = el.get("result")
        if r in ("Skipped", "Ignored", "NotRunnable", "Inconclusive") or el.get("runstate") in ("Skipped", "Ignored", "NotRunnable"):
            c["skipped"] += 1
        elif el.find("failure") is not None:
            c["errored" if r == "Error" else "failed"] += 1
        else:
            c["passed"] += 1
        el.clear()
    elif kind == "nunit" and el.tag == "test-suite":
        el.clear()
    elif kind == "trx" and el.tag == ns + "UnitTestResult":
        c["tests"] += 1
        o = el.get("outcome")
        c["passed" if o == "Passed" else "failed" if o == "Failed" else "errored" if o in (None, "Error") else "skipped"] += 1
        el.clear()
    elif kind == "trx" and el.tag in (ns + "UnitTest", ns + "TestEntry"):
        el.clear()
        root.clear()
print(" ".join(f"{k}={v}" for k, v in c.items()))
"#;

fn ours(json: &str) -> Counts {
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    let n = |k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{k} in {json:.300}"))
    };
    Counts {
        tests: n("tests"),
        passed: n("passed"),
        failed: n("failed"),
        errored: n("errored"),
        skipped: n("skipped"),
    }
}

fn theirs(line: &str) -> Counts {
    let n = |k: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {line}"))
    };
    Counts {
        tests: n("tests"),
        passed: n("passed"),
        failed: n("failed"),
        errored: n("errored"),
        skipped: n("skipped"),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs = env_num("DORAMETER_BENCH_RUNS", 3).max(1);
    let bin = release_binary();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&data).expect("bench-data");
    let script = data.join("formats_iterparse.py");
    std::fs::write(&script, PYTHON).expect("script");
    println!(
        "| report | size | dorameter | Python iterparse | ratio | peak RSS | peak RSS, a quarter the size |\n|---|---|---|---|---|---|---|"
    );
    type Gen = fn(&Path, usize) -> std::io::Result<Counts>;
    for (kind, ext, generate, tests) in [
        (
            "nunit",
            "xml",
            nunit as Gen,
            env_num("DORAMETER_BENCH_NUNIT_TESTS", 400_000),
        ),
        (
            "trx",
            "trx",
            trx as Gen,
            env_num("DORAMETER_BENCH_TRX_TESTS", 136_000),
        ),
    ] {
        let quarter = data.join(format!("{kind}-v1-{}.{ext}", tests / 4));
        let want_quarter = generate(&quarter, tests / 4).expect("generate");
        let path = data.join(format!("{kind}-v1-{tests}.{ext}"));
        let want = generate(&path, tests).expect("generate");
        let size = std::fs::metadata(&path).expect("size").len() as f64 / 1e6;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let mut ours_cmd = Command::new(&bin);
            ours_cmd
                .arg("junit")
                .arg(&path)
                .args(["--dry-run", "--format", "json"]);
            let mut py = Command::new("python3");
            py.arg(&script).arg(kind).arg(&path);
            // Alternated: A B, B A, ...
            let order: [bool; 2] = if run % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for first in order {
                if first {
                    let (t, out) = timed(&mut ours_cmd);
                    assert_eq!(ours(&out), want, "dorameter's {kind} counts");
                    a.push(t);
                } else {
                    let (t, out) = timed(&mut py);
                    assert_eq!(theirs(&out), want, "Python's {kind} counts");
                    b.push(t);
                }
            }
        }
        let (a, b) = (median(a), median(b));
        let rss = junit_peak_rss_kb(&bin, &path) as f64 / 1024.0;
        let mut check = Command::new(&bin);
        check
            .arg("junit")
            .arg(&quarter)
            .args(["--dry-run", "--format", "json"]);
        assert_eq!(
            ours(&timed(&mut check).1),
            want_quarter,
            "dorameter's {kind} counts"
        );
        let rss_quarter = junit_peak_rss_kb(&bin, &quarter) as f64 / 1024.0;
        println!(
            "| {kind} ({} tests) | {size:.1} MB | {:.3} s | {:.3} s | {:.1}x faster | {rss:.1} MB | {rss_quarter:.1} MB |",
            tests,
            a.as_secs_f64(),
            b.as_secs_f64(),
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
}
