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
//! - a test may claim at most [`MAX_ATTEMPTS`] attempts.
//!
//! The mapping, following the CTRF specification (spec/ctrf.md in
//! ctrf-io/ctrf, pre-1.0 working draft) and what the reference reporters
//! write:
//! - `name` is the name. The classname is `suite`: the spec's array of suite
//!   names from the top down, joined with ` > `, or the single string jest's
//!   and playwright's reporters write, already joined that way and taken as
//!   is; without a suite, `filePath` (mocha's reporter writes no suite);
//!   else empty.
//! - `status`: `passed` → passed, `failed` → failed, `skipped`, `pending` and
//!   `other` → skipped. CTRF has no error/failure distinction, so nothing is
//!   `errored`. `other` is what reporters write for states that are neither
//!   a pass nor a failure (jest's `todo`, `disabled`, `focused`); a test in
//!   that state did not run to a verdict, like a skip. Any other value is an
//!   error: the spec allows these five only.
//! - `duration` is milliseconds; the entry's time is that in seconds.
//! - the message is kept for a test with a failed attempt only (as a
//!   `<failure>`'s is in JUnit, never a skip reason): `message`, or the first
//!   line of `trace` when there is no message; from the test itself when its
//!   final status failed, else from its last failed retry attempt.
//! - attempts: see [`attempts`].
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

use super::element::cap_at_char_boundary;
use super::reader::{FileStats, Limits, ParseError};
use crate::junit::model::{Entry, Outcome, OwnedEntry};

/// Most attempts one test may claim (`retries`, `retryAttempts[].attempt`):
/// attempts are held in memory, and nothing else in the file bounds them.
pub(super) const MAX_ATTEMPTS: u64 = 1000;

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
struct Meter {
    used: Cell<u64>,
    total: Cell<u64>,
    /// Off while a value we skip is streamed past.
    limiting: Cell<bool>,
}

impl Meter {
    fn new() -> Self {
        Meter {
            used: Cell::new(0),
            total: Cell::new(0),
            limiting: Cell::new(true),
        }
    }

    fn reset(&self) {
        self.used.set(0);
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

    /// Streams past a value we do not map, however large, without keeping it.
    fn skip<'de, A: MapAccess<'de>>(&self, map: &mut A) -> Result<(), A::Error> {
        self.meter.limiting.set(false);
        let skipped = map.next_value::<IgnoredAny>();
        self.meter.limiting.set(true);
        self.meter.reset();
        skipped.map(|_| ())
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

/// One element of `results.tests`, with the fields we map.
#[derive(Debug, Default)]
struct RawTest {
    name: Option<String>,
    status: Option<String>,
    duration: Option<f64>,
    suite: Option<Suite>,
    file_path: Option<String>,
    message: Option<String>,
    trace: Option<String>,
    retries: Option<u64>,
    flaky: Option<bool>,
    retry_attempts: Option<Vec<RawAttempt>>,
}

/// One element of a test's `retryAttempts`.
#[derive(Debug, Default)]
struct RawAttempt {
    attempt: Option<u64>,
    status: Option<String>,
    message: Option<String>,
    trace: Option<String>,
}

/// The fields of a test or retry attempt that we read.
enum Field {
    Name,
    Status,
    Duration,
    Suite,
    FilePath,
    Message,
    Trace,
    Retries,
    Flaky,
    RetryAttempts,
    Attempt,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "name" => Field::Name,
                    "status" => Field::Status,
                    "duration" => Field::Duration,
                    "suite" => Field::Suite,
                    "filePath" => Field::FilePath,
                    "message" => Field::Message,
                    "trace" => Field::Trace,
                    "retries" => Field::Retries,
                    "flaky" => Field::Flaky,
                    "retryAttempts" => Field::RetryAttempts,
                    "attempt" => Field::Attempt,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// Streams past the value of a field we do not read (`stdout`,
/// `screenshot`, `attachments`, `steps`, `extra`, ...) without counting it
/// against the test's limit: it is never held, so it may be any size, as a
/// `<system-out>` may in JUnit XML.
fn skip_field<'de, A: MapAccess<'de>>(meter: &Meter, map: &mut A) -> Result<(), A::Error> {
    let was = meter.limiting.replace(false);
    let skipped = map.next_value::<IgnoredAny>();
    meter.limiting.set(was);
    skipped.map(|_| ())
}

/// Reads one test object; the fields it does not read go to [`skip_field`].
struct TestSeed<'m> {
    meter: &'m Meter,
}

impl<'de> DeserializeSeed<'de> for TestSeed<'_> {
    type Value = RawTest;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawTest, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TestSeed<'_> {
    type Value = RawTest;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CTRF test object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTest, A::Error> {
        let mut t = RawTest::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Name => t.name = map.next_value()?,
                Field::Status => t.status = map.next_value()?,
                Field::Duration => t.duration = map.next_value()?,
                Field::Suite => t.suite = map.next_value()?,
                Field::FilePath => t.file_path = map.next_value()?,
                Field::Message => t.message = map.next_value()?,
                Field::Trace => t.trace = map.next_value()?,
                Field::Retries => t.retries = map.next_value()?,
                Field::Flaky => t.flaky = map.next_value()?,
                Field::RetryAttempts => {
                    t.retry_attempts = map.next_value_seed(AttemptsSeed { meter: self.meter })?;
                }
                Field::Attempt | Field::Other => skip_field(self.meter, &mut map)?,
            }
        }
        Ok(t)
    }
}

