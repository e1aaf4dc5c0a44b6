//! The API a command reads from (`incident import --from`, `backfill
//! --from-github-…`): its token, URL and repository, checked before any
//! request, and its failures reported as what to fix.

use clap::{Args, ValueEnum};
use secrecy::SecretString;

use super::comment::Token;
use super::context::Context;
use crate::env_vars as ev;
use crate::forge::ForgeError;
use crate::settings::Settings;
use crate::sources::{github, gitlab, pagerduty};
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Api {
    /// PagerDuty incidents (REST API v2)
    Pagerduty,
    /// GitHub (issues with a label for incidents)
    Github,
    /// GitLab
    Gitlab,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Pagerduty => "PagerDuty",
            Api::Github => "GitHub",
            Api::Gitlab => "GitLab",
        }
    }
}

/// `--token`, `--api-url`, `--repository`.
#[derive(Debug, Args)]
pub struct ForgeArgs {
    /// The API token [default: DORAMETER_PAGERDUTY_TOKEN; GITHUB_TOKEN; DORAMETER_GITLAB_TOKEN, else GITLAB_TOKEN]
    #[arg(long, env = ev::IMPORT_TOKEN, value_name = "TOKEN", hide_env_values = true, value_parser = super::comment::parse_token)]
    pub token: Option<Token>,
    /// The API [default: https://api.pagerduty.com; the CI's GITHUB_API_URL or CI_API_V4_URL, else github.com's or gitlab.com's]
    #[arg(long, env = ev::IMPORT_API_URL, value_name = "URL")]
    pub api_url: Option<String>,
    /// GitHub: owner/repo; GitLab: the project's path or id [default: the CI's GITHUB_REPOSITORY or CI_PROJECT_PATH]
    #[arg(long, env = ev::IMPORT_REPOSITORY, value_name = "PATH")]
    pub repository: Option<String>,
}

/// The API's own token variables, in the order they are read.
pub fn token_variables(api: Api) -> &'static [&'static str] {
    match api {
        Api::Pagerduty => &[ev::PAGERDUTY_TOKEN],
        Api::Github => &[ev::GITHUB_TOKEN],
        Api::Gitlab => &[ev::GITLAB_TOKEN, ev::GITLAB_TOKEN_FALLBACK],
    }
}

/// The token `--token` (when the command has it) or the API's own
/// variable gives, and where it came from, for the hint when the API
/// refuses it; `None` when neither is set.
pub fn find_token(
    ctx: &Context<'_>,
    api: Api,
    forge: Option<&ForgeArgs>,
) -> Option<(SecretString, &'static str)> {
    use secrecy::ExposeSecret;
    if let Some(t) = forge
        .and_then(|f| f.token.as_ref())
        .map(|t| t.0.expose_secret().to_string())
        .filter(|t| !t.trim().is_empty())
    {
        let from = if ctx.env.contains_key(ev::IMPORT_TOKEN)
            && !std::env::args().any(|a| a == "--token" || a.starts_with("--token="))
        {
            ev::IMPORT_TOKEN
        } else {
            "--token"
        };
        return Some((SecretString::from(t), from));
    }
    token_variables(api).iter().find_map(|n| {
        ctx.env
            .get(*n)
            .filter(|t| !t.trim().is_empty())
            .map(|t| (SecretString::from(t.clone()), *n))
    })
}

/// The token: `--token`, else the source's own variable; and where it came
/// from, for the hint when the API refuses it.
pub fn token(
    ctx: &Context<'_>,
    api: Api,
    forge: &ForgeArgs,
) -> Result<(SecretString, &'static str)> {
    if let Some((t, from)) = find_token(ctx, api, Some(forge)) {
        return Ok((t, from));
    }
    let names = token_variables(api);
    let job_token = if api == Api::Gitlab && ctx.env.contains_key("CI_JOB_TOKEN") {
        " (CI_JOB_TOKEN cannot list issues: create a project access token with read_api and store it as a masked CI/CD variable)"
    } else {
        ""
    };
    Err(Error::usage_hint(
        format!("no {} token", api.name()),
        format!(
            "pass --token (DORAMETER_IMPORT_TOKEN) or set {}{job_token}",
            names.join(" or ")
        ),
    ))
}

/// What an API failure is reported with.
pub struct Failed {
    pub api: Api,
    /// Where the token came from (a flag or a variable).
    pub token_from: &'static str,
    /// What to check when the API finds nothing there
    /// ([`Failed::check_flags`] for the source flags).
    pub check: String,
    /// What the token was to read: "incidents", "deployments", "pull
    /// requests".
    pub reading: &'static str,
}

impl Failed {
    /// What to check for `--repository` and `--api-url` (PagerDuty: the
    /// API's URL alone).
    pub fn check_flags(repository: Option<&str>) -> String {
        match repository {
            Some(r) => format!("check --repository '{r}' (DORAMETER_IMPORT_REPOSITORY) and --api-url"),
            None => "check --api-url: PagerDuty's REST API is https://api.pagerduty.com (https://api.eu.pagerduty.com for the EU service region)".into(),
        }
    }
}

