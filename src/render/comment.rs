//! The sticky PR/MR comment (SPEC §7, §10): metrics with bands and a trend
//! that says better or worse, the failed deployments of the window and why,
//! Mermaid charts of deployments and lead time per week with a text
//! fallback, this change's commits and lead time so far, and the flaky tests
//! of this pipeline. Every user-given string goes through
//! `escape::markdown`; the charts hold none; the body always fits the
//! forges' limit.

use chrono::{DateTime, Datelike, Duration, Utc};

use super::escape::{markdown, message_line};
use super::mermaid::{Mark, XyChart, xychart};
use crate::app::breakdown::{Cause, Failure};
use crate::app::test_compare::Comparison;
use crate::metrics::{Level, Report};
use crate::time::{format_time, humanize_seconds};

/// GitHub's limit on a comment body (characters); GitLab's is larger. Bytes
/// are counted, which is stricter.
pub const MAX_BODY: usize = 65_536;

/// Longest test name or id shown, in characters, before escaping.
const MAX_NAME: usize = 200;

/// The most recent weeks the charts and their table show (two years); the
/// sparkline shows every week.
pub const MAX_CHART_WEEKS: usize = 104;

/// The most items a list shows (failed deployments, commits, flaky tests);
/// fewer when the body would not fit.
pub const MAX_LISTED: usize = 50;

/// Causes shown per failed deployment (an incident storm can attribute
/// hundreds of incidents to one deployment).
const MAX_CAUSES: usize = 5;

/// One week of the window: an ISO week (Monday 00:00 UTC to the next
/// Monday) cut by the window's ends, as `report --by week` cuts it.
#[derive(Clone, Debug)]
pub struct WeekView {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Successful deployments that finished in the week.
    pub deployments: u64,
    /// p50 of the lead times of the changes those deployments shipped
    /// (seconds); `None` when they shipped none.
    pub lead_time_p50: Option<f64>,
    pub changes: u64,
}

/// One commit of the change.
#[derive(Clone, Debug)]
pub struct CommitView {
    pub sha: String,
    /// Unix seconds.
    pub authored_at: i64,
}

/// This pull/merge request's commits.
#[derive(Clone, Debug, Default)]
pub struct ChangeView {
    /// Newest first, as git walks.
    pub commits: Vec<CommitView>,
    /// Seconds from the oldest commit's author time to now.
    pub lead_time_so_far: Option<f64>,
    /// The walk stopped at its cap.
    pub truncated: bool,
    /// Why commits are missing (no base sha, shallow clone, …).
    pub note: Option<String>,
}

/// A flaky test of this pipeline.
#[derive(Clone, Debug)]
pub struct FlakyLine {
    pub id: String,
    pub attempts: u32,
    pub failures: u32,
}

/// A failing test of this pipeline's reports: its last outcome and the
/// first line of its message.
#[derive(Clone, Debug)]
pub struct FailingLine {
    pub id: String,
    /// `failed` or `errored`.
    pub outcome: &'static str,
    pub message: Option<String>,
}

/// More failing tests than this are listed inside a collapsed block.
const FAILING_OPEN: usize = 5;
/// The most characters of a failure message's first line shown.
const MESSAGE_CHARS: usize = 200;

/// Where the comment's flaky tests come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlakySource {
    /// This pipeline's JUnit reports (`--junit`).
    Reports,
    /// The store's test runs of this commit.
    Store,
    /// Neither: no reports given and no commit to look up.
    Unknown,
    /// `--junit` was given and matched no file.
    NoReportMatched,
}

/// Everything the comment shows.
pub struct CommentView<'a> {
    pub service: &'a str,
    pub env: &'a str,
    pub current: &'a Report,
    pub previous: Option<&'a Report>,
    /// The window's weeks, oldest first.
    pub weeks: &'a [WeekView],
    /// The window cuts into this many weeks, too many to chart (`weeks` is
    /// then empty).
    pub too_many_weeks: Option<usize>,
    /// The failed deployments of the window, oldest first: all of them, or
    /// the newest (the report's count says how many there are).
    pub failures: &'a [Failure],
    pub change: Option<&'a ChangeView>,
    pub flaky: &'a [FlakyLine],
    pub flaky_source: FlakySource,
    /// The failing tests of this pipeline's reports (`--junit`), and how
    /// many there are (the list may be cut).
    pub failing: &'a [FailingLine],
    pub failing_count: u64,
    /// The `--junit` patterns, when none matched a file.
    pub junit_unmatched: &'a [String],
    /// This CI run's page (an http(s) URL the CI gave).
    pub run_url: Option<&'a str>,
    /// The tests against the base commit's, or why not; `None` outside a
    /// pull or merge request.
    pub against_base: Option<&'a Result<Comparison, String>>,
    /// The slowest tests, slowest first.
    pub slowest: &'a [(String, f64)],
}