/// A test's `retryAttempts`, or `null`.
struct AttemptsSeed<'m> {
    meter: &'m Meter,
}

impl<'de> DeserializeSeed<'de> for AttemptsSeed<'_> {
    type Value = Option<Vec<RawAttempt>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for AttemptsSeed<'_> {
    type Value = Option<Vec<RawAttempt>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of retry attempts")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut attempts = Vec::new();
        while let Some(a) = seq.next_element_seed(AttemptSeed { meter: self.meter })? {
            // `[{}, {}, ...]` costs 3 bytes of the file an entry but far
            // more in memory: the count is checked as the entries come.
            if attempts.len() as u64 >= MAX_ATTEMPTS {
                return Err(de::Error::custom(format_args!(
                    "more than {MAX_ATTEMPTS} retryAttempts"
                )));
            }
            attempts.push(a);
        }
        Ok(Some(attempts))
    }
}

/// One retry attempt object.
struct AttemptSeed<'m> {
    meter: &'m Meter,
}

impl<'de> DeserializeSeed<'de> for AttemptSeed<'_> {
    type Value = RawAttempt;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawAttempt, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AttemptSeed<'_> {
    type Value = RawAttempt;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a retry attempt object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAttempt, A::Error> {
        let mut a = RawAttempt::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Attempt => a.attempt = map.next_value()?,
                Field::Status => a.status = map.next_value()?,
                Field::Message => a.message = map.next_value()?,
                Field::Trace => a.trace = map.next_value()?,
                _ => skip_field(self.meter, &mut map)?,
            }
        }
        Ok(a)
    }
}

/// `suite`: the spec's array of names, or the single string older
/// reporters write; held joined with ` > `.
#[derive(Debug)]
struct Suite(String);

