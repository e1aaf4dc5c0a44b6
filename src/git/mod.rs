//! Everything that touches git. This is the only module that imports `git2`;
//! the rest of the crate sees our own [`Commit`] and plain strings, so lead
//! time and classification logic are testable without a repository.

mod build;
mod files;
mod lead_time;
mod objects;
mod paths;
mod repo;
mod walk;

pub use build::{Builder, NewCommit, Person};
pub use files::{CheckoutFiles, WALK_LIMIT, checkout_files};
pub use lead_time::{
    Changes, RemediationSignals, RequestRef, SubjectPattern, lead_time_changes,
    signals_from_message,
};
pub use paths::{Heads, PathFilter};
pub use repo::{Commit, GitError, Repo, Tag, Walk, WalkOutcome, is_full_sha};
