//! `--lead-time-source pr` and `--offline` for the commands that record
//! deployments from git (`deploy`, `backfill`): which forge to ask, with
//! which token, checked before anything is recorded; and what a failure
//! means. A refusal (bad token, no access, no such repository) is the
//! user's to fix: exit 2, nothing recorded. A forge that is down only
//! costs the squash merges it could not answer, which count as one change
//! each, with a warning.

use clap::Args;

use super::context::Context;
use super::forge_args::{Api, Failed, ForgeArgs, find_token};
use crate::app::deploy::DeployRequest;
use crate::app::squash;
use crate::ci::Provider;
use crate::env_vars as ev;
use crate::event::LeadTimeSource;
use crate::git::Repo;
use crate::settings::{Settings, http_settings};
use crate::sources::pulls::{Forge, Pulls};
use crate::sources::{github, gitlab};
use crate::store::{ReadTx, Store};
use crate::{Error, Result};

#[derive(Debug, Args)]
pub struct PrSourceArgs {
    /// git (default), or pr: a squash merge's changes are its pull/merge request's commits, read from GitHub or GitLab
    #[arg(long, env = ev::LEAD_TIME_SOURCE, value_name = "SOURCE")]
    pub lead_time_source: Option<String>,
    /// With --lead-time-source pr: ask nothing about pull requests; squash merges the store has not cached count as one change each
    #[arg(long, env = ev::OFFLINE, value_parser = crate::cli::on_off)]
    pub offline: bool,
}

/// What a command already knows of its forge (`backfill --from-github-…
/// --repository --api-url --token`).
pub struct Given<'a> {
    pub api: Option<Api>,
    pub forge: &'a ForgeArgs,
}

/// The forge a deployment's squash merges are looked up on.
pub struct PrSource {
    /// `None`: offline with no forge known; any cached answer counts.
    forge: Option<Forge>,
    /// `None`: nothing is asked, for the reason `unasked`.
    pulls: Option<Pulls>,
    unasked: String,
    failed: Option<Failed>,
}

/// The forge, its API and the repository, with where each came from.
struct Target {
    forge: Forge,
    api_url: String,
    api_from: &'static str,
    repository: String,
    repository_from: &'static str,
    /// Said once: the checkout is not the CI's repository.
    note: Option<String>,
}

impl PrSource {
    /// `None` when lead time comes from git alone (or there is no
    /// repository to walk), with a warning for an `--offline` that then
    /// does nothing.
    pub fn new(
        args: &PrSourceArgs,
        ctx: &Context<'_>,
        s: &Settings,
        repo: Option<&Repo>,
        given: Option<Given<'_>>,
    ) -> Result<(Option<PrSource>, Vec<String>)> {
        let source = s.lead_time_source(args.lead_time_source.clone())?;
        let mut notes = Vec::new();
        if source.value == LeadTimeSource::Git {
            if args.offline {
                notes.push("--offline changes nothing without --lead-time-source pr".into());
            }
            return Ok((None, notes));
        }
        if repo.is_none() {
            return Ok((None, notes));
        }
        let origin = source.origin.to_string();
        let target = target(s, repo, given.as_ref(), &origin);
        if args.offline {
            // The cache is all an offline run needs: no forge is required.
            let forge = target.ok().map(|t| t.forge);
            return Ok((
                Some(PrSource {
                    forge,
                    pulls: None,
                    unasked: "--offline, and the store has not cached them".into(),
                    failed: None,
                }),
                notes,
            ));
        }
        let t = target?;
        notes.extend(t.note.clone());
        let api = match t.forge {
            Forge::GitHub => Api::Github,
            Forge::GitLab => Api::Gitlab,
        };
        let Some((token, token_from)) = find_token(ctx, api, given.as_ref().map(|g| g.forge))
        else {
            let in_ci = s.ci.as_ref().map(|c| c.provider);
            let how = match (t.forge, in_ci) {
                (Forge::GitHub, Some(Provider::GitHubActions)) => {
                    "set GITHUB_TOKEN: the dorameter action passes the workflow's token; in a run step, `env: GITHUB_TOKEN: ${{ github.token }}`, with `permissions: pull-requests: read`"
                }
                (Forge::GitHub, _) => {
                    "set GITHUB_TOKEN to a token that may read the repository's pull requests"
                }
                (Forge::GitLab, _) => {
                    "set DORAMETER_GITLAB_TOKEN to a project access token with read_api (a masked CI/CD variable in GitLab CI: a CI job token cannot read merge requests)"
                }
            };
            let flag = if given.is_some() {
                ", or pass --token"
            } else {
                ""
            };
            return Err(Error::usage_hint(
                format!("{origin} is pr, which needs a {} token", t.forge.name()),
                format!("{how}{flag}; or pass --offline to use the store's cache alone"),
            ));
        };
        let failed = Failed {
            api,
            token_from,
            check: format!(
                "check the repository '{}' ({}) and the API {} ({})",
                t.repository,
                t.repository_from,
                crate::ci::strip_credentials(&t.api_url),
                t.api_from
            ),
            reading: match t.forge {
                Forge::GitHub => "pull requests",
                Forge::GitLab => "merge requests",
            },
        };
        let pulls = Pulls::new(
            t.forge,
            &t.api_url,
            &t.repository,
            token,
            http_settings(&ctx.env)?,
        )
        .map_err(|e| failed.error(e))?;
        Ok((
            Some(PrSource {
                forge: Some(t.forge),
                pulls: Some(pulls),
                unasked: String::new(),
                failed: Some(failed),
            }),
            notes,
        ))
    }