impl<'de> Deserialize<'de> for Suite {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SuiteVisitor;
        impl<'de> Visitor<'de> for SuiteVisitor {
            type Value = Suite;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a suite name or an array of suite names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Suite, E> {
                Ok(Suite(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Suite, A::Error> {
                let mut joined = String::new();
                while let Some(part) = seq.next_element::<String>()? {
                    if !joined.is_empty() {
                        joined.push_str(" > ");
                    }
                    joined.push_str(&part);
                }
                Ok(Suite(joined))
            }
        }
        d.deserialize_any(SuiteVisitor)
    }
}

/// A CTRF status in our terms; `None` for a value the spec does not allow.
fn outcome(status: &str) -> Option<Outcome> {
    match status {
        "passed" => Some(Outcome::Passed),
        "failed" => Some(Outcome::Failed),
        "skipped" | "pending" | "other" => Some(Outcome::Skipped),
        _ => None,
    }
}

fn status_of(status: Option<&str>, what: &str) -> Result<Outcome, String> {
    let status = status.ok_or_else(|| format!("{what} has no \"status\""))?;
    outcome(status).ok_or_else(|| {
        format!(
            "{what} has an unknown status \"{}\" (CTRF allows passed, failed, skipped, pending, other)",
            status.escape_debug()
        )
    })
}

/// An earlier attempt that an entry of `retryAttempts` describes: its
/// outcome, and the entry's index (for its message).
struct Slot {
    outcome: Outcome,
    entry: usize,
}

/// A test's attempts, earlier ones first and the final status last, with
/// the `retryAttempts` entry behind each earlier attempt.
///
/// Reporters write retries in three ways, and the spec's text ("`retries`
/// SHOULD equal the count of entries in `retryAttempts`") and its examples
/// (every attempt listed, `retries` one less) disagree:
/// - `retries` (how many retries) and `flaky` only: jest's and mocha's
///   reporters;
/// - `retryAttempts` holding every attempt with its `attempt` number, the
///   final one included, and `retries` one less: the spec's examples;
/// - `retryAttempts` holding the earlier attempts only, `retries` equal to
///   their count: numbered (pytest-json-ctrf) or not (playwright's reporter,
///   which lists them in order).
///
/// One rule reads all three. An entry's attempt number is its `attempt`, or
/// its position from 1 when it has none. The test ran N times, N being the
/// largest of `retries + 1`, the highest `attempt` number, and the number
/// after the last unnumbered entry (an unnumbered list, as playwright writes
/// it, never holds the final attempt). Attempt N is the test's own `status`,
/// which the spec calls its final outcome; an earlier attempt takes its
/// entry's status, and one that no entry describes is a failure (a runner
/// retries a test that failed): `retries: 2, status: passed` is [failed,
/// failed, passed]. `flaky: true` on a pass means at least one failed attempt
/// before it, so it alone gives [failed, passed]. The one form this misreads
/// is numbered entries without `retries` that leave out the final attempt:
/// their last entry is then taken for the final one, one attempt short.
fn attempts(test: &RawTest, last: Outcome) -> Result<(Vec<Outcome>, Vec<Option<Slot>>), String> {
    let entries = test.retry_attempts.as_deref().unwrap_or_default();
    let mut runs = test.retries.map_or(1, |r| r.saturating_add(1));
    for (i, a) in entries.iter().enumerate() {
        let implied = match a.attempt {
            Some(0) => {
                return Err(format!(
                    "retryAttempts[{i}] has attempt number 0 (attempts count from 1)"
                ));
            }
            Some(n) => n,
            None => (i as u64).saturating_add(2),
        };
        runs = runs.max(implied);
    }
    if test.flaky == Some(true) && last == Outcome::Passed {
        runs = runs.max(2);
    }
    if runs > MAX_ATTEMPTS {
        return Err(format!(
            "the test claims {runs} attempts; at most {MAX_ATTEMPTS} are read"
        ));
    }
    let earlier = usize::try_from(runs - 1).unwrap_or(usize::MAX);
    let mut slots: Vec<Option<Slot>> = (0..earlier).map(|_| None).collect();
    for (i, a) in entries.iter().enumerate() {
        let outcome = status_of(a.status.as_deref(), &format!("retryAttempts[{i}]"))?;
        let number = a.attempt.unwrap_or(i as u64 + 1);
        let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
        if let Some(slot @ None) = slots.get_mut(index) {
            *slot = Some(Slot { outcome, entry: i });
        }
    }
    let mut outcomes: Vec<Outcome> = slots
        .iter()
        .map(|s| s.as_ref().map_or(Outcome::Failed, |s| s.outcome))
        .collect();
    outcomes.push(last);
    Ok((outcomes, slots))
}

/// `message`, else the first non-blank line of `trace`.
fn failure_text<'t>(message: Option<&'t str>, trace: Option<&'t str>) -> Option<&'t str> {
    message
        .filter(|m| !m.trim().is_empty())
        .or_else(|| trace.and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty())))
}

/// Milliseconds as the seconds text an entry's `time` holds.
fn seconds_text(ms: f64) -> Option<String> {
    if !ms.is_finite() || ms < 0.0 {
        return None;
    }
    if ms.fract() == 0.0 && ms < 1e15 {
        let ms = ms as u64;
        return Some(format!("{}.{:03}", ms / 1000, ms % 1000));
    }
    Some(format!("{}", ms / 1000.0))
}

