//! Building a deployment event: lead time from git (SPEC §3) and
//! classification against the recorded history (rollback / rollforward, and
//! which earlier deployments that marks failed). Runs inside the store's
//! write transaction so the history cannot change underneath it.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::squash::{Squashes, expand};
use crate::event::{
    Deployment, DeploymentKind, DeploymentStatus, LeadTimeFrom, LeadTimeNote, Remediation,
    RemediationReason,
};
use crate::git::{
    Commit, PathFilter, Repo, SubjectPattern, WalkOutcome, is_full_sha, lead_time_changes,
};
use crate::settings::Origin;
use crate::store::{Access, Ahead, DeploymentRef, ReadTx, SqliteStore, Store, WriteTx};
use crate::time::END_OF_TIME;
use crate::{Error, Result};

/// How many earlier deployments the git fallback of revert matching looks at.
const REVERT_SEARCH_LIMIT: usize = 1000;

/// Everything about a deployment that does not come from git or history.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    pub id: String,
    pub service: String,
    pub env: String,
    /// The deployed commit: a revision until [`DeployRequest::resolve_revisions`],
    /// then its full sha.
    pub sha: String,
    /// Where `sha` came from (`--sha`, the CI's sha, `HEAD`), for errors.
    pub sha_origin: Origin,
    /// `--previous-sha`: a revision, then a full sha (kept as given when a
    /// shallow clone lacks a full sha).
    pub previous_sha: Option<String>,
    /// The deployed commit's time as the event gave it (a webhook to
    /// `serve`, which has no checkout): without a repository, the deployed
    /// commit is the one change, unless an earlier deployment shipped it.
    pub commit_time: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: DeploymentStatus,
    /// `--rollback`: this deployment remediates by going back.
    pub rollback: bool,
    /// `--hotfix`: this deployment fixes the immediately previous one.
    pub hotfix: bool,
    pub lead_time_from: LeadTimeFrom,
    pub max_commits: usize,
    /// The rollforward subject rule (SPEC §3); `None` turns it off.
    pub rollforward_subject: Option<SubjectPattern>,
    /// The CI's project URL or the origin remote, in any form: the
    /// deployment stores it normalised ([`crate::ci::repository_url`]).
    pub repository_url: Option<String>,
    pub version: Option<String>,
    /// The branch or tag CI built ([`crate::ci::CiContext::ref_name`]).
    pub ref_name: Option<String>,
    pub team: Option<String>,
    pub pipeline_id: Option<String>,
    pub pipeline_url: Option<String>,
    pub deployed_by: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `[[service]] paths`: in a monorepo, only the commits that touch
    /// these paths are the service's changes.
    pub paths: Option<PathFilter>,
    /// `--lead-time-source pr`: the squash commits whose pull/merge
    /// request's commits count in their place ([`super::squash::resolve`]).
    pub squashes: Squashes,
}

impl DeployRequest {
    /// Resolves `sha` and `previous_sha` to full shas in `repo`. A full
    /// previous sha this clone lacks (shallow) is kept: recorded as not
    /// found, not an error. Without a repository, both must be full shas.
    pub fn resolve_revisions(&mut self, repo: Option<&Repo>) -> Result<()> {
        let Some(repo) = repo else {
            let full = |origin: &str, rev: &str| -> Result<String> {
                if is_full_sha(rev) {
                    return Ok(rev.to_ascii_lowercase());
                }
                Err(Error::usage_hint(
                    format!(
                        "{origin} '{rev}' is not a full commit sha, and there is no git repository here to resolve it"
                    ),
                    "give the full 40-character sha (in CI: $GITHUB_SHA, $CI_COMMIT_SHA), or run the deploy step in a checkout (--repo PATH)",
                ))
            };
            self.sha = full(&self.sha_origin.to_string(), &self.sha)?;
            if let Some(rev) = &self.previous_sha {
                self.previous_sha = Some(full("--previous-sha", rev)?);
            }
            return Ok(());
        };
        self.sha = repo.resolve_commit(&self.sha_origin.to_string(), &self.sha)?;
        if let Some(rev) = &self.previous_sha {
            self.previous_sha = Some(repo.resolve_or_keep_full_sha("--previous-sha", rev)?);
        }
        Ok(())
    }
}

