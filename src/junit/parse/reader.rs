//! The entry point and the quick-xml event loop: checks the encoding, then
//! reads events and hands each tag to the element path, trying the
//! `<testcase>` fast path right after every tag.

use std::io::{BufRead, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

use super::ctrf::parse_ctrf;
use super::dialect::{Dialect, DialectState};
use super::element::{Case, Frame, Held, OpenSuite, deliver};
use crate::junit::input::{Input, TooLarge};
use crate::junit::model::{Entry, Outcome, Unlisted};

#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest single tag, comment or text node between elements.
    pub max_event_bytes: u64,
    /// Failure messages are cut to this many bytes.
    pub message_bytes: usize,
    /// Deepest element nesting accepted.
    pub max_depth: usize,
    /// Reads plain `<testcase .../>` elements straight from the input (the
    /// default). Off, every element goes through quick-xml; the tests and the
    /// fuzzers check that both read every report alike.
    pub fast_testcases: bool,
    /// Keeps a failure's body (its stack trace) as the entry's `detail`
    /// when its message came from the attribute: only to annotate where it
    /// failed (off by default: reading it costs time on every failure).
    pub keep_detail: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 16 << 20,
            message_bytes: 4096,
            max_depth: 256,
            fast_testcases: true,
            keep_detail: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {path} (byte {offset})")]
pub struct ParseError {
    /// Element path of the innermost open element, `/` when none.
    pub path: String,
    pub offset: u64,
    pub message: String,
    /// Well-formed so far, but the root element is not a test report's
    /// (`pom.xml`, `phpunit.xml`): a file a directory or glob picked up by
    /// accident, rather than a broken report.
    pub not_a_report: bool,
}

/// What one file held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    /// `<testcase>` elements.
    pub testcases: u64,
    /// `<testsuite>` elements.
    pub suites: u64,
    /// Tests declared by suites that hold neither a `<testcase>` nor a
    /// nested suite (see `element::OpenSuite`), summed.
    pub unlisted: Unlisted,
    /// How many suites `unlisted` comes from, and the first one's name.
    pub unlisted_suites: u64,
    pub unlisted_suite: Option<String>,
}

/// The state of one report being read; the element path, the fast path and
/// the raw skipper each add their part of its methods.
pub(super) struct Parser<'l> {
    pub(super) limits: &'l Limits,
    pub(super) frames: Vec<Frame>,
    /// The open (non-empty) `<testsuite>`s, innermost last.
    pub(super) open_suites: Vec<OpenSuite>,
    pub(super) case: Case,
    pub(super) stats: FileStats,
    pub(super) seen_root: bool,
    /// pytest wrote this file: see `Held`.
    pub(super) pytest: bool,
    pub(super) held: Option<Held>,
    /// The report's format, told by its root element.
    pub(super) dialect: Dialect,
    pub(super) d: DialectState,
}

/// Parses one report, calling `on_entry` for each `<testcase>` in order.
pub fn parse<R: Read>(
    source: R,
    limits: &Limits,
    on_entry: &mut dyn FnMut(&Entry<'_>),
) -> Result<FileStats, ParseError> {
    let mut input = Input::new(source, limits.max_event_bytes);
    let err0 = |message: String| ParseError {
        path: "/".into(),
        offset: 0,
        message,
        not_a_report: false,
    };
    let head = input
        .peek(4)
        .map_err(|e| err0(format!("cannot read the file: {e}")))?
        .to_vec();
    if head.starts_with(&[0xFF, 0xFE])
        || head.starts_with(&[0xFE, 0xFF])
        || head.starts_with(&[0x3C, 0x00])
        || head.starts_with(&[0x00, 0x3C])
    {
        return Err(err0("the file is UTF-16 encoded; JUnit reports must be UTF-8 (convert with `iconv -f UTF-16 -t UTF-8`)".into()));
    }
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        input.consume(3);
    }
    // A JSON object is a CTRF report; it meters each test itself.
    let first = input
        .peek(4096)
        .map_err(|e| err0(format!("cannot read the file: {e}")))?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    if first == Some(b'{') {
        input.set_limiting(false);
        return parse_ctrf(input, limits, on_entry);
    }
    let mut reader = Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut parser = Parser {
        limits,
        frames: Vec::new(),
        open_suites: Vec::new(),
        case: Case::default(),
        stats: FileStats::default(),
        seen_root: false,
        pytest: false,
        held: None,
        dialect: Dialect::JUnit,
        d: DialectState::default(),
    };
    let mut buf = Vec::with_capacity(4096);
    // Right after a tag quick-xml has consumed exactly that tag, so the next
    // plain `<testcase .../>` can be read straight from the input.
    let mut after_tag = false;
    loop {
        if after_tag && limits.fast_testcases && parser.dialect == Dialect::JUnit {
            while parser.fast_testcase(&mut reader, on_entry) {}
        }
        reader.get_mut().mark();
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => return Err(parser.error(reader.error_position(), describe(&e))),
        };
        after_tag = matches!(event, Event::Start(_) | Event::Empty(_) | Event::End(_));
        match event {
            Event::Start(e) => parser.open(&mut reader, &e, false, on_entry)?,
            Event::Empty(e) => parser.open(&mut reader, &e, true, on_entry)?,
            Event::End(_) => parser.close(&reader, on_entry)?,
            Event::Eof => break,
            // DOCTYPE (never resolved), text between elements, comments,
            // processing instructions, entity references: nothing to count.
            _ => {}
        }
        if buf.capacity() > 1 << 20 {
            buf = Vec::with_capacity(4096);
        }
    }
    if !parser.frames.is_empty() {
        let open = parser
            .frames
            .last()
            .map(|f| f.element.clone())
            .unwrap_or_default();
        return Err(parser.error(
            reader.buffer_position(),
            format!("unexpected end of file: <{open}> is not closed (truncated report?)"),
        ));
    }
    if !parser.seen_root {
        return Err(parser.error(
            reader.buffer_position(),
            "no XML element found (empty file?)".into(),
        ));
    }
    if let Some(h) = parser.held.take() {
        deliver(
            &h.classname,
            &h.name,
            &[Outcome::Passed],
            &h.time,
            None,
            on_entry,
        );
    }
    Ok(parser.stats)
}

