//! The sticky PR/MR comment (SPEC §7): metrics with bands and trend, a
//! sparkline of deployments per week, this change's commits and lead time so
//! far, and the flaky tests of this pipeline. Every user-given string goes
//! through `escape::markdown`; the body always fits the forges' limit.

use super::escape::markdown;
use crate::metrics::{Level, Report};
use crate::time::humanize_seconds;

/// GitHub's limit on a comment body (characters); GitLab's is larger. Bytes
/// are counted, which is stricter.
pub const MAX_BODY: usize = 65_536;

/// Longest test name or id shown, in characters, before escaping.
const MAX_NAME: usize = 200;

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
    /// Deployments per week over the window, oldest first.
    pub weekly_deployments: &'a [u64],
    /// How much of a week the last bar covers, when less than a week.
    pub partial_week: Option<chrono::Duration>,
    pub change: Option<&'a ChangeView>,
    pub flaky: &'a [FlakyLine],
    pub flaky_source: FlakySource,
    /// The `--junit` patterns, when none matched a file.
    pub junit_unmatched: &'a [String],
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
    let mut limit = 50usize;
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

/// The change against the previous window in words a reader need not
/// interpret: better or worse for this metric, then which way it moved.
fn trend(now: Option<f64>, before: Option<f64>, unit: Unit, better: Better) -> String {
    match (now, before) {
        (Some(a), Some(b)) => {
            let from = show(Some(b), unit);
            if (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0) {
                return format!("no change ({from})");
            }
            let up = a > b;
            let verdict = match (better, up) {
                (Better::Higher, true) | (Better::Lower, false) => "better",
                _ => "worse",
            };
            format!(
                "{verdict}: {} from {from}",
                if up { "↑ up" } else { "↓ down" }
            )
        }
        (Some(_), None) => "new".into(),
        _ => "–".into(),
    }
}

/// "2 of 7 days", "1.5 of 7 days".
fn part_of_week(d: chrono::Duration) -> String {
    let days = d.num_seconds() as f64 / 86_400.0;
    if (days - days.round()).abs() < 1e-9 {
        format!("{days:.0} of 7 days")
    } else {
        format!("{days:.1} of 7 days")
    }
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

fn short(s: &str) -> String {
    if s.chars().count() <= MAX_NAME {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_NAME).collect();
        t.push('…');
        t
    }
}

/// The weekly bars with their counts (which add up to the window's
/// deployments) and, when the last week is cut short by the window's end,
/// how much of a week it covers: a short last bar is not a slowdown.
fn weekly(v: &CommentView<'_>, total: u64) -> String {
    let counts: Vec<String> = v.weekly_deployments.iter().map(u64::to_string).collect();
    let mut out = format!(
        "\nDeployments per week, oldest first: `{}` ({}; {total} in the window)",
        sparkline(v.weekly_deployments),
        counts.join(", ")
    );
    if let Some(d) = v.partial_week {
        out.push_str(&format!(". The last bar covers only {}.", part_of_week(d)));
    }
    out.push('\n');
    out
}

fn render(v: &CommentView<'_>, limit: usize) -> String {
    let mut out = marker(v.service, v.env);
    out.push('\n');
    out.push_str(&format!(
        "### DORA metrics · {} · {}\n\n",
        markdown(v.service),
        markdown(v.env)
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
    out.push_str("\n<sub>Posted by dorameter</sub>\n");
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
    fn trend_says_better_or_worse_for_each_metric_in_both_directions() {
        // Deployment frequency: up is better.
        assert_eq!(
            trend(Some(2.0), Some(1.0), Unit::PerDay, Better::Higher),
            "better: ↑ up from 1.00/day"
        );
        assert_eq!(
            trend(Some(1.0), Some(2.0), Unit::PerDay, Better::Higher),
            "worse: ↓ down from 2.00/day"
        );
        // Lead time, time to restore, CFR, rework: up is worse.
        assert_eq!(
            trend(Some(7200.0), Some(3600.0), Unit::Seconds, Better::Lower),
            "worse: ↑ up from 1.0h"
        );
        assert_eq!(
            trend(Some(3600.0), Some(7200.0), Unit::Seconds, Better::Lower),
            "better: ↓ down from 2.0h"
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
        assert_eq!(part_of_week(chrono::Duration::days(2)), "2 of 7 days");
        assert_eq!(part_of_week(chrono::Duration::hours(36)), "1.5 of 7 days");
    }

    #[test]
    fn truncation_keeps_the_marker_and_whole_lines() {
        let body = format!("{}\n{}", marker("a", "b"), "line\n".repeat(20_000));
        let t = truncate(&body);
        assert!(t.len() < MAX_BODY);
        assert!(t.starts_with(&marker("a", "b")));
        assert!(t.ends_with("limit._\n"));
    }
}
