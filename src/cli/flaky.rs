//! `dorameter flaky`: which tests flake, with the evidence.

use clap::Args;

use super::GlobalArgs;
use super::context::Context;
use crate::app::flaky::{self, FlakyRequest};
use crate::env_vars as ev;
use crate::git::Repo;
use crate::junit::Thresholds;
use crate::metrics::{Window, WindowOut, round_to};
use crate::render::{self, FlakyView, Format};
use crate::settings::Settings;
use crate::store::Access;
use crate::time::format_time;
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct FlakyArgs {
    /// Service [default: .dorameter.toml, the CI project, else the repository name]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// History to look at, ending now [default: 14d]
    #[arg(long, env = ev::FLAKY_WINDOW, value_name = "DURATION")]
    pub window: Option<String>,
    /// Runs a test needs before its failure rate is evidence [default: 20]
    #[arg(long, env = ev::MIN_RUNS, value_name = "N")]
    pub min_runs: Option<String>,
    /// Lowest failure rate (percent) that is flaky rather than healthy [default: 5]
    #[arg(long, env = ev::MIN_FAILURE_RATE, value_name = "PERCENT")]
    pub min_failure_rate: Option<String>,
    /// Highest failure rate (percent) that is flaky rather than broken [default: 95]
    #[arg(long, env = ev::MAX_FAILURE_RATE, value_name = "PERCENT")]
    pub max_failure_rate: Option<String>,
    /// Runs where more than this percentage of tests failed are infrastructure failures, ignored [default: 80]
    #[arg(long, env = ev::INFRA_THRESHOLD, value_name = "PERCENT")]
    pub infra_threshold: Option<String>,
    /// Exit 3 when any test is flaky
    #[arg(long, env = ev::FAIL_ON_FLAKY, value_parser = crate::cli::on_off)]
    pub fail_on_flaky: bool,
}

/// The request from the flags and settings.
pub fn request(args: &FlakyArgs, s: &Settings, repo: Option<&Repo>) -> Result<FlakyRequest> {
    let Some(service) = s.service(args.service.clone(), repo)? else {
        return Err(Error::usage_hint(
            "no service given",
            "pass --service (DORAMETER_SERVICE)",
        ));
    };
    let d = Thresholds::default();
    let span = s.flaky_window(args.window.clone())?.value;
    Ok(FlakyRequest {
        service: service.value,
        window: Window {
            since: s.now - span,
            until: s.now,
        },
        thresholds: Thresholds {
            min_runs: s
                .number("min_runs", args.min_runs.clone())?
                .unwrap_or(d.min_runs),
            min_failure_percent: s
                .number("min_failure_rate", args.min_failure_rate.clone())?
                .unwrap_or(d.min_failure_percent),
            max_failure_percent: s
                .number("max_failure_rate", args.max_failure_rate.clone())?
                .unwrap_or(d.max_failure_percent),
            infra_percent: s
                .number("infra_threshold", args.infra_threshold.clone())?
                .unwrap_or(d.infra_percent),
        },
    })
}

pub fn run(args: FlakyArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, None)?;
    let formats = [Format::Table, Format::Json, Format::Markdown];
    settings.use_format(&formats, "flaky", "use --format table, json or markdown")?;
    let repo = Repo::discover(&ctx.cwd).ok();
    let req = request(&args, &settings, repo.as_ref())?;
    let mut store = ctx.open_store(&settings, repo.as_ref(), Access::ReadOnly)?;
    let findings = flaky::find(store.as_mut(), &req)?;
    let w = req.window;
    let view = FlakyView {
        service: &req.service,
        window: WindowOut {
            start: format_time(w.since),
            end: format_time(w.until),
            days: round_to(w.days(), 4),
        },
        tests: &findings,
    };
    let text = match settings.format.value {
        Format::Json => render::json(&view),
        Format::Markdown => render::flaky_markdown(&view),
        _ => render::flaky_table(&view),
    };
    ctx.out(&text)?;
    if args.fail_on_flaky && !findings.is_empty() {
        // Last on stderr, whatever `--quiet` says: the reason for the exit code.
        writeln!(
            ctx.stderr,
            "error: {} flaky in the last {} (--fail-on-flaky)",
            render::count(findings.len() as u64, "test"),
            crate::time::humanize_seconds((w.until - w.since).num_seconds() as f64)
        )?;
        return Ok(exit::GATE);
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::request;
    use crate::cli::Command;
    use crate::cli::tests::parse;

    fn flaky(args: &[&str]) -> crate::Result<crate::app::flaky::FlakyRequest> {
        let mut all = vec!["dorameter", "flaky"];
        all.extend_from_slice(args);
        let (cmd, s, _dir) = parse(&all, &[], "");
        let Command::Flaky(a) = cmd else {
            unreachable!()
        };
        request(&a, &s, None)
    }

    #[test]
    fn defaults_and_flags() {
        let r = flaky(&["--service", "api"]).unwrap();
        assert_eq!(r.window.until - r.window.since, chrono::Duration::days(14));
        assert_eq!(
            (r.thresholds.min_runs, r.thresholds.min_failure_percent),
            (20, 5.0)
        );
        let r = flaky(&["--service", "api", "--window", "3d", "--min-runs", "5"]).unwrap();
        assert_eq!(r.window.until - r.window.since, chrono::Duration::days(3));
        assert_eq!(r.thresholds.min_runs, 5);
        assert!(flaky(&[]).unwrap_err().to_string().contains("no service"));
        assert!(
            flaky(&["--service", "api", "--window", "x"])
                .unwrap_err()
                .to_string()
                .contains("--window")
        );
    }
}
