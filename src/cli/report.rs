//! `dorameter report`: the metrics for one service or all, with bands.

use clap::Args;

use super::GlobalArgs;
use super::context::Context;
use super::scope::{self, ScopeArgs};
use crate::app::report::{self, ReportRequest};
use crate::app::series::{self, Bucket, SeriesRequest};
use crate::env_vars as ev;
use crate::metrics::{Level, Report};
use crate::render::{self, DashboardView, Format};
use crate::settings::Settings;
use crate::store::Access;
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Band table: classic, dora-2021, dora-2023, dora-2024 [default: classic]
    #[arg(long, env = ev::BANDS, value_name = "NAME")]
    pub bands: Option<String>,
    /// The window cut into days, ISO weeks or calendar months (UTC): one row per bucket
    #[arg(long, value_name = "day|week|month")]
    pub by: Option<Bucket>,
}

/// The request from the flags and settings.
pub fn request(args: &ReportArgs, s: &Settings) -> Result<ReportRequest> {
    scope::request(&args.scope, args.bands.clone(), s)
}

pub fn run(args: ReportArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx.settings(global, None)?;
    let req = request(&args, &settings)?;
    let mut store = ctx.open_store(&settings, None, Access::ReadOnly)?;
    if let Some(by) = args.by {
        return by_bucket(store.as_mut(), req, by, settings.format.value, ctx);
    }
    let (reports, text) = match settings.format.value {
        Format::Html => {
            // The reports and their weekly series from one snapshot.
            let d = series::dashboard(
                store.as_mut(),
                &SeriesRequest {
                    report: req,
                    by: Bucket::Week,
                },
            )?;
            let text = render::dashboard_html(&DashboardView {
                generated_at: crate::time::format_time(settings.now),
                store: store.describe(),
                selected_service: None,
                selected_env: None,
                reports: d.reports.clone(),
                series: d.series(),
            });
            (d.reports, text)
        }
        format => {
            let reports = report::reports(store.as_mut(), &req)?;
            let text = match format {
                Format::Json if req.service.is_some() => render::json(&reports[0]),
                Format::Json => render::json(&reports),
                Format::Markdown => render::report_markdown(&reports),
                Format::Prometheus => render::report_prometheus(&reports),
                Format::Csv => render::report_csv(&reports),
                Format::Table | Format::Html => render::report_table(&reports, &store.describe()),
            };
            (reports, text)
        }
    };
    ctx.out(&text)?;
    if let [r] = reports.as_slice() {
        ctx.github_outputs(&settings, || outputs(r))?;
    }
    Ok(exit::OK)
}

/// `action.yml`'s report outputs.
fn outputs(r: &Report) -> Vec<(&'static str, String)> {
    use crate::ci::github::outputs;
    let level = |l: Option<Level>| l.map(|l| l.as_str().to_string()).unwrap_or_default();
    let m = &r.metrics;
    vec![
        (outputs::JSON, serde_json::to_string(r).unwrap_or_default()),
        (
            outputs::DEPLOYMENT_FREQUENCY_LEVEL,
            level(m.deployment_frequency.level),
        ),
        (
            outputs::LEAD_TIME_LEVEL,
            level(m.lead_time_for_changes.level),
        ),
        (
            outputs::CHANGE_FAILURE_RATE_LEVEL,
            level(m.change_failure_rate.level),
        ),
        (
            outputs::TIME_TO_RESTORE_LEVEL,
            level(m.time_to_restore.level),
        ),
    ]
}

/// `report --by`: the window's series, one row per bucket.
fn by_bucket(
    store: &mut dyn crate::store::Store,
    report: ReportRequest,
    by: Bucket,
    format: Format,
    ctx: &mut Context<'_>,
) -> Result<u8> {
    if matches!(format, Format::Prometheus | Format::Html) {
        return Err(Error::usage_hint(
            format!(
                "--by gives a series; --format {} does not show one",
                format.as_str()
            ),
            "use --format table, markdown, csv or json with --by (the html page already has weekly charts)",
        ));
    }
    let d = series::dashboard(store, &SeriesRequest { report, by })?;
    let text = match format {
        Format::Json => render::json(&d.series()),
        Format::Csv => render::report_csv(&d.buckets.concat()),
        Format::Markdown => render::series_table(&d.buckets, by.as_str(), true),
        _ => render::series_table(&d.buckets, by.as_str(), false),
    };
    ctx.out(&text)?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::request;
    use crate::cli::Command;
    use crate::cli::tests::parse;

    fn report(args: &[&str], config: &str) -> crate::Result<crate::app::report::ReportRequest> {
        let mut all = vec!["dorameter", "report"];
        all.extend_from_slice(args);
        let (cmd, s, _dir) = parse(&all, &[], config);
        let Command::Report(a) = cmd else {
            unreachable!()
        };
        request(&a, &s)
    }

    #[test]
    fn defaults_flags_and_config() {
        let r = report(&["--service", "api"], "").unwrap();
        assert_eq!(
            (r.service.as_deref(), r.env.as_deref()),
            (Some("api"), None)
        );
        assert_eq!(r.bands.name, "classic");
        assert_eq!(r.window.until - r.window.since, chrono::Duration::days(30));
        assert_eq!(r.attribution_window, chrono::Duration::hours(24));

        let config =
            "service = \"web\"\nenv = \"staging\"\nbands = \"dora-2023\"\nwindow = \"14d\"\n";
        let r = report(&[], config).unwrap();
        assert_eq!(
            (r.service.as_deref(), r.env.as_deref()),
            (Some("web"), Some("staging"))
        );
        assert_eq!(r.bands.name, "dora-2023");
        assert_eq!(r.window.until - r.window.since, chrono::Duration::days(14));
        // A flag beats the config file.
        let r = report(&["--window", "2w", "--bands", "dora-2021"], config).unwrap();
        assert_eq!(r.window.until - r.window.since, chrono::Duration::days(14));
        assert_eq!(r.bands.name, "dora-2021");
        let r = report(&["--window", "7d"], config).unwrap();
        assert_eq!(r.window.until - r.window.since, chrono::Duration::days(7));
    }

    #[test]
    fn errors_name_the_flag_they_came_from() {
        let e = report(&["--bands", "nope"], "").unwrap_err().to_string();
        assert!(e.contains("'nope'") && e.contains("--bands"), "{e}");
        let e = report(&["--window", "7d", "--since", "2026-01-01T00:00:00Z"], "")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--window and --since"), "{e}");
        let e = report(&["--until", "yesterday"], "")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--until"), "{e}");
        let e = report(
            &[
                "--since",
                "2026-01-02T00:00:00Z",
                "--until",
                "2026-01-01T00:00:00Z",
            ],
            "",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("is not before"), "{e}");
    }
}
