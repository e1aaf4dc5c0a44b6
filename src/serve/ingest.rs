//! Webhooks in: seed 000's DevLake-style deployment and incident webhooks and
//! seed 001's `/events/deployment` and `/events/incident`. Each builds the
//! request `deploy` or `incident` would, records it through the same use
//! case, and hands what was recorded to the sinks. A retried delivery is the
//! same event: seed 000's events carry their id, seed 001's get one derived
//! from their content.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::api::{ApiError, ApiResult, Json};
use super::pool::Worker;
use super::server::{AppState, Shared, SinkConfig};
use crate::app::deploy::{self, DeployRequest};
use crate::app::incident::{self, IncidentRequest};
use crate::event::{DeploymentStatus, derived_id, validate_user_id};
use crate::settings::{Origin, defaults};
use crate::sink::SinkEvent;
use crate::{Error, Result};

/// The body, at most `limit` bytes.
pub async fn body(b: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(b, limit)
        .await
        .map_err(|_| ApiError::body_too_large(limit))
}

/// Ids already taken (PagerDuty's `X-Webhook-Id`), the newest `cap`.
pub struct Recent {
    cap: usize,
    ids: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Recent {
    pub fn new(cap: usize) -> Recent {
        Recent {
            cap,
            ids: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.lock().is_ok_and(|g| g.0.contains(id))
    }

    /// Remembers `id` once its event is stored.
    pub fn insert(&self, id: &str) {
        if let Ok(mut g) = self.ids.lock() {
            if g.0.insert(id.to_string()) {
                g.1.push_back(id.to_string());
                while g.1.len() > self.cap {
                    if let Some(old) = g.1.pop_front() {
                        g.0.remove(&old);
                    }
                }
            }
        }
    }
}

/// A time as webhook senders write it: RFC 3339, a naive ISO time (UTC, as
/// seed 001's `TIMESTAMP` columns), or unix seconds.
fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                        .iter()
                        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                        .map(|n| n.and_utc())
                })
        }
        Value::Number(n) => n
            .as_f64()
            .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0) as i64)),
        _ => None,
    }
}

/// A field that failed, for the two error shapes.
#[derive(Debug)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

