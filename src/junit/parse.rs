//! A streaming JUnit XML parser on quick-xml: constant memory in the file size.
//!
//! - Accepts `<testsuites>` and bare `<testsuite>` roots, nested suites, CDATA,
//!   entities, a UTF-8 byte-order mark and non-BMP text.
//! - Never resolves a DTD or an external entity: `<!DOCTYPE>` is skipped and an
//!   unknown entity stays literal text, so nothing can be fetched or expanded.
//! - Element bodies we do not model (`system-out`, stack traces, properties)
//!   are skipped byte by byte without buffering; a failure body is kept only
//!   up to the message cap. Any other single tag or text node larger than
//!   `Limits::max_event_bytes` is an error, not an allocation.
//! - Every error names the position as an element path, e.g.
//!   `testsuites/testsuite[0]("x")/testcase[3]`, and the byte offset.

use std::borrow::Cow;
use std::io::{BufRead, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::BinaryStream;
use quick_xml::{Reader, XmlVersion};

use super::input::{Input, TooLarge};
use super::model::{Entry, Outcome};

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 16 << 20,
            message_bytes: 4096,
            max_depth: 256,
            fast_testcases: true,
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
}

/// What one file held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    /// `<testcase>` elements.
    pub testcases: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Suites,
    Suite,
    Case,
    /// An element we descend into without modelling it.
    Other,
    /// An element whose body was skipped raw; its end tag comes next.
    Skipped,
}

struct Frame {
    kind: Kind,
    /// Known element names are static; others are copied (bounded) only
    /// when a frame is pushed.
    element: Cow<'static, str>,
    /// The suite's `name`, for paths and as the classname fallback.
    label: Option<String>,
    /// Index among same-named siblings (suites and cases).
    index: usize,
    suites: usize,
    cases: usize,
}

/// Longest suite name kept for the classname fallback and error paths: a
/// hostile report must not make every nesting level hold megabytes.
const LABEL_BYTES: usize = 1024;
/// Longest suite name shown per level of an error path.
const PATH_LABEL_CHARS: usize = 64;

/// Element names that need no allocation when pushed.
const KNOWN: &[&str] = &[
    "testsuites",
    "testsuite",
    "testcase",
    "failure",
    "error",
    "skipped",
    "system-out",
    "system-err",
    "properties",
    "property",
    "flakyFailure",
    "flakyError",
    "rerunFailure",
    "rerunError",
];

fn bounded(mut s: String, max: usize) -> String {
    cap_at_char_boundary(&mut s, max);
    s
}

/// The open `<testcase>`; reused between cases to avoid allocation.
#[derive(Default)]
struct Case {
    classname: String,
    name: String,
    /// The `time` attribute as written; empty when absent.
    time: String,
    main: Option<Outcome>,
    before: Vec<Outcome>,
    after: Vec<Outcome>,
    message: String,
    attempts: Vec<Outcome>,
    /// jest-junit's `dd_tags[test.invocations]` property: how many times the
    /// test ran (jest writes only the final attempt as the element).
    invocations: Option<usize>,
}

impl Case {
    /// Forgets what the previous `<testcase>`'s attributes set.
    fn clear_attributes(&mut self) {
        self.classname.clear();
        self.name.clear();
        self.time.clear();
        self.main = None;
    }
}

struct Parser<'l> {
    limits: &'l Limits,
    frames: Vec<Frame>,
    case: Case,
    stats: FileStats,
    seen_root: bool,
    /// pytest wrote this file: see `Held`.
    pytest: bool,
    held: Option<Held>,
}

