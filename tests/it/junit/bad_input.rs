//! Bad input: each broken or hostile file reported on its own, the good file
//! beside it still counted.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::support::*;
use crate::util::*;

/// `junit good.xml NAME --dry-run EXTRA...` with `bytes` in NAME.
fn with_bad_file(name: &str, bytes: &[u8], extra: &[&str]) -> (Dm, Run, Duration) {
    let dm = Dm::default();
    write(&dm, "good.xml", GOOD);
    write(&dm, name, bytes);
    let mut args = vec!["junit", "good.xml", name, "--dry-run"];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let run = dm.run(&args);
    (dm, run, start.elapsed())
}

/// The good file counted, `name` listed in `errors` and warned about, no
/// panic, exit 0, and exit 3 under `--fail-on-failure` (an unreadable
/// file fails the gate). Returns the error message.
#[track_caller]
fn assert_rejected_beside_good(name: &str, bytes: &[u8], limit: Duration) -> String {
    let (_dm, run, elapsed) = with_bad_file(name, bytes, &[]);
    run.assert_no_panic();
    assert!(
        elapsed < limit,
        "{name}: took {elapsed:?} (limit {limit:?})"
    );
    assert_eq!(
        run.code, 0,
        "{name}: a readable report beside it: exit 0: {run:#?}"
    );
    let v = out_json(&run);
    assert_eq!(
        (
            u(&v, "files"),
            u(&v, "tests"),
            u(&v, "runs"),
            u(&v, "passed")
        ),
        (1, 2, 2, 2),
        "{name}: only the good file counts: {v}"
    );
    assert_eq!(
        (u(&v, "failed"), u(&v, "errored"), u(&v, "skipped")),
        (0, 0, 0),
        "{name}: {v}"
    );
    let errors = arr(&v, "errors");
    assert_eq!(errors.len(), 1, "{name}: one unreadable file: {v}");
    assert_eq!(errors[0]["file"], name, "{name}: {v}");
    let message = errors[0]["message"].as_str().expect("message").to_string();
    assert!(message.trim().len() > 5, "{name}: a message: {v}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("warning:") && l.contains(name)),
        "{name}: a warning names the file: {run:#?}"
    );
    let (_dm, gated, _) = with_bad_file(name, bytes, &["--fail-on-failure"]);
    gated.assert_no_panic();
    assert_eq!(
        gated.code, 3,
        "{name}: --fail-on-failure with an unreadable file: {gated:#?}"
    );
    assert_eq!(
        u(&out_json(&gated), "tests"),
        2,
        "{name}: output still printed"
    );
    message
}

const FAST: Duration = Duration::from_secs(5);

#[test]
fn junit_bad_input_truncated() {
    let m = assert_rejected_beside_good("truncated.xml", TRUNCATED.as_bytes(), FAST);
    assert!(
        m.contains(r#"testsuites/testsuite[0]("x")/testcase[3]"#),
        "the element path: {m}"
    );
    assert!(m.contains("truncated") || m.contains("end of file"), "{m}");
    let offset: u64 = m
        .split("byte ")
        .nth(1)
        .and_then(|s| {
            s.trim_end_matches(')')
                .split(|c: char| !c.is_ascii_digit())
                .next()
        })
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("the byte offset: {m}"));
    assert!(
        offset > 0 && offset <= TRUNCATED.len() as u64,
        "offset {offset} inside the {}-byte file: {m}",
        TRUNCATED.len()
    );
}

#[test]
fn junit_bad_input_not_xml() {
    let m = assert_rejected_beside_good(
        "log.xml",
        b"collected 3 items\n\ntest_a.py ... PASSED\n",
        FAST,
    );
    assert!(m.contains("XML") || m.contains("JUnit"), "{m}");
    // JSON is read as CTRF, whatever the file's name.
    let m = assert_rejected_beside_good(
        "report.xml",
        br#"{"tests": [{"name": "a", "ok": true}]}"#,
        FAST,
    );
    assert!(m.contains("not a CTRF report"), "{m}");
    let m = assert_rejected_beside_good(
        "binary.xml",
        &[
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xff, 0x00, 0x80,
        ],
        FAST,
    );
    assert!(!m.is_empty());
}

