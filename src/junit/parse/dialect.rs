//! Test reports that are not JUnit XML, read by the same event loop into the
//! same entries: NUnit 2 and 3, xUnit.net (v1 and v2) and Visual Studio's TRX.
//! The format is told by the root element. Each is counted as
//! EnricoMi/publish-unit-test-result-action counts it (its XSLT conversions
//! to JUnit, `python/publish/xslt/`), except where `docs/junit.md` says why
//! not.
//!
//! Only the elements that hold tests are descended into; every other body
//! (output, settings, properties, environment) is skipped raw, so memory
//! stays bounded in the file size. TRX names a result's class only in its
//! `TestDefinitions`, which come after the results: a TRX file's results are
//! held (without their output) until the file ends.

use std::collections::HashMap;
use std::io::Read;

use quick_xml::Reader;
use quick_xml::events::BytesStart;

use super::element::{Kind, attr, attr_into, bounded, cap_at_char_boundary, set_value};
use super::reader::{ParseError, Parser};
use super::trx_spill::{Held, TrxResult};
use crate::junit::input::Input;
use crate::junit::model::{Entry, Outcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    JUnit,
    NUnit,
    XUnit,
    Trx,
}

impl Dialect {
    /// The format a root element names; `None` for anything else.
    pub(super) fn of_root(element: &str) -> Option<Dialect> {
        Some(match element {
            "testsuites" | "testsuite" => Dialect::JUnit,
            "test-run" | "test-results" | "test-suite" => Dialect::NUnit,
            "assemblies" | "assembly" => Dialect::XUnit,
            "TestRun" => Dialect::Trx,
            _ => return None,
        })
    }
}

/// What a dialect keeps between tags.
#[derive(Default)]
pub(super) struct DialectState {
    /// NUnit: per open `<test-suite>`, its name when it is a namespace or
    /// a plain suite (the parts of a fixture's full name in NUnit 2).
    nunit_parts: Vec<Option<String>>,
    /// xUnit.net: the open test's outcome came from its `result`
    /// attribute, which outranks its child elements.
    result_given: bool,
    /// NUnit: the open test's `result` is `Error`: its failure is an error.
    nunit_error: bool,
    /// The open test's failure or skip reason, read from its `<message>`.
    reason: String,
    /// The open test's stack trace: where it failed.
    detail: String,
    trx: Trx,
}

/// What a TRX file's results need from its definitions. Ids are kept as
/// 128-bit hashes and classes once each, so a result costs its name, a few
/// numbers and (when it failed) its message.
#[derive(Default)]
struct Trx {
    /// The 2006 schema joins results to definitions by execution id, the
    /// 2010 one by test id.
    by_execution: bool,
    open: Option<TrxResult>,
    results: Held,
    class_names: Vec<String>,
    class_index: HashMap<String, u32>,
    /// A definition's key (test id or execution id) to its class.
    classes: HashMap<u128, u32>,
    /// Inside a `<UnitTest>`: its key once known.
    definition: Option<Option<u128>>,
}

/// Longest name kept from a TRX result, longest class from a definition.
const TRX_TEXT_BYTES: usize = 4096;

/// An id as the join key: ids are GUIDs, compared without case.
fn trx_key(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.trim().to_ascii_lowercase().as_bytes())
}

