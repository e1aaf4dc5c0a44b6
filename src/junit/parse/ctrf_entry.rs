//! One CTRF test object: reading the fields we map, and the mapping to an
//! entry, following the CTRF specification (spec/ctrf.md in
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

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::ctrf::Meter;
use super::element::cap_at_char_boundary;
use super::reader::Limits;
use crate::junit::model::{Outcome, OwnedEntry};

/// Most attempts one test may claim (`retries`, `retryAttempts[].attempt`):
/// attempts are held in memory, and nothing else in the file bounds them.
pub(super) const MAX_ATTEMPTS: u64 = 1000;

/// One element of `results.tests`, with the fields we map.
#[derive(Debug, Default)]
pub(super) struct RawTest {
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

/// Reads one test object. The fields it does not read (`stdout`,
/// `screenshot`, `attachments`, `steps`, `extra`...) are streamed past
/// without counting against the test's limit: they are never held, so they
/// may be any size, as a `<system-out>` may in JUnit XML.
pub(super) struct TestSeed<'m> {
    pub(super) meter: &'m Meter,
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
                Field::Attempt | Field::Other => self.meter.skip(&mut map)?,
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
                _ => self.meter.skip(&mut map)?,
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
    /// The entry this test is, or why it cannot be one.
    pub(super) fn into_entry(self, limits: &Limits) -> Result<OwnedEntry, String> {
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
        // The trace is where it failed (annotations), when it adds to the message.
        let detail = self
            .trace
            .as_deref()
            .filter(|t| message.is_some() && Some(t.trim()) != message.as_deref())
            .map(|t| {
                let mut d = t.to_string();
                cap_at_char_boundary(&mut d, limits.message_bytes);
                d
            });
        let file = self.file_path.clone();
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
            detail,
            file,
            line: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Outcome::*;

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
}
