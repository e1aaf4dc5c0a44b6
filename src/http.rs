//! The one HTTP client every sink and forge uses, and delivery of one request with
//! retries: exponential backoff with jitter on 429, 5xx, network errors and
//! timeouts, honouring `Retry-After` (seconds or an HTTP date, capped), never
//! retrying any other 4xx. Errors carry the response body (truncated) and
//! never a URL with credentials or a header value.

use std::time::{Duration, Instant, SystemTime};

use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use crate::error::chain;

/// Timeouts, retries and concurrency (`DORAMETER_SINK_*`).
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Whole-request timeout, per attempt.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// First backoff delay; doubled per attempt.
    pub backoff: Duration,
    /// Cap on any single wait, `Retry-After` included.
    pub max_delay: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// `DORAMETER_SINK_BUDGET`: the most one command spends delivering to
    /// sinks, retries and waits included. `None` when not set: event
    /// commands then use [`DEFAULT_SINK_BUDGET`], `flush` has no limit.
    pub budget: Option<Duration>,
}

/// The delivery budget of an event command (`deploy`, `incident`, `junit`,
/// `backfill`) when `DORAMETER_SINK_BUDGET` is not set: a sink that accepts
/// connections and never answers costs a deploy job this much, not every
/// attempt's timeout in turn (4 × 10 s).
pub const DEFAULT_SINK_BUDGET: Duration = Duration::from_secs(15);

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            concurrency: 8,
            budget: None,
        }
    }
}

