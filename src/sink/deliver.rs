//! Fan-out: spool first, then send every pending record with bounded
//! concurrency, acknowledge what was accepted, and report the rest.
//!
//! Per sink a breaker stops sending for the rest of the run once the sink is
//! unreachable (retries exhausted) or refuses our credentials (401/403/404),
//! so a backlog never turns into a long wait in a deploy job. A delivery
//! budget bounds the whole run: a sink that accepts connections and never
//! answers costs at most the budget, and what is left waits in the spool.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::spool::{AckOutcome, Health, Record, Spool};
use super::{SinkError, SinkEvent, SinkSpec, cloudwatch, datadog, devlake, webhook};
use crate::http::{self, HttpSettings, Jitter, Outcome, Prepared};

/// What a sink makes of one event.
pub enum Prepare {
    Send(Prepared),
    /// Not this sink's kind of event: acknowledged without sending.
    Skip(&'static str),
    /// Cannot be sent as configured (a missing key): stays spooled.
    Fail(String),
}

/// Credentials, from the environment. Never printed: every message a sink
/// produces passes through [`Secrets::scrub`].
#[derive(Clone, Default)]
pub struct Secrets {
    pub dd_api_key: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub devlake_token: Option<SecretString>,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub aws: Option<super::sigv4::Credentials>,
    /// Which of the key pair is missing, when `aws` is `None`.
    pub aws_missing: String,
}

impl Secrets {
    pub fn scrub(&self, mut s: String) -> String {
        let aws = self.aws.as_ref();
        for secret in [
            &self.dd_api_key,
            &self.webhook_secret,
            &self.devlake_token,
            &aws.map(|a| a.secret_access_key.clone()),
            &aws.and_then(|a| a.session_token.clone()),
        ]
        .into_iter()
        .flatten()
        {
            let v = secret.expose_secret().trim();
            if v.len() >= 4 && s.contains(v) {
                s = s.replace(v, "***");
            }
        }
        s
    }
}

/// One sink's tally for this run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SinkReport {
    pub sink: String,
    pub delivered: u64,
    pub skipped: u64,
    /// Still in the spool after this run.
    pub pending: u64,
    /// Distinct failure messages, first few.
    pub errors: Vec<String>,
    #[serde(skip)]
    more_errors: u64,
    /// Why events were not applicable to this sink (distinct reasons).
    #[serde(skip)]
    pub not_applicable: Vec<&'static str>,
}

impl SinkReport {
    pub fn new(sink: String) -> SinkReport {
        SinkReport {
            sink,
            ..SinkReport::default()
        }
    }

    fn error(&mut self, what: String) {
        if self.errors.len() < 5 {
            self.errors.push(what);
        } else {
            self.more_errors += 1;
        }
    }

    fn skip(&mut self, why: &'static str) {
        self.skipped += 1;
        if !self.not_applicable.contains(&why) {
            self.not_applicable.push(why);
        }
    }

    /// The errors as one line for a warning.
    pub fn error_summary(&self) -> String {
        let mut s = self.errors.join("; ");
        if self.more_errors > 0 {
            s.push_str(&format!("; and {} more", self.more_errors));
        }
        s
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub spool: Option<String>,
    pub sinks: Vec<SinkReport>,
    /// Records removed with `flush --drop`, per sink.
    pub dropped: Vec<Dropped>,
    /// Records for sinks not configured in this run (kept for a later run).
    pub unconfigured: Vec<SinkReport>,
    #[serde(flatten)]
    pub health: Health,
    /// The spool could not be used: events were sent without it.
    pub spool_error: Option<String>,
    /// The delivery budget ran out with records left: the budget.
    #[serde(skip)]
    pub budget_spent: Option<Duration>,
}

impl Report {
    pub fn pending(&self) -> u64 {
        self.sinks.iter().map(|s| s.pending).sum()
    }

    /// Everything configured was delivered, and the spool worked.
    pub fn ok(&self) -> bool {
        self.pending() == 0 && self.spool_error.is_none()
    }
}

/// Records `flush --drop` removed for one sink.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Dropped {
    pub sink: String,
    pub records: u64,
}

