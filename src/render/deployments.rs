//! `deployments list|show`: the audit trail as JSON (the views below, the
//! shapes `docs/deployments.md` documents), aligned text, Markdown and CSV.
//! Human formats give causes in words, times to the second, and say how
//! many more when a list is cut.

use std::collections::BTreeMap;

use serde::Serialize;

use super::deploy::{ChangeView, LeadTimeView, change_view, lead_line, lead_time, short, why};
use super::escape::{csv, markdown, terminal};
use crate::app::breakdown::{Cause, Failure};
use crate::app::deployments::{DeploymentList, ListRequest, Listed, Shown};
use crate::event::{Deployment, LeadTimeNote, Remediation, RemediationReason};
use crate::metrics::{WindowOut, round_to};
use crate::time::{format_time, humanize_seconds};

/// How many changes `show` prints in the human formats (JSON has all).
const CHANGES_SHOWN: usize = 50;

/// `deployments list --format json`.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentListView<'a> {
    /// `null`: every service.
    pub service: Option<&'a str>,
    /// `null`: every env.
    pub env: Option<&'a str>,
    pub window: WindowOut,
    pub failed_only: bool,
    pub limit: usize,
    /// Deployments that matched, before the cut to `limit`.
    pub total: usize,
    /// Of `total`, how many count as failed.
    pub failed: usize,
    /// Of `total`, failed deploy jobs: listed, never counted.
    pub failed_jobs: usize,
    /// `total` less those listed.
    pub more: usize,
    pub deployments: Vec<ListedView<'a>>,
}

/// One deployment of the list.
#[derive(Clone, Debug, Serialize)]
pub struct ListedView<'a> {
    pub id: &'a str,
    pub service: &'a str,
    pub env: &'a str,
    pub sha: &'a str,
    pub started_at: String,
    pub finished_at: String,
    pub status: &'static str,
    pub kind: &'static str,
    pub changes: usize,
    pub lead_time_p50_seconds: Option<f64>,
    pub lead_time_note: Option<LeadTimeNote>,
    /// Counts as failed (change failure rate); never for a failed job.
    pub failed: bool,
    pub causes: &'a [Cause],
    pub recovered_at: Option<String>,
    /// The earlier deployments this one marked failed.
    pub remediates: &'a [Remediation],
}

impl<'a> DeploymentListView<'a> {
    pub fn new(list: &'a DeploymentList, req: &ListRequest) -> Self {
        let w = req.report.window;
        DeploymentListView {
            service: list.service.as_deref(),
            env: list.env.as_deref(),
            window: WindowOut {
                start: format_time(w.since),
                end: format_time(w.until),
                days: round_to(w.days(), 4),
            },
            failed_only: req.failed_only,
            limit: req.limit,
            total: list.total,
            failed: list.failed,
            failed_jobs: list.failed_jobs,
            more: list.total.saturating_sub(list.deployments.len()),
            deployments: list.deployments.iter().map(listed).collect(),
        }
    }
}

fn listed(l: &Listed) -> ListedView<'_> {
    let d = &l.deployment;
    ListedView {
        id: &d.id,
        service: &d.service,
        env: &d.env,
        sha: &d.sha,
        started_at: format_time(d.started_at),
        finished_at: format_time(d.finished_at),
        status: d.status.as_str(),
        kind: d.kind.as_str(),
        changes: d.changes.len(),
        lead_time_p50_seconds: lead_time(&d.changes).map(|l| l.p50_seconds),
        lead_time_note: d.lead_time_note,
        failed: l.failure.is_some(),
        causes: l.failure.as_ref().map_or(&[], |f| f.causes.as_slice()),
        recovered_at: l
            .failure
            .as_ref()
            .and_then(|f| f.recovered_at)
            .map(format_time),
        remediates: &d.remediates,
    }
}

