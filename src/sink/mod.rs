//! Sinks (SPEC §5): push-only fan-out of recorded events to Datadog, generic
//! webhooks and Apache DevLake, with a durable local spool so an outage never
//! loses an event and an acknowledged event is never sent twice.
//!
//! Data flow: the command stores the event, then [`deliver::run`] appends one
//! record per sink to the [`spool`], sends every pending record through the
//! one [`crate::http`] client (retries, backoff, `Retry-After`), and acknowledges
//! what the sink accepted.

pub mod datadog;
pub mod deliver;
pub mod devlake;
pub mod spec;
pub mod spool;
pub mod webhook;

use serde::{Deserialize, Serialize};

use crate::event::{Deployment, Incident, TestRun};

pub use crate::http::HttpSettings;
pub use deliver::{Report, Secrets, SinkReport};
pub use spec::{SinkSpec, redact_url};
pub use spool::{Record, Spool, SpoolError};

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
    /// upsert by id), each at most once per sink.
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
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Client(#[from] crate::http::ClientError),
}

impl SinkError {
    pub fn is_usage(&self) -> bool {
        matches!(self, SinkError::BadSpec { .. })
            || matches!(self, SinkError::Spool(e) if e.is_usage())
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            SinkError::BadSpec { .. } => Some(
                "give --sink (DORAMETER_SINKS, comma separated) as datadog, datadog:BASE_URL, webhook:URL or devlake:URL, with http:// or https:// URLs".into(),
            ),
            SinkError::Spool(e) => e.hint(),
            SinkError::Client(_) => None,
        }
    }
}
