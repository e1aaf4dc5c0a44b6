//! Integration tests: the real `dorameter` binary against real git
//! repositories and a private SQLite store per test.

mod backfill;
mod bad_input;
mod deploy;
mod incident;
mod junit;
mod postgres;
mod report_month;
mod util;
