//! Past releases as deployments: every tag matching a pattern, oldest
//! first, recorded with lead times as if it had been deployed when it was
//! tagged, so a repository has history on day one. Idempotent: a tag already
//! recorded (by id, or its sha as a successful deployment) is skipped.

use chrono::{DateTime, Utc};

use super::deploy::{DeployRequest, plan};
use crate::event::{self, Deployment, DeploymentStatus, LeadTimeFrom, LeadTimeNote};
use crate::git::{Repo, Tag};
use crate::settings::Origin;
use crate::store::{ReadTx, Store, WriteTx};
use crate::time::{END_OF_TIME, FUTURE_TOLERANCE, format_time, from_millis};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct BackfillRequest {
    /// A glob over tag names: `v*`.
    pub pattern: String,
    /// Tags left out (`--exclude '*-rc*'`).
    pub exclude: Vec<glob::Pattern>,
    pub service: String,
    pub env: String,
    pub lead_time_from: LeadTimeFrom,
    pub max_commits: usize,
    pub rollforward_subject: Option<crate::git::SubjectPattern>,
    pub team: Option<String>,
    /// `[[service]] paths` (a monorepo).
    pub paths: Option<crate::git::PathFilter>,
    pub now: DateTime<Utc>,
    /// Plan everything (each tag sees the ones before it), store nothing.
    pub dry_run: bool,
}

/// One past deployment to record: a tag, or a deployment or release a
/// forge recorded.
#[derive(Clone, Debug)]
pub struct Past {
    /// The tag's or release's name, the forge deployment's id.
    pub name: String,
    pub sha: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: DeploymentStatus,
    /// The env; `None`: the request's.
    pub env: Option<String>,
    pub version: Option<String>,
    /// `tag`, `github-deployment`, `github-release`, `gitlab-deployment`:
    /// part of the id, and the deployment's `source` tag.
    pub source: &'static str,
}

impl Past {
    pub fn of_tag(t: &Tag) -> Past {
        let at = from_millis(t.time * 1000);
        Past {
            name: t.name.clone(),
            sha: t.sha.clone(),
            started_at: at,
            finished_at: at,
            status: DeploymentStatus::Success,
            env: None,
            version: Some(t.name.clone()),
            source: "tag",
        }
    }

    /// Its id: a tag's as before forges were read (ids never change).
    fn id(&self, service: &str, env: &str) -> String {
        match self.source {
            "tag" => event::derived_id(&[
                "backfill",
                service,
                env,
                &self.name,
                self.sha.get(..12).unwrap_or(&self.sha),
            ]),
            source => event::derived_id(&["backfill", service, env, source, &self.name]),
        }
    }
}

/// The tags to record, oldest first, and why any were left out.
#[derive(Debug)]
pub struct Tags {
    pub tags: Vec<Tag>,
    /// Left out by `--exclude`.
    pub excluded: usize,
    pub warnings: Vec<String>,
}

/// The matching tags, oldest first; tags dated in the future are left out
/// with a warning. No match is [`Error::NoInput`].
pub fn tags(repo: &Repo, req: &BackfillRequest) -> Result<Tags> {
    let mut tags = repo.tags(&req.pattern)?;
    if tags.is_empty() {
        return Err(Error::NoInput {
            message: format!("no tag matches --from-tags '{}'", req.pattern),
            hint: Some("list tags with `git tag -l`, quote the pattern ('v*'), and fetch tags in CI (actions/checkout `fetch-tags: true` or `fetch-depth: 0`)".into()),
        });
    }
    let mut warnings = Vec::new();
    let before = tags.len();
    tags.retain(|t| !req.exclude.iter().any(|p| p.matches(&t.name)));
    let excluded = before - tags.len();
    let latest_ok = req.now + FUTURE_TOLERANCE;
    tags.retain(|t| {
        let ok = from_millis(t.time * 1000) <= latest_ok;
        if !ok {
            warnings.push(format!(
                "tag {} is dated in the future ({}); skipped",
                t.name,
                format_time(from_millis(t.time * 1000))
            ));
        }
        ok
    });
    tags.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    Ok(Tags {
        tags,
        excluded,
        warnings,
    })
}

