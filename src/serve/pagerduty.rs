//! PagerDuty V3 webhooks: `incident.triggered` opens, `incident.resolved`
//! resolves, `incident.reopened` reopens. The `X-PagerDuty-Signature`
//! (`v1=` HMAC-SHA256 of the raw body; several during a secret's rotation)
//! is checked against every configured secret before anything is read; a
//! delivery whose `X-Webhook-Id` was already taken is answered 200 and
//! changes nothing. Answered within PagerDuty's 5 s.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;

use super::api::{ApiError, ApiResult, Json};
use super::ingest::{GivenIncident, body, incident};
use super::server::Shared;
use crate::settings::defaults;
use crate::sources::{text, time};

/// The answer must reach PagerDuty within 5 s; past this the store's work
/// goes on and the delivery is answered 503 (PagerDuty retries, and the
/// upsert is idempotent).
const ANSWER_WITHIN: Duration = Duration::from_millis(4500);

/// Whether one of the `v1=` signatures of `header` is `body`'s HMAC under
/// one of `secrets` (compared in constant time by the `hmac` crate).
pub fn verify(secrets: &[SecretString], header: Option<&str>, body: &[u8]) -> bool {
    let Some(header) = header else { return false };
    let signatures: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|s| s.trim().strip_prefix("v1="))
        .filter_map(hex)
        .collect();
    secrets.iter().any(|secret| {
        signatures.iter().any(|sig| {
            let Ok(mut mac) =
                <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
            else {
                return false;
            };
            mac.update(body);
            mac.verify_slice(sig).is_ok()
        })
    })
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What an event asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Open,
    Resolve,
    Reopen,
    Ignore,
}

fn incident_of(
    event: &Value,
    now: DateTime<Utc>,
    services: &BTreeMap<String, String>,
) -> Result<(Action, Option<GivenIncident>), String> {
    let kind = text(event, &["event_type"]).ok_or("event.event_type is missing")?;
    let action = match kind.as_str() {
        "incident.triggered" => Action::Open,
        "incident.resolved" => Action::Resolve,
        "incident.reopened" => Action::Reopen,
        _ => return Ok((Action::Ignore, None)),
    };
    let data = event.get("data").ok_or("event.data is missing")?;
    let id = text(data, &["id"]).ok_or("event.data.id is missing")?;
    // As `incident import` names it (sources::pagerduty): the mapped
    // service, else PagerDuty's name for it.
    let service = text(data, &["service", "id"])
        .and_then(|id| services.get(&id).cloned())
        .or_else(|| text(data, &["service", "summary"]))
        .or_else(|| text(data, &["service", "id"]))
        .ok_or("event.data.service is missing")?;
    let occurred = time(event, &["occurred_at"]).unwrap_or(now);
    let started_at = time(data, &["created_at"]).unwrap_or(occurred);
    let resolved_at = match action {
        Action::Resolve => Some(time(data, &["resolved_at"]).unwrap_or(occurred)),
        _ => None,
    };
    Ok((
        action,
        Some(GivenIncident {
            id: format!("pagerduty:{id}"),
            service,
            env: defaults::ENV.into(),
            started_at,
            detected_at: Some(started_at),
            resolving: resolved_at.is_some(),
            reopen: matches!(action, Action::Reopen),
            resolved_at,
            severity: text(data, &["urgency"]),
            title: text(data, &["title"]),
        }),
    ))
}

pub async fn webhook(
    State(s): State<Shared>,
    headers: HeaderMap,
    b: Body,
) -> ApiResult<Json<Value>> {
    let bytes = body(b, s.answers.max_body).await?;
    if s.pagerduty_secrets.is_empty() {
        return Err(ApiError::unauthorized(
            "no PagerDuty signing secret is configured (DORAMETER_PAGERDUTY_WEBHOOK_SECRET)",
        ));
    }
    let signature = headers
        .get("x-pagerduty-signature")
        .and_then(|v| v.to_str().ok());
    if signature.is_none() {
        return Err(ApiError::unauthorized(
            "no X-PagerDuty-Signature header: this endpoint takes PagerDuty's signed V3 webhooks only",
        ));
    }
    if !verify(&s.pagerduty_secrets, signature, &bytes) {
        return Err(ApiError::unauthorized(
            "the X-PagerDuty-Signature does not match the configured secret",
        ));
    }
    let delivery = headers
        .get("x-webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if delivery
        .as_deref()
        .is_some_and(|d| s.webhook_ids.contains(d))
    {
        return Ok(Json(json!({"status": "duplicate", "recorded": false})));
    }
    let payload: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let event = payload
        .get("event")
        .ok_or_else(|| ApiError::bad_request("the body has no event"))?;
    let (action, given) = incident_of(event, s.now(), &s.answers.pagerduty_services)
        .map_err(ApiError::bad_request)?;
    let Some(given) = given else {
        return Ok(Json(json!({"status": "ignored", "recorded": false})));
    };
    debug_assert!(action != Action::Ignore);
    let answer = tokio::time::timeout(ANSWER_WITHIN, incident(&s, given))
        .await
        .map_err(|_| {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                "the store did not answer in time; PagerDuty will retry",
            );
            e.retry_after = Some(1);
            e
        })??;
    if let Some(d) = delivery {
        s.webhook_ids.insert(&d);
    }
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        format!(
            "v1={}",
            tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    #[test]
    fn signatures_verify_under_any_secret_and_any_listed_signature() {
        let body = br#"{"event":{}}"#;
        let secrets = [SecretString::from("old"), SecretString::from("new")];
        let good = sign("new", body);
        assert!(verify(&secrets, Some(&good), body));
        assert!(verify(&secrets, Some(&format!("v1=00ff, {good}")), body));
        assert!(!verify(&secrets, Some(&sign("other", body)), body));
        assert!(!verify(&secrets, Some(&good), br#"{"event":{"x":1}}"#));
        assert!(!verify(&secrets, None, body));
        assert!(!verify(&secrets, Some("v1=zz"), body));
        assert!(!verify(&[], Some(&good), body));
    }

    #[test]
    fn triggered_and_resolved_map_to_open_and_resolve() {
        let event = json!({"event_type": "incident.resolved", "occurred_at": "2026-03-02T10:00:00Z",
            "data": {"id": "PGR0VU2", "created_at": "2026-03-02T09:00:00Z", "title": "DB down",
                "urgency": "high", "service": {"id": "PF9KMXH", "summary": "api"}}});
        let (action, g) = incident_of(&event, Utc::now(), &BTreeMap::new()).unwrap();
        let g = g.unwrap();
        assert_eq!(action, Action::Resolve);
        assert_eq!(g.id, "pagerduty:PGR0VU2");
        assert_eq!(g.service, "api");
        assert_eq!((g.resolved_at.unwrap() - g.started_at).num_minutes(), 60);
        // `[[service]] pagerduty` maps PagerDuty's service, as the import does.
        let mapped = BTreeMap::from([("PF9KMXH".to_string(), "checkout".to_string())]);
        let (_, g) = incident_of(&event, Utc::now(), &mapped).unwrap();
        assert_eq!(g.unwrap().service, "checkout");
        let (action, g) = incident_of(
            &json!({"event_type": "incident.acknowledged"}),
            Utc::now(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(action == Action::Ignore && g.is_none());
        assert!(
            incident_of(
                &json!({"event_type": "incident.triggered"}),
                Utc::now(),
                &BTreeMap::new()
            )
            .is_err()
        );
    }
}
