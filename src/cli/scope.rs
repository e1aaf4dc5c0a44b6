//! The flags that choose what `report` and `deployments list` look at: a
//! service (or every one), an env, a window and the attribution window,
//! and the [`ReportRequest`] they make. One definition, so both commands
//! read them (flags, env vars, `.dorameter.toml`) the same way.

use clap::Args;

use crate::app::report::{self, ReportRequest};
use crate::env_vars as ev;
use crate::settings::Settings;
use crate::{Error, Result};

#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Service [default: every service in the store]
    #[arg(long, env = ev::SERVICE)]
    pub service: Option<String>,
    /// Environment [default: .dorameter.toml, the CI environment, else production with --service and every environment without]
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
    /// Only the services of this team: those whose latest deployment names it (deploy --team)
    #[arg(long, env = ev::TEAM)]
    pub team: Option<String>,
    /// Attribute an incident to the latest deployment finished at most this long before it [default: 24h]
    #[arg(long, env = ev::ATTRIBUTION_WINDOW, value_name = "DURATION")]
    pub attribution_window: Option<String>,
}

/// The request from the flags and settings; `bands` is `--bands` where the
/// command has it (else the config file's, else classic).
pub fn request(args: &ScopeArgs, bands: Option<String>, s: &Settings) -> Result<ReportRequest> {
    let bands = s.bands(bands)?.value;
    let attribution_window = s.attribution_window(args.attribution_window.clone())?.value;
    let until = s.time("until", args.until.clone())?.unwrap_or(s.now);
    let since = s.time("since", args.since.clone())?;
    if args.since.is_some() && args.window.is_some() {
        return Err(Error::usage_hint(
            "--window and --since both set the window start",
            "give either --window, or --since (and optionally --until)",
        ));
    }
    let span = s.window("window", args.window.clone())?.value;
    let service = s.service_filter(args.service.clone())?.map(|v| v.value);
    // The env chain every command uses: with a service, the env reported
    // (else production); without, a filter over every service.
    let env = s.env_given(args.env.clone())?;
    Ok(ReportRequest {
        window: report::window(since, until, span)?,
        service,
        env: env.map(|v| v.value),
        team: s.team(args.team.clone()),
        attribution_window,
        bands,
        now: s.now,
    })
}
