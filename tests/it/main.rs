//! Integration tests: the real `dorameter` binary against real git
//! repositories, a private SQLite store per test, and (in `postgres`) a real
//! PostgreSQL server named by `DORAMETER_TEST_POSTGRES`.

mod action;
mod annotations;
mod backfill;
mod bad_input;
mod ci;
mod comment;
mod comment_charts;
mod compat;
mod demo;
mod deploy;
mod deployments;
mod errors;
mod forge_backfill;
mod git_store;
mod gitlab_component;
mod grafana;
mod html;
mod incident;
mod incident_import;
mod junit;
mod monorepo;
mod postgres;
mod pr_lead_time;
mod report_month;
mod series;
mod serve;
mod serve_graphql;
mod server;
mod settings;
mod sinks;
mod store_copy;
mod trust;
mod util;