/// The hidden marker that finds our comment again. Service and env are
/// percent-encoded outside a safe set, and `--` never appears, so a name
/// cannot close the HTML comment or forge another marker.
pub fn marker(service: &str, env: &str) -> String {
    format!(
        "<!-- dorameter:{}:{} -->",
        marker_part(service),
        marker_part(env)
    )
}

fn marker_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_dash = false;
    for b in s.bytes() {
        let safe = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-');
        if safe && !(b == b'-' && prev_dash) {
            out.push(b as char);
            prev_dash = b == b'-';
        } else {
            out.push_str(&format!("%{b:02X}"));
            prev_dash = false;
        }
    }
    out
}

/// The comment body, under [`MAX_BODY`] bytes: lists are shortened first,
/// then the text is cut at a line boundary, keeping the marker.
pub fn comment_markdown(v: &CommentView<'_>) -> String {
    let mut limit = MAX_LISTED;
    loop {
        let body = render(v, limit);
        if body.len() < MAX_BODY {
            return body;
        }
        if limit == 0 {
            return truncate(&body);
        }
        limit /= 2;
    }
}

fn truncate(body: &str) -> String {
    const NOTE: &str = "\n\n_… truncated to fit the comment size limit._\n";
    let budget = MAX_BODY - 1 - NOTE.len();
    let mut cut = budget.min(body.len());
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &body[..cut];
    // The marker is the first line: always kept.
    let end = head.rfind('\n').unwrap_or(head.len());
    format!("{}{NOTE}", &body[..end])
}

fn band(level: Option<Level>) -> &'static str {
    match level {
        Some(Level::Elite) => "🟢 elite",
        Some(Level::High) => "🔵 high",
        Some(Level::Medium) => "🟡 medium",
        Some(Level::Low) => "🔴 low",
        None => "⚪ –",
    }
}

#[derive(Clone, Copy)]
enum Unit {
    PerDay,
    Seconds,
    Percent,
}

fn show(value: Option<f64>, unit: Unit) -> String {
    match value {
        None => "–".into(),
        Some(x) => match unit {
            Unit::PerDay => format!("{x:.2}/day"),
            Unit::Seconds => humanize_seconds(x),
            Unit::Percent => format!("{x:.1}%"),
        },
    }
}

/// Which way a metric improves.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// The change against the previous window, as an arrow that means better
/// (▲) or worse (▼) for this metric, whichever way the number moved, and
/// the previous value: "▲ better (was 2.0h)" for a lead time that fell.
fn trend(now: Option<f64>, before: Option<f64>, unit: Unit, better: Better) -> String {
    match (now, before) {
        (Some(a), Some(b)) => {
            let was = show(Some(b), unit);
            if (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0) {
                return format!("no change ({was})");
            }
            let improved = match better {
                Better::Higher => a > b,
                Better::Lower => a < b,
            };
            if improved {
                format!("▲ better (was {was})")
            } else {
                format!("▼ worse (was {was})")
            }
        }
        (Some(_), None) => "new".into(),
        _ => "–".into(),
    }
}

/// Days as "5" or "1.5".
fn days(d: Duration) -> String {
    let days = d.num_seconds() as f64 / 86_400.0;
    if (days - days.round()).abs() < 1e-9 {
        format!("{days:.0}")
    } else {
        format!("{days:.1}")
    }
}

/// "2 of 7 days", "1.5 of 7 days".
fn part_of_week(d: Duration) -> String {
    format!("{} of 7 days", days(d))
}

/// Unicode block sparkline, one character per value, scaled to the maximum.
pub fn sparkline(values: &[u64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if max == 0 {
                BLOCKS[0]
            } else {
                BLOCKS[((v * 7).div_ceil(max)) as usize]
            }
        })
        .collect()
}

pub(super) fn short(s: &str) -> String {
    if s.chars().count() <= MAX_NAME {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_NAME).collect();
        t.push('…');
        t
    }
}

/// What the charts' x axis says for each week: its first day ("Mar 4"),
/// with the year when the weeks span more than one.
fn week_labels(weeks: &[WeekView]) -> Vec<String> {
    let one_year = weeks
        .first()
        .zip(weeks.last())
        .is_none_or(|(a, b)| a.since.year() == b.since.year());
    let format = if one_year { "%b %-d" } else { "%Y-%m-%d" };
    weeks
        .iter()
        .map(|w| w.since.format(format).to_string())
        .collect()
}

