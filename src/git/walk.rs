//! `git rev-list base..target` reading each commit exactly once.
//!
//! libgit2's revwalk parses every commit of the range to limit it, and
//! reading author time and message afterwards parses each one again; this
//! walk reads each commit from the object database once, parses the raw
//! object itself, and keeps what lead time needs. The algorithm is git's own
//! `limit_list`: a queue ordered by committer date, uninteresting-ness
//! propagated to parents, and a stop once only uninteresting commits remain
//! queued (plus `SLOP` more, as git does, to tolerate clock skew); commits
//! later proven reachable from the base are dropped at the end.

use std::collections::{BinaryHeap, HashMap};

use git2::{Odb, Oid};

use super::lead_time::signals_from_message;
use super::repo::{Commit, Walk, WalkOutcome};

/// Extra commits processed after only uninteresting ones are queued (git's value).
const SLOP: usize = 5;

/// The parts of a raw commit object we need.
#[derive(Debug, PartialEq, Eq)]
pub struct RawCommit<'a> {
    pub tree: Option<Oid>,
    pub parents: Vec<Oid>,
    pub authored_at: i64,
    pub committed_at: i64,
    pub message: &'a [u8],
}

/// Parses a raw commit object (`tree`, `parent`…, `author`, `committer`,
/// other headers and continuation lines, blank line, message).
pub fn parse_commit(data: &[u8]) -> Option<RawCommit<'_>> {
    let mut parents = Vec::new();
    let mut tree = None;
    let mut authored_at = None;
    let mut committed_at = None;
    let mut rest = data;
    loop {
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or(&[]);
        if line.is_empty() {
            break;
        }
        if let Some(hex) = line.strip_prefix(b"tree ") {
            tree = Oid::from_str(std::str::from_utf8(hex).ok()?).ok();
        } else if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(sig) = line.strip_prefix(b"author ") {
            authored_at = signature_time(sig);
        } else if let Some(sig) = line.strip_prefix(b"committer ") {
            committed_at = signature_time(sig);
        }
        if rest.is_empty() {
            break;
        }
    }
    Some(RawCommit {
        tree,
        parents,
        authored_at: authored_at?,
        committed_at: committed_at?,
        message: rest,
    })
}

/// `Name <email> 1700000000 +0100` → 1700000000.
fn signature_time(sig: &[u8]) -> Option<i64> {
    let after = &sig[memchr::memrchr(b'>', sig)? + 1..];
    let text = std::str::from_utf8(after).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    time: i64,
    /// Insertion order breaks ties: earlier first (as git's date queue).
    order: std::cmp::Reverse<u64>,
    oid: Oid,
}

#[derive(Default)]
struct State {
    uninteresting: bool,
    /// Set once read: the parents, for propagating uninteresting-ness.
    parents: Option<Vec<Oid>>,
    /// Index into the candidate list when read as interesting.
    candidate: Option<usize>,
}