/// What recording a deployment did.
#[derive(Debug)]
pub struct Recorded {
    pub deployment: Deployment,
    /// Stored now (false: a dry run, or the id was already recorded).
    pub recorded: bool,
    pub warnings: Vec<String>,
    /// The store held no event of the service before: a new service, or a
    /// typo in its name (SPEC §4: say so once).
    pub first_of_service: bool,
}

/// Records the deployment `req` (revisions resolved) in one write
/// transaction, or plans it on a snapshot for a dry run. A deployment id
/// that is already recorded changes nothing and says so.
pub fn record(
    store: &mut dyn Store,
    repo: Option<&Repo>,
    req: &DeployRequest,
    dry_run: bool,
) -> Result<Recorded> {
    let mut result: Option<Recorded> = None;
    if dry_run {
        store.read(&mut |tx| {
            let p = plan(repo, tx, req)?;
            result = Some(Recorded {
                deployment: p.deployment,
                recorded: false,
                warnings: p.warnings,
                first_of_service: is_new_service(tx, &req.service)?,
            });
            Ok(())
        })?;
    } else {
        store.write(&mut |tx| {
            result = Some(record_in(tx, repo, req)?);
            Ok(())
        })?;
    }
    result.ok_or_else(|| Error::internal("the store ran no transaction for the deployment"))
}

/// Records `req` in an open write transaction (the body of [`record`];
/// `serve` commits several in one): an id already recorded, or a re-run of
/// the same CI run, changes nothing and says so.
pub fn record_in(
    tx: &mut dyn WriteTx,
    repo: Option<&Repo>,
    req: &DeployRequest,
) -> Result<Recorded> {
    read_ahead(tx, req)?;
    for p in &req.squashes.fetched {
        tx.set_pull_commits(p)?;
    }
    if let Some(existing) = tx.deployment(&req.id)? {
        return Ok(Recorded {
            deployment: existing,
            recorded: false,
            warnings: vec![format!(
                "deployment {} was already recorded; nothing changed",
                req.id
            )],
            first_of_service: false,
        });
    }
    if let Some(earlier) = rerun_of(tx, req)? {
        return Ok(Recorded {
            warnings: vec![format!(
                "{} of {} / {} was already recorded by this CI run (deployment {}); a re-run of the job is not another deployment",
                &req.sha[..req.sha.len().min(12)],
                req.service,
                req.env,
                earlier.id
            )],
            deployment: earlier,
            recorded: false,
            first_of_service: false,
        });
    }
    let p = plan(repo, tx, req)?;
    let first_of_service = is_new_service(tx, &req.service)?;
    let recorded = tx.insert_deployment(&p.deployment)?;
    Ok(Recorded {
        deployment: p.deployment,
        recorded,
        warnings: p.warnings,
        first_of_service,
    })
}

/// Announces the questions a deployment asks of any store (a network store
/// then asks them in one round trip): whether it is recorded, a re-run, the
/// first of its service; the previous deployment, whether its sha went
/// out before, and which deployment shipped it.
fn read_ahead(tx: &dyn ReadTx, req: &DeployRequest) -> Result<()> {
    let (service, env, sha) = (req.service.as_str(), req.env.as_str(), req.sha.as_str());
    let mut questions = vec![
        Ahead::Deployment(&req.id),
        Ahead::HasService(service),
        Ahead::PreviousSuccess {
            service,
            env,
            at: req.finished_at,
        },
        Ahead::LastSuccessOfSha {
            service,
            env,
            sha,
            at: req.finished_at,
        },
        Ahead::DeploymentShipping { service, env, sha },
    ];
    if req.status == DeploymentStatus::Success && req.pipeline_id.is_some() {
        questions.push(Ahead::LastSuccessOfSha {
            service,
            env,
            sha,
            at: END_OF_TIME,
        });
    }
    Ok(tx.read_ahead(&questions)?)
}

