//! Seed 000's GraphQL API: `POST /api/graphql` over a fixed, read-only
//! schema whose values come from the same functions as the REST bodies
//! (`resolve.rs`), and `GET /api/graphql/schema` printing it as SDL.
//!
//! MEASUREMENTS

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