fn describe(e: &quick_xml::Error) -> String {
    if let quick_xml::Error::Io(io) = e {
        if let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<TooLarge>()) {
            return t.to_string();
        }
        return format!("cannot read the file: {io}");
    }
    format!("malformed XML: {e}")
}

#[cfg(test)]
mod tests {
    use crate::junit::Outcome::*;
    use crate::junit::parse::test_support::run;

    #[test]
    fn nested_suites_cdata_entities_bom_and_non_bmp() {
        let xml = "\u{feff}<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"outer\"><testsuite name=\"inner &amp; co\">\
            <testcase name=\"a &lt;1&gt; 😀\" time=\"0,03\"/>\
            <testcase classname=\"\" name=\"b\" time=\"2,120.532\"><failure><![CDATA[boom <here> & ]]>&amp; more</failure></testcase>\
            </testsuite><testcase classname=\"k\" name=\"c\"><skipped/><system-out>x</system-out></testcase></testsuite></testsuites>";
        let seen = run(xml.as_bytes()).unwrap();
        assert_eq!(seen[0].id, "inner & co::a <1> 😀");
        assert_eq!(seen[0].time, Some(0.03));
        assert_eq!(seen[1].id, "inner & co::b");
        assert_eq!(seen[1].attempts, [Failed]);
        assert_eq!(seen[1].time, Some(2120.532));
        assert_eq!(seen[1].message.as_deref(), Some("boom <here> & & more"));
        assert_eq!(seen[2].id, "k::c");
        assert_eq!(seen[2].attempts, [Skipped]);
    }

    #[test]
    fn never_resolves_external_entities_or_expands_bombs() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite name="s"><testcase name="&xxe;"/></testsuite>"#;
        let seen = run(xxe).unwrap();
        assert_eq!(seen[0].id, "s::&xxe;");
        let mut bomb = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for i in 1..10 {
            bomb.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&lol{};", i - 1).repeat(10)
            ));
        }
        bomb.push_str("]><testsuite name=\"s\"><testcase name=\"&lol9;\"/></testsuite>");
        let seen = run(bomb.as_bytes()).unwrap();
        assert_eq!(seen[0].id, "s::&lol9;");
    }

    #[test]
    fn bad_files_name_the_position() {
        let e = run(br#"<testsuites><testsuite name="x"><testcase name="a"/><testcase name="b"/><testcase name="c"/><testcase name="d"><failure>"#).unwrap_err();
        assert_eq!(
            e.path, r#"testsuites/testsuite[0]("x")/testcase[3]/failure"#,
            "{e}"
        );
        assert!(e.message.contains("truncated"), "{e}");
        let e = run(b"").unwrap_err();
        assert!(e.message.contains("no XML element"), "{e}");
        let e = run(b"this is not xml").unwrap_err();
        assert!(
            e.message.contains("no XML element") || e.message.contains("malformed"),
            "{e}"
        );
        let e = run(b"<html><body/></html>").unwrap_err();
        assert!(
            e.message.contains("not a test report") && e.message.contains("<html>"),
            "{e}"
        );
        assert!(e.not_a_report, "{e:?}");
        let e =
            run(b"<?xml version=\"1.0\"?>\n<!-- c --><project><testsuite/></project>").unwrap_err();
        assert!(e.not_a_report && e.message.contains("<project>"), "{e:?}");
        for broken in [
            &b""[..],
            b"this is not xml",
            b"<testsuite name=\"s\"><testcase name=\"a\">",
        ] {
            assert!(!run(broken).unwrap_err().not_a_report, "{broken:?}");
        }
        let e = run(b"\xff\xfe<\x00t\x00").unwrap_err();
        assert!(e.message.contains("UTF-16"), "{e}");
        let e = run(b"<testsuite name=\"s\"><testcase name=\"a\"></testsuite>").unwrap_err();
        assert!(e.message.contains("malformed"), "{e}");
        let deep = "<testsuite name=\"n\">".repeat(100_000);
        let e = run(deep.as_bytes()).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
    }
}
