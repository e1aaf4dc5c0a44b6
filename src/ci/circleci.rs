//! CircleCI.

use super::context::{ChangeRequest, CiContext, Provider};
use super::detect::{Vars, commit_id, number, parts};
use super::url::{repo_slug, strip_credentials};

pub(crate) fn detect(vars: Vars<'_>) -> CiContext {
    let mut ctx = CiContext::new(Provider::CircleCi);
    ctx.sha = commit_id(vars.get("CIRCLE_SHA1"));
    let url = vars.get("CIRCLE_REPOSITORY_URL");
    ctx.repository_url = url.map(strip_credentials);
    let slug = match (
        vars.get("CIRCLE_PROJECT_USERNAME"),
        vars.get("CIRCLE_PROJECT_REPONAME"),
    ) {
        (Some(user), Some(repo)) => Some(format!("{user}/{repo}")),
        _ => url.and_then(repo_slug),
    };
    ctx.repository.clone_from(&slug);
    // The workflow is the closest thing to a pipeline run; the job URL is
    // the page CircleCI gives for it.
    ctx.pipeline_id = vars.owned("CIRCLE_WORKFLOW_ID");
    ctx.pipeline_url = vars.owned("CIRCLE_BUILD_URL");
    ctx.actor = vars.owned("CIRCLE_USERNAME");
    ctx.job = vars.owned("CIRCLE_JOB");
    ctx.branch = vars.owned("CIRCLE_BRANCH");
    ctx.default_service = vars.owned("CIRCLE_PROJECT_REPONAME").or_else(|| {
        slug.as_deref()
            .and_then(|s| s.rsplit('/').next())
            .map(str::to_string)
    });
    ctx.run_key = parts(&[
        Some("circleci"),
        slug.as_deref(),
        vars.get("CIRCLE_BUILD_NUM"),
    ]);
    // CIRCLE_PR_NUMBER is only set for forks; CIRCLE_PULL_REQUEST (the URL)
    // for every PR.
    let pr_url = vars.get("CIRCLE_PULL_REQUEST");
    let n = number(vars.get("CIRCLE_PR_NUMBER"))
        .or_else(|| number(pr_url.and_then(|u| u.trim_end_matches('/').rsplit('/').next())));
    if let Some(n) = n {
        let mut change = ChangeRequest::new(n);
        change.url = pr_url.map(str::to_string);
        change.source_branch = vars.owned("CIRCLE_BRANCH");
        change.from_fork = Some(vars.get("CIRCLE_PR_NUMBER").is_some());
        ctx.change = Some(change);
    }
    ctx
}

#[cfg(test)]
mod tests {
    use crate::ci::detect;
    use crate::ci::detect::tests::env;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn pull_request_job() {
        let ctx = detect(&env(&[
            ("CI", "true"),
            ("CIRCLECI", "true"),
            ("CIRCLE_SHA1", SHA),
            ("CIRCLE_BRANCH", "feat/x"),
            ("CIRCLE_BUILD_NUM", "5521"),
            ("CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/web/5521"),
            ("CIRCLE_JOB", "deploy"),
            ("CIRCLE_NODE_INDEX", "0"),
            ("CIRCLE_NODE_TOTAL", "1"),
            ("CIRCLE_PROJECT_USERNAME", "acme"),
            ("CIRCLE_PROJECT_REPONAME", "web"),
            ("CIRCLE_REPOSITORY_URL", "git@github.com:acme/web.git"),
            ("CIRCLE_USERNAME", "ada"),
            ("CIRCLE_WORKFLOW_ID", "6a1d2f0e-8a9b-4c1d-9e8f-0123456789ab"),
            (
                "CIRCLE_WORKFLOW_JOB_ID",
                "0f6a7b8c-1d2e-3f40-5a6b-7c8d9e0f1a2b",
            ),
            ("CIRCLE_PULL_REQUEST", "https://github.com/acme/web/pull/88"),
            (
                "CIRCLE_PULL_REQUESTS",
                "https://github.com/acme/web/pull/88",
            ),
        ]))
        .unwrap();
        assert_eq!(ctx.provider.as_str(), "circleci");
        assert_eq!(ctx.sha.as_deref(), Some(SHA));
        assert_eq!(ctx.repository.as_deref(), Some("acme/web"));
        assert_eq!(
            ctx.repository_url.as_deref(),
            Some("git@github.com:acme/web.git")
        );
        assert_eq!(ctx.default_service.as_deref(), Some("web"));
        assert_eq!(
            ctx.pipeline_id.as_deref(),
            Some("6a1d2f0e-8a9b-4c1d-9e8f-0123456789ab")
        );
        assert_eq!(
            ctx.pipeline_url.as_deref(),
            Some("https://circleci.com/gh/acme/web/5521")
        );
        assert_eq!(ctx.job.as_deref(), Some("deploy"));
        assert_eq!(ctx.run_key, ["circleci", "acme/web", "5521"]);
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 88);
        assert_eq!(change.from_fork, Some(false));
    }

    #[test]
    fn forked_pull_request_and_plain_branch() {
        let ctx = detect(&env(&[
            ("CIRCLECI", "true"),
            ("CIRCLE_SHA1", SHA),
            ("CIRCLE_PR_NUMBER", "9"),
            ("CIRCLE_PR_USERNAME", "mallory"),
            ("CIRCLE_PR_REPONAME", "web"),
            ("CIRCLE_REPOSITORY_URL", "https://github.com/acme/web"),
        ]))
        .unwrap();
        assert_eq!(ctx.repository.as_deref(), Some("acme/web"));
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 9);
        assert_eq!(change.from_fork, Some(true));

        let ctx = detect(&env(&[("CIRCLECI", "true"), ("CIRCLE_BRANCH", "main")])).unwrap();
        assert_eq!(ctx.change, None);
        assert_eq!(ctx.run_key, ["circleci"], "no run id: no derived event ids");
    }
}
