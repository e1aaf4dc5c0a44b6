//! `dorameter serve`: the DORA metrics API, Prometheus endpoint and
//! webhooks over any store (SPEC §9). This adapter resolves the settings
//! into a [`ServeConfig`]; `crate::serve` does the rest.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::GlobalArgs;
use super::context::Context;
use crate::app::{locate, sinks};
use crate::env_vars as ev;
use crate::serve::{Answers, DeployDefaults, Limit, PoolSpec, ServeConfig, SinkConfig, Tokens};
use crate::settings::Settings;
use crate::store::{Access, StoreUrl};
use crate::{Error, Result};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free one)
    #[arg(long, env = ev::LISTEN, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// A clone the server keeps fetched: webhook deployments get their shas
    /// resolved and lead time from git, as `deploy` computes it
    #[arg(long, env = ev::REPO, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// A file of API tokens, one `SCOPE TOKEN [NAME]` per line (SCOPE read or
    /// write); DORAMETER_API_TOKENS gives them as read:TOKEN,write:TOKEN
    #[arg(long, env = ev::API_TOKENS_FILE, value_name = "PATH")]
    pub tokens_file: Option<PathBuf>,
    /// Requests per token: 5000/h, 100/min, 10/s, or off
    #[arg(long, env = ev::RATE_LIMIT, default_value = "5000/h", value_name = "LIMIT")]
    pub rate_limit: String,
    /// Requests per address without a token (reads, while no token is configured)
    #[arg(long, env = ev::ANONYMOUS_RATE_LIMIT, default_value = "60/h", value_name = "LIMIT")]
    pub anonymous_rate_limit: String,
    /// Store connections (and threads); a git store always uses one [default: 4]
    #[arg(long, env = ev::SERVE_WORKERS, value_name = "N")]
    pub workers: Option<usize>,
    /// The window of /metrics' gauges (change failure rate, levels) [default: 30d]
    #[arg(long, env = ev::WINDOW, value_name = "DURATION")]
    pub window: Option<String>,
    /// Band table: classic, dora-2021, dora-2023, dora-2024 [default: classic]
    #[arg(long, env = ev::BANDS, value_name = "NAME")]
    pub bands: Option<String>,
    /// Attribute an incident to the latest deployment finished at most this long before it [default: 24h]
    #[arg(long, env = ev::ATTRIBUTION_WINDOW, value_name = "DURATION")]
    pub attribution_window: Option<String>,
    /// Largest request body accepted: bytes, or with a unit (64KiB, 1MiB, 2MB)
    #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_body: usize,
    /// A request that takes longer is answered 503
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub request_timeout: String,
    /// Connections served at once; more wait to be accepted
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// On SIGTERM, how long requests in flight may take to finish
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub shutdown_timeout: String,
    /// Answers are shared this long (0s: never); events this server records
    /// refresh them at once, events written elsewhere show after at most this
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub cache_ttl: String,
    /// A git store is fetched again when its copy is older than this
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub refresh: String,
    /// No access log on stderr
    #[arg(long)]
    pub no_access_log: bool,
}

fn std_duration(flag: &str, value: &str) -> Result<Duration> {
    let d = crate::time::parse_duration(flag, value)?;
    d.to_std().map_err(|_| {
        Error::usage_hint(
            format!("{flag} must be positive, not '{value}'"),
            format!("give {flag} as e.g. 30s or 2m"),
        )
    })
}

fn cache_ttl(value: &str) -> Result<Duration> {
    if value.trim().trim_end_matches(char::is_alphabetic) == "0" {
        return Ok(Duration::ZERO);
    }
    std_duration("--cache-ttl", value)
}

