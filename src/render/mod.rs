//! Output formats. Every renderer takes values and returns a `String`; the
//! caller decides where it goes. User-controlled text is escaped for the
//! destination by the functions in `escape`.

mod annotations;
mod comment;
mod deploy;
mod deployments;
pub mod escape;
mod exposition;
mod html;
mod incident;
mod junit;
mod mermaid;
mod report;
pub mod tests_delta;

pub use annotations::{
    Annotation, CHECK_RUN_BATCH, GITHUB_PER_JOB, GITHUB_PER_STEP, Level, WorkflowCommands,
    check_run_batches, code_quality, workflow_commands,
};
pub use comment::{
    ChangeView, CommentView, CommitView, FailingLine, FlakyLine, FlakySource,
    MAX_BODY as MAX_COMMENT_BODY, MAX_CHART_WEEKS, MAX_LISTED, WeekView, comment_markdown,
    marker as comment_marker, sparkline,
};
pub use deploy::{DeploymentView, LeadTimeView, deployment_markdown, deployment_table};
pub use deployments::{
    DeploymentListView, DeploymentShowView, ListedView, RemediatedView, deployment_list_csv,
    deployment_list_markdown, deployment_list_table, deployment_show_markdown,
    deployment_show_table,
};
pub use exposition::{BUCKETS as HISTOGRAM_BUCKETS, exposition};
pub use html::{DashboardView, dashboard_csp, dashboard_html};
pub use incident::{IncidentView, incident_table};
pub use junit::{
    FileError, FlakyView, JunitView, flaky_markdown, flaky_table, junit_markdown, junit_table,
};
pub use report::{report_csv, report_markdown, report_prometheus, report_table, series_table};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Prometheus,
    Csv,
    /// One self-contained page: `report`'s dashboard.
    Html,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Prometheus => "prometheus",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }

    pub const ALL: [Format; 6] = [
        Format::Table,
        Format::Json,
        Format::Markdown,
        Format::Prometheus,
        Format::Csv,
        Format::Html,
    ];

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// `1 deployment`, `2 deployments`: a count and its noun, plural when not
/// one (SPEC §4: correct plurals). `noun` is a regular English noun.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `a, b, c and 4 more`: the first `max` items, and how many were cut
/// (SPEC §4: every list that is cut says how many more). Items are shown as
/// given: escape them first.
pub fn list_cut<S: AsRef<str>>(items: &[S], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(AsRef::as_ref).collect();
    match items.len().saturating_sub(max) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// An RFC 3339 time as people read it: `2026-10-29 22:15:24Z` (SPEC §4).
/// JSON and CSV keep RFC 3339.
pub fn human_time(rfc3339: &str) -> String {
    match rfc3339.as_bytes().get(10) {
        Some(b'T') => format!("{} {}", &rfc3339[..10], &rfc3339[11..]),
        _ => rfc3339.to_string(),
    }
}

/// Pretty JSON with a trailing newline.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    let mut s =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// Left-aligned columns separated by two spaces.
pub fn columns_pub(rows: &[Vec<String>]) -> String {
    columns(rows)
}

pub(crate) fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod human_time_tests {
    #[test]
    fn human_times_read_as_spec_s_example() {
        assert_eq!(
            super::human_time("2026-10-29T22:15:24Z"),
            "2026-10-29 22:15:24Z"
        );
        assert_eq!(super::human_time("-"), "-");
    }
}
