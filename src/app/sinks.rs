//! The sink dispatcher every event use case ends with: the new events are
//! spooled, the spool's backlog and the new events are delivered, and the
//! outcome comes back as a [`Report`] for the front door to tell.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::ci::EnvMap;
use crate::env_vars as ev;
use crate::http::{DEFAULT_SINK_BUDGET, HttpSettings};
use crate::sink::deliver::{self, Plan};
use crate::sink::{Report, Secrets, SinkError, SinkEvent, SinkReport, SinkSpec};

/// Credentials for the sinks, from the environment.
pub fn secrets(env: &EnvMap) -> Secrets {
    let get = |k: &str| {
        env.get(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretString::from(v.clone()))
    };
    Secrets {
        dd_api_key: get(ev::DD_API_KEY),
        webhook_secret: get(ev::WEBHOOK_SECRET),
        devlake_token: get(ev::DEVLAKE_TOKEN),
    }
}

/// Where and how to deliver.
pub struct Target<'a> {
    pub spool: &'a Path,
    pub sinks: &'a [SinkSpec],
    pub secrets: &'a Secrets,
    pub http: &'a HttpSettings,
    pub now: DateTime<Utc>,
}

/// Delivers `events` (just stored) after the spool's backlog, within the
/// delivery budget (`DORAMETER_SINK_BUDGET`, else [`DEFAULT_SINK_BUDGET`]):
/// what is left when it runs out waits in the spool. `None` when there is
/// nothing to do: no sink, or no event.
pub fn emit(target: &Target<'_>, events: &[SinkEvent]) -> Option<Result<Report, SinkError>> {
    if target.sinks.is_empty() || events.is_empty() {
        return None;
    }
    let budget = target.http.budget.unwrap_or(DEFAULT_SINK_BUDGET);
    Some(deliver(target, events, Some(budget)))
}

/// `dorameter flush`: delivers what the spool holds. Delivering is its
/// whole job: no budget unless `DORAMETER_SINK_BUDGET` sets one (the
/// breaker still stops at a sink that does not answer).
pub fn flush(target: &Target<'_>) -> Result<Report, SinkError> {
    if target.spool.join(crate::sink::spool::EVENTS_FILE).exists() {
        return deliver(target, &[], target.http.budget);
    }
    Ok(Report {
        spool: Some(target.spool.display().to_string()),
        sinks: target
            .sinks
            .iter()
            .map(|s| SinkReport::new(s.to_string()))
            .collect(),
        ..Report::default()
    })
}

fn deliver(
    target: &Target<'_>,
    events: &[SinkEvent],
    budget: Option<Duration>,
) -> Result<Report, SinkError> {
    let plan = Plan {
        sinks: target.sinks,
        secrets: target.secrets,
        settings: target.http,
        now: target.now,
        budget,
    };
    deliver::run(target.spool, &plan, events)
}
