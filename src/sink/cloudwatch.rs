//! Amazon CloudWatch custom metrics (seed 004's setup): `PutMetricData`
//! over the query protocol, signed with SigV4 (`sigv4`), to
//! `https://monitoring.{region}.amazonaws.com` or `AWS_ENDPOINT_URL_CLOUDWATCH`
//! / `AWS_ENDPOINT_URL`. Namespace `DORA` unless `cloudwatch:NAMESPACE`.
//!
//! What is sent (docs/sinks.md):
//! - a successful deployment: `DeploymentCount` 1 (Count) at its finish, with
//!   dimensions `Service` and `Environment` and once without dimensions (the
//!   seed's alarm reads it so); `LeadTimeForChanges`, its changes' lead times
//!   (Seconds, as a set of values), with the two dimensions;
//! - a resolved incident: `TimeToRestore` (Seconds) and `IncidentCount` 1, at
//!   its start, per service with `Environment`;
//! - nothing for a failed deploy job, an open incident (sent when resolved),
//!   a test run, or a data point older than CloudWatch takes (two weeks).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;

use super::SinkEvent;
use super::deliver::Prepare;
use super::sigv4::{self, Credentials};
use crate::http::{Prepared, sensitive};

pub const DEFAULT_NAMESPACE: &str = "DORA";
/// CloudWatch refuses data points older than this.
const MAX_AGE_DAYS: i64 = 14;
/// Values per datum (`Values` holds at most 150).
const VALUES_PER_DATUM: usize = 150;

/// One metric data point (or set of values).
struct Datum<'a> {
    name: &'static str,
    unit: &'static str,
    values: Vec<f64>,
    at: DateTime<Utc>,
    dimensions: Vec<(&'static str, &'a str)>,
}

fn data(event: &SinkEvent) -> Result<Vec<Datum<'_>>, &'static str> {
    Ok(match event {
        SinkEvent::Deployment(d) if !d.is_success() => {
            return Err("a failed deploy job is not a deployment");
        }
        SinkEvent::Deployment(d) => {
            let dims = vec![
                ("Service", d.service.as_str()),
                ("Environment", d.env.as_str()),
            ];
            let mut out = vec![
                Datum {
                    name: "DeploymentCount",
                    unit: "Count",
                    values: vec![1.0],
                    at: d.finished_at,
                    dimensions: dims.clone(),
                },
                Datum {
                    name: "DeploymentCount",
                    unit: "Count",
                    values: vec![1.0],
                    at: d.finished_at,
                    dimensions: Vec::new(),
                },
            ];
            let lead: Vec<f64> = d
                .changes
                .iter()
                .map(|c| c.lead_time_seconds as f64)
                .collect();
            for chunk in lead.chunks(VALUES_PER_DATUM) {
                out.push(Datum {
                    name: "LeadTimeForChanges",
                    unit: "Seconds",
                    values: chunk.to_vec(),
                    at: d.finished_at,
                    dimensions: dims.clone(),
                });
            }
            out
        }
        SinkEvent::Incident(i) => {
            let Some(resolved) = i.resolved_at else {
                return Err("an open incident is sent when it is resolved");
            };
            let restore = (resolved - i.started_at).num_seconds().max(0) as f64;
            let mut out = Vec::new();
            for s in &i.services {
                let dims = vec![("Service", s.as_str()), ("Environment", i.env.as_str())];
                out.push(Datum {
                    name: "TimeToRestore",
                    unit: "Seconds",
                    values: vec![restore],
                    at: i.started_at,
                    dimensions: dims.clone(),
                });
                out.push(Datum {
                    name: "IncidentCount",
                    unit: "Count",
                    values: vec![1.0],
                    at: i.started_at,
                    dimensions: dims,
                });
            }
            out
        }
        SinkEvent::TestRun(_) => return Err("CloudWatch gets no test runs"),
    })
}

