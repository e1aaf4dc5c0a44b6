//! dorameter: DORA metrics measured inside CI jobs.
//!
//! The binary (`src/main.rs`) only parses arguments, calls [`cli::run`] and maps
//! the error to an exit code. Everything here is a library: no module prints to
//! the process's stdout or calls `process::exit`; output goes to the writers the
//! caller passes in.
//!
//! Data flow: CI context (`ci`) → git (`git`) → events (`event`) → store
//! (`store`) → metrics (`metrics`) → rendering (`render`) → forge (`forge`).
//! The use cases live in `app`, one module each; `cli` is a thin adapter
//! over them, and so is `serve`, the HTTP front door (see
//! `docs/architecture.md`).

pub mod app;
pub mod ci;
pub mod cli;
pub mod config;
pub mod env_vars;
pub mod error;
pub mod event;
pub mod exit;
pub mod forge;
pub mod git;
pub mod http;
pub mod junit;
pub mod metrics;
pub mod render;
pub mod serve;
pub mod settings;
pub mod sink;
pub mod sources;
pub mod store;
pub mod time;

pub use error::{Error, Result};
