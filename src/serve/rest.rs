//! The read endpoints: seed 000's `/api/dora/*`, seed 001's
//! `/metrics/dora/{service}` and `/metrics/change-failure-rate`,
//! Prometheus' `/metrics`, and `/healthz`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use serde_json::{Value, json};

use super::api::{ApiError, ApiResult, Json};
use super::params::{self, Query as Params};
use super::pool::PoolError;
use super::seed;
use super::server::Shared;
use crate::Error;
use crate::app::breakdown::{Breakdown, Evidence, breakdown};
use crate::app::series::Bucket;

/// Only the metrics.
const METRICS: Evidence = Evidence {
    failures: false,
    incidents: false,
};
use crate::metrics::{Report, Window};

/// Every (service, env) of the store.
pub(super) async fn service_envs(s: &Shared) -> Result<Vec<(String, String)>, PoolError> {
    s.pool
        .run(|w| {
            let mut pairs = Vec::new();
            w.store.read(&mut |tx| {
                pairs = tx.service_envs()?;
                Ok(())
            })?;
            Ok(pairs)
        })
        .await
}

/// Seed 000's 404s for a project (or environment) the store does not know,
/// naming the ones it does.
async fn unknown_project(s: &Shared, project: &str, env: &str) -> ApiError {
    let known = service_envs(s).await;
    let Ok(pairs) = known else {
        return ApiError::internal();
    };
    let envs: Vec<&str> = pairs
        .iter()
        .filter(|(p, _)| p == project)
        .map(|(_, e)| e.as_str())
        .collect();
    if !envs.is_empty() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "INVALID_ENVIRONMENT",
            format!("project '{project}' has no environment '{env}'"),
        )
        .details(json!({"available_environments": envs}));
    }
    let mut projects: Vec<&str> = pairs.iter().map(|(p, _)| p.as_str()).collect();
    projects.dedup();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "INVALID_PROJECT",
        format!("Project '{project}' not found"),
    )
    .details(json!({"available_projects": projects}))
}

/// The breakdown behind every `/api/dora/*` answer, shared for the cache's
/// TTL by every request that names the same project, env, time range and
/// severity.
pub(super) async fn load(
    s: &Shared,
    project: String,
    env: String,
    (window, range): (Window, String),
    severity: Option<String>,
    evidence: Evidence,
) -> ApiResult<Arc<Breakdown>> {
    let req = s.report_request(Some(project.clone()), Some(env.clone()), window);
    let key = format!(
        "{project}\0{env}\0{range}\0{}\0{evidence:?}",
        severity.as_deref().unwrap_or("")
    );
    let pool = s.pool.clone();
    let computed = s
        .breakdowns
        .get(key, move || async move {
            pool.run(move |w| breakdown(w.store.as_mut(), &req, severity.as_deref(), evidence))
                .await
        })
        .await;
    let b = match computed {
        Ok(b) => b,
        Err(PoolError::Failed(Error::NoInput { .. })) => {
            return Err(unknown_project(s, &project, &env).await);
        }
        Err(e) => return Err(e.into()),
    };
    match b.history_from {
        Some(first) if first < window.until => Ok(b),
        first => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NO_DATA",
            format!("No data available for project '{project}' in '{env}' in this time range"),
        )
        .details(json!({
            "start": crate::time::format_time(window.since),
            "end": crate::time::format_time(window.until),
            "first_event": first.map(crate::time::format_time),
        }))),
    }
}

/// `project`, `environment`, and the window of `q` with the parameters
/// that named it (the cache's key: the same words mean the same window
/// within the TTL).
pub(super) fn target(
    s: &Shared,
    q: &Params,
    default_range: &str,
) -> ApiResult<(String, String, (Window, String))> {
    let range = ["timeRange", "startDate", "endDate"]
        .iter()
        .map(|k| q.get(*k).map_or("", String::as_str))
        .collect::<Vec<_>>()
        .join("\0");
    Ok((
        params::project(q)?,
        params::environment(q),
        (
            params::window(q, default_range, s.now())?,
            format!("{default_range}\0{range}"),
        ),
    ))
}

pub async fn all_metrics(
    State(s): State<Shared>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let (project, env, window) = target(&s, &q, "last30days")?;
    let b = load(&s, project, env, window, None, METRICS).await?;
    Ok(Json(seed::metrics(&b.report, &s.answers.bands)))
}

pub async fn deployment_frequency(
    State(s): State<Shared>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    // Seed 000: this endpoint's time range defaults to the last 7 days.
    let (project, env, window) = target(&s, &q, "last7days")?;
    let by = match q.get("groupBy").map(String::as_str) {
        None | Some("") => Bucket::Day,
        Some(g) => g.parse::<Bucket>().map_err(|_| {
            ApiError::bad_request(format!("unknown groupBy '{g}'"))
                .details(json!({"allowed": ["day", "week", "month"]}))
        })?,
    };
    let within = window.0;
    let b = load(&s, project, env, window, None, METRICS).await?;
    Ok(Json(seed::deployment_frequency_body(
        &b,
        &s.answers.bands,
        by,
        within,
    )))
}

pub async fn lead_time(State(s): State<Shared>, Query(q): Query<Params>) -> ApiResult<Json<Value>> {
    let (project, env, window) = target(&s, &q, "last30days")?;
    let b = load(&s, project, env, window, None, METRICS).await?;
    Ok(Json(seed::lead_time_body(
        &b.report,
        &s.answers.bands,
        params::flag(&q, "includeStages")?,
    )))
}

