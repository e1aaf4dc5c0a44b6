//! `dorameter backfill --from-tags PATTERN | --from-github-deployments |
//! --from-gitlab-deployments | --from-github-releases`: past releases and
//! deployments as deployments.

use std::path::PathBuf;

use clap::{ArgGroup, Args};
use serde::Serialize;

use super::GlobalArgs;
use super::context::{Context, check_event_format};
use super::forge_args::{Api, Failed, ForgeArgs, Target, token};
use super::pr_source::{Given, PrSource, PrSourceArgs};
use crate::app::backfill::{self, BackfillRequest, Backfilled, Past};
use crate::app::deploy::DeployRequest;
use crate::env_vars as ev;
use crate::event::DeploymentStatus;
use crate::git::Repo;
use crate::render::{self, DeploymentView, Format};
use crate::settings::Settings;
use crate::sink::SinkEvent;
use crate::sources::{Deployed, DeployedList, github, gitlab};
use crate::store::{Access, ReadTx};
use crate::time::humanize_seconds;
use crate::{Error, Result, exit};

/// Draw a progress bar (on a terminal) from this many tags up.
const PROGRESS_FROM: usize = 20;

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("source")
        .required(true)
        .args(["from_tags", "from_github_deployments", "from_gitlab_deployments", "from_github_releases"])
))]
pub struct BackfillArgs {
    /// Tags to record as deployments, a glob: 'v*', 'release-*'
    #[arg(long, env = ev::FROM_TAGS, value_name = "PATTERN")]
    pub from_tags: Option<String>,
    /// The repository's GitHub deployments (their statuses say success or failure)
    #[arg(long)]
    pub from_github_deployments: bool,
    /// The project's GitLab deployments (success and failed)
    #[arg(long)]
    pub from_gitlab_deployments: bool,
    /// The repository's published GitHub releases (not drafts or prereleases), at their publication
    #[arg(long)]
    pub from_github_releases: bool,
    /// Deployments: the forge environment to read, and the env to record it as: production, or prod=production (repeatable; env: comma separated) [default: every environment, as named]
    #[arg(long = "environment", env = ev::BACKFILL_ENVIRONMENTS, value_name = "FORGE_ENV[=ENV]", value_delimiter = ',')]
    pub environments: Vec<String>,
    #[command(flatten)]
    pub forge: ForgeArgs,
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
    #[command(flatten)]
    pub pr_source: PrSourceArgs,
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
    // A forge's records are its repository's: named by it (as `incident
    // import` names them) unless a service is given or the CI names one.
    let forge_repository = (args.from_tags.is_none())
        .then(|| {
            args.forge
                .repository
                .clone()
                .or_else(|| s.ci.as_ref().and_then(|c| c.repository.clone()))
        })
        .flatten()
        .and_then(|r| {
            r.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_string)
        })
        .filter(|r| !r.is_empty());
    let given = match s.service_filter(args.service.clone())? {
        Some(v) => Some(v),
        None => {
            s.ci.as_ref()
                .and_then(|c| c.default_service.clone())
                .or(forge_repository)
                .map(|v| {
                    crate::settings::Setting::new(
                        v,
                        crate::settings::Origin::Derived("the forge repository's name"),
                    )
                })
        }
    };
    let service = match given {
        Some(v) => Some(v),
        None => s.service(args.service.clone(), repo)?,
    };
    let Some(service) = service else {
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
        pattern: args.from_tags.clone().unwrap_or_default(),
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

/// What a backfill reads: tags, or a forge's deployments or releases.
struct Read {
    pasts: Vec<Past>,
    /// Items: tags matched, deployments or releases listed.
    total: usize,
    excluded: usize,
    warnings: Vec<String>,
    /// `tag`, `deployment`, `release`.
    noun: &'static str,
}

pub fn run(args: BackfillArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, Some(&args.repo))?;
    check_event_format(&mut settings)?;
    let repo = Repo::discover(&ctx.cwd.join(&args.repo))?;
    let req = request(&args, &settings, Some(&repo))?;
    let given = Given {
        api: if args.from_gitlab_deployments {
            Some(Api::Gitlab)
        } else if args.from_github_deployments || args.from_github_releases {
            Some(Api::Github)
        } else {
            None
        },
        forge: &args.forge,
    };
    let (mut pr_source, notes) =
        PrSource::new(&args.pr_source, ctx, &settings, Some(&repo), Some(given))?;
    let read = if args.from_tags.is_some() {
        let tags = backfill::tags(&repo, &req)?;
        Read {
            pasts: tags.tags.iter().map(Past::of_tag).collect(),
            total: tags.tags.len(),
            excluded: tags.excluded,
            warnings: tags.warnings,
            noun: "tag",
        }
    } else {
        from_forge(&args, &settings, ctx, &repo, &req)?
    };
    let total = read.total;
    let bar = if ctx.stderr_is_terminal && !settings.quiet && total >= PROGRESS_FROM {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{pos}}/{{len}} {}s {{wide_bar}} {{eta}}",
            read.noun
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        ctx.check_sinks(&settings)?;
        Access::ReadWrite
    };
    let mut store = ctx.open_store(&settings, Some(&repo), access)?;
    let mut squash = |tx: &dyn ReadTx, one: &mut DeployRequest| -> Result<Vec<String>> {
        match pr_source.as_mut() {
            Some(src) => Ok(src.apply_in(tx, &repo, one)?.0),
            None => Ok(Vec::new()),
        }
    };
    let done = backfill::record(
        store.as_mut(),
        &repo,
        &req,
        &read.pasts,
        read.excluded,
        &|| bar.inc(1),
        Some(&mut squash),
    )?;
    let code = match args.dry_run {
        true => exit::OK,
        false => ctx.settle_store(&settings, store.as_ref(), exit::OK)?,
    };
    drop(store);
    bar.finish_and_clear();
    let mut warnings = notes;
    warnings.extend(read.warnings);
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
        _ => table(&req, &done, total, read.noun),
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