/// `deployments show --format json`: `deploy`'s shape (SPEC §4), its
/// `remediates` with each target's sha and finish, then the failure.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentShowView<'a> {
    pub id: &'a str,
    pub service: &'a str,
    pub env: &'a str,
    pub sha: &'a str,
    pub previous_sha: Option<&'a str>,
    pub started_at: String,
    pub finished_at: String,
    pub status: &'static str,
    pub kind: &'static str,
    pub lead_time: Option<LeadTimeView>,
    pub lead_time_note: Option<LeadTimeNote>,
    pub changes: Vec<ChangeView<'a>>,
    pub clamped_changes: u32,
    pub truncated: bool,
    pub remediates: Vec<RemediatedView<'a>>,
    pub repository_url: Option<&'a str>,
    pub version: Option<&'a str>,
    pub ref_name: Option<&'a str>,
    pub team: Option<&'a str>,
    pub pipeline_id: Option<&'a str>,
    pub pipeline_url: Option<&'a str>,
    pub deployed_by: Option<&'a str>,
    pub tags: &'a BTreeMap<String, String>,
    pub lead_time_from: &'static str,
    /// Counts as failed (change failure rate); never for a failed job.
    pub failed: bool,
    /// Every rule that fired, remediations first.
    pub causes: &'a [Cause],
    pub recovered_at: Option<String>,
}

/// A deployment the shown one marked failed.
#[derive(Clone, Debug, Serialize)]
pub struct RemediatedView<'a> {
    pub deployment_id: &'a str,
    pub reason: RemediationReason,
    /// The commit that fired a revert or subject rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<&'a str>,
    /// The marked deployment's sha and finish (`null` if no longer stored).
    pub sha: Option<&'a str>,
    pub finished_at: Option<String>,
}

impl<'a> DeploymentShowView<'a> {
    pub fn new(s: &'a Shown) -> Self {
        let d = &s.deployment;
        DeploymentShowView {
            id: &d.id,
            service: &d.service,
            env: &d.env,
            sha: &d.sha,
            previous_sha: d.previous_sha.as_deref(),
            started_at: format_time(d.started_at),
            finished_at: format_time(d.finished_at),
            status: d.status.as_str(),
            kind: d.kind.as_str(),
            lead_time: lead_time(&d.changes),
            lead_time_note: d.lead_time_note,
            changes: d.changes.iter().map(change_view).collect(),
            clamped_changes: d.clamped_changes,
            truncated: d.truncated,
            remediates: s
                .remediated
                .iter()
                .map(|(r, target)| RemediatedView {
                    deployment_id: &r.deployment_id,
                    reason: r.reason,
                    commit: r.commit.as_deref(),
                    sha: target.as_ref().map(|t| t.sha.as_str()),
                    finished_at: target.as_ref().map(|t| format_time(t.finished_at)),
                })
                .collect(),
            repository_url: d.repository_url.as_deref(),
            version: d.version.as_deref(),
            ref_name: d.ref_name.as_deref(),
            team: d.team.as_deref(),
            pipeline_id: d.pipeline_id.as_deref(),
            pipeline_url: d.pipeline_url.as_deref(),
            deployed_by: d.deployed_by.as_deref(),
            tags: &d.tags,
            lead_time_from: d.lead_time_from.as_str(),
            failed: s.failure.is_some(),
            causes: s.failure.as_ref().map_or(&[], |f| f.causes.as_slice()),
            recovered_at: s
                .failure
                .as_ref()
                .and_then(|f| f.recovered_at)
                .map(format_time),
        }
    }
}

/// One cause in words, from the failed deployment's side; user text
/// through `esc` (the destination's escape).
fn cause_words(c: &Cause, esc: fn(&str) -> String) -> String {
    match c {
        Cause::Remediation {
            deployment_id,
            reason,
            commit,
        } => {
            let by = format!("deployment {}", esc(deployment_id));
            let commit = commit
                .as_deref()
                .map_or_else(String::new, |c| esc(short(c)));
            match reason {
                RemediationReason::Rollback => format!("rolled back by {by}"),
                RemediationReason::Hotfix => format!("hotfixed by {by} (--hotfix)"),
                RemediationReason::Revert => format!("reverted by commit {commit} in {by}"),
                RemediationReason::RevertSubject => {
                    format!("revert commit {commit} (by its subject) in {by}")
                }
                RemediationReason::HotfixSubject => {
                    format!("hotfix commit {commit} (by its subject) in {by}")
                }
            }
        }
        Cause::Incident {
            incident_id,
            severity,
            title,
        } => {
            let mut s = format!("incident {}", esc(incident_id));
            if let Some(sev) = severity {
                s.push_str(&format!(" ({})", esc(sev)));
            }
            if let Some(t) = title {
                s.push_str(&format!(": {}", esc(t)));
            }
            s
        }
    }
}