impl Parser<'_> {
    pub(super) fn open_dialect<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        e: &BytesStart<'_>,
        element: &str,
        empty: bool,
        on_entry: &mut dyn FnMut(&Entry<'_>),
    ) -> Result<(), ParseError> {
        let in_case = self.frames.iter().any(|f| f.kind == Kind::Case);
        match (self.dialect, element) {
            (Dialect::NUnit, "test-run" | "test-results" | "results")
            | (Dialect::XUnit, "assemblies")
            | (Dialect::Trx, "Results" | "InnerResults" | "TestDefinitions") => {
                self.descend(element, Kind::Other, None, empty)
            }
            (Dialect::Trx, "TestRun") => {
                self.d.trx.by_execution =
                    attr(e, "xmlns").is_some_and(|ns| ns.ends_with("/TeamTest/2006"));
                self.descend(element, Kind::Other, None, empty)
            }
            (Dialect::NUnit, "test-suite") => {
                let name = attr(e, "name").unwrap_or_default();
                let is_part = matches!(attr(e, "type").as_deref(), Some("TestSuite" | "Namespace"));
                let label = attr(e, "fullname")
                    .or_else(|| attr(e, "classname"))
                    .unwrap_or_else(|| {
                        let mut full = String::new();
                        for part in self.d.nunit_parts.iter().flatten() {
                            full.push_str(part);
                            full.push('.');
                        }
                        full.push_str(&name);
                        full
                    });
                self.stats.suites += 1;
                if !empty {
                    self.d.nunit_parts.push(is_part.then_some(name));
                }
                self.descend(element, Kind::Suite, Some(bounded(label, 1024)), empty)
            }
            (Dialect::XUnit, "assembly" | "collection" | "class") => {
                self.stats.suites += 1;
                let label = attr(e, "name").map(|n| bounded(n, 1024));
                self.descend(element, Kind::Suite, label, empty)
            }
            (Dialect::NUnit, "test-case") => {
                // One pass over the attributes: a test case has a dozen.
                let case = &mut self.case;
                case.clear_attributes();
                let (mut time, mut result, mut skipped) = (None, None, false);
                for a in e.attributes().with_checks(false).flatten() {
                    let value = || a.value.to_string();
                    match a.key.local_name().as_ref() {
                        "name" => set_value(&a, &mut case.name),
                        "classname" => set_value(&a, &mut case.classname),
                        // `duration` (NUnit 3) wins over `time` (NUnit 2).
                        "duration" => time = Some(value()),
                        "time" if time.is_none() => time = Some(value()),
                        "result" => result = Some(value()),
                        "executed" => skipped |= &*a.value == "False",
                        "runstate" => {
                            skipped |= matches!(&*a.value, "Skipped" | "Ignored" | "NotRunnable")
                        }
                        _ => {}
                    }
                }
                skipped |= matches!(
                    result.as_deref(),
                    Some("Skipped" | "Ignored" | "NotRunnable" | "Inconclusive")
                );
                if let Some(t) = time {
                    case.time = t;
                }
                if skipped {
                    case.main = Some(Outcome::Skipped);
                }
                // NUnit 2 writes no classname: the fixture's full name is the
                // enclosing suite's, and the test's name starts with it.
                self.d.nunit_error = result.as_deref() == Some("Error");
                self.open_dialect_case(element, empty, on_entry);
                Ok(())
            }
            (Dialect::XUnit, "test") => {
                let case = &mut self.case;
                case.clear_attributes();
                attr_into(e, "type", &mut case.classname);
                attr_into(e, "name", &mut case.name);
                attr_into(e, "time", &mut case.time);
                case.name = xunit_name(&case.classname, &case.name, attr(e, "method"));
                let result = attr(e, "result");
                case.main = match result.as_deref() {
                    Some("Fail") => Some(Outcome::Failed),
                    Some("Skip" | "NotRun") => Some(Outcome::Skipped),
                    _ => None,
                };
                self.d.result_given = result.is_some();
                self.open_dialect_case(element, empty, on_entry);
                Ok(())
            }
            (Dialect::NUnit | Dialect::XUnit, "failure" | "reason" | "message" | "stack-trace")
                if !in_case =>
            {
                // A suite's own failure or reason (a fixture's setup): its
                // tests say what it did to them.
                if empty {
                    Ok(())
                } else {
                    self.skip(reader, element, false)
                }
            }
            (Dialect::NUnit, "failure") | (Dialect::XUnit, "failure") => {
                let errored = self.dialect == Dialect::NUnit && self.d.nunit_error;
                if !(self.dialect == Dialect::XUnit && self.d.result_given) {
                    self.case.main = Some(if errored {
                        Outcome::Errored
                    } else {
                        Outcome::Failed
                    });
                }
                self.descend(element, Kind::Other, None, empty)
            }
            (Dialect::NUnit, "reason") => self.descend(element, Kind::Other, None, empty),
            (Dialect::XUnit, "reason") => {
                if !self.d.result_given {
                    self.case.main = Some(Outcome::Skipped);
                }
                self.read_text(reader, element, empty)
            }
            (Dialect::NUnit | Dialect::XUnit, "message") => self.read_text(reader, element, empty),
            (Dialect::NUnit | Dialect::XUnit, "stack-trace") => {
                self.read_text(reader, element, empty)
            }
            (Dialect::Trx, "UnitTestResult") => {
                let outcome = match attr(e, "outcome") {
                    None => Outcome::Errored,
                    Some(o) if o.contains("Passed") => Outcome::Passed,
                    Some(o) if o.contains("Failed") => Outcome::Failed,
                    Some(o) if o.contains("Error") => Outcome::Errored,
                    Some(_) => Outcome::Skipped,
                };
                let time = match attr(e, "duration") {
                    Some(d) => trx_duration(&d),
                    None => match (attr(e, "startTime"), attr(e, "endTime")) {
                        (Some(s), Some(e)) => trx_span(&s, &e),
                        _ => None,
                    },
                };
                let id = if self.d.trx.by_execution {
                    "executionId"
                } else {
                    "testId"
                };
                let result = TrxResult {
                    key: trx_key(&attr(e, id).unwrap_or_default()),
                    name: bounded(attr(e, "testName").unwrap_or_default(), TRX_TEXT_BYTES),
                    outcome,
                    time,
                    message: None,
                    detail: None,
                };
                self.stats.testcases += 1;
                if empty {
                    self.hold(result, reader.buffer_position())?;
                } else {
                    self.d.reason.clear();
                    self.d.detail.clear();
                    self.d.trx.open = Some(result);
                    self.push(Kind::Case, element, None, 0);
                }
                Ok(())
            }
            (Dialect::Trx, "Output" | "ErrorInfo") if self.d.trx.open.is_some() => {
                self.descend(element, Kind::Other, None, empty)
            }
            (Dialect::Trx, "Message" | "StackTrace") if self.d.trx.open.is_some() => {
                self.read_text(reader, element, empty)
            }
            (Dialect::Trx, "UnitTest") => {
                let trx = &mut self.d.trx;
                trx.definition = Some(if trx.by_execution {
                    None
                } else {
                    attr(e, "id").map(|id| trx_key(&id))
                });
                self.descend(element, Kind::Other, None, empty)
            }
            (Dialect::Trx, "Execution") if self.d.trx.by_execution => {
                if let Some(key) = &mut self.d.trx.definition {
                    *key = attr(e, "id").map(|id| trx_key(&id));
                }
                self.descend(element, Kind::Other, None, empty)
            }
            (Dialect::Trx, "TestMethod") => {
                if let Some(Some(key)) = self.d.trx.definition {
                    let class = attr(e, "className").unwrap_or_default();
                    // An assembly-qualified name: the class is before the comma.
                    let class = match class.split_once(',') {
                        Some((c, _)) => c.to_string(),
                        None => class,
                    };
                    let trx = &mut self.d.trx;
                    let index = match trx.class_index.get(&class) {
                        Some(i) => *i,
                        None => {
                            let i = u32::try_from(trx.class_names.len()).unwrap_or(u32::MAX);
                            trx.class_names.push(bounded(class.clone(), TRX_TEXT_BYTES));
                            trx.class_index.insert(class, i);
                            i
                        }
                    };
                    trx.classes.insert(key, index);
                }
                self.descend(element, Kind::Other, None, empty)
            }
            _ => {
                if empty {
                    Ok(())
                } else {
                    self.skip(reader, element, false)
                }
            }
        }
    }

    /// Opens an element whose children are read.
    fn descend(
        &mut self,
        element: &str,
        kind: Kind,
        label: Option<String>,
        empty: bool,
    ) -> Result<(), ParseError> {
        if !empty {
            let index = match kind {
                Kind::Suite => self.frames.last_mut().map_or(0, |f| {
                    f.suites += 1;
                    f.suites - 1
                }),
                _ => 0,
            };
            self.push(kind, element, label, index);
        }
        Ok(())
    }

    /// Reads a text element's body into the open test's message (a failure
    /// message, else the first text: a stack trace, a skip reason).
    fn read_text<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        element: &str,
        empty: bool,
    ) -> Result<(), ParseError> {
        if empty {
            return Ok(());
        }
        let kept = std::mem::take(&mut self.case.message);
        self.skip(reader, element, true)?;
        let text = std::mem::replace(&mut self.case.message, kept);
        let is_message = matches!(element, "message" | "Message");
        if !is_message && self.d.detail.is_empty() {
            self.d.detail.clone_from(&text);
        }
        let reason = &mut self.d.reason;
        if !text.is_empty() && (is_message || reason.is_empty()) {
            *reason = text;
        }
        Ok(())
    }

    /// A test element's start: counted among its siblings, named after its
    /// suite when it has no class, emitted at once when it has no body.
    fn open_dialect_case(
        &mut self,
        element: &str,
        empty: bool,
        on_entry: &mut dyn FnMut(&Entry<'_>),
    ) {
        let index = self.begin_case();
        let case = &mut self.case;
        // `Namespace.Class.Method` under a class `Namespace.Class`: the method.
        if let Some(short) = case
            .name
            .strip_prefix(case.classname.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .filter(|s| !s.is_empty())
        {
            case.name = short.to_string();
        }
        self.d.reason.clear();
        self.d.detail.clear();
        if empty {
            self.finish_dialect_case(on_entry);
        } else {
            self.push(Kind::Case, element, None, index);
        }
    }

    fn finish_dialect_case(&mut self, on_entry: &mut dyn FnMut(&Entry<'_>)) {
        let reason = std::mem::take(&mut self.d.reason);
        let detail = std::mem::take(&mut self.d.detail);
        if self.case.main.is_some_and(Outcome::is_failure) {
            self.case.message = reason;
            cap_at_char_boundary(&mut self.case.message, self.limits.message_bytes);
            if detail != self.case.message {
                self.case.detail = detail;
            }
        }
        self.emit_case(on_entry);
    }

    fn hold(&mut self, r: TrxResult, offset: u64) -> Result<(), ParseError> {
        self.d.trx.results.push(r).map_err(|e| {
            self.error(
                offset,
                format!("cannot hold the TRX results in a temporary file: {e}"),
            )
        })
    }

    pub(super) fn close_dialect(
        &mut self,
        frame_kind: Kind,
        element: &str,
        offset: u64,
        on_entry: &mut dyn FnMut(&Entry<'_>),
    ) -> Result<(), ParseError> {
        match (self.dialect, frame_kind, element) {
            (Dialect::Trx, Kind::Case, _) => {
                if let Some(mut r) = self.d.trx.open.take() {
                    let reason = std::mem::take(&mut self.d.reason);
                    let detail = std::mem::take(&mut self.d.detail);
                    if r.outcome.is_failure() && !reason.is_empty() {
                        if !detail.is_empty() && detail != reason {
                            r.detail = Some(detail.into_boxed_str());
                        }
                        r.message = Some(reason.into_boxed_str());
                    }
                    self.hold(r, offset)?;
                }
            }
            (_, Kind::Case, _) => self.finish_dialect_case(on_entry),
            (Dialect::NUnit, Kind::Suite, _) => {
                self.d.nunit_parts.pop();
            }
            (Dialect::Trx, _, "UnitTest") => self.d.trx.definition = None,
            (Dialect::Trx, _, "TestRun") => self.flush_trx(offset, on_entry)?,
            _ => {}
        }
        Ok(())
    }

    /// Every held TRX result, in file order, with its class from the
    /// definitions; a name that starts with its class loses that prefix.
    fn flush_trx(
        &mut self,
        offset: u64,
        on_entry: &mut dyn FnMut(&Entry<'_>),
    ) -> Result<(), ParseError> {
        let trx = std::mem::take(&mut self.d.trx);
        let mut time = String::new();
        let (classes, class_names) = (&trx.classes, &trx.class_names);
        let drained = trx.results.drain(&mut |r| {
            let class = classes
                .get(&r.key)
                .and_then(|i| class_names.get(*i as usize))
                .map_or("", String::as_str);
            let name = r
                .name
                .strip_prefix(class)
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|s| !class.is_empty() && !s.is_empty())
                .unwrap_or(&r.name);
            time.clear();
            if let Some(t) = r.time {
                time.push_str(&t.to_string());
            }
            on_entry(&Entry {
                classname: class,
                name,
                attempts: &[r.outcome],
                time_text: (!time.is_empty()).then_some(time.as_str()),
                message: r.message.as_deref(),
                detail: r.detail.as_deref(),
                ..Entry::default()
            });
        });
        drained.map_err(|e| {
            self.error(
                offset,
                format!("cannot read back the held TRX results: {e}"),
            )
        })
    }
}

/// An xUnit.net test's name: its method, as the action names it, so a
/// display name (`[Fact(DisplayName = "…")]`) does not rename the test; but
/// a theory's data row keeps its arguments (`Add(a: 1, b: 2)`, generic
/// `M<String>("A")`), so each row is a test of its own, not an attempt of
/// one test. Without a method, the name, less its `Type.` prefix.
fn xunit_name(class: &str, name: &str, method: Option<String>) -> String {
    let short = name
        .strip_prefix(class)
        .and_then(|r| r.strip_prefix('.'))
        .filter(|_| !class.is_empty())
        .unwrap_or(name);
    match method.filter(|m| !m.is_empty()) {
        Some(m)
            if short
                .strip_prefix(m.as_str())
                .is_some_and(|r| r.starts_with(['(', '<'])) =>
        {
            short.to_string()
        }
        Some(m) => m,
        None => short.to_string(),
    }
}

/// TRX's `duration="hh:mm:ss.fffffff"` in seconds.
fn trx_duration(d: &str) -> Option<f64> {
    let mut parts = d.trim().rsplitn(3, ':');
    let seconds: f64 = parts.next()?.parse().ok()?;
    let minutes: f64 = parts.next()?.parse().ok()?;
    let hours: f64 = match parts.next() {
        // `d.hh` when a run took more than a day.
        Some(h) => match h.split_once('.') {
            Some((days, hours)) => days.parse::<f64>().ok()? * 24.0 + hours.parse::<f64>().ok()?,
            None => h.parse().ok()?,
        },
        None => 0.0,
    };
    let total = hours * 3600.0 + minutes * 60.0 + seconds;
    (total.is_finite() && total >= 0.0).then_some(total)
}

/// Seconds between TRX's `startTime` and `endTime` (RFC 3339).
fn trx_span(start: &str, end: &str) -> Option<f64> {
    let s = chrono::DateTime::parse_from_rfc3339(start.trim()).ok()?;
    let e = chrono::DateTime::parse_from_rfc3339(end.trim()).ok()?;
    let ms = (e - s).num_microseconds()? as f64 / 1e6;
    (ms >= 0.0).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::{trx_duration, trx_span, xunit_name};
    use crate::junit::Outcome::*;
    use crate::junit::parse::test_support::{Seen, run};

    /// Each test's identity, attempts and message.
    fn outcomes(seen: &[Seen]) -> Vec<(&str, Vec<crate::junit::Outcome>, Option<&str>)> {
        seen.iter()
            .map(|s| (s.id.as_str(), s.attempts.clone(), s.message.as_deref()))
            .collect()
    }

    #[test]
    fn nunit_outcomes_names_and_suite_failures() {
        // NUnit 2: no classname, the fixture's full name from the namespaces.
        let v2 = br#"<test-results><test-suite type="Assembly" name="a.dll"><results>
            <test-suite type="Namespace" name="N"><results>
            <test-suite type="TestFixture" name="F"><failure><message>setup</message></failure><results>
              <test-case name="N.F.Ok" executed="True" result="Success" time="0.5"/>
              <test-case name="N.F.Bad" executed="True" result="Failure"><failure><message><![CDATA[expected 1]]></message><stack-trace>at N.F.Bad() in F.cs:line 9</stack-trace></failure></test-case>
              <test-case name="N.F.Boom" executed="True" result="Error"><failure><message>NullReference</message></failure></test-case>
              <test-case name="N.F.Off" executed="False" result="Ignored"><reason><message>later</message></reason></test-case>
              <test-case name="N.F.Maybe" executed="True" result="Inconclusive"/>
            </results></test-suite></results></test-suite></results></test-suite></test-results>"#;
        let seen = run(v2).unwrap();
        let got = outcomes(&seen);
        assert_eq!(
            got,
            [
                ("N.F::Ok", vec![Passed], None),
                ("N.F::Bad", vec![Failed], Some("expected 1")),
                ("N.F::Boom", vec![Errored], Some("NullReference")),
                ("N.F::Off", vec![Skipped], None),
                ("N.F::Maybe", vec![Skipped], None),
            ]
        );
        assert_eq!(seen[0].time, Some(0.5));
        // NUnit 3: classname given, duration; a failure without message
        // keeps its stack trace.
        let v3 = br#"<test-run><test-suite type="TestFixture" fullname="N.F"><output>noise</output>
            <test-case name="T(1)" fullname="N.F.T(1)" classname="N.F" result="Failed" duration="0.25"><failure><stack-trace>at N.F.T() in /src/F.cs:line 4</stack-trace></failure><output><![CDATA[<x>]]></output></test-case>
            <test-case name="U" classname="N.F" result="Skipped" runstate="Ignored"/>
            </test-suite></test-run>"#;
        let seen = run(v3).unwrap();
        assert_eq!(seen[0].id, "N.F::T(1)");
        assert_eq!(seen[0].attempts, [Failed]);
        assert_eq!(seen[0].time, Some(0.25));
        assert_eq!(
            seen[0].message.as_deref(),
            Some("at N.F.T() in /src/F.cs:line 4")
        );
        assert_eq!(
            (seen[1].id.as_str(), seen[1].attempts.clone()),
            ("N.F::U", vec![Skipped])
        );
    }

    #[test]
    fn xunit_result_attribute_outranks_children() {
        let xml = br#"<assemblies><assembly name="a.dll"><errors><error type="assembly-cleanup"><failure><message>x</message></failure></error></errors>
            <collection name="c"><test name="N.C.A" type="N.C" method="A" result="Pass" time="0.1"><traits><trait name="k" value="v"/></traits></test>
            <test name="N.C.B" type="N.C" method="B" result="Fail"><failure exception-type="E"><message>boom</message><stack-trace>at N.C.B()</stack-trace></failure></test>
            <test name="N.C.S" type="N.C" method="S" result="Skip"><reason><![CDATA[not now]]></reason></test>
            <test name="N.C.R" type="N.C" method="R"><reason>v1 skip</reason></test>
            </collection></assembly></assemblies>"#;
        let seen = run(xml).unwrap();
        let got = outcomes(&seen);
        assert_eq!(
            got,
            [
                ("N.C::A", vec![Passed], None),
                ("N.C::B", vec![Failed], Some("boom")),
                ("N.C::S", vec![Skipped], None),
                ("N.C::R", vec![Skipped], None),
            ]
        );
    }

    #[test]
    fn trx_joins_results_to_their_classes() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"><Results>
  <UnitTestResult executionId="e1" testId="t1" testName="N.C.Passes" duration="00:00:01.5000000" outcome="Passed"><Output><StdOut>lots</StdOut></Output></UnitTestResult>
  <UnitTestResult executionId="e2" testId="t2" testName="Fails" outcome="Failed"><Output><ErrorInfo><Message>Assert.Equal() Failure</Message><StackTrace>at N.C.Fails() in /src/C.cs:line 7</StackTrace></ErrorInfo></Output></UnitTestResult>
  <UnitTestResult executionId="e3" testId="t3" testName="Crashes"/>
  <UnitTestResult executionId="e4" testId="t4" testName="N.C.NotRun" outcome="NotExecuted"/>
</Results><TestDefinitions>
  <UnitTest name="Passes" id="t1"><Execution id="e1"/><TestMethod className="N.C, Asm, Version=1.0" name="Passes"/></UnitTest>
  <UnitTest name="Fails" id="t2"><TestMethod className="N.C" name="Fails"/></UnitTest>
  <UnitTest name="Crashes" id="t3"><TestMethod className="N.D" name="Crashes"/></UnitTest>
  <UnitTest name="NotRun" id="t4"><TestMethod className="N.C" name="NotRun"/></UnitTest>
</TestDefinitions><ResultSummary outcome="Failed"><Counters total="4"/></ResultSummary></TestRun>"#;
        let seen = run(xml).unwrap();
        let got = outcomes(&seen);
        assert_eq!(
            got,
            [
                ("N.C::Passes", vec![Passed], None),
                ("N.C::Fails", vec![Failed], Some("Assert.Equal() Failure")),
                ("N.D::Crashes", vec![Errored], None),
                ("N.C::NotRun", vec![Skipped], None),
            ]
        );
        assert_eq!(seen[0].time, Some(1.5));
        // Cut short: an error, not a partial run.
        let cut = &xml[..xml.len() / 2];
        let e = run(cut).unwrap_err();
        assert!(e.message.contains("malformed"), "{e}");
        assert!(e.path.starts_with("TestRun/Results"), "{e}");
        let e = run(&xml[..xml.len() - 12]).unwrap_err();
        assert!(e.message.contains("truncated"), "{e}");
    }

    #[test]
    fn xunit_names() {
        let m = |s: &str| Some(s.to_string());
        assert_eq!(xunit_name("N.C", "N.C.Test", m("Test")), "Test");
        assert_eq!(
            xunit_name("N.C", "Installs the app.", m("Install")),
            "Install"
        );
        assert_eq!(xunit_name("N.C", "N.C.Add(a: 1)", m("Add")), "Add(a: 1)");
        assert_eq!(
            xunit_name("[g]", "[g].S<String>(\"A\")", m("S")),
            "S<String>(\"A\")"
        );
        assert_eq!(xunit_name("", "dir\\test.xml", m("")), "dir\\test.xml");
        assert_eq!(xunit_name("N.C", "N.C.Other", None), "Other");
    }

    #[test]
    fn trx_times() {
        assert_eq!(trx_duration("00:00:01.5000000"), Some(1.5));
        assert_eq!(trx_duration("01:02:03"), Some(3723.0));
        assert_eq!(trx_duration("1.02:00:00"), Some(26.0 * 3600.0));
        assert_eq!(trx_duration("soon"), None);
        assert_eq!(
            trx_span(
                "2020-01-01T10:00:00.0000000+01:00",
                "2020-01-01T09:00:02.5000000+00:00"
            ),
            Some(2.5)
        );
    }
}