#[test]
fn junit_bad_input_html_root() {
    let m = assert_rejected_beside_good(
        "index.xml",
        b"<html><head><title>404</title></head><body><p>Not Found</p></body></html>",
        FAST,
    );
    assert!(m.contains("html"), "names the root: {m}");
    assert!(m.contains("JUnit") || m.contains("testsuite"), "{m}");
}

#[test]
fn junit_bad_input_utf16() {
    let text = GOOD.replace("UTF-8", "UTF-16");
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let m = assert_rejected_beside_good("utf16.xml", &bytes, FAST);
    assert!(m.contains("UTF-16"), "{m}");
}

#[test]
fn junit_bad_input_empty_file() {
    let m = assert_rejected_beside_good("empty.xml", b"", FAST);
    assert!(m.contains("empty") || m.contains("no XML"), "{m}");
}

#[test]
fn junit_bad_input_deeply_nested_suites() {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuites>");
    for i in 0..100_000 {
        xml.push_str(&format!("<testsuite name=\"n{i}\">"));
    }
    xml.push_str("<testcase classname=\"deep\" name=\"t\"/>");
    for _ in 0..100_000 {
        xml.push_str("</testsuite>");
    }
    xml.push_str("</testsuites>\n");
    let m = assert_rejected_beside_good("deep.xml", xml.as_bytes(), FAST);
    assert!(m.contains("nested deeper"), "{m}");
}

/// A DOCTYPE may be refused or ignored; what matters is that nothing is
/// fetched or expanded. The good file counts either way.
#[track_caller]
fn assert_entities_inert(name: &str, xml: &str, forbidden: &str) -> Value {
    let (_dm, run, elapsed) = with_bad_file(name, xml.as_bytes(), &[]);
    run.assert_no_panic();
    assert!(elapsed < FAST, "{name}: took {elapsed:?}");
    assert_eq!(run.code, 0, "{name}: {run:#?}");
    assert!(
        !run.stdout.contains(forbidden) && !run.stderr.contains(forbidden),
        "{name}: the entity was expanded ({forbidden:?} in the output): {run:#?}"
    );
    assert!(
        run.stdout.len() < 64 * 1024,
        "{name}: {} bytes of output",
        run.stdout.len()
    );
    let v = out_json(&run);
    assert_eq!(u(&v, "passed"), 2, "{name}: the good file counts: {v}");
    let errors = arr(&v, "errors");
    if errors.is_empty() {
        // Parsed, the entity left as it was: one more (failed) test.
        assert_eq!(
            (u(&v, "files"), u(&v, "tests"), u(&v, "failed")),
            (2, 3, 1),
            "{name}: {v}"
        );
    } else {
        assert_eq!((u(&v, "files"), u(&v, "tests")), (1, 2), "{name}: {v}");
        assert_eq!(errors[0]["file"], name, "{v}");
    }
    v
}

#[test]
fn junit_bad_input_xxe_is_never_resolved() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(
        passwd.contains("root:"),
        "the probe relies on /etc/passwd holding root:"
    );
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
        <testsuite name=\"x\"><testcase classname=\"xxe\" name=\"&xxe;\">\
        <failure message=\"&xxe;\">&xxe;</failure></testcase></testsuite>\n";
    let v = assert_entities_inert("xxe.xml", xml, "root:");
    if let Some(f) = arr(&v, "failures").first() {
        assert!(f["id"].as_str().unwrap_or("").starts_with("xxe::"), "{v}");
    }
    // A parameter entity and an external DTD: nothing is fetched either.
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite SYSTEM \"file:///etc/passwd\" [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>\n\
        <testsuite name=\"x\"><testcase classname=\"xxe\" name=\"t\"><failure message=\"m\">body</failure></testcase></testsuite>\n";
    assert_entities_inert("xxe-param.xml", xml, "root:");
}

#[test]
fn junit_bad_input_entity_bomb_is_not_expanded() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str(
        "]>\n<testsuite name=\"x\"><testcase classname=\"bomb\" name=\"&lol9;\">\
         <failure message=\"&lol9;\">&lol9;&lol9;&lol9;</failure></testcase></testsuite>\n",
    );
    assert_entities_inert("bomb.xml", &xml, "lollollollol");
}

