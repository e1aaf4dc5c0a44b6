//! The sticky PR/MR comment (SPEC §7): the metrics of this window and the
//! one before it, deployments per week, this change's commits and lead time
//! so far, and the flaky tests of this pipeline (its reports, else the test
//! runs stored for its commit); then posting it to the forge.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use super::junit::ReportFile;
use crate::ci::{CiContext, Provider};
use crate::forge::{ForgeError, Posted, github::GitHub, gitlab::GitLab};
use crate::git::{Repo, WalkOutcome};
use crate::http::HttpSettings;
use crate::metrics::{BandTable, Report, ReportInput, Window, compute};
use crate::render::{
    ChangeView, CommentView, CommitView, FlakyLine, FlakySource, comment_markdown,
};
use crate::store::Store;
use crate::{Error, Result};

/// Most commits of the change walked.
const MAX_CHANGE_COMMITS: usize = 10_000;
/// Most flaky tests read from the store for the comment.
const STORED_FLAKY_LIMIT: usize = 1000;

#[derive(Clone, Debug)]
pub struct CommentRequest {
    pub service: String,
    pub env: String,
    /// The window's length; the previous window is as long, just before it.
    pub span: Duration,
    pub bands: BandTable,
    pub attribution_window: Duration,
    pub now: DateTime<Utc>,
    /// This pipeline's commit, for its stored test runs.
    pub sha: Option<String>,
}

/// Everything the comment shows but the change.
#[derive(Debug)]
pub struct Gathered {
    /// This window, then the one before it.
    pub current: Report,
    pub previous: Report,
    pub weekly_deployments: Vec<u64>,
    pub flaky: Vec<FlakyLine>,
    pub flaky_source: FlakySource,
}

/// The flaky tests of this pipeline's reports.
pub fn flaky_from_reports(files: &[ReportFile], cwd: &Path) -> Result<Vec<FlakyLine>> {
    let ingested = super::junit::ingest(files, cwd, None)?;
    Ok(ingested
        .summary
        .flaky
        .into_iter()
        .map(|f| FlakyLine {
            id: f.id,
            attempts: f.attempts,
            failures: f.failures,
        })
        .collect())
}

/// Reads both windows on one snapshot. `from_reports` are the flaky tests
/// of `--junit`; without them, the test runs stored for `req.sha`.
pub fn gather(
    store: &mut dyn Store,
    req: &CommentRequest,
    from_reports: Option<Vec<FlakyLine>>,
) -> Result<Gathered> {
    let current = Window {
        since: req.now - req.span,
        until: req.now,
    };
    let previous = Window {
        since: req.now - req.span - req.span,
        until: req.now - req.span,
    };
    let mut reports: Vec<Report> = Vec::new();
    let mut from_store = Vec::new();
    let mut weekly = vec![0u64; weeks(req.span)];
    store.read(&mut |tx| {
        reports.clear();
        weekly.iter_mut().for_each(|w| *w = 0);
        // Deployments and incidents once (they hold every window); only the
        // lead times are per window.
        let facts = tx.report_facts(&req.service, &req.env, current)?;
        let previous_lead_times = tx.lead_times(&req.service, &req.env, previous)?;
        for d in facts
            .deployments
            .iter()
            .filter(|d| current.contains(d.finished_at))
        {
            let week = ((d.finished_at - current.since).num_seconds() / (7 * 86_400)) as usize;
            if let Some(slot) = weekly.get_mut(week) {
                *slot += 1;
            }
        }
        for (window, lead_times) in [
            (current, &facts.lead_times),
            (previous, &previous_lead_times),
        ] {
            reports.push(compute(&ReportInput {
                service: &req.service,
                env: &req.env,
                deployments: &facts.deployments,
                incidents: &facts.incidents,
                lead_times,
                window,
                attribution_window: req.attribution_window,
                bands: &req.bands,
                now: req.now,
            }));
        }
        if let (None, Some(sha)) = (&from_reports, req.sha.as_deref()) {
            from_store = tx
                .flaky_at_sha(&req.service, sha, STORED_FLAKY_LIMIT)?
                .into_iter()
                .map(|f| FlakyLine {
                    id: format!("{}::{}", f.classname, f.name),
                    attempts: u32::try_from(f.attempts).unwrap_or(u32::MAX),
                    failures: u32::try_from(f.failures).unwrap_or(u32::MAX),
                })
                .collect();
        }
        Ok(())
    })?;
    let (flaky, flaky_source) = match from_reports {
        Some(lines) => (lines, FlakySource::Reports),
        None if req.sha.is_some() => (from_store, FlakySource::Store),
        None => (Vec::new(), FlakySource::Unknown),
    };
    let mut reports = reports.into_iter();
    let (Some(current), Some(previous)) = (reports.next(), reports.next()) else {
        return Err(Error::internal(
            "the comment's two windows were not computed",
        ));
    };
    Ok(Gathered {
        current,
        previous,
        weekly_deployments: weekly,
        flaky,
        flaky_source,
    })
}

/// The comment body.
pub fn body(req: &CommentRequest, g: &Gathered, change: Option<&ChangeView>) -> String {
    comment_markdown(&CommentView {
        service: &req.service,
        env: &req.env,
        current: &g.current,
        previous: Some(&g.previous),
        weekly_deployments: &g.weekly_deployments,
        change,
        flaky: &g.flaky,
        flaky_source: g.flaky_source,
    })
}

