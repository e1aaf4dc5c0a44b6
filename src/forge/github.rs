//! GitHub: the sticky comment on a pull request through octocrab (SPEC §7),
//! over the REST issue-comment endpoints. Only a comment with our marker
//! *and* written by the token's own user is updated; anyone else's is never
//! touched.
//!
//! octocrab is async: one current-thread tokio runtime drives it, and each
//! call is retried here (429, 5xx, network) with the sinks' backoff, which
//! honours `Retry-After` (octocrab's own retry layer is not built in). Its timeouts are set explicitly, its base URL is
//! `GITHUB_API_URL` (GitHub Enterprise paths such as `/api/v3` included),
//! and a `Link: rel="next"` page is only followed on that same origin, so
//! the token never goes to another host.

use std::future::Future;
use std::time::{Duration, SystemTime};

use octocrab::{Octocrab, Page};
use reqwest::Url;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::api::{detail, is_ours};
use super::{ForgeError, Posted};
use crate::error::chain as error_chain;
use crate::http::{self, HttpSettings, Jitter};

/// The login the Actions `GITHUB_TOKEN` comments as. That token cannot read
/// `GET /user`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// The media type GitHub's REST API documents for every request.
const GITHUB_JSON: &str = "application/vnd.github+json";

/// Most pages of comments read (100 each).
const MAX_PAGES: usize = 100;

pub struct GitHub {
    octocrab: Octocrab,
    runtime: tokio::runtime::Runtime,
    base: Url,
    /// `owner/name`, checked to be path-safe.
    repository: String,
    token: SecretString,
    settings: HttpSettings,
}

/// What one failed call means: the error to report, whether another try may
/// help, and how long the server asked us to wait.
struct Failure {
    error: ForgeError,
    retry: bool,
    retry_after: Option<Duration>,
}