    /// Finds `req`'s squash merges and their original commits (into
    /// `req.squashes`), and returns what the user should know: warnings,
    /// and a summary line when there were squash merges.
    pub fn apply(
        &mut self,
        store: &mut dyn Store,
        repo: &Repo,
        req: &mut DeployRequest,
    ) -> Result<(Vec<String>, Option<String>)> {
        let mut resolved = None;
        store.read(&mut |tx| {
            resolved = Some(self.apply_in(tx, repo, req)?);
            Ok(())
        })?;
        resolved.ok_or_else(|| Error::internal("the store ran no transaction"))
    }

    /// [`PrSource::apply`] in an open transaction (backfill's, where each
    /// tag's range starts at the one before it).
    pub fn apply_in(
        &mut self,
        tx: &dyn ReadTx,
        repo: &Repo,
        req: &mut DeployRequest,
    ) -> Result<(Vec<String>, Option<String>)> {
        let resolved = squash::resolve(
            tx,
            repo,
            req,
            self.forge,
            self.pulls.as_mut(),
            &self.unasked,
        )?;
        if let Some(e) = resolved.failure {
            if e.is_refusal() {
                if let Some(f) = &self.failed {
                    return Err(f.error(e));
                }
            }
            // The forge is down: the rest of a backfill asks nothing more.
            self.unasked = format!(
                "{} could not be asked earlier in this run ({e})",
                self.forge.map_or("the forge", Forge::name)
            );
            self.pulls = None;
        }
        let summary = (resolved.squashes_found > 0).then(|| {
            format!(
                "lead time from pull requests: {} naming a request ({} cached), {} to {}",
                crate::render::count(resolved.squashes_found as u64, "commit"),
                resolved.cached,
                crate::render::count(resolved.requests as u64, "request"),
                self.forge.map_or("the forge", Forge::name)
            )
        });
        req.squashes = resolved.squashes;
        Ok((resolved.warnings, summary))
    }
}