/// The successful deployment of the same sha to the same service+env that
/// this CI run (pipeline) already recorded: re-running a deploy job (a new
/// attempt, a new GitLab job id) is the same deployment, not another one.
/// An earlier attempt that failed does not count: the retry that succeeds
/// is the deployment.
fn rerun_of(tx: &dyn ReadTx, req: &DeployRequest) -> Result<Option<Deployment>> {
    let (DeploymentStatus::Success, Some(run)) = (req.status, &req.pipeline_id) else {
        return Ok(None);
    };
    let Some(last) = tx.last_success_of_sha(&req.service, &req.env, &req.sha, END_OF_TIME)? else {
        return Ok(None);
    };
    Ok(tx
        .deployment(&last.id)?
        .filter(|d| d.pipeline_id.as_ref() == Some(run)))
}

/// Whether the store holds no event of `service` at all.
fn is_new_service(tx: &dyn ReadTx, service: &str) -> Result<bool> {
    Ok(!tx.has_service(service)?)
}

/// The deployment as it is without any history (the store is unreachable):
/// lead time from `--previous-sha` only, no classification. For the sinks,
/// which still hear of it.
pub fn plan_without_history(repo: Option<&Repo>, req: &DeployRequest) -> Result<Planned> {
    // A path that does not exist opens as an empty in-memory store.
    let mut empty = SqliteStore::open(std::path::Path::new(""), Access::ReadOnly)?;
    let mut planned = None;
    empty.read(&mut |tx| {
        planned = Some(plan(repo, tx, req)?);
        Ok(())
    })?;
    planned.ok_or_else(|| Error::internal("the empty store ran no transaction"))
}

/// A planned deployment and what the user should know about it.
#[derive(Debug)]
pub struct Planned {
    pub deployment: Deployment,
    pub warnings: Vec<String>,
}

