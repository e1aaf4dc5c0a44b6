//! Bitbucket Pipelines (Bitbucket Cloud).

use super::context::{ChangeRequest, CiContext, Provider};
use super::detect::{Vars, commit_id, number, parts};
use super::url::{repo_slug, strip_credentials};

const BITBUCKET: &str = "https://bitbucket.org";

pub(crate) fn detect(vars: Vars<'_>) -> CiContext {
    let mut ctx = CiContext::new(Provider::BitbucketPipelines);
    // A pull-request pipeline builds the source branch's commit.
    ctx.sha = commit_id(vars.get("BITBUCKET_COMMIT"));
    let origin = vars.get("BITBUCKET_GIT_HTTP_ORIGIN");
    ctx.repository_url = origin.map(strip_credentials);
    let full_name = vars
        .owned("BITBUCKET_REPO_FULL_NAME")
        .or_else(|| origin.and_then(repo_slug));
    ctx.repository.clone_from(&full_name);
    let build = vars.get("BITBUCKET_BUILD_NUMBER");
    ctx.pipeline_id = vars
        .first(&["BITBUCKET_PIPELINE_UUID", "BITBUCKET_BUILD_NUMBER"])
        .map(str::to_string);
    ctx.pipeline_url = full_name
        .as_deref()
        .zip(build)
        .map(|(repo, n)| format!("{BITBUCKET}/{repo}/pipelines/results/{n}"));
    ctx.actor = vars.owned("BITBUCKET_STEP_TRIGGERER_UUID");
    ctx.branch = vars.owned("BITBUCKET_BRANCH");
    ctx.default_service = vars.owned("BITBUCKET_REPO_SLUG").or_else(|| {
        full_name
            .as_deref()
            .and_then(|r| r.rsplit('/').next())
            .map(str::to_string)
    });
    ctx.run_key = parts(&[
        Some("bitbucket"),
        vars.first(&["BITBUCKET_REPO_UUID", "BITBUCKET_REPO_FULL_NAME"]),
        build,
        vars.get("BITBUCKET_STEP_UUID"),
    ]);
    if let Some(n) = number(vars.get("BITBUCKET_PR_ID")) {
        let mut change = ChangeRequest::new(n);
        change.url = full_name
            .as_deref()
            .map(|repo| format!("{BITBUCKET}/{repo}/pull-requests/{n}"));
        change.source_branch = vars.owned("BITBUCKET_BRANCH");
        change.target_branch = vars.owned("BITBUCKET_PR_DESTINATION_BRANCH");
        change.base_sha = commit_id(vars.get("BITBUCKET_PR_DESTINATION_COMMIT"));
        ctx.change = Some(change);
    }
    ctx
}

#[cfg(test)]
mod tests {
    use crate::ci::detect;
    use crate::ci::detect::tests::env;

    const SHA: &str = "6666666666666666666666666666666666666666";

    #[test]
    fn pull_request_pipeline() {
        let ctx = detect(&env(&[
            ("CI", "true"),
            ("BITBUCKET_BUILD_NUMBER", "318"),
            (
                "BITBUCKET_CLONE_DIR",
                "/opt/atlassian/pipelines/agent/build",
            ),
            ("BITBUCKET_COMMIT", SHA),
            ("BITBUCKET_BRANCH", "feature/pay"),
            ("BITBUCKET_WORKSPACE", "acme"),
            ("BITBUCKET_REPO_SLUG", "payments"),
            ("BITBUCKET_REPO_FULL_NAME", "acme/payments"),
            (
                "BITBUCKET_REPO_UUID",
                "{0d5a8c1e-3f2b-4a6d-9e8c-1b2a3c4d5e6f}",
            ),
            (
                "BITBUCKET_GIT_HTTP_ORIGIN",
                "http://bitbucket.org/acme/payments",
            ),
            (
                "BITBUCKET_GIT_SSH_ORIGIN",
                "git@bitbucket.org:acme/payments.git",
            ),
            (
                "BITBUCKET_PIPELINE_UUID",
                "{a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d}",
            ),
            (
                "BITBUCKET_STEP_UUID",
                "{f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f}",
            ),
            (
                "BITBUCKET_STEP_TRIGGERER_UUID",
                "{9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d}",
            ),
            ("BITBUCKET_PR_ID", "57"),
            ("BITBUCKET_PR_DESTINATION_BRANCH", "main"),
        ]))
        .unwrap();
        assert_eq!(ctx.provider.as_str(), "bitbucket-pipelines");
        assert_eq!(ctx.sha.as_deref(), Some(SHA));
        assert_eq!(ctx.repository.as_deref(), Some("acme/payments"));
        assert_eq!(
            ctx.repository_url.as_deref(),
            Some("http://bitbucket.org/acme/payments")
        );
        assert_eq!(
            ctx.pipeline_url.as_deref(),
            Some("https://bitbucket.org/acme/payments/pipelines/results/318")
        );
        assert_eq!(ctx.default_service.as_deref(), Some("payments"));
        assert_eq!(ctx.run_key.len(), 4);
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 57);
        assert_eq!(
            change.url.as_deref(),
            Some("https://bitbucket.org/acme/payments/pull-requests/57")
        );
        assert_eq!(change.target_branch.as_deref(), Some("main"));
    }

    #[test]
    fn a_stray_build_number_alone_is_not_bitbucket() {
        assert!(detect(&env(&[("BITBUCKET_BUILD_NUMBER", "1")])).is_none());
    }
}
