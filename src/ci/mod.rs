//! CI detection: a pure function of an environment map, called once at the
//! edge and passed down as a value. Core code never reads `std::env`.
//!
//! One file per provider. Each turns the provider's documented variables into
//! a [`CiContext`]: the commit under test (the pull/merge request's head, not
//! the synthetic merge commit CI checked out), the repository URL without
//! credentials, the pipeline's id and URL, the PR/MR, a default service name
//! and the stable parts of a deterministic event id.
//!
//! GitHub's pull-request head sha lives in the event payload file named by
//! `GITHUB_EVENT_PATH`; [`detect_with`] takes that payload as a string and
//! [`detect_with_event_file`] is the one function that reads it.

mod azure;
mod bitbucket;
mod buildkite;
mod circleci;
mod context;
mod detect;
pub mod github;
mod gitlab;
mod jenkins;
mod url;

pub use context::{ChangeRequest, CiContext, Detection, EnvMap, Provider};
pub use detect::{detect, detect_with, detect_with_event_file, read_event_file};
pub use url::{repo_name, repo_slug, repository_url, strip_credentials};
