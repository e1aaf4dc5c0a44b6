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
    /// The subject line (at most [`SUBJECT_MAX`] bytes), for the rollforward
    /// subject pattern.
    pub subject: String,
    /// The pull or merge request the message names as its own: what a
    /// squash merge leaves (`--lead-time-source pr`, SPEC §11).
    pub request: Option<RequestRef>,
}

/// A pull or merge request a commit message names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestRef {
    /// GitHub's squash subject `Title (#12)`.
    Pull(u64),
    /// GitLab's `See merge request group/project!12` line (its merge
    /// commit template), or a squash subject ending in `(!12)`.
    MergeRequest(u64),
}

/// `(#12)` / `(!12)` at the end of a subject: the number and the sigil.
fn subject_reference(subject: &str) -> Option<RequestRef> {
    let inner = subject.trim_end().strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let token = &inner[open + 1..];
    let (sigil, digits) = token.split_at(token.len().min(1));
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    match sigil {
        "#" => Some(RequestRef::Pull(n)),
        "!" => Some(RequestRef::MergeRequest(n)),
        _ => None,
    }
}

/// `See merge request group/project!12` → 12.
fn merge_request_line(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("See merge request ")?;
    let (_, n) = rest.trim_end().trim_end_matches('.').rsplit_once('!')?;
    if n.is_empty() || n.len() > 18 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// How much of a subject is kept for matching and for naming the commit.
pub const SUBJECT_MAX: usize = 200;

/// Reads the remediation signals of a raw commit message.
pub fn signals_from_message(message: &[u8]) -> RemediationSignals {
    let text = String::from_utf8_lossy(message);
    let subject = text.lines().next().unwrap_or("").trim();
    let mut end = subject.len().min(SUBJECT_MAX);
    while !subject.is_char_boundary(end) {
        end -= 1;
    }
    let mut signals = RemediationSignals {
        reverts: Vec::new(),
        subject: subject[..end].to_string(),
        request: subject_reference(subject),
    };
    const MARK: &str = "This reverts commit ";
    for line in text.lines() {
        let line = line.trim();
        if signals.request.is_none() {
            signals.request = merge_request_line(line).map(RequestRef::MergeRequest);
        }
        let Some(rest) = line.strip_prefix(MARK) else {
            continue;
        };
        let sha: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        if sha.len() >= 40 {
            signals.reverts.push(sha.to_ascii_lowercase());
        }
    }
    signals
}

/// The rollforward subject rule of SPEC §3: a pattern over commit subjects,
/// the default or `[classify] rollforward_subject`.
#[derive(Clone, Debug)]
pub struct SubjectPattern(regex_lite::Regex);

impl SubjectPattern {
    /// Case-insensitive: a subject that starts with `Revert "`, `revert:`,
    /// `hotfix` or `hot-fix`, or a merge of a `hotfix/` branch.
    pub const DEFAULT: &'static str =
        r#"(?i)^(?:revert "|revert:|hot-?fix)|^merge .*[/' ]hot-?fix/"#;

    pub fn new(pattern: &str) -> Result<SubjectPattern, regex_lite::Error> {
        regex_lite::Regex::new(pattern).map(SubjectPattern)
    }

    pub fn default_pattern() -> SubjectPattern {
        SubjectPattern::new(Self::DEFAULT).expect("the default pattern compiles")
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_match(&self, subject: &str) -> bool {
        self.0.is_match(subject)
    }
}

impl PartialEq for SubjectPattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
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
    fn reads_revert_lines_and_the_subject() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let s = signals_from_message(
            format!("Revert \"add cache\"\n\nThis reverts commit {sha}.\n").as_bytes(),
        );
        assert_eq!(s.reverts, vec![sha.to_string()]);
        assert_eq!(s.subject, "Revert \"add cache\"");
        let s = signals_from_message(b"fix: x\n\nbody mentions This reverts commit abc");
        assert!(s.reverts.is_empty(), "a short sha is not a revert line");
        let long = "é".repeat(SUBJECT_MAX);
        let s = signals_from_message(long.as_bytes());
        assert!(s.subject.len() <= SUBJECT_MAX && long.starts_with(&s.subject));
    }

    #[test]
    fn reads_the_request_a_squash_or_merge_commit_names() {
        let req = |m: &str| signals_from_message(m.as_bytes()).request;
        assert_eq!(
            req("Add cache (#1234)\n\n* wip\n"),
            Some(RequestRef::Pull(1234))
        );
        assert_eq!(
            req("Revert \"Add cache (#12)\" (#15)"),
            Some(RequestRef::Pull(15))
        );
        assert_eq!(req("Add cache (!7)"), Some(RequestRef::MergeRequest(7)));
        assert_eq!(
            req("Merge branch 'cache' into 'main'\n\nAdd cache\n\nSee merge request acme/api!42"),
            Some(RequestRef::MergeRequest(42))
        );
        for none in [
            "Add cache",
            "Add cache (#)",
            "Add cache (#12a)",
            "Add cache (#12) and more",
            "Fix (see #12)",
            "Merge pull request #12 from acme/cache",
            "x (#99999999999999999999)",
        ] {
            assert_eq!(req(none), None, "{none}");
        }
    }

    #[test]
    fn default_subject_pattern_is_spec_s_list() {
        let p = SubjectPattern::default_pattern();
        for yes in [
            "Revert \"add cache\"",
            "revert: add cache",
            "Hotfix: login loop",
            "HOT-FIX login",
            "hotfix(auth): token refresh",
            "Merge pull request #12 from acme/hotfix/login",
            "Merge branch 'hotfix/login' into main",
        ] {
            assert!(p.is_match(yes), "{yes}");
        }
        for no in [
            "docs: describe the hotfix branching process",
            "fix: HotFix for login",
            "feat: reverting is hard",
            "Merge branch 'feature/hotfixes'",
            "chore: bump",
        ] {
            assert!(!p.is_match(no), "{no}");
        }
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