/// What one run sends to.
pub struct Plan<'a> {
    pub sinks: &'a [SinkSpec],
    pub secrets: &'a Secrets,
    pub settings: &'a HttpSettings,
    pub now: DateTime<Utc>,
    /// The most this run spends delivering, from when it starts (waiting
    /// for another process's spool lock included); `None`: no limit.
    pub budget: Option<Duration>,
}

/// Spools `events` for every sink, then delivers everything pending in the
/// spool at `dir`. With no events (`flush`) a spool that cannot be opened is
/// an error; with events they are still sent, unspooled, and the report says why.
pub fn run(dir: &Path, plan: &Plan<'_>, events: &[SinkEvent]) -> Result<Report, SinkError> {
    let deadline = plan.budget.map(|b| Instant::now() + b);
    let client = http::client(plan.settings)?;
    let mut spool = match Spool::open(dir) {
        Ok(s) => s,
        Err(e) if events.is_empty() => return Err(e.into()),
        Err(e) => {
            let mut report = direct(&client, plan, deadline, events);
            report.spool_error = Some(match e.hint() {
                Some(h) => format!("{e} ({h}); these events were not spooled"),
                None => format!("{e}; these events were not spooled"),
            });
            return Ok(report);
        }
    };
    let records: Vec<Record> = events
        .iter()
        .flat_map(|e| {
            plan.sinks
                .iter()
                .map(move |s| Record::new(s.key(), e.clone(), plan.now))
        })
        .collect();
    spool.append(records)?;

    // The newest revision of an event replaces older pending ones.
    let mut newest: HashMap<String, String> = HashMap::new();
    for r in spool.pending() {
        newest.insert(r.slot(), r.key());
    }
    let superseded: Vec<String> = spool
        .pending()
        .filter(|r| newest.get(&r.slot()) != Some(&r.key()))
        .map(Record::key)
        .collect();
    for k in &superseded {
        spool.ack(k, AckOutcome::Superseded)?;
    }

    let index: HashMap<String, usize> = plan
        .sinks
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key(), i))
        .collect();
    let mut report = Report {
        spool: Some(dir.display().to_string()),
        sinks: plan
            .sinks
            .iter()
            .map(|s| SinkReport {
                sink: s.to_string(),
                ..SinkReport::default()
            })
            .collect(),
        health: spool.health.clone(),
        ..Report::default()
    };
    let mut jobs = Vec::new();
    let mut unconfigured: HashMap<String, u64> = HashMap::new();
    for r in spool.pending() {
        if spool.is_acked(&r.key()) {
            continue;
        }
        match index.get(&r.sink) {
            Some(&i) => jobs.push((i, r.clone())),
            None => *unconfigured.entry(r.sink.clone()).or_default() += 1,
        }
    }
    let mut unconfigured: Vec<SinkReport> = unconfigured
        .into_iter()
        .map(|(sink, pending)| SinkReport {
            sink: sink.split('#').next().unwrap_or_default().to_string(),
            pending,
            ..SinkReport::default()
        })
        .collect();
    unconfigured.sort_by(|a, b| a.sink.cmp(&b.sink));
    report.unconfigured = unconfigured;

    let mut failure: Option<SinkError> = None;
    send_all(
        &client,
        plan,
        deadline,
        &jobs,
        &mut report,
        &mut |key, outcome| {
            if failure.is_none() {
                if let Err(e) = spool.ack(key, outcome) {
                    failure = Some(e.into());
                }
            }
        },
    );
    if let Some(e) = failure {
        return Err(e);
    }
    spool.compact()?;
    Ok(report)
}

/// Sends without a spool (it could not be opened): best effort, nothing kept.
fn direct(
    client: &reqwest::blocking::Client,
    plan: &Plan<'_>,
    deadline: Option<Instant>,
    events: &[SinkEvent],
) -> Report {
    let jobs: Vec<(usize, Record)> = events
        .iter()
        .flat_map(|e| {
            plan.sinks
                .iter()
                .enumerate()
                .map(move |(i, s)| (i, Record::new(s.key(), e.clone(), plan.now)))
        })
        .collect();
    let mut report = Report {
        sinks: plan
            .sinks
            .iter()
            .map(|s| SinkReport {
                sink: s.to_string(),
                ..SinkReport::default()
            })
            .collect(),
        ..Report::default()
    };
    send_all(client, plan, deadline, &jobs, &mut report, &mut |_, _| {});
    report
}

