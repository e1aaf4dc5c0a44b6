//! `dorameter deploy`: record a deployment in the deploy job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use super::context::{Context, check_event_format};
use super::pr_source::{PrSource, PrSourceArgs};
use crate::app::deploy::{self, DeployRequest, Recorded, plan_without_history};
use crate::env_vars as ev;
use crate::event::{self, DeploymentStatus};
use crate::git::Repo;
use crate::render::{self, DeploymentView, Format};
use crate::settings::{Origin, Setting, Settings};
use crate::sink::SinkEvent;
use crate::store::{Access, StoreError};
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Service deployed [default: .dorameter.toml, the CI project, else the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment deployed to [default: .dorameter.toml, the CI environment, else production]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// Commit deployed: sha, tag or branch [default: the CI sha, else HEAD]
    #[arg(long, env = ev::SHA, value_name = "REV")]
    pub sha: Option<String>,
    /// The git repository (work tree or bare)
    #[arg(long, env = ev::REPO, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// When the deployment started (RFC 3339 or unix seconds) [default: --finished-at]
    #[arg(long, env = ev::STARTED_AT, value_name = "TIME")]
    pub started_at: Option<String>,
    /// When the deployment finished (RFC 3339 or unix seconds) [default: now]
    #[arg(long, env = ev::FINISHED_AT, value_name = "TIME")]
    pub finished_at: Option<String>,
    /// success, or failure for a failed deploy job (stored, never counted)
    #[arg(long, env = ev::STATUS, default_value = "success")]
    pub status: String,
    /// This deployment rolls back: the previous deployment failed
    #[arg(long, env = ev::ROLLBACK, value_parser = crate::cli::on_off, conflicts_with = "hotfix")]
    pub rollback: bool,
    /// This deployment is a hotfix: the previous deployment failed
    #[arg(long, env = ev::HOTFIX, value_parser = crate::cli::on_off)]
    pub hotfix: bool,
    /// Compute lead time from this commit instead of the previous recorded deployment
    #[arg(long, env = ev::PREVIOUS_SHA, value_name = "REV")]
    pub previous_sha: Option<String>,
    /// Event id (idempotency key) [default: derived from the CI run, else a UUID v7]
    #[arg(long, env = ev::DEPLOYMENT_ID)]
    pub id: Option<String>,
    /// Version label of what was deployed
    #[arg(long, env = ev::VERSION)]
    pub version: Option<String>,
    /// Owning team
    #[arg(long, env = ev::TEAM)]
    pub team: Option<String>,
    /// Who deployed [default: the CI actor]
    #[arg(long, env = ev::DEPLOYED_BY)]
    pub deployed_by: Option<String>,
    /// Custom tag KEY=VALUE (repeatable; env: comma separated)
    #[arg(long = "tag", env = ev::TAGS, value_name = "KEY=VALUE", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// author (default) or committer: which commit time lead time starts from
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

/// Where the sha comes from when neither `--sha` nor the CI gives one.
const SHA_FROM_HEAD: Origin = Origin::Derived("--sha (HEAD)");

/// The request from the flags and settings. Revisions are resolved by
/// [`DeployRequest::resolve_revisions`].
pub fn request(args: &DeployArgs, s: &Settings, repo: Option<&Repo>) -> Result<DeployRequest> {
    let Some(service) = s.service(args.service.clone(), repo)? else {
        return Err(Error::usage_hint(
            "no service name",
            "pass --service (DORAMETER_SERVICE)",
        ));
    };
    let env = s.env(args.env.clone())?;
    let ci = s.ci.as_ref();
    let sha = s
        .first([
            s.flag("sha", args.sha.clone()),
            ci.and_then(|c| c.sha.clone())
                .map(|v| Setting::new(v, Origin::Derived("--sha (from the CI's commit)"))),
        ])
        .unwrap_or_else(|| Setting::new("HEAD".into(), SHA_FROM_HEAD));
    let finished_at = s
        .time("finished_at", args.finished_at.clone())?
        .unwrap_or(s.now);
    let started_at = s
        .time("started_at", args.started_at.clone())?
        .unwrap_or(finished_at);
    if started_at > finished_at {
        return Err(Error::usage_hint(
            "--started-at is after --finished-at",
            "give the time the deployment started as --started-at and the time it finished as --finished-at",
        ));
    }
    let id = event::event_id(
        "--id",
        args.id.as_deref(),
        ci.map(|c| c.run_key.as_slice()),
        &[&service.value, &env.value],
    )?;
    Ok(DeployRequest {
        id,
        sha: sha.value,
        sha_origin: sha.origin,
        previous_sha: args.previous_sha.clone(),
        commit_time: None,
        started_at,
        finished_at,
        status: s.choice("status", args.status.clone(), &DeploymentStatus::choices())?,
        rollback: args.rollback,
        hotfix: args.hotfix,
        lead_time_from: s.lead_time_from(args.lead_time_from.clone())?.value,
        max_commits: s.max_commits(args.max_commits.clone())?.value,
        rollforward_subject: s.rollforward_subject(),
        repository_url: ci
            .and_then(|c| c.repository_url.clone())
            .or_else(|| repo.and_then(Repo::origin_url)),
        version: args.version.clone(),
        ref_name: ci.and_then(|c| c.ref_name()).map(str::to_string),
        team: s.team(args.team.clone()),
        pipeline_id: ci.and_then(|c| c.pipeline_id.clone()),
        pipeline_url: ci.and_then(|c| c.pipeline_url.clone()),
        deployed_by: args
            .deployed_by
            .clone()
            .or_else(|| ci.and_then(|c| c.actor.clone())),
        tags: tags(&args.tags, &s.origin("tags").to_string())?,
        paths: s.service_paths(&service.value)?,
        squashes: Default::default(),
        service: service.value,
        env: env.value,
    })
}

fn tags(given: &[String], origin: &str) -> Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for t in given {
        let Some((k, v)) = t.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(Error::usage_hint(
                format!("invalid {origin} '{t}'"),
                "give each --tag as KEY=VALUE, e.g. --tag region=eu-west-1",
            ));
        };
        tags.insert(k.trim().to_string(), v.to_string());
    }
    Ok(tags)
}