/// What backfilling did.
#[derive(Debug, Default)]
pub struct Backfilled {
    /// Each deployment planned, and whether it was stored.
    pub deployments: Vec<(Deployment, bool)>,
    /// Tags already recorded (by id, or their sha as a successful deployment).
    pub skipped: usize,
    /// Tags left out by `--exclude`.
    pub excluded: usize,
    /// What the user should know, one line per kind of problem.
    pub warnings: Vec<String>,
}

/// Finds a deployment's squash merges and their original commits
/// (`--lead-time-source pr`) against the history before it, and says what
/// the user should know.
pub type Squash<'a> = &'a mut dyn FnMut(&dyn ReadTx, &mut DeployRequest) -> Result<Vec<String>>;

/// Records `tags` in one write transaction (or simulates it for a dry run),
/// calling `progress` once per tag.
pub fn record(
    store: &mut dyn Store,
    repo: &Repo,
    req: &BackfillRequest,
    pasts: &[Past],
    excluded: usize,
    progress: &dyn Fn(),
    mut squash: Option<Squash<'_>>,
) -> Result<Backfilled> {
    let mut out = Backfilled::default();
    let mut body = |tx: &mut dyn WriteTx| -> Result<()> {
        out = Backfilled::default();
        let mut shallow: Vec<&str> = Vec::new();
        for tag in pasts {
            progress();
            let env = tag.env.as_deref().unwrap_or(&req.env);
            let id = tag.id(&req.service, env);
            // Idempotent with `deploy` and every other backfill: the same
            // sha is one deployment, whenever and however it was recorded.
            if tx.deployment(&id)?.is_some()
                || (tag.status == DeploymentStatus::Success
                    && tx
                        .last_success_of_sha(&req.service, env, &tag.sha, END_OF_TIME)?
                        .is_some())
            {
                out.skipped += 1;
                continue;
            }
            let mut one = request_for(repo, req, tag, id);
            if let Some(find) = squash.as_deref_mut() {
                let warnings = find(tx, &mut one)?;
                out.warnings.extend(
                    warnings
                        .iter()
                        .map(|w| format!("{} {}: {w}", tag.source, tag.name)),
                );
                for p in &one.squashes.fetched {
                    tx.set_pull_commits(p)?;
                }
            }
            let planned = plan(Some(repo), tx, &one)?;
            if planned.deployment.lead_time_note == Some(LeadTimeNote::ShallowHistory) {
                shallow.push(&tag.name);
            } else {
                out.warnings.extend(
                    planned
                        .warnings
                        .iter()
                        .map(|w| format!("tag {}: {w}", tag.name)),
                );
            }
            let inserted = tx.insert_deployment(&planned.deployment)?;
            out.deployments.push((planned.deployment, inserted));
        }
        if !shallow.is_empty() {
            out.warnings.push(format!(
                "{} ({}) reach past the history this shallow clone has, so they were recorded without lead time rather than with a wrong count; fetch full history (`git fetch --unshallow --tags`, actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`) before backfilling",
                crate::render::count(shallow.len() as u64, "tag"),
                crate::render::list_cut(&shallow, 5),
            ));
        }
        Ok(())
    };
    if req.dry_run {
        store.simulate(&mut body)?;
    } else {
        store.write(&mut body)?;
    }
    out.excluded = excluded;
    Ok(out)
}

fn request_for(repo: &Repo, req: &BackfillRequest, tag: &Past, id: String) -> DeployRequest {
    DeployRequest {
        id,
        service: req.service.clone(),
        env: tag.env.clone().unwrap_or_else(|| req.env.clone()),
        sha: tag.sha.clone(),
        sha_origin: Origin::Derived("the tag"),
        previous_sha: None,
        commit_time: None,
        started_at: tag.started_at,
        finished_at: tag.finished_at,
        status: tag.status,
        rollback: false,
        hotfix: false,
        lead_time_from: req.lead_time_from,
        max_commits: req.max_commits,
        rollforward_subject: req.rollforward_subject.clone(),
        repository_url: repo.origin_url(),
        version: tag.version.clone(),
        // A tag read from history: no pipeline built it, no branch is known.
        ref_name: None,
        team: req.team.clone(),
        pipeline_id: None,
        pipeline_url: None,
        deployed_by: None,
        tags: [(
            "source".to_string(),
            match tag.source {
                "tag" => "backfill".to_string(),
                s => format!("backfill:{s}"),
            },
        )]
        .into(),
        paths: req.paths.clone(),
        squashes: Default::default(),
    }
}
