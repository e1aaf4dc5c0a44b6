//! `--lead-time-source pr` and `--offline` for the commands that record
//! deployments from git (`deploy`, `backfill`): which forge to ask, with
//! which token, checked before anything is recorded; and what a failure
//! means. A refusal (bad token, no access, no such repository) is the
//! user's to fix: exit 2, nothing recorded. A forge that is down only
//! costs the squash merges it could not answer, which count as one change
//! each, with a warning.

use clap::Args;
use secrecy::SecretString;

use super::context::Context;
use super::forge_args::{Api, Failed};
use crate::app::deploy::DeployRequest;
use crate::app::squash;
use crate::env_vars as ev;
use crate::event::LeadTimeSource;
use crate::forge::ForgeError;
use crate::git::Repo;
use crate::settings::{Settings, http_settings};
use crate::sources::pulls::{Forge, Pulls};
use crate::sources::{github, gitlab};
use crate::store::{ReadTx, Store};
use crate::{Error, Result};

#[derive(Debug, Args)]
pub struct PrSourceArgs {
    /// git (default), or pr: a squash merge's changes are its pull/merge request's commits, read from GitHub or GitLab (SPEC §11)
    #[arg(long, env = ev::LEAD_TIME_SOURCE, value_name = "SOURCE")]
    pub lead_time_source: Option<String>,
    /// With --lead-time-source pr: ask the forge nothing; squash merges the store has not cached count as one change each
    #[arg(long, env = ev::OFFLINE, value_parser = crate::cli::on_off)]
    pub offline: bool,
}

/// The forge a deployment's squash merges are looked up on.
pub struct PrSource {
    forge: Forge,
    /// `None`: `--offline`.
    pulls: Option<Pulls>,
    failed: Failed,
}

impl PrSource {
    /// `None` when lead time comes from git alone. Without a repository
    /// there is nothing to look up.
    pub fn new(
        args: &PrSourceArgs,
        ctx: &Context<'_>,
        s: &Settings,
        repo: Option<&Repo>,
    ) -> Result<Option<PrSource>> {
        let source = s.lead_time_source(args.lead_time_source.clone())?;
        if source.value == LeadTimeSource::Git || repo.is_none() {
            return Ok(None);
        }
        let origin = source.origin.to_string();
        let (forge, api_url, repository) = target(s, repo, &origin)?;
        let api = match forge {
            Forge::GitHub => Api::Github,
            Forge::GitLab => Api::Gitlab,
        };
        let names: &[&'static str] = match forge {
            Forge::GitHub => &[ev::GITHUB_TOKEN],
            Forge::GitLab => &[ev::GITLAB_TOKEN, ev::GITLAB_TOKEN_FALLBACK],
        };
        let found = names.iter().find_map(|n| {
            ctx.env
                .get(*n)
                .filter(|t| !t.trim().is_empty())
                .map(|t| (*n, SecretString::from(t.clone())))
        });
        let failed = |token_from| Failed {
            api,
            token_from,
            check: format!(
                "check the repository '{repository}' (GITHUB_REPOSITORY, CI_PROJECT_PATH or the origin remote) and the API {api_url}"
            ),
            reading: "pull requests",
        };
        if args.offline {
            return Ok(Some(PrSource {
                forge,
                pulls: None,
                failed: failed(names[0]),
            }));
        }
        let Some((token_from, token)) = found else {
            let how = match forge {
                Forge::GitHub => {
                    "set GITHUB_TOKEN (the dorameter action passes the workflow's token; in a script: env GITHUB_TOKEN: ${{ github.token }}, with `pull-requests: read`)"
                }
                Forge::GitLab => {
                    "set DORAMETER_GITLAB_TOKEN to a project access token with read_api, as a masked CI/CD variable (a CI job token cannot read merge requests)"
                }
            };
            return Err(Error::usage_hint(
                format!("{origin} pr needs a {} token", forge.name()),
                format!("{how}; or pass --offline to use the store's cache alone"),
            ));
        };
        let failed = failed(token_from);
        let pulls = Pulls::new(
            forge,
            &api_url,
            &repository,
            token,
            http_settings(&ctx.env)?,
        )
        .map_err(|e| failed.error(e))?;
        Ok(Some(PrSource {
            forge,
            pulls: Some(pulls),
            failed,
        }))
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
        let resolved = squash::resolve(tx, repo, req, self.forge, self.pulls.as_mut())?;
        if let Some(e) = resolved.failure {
            if is_refusal(&e) {
                return Err(self.failed.error(e));
            }
            // The forge is down: the rest of a backfill asks nothing more.
            self.pulls = None;
        }
        let summary = (resolved.squashes_found > 0).then(|| {
            format!(
                "lead time from pull requests: {} ({} cached), {} to {}",
                crate::render::count(resolved.squashes_found as u32, "squash merge"),
                resolved.cached,
                crate::render::count(resolved.requests as u32, "request"),
                self.forge.name()
            )
        });
        req.squashes = resolved.squashes;
        Ok((resolved.warnings, summary))
    }
}

/// A refusal the user must fix, not a forge that is down.
fn is_refusal(e: &ForgeError) -> bool {
    match e {
        ForgeError::Unauthorized { .. } | ForgeError::Forbidden { .. } | ForgeError::Url { .. } => {
            true
        }
        ForgeError::Status { status, .. } => (400..500).contains(status) && *status != 429,
        _ => false,
    }
}

/// The forge, its API and the repository: the CI's (GitHub Actions,
/// GitLab CI), else the origin remote's on github.com or gitlab.com.
fn target(s: &Settings, repo: Option<&Repo>, origin: &str) -> Result<(Forge, String, String)> {
    use crate::ci::Provider;
    if let Some(c) = s.ci.as_ref() {
        let forge = match c.provider {
            Provider::GitHubActions => Some(Forge::GitHub),
            Provider::GitLabCi => Some(Forge::GitLab),
            _ => None,
        };
        if let (Some(f), Some(r)) = (forge, c.repository.clone().filter(|r| !r.is_empty())) {
            let api = c.api_url.clone().unwrap_or_else(|| default_api(f).into());
            return Ok((f, api, r));
        }
    }
    let remote = repo
        .and_then(Repo::origin_url)
        .and_then(|u| crate::ci::repository_url(&u));
    if let Some(url) = &remote {
        for (host, forge) in [
            ("https://github.com/", Forge::GitHub),
            ("https://gitlab.com/", Forge::GitLab),
        ] {
            if let Some(path) = url.strip_prefix(host).filter(|p| p.contains('/')) {
                return Ok((forge, default_api(forge).into(), path.to_string()));
            }
        }
    }
    Err(Error::usage_hint(
        format!(
            "{origin} pr: no GitHub or GitLab repository to read pull requests from{}",
            remote
                .map(|r| format!(" (the origin remote is {r})"))
                .unwrap_or_default()
        ),
        "run it in GitHub Actions or GitLab CI, or in a clone whose origin is on github.com or gitlab.com; else use --lead-time-source git",
    ))
}

fn default_api(forge: Forge) -> &'static str {
    match forge {
        Forge::GitHub => github::DEFAULT_URL,
        Forge::GitLab => gitlab::DEFAULT_URL,
    }
}
