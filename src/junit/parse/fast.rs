//! The `<testcase>` fast path: most test cases are a plain
//! `<testcase classname=".." name=".." time=".."/>`, read here straight from
//! the input's look-ahead window without quick-xml's event machinery. Anything
//! less plain (entities, odd spacing, a body, a tag past the window) is left
//! to quick-xml, so both read every report alike; the tests and the fuzzers
//! check that they do.

use std::io::{BufRead, Read};

use quick_xml::Reader;

use super::element::{Case, Kind, case_attribute};
use super::reader::Parser;
use crate::junit::input::Input;
use crate::junit::model::Entry;

/// Where the values of the `<testcase>` attributes we use lie in a tag.
#[derive(Default)]
struct CaseAttrs {
    classname: Option<(usize, usize)>,
    name: Option<(usize, usize)>,
    time: Option<(usize, usize)>,
    status: Option<(usize, usize)>,
    file: Option<(usize, usize)>,
    line: Option<(usize, usize)>,
}

/// How a scanned tag ended.
enum TagEnd {
    /// The bytes ran out (quick-xml's attribute text, or a look-ahead window
    /// that cut the tag).
    Open,
    /// Just past `/>`.
    Empty(usize),
}

/// Bytes of an XML name as a plain key may spell it.
const NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-');
        c += 1;
    }
    t
};

/// Scans the `key="value"` pairs of a `<testcase>` tag from just after its
/// name, without allocation. `None` when the syntax is anything but plain: a
/// key that is not a plain name, no space between attributes, space around
/// `=`, or a `>` (a body follows). The caller then leaves the tag to
/// quick-xml's attribute parser, as it does when a value needs unescaping
/// (see `plain_values`). Fills `attrs` in place (it is large to return).
fn scan_case(b: &[u8], attrs: &mut CaseAttrs) -> Option<TagEnd> {
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let mut i = 0;
    loop {
        let space = i;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Some(TagEnd::Open);
        }
        if b[i] == b'/' {
            return match b.get(i + 1) {
                None => Some(TagEnd::Open),
                Some(b'>') => Some(TagEnd::Empty(i + 2)),
                Some(_) => None,
            };
        }
        if i == space {
            return None;
        }
        // A prefixed key (`x:name`) means its local name, as quick-xml reads it.
        let mut local = i;
        while i < b.len() && NAME_BYTE[usize::from(b[i])] {
            if b[i] == b':' {
                local = i + 1;
            }
            i += 1;
        }
        if i == local || i + 1 >= b.len() || b[i] != b'=' {
            return None;
        }
        let key = &b[local..i];
        let quote = b[i + 1];
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_start = i + 2;
        let len = memchr::memchr(quote, &b[value_start..])?;
        let value = (value_start, value_start + len);
        i = value.1 + 1;
        match key {
            b"classname" => attrs.classname = Some(value),
            b"name" => attrs.name = Some(value),
            b"time" => attrs.time = Some(value),
            b"status" => attrs.status = Some(value),
            b"file" => attrs.file = Some(value),
            b"line" => attrs.line = Some(value),
            _ => {}
        }
    }
}

/// No value we use holds `&`, a tab or a line break, which quick-xml would
/// unescape or normalize: commonly the whole tag is plain ASCII, checked
/// first at vector speed.
fn plain_values(b: &[u8], attrs: &CaseAttrs) -> bool {
    plain_ascii(b) || !needs_unescaping(b, attrs)
}

/// A value we use holds `&`, a tab or a line break.
fn needs_unescaping(b: &[u8], attrs: &CaseAttrs) -> bool {
    [
        attrs.classname,
        attrs.name,
        attrs.time,
        attrs.status,
        attrs.file,
        attrs.line,
    ]
    .into_iter()
    .flatten()
    .any(|(from, to)| {
        b[from..to]
            .iter()
            .any(|c| matches!(c, b'&' | b'\t' | b'\n' | b'\r'))
    })
}

