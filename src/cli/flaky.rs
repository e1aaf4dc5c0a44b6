//! `dorameter flaky`: which tests flake, with the evidence.

use clap::Args;

use super::GlobalArgs;
use super::context::{Context, pick};
use crate::env_vars as ev;
use crate::junit::{Thresholds, evaluate};
use crate::metrics::{WindowOut, round_to};
use crate::render::{self, FlakyView, Format};
use crate::store::Access;
use crate::time::{format_time, parse_duration};
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct FlakyArgs {
    /// Service [default: from CI or the config file]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// History to look at, ending now [default: 14d]
    #[arg(long, env = ev::FLAKY_WINDOW, value_name = "DURATION")]
    pub window: Option<String>,
    /// Runs a test needs before its failure rate is evidence [default: 20]
    #[arg(long, env = ev::MIN_RUNS, value_name = "N")]
    pub min_runs: Option<u64>,
    /// Lowest failure rate (percent) that is flaky rather than healthy [default: 5]
    #[arg(long, env = ev::MIN_FAILURE_RATE, value_name = "PERCENT")]
    pub min_failure_rate: Option<f64>,
    /// Highest failure rate (percent) that is flaky rather than broken [default: 95]
    #[arg(long, env = ev::MAX_FAILURE_RATE, value_name = "PERCENT")]
    pub max_failure_rate: Option<f64>,
    /// Runs where more than this percentage of tests failed are infrastructure failures, ignored [default: 80]
    #[arg(long, env = ev::INFRA_THRESHOLD, value_name = "PERCENT")]
    pub infra_threshold: Option<f64>,
    /// Exit 3 when any test is flaky
    #[arg(long, env = ev::FAIL_ON_FLAKY, value_parser = clap::builder::FalseyValueParser::new())]
    pub fail_on_flaky: bool,
}

fn percent(flag: &str, v: Option<f64>, default: f64) -> Result<f64> {
    let v = v.unwrap_or(default);
    if !(0.0..=100.0).contains(&v) {
        return Err(Error::usage_hint(
            format!("{flag} must be a percentage between 0 and 100, got {v}"),
            format!("pass {flag} e.g. {default}"),
        ));
    }
    Ok(v)
}

pub fn run(args: FlakyArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let session = ctx.session(global, None)?;
    if matches!(session.format, Format::Prometheus | Format::Csv) {
        return Err(Error::usage_hint(
            format!(
                "--format {} is not available for flaky",
                session.format.as_str()
            ),
            "use --format table, json or markdown",
        ));
    }
    let Some(service) = pick(&[
        args.service.clone(),
        session.config.service.clone(),
        session.ci.as_ref().and_then(|c| c.default_service.clone()),
    ]) else {
        return Err(Error::usage_hint(
            "no service given",
            "pass --service (DORAMETER_SERVICE)",
        ));
    };
    let thresholds = Thresholds {
        min_runs: args.min_runs.unwrap_or(20),
        min_failure_percent: percent("--min-failure-rate", args.min_failure_rate, 5.0)?,
        max_failure_percent: percent("--max-failure-rate", args.max_failure_rate, 95.0)?,
        infra_percent: percent("--infra-threshold", args.infra_threshold, 80.0)?,
    };
    if thresholds.min_failure_percent > thresholds.max_failure_percent {
        return Err(Error::usage_hint(
            "--min-failure-rate is above --max-failure-rate",
            "give a lower bound below the upper bound, e.g. 5 and 95",
        ));
    }
    let window = parse_duration("--window", args.window.as_deref().unwrap_or("14d"))?;
    let w = crate::metrics::Window {
        since: session.now - window,
        until: session.now,
    };
    let mut store = ctx.open_store(global, &session, None, Access::ReadOnly)?;
    let mut history = Vec::new();
    store.read(&mut |tx| {
        history = tx.test_history(&service, w, thresholds.infra_percent)?;
        Ok(())
    })?;
    let findings = evaluate(&history, &thresholds);
    let view = FlakyView {
        service: &service,
        window: WindowOut {
            start: format_time(w.since),
            end: format_time(w.until),
            days: round_to(w.days(), 4),
        },
        tests: &findings,
    };
    let text = match session.format {
        Format::Json => render::json(&view),
        Format::Markdown => render::flaky_markdown(&view),
        _ => render::flaky_table(&view),
    };
    ctx.out(&text)?;
    if args.fail_on_flaky && !findings.is_empty() {
        return Ok(exit::GATE);
    }
    Ok(exit::OK)
}
