//! Command-line definitions (clap) and dispatch. One file per subcommand;
//! `context` resolves what every command shares (store, format, now, config).

mod backfill;
mod comment;
mod context;
mod demo;
mod deploy;
mod deployments;
mod flaky;
mod flush;
mod forge_args;
mod incident;
mod incident_import;
mod junit;
mod pr_source;
mod report;
mod scope;
mod serve;
mod store;

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
    /// Where events are stored: sqlite:PATH, postgres://USER@HOST/DB, or
    /// git[:REMOTE][#REF] (a ref of the repository's remote, docs/git-store.md)
    /// [default: sqlite:.dorameter/dorameter.db at the repository root]
    #[arg(long, global = true, env = ev::STORE, value_name = "URL", hide_env_values = true)]
    pub store: Option<String>,
    /// Also send recorded events to: datadog, datadog:BASE_URL, webhook:URL,
    /// devlake:URL or cloudwatch[:NAMESPACE] (repeatable; env: comma separated)
    #[arg(long = "sink", global = true, env = ev::SINKS, value_name = "SPEC", value_delimiter = ',', hide_env_values = true)]
    pub sinks: Vec<String>,
    /// Exit 5 when a sink could not take an event (default: warn, exit 0)
    #[arg(long, global = true, env = ev::STRICT, value_parser = crate::cli::on_off)]
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
    #[arg(short, long, global = true, env = ev::QUIET, value_parser = on_off)]
    pub quiet: bool,
}

impl GlobalArgs {
    /// The global flags as the settings layer takes them.
    pub fn input(&self) -> crate::settings::GlobalInput {
        crate::settings::GlobalInput {
            store: self.store.clone(),
            sinks: self.sinks.clone(),
            strict: self.strict,
            format: self.format,
            config: self.config.clone(),
            verbose: self.verbose,
            quiet: self.quiet,
        }
    }
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
    /// The audit trail: each deployment with its kind, status, changes and why it counts as failed
    #[command(subcommand)]
    Deployments(deployments::DeploymentsCommand),
    /// Record past releases and deployments (git tags, GitHub deployments or releases, GitLab deployments): history on day one
    Backfill(backfill::BackfillArgs),
    /// Ingest JUnit XML reports: outcomes and flaky tests of this run
    Junit(junit::JunitArgs),
    /// Flaky tests from the stored history, with evidence
    Flaky(flaky::FlakyArgs),
    /// Deliver what the spools hold: sink events an outage left, and git
    /// store events the remote did not take
    Flush(flush::FlushArgs),
    /// Post the sticky PR/MR comment: metrics, trend, this change, flaky tests
    Comment(comment::CommentArgs),
    /// Create a demo repository with a month of recorded history to report on
    Demo(demo::DemoArgs),
    /// Work on whole stores: `store copy` moves the history to another store
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Serve the DORA metrics API, Prometheus metrics and webhooks over the store
    Serve(serve::ServeArgs),
}

/// Runs a parsed command line. Output goes to `ctx`'s writers.
pub fn run(cli: Cli, ctx: &mut Context<'_>) -> Result<u8> {
    let Cli { global, command } = cli;
    match command {
        Command::Deploy(args) => deploy::run(args, &global, ctx),
        Command::Incident(cmd) => incident::run(cmd, &global, ctx),
        Command::Report(args) => report::run(args, &global, ctx),
        Command::Deployments(cmd) => deployments::run(cmd, &global, ctx),
        Command::Backfill(args) => backfill::run(args, &global, ctx),
        Command::Junit(args) => junit::run(args, &global, ctx),
        Command::Flaky(args) => flaky::run(args, &global, ctx),
        Command::Flush(args) => flush::run(args, &global, ctx),
        Command::Comment(args) => comment::run(args, &global, ctx),
        Command::Demo(args) => demo::run(args, &global, ctx),
        Command::Store(cmd) => store::run(cmd, &global, ctx),
        Command::Serve(args) => serve::run(args, &global, ctx),
    }
}

