//! Jenkins: core variables, the Git plugin's `GIT_*`, and multibranch
//! pipelines' `BRANCH_NAME`/`CHANGE_*`.

use super::context::{ChangeRequest, CiContext, Provider};
use super::detect::{Vars, commit_id, number, parts};
use super::url::{repo_name, repo_slug, strip_credentials};

pub(crate) fn detect(vars: Vars<'_>) -> CiContext {
    let mut ctx = CiContext::new(Provider::Jenkins);
    ctx.sha = commit_id(vars.get("GIT_COMMIT"));
    let url = vars.first(&["GIT_URL", "GIT_URL_1"]);
    ctx.repository_url = url.map(strip_credentials);
    ctx.repository = url.and_then(repo_slug);
    ctx.pipeline_id = vars.owned("BUILD_NUMBER");
    ctx.pipeline_url = vars
        .first(&["BUILD_URL", "RUN_DISPLAY_URL"])
        .map(str::to_string);
    // The Build User Vars plugin names who started the build; a change
    // request names its author.
    ctx.actor = vars
        .first(&["BUILD_USER_ID", "CHANGE_AUTHOR"])
        .map(str::to_string);
    ctx.job = vars
        .first(&["STAGE_NAME", "JOB_BASE_NAME"])
        .map(str::to_string);
    ctx.branch = vars
        .first(&[
            "CHANGE_BRANCH",
            "BRANCH_NAME",
            "GIT_LOCAL_BRANCH",
            "GIT_BRANCH",
        ])
        .map(|b| b.strip_prefix("origin/").unwrap_or(b).to_string());
    let job_name = vars.get("JOB_NAME");
    ctx.default_service = url.and_then(repo_name).or_else(|| {
        // Multibranch jobs are `folder/repo/branch`: the repository is the
        // parent of the branch job.
        let job = job_name?;
        let mut segments = job.rsplit('/');
        let last = segments.next();
        if vars.get("BRANCH_NAME").is_some() {
            segments.next().or(last)
        } else {
            last
        }
        .map(str::to_string)
    });
    ctx.run_key = parts(&[Some("jenkins"), job_name, vars.get("BUILD_NUMBER")]);
    if let Some(n) = number(vars.get("CHANGE_ID")) {
        let mut change = ChangeRequest::new(n);
        change.url = vars.owned("CHANGE_URL");
        change.source_branch = vars.owned("CHANGE_BRANCH");
        change.target_branch = vars.owned("CHANGE_TARGET");
        change.from_fork = Some(vars.get("CHANGE_FORK").is_some());
        ctx.change = Some(change);
    }
    ctx
}

#[cfg(test)]
mod tests {
    use crate::ci::detect;
    use crate::ci::detect::tests::env;

    const SHA: &str = "dddddddddddddddddddddddddddddddddddddddd";

    #[test]
    fn freestyle_job_with_the_git_plugin() {
        let ctx = detect(&env(&[
            ("JENKINS_URL", "https://jenkins.example.com/"),
            ("JENKINS_HOME", "/var/jenkins_home"),
            ("BUILD_NUMBER", "153"),
            ("BUILD_ID", "153"),
            ("BUILD_TAG", "jenkins-deploy-api-153"),
            (
                "BUILD_URL",
                "https://jenkins.example.com/job/deploy-api/153/",
            ),
            ("JOB_NAME", "deploy-api"),
            ("JOB_BASE_NAME", "deploy-api"),
            ("EXECUTOR_NUMBER", "0"),
            ("NODE_NAME", "built-in"),
            ("WORKSPACE", "/var/jenkins_home/workspace/deploy-api"),
            ("GIT_COMMIT", SHA),
            (
                "GIT_PREVIOUS_COMMIT",
                "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
            ),
            ("GIT_BRANCH", "origin/main"),
            (
                "GIT_URL",
                "https://deploy:hunter2@git.example.com/acme/api.git",
            ),
            ("BUILD_USER_ID", "ada"),
        ]))
        .unwrap();
        assert_eq!(ctx.provider.as_str(), "jenkins");
        assert_eq!(ctx.sha.as_deref(), Some(SHA));
        assert_eq!(ctx.branch.as_deref(), Some("main"));
        assert_eq!(
            ctx.repository_url.as_deref(),
            Some("https://git.example.com/acme/api.git")
        );
        assert_eq!(ctx.repository.as_deref(), Some("acme/api"));
        assert_eq!(ctx.default_service.as_deref(), Some("api"));
        assert_eq!(
            ctx.pipeline_url.as_deref(),
            Some("https://jenkins.example.com/job/deploy-api/153/")
        );
        assert_eq!(ctx.actor.as_deref(), Some("ada"));
        assert_eq!(ctx.run_key, ["jenkins", "deploy-api", "153"]);
        assert_eq!(ctx.change, None);
    }

    #[test]
    fn multibranch_pull_request() {
        let ctx = detect(&env(&[
            ("JENKINS_URL", "https://ci.example.com/"),
            ("BUILD_NUMBER", "4"),
            (
                "BUILD_URL",
                "https://ci.example.com/job/acme/job/billing/job/PR-24/4/",
            ),
            ("JOB_NAME", "acme/billing/PR-24"),
            ("JOB_BASE_NAME", "PR-24"),
            ("BRANCH_NAME", "PR-24"),
            ("CHANGE_ID", "24"),
            ("CHANGE_URL", "https://github.com/acme/billing/pull/24"),
            ("CHANGE_BRANCH", "feat/invoices"),
            ("CHANGE_TARGET", "main"),
            ("CHANGE_AUTHOR", "grace"),
            ("CHANGE_FORK", "grace"),
            ("STAGE_NAME", "Deploy"),
            ("GIT_COMMIT", SHA),
        ]))
        .unwrap();
        assert_eq!(ctx.default_service.as_deref(), Some("billing"));
        assert_eq!(ctx.branch.as_deref(), Some("feat/invoices"));
        assert_eq!(ctx.job.as_deref(), Some("Deploy"));
        assert_eq!(ctx.actor.as_deref(), Some("grace"));
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 24);
        assert_eq!(change.target_branch.as_deref(), Some("main"));
        assert_eq!(change.from_fork, Some(true));
        assert_eq!(ctx.run_key, ["jenkins", "acme/billing/PR-24", "4"]);
    }
}
