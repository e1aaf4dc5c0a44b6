//! `dorameter comment` (SPEC §7) against stand-in GitHub and GitLab APIs on
//! 127.0.0.1: one comment created then updated, other users' comments with
//! the same marker never touched, pagination followed, 401/403 handled, and
//! the rendered Markdown inert whatever the test names say.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::server::{Reply, Req, Server};
use super::util::{Dm, NOW, Repo, Run, at, rfc};

const TOKEN: &str = "ghp_s3cretTOKENvalue123";
const MARKER: &str = "<!-- dorameter:api:production -->";
/// The pull request's page the GitHub stand-in's comments live on.
const PR_PAGE: &str = "https://github.example/o/r/pull/7";

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
                let html_url = format!("{PR_PAGE}#issuecomment-{id}");
                Reply::status(201, &json!({ "id": id, "html_url": html_url }).to_string())
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
                let html_url = format!("{PR_PAGE}#issuecomment-{id}");
                Reply::status(200, &json!({ "id": id, "html_url": html_url }).to_string())
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

/// `dorameter ARGS` with this world's store in the default format (what
/// `comment` prints depends on `--format`; `Dm::run` passes `--format json`).
pub(crate) fn plain(dm: &Dm, env: &[(&str, &str)], args: &[&str]) -> Run {
    let store = dm.store_url();
    let out = dm
        .raw_command(&["--store", &store])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run dorameter");
    Run::from_output(args.iter().map(|s| s.to_string()).collect(), out)
}

/// `dorameter ARGS` in a GitHub pull_request run whose API is at `api`.
fn run_gh_at(dm: &Dm, api: &str, extra: &[(&str, &str)], args: &[&str]) -> Run {
    let env = github_env(api);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    plain(dm, &all, args)
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
    let run = plain(&dm, &[], &["comment", "--service", "api"]);
    run.assert_ok();
    assert!(run.stderr.contains("no pull or merge request"), "{run:#?}");
    let run = plain(&dm, &[], &["--strict", "comment", "--service", "api"]);
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
        ("CI_MERGE_REQUEST_PROJECT_URL", "https://gitlab.example/g/p"),
        ("DORAMETER_GITLAB_TOKEN", "glpat-secret"),
    ];
    let args = ["comment", "--service", "api", "--repo", &repo_path];
    // GitLab's note API has no web address: the note's anchor on its MR.
    let run = plain(&dm, &env, &args);
    run.assert_ok();
    assert_eq!(
        run.stdout, "comment created: https://gitlab.example/g/p/-/merge_requests/12#note_3\n",
        "{run:#?}"
    );
    let run = plain(&dm, &env, &args);
    assert_eq!(
        run.stdout, "comment updated: https://gitlab.example/g/p/-/merge_requests/12#note_3\n",
        "{run:#?}"
    );
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
    plain(&dm, &env2, &args).assert_ok();
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
    let run = plain(
        &dm,
        &[],
        &["comment", "--service", "api", "--dry-run", "--junit", &file],
    );
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

/// A report of failing (and errored) tests with these names and messages.
fn failing_file(dir: &Path, tests: &[(&str, &str, &str)]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\n', "&#10;")
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<testsuite name=\"s\">\n<testcase classname=\"c\" name=\"green\"/>\n",
    );
    for (name, kind, message) in tests {
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"{}\"><{kind} message=\"{}\">stack</{kind}></testcase>\n",
            esc(name),
            esc(message)
        ));
    }
    xml.push_str("</testsuite>\n");
    let path = dir.join("failing.xml");
    std::fs::write(&path, xml).unwrap();
    path.display().to_string()
}

