//! `dorameter store copy --from URL --to URL`: every event of one store
//! into another (the git store to PostgreSQL when a team outgrows it).
//!
//! Exit codes: 0 copied (also when everything was there already); 2 a bad
//! URL, or the same store on both sides; 4 nothing to copy (no SQLite file
//! at the `--from` path, or a source that holds no events); 1 a store that
//! failed on the way (run the copy again: it resumes, nothing is copied
//! twice).

use std::path::Path;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::GlobalArgs;
use super::context::Context;
use crate::app::locate;
use crate::app::store_copy::{self, Copied, CopyRequest};
use crate::env_vars as ev;
use crate::render::{self, Format};
use crate::store::{self, Access};
use crate::{Error, Result, exit};

/// Draw a progress bar (on a terminal) from this many events up.
const PROGRESS_FROM: usize = 50;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every deployment, incident and test run of one store into
    /// another; run again, it copies only what is new
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to read: sqlite:PATH, postgres://USER@HOST/DB or git[:REMOTE][#REF]
    #[arg(long, env = ev::COPY_FROM, value_name = "URL", hide_env_values = true)]
    pub from: String,
    /// The store to write, in the same forms
    #[arg(long, env = ev::COPY_TO, value_name = "URL", hide_env_values = true)]
    pub to: String,
}

pub fn run(cmd: StoreCommand, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    match cmd {
        StoreCommand::Copy(args) => copy(&args, global, ctx),
    }
}

/// The request from the flags: both URLs read as `--store` reads one
/// (relative SQLite paths from `cwd`, a git store in the repository around
/// it), then checked.
pub fn request(args: &CopyArgs, cwd: &Path) -> Result<CopyRequest> {
    let url = |raw: &str, flag: &'static str, env: &'static str| {
        locate::store_url(Some(raw), cwd, None).map_err(|e| Error::store_at(flag, env, e))
    };
    store_copy::request(
        url(&args.from, "--from", ev::COPY_FROM)?,
        url(&args.to, "--to", ev::COPY_TO)?,
    )
}

#[derive(Serialize)]
struct CopyView<'a> {
    from: &'a str,
    to: &'a str,
    #[serde(flatten)]
    copied: &'a Copied,
}

fn copy(args: &CopyArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let mut settings = ctx.settings(global, None)?;
    let formats = [Format::Table, Format::Json];
    settings.use_format(&formats, "store copy", "use --format table or json")?;
    let req = request(args, &ctx.cwd)?;
    // Hints name the flag that gave the store.
    let at_from = |e: Error| Error::store_at("--from", ev::COPY_FROM, e);
    let at_to = |e: Error| Error::store_at("--to", ev::COPY_TO, e);
    // The source first: nothing to copy never creates the destination.
    let mut from = store::open(&req.from, Access::ReadOnly).map_err(|e| at_from(e.into()))?;
    let plan = store_copy::plan(from.as_mut()).map_err(at_from)?;
    let mut to = store::open(&req.to, Access::ReadWrite).map_err(|e| at_to(e.into()))?;
    let total = plan.total();
    let bar = if ctx.stderr_is_terminal && !settings.quiet && total >= PROGRESS_FROM {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{pos}/{len} events {wide_bar} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = store_copy::copy(&req, from.as_mut(), to.as_mut(), &plan, &|| bar.inc(1));
    // Cleared before any error is printed.
    bar.finish_and_clear();
    // What fails now is mostly the destination refusing a write.
    let done = done.map_err(at_to)?;
    // A git store tells of a stale read or of events left in its spool.
    ctx.settle_store(&settings, from.as_ref(), exit::OK)?;
    let code = ctx.settle_store(&settings, to.as_ref(), exit::OK)?;
    let (from, to) = (from.describe(), to.describe());
    let text = match settings.format.value {
        Format::Json => render::json(&CopyView {
            from: &from,
            to: &to,
            copied: &done,
        }),
        _ => summary(&from, &to, &done),
    };
    ctx.out(&text)?;
    Ok(code)
}

/// `copied 12 deployments, 4 incidents and 3 test runs from A to B; 0 already there`.
fn summary(from: &str, to: &str, done: &Copied) -> String {
    format!(
        "copied {}, {} and {} from {} to {}; {} already there\n",
        render::count(done.deployments.copied, "deployment"),
        render::count(done.incidents.copied, "incident"),
        render::count(done.test_runs.copied, "test run"),
        render::escape::terminal(from),
        render::escape::terminal(to),
        done.existing(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::cli::tests::parse;
    use crate::store::StoreUrl;

    #[test]
    fn from_flags() {
        let (cmd, _s, dir) = parse(
            &[
                "dorameter",
                "store",
                "copy",
                "--from",
                "sqlite:old.db",
                "--to",
                "postgres://dora:s3cret@db/dora",
            ],
            &[],
            "",
        );
        let Command::Store(StoreCommand::Copy(a)) = cmd else {
            unreachable!()
        };
        std::fs::write(dir.path().join("old.db"), "").unwrap();
        let r = request(&a, dir.path()).unwrap();
        assert_eq!(r.from, StoreUrl::Sqlite(dir.path().join("old.db")));
        assert_eq!(r.to.to_string(), "postgres://dora:***@db/dora");

        let bad = CopyArgs {
            from: "mysql://x".into(),
            to: "git".into(),
        };
        let e = request(&bad, dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), exit::USAGE);
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("--from (DORAMETER_COPY_FROM)") && !hint.contains("--store"),
            "{hint}"
        );
    }

    #[test]
    fn the_summary_names_both_stores_and_counts() {
        let mut done = Copied::default();
        done.deployments.copied = 120;
        done.incidents.copied = 1;
        done.test_runs.existing = 2;
        assert_eq!(
            summary(
                "git:origin#refs/dorameter/events",
                "postgres://dora:***@db/dora",
                &done
            ),
            "copied 120 deployments, 1 incident and 0 test runs from git:origin#refs/dorameter/events to postgres://dora:***@db/dora; 2 already there\n"
        );
    }
}
