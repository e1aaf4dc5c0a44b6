//! Generic webhook: one POST per event, body
//! `{"type": "deployment|incident|test_run", "id": "…", "data": {…}}`,
//! signed with `X-Dorameter-Signature: sha256=<hex HMAC-SHA256 of the body>`
//! when `DORAMETER_WEBHOOK_SECRET` is set.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;

use super::SinkEvent;
use super::deliver::Prepare;
use crate::http::Prepared;

pub const SIGNATURE_HEADER: &str = "x-dorameter-signature";

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    data: Data<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Deployment(&'a crate::event::Deployment),
    Incident(&'a crate::event::Incident),
    TestRun(&'a crate::event::TestRun),
}

pub fn body(event: &SinkEvent) -> Vec<u8> {
    let data = match event {
        SinkEvent::Deployment(d) => Data::Deployment(d),
        SinkEvent::Incident(i) => Data::Incident(i),
        SinkEvent::TestRun(t) => Data::TestRun(t),
    };
    serde_json::to_vec(&Body {
        kind: event.kind(),
        id: event.id(),
        data,
    })
    .unwrap_or_default()
}

/// `sha256=` + lowercase hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in tag.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

pub fn prepare(
    url: &Url,
    event: &SinkEvent,
    revision: &str,
    secret: Option<&SecretString>,
) -> Prepare {
    let body = body(event);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-dorameter-event", HeaderValue::from_static(event.kind()));
    // Receivers dedupe on this: every send of one revision of an event (a
    // retry of an unanswered request, a replay by a later run) carries it.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}:{}",
        super::datadog::datadog_id(event.id()),
        revision
    )) {
        headers.insert("idempotency-key", v);
    }
    if let Some(secret) = secret.filter(|s| !s.expose_secret().is_empty()) {
        if let Ok(v) = HeaderValue::from_str(&signature(secret, &body)) {
            headers.insert(SIGNATURE_HEADER, v);
        }
    }
    Prepare::Send(Prepared {
        url: url.clone(),
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let key = SecretString::from("Jefe");
        assert_eq!(
            signature(&key, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
