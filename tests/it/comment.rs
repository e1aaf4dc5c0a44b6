//! `dorameter comment` (SPEC §7) against stand-in GitHub and GitLab APIs on
//! 127.0.0.1: one comment created then updated, other users' comments with
//! the same marker never touched, pagination followed, 401/403 handled, and
//! the rendered Markdown inert whatever the test names say.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::server::{Reply, Req, Server};
use super::util::{Dm, Repo, Run, at};

const TOKEN: &str = "ghp_s3cretTOKENvalue123";
const MARKER: &str = "<!-- dorameter:api:production -->";

#[derive(Clone, Debug)]
struct Note {
    id: u64,
    author: String,
    body: String,
}

/// A forge's comment list, shared with the server thread.
#[derive(Default)]
struct State {
    notes: Vec<Note>,
    next_id: u64,
}

struct Fake {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl Fake {
    fn notes(&self) -> Vec<Note> {
        self.state.lock().unwrap().notes.clone()
    }

    fn seed(&self, author: &str, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.notes.push(Note {
            id,
            author: author.into(),
            body: body.into(),
        });
        id
    }

    fn count(&self, method: &str) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }
}

fn page_of(path: &str) -> usize {
    path.split(['?', '&'])
        .find_map(|p| p.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

/// A GitHub stand-in. `me`: the login `GET /user` answers (None: 403, as
/// for the Actions token). `page_size`: comments per page. `deny`: a status
/// answered to every comment request.
fn github(me: Option<&'static str>, page_size: usize, deny: Option<u16>) -> Fake {
    let state = Arc::new(Mutex::new(State {
        next_id: 100,
        ..State::default()
    }));
    let st = state.clone();
    let server = Server::start(move |req: &Req| {
        if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return Reply::status(401, r#"{"message":"Bad credentials"}"#);
        }
        if req.path == "/user" {
            return match me {
                Some(login) => Reply::status(200, &json!({ "login": login }).to_string()),
                None => Reply::status(
                    403,
                    r#"{"message":"Resource not accessible by integration"}"#,
                ),
            };
        }
        if let Some(code) = deny {
            return Reply::status(
                code,
                r#"{"message":"Resource not accessible by integration"}"#,
            );
        }
        let mut s = st.lock().unwrap();
        let author = me.unwrap_or("github-actions[bot]");
        match req.method.as_str() {
            "GET" if req.path.starts_with("/repos/o/r/issues/7/comments") => {
                let page = page_of(&req.path);
                let items: Vec<Value> = s
                    .notes
                    .iter()
                    .skip((page - 1) * page_size)
                    .take(page_size)
                    .map(|n| json!({"id": n.id, "body": n.body, "user": {"login": n.author}}))
                    .collect();
                let mut headers = vec![];
                if page * page_size < s.notes.len() {
                    headers.push((
                        "link".to_string(),
                        format!(
                            "</repos/o/r/issues/7/comments?per_page=100&page={}>; rel=\"next\"",
                            page + 1
                        ),
                    ));
                }
                Reply::Status(200, headers, Value::Array(items).to_string())
            }
            "POST" if req.path == "/repos/o/r/issues/7/comments" => {
                s.next_id += 1;
                let id = s.next_id;
                let body = req.json()["body"].as_str().unwrap().to_string();
                s.notes.push(Note {
                    id,
                    author: author.into(),
                    body,
                });
                Reply::status(201, &json!({ "id": id }).to_string())
            }
            "PATCH" => {
                let id: u64 = req
                    .path
                    .strip_prefix("/repos/o/r/issues/comments/")
                    .and_then(|x| x.parse().ok())
                    .expect("comment id");
                let body = req.json()["body"].as_str().unwrap().to_string();
                let Some(n) = s.notes.iter_mut().find(|n| n.id == id) else {
                    return Reply::status(404, "{}");
                };
                assert_eq!(n.author, author, "updated someone else's comment");
                n.body = body;
                Reply::status(200, &json!({ "id": id }).to_string())
            }
            _ => Reply::status(404, r#"{"message":"Not Found"}"#),
        }
    });
    Fake { server, state }
}

fn github_env(api: &str) -> Vec<(String, String)> {
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REF", "refs/pull/7/merge"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("GITHUB_API_URL", api),
        ("GITHUB_TOKEN", TOKEN),
        ("DORAMETER_SINK_BACKOFF", "1ms"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn run_gh(dm: &Dm, fake: &Fake, extra: &[(&str, &str)], args: &[&str]) -> Run {
    run_gh_at(dm, &fake.server.url(""), extra, args)
}

/// `dorameter ARGS` in a GitHub pull_request run whose API is at `api`.
fn run_gh_at(dm: &Dm, api: &str, extra: &[(&str, &str)], args: &[&str]) -> Run {
    let env = github_env(api);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    dm.run_with_env(&all, args)
}

#[test]
fn two_runs_create_then_update_one_comment() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    run_gh(&dm, &fake, &[], &["comment", "--service", "api"]).assert_ok();
    run_gh(&dm, &fake, &[], &["comment", "--service", "api"]).assert_ok();
    let notes = fake.notes();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(notes[0].body.starts_with(MARKER), "{}", notes[0].body);
    assert_eq!((fake.count("POST"), fake.count("PATCH")), (1, 1));
}

#[test]
fn another_users_comment_with_the_marker_is_never_touched() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    let theirs = fake.seed("mallory", &format!("{MARKER}\nfake numbers"));
    run_gh(&dm, &fake, &[], &["comment", "--service", "api"]).assert_ok();
    run_gh(&dm, &fake, &[], &["comment", "--service", "api"]).assert_ok();
    let notes = fake.notes();
    assert_eq!(notes.len(), 2, "{notes:#?}");
    let other = notes.iter().find(|n| n.id == theirs).unwrap();
    assert_eq!(other.body, format!("{MARKER}\nfake numbers"));
    assert!(
        fake.server
            .requests()
            .iter()
            .all(|r| !r.path.ends_with(&format!("/{theirs}")))
    );
}

#[test]
fn actions_token_without_user_access_matches_the_actions_bot() {
    let dm = Dm::default();
    let fake = github(None, 100, None);
    fake.seed("someone", &format!("{MARKER}\nold"));
    let ours = fake.seed("github-actions[bot]", &format!("{MARKER}\nold"));
    run_gh(&dm, &fake, &[], &["comment", "--service", "api"]).assert_ok();
    let notes = fake.notes();
    assert_eq!(notes.len(), 2);
    assert!(
        notes
            .iter()
            .find(|n| n.id == ours)
            .unwrap()
            .body
            .contains("DORA metrics")
    );
    assert!(
        notes
            .iter()
            .find(|n| n.id != ours)
            .unwrap()
            .body
            .ends_with("old")
    );
}

#[test]
fn pagination_is_followed_to_find_our_comment() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 2, None);
    for i in 0..5 {
        fake.seed("someone", &format!("chatter {i}"));
    }
    let ours = fake.seed("dorameter-bot", &format!("{MARKER}\nold"));
    run_gh(&dm, &fake, &[], &["comment", "--service", "api"]).assert_ok();
    assert_eq!(fake.count("POST"), 0);
    assert_eq!(fake.count("PATCH"), 1);
    let pages: Vec<usize> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/comments"))
        .map(|r| page_of(&r.path))
        .collect();
    assert_eq!(pages, vec![1, 2, 3]);
    assert!(
        fake.notes()
            .iter()
            .find(|n| n.id == ours)
            .unwrap()
            .body
            .contains("DORA metrics")
    );
}

#[test]
fn forbidden_fork_token_warns_and_exits_0_or_5_under_strict() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, Some(403));
    let run = run_gh(&dm, &fake, &[], &["comment", "--service", "api"]);
    run.assert_ok();
    assert!(
        run.stderr.contains("warning") && run.stderr.contains("403"),
        "{run:#?}"
    );
    let run = run_gh(
        &dm,
        &fake,
        &[],
        &["--strict", "comment", "--service", "api"],
    );
    run.assert_no_panic();
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(fake.notes().is_empty());
}

