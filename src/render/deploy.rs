//! A recorded (or dry-run) deployment, as SPEC §4's `deploy` JSON and as text.

use serde::Serialize;

use super::escape::{markdown, terminal};
use crate::event::{Change, Deployment, LeadTimeNote, Remediation, RemediationReason};
use crate::metrics::{round_to, summarize};
use crate::time::{format_time, humanize_seconds};

#[derive(Clone, Debug, Serialize)]
pub struct LeadTimeView {
    pub changes: usize,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
    pub mean_seconds: f64,
    pub min_seconds: f64,
    pub max_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChangeView<'a> {
    pub sha: &'a str,
    pub authored_at: String,
    pub committed_at: String,
    pub lead_time_seconds: i64,
}

/// Field order is SPEC §4's; fields after `changes` are additions.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentView<'a> {
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
    pub remediates: &'a [Remediation],
    pub repository_url: Option<&'a str>,
    pub version: Option<&'a str>,
    pub team: Option<&'a str>,
    pub pipeline_id: Option<&'a str>,
    pub pipeline_url: Option<&'a str>,
    pub deployed_by: Option<&'a str>,
    pub tags: &'a std::collections::BTreeMap<String, String>,
    pub lead_time_from: &'static str,
    pub recorded: bool,
    pub warnings: &'a [String],
}

impl<'a> DeploymentView<'a> {
    pub fn new(d: &'a Deployment, recorded: bool, warnings: &'a [String]) -> Self {
        DeploymentView {
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
            remediates: &d.remediates,
            repository_url: d.repository_url.as_deref(),
            version: d.version.as_deref(),
            team: d.team.as_deref(),
            pipeline_id: d.pipeline_id.as_deref(),
            pipeline_url: d.pipeline_url.as_deref(),
            deployed_by: d.deployed_by.as_deref(),
            tags: &d.tags,
            lead_time_from: d.lead_time_from.as_str(),
            recorded,
            warnings,
        }
    }
}

pub(super) fn change_view(c: &Change) -> ChangeView<'_> {
    ChangeView {
        sha: &c.sha,
        authored_at: format_time(c.authored_at),
        committed_at: format_time(c.committed_at),
        lead_time_seconds: c.lead_time_seconds,
    }
}

/// p50/p95/mean/min/max of a deployment's change lead times; `None` without changes.
pub fn lead_time(changes: &[Change]) -> Option<LeadTimeView> {
    let mut v: Vec<f64> = changes.iter().map(|c| c.lead_time_seconds as f64).collect();
    let s = summarize(&mut v)?;
    Some(LeadTimeView {
        changes: s.count,
        p50_seconds: round_to(s.p50, 2),
        p95_seconds: round_to(s.p95, 2),
        mean_seconds: round_to(s.mean, 2),
        min_seconds: s.min,
        max_seconds: s.max,
    })
}

pub(super) fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The rule that marked a deployment failed, and the commit that fired it.
pub(super) fn why(r: &Remediation) -> String {
    let rule = match r.reason {
        RemediationReason::Rollback => "rollback",
        RemediationReason::Hotfix => "--hotfix",
        RemediationReason::Revert => "revert of a commit it shipped",
        RemediationReason::RevertSubject => "revert subject",
        RemediationReason::HotfixSubject => "hotfix subject",
    };
    match &r.commit {
        Some(c) => format!("{rule}, commit {}", short(c)),
        None => rule.to_string(),
    }
}

/// A deployment's lead time in words: its statistics, else why it has none.
pub(super) fn lead_line(lead: Option<&LeadTimeView>, note: Option<LeadTimeNote>) -> String {
    match (lead, note) {
        (Some(l), _) => format!(
            "p50 {} · p95 {} · mean {} over {} change{}",
            humanize_seconds(l.p50_seconds),
            humanize_seconds(l.p95_seconds),
            humanize_seconds(l.mean_seconds),
            l.changes,
            if l.changes == 1 { "" } else { "s" }
        ),
        (None, Some(note)) => format!("none ({})", note.words()),
        (None, None) => "none".into(),
    }
}

pub fn deployment_table(v: &DeploymentView<'_>) -> String {
    let verb = if v.recorded {
        "recorded"
    } else {
        "not recorded"
    };
    let mut rows = vec![
        vec!["deployment".into(), format!("{} ({verb})", terminal(v.id))],
        vec![
            "service".into(),
            format!("{} / {}", terminal(v.service), terminal(v.env)),
        ],
        vec!["sha".into(), v.sha.to_string()],
        vec!["previous".into(), v.previous_sha.unwrap_or("-").to_string()],
        vec!["finished".into(), super::human_time(&v.finished_at)],
        vec!["status".into(), format!("{} · {}", v.status, v.kind)],
        vec![
            "lead time".into(),
            lead_line(v.lead_time.as_ref(), v.lead_time_note),
        ],
    ];
    if v.clamped_changes > 0 {
        rows.push(vec![
            "clamped".into(),
            format!(
                "{} dated after the deployment counted as 0",
                super::count(v.clamped_changes, "commit")
            ),
        ]);
    }
    for r in v.remediates {
        rows.push(vec![
            "marks failed".into(),
            format!("{} ({})", terminal(&r.deployment_id), why(r)),
        ]);
    }
    super::columns(&rows)
}

pub fn deployment_markdown(v: &DeploymentView<'_>) -> String {
    let mut out = format!(
        "### Deployment `{}` of {} to {}\n\n| | |\n|---|---|\n| status | {} · {} |\n| lead time | {} |\n| sha | `{}` |\n| previous | {} |\n",
        short(v.sha),
        markdown(v.service),
        markdown(v.env),
        v.status,
        v.kind,
        lead_line(v.lead_time.as_ref(), v.lead_time_note),
        v.sha,
        v.previous_sha
            .map(|p| format!("`{p}`"))
            .unwrap_or_else(|| "-".into()),
    );
    for r in v.remediates {
        out.push_str(&format!(
            "| marks failed | {} ({}) |\n",
            markdown(&r.deployment_id),
            why(r)
        ));
    }
    out
}
