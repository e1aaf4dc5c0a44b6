//! What a JUnit report says, in our terms (SPEC §6).

use serde::{Deserialize, Serialize};

/// The result of one attempt, or of a test over all its attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Errored,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Passed,
            Outcome::Failed,
            Outcome::Errored,
            Outcome::Skipped,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }
}

/// One `<testcase>` element: a test's attempts in the order they ran. Usually
/// one; Surefire and nextest put earlier attempts inside the element as
/// `flakyFailure`/`flakyError` (then it passed) or `rerunFailure`/`rerunError`.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    /// `classname`, or the enclosing suite's name when absent or empty.
    pub classname: &'a str,
    pub name: &'a str,
    pub attempts: &'a [Outcome],
    /// The `time` attribute as written (read by `time()` only when wanted:
    /// a summary never needs it).
    pub time_text: Option<&'a str>,
    /// The last failure's message or body, capped.
    pub message: Option<&'a str>,
    /// The last failure's body (its stack trace), capped, when `message`
    /// came from its `message` attribute: where it failed.
    pub detail: Option<&'a str>,
    /// The testcase's `file` and `line` attributes (pytest's xunit1,
    /// PHPUnit).
    pub file: Option<&'a str>,
    pub line: Option<&'a str>,
}

impl Entry<'_> {
    /// Seconds, when the producer wrote a readable `time`.
    pub fn time(&self) -> Option<f64> {
        self.time_text.and_then(super::parse::parse_seconds)
    }

    /// `classname::name`: the identity SPEC §6 groups attempts by.
    pub fn identity(&self) -> String {
        format!("{}::{}", self.classname, self.name)
    }
}

/// An [`Entry`] that owns its text: kept beyond the parser's buffer (the
/// git store's test-run files, test scripts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OwnedEntry {
    pub classname: String,
    pub name: String,
    pub attempts: Vec<Outcome>,
    /// The `time` attribute as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where it failed ([`Entry::detail`], `file`, `line`): for this run's
    /// annotations only, never stored.
    #[serde(skip)]
    pub detail: Option<String>,
    #[serde(skip)]
    pub file: Option<String>,
    #[serde(skip)]
    pub line: Option<String>,
}

impl OwnedEntry {
    pub fn of(e: &Entry<'_>) -> OwnedEntry {
        OwnedEntry {
            classname: e.classname.to_string(),
            name: e.name.to_string(),
            attempts: e.attempts.to_vec(),
            time: e.time_text.map(str::to_string),
            message: e.message.map(str::to_string),
            detail: e.detail.map(str::to_string),
            file: e.file.map(str::to_string),
            line: e.line.map(str::to_string),
        }
    }

    pub fn as_entry(&self) -> Entry<'_> {
        Entry {
            classname: &self.classname,
            name: &self.name,
            attempts: &self.attempts,
            time_text: self.time.as_deref(),
            message: self.message.as_deref(),
            detail: self.detail.as_deref(),
            file: self.file.as_deref(),
            line: self.line.as_deref(),
        }
    }
}

/// Tests a `<testsuite>` declares in its `tests`, `failures`, `errors` and
/// `skipped` attributes without listing a single `<testcase>`: counts
/// without names, so without identities, attempts or history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unlisted {
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
}

impl Unlisted {
    pub fn tests(&self) -> u64 {
        self.passed
            .saturating_add(self.failed)
            .saturating_add(self.errored)
            .saturating_add(self.skipped)
    }

    /// Sums saturate: the numbers are whatever a file says.
    pub fn add(&mut self, other: &Unlisted) {
        self.passed = self.passed.saturating_add(other.passed);
        self.failed = self.failed.saturating_add(other.failed);
        self.errored = self.errored.saturating_add(other.errored);
        self.skipped = self.skipped.saturating_add(other.skipped);
    }
}