/// Printable ASCII and no `&` anywhere: valid UTF-8 with nothing to
/// unescape. Written without an early exit so it compiles to vector code.
fn plain_ascii(b: &[u8]) -> bool {
    !b.iter().fold(false, |bad, &c| {
        bad | !(0x20..0x80).contains(&c) | (c == b'&')
    })
}

/// Sets the open case's classname, name, time and status from a scanned tag
/// (`text`; every range lies at ASCII quotes, so slicing cannot fail).
fn apply_case_attrs(text: &str, attrs: &CaseAttrs, case: &mut Case) {
    let value = |range: (usize, usize)| text.get(range.0..range.1).unwrap_or_default();
    case.clear_attributes();
    if let Some(range) = attrs.classname {
        case.classname.push_str(value(range));
    }
    if let Some(range) = attrs.name {
        case.name.push_str(value(range));
    }
    if let Some(range) = attrs.time {
        case.time.push_str(value(range));
    }
    if let Some(range) = attrs.status {
        case_attribute("status", value(range), None, case);
    }
    if let Some(range) = attrs.file {
        case.file.push_str(value(range));
    }
    if let Some(range) = attrs.line {
        case.line.push_str(value(range));
    }
}

/// Scans a start tag's plain attributes (see `scan_case`). Returns false,
/// having changed nothing that the caller does not reset, when quick-xml's
/// attribute parser must read them instead.
pub(super) fn fast_case_attributes(raw: &str, case: &mut Case) -> bool {
    let b = raw.as_bytes();
    let mut attrs = CaseAttrs::default();
    if scan_case(b, &mut attrs).is_some() && plain_values(b, &attrs) {
        apply_case_attrs(raw, &attrs, case);
        true
    } else {
        false
    }
}