fn table(req: &BackfillRequest, done: &Backfilled, total: usize, noun: &str) -> String {
    let mut rows = vec![vec![
        if noun == "tag" { "tag" } else { "version" }.into(),
        "env".into(),
        "status".into(),
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
            render::escape::terminal(&d.env),
            d.status.to_string(),
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
        "{verb} {} of {} as deployments of {}{}; {} already recorded{}\n",
        done.deployments.len(),
        render::count(total as u64, noun),
        render::escape::terminal(&req.service),
        if noun == "deployment" {
            String::new()
        } else {
            format!(" / {}", render::escape::terminal(&req.env))
        },
        done.skipped,
        match done.excluded {
            0 => String::new(),
            n => format!("; {} excluded", render::count(n as u64, noun)),
        },
    ));
    out
}

/// The deployments or releases a forge recorded, as past deployments:
/// each deployment's forge environment mapped by `--environment` (or kept
/// as named), each release's tag resolved in the repository.
fn from_forge(
    args: &BackfillArgs,
    s: &Settings,
    ctx: &Context<'_>,
    repo: &Repo,
    req: &BackfillRequest,
) -> Result<Read> {
    let (api, noun, source) = if args.from_gitlab_deployments {
        (Api::Gitlab, "deployment", "gitlab-deployment")
    } else if args.from_github_deployments {
        (Api::Github, "deployment", "github-deployment")
    } else {
        (Api::Github, "release", "github-release")
    };
    if noun == "release" && !args.environments.is_empty() {
        return Err(Error::usage_hint(
            "--environment is for --from-github-deployments and --from-gitlab-deployments",
            "releases are recorded in --env (DORAMETER_ENV)",
        ));
    }
    let mut map: Vec<(String, String)> = Vec::new();
    for e in &args.environments {
        let (forge, env) = e.split_once('=').unwrap_or((e, e));
        let (forge, env) = (forge.trim(), env.trim());
        if forge.is_empty() || env.is_empty() {
            return Err(Error::usage_hint(
                format!("invalid {} '{e}'", s.origin("environments")),
                "give --environment a forge environment, or FORGE_ENV=ENV: production, prod=production",
            ));
        }
        if let Some((_, other)) = map.iter().find(|(f, e)| f == forge && e != env) {
            return Err(Error::usage_hint(
                format!("--environment maps {forge} to both {other} and {env}"),
                "map each forge environment once",
            ));
        }
        if !map.iter().any(|(f, _)| f == forge) {
            map.push((forge.to_string(), env.to_string()));
        }
    }
    let target = Target::new(api, &args.forge, s)?;
    let (secret, token_from) = token(ctx, api, &args.forge)?;
    let failed = Failed {
        api,
        token_from,
        check: Failed::check_flags(target.repository.as_deref()),
        reading: if noun == "release" {
            "releases"
        } else {
            "deployments"
        },
    };
    let repository = target.repository.clone().unwrap_or_default();
    let filters: Vec<Option<&str>> = if map.is_empty() {
        vec![None]
    } else {
        map.iter().map(|(f, _)| Some(f.as_str())).collect()
    };
    let mut lists: Vec<DeployedList> = Vec::new();
    match api {
        Api::Gitlab => {
            let gl = gitlab::GitLab::new(&target.api, &repository, secret, s.http.clone())
                .map_err(|e| failed.error(e))?;
            for f in &filters {
                lists.push(gl.deployments(*f).map_err(|e| failed.error(e))?);
            }
        }
        _ => {
            let gh = github::GitHub::new(&target.api, &repository, "", secret, s.http.clone())
                .map_err(|e| failed.error(e))?;
            if noun == "release" {
                lists.push(gh.releases().map_err(|e| failed.error(e))?);
            } else {
                for f in &filters {
                    lists.push(gh.deployments(*f).map_err(|e| failed.error(e))?);
                }
            }
        }
    }
    let tags: std::collections::HashMap<String, String> = if noun == "release" {
        repo.tags("*")?
            .into_iter()
            .map(|t| (t.name, t.sha))
            .collect()
    } else {
        Default::default()
    };
    let mut read = Read {
        pasts: Vec::new(),
        total: 0,
        excluded: 0,
        warnings: Vec::new(),
        noun,
    };
    let mut skipped: std::collections::BTreeMap<String, usize> = Default::default();
    for list in lists {
        read.total += list.deployments.len() + list.skipped.len();
        for why in list.skipped {
            *skipped.entry(why).or_default() += 1;
        }
        for d in list.deployments {
            if d.version
                .as_deref()
                .is_some_and(|v| req.exclude.iter().any(|p| p.matches(v)))
            {
                read.excluded += 1;
                continue;
            }
            let Some(past) = past_of(d, source, &map, &tags, &mut read.warnings) else {
                continue;
            };
            if !repo.has_commit(&past.sha) {
                read.warnings.push(format!(
                    "{noun} {}: commit {} is not in this clone; fetch it (full history: actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`)",
                    past.name, past.sha
                ));
                continue;
            }
            read.pasts.push(past);
        }
    }
    for (why, n) in skipped {
        read.warnings
            .push(format!("{} left out: {why}", render::count(n as u64, noun)));
    }
    // Oldest first, as tags: each one's lead time is from the one before.
    read.pasts.sort_by(|a, b| {
        a.finished_at
            .cmp(&b.finished_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(read)
}

/// One forge record as a past deployment; `None` (with a warning) for a
/// release whose tag this clone does not have, or a deployment of an
/// environment `--environment` does not name.
fn past_of(
    d: Deployed,
    source: &'static str,
    map: &[(String, String)],
    tags: &std::collections::HashMap<String, String>,
    warnings: &mut Vec<String>,
) -> Option<Past> {
    let sha = match d.sha {
        Some(sha) => sha,
        None => {
            let tag = d.version.clone().unwrap_or_default();
            match tags.get(&tag) {
                Some(sha) => sha.clone(),
                None => {
                    warnings.push(format!(
                        "release {tag}: its tag is not in this clone; fetch tags (`git fetch --tags`, actions/checkout `fetch-tags: true`)"
                    ));
                    return None;
                }
            }
        }
    };
    let env = match (&d.environment, map.is_empty()) {
        (None, _) => None,
        (Some(e), true) => Some(e.clone()),
        (Some(e), false) => Some(map.iter().find(|(f, _)| f == e)?.1.clone()),
    };
    Some(Past {
        name: d.name,
        sha,
        started_at: d.started_at,
        finished_at: d.finished_at,
        status: if d.success {
            DeploymentStatus::Success
        } else {
            DeploymentStatus::Failure
        },
        env,
        version: d.version,
        source,
    })
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
