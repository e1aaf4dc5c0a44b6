//! `--lead-time-source pr` (SPEC §11): a squash merge's pull or merge
//! request commits are its changes. Real repositories whose squash-merged
//! branches are gone from the CI clone (their commits exist only on the
//! stand-in forge), stand-in GitHub and GitLab APIs answering from the
//! published examples (GitHub's bodies validated against @octokit/openapi),
//! and the expected changes written out from the script, not computed by
//! dorameter.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::forge_backfill::example;
use crate::server::{Reply, Req, Server};
use crate::util::{DAY, Dm, HOUR, MIN, NOW, Repo, rfc};

const TOKEN: &str = "ghs-squash-7c1d";
const GL_TOKEN: &str = "glpat-squash-9e2f";

/// An original commit as the forge keeps it: sha, author and committer times.
#[derive(Clone, Debug)]
struct Original {
    sha: String,
    author: i64,
    committer: i64,
}

/// A commit of `pulls/{n}/commits`, GitHub's example with these values.
fn gh_commit(o: &Original) -> Value {
    let mut c = example("github-pull-commit-example.json");
    c["sha"] = json!(o.sha);
    c["commit"]["author"]["date"] = json!(rfc(o.author));
    c["commit"]["committer"]["date"] = json!(rfc(o.committer));
    c["commit"]["message"] = json!(format!("work {}", &o.sha[..7]));
    c
}

/// A pull request of `commits/{sha}/pulls`, GitHub's example (whose one
/// requested team lacks the `type` its own schema requires: left out, as
/// fixtures/sources/README.md says).
fn gh_pull(number: u64, merge_commit_sha: &str) -> Value {
    let mut p = example("github-pull-request-simple-example.json");
    p["requested_teams"] = json!([]);
    p["number"] = json!(number);
    p["merge_commit_sha"] = json!(merge_commit_sha);
    p["state"] = json!("closed");
    p
}

/// What a stand-in forge holds and what it was asked.
#[derive(Default)]
struct Holds {
    /// Request number → its commits.
    requests: HashMap<u64, Vec<Original>>,
    /// Squash commit → the request that produced it (the lookup by sha).
    produced: HashMap<String, u64>,
    /// Answer every request with this status instead.
    fail_with: Option<u16>,
    /// Commits the forge does not have (never pushed there).
    unknown: Vec<String>,
}

