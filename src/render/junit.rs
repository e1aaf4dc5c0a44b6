//! `junit` and `flaky` output: SPEC §4 JSON, one line per report in a
//! terminal, Markdown for job summaries and the PR comment.

use serde::Serialize;

use super::escape::{markdown, message_line, terminal};
use crate::app::test_compare::Comparison;
use crate::junit::{FailedTest, Finding, FlakyTest, Summary};

/// A file that could not be read as JUnit, and why.
#[derive(Clone, Debug, Serialize)]
pub struct FileError {
    pub file: String,
    pub message: String,
}

/// Field order is SPEC §4's; fields after `errors` are additions.
#[derive(Debug, Serialize)]
pub struct JunitView<'a> {
    pub files: u64,
    pub tests: u64,
    pub runs: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub flaky: &'a [FlakyTest],
    pub errors: &'a [FileError],
    /// Files a directory or glob matched that are not test reports: skipped.
    pub not_reports: &'a [FileError],
    /// Exact, when `flaky` lists fewer (`names_incomplete`).
    pub flaky_count: u64,
    pub failures: &'a [FailedTest],
    pub names_incomplete: bool,
    pub id: Option<&'a str>,
    pub recorded: bool,
    /// In a pull or merge request, the tests against the base commit's
    /// recorded ones (after SPEC §4's fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against_base: Option<&'a Comparison>,
    /// Why there is no comparison, in a pull or merge request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against_base_note: Option<&'a str>,
    /// The slowest tests, slowest first.
    pub slowest: Vec<SlowTest>,
    /// Whether the Markdown has the "against the base" section.
    #[serde(skip)]
    in_change: bool,
}

/// A slow test: its identity and seconds.
#[derive(Debug, Serialize)]
pub struct SlowTest {
    pub id: String,
    pub seconds: f64,
}

impl<'a> JunitView<'a> {
    /// `errors` are files that could not be read, `not_reports` files
    /// skipped as not test reports.
    pub fn new(
        files: u64,
        s: &'a Summary,
        (errors, not_reports): (&'a [FileError], &'a [FileError]),
        id: Option<&'a str>,
        recorded: bool,
    ) -> Self {
        JunitView {
            files,
            tests: s.tests,
            runs: s.runs,
            passed: s.passed,
            failed: s.failed,
            errored: s.errored,
            skipped: s.skipped,
            flaky: &s.flaky,
            errors,
            not_reports,
            flaky_count: s.flaky_count,
            failures: &s.failures,
            names_incomplete: s.names_incomplete,
            id,
            recorded,
            against_base: None,
            against_base_note: None,
            slowest: Vec::new(),
            in_change: false,
        }
    }

    /// Adds the comparison with the base (`Some` in a pull or merge
    /// request: the comparison, or why there is none) and the slowest tests.
    pub fn with_tests(
        mut self,
        against: Option<&'a Result<Comparison, String>>,
        slowest: Vec<(String, f64)>,
    ) -> Self {
        self.in_change = against.is_some();
        self.against_base = against.and_then(|a| a.as_ref().ok());
        self.against_base_note = against.and_then(|a| a.as_ref().err()).map(String::as_str);
        self.slowest = slowest
            .into_iter()
            .map(|(id, seconds)| SlowTest { id, seconds })
            .collect();
        self
    }
}

/// How many failed or flaky names a terminal or Markdown summary lists.
const LIST_LIMIT: usize = 50;

/// `… and 3 more failing tests` when a list of `listed` names, cut at
/// `LIST_LIMIT`, shows fewer than the `total` it stands for (SPEC §4: every
/// list that is cut says how many more). The total may exceed the names
/// held when `names_incomplete`.
fn more_than_listed(total: u64, listed: usize, noun: &str) -> Option<String> {
    let shown = listed.min(LIST_LIMIT) as u64;
    (total > shown).then(|| {
        let more = total - shown;
        let s = if more == 1 { "" } else { "s" };
        // None listed: tests without names (counted from suite attributes),
        // or past the names budget.
        match shown {
            0 => format!("{more} {noun}{s} not listed"),
            _ => format!("… and {more} more {noun}{s}"),
        }
    })
}

/// Characters of a failure message a list shows.
const MESSAGE_CHARS: usize = 200;

fn message(f: &FailedTest) -> String {
    f.message
        .as_deref()
        .map(|m| message_line(m, MESSAGE_CHARS))
        .unwrap_or_default()
}