impl Failed {
    /// A source's API failure: the user's to fix (exit 2) for a refusal
    /// (4xx), the API's or the network's (exit 5) otherwise.
    pub fn error(&self, e: ForgeError) -> Error {
        let name = self.api.name();
        let check = self.check.clone();
        match e {
            ForgeError::Unauthorized { message, .. } => Error::usage_hint(
                format!("the {name} API rejected the token (HTTP 401){message}"),
                format!("check the token given by {}", self.token_from),
            ),
            ForgeError::Forbidden { message, .. } => Error::usage_hint(
                format!(
                    "the {name} token may not read {} here (HTTP 403){message}",
                    self.reading
                ),
                match self.api {
                    Api::Pagerduty => "give a PagerDuty API key with read access",
                    Api::Github if self.reading == "pull requests" => {
                        "give the workflow `pull-requests: read` and `contents: read`, or a token that may read the repository's pull requests"
                    }
                    Api::Gitlab if self.reading == "merge requests" => {
                        "give a token with the read_api scope in DORAMETER_GITLAB_TOKEN (a CI job token cannot read merge requests)"
                    }
                    Api::Github => {
                        "give the workflow `issues: read`, or a token that may read the repository's issues"
                    }
                    Api::Gitlab => {
                        "give a token with the read_api scope (a CI job token cannot list issues or deployments)"
                    }
                },
            ),
            ForgeError::Status {
                status: 404,
                message,
                what,
            } => Error::usage_hint(format!("{what} failed: HTTP 404{message}"), check),
            ForgeError::Status {
                status,
                message,
                what,
            } if (400..500).contains(&status) => Error::usage_hint(
                format!("{what} failed: HTTP {status}{message}"),
                format!("the {name} API refused the request; {check}"),
            ),
            ForgeError::Url { url, message } => Error::usage_hint(
                format!("invalid --api-url '{url}': {message}"),
                "pass --api-url (DORAMETER_IMPORT_API_URL) an http:// or https:// URL",
            ),
            other => Error::Forge {
                permission: None,
                what: match self.reading {
                    "incidents" => "import incidents",
                    "releases" => "read the releases",
                    "pull requests" | "merge requests" => "read the squash merges' requests",
                    _ => "read the deployments",
                },
                source: other,
            },
        }
    }
}

/// The API and, for GitHub and GitLab, the repository, checked before any
/// request.
pub struct Target {
    pub api: String,
    pub repository: Option<String>,
}

impl Target {
    pub fn new(api: Api, forge: &ForgeArgs, s: &Settings) -> Result<Target> {
        let ci = s.ci.as_ref();
        let provider = match api {
            Api::Pagerduty => None,
            Api::Github => Some(crate::ci::Provider::GitHubActions),
            Api::Gitlab => Some(crate::ci::Provider::GitLabCi),
        };
        let of_ci = |p: crate::ci::Provider| ci.filter(|c| c.provider == p);
        let url = forge.api_url.clone().unwrap_or_else(|| match provider {
            None => pagerduty::DEFAULT_URL.into(),
            Some(p) => of_ci(p)
                .and_then(|c| c.api_url.clone())
                .unwrap_or_else(|| match api {
                    Api::Gitlab => gitlab::DEFAULT_URL.into(),
                    _ => github::DEFAULT_URL.into(),
                }),
        });
        let origin = s.origin("api_url");
        match reqwest::Url::parse(url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(Error::usage_hint(
                    format!("{origin} '{url}' is not an http:// or https:// URL"),
                    "pass --api-url (DORAMETER_IMPORT_API_URL) the API's base URL, e.g. https://api.pagerduty.com",
                ));
            }
        }
        let repository = match provider {
            None => None,
            Some(p) => {
                let example = if api == Api::Github {
                    "owner/repo"
                } else {
                    "group/project"
                };
                let r = forge
                    .repository
                    .clone()
                    .or_else(|| of_ci(p).and_then(|c| c.repository.clone()))
                    .filter(|r| !r.trim().is_empty())
                    .ok_or_else(|| {
                        Error::usage_hint(
                            format!("no {} repository to read from", api.name()),
                            format!("pass --repository {example} (DORAMETER_IMPORT_REPOSITORY)"),
                        )
                    })?;
                if api == Api::Github
                    && (r.split('/').count() != 2 || r.split('/').any(str::is_empty))
                {
                    return Err(Error::usage_hint(
                        format!("--repository '{r}' is not owner/repo"),
                        "pass --repository owner/repo (DORAMETER_IMPORT_REPOSITORY)",
                    ));
                }
                Some(r)
            }
        };
        Ok(Target {
            api: url,
            repository,
        })
    }
}