/// `later` (a field and its time) is not before `earlier`: an incident
/// resolved before it started is refused naming the body's field, as the
/// CLI refuses it naming its flag.
fn not_before(
    (later_field, later): (&'static str, Option<DateTime<Utc>>),
    (earlier_field, earlier): (&'static str, Option<DateTime<Utc>>),
) -> std::result::Result<(), Invalid> {
    match (later, earlier) {
        (Some(l), Some(e)) if l < e => Err(invalid(
            later_field,
            format!("{later_field} is before {earlier_field}"),
        )),
        _ => Ok(()),
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// The longest name (service, environment) a webhook may give.
const MAX_NAME: usize = 200;
/// The longest other text (a title).
const MAX_TEXT: usize = 1000;

/// Reads an object's fields with the messages a sender can act on, by the
/// rules the command line applies to the same values.
struct Fields<'a> {
    map: &'a serde_json::Map<String, Value>,
    now: DateTime<Utc>,
}

impl Fields<'_> {
    fn text(&self, key: &'static str) -> std::result::Result<Option<String>, Invalid> {
        let v = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(invalid(key, "must be a string")),
        };
        if v.chars().any(char::is_control) {
            return Err(invalid(key, "must not contain control characters"));
        }
        if v.chars().count() > MAX_TEXT {
            return Err(invalid(
                key,
                format!("is longer than {MAX_TEXT} characters"),
            ));
        }
        Ok(Some(v))
    }

    /// A service or environment name: visible, at most [`MAX_NAME`].
    fn name(&self, key: &'static str) -> std::result::Result<Option<String>, Invalid> {
        let v = self.text(key)?;
        if v.as_ref().is_some_and(|v| v.chars().count() > MAX_NAME) {
            return Err(invalid(
                key,
                format!("is longer than {MAX_NAME} characters"),
            ));
        }
        Ok(v)
    }

    fn required_name(&self, key: &'static str) -> std::result::Result<String, Invalid> {
        self.name(key)?
            .ok_or_else(|| invalid(key, "field required"))
    }

    /// A commit sha, abbreviated or full: hexadecimal, 4 to 64 digits (a
    /// branch or `HEAD~2` is not a deployed commit).
    fn sha(&self, key: &'static str) -> std::result::Result<String, Invalid> {
        let v = self
            .text(key)?
            .ok_or_else(|| invalid(key, "field required"))?;
        if !(4..=64).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                key,
                "must be a commit sha: 4 to 64 hexadecimal digits",
            ));
        }
        Ok(v.to_ascii_lowercase())
    }

    fn required(&self, key: &'static str) -> std::result::Result<String, Invalid> {
        self.text(key)?
            .ok_or_else(|| invalid(key, "field required"))
    }

    /// A time, between 2000 and a day from now, as the command line takes
    /// one (milliseconds given as seconds land far in the future).
    fn time(&self, key: &'static str) -> std::result::Result<Option<DateTime<Utc>>, Invalid> {
        let t = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => parse_time(v).ok_or_else(|| {
                invalid(
                    key,
                    "must be an ISO 8601 time (2024-12-15T10:30:00Z) or unix seconds",
                )
            })?,
        };
        let earliest = DateTime::from_timestamp(crate::time::EARLIEST_UNIX, 0).unwrap_or_default();
        if t < earliest {
            return Err(invalid(
                key,
                "is before 2000 (unix seconds are expected, not milliseconds)",
            ));
        }
        if t > self.now + crate::time::FUTURE_TOLERANCE {
            return Err(invalid(
                key,
                "is more than a day in the future (unix seconds are expected, not milliseconds)",
            ));
        }
        Ok(Some(t))
    }

    fn required_time(&self, key: &'static str) -> std::result::Result<DateTime<Utc>, Invalid> {
        self.time(key)?
            .ok_or_else(|| invalid(key, "field required"))
    }

    fn flag(&self, key: &'static str) -> std::result::Result<bool, Invalid> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(key, "must be true or false")),
        }
    }
}

fn object(bytes: &[u8]) -> std::result::Result<serde_json::Map<String, Value>, Invalid> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid("body", "must be a JSON object")),
        Err(e) => Err(invalid("body", format!("is not valid JSON: {e}"))),
    }
}

/// Seed 000's error for a bad payload.
fn seed000_invalid(i: Invalid) -> ApiError {
    ApiError::bad_request(format!("{} {}", i.field, i.message)).details(json!({"field": i.field}))
}

/// Seed 001's (FastAPI's) 422 for a bad payload.
fn seed001_invalid(i: Invalid) -> Response {
    let loc = if i.field == "body" {
        json!(["body"])
    } else {
        json!(["body", i.field])
    };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": [{"loc": loc, "msg": i.message, "type": "value_error"}]})),
    )
        .into_response()
}

/// A use case's refusal on seed 001's routes, in their (FastAPI's) shape:
/// what the body asks for cannot be recorded (422); anything else as is.
fn seed001_refusal(e: ApiError) -> Response {
    if e.status == StatusCode::BAD_REQUEST {
        return seed001_invalid(invalid("body", e.message));
    }
    e.into_response()
}

/// A deployment as a webhook gives it.
struct Given {
    id: String,
    service: String,
    env: String,
    sha: String,
    commit_time: Option<DateTime<Utc>>,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    status: DeploymentStatus,
    rollback: bool,
    hotfix: bool,
    pipeline_id: Option<String>,
}

fn status(s: Option<String>) -> std::result::Result<DeploymentStatus, Invalid> {
    match s.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("success" | "succeeded" | "successful" | "done") => {
            Ok(DeploymentStatus::Success)
        }
        Some("failure" | "failed" | "error" | "errored") => Ok(DeploymentStatus::Failure),
        Some(other) => Err(invalid(
            "status",
            format!("'{other}' is not success or failure"),
        )),
    }
}

fn checked_id(field: &'static str, id: String) -> std::result::Result<String, Invalid> {
    validate_user_id(field, &id)
        .map(|()| id)
        .map_err(|e| invalid(field, e.to_string()))
}

