//! The root fields: each loads what REST loads, with the same functions
//! (`rest::load`, `seed::*`), and answers the JSON the REST body holds; the
//! executor picks the selected fields out of it by the schema's keys. So a
//! number is the same in both APIs by construction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::exec::Root;
use super::schema::{MAX_DEPLOYMENTS, TIME_RANGES};
use crate::app::breakdown::{Breakdown, Evidence};
use crate::app::deployment_list::deployment_list;
use crate::app::series::Bucket;
use crate::metrics::Window;
use crate::serve::api::{ApiError, ApiResult};
use crate::serve::params::Query as Params;
use crate::serve::rest;
use crate::serve::seed;
use crate::serve::server::Shared;
use crate::time::format_time;

type Key = (String, String, DateTime<Utc>, DateTime<Utc>, Evidence);

/// Answers the root fields of one request. Breakdowns are kept for the
/// request, so `doraMetrics`, `deployments` and `incidents` of one project
/// and window read the store once.
pub struct Resolver {
    s: Shared,
    loaded: HashMap<Key, std::sync::Arc<Breakdown>>,
}

impl Root for Resolver {
    async fn root(&mut self, name: &str, args: &Map<String, Value>) -> ApiResult<Value> {
        match name {
            "doraMetrics" => self.dora_metrics(args).await,
            "projects" => self.projects().await,
            "deployments" => self.deployments(args).await,
            "incidents" => self.incidents(args).await,
            _ => Err(ApiError::internal()),
        }
    }
}

impl Resolver {
    pub fn new(s: Shared) -> Resolver {
        Resolver {
            s,
            loaded: HashMap::new(),
        }
    }

    /// The REST query parameters the arguments are.
    fn params(args: &Map<String, Value>) -> Params {
        let mut q = Params::new();
        for (name, rest_name) in [
            ("project", "project"),
            ("environment", "environment"),
            ("startDate", "startDate"),
            ("endDate", "endDate"),
        ] {
            if let Some(Value::String(v)) = args.get(name) {
                q.insert(rest_name.to_string(), v.clone());
            }
        }
        if let Some(Value::String(range)) = args.get("timeRange") {
            if let Some((_, rest_name)) = TIME_RANGES.iter().find(|(g, _)| g == range) {
                q.insert("timeRange".to_string(), (*rest_name).to_string());
            }
        }
        q
    }

    /// The breakdown of a root field's project and window with the lists
    /// it shows (`evidence`), read once per query for each.
    async fn load(
        &mut self,
        args: &Map<String, Value>,
        evidence: Evidence,
    ) -> ApiResult<(&Breakdown, Window)> {
        let q = Self::params(args);
        let (project, env, (window, range)) = rest::target(&self.s, &q, "last30days")?;
        let key = (
            project.clone(),
            env.clone(),
            window.since,
            window.until,
            evidence,
        );
        if !self.loaded.contains_key(&key) {
            let b = rest::load(&self.s, project, env, (window, range), None, evidence).await?;
            self.loaded.insert(key.clone(), b);
        }
        let b = self.loaded.get(&key).ok_or_else(ApiError::internal)?;
        Ok((b, window))
    }

    async fn dora_metrics(&mut self, args: &Map<String, Value>) -> ApiResult<Value> {
        let s = self.s.clone();
        let (b, window) = self.load(args, Evidence::default()).await?;
        let mut body = seed::metrics(&b.report, &s.answers.bands);
        let mut out = match body.get_mut("metrics").map(Value::take) {
            Some(Value::Object(m)) => m,
            _ => return Err(ApiError::internal()),
        };
        for key in ["project", "environment", "timeRange"] {
            out.insert(key.into(), body[key].take());
        }
        if let Some(df) = out.get_mut("deploymentFrequency") {
            df["timeseries"] = seed::timeseries(b, window, Bucket::Day);
        }
        if let Some(lt) = out.get_mut("leadTimeForChanges") {
            lt["stages"] = seed::lead_time_body(&b.report, &s.answers.bands, true)["stages"].take();
        }
        Ok(Value::Object(out))
    }

    async fn incidents(&mut self, args: &Map<String, Value>) -> ApiResult<Value> {
        let s = self.s.clone();
        let incidents = Evidence {
            failures: false,
            incidents: true,
        };
        let (b, _) = self.load(args, incidents).await?;
        Ok(seed::mttr_body(b, &s.answers.bands, None)["incidents"].take())
    }

    async fn deployments(&mut self, args: &Map<String, Value>) -> ApiResult<Value> {
        let limit = match args.get("limit").and_then(Value::as_i64) {
            Some(n) if (1..=MAX_DEPLOYMENTS).contains(&n) => n as usize,
            Some(n) => {
                return Err(ApiError::bad_request(format!(
                    "limit must be 1 to {MAX_DEPLOYMENTS}, not {n}"
                )));
            }
            None => 100,
        };
        let s = self.s.clone();
        let failures = Evidence {
            failures: true,
            incidents: false,
        };
        let (b, window) = self.load(args, failures).await?;
        // Why each failed deployment counts, as the REST list says it.
        let mut failures: HashMap<String, Value> = HashMap::new();
        if let Value::Array(list) =
            seed::change_failure_rate_body(b, &s.answers.bands)["failures"].take()
        {
            for f in list {
                if let Some(id) = f["deployment_id"].as_str() {
                    failures.insert(id.to_string(), f);
                }
            }
        }
        let req = s.report_request(
            Some(b.report.service.clone()),
            Some(b.report.env.clone()),
            window,
        );
        let list = s
            .pool
            .run(move |w| deployment_list(w.store.as_mut(), &req, limit))
            .await?;
        let list = list
            .into_iter()
            .map(|d| {
                let failure = failures.get(&d.id);
                json!({
                    "id": d.id,
                    "sha": d.sha,
                    "environment": d.env,
                    "status": d.status.as_str(),
                    "kind": d.kind.as_str(),
                    "startedAt": format_time(d.started_at),
                    "finishedAt": format_time(d.finished_at),
                    "version": d.version,
                    "changes": d.changes.len(),
                    "failed": failure.is_some(),
                    "failureReason": failure.map(|f| f["reason"].clone()),
                    "recoveredAt": failure.map(|f| f["resolved_at"].clone()),
                })
            })
            .collect();
        Ok(Value::Array(list))
    }

    async fn projects(&mut self) -> ApiResult<Value> {
        let pairs = rest::service_envs(&self.s).await?;
        let mut projects: Vec<(String, Vec<String>)> = Vec::new();
        for (service, env) in pairs {
            match projects.last_mut() {
                Some((name, envs)) if *name == service => envs.push(env),
                _ => projects.push((service, vec![env])),
            }
        }
        Ok(Value::Array(
            projects
                .into_iter()
                .map(|(name, environments)| json!({"name": name, "environments": environments}))
                .collect(),
        ))
    }
}
