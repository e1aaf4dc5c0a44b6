//! CTRF reports (Common Test Report Format, <https://ctrf.io>): one JSON
//! object `{"results": {"tool", "summary", "tests": [...]}}`, read as a
//! stream so memory stays bounded in the file size.
//!
//! Each element of `results.tests` is deserialized on its own, handed to
//! `on_entry` and dropped; key order does not matter and every field we do
//! not map is skipped without being buffered. Bounds, kept by a meter under
//! the JSON reader:
//! - the fields of one test that we read (`name`, `status`, `suite`,
//!   `filePath`, `message`, `trace`, `retryAttempts`...) may not take more
//!   than `Limits::max_event_bytes` of the file together, and nor may any
//!   key; the values we skip (a test's `stdout`, `screenshot`, `attachments`,
//!   `steps`; `summary`, `environment`, `extra`...) are streamed past
//!   whatever their size, as the XML parser skips a `<system-out>`;
//! - messages are cut to `Limits::message_bytes`;
//! - a test may claim at most `ctrf_entry::MAX_ATTEMPTS` attempts.
//!
//! The mapping of one test object to an entry is `ctrf_entry`'s.
//!
//! The spec tells consumers to reject unknown fields and documents without
//! `reportFormat: "CTRF"`; we do neither, as reporters written against
//! earlier drafts lack both, and counting their tests is the point. A JSON
//! object without a `results` object is not a CTRF report (`not_a_report`:
//! a `package.json` in a reports directory).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, BufRead, Read};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::ctrf_entry::TestSeed;
use super::reader::{FileStats, Limits, ParseError};
use crate::junit::model::Entry;

/// Streams a CTRF report, calling `on_entry` for each element of
/// `results.tests` in order.
pub(super) fn parse_ctrf<R: BufRead>(
    source: R,
    limits: &Limits,
    on_entry: &mut dyn FnMut(&Entry<'_>),
) -> Result<FileStats, ParseError> {
    let meter = Meter::new();
    let ctx = Ctx {
        limits,
        meter: &meter,
        at: Cell::new(At::Root),
        test_start: Cell::new(0),
        failure: RefCell::new(None),
        stats: RefCell::new(FileStats::default()),
    };
    let mut de = serde_json::Deserializer::from_reader(Metered {
        inner: source,
        meter: &meter,
        limit: limits.max_event_bytes,
    });
    let read = DocSeed {
        ctx: &ctx,
        on_entry,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match read {
        Ok(()) => Ok(ctx.stats.into_inner()),
        Err(e) => Err(ctx.error(e)),
    }
}

/// How many bytes the JSON reader took, in all and since the last `reset`.
pub(super) struct Meter {
    used: Cell<u64>,
    total: Cell<u64>,
    /// Off while a value we skip is streamed past.
    limiting: Cell<bool>,
}

impl Meter {
    pub(super) fn new() -> Self {
        Meter {
            used: Cell::new(0),
            total: Cell::new(0),
            limiting: Cell::new(true),
        }
    }

    fn reset(&self) {
        self.used.set(0);
    }

    /// Streams past a value we do not read, however large, without keeping
    /// it or counting it against the limit.
    pub(super) fn skip<'de, A: MapAccess<'de>>(&self, map: &mut A) -> Result<(), A::Error> {
        let was = self.limiting.replace(false);
        let skipped = map.next_value::<IgnoredAny>();
        self.limiting.set(was);
        skipped.map(|_| ())
    }
}

/// The reader under serde_json: counts bytes, and fails once the current
/// test (or a key) passes the limit, before it is buffered whole.
struct Metered<'m, R> {
    inner: R,
    meter: &'m Meter,
    limit: u64,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut room = out.len();
        if self.meter.limiting.get() {
            let used = self.meter.used.get();
            if used > self.limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    TooLarge(self.limit),
                ));
            }
            room = room.min(usize::try_from(self.limit - used + 1).unwrap_or(usize::MAX));
        }
        let n = self.inner.read(&mut out[..room])?;
        let n64 = n as u64;
        if self.meter.limiting.get() {
            self.meter
                .used
                .set(self.meter.used.get().saturating_add(n64));
        }
        self.meter
            .total
            .set(self.meter.total.get().saturating_add(n64));
        Ok(n)
    }
}