/// Seed 000: `{project, commit_sha, deployment_id, status, environment,
/// timestamp, duration_seconds}` (and a `commit_timestamp`, if the sender
/// has it).
fn seed000_deployment_of(
    m: &serde_json::Map<String, Value>,
    now: DateTime<Utc>,
) -> std::result::Result<Given, Invalid> {
    let f = Fields { map: m, now };
    let service = f.required_name("project")?;
    let env = f
        .name("environment")?
        .unwrap_or_else(|| defaults::ENV.into());
    let sha = f.sha("commit_sha")?;
    let finished_at = f.time("timestamp")?.unwrap_or(now);
    let duration = match m.get("duration_seconds") {
        None | Some(Value::Null) => 0.0,
        Some(v) => v
            .as_f64()
            .filter(|d| *d >= 0.0 && d.is_finite())
            .ok_or_else(|| invalid("duration_seconds", "must be a number of seconds, 0 or more"))?,
    };
    let id = match f.text("deployment_id")? {
        Some(id) => checked_id("deployment_id", id)?,
        None => derived_id(&[
            "seed000",
            &service,
            &env,
            &sha,
            &crate::time::format_time(finished_at),
        ]),
    };
    Ok(Given {
        id,
        service,
        env,
        sha,
        commit_time: f.time("commit_timestamp")?,
        started_at: finished_at - chrono::Duration::milliseconds((duration * 1000.0) as i64),
        finished_at,
        status: status(f.text("status")?)?,
        rollback: f.flag("is_rollback")?,
        hotfix: f.flag("is_hotfix")?,
        pipeline_id: f.text("pipeline_id")?,
    })
}

/// Seed 001's `DeploymentEvent`: `{service, environment, commit_sha,
/// commit_timestamp, deployed_at, is_rollback, is_hotfix}`, all but the
/// flags required as its pydantic model has them.
fn seed001_deployment_of(
    m: &serde_json::Map<String, Value>,
    now: DateTime<Utc>,
) -> std::result::Result<Given, Invalid> {
    let f = Fields { map: m, now };
    let service = f.required_name("service")?;
    let env = f.required_name("environment")?;
    let sha = f.sha("commit_sha")?;
    let commit_time = f.required_time("commit_timestamp")?;
    let deployed_at = f.required_time("deployed_at")?;
    let id = derived_id(&[
        "seed001",
        &service,
        &env,
        &sha,
        &crate::time::format_time(deployed_at),
    ]);
    Ok(Given {
        id,
        service,
        env,
        sha,
        commit_time: Some(commit_time),
        started_at: deployed_at,
        finished_at: deployed_at,
        status: status(f.text("status")?)?,
        rollback: f.flag("is_rollback")?,
        hotfix: f.flag("is_hotfix")?,
        pipeline_id: f.text("pipeline_id")?,
    })
}

fn deploy_request(s: &AppState, g: Given) -> DeployRequest {
    DeployRequest {
        paths: s.answers.deploy.paths.get(&g.service).cloned(),
        squashes: Default::default(),
        id: g.id,
        service: g.service,
        env: g.env,
        sha: g.sha,
        sha_origin: Origin::Derived("the webhook's commit_sha"),
        previous_sha: None,
        commit_time: g.commit_time,
        started_at: g.started_at,
        finished_at: g.finished_at,
        status: g.status,
        rollback: g.rollback,
        hotfix: g.hotfix,
        lead_time_from: s.answers.deploy.lead_time_from,
        max_commits: s.answers.deploy.max_commits,
        rollforward_subject: s.answers.deploy.rollforward_subject.clone(),
        repository_url: None,
        version: None,
        ref_name: None,
        team: None,
        pipeline_id: g.pipeline_id,
        pipeline_url: None,
        deployed_by: None,
        tags: BTreeMap::new(),
    }
}

/// With `--repo`, a deployment's sha is resolved in the clone (fetched once
/// when it does not have the commit yet); without, it is kept as given.
fn resolve(w: &mut Worker, mut req: DeployRequest) -> Result<DeployRequest> {
    if let Some(repo) = w.repo.as_ref() {
        if req.resolve_revisions(Some(repo)).is_err() {
            repo.fetch_origin()?;
            req.resolve_revisions(Some(repo))?;
        }
    }
    Ok(req)
}

