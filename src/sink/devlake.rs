//! Apache DevLake incoming webhooks (plugins/webhook, v1.0+ payloads):
//! deployments to `{URL}/deployments` with `id` and `deploymentCommits[]`,
//! incidents to `{URL}/issues` as issues of `type: INCIDENT` with
//! `resolutionDate` once resolved; incidents with `--cause infra` are not
//! sent (DevLake would blame a deployment). `URL` is the webhook connection's
//! endpoint, e.g. `https://lake.example.com/api/rest/plugins/webhook/connections/3`;
//! `DORAMETER_DEVLAKE_TOKEN` is sent as `Authorization: Bearer …`.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::SinkEvent;
use super::deliver::Prepare;
use crate::event::{Deployment, DeploymentStatus, Incident};
use crate::http::{Prepared, sensitive};

pub fn prepare(url: &Url, event: &SinkEvent, token: Option<&SecretString>) -> Prepare {
    let (path, body) = match event {
        SinkEvent::Deployment(d) => ("deployments", deployment_body(d)),
        // DevLake attributes every INCIDENT to the last production
        // deployment before it: an infrastructure incident sent as one would
        // become a change failure dorameter deliberately does not count.
        SinkEvent::Incident(i) if !i.cause.counts_as_change_failure() => {
            return Prepare::Skip(
                "an infra incident is not sent: DevLake would count it as a change failure of the last deployment",
            );
        }
        SinkEvent::Incident(i) => ("issues", issue_body(i)),
        SinkEvent::TestRun(_) => return Prepare::Skip("DevLake's webhook has no test runs"),
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(t) = token.filter(|t| !t.expose_secret().trim().is_empty()) {
        match sensitive(&format!("Bearer {}", t.expose_secret().trim())) {
            Some(v) => {
                headers.insert(AUTHORIZATION, v);
            }
            None => {
                return Prepare::Fail("DORAMETER_DEVLAKE_TOKEN is not a valid header value".into());
            }
        }
    }
    Prepare::Send(Prepared {
        url: super::datadog::join(url, path),
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    })
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// DevLake's environment enum, first match wins: a keyword matches where a
/// word of the name begins (`docs/sinks.md` has the table). The original
/// name travels in `originalEnvironment`.
const ENVIRONMENTS: &[(&str, &[&str])] = &[
    ("STAGING", &["stag", "preprod", "uat"]),
    ("PRODUCTION", &["prod", "live"]),
    ("TESTING", &["test", "qa"]),
];

/// Maps our free-text env to DevLake's enum. DevLake's DORA dashboards
/// count only `PRODUCTION`, so `live-eu` must not fall through to
/// `DEVELOPMENT`; matching at word starts rather than anywhere keeps
/// `nonprod`, `delivery` and `latest` out of the wrong bucket.
pub fn environment(env: &str) -> &'static str {
    let words = words(env);
    ENVIRONMENTS
        .iter()
        .find(|(_, keys)| words.iter().any(|w| keys.iter().any(|k| w.starts_with(k))))
        .map_or("DEVELOPMENT", |(name, _)| name)
}

/// The name's words: lowercase runs of ASCII letters (digits and every other
/// character separate them). `pre` and `non` are read with the word after
/// them, so `pre-prod` is `preprod` and `non-prod` is `nonprod`.
fn words(env: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut prefix = String::new();
    for w in env
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
    {
        if matches!(w, "pre" | "non") {
            prefix.push_str(w);
        } else {
            out.push(format!("{prefix}{w}"));
            prefix.clear();
        }
    }
    if !prefix.is_empty() {
        out.push(prefix);
    }
    out
}

pub fn deployment_body(d: &Deployment) -> Value {
    let result = match d.status {
        DeploymentStatus::Success => "SUCCESS",
        DeploymentStatus::Failure => "FAILURE",
    };
    // `repoUrl` is required, and DevLake links a deployment to the previous
    // one of the same `repoUrl`: one normal form whatever recorded it (an
    // older version stored the origin remote as it was). Without one, the
    // service name is unique enough.
    let repo = d
        .repository_url
        .as_deref()
        .and_then(crate::ci::repository_url)
        .unwrap_or_else(|| d.service.clone());
    let mut commit = json!({
        "repoUrl": repo,
        "commitSha": d.sha,
        "startedDate": rfc(d.started_at),
        "finishedDate": rfc(d.finished_at),
        "result": result,
    });
    // DevLake's `refName` is the branch a pipeline built (its own GitLab and
    // GitHub collectors fill it so), never a release label.
    if let Some(r) = &d.ref_name {
        commit["refName"] = json!(r);
    }
    let title = format!(
        "{} {} to {}",
        d.service,
        d.version
            .as_deref()
            .unwrap_or(&d.sha[..d.sha.len().min(12)]),
        d.env
    );
    json!({
        "id": d.id,
        "name": title,
        "displayTitle": title,
        "result": result,
        "environment": environment(&d.env),
        "originalEnvironment": d.env,
        "createdDate": rfc(d.started_at),
        "startedDate": rfc(d.started_at),
        "finishedDate": rfc(d.finished_at),
        "deploymentCommits": [commit],
    })
}

pub fn issue_body(i: &Incident) -> Value {
    let resolved = i.resolved_at.is_some();
    let mut v = json!({
        "issueKey": i.id,
        "title": i.title.clone().unwrap_or_else(|| format!("incident {}", i.id)),
        "type": "INCIDENT",
        "status": if resolved { "DONE" } else { "IN_PROGRESS" },
        "originalStatus": if resolved { "resolved" } else { "open" },
        "createdDate": rfc(i.started_at),
        "updatedDate": rfc(i.resolved_at.unwrap_or(i.started_at)),
        "component": i.services.join(","),
        "description": format!("cause: {}; env: {}", i.cause, i.env),
    });
    if let Some(r) = i.resolved_at {
        v["resolutionDate"] = json!(rfc(r));
        v["leadTimeMinutes"] = json!(((r - i.started_at).num_seconds().max(0) / 60) as u64);
    }
    if let Some(s) = &i.severity {
        v["severity"] = json!(s);
        v["priority"] = json!(s);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::environment;

    #[test]
    fn environments_match_keywords_at_word_starts() {
        for (env, want) in [
            ("production", "PRODUCTION"),
            ("Production", "PRODUCTION"),
            ("prod", "PRODUCTION"),
            ("prod-eu", "PRODUCTION"),
            ("eu-prod", "PRODUCTION"),
            ("prod2", "PRODUCTION"),
            ("live", "PRODUCTION"),
            // Matched exactly before: these fell through to DEVELOPMENT and
            // out of DevLake's DORA.
            ("live-eu", "PRODUCTION"),
            ("us_live", "PRODUCTION"),
            ("uat", "STAGING"),
            ("uat-2", "STAGING"),
            ("eu/uat", "STAGING"),
            ("qa", "TESTING"),
            ("qa1", "TESTING"),
            ("QA-east", "TESTING"),
            ("staging", "STAGING"),
            ("stage", "STAGING"),
            ("preprod", "STAGING"),
            ("pre-prod", "STAGING"),
            ("pre_production", "STAGING"),
            // STAGING is looked for first.
            ("prod-staging", "STAGING"),
            ("test", "TESTING"),
            ("integration-tests", "TESTING"),
            ("review-123", "DEVELOPMENT"),
            ("dev", "DEVELOPMENT"),
            ("", "DEVELOPMENT"),
            // A keyword inside a word is not a match.
            ("nonprod", "DEVELOPMENT"),
            ("non-prod", "DEVELOPMENT"),
            ("delivery", "DEVELOPMENT"),
            ("latest", "DEVELOPMENT"),
            ("evaluation", "DEVELOPMENT"),
            ("aqua", "DEVELOPMENT"),
        ] {
            assert_eq!(environment(env), want, "{env:?}");
        }
    }
}