/// The error `Metered` returns when one test passes the limit.
#[derive(Debug)]
struct TooLarge(u64);

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON key or value is larger than {} bytes", self.0)
    }
}

impl std::error::Error for TooLarge {}

/// Where the reader is, for error paths.
#[derive(Clone, Copy, Debug)]
enum At {
    Root,
    Results,
    Tests,
    Test(u64),
}

impl At {
    fn path(self) -> String {
        match self {
            At::Root => "/".into(),
            At::Results => "results".into(),
            At::Tests => "results.tests".into(),
            At::Test(i) => format!("results.tests[{i}]"),
        }
    }
}

/// What the visitors share: serde's errors carry text only, so a failure
/// of ours is kept here with its kind, and the path is tracked here too.
struct Ctx<'a> {
    limits: &'a Limits,
    meter: &'a Meter,
    at: Cell<At>,
    /// Byte offset where the current test began.
    test_start: Cell<u64>,
    /// Our own failure: the message and whether the file is not a CTRF
    /// report at all.
    failure: RefCell<Option<(String, bool)>>,
    stats: RefCell<FileStats>,
}

impl Ctx<'_> {
    fn fail<E: de::Error>(&self, message: String, not_a_report: bool) -> E {
        let e = E::custom(&message);
        *self.failure.borrow_mut() = Some((message, not_a_report));
        e
    }

    fn error(&self, e: serde_json::Error) -> ParseError {
        let path = self.at.get().path();
        if let Some((message, not_a_report)) = self.failure.borrow_mut().take() {
            let offset = match self.at.get() {
                At::Test(_) => self.test_start.get(),
                _ => self.meter.total.get(),
            };
            return ParseError {
                path,
                offset,
                message,
                not_a_report,
            };
        }
        let message = match e.classify() {
            serde_json::error::Category::Io => {
                let io = io::Error::from(e);
                match io.get_ref().and_then(|i| i.downcast_ref::<TooLarge>()) {
                    Some(TooLarge(limit)) if matches!(self.at.get(), At::Test(_)) => format!(
                        "the test object is larger than {limit} bytes in the fields read \
                         (name, status, suite, filePath, message, trace, retryAttempts...)"
                    ),
                    Some(t) => t.to_string(),
                    None => format!("cannot read the file: {io}"),
                }
            }
            serde_json::error::Category::Eof => {
                format!("unexpected end of file: {e} (truncated report?)")
            }
            serde_json::error::Category::Syntax => format!("malformed JSON: {e}"),
            serde_json::error::Category::Data => format!("not a valid CTRF report: {e}"),
        };
        ParseError {
            path,
            offset: self.meter.total.get(),
            message,
            not_a_report: false,
        }
    }

    /// Streams past a value we do not read, then starts counting afresh.
    fn skip<'de, A: MapAccess<'de>>(&self, map: &mut A) -> Result<(), A::Error> {
        let skipped = self.meter.skip(map);
        self.meter.reset();
        skipped
    }
}

/// The keys we look for, at the top and in `results`.
enum Key {
    Results,
    Tests,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "results" => Key::Results,
                    "tests" => Key::Tests,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// The document: finds `results` among its keys.
struct DocSeed<'c, 'a, 'f> {
    ctx: &'c Ctx<'a>,
    on_entry: &'f mut dyn FnMut(&Entry<'_>),
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CTRF report object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut seen = false;
        while let Some(key) = {
            ctx.meter.reset();
            map.next_key::<Key>()?
        } {
            match key {
                Key::Results if seen => {
                    return Err(ctx.fail("duplicate \"results\" object".into(), false));
                }
                Key::Results => {
                    seen = true;
                    ctx.at.set(At::Results);
                    map.next_value_seed(ResultsSeed {
                        ctx,
                        on_entry: &mut *self.on_entry,
                    })?;
                    ctx.at.set(At::Root);
                }
                _ => ctx.skip(&mut map)?,
            }
        }
        if !seen {
            return Err(ctx.fail("not a CTRF report: no \"results\" object".into(), true));
        }
        Ok(())
    }
}

