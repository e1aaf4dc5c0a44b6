//! Past releases as deployments: every tag matching a pattern, oldest
//! first, recorded with lead times as if it had been deployed when it was
//! tagged, so a repository has history on day one. Idempotent: a tag already
//! recorded (by id, or its sha as a successful deployment) is skipped.

use chrono::{DateTime, Utc};

use super::deploy::{DeployRequest, plan};
use crate::event::{self, Deployment, DeploymentStatus, LeadTimeFrom};
use crate::git::{Repo, Tag};
use crate::settings::Origin;
use crate::store::{Store, WriteTx};
use crate::time::{FUTURE_TOLERANCE, format_time, from_millis};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct BackfillRequest {
    /// A glob over tag names: `v*`.
    pub pattern: String,
    pub service: String,
    pub env: String,
    pub lead_time_from: LeadTimeFrom,
    pub max_commits: usize,
    pub team: Option<String>,
    pub now: DateTime<Utc>,
    /// Plan everything (each tag sees the ones before it), store nothing.
    pub dry_run: bool,
}

/// The tags to record, oldest first, and why any were left out.
#[derive(Debug)]
pub struct Tags {
    pub tags: Vec<Tag>,
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
    Ok(Tags { tags, warnings })
}

/// What backfilling did.
#[derive(Debug, Default)]
pub struct Backfilled {
    /// Each deployment planned, and whether it was stored.
    pub deployments: Vec<(Deployment, bool)>,
    /// Tags already recorded.
    pub skipped: usize,
}

/// Records `tags` in one write transaction (or simulates it for a dry run),
/// calling `progress` once per tag.
pub fn record(
    store: &mut dyn Store,
    repo: &Repo,
    req: &BackfillRequest,
    tags: &[Tag],
    progress: &dyn Fn(),
) -> Result<Backfilled> {
    let mut out = Backfilled::default();
    let mut body = |tx: &mut dyn WriteTx| -> Result<()> {
        out = Backfilled::default();
        for tag in tags {
            progress();
            let finished_at = from_millis(tag.time * 1000);
            let id = event::derived_id(&[
                "backfill",
                &req.service,
                &req.env,
                &tag.name,
                tag.sha.get(..12).unwrap_or(&tag.sha),
            ]);
            if tx.deployment(&id)?.is_some()
                || tx
                    .last_success_of_sha(&req.service, &req.env, &tag.sha, finished_at)?
                    .is_some()
            {
                out.skipped += 1;
                continue;
            }
            let planned = plan(repo, tx, &request_for(repo, req, tag, id, finished_at))?;
            let inserted = tx.insert_deployment(&planned.deployment)?;
            out.deployments.push((planned.deployment, inserted));
        }
        Ok(())
    };
    if req.dry_run {
        store.simulate(&mut body)?;
    } else {
        store.write(&mut body)?;
    }
    Ok(out)
}

fn request_for(
    repo: &Repo,
    req: &BackfillRequest,
    tag: &Tag,
    id: String,
    finished_at: DateTime<Utc>,
) -> DeployRequest {
    DeployRequest {
        id,
        service: req.service.clone(),
        env: req.env.clone(),
        sha: tag.sha.clone(),
        sha_origin: Origin::Derived("the tag"),
        previous_sha: None,
        started_at: finished_at,
        finished_at,
        status: DeploymentStatus::Success,
        rollback: false,
        hotfix: false,
        lead_time_from: req.lead_time_from,
        max_commits: req.max_commits,
        repository_url: repo.origin_url(),
        version: Some(tag.name.clone()),
        // A tag read from history: no pipeline built it, no branch is known.
        ref_name: None,
        team: req.team.clone(),
        pipeline_id: None,
        pipeline_url: None,
        deployed_by: None,
        tags: [("source".to_string(), "backfill".to_string())].into(),
    }
}
