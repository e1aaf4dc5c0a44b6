//! What the PostgreSQL benchmarks (`examples/pg_bench.rs`,
//! `examples/dashboard_bench.rs`) share: sizes from the environment and
//! the URL of a database of their own on the server they are given.

/// `name`'s value as a number, else `default`.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `url` with its database replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").expect("a URL") + 3;
    let path = base[start..].find('/').map_or(base.len(), |i| i + start);
    let mut out = format!("{}/{db}", &base[..path]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