struct Forge {
    server: Server,
    asked: Arc<Mutex<Vec<String>>>,
    /// (kind, body) of every answer, for the schema check.
    served: Arc<Mutex<Vec<(&'static str, String)>>>,
}

impl Forge {
    fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    /// A stand-in GitHub REST API for `acme/api`.
    fn github(holds: Holds) -> Forge {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::new(Mutex::new(Vec::new()));
        let (a, s) = (asked.clone(), served.clone());
        let server = Server::start(move |req: &Req| {
            let path = req.path.split('?').next().unwrap_or("").to_string();
            a.lock().unwrap().push(req.path.clone());
            if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
                return Reply::status(401, r#"{"message":"Bad credentials"}"#);
            }
            if let Some(code) = holds.fail_with {
                return Reply::status(code, r#"{"message":"Server Error"}"#);
            }
            let not_found = || Reply::status(404, r#"{"message":"Not Found"}"#);
            if let Some(n) = path
                .strip_prefix("/repos/acme/api/pulls/")
                .and_then(|p| p.strip_suffix("/commits"))
            {
                let Some(commits) = n.parse().ok().and_then(|n: u64| holds.requests.get(&n)) else {
                    return not_found();
                };
                let all: Vec<Value> = commits.iter().map(gh_commit).collect();
                let (text, headers) = crate::incident_import::github_page(req, &all);
                s.lock().unwrap().push(("pull-commits", text.clone()));
                return Reply::Status(200, headers, text);
            }
            if let Some(sha) = path
                .strip_prefix("/repos/acme/api/commits/")
                .and_then(|p| p.strip_suffix("/pulls"))
            {
                if holds.unknown.iter().any(|u| u == sha) {
                    return Reply::status(
                        422,
                        &format!(r#"{{"message":"No commit found for SHA: {sha}"}}"#),
                    );
                }
                let pulls: Vec<Value> = holds
                    .produced
                    .get(sha)
                    .map(|n| gh_pull(*n, sha))
                    .into_iter()
                    .collect();
                let (text, headers) = crate::incident_import::github_page(req, &pulls);
                s.lock().unwrap().push(("commit-pulls", text.clone()));
                return Reply::Status(200, headers, text);
            }
            not_found()
        });
        Forge {
            server,
            asked,
            served,
        }
    }

    /// A stand-in GitLab API v4 for the project `acme/api`.
    fn gitlab(holds: Holds) -> Forge {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (a, served) = (asked.clone(), Arc::new(Mutex::new(Vec::new())));
        let server = Server::start(move |req: &Req| {
            let path = req.path.split('?').next().unwrap_or("").to_string();
            a.lock().unwrap().push(req.path.clone());
            if req.header("private-token") != Some(GL_TOKEN) {
                return Reply::status(401, r#"{"message":"401 Unauthorized"}"#);
            }
            let json = |v: Value| {
                Reply::Status(
                    200,
                    vec![("content-type".into(), "application/json".into())],
                    v.to_string(),
                )
            };
            let not_found = || Reply::status(404, r#"{"message":"404 Not found"}"#);
            if let Some(n) = path
                .strip_prefix("/api/v4/projects/acme%2Fapi/merge_requests/")
                .and_then(|p| p.strip_suffix("/commits"))
            {
                let Some(commits) = n.parse().ok().and_then(|n: u64| holds.requests.get(&n)) else {
                    return not_found();
                };
                // Newest first, as GitLab lists them.
                let list: Vec<Value> = commits
                    .iter()
                    .rev()
                    .map(|o| {
                        let mut c = example("gitlab-merge-request-commit-example.json");
                        c["id"] = json!(o.sha);
                        c["short_id"] = json!(&o.sha[..11]);
                        c["authored_date"] = json!(rfc(o.author));
                        c["committed_date"] = json!(rfc(o.committer));
                        c["created_at"] = json!(rfc(o.committer));
                        c
                    })
                    .collect();
                return json(json!(list));
            }
            if let Some(sha) = path
                .strip_prefix("/api/v4/projects/acme%2Fapi/repository/commits/")
                .and_then(|p| p.strip_suffix("/merge_requests"))
            {
                if holds.unknown.iter().any(|u| u == sha) {
                    return Reply::status(404, r#"{"message":"404 Commit Not Found"}"#);
                }
                let list: Vec<Value> = holds
                    .produced
                    .get(sha)
                    .map(|n| {
                        let mut m = example("gitlab-merge-request-example.json");
                        m["iid"] = json!(n);
                        m["squash"] = json!(true);
                        m["squash_commit_sha"] = json!(sha);
                        m
                    })
                    .into_iter()
                    .collect();
                return json(json!(list));
            }
            not_found()
        });
        Forge {
            server,
            asked,
            served,
        }
    }
}

/// A clone of `repo`'s main branch as a CI job gets it: only what main
/// reaches, so a deleted branch's commits are not in it.
fn ci_clone(repo: &Repo) -> (tempfile::TempDir, PathBuf) {
    repo.clone_with(&["--single-branch", "--branch", "main"], "ci")
}

/// Squash-merges `branch` into main as one commit with `subject` at `t`.
fn squash(repo: &Repo, branch: &str, subject: &str, t: i64) -> String {
    repo.checkout("main");
    repo.git(&["merge", "-q", "--squash", branch], t);
    repo.git(&["commit", "-q", "-m", subject], t);
    repo.head()
}

fn original(repo: &Repo, sha: &str) -> Original {
    let i = repo.info(sha);
    Original {
        sha: i.sha,
        author: i.author,
        committer: i.committer,
    }
}

/// Made-up commits only the forge has (a long-gone branch).
fn made_up(prefix: u64, n: usize, from: i64) -> Vec<Original> {
    (0..n)
        .map(|i| Original {
            sha: format!("{prefix:08x}{:032x}", i + 1),
            author: from + i as i64 * MIN,
            committer: from + i as i64 * MIN + 30,
        })
        .collect()
}

/// The changes of a deploy's JSON: sha → lead time.
fn changes(v: &Value) -> BTreeMap<String, i64> {
    v["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v:#}"))
        .iter()
        .map(|c| {
            (
                c["sha"].as_str().unwrap().to_string(),
                c["lead_time_seconds"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn expected(commits: &[&Original], finished: i64) -> BTreeMap<String, i64> {
    commits
        .iter()
        .map(|o| (o.sha.clone(), (finished - o.author).max(0)))
        .collect()
}

/// A GitHub Actions job of `acme/api` against the stand-in.
fn github_env(forge: &Forge) -> Vars {
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "1"),
        ("GITHUB_TOKEN", TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([("GITHUB_API_URL".to_string(), forge.url())])
    .collect()
}

/// A job's environment variables.
type Vars = Vec<(String, String)>;

/// A deploy job of the service `api` in the CI clone `ci`, with these
/// variables.
struct Job<'a> {
    dm: &'a Dm,
    ci: &'a Path,
    env: Vars,
}

impl<'a> Job<'a> {
    fn new(dm: &'a Dm, ci: &'a Path, env: Vars) -> Job<'a> {
        Job { dm, ci, env }
    }

    /// `deploy --env ENV --id ENV-N --sha SHA --finished-at T EXTRA…`.
    fn deploy(&self, env: &str, n: u32, sha: &str, t: i64, extra: &[&str]) -> crate::util::Run {
        let out = self
            .dm
            .command(&[
                "deploy",
                "--service",
                "api",
                "--repo",
                &self.ci.display().to_string(),
            ])
            .args(["--env", env, "--id", &format!("{env}-{n}"), "--sha", sha])
            .args(["--finished-at", &rfc(t)])
            .args(extra)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // Each deployment its own CI run (one run's re-run is no
            // other deployment).
            .env("GITHUB_RUN_ID", format!("{env}-{n}"))
            .env("CI_PIPELINE_ID", format!("{env}-{n}"))
            .output()
            .unwrap();
        crate::util::Run::from_output(extra.iter().map(|s| s.to_string()).collect(), out)
    }
}

/// The GitHub history of the tests: what main holds, what only the forge
/// holds, and the expected changes of a deployment of main's head.
struct GitHubHistory {
    work: Repo,
    init: String,
    head: String,
    holds_requests: HashMap<u64, Vec<Original>>,
    produced: HashMap<String, u64>,
    /// The changes with `--lead-time-source pr`, and with git alone.
    pr_changes: Vec<Original>,
    git_changes: Vec<Original>,
}

impl GitHubHistory {
    /// A stand-in GitHub holding this history's pull requests.
    fn forge(&self) -> Forge {
        Forge::github(Holds {
            requests: self.holds_requests.clone(),
            produced: self.produced.clone(),
            fail_with: None,
            unknown: Vec::new(),
        })
    }
}

fn github_history() -> GitHubHistory {
    let t0 = NOW - 10 * DAY;
    let mut work = Repo::new();
    let init = work.commit_at("init", t0);
    // PR #11: three commits over two days, squash-merged on day 3.
    work.checkout_branch("cache");
    let f: Vec<String> = [(DAY + 9 * HOUR), (DAY + 12 * HOUR), (2 * DAY + 10 * HOUR)]
        .iter()
        .enumerate()
        .map(|(i, dt)| work.commit(&format!("cache step {i}"), t0 + dt, t0 + dt + HOUR))
        .collect();
    let s11 = squash(&work, "cache", "Add cache (#11)", t0 + 3 * DAY);
    // A rebase merge: the original commit, authored on day 2.
    let rebased = work.commit("Tidy logging", t0 + 2 * DAY, t0 + 3 * DAY + HOUR);
    // PR #13, whose squash subject names issue #12 (not a pull request).
    work.checkout_branch("typo");
    let g: Vec<String> = [2 * DAY + 8 * HOUR, 2 * DAY + 9 * HOUR]
        .iter()
        .map(|dt| work.commit("typo work", t0 + dt, t0 + dt))
        .collect();
    let s12 = squash(&work, "typo", "Fix typo (#12)", t0 + 3 * DAY + 2 * HOUR);
    // A direct push whose subject names #99, which is no pull request.
    let bump = work.commit_at("Bump deps (#99)", t0 + 3 * DAY + 3 * HOUR);
    // PR #14: 130 commits (two pages), long gone from any clone.
    let big = made_up(0xb16, 130, t0 - 2 * DAY);
    work.commit_at("Rewrite parser (#14)", t0 + 3 * DAY + 4 * HOUR);
    let head = work.head();
    let s14 = head.clone();
    work.git(&["branch", "-D", "cache", "typo"], t0);

    let fo: Vec<Original> = f.iter().map(|s| original(&work, s)).collect();
    let go: Vec<Original> = g.iter().map(|s| original(&work, s)).collect();
    let mut requests = HashMap::new();
    requests.insert(11, fo.clone());
    requests.insert(13, go.clone());
    requests.insert(14, big.clone());
    let mut produced = HashMap::new();
    produced.insert(s12.clone(), 13);

    let rebased_o = original(&work, &rebased);
    let bump_o = original(&work, &bump);
    let mut pr_changes: Vec<Original> = fo.clone();
    pr_changes.push(rebased_o.clone());
    pr_changes.extend(go.iter().cloned());
    pr_changes.push(bump_o.clone());
    pr_changes.extend(big.iter().cloned());
    let git_changes = vec![
        original(&work, &s11),
        rebased_o,
        original(&work, &s12),
        bump_o,
        original(&work, &s14),
    ];
    GitHubHistory {
        work,
        init,
        head,
        holds_requests: requests,
        produced,
        pr_changes,
        git_changes,
    }
}

#[test]
fn squash_merges_count_their_pull_requests_commits_once_asked_then_cached() {
    let h = github_history();
    let (_ci, ci) = ci_clone(&h.work);
    // The squashed branches' commits are not in the CI clone.
    for o in &h.pr_changes[..3] {
        let out = std::process::Command::new("git")
            .args(["-C", &ci.display().to_string(), "cat-file", "-e", &o.sha])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} is in the clone", o.sha);
    }
    let forge = h.forge();
    let dm = Dm::default();
    let job = Job::new(&dm, &ci, github_env(&forge));
    let finished = NOW - 5 * DAY;
    let pr = ["--lead-time-source", "pr"];
    for e in ["production", "staging", "qa"] {
        job.deploy(e, 1, &h.init, finished - DAY, &pr).assert_ok();
    }
    assert!(forge.asked().is_empty(), "a first deployment asks nothing");

    let first = job.deploy(
        "production",
        2,
        &h.head,
        finished,
        &[&pr[..], &["-v"]].concat(),
    );
    let want = expected(&h.pr_changes.iter().collect::<Vec<_>>(), finished);
    assert_eq!(changes(&first.json()), want);
    assert_eq!(want.len(), 3 + 1 + 2 + 1 + 130);
    // One list per pull request named (two pages for 130 commits); a
    // number that is no pull request is looked up by the squash commit.
    let s12 = h.produced.keys().next().unwrap();
    let bump = &h.git_changes[3].sha;
    let mut paths: Vec<String> = forge
        .asked()
        .iter()
        .map(|p| p.split('?').next().unwrap().to_string())
        .collect();
    paths.sort();
    let mut want_paths = vec![
        "/repos/acme/api/pulls/11/commits".to_string(),
        "/repos/acme/api/pulls/12/commits".into(),
        format!("/repos/acme/api/commits/{s12}/pulls"),
        "/repos/acme/api/pulls/13/commits".into(),
        "/repos/acme/api/pulls/99/commits".into(),
        format!("/repos/acme/api/commits/{bump}/pulls"),
        "/repos/acme/api/pulls/14/commits".into(),
        "/repos/acme/api/pulls/14/commits".into(),
    ];
    want_paths.sort();
    assert_eq!(paths, want_paths);
    assert!(
        first
            .stderr
            .contains("4 commits naming a request (0 cached), 8 requests to GitHub"),
        "{first:#?}"
    );

    // Another environment ships the same range: the store's cache answers.
    let before = forge.asked().len();
    let second = job.deploy("staging", 2, &h.head, finished + HOUR, &pr);
    assert_eq!(forge.asked().len(), before, "the second run asks nothing");
    assert_eq!(
        changes(&second.json()),
        expected(&h.pr_changes.iter().collect::<Vec<_>>(), finished + HOUR)
    );

    // --offline with the cache: the same changes, no request.
    let offline = job.deploy(
        "qa",
        2,
        &h.head,
        finished,
        &[&pr[..], &["--offline"]].concat(),
    );
    assert_eq!(changes(&offline.json()), want);
    assert_eq!(forge.asked().len(), before);

    // Git alone (the default) counts each squash commit at merge time.
    let git = Dm::default();
    let job = Job::new(&git, &ci, github_env(&forge));
    job.deploy("production", 1, &h.init, finished - DAY, &[])
        .assert_ok();
    let plain = job.deploy("production", 2, &h.head, finished, &[]);
    assert_eq!(
        changes(&plain.json()),
        expected(&h.git_changes.iter().collect::<Vec<_>>(), finished)
    );
    assert_eq!(forge.asked().len(), before);

    // --offline without a cache: git's answer, said so.
    job.deploy("qa", 1, &h.init, finished - DAY, &[])
        .assert_ok();
    let run = job.deploy(
        "qa",
        2,
        &h.head,
        finished,
        &[&pr[..], &["--offline"]].concat(),
    );
    assert_eq!(changes(&run.json()), changes(&plain.json()));
    assert!(
        run.stderr
            .contains("4 commits naming a pull request count as one change each"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("--offline"), "{run:#?}");

    // What the stand-in served follows GitHub's published schemas.
    let served = forge.served.lock().unwrap().clone();
    crate::incident_import::check_github_bodies(
        &served,
        &[
            (
                "pull-commits",
                "#/paths/~1repos~1{owner}~1{repo}~1pulls~1{pull_number}~1commits/get/responses/200",
            ),
            (
                "commit-pulls",
                "#/paths/~1repos~1{owner}~1{repo}~1commits~1{commit_sha}~1pulls/get/responses/200",
            ),
        ],
    );
}

#[test]
fn a_refusal_records_nothing_and_a_forge_that_is_down_costs_only_the_squashes() {
    let h = github_history();
    let (_ci, ci) = ci_clone(&h.work);
    let finished = NOW - 5 * DAY;
    let forge = Forge::github(Holds::default());
    let dm = Dm::default();
    let with = |change: &dyn Fn(&mut Vars)| {
        let mut env = github_env(&forge);
        change(&mut env);
        Job::new(&dm, &ci, env)
    };
    let pr = ["--lead-time-source", "pr"];
    let set = |k: &'static str, v: &'static str| {
        move |env: &mut Vars| {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
    };

    // No token: exit 2 before anything is recorded.
    let job = with(&|env| env.retain(|(k, _)| k != "GITHUB_TOKEN"));
    job.deploy("production", 1, &h.init, finished - DAY, &[])
        .assert_ok();
    let run = job.deploy("production", 2, &h.head, finished, &pr);
    run.assert_no_panic();
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .contains("--lead-time-source is pr, which needs a GitHub token"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("GITHUB_TOKEN"), "{run:#?}");
    assert_eq!(dm.deployment_count("api"), 1);
    assert!(forge.asked().is_empty());

    // A wrong token: exit 2, the variable named, nothing recorded.
    let run = with(&set("GITHUB_TOKEN", "ghs-wrong-0000")).deploy(
        "production",
        2,
        &h.head,
        finished,
        &pr,
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("HTTP 401"), "{run:#?}");
    assert!(run.stderr.contains("GITHUB_TOKEN"), "{run:#?}");
    assert!(!run.stderr.contains("ghs-wrong-0000"), "{run:#?}");
    assert_eq!(dm.deployment_count("api"), 1);

    // A wrong repository: exit 2, naming it.
    let run = with(&set("GITHUB_REPOSITORY", "acme/nope")).deploy(
        "production",
        2,
        &h.head,
        finished,
        &pr,
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("acme/nope"), "{run:#?}");
    assert_eq!(dm.deployment_count("api"), 1);

    // GitHub down: the deployment is recorded, the squash commits count as
    // themselves, and the first failure stops the questions.
    let down = Forge::github(Holds {
        fail_with: Some(503),
        ..Holds::default()
    });
    let mut env = github_env(&down);
    env.push(("DORAMETER_SINK_RETRIES".into(), "0".into()));
    let run = Job::new(&dm, &ci, env).deploy("production", 2, &h.head, finished, &pr);
    assert_eq!(
        changes(&run.json()),
        expected(&h.git_changes.iter().collect::<Vec<_>>(), finished)
    );
    assert!(
        run.stderr
            .contains("4 commits naming a pull request count as one change each"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("HTTP 503"), "{run:#?}");
    assert_eq!(down.asked().len(), 1, "{:?}", down.asked());

    // A bad value names the flag and its choices.
    dm.run(&[
        "deploy",
        "--repo",
        &ci.display().to_string(),
        "--lead-time-source",
        "squash",
    ])
    .assert_usage_error("--lead-time-source");
    // Outside GitHub Actions and GitLab CI, a clone whose origin is no
    // forge has nothing to ask.
    let run = dm.run(&[
        "deploy",
        "--repo",
        &ci.display().to_string(),
        "--id",
        "x",
        "--sha",
        &h.head,
        "--lead-time-source",
        "pr",
    ]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .contains("no GitHub or GitLab repository to read pull requests from"),
        "{run:#?}"
    );
}

/// GitLab: a squash merged with a merge commit (GitLab's default), a
/// fast-forward squash whose subject names `!8`, and a one-commit merge
/// request merged unsquashed (asked once, counted as itself).
#[test]
fn gitlab_merge_requests_replace_their_squash_commits() {
    let t0 = NOW - 10 * DAY;
    let mut work = Repo::new();
    let init = work.commit_at("init", t0);
    let main_work = work.commit("Main work", t0 + DAY, t0 + 2 * DAY);
    // !7: squashed, then merged with a merge commit.
    work.checkout(&init);
    work.checkout_branch("search-squashed");
    let s7 = work.commit_at("Add search", t0 + 3 * DAY);
    work.checkout("main");
    work.merge(
        "search-squashed",
        "Merge branch 'search' into 'main'\n\nAdd search\n\nSee merge request acme/api!7",
        t0 + 3 * DAY,
    );
    // !8: squashed and fast-forwarded, its reference in the subject.
    let s8 = work.commit_at("Add filters (!8)", t0 + 3 * DAY + HOUR);
    // !9: one commit, merged unsquashed.
    work.checkout_branch("docs");
    let u9 = work.commit("Docs", t0 + 2 * DAY, t0 + 2 * DAY);
    work.checkout("main");
    work.merge(
        "docs",
        "Merge branch 'docs' into 'main'\n\nSee merge request acme/api!9",
        t0 + 3 * DAY + 2 * HOUR,
    );
    // A subject naming !99, which GitLab has never seen (nor the commit).
    let s99 = work.commit_at("Fix typo (!99)", t0 + 3 * DAY + 3 * HOUR);
    let head = work.head();
    work.git(&["branch", "-D", "search-squashed", "docs"], t0);

    let o7 = made_up(0x7, 2, t0 + DAY);
    let o8 = made_up(0x8, 3, t0 + 2 * DAY);
    let mut requests = HashMap::new();
    requests.insert(7, o7.clone());
    requests.insert(8, o8.clone());
    requests.insert(9, vec![original(&work, &u9)]);
    let forge = Forge::gitlab(Holds {
        requests,
        unknown: vec![s99.clone()],
        ..Holds::default()
    });
    let (_ci, ci) = ci_clone(&work);
    let env: Vec<(String, String)> = [
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_PATH", "acme/api"),
        ("CI_PROJECT_NAME", "api"),
        ("CI_SERVER_URL", "https://gitlab.example.com"),
        ("CI_PIPELINE_ID", "1"),
        ("CI_JOB_ID", "1"),
        ("DORAMETER_GITLAB_TOKEN", GL_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        "CI_API_V4_URL".to_string(),
        format!("{}/api/v4", forge.url()),
    )])
    .collect();
    let dm = Dm::default();
    let finished = NOW - 5 * DAY;
    let job = Job::new(&dm, &ci, env);
    job.deploy("production", 1, &init, finished - DAY, &[])
        .assert_ok();
    let run = job.deploy(
        "production",
        2,
        &head,
        finished,
        &["--lead-time-source", "pr"],
    );
    run.assert_ok();
    let main_o = original(&work, &main_work);
    let u9_o = original(&work, &u9);
    let s99_o = original(&work, &s99);
    let mut all: Vec<&Original> = vec![&main_o, &u9_o, &s99_o];
    all.extend(o7.iter());
    all.extend(o8.iter());
    assert_eq!(changes(&run.json()), expected(&all, finished));
    assert!(!changes(&run.json()).contains_key(&s7));
    assert!(!changes(&run.json()).contains_key(&s8));
    let mut asked: Vec<String> = forge
        .asked()
        .iter()
        .map(|p| p.split('?').next().unwrap().to_string())
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        [
            "/api/v4/projects/acme%2Fapi/merge_requests/7/commits",
            "/api/v4/projects/acme%2Fapi/merge_requests/8/commits",
            "/api/v4/projects/acme%2Fapi/merge_requests/9/commits",
            "/api/v4/projects/acme%2Fapi/merge_requests/99/commits",
            &format!("/api/v4/projects/acme%2Fapi/repository/commits/{s99}/merge_requests"),
        ]
    );
    // GitLab has no such commit: it counts as itself, with a warning.
    assert!(run.stderr.contains("is not on GitLab"), "{run:#?}");
}

/// The cache is kept with the events: on the git store's ref, a later job
/// in a fresh clone asks the forge nothing for the squash merges an
/// earlier job looked up.
#[test]
fn the_cache_travels_on_the_git_store_ref() {
    let h = github_history();
    let remote_dir = tempfile::tempdir().unwrap();
    let remote = remote_dir.path().join("remote.git");
    let remote_s = remote.display().to_string();
    h.work.git(&["init", "-q", "--bare", &remote_s], NOW);
    h.work.git(
        &[
            "push",
            "-q",
            &format!("file://{remote_s}"),
            "main:refs/heads/main",
        ],
        NOW,
    );
    let clone = |name: &str| {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join(name);
        h.work.git_in(
            dir.path(),
            &[
                "clone",
                "-q",
                &format!("file://{remote_s}"),
                &dest.display().to_string(),
            ],
        );
        (dir, dest)
    };
    let forge = h.forge();
    let env = github_env(&forge);
    let dm = Dm::default();
    let finished = NOW - 5 * DAY;
    let run = |dir: &Path, env_name: &str, n: u32, sha: &str, t: i64| {
        let out = dm
            .raw_command(&["--format", "json", "--store", "git"])
            .args(["deploy", "--service", "api", "--env", env_name])
            .args(["--id", &format!("{env_name}-{n}"), "--sha", sha])
            .args(["--finished-at", &rfc(t), "--lead-time-source", "pr"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(dir)
            .output()
            .unwrap();
        crate::util::Run::from_output(vec![], out)
    };
    let (_a, a) = clone("job-a");
    run(&a, "production", 1, &h.init, finished - DAY).assert_ok();
    let first = run(&a, "production", 2, &h.head, finished);
    let want = expected(&h.pr_changes.iter().collect::<Vec<_>>(), finished);
    assert_eq!(changes(&first.json()), want);
    let asked = forge.asked().len();
    assert_eq!(asked, 8);
    let files = h.work.git_in(
        &remote,
        &["ls-tree", "-r", "--name-only", "refs/dorameter/events"],
    );
    assert_eq!(
        files
            .lines()
            .filter(|f| f.starts_with("pull-commits/"))
            .count(),
        4,
        "{files}"
    );

    let (_b, b) = clone("job-b");
    run(&b, "staging", 1, &h.init, finished - DAY).assert_ok();
    let second = run(&b, "staging", 2, &h.head, finished);
    assert_eq!(changes(&second.json()), want);
    assert_eq!(forge.asked().len(), asked, "the second job asks nothing");
}

/// `backfill --from-tags` counts each release's squash merges' commits,
/// the range of each tag starting at the one before it.
#[test]
fn backfill_counts_each_releases_pull_requests() {
    let h = github_history();
    let s11 = h.git_changes[0].sha.clone();
    let t0 = NOW - 10 * DAY;
    h.work.git(&["tag", "v1", &h.init], t0);
    h.work.git(
        &["tag", "-a", "v2", "-m", "v2", &s11],
        t0 + 3 * DAY + 30 * MIN,
    );
    h.work
        .git(&["tag", "-a", "v3", "-m", "v3", &h.head], t0 + 4 * DAY);
    let (_ci, ci) = h
        .work
        .clone_with(&["--single-branch", "--branch", "main"], "ci");
    let forge = h.forge();
    let env = github_env(&forge);
    let dm = Dm::default();
    let backfill = |env_name: &str| {
        let out = dm
            .command(&["backfill", "--from-tags", "v*", "--service", "api"])
            .args(["--env", env_name, "--repo", &ci.display().to_string()])
            .args(["--lead-time-source", "pr"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        crate::util::Run::from_output(vec![], out).json()
    };
    let v = backfill("production");
    let deployments = v["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 3, "{v:#}");
    let v2_at = t0 + 3 * DAY + 30 * MIN;
    let v3_at = t0 + 4 * DAY;
    let fo: Vec<&Original> = h.pr_changes[..3].iter().collect();
    assert_eq!(changes(&deployments[1]), expected(&fo, v2_at));
    let rest: Vec<&Original> = h.pr_changes[3..].iter().collect();
    assert_eq!(changes(&deployments[2]), expected(&rest, v3_at));
    let asked = forge.asked().len();
    assert_eq!(asked, 8);
    let again = backfill("staging");
    assert_eq!(changes(&again["deployments"][2]), expected(&rest, v3_at));
    assert_eq!(
        forge.asked().len(),
        asked,
        "the cache answers the second backfill"
    );

    // Outside CI, backfill's own --token, --api-url and --repository say
    // where the pull requests are.
    let outside = Dm::default();
    let out = outside
        .command(&["backfill", "--from-tags", "v*", "--service", "api"])
        .args([
            "--repo",
            &ci.display().to_string(),
            "--lead-time-source",
            "pr",
        ])
        .args([
            "--token",
            TOKEN,
            "--api-url",
            &forge.url(),
            "--repository",
            "acme/api",
        ])
        .output()
        .unwrap();
    let v = crate::util::Run::from_output(vec![], out).json();
    assert_eq!(changes(&v["deployments"][2]), expected(&rest, v3_at));
    assert_eq!(forge.asked().len(), asked + 8);
}

/// What a newcomer's walkthrough found, each fixed: the warnings reach the
/// JSON, `--max-commits` bounds the originals too, a redeploy after a
/// rollback keeps its note, a workflow that checks out another repository
/// reads that one's pull requests, a token in the API URL is never shown,
/// `--offline` needs no forge, and `store copy` takes the cache along.
#[test]
fn the_walkthrough_s_findings() {
    let h = github_history();
    let (_ci, ci) = ci_clone(&h.work);
    let forge = h.forge();
    let dm = Dm::default();
    let finished = NOW - 5 * DAY;
    let pr = ["--lead-time-source", "pr"];
    let job = Job::new(&dm, &ci, github_env(&forge));
    job.deploy("production", 1, &h.init, finished - DAY, &[])
        .assert_ok();

    // --max-commits bounds the changes once squashes are expanded.
    let capped = job.deploy(
        "production",
        2,
        &h.head,
        finished,
        &[&pr[..], &["--max-commits", "10", "--dry-run"]].concat(),
    );
    let v = capped.json();
    assert_eq!(v["changes"].as_array().unwrap().len(), 10, "{v:#}");
    assert_eq!(v["truncated"], true);
    assert!(
        capped.stderr.contains("more than 10 changes"),
        "{capped:#?}"
    );

    let first = job.deploy("production", 2, &h.head, finished, &pr);
    let want = expected(&h.pr_changes.iter().collect::<Vec<_>>(), finished);
    assert_eq!(changes(&first.json()), want);
    // A rollback, then the same sha again: nothing new, and said so.
    job.deploy("production", 3, &h.init, finished + HOUR, &pr)
        .assert_ok();
    let again = job
        .deploy("production", 4, &h.head, finished + 2 * HOUR, &pr)
        .json();
    assert_eq!(again["changes"].as_array().unwrap().len(), 0, "{again:#}");
    assert_eq!(again["lead_time_note"], "no_new_changes", "{again:#}");

    // The warnings are in the JSON (and the GitHub output) too.
    let cold = Dm::default();
    let job = Job::new(&cold, &ci, github_env(&forge));
    job.deploy("production", 1, &h.init, finished - DAY, &[])
        .assert_ok();
    let v = job
        .deploy(
            "production",
            2,
            &h.head,
            finished,
            &[&pr[..], &["--offline"]].concat(),
        )
        .json();
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("count as one change each")),
        "{v:#}"
    );
    let unused = job.deploy("production", 3, &h.head, finished, &["--offline"]);
    assert!(
        unused
            .stderr
            .contains("--offline changes nothing without --lead-time-source pr"),
        "{unused:#?}"
    );

    // Outside CI, with no forge known, --offline answers from the cache.
    let out = dm
        .command(&[
            "deploy",
            "--service",
            "api",
            "--repo",
            &ci.display().to_string(),
        ])
        .args(["--env", "dr", "--id", "dr-1", "--sha", &h.init])
        .args(["--finished-at", &rfc(finished - DAY)])
        .output()
        .unwrap();
    crate::util::Run::from_output(vec![], out).assert_ok();
    let out = dm
        .command(&[
            "deploy",
            "--service",
            "api",
            "--repo",
            &ci.display().to_string(),
        ])
        .args(["--env", "dr", "--id", "dr-2", "--sha", &h.head])
        .args([
            "--finished-at",
            &rfc(finished),
            "--lead-time-source",
            "pr",
            "--offline",
        ])
        .output()
        .unwrap();
    let run = crate::util::Run::from_output(vec![], out);
    assert_eq!(changes(&run.json()), want);

    // store copy takes the cache along: --offline on the copy still knows.
    let copy = tempfile::tempdir().unwrap();
    let to = format!("sqlite:{}", copy.path().join("copy.db").display());
    dm.run_raw(&["store", "copy", "--from", &dm.store_url(), "--to", &to])
        .assert_ok();
    let copied = dm.with_store(&to);
    let job = Job::new(&copied, &ci, github_env(&forge));
    let asked = forge.asked().len();
    job.deploy("copied", 1, &h.init, finished - DAY, &[])
        .assert_ok();
    let v = job
        .deploy(
            "copied",
            2,
            &h.head,
            finished,
            &[&pr[..], &["--offline"]].concat(),
        )
        .json();
    assert_eq!(changes(&v), want);
    assert_eq!(forge.asked().len(), asked);

    // A workflow of another repository that checks this one out: the
    // checkout's pull requests are read, and said so.
    h.work.git_in(
        &ci,
        &[
            "remote",
            "set-url",
            "origin",
            "https://github.com/acme/api.git",
        ],
    );
    let other = Dm::default();
    let mut env = github_env(&forge);
    for (k, v) in env.iter_mut() {
        if k == "GITHUB_REPOSITORY" {
            *v = "acme/deploy-config".into();
        }
    }
    let job = Job::new(&other, &ci, env);
    job.deploy("production", 1, &h.init, finished - DAY, &[])
        .assert_ok();
    let run = job.deploy("production", 2, &h.head, finished, &pr);
    assert_eq!(changes(&run.json()), want);
    assert!(
        run.stderr
            .contains("the checkout is acme/api, not GITHUB_REPOSITORY acme/deploy-config"),
        "{run:#?}"
    );

    // A token in the API URL is never shown.
    let mut env = github_env(&forge);
    for (k, v) in env.iter_mut() {
        if k == "GITHUB_API_URL" {
            *v = v.replace("http://", "http://x-access-token:ghs-in-the-url-0000@");
        }
        if k == "GITHUB_REPOSITORY" {
            *v = "acme/nope".into();
        }
    }
    h.work
        .git_in(&ci, &["remote", "set-url", "origin", "/nowhere"]);
    let fresh = Dm::default();
    let job = Job::new(&fresh, &ci, env);
    job.deploy("staging", 1, &h.init, finished - DAY, &[])
        .assert_ok();
    let run = job.deploy("staging", 2, &h.head, finished, &pr);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("acme/nope"), "{run:#?}");
    assert!(!run.stderr.contains("ghs-in-the-url-0000"), "{run:#?}");
}

/// GitHub lists at most 250 commits of a pull request: one that reaches
/// that many is counted as listed, and the user is told.
#[test]
fn a_pull_request_at_github_s_250_commits_is_said_so() {
    let t0 = NOW - 10 * DAY;
    let mut work = Repo::new();
    let init = work.commit_at("init", t0);
    let head = work.commit_at("Giant refactor (#20)", t0 + DAY);
    let mut requests = HashMap::new();
    requests.insert(20, made_up(0x20, 250, t0 - 5 * DAY));
    let forge = Forge::github(Holds {
        requests,
        ..Holds::default()
    });
    let (_ci, ci) = ci_clone(&work);
    let dm = Dm::default();
    let job = Job::new(&dm, &ci, github_env(&forge));
    let finished = NOW - 5 * DAY;
    job.deploy("production", 1, &init, finished - DAY, &[])
        .assert_ok();
    let run = job.deploy(
        "production",
        2,
        &head,
        finished,
        &["--lead-time-source", "pr"],
    );
    let v = run.json();
    assert_eq!(v["changes"].as_array().unwrap().len(), 250);
    assert!(
        run.stderr
            .contains("pull request #20 lists 250 commits, as many as GitHub lists"),
        "{run:#?}"
    );
}