/// The unit lead times are charted in, for the largest: minutes under two
/// hours, hours under three days, else days.
fn lead_unit(max_seconds: f64) -> (&'static str, f64) {
    if max_seconds < 2.0 * 3600.0 {
        ("minutes", 60.0)
    } else if max_seconds < 3.0 * 86_400.0 {
        ("hours", 3600.0)
    } else {
        ("days", 86_400.0)
    }
}

/// Deployments per week as bars and lead time p50 per week as a line
/// (Mermaid), then the same numbers as text for hosts that draw no Mermaid:
/// a sparkline with the counts, and a table in a collapsed section. Weeks
/// are `report --by week`'s, so the first and last may be partial, and
/// the text says how much of a week they cover.
fn weekly(v: &CommentView<'_>, total: u64) -> String {
    let mut out = String::from("\n#### Deployments and lead time per week\n\n");
    if let Some(n) = v.too_many_weeks {
        out.push_str(&format!(
            "The window spans {n} weeks, too many for weekly charts; a shorter `--window` has them.\n"
        ));
        return out;
    }
    if v.weeks.is_empty() || v.current.metrics.deployment_frequency.value.is_none() {
        out.push_str("No deployment recorded yet for this service and environment.\n");
        return out;
    }
    let all = v.weeks;
    let weeks = &all[all.len().saturating_sub(MAX_CHART_WEEKS)..];
    let labels = week_labels(weeks);
    let counts: Vec<f64> = weeks.iter().map(|w| w.deployments as f64).collect();
    out.push_str(&xychart(&XyChart {
        title: "Deployments per week",
        x_title: "week from (UTC)",
        labels: &labels,
        y_title: "deployments",
        mark: Mark::Bar,
        values: &counts,
        decimals: 0,
    }));
    // A week that shipped no change has no lead time: it is left off the
    // line's axis rather than drawn as 0 (Mermaid needs a value per label).
    let (lead_labels, leads): (Vec<String>, Vec<f64>) = weeks
        .iter()
        .zip(&labels)
        .filter_map(|(w, l)| w.lead_time_p50.map(|p| (l.clone(), p)))
        .unzip();
    if leads.len() >= 2 {
        let (unit, per) = lead_unit(leads.iter().copied().fold(0.0, f64::max));
        let values: Vec<f64> = leads.iter().map(|s| s / per).collect();
        out.push('\n');
        out.push_str(&xychart(&XyChart {
            title: "Lead time for changes, p50 per week",
            x_title: "week from (UTC)",
            labels: &lead_labels,
            y_title: &format!("p50, {unit}"),
            mark: Mark::Line,
            values: &values,
            decimals: 1,
        }));
    }
    let sums: Vec<String> = all.iter().map(|w| w.deployments.to_string()).collect();
    let bars: Vec<u64> = all.iter().map(|w| w.deployments).collect();
    out.push_str(&format!(
        "\nDeployments per week, oldest first: `{}` ({}; {total} in the window).",
        sparkline(&bars),
        sums.join(", ")
    ));
    out.push_str(" Weeks run Monday to Monday (UTC), as in `report --by week`");
    let partial = |w: &WeekView| (w.until - w.since < Duration::days(7)).then(|| w.until - w.since);
    match (all.first().and_then(partial), all.last().and_then(partial)) {
        (Some(a), Some(b)) if all.len() > 1 => out.push_str(&format!(
            "; the first covers only {} and the last only {}.",
            part_of_week(a),
            part_of_week(b)
        )),
        (Some(a), _) if all.len() == 1 => {
            out.push_str(&format!("; this one covers only {}.", part_of_week(a)));
        }
        (Some(a), _) => out.push_str(&format!("; the first covers only {}.", part_of_week(a))),
        (None, Some(b)) => out.push_str(&format!("; the last covers only {}.", part_of_week(b))),
        (None, None) => out.push('.'),
    }
    match leads.len() {
        0 => out.push_str(" No deployment of these weeks shipped a change with a lead time: no lead-time chart."),
        1 => out.push_str(&format!(
            " Only the week from {} has a lead time (p50 {}): no line to draw.",
            lead_labels[0],
            humanize_seconds(leads[0])
        )),
        n if n < weeks.len() => out.push_str(&match weeks.len() - n {
            1 => format!(
                " The lead-time line joins the {n} weeks that shipped changes; the other week has no lead time and is left out, not drawn as 0."
            ),
            other => format!(
                " The lead-time line joins the {n} weeks that shipped changes; the other {other} have no lead time and are left out, not drawn as 0."
            ),
        }),
        _ => {}
    }
    if weeks.len() < all.len() {
        out.push_str(&format!(
            " The charts and the table show the last {} of {} weeks.",
            weeks.len(),
            all.len()
        ));
    }
    out.push_str("\n\n<details>\n<summary>The numbers behind the charts</summary>\n\n");
    out.push_str("| Week from (UTC) | Days | Deployments | Lead time p50 | Changes |\n|---|---|---|---|---|\n");
    for w in weeks {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            w.since.format("%Y-%m-%d"),
            days(w.until - w.since),
            w.deployments,
            w.lead_time_p50
                .map_or_else(|| "–".to_string(), humanize_seconds),
            w.changes
        ));
    }
    out.push_str("\n</details>\n");
    out
}

