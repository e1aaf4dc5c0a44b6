//! Parsing `--store` values.

use std::path::{Path, PathBuf};

use super::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    Postgres(PostgresUrl),
    Git(GitUrl),
}

/// `git[:REMOTE][#REF]` (SPEC §8): events on a ref of a remote, read and
/// written through the repository at `dir`. The remote as given (a URL may
/// carry a token) stays private; `Display` shows it without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct GitUrl {
    remote: String,
    pub refname: String,
    /// The repository the git commands run in (resolved against the
    /// working directory by the caller).
    pub dir: PathBuf,
}

/// The ref events live on when the URL names none.
pub const DEFAULT_EVENTS_REF: &str = "refs/dorameter/events";

impl GitUrl {
    /// The remote as given, with any credentials: only for running git.
    pub(super) fn expose(&self) -> &str {
        &self.remote
    }

    /// The remote without credentials.
    pub fn shown_remote(&self) -> String {
        crate::ci::strip_credentials(&self.remote)
    }

    pub fn with_dir(mut self, dir: PathBuf) -> GitUrl {
        self.dir = dir;
        self
    }
}

impl std::fmt::Debug for GitUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitUrl({self})")
    }
}

impl std::fmt::Display for GitUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "git:{}#{}", self.shown_remote(), self.refname)
    }
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
        if raw == "git" || raw.starts_with("git:") || raw.starts_with("git#") {
            let rest = raw.strip_prefix("git").unwrap_or("");
            let rest = rest.strip_prefix(':').unwrap_or(rest);
            let (remote, refname) = match rest.rsplit_once('#') {
                Some((r, f)) => (r, f),
                None => (rest, DEFAULT_EVENTS_REF),
            };
            let remote = if remote.is_empty() { "origin" } else { remote };
            if !refname.starts_with("refs/")
                || refname.ends_with('/')
                || refname.contains("..")
                || refname
                    .chars()
                    .any(|c| c.is_whitespace() || "~^:?*[\\".contains(c))
            {
                return Err(StoreError::BadUrl {
                    url: format!("git:{}#{refname}", crate::ci::strip_credentials(remote)),
                    reason: "the ref must be a full ref name such as refs/dorameter/events or refs/heads/dorameter-data".into(),
                });
            }
            return Ok(StoreUrl::Git(GitUrl {
                remote: remote.to_string(),
                refname: refname.to_string(),
                dir: PathBuf::from("."),
            }));
        }
        Err(bad(
            "expected sqlite:PATH, postgres://USER@HOST/DB or git[:REMOTE][#REF]",
        ))
    }
}

impl StoreUrl {
    /// Whether both URLs name the same store, however written: SQLite files
    /// by their real path; PostgreSQL URLs by host, port and database,
    /// whoever connects; git stores by ref and remote, a remote's name read
    /// as its URL in the repository (credentials left out).
    pub fn same_store(&self, other: &StoreUrl) -> bool {
        match (self, other) {
            (StoreUrl::Sqlite(a), StoreUrl::Sqlite(b)) => real_path(a) == real_path(b),
            (StoreUrl::Postgres(a), StoreUrl::Postgres(b)) => {
                match (
                    super::postgres::place(&a.raw),
                    super::postgres::place(&b.raw),
                ) {
                    (Some(x), Some(y)) => x == y,
                    _ => a.raw == b.raw,
                }
            }
            (StoreUrl::Git(a), StoreUrl::Git(b)) => {
                a.refname == b.refname && a.remote_place() == b.remote_place()
            }
            _ => false,
        }
    }
}

/// The canonical path of a file, or of its folder when it does not exist yet.
fn real_path(p: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(p) {
        return real;
    }
    match (p.parent(), p.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::canonicalize(dir).map_or_else(|_| p.to_path_buf(), |d| d.join(name))
        }
        _ => p.to_path_buf(),
    }
}

impl GitUrl {
    /// The remote as a URL without credentials: a remote's name is looked
    /// up in the repository at `dir` (an unknown name stays a name of that
    /// repository).
    fn remote_place(&self) -> String {
        let configured = crate::git::Repo::discover(&self.dir)
            .ok()
            .and_then(|r| r.remote_url(&self.remote));
        match configured {
            Some(url) => crate::ci::strip_credentials(&url),
            None if self.remote.contains([':', '/', '\\']) => self.shown_remote(),
            None => format!(
                "{} in {}",
                self.shown_remote(),
                real_path(&self.dir).display()
            ),
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StoreUrl::Postgres(u) => u.fmt(f),
            StoreUrl::Git(u) => u.fmt(f),
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
    fn git_urls_name_a_remote_and_a_ref_and_never_show_credentials() {
        let git = |raw: &str| match StoreUrl::parse(raw).unwrap() {
            StoreUrl::Git(g) => g,
            other => panic!("{other:?}"),
        };
        let g = git("git");
        assert_eq!(
            (g.expose(), g.refname.as_str()),
            ("origin", DEFAULT_EVENTS_REF)
        );
        assert_eq!(git("git:upstream").expose(), "upstream");
        let g = git("git#refs/heads/dorameter-data");
        assert_eq!(
            (g.expose(), g.refname.as_str()),
            ("origin", "refs/heads/dorameter-data")
        );
        let g = git(
            "git:https://oauth2:glpat-SECRET@gitlab.example.com/acme/api.git#refs/dorameter/events",
        );
        assert_eq!(
            g.expose(),
            "https://oauth2:glpat-SECRET@gitlab.example.com/acme/api.git"
        );
        let shown = format!("{g} {g:?} {}", StoreUrl::Git(g.clone()));
        assert!(
            !shown.contains("SECRET") && !shown.contains("oauth2"),
            "{shown}"
        );
        for bad in [
            "git#heads/x",
            "git:origin#refs/x/",
            "git#refs/a..b",
            "git#refs/a b",
        ] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_store_however_written() {
        let same = |a: &str, b: &str| {
            StoreUrl::parse(a)
                .unwrap()
                .same_store(&StoreUrl::parse(b).unwrap())
        };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        std::fs::write(&db, "").unwrap();
        let dotted = dir.path().join(".").join("s.db");
        assert!(same(
            &format!("sqlite:{}", db.display()),
            &format!("sqlite:{}", dotted.display())
        ));
        let missing = dir.path().join("new.db");
        assert!(same(
            &format!("sqlite:{}", missing.display()),
            &format!("sqlite:{}/./new.db", dir.path().display())
        ));
        assert!(!same(
            &format!("sqlite:{}", db.display()),
            &format!("sqlite:{}", missing.display())
        ));
        assert!(same(
            "postgres://a:one@db.example.com/dora",
            "postgres://b:two@db.example.com:5432/dora?sslmode=require"
        ));
        assert!(same("postgres://dora@db/dora", "postgres://dora@db"));
        assert!(!same("postgres://dora@db/dora", "postgres://dora@db/other"));
        assert!(!same(
            "postgres://dora@db/dora",
            "postgres://dora@db:5433/dora"
        ));
        assert!(same("git", "git:origin#refs/dorameter/events"));
        assert!(!same("git", "git:origin#refs/dorameter/copy"));
        assert!(same(
            "git:https://u:secret@example.com/a.git#refs/x/y",
            "git:https://example.com/a.git#refs/x/y"
        ));
        assert!(!same("git", &format!("sqlite:{}", db.display())));
    }

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
