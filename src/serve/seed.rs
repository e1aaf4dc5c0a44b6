//! The bodies of seed 000's `/api/dora/*` and seed 001's
//! `/metrics/dora/{service}`, built from the same values `report` prints.
//! Durations are in the seed's minutes (`report`'s seconds / 60, to 4
//! decimals), rates in percent, except where `docs/serve.md` says.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::app::breakdown::{Breakdown, Cause, Failure, IncidentLine};
use crate::app::series::{Bucket, buckets};
use crate::metrics::{BandTable, Banded, Level, Report, Window, round_to};

fn minutes(seconds: Option<f64>) -> Option<f64> {
    seconds.map(|s| round_to(s / 60.0, 4))
}

fn level(l: Option<Level>) -> Value {
    l.map_or(Value::Null, |l| json!(l.as_str()))
}

fn description(bands: &BandTable, metric: Banded, l: Option<Level>) -> Value {
    l.map_or(Value::Null, |l| json!(bands.describe(metric, l)))
}

fn time(t: DateTime<Utc>) -> String {
    crate::time::format_time(t)
}

/// `project`, `environment` and `timeRange` of every body.
fn head(r: &Report) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("project".into(), json!(r.service));
    m.insert("environment".into(), json!(r.env));
    m.insert(
        "timeRange".into(),
        json!({"start": r.window.start, "end": r.window.end}),
    );
    m
}

fn with(mut head: serde_json::Map<String, Value>, rest: Value) -> Value {
    if let Value::Object(rest) = rest {
        head.extend(rest);
    }
    Value::Object(head)
}

pub fn deployment_frequency(r: &Report, bands: &BandTable) -> Value {
    let df = &r.metrics.deployment_frequency;
    json!({
        "value": df.value,
        "unit": df.unit,
        "level": level(df.level),
        "description": description(bands, Banded::DeploymentFrequency, df.level),
        "deployments": df.deployments,
        "deployment_days_per_week": df.deployment_days_per_week,
    })
}

pub fn lead_time(r: &Report, bands: &BandTable) -> Value {
    let lt = &r.metrics.lead_time_for_changes;
    json!({
        "value": minutes(lt.value),
        "unit": "minutes",
        "level": level(lt.level),
        "p50": minutes(lt.p50),
        "p95": minutes(lt.p95),
        "mean": minutes(lt.mean),
        "description": description(bands, Banded::LeadTime, lt.level),
        "changes": lt.changes,
        "deployments_without_history": lt.deployments_without_history,
    })
}

pub fn change_failure_rate(r: &Report, bands: &BandTable) -> Value {
    let c = &r.metrics.change_failure_rate;
    json!({
        "value": c.value,
        "unit": c.unit,
        "level": level(c.level),
        "total_deployments": c.total_deployments,
        "failed_deployments": c.failed_deployments,
        "successful_deployments": c.total_deployments - c.failed_deployments,
        "description": description(bands, Banded::ChangeFailureRate, c.level),
    })
}

pub fn time_to_restore(r: &Report, bands: &BandTable) -> Value {
    let t = &r.metrics.time_to_restore;
    json!({
        "value": minutes(t.value),
        "unit": "minutes",
        "level": level(t.level),
        "p50": minutes(t.p50),
        "p95": minutes(t.p95),
        "mean": minutes(t.mean),
        "description": description(bands, Banded::Recovery, t.level),
        "total_incidents": t.incidents,
        "open_incidents": t.open_incidents,
    })
}

fn failed_deployment_recovery_time(r: &Report, bands: &BandTable) -> Value {
    let f = &r.metrics.failed_deployment_recovery_time;
    json!({
        "value": minutes(f.value),
        "unit": "minutes",
        "level": level(f.level),
        "p50": minutes(f.p50),
        "p95": minutes(f.p95),
        "mean": minutes(f.mean),
        "description": description(bands, Banded::Recovery, f.level),
        "failed_deployments": f.failed_deployments,
        "unrecovered_deployments": f.unrecovered_deployments,
    })
}

fn rework_rate(r: &Report) -> Value {
    let w = &r.metrics.rework_rate;
    json!({
        "value": w.value,
        "unit": w.unit,
        "remediation_deployments": w.remediation_deployments,
        "total_deployments": w.total_deployments,
    })
}

