//! Command-line definitions (clap) and dispatch. One file per subcommand;
//! `context` resolves what every command shares (store, format, now, config).

mod backfill;
mod comment;
mod context;
mod deploy;
mod flaky;
mod flush;
mod incident;
mod junit;
mod report;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use context::Context;

use crate::Result;
use crate::env_vars as ev;
use crate::render::Format;

/// Measure DORA metrics where the truth lives: in the deploy job, from git.
#[derive(Debug, Parser)]
#[command(name = "dorameter", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where events are stored: sqlite:PATH or postgres://USER@HOST/DB
    /// [default: sqlite:.dorameter/dorameter.db at the repository root]
    #[arg(long, global = true, env = ev::STORE, value_name = "URL", hide_env_values = true)]
    pub store: Option<String>,
    /// Also send recorded events to: datadog, datadog:BASE_URL, webhook:URL or
    /// devlake:URL (repeatable; env: comma separated)
    #[arg(long = "sink", global = true, env = ev::SINKS, value_name = "SPEC", value_delimiter = ',', hide_env_values = true)]
    pub sinks: Vec<String>,
    /// Exit 5 when a sink could not take an event (default: warn, exit 0)
    #[arg(long, global = true, env = ev::STRICT, value_parser = clap::builder::FalseyValueParser::new())]
    pub strict: bool,
    /// Output format [default: table]
    #[arg(long, global = true, env = ev::FORMAT, value_enum)]
    pub format: Option<Format>,
    /// Config file [default: .dorameter.toml in the current directory or repository root]
    #[arg(long, global = true, env = ev::CONFIG, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More detail on stderr
    #[arg(short, long, global = true, env = ev::VERBOSE, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true, env = ev::QUIET)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record a deployment, with commit-to-deploy lead time from git
    Deploy(deploy::DeployArgs),
    /// Record an incident (open, then resolve; upsert by id)
    #[command(subcommand)]
    Incident(incident::IncidentCommand),
    /// Report the DORA metrics with their bands
    Report(report::ReportArgs),
    /// Record matching git tags as past deployments: history on day one
    Backfill(backfill::BackfillArgs),
    /// Ingest JUnit XML reports: outcomes and flaky tests of this run
    Junit(junit::JunitArgs),
    /// Flaky tests from the stored history, with evidence
    Flaky(flaky::FlakyArgs),
    /// Deliver the events a sink outage left in the spool
    Flush(flush::FlushArgs),
    /// Post the sticky PR/MR comment: metrics, trend, this change, flaky tests
    Comment(comment::CommentArgs),
}

/// Runs a parsed command line. Output goes to `ctx`'s writers.
pub fn run(cli: Cli, ctx: &mut Context<'_>) -> Result<u8> {
    let Cli { global, command } = cli;
    match command {
        Command::Deploy(args) => deploy::run(args, &global, ctx),
        Command::Incident(cmd) => incident::run(cmd, &global, ctx),
        Command::Report(args) => report::run(args, &global, ctx),
        Command::Backfill(args) => backfill::run(args, &global, ctx),
        Command::Junit(args) => junit::run(args, &global, ctx),
        Command::Flaky(args) => flaky::run(args, &global, ctx),
        Command::Flush(args) => flush::run(args, &global, ctx),
        Command::Comment(args) => comment::run(args, &global, ctx),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