/// The comment lists this pipeline's failing tests with the first line of
/// their message (issue 15), inert whatever the names and messages say,
/// collapsed when there are many.
#[test]
fn the_comment_lists_the_failing_tests_with_their_first_message_line() {
    let dm = Dm::default();
    let file = failing_file(
        dm.dir.path(),
        &[
            (
                "checkout total",
                "failure",
                "\n  expected 3 but was 4\n  at Cart.total(Cart.java:42)",
            ),
            (
                "db | pool",
                "error",
                "Connection refused <!-- @org/team ::error::x",
            ),
        ],
    );
    let run = plain(
        &dm,
        &[],
        &["comment", "--service", "api", "--dry-run", "--junit", &file],
    );
    run.assert_ok();
    let body = &run.stdout;
    let section = body
        .split("#### Failing tests in this pipeline")
        .nth(1)
        .and_then(|s| s.split("####").next())
        .unwrap_or_else(|| panic!("{body}"));
    let items: Vec<&str> = section.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(
        items,
        [
            "- c::checkout total (failed): expected 3 but was 4",
            "- c::db \\| pool (errored): Connection refused &lt;\\!\\-\\- @\u{2060}org/team ::error::x",
        ],
        "{section}"
    );
    assert!(!section.contains("<details>"), "{section}");
    assert_eq!(body.matches("<!--").count(), 1, "{body}");

    // Many: collapsed, the first MAX listed, the rest counted.
    let many: Vec<(String, &str, &str)> = (0..60)
        .map(|i| (format!("t{i:02}"), "failure", "boom"))
        .collect();
    let refs: Vec<(&str, &str, &str)> = many.iter().map(|(n, k, m)| (n.as_str(), *k, *m)).collect();
    let file = failing_file(dm.dir.path(), &refs);
    let run = plain(
        &dm,
        &[],
        &["comment", "--service", "api", "--dry-run", "--junit", &file],
    );
    run.assert_ok();
    let section = run
        .stdout
        .split("#### Failing tests in this pipeline")
        .nth(1)
        .and_then(|s| s.split("####").next())
        .unwrap()
        .to_string();
    assert!(
        section.contains("<details><summary>60 failing tests</summary>"),
        "{section}"
    );
    assert!(section.contains("</details>"), "{section}");
    assert!(section.contains("more (see the job log)"), "{section}");

    // All green: said so.
    let file = failing_file(dm.dir.path(), &[]);
    let run = plain(
        &dm,
        &[],
        &["comment", "--service", "api", "--dry-run", "--junit", &file],
    );
    assert!(
        run.stdout
            .contains("#### Failing tests in this pipeline\n\nNone.\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn giant_flaky_list_stays_under_the_limit_with_the_marker() {
    let dm = Dm::default();
    let names: Vec<String> = (0..3000)
        .map(|i| format!("test_{i:05}_{}", "<|>".repeat(60)))
        .collect();
    let file = junit_file(dm.dir.path(), &names);
    let run = plain(
        &dm,
        &[],
        &["comment", "--service", "api", "--dry-run", "--junit", &file],
    );
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
    let run = plain(
        &dm,
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

/// The footer links this CI run's page (issue 15), an anchor with its URL
/// escaped for the attribute; no CI, no link.
#[test]
fn the_footer_links_the_run() {
    let dm = Dm::default();
    let gh = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/api\"><b>x"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "7"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
    ];
    let run = plain(&dm, &gh, &["comment", "--service", "api", "--dry-run"]);
    run.assert_ok();
    let footer = run.stdout.lines().last().unwrap_or("");
    assert!(
        footer.starts_with("<sub>Posted by dorameter · <a href=\"https://github.com/acme/api"),
        "{footer}"
    );
    assert!(
        footer.ends_with("/actions/runs/7\">this run</a></sub>"),
        "{footer}"
    );
    assert!(!footer.contains("<b>"), "{footer}");
    assert_eq!(footer.matches('"').count(), 2, "{footer}");
    let run = plain(&dm, &[], &["comment", "--service", "api", "--dry-run"]);
    assert_eq!(
        run.stdout.lines().last(),
        Some("<sub>Posted by dorameter</sub>")
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
    let run = plain(&dm, &[], &["comment", "--service", "api", "--dry-run"]);
    run.assert_ok();
    let body = &run.stdout;
    assert!(
        body.contains("| Deployment frequency | 0.10/day | ")
            && body.contains("| ▲ better (was 0.03/day) |"),
        "{body}"
    );
    // ISO weeks from Wednesday 03-04 to Friday 04-03: days 10, 20 and 30
    // fall in the second, third and fifth.
    assert!(
        body.contains(
            "Deployments per week, oldest first: `▁██▁█` (0, 1, 1, 0, 1; 3 in the window). \
             Weeks run Monday to Monday (UTC), as in `report --by week`; \
             the first covers only 5 of 7 days and the last only 4 of 7 days."
        ),
        "{body}"
    );
}

/// One scripted service in its own repository and store: successful
/// deployments `(day, lead time in hours)`, failed deploy jobs on `failed`
/// days, and deploy-caused incidents `(day, hours to restore)` an hour after
/// the deployment of that day.
pub(crate) fn scripted(ok: &[(i64, i64)], failed: &[i64], incidents: &[(i64, i64)]) -> (Dm, Repo) {
    let dm = Dm::default();
    let mut repo = Repo::new();
    let mut events: Vec<(i64, Option<i64>)> = ok.iter().map(|&(d, h)| (d, Some(h))).collect();
    events.extend(failed.iter().map(|&d| (d, None)));
    events.sort();
    for (i, (day, lead)) in events.into_iter().enumerate() {
        let t = at(day, 0, 0);
        let sha = repo.commit_at(&format!("change {i}"), t - lead.unwrap_or(1) * 3600);
        let id = format!("d{i}");
        let extra: &[&str] = if lead.is_some() {
            &[]
        } else {
            &["--status", "failure"]
        };
        dm.deploy_at(&repo.path, "api", &id, &sha, t, extra);
    }
    for (i, &(day, hours)) in incidents.iter().enumerate() {
        let (start, end) = (rfc(at(day, 1, 0)), rfc(at(day, 1 + hours, 0)));
        let id = format!("INC-{i}");
        dm.run(&[
            "incident",
            "open",
            "--id",
            &id,
            "--service",
            "api",
            "--cause",
            "deploy",
            "--started-at",
            &start,
            "--resolved-at",
            &end,
        ])
        .assert_ok();
    }
    (dm, repo)
}

/// The table row of `metric` in the comment body.
fn row<'a>(body: &'a str, metric: &str) -> &'a str {
    body.lines()
        .find(|l| l.starts_with(&format!("| {metric} |")))
        .unwrap_or_else(|| panic!("no {metric} row: {body}"))
}

/// The weekly counts the comment prints beside its bars.
pub(crate) fn weekly_counts(body: &str) -> Vec<u64> {
    let line = body
        .lines()
        .find(|l| l.starts_with("Deployments per week"))
        .unwrap_or_else(|| panic!("no weekly line: {body}"));
    let inner = line.split("` (").nth(1).unwrap().split(';').next().unwrap();
    inner.split(", ").map(|n| n.parse().unwrap()).collect()
}

#[test]
fn weekly_bars_count_only_successful_deployments_and_say_which_weeks_are_partial() {
    // "now" is day 33 (Friday 04-03): the 30-day window is [day 3, day 33),
    // cut into ISO weeks: Wednesday 03-04 to Monday 03-09 (5 days), three
    // whole weeks, then Monday 03-30 to the end (4 days). Failed deploy
    // jobs on days 6, 12 and 31 must not count: 8 deployments, not 11.
    let ok = [4, 5, 9, 12, 16, 22, 29, 32].map(|d| (d, 2));
    let (dm, _repo) = scripted(&ok, &[6, 12, 31], &[]);
    let report = dm.report("api", NOW - 30 * 86_400, NOW, &[]);
    let deployments = report["metrics"]["deployment_frequency"]["deployments"]
        .as_u64()
        .unwrap();
    assert_eq!(deployments, 8, "{report}");
    let run = plain(
        &dm,
        &[],
        &[
            "comment",
            "--service",
            "api",
            "--window",
            "30d",
            "--dry-run",
        ],
    );
    run.assert_ok();
    let body = &run.stdout;
    let counts = weekly_counts(body);
    assert_eq!(counts.iter().sum::<u64>(), deployments, "{body}");
    assert_eq!(counts, vec![2, 2, 1, 1, 2], "{body}");
    assert!(
        body.contains("the first covers only 5 of 7 days and the last only 4 of 7 days."),
        "{body}"
    );
    // The bars are `report --by week`'s points over the same window.
    let (since, until) = (rfc(NOW - 30 * 86_400), rfc(NOW));
    let series = dm.json(&[
        "report",
        "--service",
        "api",
        "--since",
        &since,
        "--until",
        &until,
        "--by",
        "week",
    ]);
    let points: Vec<u64> = series[0]["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{series}"))
        .iter()
        .map(|p| {
            p["metrics"]["deployment_frequency"]["deployments"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(points, counts, "{series}");
}

#[test]
fn trend_says_better_or_worse_per_metric_in_both_directions() {
    // The previous window is [day -27, day 3), the current [day 3, day 33).
    // Getting worse: fewer deployments, longer lead times, more failures,
    // slower restores.
    let (dm, _repo) = scripted(
        &[(-20, 1), (-15, 1), (-10, 1), (-5, 1), (10, 24), (20, 24)],
        &[12, 31],
        &[(-15, 1), (10, 5), (20, 5)],
    );
    let body = plain(&dm, &[], &["comment", "--service", "api", "--dry-run"])
        .assert_ok()
        .stdout
        .clone();
    for metric in [
        "Deployment frequency",
        "Lead time for changes",
        "Change failure rate",
        "Time to restore",
    ] {
        let r = row(&body, metric);
        assert!(r.contains("| ▼ worse (was "), "{metric} got worse: {r}");
    }
    assert!(row(&body, "Lead time for changes").contains("▼ worse (was 1.0h)"));
    assert!(row(&body, "Change failure rate").contains("▼ worse (was 25.0%)"));
    assert!(row(&body, "Time to restore").contains("▼ worse (was 1.0h)"));

    // Getting better: the mirror image.
    let (dm, _repo) = scripted(
        &[(-20, 24), (-10, 24), (5, 1), (10, 1), (20, 1), (30, 1)],
        &[6, 31],
        &[(-20, 5), (-10, 5), (10, 1)],
    );
    let body = plain(&dm, &[], &["comment", "--service", "api", "--dry-run"])
        .assert_ok()
        .stdout
        .clone();
    // The arrow is the verdict, whichever way the number moved: more
    // deployments and shorter lead times, restores and fewer failures all
    // point up.
    assert!(row(&body, "Deployment frequency").contains("| ▲ better (was "));
    assert!(row(&body, "Lead time for changes").contains("| ▲ better (was 1.0d) |"));
    assert!(row(&body, "Change failure rate").contains("| ▲ better (was 100.0%) |"));
    assert!(row(&body, "Time to restore").contains("| ▲ better (was 5.0h) |"));
    // Never an arrow for the number's direction a reader must interpret.
    assert!(!body.contains('↑') && !body.contains('↓'), "{body}");
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
    let run = plain(&dm, &[], &["comment", "--service", "api", "--dry-run"]);
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

/// The entries of a `$GITHUB_OUTPUT` file (`name<<DELIMITER` heredocs).
fn step_outputs(path: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no GITHUB_OUTPUT written at {}: {e}", path.display()));
    let mut out = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line.split_once("<<").expect("a heredoc entry");
        let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
        out.insert(name.to_string(), value.join("\n"));
    }
    out
}

/// The outputs `docs/github-action.md` says `comment` sets: the rows of its
/// Outputs table set by `comment` or by every command with a JSON shape.
fn documented_comment_outputs() -> Vec<String> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/github-action.md"),
    )
    .unwrap();
    let table = doc.split("## Outputs").nth(1).unwrap();
    table
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let by = cells[2];
            (by.contains("`comment`") || by.contains("every command"))
                .then(|| cells[1].trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn comment_sets_every_step_output_the_action_doc_promises() {
    let (dm, _repo) = scripted(&[(5, 2), (10, 2), (20, 2)], &[12], &[(10, 1)]);
    let fake = github(Some("dorameter-bot"), 100, None);
    let output = dm.dir.path().join("github_output");
    let output_path = output.display().to_string();
    run_gh(
        &dm,
        &fake,
        &[("GITHUB_OUTPUT", &output_path)],
        &["comment", "--service", "api"],
    )
    .assert_ok();
    let written = step_outputs(&output);
    let promised = documented_comment_outputs();
    assert_eq!(promised.len(), 5, "{promised:?}");
    for name in &promised {
        assert!(written.contains_key(name), "{name} not set: {written:#?}");
    }
    // The bands are the report's, for the same window.
    let report = dm.report("api", NOW - 30 * 86_400, NOW, &[]);
    let m = &report["metrics"];
    for (output, metric) in [
        ("deployment-frequency-level", "deployment_frequency"),
        ("lead-time-level", "lead_time_for_changes"),
        ("change-failure-rate-level", "change_failure_rate"),
        ("time-to-restore-level", "time_to_restore"),
    ] {
        let level = m[metric]["level"].as_str().expect("a level");
        assert_eq!(written[output], level, "{output}: {written:#?}");
    }
    let json: Value = serde_json::from_str(&written["json"]).unwrap();
    assert_eq!(json["action"], "created", "{json}");
    assert_eq!(json["url"], format!("{PR_PAGE}#issuecomment-101"), "{json}");
}

#[test]
fn posted_comment_url_is_printed_on_stdout() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    let run = run_gh(&dm, &fake, &[], &["comment", "--service", "api"]);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        format!("comment created: {PR_PAGE}#issuecomment-101\n"),
        "{run:#?}"
    );
    let run = run_gh(&dm, &fake, &[], &["comment", "--service", "api"]);
    assert_eq!(
        run.stdout,
        format!("comment updated: {PR_PAGE}#issuecomment-101\n"),
        "{run:#?}"
    );
    // A configured format the command cannot print falls back to the URL.
    let run = run_gh(
        &dm,
        &fake,
        &[("DORAMETER_FORMAT", "csv")],
        &["comment", "--service", "api"],
    );
    run.assert_ok();
    assert!(run.stdout.starts_with("comment updated: "), "{run:#?}");
}

#[test]
fn format_json_prints_the_outcome_and_other_formats_are_usage_errors() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    let args = ["--format", "json", "comment", "--service", "api"];
    let created = run_gh(&dm, &fake, &[], &args).json();
    let body = fake.notes()[0].body.clone();
    assert_eq!(created["action"], "created", "{created}");
    assert_eq!(created["url"], format!("{PR_PAGE}#issuecomment-101"));
    assert_eq!(created["id"], 101);
    assert_eq!(created["body_length"], body.len(), "{created}");
    assert_eq!(created["body"], Value::Null);
    assert_eq!(
        (created["service"].as_str(), created["env"].as_str()),
        (Some("api"), Some("production"))
    );
    for key in [
        "deployment_frequency",
        "lead_time_for_changes",
        "change_failure_rate",
        "time_to_restore",
    ] {
        assert!(created["levels"].get(key).is_some(), "{key}: {created}");
    }
    let updated = run_gh(&dm, &fake, &[], &args).json();
    assert_eq!(updated["action"], "updated", "{updated}");
    let mut dry: Vec<&str> = args.to_vec();
    dry.push("--dry-run");
    let dry = plain(&dm, &[], &dry).json();
    assert_eq!(dry["action"], "dry_run", "{dry}");
    assert_eq!(dry["url"], Value::Null);
    assert_eq!(dry["body_length"], dry["body"].as_str().unwrap().len());
    // Not posted (no token): still one JSON document, saying why.
    let not = run_gh(&dm, &fake, &[("GITHUB_TOKEN", "")], &args).json();
    assert_eq!(not["action"], "not_posted", "{not}");
    assert!(not["reason"].as_str().unwrap().contains("token"), "{not}");
    // A format it cannot print, asked for explicitly, is a usage error.
    let run = plain(
        &dm,
        &[],
        &[
            "--format",
            "prometheus",
            "comment",
            "--service",
            "api",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--format prometheus"), "{run:#?}");
}

#[test]
fn junit_matching_nothing_still_posts_the_comment_saying_so() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    let pattern = "no-such/<img src=x>*_@team.xml";
    let run = run_gh(
        &dm,
        &fake,
        &[],
        &["comment", "--service", "api", "--junit", pattern],
    );
    run.assert_ok();
    assert!(
        run.stderr.contains("warning") && run.stderr.contains("no test report matches"),
        "{run:#?}"
    );
    assert!(run.stdout.starts_with("comment created: "), "{run:#?}");
    let notes = fake.notes();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let body = &notes[0].body;
    assert!(
        body.contains(
            "Unknown: no JUnit report matched the given pattern \
             (\"no\\-such/&lt;img src=x&gt;\\*\\_@\u{2060}team.xml\")."
        ),
        "{body}"
    );
    assert!(!body.contains("<img"), "{body}");
}

/// A report of `(name, outcome, seconds)`: outcome `pass`, `fail`, `error`
/// or `skip`.
fn outcomes_file(dir: &Path, file: &str, tests: &[(&str, &str, f64)]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuite name=\"s\">\n");
    for (name, outcome, secs) in tests {
        let body = match *outcome {
            "fail" => "<failure message=\"boom\"/>",
            "error" => "<error message=\"crash\"/>",
            "skip" => "<skipped/>",
            _ => "",
        };
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"{name}\" time=\"{secs}\">{body}</testcase>\n"
        ));
    }
    xml.push_str("</testsuite>\n");
    let path = dir.join(file);
    std::fs::write(&path, xml).unwrap();
    path.display().to_string()
}

