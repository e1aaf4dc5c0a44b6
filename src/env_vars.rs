//! The one registry of environment variable names. clap refers to these
//! constants (`env = env_vars::STORE`), the docs list them, and nothing else in
//! the code spells one of our variables by hand. [`ALL`] is generated from the
//! same list, so a new name cannot be left out of it.

macro_rules! registry {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)+) => {
        $($(#[$doc])* pub const $name: &str = $value;)+
        /// Every variable above, for `docs/configuration.md` and its test.
        pub const ALL: &[&str] = &[$($name),+];
    };
}

registry! {
    STORE = "DORAMETER_STORE";
    SINKS = "DORAMETER_SINKS";
    FORMAT = "DORAMETER_FORMAT";
    CONFIG = "DORAMETER_CONFIG";
    SERVICE = "DORAMETER_SERVICE";
    ENV = "DORAMETER_ENV";
    SHA = "DORAMETER_SHA";
    REPO = "DORAMETER_REPO";
    STARTED_AT = "DORAMETER_STARTED_AT";
    FINISHED_AT = "DORAMETER_FINISHED_AT";
    STATUS = "DORAMETER_STATUS";
    ROLLBACK = "DORAMETER_ROLLBACK";
    HOTFIX = "DORAMETER_HOTFIX";
    PREVIOUS_SHA = "DORAMETER_PREVIOUS_SHA";
    DEPLOYMENT_ID = "DORAMETER_DEPLOYMENT_ID";
    VERSION = "DORAMETER_VERSION";
    TEAM = "DORAMETER_TEAM";
    DEPLOYED_BY = "DORAMETER_DEPLOYED_BY";
    TAGS = "DORAMETER_TAGS";
    LEAD_TIME_FROM = "DORAMETER_LEAD_TIME_FROM";
    LEAD_TIME_SOURCE = "DORAMETER_LEAD_TIME_SOURCE";
    OFFLINE = "DORAMETER_OFFLINE";
    MAX_COMMITS = "DORAMETER_MAX_COMMITS";
    DRY_RUN = "DORAMETER_DRY_RUN";
    INCIDENT_ID = "DORAMETER_INCIDENT_ID";
    DETECTED_AT = "DORAMETER_DETECTED_AT";
    RESOLVED_AT = "DORAMETER_RESOLVED_AT";
    REOPEN = "DORAMETER_REOPEN";
    SEVERITY = "DORAMETER_SEVERITY";
    TITLE = "DORAMETER_TITLE";
    CAUSE = "DORAMETER_CAUSE";
    INCIDENT_DEPLOYMENT = "DORAMETER_INCIDENT_DEPLOYMENT";
    INCIDENT_SHA = "DORAMETER_INCIDENT_SHA";
    ATTRIBUTION_WINDOW = "DORAMETER_ATTRIBUTION_WINDOW";
    WINDOW = "DORAMETER_WINDOW";
    SINCE = "DORAMETER_SINCE";
    UNTIL = "DORAMETER_UNTIL";
    BANDS = "DORAMETER_BANDS";
    FROM_TAGS = "DORAMETER_FROM_TAGS";
    EXCLUDE = "DORAMETER_EXCLUDE";
    /// `backfill --environment`: forge environments and their envs.
    BACKFILL_ENVIRONMENTS = "DORAMETER_BACKFILL_ENVIRONMENTS";
    /// `store copy`: the stores (an env var keeps a password off the command line).
    COPY_FROM = "DORAMETER_COPY_FROM";
    COPY_TO = "DORAMETER_COPY_TO";
    RUN_ID = "DORAMETER_RUN_ID";
    JOB = "DORAMETER_JOB";
    TEST_RUN_ID = "DORAMETER_TEST_RUN_ID";
    FAIL_ON = "DORAMETER_FAIL_ON";
    FAIL_ON_FAILURE = "DORAMETER_FAIL_ON_FAILURE";
    FAIL_ON_FLAKY = "DORAMETER_FAIL_ON_FLAKY";
    FLAKY_WINDOW = "DORAMETER_FLAKY_WINDOW";
    MIN_RUNS = "DORAMETER_MIN_RUNS";
    MIN_FAILURE_RATE = "DORAMETER_MIN_FAILURE_RATE";
    MAX_FAILURE_RATE = "DORAMETER_MAX_FAILURE_RATE";
    INFRA_THRESHOLD = "DORAMETER_INFRA_THRESHOLD";
    /// `deployments list`: only the failed ones; how many to show.
    DEPLOYMENTS_FAILED = "DORAMETER_DEPLOYMENTS_FAILED";
    DEPLOYMENTS_LIMIT = "DORAMETER_DEPLOYMENTS_LIMIT";
    VERBOSE = "DORAMETER_VERBOSE";
    QUIET = "DORAMETER_QUIET";
    STRICT = "DORAMETER_STRICT";
    /// Spool directory for undelivered sink events [default: `spool/` next to the SQLite store].
    SPOOL = "DORAMETER_SPOOL";
    WEBHOOK_SECRET = "DORAMETER_WEBHOOK_SECRET";
    DEVLAKE_TOKEN = "DORAMETER_DEVLAKE_TOKEN";
    SINK_TIMEOUT = "DORAMETER_SINK_TIMEOUT";
    SINK_RETRIES = "DORAMETER_SINK_RETRIES";
    SINK_BACKOFF = "DORAMETER_SINK_BACKOFF";
    SINK_MAX_DELAY = "DORAMETER_SINK_MAX_DELAY";
    SINK_CONCURRENCY = "DORAMETER_SINK_CONCURRENCY";
    /// The most one command spends delivering to sinks (`15s`).
    SINK_BUDGET = "DORAMETER_SINK_BUDGET";
    /// Datadog's own names: the API key and the site (`datadoghq.eu`, …).
    DD_API_KEY = "DD_API_KEY";
    DD_SITE = "DD_SITE";
    /// AWS's own names (the `cloudwatch` sink): credentials, region, endpoint.
    AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID";
    AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY";
    AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN";
    AWS_REGION = "AWS_REGION";
    AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION";
    AWS_ENDPOINT_URL_CLOUDWATCH = "AWS_ENDPOINT_URL_CLOUDWATCH";
    AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL";
    /// `comment`: forge tokens (GitHub's and GitLab's own names as fallbacks).
    GITHUB_TOKEN = "GITHUB_TOKEN";
    GITLAB_TOKEN = "DORAMETER_GITLAB_TOKEN";
    GITLAB_TOKEN_FALLBACK = "GITLAB_TOKEN";
    /// `comment`: the job summary file the comment body is appended to.
    GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY";
    /// `comment`: the flaky tests' JUnit reports.
    COMMENT_JUNIT = "DORAMETER_COMMENT_JUNIT";
    /// `comment`: when to post (`--comment-mode`).
    COMMENT_MODE = "DORAMETER_COMMENT_MODE";
    /// `junit --check-run`: the check run's name.
    CHECK_RUN = "DORAMETER_CHECK_RUN";
    /// `junit --code-quality`: GitLab's Code Quality report file.
    CODE_QUALITY = "DORAMETER_CODE_QUALITY";
    /// Overrides "now" for every command: tests and reproducible reports.
    NOW = "DORAMETER_NOW";
    /// GitHub Actions: the step outputs file (`action.yml` outputs).
    GITHUB_OUTPUT = "GITHUB_OUTPUT";
    /// `serve`: the address to listen on, the API tokens (`SCOPE:TOKEN`,
    /// comma separated) or a file of them, the rate limits, the store
    /// workers, and the PagerDuty webhook signing secrets.
    LISTEN = "DORAMETER_LISTEN";
    API_TOKENS = "DORAMETER_API_TOKENS";
    API_TOKENS_FILE = "DORAMETER_API_TOKENS_FILE";
    RATE_LIMIT = "DORAMETER_RATE_LIMIT";
    ANONYMOUS_RATE_LIMIT = "DORAMETER_ANONYMOUS_RATE_LIMIT";
    SERVE_WORKERS = "DORAMETER_SERVE_WORKERS";
    PAGERDUTY_WEBHOOK_SECRET = "DORAMETER_PAGERDUTY_WEBHOOK_SECRET";
    /// `incident import`: the source, where to start, its API, token,
    /// repository and label, and PagerDuty's own token variable.
    IMPORT_FROM = "DORAMETER_IMPORT_FROM";
    IMPORT_SINCE = "DORAMETER_IMPORT_SINCE";
    IMPORT_TOKEN = "DORAMETER_IMPORT_TOKEN";
    IMPORT_API_URL = "DORAMETER_IMPORT_API_URL";
    IMPORT_REPOSITORY = "DORAMETER_IMPORT_REPOSITORY";
    INCIDENT_LABEL = "DORAMETER_INCIDENT_LABEL";
    PAGERDUTY_TOKEN = "DORAMETER_PAGERDUTY_TOKEN";
}

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