/// `results`: finds `tests` among its keys.
struct ResultsSeed<'c, 'a, 'f> {
    ctx: &'c Ctx<'a>,
    on_entry: &'f mut dyn FnMut(&Entry<'_>),
}

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // `any`, so that a `results` that is not an object (an API's search
        // results, say) is told apart from a broken report.
        d.deserialize_any(self)
    }
}

impl ResultsSeed<'_, '_, '_> {
    fn not_an_object<E: de::Error>(&self) -> E {
        self.ctx.fail(
            "not a CTRF report: \"results\" is not an object".into(),
            true,
        )
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the CTRF \"results\" object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut seen = false;
        while let Some(key) = {
            ctx.meter.reset();
            map.next_key::<Key>()?
        } {
            match key {
                Key::Tests if seen => {
                    return Err(ctx.fail("duplicate \"tests\" array".into(), false));
                }
                Key::Tests => {
                    seen = true;
                    ctx.at.set(At::Tests);
                    map.next_value_seed(TestsSeed {
                        ctx,
                        on_entry: &mut *self.on_entry,
                    })?;
                    ctx.at.set(At::Results);
                }
                _ => ctx.skip(&mut map)?,
            }
        }
        if !seen {
            return Err(ctx.fail("no \"tests\" array in \"results\"".into(), false));
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.not_an_object())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.not_an_object())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.not_an_object())
    }
}

/// `results.tests`: one test at a time.
struct TestsSeed<'c, 'a, 'f> {
    ctx: &'c Ctx<'a>,
    on_entry: &'f mut dyn FnMut(&Entry<'_>),
}