/// Issue 15: the pull request flow on a real repository. The base branch's
/// pipeline records its tests for the base commit; the pull request's
/// pipeline records its own, and `junit` (JSON and the job summary) and the
/// comment compare them: the counts with their deltas, newly failing, fixed,
/// removed, added, all computed here from the two reports' contents. When
/// the base branch moved on to a commit with no recorded tests, the merge
/// base's runs are used, and said so.
#[test]
fn pull_request_tests_are_compared_with_the_base_commits_recorded_runs() {
    let dm = Dm::default();
    let mut repo = Repo::new();
    repo.commit_at("old", at(-40, 0, 0));
    let base = repo.commit_at("base", at(-5, 0, 0));
    repo.git(&["checkout", "-q", "-b", "trunk"], at(-5, 0, 0));
    repo.git(&["checkout", "-q", "-b", "feature"], at(-5, 0, 0));
    repo.commit_at("one", at(30, 0, 0));
    let head = repo.commit_at("two", at(31, 0, 0));
    repo.git(&["checkout", "-q", "trunk"], at(31, 0, 0));
    let moved = repo.commit_at("trunk moves on", at(32, 0, 0));
    let repo_path = repo.path.display().to_string();
    let fake = github(Some("dorameter-bot"), 100, None);

    let base_tests: &[(&str, &str, f64)] = &[
        ("a", "pass", 0.1),
        ("b", "pass", 0.2),
        ("c", "fail", 0.3),
        ("d", "pass", 0.1),
        ("e", "skip", 0.0),
        ("f", "error", 0.5),
    ];
    let head_tests: &[(&str, &str, f64)] = &[
        ("a", "pass", 0.1),
        ("b", "fail", 7.5),
        ("c", "pass", 0.4),
        ("e", "skip", 0.0),
        ("f", "error", 12.25),
        ("g", "fail", 0.2),
        ("h", "pass", 3.0),
    ];
    // What the comparison must say, from the two lists alone.
    let outcome_of = |list: &[(&str, &str, f64)], n: &str| {
        list.iter().find(|t| t.0 == n).map(|t| t.1.to_string())
    };
    let failing = |o: &Option<String>| matches!(o.as_deref(), Some("fail" | "error"));
    let mut newly_failing = Vec::new();
    let mut fixed = Vec::new();
    let mut added = 0;
    for (name, _, _) in head_tests {
        let (now, before) = (outcome_of(head_tests, name), outcome_of(base_tests, name));
        added += usize::from(before.is_none());
        if failing(&now) && !failing(&before) {
            newly_failing.push(format!("c::{name}"));
        } else if failing(&before) && now.as_deref() == Some("pass") {
            fixed.push(format!("c::{name}"));
        }
    }
    let removed: Vec<String> = base_tests
        .iter()
        .filter(|t| outcome_of(head_tests, t.0).is_none())
        .map(|t| format!("c::{}", t.0))
        .collect();
    let count = |list: &[(&str, &str, f64)], which: &[&str]| {
        list.iter().filter(|t| which.contains(&t.1)).count() as u64
    };
    let counts = |list: &[(&str, &str, f64)]| {
        json!({
            "tests": list.len(),
            "passed": count(list, &["pass"]),
            "failing": count(list, &["fail", "error"]),
            "skipped": count(list, &["skip"]),
        })
    };
    assert_eq!(
        (newly_failing.len(), fixed.len(), removed.len(), added),
        (2, 1, 1, 2)
    );

    // The base branch's pipeline: a push of the base commit.
    let base_xml = outcomes_file(dm.dir.path(), "base.xml", base_tests);
    let push = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/trunk"),
        ("GITHUB_SHA", base.as_str()),
        ("GITHUB_RUN_ID", "101"),
    ];
    run_gh(
        &dm,
        &fake,
        &push,
        &["junit", &base_xml, "--service", "api", "--repo", &repo_path],
    )
    .assert_ok();

    // The pull request's pipeline.
    let event = |base_sha: &str| {
        let path = dm.dir.path().join(format!("event-{}.json", &base_sha[..7]));
        std::fs::write(
            &path,
            json!({"number": 7, "pull_request": {"number": 7,
                "head": {"sha": head, "ref": "feature", "repo": {"full_name": "o/r"}},
                "base": {"sha": base_sha, "ref": "trunk", "repo": {"full_name": "o/r"}}}})
            .to_string(),
        )
        .unwrap();
        path.display().to_string()
    };
    let head_xml = outcomes_file(dm.dir.path(), "head.xml", head_tests);
    let summary = dm.dir.path().join("summary.md");
    let summary_path = summary.display().to_string();
    let pr_event = event(&base);
    let pr = [
        ("GITHUB_EVENT_PATH", pr_event.as_str()),
        ("GITHUB_SHA", "9999999999999999999999999999999999999999"),
        ("GITHUB_STEP_SUMMARY", summary_path.as_str()),
        ("GITHUB_RUN_ID", "202"),
    ];
    let run = run_gh(
        &dm,
        &fake,
        &pr,
        &[
            "junit",
            &head_xml,
            "--service",
            "api",
            "--repo",
            &repo_path,
            "--format",
            "json",
        ],
    );
    run.assert_ok();
    assert!(!run.stderr.contains("already recorded"), "{run:#?}");
    let v: Value = serde_json::from_str(&run.stdout).expect("json");
    let c = &v["against_base"];
    assert_eq!(c["base_sha"], base.as_str(), "{v}");
    assert_eq!(c["base_from"], "named", "{v}");
    assert_eq!(c["base_runs"], 1, "{v}");
    assert_eq!(c["newly_failing"], json!(newly_failing), "{v}");
    assert_eq!(c["fixed"], json!(fixed), "{v}");
    assert_eq!(c["removed"], json!(removed), "{v}");
    assert_eq!(c["added"], added, "{v}");
    assert_eq!(c["base"], counts(base_tests), "{v}");
    assert_eq!(c["head"], counts(head_tests), "{v}");
    assert_eq!(
        v["slowest"][0],
        json!({"id": "c::f", "seconds": 12.25}),
        "{v}"
    );
    assert_eq!(
        v["slowest"][1],
        json!({"id": "c::b", "seconds": 7.5}),
        "{v}"
    );
    let table = "| This pipeline | 7 | 3 | 3 | 1 |\n| Against the base | +1 | ±0 | +1 | ±0 |";
    let sentence = format!(
        "2 newly failing, 1 fixed, 1 removed, 2 added against the base commit `{}` (1 test run recorded).",
        &base[..12]
    );
    let page = std::fs::read_to_string(&summary).expect("step summary");
    for want in [
        table,
        sentence.as_str(),
        "Newly failing:\n\n- c::b\n- c::g\n",
        "Fixed:\n\n- c::c\n",
        "Removed:\n\n- c::d\n",
        "| c::f | 12.2 s |",
    ] {
        assert!(page.contains(want), "{want}\n{page}");
    }

    // The comment, from the reports and from the runs recorded for the head.
    for junit in [Some(head_xml.as_str()), None] {
        let mut args = vec![
            "comment",
            "--service",
            "api",
            "--dry-run",
            "--repo",
            &repo_path,
        ];
        if let Some(j) = junit {
            args.extend(["--junit", j]);
        }
        let run = run_gh(&dm, &fake, &pr, &args);
        run.assert_ok();
        for want in [
            table,
            sentence.as_str(),
            "- c::b\n- c::g\n",
            "#### Slowest tests",
        ] {
            assert!(
                run.stdout.contains(want),
                "{junit:?}: {want}\n{}",
                run.stdout
            );
        }
    }

    // The base branch moved on to a commit with no recorded tests: the
    // merge base's runs are compared with, and named.
    let moved_event = event(&moved);
    let run = run_gh(
        &dm,
        &fake,
        &[("GITHUB_EVENT_PATH", moved_event.as_str())],
        &[
            "comment",
            "--service",
            "api",
            "--dry-run",
            "--repo",
            &repo_path,
            "--junit",
            &head_xml,
        ],
    );
    run.assert_ok();
    assert!(
        run.stdout.contains(&format!(
            "2 newly failing, 1 fixed, 1 removed, 2 added against the merge base `{}`",
            &base[..12]
        )),
        "{}",
        run.stdout
    );

    // No repository to find the merge base in: nothing to compare with,
    // and the comment says so.
    let run = run_gh(
        &dm,
        &fake,
        &[("GITHUB_EVENT_PATH", moved_event.as_str())],
        &[
            "comment",
            "--service",
            "api",
            "--dry-run",
            "--junit",
            &head_xml,
        ],
    );
    run.assert_ok();
    assert!(
        run.stdout.contains(&format!(
            "_no test runs of api are recorded for the base commit {} or its merge base: record the base branch's tests with \\`dorameter junit\\` to compare_",
            &moved[..12]
        )),
        "{}",
        run.stdout
    );
}