pub async fn change_failure_rate(
    State(s): State<Shared>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let (project, env, window) = target(&s, &q, "last30days")?;
    let evidence = Evidence {
        failures: true,
        incidents: false,
    };
    let b = load(&s, project, env, window, None, evidence).await?;
    Ok(Json(seed::change_failure_rate_body(&b, &s.answers.bands)))
}

pub async fn mttr(State(s): State<Shared>, Query(q): Query<Params>) -> ApiResult<Json<Value>> {
    let (project, env, window) = target(&s, &q, "last30days")?;
    let severity = q
        .get("severity")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let evidence = Evidence {
        failures: false,
        incidents: true,
    };
    let b = load(&s, project, env, window, severity.clone(), evidence).await?;
    Ok(Json(seed::mttr_body(
        &b,
        &s.answers.bands,
        severity.as_deref(),
    )))
}

pub async fn rework(State(s): State<Shared>, Query(q): Query<Params>) -> ApiResult<Json<Value>> {
    let (project, env, window) = target(&s, &q, "last30days")?;
    let within = window.0;
    let b = load(&s, project.clone(), env, window, None, METRICS).await?;
    let service = project.clone();
    let ci = s
        .pool
        .run(move |w| crate::app::ci_runs::ci_runs(w.store.as_mut(), &service, within))
        .await?;
    let r = &b.report;
    let mut head = seed::rework_head(r);
    head["summary"] = json!({
        "build_success_rate": ci.build_success_rate(),
        "rework_rate": ci.rework_rate(),
        "quality_gate_pass_rate": null,
        "test_flakiness": ci.test_flakiness(),
        "avg_build_duration_minutes": null,
        "deployment_rework_rate": r.metrics.rework_rate.value,
    });
    head["details"] = json!({
        "total_builds": ci.total_builds,
        "successful_builds": ci.successful_builds,
        "failed_builds": ci.failed_builds,
        "retry_builds": ci.retry_builds,
        "quality_gate_failures": null,
        "flaky_tests": ci.flaky_tests,
        "tests": ci.tests,
        "remediation_deployments": r.metrics.rework_rate.remediation_deployments,
        "total_deployments": r.metrics.rework_rate.total_deployments,
    });
    Ok(Json(head))
}

/// Seed 001's service and days: always production, as the seed's SQL.
async fn seed001_report(s: &Shared, service: String, q: &Params) -> ApiResult<(Report, i64)> {
    let (days, window) = params::days(q, s.now())?;
    let env = crate::settings::defaults::ENV.to_string();
    let b = load(
        s,
        service,
        env,
        (window, format!("days\0{days}")),
        None,
        METRICS,
    )
    .await?;
    Ok((b.report.clone(), days))
}

pub async fn seed001_metrics(
    State(s): State<Shared>,
    service: Result<Path<String>, axum::extract::rejection::PathRejection>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    // A path that is not UTF-8 gets the API's error, not axum's text.
    let Path(service) =
        service.map_err(|e| ApiError::bad_request(format!("the service in the path: {e}")))?;
    let (r, days) = seed001_report(&s, service, &q).await?;
    Ok(Json(seed::seed001(&r, days)))
}

pub async fn seed001_change_failure_rate(
    State(s): State<Shared>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let service = q
        .get("service")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("the service parameter is required"))?;
    let (r, days) = seed001_report(&s, service, &q).await?;
    Ok(Json(seed::seed001_change_failure_rate(&r, days)))
}

/// `GET /metrics`: every service+env of the store.
pub async fn prometheus(State(s): State<Shared>) -> ApiResult<Response> {
    let now = s.now();
    let window = Window {
        since: now - s.answers.window,
        until: now,
    };
    let req = s.report_request(None, None, window);
    let pool = s.pool.clone();
    let text = s
        .expositions
        .get(String::new(), || async move {
            let all = pool
                .run_heavy(move |w| crate::app::exposition::exposition(w.store.as_mut(), &req))
                .await?;
            Ok::<_, PoolError>(crate::render::exposition(&all))
        })
        .await?;
    let mut r = text.as_str().to_owned().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

/// `GET /healthz`: the store answers a read.
pub async fn healthz(State(s): State<Shared>) -> Response {
    let ok = s
        .pool
        .run(|w| {
            w.store.read(&mut |_| Ok(()))?;
            Ok(w.store.describe())
        })
        .await;
    match ok {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => {
            let mut r = ApiError::from(e).into_response();
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
    }
}

/// `GET /`: the dashboard `report --format html` writes, over every
/// service of the store (`?service=`/`?env=` preselect the filters,
/// `timeRange` as the API's, default the last 90 days: 13 weekly points).
pub async fn dashboard(State(s): State<Shared>, Query(q): Query<Params>) -> ApiResult<Response> {
    use crate::app::series::{self, Bucket, SeriesRequest};
    let now = s.now();
    let window = params::window(&q, "last90days", now)?;
    let req = SeriesRequest {
        report: s.report_request(None, None, window),
        by: Bucket::Week,
    };
    let (d, store) = s
        .pool
        .run(move |w| {
            // Which kind of store only: its address (a database's
            // user, host and name, a file's path) is the operator's, not
            // every reader's.
            let described = w.store.describe();
            let kind = described.split(':').next().unwrap_or("").to_string();
            Ok((
                series::dashboard(w.store.as_mut(), &req)?,
                format!("the server's {kind} store"),
            ))
        })
        .await?;
    let pick = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let page = crate::render::dashboard_html(&crate::render::DashboardView {
        series: d.series(),
        reports: d.reports,
        generated_at: crate::time::format_time(now),
        store,
        selected_service: pick("service"),
        selected_env: pick("env"),
    });
    let mut r = page.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Nor may another site frame the page.
    let csp = format!("{}; frame-ancestors 'none'", crate::render::dashboard_csp());
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(r)
}
