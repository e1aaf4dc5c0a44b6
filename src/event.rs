//! The event model (SPEC §2): what every store keeps and every sink receives.
//! Deployments, incidents (and, later, test runs) each carry a stable,
//! client-side `id` that is the idempotency key everywhere.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// The accepted spellings, for error hints.
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl StringEnum for $name {
            const FIRST: $name = $name::ALL[0];
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

/// What every `string_enum!` type shares, so the stores read any of them
/// back with one function.
pub trait StringEnum: Copy + std::str::FromStr {
    /// The first variant.
    const FIRST: Self;

    /// A value as a store wrote it. A spelling this version does not know (a
    /// newer dorameter's, a hand-edited row) reads as the first variant
    /// rather than failing the whole read.
    fn from_stored(s: &str) -> Self {
        s.parse().unwrap_or(Self::FIRST)
    }
}

string_enum!(
    /// Whether the deploy job succeeded. Failed jobs are stored but never counted.
    DeploymentStatus { Success => "success", Failure => "failure" }
);
string_enum!(
    /// Planned work, or a remediation of an earlier failed deployment.
    DeploymentKind { Planned => "planned", Rollback => "rollback", Rollforward => "rollforward" }
);
string_enum!(
    /// Which commit time a change's lead time starts from.
    LeadTimeFrom { Author => "author", Committer => "committer" }
);
string_enum!(
    /// Where a deployment's changes come from: git alone, or a squash
    /// commit's pull/merge request's commits (SPEC §11).
    LeadTimeSource { Git => "git", Pr => "pr" }
);
string_enum!(
    /// Why a deployment has no lead-time samples.
    LeadTimeNote {
        NoPreviousDeployment => "no_previous_deployment",
        PreviousShaNotFound => "previous_sha_not_found",
        NoNewChanges => "no_new_changes",
        ShallowHistory => "shallow_history",
        NoRepository => "no_repository",
    }
);
string_enum!(
    /// What caused an incident. Only `deploy` and `unknown` count toward change failure rate.
    IncidentCause { Deploy => "deploy", Infra => "infra", Unknown => "unknown" }
);
string_enum!(
    /// Why a remediation deployment marked an earlier deployment failed.
    RemediationReason {
        Rollback => "rollback",
        Hotfix => "hotfix",
        Revert => "revert",
        RevertSubject => "revert_subject",
        HotfixSubject => "hotfix_subject",
    }
);

impl RemediationReason {
    /// What the remediating deployment did, in words that read before its
    /// id: "rolled back by deployment api-5".
    pub fn remediated_by(self) -> &'static str {
        match self {
            RemediationReason::Rollback => "rolled back by deployment",
            RemediationReason::Hotfix => "hotfixed by deployment",
            RemediationReason::Revert => "reverted by deployment",
            RemediationReason::RevertSubject => "revert commit shipped by deployment",
            RemediationReason::HotfixSubject => "fix commit shipped by deployment",
        }
    }
}

impl LeadTimeNote {
    /// The deployment shipped changes that could not be counted: its
    /// history was missing, so the lead-time value leaves it out.
    pub fn history_missing(self) -> bool {
        matches!(
            self,
            LeadTimeNote::ShallowHistory
                | LeadTimeNote::PreviousShaNotFound
                | LeadTimeNote::NoRepository
        )
    }

    /// The reason in words, for human output (JSON keeps the code).
    pub fn words(self) -> &'static str {
        match self {
            LeadTimeNote::NoPreviousDeployment => "no earlier deployment to measure from",
            LeadTimeNote::PreviousShaNotFound => "previous deployed commit not in this clone",
            LeadTimeNote::NoNewChanges => "no new commits since the previous deployment",
            LeadTimeNote::ShallowHistory => "shallow clone: history incomplete",
            LeadTimeNote::NoRepository => "no git repository here",
        }
    }
}

impl IncidentCause {
    /// Whether incidents with this cause make a deployment failed.
    pub fn counts_as_change_failure(self) -> bool {
        !matches!(self, IncidentCause::Infra)
    }
}

/// One commit a deployment shipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub sha: String,
    pub authored_at: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
    /// finished_at − commit time (author or committer), clamped at 0.
    pub lead_time_seconds: i64,
}

/// An earlier deployment this one marked failed, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    pub deployment_id: String,
    pub reason: RemediationReason,
    /// The commit that fired a revert or subject rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub service: String,
    pub env: String,
    pub repository_url: Option<String>,
    pub sha: String,
    pub previous_sha: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: DeploymentStatus,
    pub kind: DeploymentKind,
    pub version: Option<String>,
    /// The branch (or, in a tag pipeline, the tag) CI built; DevLake's
    /// `refName`. Left out of the JSON when unknown, so events recorded
    /// before it existed keep their revision digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    pub team: Option<String>,
    pub pipeline_id: Option<String>,
    pub pipeline_url: Option<String>,
    pub deployed_by: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub lead_time_from: LeadTimeFrom,
    pub lead_time_note: Option<LeadTimeNote>,
    /// Changes whose commit time was after finished_at (clock skew), clamped to 0.
    pub clamped_changes: u32,
    /// The walk stopped at `--max-commits`; the samples are the newest commits.
    pub truncated: bool,
    pub changes: Vec<Change>,
    /// Earlier deployments this one marked failed.
    pub remediates: Vec<Remediation>,
}

