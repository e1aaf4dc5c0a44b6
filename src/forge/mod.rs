//! Forges: posting the sticky PR/MR comment. `github` and `gitlab` talk to
//! the REST APIs through the one blocking HTTP client (`sink::http`); the
//! shared request/pagination plumbing is in `api`.

mod api;
pub mod github;
pub mod gitlab;

pub use api::{ForgeError, Posted};
