//! The one registry of environment variable names. clap refers to these
//! constants (`env = env_vars::STORE`), the docs list them, and nothing else in
//! the code spells an env var name by hand.

pub const STORE: &str = "DORAMETER_STORE";
pub const SINKS: &str = "DORAMETER_SINKS";
pub const FORMAT: &str = "DORAMETER_FORMAT";
pub const CONFIG: &str = "DORAMETER_CONFIG";
pub const SERVICE: &str = "DORAMETER_SERVICE";
pub const ENV: &str = "DORAMETER_ENV";
pub const SHA: &str = "DORAMETER_SHA";
pub const REPO: &str = "DORAMETER_REPO";
pub const STARTED_AT: &str = "DORAMETER_STARTED_AT";
pub const FINISHED_AT: &str = "DORAMETER_FINISHED_AT";
pub const STATUS: &str = "DORAMETER_STATUS";
pub const ROLLBACK: &str = "DORAMETER_ROLLBACK";
pub const HOTFIX: &str = "DORAMETER_HOTFIX";
pub const PREVIOUS_SHA: &str = "DORAMETER_PREVIOUS_SHA";
pub const DEPLOYMENT_ID: &str = "DORAMETER_DEPLOYMENT_ID";
pub const VERSION: &str = "DORAMETER_VERSION";
pub const TEAM: &str = "DORAMETER_TEAM";
pub const DEPLOYED_BY: &str = "DORAMETER_DEPLOYED_BY";
pub const TAGS: &str = "DORAMETER_TAGS";
pub const LEAD_TIME_FROM: &str = "DORAMETER_LEAD_TIME_FROM";
pub const MAX_COMMITS: &str = "DORAMETER_MAX_COMMITS";
pub const DRY_RUN: &str = "DORAMETER_DRY_RUN";
pub const INCIDENT_ID: &str = "DORAMETER_INCIDENT_ID";
pub const DETECTED_AT: &str = "DORAMETER_DETECTED_AT";
pub const RESOLVED_AT: &str = "DORAMETER_RESOLVED_AT";
pub const SEVERITY: &str = "DORAMETER_SEVERITY";
pub const TITLE: &str = "DORAMETER_TITLE";
pub const CAUSE: &str = "DORAMETER_CAUSE";
pub const INCIDENT_DEPLOYMENT: &str = "DORAMETER_INCIDENT_DEPLOYMENT";
pub const INCIDENT_SHA: &str = "DORAMETER_INCIDENT_SHA";
pub const ATTRIBUTION_WINDOW: &str = "DORAMETER_ATTRIBUTION_WINDOW";
pub const WINDOW: &str = "DORAMETER_WINDOW";
pub const SINCE: &str = "DORAMETER_SINCE";
pub const UNTIL: &str = "DORAMETER_UNTIL";
pub const BANDS: &str = "DORAMETER_BANDS";
pub const FROM_TAGS: &str = "DORAMETER_FROM_TAGS";
pub const RUN_ID: &str = "DORAMETER_RUN_ID";
pub const JOB: &str = "DORAMETER_JOB";
pub const TEST_RUN_ID: &str = "DORAMETER_TEST_RUN_ID";
pub const FAIL_ON_FAILURE: &str = "DORAMETER_FAIL_ON_FAILURE";
pub const FAIL_ON_FLAKY: &str = "DORAMETER_FAIL_ON_FLAKY";
pub const FLAKY_WINDOW: &str = "DORAMETER_FLAKY_WINDOW";
pub const MIN_RUNS: &str = "DORAMETER_MIN_RUNS";
pub const MIN_FAILURE_RATE: &str = "DORAMETER_MIN_FAILURE_RATE";
pub const MAX_FAILURE_RATE: &str = "DORAMETER_MAX_FAILURE_RATE";
pub const INFRA_THRESHOLD: &str = "DORAMETER_INFRA_THRESHOLD";
pub const VERBOSE: &str = "DORAMETER_VERBOSE";
pub const QUIET: &str = "DORAMETER_QUIET";
pub const STRICT: &str = "DORAMETER_STRICT";
/// Spool directory for undelivered sink events [default: `spool/` next to the SQLite store].
pub const SPOOL: &str = "DORAMETER_SPOOL";
pub const WEBHOOK_SECRET: &str = "DORAMETER_WEBHOOK_SECRET";
pub const DEVLAKE_TOKEN: &str = "DORAMETER_DEVLAKE_TOKEN";
pub const SINK_TIMEOUT: &str = "DORAMETER_SINK_TIMEOUT";
pub const SINK_RETRIES: &str = "DORAMETER_SINK_RETRIES";
pub const SINK_BACKOFF: &str = "DORAMETER_SINK_BACKOFF";
pub const SINK_MAX_DELAY: &str = "DORAMETER_SINK_MAX_DELAY";
pub const SINK_CONCURRENCY: &str = "DORAMETER_SINK_CONCURRENCY";
/// Datadog's own names: the API key and the site (`datadoghq.eu`, …).
pub const DD_API_KEY: &str = "DD_API_KEY";
pub const DD_SITE: &str = "DD_SITE";
/// `comment`: forge tokens (GitHub's and GitLab's own names as fallbacks).
pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
pub const GITLAB_TOKEN: &str = "DORAMETER_GITLAB_TOKEN";
pub const GITLAB_TOKEN_FALLBACK: &str = "GITLAB_TOKEN";
/// `comment`: the job summary file the comment body is appended to.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// `comment`: the flaky tests' JUnit reports.
pub const COMMENT_JUNIT: &str = "DORAMETER_COMMENT_JUNIT";
/// Overrides "now" for every command: tests and reproducible reports.
pub const NOW: &str = "DORAMETER_NOW";

/// Every variable above, for `docs/configuration.md` and its test.
pub const ALL: &[&str] = &[
    STORE,
    SINKS,
    FORMAT,
    CONFIG,
    SERVICE,
    ENV,
    SHA,
    REPO,
    STARTED_AT,
    FINISHED_AT,
    STATUS,
    ROLLBACK,
    HOTFIX,
    PREVIOUS_SHA,
    DEPLOYMENT_ID,
    VERSION,
    TEAM,
    DEPLOYED_BY,
    TAGS,
    LEAD_TIME_FROM,
    MAX_COMMITS,
    DRY_RUN,
    INCIDENT_ID,
    DETECTED_AT,
    RESOLVED_AT,
    SEVERITY,
    TITLE,
    CAUSE,
    INCIDENT_DEPLOYMENT,
    INCIDENT_SHA,
    ATTRIBUTION_WINDOW,
    WINDOW,
    SINCE,
    UNTIL,
    BANDS,
    FROM_TAGS,
    VERBOSE,
    QUIET,
    STRICT,
    SPOOL,
    WEBHOOK_SECRET,
    DEVLAKE_TOKEN,
    SINK_TIMEOUT,
    SINK_RETRIES,
    SINK_BACKOFF,
    SINK_MAX_DELAY,
    SINK_CONCURRENCY,
    DD_API_KEY,
    DD_SITE,
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    GITLAB_TOKEN_FALLBACK,
    GITHUB_STEP_SUMMARY,
    COMMENT_JUNIT,
    NOW,
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_variable_is_documented() {
        let doc = include_str!("../docs/configuration.md");
        for var in super::ALL {
            assert!(
                doc.contains(&format!("`{var}`")),
                "{var} missing from docs/configuration.md"
            );
        }
    }
}