impl Parser<'_> {
    /// The hot path: reads one plain `<testcase .../>` (optionally after
    /// whitespace) straight from the input, as `open` would, and returns true.
    /// Leaves everything else untouched for quick-xml and returns false: other
    /// markup, a testcase with a body, anything `scan_case` declines, invalid
    /// UTF-8, or a tag that does not fit the look-ahead window.
    pub(super) fn fast_testcase<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        on_entry: &mut dyn FnMut(&Entry<'_>),
    ) -> bool {
        const WINDOW: usize = 1024;
        if self.frames.len() >= self.limits.max_depth
            || !matches!(self.frames.last(), Some(f) if matches!(f.kind, Kind::Suite | Kind::Suites))
        {
            return false;
        }
        let window = WINDOW.min(usize::try_from(self.limits.max_event_bytes).unwrap_or(WINDOW));
        let mut stream = reader.stream();
        let Ok(ahead) = stream.get_mut().peek(window) else {
            return false;
        };
        let space = ahead
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .count();
        let Some(tag) = ahead[space..].strip_prefix(b"<testcase") else {
            return false;
        };
        let mut attrs = CaseAttrs::default();
        let Some(TagEnd::Empty(end)) = scan_case(tag, &mut attrs) else {
            return false;
        };
        let tag = &tag[..end];
        let Ok(text) = std::str::from_utf8(tag) else {
            return false;
        };
        if !plain_values(tag, &attrs) {
            return false;
        }
        apply_case_attrs(text, &attrs, &mut self.case);
        stream.consume(space + "<testcase".len() + end);
        self.open_case(true, on_entry);
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::junit::Outcome::*;
    use crate::junit::parse::reader::Limits;
    use crate::junit::parse::test_support::{run, run_with};

    #[test]
    fn fast_attribute_scan_agrees_with_quick_xml() {
        let cases = [
            r#"<testsuite name="s"><testcase classname="a.B" name="t[1]" time="0.5"/></testsuite>"#,
            r#"<testsuite name="s"><testcase name='single' classname='q' status="NOTRUN"/></testsuite>"#,
            r#"<testsuite name="s"><testcase x:classname="ns" name="n &amp; m" time="1,5"/></testsuite>"#,
            r#"<testsuite name="s"><testcase classname = "spaced" name="tab	in"/></testsuite>"#,
            r#"<testsuite name="s"><testcase name="no classname"/></testsuite>"#,
        ];
        let expected = [
            ("a.B::t[1]", Some(0.5), Passed),
            ("q::single", None, Skipped),
            ("ns::n & m", Some(1.5), Passed),
            ("spaced::tab in", None, Passed),
            ("s::no classname", None, Passed),
        ];
        for (xml, (id, time, outcome)) in cases.iter().zip(expected) {
            let seen = run(xml.as_bytes()).unwrap();
            assert_eq!(
                (seen[0].id.as_str(), seen[0].time, seen[0].attempts[0]),
                (id, time, outcome),
                "{xml}"
            );
        }
    }

    /// The testcase fast path reads every report exactly as quick-xml does:
    /// the committed fixtures of every producer and tags made to sit on its
    /// edges (window boundaries, odd spacing, lookalike names, bad UTF-8).
    #[test]
    fn fast_path_agrees_with_quick_xml() {
        let slow = Limits {
            fast_testcases: false,
            ..Limits::default()
        };
        let same = |xml: &[u8], what: &str| {
            let fast = run(xml);
            assert_eq!(fast, run_with(xml, &slow), "{what}");
            fast
        };
        let mut fixtures = 0;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit");
        for producer in std::fs::read_dir(&root).unwrap().flatten() {
            for file in std::fs::read_dir(producer.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if file.path().extension().is_some_and(|e| e == "xml") {
                    let bytes = std::fs::read(file.path()).unwrap();
                    let path = file.path().display().to_string();
                    assert!(same(&bytes, &path).is_ok(), "{path}");
                    fixtures += 1;
                }
            }
        }
        assert!(fixtures >= 12, "{fixtures} fixtures");
        let long = "n".repeat(3000);
        let edges = [
            format!(r#"<testsuite name="s"><testcase name="{long}" classname="c"/><testcase name="b"/></testsuite>"#),
            r#"<testsuite name="s"><testcase/><testcase /><testcase	name="t"	/></testsuite>"#.into(),
            r#"<testsuite name="s"><testcasex name="x"/><testcase name="a"name="b"/></testsuite>"#.into(),
            r#"<testsuite name="s"><testcase name="a" time = "1"/><testcase name="é😀" classname="ü"/></testsuite>"#.into(),
            "<testsuite name=\"s\"><testcase\x0cname=\"ff\"/><testcase name=\"tab\there\"/></testsuite>".into(),
            r#"<testsuite name="s"><testcase name="a&amp;b" x:name="ns"/><testcase name="c" status="disabled"/></testsuite>"#.into(),
            r#"<testsuite name="s"><testcase name="a"/ ><testcase name="b"></testcase></testsuite>"#.into(),
            r#"<testsuite name="s"><testcase name="a" time="0.617"/><testcase name='q"uote' time="1,5"/></testsuite>"#.into(),
            r#"<testsuite name="s"><testcase name="unterminated/></testsuite>"#.into(),
        ];
        for xml in &edges {
            // Some are malformed on purpose: `same` compares errors too.
            let _ = same(xml.as_bytes(), xml);
        }
        // Padding moves one testcase across every offset of the look-ahead
        // window and of the input buffer's refills.
        for pad in (0..1100).step_by(7).chain(65_400..65_600) {
            let xml = format!(
                "<testsuite name=\"s\">{}<testcase classname=\"c\" name=\"edge\" time=\"2\"/></testsuite>",
                " ".repeat(pad)
            );
            let seen = same(xml.as_bytes(), &format!("pad {pad}")).unwrap();
            assert_eq!(seen[0].id, "c::edge");
        }
        let mut bad = b"<testsuite name=\"s\"><testcase name=\"".to_vec();
        bad.extend_from_slice(b"\xff\xfe\"/></testsuite>");
        assert!(same(&bad, "invalid UTF-8").is_err());
    }
}
