//! `--lead-time-source pr` (SPEC §11): a squash commit is one commit made at
//! merge time, so its lead time says nothing of when the work was done. Its
//! pull or merge request's original commits are the changes instead.
//!
//! Before a deployment is recorded, [`resolve`] walks its range as the
//! plan will, finds the squash commits that name their request, reads the
//! store's cache, and asks the forge only for the rest (one list of the
//! request's commits each). The plan then counts the originals in the
//! squash commit's place, and the answers are stored with the deployment:
//! a second run asks nothing. Rebase merges and merge commits keep the
//! original commits in git and need no request.

use std::collections::{BTreeMap, HashSet};

use crate::Result;
use crate::app::deploy::DeployRequest;
use crate::forge::ForgeError;
use crate::git::{Commit, Repo, RequestRef, WalkOutcome};
use crate::sources::pulls::{Forge, Pulls};
use crate::store::{OriginalCommit, PullCommits, ReadTx};

/// GitHub lists a pull request's first 250 commits, no more.
const GITHUB_LISTS_AT_MOST: usize = 250;

/// The squash commits of a deployment and what counts in their place.
#[derive(Clone, Debug, Default)]
pub struct Squashes {
    /// Squash commit → the request's commits outside the range (those in
    /// it are counted by the walk itself).
    pub originals: BTreeMap<String, Vec<OriginalCommit>>,
    /// Answers the forge gave now, stored with the deployment.
    pub fetched: Vec<PullCommits>,
}

/// A squash commit and the request it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub sha: String,
    pub number: u64,
}

/// What [`resolve`] found, and what it could not ask.
#[derive(Debug, Default)]
pub struct Resolved {
    pub squashes: Squashes,
    /// Commits in the range that name their request.
    pub squashes_found: usize,
    /// Squash commits answered from the store's cache.
    pub cached: usize,
    /// Requests made to the forge.
    pub requests: usize,
    pub warnings: Vec<String>,
    /// The failure that stopped the questions: the squash commits not yet
    /// answered count as themselves.
    pub failure: Option<ForgeError>,
}

/// The squash commits among a range's commits (`range`: their shas; merge
/// commits apart) that
/// name their request on `forge` (`None`: on either): GitHub's `Title (#12)` subject; on
/// GitLab, a message naming `!12`, or the one commit a merge commit's
/// `See merge request …!12` brought in (a squash in a project that merges
/// with merge commits). A single commit merged unsquashed costs one
/// request, and counts as itself.
pub fn candidates(
    repo: &Repo,
    commits: &[Commit],
    range: &HashSet<&str>,
    merges: &[Commit],
    forge: Option<Forge>,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let github = forge != Some(Forge::GitLab);
    let gitlab = forge != Some(Forge::GitHub);
    for c in commits {
        match c.signals.request {
            Some(RequestRef::Pull(n)) if github => out.push(Candidate {
                sha: c.sha.clone(),
                number: n,
            }),
            Some(RequestRef::MergeRequest(n)) if gitlab => out.push(Candidate {
                sha: c.sha.clone(),
                number: n,
            }),
            _ => {}
        }
    }
    if gitlab {
        for m in merges {
            let Some(RequestRef::MergeRequest(n)) = m.signals.request else {
                continue;
            };
            let parents = repo.parents(&m.sha);
            let [first, second] = parents.as_slice() else {
                continue;
            };
            if !range.contains(second.as_str()) || out.iter().any(|c| c.sha == *second) {
                continue;
            }
            // The branch is that one commit: its parent is on the main line.
            let only = repo
                .parents(second)
                .first()
                .is_some_and(|p| repo.is_ancestor(p, first));
            if only {
                out.push(Candidate {
                    sha: second.clone(),
                    number: n,
                });
            }
        }
    }
    out
}