enum Result_ {
    Delivered,
    Skipped(&'static str),
    Failed(String),
    NotTried,
    /// The budget ran out first (with the last attempt's failure, if one
    /// was made): not the sink's fault, no breaker.
    OutOfTime(Option<String>),
}

/// Sends `jobs` on `settings.concurrency` threads until `deadline`; `ack`
/// runs on this thread, in completion order.
fn send_all(
    client: &reqwest::blocking::Client,
    plan: &Plan<'_>,
    deadline: Option<Instant>,
    jobs: &[(usize, Record)],
    report: &mut Report,
    ack: &mut dyn FnMut(&str, AckOutcome),
) {
    if jobs.is_empty() {
        return;
    }
    let next = AtomicUsize::new(0);
    let down: Vec<AtomicBool> = plan.sinks.iter().map(|_| AtomicBool::new(false)).collect();
    let workers = plan.settings.concurrency.clamp(1, 64).min(jobs.len());
    let scrub = |s: String| plan.secrets.scrub(s);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Result_)>();
        for w in 0..workers {
            let tx = tx.clone();
            let (next, down, scrub) = (&next, &down, &scrub);
            scope.spawn(move || {
                let mut jitter = Jitter::new(w as u64);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((si, rec)) = jobs.get(i) else { break };
                    let result = if down[*si].load(Ordering::Relaxed) {
                        Result_::NotTried
                    } else if deadline.is_some_and(|d| Instant::now() >= d) {
                        Result_::OutOfTime(None)
                    } else {
                        let spec = &plan.sinks[*si];
                        match prepare(spec, rec, plan.secrets) {
                            Prepare::Skip(why) => Result_::Skipped(why),
                            Prepare::Fail(m) => {
                                down[*si].store(true, Ordering::Relaxed);
                                Result_::Failed(m)
                            }
                            Prepare::Send(p) => {
                                let sent = http::send(
                                    client,
                                    &p,
                                    plan.settings,
                                    &mut jitter,
                                    scrub,
                                    deadline,
                                );
                                match sent {
                                    Outcome::Delivered { .. } => Result_::Delivered,
                                    Outcome::Rejected { status, message } => {
                                        if matches!(status, 401 | 403 | 404 | 407) {
                                            down[*si].store(true, Ordering::Relaxed);
                                        }
                                        Result_::Failed(format!("{message} (not retried)"))
                                    }
                                    Outcome::Unavailable { message } => {
                                        down[*si].store(true, Ordering::Relaxed);
                                        Result_::Failed(message)
                                    }
                                    Outcome::OutOfTime { message } => Result_::OutOfTime(message),
                                }
                            }
                        }
                    };
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            let (si, rec) = &jobs[i];
            let sr = &mut report.sinks[*si];
            match result {
                Result_::Delivered => {
                    ack(&rec.key(), AckOutcome::Delivered);
                    sr.delivered += 1;
                }
                Result_::Skipped(why) => {
                    ack(&rec.key(), AckOutcome::Skipped);
                    sr.skip(why);
                }
                Result_::Failed(m) => {
                    sr.pending += 1;
                    sr.error(format!("{} {}: {m}", rec.event.kind(), rec.event.id()));
                }
                Result_::NotTried => sr.pending += 1,
                Result_::OutOfTime(m) => {
                    sr.pending += 1;
                    if let Some(m) = m {
                        sr.error(format!("{} {}: {m}", rec.event.kind(), rec.event.id()));
                    }
                    report.budget_spent = plan.budget;
                }
            }
        }
    });
}

fn prepare(spec: &SinkSpec, rec: &Record, secrets: &Secrets) -> Prepare {
    match spec {
        SinkSpec::Datadog { base } => {
            datadog::prepare(base, &rec.event, secrets.dd_api_key.as_ref())
        }
        SinkSpec::Webhook { url } => {
            webhook::prepare(url, &rec.event, &rec.rev, secrets.webhook_secret.as_ref())
        }
        SinkSpec::DevLake { url } => {
            devlake::prepare(url, &rec.event, secrets.devlake_token.as_ref())
        }
        SinkSpec::CloudWatch {
            endpoint,
            region,
            namespace,
        } => cloudwatch::prepare(
            endpoint,
            region,
            namespace,
            &rec.event,
            secrets.aws.as_ref(),
            chrono::Utc::now(),
        ),
    }
}
