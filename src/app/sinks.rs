//! The sink dispatcher every event use case ends with: the new events are
//! spooled, the spool's backlog and the new events are delivered, and the
//! outcome comes back as a [`Report`] for the front door to tell.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::ci::EnvMap;
use crate::env_vars as ev;
use crate::http::{DEFAULT_SINK_BUDGET, HttpSettings};
use crate::sink::deliver::{self, Plan};
use crate::sink::{
    Dropped, Record, Report, Secrets, SinkError, SinkEvent, SinkReport, SinkSpec, Spool,
};
use crate::{Error, Result};

/// Credentials for the sinks, from the environment.
pub fn secrets(env: &EnvMap) -> Secrets {
    let get = |k: &str| {
        env.get(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretString::from(v.clone()))
    };
    let (id, secret) = (get(ev::AWS_ACCESS_KEY_ID), get(ev::AWS_SECRET_ACCESS_KEY));
    let aws_missing = match (&id, &secret) {
        (None, None) => "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
        (None, Some(_)) => "AWS_ACCESS_KEY_ID is not set",
        (Some(_), None) => "AWS_SECRET_ACCESS_KEY is not set",
        _ => "",
    }
    .to_string();
    let aws = match (id, secret) {
        (Some(id), Some(secret)) => Some(crate::sink::sigv4::Credentials {
            access_key_id: secrecy::ExposeSecret::expose_secret(&id).trim().to_string(),
            secret_access_key: secret,
            session_token: get(ev::AWS_SESSION_TOKEN),
        }),
        _ => None,
    };
    Secrets {
        dd_api_key: get(ev::DD_API_KEY),
        webhook_secret: get(ev::WEBHOOK_SECRET),
        devlake_token: get(ev::DEVLAKE_TOKEN),
        aws,
        aws_missing,
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

/// `flush --drop SINK`: removes the spooled records of a sink that no longer
/// exists. `wanted` is a `--sink` spec (its exact records) or the redacted
/// name `flush` lists (every record shown under it). Records of a sink this
/// run is configured with are never dropped: they are delivered instead.
/// Nothing to drop is exit 4, naming the sinks that do have records.
pub fn drop_records(
    spool: &Path,
    wanted: &str,
    configured: &[SinkSpec],
    sink_env: &crate::sink::SinkEnv,
) -> Result<Dropped> {
    let wanted = wanted.trim();
    let spec = SinkSpec::parse(wanted, sink_env).ok();
    let shown = spec
        .as_ref()
        .map_or_else(|| wanted.to_string(), ToString::to_string);
    let configured_keys: HashSet<String> = configured.iter().map(SinkSpec::key).collect();
    let refuse_configured = || {
        Error::usage_hint(
            format!(
                "refusing to drop the spooled records of {shown}: this run is configured to send to it"
            ),
            "`flush` delivers them; to drop them, first remove the sink from --sink / DORAMETER_SINKS / `sinks` in .dorameter.toml",
        )
    };
    if spec
        .as_ref()
        .is_some_and(|s| configured_keys.contains(&s.key()))
    {
        return Err(refuse_configured());
    }
    // A record's sink key is its redacted name, `#`, a digest of the URL.
    let name_of = |key: &str| key.split('#').next().unwrap_or_default().to_string();
    let exact = spec.as_ref().map(SinkSpec::key);
    let by_key = |r: &Record| exact.as_deref() == Some(r.sink.as_str());
    let by_name = |r: &Record| {
        let n = name_of(&r.sink);
        n == shown || n == wanted
    };
    let mut waiting: Vec<String> = Vec::new();
    let mut only_configured = false;
    let gone = if spool.join(crate::sink::spool::EVENTS_FILE).exists() {
        let mut s = Spool::open(spool).map_err(SinkError::from)?;
        // The spec's own records when it has any; else every record listed
        // under the name (sinks that differ only in a secret share one).
        let pick: &dyn Fn(&Record) -> bool = if s.pending().any(by_key) {
            &by_key
        } else {
            &by_name
        };
        only_configured = s
            .pending()
            .any(|r| pick(r) && configured_keys.contains(&r.sink));
        for n in s.pending().map(|r| name_of(&r.sink)) {
            if !waiting.contains(&n) {
                waiting.push(n);
            }
        }
        s.discard(&|r| pick(r) && !configured_keys.contains(&r.sink))
            .map_err(SinkError::from)?
    } else {
        0
    };
    if gone == 0 {
        if only_configured {
            return Err(refuse_configured());
        }
        let spool = spool.display();
        return Err(Error::NoInput {
            message: if waiting.is_empty() {
                format!("no spooled records for {shown}: the spool at {spool} is empty")
            } else {
                format!(
                    "no spooled records for {shown} in {spool}; records wait for: {}",
                    waiting.join(", ")
                )
            },
            hint: Some(
                "give --drop a sink as `dorameter flush` lists it (or its --sink spec)".into(),
            ),
        });
    }
    Ok(Dropped {
        sink: shown,
        records: gone as u64,
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
