//! The embedded SQLite store: zero setup, safe under concurrent writers.
//!
//! - WAL journal and a generous busy timeout: twenty deploy jobs finishing at
//!   once queue up instead of failing with "database is locked".
//! - Every write runs in a `BEGIN IMMEDIATE` transaction, so the read of the
//!   previous deployment and the insert of the new one are one atomic step,
//!   and a deployment and its changes land together or not at all.
//! - Versioned migrations keyed on `PRAGMA user_version`; `application_id`
//!   marks the file as ours so we never write into somebody else's database.
//! - Instants are stored as integer milliseconds since the epoch.
//!
//! - `store`: the connection, its migrations and its transactions.
//! - `read` (the `ReadTx` queries), `write` (the `WriteTx` inserts and
//!   upserts), `schema` (the migrations).

mod read;
mod schema;
mod store;
mod write;

pub use store::SqliteStore;
