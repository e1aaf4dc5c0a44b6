//! The `git` CLI every CI job has, with the checkout's credentials: fetch
//! the event ref, push a commit to it. Never interactive, never forced; a
//! remote's credentials never reach a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a push found.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Done,
    /// The ref moved on the remote: fetch, re-apply, push again.
    Behind,
}

/// Why a git command failed, from its exit and message.
#[derive(Debug)]
pub enum Failure {
    /// Authentication or authorization: a setting to fix (exit 2).
    Denied(String),
    /// The remote or repository is not there as named (exit 2).
    NotFound(String),
    /// Anything else: retried, then reported (exit 1).
    Transient(String),
}

pub struct Transport {
    git_dir: PathBuf,
    remote: String,
    shown: String,
}

impl Transport {
    pub fn new(git_dir: &Path, remote: &str, shown: &str) -> Transport {
        Transport {
            git_dir: git_dir.to_path_buf(),
            remote: remote.to_string(),
            shown: shown.to_string(),
        }
    }

    fn run(&self, args: &[&str]) -> Result<(bool, String), Failure> {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(&self.git_dir)
            // A server that stops answering mid-transfer is given up on
            // (then spooled) instead of holding the job until its timeout.
            .args([
                "-c",
                "http.lowSpeedLimit=1000",
                "-c",
                "http.lowSpeedTime=20",
            ])
            .args(args)
            // A job has no terminal: fail instead of waiting for a password.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Failure::Transient(format!("could not run git: {e}")))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), self.scrub(&text)))
    }

    /// The message with the remote as given (a URL may carry a token)
    /// replaced by its credential-free form.
    fn scrub(&self, text: &str) -> String {
        let text = text.trim();
        if self.remote.is_empty() {
            return text.to_string();
        }
        text.replace(&self.remote, &self.shown)
    }

    /// Fetches `refname` from the remote into the local `tracking` ref.
    /// `Ok(false)`: the remote has no such ref yet (an empty store).
    pub fn fetch(&self, refname: &str, tracking: &str) -> Result<bool, Failure> {
        let spec = format!("+{refname}:{tracking}");
        let (ok, text) = self.run(&[
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--",
            &self.remote,
            &spec,
        ])?;
        if ok {
            return Ok(true);
        }
        if text.contains("couldn't find remote ref") {
            return Ok(false);
        }
        Err(classify(text))
    }

    /// Pushes `commit` to `refname`, never forced.
    pub fn push(&self, commit: &str, refname: &str) -> Result<Pushed, Failure> {
        let spec = format!("{commit}:{refname}");
        let (ok, text) =
            self.run(&["push", "--quiet", "--porcelain", "--", &self.remote, &spec])?;
        if ok {
            return Ok(Pushed::Done);
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("non-fast-forward")
            || lower.contains("fetch first")
            || lower.contains("[rejected]")
            || lower.contains("cannot lock ref")
            || lower.contains("failed to update ref")
            || lower.contains("stale info")
        {
            return Ok(Pushed::Behind);
        }
        Err(classify(text))
    }
}

fn classify(text: String) -> Failure {
    let lower = text.to_ascii_lowercase();
    if [
        "permission denied",
        "authentication failed",
        "could not read username",
        "could not read password",
        "403",
        "401",
        "not allowed",
        "access denied",
        "permission to",
        "you are not allowed",
        "insufficient",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return Failure::Denied(text);
    }
    if lower.contains("does not appear to be a git repository")
        || lower.contains("repository not found")
        || lower.contains("not found")
        || lower.contains("no such remote")
    {
        return Failure::NotFound(text);
    }
    Failure::Transient(text)
}
