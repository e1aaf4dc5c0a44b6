//! GitLab CI: branch, merge request (detached), merged-results and
//! merge-train pipelines.

use super::context::{ChangeRequest, CiContext, Provider};
use super::detect::{Vars, commit_id, number, parts};
use super::url::strip_credentials;

pub(crate) fn detect(vars: Vars<'_>) -> CiContext {
    let mut ctx = CiContext::new(Provider::GitLabCi);
    let commit = commit_id(vars.get("CI_COMMIT_SHA"));
    // Merged-results and merge-train pipelines build a merge commit
    // (CI_COMMIT_SHA); the MR's own head is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA,
    // which is empty in every other kind of pipeline.
    match commit_id(vars.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")) {
        Some(head) => {
            if commit.as_ref().is_some_and(|c| *c != head) {
                ctx.merge_sha.clone_from(&commit);
            }
            ctx.sha = Some(head);
        }
        None => ctx.sha = commit,
    }
    ctx.repository_url = vars.get("CI_PROJECT_URL").map(strip_credentials);
    ctx.repository = vars.owned("CI_PROJECT_PATH");
    ctx.api_url = vars
        .get("CI_API_V4_URL")
        .map(|u| u.trim_end_matches('/').to_string());
    ctx.pipeline_id = vars.owned("CI_PIPELINE_ID");
    ctx.pipeline_url = vars.owned("CI_PIPELINE_URL");
    ctx.event = vars.owned("CI_PIPELINE_SOURCE");
    ctx.actor = vars.owned("GITLAB_USER_LOGIN");
    ctx.default_service = vars.owned("CI_PROJECT_NAME");
    ctx.job = vars.owned("CI_JOB_NAME");
    ctx.environment = vars.owned("CI_ENVIRONMENT_NAME");
    ctx.branch = vars
        .first(&["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH"])
        .map(str::to_string);
    ctx.tag = vars.owned("CI_COMMIT_TAG");
    ctx.run_key = parts(&[Some("gl"), vars.get("CI_PROJECT_ID"), vars.get("CI_JOB_ID")]);
    ctx.change = merge_request(vars).or_else(|| open_merge_request(vars));
    ctx
}

/// A merge request pipeline (`CI_PIPELINE_SOURCE=merge_request_event`).
fn merge_request(vars: Vars<'_>) -> Option<ChangeRequest> {
    let iid = number(vars.get("CI_MERGE_REQUEST_IID"))?;
    let mut change = ChangeRequest::new(iid);
    change.project_id = vars.owned("CI_MERGE_REQUEST_PROJECT_ID");
    change.url = vars
        .get("CI_MERGE_REQUEST_PROJECT_URL")
        .map(|u| format!("{}/-/merge_requests/{iid}", u.trim_end_matches('/')));
    change.source_branch = vars.owned("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME");
    change.target_branch = vars.owned("CI_MERGE_REQUEST_TARGET_BRANCH_NAME");
    change.base_sha = commit_id(vars.first(&[
        "CI_MERGE_REQUEST_DIFF_BASE_SHA",
        "CI_MERGE_REQUEST_TARGET_BRANCH_SHA",
    ]));
    change.from_fork = vars
        .get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
        .zip(vars.get("CI_MERGE_REQUEST_PROJECT_ID"))
        .map(|(source, target)| source != target);
    Some(change)
}

/// A branch pipeline for a branch with an open MR: `CI_OPEN_MERGE_REQUESTS`
/// lists up to four as `group/project!iid`; the one in this project counts.
fn open_merge_request(vars: Vars<'_>) -> Option<ChangeRequest> {
    let project = vars.get("CI_PROJECT_PATH")?;
    let iid = vars
        .get("CI_OPEN_MERGE_REQUESTS")?
        .split(',')
        .filter_map(|r| r.trim().rsplit_once('!'))
        .find(|(path, _)| *path == project)
        .and_then(|(_, iid)| number(Some(iid)))?;
    let mut change = ChangeRequest::new(iid);
    change.project_id = vars.owned("CI_PROJECT_ID");
    change.url = vars.get("CI_PROJECT_URL").map(|u| {
        format!(
            "{}/-/merge_requests/{iid}",
            strip_credentials(u.trim_end_matches('/'))
        )
    });
    change.source_branch = vars.owned("CI_COMMIT_BRANCH");
    Some(change)
}

#[cfg(test)]
mod tests {
    use crate::ci::EnvMap;
    use crate::ci::detect;
    use crate::ci::detect::tests::{env, with};

    const HEAD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const MERGE: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const BASE: &str = "cccccccccccccccccccccccccccccccccccccccc";