/// The client: `dorameter/<version>`, explicit timeouts, keep-alive pool
/// sized to the concurrency, no redirects (a POST must not turn into a GET
/// somewhere else), rustls only.
pub fn client(s: &HttpSettings) -> Result<Client, ClientError> {
    Client::builder()
        .user_agent(concat!("dorameter/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(s.connect_timeout.min(s.timeout))
        .timeout(s.timeout)
        .pool_max_idle_per_host(s.concurrency.max(1))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_keepalive(Duration::from_secs(30))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError(e.without_url()))
}

/// The HTTP client could not be built (TLS roots, resolver): never the
/// user's input.
#[derive(Debug, thiserror::Error)]
#[error("failed to build the HTTP client")]
pub struct ClientError(#[source] pub reqwest::Error);

/// A request ready to send. Header values with secrets are marked sensitive.
#[derive(Debug)]
pub struct Prepared {
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A header value holding a secret: never printed by `Debug`.
pub fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// How one delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered { status: u16 },
    /// A status that retrying cannot fix (4xx other than 408/429, 3xx).
    Rejected { status: u16, message: String },
    /// 429/5xx/network/timeouts, still failing after every retry.
    Unavailable { message: String },
    /// The delivery budget ran out before an answer (or before the next
    /// retry): not the sink's verdict, the record waits for a later run.
    /// `message` is the last attempt's failure; `None`: never attempted.
    OutOfTime { message: Option<String> },
}

/// A small xorshift generator for jitter: no dependency, no global state.
pub struct Jitter(u64);

impl Jitter {
    pub fn new(salt: u64) -> Jitter {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Jitter((t ^ salt.rotate_left(17) ^ u64::from(std::process::id())) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[d/2, d]` ("equal jitter": spreads retries, keeps a floor).
    pub fn spread(&mut self, d: Duration) -> Duration {
        let half = d / 2;
        let ns = half.as_nanos() as u64;
        half + Duration::from_nanos(if ns == 0 { 0 } else { self.next() % (ns + 1) })
    }
}

/// The wait before retry number `attempt` (0-based): `Retry-After` when the
/// server sent one, else `backoff × 2^attempt` with jitter; capped.
pub fn delay(
    s: &HttpSettings,
    attempt: u32,
    retry_after: Option<Duration>,
    j: &mut Jitter,
) -> Duration {
    match retry_after {
        Some(d) => d.min(s.max_delay),
        None => {
            let exp = s.backoff.saturating_mul(1u32 << attempt.min(16));
            j.spread(exp.min(s.max_delay))
        }
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(Duration::from_secs);
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(when.timestamp()).ok()?);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// Sends `p`, retrying what can be retried. `scrub` removes any secret a
/// server may echo back. Nothing runs past `deadline`: an attempt's timeout
/// is cut to the time left, and a retry that would start after it is not
/// made ([`Outcome::OutOfTime`]).
pub fn send(
    client: &Client,
    p: &Prepared,
    s: &HttpSettings,
    j: &mut Jitter,
    scrub: &dyn Fn(String) -> String,
    deadline: Option<Instant>,
) -> Outcome {
    let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    // `last`: the failure of the last attempt that ran its course.
    let out_of_time = |attempts: u32, last: Option<String>| {
        let tries = format!("{attempts} attempt{}", if attempts == 1 { "" } else { "s" });
        Outcome::OutOfTime {
            message: match (attempts, last) {
                (0, _) => None,
                (_, Some(m)) => Some(format!("{m}; then the delivery budget ran out ({tries})")),
                (_, None) => Some(format!(
                    "no answer before the delivery budget ran out ({tries})"
                )),
            },
        }
    };
    let mut attempt = 0;
    let mut last: Option<String> = None;
    loop {
        let timeout = match left() {
            Some(d) if d.is_zero() => return out_of_time(attempt, last),
            Some(d) => d.min(s.timeout),
            None => s.timeout,
        };
        let result = client
            .post(p.url.clone())
            .headers(p.headers.clone())
            .body(p.body.clone())
            .timeout(timeout)
            .send();
        let (message, retry_after) = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                // Read the body either way: the connection goes back to the pool.
                let body = read_capped(resp);
                if (200..300).contains(&status) {
                    return Outcome::Delivered { status };
                }
                let message = scrub(format!("HTTP {status}{}", api_message(&body)));
                if !retryable(status) {
                    return Outcome::Rejected { status, message };
                }
                (message, retry_after)
            }
            // An attempt cut short by the budget: its timeout says nothing
            // about the sink.
            Err(e) if e.is_timeout() && timeout < s.timeout => {
                return out_of_time(attempt + 1, last);
            }
            Err(e) => {
                let what = if e.is_timeout() {
                    format!("timed out after {}", shown(timeout))
                } else if e.is_connect() {
                    format!("could not connect: {}", chain(&e.without_url()))
                } else {
                    chain(&e.without_url())
                };
                (scrub(what), None)
            }
        };
        if attempt >= s.retries {
            let tries = attempt + 1;
            return Outcome::Unavailable {
                message: format!(
                    "{message} (after {tries} attempt{})",
                    if tries == 1 { "" } else { "s" }
                ),
            };
        }
        let wait = delay(s, attempt, retry_after, j);
        attempt += 1;
        if left().is_some_and(|l| l <= wait) {
            return out_of_time(attempt, Some(message));
        }
        last = Some(message);
        std::thread::sleep(wait);
    }
}

/// A duration as the `DORAMETER_SINK_*` settings are written: `10s`,
/// `4.5s`, `250ms`.
pub fn shown(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn read_capped(resp: reqwest::blocking::Response) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut resp = resp;
    let _ = resp.by_ref().take(64 * 1024).read_to_end(&mut buf);
    // Drain the rest so the connection can be reused.
    let _ = std::io::copy(&mut resp, &mut std::io::sink());
    String::from_utf8_lossy(&buf).into_owned()
}

/// The API's own words: JSON:API `errors` (Datadog: `{"errors": ["…"]}`),
/// `message`, else the body's text, truncated.
fn api_message(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => {
            let from_errors = v.get("errors").and_then(|e| e.as_array()).map(|errs| {
                errs.iter()
                    .map(|e| match e {
                        serde_json::Value::String(s) => s.clone(),
                        other => ["detail", "title", "message"]
                            .iter()
                            .find_map(|k| other.get(k).and_then(|x| x.as_str()).map(String::from))
                            .unwrap_or_else(|| other.to_string()),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            from_errors
                .or_else(|| v.get("message").and_then(|m| m.as_str()).map(String::from))
                .unwrap_or_else(|| body.to_string())
        }
        Err(_) => body.to_string(),
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(300).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    format!(": {cut}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let s = HttpSettings {
            backoff: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..HttpSettings::default()
        };
        let mut j = Jitter::new(1);
        for attempt in 0..8 {
            let d = delay(&s, attempt, None, &mut j);
            let exp = (Duration::from_millis(100) * (1 << attempt)).min(Duration::from_secs(1));
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d:?}");
        }
        assert_eq!(
            delay(&s, 0, Some(Duration::from_secs(3600)), &mut j),
            Duration::from_secs(1)
        );
        assert_eq!(
            delay(&s, 0, Some(Duration::from_millis(300)), &mut j),
            Duration::from_millis(300)
        );
    }

    /// A server that accepts and never answers costs the time left, not
    /// every attempt's timeout in turn.
    #[test]
    fn a_deadline_cuts_attempts_and_retries_short() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        std::thread::spawn(move || {
            // Keep every connection open, unanswered, until the test ends.
            let mut open = Vec::new();
            for stream in listener.incoming().take(2) {
                open.push(stream);
            }
            std::thread::sleep(Duration::from_secs(3));
        });
        let start = Instant::now();
        let outcome = post_by(&url, start + Duration::from_millis(700));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(600) && took < Duration::from_secs(2),
            "{took:?}"
        );
        match outcome {
            Outcome::OutOfTime { message: Some(m) } => {
                assert_eq!(
                    m,
                    "no answer before the delivery budget ran out (1 attempt)"
                );
            }
            other => panic!("{other:?}"),
        }
        // Past the deadline nothing is attempted at all.
        let outcome = post_by(&url, Instant::now());
        assert_eq!(outcome, Outcome::OutOfTime { message: None });
    }

    /// `{}` posted to `url` with the default settings, by `deadline`.
    fn post_by(url: &Url, deadline: Instant) -> Outcome {
        let s = HttpSettings::default();
        let p = Prepared {
            url: url.clone(),
            headers: HeaderMap::new(),
            body: b"{}".to_vec(),
        };
        let client = client(&s).unwrap();
        send(&client, &p, &s, &mut Jitter::new(7), &|m| m, Some(deadline))
    }

    /// A retry that would start after the deadline is not waited for.
    #[test]
    fn a_retry_past_the_deadline_is_not_waited_for() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let _ = stream.read(&mut [0u8; 4096]);
                let _ = stream.write_all(
                    b"HTTP/1.1 503 Unavailable\r\nretry-after: 5\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        let start = Instant::now();
        let outcome = post_by(&url, start + Duration::from_secs(2));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            outcome,
            Outcome::OutOfTime {
                message: Some("HTTP 503; then the delivery budget ran out (1 attempt)".into())
            }
        );
    }

    #[test]
    fn durations_are_shown_as_settings_are_written() {
        assert_eq!(shown(Duration::from_secs(10)), "10s");
        assert_eq!(shown(Duration::from_millis(4_480)), "4.5s");
        assert_eq!(shown(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn api_messages() {
        assert_eq!(api_message(r#"{"errors":["Forbidden"]}"#), ": Forbidden");
        assert_eq!(
            api_message(r#"{"errors":[{"title":"Bad Request","detail":"invalid sha"}]}"#),
            ": invalid sha"
        );
        assert_eq!(api_message(""), "");
        assert!(api_message(&"x".repeat(1000)).len() < 320);
    }

    #[test]
    fn sensitive_headers_are_hidden_from_debug() {
        let mut h = HeaderMap::new();
        h.insert("dd-api-key", sensitive("abc123").unwrap());
        assert!(!format!("{h:?}").contains("abc123"));
    }
}
