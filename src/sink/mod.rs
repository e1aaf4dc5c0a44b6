//! Sinks (SPEC §5): push-only fan-out of recorded events to Datadog, generic
//! webhooks and Apache DevLake, with a durable local spool so an outage never
//! loses an event and an acknowledged event is never sent twice.
//!
//! Data flow: the command stores the event, then [`deliver::run`] appends one
//! record per sink to the [`spool`], sends every pending record through the
//! one [`crate::http`] client (retries, backoff, `Retry-After`), and acknowledges
//! what the sink accepted.

pub mod cloudwatch;
pub mod datadog;
pub mod deliver;
pub mod devlake;
pub mod sigv4;
pub mod spec;
pub mod spool;
pub mod webhook;

use serde::{Deserialize, Serialize};

use crate::event::{Deployment, Incident, TestRun};

pub use crate::http::HttpSettings;
pub use deliver::{Dropped, Report, Secrets, SinkReport};
pub use spec::{SinkEnv, SinkSpec, redact_url};
pub use spool::{Record, Spool, SpoolError};

/// Refuses a configuration no event could ever be delivered with (a
/// `datadog` sink without a usable `DD_API_KEY`), so a command fails before
/// it stores anything rather than spooling records that can only wait.
pub fn check_ready(sinks: &[SinkSpec], secrets: &Secrets) -> Result<(), SinkError> {
    for sink in sinks {
        let problem = match sink {
            SinkSpec::Datadog { .. } => datadog::api_key(secrets.dd_api_key.as_ref())
                .err()
                .map(|p| p.to_string()),
            SinkSpec::CloudWatch { .. } if secrets.aws.is_none() => {
                Some(secrets.aws_missing.clone())
            }
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(SinkError::NotReady {
                sink: sink.to_string(),
                kind: sink.kind(),
                problem,
            });
        }
    }
    Ok(())
}

/// One event as every sink receives it (the contract of `src/event.rs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum SinkEvent {
    Deployment(Deployment),
    Incident(Incident),
    TestRun(TestRun),
}

impl SinkEvent {
    /// `deployment`, `incident` or `test_run`: the webhook body's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkEvent::Deployment(_) => "deployment",
            SinkEvent::Incident(_) => "incident",
            SinkEvent::TestRun(_) => "test_run",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            SinkEvent::Deployment(d) => &d.id,
            SinkEvent::Incident(i) => &i.id,
            SinkEvent::TestRun(t) => &t.id,
        }
    }

    /// A stable digest of the event's content. An incident opened and then
    /// resolved is two revisions of one id: both are delivered (receivers
    /// upsert by id), each acknowledged once per sink.
    pub fn revision(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        format!("{:016x}", crate::event::fnv1a64(&bytes))
    }
}

/// Errors that stop a sink command (`flush`) or a `--sink` value.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("invalid sink '{shown}': {reason}")]
    BadSpec { shown: String, reason: String },
    /// A configured sink cannot send at all (the Datadog key): refused
    /// before anything is stored, not spooled to fail on every run.
    #[error("the sink {sink} cannot send: {problem}")]
    NotReady {
        sink: String,
        kind: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Client(#[from] crate::http::ClientError),
}

impl SinkError {
    pub fn is_usage(&self) -> bool {
        matches!(self, SinkError::BadSpec { .. } | SinkError::NotReady { .. })
            || matches!(self, SinkError::Spool(e) if e.is_usage())
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            SinkError::BadSpec { .. } => Some(
                "give --sink (DORAMETER_SINKS, comma separated) as datadog, datadog:BASE_URL, webhook:URL, devlake:URL, cloudwatch or cloudwatch:NAMESPACE, with http:// or https:// URLs".into(),
            ),
            SinkError::NotReady {
                kind: "cloudwatch", ..
            } => Some(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) in the job's environment, from secrets (only these variables are read: with a runner's role or OIDC, export the role's credentials first, e.g. aws-actions/configure-aws-credentials); or remove `cloudwatch` from --sink / DORAMETER_SINKS / `sinks` in .dorameter.toml".into(),
            ),
            SinkError::NotReady { .. } => Some(
                "set DD_API_KEY to a Datadog API key (Organization Settings > API Keys) in the job's environment, from a secret: `DD_API_KEY: ${{ secrets.DD_API_KEY }}` in GitHub Actions, a masked CI/CD variable in GitLab; or remove `datadog` from --sink / DORAMETER_SINKS / `sinks` in .dorameter.toml".into(),
            ),
            SinkError::Spool(e) => e.hint(),
            SinkError::Client(_) => None,
        }
    }
}
