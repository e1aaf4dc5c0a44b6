//! Bearer tokens with read and write scopes, compared in constant time and
//! never logged (SPEC §9), and per-caller rate limits with the seed's
//! `X-RateLimit-*` headers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    /// Records events (webhooks), and reads.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// One configured token: only its digest is kept.
struct Token {
    name: String,
    scope: Scope,
    digest: [u8; 32],
}

/// Who is calling: a token's name (never the token) or an anonymous address.
#[derive(Clone, Debug)]
pub struct Caller {
    /// For logs and rate limits: `read#1`, a name from the tokens file, or
    /// `anonymous`.
    pub name: String,
    pub scope: Option<Scope>,
    /// The rate-limit bucket.
    key: String,
}

impl Caller {
    pub fn may(&self, want: Scope) -> bool {
        self.scope.is_some_and(|s| s >= want)
    }
}

/// A presented credential that matches no token.
#[derive(Debug)]
pub struct BadToken;

pub struct Tokens {
    tokens: Vec<Token>,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl Tokens {
    /// `SCOPE:TOKEN` entries separated by commas or newlines
    /// (`DORAMETER_API_TOKENS`), and `SCOPE TOKEN [NAME]` lines of a tokens
    /// file (`#` comments). `origin` names where they came from in errors;
    /// a token is never repeated in one.
    pub fn parse(env: Option<&SecretString>, file: Option<(&str, &str)>) -> Result<Tokens> {
        let mut tokens = Vec::new();
        let mut add = |scope: &str, token: &str, name: Option<&str>, origin: &str| {
            let scope = match scope.trim() {
                "read" => Scope::Read,
                "write" => Scope::Write,
                other => {
                    return Err(Error::usage_hint(
                        format!("invalid token scope '{other}' in {origin}"),
                        "give each token as SCOPE:TOKEN (DORAMETER_API_TOKENS) or `SCOPE TOKEN [NAME]` (tokens file), SCOPE read or write",
                    ));
                }
            };
            let token = token.trim();
            if token.len() < 8 {
                return Err(Error::usage_hint(
                    format!(
                        "a {} token in {origin} is shorter than 8 characters",
                        scope.as_str()
                    ),
                    "use long random tokens, e.g. `openssl rand -hex 32`",
                ));
            }
            let n = tokens.len() + 1;
            if tokens.iter().any(|t: &Token| t.digest == digest(token)) {
                return Err(Error::usage_hint(
                    format!("a token in {origin} is given twice"),
                    "give each token once, with the widest scope it needs (write also reads)",
                ));
            }
            tokens.push(Token {
                name: name.map_or_else(|| format!("{}#{n}", scope.as_str()), str::to_string),
                scope,
                digest: digest(token),
            });
            Ok(())
        };
        if let Some(env) = env {
            for entry in env
                .expose_secret()
                .split([',', '\n'])
                .map(str::trim)
                .filter(|e| !e.is_empty())
            {
                let origin = crate::env_vars::API_TOKENS;
                let Some((scope, token)) = entry.split_once(':') else {
                    return Err(Error::usage_hint(
                        format!("an entry of {origin} is not SCOPE:TOKEN"),
                        "give DORAMETER_API_TOKENS as read:TOKEN,write:TOKEN",
                    ));
                };
                add(scope, token, None, origin)?;
            }
        }
        if let Some((path, text)) = file {
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let origin = format!("{path}:{}", i + 1);
                let mut parts = line.split_whitespace();
                let (Some(scope), Some(token)) = (parts.next(), parts.next()) else {
                    return Err(Error::usage_hint(
                        format!("line {origin} is not `SCOPE TOKEN [NAME]`"),
                        "write one token per line: `read TOKEN dashboards` or `write TOKEN argocd`",
                    ));
                };
                add(scope, token, parts.next(), &origin)?;
            }
        }
        Ok(Tokens { tokens })
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn any_write(&self) -> bool {
        self.tokens.iter().any(|t| t.scope == Scope::Write)
    }

    /// The caller a request's credential names: the `Authorization` header's
    /// bearer token (or a Basic password, for browsers on the dashboard).
    /// Every token is compared, in constant time, whatever matches.
    pub fn caller(&self, authorization: Option<&str>, peer: IpAddr) -> Result<Caller, BadToken> {
        let Some(presented) = authorization.and_then(credential) else {
            return Ok(Caller {
                name: "anonymous".into(),
                scope: None,
                key: format!("anonymous:{peer}"),
            });
        };
        let d = digest(&presented);
        let mut found: Option<&Token> = None;
        for t in &self.tokens {
            if constant_time_eq(&t.digest, &d) {
                found = Some(t);
            }
        }
        let t = found.ok_or(BadToken)?;
        Ok(Caller {
            name: t.name.clone(),
            scope: Some(t.scope),
            key: format!("token:{}", t.name),
        })
    }
}

/// The token of `Bearer TOKEN`, or the password of `Basic base64(user:TOKEN)`.
fn credential(header: &str) -> Option<String> {
    let (kind, rest) = header.trim().split_once(' ')?;
    if kind.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string()).filter(|t| !t.is_empty());
    }
    if kind.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_string()).filter(|t| !t.is_empty());
    }
    None
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

/// Requests allowed per period; `None`: unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub requests: u64,
    pub period: Duration,
}

