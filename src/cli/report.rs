//! `dorameter report`: the metrics for one service or all, with bands.

use clap::Args;

use super::GlobalArgs;
use super::context::{Context, pick};
use crate::env_vars as ev;
use crate::metrics::{Report, ReportInput, Window, band_table, band_table_names, compute};
use crate::render::{self, Format};
use crate::store::Access;
use crate::time::{parse_duration, parse_time};
use crate::{Error, Result, exit};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Service to report [default: every service in the store]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment [default: production with --service, else every environment]
    #[arg(long, env = ev::ENV)]
    pub env: Option<String>,
    /// Window ending now (or at --until): 30d, 2w, 24h [default: 30d]
    #[arg(long, env = ev::WINDOW, value_name = "DURATION")]
    pub window: Option<String>,
    /// Window start, inclusive (RFC 3339 or unix seconds)
    #[arg(long, env = ev::SINCE, value_name = "TIME")]
    pub since: Option<String>,
    /// Window end, exclusive [default: now]
    #[arg(long, env = ev::UNTIL, value_name = "TIME")]
    pub until: Option<String>,
    /// Band table: classic, dora-2021, dora-2023, dora-2024 [default: classic]
    #[arg(long, env = ev::BANDS, value_name = "NAME")]
    pub bands: Option<String>,
    /// Attribute an incident to the latest deployment finished at most this long before it [default: 24h]
    #[arg(long, env = ev::ATTRIBUTION_WINDOW, value_name = "DURATION")]
    pub attribution_window: Option<String>,
}

pub fn run(args: ReportArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let session = ctx.session(global, None)?;
    let now = session.now;
    let bands_name = pick(&[args.bands.clone(), session.config.bands.clone()])
        .unwrap_or_else(|| "classic".into());
    let Some(bands) = band_table(&bands_name) else {
        return Err(Error::usage_hint(
            format!("unknown band table '{bands_name}' given to --bands"),
            format!("--bands is one of: {}", band_table_names().join(", ")),
        ));
    };
    let attribution_window = parse_duration(
        "--attribution-window",
        &pick(&[
            args.attribution_window.clone(),
            session.config.attribution_window.clone(),
        ])
        .unwrap_or_else(|| "24h".into()),
    )?;
    let until = match &args.until {
        Some(v) => parse_time("--until", v, now)?,
        None => now,
    };
    let since = match &args.since {
        Some(v) => parse_time("--since", v, now)?,
        None => {
            let w = pick(&[args.window.clone(), session.config.window.clone()])
                .unwrap_or_else(|| "30d".into());
            until - parse_duration("--window", &w)?
        }
    };
    if args.since.is_some() && args.window.is_some() {
        return Err(Error::usage_hint(
            "--window and --since both set the window start",
            "give either --window, or --since (and optionally --until)",
        ));
    }
    if since >= until {
        return Err(Error::usage_hint(
            format!(
                "--since ({}) is not before --until ({})",
                crate::time::format_time(since),
                crate::time::format_time(until)
            ),
            "give a --since earlier than --until; the window is [since, until)",
        ));
    }
    let window = Window { since, until };

    let mut store = ctx.open_store(global, &session, None, Access::ReadOnly)?;
    let env = pick(&[args.env.clone(), session.config.env.clone()]);
    let service = pick(&[args.service.clone(), session.config.service.clone()]);
    let mut reports: Vec<Report> = Vec::new();
    store.read(&mut |tx| {
        let targets: Vec<(String, String)> = match &service {
            Some(s) => vec![(
                s.clone(),
                env.clone().unwrap_or_else(|| "production".into()),
            )],
            None => tx
                .service_envs()?
                .into_iter()
                .filter(|(_, e)| env.as_ref().is_none_or(|want| want == e))
                .collect(),
        };
        for (s, e) in targets {
            let facts = tx.report_facts(&s, &e, window)?;
            reports.push(compute(&ReportInput {
                service: &s,
                env: &e,
                deployments: &facts.deployments,
                incidents: &facts.incidents,
                lead_times: &facts.lead_times,
                window,
                attribution_window,
                bands: &bands,
                now,
            }));
        }
        Ok(())
    })?;
    let text = match session.format {
        Format::Json if service.is_some() => render::json(&reports[0]),
        Format::Json => render::json(&reports),
        Format::Markdown => render::report_markdown(&reports),
        Format::Prometheus => render::report_prometheus(&reports),
        Format::Csv => render::report_csv(&reports),
        Format::Table => render::report_table(&reports),
    };
    ctx.out(&text)?;
    if let [r] = reports.as_slice() {
        use crate::ci::github::outputs;
        let level = |l: Option<crate::metrics::Level>| {
            l.map(|l| l.as_str().to_string()).unwrap_or_default()
        };
        let m = &r.metrics;
        ctx.github_outputs(
            &session,
            &[
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
            ],
        )?;
    }
    Ok(exit::OK)
}
