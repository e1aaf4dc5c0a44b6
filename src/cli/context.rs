//! What every command shares, resolved once: the environment map, "now",
//! the config file, the store and the output format.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::GlobalArgs;
use crate::ci::{CiContext, EnvMap};
use crate::config::{self, Config};
use crate::env_vars as ev;
use crate::git::Repo;
use crate::render::Format;
use crate::store::{self, Access, Store, StoreUrl};
use crate::{Error, Result};

/// The process's surroundings, passed in by `main` (or a test).
pub struct Context<'a> {
    pub env: EnvMap,
    pub cwd: PathBuf,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// stderr is a terminal: progress bars are worth drawing.
    pub stderr_is_terminal: bool,
}

/// Resolved shared settings for one command.
pub struct Session {
    pub now: DateTime<Utc>,
    pub config: Config,
    pub ci: Option<CiContext>,
    pub format: Format,
    pub quiet: bool,
    pub verbose: u8,
    /// `--sink` values, parsed (a bad one is a usage error before anything is stored).
    pub sinks: Vec<crate::sink::SinkSpec>,
}

impl Context<'_> {
    pub fn session(&mut self, global: &GlobalArgs, repo_hint: Option<&Path>) -> Result<Session> {
        let now = match self.env.get(ev::NOW).filter(|v| !v.is_empty()) {
            Some(v) => {
                crate::time::parse_time(ev::NOW, v, Utc::now() + chrono::Duration::days(365 * 100))?
            }
            None => Utc::now(),
        };
        let mut search = vec![self.cwd.clone()];
        if let Some(root) = repo_hint
            .and_then(|p| Repo::discover(&self.cwd.join(p)).ok())
            .and_then(|r| r.workdir())
        {
            search.push(root);
        }
        let (config, _) = config::load(
            global
                .config
                .as_deref()
                .map(|p| self.cwd.join(p))
                .as_deref(),
            &search,
        )?;
        let format = match (global.format, config.format.as_deref()) {
            (Some(f), _) => f,
            (None, Some(s)) => Format::parse(s).ok_or_else(|| {
                Error::usage_hint(
                    format!("invalid format '{s}' in the config file"),
                    "format is one of table, json, markdown, prometheus, csv",
                )
            })?,
            (None, None) => Format::Table,
        };
        let dd_site = self.env.get(ev::DD_SITE).map(String::as_str);
        let configured = if global.sinks.is_empty() {
            config.sinks.clone().unwrap_or_default()
        } else {
            global.sinks.clone()
        };
        let sinks = configured
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| crate::sink::SinkSpec::parse(s, dd_site))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if !sinks.is_empty() {
            // A typo in a sink setting is a usage error before anything is stored.
            super::flush::http_settings(&self.env)?;
        }
        // The one place CI context is read: GitHub's event payload gives a
        // pull request's head commit rather than the merge commit.
        let detection = crate::ci::detect_with_event_file(&self.env);
        if !global.quiet {
            for w in &detection.warnings {
                writeln!(
                    self.stderr,
                    "warning: {}",
                    crate::render::escape::terminal(w)
                )?;
            }
        }
        Ok(Session {
            sinks,
            now,
            ci: detection.context,
            config,
            format,
            quiet: global.quiet,
            verbose: global.verbose,
        })
    }

    /// The spool for sink events: `DORAMETER_SPOOL`, else `spool/` next to
    /// the SQLite store, else `.dorameter/spool` at the repository root.
    pub fn spool_dir(
        &self,
        global: &GlobalArgs,
        session: &Session,
        repo: Option<&Repo>,
    ) -> PathBuf {
        if let Some(dir) = self.env.get(ev::SPOOL).filter(|v| !v.trim().is_empty()) {
            return self.cwd.join(dir);
        }
        let root = || {
            repo.and_then(Repo::workdir)
                .or_else(|| Repo::discover(&self.cwd).ok().and_then(|r| r.workdir()))
        };
        match global
            .store
            .as_deref()
            .or(session.config.store.as_deref())
            .map(StoreUrl::parse)
        {
            Some(Ok(StoreUrl::Sqlite(p))) => match self.cwd.join(p).parent() {
                Some(parent) => parent.join("spool"),
                None => self.cwd.join(".dorameter").join("spool"),
            },
            Some(_) => root()
                .unwrap_or_else(|| self.cwd.clone())
                .join(".dorameter")
                .join("spool"),
            None => store::default_store_path(root().as_deref(), &self.cwd).with_file_name("spool"),
        }
    }

    /// Opens the store: flag/env, then config, then `.dorameter/dorameter.db`
    /// at the repository root (the current directory outside a repository).
    pub fn open_store(
        &self,
        global: &GlobalArgs,
        session: &Session,
        repo: Option<&Repo>,
        access: Access,
    ) -> Result<Box<dyn Store>> {
        let url = match global.store.as_deref().or(session.config.store.as_deref()) {
            Some(raw) => match StoreUrl::parse(raw)? {
                StoreUrl::Sqlite(p) => StoreUrl::Sqlite(self.cwd.join(p)),
                other => other,
            },
            None => {
                let root = repo
                    .and_then(Repo::workdir)
                    .or_else(|| Repo::discover(&self.cwd).ok().and_then(|r| r.workdir()));
                StoreUrl::Sqlite(store::default_store_path(root.as_deref(), &self.cwd))
            }
        };
        Ok(store::open(&url, access)?)
    }

    /// Pretty JSON streamed to stdout: big reports never exist twice in memory.
    pub fn out_json<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut *self.stdout);
        serde_json::to_writer_pretty(&mut w, value).map_err(std::io::Error::from)?;
        w.write_all(b"\n")?;
        w.flush()?;
        Ok(())
    }

    /// Step outputs for GitHub Actions (`$GITHUB_OUTPUT`, names as in
    /// `action.yml`); nothing elsewhere. A failure to write them is a warning:
    /// outputs never fail the job.
    pub fn github_outputs(&mut self, session: &Session, entries: &[(&str, String)]) -> Result<()> {
        use crate::ci::{Provider, github};
        if !matches!(
            session.ci.as_ref().map(|c| c.provider),
            Some(Provider::GitHubActions)
        ) {
            return Ok(());
        }
        let Some(path) = self
            .env
            .get("GITHUB_OUTPUT")
            .filter(|p| !p.is_empty())
            .cloned()
        else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in entries {
            // GitHub caps a job's outputs at 1 MB.
            if value.len() > 512 * 1024 {
                self.warn(
                    session,
                    &format!(
                        "step output {name} is too large for GitHub ({} bytes); left out",
                        value.len()
                    ),
                )?;
                continue;
            }
            match github::output_entry(name, value) {
                Ok(entry) => text.push_str(&entry),
                Err(e) => self.warn(session, &format!("step output {name}: {e}"))?,
            }
        }
        if let Err(e) = github::append_to_file(Path::new(&path), &text) {
            self.warn(
                session,
                &format!("could not write step outputs to GITHUB_OUTPUT ({e})"),
            )?;
        }
        Ok(())
    }

    pub fn out(&mut self, text: &str) -> Result<()> {
        self.stdout.write_all(text.as_bytes())?;
        self.stdout.flush()?;
        Ok(())
    }

    /// A warning on stderr unless `--quiet`. Text is escaped for the terminal.
    pub fn warn(&mut self, session: &Session, text: &str) -> Result<()> {
        if !session.quiet {
            writeln!(
                self.stderr,
                "warning: {}",
                crate::render::escape::terminal(text)
            )?;
        }
        Ok(())
    }

    pub fn info(&mut self, session: &Session, text: &str) -> Result<()> {
        if session.verbose > 0 && !session.quiet {
            writeln!(self.stderr, "{}", crate::render::escape::terminal(text))?;
        }
        Ok(())
    }
}

/// Parses an enum flag value or explains the choices.
pub fn parse_choice<T: std::str::FromStr>(flag: &str, value: &str, choices: &str) -> Result<T> {
    value.parse().map_err(|_| {
        Error::usage_hint(
            format!("invalid value '{value}' for {flag}"),
            format!("{flag} is one of: {choices}"),
        )
    })
}

/// The first value that is set: flag/env, config, CI, built-in.
pub fn pick<T: Clone>(values: &[Option<T>]) -> Option<T> {
    values.iter().find_map(Clone::clone)
}