/// Issue 15: `--comment-mode`. `failures` creates no comment for a green
/// pipeline, then creates one when a test fails; once it exists, a green
/// run updates it (no stale failures). `changes` creates none when the
/// tests equal the base's. `off` posts nothing at all, and the JSON says
/// `skipped`.
#[test]
fn comment_mode_decides_when_a_comment_is_created() {
    let dm = Dm::default();
    let fake = github(Some("dorameter-bot"), 100, None);
    let green = outcomes_file(dm.dir.path(), "green.xml", &[("a", "pass", 0.1)]);
    let red = outcomes_file(dm.dir.path(), "red.xml", &[("a", "fail", 0.1)]);
    let comment = |mode: &str, report: &str| {
        run_gh(
            &dm,
            &fake,
            &[("DORAMETER_COMMENT_MODE", mode)],
            &["comment", "--service", "api", "--junit", report],
        )
    };
    let run = comment("failures", &green);
    run.assert_ok();
    assert!(
        run.stdout.contains("comment not posted (--comment-mode failures: no comment was needed, and there was none to update)"),
        "{run:#?}"
    );
    assert_eq!((fake.count("POST"), fake.count("PATCH")), (0, 0));
    comment("failures", &red).assert_ok();
    assert_eq!((fake.count("POST"), fake.count("PATCH")), (1, 0));
    comment("failures", &green).assert_ok();
    assert_eq!((fake.count("POST"), fake.count("PATCH")), (1, 1));
    let notes = fake.notes();
    assert!(
        notes[0]
            .body
            .contains("#### Failing tests in this pipeline\n\nNone."),
        "{}",
        notes[0].body
    );
    // `off`: not even a lookup.
    let before = fake.count("GET");
    let run = plain(
        &dm,
        &github_env(&fake.server.url(""))
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("DORAMETER_COMMENT_MODE", "off")])
            .collect::<Vec<_>>(),
        &[
            "--format",
            "json",
            "comment",
            "--service",
            "api",
            "--junit",
            &red,
        ],
    );
    run.assert_ok();
    let v: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["action"], "skipped", "{v}");
    assert_eq!(fake.count("GET"), before);
    assert_eq!((fake.count("POST"), fake.count("PATCH")), (1, 1));
    // A typo is a usage error naming the values.
    let run = comment("sometimes", &green);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("give always, changes, failures or off"),
        "{run:#?}"
    );
}