/// Computes the deployment event for `req` against the history in `tx`.
/// Without a repository (an artifact-only deploy job) the deployment has no
/// lead time; frequency and change failure rate do not need one.
pub fn plan(repo: Option<&Repo>, tx: &dyn ReadTx, req: &DeployRequest) -> Result<Planned> {
    let mut warnings = Vec::new();
    let previous = tx.previous_success(&req.service, &req.env, req.finished_at)?;
    let base = req
        .previous_sha
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.sha.clone()));

    let mut note = None;
    let mut commits: Vec<Commit> = Vec::new();
    let mut merges: Vec<Commit> = Vec::new();
    let mut partial = None;
    let mut truncated = false;
    match (&base, repo) {
        (_, None) if req.commit_time.is_some() => {
            let at = req.commit_time.map_or(0, |t| t.timestamp());
            let deployed = Commit {
                sha: req.sha.clone(),
                authored_at: at,
                committed_at: at,
                parents: 1,
                signals: Default::default(),
            };
            commits = new_to_service(tx, req, previous.as_ref(), vec![deployed])?;
            if commits.is_empty() {
                note = Some(LeadTimeNote::NoNewChanges);
            }
        }
        (None, _) => note = Some(LeadTimeNote::NoPreviousDeployment),
        (Some(b), _) if *b == req.sha => note = Some(LeadTimeNote::NoNewChanges),
        (Some(_), None) => {
            note = Some(LeadTimeNote::NoRepository);
            warnings.push("no git repository here, so the deployment is recorded without lead time (deployment frequency and change failure rate still count it); run the deploy step in a checkout, or point --repo (DORAMETER_REPO) at one".into());
        }
        (Some(b), Some(repo)) => match repo.walk(Some(b), &req.sha, req.max_commits)? {
            WalkOutcome::BaseNotFound => {
                note = Some(LeadTimeNote::PreviousShaNotFound);
                let why = if repo.is_shallow() {
                    // A shallow clone still has the newest commits: enough
                    // to see a hotfix or revert shipped now (change failure
                    // rate must not depend on the clone's depth), never a
                    // lead time.
                    if let WalkOutcome::ShallowBoundary(w) | WalkOutcome::Walked(w) =
                        repo.walk(None, &req.sha, req.max_commits)?
                    {
                        partial = Some(w);
                    }
                    "is not in this shallow clone"
                } else {
                    "is not in this clone (history rewritten, or not fetched)"
                };
                warnings.push(format!(
                    "previous deployed commit {b} {why}, so no lead time was recorded; fetch full history (actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`)"
                ));
            }
            WalkOutcome::ShallowBoundary(w) => {
                partial = Some(w);
                note = Some(LeadTimeNote::ShallowHistory);
                warnings.push(format!(
                    "the commits between the previous deployed commit {b} and {} reach past the history this shallow clone has, so no lead time was recorded rather than a wrong count; fetch full history (actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`, or `git fetch --unshallow`)",
                    req.sha
                ));
            }
            WalkOutcome::Unrelated => {
                note = Some(LeadTimeNote::PreviousShaNotFound);
                warnings.push(format!(
                    "previous deployed commit {b} shares no history with {}, so no lead time was recorded rather than counting the whole history",
                    req.sha
                ));
            }
            WalkOutcome::Walked(walk) => {
                truncated = walk.truncated;
                if truncated {
                    warnings.push(format!(
                        "more than {} commits since the previous deployment: lead time uses the newest {}; raise --max-commits (DORAMETER_MAX_COMMITS) to count them all",
                        req.max_commits, req.max_commits
                    ));
                }
                let walked = scoped(repo, req, walk.commits, Some(&walk.heads))?;
                commits = new_to_service(tx, req, previous.as_ref(), walked)?;
                merges = scoped(repo, req, walk.merges, Some(&walk.heads))?;
                if commits.is_empty() {
                    note = Some(LeadTimeNote::NoNewChanges);
                }
            }
        },
    }

    // Commits seen in an incomplete range: they classify, they are not changes.
    let mut seen: Vec<Commit> = Vec::new();
    if let Some(w) = partial {
        // Without the previous commit to stop at, only the deployed commit
        // and commits made after the previous deployment finished are surely
        // new (a deployed commit shipped before is rule 1's, not this).
        let after = |c: &Commit| {
            c.sha == req.sha
                || previous
                    .as_ref()
                    .is_none_or(|p| c.committed_at > p.finished_at.timestamp())
        };
        let recent: Vec<Commit> = w.commits.into_iter().filter(|c| after(c)).collect();
        let recent = match repo {
            Some(r) => scoped(r, req, recent, Some(&w.heads))?,
            None => recent,
        };
        seen = new_to_service(tx, req, previous.as_ref(), recent)?;
        let recent: Vec<Commit> = w.merges.into_iter().filter(|c| after(c)).collect();
        merges = match repo {
            Some(r) => scoped(r, req, recent, Some(&w.heads))?,
            None => recent,
        };
    }
    // A squash commit's request's commits count in its place; those an
    // earlier deployment shipped (a redeploy after a rollback) do not.
    let mut expanded;
    let counted = if req.squashes.originals.is_empty() {
        &commits
    } else {
        expanded = new_to_service(tx, req, previous.as_ref(), expand(&commits, &req.squashes))?;
        if expanded.is_empty() && note.is_none() {
            note = Some(LeadTimeNote::NoNewChanges);
        }
        // --max-commits bounds the changes, originals included.
        if expanded.len() > req.max_commits {
            expanded.truncate(req.max_commits);
            if !truncated {
                truncated = true;
                warnings.push(format!(
                    "more than {} changes once squash merges are counted as their pull requests' commits: lead time uses the first {}; raise --max-commits (DORAMETER_MAX_COMMITS) to count them all",
                    req.max_commits, req.max_commits
                ));
            }
        }
        &expanded
    };
    let changes = lead_time_changes(counted, req.finished_at, req.lead_time_from);
    if changes.clamped > 0 {
        warnings.push(format!(
            "{} dated after the deployment finished (clock skew); their lead time counts as 0",
            crate::render::count(changes.clamped, "commit")
        ));
    }

    let (kind, remediates) = if req.status == DeploymentStatus::Success {
        let shipped = Shipped {
            commits: if seen.is_empty() { &commits } else { &seen },
            merges: &merges,
        };
        classify(repo, tx, req, previous.as_ref(), shipped, &mut warnings)?
    } else {
        (DeploymentKind::Planned, Vec::new())
    };

    Ok(Planned {
        deployment: Deployment {
            id: req.id.clone(),
            service: req.service.clone(),
            env: req.env.clone(),
            repository_url: req
                .repository_url
                .as_deref()
                .and_then(crate::ci::repository_url),
            sha: req.sha.clone(),
            previous_sha: base,
            started_at: req.started_at,
            finished_at: req.finished_at,
            status: req.status,
            kind,
            version: req.version.clone(),
            ref_name: req.ref_name.clone(),
            team: req.team.clone(),
            pipeline_id: req.pipeline_id.clone(),
            pipeline_url: req.pipeline_url.clone(),
            deployed_by: req.deployed_by.clone(),
            tags: req.tags.clone(),
            lead_time_from: req.lead_time_from,
            lead_time_note: note,
            clamped_changes: changes.clamped,
            truncated,
            changes: changes.changes,
            remediates,
        },
        warnings,
    })
}