pub fn junit_table(v: &JunitView<'_>) -> String {
    let mut out = format!(
        "junit: {} · {} ({}): {} passed, {} failed, {} errored, {} skipped · {} flaky",
        super::count(v.files, "file"),
        super::count(v.tests, "test"),
        super::count(v.runs, "run"),
        v.passed,
        v.failed,
        v.errored,
        v.skipped,
        v.flaky_count
    );
    if !v.flaky.is_empty() {
        let names: Vec<String> = v
            .flaky
            .iter()
            .take(LIST_LIMIT)
            .map(|f| terminal(&f.id))
            .collect();
        out.push_str(&format!(": {}", names.join(", ")));
        let listed = v.flaky.len().min(LIST_LIMIT) as u64;
        if v.flaky_count > listed {
            out.push_str(&format!(" and {} more", v.flaky_count - listed));
        }
    }
    out.push('\n');
    for f in v.failures.iter().take(LIST_LIMIT) {
        out.push_str(&format!(
            "  {} {} {}\n",
            f.outcome.as_str(),
            terminal(&f.id),
            terminal(&message(f))
        ));
    }
    if let Some(more) = more_than_listed(v.failed + v.errored, v.failures.len(), "failing test") {
        out.push_str(&format!("  {more}\n"));
    }
    for e in v.errors {
        out.push_str(&format!(
            "  unreadable {}: {}\n",
            terminal(&e.file),
            terminal(&e.message)
        ));
    }
    out
}

pub fn junit_markdown(v: &JunitView<'_>) -> String {
    let mut out = format!(
        "### Test results\n\n| files | tests | runs | passed | failed | errored | skipped | flaky |\n|---|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        v.files, v.tests, v.runs, v.passed, v.failed, v.errored, v.skipped, v.flaky_count
    );
    if !v.flaky.is_empty() {
        out.push_str("\n**Flaky in this run** (failed, then passed on a retry)\n\n| test | attempts | failures |\n|---|---|---|\n");
        for f in v.flaky.iter().take(LIST_LIMIT) {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                markdown(&f.id),
                f.attempts,
                f.failures
            ));
        }
        if let Some(more) = more_than_listed(v.flaky_count, v.flaky.len(), "flaky test") {
            out.push_str(&format!("\n{more}\n"));
        }
    }
    if !v.failures.is_empty() {
        out.push_str("\n**Failing**\n\n| test | outcome | message |\n|---|---|---|\n");
        for f in v.failures.iter().take(LIST_LIMIT) {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                markdown(&f.id),
                f.outcome.as_str(),
                markdown(&message(f))
            ));
        }
        if let Some(more) = more_than_listed(v.failed + v.errored, v.failures.len(), "failing test")
        {
            out.push_str(&format!("\n{more}\n"));
        }
    }
    if v.in_change {
        out.push_str(&super::tests_delta::against_base(
            v.against_base,
            v.against_base_note,
            LIST_LIMIT,
        ));
    }
    out.push_str(&super::tests_delta::slowest(
        v.slowest.iter().map(|t| (t.id.as_str(), t.seconds)),
    ));
    if !v.errors.is_empty() {
        out.push_str("\n**Unreadable reports**\n\n");
        for e in v.errors {
            out.push_str(&format!(
                "- {}: {}\n",
                markdown(&e.file),
                markdown(&e.message)
            ));
        }
    }
    out
}

#[derive(Debug, Serialize)]
pub struct FlakyView<'a> {
    pub service: &'a str,
    pub window: crate::metrics::WindowOut,
    pub tests: &'a [Finding],
}

pub fn flaky_table(v: &FlakyView<'_>) -> String {
    if v.tests.is_empty() {
        return format!(
            "no flaky tests in {} between {} and {}\n",
            terminal(v.service),
            super::human_time(&v.window.start),
            super::human_time(&v.window.end)
        );
    }
    let mut rows = vec![vec![
        "test".into(),
        "evidence".into(),
        "failure rate".into(),
        "runs".into(),
        "first seen".into(),
        "last seen".into(),
    ]];
    for f in v.tests {
        rows.push(vec![
            terminal(&f.id),
            f.evidence.join(","),
            format!("{:.2}%", f.failure_rate),
            f.runs.to_string(),
            super::human_time(&f.first_seen),
            super::human_time(&f.last_seen),
        ]);
    }
    super::columns(&rows)
}

pub fn flaky_markdown(v: &FlakyView<'_>) -> String {
    let mut out = format!("### Flaky tests: {}\n\n", markdown(v.service));
    if v.tests.is_empty() {
        out.push_str("None found.\n");
        return out;
    }
    out.push_str("| test | evidence | failure rate | runs | last seen |\n|---|---|---|---|---|\n");
    for f in v.tests {
        out.push_str(&format!(
            "| {} | {} | {:.2}% | {} | {} |\n",
            markdown(&f.id),
            f.evidence.join(", "),
            f.failure_rate,
            f.runs,
            super::human_time(&f.last_seen)
        ));
    }
    out
}
