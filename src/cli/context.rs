//! What every command adapter shares: the process's surroundings (env map,
//! working directory, writers), settings resolution, opening the store,
//! handing events to the sinks, and the output helpers (warnings, JSON,
//! GitHub step outputs). With `scope` (the window flags `report` and
//! `deployments list` share), the only module a `cli/*.rs` command imports.

use std::io::Write;
use std::path::Path;

use super::GlobalArgs;
use crate::app::{locate, sinks};
use crate::ci::{EnvMap, Provider};
use crate::env_vars as ev;
use crate::git::Repo;
use crate::render::Format;
use crate::settings::{ArgSources, Origin, Settings};
use crate::sink::{Report, SinkEvent};
use crate::store::{self, Access, Store};
use crate::{Error, Result, exit};

/// The process's surroundings, passed in by `main` (or a test).
pub struct Context<'a> {
    pub env: EnvMap,
    pub cwd: std::path::PathBuf,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// stderr is a terminal: progress bars are worth drawing.
    pub stderr_is_terminal: bool,
    /// Which flags came from the command line and which from env vars.
    pub sources: ArgSources,
}

impl Context<'_> {
    /// Resolves the shared settings once. `.dorameter.toml` is looked for in
    /// the working directory, then at the root of `repo_hint` (a command's
    /// `--repo`), else of the repository around the working directory.
    pub fn settings(&mut self, global: &GlobalArgs, repo_hint: Option<&Path>) -> Result<Settings> {
        // `.dorameter.toml` in the working directory, else at the root of the
        // repository `--repo` names (commands without one: the repository
        // around the working directory, also from a subdirectory).
        let mut search = vec![self.cwd.clone()];
        let base = repo_hint.map_or_else(|| self.cwd.clone(), |p| self.cwd.join(p));
        if let Some(root) = Repo::discover(&base).ok().and_then(|r| r.workdir()) {
            if root != self.cwd {
                search.push(root);
            }
        }
        let settings = Settings::resolve(
            &global.input(),
            self.sources.clone(),
            &self.env,
            &self.cwd,
            &search,
        )?;
        for w in &settings.ci_warnings {
            self.warn(&settings, w)?;
        }
        Ok(settings)
    }

    /// Opens the configured store, else `.dorameter/dorameter.db` at the
    /// repository root (the current directory outside a repository).
    pub fn open_store(
        &mut self,
        settings: &Settings,
        repo: Option<&Repo>,
        access: Access,
    ) -> Result<Box<dyn Store>> {
        let configured = settings.store.as_ref().map(|s| s.value.as_str());
        let url = locate::store_url(configured, &self.cwd, repo).map_err(|e| {
            // The store's own hint names --store; say where this one came from.
            match &settings.store {
                Some(s) if matches!(s.origin, Origin::Config { .. }) => Error::usage_hint(
                    format!("{e}, given as {}", s.origin),
                    format!("fix {}, or pass --store (DORAMETER_STORE)", s.origin),
                ),
                _ => e,
            }
        })?;
        if let (None, Some(_), store::StoreUrl::Sqlite(path)) =
            (&settings.store, &settings.ci, &url)
        {
            // SPEC §8: the default file dies with the runner.
            self.warn(
                settings,
                &format!(
                    "the store is the SQLite file {}, which will not outlive this CI job; keep the history with --store git (the events on a ref of this repository's remote, docs/git-store.md) or a postgres:// URL (DORAMETER_STORE)",
                    path.display()
                ),
            )?;
        }
        let store = store::open(&url, access)?;
        if access == Access::ReadOnly {
            self.settle_store(settings, store.as_ref(), exit::OK)?;
        }
        Ok(store)
    }

    /// Tells what the store could not push (the git store's spool, SPEC §8)
    /// and whether reads are stale. Events left waiting turn `code` into
    /// exit 5 under `--strict`, as undelivered sink events do.
    pub fn settle_store(&mut self, settings: &Settings, store: &dyn Store, code: u8) -> Result<u8> {
        let Some(b) = store.backlog() else {
            return Ok(code);
        };
        let why = b.reason.as_deref().unwrap_or("no answer");
        if b.pushed > 0 {
            self.note(
                settings,
                &format!(
                    "pushed {} from the spool to {}",
                    crate::render::count(b.pushed as u64, "waiting event"),
                    b.store
                ),
            )?;
        }
        if b.waiting > 0 {
            let then = if settings.ci.is_some() {
                "`dorameter flush` in a later step of this job (the spool goes with the runner) or the next command here pushes them"
            } else {
                "the next dorameter command here, or `dorameter flush`, pushes them"
            };
            self.warn(
                settings,
                &format!(
                    "{} not pushed to {} ({why}); kept in {}: {then}",
                    crate::render::count(b.waiting as u64, "event"),
                    b.store,
                    b.spool
                ),
            )?;
        } else if b.stale {
            self.warn(
                settings,
                &format!(
                    "could not fetch {} ({why}): showing the events as of the last fetch",
                    b.store
                ),
            )?;
        }
        Ok(if b.waiting > 0 && settings.strict && code == exit::OK {
            exit::SINK
        } else {
            code
        })
    }

    /// Refuses sinks that could never deliver (a `datadog` sink without
    /// `DD_API_KEY`): commands that record deployments or incidents, and
    /// `flush`, call it before they store anything.
    pub fn check_sinks(&self, settings: &Settings) -> Result<()> {
        Ok(crate::sink::check_ready(
            &settings.sinks,
            &sinks::secrets(&self.env),
        )?)
    }

    /// Sends `events` (just stored) to every configured sink, after the
    /// spool's backlog, and tells what was not delivered. Returns `code`, or
    /// exit 5 under `--strict` when something stays undelivered. Telemetry
    /// never fails a command otherwise.
    pub fn emit(
        &mut self,
        settings: &Settings,
        repo: Option<&Repo>,
        events: Vec<SinkEvent>,
        code: u8,
    ) -> Result<u8> {
        let spool = self.spool_dir(settings, repo);
        let secrets = sinks::secrets(&self.env);
        let target = sinks::Target {
            spool: &spool,
            sinks: &settings.sinks,
            secrets: &secrets,
            http: &settings.http,
            now: settings.now,
        };
        let ok = match sinks::emit(&target, &events) {
            None => return Ok(code),
            Some(Ok(report)) => {
                self.tell_delivery(settings, &report)?;
                report.ok()
            }
            Some(Err(e)) => {
                self.warn_error(settings, &Error::from(e))?;
                false
            }
        };
        Ok(if !ok && settings.strict && code == exit::OK {
            exit::SINK
        } else {
            code
        })
    }

    /// The spool directory (see [`locate::spool_dir`]).
    pub fn spool_dir(&self, settings: &Settings, repo: Option<&Repo>) -> std::path::PathBuf {
        locate::spool_dir(
            self.env.get(ev::SPOOL).map(String::as_str),
            settings.store.as_ref().map(|s| s.value.as_str()),
            &self.cwd,
            repo,
        )
    }

    /// Warnings for what was not delivered; details with `-v`.
    pub fn tell_delivery(&mut self, settings: &Settings, report: &Report) -> Result<()> {
        if let Some(e) = &report.spool_error {
            self.warn(settings, &format!("sinks: {e}"))?;
        }
        if report.health.corrupt_records > 0 {
            self.warn(
                settings,
                &format!(
                    "spool {}: skipped {} damaged record(s)",
                    report.spool.as_deref().unwrap_or("?"),
                    report.health.corrupt_records
                ),
            )?;
        }
        if let Some(budget) = report.budget_spent {
            self.warn(
                settings,
                &format!(
                    "sinks: the delivery budget of {} ({}) ran out; what was not delivered waits in the spool for the next run or `dorameter flush`",
                    crate::http::shown(budget),
                    ev::SINK_BUDGET
                ),
            )?;
        }
        for s in &report.sinks {
            if s.pending > 0 {
                let kept = if report.spool_error.is_some() {
                    "not delivered"
                } else {
                    "not delivered; kept in the spool for the next run or `dorameter flush`"
                };
                self.warn(
                    settings,
                    &format!(
                        "sink {}: {} {kept}: {}",
                        s.sink,
                        crate::render::count(s.pending, "event"),
                        s.error_summary()
                    ),
                )?;
            }
            self.info(
                settings,
                &format!(
                    "sink {}: {} delivered, {} not applicable, {} pending",
                    s.sink, s.delivered, s.skipped, s.pending
                ),
            )?;
            for why in &s.not_applicable {
                self.info(settings, &format!("sink {}: not applicable: {why}", s.sink))?;
            }
        }
        for s in &report.unconfigured {
            self.info(
                settings,
                &format!(
                    "spool: {} for {}, which this run does not send to",
                    crate::render::count(s.pending, "event"),
                    s.sink
                ),
            )?;
        }
        Ok(())
    }

    /// Pretty JSON streamed to stdout: big reports never exist twice in memory.
    pub fn out_json<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut *self.stdout);
        let written = serde_json::to_writer_pretty(&mut w, value)
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n"))
            .and_then(|()| w.flush());
        Ok(reader_gone(written)?)
    }

    /// Step outputs for GitHub Actions (`$GITHUB_OUTPUT`, names as in
    /// `action.yml`); nothing elsewhere, where `entries` is never called (a
    /// large report's JSON is not built for nothing). A failure to write them
    /// is a warning: outputs never fail the job.
    pub fn github_outputs(
        &mut self,
        settings: &Settings,
        entries: impl FnOnce() -> Vec<(&'static str, String)>,
    ) -> Result<()> {
        use crate::ci::github;
        if !matches!(
            settings.ci.as_ref().map(|c| c.provider),
            Some(Provider::GitHubActions)
        ) {
            return Ok(());
        }
        let Some(path) = self
            .env
            .get(ev::GITHUB_OUTPUT)
            .filter(|p| !p.is_empty())
            .cloned()
        else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in entries() {
            // GitHub caps a job's outputs at 1 MB.
            if value.len() > 512 * 1024 {
                self.warn(
                    settings,
                    &format!(
                        "step output {name} is too large for GitHub ({} bytes); left out",
                        value.len()
                    ),
                )?;
                continue;
            }
            match github::output_entry(name, &value) {
                Ok(entry) => text.push_str(&entry),
                Err(e) => self.warn(settings, &format!("step output {name}: {e}"))?,
            }
        }
        if let Err(e) = github::append_to_file(Path::new(&path), &text) {
            self.warn(
                settings,
                &format!("could not write step outputs to GITHUB_OUTPUT ({e})"),
            )?;
        }
        Ok(())
    }

    pub fn out(&mut self, text: &str) -> Result<()> {
        let written = self
            .stdout
            .write_all(text.as_bytes())
            .and_then(|()| self.stdout.flush());
        Ok(reader_gone(written)?)
    }

    /// A warning on stderr unless `--quiet`. Text is escaped for the terminal.
    pub fn warn(&mut self, settings: &Settings, text: &str) -> Result<()> {
        if !settings.quiet {
            writeln!(
                self.stderr,
                "warning: {}",
                crate::render::escape::terminal(text)
            )?;
        }
        Ok(())
    }

    /// An error the command carries on after: rendered as `main` renders
    /// errors, as a warning, unless `--quiet`.
    pub fn warn_error(&mut self, settings: &Settings, e: &Error) -> Result<()> {
        if !settings.quiet {
            self.stderr
                .write_all(crate::error::render(e, "warning").as_bytes())?;
        }
        Ok(())
    }

    pub fn warn_all(&mut self, settings: &Settings, texts: &[String]) -> Result<()> {
        texts.iter().try_for_each(|t| self.warn(settings, t))
    }

    /// Something the user should know that is not a problem: `note: …` on
    /// stderr, unless `--quiet`.
    pub fn note(&mut self, settings: &Settings, text: &str) -> Result<()> {
        if !settings.quiet {
            writeln!(
                self.stderr,
                "note: {}",
                crate::render::escape::terminal(text)
            )?;
        }
        Ok(())
    }

    /// Appends Markdown to `$GITHUB_STEP_SUMMARY` when set (the job's
    /// summary page on GitHub Actions); a file it cannot write is a
    /// warning, naming `what` was to go there.
    pub fn step_summary(&mut self, settings: &Settings, what: &str, markdown: &str) -> Result<()> {
        let Some(path) = self
            .env
            .get(ev::GITHUB_STEP_SUMMARY)
            .filter(|p| !p.is_empty())
        else {
            return Ok(());
        };
        let summary = std::path::PathBuf::from(path);
        if let Err(e) = crate::ci::github::append_to_file(&summary, &format!("{markdown}\n")) {
            let text = format!("could not append {what} to GITHUB_STEP_SUMMARY ({e})");
            self.warn(settings, &text)?;
        }
        Ok(())
    }

    pub fn info(&mut self, settings: &Settings, text: &str) -> Result<()> {
        if settings.verbose > 0 && !settings.quiet {
            writeln!(self.stderr, "{}", crate::render::escape::terminal(text))?;
        }
        Ok(())
    }
}

/// Formats `deploy`, `backfill`, `incident` and `junit` can print.
pub const EVENT_FORMATS: &[Format] = &[Format::Table, Format::Json, Format::Markdown];

/// Settles the format of an event command (see [`Settings::use_format`]).
pub fn check_event_format(settings: &mut Settings) -> Result<()> {
    settings.use_format(
        EVENT_FORMATS,
        "this command",
        "use --format table, json or markdown; prometheus, csv and html are for `dorameter report`",
    )
}

/// A reader of stdout that stopped reading (`| head`, `| grep -q`) does not
/// stop the run: what the command records and sends after its output still
/// happens, as it does when nobody reads the output at all.
fn reader_gone(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
