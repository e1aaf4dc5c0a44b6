//! The use cases, one module each: a typed request and the store/sink
//! handles in, a value out. Every front door is a thin adapter over these
//! functions: `cli/` today (args → settings → request → call → render → exit
//! code), `serve` next (HTTP request → the same request → the same call →
//! JSON). Nothing here prints or reads the process environment.

pub mod annotate;
pub mod backfill;
pub mod breakdown;
pub mod ci_runs;
pub mod comment;
pub mod demo;
pub mod deploy;
pub mod deployment_list;
pub mod deployments;
pub mod exposition;
pub mod flaky;
pub mod incident;
pub mod incident_import;
pub mod junit;
pub mod locate;
pub mod report;
pub mod series;
pub mod sinks;
pub mod squash;
pub mod store_copy;
pub mod test_compare;