/// One failed deployment: when, which, and every cause that marked it.
fn failure_line(f: &Failure) -> String {
    let sha: String = f
        .sha
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    let mut causes: Vec<String> = f
        .causes
        .iter()
        .take(MAX_CAUSES)
        .map(|c| match c {
            Cause::Remediation {
                deployment_id,
                reason,
                commit,
            } => {
                let mut s = format!(
                    "{} {}",
                    reason.remediated_by(),
                    markdown(&short(deployment_id))
                );
                if let Some(c) = commit {
                    let c: String = c.chars().filter(char::is_ascii_hexdigit).take(12).collect();
                    s.push_str(&format!(" (commit `{c}`)"));
                }
                s
            }
            Cause::Incident {
                incident_id,
                severity,
                title,
            } => {
                let mut s = format!("incident {}", markdown(&short(incident_id)));
                if let Some(sev) = severity {
                    s.push_str(&format!(" ({})", markdown(&short(sev))));
                }
                if let Some(t) = title {
                    s.push_str(&format!(": {}", markdown(&short(t))));
                }
                s
            }
        })
        .collect();
    if f.causes.len() > MAX_CAUSES {
        causes.push(format!("and {} more", f.causes.len() - MAX_CAUSES));
    }
    let recovered = match f.recovered_at {
        Some(at) => format!(
            "recovered after {}",
            humanize_seconds((at - f.finished_at).num_seconds().max(0) as f64)
        ),
        None => "not recovered yet".into(),
    };
    format!(
        "- {} · deployment {}{}: {} · {recovered}\n",
        super::human_time(&format_time(f.finished_at)),
        markdown(&short(&f.deployment_id)),
        if sha.is_empty() {
            String::new()
        } else {
            format!(" (`{sha}`)")
        },
        causes.join("; ")
    )
}

/// The failed deployments of the window, newest first, in a collapsed
/// section: the rule and the deployment or incident that fired it.
fn failures(v: &CommentView<'_>, limit: usize) -> String {
    let counted = v.current.metrics.change_failure_rate.failed_deployments;
    let n = usize::try_from(counted)
        .unwrap_or(usize::MAX)
        .max(v.failures.len());
    if n == 0 {
        return String::new();
    }
    let mut out = format!(
        "\n<details>\n<summary>{} in this window, and why</summary>\n\n",
        super::count(n as u64, "failed deployment")
    );
    let shown = v.failures.len().min(limit);
    for f in v.failures.iter().rev().take(shown) {
        out.push_str(&failure_line(f));
    }
    if n > shown {
        out.push_str(&format!("- … and {} more\n", n - shown));
    }
    out.push_str("\n</details>\n");
    out
}

