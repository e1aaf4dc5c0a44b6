//! One settings-resolution layer: flag > env var > `.dorameter.toml` >
//! CI-derived default > built-in default, resolved once per command into a
//! [`Settings`] value in which every value remembers where it came from
//! ([`Origin`]), so an error names the real origin — `.dorameter.toml line 4
//! bands`, `--window (from DORAMETER_WINDOW)` — never a flag the user did not
//! type. Every command resolves the service and the environment through the
//! same chains ([`Settings::service`], [`Settings::env`]); the built-in
//! defaults are the constants in [`defaults`], each used once, here.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use toml::Spanned;

use crate::ci::{CiContext, EnvMap};
use crate::config::{self, Loaded};
use crate::env_vars as ev;
use crate::event::{LeadTimeFrom, LeadTimeSource};
use crate::git::Repo;
use crate::git::SubjectPattern;
use crate::http::HttpSettings;
use crate::metrics::{BandTable, band_table, band_table_names};
use crate::render::Format;
use crate::sink::SinkSpec;
use crate::{Error, Result};

/// The built-in defaults: the last layer of every chain.
pub mod defaults {
    use chrono::Duration;

    use crate::event::LeadTimeFrom;
    use crate::render::Format;

    pub const FORMAT: Format = Format::Table;
    pub const ENV: &str = "production";
    pub const BANDS: &str = "classic";
    pub const WINDOW: Duration = Duration::days(30);
    pub const ATTRIBUTION_WINDOW: Duration = Duration::hours(24);
    pub const LEAD_TIME_FROM: LeadTimeFrom = LeadTimeFrom::Author;
    pub const MAX_COMMITS: usize = 5000;
    /// `flaky --window`; the flaky thresholds default in
    /// [`crate::junit::Thresholds::default`], the domain's own.
    pub const FLAKY_WINDOW: Duration = Duration::days(14);
    /// `deployments list --limit`.
    pub const DEPLOYMENTS_LIMIT: usize = 50;
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag, as typed: `--window`.
    Flag(String),
    /// The env var clap read for a flag.
    Env { var: String, flag: String },
    /// A key of the config file.
    Config {
        file: String,
        line: usize,
        key: &'static str,
    },
    /// Derived from the CI run or the repository: says what it is.
    Derived(&'static str),
    /// A built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => f.write_str(flag),
            Origin::Env { var, flag } => write!(f, "{flag} (from {var})"),
            Origin::Config { file, line, key } => write!(f, "`{key}` in {file} line {line}"),
            Origin::Derived(what) => f.write_str(what),
            Origin::Default => f.write_str("the built-in default"),
        }
    }
}

/// A value and its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Setting<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Setting { value, origin }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Setting<U> {
        Setting {
            value: f(self.value),
            origin: self.origin,
        }
    }

    /// Converts the value; an error is built from the origin's name.
    pub fn try_map<U>(self, f: impl FnOnce(&str, T) -> Result<U>) -> Result<Setting<U>> {
        let name = self.origin.to_string();
        Ok(Setting {
            value: f(&name, self.value)?,
            origin: self.origin,
        })
    }
}

impl Setting<String> {
    /// A name (service, env) must be a visible string. The hint says how to
    /// fix it where it came from.
    pub fn named(self, flag: &str, example: &str) -> Result<Setting<String>> {
        let v = &self.value;
        if v.trim().is_empty() || v.chars().any(char::is_control) {
            let fix = match &self.origin {
                Origin::Config { file, key, .. } => {
                    format!("set `{key}` in {file} to a name such as {example}")
                }
                Origin::Flag(given) | Origin::Env { flag: given, .. } => {
                    format!("pass {given} a name such as {example}")
                }
                Origin::Derived(_) | Origin::Default => {
                    format!("pass {flag} a name such as {example}")
                }
            };
            return Err(Error::usage_hint(
                format!(
                    "{} must not be empty or contain control characters",
                    self.origin
                ),
                fix,
            ));
        }
        Ok(self)
    }
}