impl GitHub {
    /// `base`: `GITHUB_API_URL` (`https://api.github.com` by default).
    pub fn new(
        base: &str,
        repository: &str,
        token: SecretString,
        settings: HttpSettings,
    ) -> Result<GitHub, ForgeError> {
        let shown = || {
            base.split(['@', '?'])
                .next_back()
                .unwrap_or_default()
                .to_string()
        };
        let base_url = Url::parse(base.trim()).map_err(|e| ForgeError::Url {
            url: shown(),
            message: e.to_string(),
        })?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host_str().is_none() {
            return Err(ForgeError::Url {
                url: shown(),
                message: "expected an http(s) URL such as https://api.github.com".into(),
            });
        }
        let valid_part = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !matches!(repository.split_once('/'), Some((o, r)) if valid_part(o) && valid_part(r)) {
            return Err(ForgeError::Url {
                url: repository.to_string(),
                message: "GITHUB_REPOSITORY must be owner/name".into(),
            });
        }
        let network = |what: &str, e: &dyn std::fmt::Display| ForgeError::Network {
            what: what.to_string(),
            message: e.to_string(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| network("start the HTTP client", &e))?;
        let octocrab = {
            let _inside = runtime.enter();
            Octocrab::builder()
                .base_uri(base_url.as_str().trim_end_matches('/'))
                .map_err(|e| ForgeError::Url {
                    url: shown(),
                    message: e.to_string(),
                })?
                .personal_token(token.expose_secret().trim().to_string())
                // octocrab sends `X-GitHub-Api-Version` on every request
                // already (its crate metadata pins the version): adding it
                // again made the value `2022-11-28, 2022-11-28`. It sets no
                // `Accept`; GitHub recommends its JSON media type.
                .add_header(ACCEPT, GITHUB_JSON.into())
                .set_connect_timeout(Some(settings.connect_timeout.min(settings.timeout)))
                .set_read_timeout(Some(settings.timeout))
                .set_write_timeout(Some(settings.timeout))
                .build()
                .map_err(|e| network("build the HTTP client", &e))?
        };
        Ok(GitHub {
            octocrab,
            runtime,
            base: base_url,
            repository: repository.to_string(),
            token,
            settings,
        })
    }

    /// Runs one API call, retrying what may succeed on another try.
    fn call<T, F: Future<Output = octocrab::Result<T>>>(
        &self,
        what: &str,
        request: impl Fn() -> F,
    ) -> Result<T, ForgeError> {
        let mut jitter = Jitter::new(0x_6f_63_74_6f);
        let mut attempt = 0;
        loop {
            let failure = match self.runtime.block_on(request()) {
                Ok(v) => return Ok(v),
                Err(e) => self.failure(what, e),
            };
            if !failure.retry || attempt >= self.settings.retries {
                return Err(match failure.error {
                    ForgeError::Network { what, message } if attempt > 0 => ForgeError::Network {
                        what,
                        message: format!("{message} (after {} attempts)", attempt + 1),
                    },
                    other => other,
                });
            }
            std::thread::sleep(http::delay(
                &self.settings,
                attempt,
                failure.retry_after,
                &mut jitter,
            ));
            attempt += 1;
        }
    }

    fn failure(&self, what: &str, e: octocrab::Error) -> Failure {
        let scrub = |s: String| {
            let t = self.token.expose_secret().trim();
            if t.len() >= 4 { s.replace(t, "***") } else { s }
        };
        match e {
            octocrab::Error::GitHub { source, .. } => {
                let status = source.status_code.as_u16();
                let message = scrub(detail(&source.message));
                let retry_after = source
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("retry-after"))
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| http::parse_retry_after(v, SystemTime::now()));
                let (error, retry) = match status {
                    401 => (
                        ForgeError::Unauthorized {
                            forge: "GitHub",
                            message,
                        },
                        false,
                    ),
                    403 => (
                        ForgeError::Forbidden {
                            forge: "GitHub",
                            message,
                        },
                        false,
                    ),
                    s => (
                        ForgeError::Status {
                            what: what.to_string(),
                            status: s,
                            message,
                        },
                        s == 408 || s == 429 || s >= 500,
                    ),
                };
                Failure {
                    error,
                    retry,
                    retry_after,
                }
            }
            e @ (octocrab::Error::Serde { .. } | octocrab::Error::Json { .. }) => Failure {
                error: ForgeError::Response {
                    what: what.to_string(),
                    message: scrub(error_chain(&e)),
                },
                retry: false,
                retry_after: None,
            },
            other => Failure {
                error: ForgeError::Network {
                    what: what.to_string(),
                    message: scrub(error_chain(&other)),
                },
                retry: true,
                retry_after: None,
            },
        }
    }

    /// The token's login: `GET /user`, or the Actions bot when the token
    /// may not read it (an installation token answers 403; 404 on some
    /// GitHub Enterprise setups). Any other failure is final: guessing the
    /// author then could post a second comment.
    fn me(&self) -> Result<String, ForgeError> {
        let what = "read the token's user";
        match self.call(what, || self.octocrab.get::<Value, _, ()>("/user", None)) {
            Ok(v) => v
                .get("login")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ForgeError::Response {
                    what: "GET /user".into(),
                    message: "no login".into(),
                }),
            Err(ForgeError::Forbidden { .. } | ForgeError::Status { status: 404, .. }) => {
                Ok(ACTIONS_BOT.to_string())
            }
            Err(e) => Err(e),
        }
    }

    /// A `Link: rel="next"` target we may follow: relative, or on the API's
    /// own origin.
    fn same_origin(&self, next: &octocrab::Page<Value>) -> bool {
        next.next.as_ref().is_some_and(|uri| match uri.authority() {
            None => true,
            Some(authority) => {
                let port = authority.port_u16().or_else(|| match uri.scheme_str() {
                    Some("http") => Some(80),
                    Some("https") => Some(443),
                    _ => None,
                });
                uri.scheme_str() == Some(self.base.scheme())
                    && authority
                        .host()
                        .eq_ignore_ascii_case(self.base.host_str().unwrap_or_default())
                    && port == self.base.port_or_known_default()
            }
        })
    }

    /// Creates or updates the comment carrying `marker` on pull request `number`.
    ///
    /// With `create` false, only an existing comment is updated.
    pub fn upsert(
        &self,
        number: u64,
        marker: &str,
        body: &str,
        create: bool,
    ) -> Result<Posted, ForgeError> {
        let me = self.me()?;
        let list = format!("/repos/{}/issues/{number}/comments", self.repository);
        let what = "list the pull request's comments";
        let mut page: Page<Value> = self.call(what, || {
            self.octocrab
                .get::<Page<Value>, _, _>(&list, Some(&[("per_page", 100)]))
        })?;
        let mut found = None;
        for pages in 1.. {
            found = page.items.iter().find_map(|c| {
                let author = c
                    .pointer("/user/login")
                    .and_then(Value::as_str)
                    .is_some_and(|l| l.eq_ignore_ascii_case(&me));
                is_ours(c.get("body").and_then(Value::as_str), marker, author)
                    .then(|| c.get("id").and_then(Value::as_u64))
                    .flatten()
            });
            if found.is_some() || pages >= MAX_PAGES || !self.same_origin(&page) {
                break;
            }
            let next = page.next.clone();
            match self.call(what, || self.octocrab.get_page::<Value>(&next))? {
                Some(p) => page = p,
                None => break,
            }
        }
        let payload = json!({ "body": body });
        match found {
            Some(id) => {
                let route = format!("/repos/{}/issues/comments/{id}", self.repository);
                let v = self.call("update the comment", || {
                    self.octocrab.patch::<Value, _, _>(&route, Some(&payload))
                })?;
                Ok(Posted::Updated {
                    id,
                    url: html_url(&v),
                })
            }
            None if !create => Ok(Posted::NotCreated),
            None => {
                let v: Value = self.call("create the comment", || {
                    self.octocrab.post(&list, Some(&payload))
                })?;
                Ok(Posted::Created {
                    id: v.get("id").and_then(Value::as_u64).unwrap_or(0),
                    url: html_url(&v),
                })
            }
        }
    }
}

impl GitHub {
    /// Creates a completed check run (`POST /repos/{r}/check-runs`) with
    /// `create` as its body, then appends each of `updates` (`PATCH
    /// .../check-runs/{id}`: more annotations, 50 per request). Gives the
    /// run's id and page.
    pub fn check_run(
        &self,
        create: &Value,
        updates: &[Value],
    ) -> Result<(u64, Option<String>), ForgeError> {
        let route = format!("/repos/{}/check-runs", self.repository);
        let v: Value = self.call("create the check run", || {
            self.octocrab.post(&route, Some(create))
        })?;
        let id = v.get("id").and_then(Value::as_u64).unwrap_or(0);
        let one = format!("/repos/{}/check-runs/{id}", self.repository);
        for body in updates {
            let _: Value = self.call("add annotations to the check run", || {
                self.octocrab.patch::<Value, _, _>(&one, Some(body))
            })?;
        }
        Ok((id, html_url(&v)))
    }
}

/// The comment's web address from the API's answer.
fn html_url(v: &Value) -> Option<String> {
    v.get("html_url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string)
}
