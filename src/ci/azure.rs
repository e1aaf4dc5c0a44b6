//! Azure Pipelines (Azure Repos and GitHub repositories).

use super::context::{ChangeRequest, CiContext, Provider};
use super::detect::{Vars, branch_name, commit_id, number, parts};
use super::url::strip_credentials;

pub(crate) fn detect(vars: Vars<'_>) -> CiContext {
    let mut ctx = CiContext::new(Provider::AzurePipelines);
    let source_version = commit_id(vars.get("BUILD_SOURCEVERSION"));
    // A PR validation build checks out a merge commit (BUILD_SOURCEVERSION);
    // the PR's head is SYSTEM_PULLREQUEST_SOURCECOMMITID.
    match commit_id(vars.get("SYSTEM_PULLREQUEST_SOURCECOMMITID")) {
        Some(head) => {
            if source_version.as_ref().is_some_and(|v| *v != head) {
                ctx.merge_sha.clone_from(&source_version);
            }
            ctx.sha = Some(head);
        }
        None => ctx.sha = source_version,
    }
    ctx.repository_url = vars.get("BUILD_REPOSITORY_URI").map(strip_credentials);
    let repo_name = vars.get("BUILD_REPOSITORY_NAME");
    ctx.repository = repo_name.map(str::to_string);
    let build_id = vars.get("BUILD_BUILDID");
    ctx.pipeline_id = build_id.map(str::to_string);
    ctx.pipeline_url = match (
        vars.get("SYSTEM_COLLECTIONURI"),
        vars.get("SYSTEM_TEAMPROJECT"),
        build_id,
    ) {
        (Some(collection), Some(project), Some(id)) => Some(format!(
            "{}/{}/_build/results?buildId={id}",
            collection.trim_end_matches('/'),
            project.replace('%', "%25").replace(' ', "%20")
        )),
        _ => None,
    };
    ctx.event = vars.owned("BUILD_REASON");
    ctx.actor = vars.owned("BUILD_REQUESTEDFOR");
    ctx.job = vars
        .first(&["SYSTEM_JOBDISPLAYNAME", "AGENT_JOBNAME", "SYSTEM_JOBNAME"])
        .map(str::to_string);
    ctx.run_attempt = vars.owned("SYSTEM_JOBATTEMPT");
    // GitHub repositories are named `owner/repo`; Azure Repos just `repo`.
    ctx.default_service = repo_name
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_string);
    ctx.run_key = parts(&[
        Some("azure"),
        vars.get("SYSTEM_TEAMPROJECTID"),
        build_id,
        vars.get("SYSTEM_JOBID"),
        vars.get("SYSTEM_JOBATTEMPT"),
    ]);
    // GitHub PRs have a number distinct from their id; Azure Repos only an id.
    let pr = number(vars.get("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER"))
        .or_else(|| number(vars.get("SYSTEM_PULLREQUEST_PULLREQUESTID")));
    let source = vars.get("SYSTEM_PULLREQUEST_SOURCEBRANCH").map(branch_name);
    ctx.branch = source
        .clone()
        .or_else(|| vars.get("BUILD_SOURCEBRANCH").map(branch_name));
    if let Some(n) = pr {
        let mut change = ChangeRequest::new(n);
        change.source_branch = source;
        change.target_branch = vars.get("SYSTEM_PULLREQUEST_TARGETBRANCH").map(branch_name);
        change.from_fork = vars
            .get("SYSTEM_PULLREQUEST_ISFORK")
            .map(|v| v.eq_ignore_ascii_case("true"));
        ctx.change = Some(change);
    }
    ctx
}

#[cfg(test)]
mod tests {
    use crate::ci::EnvMap;
    use crate::ci::detect;
    use crate::ci::detect::tests::{env, with};

    const HEAD: &str = "4444444444444444444444444444444444444444";
    const MERGE: &str = "5555555555555555555555555555555555555555";

    fn common() -> EnvMap {
        env(&[
            ("TF_BUILD", "True"),
            ("AGENT_JOBNAME", "Deploy"),
            ("SYSTEM_JOBDISPLAYNAME", "Deploy"),
            ("SYSTEM_JOBID", "12f1170f-54f2-53f3-20dd-22fc7dff55f9"),
            ("SYSTEM_JOBATTEMPT", "1"),
            ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/fabrikam/"),
            ("SYSTEM_TEAMPROJECT", "Fabrikam Web"),
            (
                "SYSTEM_TEAMPROJECTID",
                "7a1c1f8e-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
            ),
            ("BUILD_BUILDID", "1432"),
            ("BUILD_BUILDNUMBER", "20240501.3"),
            ("BUILD_REPOSITORY_NAME", "web"),
            ("BUILD_REPOSITORY_PROVIDER", "TfsGit"),
            (
                "BUILD_REPOSITORY_URI",
                "https://fabrikam@dev.azure.com/fabrikam/Fabrikam%20Web/_git/web",
            ),
            ("BUILD_REQUESTEDFOR", "Ada Lovelace"),
        ])
    }

    #[test]
    fn ci_build() {
        let ctx = detect(&with(
            common(),
            &[
                ("BUILD_REASON", "IndividualCI"),
                ("BUILD_SOURCEVERSION", HEAD),
                ("BUILD_SOURCEBRANCH", "refs/heads/release/2024"),
                ("BUILD_SOURCEBRANCHNAME", "2024"),
            ],
        ))
        .unwrap();
        assert_eq!(ctx.provider.as_str(), "azure-pipelines");
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.branch.as_deref(), Some("release/2024"));
        assert_eq!(
            ctx.repository_url.as_deref(),
            Some("https://dev.azure.com/fabrikam/Fabrikam%20Web/_git/web")
        );
        assert_eq!(
            ctx.pipeline_url.as_deref(),
            Some("https://dev.azure.com/fabrikam/Fabrikam%20Web/_build/results?buildId=1432")
        );
        assert_eq!(ctx.default_service.as_deref(), Some("web"));
        assert_eq!(ctx.job.as_deref(), Some("Deploy"));
        assert_eq!(ctx.run_attempt.as_deref(), Some("1"));
        assert_eq!(ctx.run_key.len(), 5);
        assert_eq!(ctx.change, None);
    }

    #[test]
    fn pull_request_build_uses_the_source_commit() {
        let ctx = detect(&with(
            common(),
            &[
                ("BUILD_REASON", "PullRequest"),
                ("BUILD_SOURCEVERSION", MERGE),
                ("BUILD_SOURCEBRANCH", "refs/pull/31/merge"),
                ("BUILD_REPOSITORY_NAME", "fabrikam/web"),
                ("BUILD_REPOSITORY_PROVIDER", "GitHub"),
                ("SYSTEM_PULLREQUEST_PULLREQUESTID", "1874563921"),
                ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "31"),
                ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "feat/cart"),
                ("SYSTEM_PULLREQUEST_TARGETBRANCH", "refs/heads/main"),
                ("SYSTEM_PULLREQUEST_SOURCECOMMITID", HEAD),
                ("SYSTEM_PULLREQUEST_ISFORK", "False"),
            ],
        ))
        .unwrap();
        assert_eq!(ctx.sha.as_deref(), Some(HEAD));
        assert_eq!(ctx.merge_sha.as_deref(), Some(MERGE));
        assert_eq!(ctx.branch.as_deref(), Some("feat/cart"));
        assert_eq!(ctx.default_service.as_deref(), Some("web"));
        let change = ctx.change.unwrap();
        assert_eq!(change.number, 31);
        assert_eq!(change.target_branch.as_deref(), Some("main"));
        assert_eq!(change.from_fork, Some(false));
    }
}
