//! The server: routes, the middleware every request passes (access log,
//! timeout, credentials and rate limit), the accept loop with its
//! connection limit and header timeout, and the drain on SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SubsecRound, Utc};
use hyper_util::rt::{TokioIo, TokioTimer};
use secrecy::SecretString;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::api::ApiError;
use super::auth::{Caller, Limit, Limiter, Scope, Tokens};
use super::cache::Cache;
use super::ingest::Recent;
use super::pool::{Pool, PoolSpec};
use super::{graphql, ingest, log_line, pagerduty, rest};
use crate::event::LeadTimeFrom;
use crate::git::SubjectPattern;
use crate::http::HttpSettings;
use crate::metrics::BandTable;
use crate::sink::{Secrets, SinkEvent, SinkSpec};
use crate::{Error, Result, exit};

/// How `deploy` builds a deployment, for webhook deployments.
#[derive(Clone, Debug)]
pub struct DeployDefaults {
    pub lead_time_from: LeadTimeFrom,
    pub max_commits: usize,
    pub rollforward_subject: Option<SubjectPattern>,
    /// `[[service]] paths` by service (with `--repo`, a monorepo).
    pub paths: std::collections::BTreeMap<String, crate::git::PathFilter>,
}

/// The sinks recorded events also go to, as from the command line.
pub struct SinkConfig {
    pub spool: PathBuf,
    pub sinks: Vec<SinkSpec>,
    pub secrets: Secrets,
    pub http: HttpSettings,
}

/// How requests are answered: what every handler reads.
#[derive(Clone)]
pub struct Answers {
    pub bands: BandTable,
    pub attribution_window: chrono::Duration,
    /// The window of `/metrics`' gauges.
    pub window: chrono::Duration,
    /// `DORAMETER_NOW`: a fixed "now" (tests, reproducible answers).
    pub fixed_now: Option<DateTime<Utc>>,
    pub deploy: DeployDefaults,
    pub max_body: usize,
    pub request_timeout: Duration,
    pub access_log: bool,
    /// `[[service]] pagerduty`: PagerDuty service id → service, for the
    /// PagerDuty webhook (as `incident import` maps them).
    pub pagerduty_services: std::collections::BTreeMap<String, String>,
}

/// Everything the server needs, resolved by `cli/serve.rs`.
pub struct ServeConfig {
    pub listen: String,
    pub pool: PoolSpec,
    pub store_shown: String,
    pub tokens: Tokens,
    pub rate_limit: Option<Limit>,
    pub anonymous_rate_limit: Option<Limit>,
    pub pagerduty_secrets: Vec<SecretString>,
    pub answers: Answers,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
    /// How long an answer is shared (`--cache-ttl`); zero: never.
    pub cache_ttl: Duration,
    pub sinks: SinkConfig,
}

/// What every handler shares.
pub struct AppState {
    pub pool: Pool,
    pub tokens: Tokens,
    pub limiter: Limiter,
    pub pagerduty_secrets: Vec<SecretString>,
    pub answers: Answers,
    /// `--repo`: webhook shas are resolved in a clone.
    pub has_repo: bool,
    /// Recorded events for the sinks' thread; `None` without sinks.
    pub sinks: Option<std::sync::mpsc::Sender<SinkEvent>>,
    /// PagerDuty `X-Webhook-Id`s already taken.
    pub webhook_ids: Recent,
    pub breakdowns: Arc<Cache<crate::app::breakdown::Breakdown>>,
    pub expositions: Arc<Cache<String>>,
}

impl AppState {
    /// Milliseconds, as the stores keep them (and as `report` takes now).
    pub fn now(&self) -> DateTime<Utc> {
        self.answers
            .fixed_now
            .unwrap_or_else(|| Utc::now().trunc_subsecs(3))
    }

    /// The report request of `window` (a service and env, or every one)
    /// with the server's bands and attribution window: what every answer
    /// computes from.
    pub fn report_request(
        &self,
        service: Option<String>,
        env: Option<String>,
        window: crate::metrics::Window,
    ) -> crate::app::report::ReportRequest {
        crate::app::report::ReportRequest {
            service,
            env,
            team: None,
            window,
            attribution_window: self.answers.attribution_window,
            bands: self.answers.bands.clone(),
            now: self.now(),
        }
    }

    /// Hands recorded events to the sinks, as the CLI's commands do after
    /// storing them, and makes every cached answer stale.
    pub fn emit(&self, events: Vec<SinkEvent>) {
        self.breakdowns.invalidate();
        self.expositions.invalidate();
        if let Some(tx) = &self.sinks {
            for e in events {
                let _ = tx.send(e);
            }
        }
    }
}

pub type Shared = Arc<AppState>;

