//! The sticky PR/MR comment (SPEC §7, §10): the metrics of this window and
//! the one before it, the failed deployments of the window and why,
//! deployments and lead time per week (`report --by week`'s points), this
//! change's commits and lead time so far, and the flaky tests of this
//! pipeline (its reports, else the test runs stored for its commit); then
//! posting it to the forge.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::Serialize;

use super::breakdown::{Failure, explain_failures};
use super::junit::ReportFile;
use super::report::{ReportRequest, report_of};
use super::series::{Bucket, MAX_POINTS, bucket_reports, buckets};
use super::test_compare::{self, Comparison, HeadTests, TestSet};
use crate::ci::{CiContext, Provider};
use crate::forge::{ForgeError, Posted, github::GitHub, gitlab::GitLab};
use crate::git::{PathFilter, Repo, WalkOutcome};
use crate::http::HttpSettings;
use crate::metrics::{BandTable, Level, Report, Window, compute_with_failures};
use crate::render::{
    ChangeView, CommentView, CommitView, FailingLine, FlakyLine, FlakySource, MAX_LISTED, WeekView,
    comment_markdown,
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
    /// This CI run's page, linked from the comment's footer.
    pub run_url: Option<String>,
    /// The pull or merge request's base commit, whose recorded tests this
    /// pipeline's are compared with.
    pub base_sha: Option<String>,
}

/// Everything the comment shows but the change.
#[derive(Debug)]
pub struct Gathered {
    /// This window, then the one before it.
    pub current: Report,
    pub previous: Report,
    /// The current window's weeks, oldest first: `report --by week`'s
    /// points (ISO weeks cut by the window's ends). Empty when there are
    /// more than a series may have ([`MAX_POINTS`]).
    pub weeks: Vec<WeekView>,
    /// How many weeks the window spans, when that is too many to chart.
    pub too_many_weeks: Option<usize>,
    /// The current window's failed deployments with their causes, oldest
    /// first: the newest [`MAX_LISTED`] (the comment lists no more).
    pub failures: Vec<Failure>,
    pub flaky: Vec<FlakyLine>,
    pub flaky_source: FlakySource,
    /// The failing tests of `--junit`'s reports, and how many there are.
    pub failing: Vec<FailingLine>,
    pub failing_count: u64,
    /// The `--junit` patterns, when none matched a file.
    pub junit_unmatched: Vec<String>,
    /// This pipeline's tests against the base commit's recorded ones, or
    /// why there is no comparison (`None` outside a pull or merge request).
    pub against_base: Option<Result<Comparison, String>>,
    /// This pipeline's slowest tests, slowest first.
    pub slowest: Vec<(String, f64)>,
}

/// What this pipeline's reports tell the comment.
#[derive(Debug, Default)]
pub struct ReportLines {
    pub flaky: Vec<FlakyLine>,
    /// The failing tests listed (the report's list may be cut).
    pub failing: Vec<FailingLine>,
    /// How many tests failed or errored.
    pub failing_count: u64,
    /// Every named test's result, to compare with the base.
    pub head: TestSet,
}

/// The flaky and failing tests of this pipeline's reports.
pub fn from_reports(files: &[ReportFile], cwd: &Path) -> Result<ReportLines> {
    let mut head = HeadTests::comparing();
    let ingested = super::junit::ingest(files, cwd, None, Some(&mut head))?;
    let s = ingested.summary;
    Ok(ReportLines {
        head: head.set,
        failing_count: s.failed + s.errored,
        flaky: s
            .flaky
            .into_iter()
            .map(|f| FlakyLine {
                id: f.id,
                attempts: f.attempts,
                failures: f.failures,
            })
            .collect(),
        failing: s
            .failures
            .into_iter()
            .map(|f| FailingLine {
                id: f.id,
                outcome: f.outcome.as_str(),
                message: f.message,
            })
            .collect(),
    })
}

/// What `--junit` gave.
#[derive(Debug)]
pub enum JunitInput {
    /// Not given: the flaky tests of the test runs stored for the commit.
    NotGiven,
    /// The flaky and failing tests of the reports read.
    Read(ReportLines),
    /// Given, but no file matched: the comment is posted and says so.
    NoneMatched(Vec<String>),
}

