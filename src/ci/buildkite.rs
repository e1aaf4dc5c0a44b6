//! Buildkite.

use super::context::{ChangeRequest, CiContext, Provider};
use super::detect::{Vars, commit_id, number, parts};
use super::url::{repo_name, repo_slug, strip_credentials};

pub(crate) fn detect(vars: Vars<'_>) -> CiContext {
    let mut ctx = CiContext::new(Provider::Buildkite);
    // BUILDKITE_COMMIT is `HEAD` for builds started without a commit: not a
    // sha, so the caller resolves HEAD in the checkout itself.
    ctx.sha = commit_id(vars.get("BUILDKITE_COMMIT"));
    let url = vars.get("BUILDKITE_REPO");
    ctx.repository_url = url.map(strip_credentials);
    ctx.repository = url.and_then(repo_slug);
    ctx.pipeline_id = vars.owned("BUILDKITE_BUILD_ID");
    ctx.pipeline_url = vars.owned("BUILDKITE_BUILD_URL");
    ctx.event = vars.owned("BUILDKITE_SOURCE");
    ctx.actor = vars
        .first(&["BUILDKITE_BUILD_CREATOR", "BUILDKITE_BUILD_AUTHOR"])
        .map(str::to_string);
    ctx.job = vars
        .first(&["BUILDKITE_STEP_KEY", "BUILDKITE_LABEL"])
        .map(str::to_string);
    ctx.run_attempt = vars.owned("BUILDKITE_RETRY_COUNT");
    ctx.branch = vars.owned("BUILDKITE_BRANCH");
    ctx.default_service = url
        .and_then(repo_name)
        .or_else(|| vars.owned("BUILDKITE_PIPELINE_SLUG"));
    // The job id is a UUID unique to this job run (a retry gets a new one).
    ctx.run_key = parts(&[Some("buildkite"), vars.get("BUILDKITE_JOB_ID")]);
    if let Some(n) = number(vars.get("BUILDKITE_PULL_REQUEST")) {
        let mut change = ChangeRequest::new(n);
        change.source_branch = vars.owned("BUILDKITE_BRANCH");
        change.target_branch = vars.owned("BUILDKITE_PULL_REQUEST_BASE_BRANCH");
        change.from_fork = vars
            .get("BUILDKITE_PULL_REQUEST_REPO")
            .zip(url)
            .map(|(pr_repo, repo)| repo_slug(pr_repo) != repo_slug(repo));
        ctx.change = Some(change);
    }
    ctx
}

#[cfg(test)]
mod tests {
    use crate::ci::detect;
    use crate::ci::detect::tests::env;

    #[test]
    fn pull_request_build() {
        let ctx = detect(&env(&[
            ("CI", "true"),
            ("BUILDKITE", "true"),
            ("BUILDKITE_BRANCH", "fix-query"),
            ("BUILDKITE_BUILD_CREATOR", "Ada Lovelace"),
            ("BUILDKITE_BUILD_ID", "b81ed283-58b7-4925-aa4a-d3da0eafcf2b"),
            ("BUILDKITE_BUILD_NUMBER", "59034"),
            (
                "BUILDKITE_BUILD_URL",
                "https://buildkite.com/acme/api/builds/59034",
            ),
            (
                "BUILDKITE_COMMIT",
                "a0bd708bcdebced545b62a842a0350ccd1d683b7",
            ),
            ("BUILDKITE_JOB_ID", "d593f546-8c9a-45f8-8701-a2b92fbea9a7"),
            ("BUILDKITE_LABEL", ":rocket: deploy"),
            ("BUILDKITE_STEP_KEY", "deploy"),
            ("BUILDKITE_ORGANIZATION_SLUG", "acme"),
            ("BUILDKITE_PIPELINE_SLUG", "api-pipeline"),
            ("BUILDKITE_PULL_REQUEST", "812"),
            ("BUILDKITE_PULL_REQUEST_BASE_BRANCH", "main"),
            (
                "BUILDKITE_PULL_REQUEST_REPO",
                "https://github.com/ada/api.git",
            ),
            ("BUILDKITE_REPO", "git@github.com:acme/api.git"),
            ("BUILDKITE_RETRY_COUNT", "0"),
            ("BUILDKITE_SOURCE", "webhook"),
        ]))
        .unwrap();
        assert_eq!(ctx.provider.as_str(), "buildkite");
        assert_eq!(
            ctx.sha.as_deref(),
            Some("a0bd708bcdebced545b62a842a0350ccd1d683b7")
        );
        assert_eq!(ctx.repository.as_deref(), Some("acme/api"));
        assert_eq!(ctx.default_service.as_deref(), Some("api"));
        assert_eq!(ctx.job.as_deref(), Some("deploy"));
        assert_eq!(
            ctx.run_key,
            ["buildkite", "d593f546-8c9a-45f8-8701-a2b92fbea9a7"]
        );
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 812);
        assert_eq!(change.target_branch.as_deref(), Some("main"));
        assert_eq!(change.from_fork, Some(true));
    }

    #[test]
    fn head_commit_and_no_pull_request() {
        let ctx = detect(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_COMMIT", "HEAD"),
            ("BUILDKITE_PULL_REQUEST", "false"),
            ("BUILDKITE_PIPELINE_SLUG", "deploys"),
        ]))
        .unwrap();
        assert_eq!(ctx.sha, None);
        assert_eq!(ctx.change, None);
        assert_eq!(ctx.default_service.as_deref(), Some("deploys"));
    }
}