impl Deployment {
    pub fn is_success(&self) -> bool {
        self.status == DeploymentStatus::Success
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub services: Vec<String>,
    pub env: String,
    /// Impact start: alert firing or SLO burn start, not ticket creation.
    pub started_at: DateTime<Utc>,
    pub detected_at: Option<DateTime<Utc>>,
    /// `None` while the incident is open.
    pub resolved_at: Option<DateTime<Utc>>,
    pub severity: Option<String>,
    pub title: Option<String>,
    pub cause: IncidentCause,
    /// Explicit link to a deployment id.
    pub deployment_id: Option<String>,
    /// Explicit link to the deployment that shipped this commit.
    pub deployment_sha: Option<String>,
}

/// Characters a generated or given id may use everywhere (SPEC §2).
pub fn is_generated_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

/// Validates an id the user gave (`--id`): 1–128 printable characters.
pub fn validate_user_id(flag: &str, id: &str) -> crate::Result<()> {
    let ok = !id.is_empty()
        && id.chars().count() <= 128
        && id
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() || c == ' ')
        && !id.starts_with(' ')
        && !id.ends_with(' ');
    if ok {
        Ok(())
    } else {
        Err(crate::Error::usage_hint(
            format!("invalid id for {flag}: it must be 1-128 printable characters"),
            format!("pass {flag} a ticket key such as INC-42, without control characters"),
        ))
    }
}

/// A fresh UUID v7 id, for events with no CI context to derive one from.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A deterministic id from parts (CI context, backfill tags): the sanitized
/// parts joined by `:`, cut to 128 chars with a hash suffix when too long, and
/// padded to the 16-char minimum with a hash when too short.
pub fn derived_id(parts: &[&str]) -> String {
    let joined: String = parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| if is_generated_id_char(c) { c } else { '-' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(":");
    let hash = format!("{:016x}", fnv1a64(parts.join("\u{0}").as_bytes()));
    if joined.len() > 128 {
        format!("{}:{hash}", &joined[..128 - 17])
    } else if joined.len() < 16 {
        format!("{joined}:{hash}")
    } else {
        joined
    }
}

/// The id of an event a CI job records: `given` (validated, named by
/// `flag`), else derived from the job run's stable key followed by `parts`,
/// so a retried job records the same event; outside CI a fresh UUID v7.
pub fn event_id(
    flag: &str,
    given: Option<&str>,
    run_key: Option<&[String]>,
    parts: &[&str],
) -> crate::Result<String> {
    if let Some(id) = given {
        validate_user_id(flag, id)?;
        return Ok(id.to_string());
    }
    Ok(match run_key {
        Some(key) if key.len() > 1 => {
            let mut all: Vec<&str> = key.iter().map(String::as_str).collect();
            all.extend_from_slice(parts);
            derived_id(&all)
        }
        _ => new_id(),
    })
}

/// FNV-1a, 64 bit: a stable (across versions and platforms) hash for ids.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_valid_stable_and_bounded() {
        let a = derived_id(&["gh", "org/repo", "123", "1", "api", "production"]);
        assert_eq!(a, "gh:org-repo:123:1:api:production");
        assert_eq!(
            a,
            derived_id(&["gh", "org/repo", "123", "1", "api", "production"])
        );
        let short = derived_id(&["x"]);
        assert!(
            short.len() >= 16 && short.chars().all(is_generated_id_char),
            "{short}"
        );
        let long_part = "é".repeat(300);
        let long = derived_id(&["bf", &long_part]);
        assert!(
            long.len() <= 128 && long.chars().all(is_generated_id_char),
            "{long}"
        );
        assert_ne!(derived_id(&["a/b"]), derived_id(&["a-b"]));
    }

    #[test]
    fn user_ids() {
        assert!(validate_user_id("--id", "INC-42").is_ok());
        assert!(validate_user_id("--id", "PD key 7").is_ok());
        assert!(validate_user_id("--id", "").is_err());
        assert!(validate_user_id("--id", "a\nb").is_err());
        assert!(validate_user_id("--id", &"x".repeat(129)).is_err());
    }
}

/// One JUnit ingestion (SPEC §2): the run's identity and its counts. The
/// per-test results are stored alongside it by the store. `Default` is a
/// header with zero counts, for building one field by field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestRun {
    pub id: String,
    pub service: String,
    pub sha: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    pub job: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub files: u64,
    pub tests: u64,
    pub runs: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub flaky: u64,
}