/// Which flags the user typed and which clap read from env vars, by arg id.
/// Filled from clap's `ArgMatches` by `main`; empty (every value a flag) when
/// a test builds the arguments itself.
#[derive(Clone, Debug, Default)]
pub struct ArgSources(HashMap<String, Origin>);

impl ArgSources {
    pub fn from_matches(cmd: &clap::Command, m: &clap::ArgMatches) -> ArgSources {
        let mut map = HashMap::new();
        collect(cmd, m, &mut map);
        ArgSources(map)
    }

    /// The origin of the value of arg `id` (a field name such as `attribution_window`).
    pub fn origin(&self, id: &str) -> Origin {
        self.0
            .get(id)
            .cloned()
            .unwrap_or_else(|| Origin::Flag(format!("--{}", id.replace('_', "-"))))
    }
}

fn collect(cmd: &clap::Command, m: &clap::ArgMatches, map: &mut HashMap<String, Origin>) {
    use clap::parser::ValueSource;
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let flag = arg
            .get_long()
            .map_or_else(|| id.to_string(), |l| format!("--{l}"));
        match m.try_get_raw(id).ok().flatten().and(m.value_source(id)) {
            Some(ValueSource::EnvVariable) => {
                let var = arg
                    .get_env()
                    .map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_default();
                map.insert(id.to_string(), Origin::Env { var, flag });
            }
            Some(ValueSource::CommandLine) => {
                map.insert(id.to_string(), Origin::Flag(flag));
            }
            _ => {}
        }
    }
    if let Some((name, sub)) = m.subcommand() {
        if let Some(sc) = cmd.find_subcommand(name) {
            collect(sc, sub, map);
        }
    }
}

/// The global flags every command shares, before resolution.
#[derive(Clone, Debug)]
pub struct GlobalInput {
    pub store: Option<String>,
    pub sinks: Vec<String>,
    pub strict: bool,
    pub format: Option<Format>,
    pub config: Option<PathBuf>,
    pub verbose: u8,
    pub quiet: bool,
}

/// Everything a command needs that is not its own flags, resolved once.
pub struct Settings {
    pub now: DateTime<Utc>,
    pub config: Loaded,
    pub ci: Option<CiContext>,
    /// Warnings from CI detection, for the caller to print.
    pub ci_warnings: Vec<String>,
    pub format: Setting<Format>,
    pub quiet: bool,
    pub verbose: u8,
    pub strict: bool,
    /// `--sink` values, parsed (a bad one is a usage error before anything is stored).
    pub sinks: Vec<SinkSpec>,
    /// The sinks' (and forges') timeouts and retries, from `DORAMETER_SINK_*`.
    pub http: HttpSettings,
    /// `--store`/`DORAMETER_STORE`, else the config file's `store`.
    pub store: Option<Setting<String>>,
    sources: ArgSources,
}