pub fn run(args: DeployArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, Some(&args.repo))?;
    check_event_format(&mut settings)?;
    // An artifact-only deploy job has no checkout: with a full sha (given,
    // or the CI's) the deployment is still recorded, without lead time.
    let (repo, no_repo) = match Repo::discover(&ctx.cwd.join(&args.repo)) {
        Ok(repo) => (Some(repo), None),
        Err(e @ crate::git::GitError::NotARepository { .. }) => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let repo = repo.as_ref();
    let mut req = request(&args, &settings, repo)?;
    // Without a checkout, only a sha from --sha or the CI can be recorded.
    if let Some(e) = no_repo.filter(|_| req.sha_origin == SHA_FROM_HEAD) {
        return Err(e.into());
    }
    req.resolve_revisions(repo)?;
    let (mut pr_source, mut warnings) = PrSource::new(&args.pr_source, ctx, &settings, repo, None)?;
    let access = if args.dry_run {
        Access::ReadOnly
    } else {
        ctx.check_sinks(&settings)?;
        Access::ReadWrite
    };
    let mut store = match ctx.open_store(&settings, repo, access) {
        Ok(store) => store,
        Err(e @ Error::Store(StoreError::Open { .. } | StoreError::Unreachable { .. }))
            if !args.dry_run && !settings.sinks.is_empty() =>
        {
            // The sinks still hear of the deployment, without its history.
            let planned = plan_without_history(repo, &req)?;
            ctx.warn(&settings, &format!("the store is unavailable: deployment {} goes to the sinks without its history (lead time from --previous-sha only)", req.id))?;
            let events = vec![SinkEvent::Deployment(planned.deployment)];
            ctx.emit(&settings, repo, events, exit::OK)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if let (Some(src), Some(repo)) = (pr_source.as_mut(), repo) {
        let (found, summary) = src.apply(store.as_mut(), repo, &mut req)?;
        warnings.extend(found);
        if let Some(s) = summary {
            ctx.info(&settings, &s)?;
        }
    }
    let mut recorded = deploy::record(store.as_mut(), repo, &req, args.dry_run)?;
    // Said before the plan's own warnings, and kept with them (the JSON).
    warnings.append(&mut recorded.warnings);
    recorded.warnings = warnings;
    ctx.warn_all(&settings, &recorded.warnings)?;
    if recorded.first_of_service {
        ctx.note(
            &settings,
            &format!(
                "first deployment of '{}' in {}",
                req.service,
                store.describe()
            ),
        )?;
    }
    ctx.info(&settings, &format!("store: {}", store.describe()))?;
    let code = match args.dry_run {
        true => exit::OK,
        false => ctx.settle_store(&settings, store.as_ref(), exit::OK)?,
    };
    drop(store);
    ctx.out(&render_deployment(settings.format.value, &recorded))?;
    let view = DeploymentView::new(&recorded.deployment, recorded.recorded, &recorded.warnings);
    let lead = view
        .lead_time
        .as_ref()
        .map(|l| l.p50_seconds.to_string())
        .unwrap_or_default();
    use crate::ci::github::outputs;
    ctx.github_outputs(&settings, || {
        let json = serde_json::to_string(&view).unwrap_or_default();
        vec![(outputs::LEAD_TIME, lead), (outputs::JSON, json)]
    })?;
    let events = match args.dry_run {
        true => Vec::new(),
        false => vec![SinkEvent::Deployment(recorded.deployment)],
    };
    ctx.emit(&settings, repo, events, code)
}

fn render_deployment(format: Format, r: &Recorded) -> String {
    let view = DeploymentView::new(&r.deployment, r.recorded, &r.warnings);
    match format {
        Format::Json => render::json(&view),
        Format::Markdown => render::deployment_markdown(&view),
        _ => render::deployment_table(&view),
    }
}

#[cfg(test)]
mod tests {
    use super::request;
    use crate::cli::Command;
    use crate::cli::tests::parse;
    use crate::event::{DeploymentStatus, LeadTimeFrom};
    use crate::settings::Origin;

    fn deploy(
        args: &[&str],
        env: &[(&str, &str)],
        config: &str,
    ) -> crate::Result<crate::app::deploy::DeployRequest> {
        let mut all = vec!["dorameter", "deploy"];
        all.extend_from_slice(args);
        let (cmd, s, _dir) = parse(&all, env, config);
        let Command::Deploy(a) = cmd else {
            unreachable!()
        };
        request(&a, &s, None)
    }

    #[test]
    fn from_flags() {
        let r = deploy(
            &[
                "--service",
                "api",
                "--sha",
                "v1.2.0",
                "--finished-at",
                "2026-01-01T10:00:00Z",
                "--tag",
                "region=eu",
                "--id",
                "d-1",
                "--status",
                "failure",
            ],
            &[],
            "",
        )
        .unwrap();
        assert_eq!(
            (
                r.service.as_str(),
                r.env.as_str(),
                r.sha.as_str(),
                r.id.as_str()
            ),
            ("api", "production", "v1.2.0", "d-1")
        );
        assert_eq!(r.sha_origin, Origin::Flag("--sha".into()));
        assert_eq!(r.status, DeploymentStatus::Failure);
        assert_eq!(r.started_at, r.finished_at);
        assert_eq!(r.tags.get("region").map(String::as_str), Some("eu"));
        assert_eq!(
            (r.lead_time_from, r.max_commits),
            (LeadTimeFrom::Author, 5000)
        );
    }

    #[test]
    fn gitlab_environment_and_run_scoped_id() {
        let gitlab = [
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_NAME", "api"),
            ("CI_PROJECT_PATH", "acme/api"),
            ("CI_SERVER_URL", "https://gitlab.example.com"),
            ("CI_PIPELINE_ID", "1234567"),
            ("CI_JOB_ID", "7654321"),
            ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("CI_ENVIRONMENT_NAME", "staging"),
        ];
        let r = deploy(&[], &gitlab, "").unwrap();
        assert_eq!((r.service.as_str(), r.env.as_str()), ("api", "staging"));
        assert_eq!(r.sha, "0123456789abcdef0123456789abcdef01234567");
        let again = deploy(&[], &gitlab, "").unwrap();
        assert_eq!(r.id, again.id, "a retried job records the same deployment");
        // The config file names the env: it beats the CI's.
        let r = deploy(&[], &gitlab, "env = \"prod-eu\"\n").unwrap();
        assert_eq!(r.env, "prod-eu");
        // And the flag beats both.
        let r = deploy(&["--env", "qa"], &gitlab, "env = \"prod-eu\"\n").unwrap();
        assert_eq!(r.env, "qa");
    }

    #[test]
    fn bad_flags_are_usage_errors_naming_the_flag() {
        for (args, words) in [
            (&["--service", "api", "--status", "meh"][..], "--status"),
            (&["--service", "api", "--tag", "novalue"], "--tag"),
            (&["--service", "api", "--max-commits", "0"], "--max-commits"),
            (
                &["--service", "api", "--lead-time-from", "merger"],
                "--lead-time-from",
            ),
            (
                &[
                    "--service",
                    "api",
                    "--started-at",
                    "2026-01-02T00:00:00Z",
                    "--finished-at",
                    "2026-01-01T00:00:00Z",
                ],
                "--started-at",
            ),
            (&["--service", " "], "--service"),
            (&[], "no service name"),
        ] {
            let e = deploy(args, &[], "").unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{args:?}");
            assert!(e.to_string().contains(words), "{args:?}: {e}");
        }
    }
}