/// The caller of a request, put there by [`guard`].
#[derive(Clone, Debug)]
pub struct Who(pub Caller);

/// The peer address of a connection.
#[derive(Clone, Copy, Debug)]
struct Peer(SocketAddr);

fn routes(state: Shared) -> Router {
    Router::new()
        .route("/", get(rest::dashboard))
        .route("/healthz", get(rest::healthz))
        .route("/metrics", get(rest::prometheus))
        .route("/api/dora/metrics", get(rest::all_metrics))
        .route(
            "/api/dora/deployment-frequency",
            get(rest::deployment_frequency),
        )
        .route("/api/dora/lead-time", get(rest::lead_time))
        .route(
            "/api/dora/change-failure-rate",
            get(rest::change_failure_rate),
        )
        .route("/api/dora/mttr", get(rest::mttr))
        .route("/api/dora/rework", get(rest::rework))
        .route("/metrics/dora/{service}", get(rest::seed001_metrics))
        .route(
            "/metrics/change-failure-rate",
            get(rest::seed001_change_failure_rate),
        )
        .route(
            "/api/plugins/webhook/1/deployments",
            post(ingest::seed000_deployment),
        )
        .route(
            "/api/plugins/webhook/1/incidents",
            post(ingest::seed000_incident),
        )
        .route("/events/deployment", post(ingest::seed001_deployment))
        .route("/events/incident", post(ingest::seed001_incident))
        .route("/webhooks/pagerduty", post(pagerduty::webhook))
        .route("/api/graphql", post(graphql::query))
        .route("/api/graphql/schema", get(graphql::sdl))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), guard))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), access))
        .with_state(state)
}

async fn wrong_method(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not served at this path; docs/serve.md lists each endpoint's method"),
    )
}

async fn not_found(method: Method) -> ApiError {
    if method != Method::GET && method != Method::POST {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("{method} is not served here"),
        );
    }
    ApiError::not_found("no such endpoint; docs/serve.md lists them")
}

/// The routes that record events.
const WRITES: &[&str] = &[
    "/api/plugins/webhook/1/deployments",
    "/api/plugins/webhook/1/incidents",
    "/events/deployment",
    "/events/incident",
];

/// Which routes take which scope: `None` for open ones (`/healthz`), and
/// PagerDuty's, which its signature authenticates instead. Everything
/// else, known or not, reads (an unknown path is then a 404; GraphQL is
/// POSTed but has no mutations).
fn needs(method: &Method, path: &str) -> Option<Scope> {
    match path {
        "/healthz" | "/webhooks/pagerduty" => None,
        _ if *method == Method::POST && WRITES.contains(&path) => Some(Scope::Write),
        _ => Some(Scope::Read),
    }
}

/// Credentials, scope and rate limit, then the handler within the request
/// timeout.
async fn guard(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<Peer>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |p| p.0.ip());
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let path = req.uri().path().to_string();
    let dashboard = path == "/";
    let challenge = |mut r: Response| {
        let scheme = if dashboard {
            "Basic realm=\"dorameter\", charset=\"UTF-8\""
        } else {
            "Bearer realm=\"dorameter\""
        };
        if r.status() == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        r
    };
    let caller = match s.tokens.caller(authorization, peer) {
        Ok(c) => c,
        Err(_) => {
            return challenge(ApiError::unauthorized("the token is not valid").into_response());
        }
    };
    let who = Who(caller.clone());
    // Probes (`/healthz`) are never counted: a load balancer checking
    // every few seconds must not use up anyone's limit. Nor is PagerDuty,
    // which its signature authenticates: refused deliveries are incidents
    // lost (it gives up after its retries).
    let quota = if path == "/healthz" || path == "/webhooks/pagerduty" {
        None
    } else {
        s.limiter.take(&caller)
    };
    let mut response = if quota.is_some_and(|q| q.exceeded) {
        let wait = quota.map_or(1, |q| {
            q.reset
                .saturating_sub(Utc::now().timestamp().max(0) as u64)
                .max(1)
        });
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("rate limit exceeded; try again in {wait} s"),
        );
        e.retry_after = Some(wait);
        e.into_response()
    } else if let Some(refusal) = refuse(&s, &caller, req.method(), &path) {
        challenge(refusal.into_response())
    } else {
        match tokio::time::timeout(s.answers.request_timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "TIMEOUT",
                    "the request took longer than the server allows",
                );
                e.retry_after = Some(1);
                e.into_response()
            }
        }
    };
    if let Some(q) = quota {
        let h = response.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(q.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(q.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(q.reset));
    }
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response.extensions_mut().insert(who);
    response
}