#[test]
fn unauthorized_message_never_contains_the_token() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    let bad = "ghp_WRONGtoken987654";
    let run = run_gh(
        &dm,
        &fake,
        &[("GITHUB_TOKEN", bad)],
        &["-v", "--strict", "comment", "--service", "api"],
    );
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(run.stderr.contains("401"), "{run:#?}");
    assert!(
        !run.stderr.contains(bad) && !run.stdout.contains(bad),
        "{run:#?}"
    );
    let run = run_gh(
        &dm,
        &fake,
        &[("GITHUB_TOKEN", bad)],
        &["comment", "--service", "api"],
    );
    run.assert_ok();
    assert!(!run.stderr.contains(bad));
}

#[test]
fn missing_token_or_context_is_a_warning_or_exit_2_under_strict() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    let run = run_gh(
        &dm,
        &fake,
        &[("GITHUB_TOKEN", "")],
        &["comment", "--service", "api"],
    );
    run.assert_ok();
    assert!(run.stderr.contains("GITHUB_TOKEN"), "{run:#?}");
    let run = run_gh(
        &dm,
        &fake,
        &[("GITHUB_TOKEN", "")],
        &["--strict", "comment", "--service", "api"],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    // Outside CI: no pull request.
    let run = dm.run(&["comment", "--service", "api"]);
    run.assert_ok();
    assert!(run.stderr.contains("no pull or merge request"), "{run:#?}");
    let run = dm.run(&["--strict", "comment", "--service", "api"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(fake.server.requests().is_empty());
}

/// A GitLab stand-in: `GET /user` is user 42, notes paginated by 2.
fn gitlab() -> Fake {
    let state = Arc::new(Mutex::new(State::default()));
    let st = state.clone();
    let server = Server::start(move |req: &Req| {
        if req.header("private-token") != Some("glpat-secret") {
            return Reply::status(401, r#"{"message":"401 Unauthorized"}"#);
        }
        let notes = "/api/v4/projects/99/merge_requests/12/notes";
        let mut s = st.lock().unwrap();
        match req.method.as_str() {
            "GET" if req.path == "/api/v4/user" => {
                Reply::status(200, r#"{"id":42,"username":"bot"}"#)
            }
            "GET" if req.path.starts_with(notes) => {
                let page = page_of(&req.path);
                let items: Vec<Value> = s
                    .notes
                    .iter()
                    .skip((page - 1) * 2)
                    .take(2)
                    .map(|n| {
                        let id: u64 = if n.author == "bot" { 42 } else { 7 };
                        json!({"id": n.id, "body": n.body, "author": {"id": id}})
                    })
                    .collect();
                let mut headers = vec![];
                if page * 2 < s.notes.len() {
                    headers.push((
                        "link".to_string(),
                        format!("<{notes}?per_page=100&page={}>; rel=\"next\"", page + 1),
                    ));
                }
                Reply::Status(200, headers, Value::Array(items).to_string())
            }
            "POST" if req.path == notes => {
                s.next_id += 1;
                let id = s.next_id;
                let body = req.json()["body"].as_str().unwrap().to_string();
                s.notes.push(Note {
                    id,
                    author: "bot".into(),
                    body,
                });
                Reply::status(201, &json!({ "id": id }).to_string())
            }
            "PUT" => {
                let id: u64 = req
                    .path
                    .strip_prefix(&format!("{notes}/"))
                    .and_then(|x| x.parse().ok())
                    .expect("note id");
                let body = req.json()["body"].as_str().unwrap().to_string();
                let n = s.notes.iter_mut().find(|n| n.id == id).expect("note");
                assert_eq!(n.author, "bot", "updated someone else's note");
                n.body = body;
                Reply::status(200, &json!({ "id": id }).to_string())
            }
            _ => Reply::status(404, r#"{"message":"404 Not Found"}"#),
        }
    });
    Fake { server, state }
}

#[test]
fn gitlab_note_is_created_then_updated_with_this_changes_commits() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let base = repo.commit_at("base", at(0, 0, 0));
    repo.git(&["checkout", "-q", "-b", "feature"], at(0, 0, 0));
    repo.commit_at("one", at(30, 0, 0));
    let head = repo.commit_at("two", at(31, 0, 0));
    let fake = gitlab();
    fake.seed("someone", &format!("{MARKER}\nnot ours"));
    fake.seed("someone", "chatter");
    let api = fake.server.url("/api/v4");
    let repo_path = repo.path.display().to_string();
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_API_V4_URL", api.as_str()),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_MERGE_REQUEST_IID", "12"),
        ("CI_MERGE_REQUEST_PROJECT_ID", "99"),
        ("CI_PROJECT_PATH", "g/p"),
        ("CI_COMMIT_SHA", head.as_str()),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", head.as_str()),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA", base.as_str()),
        ("DORAMETER_GITLAB_TOKEN", "glpat-secret"),
    ];
    let args = ["comment", "--service", "api", "--repo", &repo_path];
    dm.run_with_env(&env, &args).assert_ok();
    dm.run_with_env(&env, &args).assert_ok();
    let notes = fake.notes();
    assert_eq!(notes.len(), 3, "{notes:#?}");
    assert_eq!(fake.count("POST"), 1);
    assert_eq!(fake.count("PUT"), 1);
    let ours = notes.iter().find(|n| n.author == "bot").unwrap();
    assert!(ours.body.starts_with(MARKER));
    // Two commits; the oldest authored 3 days before "now" (2026-04-03).
    assert!(ours.body.contains("2 commits"), "{}", ours.body);
    assert!(
        ours.body.contains("lead time so far **3.0d**"),
        "{}",
        ours.body
    );
    assert!(notes[0].body.ends_with("not ours"));
    // The GitLab token is also read from GITLAB_TOKEN.
    let mut env2: Vec<(&str, &str)> = env[..env.len() - 1].to_vec();
    env2.push(("GITLAB_TOKEN", "glpat-secret"));
    dm.run_with_env(&env2, &args).assert_ok();
    assert_eq!(fake.count("PUT"), 2);
}

fn junit_file(dir: &Path, names: &[String]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuite name=\"s\">\n");
    for n in names {
        let esc = n
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\n', "&#10;");
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"{esc}\"><failure message=\"boom\"/></testcase>\n<testcase classname=\"c\" name=\"{esc}\"/>\n"
        ));
    }
    xml.push_str("</testsuite>\n");
    let path = dir.join("report.xml");
    std::fs::write(&path, xml).unwrap();
    path.display().to_string()
}