/// pytest-rerunfailures writes each earlier attempt of a rerun test as an
/// empty `<testcase>` just before the next attempt. Empty reads as passed, but
/// pytest only reruns failures, so in a pytest report a passing entry followed
/// by an entry of the same identity is a failed attempt. A passing entry is
/// therefore held back until the next entry shows which it was.
struct Held {
    classname: String,
    name: String,
    time: String,
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
    let mut reader = Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut parser = Parser {
        limits,
        frames: Vec::new(),
        case: Case::default(),
        stats: FileStats::default(),
        seen_root: false,
        pytest: false,
        held: None,
    };
    let mut buf = Vec::with_capacity(4096);
    // Right after a tag quick-xml has consumed exactly that tag, so the next
    // plain `<testcase .../>` can be read straight from the input.
    let mut after_tag = false;
    loop {
        if after_tag && limits.fast_testcases {
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

/// Applies one `<testcase>` attribute; `attr` is given when the value may
/// need unescaping (the quick-xml path).
fn case_attribute(
    key: &str,
    value: &str,
    attr: Option<&quick_xml::events::attributes::Attribute<'_>>,
    case: &mut Case,
) {
    let set = |out: &mut String| match attr {
        Some(a) => set_value(a, out),
        None => {
            out.clear();
            out.push_str(value);
        }
    };
    match key {
        "classname" => set(&mut case.classname),
        "name" => set(&mut case.name),
        "time" => {
            case.time.clear();
            case.time.push_str(value);
        }
        // Bazel: status="notrun" for tests that were not run.
        "status"
            if ["notrun", "skipped", "disabled", "ignored"]
                .iter()
                .any(|s| value.eq_ignore_ascii_case(s)) =>
        {
            case.main = Some(Outcome::Skipped)
        }
        _ => {}
    }
}

/// Where the values of the `<testcase>` attributes we use lie in a tag.
#[derive(Default)]
struct CaseAttrs {
    classname: Option<(usize, usize)>,
    name: Option<(usize, usize)>,
    time: Option<(usize, usize)>,
    status: Option<(usize, usize)>,
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
/// (see `needs_unescaping`).
fn scan_case(b: &[u8]) -> Option<(CaseAttrs, TagEnd)> {
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let mut attrs = CaseAttrs::default();
    let mut i = 0;
    loop {
        let space = i;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Some((attrs, TagEnd::Open));
        }
        if b[i] == b'/' {
            return match b.get(i + 1) {
                None => Some((attrs, TagEnd::Open)),
                Some(b'>') => Some((attrs, TagEnd::Empty(i + 2))),
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
            _ => {}
        }
    }
}

/// A value we use holds `&`, a tab or a line break: quick-xml must unescape
/// or normalize it.
fn needs_unescaping(b: &[u8], attrs: &CaseAttrs) -> bool {
    [attrs.classname, attrs.name, attrs.time, attrs.status]
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
}

/// Scans a start tag's plain attributes (see `scan_case`). Returns false,
/// having changed nothing that the caller does not reset, when quick-xml's
/// attribute parser must read them instead.
fn fast_case_attributes(raw: &str, case: &mut Case) -> bool {
    let b = raw.as_bytes();
    match scan_case(b) {
        Some((attrs, _)) if !needs_unescaping(b, &attrs) => {
            apply_case_attrs(raw, &attrs, case);
            true
        }
        _ => false,
    }
}

/// Copies an attribute value, unescaping and normalizing only when needed; an
/// unknown entity is kept literally (never resolved).
fn set_value(a: &quick_xml::events::attributes::Attribute<'_>, out: &mut String) {
    out.clear();
    if !a
        .value
        .as_bytes()
        .iter()
        .any(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(&a.value);
        return;
    }
    match a.normalized_value(XmlVersion::Implicit1_0) {
        Ok(v) => out.push_str(&v),
        Err(_) => out.push_str(&a.value),
    }
}

/// An attribute value, unescaped; an unknown entity is kept literally (never
/// resolved), invalid UTF-8 replaced.
fn attr_into(e: &BytesStart<'_>, key: &str, out: &mut String) -> bool {
    out.clear();
    for a in e.attributes().with_checks(false).flatten() {
        if a.key.local_name().as_ref() == key {
            set_value(&a, out);
            return true;
        }
    }
    false
}

fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    let mut s = String::new();
    attr_into(e, key, &mut s).then_some(s)
}

/// Seconds from a `time` attribute, including locale-formatted values
/// (Surefire: `2,120.532`, `0,03`). Unreadable or negative: `None`.
pub fn parse_seconds(raw: &str) -> Option<f64> {
    if let Some(v) = plain_decimal(raw) {
        return Some(v);
    }
    let s = raw.trim();
    let value = if !s.contains(',') {
        s.parse::<f64>().ok()
    } else if s.contains('.') {
        s.replace(',', "").parse::<f64>().ok()
    } else {
        s.replace(',', ".").parse::<f64>().ok()
    };
    value.filter(|v| v.is_finite() && *v >= 0.0)
}

/// The common `digits[.digits]` form, exactly as `str::parse` reads it: with
/// at most 15 significant digits both the mantissa and the power of ten are
/// exact doubles, so one correctly rounded division gives the same value.
fn plain_decimal(s: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let (mut mantissa, mut digits, mut scale, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
                scale += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    Some(mantissa as f64 / POW10[scale])
}

fn cap_at_char_boundary(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

impl Parser<'_> {
    fn error(&self, offset: u64, message: String) -> ParseError {
        let mut path = String::new();
        for f in &self.frames {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&f.element);
            if matches!(f.kind, Kind::Suite | Kind::Case) {
                path.push_str(&format!("[{}]", f.index));
            }
            if let Some(label) = &f.label {
                let shown: String = label.chars().take(PATH_LABEL_CHARS).collect();
                let more = if shown.len() < label.len() { "…" } else { "" };
                path.push_str(&format!("({shown:?}{more})"));
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        ParseError {
            path,
            offset,
            message,
        }
    }

    fn push(&mut self, kind: Kind, element: &str, label: Option<String>, index: usize) {
        let element = match KNOWN.iter().find(|k| **k == element) {
            Some(k) => Cow::Borrowed(*k),
            None => Cow::Owned(bounded(element.to_string(), PATH_LABEL_CHARS)),
        };
        self.frames.push(Frame {
            kind,
            element,
            label,
            index,
            suites: 0,
            cases: 0,
        });
    }

    fn open<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        e: &BytesStart<'_>,
        empty: bool,
        on_entry: &mut dyn FnMut(&Entry<'_>),
    ) -> Result<(), ParseError> {
        let local = e.local_name();
        let element: &str = local.as_ref();
        if self.frames.len() >= self.limits.max_depth {
            return Err(self.error(
                reader.buffer_position(),
                format!(
                    "elements nested deeper than {} levels",
                    self.limits.max_depth
                ),
            ));
        }
        if !self.seen_root {
            if element != "testsuites" && element != "testsuite" {
                return Err(self.error(reader.buffer_position(), format!("not a JUnit report: the root element is <{element}>, expected <testsuites> or <testsuite>")));
            }
            self.seen_root = true;
            let name = attr(e, "name");
            self.pytest = matches!(
                (element, name.as_deref()),
                ("testsuites", Some("pytest tests")) | ("testsuite", Some("pytest"))
            );
        }
        let in_case = self
            .frames
            .iter()
            .rev()
            .find(|f| f.kind != Kind::Other)
            .is_some_and(|f| f.kind == Kind::Case);
        if in_case {
            return self.open_in_case(reader, e, element, empty);
        }
        match element {
            "testsuites" => {
                if !empty {
                    self.push(Kind::Suites, element, None, 0);
                }
            }
            "testsuite" => {
                let index = self.frames.last_mut().map_or(0, |f| {
                    f.suites += 1;
                    f.suites - 1
                });
                if !empty {
                    let name = attr(e, "name").map(|n| bounded(n, LABEL_BYTES));
                    self.push(Kind::Suite, element, name, index);
                }
            }
            "testcase" => {
                // A testcase is the hot path: scan plain attributes directly,
                // and let quick-xml handle anything with entities or odd syntax.
                // Either path starts from a cleared classname, name, time and status.
                let case = &mut self.case;
                if !fast_case_attributes(e.attributes_raw(), case) {
                    case.clear_attributes();
                    for a in e.attributes().with_checks(false).flatten() {
                        case_attribute(a.key.local_name().as_ref(), &a.value, Some(&a), case);
                    }
                }
                self.open_case(empty, on_entry);
            }
            "system-out" | "system-err" | "properties" => {
                if !empty {
                    self.skip(reader, element, false)?;
                }
            }
            _ => {
                if !empty {
                    self.push(Kind::Other, element, None, 0);
                }
            }
        }
        Ok(())
    }

    /// The hot path: reads one plain `<testcase .../>` (optionally after
    /// whitespace) straight from the input, as `open` would, and returns true.
    /// Leaves everything else untouched for quick-xml and returns false: other
    /// markup, a testcase with a body, anything `scan_case` declines, invalid
    /// UTF-8, or a tag that does not fit the look-ahead window.
    fn fast_testcase<R: Read>(
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
        let Some((attrs, TagEnd::Empty(end))) = scan_case(tag) else {
            return false;
        };
        let tag = &tag[..end];
        let Ok(text) = std::str::from_utf8(tag) else {
            return false;
        };
        // Commonly plain ASCII, with nothing to unescape.
        if !plain_ascii(tag) && needs_unescaping(tag, &attrs) {
            return false;
        }
        apply_case_attrs(text, &attrs, &mut self.case);
        stream.consume(space + "<testcase".len() + end);
        self.open_case(true, on_entry);
        true
    }

    fn open_in_case<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        e: &BytesStart<'_>,
        element: &str,
        empty: bool,
    ) -> Result<(), ParseError> {
        if element == "properties" {
            // Read, not skipped: a test's properties may carry its attempt count.
            if !empty {
                self.push(Kind::Other, element, None, 0);
            }
            return Ok(());
        }
        if element == "property" {
            if attr(e, "name").as_deref() == Some("dd_tags[test.invocations]") {
                self.case.invocations = attr(e, "value")
                    .and_then(|v| v.trim().parse().ok())
                    .filter(|n| (1..=1000).contains(n));
            }
            if !empty {
                self.skip(reader, element, false)?;
            }
            return Ok(());
        }
        let outcome = match element {
            "failure" | "flakyFailure" | "rerunFailure" => Some(Outcome::Failed),
            "error" | "flakyError" | "rerunError" => Some(Outcome::Errored),
            "skipped" => Some(Outcome::Skipped),
            _ => None,
        };
        let mut wants_body = false;
        if let Some(outcome) = outcome {
            match element {
                "flakyFailure" | "flakyError" => self.case.before.push(outcome),
                "rerunFailure" | "rerunError" => self.case.after.push(outcome),
                // A failure outranks a skip written beside it.
                _ if self.case.main.is_some_and(Outcome::is_failure)
                    && outcome == Outcome::Skipped => {}
                _ => self.case.main = Some(outcome),
            }
            if outcome.is_failure() {
                let mut msg = String::new();
                if attr_into(e, "message", &mut msg) && !msg.trim().is_empty() {
                    cap_at_char_boundary(&mut msg, self.limits.message_bytes);
                    self.case.message = msg;
                } else {
                    self.case.message.clear();
                    wants_body = true;
                }
            }
        }
        if !empty {
            self.skip(reader, element, wants_body)?;
        }
        Ok(())
    }

    /// Opens the `<testcase>` whose classname, name, time and status are set:
    /// counts it among its siblings, and emits it when it has no body.
    fn open_case(&mut self, empty: bool, on_entry: &mut dyn FnMut(&Entry<'_>)) {
        let index = self.frames.last_mut().map_or(0, |f| {
            f.cases += 1;
            f.cases - 1
        });
        let case = &mut self.case;
        if case.classname.is_empty() {
            // SPEC §6: the enclosing suite's name when classname is absent.
            if let Some(suite) = self.frames.iter().rev().find_map(|f| f.label.as_deref()) {
                case.classname.push_str(suite);
            }
        }
        case.before.clear();
        case.after.clear();
        case.message.clear();
        case.invocations = None;
        if empty {
            self.emit_case(on_entry);
        } else {
            self.push(Kind::Case, "testcase", None, index);
        }
    }

    /// Skips an element's body raw, up to (not including) its end tag, which
    /// quick-xml then reads; keeps the body as the message when asked.
    fn skip<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        element: &str,
        keep_body: bool,
    ) -> Result<(), ParseError> {
        self.push(Kind::Skipped, element, None, 0);
        let cap = if keep_body {
            self.limits.message_bytes
        } else {
            0
        };
        let mut body = Vec::new();
        let mut stream = reader.stream();
        stream.get_mut().set_limiting(false);
        let result = skip_raw(&mut stream, element.as_bytes(), &mut body, cap);
        stream.get_mut().set_limiting(true);
        result.map_err(|e| self.error(reader.buffer_position(), e))?;
        if keep_body {
            let text = String::from_utf8_lossy(&body);
            // The cap may cut an entity in half: drop the stub.
            let whole = match text.rfind('&') {
                Some(i) if !text[i..].contains(';') => &text[..i],
                _ => &text,
            };
            let mut msg = quick_xml::escape::unescape(whole)
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| whole.to_string());
            msg = msg.trim().to_string();
            cap_at_char_boundary(&mut msg, self.limits.message_bytes);
            self.case.message = msg;
        }
        Ok(())
    }

    fn close<R: Read>(
        &mut self,
        reader: &Reader<Input<R>>,
        on_entry: &mut dyn FnMut(&Entry<'_>),
    ) -> Result<(), ParseError> {
        let Some(frame) = self.frames.pop() else {
            return Err(self.error(
                reader.buffer_position(),
                "an end tag with no open element".into(),
            ));
        };
        if frame.kind == Kind::Case {
            self.emit_case(on_entry);
        }
        Ok(())
    }

    fn emit_case(&mut self, on_entry: &mut dyn FnMut(&Entry<'_>)) {
        let case = &mut self.case;
        case.attempts.clear();
        case.attempts.extend_from_slice(&case.before);
        case.attempts.push(case.main.unwrap_or(Outcome::Passed));
        case.attempts.extend_from_slice(&case.after);
        // jest retries only failures: the runs before the final one failed.
        if let Some(n) = case.invocations.take() {
            while case.attempts.len() < n {
                case.attempts.insert(0, Outcome::Failed);
            }
        }
        case.main = None;
        self.stats.testcases += 1;
        if self.pytest {
            if let Some(h) = self.held.take() {
                let earlier = if h.classname == case.classname && h.name == case.name {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                };
                deliver(&h.classname, &h.name, &[earlier], &h.time, None, on_entry);
            }
            if case.attempts == [Outcome::Passed] {
                self.held = Some(Held {
                    classname: case.classname.clone(),
                    name: case.name.clone(),
                    time: case.time.clone(),
                });
                return;
            }
        }
        let has_failure = case.attempts.iter().any(|o| o.is_failure());
        let message = (has_failure && !case.message.is_empty()).then_some(case.message.as_str());
        deliver(
            &case.classname,
            &case.name,
            &case.attempts,
            &case.time,
            message,
            on_entry,
        );
    }
}

fn deliver(
    classname: &str,
    name: &str,
    attempts: &[Outcome],
    time: &str,
    message: Option<&str>,
    on_entry: &mut dyn FnMut(&Entry<'_>),
) {
    on_entry(&Entry {
        classname,
        name,
        attempts,
        time_text: (!time.is_empty()).then_some(time),
        message,
    });
}

/// Consumes an element body up to (not including) `</end_name`, skipping
/// nested markup, comments and CDATA. Keeps at most `cap` bytes of text.
/// Reads through quick-xml's `BinaryStream`, so error positions stay right.
fn skip_raw<R: Read>(
    input: &mut BinaryStream<'_, Input<R>>,
    end_name: &[u8],
    body: &mut Vec<u8>,
    cap: usize,
) -> Result<(), String> {
    #[derive(PartialEq)]
    enum State {
        Text,
        CData,
        Comment,
        Tag(Option<u8>),
    }
    let truncated = || {
        format!(
            "unexpected end of file inside <{}> (truncated report?)",
            String::from_utf8_lossy(end_name)
        )
    };
    let io = |e: std::io::Error| format!("cannot read the file: {e}");
    let mut state = State::Text;
    let keep = |body: &mut Vec<u8>, bytes: &[u8]| {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&bytes[..bytes.len().min(room)]);
    };
    // CDATA is literal: escape it as kept, so the whole body unescapes as one text.
    let keep_cdata = |body: &mut Vec<u8>, bytes: &[u8]| {
        for &b in bytes {
            if body.len() >= cap {
                break;
            }
            match b {
                b'&' => body.extend_from_slice(b"&amp;"),
                b'<' => body.extend_from_slice(b"&lt;"),
                _ => body.push(b),
            }
        }
    };
    loop {
        let chunk = input.fill_buf().map_err(io)?;
        if chunk.is_empty() {
            return Err(truncated());
        }
        match state {
            State::Text => {
                let Some(i) = memchr::memchr(b'<', chunk) else {
                    let n = chunk.len();
                    keep(body, chunk);
                    input.consume(n);
                    continue;
                };
                keep(body, &chunk[..i]);
                input.consume(i);
                let ahead = input.get_mut().peek(end_name.len() + 3).map_err(io)?;
                if ahead.len() > end_name.len() + 2
                    && ahead.starts_with(b"</")
                    && &ahead[2..2 + end_name.len()] == end_name
                    && matches!(
                        ahead[2 + end_name.len()],
                        b'>' | b' ' | b'\t' | b'\r' | b'\n'
                    )
                {
                    return Ok(());
                }
                let ahead = input.get_mut().peek(9).map_err(io)?;
                let (skip, next) = if ahead.starts_with(b"<![CDATA[") {
                    (9, State::CData)
                } else if ahead.starts_with(b"<!--") {
                    (4, State::Comment)
                } else if ahead.len() < 2 {
                    return Err(truncated());
                } else {
                    (1, State::Tag(None))
                };
                input.consume(skip);
                state = next;
            }
            State::CData | State::Comment => {
                let (mark, close): (u8, &[u8]) = if state == State::CData {
                    (b']', b"]]>")
                } else {
                    (b'-', b"-->")
                };
                let Some(i) = memchr::memchr(mark, chunk) else {
                    let n = chunk.len();
                    if state == State::CData {
                        keep_cdata(body, chunk);
                    }
                    input.consume(n);
                    continue;
                };
                if state == State::CData {
                    keep_cdata(body, &chunk[..i]);
                }
                input.consume(i);
                let ahead = input.get_mut().peek(3).map_err(io)?;
                if ahead == close {
                    input.consume(3);
                    state = State::Text;
                } else if ahead.len() < 3 && !close.starts_with(ahead) {
                    input.consume(1);
                } else if ahead.len() < 3 {
                    return Err(truncated());
                } else {
                    if state == State::CData {
                        keep_cdata(body, &ahead[..1]);
                    }
                    input.consume(1);
                }
            }
            State::Tag(quote) => {
                let mut q = quote;
                let mut end = None;
                for (i, &b) in chunk.iter().enumerate() {
                    match (q, b) {
                        (None, b'"' | b'\'') => q = Some(b),
                        (Some(open), b2) if b2 == open => q = None,
                        (None, b'>') => {
                            end = Some(i + 1);
                            break;
                        }
                        _ => {}
                    }
                }
                let n = end.unwrap_or(chunk.len());
                input.consume(n);
                state = if end.is_some() {
                    State::Text
                } else {
                    State::Tag(q)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Seen {
        id: String,
        attempts: Vec<Outcome>,
        time: Option<f64>,
        message: Option<String>,
    }

    fn run_with(xml: &[u8], limits: &Limits) -> Result<Vec<Seen>, ParseError> {
        let mut seen = Vec::new();
        parse(xml, limits, &mut |e| {
            seen.push(Seen {
                id: e.identity(),
                attempts: e.attempts.to_vec(),
                time: e.time(),
                message: e.message.map(str::to_string),
            })
        })?;
        Ok(seen)
    }

    fn run(xml: &[u8]) -> Result<Vec<Seen>, ParseError> {
        run_with(xml, &Limits::default())
    }

    use Outcome::*;

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
    fn surefire_and_nextest_reruns_and_bazel_status() {
        let xml = br#"<testsuite name="s">
            <testcase classname="C" name="flaky"><flakyFailure message="first"><stackTrace>at x</stackTrace></flakyFailure><flakyError type="E"/></testcase>
            <testcase classname="C" name="broken"><failure message="m1"/><rerunFailure message="m2"/><rerunError message="m3"/></testcase>
            <testcase classname="C" name="notrun" status="notrun"/>
            <testcase classname="C" name="err"><error message="npe">trace</error></testcase>
        </testsuite>"#;
        let seen = run(xml).unwrap();
        assert_eq!(seen[0].attempts, [Failed, Errored, Passed]);
        assert_eq!(seen[1].attempts, [Failed, Failed, Errored]);
        assert_eq!(seen[1].message.as_deref(), Some("m3"));
        assert_eq!(seen[2].attempts, [Skipped]);
        assert_eq!(seen[3].attempts, [Errored]);
        assert_eq!(seen[3].message.as_deref(), Some("npe"));
    }

    #[test]
    fn huge_bodies_stream_in_constant_memory_and_messages_are_capped() {
        let big = "y".repeat(40 << 20);
        let xml = format!(
            "<testsuite name=\"s\"><system-out>{big}</system-out><testcase name=\"t\"><failure><![CDATA[{big}]]></failure><system-err>{big}</system-err></testcase></testsuite>"
        );
        let limits = Limits {
            max_event_bytes: 1 << 20,
            ..Limits::default()
        };
        let seen = run_with(xml.as_bytes(), &limits).unwrap();
        assert_eq!(seen.len(), 1);
        let m = seen[0].message.as_ref().unwrap();
        assert!(
            m.len() <= limits.message_bytes + 4 && m.starts_with("yyy"),
            "{}",
            m.len()
        );
        // The same text between elements, where nothing expects it, is refused.
        let stray = format!("<testsuite name=\"s\">{big}<testcase name=\"t\"/></testsuite>");
        let e = run_with(stray.as_bytes(), &limits).unwrap_err();
        assert!(e.message.contains("larger than"), "{e}");
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
            e.message.contains("not a JUnit report") && e.message.contains("<html>"),
            "{e}"
        );
        let e = run(b"\xff\xfe<\x00t\x00").unwrap_err();
        assert!(e.message.contains("UTF-16"), "{e}");
        let e = run(b"<testsuite name=\"s\"><testcase name=\"a\"></testsuite>").unwrap_err();
        assert!(e.message.contains("malformed"), "{e}");
        let deep = "<testsuite name=\"n\">".repeat(100_000);
        let e = run(deep.as_bytes()).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
    }

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

    #[test]
    fn times() {
        assert_eq!(parse_seconds("1.5"), Some(1.5));
        assert_eq!(parse_seconds("0,03"), Some(0.03));
        assert_eq!(parse_seconds("2,120.532"), Some(2120.532));
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("NaN"), None);
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds(" 3 "), Some(3.0));
        assert_eq!(parse_seconds("."), None);
        assert_eq!(parse_seconds("1."), Some(1.0));
        assert_eq!(parse_seconds(".5"), Some(0.5));
        // The fast path agrees with `str::parse` bit for bit.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut fast = 0;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = format!("{}", x % 10u64.pow((x >> 60) as u32 % 16 + 1));
            let dot = (x >> 40) as usize % (digits.len() + 1);
            let s = format!("{}.{}", &digits[..dot], &digits[dot..]);
            let want = s.parse::<f64>().unwrap();
            if let Some(got) = plain_decimal(&s) {
                assert_eq!(got.to_bits(), want.to_bits(), "{s}");
                fast += 1;
            }
        }
        assert!(fast > 150_000, "{fast}");
    }
}
