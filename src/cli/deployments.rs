//! `dorameter deployments list|show ID`: the audit trail (SPEC §4). Each
//! deployment with its kind, status and changes, and why it counts as
//! failed. Exit 4 for a service, env or id the store does not know, with
//! the closest known ones.

use clap::{Args, Subcommand};

use super::GlobalArgs;
use super::context::Context;
use super::scope::{self, ScopeArgs};
use crate::app::deployments::{self, ListRequest, ShowRequest};
use crate::env_vars as ev;
use crate::render::{self, DeploymentListView, DeploymentShowView, Format};
use crate::settings::Settings;
use crate::store::Access;
use crate::{Result, exit};

#[derive(Debug, Subcommand)]
pub enum DeploymentsCommand {
    /// The deployments that finished in a window, newest first: kind,
    /// status, changes, lead time, and why each failed one counts
    List(ListArgs),
    /// One deployment in full: its changes with their lead times, what it
    /// remediated, and every cause that makes it count as failed
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only the deployments that count as failed (change failure rate), not failed deploy jobs
    #[arg(long, env = ev::DEPLOYMENTS_FAILED, value_parser = crate::cli::on_off)]
    pub failed: bool,
    /// Show at most this many, newest first; the output says how many more [default: 50]
    #[arg(long, env = ev::DEPLOYMENTS_LIMIT, value_name = "N")]
    pub limit: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The deployment's id, as `deploy` printed it or `deployments list` lists it
    #[arg(env = ev::DEPLOYMENT_ID, value_name = "ID")]
    pub id: String,
    /// Attribute an incident to the latest deployment finished at most this long before it [default: 24h]
    #[arg(long, env = ev::ATTRIBUTION_WINDOW, value_name = "DURATION")]
    pub attribution_window: Option<String>,
}

/// `list`'s request from the flags and settings.
pub fn list_request(args: &ListArgs, s: &Settings) -> Result<ListRequest> {
    Ok(ListRequest {
        report: scope::request(&args.scope, None, s)?,
        failed_only: args.failed,
        limit: s.deployments_limit(args.limit.clone())?,
    })
}

/// `show`'s request from the flags and settings.
pub fn show_request(args: &ShowArgs, s: &Settings) -> Result<ShowRequest> {
    Ok(ShowRequest {
        id: args.id.clone(),
        attribution_window: s.attribution_window(args.attribution_window.clone())?.value,
        now: s.now,
    })
}

pub fn run(cmd: DeploymentsCommand, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    match cmd {
        DeploymentsCommand::List(args) => list(&args, global, ctx),
        DeploymentsCommand::Show(args) => show(&args, global, ctx),
    }
}

fn list(args: &ListArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, None)?;
    settings.use_format(
        &[Format::Table, Format::Json, Format::Markdown, Format::Csv],
        "deployments list",
        "use --format table, json, markdown or csv",
    )?;
    let req = list_request(args, &settings)?;
    let mut store = ctx.open_store(&settings, None, Access::ReadOnly)?;
    let found = deployments::list(store.as_mut(), &req)?;
    let view = DeploymentListView::new(&found, &req);
    let text = match settings.format.value {
        Format::Json => render::json(&view),
        Format::Markdown => render::deployment_list_markdown(&view),
        Format::Csv => render::deployment_list_csv(&view),
        _ => render::deployment_list_table(&view),
    };
    ctx.out(&text)?;
    if view.more > 0 && settings.format.value == Format::Csv {
        // CSV has no room to say it; the human formats and JSON do.
        ctx.note(
            &settings,
            &format!(
                "{} not listed (--limit {})",
                render::count(view.more as u64, "more deployment"),
                req.limit
            ),
        )?;
    }
    Ok(exit::OK)
}

fn show(args: &ShowArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, None)?;
    settings.use_format(
        &[Format::Table, Format::Json, Format::Markdown],
        "deployments show",
        "use --format table, json or markdown",
    )?;
    let req = show_request(args, &settings)?;
    let mut store = ctx.open_store(&settings, None, Access::ReadOnly)?;
    let shown = deployments::show(store.as_mut(), &req)?;
    let text = match settings.format.value {
        Format::Json => render::json(&DeploymentShowView::new(&shown)),
        Format::Markdown => render::deployment_show_markdown(&shown),
        _ => render::deployment_show_table(&shown),
    };
    ctx.out(&text)?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::{DeploymentsCommand, list_request, show_request};
    use crate::cli::Command;
    use crate::cli::tests::parse;

    fn list(args: &[&str], config: &str) -> crate::Result<crate::app::deployments::ListRequest> {
        let mut all = vec!["dorameter", "deployments", "list"];
        all.extend_from_slice(args);
        let (cmd, s, _dir) = parse(&all, &[], config);
        let Command::Deployments(DeploymentsCommand::List(a)) = cmd else {
            unreachable!()
        };
        list_request(&a, &s)
    }

    #[test]
    fn list_reads_the_window_flags_as_report_does() {
        let r = list(&[], "").unwrap();
        assert_eq!((r.limit, r.failed_only), (50, false));
        assert_eq!(r.report.service, None);
        assert_eq!(
            r.report.window.until - r.report.window.since,
            chrono::Duration::days(30)
        );
        let r = list(
            &[
                "--service",
                "api",
                "--failed",
                "--limit",
                "7",
                "--window",
                "7d",
            ],
            "env = \"staging\"\n",
        )
        .unwrap();
        assert_eq!((r.limit, r.failed_only), (7, true));
        assert_eq!(
            (r.report.service.as_deref(), r.report.env.as_deref()),
            (Some("api"), Some("staging"))
        );
        assert_eq!(
            r.report.window.until - r.report.window.since,
            chrono::Duration::days(7)
        );
        for bad in ["0", "ten", "-"] {
            let e = list(&["--limit", bad], "").unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{bad}: {e}");
            assert!(e.to_string().contains("--limit"), "{e}");
        }
        let e = list(&["--window", "7"], "").unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::USAGE, "{e}");
    }

    #[test]
    fn show_takes_the_id_and_the_attribution_window() {
        let all = [
            "dorameter",
            "deployments",
            "show",
            "dep-1",
            "--attribution-window",
            "2h",
        ];
        let (cmd, s, _dir) = parse(&all, &[], "");
        let Command::Deployments(DeploymentsCommand::Show(a)) = cmd else {
            unreachable!()
        };
        let r = show_request(&a, &s).unwrap();
        assert_eq!(r.id, "dep-1");
        assert_eq!(r.attribution_window, chrono::Duration::hours(2));
    }
}