#[test]
fn dry_run_markdown_is_inert_with_hostile_test_names() {
    let dm = Dm::default();
    let names: Vec<String> = [
        "a|b|c",
        "x <!-- hidden",
        "close --> <img src=x onerror=alert(1)>",
        "ping @org/team",
        "fixes #123",
        "[click](javascript:x)",
        "::error::forged annotation",
        "line1\nline2\n## heading",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(std::iter::once("z".repeat(10_000)))
    .collect();
    let file = junit_file(dm.dir.path(), &names);
    let run = dm.run(&["comment", "--service", "api", "--dry-run", "--junit", &file]);
    run.assert_ok();
    let body = &run.stdout;
    assert!(body.starts_with(MARKER), "{body}");
    assert_eq!(body.matches("<!--").count(), 1, "{body}");
    assert_eq!(body.matches("-->").count(), 1, "{body}");
    assert!(!body.contains("<img"), "{body}");
    assert!(!body.contains("@org"), "{body}");
    assert!(!body.contains(" #123"), "{body}");
    assert!(!body.contains("](javascript"), "{body}");
    assert!(!body.lines().any(|l| l.starts_with("::")), "{body}");
    assert!(!body.lines().any(|l| l.starts_with("## heading")), "{body}");
    assert!(body.contains("a\\|b\\|c"), "{body}");
    assert!(
        !body.contains(&"z".repeat(1_000)),
        "the long name is shortened"
    );
    // Each flaky test is one list item.
    let section = body.split("#### Flaky tests").nth(1).unwrap();
    assert_eq!(
        section.lines().filter(|l| l.starts_with("- ")).count(),
        9,
        "{section}"
    );
}

#[test]
fn giant_flaky_list_stays_under_the_limit_with_the_marker() {
    let dm = Dm::default();
    let names: Vec<String> = (0..3000)
        .map(|i| format!("test_{i:05}_{}", "<|>".repeat(60)))
        .collect();
    let file = junit_file(dm.dir.path(), &names);
    let run = dm.run(&["comment", "--service", "api", "--dry-run", "--junit", &file]);
    run.assert_ok();
    let body = &run.stdout;
    assert!(body.len() < 65_536, "{}", body.len());
    assert!(body.starts_with(MARKER));
    assert!(body.contains("more (see the job log)"), "{body}");
}

#[test]
fn dry_run_appends_to_the_github_step_summary() {
    let dm = Dm::default();
    let summary = dm.dir.path().join("summary.md");
    std::fs::write(&summary, "before\n").unwrap();
    let run = dm.run_with_env(
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        &["comment", "--service", "api", "--dry-run"],
    );
    run.assert_ok();
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("before\n") && text.contains(MARKER),
        "{text}"
    );
}