impl Limit {
    /// `5000/h`, `100/min`, `10/s`, `1000/d`, or `off`.
    pub fn parse(origin: &str, s: &str) -> Result<Option<Limit>> {
        let s = s.trim();
        if s == "off" || s == "0" {
            return Ok(None);
        }
        let bad = || {
            Error::usage_hint(
                format!("invalid rate limit '{s}' in {origin}"),
                "give REQUESTS/PERIOD with PERIOD s, min, h or d (e.g. 5000/h), or off",
            )
        };
        let (n, per) = s.split_once('/').ok_or_else(bad)?;
        let requests: u64 = n.trim().parse().map_err(|_| bad())?;
        let secs = match per.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(bad()),
        };
        if requests == 0 {
            return Ok(None);
        }
        Ok(Some(Limit {
            requests,
            period: Duration::from_secs(secs),
        }))
    }
}

/// The rate-limit headers of one answer.
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds when the window starts over.
    pub reset: u64,
    /// The request went over the limit.
    pub exceeded: bool,
}

/// Fixed windows per caller, as GitHub's API counts: the first request
/// starts a window of `period`; `requests` are allowed in it.
pub struct Limiter {
    tokens: Option<Limit>,
    anonymous: Option<Limit>,
    windows: Mutex<HashMap<String, (u64, u64)>>,
}

impl Limiter {
    pub fn new(tokens: Option<Limit>, anonymous: Option<Limit>) -> Limiter {
        Limiter {
            tokens,
            anonymous,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of `caller`; `None` when its kind is unlimited.
    pub fn take(&self, caller: &Caller) -> Option<Quota> {
        let limit = if caller.scope.is_some() {
            self.tokens?
        } else {
            self.anonymous?
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut windows = self.windows.lock().ok()?;
        if windows.len() > 100_000 {
            // Anonymous addresses are unbounded: forget ended windows.
            windows.retain(|_, (_, reset)| *reset > now);
        }
        let w = windows
            .entry(caller.key.clone())
            .or_insert((0, now + limit.period.as_secs()));
        if w.1 <= now {
            *w = (0, now + limit.period.as_secs());
        }
        let exceeded = w.0 >= limit.requests;
        if !exceeded {
            w.0 += 1;
        }
        Some(Quota {
            limit: limit.requests,
            remaining: limit.requests - w.0,
            reset: w.1,
            exceeded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(env: &str) -> Tokens {
        Tokens::parse(Some(&SecretString::from(env.to_string())), None).unwrap()
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn bearer_and_basic_name_the_token_and_its_scope() {
        let t = tokens("read:readtoken1, write:writetoken2");
        let c = t.caller(Some("Bearer readtoken1"), LOCAL).unwrap();
        assert_eq!((c.name.as_str(), c.scope), ("read#1", Some(Scope::Read)));
        assert!(c.may(Scope::Read) && !c.may(Scope::Write));
        let c = t.caller(Some("bearer  writetoken2 "), LOCAL).unwrap();
        assert!(c.may(Scope::Read) && c.may(Scope::Write));
        // `x:writetoken2` in base64.
        let c = t.caller(Some("Basic eDp3cml0ZXRva2VuMg=="), LOCAL).unwrap();
        assert_eq!(c.scope, Some(Scope::Write));
        assert!(t.caller(Some("Bearer readtoken2"), LOCAL).is_err());
        assert!(t.caller(Some("Bearer "), LOCAL).unwrap().scope.is_none());
        assert!(t.caller(None, LOCAL).unwrap().scope.is_none());
    }

    #[test]
    fn bad_token_settings_name_where_they_came_from_never_the_token() {
        let e = Tokens::parse(
            Some(&SecretString::from("admin:averysecretvalue".to_string())),
            None,
        )
        .err()
        .unwrap();
        let text = format!("{e} {}", e.hint().unwrap_or_default());
        assert!(
            text.contains("DORAMETER_API_TOKENS") && text.contains("'admin'"),
            "{text}"
        );
        assert!(!text.contains("averysecretvalue"), "{text}");
        let e = Tokens::parse(None, Some(("tokens.txt", "# ok\nread short\n")))
            .err()
            .unwrap();
        assert!(e.to_string().contains("tokens.txt:2"), "{e}");
        let t = Tokens::parse(None, Some(("f", "write abcdefghij argocd\n"))).unwrap();
        let c = t.caller(Some("Bearer abcdefghij"), LOCAL).unwrap();
        assert_eq!(c.name, "argocd");
    }

    #[test]
    fn limits_count_per_caller_in_fixed_windows() {
        let l = Limiter::new(
            Limit::parse("x", "2/h").unwrap(),
            Limit::parse("y", "off").unwrap(),
        );
        let t = tokens("read:readtoken1");
        let c = t.caller(Some("Bearer readtoken1"), LOCAL).unwrap();
        let a = l.take(&c).unwrap();
        assert_eq!((a.limit, a.remaining, a.exceeded), (2, 1, false));
        assert_eq!(l.take(&c).unwrap().remaining, 0);
        let over = l.take(&c).unwrap();
        assert!(over.exceeded && over.remaining == 0 && over.reset >= a.reset);
        let anon = t.caller(None, LOCAL).unwrap();
        assert!(l.take(&anon).is_none());
        assert!(Limit::parse("--rate-limit", "5/fortnight").is_err());
        assert_eq!(
            Limit::parse("x", "100/min").unwrap().unwrap().period,
            Duration::from_secs(60)
        );
    }
}