/// The commits that are the service's: those touching its paths in a
/// monorepo (`[[service]] paths`), every one without.
fn scoped(
    repo: &Repo,
    req: &DeployRequest,
    commits: Vec<Commit>,
    heads: Option<&crate::git::Heads>,
) -> Result<Vec<Commit>> {
    match &req.paths {
        Some(f) => Ok(repo.touching(commits, f, heads)?),
        None => Ok(commits),
    }
}

/// The walked commits that no earlier successful deployment of the
/// service+env shipped (SPEC §3: each commit counts once, at the first
/// deployment that shipped it). A redeploy after a rollback walks from the
/// rollback's older sha and meets commits the rolled-back deployment shipped.
fn new_to_service(
    tx: &dyn ReadTx,
    req: &DeployRequest,
    previous: Option<&DeploymentRef>,
    walked: Vec<Commit>,
) -> Result<Vec<Commit>> {
    // Nothing recorded before: nothing can have shipped them.
    if previous.is_none() {
        return Ok(walked);
    }
    let mut out = Vec::with_capacity(walked.len());
    for c in walked {
        let earlier = tx
            .deployment_shipping(&req.service, &req.env, &c.sha)?
            .is_some_and(|d| d.finished_at <= req.finished_at);
        if !earlier {
            out.push(c);
        }
    }
    Ok(out)
}

/// The commits a deployment ships, for classification.
struct Shipped<'a> {
    /// New to the service+env, merges excluded.
    commits: &'a [Commit],
    /// Merge commits of the range: their subjects count, their reverts do not.
    merges: &'a [Commit],
}

