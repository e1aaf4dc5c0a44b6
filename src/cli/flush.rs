//! `dorameter flush`: deliver what the spool holds, and push what the git
//! store's spool holds.

use clap::Args;

use super::GlobalArgs;
use super::context::Context;
use crate::app::{locate, sinks};
use crate::render::{self, Format};
use crate::sink::Report;
use crate::store::{self, Access, Backlog, StoreUrl};
use crate::{Result, exit};

/// `flush --format json`: the sinks' report, and the git stores' spools.
#[derive(serde::Serialize)]
struct FlushView<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "<[Backlog]>::is_empty")]
    stores: &'a [Backlog],
}

#[derive(Debug, Args)]
pub struct FlushArgs {
    /// Remove the spooled records of a sink that no longer exists, as
    /// `flush` lists it (or its --sink spec); repeatable. The rest is
    /// delivered as usual. No env var: a one-off cleanup, never a default.
    #[arg(long = "drop", value_name = "SINK")]
    pub drop: Vec<String>,
}

pub fn run(args: FlushArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, None)?;
    let formats = [Format::Table, Format::Json, Format::Markdown];
    settings.use_format(&formats, "flush", "use --format table or json")?;
    let text_format = settings.format.value != Format::Json;
    ctx.check_sinks(&settings)?;
    let spool = ctx.spool_dir(&settings, None);
    let sink_env = crate::sink::SinkEnv::from_env(&ctx.env);
    let mut dropped = Vec::new();
    for wanted in &args.drop {
        let d = sinks::drop_records(&spool, wanted, &settings.sinks, &sink_env)?;
        if text_format {
            ctx.out(&format!(
                "dropped {} spooled record{} for {}\n",
                d.records,
                if d.records == 1 { "" } else { "s" },
                render::escape::terminal(&d.sink)
            ))?;
        }
        dropped.push(d);
    }
    let secrets = sinks::secrets(&ctx.env);
    let mut report = sinks::flush(&sinks::Target {
        spool: &spool,
        sinks: &settings.sinks,
        secrets: &secrets,
        http: &settings.http,
        now: settings.now,
    })?;
    report.dropped = dropped;
    ctx.tell_delivery(&settings, &report)?;
    let backlogs = git_backlogs(ctx, &settings)?;
    let unconfigured: u64 = report.unconfigured.iter().map(|s| s.pending).sum();
    if settings.sinks.is_empty() && unconfigured > 0 {
        ctx.warn(
            &settings,
            &format!("no sink configured: {unconfigured} event(s) wait in the spool (pass --sink or set DORAMETER_SINKS)"),
        )?;
    }
    ctx.out(&if text_format {
        table(&report, &backlogs)
    } else {
        render::json(&FlushView {
            report: &report,
            stores: &backlogs,
        })
    })?;
    let waiting =
        report.pending() + unconfigured + backlogs.iter().map(|b| b.waiting as u64).sum::<u64>();
    Ok(if settings.strict && (waiting > 0 || !report.ok()) {
        exit::SINK
    } else {
        exit::OK
    })
}

/// The git stores' spools: opening a store pushes its spool. The
/// configured store (`--store git…`), then every other spool of the
/// checkout, opened by the store it recorded (no credentials: the
/// checkout's own). Other stores have no spool and are not opened: a
/// database being down must not stop the sinks' flush.
fn git_backlogs(
    ctx: &mut Context<'_>,
    settings: &crate::settings::Settings,
) -> Result<Vec<Backlog>> {
    let mut out = Vec::new();
    let configured = settings.store.as_ref().map(|s| s.value.as_str());
    if let Some(raw) = configured {
        if let StoreUrl::Git(_) = locate::store_url(Some(raw), &ctx.cwd, None)? {
            let store = ctx.open_store(settings, None, Access::ReadWrite)?;
            ctx.settle_store(settings, store.as_ref(), exit::OK)?;
            out.extend(store.backlog());
        }
    }
    for spooled in store::git_spools(&ctx.cwd) {
        let shown = spooled.spool.display().to_string();
        if out.iter().any(|b| b.spool == shown) {
            continue;
        }
        let opened = locate::store_url(Some(&spooled.store), &ctx.cwd, None)
            .and_then(|url| Ok(store::open(&url, Access::ReadWrite)?));
        match opened {
            Ok(store) => {
                ctx.settle_store(settings, store.as_ref(), exit::OK)?;
                out.extend(store.backlog());
            }
            Err(e) => {
                ctx.warn_error(settings, &e)?;
                out.push(Backlog {
                    store: spooled.store,
                    spool: shown,
                    waiting: spooled.events,
                    reason: Some(crate::error::chain(&e)),
                    ..Backlog::default()
                });
            }
        }
    }
    Ok(out)
}

fn table(report: &Report, backlogs: &[Backlog]) -> String {
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
    for b in backlogs {
        rows.push(vec![
            render::escape::terminal(&b.store),
            b.pushed.to_string(),
            "0".into(),
            b.waiting.to_string(),
        ]);
    }
    if rows.len() == 1 {
        return "nothing to flush: no sink configured and the spool is empty\n".into();
    }
    render::columns_pub(&rows)
}
