//! The library's error type. Each variant knows its exit code (SPEC §4) and,
//! where the user can act, a `hint` naming the flag or env var to change.
//! Messages are lowercase fragments that read after "failed to …" or stand
//! alone as a headline; `main` renders the chain once.

use crate::exit;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag, env var, config value or argument the user must change.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// Nothing to work on (a pattern or glob that matched nothing).
    #[error("{message}")]
    NoInput {
        message: String,
        hint: Option<String>,
    },
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A store another flag than `--store` named (`store copy --from`).
    #[error(transparent)]
    StoreAt(Box<StoreAt>),
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    /// A forge API call failed: `what` reads after "could not";
    /// `permission`, what the token needs for it, is the hint of a 403.
    #[error("could not {what}")]
    Forge {
        what: &'static str,
        permission: Option<&'static str>,
        #[source]
        source: crate::forge::ForgeError,
    },
    /// The JUnit aggregator's temporary files (spilled runs) failed: the
    /// disk under `TMPDIR`, not the output.
    #[error("failed to write the JUnit aggregator's temporary files (TMPDIR)")]
    Spill(#[source] std::io::Error),
    #[error("failed to write output")]
    Output(#[source] std::io::Error),
    /// An invariant of dorameter itself broke: a bug, never the user's input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A broken invariant: exit 1.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The documented exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } => exit::USAGE,
            Error::NoInput { .. } => exit::NO_INPUT,
            Error::Git(e) if e.is_usage() => exit::USAGE,
            Error::Store(e) if e.is_usage() => exit::USAGE,
            Error::StoreAt(e) if e.error.is_usage() => exit::USAGE,
            Error::Sink(e) if e.is_usage() => exit::USAGE,
            Error::Forge { .. } => exit::SINK,
            Error::Git(_)
            | Error::Store(_)
            | Error::StoreAt(_)
            | Error::Sink(_)
            | Error::Spill(_)
            | Error::Output(_)
            | Error::Internal(_) => exit::UNEXPECTED,
        }
    }

    /// What the user can change, if anything.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } | Error::NoInput { hint, .. } => hint.clone(),
            Error::Forge {
                permission: Some(permission),
                source: crate::forge::ForgeError::Forbidden { .. },
                ..
            } => Some(format!(
                "give the token {permission} (a pull request from a fork gets a read-only token)"
            )),
            Error::Forge { source, .. } => source.hint(),
            Error::Spill(_) => {
                Some("free space under TMPDIR, or point TMPDIR at a larger disk".into())
            }
            Error::Internal(_) => {
                Some("this is a bug in dorameter: please report it with the command line".into())
            }
            Error::Git(e) => e.hint(),
            Error::Store(e) => e.hint(),
            Error::StoreAt(e) => e.error.hint_for(e.flag, e.env),
            Error::Sink(e) => e.hint(),
            Error::Output(_) => None,
        }
    }
}

/// A store's error when the store came from another flag than `--store`:
/// the same text and causes, hints that name that flag and its env var.
#[derive(Debug)]
pub struct StoreAt {
    pub flag: &'static str,
    pub env: &'static str,
    pub error: crate::store::StoreError,
}

impl std::fmt::Display for StoreAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for StoreAt {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl Error {
    /// `e` (a store's error) when the store came from `flag` (env `env`).
    pub fn store_at(flag: &'static str, env: &'static str, e: Error) -> Error {
        match e {
            Error::Store(error) => Error::StoreAt(Box::new(StoreAt { flag, env, error })),
            other => other,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Output(e)
    }
}

/// An error and its sources on one line, each source once (a source whose
/// text the line already holds is left out): for messages that must fit one
/// line, such as a sink's pending-event summary.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = x.source();
    }
    s
}

/// The one rendering of an error, for `main` (`level` "error") and for
/// failures a command only warns about ("warning"): the headline, one
/// `  Caused by:` line per source, and the `hint:`. Control characters in
/// user-controlled text are escaped; line breaks a message has are kept.
pub fn render(e: &Error, level: &str) -> String {
    let clean = |t: &str| {
        t.lines()
            .map(crate::render::escape::terminal)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut out = format!("{level}: {}\n", clean(&e.to_string()));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!("  Caused by: {}\n", clean(&s.to_string())));
        source = s.source();
    }
    if let Some(hint) = e.hint() {
        out.push_str(&format!("hint: {}\n", clean(&hint)));
    }
    out
}