impl<'de> DeserializeSeed<'de> for TestsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TestsSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CTRF tests")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut index = 0u64;
        loop {
            ctx.meter.reset();
            ctx.test_start.set(ctx.meter.total.get());
            ctx.at.set(At::Test(index));
            let Some(test) = seq.next_element_seed(TestSeed { meter: ctx.meter })? else {
                break;
            };
            let entry = test
                .into_entry(ctx.limits)
                .map_err(|m| ctx.fail(m, false))?;
            (self.on_entry)(&entry.as_entry());
            ctx.stats.borrow_mut().testcases += 1;
            index += 1;
        }
        ctx.at.set(At::Tests);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Outcome::*;
    use crate::junit::parse::test_support::{run, run_with};

    fn doc(tests: &str) -> String {
        format!(
            r#"{{"reportFormat":"CTRF","specVersion":"0.0.0","results":{{"tool":{{"name":"t"}},
            "summary":{{"tests":1,"passed":1,"failed":0,"skipped":0,"pending":0,"other":0,"start":1,"stop":2}},
            "tests":[{tests}]}}}}"#
        )
    }

    #[test]
    fn status_mapping() {
        let seen = run(doc(r#"{"name":"a","status":"passed","duration":1234},
               {"name":"b","status":"failed","duration":0,"message":"boom\nmore","trace":"at x"},
               {"name":"c","status":"skipped","message":"not here"},
               {"name":"d","status":"pending"},
               {"name":"e","status":"other","duration":1.5},
               {"name":"f","status":"failed","trace":"\n  AssertionError: no\n    at y"}"#)
        .as_bytes())
        .unwrap();
        let attempts: Vec<_> = seen.iter().map(|s| s.attempts.clone()).collect();
        assert_eq!(
            attempts,
            [
                vec![Passed],
                vec![Failed],
                vec![Skipped],
                vec![Skipped],
                vec![Skipped],
                vec![Failed]
            ]
        );
        assert_eq!(seen[0].id, "::a");
        assert_eq!(seen[0].time, Some(1.234));
        assert_eq!(seen[1].time, Some(0.0));
        assert_eq!(seen[2].time, None);
        assert_eq!(seen[4].time, Some(0.0015));
        assert_eq!(seen[1].message.as_deref(), Some("boom\nmore"));
        // A skip reason is not a failure message.
        assert_eq!(seen[2].message, None);
        assert_eq!(seen[5].message.as_deref(), Some("AssertionError: no"));
        let e = run(doc(r#"{"name":"a","status":"broken"}"#).as_bytes()).unwrap_err();
        assert_eq!(e.path, "results.tests[0]", "{e}");
        assert!(e.message.contains("unknown status \"broken\""), "{e}");
        assert!(!e.not_a_report);
        let e = run(doc(r#"{"name":"a","status":"passed"},{"status":"passed"}"#).as_bytes())
            .unwrap_err();
        assert_eq!(e.path, "results.tests[1]", "{e}");
        assert!(e.message.contains("no \"name\""), "{e}");
        let e = run(doc(r#"{"name":"a"}"#).as_bytes()).unwrap_err();
        assert!(e.message.contains("test \"a\" has no \"status\""), "{e}");
        let e = run(doc(r#"{"name":3,"status":"passed"}"#).as_bytes()).unwrap_err();
        assert_eq!(e.path, "results.tests[0]", "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn key_order_and_unknown_fields_do_not_matter() {
        let tests_first = r#"{"results":{"tests":[
                {"extra":{"deep":[{"name":"x","status":"failed","tests":[1,{"results":{}}]}]},
                 "status":"failed","stdout":["a","b"],"name":"t1","attachments":[{"name":"n","path":"p"}],
                 "steps":[{"name":"s","status":"failed"}],"insights":{"passRate":{"current":0.5}},"duration":7},
                {"name":"t2","status":"passed","parameters":{"tests":{"name":"nope"}}}],
              "summary":{"tests":2},"tool":{"name":"t","extra":{"results":{"tests":[]}}}},
            "reportFormat":"CTRF","extra":{"results":1}}"#;
        let seen = run(tests_first.as_bytes()).unwrap();
        assert_eq!(
            seen.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["::t1", "::t2"]
        );
        assert_eq!(seen[0].attempts, [Failed]);
        assert_eq!(seen[0].time, Some(0.007));
        let summary_first =
            doc(r#"{"name":"t1","status":"failed"},{"name":"t2","status":"passed"}"#);
        let again = run(summary_first.as_bytes()).unwrap();
        assert_eq!(again[1].id, "::t2");
        // Leading whitespace and a byte-order mark before the object.
        let bom = format!("\u{feff}\n  {summary_first}\n");
        assert_eq!(run(bom.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn truncated_or_malformed_json() {
        let full =
            doc(r#"{"name":"a","status":"passed"},{"name":"b","status":"failed","message":"m"}"#);
        let mut delivered = 0;
        let cut = &full[..full.find(r#""status":"failed""#).unwrap() + 12];
        let e = super::super::parse(cut.as_bytes(), &Limits::default(), &mut |_| delivered += 1)
            .unwrap_err();
        assert_eq!(delivered, 1, "the test before the cut was read");
        assert_eq!(e.path, "results.tests[1]", "{e}");
        assert!(e.message.contains("truncated"), "{e}");
        assert!(e.offset > 0 && e.offset <= cut.len() as u64, "{e:?}");
        assert!(!e.not_a_report);
        let e = run(b"{\"results\": {\"tests\": [}").unwrap_err();
        assert!(e.message.contains("malformed JSON"), "{e}");
        let e = run(format!("{full} trailing").as_bytes()).unwrap_err();
        assert!(e.message.contains("malformed JSON"), "{e}");
        let e = run(br#"{"results":{"tool":{"name":"t"},"summary":{}}}"#).unwrap_err();
        assert_eq!(e.path, "results", "{e}");
        assert!(e.message.contains("no \"tests\" array"), "{e}");
        assert!(!e.not_a_report);
        let e = run(br#"{"results":{"tests":{"name":"a"}}}"#).unwrap_err();
        assert!(e.message.contains("an array of CTRF tests"), "{e}");
        let e = run(br#"{"results":{"tests":[]},"results":{"tests":[]}}"#).unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
        assert!(run(br#"{"results":{"tests":[]}}"#).unwrap().is_empty());
    }

    #[test]
    fn oversized_test_object() {
        let limits = Limits {
            max_event_bytes: 1000,
            message_bytes: 10,
            ..Limits::default()
        };
        let big = "x".repeat(5000);
        // A long message is cut; a test past the limit is an error.
        let ok = doc(&format!(
            r#"{{"name":"a","status":"failed","message":"é{}"}}"#,
            "é".repeat(400)
        ));
        let seen = run_with(ok.as_bytes(), &limits).unwrap();
        let m = seen[0].message.as_deref().unwrap();
        assert!(m.len() <= 10 + '…'.len_utf8() && m.starts_with("éé"), "{m}");
        let over = doc(&format!(
            r#"{{"name":"a","status":"passed"}},{{"name":"b","status":"failed","trace":"{big}"}}"#
        ));
        let e = run_with(over.as_bytes(), &limits).unwrap_err();
        assert_eq!(e.path, "results.tests[1]", "{e}");
        assert!(
            e.message
                .starts_with("the test object is larger than 1000 bytes in the fields read"),
            "{e}"
        );
        // The fields of a test we do not read are streamed past, whatever
        // their size, in the test and in its retry attempts.
        let noisy = doc(&format!(
            r#"{{"name":"a","stdout":["{big}","{big}"],"status":"passed","screenshot":"{big}",
                "retryAttempts":[{{"status":"failed","stderr":["{big}"],"attachments":[{{"path":"{big}"}}]}}],
                "steps":[{{"name":"{big}"}}],"extra":{{"{big}":{{"deep":"{big}"}}}}}},
              {{"name":"b","status":"passed"}}"#
        ));
        let seen = run_with(noisy.as_bytes(), &limits).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].attempts, [Failed, Passed]);
        // Empty retry attempts cost the file 3 bytes each: counted as they come.
        let empties = doc(&format!(
            r#"{{"name":"a","status":"passed","retryAttempts":[{}{{}}]}}"#,
            "{},".repeat(5000)
        ));
        let e = run(empties.as_bytes()).unwrap_err();
        assert!(e.message.contains("more than 1000 retryAttempts"), "{e}");
        assert_eq!(e.path, "results.tests[0]", "{e}");
        // Unknown values outside the tests are streamed past, whatever their size.
        let skipped = format!(
            r#"{{"extra":{{"log":"{big}"}},"results":{{"environment":{{"x":["{big}"]}},"tests":[{{"name":"a","status":"passed"}}]}}}}"#
        );
        assert_eq!(run_with(skipped.as_bytes(), &limits).unwrap().len(), 1);
        // A key we must read is held to the limit.
        let key = format!(r#"{{"{big}":1,"results":{{"tests":[]}}}}"#);
        let e = run_with(key.as_bytes(), &limits).unwrap_err();
        assert!(e.message.contains("larger than"), "{e}");
        // Many small tests make a file far larger than the limit.
        let many = doc(&vec![r#"{"name":"a","status":"passed"}"#; 200].join(","));
        assert_eq!(run_with(many.as_bytes(), &limits).unwrap().len(), 200);
    }

    #[test]
    fn not_ctrf_json() {
        for other in [
            &br#"{"name":"project","version":"1.0.0","devDependencies":{"jest":"^30"}}"#[..],
            br#"{"results":[{"id":1}],"total":1}"#,
            br#"{}"#,
        ] {
            let e = run(other).unwrap_err();
            assert!(e.not_a_report, "{e:?}");
            assert!(e.message.starts_with("not a CTRF report"), "{e}");
        }
        let e = run(br#"{"stats":{}, "tests":[{"title":"t"}]}"#).unwrap_err();
        assert_eq!(e.message, "not a CTRF report: no \"results\" object");
        assert_eq!(e.path, "/");
    }
}
