//! `dorameter backfill --from-tags PATTERN`: past releases as deployments.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use super::context::Context;
use super::deploy::{
    check_event_format, lead_time_from, max_commits, resolve_env, resolve_service,
};
use crate::deploy::{DeployRequest, plan};
use crate::env_vars as ev;
use crate::event::{self, Deployment, DeploymentStatus};
use crate::git::Repo;
use crate::render::{self, DeploymentView, Format};
use crate::store::Access;
use crate::time::{FUTURE_TOLERANCE, format_time, from_millis, humanize_seconds};
use crate::{Error, Result, exit};

/// Draw a progress bar (on a terminal) from this many tags up.
const PROGRESS_FROM: usize = 20;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Tags to record as deployments, a glob: 'v*', 'release-*'
    #[arg(long, env = ev::FROM_TAGS, value_name = "PATTERN")]
    pub from_tags: String,
    /// Service [default: the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment [default: production]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// The git repository (work tree or bare)
    #[arg(long, env = ev::REPO, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// author (default) or committer
    #[arg(long, env = ev::LEAD_TIME_FROM, value_name = "WHICH")]
    pub lead_time_from: Option<String>,
    /// Most commits one deployment may count [default: 5000]
    #[arg(long, env = ev::MAX_COMMITS, value_name = "N")]
    pub max_commits: Option<usize>,
    /// Compute and print, store nothing
    #[arg(long, env = ev::DRY_RUN, value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,
}

#[derive(Serialize)]
struct BackfillView<'a> {
    tags: usize,
    recorded: usize,
    skipped: usize,
    deployments: Vec<DeploymentView<'a>>,
    warnings: &'a [String],
}

pub fn run(args: BackfillArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let session = ctx.session(global, Some(&args.repo))?;
    check_event_format(session.format)?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo))?;
    let service = resolve_service(args.service.clone(), &session, &repo)?;
    let env = resolve_env(args.env.clone(), &session)?;
    let from = lead_time_from(args.lead_time_from.as_deref(), &session)?;
    let cap = max_commits(args.max_commits, &session)?;

    let mut tags = repo.tags(&args.from_tags)?;
    if tags.is_empty() {
        return Err(Error::NoInput {
            message: format!("no tag matches --from-tags '{}'", args.from_tags),
            hint: Some("list tags with `git tag -l`, quote the pattern ('v*'), and fetch tags in CI (actions/checkout `fetch-tags: true` or `fetch-depth: 0`)".into()),
        });
    }
    let mut warnings = Vec::new();
    let latest_ok = session.now + FUTURE_TOLERANCE;
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
    let total = tags.len();

    let bar = if ctx.stderr_is_terminal && !session.quiet && total >= PROGRESS_FROM {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{pos}/{len} tags {wide_bar} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );

    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let mut store = ctx.open_store(global, &session, Some(&repo), access)?;
    let mut recorded: Vec<(Deployment, bool)> = Vec::new();
    let mut skipped = 0usize;
    let mut body = |tx: &mut dyn crate::store::WriteTx| -> Result<()> {
        recorded.clear();
        skipped = 0;
        for tag in &tags {
            bar.inc(1);
            let finished_at = from_millis(tag.time * 1000);
            let id = event::derived_id(&[
                "backfill",
                &service,
                &env,
                &tag.name,
                tag.sha.get(..12).unwrap_or(&tag.sha),
            ]);
            if tx.deployment(&id)?.is_some()
                || tx
                    .last_success_of_sha(&service, &env, &tag.sha, finished_at)?
                    .is_some()
            {
                skipped += 1;
                continue;
            }
            let req = DeployRequest {
                id,
                service: service.clone(),
                env: env.clone(),
                sha: tag.sha.clone(),
                previous_sha: None,
                started_at: finished_at,
                finished_at,
                status: DeploymentStatus::Success,
                rollback: false,
                hotfix: false,
                lead_time_from: from,
                max_commits: cap,
                repository_url: repo.origin_url().map(|u| crate::ci::strip_credentials(&u)),
                version: Some(tag.name.clone()),
                team: session.config.team.clone(),
                pipeline_id: None,
                pipeline_url: None,
                deployed_by: None,
                tags: [("source".to_string(), "backfill".to_string())].into(),
            };
            let planned = plan(&repo, tx, &req)?;
            let inserted = tx.insert_deployment(&planned.deployment)?;
            recorded.push((planned.deployment, inserted));
        }
        Ok(())
    };
    if args.dry_run {
        store.simulate(&mut body)?;
    } else {
        store.write(&mut body)?;
    }
    bar.finish_and_clear();
    for w in &warnings {
        ctx.warn(&session, w)?;
    }

    let text = match session.format {
        Format::Json => render::json(&BackfillView {
            tags: total,
            recorded: recorded.iter().filter(|(_, r)| *r).count(),
            skipped,
            deployments: recorded
                .iter()
                .map(|(d, r)| DeploymentView::new(d, *r, &[]))
                .collect(),
            warnings: &warnings,
        }),
        _ => {
            let mut rows = vec![vec![
                "tag".into(),
                "sha".into(),
                "finished".into(),
                "kind".into(),
                "changes".into(),
                "lead time p50".into(),
            ]];
            for (d, _) in &recorded {
                let view = DeploymentView::new(d, true, &[]);
                rows.push(vec![
                    crate::render::escape::terminal(d.version.as_deref().unwrap_or("")),
                    d.sha.get(..12).unwrap_or(&d.sha).to_string(),
                    view.finished_at.clone(),
                    d.kind.to_string(),
                    d.changes.len().to_string(),
                    view.lead_time.as_ref().map_or_else(
                        || d.lead_time_note.map_or("-".into(), |n| n.to_string()),
                        |l| humanize_seconds(l.p50_seconds),
                    ),
                ]);
            }
            let verb = if args.dry_run {
                "would record"
            } else {
                "recorded"
            };
            let mut out = if recorded.is_empty() {
                String::new()
            } else {
                render::columns_pub(&rows)
            };
            out.push_str(&format!(
                "{verb} {} of {total} tags as deployments of {} / {}; {skipped} already recorded\n",
                recorded.len(),
                crate::render::escape::terminal(&service),
                crate::render::escape::terminal(&env)
            ));
            out
        }
    };
    ctx.out(&text)?;
    drop(store);
    // Backfilled history goes to the sinks like any recorded deployment.
    let events: Vec<crate::sink::SinkEvent> = if args.dry_run {
        Vec::new()
    } else {
        recorded
            .into_iter()
            .filter(|(_, inserted)| *inserted)
            .map(|(d, _)| crate::sink::SinkEvent::Deployment(d))
            .collect()
    };
    super::flush::emit(ctx, global, &session, Some(&repo), events, exit::OK)
}