impl RawTest {
    fn into_entry(self, limits: &Limits) -> Result<OwnedEntry, String> {
        let Some(name) = self.name.as_deref() else {
            return Err("the test has no \"name\"".into());
        };
        let what = format!("test \"{}\"", name.escape_debug());
        let last = status_of(self.status.as_deref(), &what)?;
        let (outcomes, slots) = attempts(&self, last).map_err(|m| format!("{what}: {m}"))?;
        let entries = self.retry_attempts.as_deref().unwrap_or_default();
        let own = || failure_text(self.message.as_deref(), self.trace.as_deref());
        let from_attempts = || {
            slots.iter().rev().flatten().find_map(|s| {
                let a = &entries[s.entry];
                (s.outcome == Outcome::Failed)
                    .then(|| failure_text(a.message.as_deref(), a.trace.as_deref()))
                    .flatten()
            })
        };
        let text = if last == Outcome::Failed {
            own().or_else(from_attempts)
        } else if outcomes.contains(&Outcome::Failed) {
            from_attempts().or_else(own)
        } else {
            None
        };
        let message = text.map(|t| {
            let mut m = t.to_string();
            cap_at_char_boundary(&mut m, limits.message_bytes);
            m
        });
        let classname = match (self.suite, self.file_path) {
            (Some(Suite(s)), _) if !s.is_empty() => s,
            (_, Some(p)) => p,
            _ => String::new(),
        };
        Ok(OwnedEntry {
            classname,
            name: self.name.unwrap_or_default(),
            attempts: outcomes,
            time: self.duration.and_then(seconds_text),
            message,
        })
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

    fn raw(test: &str) -> RawTest {
        let mut de = serde_json::Deserializer::from_str(test);
        TestSeed {
            meter: &Meter::new(),
        }
        .deserialize(&mut de)
        .unwrap()
    }

    fn one(test: &str) -> OwnedEntry {
        raw(test).into_entry(&Limits::default()).unwrap()
    }

    fn attempts_of(test: &str) -> Vec<Outcome> {
        one(test).attempts
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
    fn classname_from_suite_array_string_or_file_path() {
        let c = |t: &str| one(t).classname;
        assert_eq!(
            c(r#"{"name":"n","status":"passed","suite":["auth","login"],"filePath":"f.js"}"#),
            "auth > login"
        );
        assert_eq!(
            c(r#"{"name":"n","status":"passed","suite":"a.test.js > math"}"#),
            "a.test.js > math"
        );
        assert_eq!(
            c(r#"{"name":"n","status":"passed","suite":[],"filePath":"f.js"}"#),
            "f.js"
        );
        assert_eq!(c(r#"{"name":"n","status":"passed","suite":null}"#), "");
    }

    #[test]
    fn retries_become_attempts() {
        // jest: `retries` and `flaky` only.
        assert_eq!(
            attempts_of(r#"{"name":"n","status":"passed","retries":2,"flaky":true}"#),
            [Failed, Failed, Passed]
        );
        assert_eq!(
            attempts_of(r#"{"name":"n","status":"failed","retries":2,"flaky":false}"#),
            [Failed, Failed, Failed]
        );
        assert_eq!(
            attempts_of(r#"{"name":"n","status":"passed","retries":0,"flaky":false}"#),
            [Passed]
        );
        assert_eq!(
            attempts_of(r#"{"name":"n","status":"passed","flaky":true}"#),
            [Failed, Passed]
        );
        // `flaky` describes a pass only.
        assert_eq!(
            attempts_of(r#"{"name":"n","status":"failed","flaky":true}"#),
            [Failed]
        );
        // The spec's example: every attempt listed, the final one included.
        let spec = r#"{"name":"n","status":"passed","retries":2,"flaky":true,"retryAttempts":[
            {"attempt":1,"status":"failed","message":"Connection timeout"},
            {"attempt":2,"status":"failed","message":"second"},
            {"attempt":3,"status":"passed"}]}"#;
        assert_eq!(attempts_of(spec), [Failed, Failed, Passed]);
        assert_eq!(one(spec).message.as_deref(), Some("second"));
        // Without `retries`, numbered entries are every attempt.
        assert_eq!(
            attempts_of(
                r#"{"name":"n","status":"passed","retryAttempts":[{"attempt":1,"status":"failed"},{"attempt":2,"status":"passed"}]}"#
            ),
            [Failed, Passed]
        );
        // pytest-json-ctrf: the earlier attempts, numbered; `retries` = their count.
        let pytest = r#"{"name":"n","status":"passed","retries":1,"flaky":true,
            "retryAttempts":[{"attempt":1,"status":"failed","trace":"E   assert 0 >= 1"}]}"#;
        assert_eq!(attempts_of(pytest), [Failed, Passed]);
        assert_eq!(one(pytest).message.as_deref(), Some("E   assert 0 >= 1"));
        // playwright: the earlier attempts, unnumbered, in order.
        assert_eq!(
            attempts_of(
                r#"{"name":"n","status":"failed","retries":2,"message":"last","retryAttempts":[{"status":"failed","message":"first"},{"status":"failed"}]}"#
            ),
            [Failed, Failed, Failed]
        );
        assert_eq!(
            attempts_of(r#"{"name":"n","status":"passed","retryAttempts":[{"status":"failed"}]}"#),
            [Failed, Passed]
        );
        // The spec's text: `retryAttempts` are the retries (attempt 2 on).
        assert_eq!(
            attempts_of(
                r#"{"name":"n","status":"passed","retries":1,"retryAttempts":[{"attempt":2,"status":"passed"}]}"#
            ),
            [Failed, Passed]
        );
        // Out of order; an earlier skipped attempt keeps its status.
        assert_eq!(
            attempts_of(
                r#"{"name":"n","status":"passed","retryAttempts":[{"attempt":3,"status":"passed"},{"attempt":1,"status":"skipped"},{"attempt":2,"status":"failed"}]}"#
            ),
            [Skipped, Failed, Passed]
        );
        // Bounded, and checked.
        for bad in [
            r#"{"name":"n","status":"passed","retries":4000000000}"#,
            r#"{"name":"n","status":"passed","retryAttempts":[{"attempt":1001,"status":"failed"}]}"#,
            r#"{"name":"n","status":"passed","retryAttempts":[{"attempt":0,"status":"failed"}]}"#,
            r#"{"name":"n","status":"passed","retryAttempts":[{"attempt":1,"status":"flaked"}]}"#,
        ] {
            let e = raw(bad).into_entry(&Limits::default()).unwrap_err();
            assert!(e.starts_with("test \"n\": "), "{bad}: {e}");
        }
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