/// Every cause of a failure, `; ` between them.
fn causes_words(causes: &[Cause], esc: fn(&str) -> String) -> String {
    causes
        .iter()
        .map(|c| cause_words(c, esc))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The list's first line: what was listed.
fn heading(v: &DeploymentListView<'_>, esc: fn(&str) -> String) -> String {
    let what = match (v.service, v.env) {
        (Some(s), Some(e)) => format!("{} / {}", esc(s), esc(e)),
        (None, Some(e)) => format!("every service / {}", esc(e)),
        _ => "every service".into(),
    };
    let found = if v.failed_only {
        super::count(v.total as u64, "failed deployment")
    } else if v.failed_jobs > 0 {
        // A failed job is listed but is no deployment (report counts the rest).
        format!(
            "{}, {} failed; and {}",
            super::count((v.total - v.failed_jobs) as u64, "deployment"),
            v.failed,
            super::count(v.failed_jobs as u64, "failed deploy job")
        )
    } else {
        format!(
            "{}, {} failed",
            super::count(v.total as u64, "deployment"),
            v.failed
        )
    };
    format!(
        "{what}  {} → {}: {found}",
        super::human_time(&v.window.start),
        super::human_time(&v.window.end),
    )
}

/// The line after a cut list.
fn more_line(v: &DeploymentListView<'_>) -> Option<String> {
    (v.more > 0).then(|| {
        format!(
            "{} more not shown (--limit {}): raise --limit to list them",
            v.more, v.limit
        )
    })
}

/// Whether the list spans more than one service+env (then each row says which).
fn mixed(v: &DeploymentListView<'_>) -> bool {
    v.service.is_none() || v.env.is_none()
}

/// The cells of one row, escaped by `esc`; `code` wraps a sha.
fn row(
    d: &ListedView<'_>,
    with_target: bool,
    esc: fn(&str) -> String,
    code: fn(String) -> String,
) -> Vec<String> {
    let mut cells = vec![super::human_time(&d.finished_at)];
    if with_target {
        cells.push(format!("{} / {}", esc(d.service), esc(d.env)));
    }
    cells.extend([
        esc(d.id),
        code(esc(short(d.sha))),
        d.kind.to_string(),
        d.status.to_string(),
        d.changes.to_string(),
        match (d.lead_time_p50_seconds, d.lead_time_note) {
            (Some(s), _) => humanize_seconds(s),
            (None, Some(note)) => note.words().to_string(),
            (None, None) => "-".into(),
        },
        if d.failed {
            format!("yes: {}", causes_words(d.causes, esc))
        } else {
            "no".into()
        },
    ]);
    cells
}

fn header(with_target: bool) -> Vec<String> {
    let mut h = vec!["finished"];
    if with_target {
        h.push("service / env");
    }
    h.extend([
        "id",
        "sha",
        "kind",
        "status",
        "changes",
        "lead time p50",
        "failed",
    ]);
    h.into_iter().map(String::from).collect()
}

pub fn deployment_list_table(v: &DeploymentListView<'_>) -> String {
    let mut out = heading(v, terminal);
    out.push('\n');
    if v.deployments.is_empty() {
        out.push_str("no deployments finished in the window\n");
        return out;
    }
    let with_target = mixed(v);
    let mut rows = vec![header(with_target)];
    rows.extend(
        v.deployments
            .iter()
            .map(|d| row(d, with_target, terminal, |s| s)),
    );
    out.push_str(&super::columns(&rows));
    if let Some(more) = more_line(v) {
        out.push_str(&more);
        out.push('\n');
    }
    out
}

pub fn deployment_list_markdown(v: &DeploymentListView<'_>) -> String {
    let mut out = format!("### Deployments: {}\n\n", heading(v, markdown));
    if v.deployments.is_empty() {
        out.push_str("No deployments finished in the window.\n");
        return out;
    }
    let with_target = mixed(v);
    let head = header(with_target);
    out.push_str(&format!(
        "| {} |\n|{}\n",
        head.join(" | "),
        "---|".repeat(head.len())
    ));
    for d in &v.deployments {
        // A sha is code when it is one (a webhook's is kept as given).
        let code = |s: String| {
            if s.chars().all(|c| c.is_ascii_alphanumeric()) {
                format!("`{s}`")
            } else {
                s
            }
        };
        let cells = row(d, with_target, markdown, code);
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if let Some(more) = more_line(v) {
        out.push_str(&format!("\n{more}\n"));
    }
    out
}

/// One row per deployment; `causes` in words, `;` between them.
pub fn deployment_list_csv(v: &DeploymentListView<'_>) -> String {
    let mut out = String::from(
        "service,env,finished_at,id,sha,status,kind,changes,lead_time_p50_seconds,lead_time_note,failed,causes,recovered_at\n",
    );
    for d in &v.deployments {
        let cells = [
            csv(d.service),
            csv(d.env),
            d.finished_at.clone(),
            csv(d.id),
            csv(d.sha),
            d.status.to_string(),
            d.kind.to_string(),
            d.changes.to_string(),
            d.lead_time_p50_seconds
                .map(|s| s.to_string())
                .unwrap_or_default(),
            d.lead_time_note
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            d.failed.to_string(),
            csv(&causes_words(d.causes, |s| s.to_string())),
            d.recovered_at.clone().unwrap_or_default(),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// What `show` says of a failure: yes and every cause, else why not.
fn failed_line(v: &DeploymentShowView<'_>, esc: fn(&str) -> String) -> String {
    if v.failed {
        format!("yes: {}", causes_words(v.causes, esc))
    } else if v.status != "success" {
        "no (the deploy job failed: it never counts)".into()
    } else {
        "no".into()
    }
}

/// When a failed deployment recovered, and how long after it finished.
fn recovered_line(d: &Deployment, f: &Failure) -> String {
    match f.recovered_at {
        Some(at) => format!(
            "{} ({} after it finished)",
            super::human_time(&format_time(at)),
            humanize_seconds(((at - d.finished_at).num_milliseconds() as f64 / 1000.0).max(0.0))
        ),
        None => "not yet".into(),
    }
}

/// The rows of `show` before its changes.
fn show_rows(s: &Shown, v: &DeploymentShowView<'_>, esc: fn(&str) -> String) -> Vec<Vec<String>> {
    let opt = |o: Option<&str>| o.map_or_else(|| "-".to_string(), esc);
    let mut rows = vec![
        vec!["deployment".into(), esc(v.id)],
        vec![
            "service".into(),
            format!("{} / {}", esc(v.service), esc(v.env)),
        ],
        vec!["sha".into(), esc(v.sha)],
        vec!["previous".into(), opt(v.previous_sha)],
        vec!["started".into(), super::human_time(&v.started_at)],
        vec!["finished".into(), super::human_time(&v.finished_at)],
        vec!["status".into(), format!("{} · {}", v.status, v.kind)],
    ];
    for (label, value) in [
        ("version", v.version),
        ("ref", v.ref_name),
        ("team", v.team),
        ("deployed by", v.deployed_by),
        ("pipeline", v.pipeline_url.or(v.pipeline_id)),
        ("repository", v.repository_url),
    ] {
        if value.is_some() {
            rows.push(vec![label.into(), opt(value)]);
        }
    }
    if !v.tags.is_empty() {
        let tags: Vec<String> = v
            .tags
            .iter()
            .map(|(k, val)| format!("{}={}", esc(k), esc(val)))
            .collect();
        rows.push(vec!["tags".into(), tags.join(", ")]);
    }
    let mut lead = lead_line(v.lead_time.as_ref(), v.lead_time_note);
    if v.lead_time.is_some() {
        lead.push_str(&format!(", from {} time", v.lead_time_from));
    }
    rows.push(vec!["lead time".into(), lead]);
    if v.clamped_changes > 0 {
        rows.push(vec![
            "clamped".into(),
            format!(
                "{} dated after the deployment counted as 0",
                super::count(v.clamped_changes, "commit")
            ),
        ]);
    }
    if v.truncated {
        rows.push(vec![
            "truncated".into(),
            "the walk stopped at --max-commits: only the newest commits are counted".into(),
        ]);
    }
    for (r, target) in &s.remediated {
        let at = target
            .as_ref()
            .map(|t| {
                format!(
                    ", finished {}",
                    super::human_time(&format_time(t.finished_at))
                )
            })
            .unwrap_or_default();
        let why = why(r);
        rows.push(vec![
            "marks failed".into(),
            format!("{} ({}{at})", esc(&r.deployment_id), esc(&why)),
        ]);
    }
    rows.push(vec!["failed".into(), failed_line(v, esc)]);
    if let Some(f) = &s.failure {
        rows.push(vec!["recovered".into(), recovered_line(&s.deployment, f)]);
    }
    rows
}

/// The changes' rows (header first), at most [`CHANGES_SHOWN`].
fn change_rows(v: &DeploymentShowView<'_>, esc: fn(&str) -> String) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "sha".to_string(),
        "authored".into(),
        "committed".into(),
        "lead time".into(),
    ]];
    for c in v.changes.iter().take(CHANGES_SHOWN) {
        rows.push(vec![
            esc(short(c.sha)),
            super::human_time(&c.authored_at),
            super::human_time(&c.committed_at),
            humanize_seconds(c.lead_time_seconds as f64),
        ]);
    }
    rows
}

fn changes_heading(v: &DeploymentShowView<'_>) -> String {
    let n = v.changes.len();
    let mut s = format!(
        "{} new to this service and env",
        super::count(n as u64, "change")
    );
    if n > CHANGES_SHOWN {
        s.push_str(&format!(
            ", the first {CHANGES_SHOWN} by lead time ({} more: --format json lists them all)",
            n - CHANGES_SHOWN
        ));
    }
    s
}

pub fn deployment_show_table(s: &Shown) -> String {
    let v = DeploymentShowView::new(s);
    let mut out = super::columns(&show_rows(s, &v, terminal));
    if !v.changes.is_empty() {
        out.push_str(&format!("\n{}:\n", changes_heading(&v)));
        out.push_str(&super::columns(&change_rows(&v, terminal)));
    }
    out
}

pub fn deployment_show_markdown(s: &Shown) -> String {
    let v = DeploymentShowView::new(s);
    let mut out = format!(
        "### Deployment {} of {} to {}\n\n| | |\n|---|---|\n",
        markdown(v.id),
        markdown(v.service),
        markdown(v.env)
    );
    for r in show_rows(s, &v, markdown).iter().skip(1) {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    if !v.changes.is_empty() {
        out.push_str(&format!("\n{}:\n\n", changes_heading(&v)));
        for (i, r) in change_rows(&v, markdown).iter().enumerate() {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
            if i == 0 {
                out.push_str(&format!("|{}\n", "---|".repeat(r.len())));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_reads_as_words_with_what_fired_it() {
        let by = |reason, commit: Option<&str>| Cause::Remediation {
            deployment_id: "d-2".into(),
            reason,
            commit: commit.map(String::from),
        };
        let sha = "0123456789abcdef0123456789abcdef01234567";
        for (cause, words) in [
            (
                by(RemediationReason::Rollback, None),
                "rolled back by deployment d-2",
            ),
            (
                by(RemediationReason::Hotfix, None),
                "hotfixed by deployment d-2 (--hotfix)",
            ),
            (
                by(RemediationReason::Revert, Some(sha)),
                "reverted by commit 0123456789ab in deployment d-2",
            ),
            (
                by(RemediationReason::RevertSubject, Some(sha)),
                "revert commit 0123456789ab (by its subject) in deployment d-2",
            ),
            (
                by(RemediationReason::HotfixSubject, Some(sha)),
                "hotfix commit 0123456789ab (by its subject) in deployment d-2",
            ),
            (
                Cause::Incident {
                    incident_id: "INC-1".into(),
                    severity: Some("sev1".into()),
                    title: Some("a|b".into()),
                },
                "incident INC-1 (sev1): a|b",
            ),
        ] {
            assert_eq!(cause_words(&cause, terminal), words);
        }
        let two = [
            by(RemediationReason::Rollback, None),
            Cause::Incident {
                incident_id: "INC-1".into(),
                severity: None,
                title: Some("a|b".into()),
            },
        ];
        assert_eq!(
            causes_words(&two, markdown),
            "rolled back by deployment d\\-2; incident INC\\-1: a\\|b"
        );
    }
}
