//! A demo to measure on a first run: a realistic example repository and its
//! recorded history in a new directory. The repository — a month of a small
//! shop service, release tags, a merged branch, a revert and a hotfix — is
//! written with fixed identities and dates relative to `now`, so it needs no
//! git identity and always lands in the default report window. Its history
//! is recorded through the same use cases a pipeline uses: `backfill` from
//! the first releases' tags (the day dorameter was installed), then `deploy`
//! for each later release (a rollback and a hotfix among them) and two
//! `incident`s. Nothing outside the directory is read or written: no sinks,
//! no configured store.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use super::backfill::{self, BackfillRequest};
use super::deploy::{self, DeployRequest};
use super::incident::{self, IncidentRequest};
use crate::event::{self, DeploymentKind, DeploymentStatus, IncidentCause};
use crate::git::{Builder, NewCommit, Person, Repo, SubjectPattern};
use crate::settings::{Origin, defaults};
use crate::store::{self, Access, Store, StoreUrl};
use crate::{Error, Result};

mod script;

use script::{
    Ago, DEPLOY_MINUTES, DemoIncident, FIRST_DAY, Files, HISTORY, INCIDENTS, INSTALLED, Kind,
    RELEASE_BOT, Step,
};

/// The demo's service, also written to its `.dorameter.toml` so commands
/// run in the demo directory measure it.
pub const SERVICE: &str = "shop-api";
/// Where `dorameter demo` creates the demo without an argument.
pub const DEFAULT_DIR: &str = "dorameter-demo";
/// The default branch.
const MAIN: &str = "main";

#[derive(Clone, Debug)]
pub struct DemoRequest {
    /// The directory as the user named it (shown in messages).
    pub dir: PathBuf,
    /// What a relative `dir` is relative to.
    pub cwd: PathBuf,
    pub now: DateTime<Utc>,
}

/// What the demo created.
#[derive(Debug)]
pub struct Demo {
    /// The directory as the user named it.
    pub dir: PathBuf,
    /// The SQLite store the history is recorded in, under `dir` as named.
    pub store: PathBuf,
    pub service: String,
    pub env: String,
    pub commits: usize,
    /// Oldest first.
    pub tags: Vec<String>,
    /// The first day of the history, in days before `now`.
    pub days: i64,
    /// The tags `backfill` recorded as deployments, oldest first.
    pub backfilled: Vec<String>,
    /// The releases `deploy` recorded, oldest first, and how each was classified.
    pub deployed: Vec<(String, DeploymentKind)>,
    pub incidents: Vec<String>,
    /// What the recording use cases warned about (none, unless a rule changed).
    pub warnings: Vec<String>,
}

/// Creates the demo in `req.dir`, which must be absent or empty: a usage
/// error (exit 2) otherwise, before anything is written.
pub fn create(req: &DemoRequest) -> Result<Demo> {
    let dir = req.cwd.join(&req.dir);
    prepare_dir(&dir, &req.dir)?;
    let history = write_history(&dir, req.now)?;
    // The place `dorameter` looks for a store when run in the demo directory.
    let store_path = store::default_store_path(Some(&dir), &dir);
    let mut store = store::open(&StoreUrl::Sqlite(store_path), Access::ReadWrite)?;
    let repo = Repo::discover(&dir)?;
    let mut demo = Demo {
        dir: req.dir.clone(),
        store: store::default_store_path(Some(&req.dir), &req.dir),
        service: SERVICE.into(),
        env: defaults::ENV.into(),
        commits: history.commits,
        tags: history
            .releases
            .iter()
            .filter(|r| r.kind != Kind::Rollback)
            .map(|r| r.version.into())
            .collect(),
        days: FIRST_DAY,
        backfilled: Vec::new(),
        deployed: Vec::new(),
        incidents: Vec::new(),
        warnings: Vec::new(),
    };
    backfill_first_releases(store.as_mut(), &repo, &history, req.now, &mut demo)?;
    deploy_the_rest(store.as_mut(), &repo, &history, req.now, &mut demo)?;
    Ok(demo)
}

