//! Parsing `--store` values.

use std::path::{Path, PathBuf};

use super::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    /// Kept redacted: the password never leaves this value.
    Postgres(String),
}

impl StoreUrl {
    pub fn parse(raw: &str) -> Result<StoreUrl, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl {
            url: redact(raw),
            reason: reason.into(),
        };
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad(
                    "sqlite: needs a file path, e.g. sqlite:.dorameter/dorameter.db",
                ));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(redact(raw)));
        }
        Err(bad("expected sqlite:PATH or postgres://USER@HOST/DB"))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StoreUrl::Postgres(r) => f.write_str(r),
        }
    }
}

/// Replaces a URL's password with `***`.
pub fn redact(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_string();
    };
    let rest = &raw[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return raw.to_string();
    };
    let userinfo = &authority[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_string()
    };
    format!("{}://{}@{}", &raw[..scheme_end], masked, &rest[at + 1..])
}

/// `.dorameter/dorameter.db` under the repository's work tree, else under `cwd`.
pub fn default_store_path(repo_root: Option<&Path>, cwd: &Path) -> PathBuf {
    repo_root
        .unwrap_or(cwd)
        .join(".dorameter")
        .join("dorameter.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        assert_eq!(
            StoreUrl::parse("sqlite:/tmp/x.db").unwrap(),
            StoreUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///tmp/x.db").unwrap(),
            StoreUrl::Sqlite("/tmp/x.db".into())
        );
        let pg = StoreUrl::parse("postgres://dora:s3cret@db/dora?sslmode=require").unwrap();
        assert_eq!(
            pg.to_string(),
            "postgres://dora:***@db/dora?sslmode=require"
        );
        let e = StoreUrl::parse("mysql://root:hunter2@x/y").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(StoreUrl::parse("sqlite:").is_err());
    }
}