/// An on/off flag's value from its environment variable (a flag given on
/// the command line is on): `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`,
/// `y`/`n`, `t`/`f` in any case; empty is off (a variable set but empty, as
/// CI templates leave them, is unset). Anything else is refused, never
/// taken as on.
pub fn on_off(value: &str) -> std::result::Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "off" | "0" | "n" | "f" => Ok(false),
        "true" | "yes" | "on" | "1" | "y" | "t" => Ok(true),
        _ => Err("give true or false (also yes/no, on/off, 1/0)".into()),
    }
}

/// The hint for a refused value (clap's error) that came from an
/// environment variable rather than the command line: clap names the flag,
/// and the user never typed it. `None` for any other error.
pub fn env_source(cmd: &clap::Command, e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(shown)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = shown.split([' ', '=']).next()?.strip_prefix("--")?;
    // args_os: an argument that is not UTF-8 must not panic here.
    let typed = std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a == format!("--{long}") || a.starts_with(&format!("--{long}="))
    });
    let mut commands = vec![cmd];
    while let Some(c) = commands.pop() {
        for arg in c.get_arguments() {
            if arg.get_long() != Some(long) {
                continue;
            }
            let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
                continue;
            };
            if typed {
                return None;
            }
            // Another command may have a flag of this name (`store copy
            // --from`): the one whose variable is set gave the value.
            if std::env::var_os(var).is_none() {
                continue;
            }
            return Some(format!(
                "hint: the value came from the environment variable {var}; correct it, or unset it"
            ));
        }
        commands.extend(c.get_subcommands());
    }
    None
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::{Cli, Command};
    use crate::ci::EnvMap;
    use crate::settings::{ArgSources, Settings};

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every env var clap reads is in the one registry.
    #[test]
    fn every_env_var_clap_reads_is_registered() {
        fn walk(cmd: &clap::Command, seen: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                if let Some(e) = a.get_env() {
                    seen.push(e.to_string_lossy().into_owned());
                }
            }
            for sc in cmd.get_subcommands() {
                walk(sc, seen);
            }
        }
        let mut seen = Vec::new();
        walk(&Cli::command(), &mut seen);
        assert!(seen.len() > 40, "{seen:?}");
        for var in seen {
            assert!(
                crate::env_vars::ALL.contains(&var.as_str()),
                "{var} is not in env_vars::ALL"
            );
        }
    }

    /// Parses `args` and resolves the settings in an empty directory with
    /// `config` as its `.dorameter.toml`, as `main` does. (clap reads env
    /// vars from the process, which these tests leave alone: env origins
    /// are covered by the integration tests.)
    pub(super) fn parse(
        args: &[&str],
        env: &[(&str, &str)],
        config: &str,
    ) -> (Command, Settings, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        if !config.is_empty() {
            std::fs::write(dir.path().join(crate::config::FILE_NAME), config).unwrap();
        }
        let mut cmd = Cli::command();
        let matches = cmd.try_get_matches_from_mut(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let sources = ArgSources::from_matches(&cmd, &matches);
        let map: EnvMap = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let input = cli.global.input();
        let settings = Settings::resolve(
            &input,
            sources,
            &map,
            dir.path(),
            &[dir.path().to_path_buf()],
        )
        .unwrap();
        (cli.command, settings, dir)
    }

    /// Every on/off variable reads the same words; empty is off, and an
    /// unknown word is refused rather than taken as on.
    #[test]
    fn on_off_values() {
        for on in ["true", "YES", "on", "1", "y", "T"] {
            assert_eq!(super::on_off(on), Ok(true), "{on}");
        }
        for off in ["", "false", "No", "off", "0", "n", "f", " "] {
            assert_eq!(super::on_off(off), Ok(false), "{off:?}");
        }
        for bad in ["nope", "2", "enabled"] {
            assert!(super::on_off(bad).is_err(), "{bad}");
        }
    }
}