/// dorameter has no SLO source: the fifth metric of seed 000 is shown as
/// not measured rather than invented.
fn operational_performance() -> Value {
    json!({
        "value": null,
        "unit": "percent",
        "sloTarget": null,
        "p99Latency": null,
        "errorRate": null,
        "description": "Not measured: dorameter records deployments, incidents and tests, not SLOs",
    })
}

/// `GET /api/dora/metrics`.
pub fn metrics(r: &Report, bands: &BandTable) -> Value {
    let mut head = head(r);
    head.insert("bands".into(), json!(r.bands));
    with(
        head,
        json!({"metrics": {
            "deploymentFrequency": deployment_frequency(r, bands),
            "leadTimeForChanges": lead_time(r, bands),
            "changeFailureRate": change_failure_rate(r, bands),
            "meanTimeToRestore": time_to_restore(r, bands),
            "operationalPerformance": operational_performance(),
            "failedDeploymentRecoveryTime": failed_deployment_recovery_time(r, bands),
            "reworkRate": rework_rate(r),
        }}),
    )
}

/// Deployments per bucket (`series`' days, ISO weeks or months), every
/// bucket of the window (zeros too), dated by the first day of its whole
/// bucket (the first may start before the window).
pub fn timeseries(b: &Breakdown, window: Window, by: Bucket) -> Value {
    let mut i = 0;
    let points = buckets(by, window)
        .into_iter()
        .map(|w| {
            let mut n = 0u64;
            while i < b.deployed_at.len() && b.deployed_at[i] < w.until {
                n += 1;
                i += 1;
            }
            json!({"date": by.floor(w.since).format("%Y-%m-%d").to_string(), "deployments": n})
        })
        .collect();
    Value::Array(points)
}

/// `GET /api/dora/deployment-frequency`.
pub fn deployment_frequency_body(
    b: &Breakdown,
    bands: &BandTable,
    by: Bucket,
    window: Window,
) -> Value {
    let r = &b.report;
    with(
        head(r),
        json!({
            "metric": "deployment_frequency",
            "summary": deployment_frequency(r, bands),
            "groupBy": by.as_str(),
            "timeseries": timeseries(b, window, by),
        }),
    )
}

/// `GET /api/dora/lead-time`. dorameter measures commit to deploy, not the
/// build and test stages between: with `includeStages`, that one stage.
pub fn lead_time_body(r: &Report, bands: &BandTable, stages: bool) -> Value {
    let mut body = json!({
        "metric": "lead_time_for_changes",
        "summary": lead_time(r, bands),
    });
    if stages {
        body["stages"] = json!([{
            "name": "commit_to_deploy",
            "duration": minutes(r.metrics.lead_time_for_changes.p50),
            "unit": "minutes",
        }]);
    }
    with(head(r), body)
}

/// Why a failed deployment counts, in words.
fn reason(f: &Failure) -> String {
    let words: Vec<String> = f
        .causes
        .iter()
        .map(|c| match c {
            Cause::Remediation {
                deployment_id,
                reason,
                commit,
            } => {
                let what = reason.remediated_by();
                match commit {
                    Some(c) => format!("{what} {deployment_id} (commit {})", &c[..c.len().min(12)]),
                    None => format!("{what} {deployment_id}"),
                }
            }
            Cause::Incident {
                incident_id, title, ..
            } => match title {
                Some(t) => format!("incident {incident_id}: {t}"),
                None => format!("incident {incident_id}"),
            },
        })
        .collect();
    words.join("; ")
}

/// `GET /api/dora/change-failure-rate`.
pub fn change_failure_rate_body(b: &Breakdown, bands: &BandTable) -> Value {
    let failures: Vec<Value> = b
        .failures
        .iter()
        .map(|f| {
            let severity = f.causes.iter().find_map(|c| match c {
                Cause::Incident { severity, .. } => severity.clone(),
                Cause::Remediation { .. } => None,
            });
            json!({
                "deployment_id": f.deployment_id,
                "sha": f.sha,
                "timestamp": time(f.finished_at),
                "reason": reason(f),
                "severity": severity,
                "resolved_at": f.recovered_at.map(time),
                "mttr_minutes": f.recovered_at.map(|r| {
                    round_to(((r - f.finished_at).num_milliseconds() as f64 / 60_000.0).max(0.0), 4)
                }),
                "causes": f.causes,
            })
        })
        .collect();
    with(
        head(&b.report),
        json!({
            "metric": "change_failure_rate",
            "summary": change_failure_rate(&b.report, bands),
            "failures": failures,
        }),
    )
}

