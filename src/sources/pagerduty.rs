//! PagerDuty's REST API v2 `GET /incidents`, sorted by creation, in
//! windows of at most [`WINDOW_DAYS`] (the API searches at most six months
//! at a time) and pages of 100 by offset. An offset may not pass 10,000:
//! a window with more incidents goes on from the last creation time read.
//!
//! The cursor is a time: every incident created since is read again. After
//! an import it is the creation time of the earliest incident still open
//! (so that its resolution is read later), else the import's end. A rerun
//! with nothing new is one request.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{Fetched, Imported, api_time, text, time};
use crate::forge::ForgeError;
use crate::forge::api::Api;
use crate::http::HttpSettings;

pub const DEFAULT_URL: &str = "https://api.pagerduty.com";
/// Incidents per page: the API's maximum.
const LIMIT: usize = 100;
/// The API refuses an offset past this (classic pagination).
const MAX_OFFSET: usize = 10_000;
/// Days searched per request window (the API's maximum is six months).
pub const WINDOW_DAYS: i64 = 90;
/// Minutes before the import's end where the next import starts.
const OVERLAP_MINUTES: i64 = 5;

pub struct PagerDuty {
    api: Api,
    /// PagerDuty service id → dorameter service (`[[service]] pagerduty`).
    /// When not empty, only these services' incidents are read.
    services: BTreeMap<String, String>,
    /// The service of an incident whose PagerDuty service is not mapped
    /// (`--service`); without it, the PagerDuty service's name (as `serve`'s
    /// webhook records it).
    fallback: Option<String>,
}

impl PagerDuty {
    pub fn new(
        base: &str,
        token: SecretString,
        services: BTreeMap<String, String>,
        fallback: Option<String>,
        http: HttpSettings,
    ) -> Result<PagerDuty, ForgeError> {
        let value = format!("Token token={}", token.expose_secret().trim());
        let api = Api::new(
            "PagerDuty",
            base,
            "authorization",
            value,
            token,
            &[("accept", "application/vnd.pagerduty+json;version=2")],
            http,
        )?;
        Ok(PagerDuty {
            api,
            services,
            fallback,
        })
    }

    /// The cursor's key in the store: the API and the services read (a
    /// new mapping starts over from `--since`).
    pub fn source(&self) -> String {
        let mut key = format!("pagerduty {}", self.api.base.as_str().trim_end_matches('/'));
        if !self.services.is_empty() {
            key.push(' ');
            key.push_str(&self.services.keys().cloned().collect::<Vec<_>>().join(","));
        }
        key
    }

    fn list_url(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        offset: usize,
    ) -> Result<reqwest::Url, ForgeError> {
        let mut url = self.api.url("incidents")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("since", &api_time(since))
                .append_pair("until", &api_time(until))
                .append_pair("time_zone", "UTC")
                .append_pair("sort_by", "created_at:asc")
                .append_pair("limit", &LIMIT.to_string())
                .append_pair("offset", &offset.to_string())
                .append_pair("total", "false");
            for id in self.services.keys() {
                q.append_pair("service_ids[]", id);
            }
        }
        Ok(url)
    }

    /// Every incident created in `[since, until)`.
    pub fn fetch(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Fetched, ForgeError> {
        let what = "list PagerDuty incidents";
        let mut out = Fetched::default();
        let mut seen = HashSet::new();
        let mut earliest_open: Option<DateTime<Utc>> = None;
        let mut from = since;
        while from < until {
            let to = (from + Duration::days(WINDOW_DAYS)).min(until);
            let mut offset = 0;
            let mut next_from = to;
            loop {
                let body = self.api.get(what, &self.list_url(from, to, offset)?)?;
                out.requests += 1;
                let items = body
                    .get("incidents")
                    .and_then(Value::as_array)
                    .ok_or_else(|| ForgeError::Response {
                        what: what.into(),
                        message: "no `incidents` array".into(),
                    })?;
                let mut last_created = None;
                for item in items {
                    let read = self.incident(item);
                    if let Ok(i) = &read {
                        last_created = Some(i.started_at);
                        if i.resolved_at.is_none() {
                            earliest_open =
                                Some(earliest_open.map_or(i.started_at, |t| t.min(i.started_at)));
                        }
                    }
                    let id = text(item, &["id"]).unwrap_or_default();
                    if !seen.insert(id.clone()) {
                        continue;
                    }
                    match read {
                        Ok(i) => out.incidents.push(i),
                        Err(reason) => out.skipped.push(reason),
                    }
                }
                let more = body.get("more").and_then(Value::as_bool).unwrap_or(false);
                if !more || items.is_empty() {
                    break;
                }
                offset += items.len();
                if offset + LIMIT > MAX_OFFSET {
                    // Past the API's offset limit: the rest of the window
                    // from the last creation time read (its incidents again
                    // at most, dropped by id).
                    match last_created {
                        Some(t) if t > from => next_from = t,
                        _ => {
                            return Err(ForgeError::Response {
                                what: what.into(),
                                message: format!(
                                    "more than {MAX_OFFSET} incidents created at {}; import a narrower --since",
                                    api_time(from)
                                ),
                            });
                        }
                    }
                    break;
                }
            }
            from = next_from;
        }
        // A few minutes back: an incident created just before `until` may
        // not be listed yet (read again, it changes nothing).
        let end = (until - Duration::minutes(OVERLAP_MINUTES)).max(since);
        out.cursor = api_time(earliest_open.map_or(end, |t| t.min(end)));
        Ok(out)
    }

    /// One incident of the list.
    fn incident(&self, v: &Value) -> Result<Imported, String> {
        let id = text(v, &["id"]).ok_or("no id")?;
        let started_at = time(v, &["created_at"]).ok_or("no created_at")?;
        let service_id = text(v, &["service", "id"]);
        let service = service_id
            .as_ref()
            .and_then(|s| self.services.get(s).cloned())
            .or_else(|| self.fallback.clone())
            .or_else(|| text(v, &["service", "summary"]))
            .or(service_id);
        let resolved_at = match text(v, &["status"]).as_deref() {
            Some("resolved") => Some(
                time(v, &["resolved_at"])
                    .or_else(|| time(v, &["last_status_change_at"]))
                    .or_else(|| time(v, &["updated_at"]))
                    .ok_or("resolved without resolved_at or last_status_change_at")?
                    .max(started_at),
            ),
            Some("triggered" | "acknowledged") => None,
            other => return Err(format!("unknown status {other:?}")),
        };
        Ok(Imported {
            id: format!("pagerduty:{id}"),
            service: Some(service.ok_or("no service")?),
            started_at,
            resolved_at,
            severity: text(v, &["priority", "summary"]).or_else(|| text(v, &["urgency"])),
            title: text(v, &["title"]),
            root_cause: None,
        })
    }
}