/// Reads both windows on one snapshot. The flaky tests are those of
/// `--junit`; without it, of the test runs stored for `req.sha`.
pub fn gather(
    store: &mut dyn Store,
    req: &CommentRequest,
    junit: JunitInput,
    repo: Option<&Repo>,
) -> Result<Gathered> {
    let (from_reports, junit_unmatched) = match junit {
        JunitInput::NotGiven => (None, Vec::new()),
        JunitInput::Read(lines) => (Some(lines), Vec::new()),
        JunitInput::NoneMatched(patterns) => (Some(ReportLines::default()), patterns),
    };
    let current = Window {
        since: req.now - req.span,
        until: req.now,
    };
    let previous = Window {
        since: req.now - req.span - req.span,
        until: req.now - req.span,
    };
    let week_windows = buckets(Bucket::Week, current);
    let too_many_weeks = (week_windows.len() > MAX_POINTS).then_some(week_windows.len());
    let mut reports: Vec<Report> = Vec::new();
    let mut from_store = Vec::new();
    let mut weeks = Vec::new();
    let mut failures = Vec::new();
    let mut stored_head: Option<TestSet> = None;
    let mut against_base = None;
    let shown = store.describe();
    store.read(&mut |tx| {
        reports.clear();
        // A typo in the service is exit 4 (SPEC §4); an empty store is a
        // first pull request before any deployment, and still gets a comment.
        super::report::require_service(tx, &req.service, Some(&req.env), &shown, true)?;
        // Deployments and incidents once (they hold every window); only the
        // lead times are per window.
        let from = crate::metrics::earliest_cause(
            previous.since.min(current.since),
            req.attribution_window,
        );
        let facts = tx.report_facts(&req.service, &req.env, current, from)?;
        let previous_lead_times = tx.lead_times(&req.service, &req.env, previous)?;
        let of = |window| req.report_request(window);
        let (now, failed) = compute_with_failures(&super::report::input(
            &of(current),
            &req.service,
            &req.env,
            &facts,
            &facts.lead_times,
            current,
        ));
        // The list shows at most the newest MAX_LISTED; the report counts
        // them all. Each costs lookups of what fired it.
        let older = failed.len().saturating_sub(MAX_LISTED);
        failures = explain_failures(tx, failed.into_iter().skip(older).collect())?;
        reports.push(now);
        reports.push(report_of(
            &of(previous),
            &req.service,
            &req.env,
            &facts,
            &previous_lead_times,
            previous,
        ));
        weeks = if too_many_weeks.is_some() {
            Vec::new()
        } else {
            let points = bucket_reports(
                tx,
                &of(current),
                &req.service,
                &req.env,
                &facts,
                &week_windows,
            )?;
            week_windows
                .iter()
                .zip(&points)
                .map(|(w, r)| week(*w, r))
                .collect()
        };
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
            stored_head = test_compare::stored_set(tx, &req.service, sha)?.map(|(set, _)| set);
        }
        let head = from_reports
            .as_ref()
            .map(|l| &l.head)
            .or(stored_head.as_ref());
        against_base = req
            .base_sha
            .as_deref()
            .map(|base| {
                test_compare::against_base(tx, &req.service, repo, base, req.sha.as_deref(), head)
            })
            .transpose()?;
        Ok(())
    })?;
    let slowest = from_reports
        .as_ref()
        .map(|l| &l.head)
        .or(stored_head.as_ref())
        .map(TestSet::slowest)
        .unwrap_or_default();
    let (lines, flaky_source) = match from_reports {
        Some(lines) if !junit_unmatched.is_empty() => (lines, FlakySource::NoReportMatched),
        Some(lines) => (lines, FlakySource::Reports),
        None if req.sha.is_some() => (
            ReportLines {
                flaky: from_store,
                ..ReportLines::default()
            },
            FlakySource::Store,
        ),
        None => (ReportLines::default(), FlakySource::Unknown),
    };
    let ReportLines {
        flaky,
        failing,
        failing_count,
        head: _,
    } = lines;
    let mut reports = reports.into_iter();
    let (Some(current), Some(previous)) = (reports.next(), reports.next()) else {
        return Err(Error::internal(
            "the comment's two windows were not computed",
        ));
    };
    Ok(Gathered {
        current,
        previous,
        weeks,
        too_many_weeks,
        failures,
        flaky,
        flaky_source,
        failing,
        failing_count,
        junit_unmatched,
        against_base,
        slowest,
    })
}

