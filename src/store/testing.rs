//! Test support: a throwaway PostgreSQL database for the store's own tests.

use crate::store::{Access, Store, StoreUrl};

/// Runs `f` with a PostgreSQL store in a new database on the test server,
/// dropped afterwards; skipped (loudly) without a server.
pub fn with_postgres_store(f: impl FnOnce(&mut dyn Store)) {
    let Some(admin) = postgres_server() else {
        return;
    };
    let db = format!("t_{}", uuid::Uuid::now_v7().simple());
    pg_exec(&admin, &format!("CREATE DATABASE {db}"));
    let url = with_db(&admin, &db);
    let mut store = crate::store::open(&StoreUrl::parse(&url).unwrap(), Access::ReadWrite)
        .expect("open the PostgreSQL store");
    f(store.as_mut());
    drop(store);
    pg_exec(&admin, &format!("DROP DATABASE {db} WITH (FORCE)"));
}

/// The admin URL of a throwaway server (`DORAMETER_TEST_POSTGRES`, as in
/// `tests/it/postgres.rs`), or `None`, said loudly.
#[expect(clippy::print_stderr, reason = "a skipped test must be visible")]
pub fn postgres_server() -> Option<String> {
    match std::env::var("DORAMETER_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("DORAMETER_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "DORAMETER_REQUIRE_POSTGRES=1 but DORAMETER_TEST_POSTGRES is not set"
            );
            eprintln!("SKIPPED (PostgreSQL half): set DORAMETER_TEST_POSTGRES to run it");
            None
        }
    }
}

/// `url` with its database replaced by `db`.
pub(crate) fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").expect("a URL") + 3;
    let path = base[start..].find('/').map_or(base.len(), |i| i + start);
    match query {
        Some(q) => format!("{}/{db}?{q}", &base[..path]),
        None => format!("{}/{db}", &base[..path]),
    }
}

/// Runs `f` with a client connected to `url`.
pub(crate) fn pg<T>(
    url: &str,
    f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, tokio_postgres::Error>,
) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to the PostgreSQL test server");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        f(&client).await.expect("PostgreSQL test query")
    })
}

pub(crate) fn pg_exec(url: &str, sql: &str) {
    pg(url, async |c| c.batch_execute(sql).await);
}
