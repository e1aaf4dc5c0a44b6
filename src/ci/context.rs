//! The value CI detection produces.

use std::collections::HashMap;

pub type EnvMap = HashMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    GitHubActions,
    GitLabCi,
    Jenkins,
    CircleCi,
    Buildkite,
    AzurePipelines,
    BitbucketPipelines,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHubActions => "github-actions",
            Provider::GitLabCi => "gitlab-ci",
            Provider::Jenkins => "jenkins",
            Provider::CircleCi => "circleci",
            Provider::Buildkite => "buildkite",
            Provider::AzurePipelines => "azure-pipelines",
            Provider::BitbucketPipelines => "bitbucket-pipelines",
        }
    }
}

/// What the CI run tells us about the deployment being recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CiContext {
    pub provider: Provider,
    /// The commit the change is about: for a pull/merge request its head
    /// commit, never the merge commit CI may have built (see `merge_sha`).
    pub sha: Option<String>,
    /// The synthetic merge commit the pipeline actually checked out, when it
    /// differs from `sha` (GitHub `pull_request`, GitLab merged-results and
    /// merge-train pipelines, Azure Pipelines PR builds).
    pub merge_sha: Option<String>,
    /// The branch being built (a pull/merge request's source branch).
    pub branch: Option<String>,
    /// The tag a tag pipeline builds (GitHub `refs/tags/…`, GitLab
    /// `CI_COMMIT_TAG`); such a pipeline has no branch.
    pub tag: Option<String>,
    /// Credentials stripped.
    pub repository_url: Option<String>,
    /// The repository's path on its forge: `owner/name`, `group/sub/project`.
    pub repository: Option<String>,
    /// The forge's API base URL when the CI tells it (`GITHUB_API_URL`,
    /// `CI_API_V4_URL`).
    pub api_url: Option<String>,
    pub pipeline_id: Option<String>,
    pub pipeline_url: Option<String>,
    /// What started the pipeline, in the provider's own words
    /// (`pull_request`, `merge_request_event`, `PullRequest`, …).
    pub event: Option<String>,
    pub actor: Option<String>,
    pub default_service: Option<String>,
    /// The deployment environment the CI names for this job (GitLab's
    /// `CI_ENVIRONMENT_NAME`); the env default below `--env` and the config.
    pub environment: Option<String>,
    /// The job's name (GitHub `GITHUB_JOB`, GitLab `CI_JOB_NAME`, …).
    pub job: Option<String>,
    /// The run attempt (GitHub `GITHUB_RUN_ATTEMPT`, Azure `SYSTEM_JOBATTEMPT`, …).
    pub run_attempt: Option<String>,
    /// The pull/merge request this pipeline runs for, when there is one.
    pub change: Option<ChangeRequest>,
    /// The `owner/name` the head commit comes from when it is not
    /// `repository` (a fork). GitHub gives a `workflow_run` triggered by a
    /// fork's pull request no PR number; this and `branch` still find it.
    pub head_repository: Option<String>,
    /// Stable parts that identify this job run, for deterministic event ids.
    /// The first part names the provider; only a key with more than one part
    /// identifies a run.
    pub run_key: Vec<String>,
}

/// A pull request (GitHub, Bitbucket, Azure), merge request (GitLab) or
/// change (Jenkins multibranch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRequest {
    /// The number users see: GitHub PR number, GitLab MR IID, …
    pub number: u64,
    pub url: Option<String>,
    pub source_branch: Option<String>,
    pub target_branch: Option<String>,
    /// The base commit the change is compared against, when known.
    pub base_sha: Option<String>,
    /// GitLab: the project that owns the merge request
    /// (`CI_MERGE_REQUEST_PROJECT_ID`), where notes are posted.
    pub project_id: Option<String>,
    /// The change comes from a fork: its tokens are usually read-only.
    pub from_fork: Option<bool>,
}

/// The detected context and what the user should hear about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Detection {
    /// `None` outside a known CI.
    pub context: Option<CiContext>,
    /// Problems that did not stop detection (a malformed event file, …),
    /// as lowercase sentences for `warning:` lines.
    pub warnings: Vec<String>,
}

impl CiContext {
    /// The git ref the pipeline built, as CI names it (`GITHUB_REF_NAME`'s
    /// branch or tag, GitLab `CI_COMMIT_REF_NAME`): the branch, else the tag.
    pub fn ref_name(&self) -> Option<&str> {
        self.branch.as_deref().or(self.tag.as_deref())
    }

    /// A context with only the provider set; detectors fill in the rest.
    pub(crate) fn new(provider: Provider) -> CiContext {
        CiContext {
            provider,
            sha: None,
            merge_sha: None,
            branch: None,
            tag: None,
            repository_url: None,
            repository: None,
            api_url: None,
            pipeline_id: None,
            pipeline_url: None,
            event: None,
            actor: None,
            default_service: None,
            environment: None,
            job: None,
            run_attempt: None,
            change: None,
            head_repository: None,
            run_key: Vec::new(),
        }
    }
}

impl ChangeRequest {
    pub(crate) fn new(number: u64) -> ChangeRequest {
        ChangeRequest {
            number,
            url: None,
            source_branch: None,
            target_branch: None,
            base_sha: None,
            project_id: None,
            from_fork: None,
        }
    }
}
