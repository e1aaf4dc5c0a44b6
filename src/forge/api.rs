//! Requests to a forge API: the token in a sensitive header, explicit
//! timeouts (the sink client), retries on 429/5xx with backoff, `Link:
//! rel="next"` pagination that never leaves the API's origin, and errors
//! that carry the API's message but never the token.

use std::time::SystemTime;

use reqwest::Url;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{HeaderMap, LINK, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::chain as error_chain;
use crate::http::{self, HttpSettings, Jitter};

/// Why the comment could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// 401: the token is wrong or expired.
    #[error("the {forge} API rejected the token (HTTP 401){message}")]
    Unauthorized {
        forge: &'static str,
        message: String,
    },
    /// 403: typically a read-only token (pull requests from forks).
    #[error("the {forge} token is not allowed to do this (HTTP 403){message}")]
    Forbidden {
        forge: &'static str,
        message: String,
    },
    #[error("{what} failed: HTTP {status}{message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    /// The transport failed. `message` is the error chain as text with any
    /// secret a server echoed scrubbed out, so it is not kept as a source.
    #[error("{what} failed: {message}")]
    Network { what: String, message: String },
    #[error(transparent)]
    Client(#[from] crate::http::ClientError),
    #[error("invalid API URL '{url}': {message}")]
    Url { url: String, message: String },
    #[error("unexpected answer from {what}: {message}")]
    Response { what: String, message: String },
}

impl ForgeError {
    /// A refusal the user must fix (a token, a permission, a URL, a
    /// repository), not an API that is down or throttling.
    pub fn is_refusal(&self) -> bool {
        match self {
            ForgeError::Unauthorized { .. }
            | ForgeError::Forbidden { .. }
            | ForgeError::Url { .. } => true,
            ForgeError::Status { status, .. } => (400..500).contains(status) && *status != 429,
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ForgeError::Unauthorized { forge, .. } => Some(format!(
                "check the token given to --{}-token",
                forge.to_lowercase()
            )),
            ForgeError::Forbidden { .. } => Some(
                "the token lacks a permission this needs; pull requests from forks get a read-only token".into(),
            ),
            _ => None,
        }
    }
}

/// What happened to the comment. `url` is the comment's web address when
/// the API answers with one (GitHub's `html_url`; GitLab's note API has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    Created {
        id: u64,
        url: Option<String>,
    },
    Updated {
        id: u64,
        url: Option<String>,
    },
    /// No comment carried the marker, and none was to be created.
    NotCreated,
}

/// One API: base URL, auth header and client.
pub struct Api {
    pub forge: &'static str,
    pub base: Url,
    client: Client,
    settings: HttpSettings,
    headers: HeaderMap,
    token: SecretString,
}

pub struct Page {
    pub items: Vec<Value>,
    pub next: Option<Url>,
}

impl Api {
    pub fn new(
        forge: &'static str,
        base: &str,
        auth_header: &'static str,
        auth_value: String,
        token: SecretString,
        extra: &[(&'static str, &'static str)],
        settings: HttpSettings,
    ) -> Result<Api, ForgeError> {
        let mut text = base.trim_end_matches('/').to_string();
        text.push('/');
        let base = Url::parse(&text).map_err(|e| ForgeError::Url {
            url: base
                .split(['@', '?'])
                .next_back()
                .unwrap_or_default()
                .to_string(),
            message: e.to_string(),
        })?;
        let client = http::client(&settings)?;
        let mut headers = HeaderMap::new();
        let value = http::sensitive(&auth_value).ok_or_else(|| ForgeError::Unauthorized {
            forge,
            message: ": the token contains characters not allowed in a header".into(),
        })?;
        headers.insert(auth_header, value);
        for (k, v) in extra {
            headers.insert(*k, reqwest::header::HeaderValue::from_static(v));
        }
        Ok(Api {
            forge,
            base,
            client,
            settings,
            headers,
            token,
        })
    }

    /// `path` relative to the base (no leading slash).
    pub fn url(&self, path: &str) -> Result<Url, ForgeError> {
        self.base.join(path).map_err(|e| ForgeError::Url {
            url: path.to_string(),
            message: e.to_string(),
        })
    }