async fn deployment(s: &Shared, given: Given) -> ApiResult<Value> {
    let mut req = deploy_request(s, given);
    if s.has_repo {
        req = s.pool.run(move |w| resolve(w, req)).await?;
    }
    let recorded = s
        .pool
        .write(move |tx, repo| deploy::record_in(tx, repo, &req))
        .await
        .map_err(ApiError::from)?;
    let body = json!({
        "status": if recorded.recorded { "recorded" } else { "duplicate" },
        "id": recorded.deployment.id,
        "recorded": recorded.recorded,
        "lead_time_changes": recorded.deployment.changes.len(),
    });
    if recorded.recorded {
        s.emit(vec![SinkEvent::Deployment(recorded.deployment)]);
    }
    Ok(body)
}

/// An incident as a webhook gives it.
pub struct GivenIncident {
    pub id: String,
    pub service: String,
    pub env: String,
    pub started_at: DateTime<Utc>,
    pub detected_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolving: bool,
    pub reopen: bool,
    pub severity: Option<String>,
    pub title: Option<String>,
}

/// Upserts the incident (open or resolve, never reopening implicitly).
pub async fn incident(s: &Shared, g: GivenIncident) -> ApiResult<Value> {
    let req = IncidentRequest {
        id: g.id,
        resolving: g.resolving,
        reopen: g.reopen,
        services: vec![g.service],
        from_source: false,
        default_service: None,
        env: None,
        default_env: Some(g.env),
        started_at: Some(g.started_at),
        detected_at: g.detected_at,
        resolved_at: g.resolved_at,
        severity: g.severity,
        title: g.title,
        cause: None,
        deployment_id: None,
        deployment_sha: None,
        attribution_window: s.answers.attribution_window,
        now: s.now(),
    };
    let recorded = s
        .pool
        .write(move |tx, _| incident::record_in(tx, None, &req))
        .await?;
    let changed = recorded.changed;
    // A retried delivery (nothing new in it) is answered, not recorded again.
    let body = json!({
        "status": if changed { "recorded" } else { "duplicate" },
        "id": recorded.incident.id,
        "recorded": changed,
        "resolved": recorded.incident.resolved_at.is_some(),
        "attributed_to": recorded.attributed,
    });
    if changed {
        s.emit(vec![SinkEvent::Incident(recorded.incident)]);
    }
    Ok(body)
}

/// Seed 000: `{id, title, service, severity, status: open|resolved,
/// createdDate, resolvedDate, environment}`.
fn seed000_incident_of(
    m: &serde_json::Map<String, Value>,
    now: DateTime<Utc>,
) -> std::result::Result<GivenIncident, Invalid> {
    let f = Fields { map: m, now };
    let id = checked_id("id", f.required("id")?)?;
    let resolved_at = f.time("resolvedDate")?;
    let created_at = f.time("createdDate")?;
    not_before(("resolvedDate", resolved_at), ("createdDate", created_at))?;
    let resolving = match f.text("status")?.map(|s| s.to_ascii_lowercase()).as_deref() {
        None => resolved_at.is_some(),
        Some("open" | "triggered" | "acknowledged" | "in_progress") => false,
        Some("resolved" | "closed" | "done") => true,
        Some(other) => {
            return Err(invalid(
                "status",
                format!("'{other}' is not open or resolved"),
            ));
        }
    };
    Ok(GivenIncident {
        id,
        service: f.required_name("service")?,
        env: f
            .name("environment")?
            .unwrap_or_else(|| defaults::ENV.into()),
        started_at: created_at.unwrap_or(now),
        detected_at: None,
        // Resolved without a date: resolved now, unless it already was
        // (a retried notification does not move the resolution).
        resolved_at: resolved_at.filter(|_| resolving),
        resolving,
        reopen: false,
        severity: f.text("severity")?,
        title: f.text("title")?,
    })
}

