//! Forges: posting the sticky PR/MR comment. `github` goes through octocrab
//! (SPEC §7); `gitlab` through the blocking HTTP client the sinks use
//! (`sink::http`), with the request/pagination plumbing in `api`. Both share
//! the error type and the error-message and marker helpers.

pub(crate) mod api;
pub mod github;
pub mod gitlab;

pub use api::{ForgeError, Posted};