    /// `s` without the token, as given or percent-encoded (a server may
    /// echo the query or form it was sent in).
    fn scrub(&self, s: String) -> String {
        let t = self.token.expose_secret().trim();
        if t.len() < 4 {
            return s;
        }
        let encoded = |upper: bool| -> String {
            t.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ if upper => format!("%{b:02X}"),
                    _ => format!("%{b:02x}"),
                })
                .collect()
        };
        let mut s = s.replace(t, "***");
        for e in [encoded(true), encoded(false)] {
            s = s.replace(&e, "***");
        }
        s
    }

    /// Sends with retries on 429/5xx/network errors; returns the status,
    /// the headers and the JSON body of a 2xx answer.
    fn send(
        &self,
        what: &str,
        build: &dyn Fn() -> RequestBuilder,
    ) -> Result<(HeaderMap, Value), ForgeError> {
        let mut jitter = Jitter::new(0x_f0_e6_e0);
        let mut attempt = 0;
        loop {
            let (message, retry_after) = match build().headers(self.headers.clone()).send() {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| http::parse_retry_after(v, SystemTime::now()));
                    let text = resp.text().unwrap_or_default();
                    if (200..300).contains(&status) {
                        let body = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| ForgeError::Response {
                                what: what.to_string(),
                                message: e.to_string(),
                            })?
                        };
                        return Ok((headers, body));
                    }
                    let message = self.scrub(api_message(&text));
                    // GitHub's secondary rate limit is a 403 that says when
                    // to come back (Retry-After, or no requests left until
                    // X-RateLimit-Reset): waited for, not a refusal.
                    let limited = status == 403
                        && (retry_after.is_some()
                            || headers
                                .get("x-ratelimit-remaining")
                                .is_some_and(|v| v.as_bytes() == b"0"));
                    let retry_after = retry_after
                        .or_else(|| limited.then(|| rate_limit_reset(&headers)).flatten());
                    match status {
                        403 if limited => {
                            (format!("HTTP 403 (rate limited){message}"), retry_after)
                        }
                        401 => {
                            return Err(ForgeError::Unauthorized {
                                forge: self.forge,
                                message,
                            });
                        }
                        403 => {
                            return Err(ForgeError::Forbidden {
                                forge: self.forge,
                                message,
                            });
                        }
                        s if s == 408 || s == 429 || s >= 500 => {
                            (format!("HTTP {s}{message}"), retry_after)
                        }
                        s => {
                            return Err(ForgeError::Status {
                                what: what.to_string(),
                                status: s,
                                message,
                            });
                        }
                    }
                }
                Err(e) => {
                    let m = if e.is_timeout() {
                        format!("timed out after {:?}", self.settings.timeout)
                    } else {
                        error_chain(&e.without_url())
                    };
                    (self.scrub(m), None)
                }
            };
            if attempt >= self.settings.retries {
                return Err(ForgeError::Network {
                    what: what.to_string(),
                    message: format!(
                        "{message} (after {})",
                        crate::render::count(u64::from(attempt) + 1, "attempt")
                    ),
                });
            }
            std::thread::sleep(http::delay(
                &self.settings,
                attempt,
                retry_after,
                &mut jitter,
            ));
            attempt += 1;
        }
    }

    pub fn get(&self, what: &str, url: &Url) -> Result<Value, ForgeError> {
        Ok(self.send(what, &|| self.client.get(url.clone()))?.1)
    }

    /// One page of a list, and the next page's URL when the server gives
    /// one on the same origin (a token never goes to another host).
    pub fn get_page(&self, what: &str, url: &Url) -> Result<Page, ForgeError> {
        let (headers, body) = self.send(what, &|| self.client.get(url.clone()))?;
        let items = match body {
            Value::Array(items) => items,
            _ => {
                return Err(ForgeError::Response {
                    what: what.to_string(),
                    message: "expected a JSON array".into(),
                });
            }
        };
        let next = headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link)
            .and_then(|u| url.join(&u).ok())
            .or_else(|| next_page(&headers, url))
            .filter(|u| u.origin() == self.base.origin());
        Ok(Page { items, next })
    }

    pub fn send_json(
        &self,
        what: &str,
        method: reqwest::Method,
        url: &Url,
        body: &Value,
    ) -> Result<Value, ForgeError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        Ok(self
            .send(what, &|| {
                self.client
                    .request(method.clone(), url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone())
            })?
            .1)
    }
}

/// How long until `X-RateLimit-Reset` (epoch seconds), when given.
fn rate_limit_reset(headers: &HeaderMap) -> Option<std::time::Duration> {
    let reset: u64 = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(std::time::Duration::from_secs(
        reset.saturating_sub(now).max(1),
    ))
}

/// GitLab's `X-Next-Page` (a page number; empty on the last page), for
/// the lists it answers without a `Link` header: `url` with that `page`.
fn next_page(headers: &HeaderMap, url: &Url) -> Option<Url> {
    let page = headers
        .get("x-next-page")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    let mut next = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    next.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("page", &page.to_string());
    Some(next)
}

/// The `rel="next"` target of a `Link` header (RFC 8288).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let target = target.strip_prefix('<')?.strip_suffix('>')?;
        pieces
            .any(|p| {
                let p = p.trim();
                p.strip_prefix("rel=").is_some_and(|r| {
                    r.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
            })
            .then(|| target.to_string())
    })
}

/// An API's error message as `": message"`, on one line, at most 300
/// characters; empty when there is none.
pub(super) fn detail(message: &str) -> String {
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return String::new();
    }
    let mut cut: String = one_line.chars().take(300).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    format!(": {cut}")
}

fn api_message(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let text = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error"))
                .map(|m| match m {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
        })
        .unwrap_or_else(|| body.to_string());
    detail(&text)
}

/// The body of a comment/note that is ours: carries the marker and was
/// written by `me`.
pub fn is_ours(body: Option<&str>, marker: &str, author_matches: bool) -> bool {
    author_matches && body.is_some_and(|b| b.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let h = r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        assert_eq!(next_link(r#"<https://a/x?page=1>; rel="prev""#), None);
    }
}