/// The form body of `PutMetricData` for `data`.
fn body(namespace: &str, data: &[Datum<'_>]) -> String {
    let mut u = Url::parse("http://x/").expect("a URL");
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("Action", "PutMetricData")
            .append_pair("Version", "2010-08-01")
            .append_pair("Namespace", namespace);
        for (n, d) in data.iter().enumerate() {
            let p = format!("MetricData.member.{}", n + 1);
            q.append_pair(&format!("{p}.MetricName"), d.name)
                .append_pair(&format!("{p}.Unit"), d.unit)
                .append_pair(
                    &format!("{p}.Timestamp"),
                    &d.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                );
            if let [v] = d.values.as_slice() {
                q.append_pair(&format!("{p}.Value"), &v.to_string());
            } else {
                // Each value once, with how many times it occurred.
                let mut counts: Vec<(f64, u32)> = Vec::new();
                for v in &d.values {
                    match counts.iter_mut().find(|(x, _)| x == v) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((*v, 1)),
                    }
                }
                for (k, (v, n)) in counts.iter().enumerate() {
                    q.append_pair(&format!("{p}.Values.member.{}", k + 1), &v.to_string())
                        .append_pair(&format!("{p}.Counts.member.{}", k + 1), &n.to_string());
                }
            }
            for (k, (name, value)) in d.dimensions.iter().enumerate() {
                let dp = format!("{p}.Dimensions.member.{}", k + 1);
                q.append_pair(&format!("{dp}.Name"), name)
                    .append_pair(&format!("{dp}.Value"), value);
            }
        }
    }
    u.query().unwrap_or_default().to_string()
}

/// The `Host` header reqwest sends for `url` (the port when not the
/// scheme's default), which the signature covers.
fn host(url: &Url) -> String {
    let h = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_string(),
    }
}

/// Builds the signed request for `event`, or says why it is not sent.
pub fn prepare(
    endpoint: &Url,
    region: &str,
    namespace: &str,
    event: &SinkEvent,
    creds: Option<&Credentials>,
    now: DateTime<Utc>,
) -> Prepare {
    let data = match data(event) {
        Ok(d) => d,
        Err(why) => return Prepare::Skip(why),
    };
    if data
        .iter()
        .any(|d| now - d.at > Duration::days(MAX_AGE_DAYS))
    {
        return Prepare::Skip("CloudWatch takes data points at most two weeks old");
    }
    if data.iter().any(|d| d.at - now > Duration::hours(2)) {
        return Prepare::Skip("CloudWatch takes data points at most two hours ahead");
    }
    let Some(creds) = creds else {
        return Prepare::Fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into());
    };
    let body = body(namespace, &data);
    let mut signed = vec![
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
        ("host".to_string(), host(endpoint)),
        ("x-amz-date".to_string(), sigv4::amz_date(now)),
    ];
    if let Some(t) = &creds.session_token {
        signed.push((
            "x-amz-security-token".to_string(),
            t.expose_secret().trim().to_string(),
        ));
    }
    let auth = sigv4::authorization(
        "POST",
        endpoint.path(),
        &signed,
        body.as_bytes(),
        creds,
        region,
        "monitoring",
        now,
    );
    let mut headers = HeaderMap::new();
    for (k, v) in &signed {
        if k == "host" {
            continue; // reqwest sends it, from the URL
        }
        let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
            continue;
        };
        let value = if k == "x-amz-security-token" {
            sensitive(v)
        } else {
            HeaderValue::from_str(v).ok()
        };
        match value {
            Some(v) => {
                headers.insert(name, v);
            }
            None => return Prepare::Fail(format!("the {k} header is not a valid header value")),
        }
    }
    match sensitive(&auth) {
        Some(v) => {
            headers.insert("authorization", v);
        }
        None => return Prepare::Fail("AWS_ACCESS_KEY_ID is not a valid header value".into()),
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    Prepare::Send(Prepared {
        url: endpoint.clone(),
        headers,
        body: body.into_bytes(),
    })
}
