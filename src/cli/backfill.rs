//! `dorameter backfill --from-tags PATTERN`: past releases as deployments.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use super::context::{Context, check_event_format};
use crate::app::backfill::{self, BackfillRequest, Backfilled};
use crate::env_vars as ev;
use crate::git::Repo;
use crate::render::{self, DeploymentView, Format};
use crate::settings::Settings;
use crate::sink::SinkEvent;
use crate::store::Access;
use crate::time::humanize_seconds;
use crate::{Error, Result, exit};

/// Draw a progress bar (on a terminal) from this many tags up.
const PROGRESS_FROM: usize = 20;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Tags to record as deployments, a glob: 'v*', 'release-*'
    #[arg(long, env = ev::FROM_TAGS, value_name = "PATTERN")]
    pub from_tags: String,
    /// Tags to leave out, a glob (repeatable; env: comma separated): '*-rc*'
    #[arg(long, env = ev::EXCLUDE, value_name = "PATTERN", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Service [default: .dorameter.toml, the CI project, else the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment [default: .dorameter.toml, the CI environment, else production]
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
    pub max_commits: Option<String>,
    /// Compute and print, store nothing
    #[arg(long, env = ev::DRY_RUN, value_parser = crate::cli::on_off)]
    pub dry_run: bool,
}

#[derive(Serialize)]
struct BackfillView<'a> {
    tags: usize,
    recorded: usize,
    skipped: usize,
    /// Left out by `--exclude`.
    excluded: usize,
    deployments: Vec<DeploymentView<'a>>,
    warnings: &'a [String],
}

/// The request from the flags and settings.
pub fn request(args: &BackfillArgs, s: &Settings, repo: Option<&Repo>) -> Result<BackfillRequest> {
    let Some(service) = s.service(args.service.clone(), repo)? else {
        return Err(Error::usage_hint(
            "no service name",
            "pass --service (DORAMETER_SERVICE)",
        ));
    };
    let mut exclude = Vec::with_capacity(args.exclude.len());
    for e in &args.exclude {
        exclude.push(glob::Pattern::new(e).map_err(|err| {
            Error::usage_hint(
                format!("invalid {} '{e}': {err}", s.origin("exclude")),
                "give --exclude a glob over tag names, e.g. --exclude '*-rc*'",
            )
        })?);
    }
    Ok(BackfillRequest {
        paths: s.service_paths(&service.value)?,
        pattern: args.from_tags.clone(),
        exclude,
        service: service.value,
        env: s.env(args.env.clone())?.value,
        lead_time_from: s.lead_time_from(args.lead_time_from.clone())?.value,
        max_commits: s.max_commits(args.max_commits.clone())?.value,
        rollforward_subject: s.rollforward_subject(),
        team: s.team(None),
        now: s.now,
        dry_run: args.dry_run,
    })
}

pub fn run(args: BackfillArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, Some(&args.repo))?;
    check_event_format(&mut settings)?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo))?;
    let req = request(&args, &settings, Some(&repo))?;
    let tags = backfill::tags(&repo, &req)?;
    let total = tags.tags.len();
    let bar = if ctx.stderr_is_terminal && !settings.quiet && total >= PROGRESS_FROM {
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
        ctx.check_sinks(&settings)?;
        Access::ReadWrite
    };
    let mut store = ctx.open_store(&settings, Some(&repo), access)?;
    let done = backfill::record(store.as_mut(), &repo, &req, &tags, &|| bar.inc(1))?;
    let code = match args.dry_run {
        true => exit::OK,
        false => ctx.settle_store(&settings, store.as_ref(), exit::OK)?,
    };
    drop(store);
    bar.finish_and_clear();
    let mut warnings = tags.warnings;
    warnings.extend(done.warnings.iter().cloned());
    ctx.warn_all(&settings, &warnings)?;
    let text = match settings.format.value {
        Format::Json => render::json(&BackfillView {
            tags: total,
            recorded: done.deployments.iter().filter(|(_, r)| *r).count(),
            skipped: done.skipped,
            excluded: done.excluded,
            deployments: done
                .deployments
                .iter()
                .map(|(d, r)| DeploymentView::new(d, *r, &[]))
                .collect(),
            warnings: &warnings,
        }),
        _ => table(&req, &done, total),
    };
    ctx.out(&text)?;
    // Backfilled history goes to the sinks like any recorded deployment.
    let events = match args.dry_run {
        true => Vec::new(),
        false => done
            .deployments
            .into_iter()
            .filter(|(_, inserted)| *inserted)
            .map(|(d, _)| SinkEvent::Deployment(d))
            .collect(),
    };
    ctx.emit(&settings, Some(&repo), events, code)
}

fn table(req: &BackfillRequest, done: &Backfilled, total: usize) -> String {
    let mut rows = vec![vec![
        "tag".into(),
        "sha".into(),
        "finished".into(),
        "kind".into(),
        "changes".into(),
        "lead time p50".into(),
    ]];
    for (d, _) in &done.deployments {
        let view = DeploymentView::new(d, true, &[]);
        rows.push(vec![
            render::escape::terminal(d.version.as_deref().unwrap_or("")),
            d.sha.get(..12).unwrap_or(&d.sha).to_string(),
            render::human_time(&view.finished_at),
            d.kind.to_string(),
            d.changes.len().to_string(),
            view.lead_time.as_ref().map_or_else(
                || {
                    d.lead_time_note
                        .map_or("-".into(), |n| n.words().to_string())
                },
                |l| humanize_seconds(l.p50_seconds),
            ),
        ]);
    }
    let verb = if req.dry_run {
        "would record"
    } else {
        "recorded"
    };
    let mut out = if done.deployments.is_empty() {
        String::new()
    } else {
        render::columns_pub(&rows)
    };
    out.push_str(&format!(
        "{verb} {} of {} as deployments of {} / {}; {} already recorded{}\n",
        done.deployments.len(),
        render::count(total as u64, "tag"),
        render::escape::terminal(&req.service),
        render::escape::terminal(&req.env),
        done.skipped,
        match done.excluded {
            0 => String::new(),
            n => format!("; {} excluded", render::count(n as u64, "tag")),
        },
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::request;
    use crate::cli::Command;
    use crate::cli::tests::parse;

    #[test]
    fn from_flags_and_config() {
        let (cmd, s, _dir) = parse(
            &[
                "dorameter",
                "backfill",
                "--from-tags",
                "v*",
                "--service",
                "api",
                "--dry-run",
            ],
            &[],
            "team = \"payments\"\nlead_time_from = \"committer\"\nmax_commits = 10\n",
        );
        let Command::Backfill(a) = cmd else {
            unreachable!()
        };
        let r = request(&a, &s, None).unwrap();
        assert_eq!(
            (r.pattern.as_str(), r.service.as_str(), r.env.as_str()),
            ("v*", "api", "production")
        );
        assert_eq!(
            (r.team.as_deref(), r.max_commits, r.dry_run),
            (Some("payments"), 10, true)
        );
        assert_eq!(r.lead_time_from, crate::event::LeadTimeFrom::Committer);
    }
}