#[test]
fn trend_against_the_previous_window_and_weekly_sparkline() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let mut deploy = |id: &str, day: i64| {
        let sha = repo.commit_at(id, at(day, 0, 0) - 3600);
        dm.deploy_at(&repo.path, "api", id, &sha, at(day, 0, 0), &[]);
    };
    // "now" is day 33: the current window is [day 3, day 33), the previous [day -27, day 3).
    deploy("d1", 1);
    deploy("d2", 10);
    deploy("d3", 20);
    deploy("d4", 30);
    let run = dm.run(&["comment", "--service", "api", "--dry-run"]);
    run.assert_ok();
    let body = &run.stdout;
    assert!(
        body.contains("| Deployment frequency | 0.10/day | ") && body.contains("↑ from 0.03/day"),
        "{body}"
    );
    assert!(
        body.contains("Deployments per week: `▁███▁` (3 in the window)"),
        "{body}"
    );
}

/// A report where `c::flaky_one` failed, then passed on a retry (Surefire's
/// `flakyFailure`), beside a plain pass.
fn flaky_report(dir: &Path) -> String {
    let path = dir.join("flaky.xml");
    std::fs::write(
        &path,
        r#"<?xml version="1.0"?>
<testsuite name="s">
  <testcase classname="c" name="flaky_one"><flakyFailure message="timeout"/></testcase>
  <testcase classname="c" name="steady"/>
</testsuite>
"#,
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn without_junit_the_comment_shows_this_commits_recorded_flaky_tests() {
    let dm = Dm::default();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let fake = github(Some("dorameter-bot"), 100, None);
    let report = flaky_report(dm.dir.path());
    // The test job records its run for this commit (sha from the CI).
    run_gh(&dm, &fake, &[], &["junit", &report, "--service", "api"]).assert_ok();
    let run = run_gh(
        &dm,
        &fake,
        &[],
        &["comment", "--service", "api", "--dry-run"],
    );
    run.assert_ok();
    assert!(
        run.stdout
            .contains("#### Flaky tests in this commit's recorded test runs")
            && run
                .stdout
                .contains(r"c::flaky\_one (1 of 2 attempts failed)")
            && !run.stdout.contains("steady"),
        "{}",
        run.stdout
    );
    // Another commit's pipeline: nothing recorded for it.
    let other = "fedcba9876543210fedcba9876543210fedcba98";
    let run = run_gh(
        &dm,
        &fake,
        &[("GITHUB_SHA", other)],
        &["comment", "--service", "api", "--dry-run"],
    );
    assert!(
        run.stdout
            .contains("None in the test runs recorded for this commit."),
        "{}",
        run.stdout
    );
    // Outside CI there is no commit to look up: said so, not "None".
    let run = dm.run(&["comment", "--service", "api", "--dry-run"]);
    run.assert_ok();
    assert!(
        run.stdout.contains("Unknown: no JUnit reports were given"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(sha));
}

#[test]
fn github_pull_request_commits_run_from_the_event_base_sha_to_its_head() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    repo.commit_at("old work", at(-40, 0, 0));
    let base = repo.commit_at("base", at(-5, 0, 0));
    repo.git(&["checkout", "-q", "-b", "feature"], at(-5, 0, 0));
    repo.commit_at("one", at(30, 0, 0));
    repo.commit_at("two", at(31, 0, 0));
    let head = repo.commit_at("three", at(32, 0, 0));
    // GITHUB_SHA of a pull_request event is a merge commit that is not in
    // this clone; the head and base come from the event payload.
    let event = dm.dir.path().join("event.json");
    std::fs::write(
        &event,
        json!({
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": {"sha": head, "ref": "feature", "repo": {"full_name": "o/r"}},
                "base": {"sha": base, "ref": "main", "repo": {"full_name": "o/r"}}
            }
        })
        .to_string(),
    )
    .unwrap();
    let fake = github(Some("dorameter-bot"), 100, None);
    let repo_path = repo.path.display().to_string();
    let event_path = event.display().to_string();
    let run = run_gh(
        &dm,
        &fake,
        &[
            ("GITHUB_EVENT_PATH", &event_path),
            ("GITHUB_SHA", "9999999999999999999999999999999999999999"),
        ],
        &[
            "comment",
            "--service",
            "api",
            "--dry-run",
            "--repo",
            &repo_path,
        ],
    );
    run.assert_ok();
    // Three commits (not "old work" or "base"); the oldest authored on day 30,
    // three days before "now".
    assert!(
        run.stdout.contains("3 commits") && run.stdout.contains("lead time so far **3.0d**"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&head[..12]), "{}", run.stdout);
    assert!(!run.stdout.contains(&base[..7]), "{}", run.stdout);
}

#[test]
fn a_stalled_github_api_times_out_within_the_set_timeout() {
    let dm = Dm::default();
    let server = Server::start(|_req: &Req| Reply::Stall(std::time::Duration::from_secs(5)));
    let api = server.url("");
    let fast = [
        ("DORAMETER_SINK_TIMEOUT", "300ms"),
        ("DORAMETER_SINK_RETRIES", "1"),
    ];
    let start = std::time::Instant::now();
    let run = run_gh_at(&dm, &api, &fast, &["comment", "--service", "api"]);
    let took = start.elapsed();
    run.assert_ok();
    assert!(
        run.stderr.contains("warning") && run.stderr.contains("after 2 attempts"),
        "{run:#?}"
    );
    // One call, two attempts of 300 ms each (GET /user fails for good).
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    assert_eq!(server.requests().len(), 2, "{:#?}", server.requests());
    let run = run_gh_at(
        &dm,
        &api,
        &fast,
        &["--strict", "comment", "--service", "api"],
    );
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(!run.stderr.contains(TOKEN));
}

#[test]
fn github_429_and_5xx_are_retried_then_the_comment_is_created() {
    let dm = Dm::default();
    let failures = Arc::new(Mutex::new(vec![
        Reply::Status(
            429,
            vec![("retry-after".into(), "1".into())],
            r#"{"message":"slow down"}"#.into(),
        ),
        Reply::status(502, "<html>bad gateway</html>"),
    ]));
    let created = Arc::new(Mutex::new(0));
    let (f, c) = (failures.clone(), created.clone());
    let server = Server::start(move |req: &Req| {
        if req.path == "/user" {
            return Reply::status(200, r#"{"login":"dorameter-bot"}"#);
        }
        if req.method == "GET" {
            if let Some(reply) = f.lock().unwrap().pop() {
                return reply;
            }
            return Reply::status(200, "[]");
        }
        assert_eq!(req.method, "POST");
        *c.lock().unwrap() += 1;
        Reply::status(201, r#"{"id": 5}"#)
    });
    let start = std::time::Instant::now();
    let run = run_gh_at(
        &dm,
        &server.url(""),
        &[],
        &["-v", "comment", "--service", "api"],
    );
    run.assert_ok();
    assert!(run.stderr.contains("created comment 5"), "{run:#?}");
    assert_eq!(*created.lock().unwrap(), 1);
    // 502, then 429 with Retry-After: 1, then the list.
    let lists = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/comments"))
        .count();
    assert_eq!(lists, 3);
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));
}

#[test]
fn github_enterprise_api_paths_keep_their_prefix() {
    let dm = Dm::default();
    let server = Server::start(|req: &Req| {
        let Some(path) = req.path.strip_prefix("/api/v3/") else {
            return Reply::status(404, r#"{"message":"Not Found"}"#);
        };
        match (req.method.as_str(), path) {
            ("GET", "user") => Reply::status(200, r#"{"login":"bot"}"#),
            ("GET", p) if p.starts_with("repos/o/r/issues/7/comments") => Reply::status(200, "[]"),
            ("POST", "repos/o/r/issues/7/comments") => Reply::status(201, r#"{"id": 9}"#),
            _ => Reply::status(404, r#"{"message":"Not Found"}"#),
        }
    });
    let run = run_gh_at(
        &dm,
        &server.url("/api/v3"),
        &[],
        &["-v", "--strict", "comment", "--service", "api"],
    );
    run.assert_ok();
    assert!(run.stderr.contains("created comment 9"), "{run:#?}");
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().all(|p| p.starts_with("/api/v3/")), "{paths:?}");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("x-github-api-version") == Some("2022-11-28")),
        "{paths:?}"
    );
}

/// octocrab already sends `X-GitHub-Api-Version`; adding it again made two
/// header lines, which a server reads as `2022-11-28, 2022-11-28`.
#[test]
fn github_requests_carry_one_api_version_header_and_the_json_accept() {
    let dm = Dm::default();
    let fake = github(Some("bot"), 100, None);
    let run = run_gh(
        &dm,
        &fake,
        &[],
        &["--strict", "comment", "--service", "api"],
    );
    run.assert_ok();
    let reqs = fake.server.requests();
    assert!(reqs.len() >= 3, "{reqs:#?}");
    for r in &reqs {
        // The stand-in keeps every header line as received.
        let values = |name: &str| -> Vec<&str> {
            r.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let what = format!("{} {}", r.method, r.path);
        assert_eq!(values("x-github-api-version"), ["2022-11-28"], "{what}");
        assert_eq!(values("accept"), ["application/vnd.github+json"], "{what}");
    }
}

#[test]
fn a_next_page_on_another_origin_is_never_followed() {
    let dm = Dm::default();
    let elsewhere = Server::start(|_req: &Req| Reply::status(200, "[]"));
    let thief = elsewhere.url("/repos/o/r/issues/7/comments?page=2");
    let server = Server::start(move |req: &Req| match req.method.as_str() {
        "GET" if req.path == "/user" => Reply::status(200, r#"{"login":"bot"}"#),
        "GET" => Reply::Status(
            200,
            vec![("link".into(), format!("<{thief}>; rel=\"next\""))],
            r#"[{"id": 1, "body": "chatter", "user": {"login": "someone"}}]"#.into(),
        ),
        _ => Reply::status(201, r#"{"id": 2}"#),
    });
    run_gh_at(&dm, &server.url(""), &[], &["comment", "--service", "api"]).assert_ok();
    assert!(
        elsewhere.requests().is_empty(),
        "the token went to another origin: {:#?}",
        elsewhere.requests()
    );
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );
}