    /// What every GitLab job gets.
    fn common() -> EnvMap {
        env(&[
            ("CI", "true"),
            ("GITLAB_CI", "true"),
            ("CI_SERVER_URL", "https://gitlab.example.com"),
            ("CI_SERVER_FQDN", "gitlab.example.com"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_PROJECT_ID", "278964"),
            ("CI_PROJECT_NAME", "api"),
            ("CI_PROJECT_PATH", "acme/backend/api"),
            (
                "CI_PROJECT_URL",
                "https://gitlab.example.com/acme/backend/api",
            ),
            (
                "CI_REPOSITORY_URL",
                "https://gitlab-ci-token:[MASKED]@gitlab.example.com/acme/backend/api.git",
            ),
            ("CI_PIPELINE_ID", "1234567"),
            ("CI_PIPELINE_IID", "321"),
            (
                "CI_PIPELINE_URL",
                "https://gitlab.example.com/acme/backend/api/-/pipelines/1234567",
            ),
            ("CI_JOB_ID", "7654321"),
            ("CI_JOB_NAME", "deploy-production"),
            ("CI_ENVIRONMENT_NAME", "production"),
            ("CI_JOB_STAGE", "deploy"),
            ("GITLAB_USER_LOGIN", "ada"),
            ("GITLAB_USER_ID", "42"),
        ])
    }

    #[test]
    fn branch_pipeline() {
        let ctx = detect(&with(
            common(),
            &[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_SHA", HEAD),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_COMMIT_REF_NAME", "main"),
            ],
        ))
        .unwrap();
        assert_eq!(ctx.provider.as_str(), "gitlab-ci");
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.merge_sha, None);
        assert_eq!(ctx.branch.as_deref(), Some("main"));
        assert_eq!(ctx.repository.as_deref(), Some("acme/backend/api"));
        assert_eq!(
            ctx.repository_url.as_deref(),
            Some("https://gitlab.example.com/acme/backend/api")
        );
        assert_eq!(
            ctx.api_url.as_deref(),
            Some("https://gitlab.example.com/api/v4")
        );
        assert_eq!(ctx.pipeline_id.as_deref(), Some("1234567"));
        assert_eq!(ctx.default_service.as_deref(), Some("api"));
        assert_eq!(ctx.job.as_deref(), Some("deploy-production"));
        assert_eq!(ctx.environment.as_deref(), Some("production"));
        assert_eq!(ctx.actor.as_deref(), Some("ada"));
        // Unchanged from the first release: stored event ids depend on it.
        assert_eq!(ctx.run_key, ["gl", "278964", "7654321"]);
        assert_eq!(ctx.change, None);
    }

    #[test]
    fn branch_pipeline_with_an_open_merge_request() {
        let ctx = detect(&with(
            common(),
            &[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_SHA", HEAD),
                ("CI_COMMIT_BRANCH", "feat/x"),
                ("CI_OPEN_MERGE_REQUESTS", "other/fork!3,acme/backend/api!17"),
            ],
        ))
        .unwrap();
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 17);
        assert_eq!(change.project_id.as_deref(), Some("278964"));
        assert_eq!(
            change.url.as_deref(),
            Some("https://gitlab.example.com/acme/backend/api/-/merge_requests/17")
        );
    }

    fn mr_vars(event_type: &str) -> EnvMap {
        with(
            common(),
            &[
                ("CI_PIPELINE_SOURCE", "merge_request_event"),
                ("CI_MERGE_REQUEST_EVENT_TYPE", event_type),
                ("CI_MERGE_REQUEST_ID", "99887766"),
                ("CI_MERGE_REQUEST_IID", "17"),
                ("CI_MERGE_REQUEST_PROJECT_ID", "278964"),
                ("CI_MERGE_REQUEST_PROJECT_PATH", "acme/backend/api"),
                (
                    "CI_MERGE_REQUEST_PROJECT_URL",
                    "https://gitlab.example.com/acme/backend/api",
                ),
                ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "278964"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feat/x"),
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
                ("CI_MERGE_REQUEST_DIFF_BASE_SHA", BASE),
                ("CI_MERGE_REQUEST_TITLE", "Add login"),
                ("CI_COMMIT_REF_NAME", "feat/x"),
            ],
        )
    }

    #[test]
    fn detached_merge_request_pipeline() {
        // CI_MERGE_REQUEST_SOURCE_BRANCH_SHA is empty here: CI_COMMIT_SHA is the head.
        let ctx = detect(&with(
            mr_vars("detached"),
            &[
                ("CI_COMMIT_SHA", HEAD),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""),
            ],
        ))
        .unwrap();
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.merge_sha, None);
        assert_eq!(ctx.branch.as_deref(), Some("feat/x"));
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 17);
        assert_eq!(change.project_id.as_deref(), Some("278964"));
        assert_eq!(change.target_branch.as_deref(), Some("main"));
        assert_eq!(change.base_sha.as_deref(), Some(BASE));
        assert_eq!(change.from_fork, Some(false));
    }

    #[test]
    fn merged_results_pipeline_uses_the_source_branch_sha() {
        for kind in ["merged_result", "merge_train"] {
            let ctx = detect(&with(
                mr_vars(kind),
                &[
                    ("CI_COMMIT_SHA", MERGE),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", HEAD),
                    ("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", BASE),
                ],
            ))
            .unwrap();
            assert_eq!(ctx.sha.as_deref(), Some(HEAD), "{kind}");
            assert_eq!(ctx.merge_sha.as_deref(), Some(MERGE), "{kind}");
        }
    }

    #[test]
    fn merge_request_from_a_fork_posts_to_the_target_project() {
        let ctx = detect(&with(
            mr_vars("detached"),
            &[
                ("CI_COMMIT_SHA", HEAD),
                ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "555"),
                ("CI_PROJECT_ID", "555"),
            ],
        ))
        .unwrap();
        let change = ctx.change.unwrap();
        assert_eq!(change.from_fork, Some(true));
        assert_eq!(change.project_id.as_deref(), Some("278964"));
    }
}