/// The forge, its API and the repository: what the command was given,
/// else the CI's (GitHub Actions, GitLab CI), else the origin remote's on
/// github.com or gitlab.com. The checkout's own repository wins over the
/// CI's when both are on the CI's server and differ (a workflow that
/// checks out another repository).
fn target(
    s: &Settings,
    repo: Option<&Repo>,
    given: Option<&Given<'_>>,
    origin: &str,
) -> Result<Target> {
    let ci = s.ci.as_ref();
    let remote = repo
        .and_then(Repo::origin_url)
        .and_then(|u| crate::ci::repository_url(&u));
    let ci_forge = ci.and_then(|c| match c.provider {
        Provider::GitHubActions => Some(Forge::GitHub),
        Provider::GitLabCi => Some(Forge::GitLab),
        _ => None,
    });
    let hosted = remote.as_deref().and_then(|url| {
        [
            ("https://github.com/", Forge::GitHub),
            ("https://gitlab.com/", Forge::GitLab),
        ]
        .into_iter()
        .find_map(|(host, f)| {
            url.strip_prefix(host)
                .filter(|p| p.contains('/'))
                .map(|p| (f, p.to_string()))
        })
    });
    let forge = given
        .and_then(|g| match g.api {
            Some(Api::Github) => Some(Forge::GitHub),
            Some(Api::Gitlab) => Some(Forge::GitLab),
            _ => None,
        })
        .or(ci_forge)
        .or(hosted.as_ref().map(|(f, _)| *f))
        // `--api-url` alone: GitLab's API is at /api/v4, GitHub's is not.
        .or_else(|| {
            let url = given?.forge.api_url.as_deref()?;
            Some(if url.trim_end_matches('/').ends_with("/api/v4") {
                Forge::GitLab
            } else {
                Forge::GitHub
            })
        });
    let Some(forge) = forge else {
        return Err(Error::usage_hint(
            format!(
                "{origin} is pr, but there is no GitHub or GitLab repository to read pull requests from{}",
                remote
                    .map(|r| format!(" (the origin remote is {r})"))
                    .unwrap_or_default()
            ),
            "run it in GitHub Actions or GitLab CI, or in a clone whose origin is on github.com or gitlab.com; else use --lead-time-source git",
        ));
    };
    let (repo_var, api_var) = match forge {
        Forge::GitHub => ("GITHUB_REPOSITORY", "GITHUB_API_URL"),
        Forge::GitLab => ("CI_PROJECT_PATH", "CI_API_V4_URL"),
    };
    let of_ci = ci.filter(|_| ci_forge == Some(forge));
    let given_repo = given.and_then(|g| g.forge.repository.clone());
    let ci_repo = of_ci
        .and_then(|c| c.repository.clone())
        .filter(|r| !r.trim().is_empty());
    // The checkout's repository on the CI's server.
    let checkout = of_ci.and_then(|c| {
        let project = c.repository.as_deref()?;
        let server = c.repository_url.as_deref()?.strip_suffix(project)?;
        let path = remote.as_deref()?.strip_prefix(server)?;
        (!path.is_empty()).then(|| path.to_string())
    });
    let mut note = None;
    let (repository, repository_from) = match (given_repo, checkout, ci_repo) {
        (Some(r), _, _) => (r, "--repository"),
        (None, Some(c), Some(r)) if c != r => {
            note = Some(format!(
                "the checkout is {c}, not {repo_var} {r}: its pull requests are read from {c}"
            ));
            (c, "the origin remote")
        }
        (None, _, Some(r)) => (r, repo_var),
        (None, Some(c), None) => (c, "the origin remote"),
        (None, None, None) => match hosted.filter(|(f, _)| *f == forge) {
            Some((_, p)) => (p, "the origin remote"),
            None => {
                return Err(Error::usage_hint(
                    format!(
                        "{origin} is pr, but no {} repository is known",
                        forge.name()
                    ),
                    format!(
                        "set {repo_var}{}",
                        if given.is_some() {
                            ", or pass --repository"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        },
    };
    let (api_url, api_from) = match given.and_then(|g| g.forge.api_url.clone()) {
        Some(u) => (u, "--api-url"),
        None => match of_ci.and_then(|c| c.api_url.clone()) {
            Some(u) => (u, api_var),
            None => (
                match forge {
                    Forge::GitHub => github::DEFAULT_URL.to_string(),
                    Forge::GitLab => gitlab::DEFAULT_URL.to_string(),
                },
                "the default",
            ),
        },
    };
    match reqwest::Url::parse(api_url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => {
            return Err(Error::usage_hint(
                format!(
                    "{api_from} '{}' is not an http:// or https:// URL",
                    crate::ci::strip_credentials(&api_url)
                ),
                format!("set {api_from} to the {} API's base URL", forge.name()),
            ));
        }
    }
    Ok(Target {
        forge,
        api_url,
        api_from,
        repository,
        repository_from,
        note,
    })
}
