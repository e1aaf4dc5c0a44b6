//! Lead time of a deployment's changes, and the remediation signals in commit
//! messages. Pure: takes our `Commit`s, returns values.

use chrono::{DateTime, TimeZone, Utc};

use super::repo::Commit;
use crate::event::{Change, LeadTimeFrom};

/// What a commit message says about remediation (SPEC §3, rollforward).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemediationSignals {
    /// Full shas from `This reverts commit <sha>` lines.
    pub reverts: Vec<String>,
    /// Subject starts with `Revert "`.
    pub revert_subject: bool,
    /// Subject contains `hotfix`, any case.
    pub hotfix_subject: bool,
}

impl RemediationSignals {
    pub fn any(&self) -> bool {
        !self.reverts.is_empty() || self.revert_subject || self.hotfix_subject
    }
}

/// Reads the remediation signals of a raw commit message.
pub fn signals_from_message(message: &[u8]) -> RemediationSignals {
    let text = String::from_utf8_lossy(message);
    let subject = text.lines().next().unwrap_or("").trim();
    let mut signals = RemediationSignals {
        reverts: Vec::new(),
        revert_subject: subject.starts_with("Revert \""),
        hotfix_subject: subject.to_ascii_lowercase().contains("hotfix"),
    };
    const MARK: &str = "This reverts commit ";
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(MARK) else {
            continue;
        };
        let sha: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        if sha.len() >= 40 {
            signals.reverts.push(sha.to_ascii_lowercase());
        }
    }
    signals
}

/// A deployment's changes with their lead times.
#[derive(Debug, Default)]
pub struct Changes {
    pub changes: Vec<Change>,
    /// Commits dated after the deployment finished, clamped to 0.
    pub clamped: u32,
}

/// Lead time of each commit = `finished_at` − its author (or committer) time,
/// clamped at 0.
pub fn lead_time_changes(
    commits: &[Commit],
    finished_at: DateTime<Utc>,
    from: LeadTimeFrom,
) -> Changes {
    let mut out = Changes {
        changes: Vec::with_capacity(commits.len()),
        clamped: 0,
    };
    let finished = finished_at.timestamp();
    for c in commits {
        let start = match from {
            LeadTimeFrom::Author => c.authored_at,
            LeadTimeFrom::Committer => c.committed_at,
        };
        let raw = finished - start;
        if raw < 0 {
            out.clamped += 1;
        }
        out.changes.push(Change {
            sha: c.sha.clone(),
            authored_at: secs(c.authored_at),
            committed_at: secs(c.committed_at),
            lead_time_seconds: raw.max(0),
        });
    }
    out
}

fn secs(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_revert_and_hotfix_signals() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let s = signals_from_message(
            format!("Revert \"add cache\"\n\nThis reverts commit {sha}.\n").as_bytes(),
        );
        assert_eq!(s.reverts, vec![sha.to_string()]);
        assert!(s.revert_subject && !s.hotfix_subject);
        let s =
            signals_from_message(b"fix: HotFix for login\n\nbody mentions This reverts commit abc");
        assert!(s.hotfix_subject && s.reverts.is_empty() && !s.revert_subject);
        assert!(!signals_from_message(b"feat: x\n\nnot a hotfix in the subject").any());
    }

    #[test]
    fn clamps_commits_dated_after_the_deployment() {
        let c = |sha: &str, a: i64, c: i64| Commit {
            sha: sha.into(),
            authored_at: a,
            committed_at: c,
            parents: 1,
            signals: RemediationSignals::default(),
        };
        let commits = [c("a", 1_000, 1_500), c("b", 2_100, 1_900)];
        let finished = secs(2_000);
        let by_author = lead_time_changes(&commits, finished, LeadTimeFrom::Author);
        assert_eq!(
            by_author
                .changes
                .iter()
                .map(|c| c.lead_time_seconds)
                .collect::<Vec<_>>(),
            [1_000, 0]
        );
        assert_eq!(by_author.clamped, 1);
        let by_committer = lead_time_changes(&commits, finished, LeadTimeFrom::Committer);
        assert_eq!(
            by_committer
                .changes
                .iter()
                .map(|c| c.lead_time_seconds)
                .collect::<Vec<_>>(),
            [500, 100]
        );
        assert_eq!(by_committer.clamped, 0);
    }
}