fn render(v: &CommentView<'_>, limit: usize) -> String {
    let mut out = marker(v.service, v.env);
    out.push('\n');
    out.push_str(&format!(
        "### DORA metrics · {} · {}\n\n",
        markdown(&short(v.service)),
        markdown(&short(v.env))
    ));
    let c = &v.current.metrics;
    let p = v.previous.map(|r| &r.metrics);
    out.push_str(&format!(
        "Last {:.0} days, against the {:.0} days before.\n\n",
        v.current.window.days, v.current.window.days
    ));
    out.push_str("| Metric | Value | Band | Trend |\n|---|---|---|---|\n");
    let rows = [
        (
            "Deployment frequency",
            c.deployment_frequency.value,
            p.and_then(|m| m.deployment_frequency.value),
            Unit::PerDay,
            c.deployment_frequency.level,
            true,
            Better::Higher,
        ),
        (
            "Lead time for changes",
            c.lead_time_for_changes.value,
            p.and_then(|m| m.lead_time_for_changes.value),
            Unit::Seconds,
            c.lead_time_for_changes.level,
            true,
            Better::Lower,
        ),
        (
            "Change failure rate",
            c.change_failure_rate.value,
            p.and_then(|m| m.change_failure_rate.value),
            Unit::Percent,
            c.change_failure_rate.level,
            true,
            Better::Lower,
        ),
        (
            "Time to restore",
            c.time_to_restore.value,
            p.and_then(|m| m.time_to_restore.value),
            Unit::Seconds,
            c.time_to_restore.level,
            true,
            Better::Lower,
        ),
        (
            "Rework rate",
            c.rework_rate.value,
            p.and_then(|m| m.rework_rate.value),
            Unit::Percent,
            None,
            false,
            Better::Lower,
        ),
    ];
    for (title, now, before, unit, level, banded, better) in rows {
        out.push_str(&format!(
            "| {title} | {} | {} | {} |\n",
            show(now, unit),
            if banded { band(level) } else { "" },
            trend(now, before, unit, better)
        ));
    }
    out.push_str(&failures(v, limit));
    out.push_str(&weekly(v, c.deployment_frequency.deployments));

    if let Some(ch) = v.change {
        out.push_str("\n#### This change\n\n");
        match ch.lead_time_so_far {
            Some(secs) => out.push_str(&format!(
                "{} commit{}{}, lead time so far **{}**.\n",
                ch.commits.len(),
                if ch.commits.len() == 1 { "" } else { "s" },
                if ch.truncated { " (at least)" } else { "" },
                humanize_seconds(secs)
            )),
            None => out.push_str("No commits found.\n"),
        }
        if let Some(note) = &ch.note {
            out.push_str(&format!("\n_{}_\n", markdown(note)));
        }
        if !ch.commits.is_empty() && limit > 0 {
            out.push('\n');
            for commit in ch.commits.iter().take(limit) {
                let sha: String = commit
                    .sha
                    .chars()
                    .filter(char::is_ascii_hexdigit)
                    .take(12)
                    .collect();
                out.push_str(&format!(
                    "- `{sha}` authored {}\n",
                    super::human_time(&crate::time::format_time(crate::time::from_millis(
                        commit.authored_at.saturating_mul(1000)
                    )))
                ));
            }
            if ch.commits.len() > limit {
                out.push_str(&format!("- … and {} more\n", ch.commits.len() - limit));
            }
        }
    }

    if let Some(against) = v.against_base {
        out.push_str(&super::tests_delta::against_base(
            against.as_ref().ok(),
            against.as_ref().err().map(String::as_str),
            limit,
        ));
    }
    if v.flaky_source == FlakySource::Reports {
        out.push_str("\n#### Failing tests in this pipeline\n\n");
        if v.failing_count == 0 {
            out.push_str("None.\n");
        } else {
            let collapsed = v.failing_count as usize > FAILING_OPEN;
            if collapsed {
                out.push_str(&format!(
                    "<details><summary>{}</summary>\n\n",
                    super::count(v.failing_count, "failing test")
                ));
            }
            for f in v.failing.iter().take(limit) {
                let first = f
                    .message
                    .as_deref()
                    .map(|m| message_line(m, MESSAGE_CHARS))
                    .filter(|l| !l.is_empty())
                    .map(|l| format!(": {}", markdown(&l)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "- {} ({}){first}\n",
                    markdown(&short(&f.id)),
                    f.outcome
                ));
            }
            let listed = v.failing.len().min(limit) as u64;
            if v.failing_count > listed {
                out.push_str(&format!(
                    "- … and {} more (see the job log)\n",
                    v.failing_count - listed
                ));
            }
            if collapsed {
                out.push_str("\n</details>\n");
            }
        }
    }

    out.push_str(match v.flaky_source {
        FlakySource::Store => "\n#### Flaky tests in this commit's recorded test runs\n\n",
        _ => "\n#### Flaky tests in this pipeline\n\n",
    });
    if v.flaky.is_empty() {
        out.push_str(match v.flaky_source {
            FlakySource::Reports => "None.\n",
            FlakySource::Store => "None in the test runs recorded for this commit.\n",
            FlakySource::Unknown => {
                "Unknown: no JUnit reports were given (`--junit`) and the CI names no commit to look up.\n"
            }
            FlakySource::NoReportMatched => "",
        });
        if v.flaky_source == FlakySource::NoReportMatched {
            let patterns: Vec<String> = v
                .junit_unmatched
                .iter()
                .map(|p| format!("\"{}\"", markdown(&short(p))))
                .collect();
            out.push_str(&format!(
                "Unknown: no JUnit report matched the given pattern{} ({}).\n",
                if patterns.len() == 1 { "" } else { "s" },
                patterns.join(", ")
            ));
        }
    } else {
        for f in v.flaky.iter().take(limit) {
            out.push_str(&format!(
                "- {} ({} of {} attempts failed)\n",
                markdown(&short(&f.id)),
                f.failures,
                f.attempts
            ));
        }
        if v.flaky.len() > limit {
            out.push_str(&format!(
                "- … and {} more (see the job log)\n",
                v.flaky.len() - limit
            ));
        }
    }
    out.push_str(&super::tests_delta::slowest(
        v.slowest.iter().map(|(id, s)| (id.as_str(), *s)),
    ));
    // An HTML block: Markdown is not read inside it, so the link is an
    // anchor, its URL checked and escaped for the attribute.
    let run = v
        .run_url
        .and_then(|u| reqwest::Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| {
            format!(
                " · <a href=\"{}\">this run</a>",
                super::escape::html(u.as_str())
            )
        })
        .unwrap_or_default();
    out.push_str(&format!("\n<sub>Posted by dorameter{run}</sub>\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_cannot_be_closed_or_forged() {
        assert_eq!(
            marker("api", "production"),
            "<!-- dorameter:api:production -->"
        );
        let m = marker("x -->evil<!--", "a--b:c");
        assert_eq!(m.matches("-->").count(), 1, "{m}");
        assert_eq!(m.matches("<!--").count(), 1, "{m}");
        assert!(!m["<!--".len()..m.len() - 3].contains("--"), "{m}");
        assert_ne!(marker("a:b", "c"), marker("a", "b:c"));
    }

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(sparkline(&[0, 1, 2, 4]), "▁▃▅█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn trend_arrows_mean_better_or_worse_for_each_metric_in_both_directions() {
        // Deployment frequency: more is better.
        assert_eq!(
            trend(Some(2.0), Some(1.0), Unit::PerDay, Better::Higher),
            "▲ better (was 1.00/day)"
        );
        assert_eq!(
            trend(Some(1.0), Some(2.0), Unit::PerDay, Better::Higher),
            "▼ worse (was 2.00/day)"
        );
        // Lead time, time to restore, CFR, rework: less is better, so a
        // number that went down gets the up arrow.
        assert_eq!(
            trend(Some(7200.0), Some(3600.0), Unit::Seconds, Better::Lower),
            "▼ worse (was 1.0h)"
        );
        assert_eq!(
            trend(Some(3600.0), Some(7200.0), Unit::Seconds, Better::Lower),
            "▲ better (was 2.0h)"
        );
        assert_eq!(
            trend(Some(1.0), Some(1.0), Unit::Percent, Better::Lower),
            "no change (1.0%)"
        );
        assert_eq!(trend(Some(1.0), None, Unit::Percent, Better::Lower), "new");
        assert_eq!(trend(None, Some(1.0), Unit::Percent, Better::Lower), "–");
    }

    #[test]
    fn part_of_a_week_in_days() {
        assert_eq!(part_of_week(Duration::days(2)), "2 of 7 days");
        assert_eq!(part_of_week(Duration::hours(36)), "1.5 of 7 days");
    }

    #[test]
    fn truncation_keeps_the_marker_and_whole_lines() {
        let body = format!("{}\n{}", marker("a", "b"), "line\n".repeat(20_000));
        let t = truncate(&body);
        assert!(t.len() < MAX_BODY);
        assert!(t.starts_with(&marker("a", "b")));
        assert!(t.ends_with("limit._\n"));
    }

    use crate::event::{DeploymentKind, RemediationReason};
    use crate::metrics::{DeploymentFact, ReportInput, Window, band_table, compute};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A report over the 30 days to `until` with one deployment in it.
    fn report(until: DateTime<Utc>) -> Report {
        let bands = band_table("classic").unwrap();
        let deployments = [DeploymentFact {
            id: "d".into(),
            finished_at: until - Duration::days(1),
            success: true,
            kind: DeploymentKind::Planned,
            remediates: Vec::new(),
            history_missing: false,
        }];
        compute(&ReportInput {
            service: "api",
            env: "production",
            deployments: &deployments,
            known: true,
            incidents: &[],
            lead_times: &[3600],
            window: Window {
                since: until - Duration::days(30),
                until,
            },
            attribution_window: Duration::hours(24),
            bands: &bands,
            now: until,
        })
    }

    /// `n` weeks ending at `until`, Monday-aligned but the first; `lead`
    /// gives each week's p50 (None: no change shipped).
    fn weeks(until: DateTime<Utc>, n: usize, lead: impl Fn(usize) -> Option<f64>) -> Vec<WeekView> {
        let mut out: Vec<WeekView> = (0..n)
            .map(|i| {
                let since = until - Duration::weeks((n - i) as i64);
                WeekView {
                    since,
                    until: since + Duration::weeks(1),
                    deployments: (i % 4) as u64,
                    lead_time_p50: lead(i),
                    changes: u64::from(lead(i).is_some()),
                }
            })
            .collect();
        out[0].since += Duration::days(2);
        out
    }

    fn view<'a>(r: &'a Report, weeks: &'a [WeekView], failures: &'a [Failure]) -> CommentView<'a> {
        CommentView {
            service: "api",
            env: "production",
            current: r,
            previous: Some(r),
            weeks,
            too_many_weeks: None,
            failures,
            change: None,
            flaky: &[],
            flaky_source: FlakySource::Reports,
            failing: &[],
            failing_count: 0,
            run_url: None,
            junit_unmatched: &[],
            against_base: None,
            slowest: &[],
        }
    }

    /// The ```mermaid blocks of a body.
    fn charts(body: &str) -> Vec<&str> {
        body.split("```mermaid\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap())
            .collect()
    }

    #[test]
    fn weeks_without_changes_are_left_off_the_line_not_drawn_as_zero() {
        // Monday 2026-03-30 00:00.
        let until = t("2026-03-30T00:00:00Z");
        let w = weeks(until, 5, |i| (i != 2).then_some(3600.0 * (i + 1) as f64));
        let r = report(until);
        let body = comment_markdown(&view(&r, &w, &[]));
        let c = charts(&body);
        assert_eq!(c.len(), 2, "{body}");
        assert!(c[0].contains("x-axis \"week from (UTC)\" [\"Feb 25\", \"Mar 2\", \"Mar 9\", \"Mar 16\", \"Mar 23\"]"), "{body}");
        assert!(c[0].contains("bar [0, 1, 2, 3, 0]"), "{body}");
        // Week 3 (Mar 9) shipped nothing: four points, no made-up zero.
        assert!(
            c[1].contains("[\"Feb 25\", \"Mar 2\", \"Mar 16\", \"Mar 23\"]"),
            "{body}"
        );
        assert!(c[1].contains("y-axis \"p50, hours\" 0 --> 5"), "{body}");
        assert!(c[1].contains("line [1.0, 2.0, 4.0, 5.0]"), "{body}");
        assert!(
            body.contains("the other week has no lead time and is left out, not drawn as 0."),
            "{body}"
        );
        assert!(
            body.contains("the first covers only 5 of 7 days."),
            "{body}"
        );
        // The text fallback: sparkline and counts, and the table.
        assert!(
            body.contains("Deployments per week, oldest first: `▁▄▆█▁` (0, 1, 2, 3, 0; "),
            "{body}"
        );
        assert!(body.contains("| 2026-03-09 | 7 | 2 | – | 0 |"), "{body}");
        assert!(body.contains("| 2026-02-25 | 5 | 0 | 1.0h | 1 |"), "{body}");
    }

    #[test]
    fn one_week_or_no_lead_time_draws_no_line() {
        let until = t("2026-03-30T00:00:00Z");
        let r = report(until);
        let w = weeks(until, 1, |_| Some(600.0));
        let body = comment_markdown(&view(&r, &w, &[]));
        assert_eq!(charts(&body).len(), 1, "{body}");
        assert!(body.contains("this one covers only 5 of 7 days."), "{body}");
        assert!(
            body.contains(
                "Only the week from Mar 25 has a lead time (p50 10.0m): no line to draw."
            ),
            "{body}"
        );
        let w = weeks(until, 3, |_| None);
        let body = comment_markdown(&view(&r, &w, &[]));
        assert_eq!(charts(&body).len(), 1, "{body}");
        assert!(body.contains("no lead-time chart"), "{body}");
        // Minutes and days, by the largest value.
        let w = weeks(until, 3, |i| Some(60.0 * (i + 1) as f64));
        let body = comment_markdown(&view(&r, &w, &[]));
        assert!(
            body.contains("\"p50, minutes\" 0 --> 3\n    line [1.0, 2.0, 3.0]"),
            "{body}"
        );
        let w = weeks(until, 3, |i| Some(86_400.0 * (i + 3) as f64));
        let body = comment_markdown(&view(&r, &w, &[]));
        assert!(
            body.contains("\"p50, days\" 0 --> 5\n    line [3.0, 4.0, 5.0]"),
            "{body}"
        );
    }

    #[test]
    fn long_windows_chart_their_last_two_years_with_dated_labels() {
        let until = t("2026-03-30T00:00:00Z");
        let r = report(until);
        let w = weeks(until, 300, |i| Some(3600.0 * (i % 7 + 1) as f64));
        let body = comment_markdown(&view(&r, &w, &[]));
        for c in charts(&body) {
            let labels = c.lines().find(|l| l.contains("x-axis")).unwrap();
            assert_eq!(labels.matches(", ").count() + 1, MAX_CHART_WEEKS, "{c}");
            // Across years: unambiguous dates.
            assert!(labels.contains("\"2024-04-08\""), "{labels}");
        }
        assert!(
            body.contains("The charts and the table show the last 104 of 300 weeks."),
            "{body}"
        );
        assert_eq!(body.matches("\n| 20").count(), MAX_CHART_WEEKS, "{body}");
        let spark = body
            .lines()
            .find(|l| l.starts_with("Deployments per week"))
            .unwrap();
        assert_eq!(spark.split('`').nth(1).unwrap().chars().count(), 300);
    }

    fn failure(k: usize, text: &str, causes: usize) -> Failure {
        let at = t("2026-03-10T12:00:00Z") + Duration::minutes(k as i64);
        Failure {
            deployment_id: format!("{text}{k}"),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            finished_at: at,
            causes: (0..causes)
                .map(|c| {
                    if c % 2 == 0 {
                        Cause::Remediation {
                            deployment_id: format!("{text}r{c}"),
                            reason: RemediationReason::Revert,
                            commit: Some("fedcba9876543210fedcba9876543210fedcba98".into()),
                        }
                    } else {
                        Cause::Incident {
                            incident_id: format!("{text}i{c}"),
                            severity: Some(text.into()),
                            title: Some(text.into()),
                        }
                    }
                })
                .collect(),
            recovered_at: (k % 2 == 0).then_some(at + Duration::minutes(90)),
        }
    }

    #[test]
    fn failed_deployments_say_why_newest_first_escaped() {
        let until = t("2026-03-30T00:00:00Z");
        let r = report(until);
        let f = [failure(0, "a", 2), failure(1, "<b>|@x", 7)];
        let body = comment_markdown(&view(&r, &[], &f));
        let section = body.split("<details>").nth(1).unwrap();
        assert!(
            section.starts_with(
                "\n<summary>2 failed deployments in this window, and why</summary>\n\n"
            ),
            "{section}"
        );
        let lines: Vec<&str> = section.lines().filter(|l| l.starts_with("- ")).collect();
        assert_eq!(lines.len(), 2, "{section}");
        assert_eq!(
            lines[1],
            "- 2026-03-10 12:00:00Z · deployment a0 (`0123456789ab`): reverted by deployment ar0 \
             (commit `fedcba987654`); incident ai1 (a): a · recovered after 1.5h"
        );
        assert!(
            lines[0].starts_with("- 2026-03-10 12:01:00Z · deployment &lt;b&gt;\\|@\u{2060}x1"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with("; and 2 more · not recovered yet"),
            "{}",
            lines[0]
        );
        assert!(!body.contains("<b>"), "{body}");
        assert!(body.contains("</details>"), "{body}");
    }

    #[test]
    fn the_worst_case_body_fits_with_whole_charts_and_the_marker() {
        let until = t("2026-03-30T00:00:00Z");
        let r = report(until);
        let hostile = "<&>@|`\n-->".repeat(40);
        let w = weeks(until, 1000, |i| Some(1e7 + i as f64));
        let f: Vec<Failure> = (0..5000).map(|k| failure(k, &hostile, 40)).collect();
        let flaky: Vec<FlakyLine> = (0..5000)
            .map(|k| FlakyLine {
                id: format!("{hostile}{k}"),
                attempts: 3,
                failures: 2,
            })
            .collect();
        let change = ChangeView {
            commits: (0..10_000)
                .map(|k| CommitView {
                    sha: format!("{k:040x}"),
                    authored_at: 1_700_000_000 + k,
                })
                .collect(),
            lead_time_so_far: Some(1e6),
            truncated: true,
            note: Some(hostile.clone()),
        };
        let service = format!("svc{hostile}");
        let v = CommentView {
            service: &service,
            env: &hostile,
            change: Some(&change),
            flaky: &flaky,
            failing: &[],
            failing_count: 0,
            run_url: None,
            ..view(&r, &w, &f)
        };
        let body = comment_markdown(&v);
        assert!(body.len() < MAX_BODY, "{}", body.len());
        assert!(body.starts_with(&marker(&service, &hostile)), "{body}");
        assert!(
            !body.contains("truncated to fit"),
            "lists were cut, not the text"
        );
        let c = charts(&body);
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.trim_end().ends_with(']')), "{c:?}");
        assert_eq!(body.matches("```").count(), 4, "every fence closed");
        assert!(body.contains("more\n\n</details>"), "{body}");
        assert!(body.contains("more (see the job log)"), "{body}");
        assert_eq!(
            body.matches("<details>").count(),
            body.matches("</details>").count()
        );
    }
}