#[test]
fn junit_huge_system_out_streams_and_is_not_stored() {
    let dm = Dm::default();
    write(&dm, "good.xml", GOOD);
    let path = cwd(&dm).join("huge.xml");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        f.write_all(
            b"<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"big\">\
              <testcase classname=\"big\" name=\"noisy\"><failure type=\"AssertionError\">",
        )
        .unwrap();
        let trace = "at com.example.Big.noisy(Big.java:42)\n".repeat(1 << 15); // ~1.2 MB
        f.write_all(trace.as_bytes()).unwrap();
        f.write_all(b"</failure><system-out>").unwrap();
        let mut line = b"log line with &amp; entities and <![CDATA[ <raw> ]]> text ".to_vec();
        line.resize(1023, b'y');
        line.push(b'\n');
        let chunk = line.repeat(1024); // 1 MiB
        for _ in 0..64 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"</system-out></testcase><testcase classname=\"big\" name=\"after\"/>")
            .unwrap();
        // Bazel puts the whole test log in the suite's system-out: 20 MiB,
        // above any per-event buffer a parser might keep.
        f.write_all(b"<system-out>").unwrap();
        for _ in 0..20 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"</system-out></testsuite></testsuites>\n")
            .unwrap();
        f.flush().unwrap();
    }
    assert!(std::fs::metadata(&path).unwrap().len() > 84 << 20);
    let start = Instant::now();
    let run = dm.run(&[
        "junit",
        "good.xml",
        "huge.xml",
        "--service",
        "api",
        "--id",
        "huge",
    ]);
    let elapsed = start.elapsed();
    run.assert_ok();
    assert!(
        elapsed < Duration::from_secs(20),
        "an 85 MB report took {elapsed:?}"
    );
    let v = out_json(&run);
    assert_eq!(
        (
            u(&v, "files"),
            u(&v, "tests"),
            u(&v, "passed"),
            u(&v, "failed")
        ),
        (2, 4, 3, 1),
        "{v}"
    );
    assert!(arr(&v, "errors").is_empty(), "{v}");
    assert!(
        run.stdout.len() < 32 * 1024,
        "output stays small: {} bytes",
        run.stdout.len()
    );
    let failures = arr(&v, "failures");
    assert_eq!(failures.len(), 1, "{v}");
    assert_eq!(failures[0]["id"], "big::noisy");
    let msg = failures[0]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("Big.noisy"),
        "the failure body is the message: {msg:.200}"
    );
    assert!(
        msg.len() <= 8 * 1024,
        "the message is capped: {} bytes",
        msg.len()
    );
    assert!(!msg.contains("log line"), "system-out is not the message");
    if let Some(n) = sqlite(
        &dm.store_path(),
        "SELECT max(length(message)), sum(message LIKE '%log line%') FROM test_results",
    ) {
        let (len, out) = n.split_once('|').expect("two columns");
        let len: usize = len.parse().expect("length");
        assert!(
            len > 0 && len <= 8 * 1024,
            "stored message capped at a few KB: {len}"
        );
        assert_eq!(out, "0", "system-out is not stored");
    }
}

/// Suite names are repeated in every error's element path: a hostile file
/// of nested suites with long names must not turn into a message (and a
/// warning line, and memory) as large as the file.
#[test]
fn junit_error_messages_stay_small_with_long_suite_names() {
    let long = "N".repeat(200 * 1024);
    let mut xml = String::from("<testsuites>");
    for i in 0..100 {
        xml.push_str(&format!("<testsuite name=\"{long}{i}\">"));
    }
    xml.push_str("<testcase name=\"t\"><failure>cut here");
    assert!(xml.len() > 20_000_000);
    let start = Instant::now();
    let (_dm, run, _) = with_bad_file("long-names.xml", xml.as_bytes(), &[]);
    run.assert_no_panic();
    assert!(start.elapsed() < FAST, "took {:?}", start.elapsed());
    assert_eq!(
        run.code,
        0,
        "the good file is readable: {}",
        &run.stderr[..run.stderr.len().min(500)]
    );
    let v = out_json(&run);
    assert_eq!(u(&v, "tests"), 2);
    let message = arr(&v, "errors")[0]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(message.contains("testcase[0]"), "{:.300}", message);
    assert!(
        message.len() <= 64 * 1024,
        "an error message of {} bytes for a {} byte file: {:.200}…",
        message.len(),
        xml.len(),
        message
    );
    assert!(
        run.stderr.len() <= 64 * 1024,
        "{} bytes of warnings on stderr",
        run.stderr.len()
    );
}