/// Seed 001's `IncidentEvent`: `{incident_id, service, severity,
/// detected_at, resolved_at?}`. Detection is the only start it gives.
fn seed001_incident_of(
    m: &serde_json::Map<String, Value>,
    now: DateTime<Utc>,
) -> std::result::Result<GivenIncident, Invalid> {
    let f = Fields { map: m, now };
    let detected_at = f.required_time("detected_at")?;
    let resolved_at = f.time("resolved_at")?;
    not_before(
        ("resolved_at", resolved_at),
        ("detected_at", Some(detected_at)),
    )?;
    Ok(GivenIncident {
        id: checked_id("incident_id", f.required("incident_id")?)?,
        service: f.required_name("service")?,
        env: f
            .name("environment")?
            .unwrap_or_else(|| defaults::ENV.into()),
        started_at: detected_at,
        detected_at: Some(detected_at),
        resolved_at,
        resolving: resolved_at.is_some(),
        reopen: false,
        severity: Some(f.required("severity")?),
        title: f.text("title")?,
    })
}

/// How a payload is read into what is recorded.
type Parse<G> =
    fn(&serde_json::Map<String, Value>, DateTime<Utc>) -> std::result::Result<G, Invalid>;

/// A seed 000 webhook: its body read by `parse`, recorded by `record`,
/// refusals in seed 000's error format.
async fn seed000_event<G, Fut>(
    s: &Shared,
    b: Body,
    parse: Parse<G>,
    record: impl FnOnce(G) -> Fut,
) -> ApiResult<Json<Value>>
where
    Fut: std::future::Future<Output = ApiResult<Value>>,
{
    let bytes = body(b, s.answers.max_body).await?;
    let given = object(&bytes)
        .and_then(|m| parse(&m, s.now()))
        .map_err(seed000_invalid)?;
    Ok(Json(record(given).await?))
}

/// A seed 001 event, likewise, with refusals in its (FastAPI's) shape.
async fn seed001_event<G, Fut>(
    s: &Shared,
    b: Body,
    parse: Parse<G>,
    record: impl FnOnce(G) -> Fut,
) -> Response
where
    Fut: std::future::Future<Output = ApiResult<Value>>,
{
    let bytes = match body(b, s.answers.max_body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let given = match object(&bytes).and_then(|m| parse(&m, s.now())) {
        Ok(g) => g,
        Err(i) => return seed001_invalid(i),
    };
    match record(given).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => seed001_refusal(e),
    }
}

pub async fn seed000_deployment(State(s): State<Shared>, b: Body) -> ApiResult<Json<Value>> {
    seed000_event(&s, b, seed000_deployment_of, |g| deployment(&s, g)).await
}

pub async fn seed001_deployment(State(s): State<Shared>, b: Body) -> Response {
    seed001_event(&s, b, seed001_deployment_of, |g| deployment(&s, g)).await
}

pub async fn seed000_incident(State(s): State<Shared>, b: Body) -> ApiResult<Json<Value>> {
    seed000_event(&s, b, seed000_incident_of, |g| incident(&s, g)).await
}

pub async fn seed001_incident(State(s): State<Shared>, b: Body) -> Response {
    seed001_event(&s, b, seed001_incident_of, |g| incident(&s, g)).await
}

/// The sinks' thread: takes recorded events and delivers them in batches
/// through the CLI's dispatcher (spool first, so nothing is lost when a
/// sink is down). `None` without sinks.
pub fn start_sinks(cfg: SinkConfig) -> Option<(Sender<SinkEvent>, JoinHandle<()>)> {
    if cfg.sinks.is_empty() {
        return None;
    }
    let (tx, rx) = channel::<SinkEvent>();
    let thread = std::thread::Builder::new()
        .name("sinks".into())
        .spawn(move || deliver(&cfg, &rx))
        .ok()?;
    Some((tx, thread))
}

