//! Parsing `--store` values.

use std::path::{Path, PathBuf};

use super::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    Postgres(PostgresUrl),
}

/// A `postgres://` URL. The real URL (with its password) stays private to
/// the store module; `Display` and `Debug` show it redacted, so logging or
/// formatting a `StoreUrl` can never leak the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    raw: String,
    redacted: String,
}

impl PostgresUrl {
    /// The URL with its password: only for connecting.
    pub(super) fn expose(&self) -> &str {
        &self.raw
    }

    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PostgresUrl").field(&self.redacted).finish()
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
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
            // Checked here, not at connect time, so a typo is a usage error
            // before anything else happens.
            super::postgres::check_url(raw).map_err(|reason| bad(&reason))?;
            return Ok(StoreUrl::Postgres(PostgresUrl {
                raw: raw.to_string(),
                redacted: redact(raw),
            }));
        }
        Err(bad("expected sqlite:PATH or postgres://USER@HOST/DB"))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StoreUrl::Postgres(u) => u.fmt(f),
        }
    }
}

/// Replaces a URL's password with `***`: in the user info and in a
/// `password=` query parameter (both are valid libpq URL forms).
pub fn redact(raw: &str) -> String {
    let masked = redact_userinfo(raw);
    match masked.split_once('?') {
        Some((base, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            let mut out = format!("{base}?{}", query.join("&"));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
            out
        }
        None => masked,
    }
}

fn redact_userinfo(raw: &str) -> String {
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
        assert_eq!(
            format!("{pg:?}"),
            "Postgres(PostgresUrl(\"postgres://dora:***@db/dora?sslmode=require\"))"
        );
        let StoreUrl::Postgres(u) = &pg else {
            panic!("{pg:?}")
        };
        assert_eq!(u.expose(), "postgres://dora:s3cret@db/dora?sslmode=require");
        assert_eq!(
            redact("postgresql://db/dora?user=x&password=s3cret&sslmode=disable"),
            "postgresql://db/dora?user=x&password=***&sslmode=disable"
        );
        let e = StoreUrl::parse("postgres://dora:hunter2@db:notaport/dora").unwrap_err();
        assert!(matches!(e, StoreError::BadUrl { .. }), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
        let e = StoreUrl::parse("postgres://dora:hunter2@db/dora?sslmode=sometimes").unwrap_err();
        assert!(e.to_string().contains("sslmode"), "{e}");
        let e = StoreUrl::parse("mysql://root:hunter2@x/y").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(StoreUrl::parse("sqlite:").is_err());
    }
}