/// Day one: dorameter is installed and backfills the releases so far.
fn backfill_first_releases(
    store: &mut dyn Store,
    repo: &Repo,
    history: &History,
    now: DateTime<Utc>,
    demo: &mut Demo,
) -> Result<()> {
    let req = BackfillRequest {
        pattern: "v*".into(),
        exclude: Vec::new(),
        service: SERVICE.into(),
        env: defaults::ENV.into(),
        lead_time_from: defaults::LEAD_TIME_FROM,
        max_commits: defaults::MAX_COMMITS,
        rollforward_subject: Some(SubjectPattern::default_pattern()),
        team: None,
        now,
        dry_run: false,
        paths: None,
    };
    let mut tags = backfill::tags(repo, &req)?;
    // The tags of that day: the deploy job records the later releases.
    tags.tags.retain(|t| {
        history
            .releases
            .iter()
            .any(|r| r.backfilled() && r.version == t.name)
    });
    demo.warnings.extend(tags.warnings.iter().cloned());
    let pasts: Vec<backfill::Past> = tags.tags.iter().map(backfill::Past::of_tag).collect();
    let done = backfill::record(store, repo, &req, &pasts, tags.excluded, &|| {}, None)?;
    demo.warnings.extend(done.warnings);
    demo.backfilled = done
        .deployments
        .iter()
        .filter_map(|(d, _)| d.version.clone())
        .collect();
    Ok(())
}

/// From then on the deploy job records each release, and incidents are
/// opened and resolved as they happen.
fn deploy_the_rest(
    store: &mut dyn Store,
    repo: &Repo,
    history: &History,
    now: DateTime<Utc>,
    demo: &mut Demo,
) -> Result<()> {
    let at = |ago: Ago| now - ago.duration();
    let mut incidents = INCIDENTS.iter().peekable();
    let later = history.releases.iter().filter(|r| !r.backfilled());
    for (n, r) in later.enumerate() {
        while let Some(i) = incidents.next_if(|i| at(i.started) < at(r.finished)) {
            demo.warnings.extend(record_incident(store, repo, i, now)?);
            demo.incidents.push(i.id.into());
        }
        let mut req = DeployRequest {
            id: event::derived_id(&["demo", SERVICE, defaults::ENV, &n.to_string(), r.version]),
            service: SERVICE.into(),
            env: defaults::ENV.into(),
            sha: r.sha.clone(),
            sha_origin: Origin::Derived("the demo's release"),
            previous_sha: None,
            commit_time: None,
            started_at: at(r.finished) - Duration::minutes(DEPLOY_MINUTES),
            finished_at: at(r.finished),
            status: DeploymentStatus::Success,
            rollback: r.kind == Kind::Rollback,
            hotfix: r.kind == Kind::Hotfix,
            lead_time_from: defaults::LEAD_TIME_FROM,
            max_commits: defaults::MAX_COMMITS,
            rollforward_subject: Some(SubjectPattern::default_pattern()),
            repository_url: None,
            version: Some(r.version.into()),
            ref_name: None,
            team: None,
            pipeline_id: None,
            pipeline_url: None,
            deployed_by: Some(r.by.name.into()),
            tags: [("source".to_string(), "demo".to_string())].into(),
            paths: None,
            squashes: Default::default(),
        };
        req.resolve_revisions(Some(repo))?;
        let recorded = deploy::record(store, Some(repo), &req, false)?;
        demo.warnings.extend(recorded.warnings);
        demo.deployed
            .push((r.version.into(), recorded.deployment.kind));
    }
    for i in incidents {
        demo.warnings.extend(record_incident(store, repo, i, now)?);
        demo.incidents.push(i.id.into());
    }
    Ok(())
}

/// Creates `dir` when it does not exist (its parent must); an existing
/// directory must be empty. Nothing else is created or changed.
fn prepare_dir(dir: &Path, shown: &Path) -> Result<()> {
    let shown = shown.display();
    let hint = "give `dorameter demo` a new or empty directory: `dorameter demo my-demo`";
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(Error::usage_hint(
            format!("'{shown}' exists and is not a directory, so the demo cannot be created there"),
            hint,
        )),
        Ok(_) => match std::fs::read_dir(dir).map(|mut e| e.next().is_none()) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::usage_hint(
                format!(
                    "'{shown}' is not empty; the demo creates its repository in a new or empty directory and never writes into an existing one"
                ),
                format!("{hint}, or delete '{shown}' first if it holds an earlier demo"),
            )),
            Err(e) => Err(Error::usage_hint(
                format!("could not read the demo directory '{shown}': {e}"),
                hint,
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(dir).map_err(|e| {
                Error::usage_hint(
                    format!("could not create the demo directory '{shown}': {e}"),
                    format!("{hint}, in a directory that exists and is writable"),
                )
            })
        }
        Err(e) => Err(Error::usage_hint(
            format!("could not use '{shown}' for the demo: {e}"),
            hint,
        )),
    }
}