/// The comment body.
pub fn body(req: &CommentRequest, g: &Gathered, change: Option<&ChangeView>) -> String {
    comment_markdown(&CommentView {
        service: &req.service,
        env: &req.env,
        current: &g.current,
        previous: Some(&g.previous),
        weeks: &g.weeks,
        too_many_weeks: g.too_many_weeks,
        failures: &g.failures,
        change,
        flaky: &g.flaky,
        flaky_source: g.flaky_source,
        failing: &g.failing,
        failing_count: g.failing_count,
        junit_unmatched: &g.junit_unmatched,
        run_url: req.run_url.as_deref(),
        against_base: g.against_base.as_ref(),
        slowest: &g.slowest,
    })
}

/// A week's point as the comment shows it.
fn week(w: Window, r: &Report) -> WeekView {
    let m = &r.metrics;
    WeekView {
        since: w.since,
        until: w.until,
        deployments: m.deployment_frequency.deployments,
        lead_time_p50: m.lead_time_for_changes.p50,
        changes: m.lead_time_for_changes.changes,
    }
}

impl CommentRequest {
    /// The report request of one of the comment's windows: the same
    /// service, env, bands and attribution as `report` would use.
    fn report_request(&self, window: Window) -> ReportRequest {
        ReportRequest {
            service: Some(self.service.clone()),
            env: Some(self.env.clone()),
            team: None,
            window,
            attribution_window: self.attribution_window,
            bands: self.bands.clone(),
            now: self.now,
        }
    }
}

/// This change's commits: `base..head` (the commits of head not reachable
/// from base, i.e. from their merge base), and lead time so far from the
/// oldest author time. `None` outside a pull/merge request.
pub fn change_view(
    ci: &CiContext,
    repo: Option<&Repo>,
    paths: Option<&PathFilter>,
    now: DateTime<Utc>,
) -> Option<ChangeView> {
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
        Ok(WalkOutcome::Walked(mut w)) => {
            // A monorepo: the change's commits that are this service's.
            if let Some(f) = paths {
                match repo.touching(w.commits, f, Some(&w.heads)) {
                    Ok(c) => w.commits = c,
                    Err(e) => return Some(note(&format!("could not read the commits: {e}"))),
                }
            }
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
        Ok(WalkOutcome::ShallowBoundary(_)) => note(
            "the commits since the base reach past this shallow clone's history (fetch more history): commits not shown",
        ),
        Ok(WalkOutcome::Unrelated) => note("the base and head commits share no history"),
        Err(e) => note(&format!("could not read the commits: {e}")),
    })
}

/// When the comment is posted (`--comment-mode`, as
/// publish-unit-test-result-action's `comment_mode`). An existing comment is
/// always updated, so it never shows stale results; the mode decides only
/// whether a new one is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CommentMode {
    /// Every run.
    Always,
    /// When the tests differ from the base commit's, or cannot be compared.
    Changes,
    /// When a test fails.
    Failures,
    /// Never: the body is still rendered (and written to the job summary).
    Off,
}

impl CommentMode {
    /// Whether this run creates a comment where there is none; `None` for
    /// `off`, which posts nothing at all.
    pub fn creates(self, g: &Gathered) -> Option<bool> {
        let failing =
            g.failing_count > 0 || matches!(&g.against_base, Some(Ok(c)) if c.head.failing > 0);
        match self {
            CommentMode::Always => Some(true),
            CommentMode::Changes => Some(!matches!(&g.against_base, Some(Ok(c)) if !c.changed())),
            CommentMode::Failures => Some(failing),
            CommentMode::Off => None,
        }
    }
}

/// Where the comment goes.
pub enum Destination {
    GitHub {
        api: String,
        repository: String,
        token: SecretString,
        number: u64,
        /// The pull request's page, when the CI names it.
        web_url: Option<String>,
    },
    GitLab {
        api: String,
        project: String,
        token: SecretString,
        iid: u64,
        /// The merge request's page, when the CI names it.
        web_url: Option<String>,
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
                web_url: change.url.clone(),
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
                web_url: change.url.clone(),
            })
        }
        other => Err(Unpostable::new(
            format!("posting comments from {} is not supported", other.as_str()),
            Some("use --dry-run and post the body yourself"),
        )),
    }
}