/// SPEC §3 change failure rules 1 and 2.
fn classify(
    repo: Option<&Repo>,
    tx: &dyn ReadTx,
    req: &DeployRequest,
    previous: Option<&DeploymentRef>,
    shipped: Shipped<'_>,
    warnings: &mut Vec<String>,
) -> Result<(DeploymentKind, Vec<Remediation>)> {
    let mut out: Vec<Remediation> = Vec::new();
    let add = |out: &mut Vec<Remediation>, id: &str, reason, commit: Option<&str>| {
        if id != req.id && !out.iter().any(|r| r.deployment_id == id) {
            out.push(Remediation {
                deployment_id: id.to_string(),
                reason,
                commit: commit.map(str::to_string),
            });
        }
    };

    // Rule 1: going back to a sha deployed before marks everything since its
    // last deployment failed. Redeploying the current sha is a re-run, and
    // deploying a descendant of the current sha moves forward.
    let went_back = match previous {
        Some(p) if p.sha != req.sha => {
            match tx.last_success_of_sha(&req.service, &req.env, &req.sha, req.finished_at)? {
                Some(last) if !moves_forward(repo, tx, req, p)? => Some(last),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(last) = &went_back {
        for d in tx.successes_after(&req.service, &req.env, last, req.finished_at)? {
            add(&mut out, &d.id, RemediationReason::Rollback, None);
        }
    }
    if went_back.is_some() || req.rollback {
        if let Some(p) = previous {
            add(&mut out, &p.id, RemediationReason::Rollback, None);
        }
        if previous.is_none() {
            warnings
                .push("--rollback given but there is no earlier deployment to mark failed".into());
        }
        return Ok((DeploymentKind::Rollback, out));
    }

    // Rule 2: rollforward.
    if req.hotfix {
        match previous {
            Some(p) => add(&mut out, &p.id, RemediationReason::Hotfix, None),
            None => warnings
                .push("--hotfix given but there is no earlier deployment to mark failed".into()),
        }
    }
    let own: HashSet<&str> = shipped.commits.iter().map(|c| c.sha.as_str()).collect();
    let mut subject_signal: Option<(RemediationReason, &str)> = None;
    let pattern = req.rollforward_subject.as_ref();
    let subject_reason = |c: &Commit| -> Option<RemediationReason> {
        let subject = &c.signals.subject;
        if !pattern.is_some_and(|p| p.is_match(subject)) {
            return None;
        }
        Some(if subject.to_ascii_lowercase().starts_with("revert") {
            RemediationReason::RevertSubject
        } else {
            RemediationReason::HotfixSubject
        })
    };
    for c in shipped.commits {
        let s = &c.signals;
        let mut matched_any = false;
        let mut all_own = !s.reverts.is_empty();
        for reverted in &s.reverts {
            if own.contains(reverted.as_str()) {
                // Reverted before it ever shipped: nothing in production broke.
                matched_any = true;
                continue;
            }
            all_own = false;
            if let Some(d) =
                shipped_by(repo, tx, &req.service, &req.env, reverted, req.finished_at)?
            {
                add(&mut out, &d.id, RemediationReason::Revert, Some(&c.sha));
                matched_any = true;
            }
        }
        if matched_any || all_own {
            continue;
        }
        if subject_signal.is_none() {
            subject_signal = subject_reason(c).map(|r| (r, c.sha.as_str()));
        }
    }
    if subject_signal.is_none() {
        subject_signal = shipped
            .merges
            .iter()
            .find_map(|c| subject_reason(c).map(|r| (r, c.sha.as_str())));
    }
    if let (Some((reason, sha)), Some(p)) = (subject_signal, previous) {
        add(&mut out, &p.id, reason, Some(sha));
    }
    let kind = if req.hotfix || !out.is_empty() {
        DeploymentKind::Rollforward
    } else {
        DeploymentKind::Planned
    };
    Ok((kind, out))
}

/// Whether deploying `req.sha` after `previous` moves history forward
/// (SPEC §3 rule 1): the previous sha is an ancestor of the new one. Without
/// both commits in a clone, the store tells: the previous sha shipped before
/// the new one first did.
fn moves_forward(
    repo: Option<&Repo>,
    tx: &dyn ReadTx,
    req: &DeployRequest,
    previous: &DeploymentRef,
) -> Result<bool> {
    if let Some(repo) = repo.filter(|r| r.has_commit(&previous.sha) && r.has_commit(&req.sha)) {
        return Ok(repo.is_ancestor(&previous.sha, &req.sha));
    }
    let first = |sha: &str| tx.deployment_shipping(&req.service, &req.env, sha);
    Ok(match (first(&previous.sha)?, first(&req.sha)?) {
        (Some(p), Some(s)) => (p.finished_at, p.seq) < (s.finished_at, s.seq),
        _ => false,
    })
}

/// The earliest earlier successful deployment that shipped `sha`: from the
/// recorded changes, else (a first deployment records no changes) the first
/// deployment whose commit contains it.
pub fn shipped_by(
    repo: Option<&Repo>,
    tx: &dyn ReadTx,
    service: &str,
    env: &str,
    sha: &str,
    before: DateTime<Utc>,
) -> Result<Option<DeploymentRef>> {
    if let Some(d) = tx.deployment_shipping(service, env, sha)? {
        if d.finished_at <= before {
            return Ok(Some(d));
        }
    }
    let Some(repo) = repo.filter(|r| r.has_commit(sha)) else {
        return Ok(None);
    };
    let earlier = tx.successes_before(service, env, before, REVERT_SEARCH_LIMIT)?;
    Ok(earlier.into_iter().find(|d| repo.is_ancestor(sha, &d.sha)))
}
