//! `dorameter flush`: deliver what the spool holds. Also the hook every
//! event command calls after storing: [`emit`] spools the new events, replays
//! the spool and turns the outcome into warnings (or exit 5 under `--strict`).

use std::path::Path;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use super::GlobalArgs;
use super::context::{Context, Session};
use crate::ci::EnvMap;
use crate::env_vars as ev;
use crate::git::Repo;
use crate::render::{self, Format};
use crate::sink::deliver::{self, Plan};
use crate::sink::{HttpSettings, Report, Secrets, SinkEvent};
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct FlushArgs {}

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

/// Timeouts, retries and concurrency from `DORAMETER_SINK_*`.
pub fn http_settings(env: &EnvMap) -> Result<HttpSettings> {
    let mut s = HttpSettings::default();
    let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(v) = get(ev::SINK_TIMEOUT) {
        s.timeout = duration(ev::SINK_TIMEOUT, v)?;
        s.connect_timeout = s.connect_timeout.min(s.timeout);
    }
    if let Some(v) = get(ev::SINK_BACKOFF) {
        s.backoff = duration(ev::SINK_BACKOFF, v)?;
    }
    if let Some(v) = get(ev::SINK_MAX_DELAY) {
        s.max_delay = duration(ev::SINK_MAX_DELAY, v)?;
    }
    if let Some(v) = get(ev::SINK_RETRIES) {
        s.retries = v.parse().ok().filter(|n| *n <= 20).ok_or_else(|| {
            Error::usage_hint(
                format!("invalid {} '{v}'", ev::SINK_RETRIES),
                format!("set {} to a number from 0 to 20", ev::SINK_RETRIES),
            )
        })?;
    }
    if let Some(v) = get(ev::SINK_CONCURRENCY) {
        s.concurrency = v
            .parse()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| {
                Error::usage_hint(
                    format!("invalid {} '{v}'", ev::SINK_CONCURRENCY),
                    format!("set {} to a number from 1 to 64", ev::SINK_CONCURRENCY),
                )
            })?;
    }
    Ok(s)
}

/// `250ms`, `2s`, `1.5s`, `1m`, or plain seconds.
fn duration(var: &str, v: &str) -> Result<Duration> {
    let bad = || {
        Error::usage_hint(
            format!("invalid duration for {var}: '{v}'"),
            format!("give {var} as e.g. 250ms, 2s or 1m"),
        )
    };
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60.0)
    } else {
        (v, 1.0)
    };
    let x: f64 = num.trim().parse().map_err(|_| bad())?;
    if !x.is_finite() || x < 0.0 || x * scale > 86_400.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(x * scale))
}

/// Sends `events` (just stored) to every configured sink, after the spool's
/// backlog. Returns `code`, or exit 5 under `--strict` when something stays
/// undelivered. Telemetry never fails a command otherwise.
pub fn emit(
    ctx: &mut Context<'_>,
    global: &GlobalArgs,
    session: &Session,
    repo: Option<&Repo>,
    events: Vec<SinkEvent>,
    code: u8,
) -> Result<u8> {
    if session.sinks.is_empty() || events.is_empty() {
        return Ok(code);
    }
    let dir = ctx.spool_dir(global, session, repo);
    let report = deliver_spool(ctx, session, &dir, &events);
    let ok = match report {
        Ok(report) => {
            tell(ctx, session, &report)?;
            report.ok()
        }
        Err(e) => {
            let hint = e
                .hint()
                .map(|h| format!(" (hint: {h})"))
                .unwrap_or_default();
            ctx.warn(session, &format!("sinks: {e}{hint}"))?;
            false
        }
    };
    Ok(if !ok && global.strict && code == exit::OK {
        exit::SINK
    } else {
        code
    })
}

fn deliver_spool(
    ctx: &Context<'_>,
    session: &Session,
    dir: &Path,
    events: &[SinkEvent],
) -> std::result::Result<Report, crate::sink::SinkError> {
    let secrets = secrets(&ctx.env);
    let settings = http_settings(&ctx.env).unwrap_or_default();
    let plan = Plan {
        sinks: &session.sinks,
        secrets: &secrets,
        settings: &settings,
        now: session.now,
    };
    deliver::run(dir, &plan, events)
}

/// Warnings for what was not delivered; details with `-v`.
fn tell(ctx: &mut Context<'_>, session: &Session, report: &Report) -> Result<()> {
    if let Some(e) = &report.spool_error {
        ctx.warn(session, &format!("sinks: {e}"))?;
    }
    if report.health.corrupt_records > 0 {
        ctx.warn(
            session,
            &format!(
                "spool {}: skipped {} damaged record(s)",
                report.spool.as_deref().unwrap_or("?"),
                report.health.corrupt_records
            ),
        )?;
    }
    for s in &report.sinks {
        if s.pending > 0 {
            let kept = if report.spool_error.is_some() {
                "not delivered"
            } else {
                "not delivered; kept in the spool for the next run or `dorameter flush`"
            };
            ctx.warn(
                session,
                &format!(
                    "sink {}: {} event(s) {kept}: {}",
                    s.sink,
                    s.pending,
                    s.error_summary()
                ),
            )?;
        }
        ctx.info(
            session,
            &format!(
                "sink {}: {} delivered, {} not applicable, {} pending",
                s.sink, s.delivered, s.skipped, s.pending
            ),
        )?;
    }
    for s in &report.unconfigured {
        ctx.info(
            session,
            &format!(
                "spool: {} event(s) wait for {}, which this run does not send to",
                s.pending, s.sink
            ),
        )?;
    }
    Ok(())
}

pub fn run(_args: FlushArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let session = ctx.session(global, None)?;
    let dir = ctx.spool_dir(global, &session, None);
    let report = if dir.join(crate::sink::spool::EVENTS_FILE).exists() {
        deliver_spool(ctx, &session, &dir, &[])?
    } else {
        Report {
            spool: Some(dir.display().to_string()),
            sinks: session
                .sinks
                .iter()
                .map(|s| crate::sink::SinkReport::new(s.to_string()))
                .collect(),
            ..Report::default()
        }
    };
    tell(ctx, &session, &report)?;
    if session.sinks.is_empty() {
        let waiting: u64 = report.unconfigured.iter().map(|s| s.pending).sum();
        if waiting > 0 {
            ctx.warn(
                &session,
                &format!("no sink configured: {waiting} event(s) wait in the spool (pass --sink or set DORAMETER_SINKS)"),
            )?;
        }
    }
    let text = match session.format {
        Format::Json => render::json(&report),
        Format::Table | Format::Markdown => table(&report),
        other => {
            return Err(Error::usage_hint(
                format!("--format {} is not available for flush", other.as_str()),
                "use --format table or json",
            ));
        }
    };
    ctx.out(&text)?;
    let waiting = report.pending() + report.unconfigured.iter().map(|s| s.pending).sum::<u64>();
    Ok(if global.strict && (waiting > 0 || !report.ok()) {
        exit::SINK
    } else {
        exit::OK
    })
}

fn table(report: &Report) -> String {
    let mut rows = vec![vec![
        "sink".to_string(),
        "delivered".into(),
        "not applicable".into(),
        "pending".into(),
    ]];
    for s in report.sinks.iter().chain(report.unconfigured.iter()) {
        rows.push(vec![
            render::escape::terminal(&s.sink),
            s.delivered.to_string(),
            s.skipped.to_string(),
            s.pending.to_string(),
        ]);
    }
    if rows.len() == 1 {
        return "nothing to flush: no sink configured and the spool is empty\n".into();
    }
    render::columns_pub(&rows)
}