/// A release as written: its commit, and when it was deployed.
struct Release {
    version: &'static str,
    sha: String,
    finished: Ago,
    by: Person,
    kind: Kind,
}

impl Release {
    /// Deployed before dorameter was installed: backfilled from its tag.
    fn backfilled(&self) -> bool {
        self.finished.duration() > INSTALLED.duration()
    }
}

/// The written repository.
struct History {
    commits: usize,
    releases: Vec<Release>,
}

/// Writes the demo repository into `dir` and checks out main.
fn write_history(dir: &Path, now: DateTime<Utc>) -> Result<History> {
    let mut w = Writer {
        git: Builder::init(dir, MAIN)?,
        now,
        commits: 0,
        heads: HashMap::new(),
        by_subject: HashMap::new(),
    };
    let mut releases: Vec<Release> = Vec::new();
    for step in HISTORY {
        match *step {
            Step::Commit {
                branch,
                at,
                by,
                message,
                files,
            } => w.commit(branch, at, by, message, files)?,
            Step::Revert {
                subject,
                at,
                by,
                files,
            } => {
                let sha = w.by_subject.get(subject).cloned().ok_or_else(|| {
                    Error::internal(format!(
                        "the demo reverts '{subject}', which it never wrote"
                    ))
                })?;
                let message = format!("Revert \"{subject}\"\n\nThis reverts commit {sha}.\n");
                w.commit(MAIN, at, by, &message, files)?
            }
            Step::Merge { branch, at, by } => w.merge(branch, at, by)?,
            Step::Release {
                version,
                at,
                by,
                kind,
            } => {
                let sha = match kind {
                    Kind::Rollback => releases
                        .iter()
                        .find(|r| r.version == version)
                        .map(|r| r.sha.clone()),
                    _ => w.heads.get(MAIN).map(|(sha, _)| sha.clone()),
                }
                .ok_or_else(|| {
                    Error::internal(format!("the demo releases {version} before writing it"))
                })?;
                if kind != Kind::Rollback {
                    let message = format!("shop-api {}", version.trim_start_matches('v'));
                    w.git
                        .tag(version, &sha, RELEASE_BOT, now - at.duration(), &message)?;
                }
                releases.push(Release {
                    version,
                    sha,
                    finished: at,
                    by,
                    kind,
                });
            }
        }
    }
    w.git.checkout(MAIN)?;
    Ok(History {
        commits: w.commits,
        releases,
    })
}

/// The files of each branch as it grows, and the writer.
struct Writer {
    git: Builder,
    now: DateTime<Utc>,
    commits: usize,
    /// Each branch's tip and files.
    heads: HashMap<&'static str, (String, BTreeMap<String, String>)>,
    /// Commit subjects and shas, for reverts.
    by_subject: HashMap<String, String>,
}