/// The seed's `avg_severity`: the mean of high (3), medium (2) and low (1),
/// rounded; other severities are left out.
fn average_severity(incidents: &[IncidentLine]) -> Option<&'static str> {
    let ranks: Vec<f64> = incidents
        .iter()
        .filter_map(
            |i| match i.severity.as_deref()?.to_ascii_lowercase().as_str() {
                "high" => Some(3.0),
                "medium" => Some(2.0),
                "low" => Some(1.0),
                _ => None,
            },
        )
        .collect();
    if ranks.is_empty() {
        return None;
    }
    let mean = ranks.iter().sum::<f64>() / ranks.len() as f64;
    Some(match mean.round() as i64 {
        3 => "high",
        2 => "medium",
        _ => "low",
    })
}

/// `GET /api/dora/mttr`.
pub fn mttr_body(b: &Breakdown, bands: &BandTable, severity: Option<&str>) -> Value {
    let mut summary = time_to_restore(&b.report, bands);
    summary["avg_severity"] = json!(average_severity(&b.incidents));
    let incidents: Vec<Value> = b
        .incidents
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "created_at": time(i.started_at),
                "resolved_at": i.resolved_at.map(time),
                "duration_minutes": i.resolved_at.map(|r| {
                    round_to(((r - i.started_at).num_milliseconds() as f64 / 60_000.0).max(0.0), 4)
                }),
                "severity": i.severity,
                "title": i.title,
            })
        })
        .collect();
    with(
        head(&b.report),
        json!({
            "metric": "mean_time_to_restore",
            "severity": severity,
            "summary": summary,
            "incidents": incidents,
        }),
    )
}

/// `GET /api/dora/rework`'s head; the caller adds `summary` and `details`.
pub fn rework_head(r: &Report) -> Value {
    with(head(r), json!({"metric": "ci_rework_metrics"}))
}

/// Seed 001's `GET /metrics/dora/{service}?days=N`: its shape and rounding,
/// `report`'s numbers (levels are `report`'s, banded on the median).
pub fn seed001(r: &Report, days: i64) -> Value {
    let m = &r.metrics;
    let hours = |s: Option<f64>| s.map(|s| round_to(s / 3600.0, 2));
    json!({
        "service": r.service,
        "period_days": days,
        "metrics": {
            "deployment_frequency": {
                "value": m.deployment_frequency.value.map(|v| round_to(v, 2)),
                "unit": "per_day",
                "rating": level(m.deployment_frequency.level),
            },
            "lead_time": {
                "mean_hours": hours(m.lead_time_for_changes.mean),
                "median_hours": hours(m.lead_time_for_changes.p50),
                "rating": level(m.lead_time_for_changes.level),
            },
            "change_failure_rate": {
                "value": m.change_failure_rate.value.map(|v| round_to(v, 2)).unwrap_or(0.0),
                "unit": "percent",
                "rating": level(m.change_failure_rate.level),
            },
            "mttr": {
                "value": m.time_to_restore.mean.map(|s| round_to(s / 60.0, 2)),
                "unit": "minutes",
                "rating": level(m.time_to_restore.level),
            },
        },
    })
}

/// Seed 001's `GET /metrics/change-failure-rate?service=S&days=N`.
pub fn seed001_change_failure_rate(r: &Report, days: i64) -> Value {
    let c = &r.metrics.change_failure_rate;
    json!({
        "service": r.service,
        "period_days": days,
        "total_deployments": c.total_deployments,
        "failed_deployments": c.failed_deployments,
        "change_failure_rate": c.value.map(|v| round_to(v, 2)).unwrap_or(0.0),
        "rating": level(c.level),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_severity_rounds_the_known_ones() {
        let line = |s: &str| IncidentLine {
            id: "i".into(),
            started_at: Utc::now(),
            resolved_at: None,
            severity: Some(s.into()),
            title: None,
        };
        assert_eq!(
            average_severity(&[line("high"), line("LOW"), line("sev1")]),
            Some("medium")
        );
        assert_eq!(average_severity(&[line("critical")]), None);
        assert_eq!(
            average_severity(&[line("high"), line("high"), line("low")]),
            Some("medium")
        );
    }
}
