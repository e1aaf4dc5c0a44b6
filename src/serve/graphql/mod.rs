//! Seed 000's GraphQL API: `POST /api/graphql` over a fixed, read-only
//! schema whose values come from the same functions as the REST bodies
//! (`resolve.rs`), and `GET /api/graphql/schema` printing it as SDL.
//!
//! `graphql-parser` parses; validation and execution over the fixed schema
//! are ours (`validate.rs`, `exec.rs`): the cheapest build and, with
//! apollo-parser, the smallest binary of the choices that serve full
//! GraphQL syntax (operation names, variables, aliases, named and inline
//! fragments, directives, `__typename`) with the spec's error format.
//!
//! ## Measurements (2026-11-29, this machine: 2 cores shared with another
//! engineer's builds, load average 3–8, so wall times are ±30 %)
//!
//! Release profile (LTO, codegen-units 1, strip, panic abort), rustc 1.95.
//!
//! | tree | `dorameter` (bytes) | cold `cargo build --release` |
//! | --- | --- | --- |
//! | before axum, 34b4f6d (= 315f073~1) | 9,751,792 | 456 s wall, 452 s user |
//! | with axum, 6247e5c (this branch as given) | 10,537,616 (+785,824, +8.1 %) | 370 s wall, 453 s user |
//! | + GraphQL (graphql-parser and this module), 44352ed | 10,836,688 (+299,072, +2.8 %) | 573 s wall, 554 s user (load 8.5 at its start) |
//!
//! Cold: `CARGO_TARGET_DIR=<empty dir> cargo build --release --locked
//! --timings`, the older tree from `git archive 34b4f6d | tar -x -C
//! /tmp/dm-preaxum`. The candidates: a copy of the 6247e5c release target
//! dir, `cargo add CRATE` (default features off where it has them), a
//! minimal use routed at `/api/graphql` so LTO keeps it (parse a body; for
//! the libraries, a one-field schema executing a request), then `cargo
//! build --release --timings`; "new crates" sums the timing report's units
//! of the crates the tree did not have.
//!
//! | candidate | binary delta | new crates: units, compile time |
//! | --- | --- | --- |
//! | graphql-parser 0.4.1, parse only | +148,864 | 2 (+ thiserror 1): 10.8 s (9.3 s in a second run) |
//! | apollo-parser 0.8.7, parse only | +125,472 | 5: 13.7 s |
//! | juniper 0.18.0, no default features | +589,280 | 20: 27 s, and its features rebuilt syn and 170 s of crates already built |
//! | async-graphql 7.0.16, no default features | +968,128 | 37: 201 s (itself 49 s, pest, regex, encoding_rs, darling…), and 364 s of crates already built rebuilt |
//! | graphql-parser + this module (what shipped) | +299,072 | 2 (+ thiserror 1): 9–13 s; our code adds 150 KB |
//!
//! In the cold build of 44352ed the new crates took 11.9 s of units
//! (combine 5.5 s, graphql-parser 4.6 s, thiserror 1 1.9 s), built beside
//! octocrab (117 s), the long pole, so they do not lengthen the critical
//! path: the wall-time differences between the three cold builds are the
//! other engineer's load, not the code.
//!
//! async-graphql 7.0.16 is the newest for rust-version 1.85, and its
//! `^7.0.16` sub-crates resolve to 7.0.17, which does not build with it
//! (`requires_scopes`): measured with all four pinned to `=7.0.16`.
//! apollo-parser is 23 KB smaller parsing alone (0.2 % of the binary) but
//! builds 50 % longer with three more crates; graphql-parser's owned AST
//! carries the line and column that errors' `locations` need, where
//! apollo-parser's lossless tree gives byte offsets. graphql-parser
//! recurses without a limit: `parse.rs` measures the bracket nesting first.

mod ast;
mod coerce;
mod error;
mod exec;
mod http;
mod parse;
mod resolve;
mod schema;
#[cfg(test)]
mod tests;
mod validate;

pub use http::{query, sdl};