/// Finds the squash commits `req` will ship (revisions resolved) against
/// the history in `tx`, and their original commits: from the store's
/// cache, else from `pulls` (`None`: the cache only, for the reason
/// `unasked`). `forge` `None`: no forge is known (offline), any cached
/// answer counts. A forge failure stops the questions and is returned in
/// [`Resolved::failure`] for the caller to judge.
pub fn resolve(
    tx: &dyn ReadTx,
    repo: &Repo,
    req: &DeployRequest,
    forge: Option<Forge>,
    mut pulls: Option<&mut Pulls>,
    unasked: &str,
) -> Result<Resolved> {
    let mut out = Resolved::default();
    let base = match &req.previous_sha {
        Some(b) => Some(b.clone()),
        None => tx
            .previous_success(&req.service, &req.env, req.finished_at)?
            .map(|p| p.sha),
    };
    let Some(base) = base.filter(|b| *b != req.sha) else {
        return Ok(out);
    };
    let WalkOutcome::Walked(walk) = repo.walk(Some(&base), &req.sha, req.max_commits)? else {
        return Ok(out);
    };
    let commits = match &req.paths {
        Some(f) => repo.touching(walk.commits, f, Some(&walk.heads))?,
        None => walk.commits,
    };
    let range: HashSet<&str> = commits.iter().map(|c| c.sha.as_str()).collect();
    let wanted = candidates(repo, &commits, &range, &walk.merges, forge);
    if wanted.is_empty() {
        return Ok(out);
    }
    let shas: Vec<String> = wanted.iter().map(|c| c.sha.clone()).collect();
    let mut known = tx.pull_commits(&shas)?;
    known.retain(|p| forge.is_none_or(|f| p.forge == f.key()));
    out.cached = known.len();
    let cached: HashSet<String> = known.iter().map(|p| p.sha.clone()).collect();
    let missing: Vec<&Candidate> = wanted.iter().filter(|c| !cached.contains(&c.sha)).collect();
    let asked = |p: &Option<&mut Pulls>| p.as_ref().map_or(0, |p| p.requests);
    let before = asked(&pulls);
    let mut unanswered = 0usize;
    let name = forge.map_or("the forge", Forge::name);
    for c in &missing {
        let Some(p) = pulls.as_deref_mut().filter(|_| out.failure.is_none()) else {
            unanswered += 1;
            continue;
        };
        match p.originals(&c.sha, c.number) {
            Ok(Some(found)) => {
                if p.forge() == Forge::GitHub && found.commits.len() >= GITHUB_LISTS_AT_MOST {
                    out.warnings.push(format!(
                        "pull request #{} lists {GITHUB_LISTS_AT_MOST} commits, as many as GitHub lists: any later ones are not counted",
                        found.number.unwrap_or(c.number)
                    ));
                }
                out.squashes.fetched.push(found);
            }
            Ok(None) => {
                unanswered += 1;
                out.warnings.push(format!(
                    "{} is not on {name}: it counts as one change",
                    short(&c.sha)
                ));
            }
            Err(e) => {
                unanswered += 1;
                out.failure = Some(e);
            }
        }
    }
    out.requests = asked(&pulls) - before;
    out.squashes_found = wanted.len();
    if unanswered > 0 {
        let why = match (&out.failure, pulls.is_some()) {
            (Some(e), _) => format!("{name} could not be asked ({e})"),
            (None, false) => unasked.to_string(),
            (None, true) => format!("{name} has not got them"),
        };
        out.warnings.push(format!(
            "{} naming a pull request {} as one change each, at merge time: {why}",
            crate::render::count(unanswered as u64, "commit"),
            if unanswered == 1 { "counts" } else { "count" }
        ));
    }
    // An original commit the range holds itself (a one-commit request
    // merged as it was) is counted by the walk.
    for p in known.iter().chain(&out.squashes.fetched) {
        if p.number.is_none() {
            continue;
        }
        let missing: Vec<OriginalCommit> = p
            .commits
            .iter()
            .filter(|o| !range.contains(o.sha.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            out.squashes.originals.insert(p.sha.clone(), missing);
        }
    }
    Ok(out)
}

/// `commits` with each squash commit replaced by its original commits,
/// each listed once.
pub fn expand(commits: &[Commit], squashes: &Squashes) -> Vec<Commit> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(commits.len());
    for c in commits {
        match squashes.originals.get(&c.sha) {
            None => {
                if seen.insert(c.sha.clone()) {
                    out.push(c.clone());
                }
            }
            Some(originals) => {
                for o in originals {
                    if seen.insert(o.sha.clone()) {
                        out.push(Commit {
                            sha: o.sha.clone(),
                            authored_at: o.authored_at.timestamp(),
                            committed_at: o.committed_at.timestamp(),
                            parents: 1,
                            signals: Default::default(),
                        });
                    }
                }
            }
        }
    }
    out
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::{Access, SqliteStore, Store};

    fn original(sha: &str, t: i64) -> OriginalCommit {
        OriginalCommit {
            sha: sha.into(),
            authored_at: Utc.timestamp_opt(t, 0).unwrap(),
            committed_at: Utc.timestamp_opt(t + 60, 0).unwrap(),
        }
    }

    fn commit(sha: &str, t: i64) -> Commit {
        Commit {
            sha: sha.into(),
            authored_at: t,
            committed_at: t,
            parents: 1,
            signals: Default::default(),
        }
    }

    #[test]
    fn a_squash_commit_gives_way_to_its_originals_each_once() {
        let mut squashes = Squashes::default();
        squashes
            .originals
            .insert("s1".into(), vec![original("a", 10), original("b", 20)]);
        // A second squash of the same work (a cherry-picked squash) adds
        // nothing twice.
        squashes
            .originals
            .insert("s2".into(), vec![original("b", 20), original("c", 30)]);
        let out = expand(
            &[commit("x", 100), commit("s1", 200), commit("s2", 300)],
            &squashes,
        );
        let got: Vec<(&str, i64, i64)> = out
            .iter()
            .map(|c| (c.sha.as_str(), c.authored_at, c.committed_at))
            .collect();
        assert_eq!(
            got,
            [("x", 100, 100), ("a", 10, 70), ("b", 20, 80), ("c", 30, 90)]
        );
    }

    /// Every store keeps the cache: replaced by sha, a "no request"
    /// answer kept too, unknown shas left out.
    #[test]
    fn both_stores_cache_a_squash_commits_request() {
        fn check(store: &mut dyn Store) {
            let first = PullCommits {
                sha: "s1".into(),
                forge: "github".into(),
                number: Some(11),
                commits: vec![original("a", 10)],
            };
            let none = PullCommits {
                sha: "s2".into(),
                forge: "gitlab".into(),
                number: None,
                commits: Vec::new(),
            };
            let again = PullCommits {
                commits: vec![original("a", 10), original("b", 20)],
                ..first.clone()
            };
            store
                .write(&mut |tx| {
                    tx.set_pull_commits(&first)?;
                    tx.set_pull_commits(&none)?;
                    tx.set_pull_commits(&again)?;
                    Ok(())
                })
                .unwrap();
            let mut got = Vec::new();
            store
                .read(&mut |tx| {
                    got = tx.pull_commits(&["s2".into(), "s1".into(), "s3".into()])?;
                    Ok(())
                })
                .unwrap();
            got.sort_by(|a, b| a.sha.cmp(&b.sha));
            assert_eq!(got, [again.clone(), none.clone()]);
            // All of it, with the cursors, for `store copy`.
            store
                .write(&mut |tx| Ok(tx.set_cursor("pagerduty x", "2026-01-01T00:00:00Z")?))
                .unwrap();
            let mut state = crate::store::SourcesState::default();
            store
                .read(&mut |tx| {
                    state = tx.sources_state()?;
                    Ok(())
                })
                .unwrap();
            assert_eq!(
                state.cursors,
                [(
                    "pagerduty x".to_string(),
                    "2026-01-01T00:00:00Z".to_string()
                )]
            );
            assert_eq!(state.pull_commits, [again.clone(), none.clone()]);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut sqlite = SqliteStore::open(&dir.path().join("s.db"), Access::ReadWrite).unwrap();
        check(&mut sqlite);
        crate::store::testing::with_postgres_store(check);
    }
}