impl Settings {
    /// Resolves the shared settings. `search` lists the directories where
    /// `.dorameter.toml` is looked for when `--config` is not given.
    pub fn resolve(
        global: &GlobalInput,
        sources: ArgSources,
        env: &EnvMap,
        cwd: &Path,
        search: &[PathBuf],
    ) -> Result<Settings> {
        let now = match env.get(ev::NOW).filter(|v| !v.is_empty()) {
            Some(v) => crate::time::parse_time(ev::NOW, v, Utc::now() + Duration::days(365 * 100))?,
            // Milliseconds, the stores' resolution. Not whole seconds: a
            // `report` run the same second as the `deploy` before it would
            // end its window `[since, now)` at the very instant the
            // deployment finished, and leave it out. Times are shown to the
            // second ([`crate::time::format_time`]).
            None => Utc::now().trunc_subsecs(3),
        };
        let config = config::load(
            global.config.as_deref().map(|p| cwd.join(p)).as_deref(),
            search,
        )?;
        let mut s = Settings {
            now,
            ci: None,
            ci_warnings: Vec::new(),
            format: Setting::new(defaults::FORMAT, Origin::Default),
            quiet: global.quiet,
            verbose: global.verbose,
            strict: global.strict,
            sinks: Vec::new(),
            http: HttpSettings::default(),
            store: None,
            config,
            sources,
        };
        s.format = s
            .first([
                s.flag("format", global.format),
                s.cfg("format", |c| &c.format),
            ])
            .unwrap_or(s.format);
        s.store = s.first([
            s.flag("store", global.store.clone()),
            s.cfg("store", |c| &c.store),
        ]);
        let configured = s.first([
            s.flag(
                "sinks",
                Some(global.sinks.clone()).filter(|v| !v.is_empty()),
            ),
            s.cfg("sinks", |c| &c.sinks),
        ]);
        let sink_env = crate::sink::SinkEnv::from_env(env);
        if let Some(configured) = configured {
            let from_config = matches!(configured.origin, Origin::Config { .. });
            for v in configured.value.iter().filter(|v| !v.trim().is_empty()) {
                match SinkSpec::parse(v, &sink_env) {
                    Ok(spec) => s.sinks.push(spec),
                    Err(e) if from_config => {
                        return Err(Error::usage_hint(
                            format!("{e}, given as {}", configured.origin),
                            format!(
                                "fix {}: datadog, datadog:BASE_URL, webhook:URL, devlake:URL or cloudwatch[:NAMESPACE]",
                                configured.origin
                            ),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // A typo in a sink setting is a usage error before anything is stored.
        s.http = match http_settings(env) {
            Ok(h) => h,
            Err(e) if !s.sinks.is_empty() => return Err(e),
            Err(_) => HttpSettings::default(),
        };
        // The one place CI context is read: GitHub's event payload gives a
        // pull request's head commit rather than the merge commit.
        let detection = crate::ci::detect_with_event_file(env);
        s.ci = detection.context;
        s.ci_warnings = detection.warnings;
        Ok(s)
    }

    /// Settles the output format of a command that prints `supported` (the
    /// first is its default). A format from the config file or
    /// `DORAMETER_FORMAT` that the command cannot print falls back to its
    /// default (SPEC §4: a team's `format = "markdown"` must not stop a
    /// deploy from being recorded); only a `--format` flag is an error.
    pub fn use_format(&mut self, supported: &[Format], command: &str, hint: &str) -> Result<()> {
        if supported.contains(&self.format.value) {
            return Ok(());
        }
        if let Origin::Flag(_) = self.format.origin {
            return Err(Error::usage_hint(
                format!(
                    "--format {} is not available for {command}",
                    self.format.value.as_str()
                ),
                hint,
            ));
        }
        self.format = Setting::new(supported[0], Origin::Default);
        Ok(())
    }

    /// The first layer that is set.
    pub fn first<T, const N: usize>(&self, layers: [Option<Setting<T>>; N]) -> Option<Setting<T>> {
        layers.into_iter().flatten().next()
    }

    /// A command's own flag (or its env var), with its origin.
    pub fn flag<T>(&self, id: &str, value: Option<T>) -> Option<Setting<T>> {
        value.map(|v| Setting::new(v, self.sources.origin(id)))
    }

    /// A config file value, with its file and line.
    pub fn cfg<T: Clone>(
        &self,
        key: &'static str,
        get: impl Fn(&config::Config) -> &Option<Spanned<T>>,
    ) -> Option<Setting<T>> {
        let v = get(&self.config.config).as_ref()?;
        let file = self
            .config
            .path
            .as_deref()
            .and_then(Path::file_name)
            .map_or_else(
                || config::FILE_NAME.into(),
                |n| n.to_string_lossy().into_owned(),
            );
        Some(Setting::new(
            v.get_ref().clone(),
            Origin::Config {
                file,
                line: self.config.line_of(v.span()),
                key,
            },
        ))
    }

    /// The config file's path as given, for errors about its tables.
    fn config_file(&self) -> String {
        self.config.path.as_ref().map_or_else(
            || config::FILE_NAME.to_string(),
            |p| p.display().to_string(),
        )
    }

    /// `[[service]] paths` of `service`: its changes in a monorepo. `None`
    /// when no table names the service or it lists no paths.
    pub fn service_paths(&self, service: &str) -> Result<Option<crate::git::PathFilter>> {
        let Some(t) = self
            .config
            .config
            .services
            .iter()
            .find(|t| t.name == service)
        else {
            return Ok(None);
        };
        let Some(paths) = &t.paths else {
            return Ok(None);
        };
        crate::git::PathFilter::new(paths).map(Some).map_err(|e| {
            Error::usage_hint(
                format!("[[service]] '{service}' in {}: {e}", self.config_file()),
                "fix paths of that [[service]] (patterns relative to the repository root, e.g. \"services/api/**\")",
            )
        })
    }

    /// Every `[[service]]`'s paths, by service.
    pub fn all_service_paths(
        &self,
    ) -> Result<std::collections::BTreeMap<String, crate::git::PathFilter>> {
        let mut out = std::collections::BTreeMap::new();
        for t in &self.config.config.services {
            if let Some(f) = self.service_paths(&t.name)? {
                out.insert(t.name.clone(), f);
            }
        }
        Ok(out)
    }

    /// `[[service]] pagerduty`: PagerDuty service id → service.
    pub fn pagerduty_services(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let mut services = std::collections::BTreeMap::new();
        for t in &self.config.config.services {
            let name = Setting::new(
                t.name.clone(),
                Origin::Derived("[[service]] name in .dorameter.toml"),
            )
            .named("[[service]] name", "api")?
            .value;
            for id in &t.pagerduty {
                let id = id.trim();
                let bad = |why: String| {
                    Error::usage_hint(
                        format!("[[service]] '{name}' in {}: {why}", self.config_file()),
                        "list each PagerDuty service id (PXXXXXX, from the service's URL) under one [[service]]",
                    )
                };
                if id.is_empty() {
                    return Err(bad("an empty PagerDuty service id in pagerduty".into()));
                }
                if let Some(other) = services.insert(id.to_string(), name.clone()) {
                    if other != name {
                        return Err(bad(format!(
                            "PagerDuty service {id} is mapped to '{other}' too"
                        )));
                    }
                }
            }
        }
        Ok(services)
    }

    /// The service: `--service`, the config's `service`, the CI project,
    /// the repository's remote name, its directory name. `None` when
    /// nothing names one; the caller says what it needs it for.
    pub fn service(
        &self,
        flag: Option<String>,
        repo: Option<&Repo>,
    ) -> Result<Option<Setting<String>>> {
        let from_remote = || {
            repo.and_then(Repo::origin_url).and_then(|u| {
                let last = u
                    .trim_end_matches('/')
                    .rsplit(['/', ':'])
                    .next()?
                    .trim_end_matches(".git")
                    .to_string();
                (!last.is_empty())
                    .then(|| Setting::new(last, Origin::Derived("the repository's remote name")))
            })
        };
        let from_dir = || {
            repo.and_then(Repo::workdir).and_then(|d| {
                d.file_name().map(|n| {
                    Setting::new(
                        n.to_string_lossy().into_owned(),
                        Origin::Derived("the repository's directory name"),
                    )
                })
            })
        };
        let found = self
            .first([
                self.flag("service", flag),
                self.cfg("service", |c| &c.service),
                self.ci
                    .as_ref()
                    .and_then(|c| c.default_service.clone())
                    .map(|v| Setting::new(v, Origin::Derived("the CI project name"))),
            ])
            .or_else(from_remote)
            .or_else(from_dir);
        found.map(|s| s.named("--service", "api")).transpose()
    }

    /// The service named explicitly (flag or config), for commands where
    /// none means "every service" (`report`).
    pub fn service_filter(&self, flag: Option<String>) -> Result<Option<Setting<String>>> {
        self.first([
            self.flag("service", flag),
            self.cfg("service", |c| &c.service),
        ])
        .map(|s| s.named("--service", "api"))
        .transpose()
    }

    /// The environment named by `--env`, the config's `env` or the CI
    /// (GitLab's `CI_ENVIRONMENT_NAME`), if any.
    pub fn env_given(&self, flag: Option<String>) -> Result<Option<Setting<String>>> {
        self.first([
            self.flag("env", flag),
            self.cfg("env", |c| &c.env),
            self.ci
                .as_ref()
                .and_then(|c| c.environment.clone())
                .filter(|e| !e.trim().is_empty())
                .map(|v| {
                    Setting::new(
                        v,
                        Origin::Derived("the CI environment (CI_ENVIRONMENT_NAME)"),
                    )
                }),
        ])
        .map(|s| s.named("--env", "production"))
        .transpose()
    }

    /// The environment: [`Settings::env_given`], else `production`.
    pub fn env(&self, flag: Option<String>) -> Result<Setting<String>> {
        Ok(self
            .env_given(flag)?
            .unwrap_or_else(|| Setting::new(defaults::ENV.into(), Origin::Default)))
    }

    /// The band table: `--bands`, the config's `bands`, `classic`.
    pub fn bands(&self, flag: Option<String>) -> Result<Setting<BandTable>> {
        let name = self
            .first([
                self.flag("bands", flag),
                self.cfg("bands", |c| &c.bands).map(|s| s.map(|b| b.0)),
            ])
            .unwrap_or_else(|| Setting::new(defaults::BANDS.into(), Origin::Default));
        name.try_map(|origin, name| {
            band_table(&name).ok_or_else(|| {
                Error::usage_hint(
                    format!("unknown band table '{name}' given to {origin}"),
                    format!("--bands is one of: {}", band_table_names().join(", ")),
                )
            })
        })
    }

    /// A window length: flag `id`, the config's `window`, 30 days.
    pub fn window(&self, id: &str, flag: Option<String>) -> Result<Setting<Duration>> {
        let config = self.cfg("window", |c| &c.window);
        self.duration(id, flag, config, defaults::WINDOW)
    }

    /// How long before an incident a deployment can cause it.
    pub fn attribution_window(&self, flag: Option<String>) -> Result<Setting<Duration>> {
        let config = self.cfg("attribution_window", |c| &c.attribution_window);
        self.duration(
            "attribution_window",
            flag,
            config,
            defaults::ATTRIBUTION_WINDOW,
        )
    }

    /// `flaky --window`: the flag, else 14 days (no config key).
    pub fn flaky_window(&self, flag: Option<String>) -> Result<Setting<Duration>> {
        self.duration("window", flag, None, defaults::FLAKY_WINDOW)
    }

    /// A duration flag, else the config file's value, else `default`.
    fn duration(
        &self,
        id: &str,
        flag: Option<String>,
        config: Option<Setting<config::Span>>,
        default: Duration,
    ) -> Result<Setting<Duration>> {
        if let Some(f) = self.flag(id, flag) {
            return f.try_map(|origin, v| crate::time::parse_duration(origin, &v));
        }
        Ok(config
            .map(|s| s.map(|d| d.0))
            .unwrap_or_else(|| Setting::new(default, Origin::Default)))
    }

    /// Which commit time lead time starts from.
    pub fn lead_time_from(&self, flag: Option<String>) -> Result<Setting<LeadTimeFrom>> {
        if let Some(f) = self.flag("lead_time_from", flag) {
            return f.try_map(|origin, v| parse_choice(origin, &v, &LeadTimeFrom::choices()));
        }
        Ok(self
            .cfg("lead_time_from", |c| &c.lead_time_from)
            .unwrap_or_else(|| Setting::new(defaults::LEAD_TIME_FROM, Origin::Default)))
    }

    /// Where a deployment's changes come from: git, or pull requests.
    pub fn lead_time_source(&self, flag: Option<String>) -> Result<Setting<LeadTimeSource>> {
        if let Some(f) = self.flag("lead_time_source", flag) {
            return f.try_map(|origin, v| parse_choice(origin, &v, &LeadTimeSource::choices()));
        }
        Ok(self
            .cfg("lead_time_source", |c| &c.lead_time_source)
            .unwrap_or_else(|| Setting::new(LeadTimeSource::Git, Origin::Default)))
    }

    /// The rollforward subject rule: `[classify] rollforward_subject`, else
    /// SPEC §3's default pattern; `None` when turned off.
    pub fn rollforward_subject(&self) -> Option<SubjectPattern> {
        match self.cfg("classify.rollforward_subject", |c| {
            c.classify
                .as_ref()
                .map_or(&None, |k| &k.rollforward_subject)
        }) {
            Some(s) => s.value.0,
            None => Some(SubjectPattern::default_pattern()),
        }
    }

    /// Most commits one deployment may count.
    pub fn max_commits(&self, flag: Option<String>) -> Result<Setting<usize>> {
        if let Some(n) = self.number::<usize>("max_commits", flag)? {
            let f = Setting::new(n, self.origin("max_commits"));
            return f.try_map(|origin, n| {
                if n == 0 {
                    return Err(Error::usage_hint(
                        format!("{origin} must be at least 1"),
                        "pass --max-commits a positive number, e.g. 5000",
                    ));
                }
                Ok(n)
            });
        }
        Ok(self
            .cfg("max_commits", |c| &c.max_commits)
            .map(|s| s.map(|n| n.0))
            .unwrap_or_else(|| Setting::new(defaults::MAX_COMMITS, Origin::Default)))
    }

    /// `deployments list --limit`: how many deployments to show, at least 1.
    pub fn deployments_limit(&self, flag: Option<String>) -> Result<usize> {
        let Some(n) = self.number::<usize>("limit", flag)? else {
            return Ok(defaults::DEPLOYMENTS_LIMIT);
        };
        if n == 0 {
            return Err(Error::usage_hint(
                format!("{} must be at least 1", self.origin("limit")),
                "pass --limit a positive number, e.g. 50",
            ));
        }
        Ok(n)
    }

    /// A number flag, named by its origin in errors (clap would name only
    /// the flag, even for a value from an env var).
    pub fn number<T: std::str::FromStr>(
        &self,
        id: &str,
        value: Option<String>,
    ) -> Result<Option<T>> {
        let Some(v) = value else { return Ok(None) };
        let origin = self.origin(id);
        v.trim().parse().map(Some).map_err(|_| {
            let flag = match &origin {
                Origin::Flag(f) | Origin::Env { flag: f, .. } => f.clone(),
                other => other.to_string(),
            };
            Error::usage_hint(
                format!("invalid number '{v}' for {origin}"),
                format!("pass {flag} a number, e.g. 20"),
            )
        })
    }

    /// The owning team: `--team`, the config's `team`.
    pub fn team(&self, flag: Option<String>) -> Option<String> {
        self.first([self.flag("team", flag), self.cfg("team", |c| &c.team)])
            .map(|s| s.value)
    }

    /// A time flag (RFC 3339 or unix seconds), named by its origin in errors.
    pub fn time(&self, id: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>> {
        self.flag(id, value)
            .map(|s| s.try_map(|origin, v| crate::time::parse_time(origin, &v, self.now)))
            .transpose()
            .map(|s| s.map(|s| s.value))
    }

    /// An enum flag, named by its origin in errors.
    pub fn choice<T: std::str::FromStr>(
        &self,
        id: &str,
        value: String,
        choices: &str,
    ) -> Result<T> {
        let origin = self.sources.origin(id).to_string();
        parse_choice(&origin, &value, choices)
    }

    /// The origin of flag `id`, for messages.
    pub fn origin(&self, id: &str) -> Origin {
        self.sources.origin(id)
    }
}

/// Parses an enum value or explains the choices.
pub fn parse_choice<T: std::str::FromStr>(name: &str, value: &str, choices: &str) -> Result<T> {
    value.parse().map_err(|_| {
        let flag = name.split(' ').next().unwrap_or(name);
        Error::usage_hint(
            format!("invalid value '{value}' for {name}"),
            format!("{flag} is one of: {choices}"),
        )
    })
}

/// Timeouts, retries and concurrency from `DORAMETER_SINK_*`.
pub fn http_settings(env: &EnvMap) -> Result<HttpSettings> {
    let mut s = HttpSettings::default();
    let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(v) = get(ev::SINK_TIMEOUT) {
        s.timeout = short_duration(ev::SINK_TIMEOUT, v)?;
        s.connect_timeout = s.connect_timeout.min(s.timeout);
    }
    if let Some(v) = get(ev::SINK_BACKOFF) {
        s.backoff = short_duration(ev::SINK_BACKOFF, v)?;
    }
    if let Some(v) = get(ev::SINK_MAX_DELAY) {
        s.max_delay = short_duration(ev::SINK_MAX_DELAY, v)?;
    }
    if let Some(v) = get(ev::SINK_BUDGET) {
        s.budget = Some(sink_budget(v)?);
    }
    if let Some(v) = get(ev::SINK_RETRIES) {
        s.retries = v.parse().ok().filter(|n| *n <= 20).ok_or_else(|| {
            Error::usage_hint(
                format!("invalid {} '{v}'", ev::SINK_RETRIES),
                format!("set {} to a number from 0 to 20", ev::SINK_RETRIES),
            )
        })?;
    }
    if let Some(v) = get(ev::SINK_CONCURRENCY) {
        s.concurrency = v
            .parse()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| {
                Error::usage_hint(
                    format!("invalid {} '{v}'", ev::SINK_CONCURRENCY),
                    format!("set {} to a number from 1 to 64", ev::SINK_CONCURRENCY),
                )
            })?;
    }
    Ok(s)
}

/// `DORAMETER_SINK_BUDGET`: a positive duration with its unit (SPEC §4: a
/// bare `15` is refused rather than guessed).
fn sink_budget(v: &str) -> Result<std::time::Duration> {
    let var = ev::SINK_BUDGET;
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(Error::usage_hint(
            format!("the duration '{v}' given to {var} has no unit"),
            format!("give {var} a unit: {v}s for seconds, or e.g. 500ms or 1m"),
        ));
    }
    let d = short_duration(var, v)?;
    if d.is_zero() {
        return Err(Error::usage_hint(
            format!("{var} must be more than zero, not '{v}'"),
            format!(
                "give {var} as e.g. 15s (the default), or unset it; `dorameter flush` delivers what waits in the spool"
            ),
        ));
    }
    Ok(d)
}

/// `250ms`, `2s`, `1.5s`, `1m`, or plain seconds.
fn short_duration(var: &str, v: &str) -> Result<std::time::Duration> {
    let bad = || {
        Error::usage_hint(
            format!("invalid duration for {var}: '{v}'"),
            format!("give {var} as e.g. 250ms, 2s or 1m"),
        )
    };
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60.0)
    } else {
        (v, 1.0)
    };
    let x: f64 = num.trim().parse().map_err(|_| bad())?;
    if !x.is_finite() || x < 0.0 || x * scale > 86_400.0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs_f64(x * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_sink_budget_needs_a_unit_and_more_than_zero() {
        assert_eq!(http_settings(&env(&[])).unwrap().budget, None);
        let b = |v: &str| http_settings(&env(&[(ev::SINK_BUDGET, v)]));
        assert_eq!(
            b("15s").unwrap().budget,
            Some(std::time::Duration::from_secs(15))
        );
        assert_eq!(
            b("1m").unwrap().budget,
            Some(std::time::Duration::from_secs(60))
        );
        assert_eq!(
            b("500ms").unwrap().budget,
            Some(std::time::Duration::from_millis(500))
        );
        for bad in ["15", "0s", "soon", "-1s"] {
            let e = b(bad).unwrap_err();
            let hint = e.hint().unwrap_or_default();
            assert!(
                e.to_string().contains(ev::SINK_BUDGET) && hint.contains(ev::SINK_BUDGET),
                "{bad}: {e} / {hint}"
            );
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{bad}");
        }
    }
}