fn deliver(cfg: &SinkConfig, rx: &Receiver<SinkEvent>) {
    while let Ok(first) = rx.recv() {
        let mut events = vec![first];
        while events.len() < 500 {
            match rx.try_recv() {
                Ok(e) => events.push(e),
                Err(_) => break,
            }
        }
        let target = crate::app::sinks::Target {
            spool: &cfg.spool,
            sinks: &cfg.sinks,
            secrets: &cfg.secrets,
            http: &cfg.http,
            now: Utc::now(),
        };
        match crate::app::sinks::emit(&target, &events) {
            Some(Ok(report)) if !report.ok() => {
                super::log_line(
                    &json!({"level": "warn", "msg": "a sink did not take every event; they wait in the spool", "spool": cfg.spool.display().to_string()})
                        .to_string(),
                );
            }
            Some(Err(e)) => super::api::log_failure(&Error::from(e)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn seed001_events_get_the_same_id_on_every_retry() {
        let body = json!({"service": "api", "environment": "production", "commit_sha": "abc123",
            "commit_timestamp": "2024-12-15T10:00:00", "deployed_at": "2024-12-15T10:30:00Z"});
        let a = seed001_deployment_of(&map(body.clone()), Utc::now()).unwrap();
        let b = seed001_deployment_of(&map(body), Utc::now()).unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.sha, "abc123");
        assert_eq!(
            a.finished_at - a.commit_time.unwrap(),
            chrono::Duration::minutes(30)
        );
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let e = seed001_deployment_of(&map(json!({"service": "api"})), Utc::now())
            .err()
            .unwrap();
        assert_eq!(e.field, "environment");
        let e = seed001_deployment_of(
            &map(json!({"service": "api", "environment": "p",
            "commit_sha": "abcd", "commit_timestamp": "yesterday", "deployed_at": 1700000000})),
            Utc::now(),
        )
        .err()
        .unwrap();
        assert_eq!(e.field, "commit_timestamp");
        let e = seed000_deployment_of(
            &map(json!({"project": "api", "commit_sha": "abcd", "status": "maybe"})),
            Utc::now(),
        )
        .err()
        .unwrap();
        assert_eq!(e.field, "status");
        let e = seed000_incident_of(
            &map(json!({"id": "x".repeat(200), "service": "x"})),
            Utc::now(),
        )
        .err()
        .unwrap();
        assert_eq!(e.field, "id");
    }

    #[test]
    fn seed000_deployments_start_their_duration_before_they_finish() {
        let g = seed000_deployment_of(
            &map(json!({"project": "payment-service", "commit_sha": "abc123def456",
                "deployment_id": "argocd-sync-12345", "status": "success", "environment": "production",
                "timestamp": "2024-12-15T10:30:00Z", "duration_seconds": 120})),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(g.id, "argocd-sync-12345");
        assert_eq!((g.finished_at - g.started_at).num_seconds(), 120);
        assert_eq!(g.status, DeploymentStatus::Success);
    }

    #[test]
    fn webhook_values_follow_the_command_lines_rules() {
        let ok = json!({"service": "api", "environment": "production", "commit_sha": "abc1234",
            "commit_timestamp": "2026-11-20T10:00:00Z", "deployed_at": "2026-11-20T11:00:00Z"});
        let now = DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(seed001_deployment_of(&map(ok.clone()), now).is_ok());
        for (field, bad) in [
            ("deployed_at", json!(1_795_900_000_000u64)),
            ("deployed_at", json!("2099-01-01T00:00:00Z")),
            ("deployed_at", json!("1990-01-01T00:00:00Z")),
            ("commit_sha", json!("HEAD~3")),
            ("commit_sha", json!("v1.0.0")),
            ("service", json!("ansi\u{1b}[31mred")),
            ("service", json!("x".repeat(201))),
            ("environment", json!("prod\nuction")),
        ] {
            let mut body = ok.clone();
            body[field] = bad.clone();
            let e = seed001_deployment_of(&map(body), now)
                .err()
                .unwrap_or_else(|| panic!("{field} {bad}"));
            assert_eq!(e.field, field, "{bad}");
        }
    }

    #[test]
    fn recent_ids_forget_the_oldest() {
        let r = Recent::new(2);
        r.insert("a");
        r.insert("b");
        r.insert("c");
        assert!(!r.contains("a") && r.contains("b") && r.contains("c"));
    }
}
