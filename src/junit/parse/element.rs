//! The element path: what each start and end tag read by quick-xml does to
//! the open suites (a stack of frames, which also names error positions
//! such as `testsuites/testsuite[0]("x")/testcase[3]`) and to the open
//! `<testcase>`, and how a finished test case is emitted.

use std::borrow::Cow;
use std::io::Read;

use quick_xml::events::BytesStart;
use quick_xml::{Reader, XmlVersion};

use super::dialect::Dialect;
use super::fast::fast_case_attributes;
use super::reader::{ParseError, Parser};
use crate::junit::input::Input;
use crate::junit::model::{Entry, Outcome, Unlisted};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Suites,
    Suite,
    Case,
    /// An element we descend into without modelling it.
    Other,
    /// An element whose body was skipped raw; its end tag comes next.
    Skipped,
}

pub(super) struct Frame {
    pub(super) kind: Kind,
    /// Known element names are static; others are copied (bounded) only
    /// when a frame is pushed.
    pub(super) element: Cow<'static, str>,
    /// The suite's `name`, for paths and as the classname fallback.
    pub(super) label: Option<String>,
    /// Index among same-named siblings (suites and cases).
    pub(super) index: usize,
    pub(super) suites: usize,
    pub(super) cases: usize,
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

pub(super) fn bounded(mut s: String, max: usize) -> String {
    cap_at_char_boundary(&mut s, max);
    s
}

/// The open `<testcase>`; reused between cases to avoid allocation.
#[derive(Default)]
pub(super) struct Case {
    pub(super) classname: String,
    pub(super) name: String,
    /// The `time` attribute as written; empty when absent.
    pub(super) time: String,
    pub(super) main: Option<Outcome>,
    pub(super) before: Vec<Outcome>,
    pub(super) after: Vec<Outcome>,
    pub(super) message: String,
    /// The last failure's body when its message came from the attribute.
    pub(super) detail: String,
    /// The `file` and `line` attributes; empty when absent.
    pub(super) file: String,
    pub(super) line: String,
    pub(super) attempts: Vec<Outcome>,
    /// jest-junit's `dd_tags[test.invocations]` property: how many times the
    /// test ran (jest writes only the final attempt as the element).
    pub(super) invocations: Option<usize>,
}

impl Case {
    /// Forgets what the previous `<testcase>`'s attributes set.
    pub(super) fn clear_attributes(&mut self) {
        self.classname.clear();
        self.name.clear();
        self.time.clear();
        self.file.clear();
        self.line.clear();
        self.main = None;
    }
}

/// An open `<testsuite>`: what it declares, and how many test cases and
/// suites the file had when it opened. A suite that closes with neither a
/// `<testcase>` nor a nested suite inside it, but declares tests
/// (`<testsuite tests="6" failures="1" skipped="2"></testsuite>`, as a
/// runner writes when it crashed or reports only totals), counts those tests
/// from its attributes: other tools report them, and zero would be wrong.
/// Any suite that lists test cases is counted by them alone: suite
/// attributes disagree with the cases in real files (gotestsum, pytest
/// reruns).
pub(super) struct OpenSuite {
    declared: Unlisted,
    testcases: u64,
    suites: u64,
}

/// The tests a `<testsuite>` tag declares; unreadable numbers count as 0. A
/// `tests` smaller than its failures, errors and skips is raised to them.
fn declared(e: &BytesStart<'_>) -> Unlisted {
    let (mut tests, mut failed, mut errored, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    for a in e.attributes().with_checks(false).flatten() {
        let slot = match a.key.local_name().as_ref() {
            "tests" => &mut tests,
            "failures" => &mut failed,
            "errors" => &mut errored,
            "skipped" => &mut skipped,
            _ => continue,
        };
        *slot = a.value.trim().parse().unwrap_or(0);
    }
    let mut d = Unlisted {
        passed: 0,
        failed,
        errored,
        skipped,
    };
    d.passed = tests.saturating_sub(d.tests());
    d
}

/// pytest-rerunfailures writes each earlier attempt of a rerun test as an
/// empty `<testcase>` just before the next attempt. Empty reads as passed, but
/// pytest only reruns failures, so in a pytest report a passing entry followed
/// by an entry of the same identity is a failed attempt. A passing entry is
/// therefore held back until the next entry shows which it was.
pub(super) struct Held {
    pub(super) classname: String,
    pub(super) name: String,
    pub(super) time: String,
}

/// Applies one `<testcase>` attribute; `attr` is given when the value may
/// need unescaping (the quick-xml path).
pub(super) fn case_attribute(
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
        "file" => set(&mut case.file),
        "line" => {
            case.line.clear();
            case.line.push_str(value);
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

/// Copies an attribute value, unescaping and normalizing only when needed; an
/// unknown entity is kept literally (never resolved).
pub(super) fn set_value(a: &quick_xml::events::attributes::Attribute<'_>, out: &mut String) {
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
pub(super) fn attr_into(e: &BytesStart<'_>, key: &str, out: &mut String) -> bool {
    out.clear();
    for a in e.attributes().with_checks(false).flatten() {
        if a.key.local_name().as_ref() == key {
            set_value(&a, out);
            return true;
        }
    }
    false
}

pub(super) fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    let mut s = String::new();
    attr_into(e, key, &mut s).then_some(s)
}

pub(super) fn cap_at_char_boundary(s: &mut String, max: usize) {
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
    pub(super) fn error(&self, offset: u64, message: String) -> ParseError {
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
            not_a_report: false,
        }
    }

    pub(super) fn push(&mut self, kind: Kind, element: &str, label: Option<String>, index: usize) {
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

    pub(super) fn open<R: Read>(
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
            let Some(dialect) = Dialect::of_root(element) else {
                let mut e = self.error(reader.buffer_position(), format!("not a test report: the root element is <{element}>, expected JUnit's <testsuites> or <testsuite>, NUnit's <test-run> or <test-results>, xUnit.net's <assemblies>, or TRX's <TestRun>"));
                e.not_a_report = true;
                return Err(e);
            };
            self.seen_root = true;
            self.dialect = dialect;
            if dialect != Dialect::JUnit {
                return self.open_dialect(reader, e, element, empty, on_entry);
            }
            let name = attr(e, "name");
            self.pytest = matches!(
                (element, name.as_deref()),
                ("testsuites", Some("pytest tests")) | ("testsuite", Some("pytest"))
            );
        }
        if self.dialect != Dialect::JUnit {
            return self.open_dialect(reader, e, element, empty, on_entry);
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
                self.stats.suites += 1;
                let name = attr(e, "name").map(|n| bounded(n, LABEL_BYTES));
                let declared = declared(e);
                if empty {
                    self.count_unlisted(&declared, name.as_deref());
                } else {
                    self.open_suites.push(OpenSuite {
                        declared,
                        testcases: self.stats.testcases,
                        suites: self.stats.suites,
                    });
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
                self.case.detail.clear();
                if attr_into(e, "message", &mut msg) && !msg.trim().is_empty() {
                    cap_at_char_boundary(&mut msg, self.limits.message_bytes);
                    if !empty && self.limits.keep_detail {
                        // The body is where it failed: kept as the detail.
                        self.skip(reader, element, true)?;
                        self.case.detail = std::mem::replace(&mut self.case.message, msg);
                        return Ok(());
                    }
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

    /// Starts a test whose attributes are set, in any format: counts it
    /// among its siblings (its index), names it after its suite when it has
    /// no class, and forgets the previous test's attempts and texts.
    pub(super) fn begin_case(&mut self) -> usize {
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
        case.detail.clear();
        case.invocations = None;
        index
    }

    /// Opens the `<testcase>` whose classname, name, time and status are set:
    /// counts it among its siblings, and emits it when it has no body.
    pub(super) fn open_case(&mut self, empty: bool, on_entry: &mut dyn FnMut(&Entry<'_>)) {
        let index = self.begin_case();
        if empty {
            self.emit_case(on_entry);
        } else {
            self.push(Kind::Case, "testcase", None, index);
        }
    }

    pub(super) fn close<R: Read>(
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
        if self.dialect != Dialect::JUnit {
            return self.close_dialect(
                frame.kind,
                &frame.element,
                reader.buffer_position(),
                on_entry,
            );
        }
        match frame.kind {
            Kind::Case => self.emit_case(on_entry),
            Kind::Suite => {
                if let Some(open) = self.open_suites.pop() {
                    if open.testcases == self.stats.testcases && open.suites == self.stats.suites {
                        self.count_unlisted(&open.declared, frame.label.as_deref());
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A suite without test cases or nested suites declared these tests.
    fn count_unlisted(&mut self, declared: &Unlisted, suite: Option<&str>) {
        if declared.tests() == 0 {
            return;
        }
        let stats = &mut self.stats;
        stats.unlisted.add(declared);
        stats.unlisted_suites += 1;
        if stats.unlisted_suite.is_none() {
            stats.unlisted_suite = Some(suite.unwrap_or_default().to_string());
        }
    }

    pub(super) fn emit_case(&mut self, on_entry: &mut dyn FnMut(&Entry<'_>)) {
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
                // Entries without a name are never attempts of each other.
                let same =
                    !h.name.is_empty() && h.classname == case.classname && h.name == case.name;
                let earlier = if same {
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
        fn some(s: &str) -> Option<&str> {
            (!s.is_empty()).then_some(s)
        }
        on_entry(&Entry {
            classname: &case.classname,
            name: &case.name,
            attempts: &case.attempts,
            time_text: some(&case.time),
            message: if has_failure {
                some(&case.message)
            } else {
                None
            },
            detail: if has_failure {
                some(&case.detail)
            } else {
                None
            },
            file: some(&case.file),
            line: some(&case.line),
        });
    }
}

pub(super) fn deliver(
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
        ..Entry::default()
    });
}

#[cfg(test)]
mod tests {
    use crate::junit::Outcome::*;
    use crate::junit::Unlisted;
    use crate::junit::parse::reader::{Limits, parse};
    use crate::junit::parse::test_support::run;

    fn unlisted(xml: &str) -> (Unlisted, u64, Option<String>, u64) {
        let mut entries = 0;
        let stats = parse(xml.as_bytes(), &Limits::default(), &mut |_| entries += 1).unwrap();
        (
            stats.unlisted,
            stats.unlisted_suites,
            stats.unlisted_suite,
            entries,
        )
    }

    /// Issue 10 item 7: a suite that declares tests but lists no test case
    /// counts them from its attributes; a suite that lists test cases, or
    /// holds suites that do, is counted by its cases alone.
    #[test]
    fn suites_without_test_cases_count_their_attributes() {
        let d = |passed, failed, errored, skipped| Unlisted {
            passed,
            failed,
            errored,
            skipped,
        };
        let cases = [
            (
                r#"<testsuites><testsuite name="pytest" tests="6" failures="1" errors="0" skipped="2"></testsuite></testsuites>"#,
                (d(3, 1, 0, 2), 1, Some("pytest"), 0),
            ),
            (
                r#"<testsuite name="empty" tests=" 4 " errors="1"/>"#,
                (d(3, 0, 1, 0), 1, Some("empty"), 0),
            ),
            (
                r#"<testsuites><testsuite name="a" tests="3"><testcase name="t"/></testsuite><testsuite name="b" tests="2" failures="5"><system-out>x</system-out></testsuite></testsuites>"#,
                (d(0, 5, 0, 0), 1, Some("b"), 1),
            ),
            (
                r#"<testsuite name="outer" tests="9"><testsuite name="inner" tests="2"/><testsuite name="x" tests="0"></testsuite></testsuite>"#,
                (d(2, 0, 0, 0), 1, Some("inner"), 0),
            ),
            (
                r#"<testsuite name="outer" tests="9"><group><testcase name="t"/></group></testsuite>"#,
                (d(0, 0, 0, 0), 0, None, 1),
            ),
            (
                r#"<testsuite tests="x" failures="-1" skipped="18446744073709551615"/>"#,
                (d(0, 0, 0, u64::MAX), 1, Some(""), 0),
            ),
        ];
        for (xml, (want, suites, name, entries)) in cases {
            assert_eq!(
                unlisted(xml),
                (want, suites, name.map(String::from), entries),
                "{xml}"
            );
        }
    }

    /// In a pytest report, an empty entry followed by the same identity is a
    /// failed attempt; entries without a name are never the same identity.
    #[test]
    fn pytest_entries_without_a_name_are_not_reruns() {
        let xml = br#"<testsuites name="pytest tests"><testsuite name="pytest"><testcase classname="c"/><testcase classname="c"/><testcase classname="c" name="t"/><testcase classname="c" name="t"/></testsuite></testsuites>"#;
        let seen = run(xml).unwrap();
        let got: Vec<_> = seen
            .iter()
            .map(|s| (s.id.as_str(), s.attempts.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("c::", vec![Passed]),
                ("c::", vec![Passed]),
                ("c::t", vec![Failed]),
                ("c::t", vec![Passed])
            ]
        );
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
}