/// Creates or updates the one comment carrying `marker`, and tells where it is.
pub fn post(
    dest: Destination,
    marker: &str,
    body: &str,
    http: HttpSettings,
    create: bool,
) -> std::result::Result<Delivered, ForgeError> {
    let (posted, page, gitlab) = match dest {
        Destination::GitHub {
            api,
            repository,
            token,
            number,
            web_url,
        } => (
            GitHub::new(&api, &repository, token, http)?.upsert(number, marker, body, create)?,
            web_url,
            false,
        ),
        Destination::GitLab {
            api,
            project,
            token,
            iid,
            web_url,
        } => (
            GitLab::new(&api, &project, token, http)?.upsert(iid, marker, body, create)?,
            web_url,
            true,
        ),
    };
    let (action, id, url) = match posted {
        Posted::Created { id, url } => (Action::Created, id, url),
        Posted::Updated { id, url } => (Action::Updated, id, url),
        Posted::NotCreated => {
            return Ok(Delivered {
                action: Action::Skipped,
                id: 0,
                url: None,
            });
        }
    };
    // GitHub answers with the comment's html_url. GitLab's note API has no
    // web address; a note is `#note_ID` on its merge request's page. Else
    // the pull/merge request's page.
    let url = url.or_else(|| match (&page, gitlab && id > 0) {
        (Some(page), true) => Some(format!("{page}#note_{id}")),
        (page, _) => page.clone(),
    });
    Ok(Delivered { action, id, url })
}

/// What became of the comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    /// `--dry-run`: rendered, not posted.
    DryRun,
    /// Posting was impossible or failed, and that is a warning (no `--strict`).
    NotPosted,
    /// `--comment-mode` asked for no new comment, and there was none to
    /// update.
    Skipped,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::DryRun => "dry_run",
            Action::NotPosted => "not_posted",
            Action::Skipped => "skipped",
        }
    }
}

/// A posted comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub action: Action,
    pub id: u64,
    /// The comment's web address, else its pull/merge request's page.
    pub url: Option<String>,
}

/// The bands of the current window.
#[derive(Clone, Debug, Serialize)]
pub struct Levels {
    pub deployment_frequency: Option<Level>,
    pub lead_time_for_changes: Option<Level>,
    pub change_failure_rate: Option<Level>,
    pub time_to_restore: Option<Level>,
}

impl Levels {
    pub fn of(report: &Report) -> Levels {
        let m = &report.metrics;
        Levels {
            deployment_frequency: m.deployment_frequency.level,
            lead_time_for_changes: m.lead_time_for_changes.level,
            change_failure_rate: m.change_failure_rate.level,
            time_to_restore: m.time_to_restore.level,
        }
    }
}

/// `comment --format json` (docs/comment.md).
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub service: String,
    pub env: String,
    pub action: Action,
    /// The comment's web address (null when not posted).
    pub url: Option<String>,
    /// The forge's comment or note id (null when not posted).
    pub id: Option<u64>,
    /// Why it was not posted (`not_posted` only).
    pub reason: Option<String>,
    /// The body's length in bytes.
    pub body_length: usize,
    /// The body itself, under `dry_run` only.
    pub body: Option<String>,
    pub levels: Levels,
    /// Deployments per week of the window, oldest first.
    pub weekly_deployments: Vec<u64>,
    /// `--junit` patterns when none of them matched a file.
    pub junit_unmatched: Vec<String>,
}

impl Outcome {
    /// The outcome of rendering `body` from `g`; `action` and where it went
    /// are filled in by the caller.
    pub fn new(req: &CommentRequest, g: &Gathered, body: &str, action: Action) -> Outcome {
        Outcome {
            service: req.service.clone(),
            env: req.env.clone(),
            action,
            url: None,
            id: None,
            reason: None,
            body_length: body.len(),
            body: (action == Action::DryRun).then(|| body.to_string()),
            levels: Levels::of(&g.current),
            weekly_deployments: g.weeks.iter().map(|w| w.deployments).collect(),
            junit_unmatched: g.junit_unmatched.clone(),
        }
    }
}
