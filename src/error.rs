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
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    #[error("failed to write output")]
    Output(#[source] std::io::Error),
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

    /// The documented exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } => exit::USAGE,
            Error::NoInput { .. } => exit::NO_INPUT,
            Error::Git(e) if e.is_usage() => exit::USAGE,
            Error::Store(e) if e.is_usage() => exit::USAGE,
            Error::Sink(e) if e.is_usage() => exit::USAGE,
            Error::Git(_) | Error::Store(_) | Error::Sink(_) | Error::Output(_) => exit::UNEXPECTED,
        }
    }

    /// What the user can change, if anything.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } | Error::NoInput { hint, .. } => hint.clone(),
            Error::Git(e) => e.hint(),
            Error::Store(e) => e.hint(),
            Error::Sink(e) => e.hint(),
            Error::Output(_) => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Output(e)
    }
}