/// Whole weeks covering the window (at least one).
fn weeks(span: Duration) -> usize {
    let secs = span.num_seconds().max(1);
    usize::try_from(secs.div_euclid(7 * 86_400) + i64::from(secs % (7 * 86_400) != 0))
        .unwrap_or(1)
        .clamp(1, 520)
}

/// This change's commits: `base..head` (the commits of head not reachable
/// from base, i.e. from their merge base), and lead time so far from the
/// oldest author time. `None` outside a pull/merge request.
pub fn change_view(ci: &CiContext, repo: Option<&Repo>, now: DateTime<Utc>) -> Option<ChangeView> {
    let change = ci.change.as_ref()?;
    let note = |s: &str| ChangeView {
        note: Some(s.to_string()),
        ..ChangeView::default()
    };
    let Some(repo) = repo else {
        return Some(note("no git repository here: commits not shown"));
    };
    let (Some(base), Some(head)) = (change.base_sha.as_deref(), ci.sha.as_deref()) else {
        return Some(note(
            "the CI does not name the base commit: commits not shown",
        ));
    };
    Some(match repo.walk(Some(base), head, MAX_CHANGE_COMMITS) {
        Ok(WalkOutcome::Walked(w)) => {
            let oldest = w.commits.iter().map(|c| c.authored_at).min();
            ChangeView {
                lead_time_so_far: oldest.map(|t| (now.timestamp() - t).max(0) as f64),
                commits: w
                    .commits
                    .iter()
                    .map(|c| CommitView {
                        sha: c.sha.clone(),
                        authored_at: c.authored_at,
                    })
                    .collect(),
                truncated: w.truncated,
                note: None,
            }
        }
        Ok(WalkOutcome::BaseNotFound) => {
            note("the base commit is not in this clone (fetch more history): commits not shown")
        }
        Ok(WalkOutcome::Unrelated) => note("the base and head commits share no history"),
        Err(e) => note(&format!("could not read the commits: {e}")),
    })
}

/// Where the comment goes.
pub enum Destination {
    GitHub {
        api: String,
        repository: String,
        token: SecretString,
        number: u64,
    },
    GitLab {
        api: String,
        project: String,
        token: SecretString,
        iid: u64,
    },
}

/// Why the comment cannot be posted from here: a warning, or a usage error
/// under `--strict`.
#[derive(Debug)]
pub struct Unpostable {
    pub message: String,
    pub hint: Option<String>,
}

impl Unpostable {
    fn new(message: impl Into<String>, hint: Option<&str>) -> Self {
        Unpostable {
            message: message.into(),
            hint: hint.map(String::from),
        }
    }
}

/// The destination from the CI context and the tokens.
pub fn destination(
    ci: Option<&CiContext>,
    github_token: Option<SecretString>,
    gitlab_token: Option<SecretString>,
) -> std::result::Result<Destination, Unpostable> {
    let Some((ci, change)) = ci.and_then(|c| c.change.as_ref().map(|ch| (c, ch))) else {
        return Err(Unpostable::new(
            "no pull or merge request in this CI run",
            Some(
                "run `comment` in a pull_request (GitHub) or merge_request_event (GitLab) pipeline, or pass --dry-run",
            ),
        ));
    };
    match ci.provider {
        Provider::GitHubActions => {
            let token = github_token.ok_or_else(|| {
                Unpostable::new(
                    "no GitHub token",
                    Some("pass --github-token or set GITHUB_TOKEN"),
                )
            })?;
            let repository = ci
                .repository
                .clone()
                .ok_or_else(|| Unpostable::new("GITHUB_REPOSITORY is not set", None))?;
            Ok(Destination::GitHub {
                api: ci
                    .api_url
                    .clone()
                    .unwrap_or_else(|| "https://api.github.com".into()),
                repository,
                token,
                number: change.number,
            })
        }
        Provider::GitLabCi => {
            let token = gitlab_token.ok_or_else(|| {
                Unpostable::new(
                    "no GitLab token",
                    Some("pass --gitlab-token or set DORAMETER_GITLAB_TOKEN (a token with the api scope)"),
                )
            })?;
            let project = change
                .project_id
                .clone()
                .or_else(|| ci.repository.clone())
                .ok_or_else(|| Unpostable::new("CI_MERGE_REQUEST_PROJECT_ID is not set", None))?;
            let api = ci
                .api_url
                .clone()
                .ok_or_else(|| Unpostable::new("CI_API_V4_URL is not set", None))?;
            Ok(Destination::GitLab {
                api,
                project,
                token,
                iid: change.number,
            })
        }
        other => Err(Unpostable::new(
            format!("posting comments from {} is not supported", other.as_str()),
            Some("use --dry-run and post the body yourself"),
        )),
    }
}

/// Creates or updates the one comment carrying `marker`.
pub fn post(
    dest: Destination,
    marker: &str,
    body: &str,
    http: HttpSettings,
) -> std::result::Result<Posted, ForgeError> {
    match dest {
        Destination::GitHub {
            api,
            repository,
            token,
            number,
        } => GitHub::new(&api, &repository, token, http)?.upsert(number, marker, body),
        Destination::GitLab {
            api,
            project,
            token,
            iid,
        } => GitLab::new(&api, &project, token, http)?.upsert(iid, marker, body),
    }
}
