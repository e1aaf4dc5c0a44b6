//! Datadog DORA Metrics API v2 (`fixtures/datadog-dora-openapi.yaml`):
//! deployments to `/api/v2/dora/deployment`, incidents to
//! `/api/v2/dora/failure`, `DD-API-KEY` header, nanosecond timestamps.

use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::SinkEvent;
use super::deliver::Prepare;
use crate::event::{Deployment, Incident, is_generated_id_char};
use crate::http::{Prepared, sensitive};

/// Builds the request for `event`, or says why it is not sent.
pub fn prepare(base: &Url, event: &SinkEvent, key: Option<&SecretString>) -> Prepare {
    let (path, body) = match event {
        SinkEvent::Deployment(d) if !d.is_success() => {
            return Prepare::Skip("a failed deploy job is not a deployment for Datadog");
        }
        SinkEvent::Deployment(d) => ("api/v2/dora/deployment", deployment_body(d)),
        SinkEvent::Incident(i) => ("api/v2/dora/failure", failure_body(i)),
        SinkEvent::TestRun(_) => return Prepare::Skip("Datadog DORA has no test runs"),
    };
    let key = match api_key(key) {
        Ok(k) => k,
        Err(e) => return Prepare::Fail(e.to_string()),
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("dd-api-key", key);
    Prepare::Send(Prepared {
        url: join(base, path),
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    })
}

/// Why `DD_API_KEY` cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("DD_API_KEY is not set")]
    Missing,
    #[error(
        "DD_API_KEY is not a valid HTTP header value (a line break or control character in it?)"
    )]
    Invalid,
}

/// `DD_API_KEY` as the header value it is sent in (marked sensitive).
pub fn api_key(key: Option<&SecretString>) -> Result<HeaderValue, KeyProblem> {
    let key = key
        .map(|k| k.expose_secret().trim())
        .filter(|k| !k.is_empty())
        .ok_or(KeyProblem::Missing)?;
    sensitive(key).ok_or(KeyProblem::Invalid)
}

/// `base` + `path`, keeping any path prefix a proxy needs.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{path}"));
    url
}

pub fn deployment_body(d: &Deployment) -> Value {
    let mut a = serde_json::Map::new();
    a.insert("id".into(), json!(datadog_id(&d.id)));
    a.insert("service".into(), json!(d.service));
    a.insert("env".into(), json!(d.env));
    a.insert("started_at".into(), json!(ns(d.started_at)));
    a.insert("finished_at".into(), json!(ns(d.finished_at)));
    // `git` needs both fields, and the sha must be 40+ hex: omit it otherwise.
    // Normalised again: a deployment recorded by an older version may hold
    // its origin remote as it was (`git@host:acme/api.git`).
    if let Some(repo) = d
        .repository_url
        .as_deref()
        .and_then(crate::ci::repository_url)
    {
        if is_full_sha(&d.sha) {
            a.insert(
                "git".into(),
                json!({"commit_sha": d.sha, "repository_url": repo}),
            );
        }
    }
    if let Some(v) = &d.version {
        a.insert("version".into(), json!(v));
    }
    if let Some(t) = &d.team {
        a.insert("team".into(), json!(t));
    }
    let mut tags: Vec<String> = d.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    tags.push(format!("deployment_kind:{}", d.kind));
    tags.truncate(100);
    a.insert("custom_tags".into(), json!(tags));
    json!({"data": {"attributes": a}})
}

pub fn failure_body(i: &Incident) -> Value {
    let mut a = serde_json::Map::new();
    a.insert("id".into(), json!(datadog_id(&i.id)));
    a.insert("services".into(), json!(i.services));
    a.insert("env".into(), json!(i.env));
    a.insert("started_at".into(), json!(ns(i.started_at)));
    if let Some(r) = i.resolved_at {
        a.insert("finished_at".into(), json!(ns(r)));
    }
    a.insert(
        "name".into(),
        json!(
            i.title
                .clone()
                .unwrap_or_else(|| format!("incident {}", i.id))
        ),
    );
    if let Some(s) = &i.severity {
        a.insert("severity".into(), json!(s));
    }
    let mut tags = vec![format!("cause:{}", i.cause)];
    if let Some(d) = &i.deployment_id {
        tags.push(format!("deployment_id:{d}"));
    }
    a.insert("custom_tags".into(), json!(tags));
    json!({"data": {"attributes": a}})
}

/// Unix nanoseconds (the API accepts s, ms or ns; ns is unambiguous).
pub fn ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt()
        .unwrap_or(t.timestamp().saturating_mul(1_000_000_000))
}

pub fn is_full_sha(s: &str) -> bool {
    s.len() >= 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Datadog ids are 16–128 chars of `[A-Za-z0-9._:-]`. Ours is kept when it
/// fits; otherwise a deterministic id: the sanitized id and a hash of the
/// original (so `INC 42` and `INC-42` stay distinct).
pub fn datadog_id(id: &str) -> String {
    let len = id.chars().count();
    if (16..=128).contains(&len) && id.chars().all(is_generated_id_char) {
        return id.to_string();
    }
    let clean: String = id
        .chars()
        .map(|c| if is_generated_id_char(c) { c } else { '-' })
        .take(128 - 17)
        .collect();
    format!("{clean}:{:016x}", crate::event::fnv1a64(id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_the_api() {
        let ok = |s: &str| (16..=128).contains(&s.len()) && s.chars().all(is_generated_id_char);
        assert_eq!(
            datadog_id("gh:org-repo:123:1:api:prod"),
            "gh:org-repo:123:1:api:prod"
        );
        for id in ["INC-42", "INC 42", "x", &"é".repeat(128), &"a".repeat(200)] {
            let d = datadog_id(id);
            assert!(ok(&d), "{id} -> {d}");
            assert_eq!(d, datadog_id(id));
        }
        assert_ne!(datadog_id("INC 42"), datadog_id("INC-42"));
    }

    #[test]
    fn joins_base_paths() {
        let b = Url::parse("http://proxy.local:8080/dd/").unwrap();
        assert_eq!(
            join(&b, "api/v2/dora/deployment").as_str(),
            "http://proxy.local:8080/dd/api/v2/dora/deployment"
        );
        let b = Url::parse("https://api.datadoghq.com").unwrap();
        assert_eq!(
            join(&b, "api/v2/dora/failure").as_str(),
            "https://api.datadoghq.com/api/v2/dora/failure"
        );
    }
}