impl Writer {
    /// Commits on `branch` (new: from the tip of main), setting `files`.
    fn commit(
        &mut self,
        branch: &'static str,
        at: Ago,
        by: Person,
        message: &str,
        files: Files,
    ) -> Result<()> {
        let (parent, mut tree) = match self.heads.get(branch) {
            Some(head) => head.clone(),
            None => self.heads.get(MAIN).cloned().unwrap_or_default(),
        };
        for &(path, content) in files {
            match content {
                "" => tree.remove(path),
                c => tree.insert(path.to_string(), c.to_string()),
            };
        }
        let parents: Vec<&str> = [parent.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        self.write(branch, &parents, tree, at, by, message)
    }

    /// Merges `branch` into main (no conflicts: they changed different files).
    fn merge(&mut self, branch: &'static str, at: Ago, by: Person) -> Result<()> {
        let (ours, mut tree) = self.heads.get(MAIN).cloned().unwrap_or_default();
        let (theirs, their_tree) = self.heads.get(branch).cloned().unwrap_or_default();
        tree.extend(their_tree);
        let message = format!("Merge branch '{branch}'");
        self.write(MAIN, &[&ours, &theirs], tree, at, by, &message)
    }

    fn write(
        &mut self,
        branch: &'static str,
        parents: &[&str],
        tree: BTreeMap<String, String>,
        at: Ago,
        by: Person,
        message: &str,
    ) -> Result<()> {
        let authored_at = self.now - at.duration();
        let sha = self.git.commit(
            branch,
            &NewCommit {
                parents,
                files: &tree,
                message,
                author: by,
                authored_at,
                // Committed a few minutes after it was written: a rebase,
                // an amend, a push.
                committed_at: authored_at + Duration::minutes(4),
            },
        )?;
        self.commits += 1;
        let subject = message.lines().next().unwrap_or_default();
        self.by_subject.insert(subject.to_string(), sha.clone());
        self.heads.insert(branch, (sha, tree));
        Ok(())
    }
}

/// Opens the incident when it is detected, then resolves it: two calls, as
/// on-call would make them.
fn record_incident(
    store: &mut dyn Store,
    repo: &Repo,
    i: &DemoIncident,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let at = |ago: Ago| now - ago.duration();
    let open = IncidentRequest {
        id: i.id.into(),
        services: vec![SERVICE.into()],
        env: Some(defaults::ENV.into()),
        started_at: Some(at(i.started)),
        detected_at: Some(at(i.detected)),
        severity: Some(i.severity.into()),
        title: Some(i.title.into()),
        cause: Some(IncidentCause::Deploy),
        attribution_window: defaults::ATTRIBUTION_WINDOW,
        now,
        ..IncidentRequest::default()
    };
    let mut warnings = incident::record(store, Some(repo), &open)?.warnings;
    let resolve = IncidentRequest {
        id: i.id.into(),
        resolving: true,
        resolved_at: Some(at(i.resolved)),
        attribution_window: defaults::ATTRIBUTION_WINDOW,
        now,
        ..IncidentRequest::default()
    };
    warnings.extend(incident::record(store, Some(repo), &resolve)?.warnings);
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: &Step) -> Ago {
        match *step {
            Step::Commit { at, .. }
            | Step::Revert { at, .. }
            | Step::Merge { at, .. }
            | Step::Release { at, .. } => at,
        }
    }

    #[test]
    fn the_script_runs_forward_inside_the_report_window() {
        let ages: Vec<Duration> = HISTORY.iter().map(|s| at(s).duration()).collect();
        assert!(ages.windows(2).all(|w| w[0] > w[1]), "steps out of order");
        assert_eq!(ages[0], Ago(FIRST_DAY, 6, 0).duration());
        assert!(ages[0] < defaults::WINDOW && *ages.last().unwrap() > Duration::zero());
        let Step::Commit { files, .. } = &HISTORY[0] else {
            panic!("the history starts with a commit");
        };
        let config = files.iter().find(|(p, _)| *p == crate::config::FILE_NAME);
        assert!(config.is_some_and(|(_, c)| c.contains(&format!("service = \"{SERVICE}\""))));
    }

    #[test]
    fn records_the_history_through_backfill_deploy_and_incident() {
        let cwd = tempfile::tempdir().unwrap();
        let req = DemoRequest {
            dir: "demo".into(),
            cwd: cwd.path().to_path_buf(),
            now: DateTime::from_timestamp(1_775_174_400, 0).unwrap(),
        };
        let demo = create(&req).unwrap();
        assert!(demo.warnings.is_empty(), "{:?}", demo.warnings);
        assert_eq!(
            demo.backfilled,
            ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0"]
        );
        let kinds: Vec<(&str, DeploymentKind)> = demo
            .deployed
            .iter()
            .map(|(v, k)| (v.as_str(), *k))
            .collect();
        use DeploymentKind::{Planned, Rollback, Rollforward};
        assert_eq!(
            kinds,
            [
                ("v1.5.0", Planned),
                ("v1.4.0", Rollback),
                ("v1.5.1", Planned),
                ("v1.6.0", Planned),
                ("v1.6.1", Rollforward),
                ("v1.7.0", Planned),
                ("v1.7.1", Rollforward),
                ("v1.8.0", Planned),
                ("v1.8.1", Planned),
            ]
        );
        assert_eq!(demo.incidents, ["INC-101", "INC-102"]);
        assert_eq!((demo.tags.len(), demo.commits), (13, 24));
        assert_eq!(demo.store, Path::new("demo/.dorameter/dorameter.db"));
        assert!(cwd.path().join(&demo.store).is_file());
        // A second time: refused before anything is written.
        let e = create(&req).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::USAGE, "{e}");
    }
}
