//! The PostgreSQL store: the shared team store, behind the same trait and
//! with the same semantics as the SQLite store.
//!
//! - `store`: the connection, its migrations and its transactions.
//! - `tx`: the view of one transaction, with `read` (the `ReadTx` queries),
//!   `write` (the `WriteTx` inserts and upserts) and `batch` (JUnit results
//!   buffered and written in batches).
//! - `connect`: URLs, TLS and connecting; `schema`: the migrations.

mod batch;
mod connect;
mod read;
mod schema;
mod store;
mod tx;
mod write;

pub use connect::{check_url, place};
pub use store::PostgresStore;
