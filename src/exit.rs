//! Process exit codes (SPEC §4). These are an API: scripts branch on them;
//! `tests/it/bad_input.rs` and the snapshots of `tests/it/errors.rs` pin them.

/// Success.
pub const OK: u8 = 0;
/// An unexpected error: a bug (a broken invariant), an I/O failure, a git or
/// store failure that is not the user's input, and an unreachable PostgreSQL
/// server: the environment, not a flag to change.
pub const UNEXPECTED: u8 = 1;
/// Usage or configuration error: a bad flag, env var, config file, time,
/// revision or store URL. The message names what to change.
pub const USAGE: u8 = 2;
/// The command's own gate failed (`--fail-on-failure`, `--fail-on-flaky`).
pub const GATE: u8 = 3;
/// No input found (a glob that matched nothing).
pub const NO_INPUT: u8 = 4;
/// A sink failed under `--strict`.
pub const SINK: u8 = 5;