/// Why `caller` may not call `path`, if it may not.
fn refuse(s: &AppState, caller: &Caller, method: &Method, path: &str) -> Option<ApiError> {
    let want = needs(method, path)?;
    if caller.may(want) {
        return None;
    }
    if caller.scope.is_some() {
        return Some(ApiError::forbidden(format!(
            "this token has the {} scope; {} needs {}",
            caller.scope.map_or("no", Scope::as_str),
            path,
            want.as_str()
        )));
    }
    // Anonymous: reads are open while no token is configured.
    if want == Scope::Read && s.tokens.is_empty() {
        return None;
    }
    Some(ApiError::unauthorized(match want {
        Scope::Write if !s.tokens.any_write() => {
            "recording events needs a write token, and none is configured (DORAMETER_API_TOKENS=write:TOKEN)"
        }
        _ => "send a token: Authorization: Bearer TOKEN",
    }))
}

/// The access log: one JSON line per request, without its query or any
/// header (a token is never written).
async fn access(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let peer = req.extensions().get::<Peer>().map(|p| p.0.to_string());
    let response = next.run(req).await;
    if s.answers.access_log {
        let caller = response.extensions().get::<Who>().map(|w| w.0.name.clone());
        let line = json!({
            "ts": crate::time::format_time(Utc::now()),
            "method": method.as_str(),
            "path": path,
            "status": response.status().as_u16(),
            "ms": (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            "peer": peer,
            "caller": caller,
        });
        log_line(&line.to_string());
    }
    response
}

/// Serves until SIGTERM or SIGINT, then drains the requests in flight.
pub fn run(config: ServeConfig) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .map_err(|e| Error::internal(format!("failed to start the server runtime: {e}")))?;
    runtime.block_on(serve(config))
}

async fn serve(config: ServeConfig) -> Result<u8> {
    let listener = TcpListener::bind(&config.listen).await.map_err(|e| {
        Error::usage_hint(
            format!("failed to listen on {}: {e}", config.listen),
            "give --listen (DORAMETER_LISTEN) a free HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks one)",
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("no local address: {e}")))?;
    let (pool, workers) = Pool::start(&config.pool)?;
    let sinks = super::ingest::start_sinks(config.sinks);
    let state = Arc::new(AppState {
        pool,
        tokens: config.tokens,
        limiter: Limiter::new(config.rate_limit, config.anonymous_rate_limit),
        pagerduty_secrets: config.pagerduty_secrets,
        answers: config.answers,
        has_repo: config.pool.repo.is_some(),
        sinks: sinks.as_ref().map(|(tx, _)| tx.clone()),
        webhook_ids: Recent::new(10_000),
        breakdowns: Arc::new(Cache::new(config.cache_ttl)),
        expositions: Arc::new(Cache::new(config.cache_ttl)),
    });
    let reads = match (state.tokens.is_empty(), state.pagerduty_secrets.is_empty()) {
        (true, true) => {
            "reads open to anyone who can reach it, no webhooks (no DORAMETER_API_TOKENS)"
        }
        (true, false) => {
            "reads open to anyone who can reach it; PagerDuty webhooks only (no DORAMETER_API_TOKENS)"
        }
        (false, _) => "tokens required",
    };
    log_line(
        &json!({
            "level": "info",
            "msg": format!("listening on http://{local}"),
            "listen": local.to_string(),
            "store": config.store_shown,
            "workers": config.pool.workers,
            "auth": reads,
        })
        .to_string(),
    );
    let app = routes(Arc::clone(&state));
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait, do not spin.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(Peer(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    log_line(
        &json!({"level": "info", "msg": "shutting down: draining requests in flight"}).to_string(),
    );
    let drained = tokio::time::timeout(config.shutdown_timeout, graceful.shutdown()).await;
    if drained.is_err() {
        log_line(&json!({"level": "warn", "msg": "requests still in flight at the shutdown timeout were cut"}).to_string());
    }
    drop(app);
    // The workers finish their jobs and end when the last pool handle goes;
    // a request cut at the timeout may still hold one, so the wait is
    // bounded (a store transaction cut by the exit rolls back whole).
    drop(state);
    let ends = async {
        for w in workers {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        if let Some((tx, thread)) = sinks {
            drop(tx);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    };
    let _ = tokio::time::timeout(config.shutdown_timeout, ends).await;
    log_line(&json!({"level": "info", "msg": "stopped"}).to_string());
    Ok(exit::OK)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_is_posted_with_the_read_scope_and_webhooks_need_write() {
        assert_eq!(needs(&Method::POST, "/api/graphql"), Some(Scope::Read));
        assert_eq!(
            needs(&Method::GET, "/api/graphql/schema"),
            Some(Scope::Read)
        );
        assert_eq!(
            needs(&Method::POST, "/events/deployment"),
            Some(Scope::Write)
        );
        assert_eq!(needs(&Method::POST, "/webhooks/pagerduty"), None);
    }
}