/// The server's configuration from the flags, settings and environment.
pub fn config(args: &ServeArgs, s: &Settings, ctx: &Context<'_>) -> Result<ServeConfig> {
    let port = args.listen.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
    if !matches!(port, Some(Ok(_))) {
        return Err(Error::usage_hint(
            format!("--listen '{}' is not HOST:PORT", args.listen),
            "give --listen (DORAMETER_LISTEN) as e.g. 127.0.0.1:8080 or 0.0.0.0:8080 (port 0 picks a free one)",
        ));
    }
    let repo = match &args.repo {
        Some(path) => Some(crate::git::Repo::discover(&ctx.cwd.join(path))?),
        None => None,
    };
    let configured = s.store.as_ref().map(|v| v.value.as_str());
    let url = locate::store_url(configured, &ctx.cwd, repo.as_ref())?;
    let secret = |k: &str| {
        ctx.env
            .get(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretString::from(v.clone()))
    };
    let file = match &args.tokens_file {
        Some(p) => {
            let path = ctx.cwd.join(p);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::usage_hint(
                    format!("failed to read the tokens file {}: {e}", path.display()),
                    "check --tokens-file (DORAMETER_API_TOKENS_FILE)",
                )
            })?;
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    let tokens = Tokens::parse(
        secret(ev::API_TOKENS).as_ref(),
        file.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
    )?;
    let pagerduty_secrets: Vec<SecretString> = secret(ev::PAGERDUTY_WEBHOOK_SECRET)
        .map(|all| {
            all.expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| SecretString::from(v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    if pagerduty_secrets
        .iter()
        .any(|s| s.expose_secret().chars().count() < 8)
    {
        return Err(Error::usage_hint(
            format!(
                "a secret in {} is shorter than 8 characters",
                ev::PAGERDUTY_WEBHOOK_SECRET
            ),
            "give the signing secret PagerDuty shows for the webhook subscription",
        ));
    }
    for (flag, n) in [
        ("--max-connections", args.max_connections),
        ("--max-body", args.max_body),
    ] {
        if n == 0 {
            return Err(Error::usage_hint(
                format!("{flag} must be at least 1"),
                format!("give {flag} a positive number, or leave it out for the default"),
            ));
        }
    }
    let writes = tokens.any_write() || !pagerduty_secrets.is_empty();
    let missing = match (&url, writes) {
        (StoreUrl::Sqlite(path), false) if !path.exists() => Some(path.clone()),
        _ => None,
    };
    let git = matches!(url, StoreUrl::Git(_));
    let workers = match (git, args.workers) {
        (true, _) => 1,
        (false, Some(0)) => {
            return Err(Error::usage_hint(
                "--workers must be at least 1",
                "give --workers (DORAMETER_SERVE_WORKERS) the number of store connections, e.g. 4",
            ));
        }
        (false, Some(n)) => n,
        (false, None) => 4,
    };
    let store_shown = url.to_string();
    let config = ServeConfig {
        listen: args.listen.clone(),
        pool: PoolSpec {
            access: if writes {
                Access::ReadWrite
            } else {
                Access::ReadOnly
            },
            repo: args.repo.as_ref().map(|p| ctx.cwd.join(p)),
            workers,
            queue: workers * 64,
            refresh: git
                .then(|| std_duration("--refresh", &args.refresh))
                .transpose()?,
            url,
        },
        store_shown,
        tokens,
        rate_limit: Limit::parse("--rate-limit (DORAMETER_RATE_LIMIT)", &args.rate_limit)?,
        anonymous_rate_limit: Limit::parse(
            "--anonymous-rate-limit (DORAMETER_ANONYMOUS_RATE_LIMIT)",
            &args.anonymous_rate_limit,
        )?,
        pagerduty_secrets,
        answers: Answers {
            bands: s.bands(args.bands.clone())?.value,
            attribution_window: s.attribution_window(args.attribution_window.clone())?.value,
            window: s.window("window", args.window.clone())?.value,
            fixed_now: ctx
                .env
                .get(ev::NOW)
                .filter(|v| !v.is_empty())
                .map(|_| s.now),
            deploy: DeployDefaults {
                lead_time_from: s.lead_time_from(None)?.value,
                max_commits: s.max_commits(None)?.value,
                rollforward_subject: s.rollforward_subject(),
                paths: s.all_service_paths()?,
            },
            max_body: args.max_body,
            pagerduty_services: s.pagerduty_services()?,
            request_timeout: std_duration("--request-timeout", &args.request_timeout)?,
            access_log: !args.no_access_log && !s.quiet,
        },
        max_connections: args.max_connections,
        shutdown_timeout: std_duration("--shutdown-timeout", &args.shutdown_timeout)?,
        cache_ttl: cache_ttl(&args.cache_ttl)?,
        sinks: SinkConfig {
            spool: ctx.spool_dir(s, repo.as_ref()),
            sinks: s.sinks.clone(),
            secrets: sinks::secrets(&ctx.env),
            http: s.http.clone(),
        },
    };
    if let Some(path) = missing {
        // Read-only over a file that is not there would serve an empty
        // store, healthy: a typo in --store must not look like that.
        return Err(Error::NoInput {
            message: format!("no store at {}", path.display()),
            hint: Some(
                "check --store (DORAMETER_STORE); a server that records webhooks (a write token) creates it".into(),
            ),
        });
    }
    Ok(config)
}

pub fn run(args: ServeArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx.settings(global, args.repo.as_deref())?;
    if !settings.sinks.is_empty() {
        ctx.check_sinks(&settings)?;
    }
    let config = config(&args, &settings, ctx)?;
    crate::serve::run(config, ctx.stderr)
}

/// A size in bytes: a number, or one with a unit (`KB`, `MB`: powers of
/// 1000; `KiB`, `MiB`: of 1024; any case).
fn parse_size(text: &str) -> std::result::Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits.parse().map_err(|_| {
        format!("'{text}' is not a size; give bytes (1048576) or a unit: 64KiB, 1MiB, 2MB")
    })?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "'{other}' is not a size unit; use B, KB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("'{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_bytes_or_a_unit() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64kib"), Ok(64 << 10));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(
            parse_size("1 furlong")
                .unwrap_err()
                .contains("not a size unit")
        );
        assert!(parse_size("MiB").unwrap_err().contains("not a size"));
        assert!(parse_size("99999999999999999999GiB").is_err());
    }
}