/// Walks `base..target` (all of `target`'s history without a base), merge
/// commits skipped, keeping the newest `max_commits`.
pub fn walk(
    odb: &Odb<'_>,
    base: Option<Oid>,
    target: Oid,
    max_commits: usize,
) -> Result<WalkOutcome, git2::Error> {
    let mut states: HashMap<Oid, State> = HashMap::new();
    let mut queue = BinaryHeap::new();
    let mut order = 0u64;
    let mut candidates: Vec<(Commit, Oid)> = Vec::new();
    let mut heads = super::paths::Heads::new();
    let mut merges: Vec<(Commit, Oid)> = Vec::new();
    // Reading the queue's commits when pushed gives their dates; each is read once.
    let mut pending: HashMap<Oid, (RawOwned, bool)> = HashMap::new();

    // Commits read as interesting with a parent this clone does not have (a
    // shallow boundary): if any stays interesting, the range is unknown.
    let mut boundary: Vec<Oid> = Vec::new();

    let mut push = |oid: Oid,
                    uninteresting: bool,
                    queue: &mut BinaryHeap<Queued>,
                    states: &mut HashMap<Oid, State>,
                    pending: &mut HashMap<Oid, (RawOwned, bool)>|
     -> Result<Pushed, git2::Error> {
        let st = states.entry(oid).or_default();
        if st.parents.is_some() || pending.contains_key(&oid) {
            // Already read or queued: only uninteresting-ness can change.
            if uninteresting && !st.uninteresting {
                st.uninteresting = true;
                return Ok(Pushed::BecameUninteresting);
            }
            return Ok(Pushed::Known);
        }
        st.uninteresting |= uninteresting;
        let obj = match odb.read(oid) {
            Ok(obj) => obj,
            // A parent a shallow clone does not have ends the walk on that side.
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Pushed::Missing),
            Err(e) => return Err(e),
        };
        let raw = RawOwned::parse(obj.data())
            .ok_or_else(|| git2::Error::from_str(&format!("commit {oid} is malformed")))?;
        order += 1;
        queue.push(Queued {
            time: raw.committed_at,
            order: std::cmp::Reverse(order),
            oid,
        });
        pending.insert(oid, (raw, false));
        Ok(Pushed::Queued)
    };

    if let Some(b) = base {
        if odb.read_header(b).is_err() {
            return Ok(WalkOutcome::BaseNotFound);
        }
        push(b, true, &mut queue, &mut states, &mut pending)?;
    }
    if push(target, false, &mut queue, &mut states, &mut pending)? == Pushed::Missing {
        return Err(git2::Error::from_str(&format!(
            "commit {target} is not in this clone"
        )));
    }

    let mut slop = SLOP;
    let mut truncated = false;
    while let Some(q) = queue.pop() {
        let Some((raw, _)) = pending.remove(&q.oid) else {
            continue;
        };
        let uninteresting = states.get(&q.oid).is_some_and(|s| s.uninteresting);
        if let Some(t) = raw.tree {
            heads.insert(q.oid, (t, raw.parents.first().copied()));
        }
        for &p in &raw.parents {
            match push(p, uninteresting, &mut queue, &mut states, &mut pending)? {
                Pushed::BecameUninteresting => propagate(p, &mut states),
                Pushed::Missing if !uninteresting => boundary.push(q.oid),
                _ => {}
            }
        }
        let st = states.entry(q.oid).or_default();
        st.parents = Some(raw.parents.clone());
        if !uninteresting && raw.parents.len() > 1 {
            // Not a change, but its subject may name a hotfix branch.
            merges.push((commit_of(q.oid, &raw), q.oid));
        }
        if !uninteresting && raw.parents.len() <= 1 {
            st.candidate = Some(candidates.len());
            candidates.push((commit_of(q.oid, &raw), q.oid));
            // Bound the work: far more candidates than kept means a runaway range.
            if candidates.len() > max_commits.saturating_mul(2).saturating_add(1000) {
                truncated = true;
                break;
            }
        }
        if queue
            .iter()
            .all(|e| states.get(&e.oid).is_some_and(|s| s.uninteresting))
        {
            if slop == 0 {
                break;
            }
            slop -= 1;
        } else {
            slop = SLOP;
        }
    }

    let shallow = boundary
        .iter()
        .any(|oid| !states.get(oid).is_some_and(|s| s.uninteresting));
    let interesting = |list: Vec<(Commit, Oid)>| -> Vec<Commit> {
        list.into_iter()
            .filter(|(_, oid)| !states.get(oid).is_some_and(|s| s.uninteresting))
            .map(|(c, _)| c)
            .collect()
    };
    let mut commits = interesting(candidates);
    let merges = interesting(merges);
    if shallow {
        // The range's size is unknown; what the clone has still names hotfixes.
        return Ok(WalkOutcome::ShallowBoundary(Walk {
            commits,
            merges,
            truncated,
            heads,
        }));
    }
    if base.is_some() && commits.iter().any(|c| c.parents == 0) {
        return Ok(WalkOutcome::Unrelated);
    }
    if commits.len() > max_commits {
        commits.truncate(max_commits);
        truncated = true;
    }
    Ok(WalkOutcome::Walked(Walk {
        commits,
        merges,
        truncated,
        heads,
    }))
}

fn commit_of(oid: Oid, raw: &RawOwned) -> Commit {
    Commit {
        sha: oid.to_string(),
        authored_at: raw.authored_at,
        committed_at: raw.committed_at,
        parents: raw.parents.len(),
        signals: signals_from_message(&raw.message),
    }
}

/// What pushing a commit onto the walk's queue found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pushed {
    Queued,
    /// Already read or queued.
    Known,
    /// Already read or queued, and now known to be reachable from the base.
    BecameUninteresting,
    /// Not in this clone: beyond a shallow boundary.
    Missing,
}

/// Marks everything already read below `oid` uninteresting.
fn propagate(oid: Oid, states: &mut HashMap<Oid, State>) {
    let mut stack = vec![oid];
    while let Some(o) = stack.pop() {
        let parents = states
            .get(&o)
            .and_then(|s| s.parents.clone())
            .unwrap_or_default();
        for p in parents {
            let st = states.entry(p).or_default();
            if !st.uninteresting {
                st.uninteresting = true;
                stack.push(p);
            }
        }
    }
}

/// A parsed commit whose message outlives the odb object.
struct RawOwned {
    tree: Option<Oid>,
    parents: Vec<Oid>,
    authored_at: i64,
    committed_at: i64,
    message: Vec<u8>,
}

impl RawOwned {
    fn parse(data: &[u8]) -> Option<RawOwned> {
        let r = parse_commit(data)?;
        // Only the lines that carry remediation signals matter: the subject
        // and `This reverts commit` lines. Keep at most 4 KiB of message.
        let message = r.message[..r.message.len().min(4096)].to_vec();
        Some(RawOwned {
            tree: r.tree,
            parents: r.parents,
            authored_at: r.authored_at,
            committed_at: r.committed_at,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_raw_commits_with_extra_headers() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 0123456789abcdef0123456789abcdef01234567\n\
parent 89abcdef0123456789abcdef0123456789abcdef\n\
author A U Thor <a@x> 1700000000 +0100\n\
committer C O Mitter <c@x> 1700000500 -0700\n\
gpgsig -----BEGIN PGP SIGNATURE-----\n \n wsBcBAABCAAQ\n -----END PGP SIGNATURE-----\n\
\n\
Revert \"x\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n";
        let c = parse_commit(raw).unwrap();
        assert_eq!(c.parents.len(), 2);
        assert_eq!(
            (c.authored_at, c.committed_at),
            (1_700_000_000, 1_700_000_500)
        );
        assert!(c.message.starts_with(b"Revert \"x\""));
        assert!(parse_commit(b"tree x\n\nno signatures").is_none());
    }
}
