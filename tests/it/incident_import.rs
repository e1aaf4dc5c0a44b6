//! `incident import` against stand-in PagerDuty, GitHub and GitLab servers on
//! 127.0.0.1 that answer as the published APIs do: PagerDuty's pages are
//! built from its documented example and validated against its OpenAPI
//! document (`fixtures/sources/`), GitHub's against `@octokit/openapi`,
//! GitLab's keep the documented incident's fields. The stand-ins enforce
//! what the real APIs enforce (PagerDuty's six-month range and 10,000
//! offset, the token headers) and rate-limit the first request.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::server::{Reply, Req, Server};
use crate::util::{DAY, Dm, HOUR, NOW, rfc};

pub(crate) const PD_TOKEN: &str = "pd-secret-7f3a";
const GH_TOKEN: &str = "gh-secret-91bc";
const GL_TOKEN: &str = "gl-secret-55de";

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sources")
        .join(name)
        .display()
        .to_string()
}

fn query(req: &Req) -> Vec<(String, String)> {
    let q = req.path.split_once('?').map_or("", |(_, q)| q);
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// One page of `all` as GitHub pages a list: `per_page` (default 30) and
/// `page` from the query, a `Link` to the next page (the same URL with
/// `page` moved on) while there is one. The body and the headers.
pub(crate) fn github_page(req: &Req, all: &[Value]) -> (String, Vec<(String, String)>) {
    let q = query(req);
    let per_page: usize = param(&q, "per_page").map_or(30, |p| p.parse().unwrap());
    let page: usize = param(&q, "page").map_or(1, |p| p.parse().unwrap());
    let items: Vec<&Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if page * per_page < all.len() {
        let mut next = reqwest::Url::parse(&format!(
            "http://{}{}",
            req.header("host").unwrap(),
            req.path
        ))
        .unwrap();
        let kept: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k != "page").collect();
        next.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("page", &(page + 1).to_string());
        headers.push(("link".into(), format!("<{next}>; rel=\"next\"")));
    }
    (json!(items).to_string(), headers)
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

/// Validates the bodies a stand-in served against `pointer` of the OpenAPI
/// document `spec` with `tools/node/openapi-check.mjs`; skipped loudly
/// without the Node tools (required in CI).
pub(crate) fn check_bodies(spec: &str, pointer: &str, bodies: &[String]) {
    let Some((node, dir)) = crate::comment_charts::node_tools(
        "the stand-in's bodies were not checked against the API schema",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        let f = tmp.path().join(format!("{i}.json"));
        std::fs::write(&f, b).unwrap();
        files.push(f);
    }
    let out = std::process::Command::new(node)
        .arg(dir.join("openapi-check.mjs"))
        .arg(spec)
        .arg(pointer)
        .args(&files)
        .output()
        .expect("run node");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bodies do not follow {spec}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("{n} of {n} bodies valid", n = bodies.len())),
        "{text}"
    );
}

/// Validates what a GitHub stand-in served, by kind, against the operation
/// `pointer` of `@octokit/openapi`'s description: each kind must have been
/// served at least once.
pub(crate) fn check_github_bodies(served: &[(&str, String)], kinds: &[(&str, &str)]) {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools/node/node_modules/@octokit/openapi/generated/api.github.com.json")
        .display()
        .to_string();
    for (kind, pointer) in kinds {
        let bodies: Vec<String> = served
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, b)| b.clone())
            .collect();
        assert!(!bodies.is_empty(), "{kind}");
        check_bodies(&spec, pointer, &bodies);
    }
}

// ------------------------------------------------------------- PagerDuty

/// One PagerDuty incident, PagerDuty's documented example with these
/// values (the two fields the example gives against its own schema left
/// out: fixtures/sources/README.md).
pub(crate) fn pd_incident(
    n: u64,
    created: i64,
    service: &str,
    status: &str,
    resolved: Option<i64>,
) -> Value {
    static EXAMPLE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let example = EXAMPLE.get_or_init(|| {
        serde_json::from_str(
            &std::fs::read_to_string(fixture("pagerduty-incidents-example.json")).unwrap(),
        )
        .unwrap()
    });
    let mut i = example["incidents"][0].clone();
    let o = i.as_object_mut().unwrap();
    o.remove("alert_grouping");
    o.remove("resolve_reason");
    let id = format!("Q{n:06}");
    o.insert("id".into(), json!(id));
    o.insert("incident_number".into(), json!(n));
    o.insert("title".into(), json!(format!("Checkout errors #{n}")));
    o.insert(
        "summary".into(),
        json!(format!("[#{n}] Checkout errors #{n}")),
    );
    o.insert("created_at".into(), json!(rfc(created)));
    o.insert("status".into(), json!(status));
    o.insert(
        "service".into(),
        json!({
            "id": service, "type": "service_reference", "summary": format!("Service {service}"),
            "self": format!("https://api.pagerduty.com/services/{service}"),
            "html_url": format!("https://subdomain.pagerduty.com/service-directory/{service}")
        }),
    );
    o.insert(
        "urgency".into(),
        json!(if n % 3 == 0 { "low" } else { "high" }),
    );
    if n % 5 == 0 {
        o.remove("priority");
    }
    let changed = resolved.unwrap_or(created + 60);
    o.insert("updated_at".into(), json!(rfc(changed)));
    o.insert("last_status_change_at".into(), json!(rfc(changed)));
    match resolved {
        // Some resolved incidents carry only last_status_change_at (as
        // older API answers do).
        Some(t) if n % 4 == 0 => {
            o.remove("resolved_at");
            o.insert("last_status_change_at".into(), json!(rfc(t)));
        }
        Some(t) => {
            o.insert("resolved_at".into(), json!(rfc(t)));
        }
        None => {
            o.remove("resolved_at");
        }
    }
    i
}

/// A stand-in PagerDuty REST API v2 `GET /incidents`.
pub(crate) struct PagerDuty {
    server: Server,
    incidents: Arc<Mutex<Vec<Value>>>,
    served: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicUsize>,
}

impl PagerDuty {
    pub(crate) fn start(incidents: Vec<Value>, throttle_first: bool) -> PagerDuty {
        let incidents = Arc::new(Mutex::new(incidents));
        let served = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let throttle = Arc::new(AtomicBool::new(throttle_first));
        let (inc, srv, n) = (incidents.clone(), served.clone(), requests.clone());
        let server = Server::start(move |req| {
            let error = |status: u16, message: &str| {
                Reply::Status(
                    status,
                    vec![("content-type".into(), "application/json".into())],
                    json!({"error": {"message": message, "code": 2001}}).to_string(),
                )
            };
            if req.header("authorization") != Some(&format!("Token token={PD_TOKEN}")) {
                return error(401, &{
                    // As some APIs do: the token echoed, raw and
                    // percent-encoded.
                    let raw = req.header("authorization").unwrap_or("");
                    let encoded: String = raw
                        .bytes()
                        .map(|b| match b {
                            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                                (b as char).to_string()
                            }
                            _ => format!("%{b:02X}"),
                        })
                        .collect();
                    format!("bad token {raw} ({encoded})")
                });
            }
            if req.header("accept") != Some("application/vnd.pagerduty+json;version=2") {
                return error(400, "Accept must name version 2");
            }
            if throttle.swap(false, Ordering::SeqCst) {
                return Reply::Status(429, vec![("retry-after".into(), "1".into())], "{}".into());
            }
            n.fetch_add(1, Ordering::SeqCst);
            assert!(req.path.starts_with("/incidents?"), "{}", req.path);
            let q = query(req);
            let since = time(param(&q, "since").expect("since"));
            let until = time(param(&q, "until").expect("until"));
            if until - since > chrono::Duration::days(183) {
                return error(400, "The range since/until may be at most 6 months");
            }
            assert_eq!(param(&q, "sort_by"), Some("created_at:asc"));
            assert_eq!(param(&q, "time_zone"), Some("UTC"));
            let limit: usize = param(&q, "limit").unwrap().parse().unwrap();
            let offset: usize = param(&q, "offset").unwrap().parse().unwrap();
            if limit > 100 || offset + limit > 10_000 {
                return error(400, "Offset must be less than 10000");
            }
            let services: Vec<&str> = q
                .iter()
                .filter(|(k, _)| k == "service_ids[]")
                .map(|(_, v)| v.as_str())
                .collect();
            let mut all: Vec<Value> = inc
                .lock()
                .unwrap()
                .iter()
                .filter(|i| {
                    let c = time(i["created_at"].as_str().unwrap());
                    c >= since
                        && c < until
                        && (services.is_empty()
                            || services.contains(&i["service"]["id"].as_str().unwrap()))
                })
                .cloned()
                .collect();
            all.sort_by_key(|i| {
                (
                    time(i["created_at"].as_str().unwrap()),
                    i["id"].as_str().unwrap().to_string(),
                )
            });
            let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
            let body = json!({
                "incidents": page, "limit": limit, "offset": offset,
                "more": offset + limit < all.len(), "total": null
            })
            .to_string();
            srv.lock().unwrap().push(body.clone());
            Reply::Status(
                200,
                vec![("content-type".into(), "application/json".into())],
                body,
            )
        });
        PagerDuty {
            server,
            incidents,
            served,
            requests,
        }
    }

    pub(crate) fn url(&self) -> String {
        self.server.url("")
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn check_served(&self) {
        let bodies = self.served.lock().unwrap().clone();
        check_bodies(
            &fixture("pagerduty-incidents-openapi.json"),
            "#/paths/~1incidents/get/responses/200",
            &bodies,
        );
    }
}

/// A recorded incident: services, started, resolved, severity, title, cause.
type Stored = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// The recorded incidents by id.
fn stored(dm: &Dm) -> BTreeMap<String, Stored> {
    let conn = rusqlite::Connection::open(dm.store_path()).unwrap();
    let mut st = conn
        .prepare(
            "SELECT i.id, group_concat(s.service), i.started_at, i.resolved_at, i.severity, i.title, i.cause
             FROM incidents i JOIN incident_services s ON s.incident_seq = i.seq GROUP BY i.id",
        )
        .unwrap();
    let ms = |v: Option<i64>| v.map(|m| rfc(m / 1000));
    st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (
                r.get::<_, String>(1)?,
                ms(r.get::<_, Option<i64>>(2)?).unwrap(),
                ms(r.get::<_, Option<i64>>(3)?),
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
            ),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

const PD_CONFIG: &str = r#"
[[service]]
name = "api"
pagerduty = ["PAPI001"]

[[service]]
name = "web"
pagerduty = ["PWEB001", "PWEB002"]

[incident_import]
severity = { P2 = "sev2", high = "sev1" }
"#;

fn import(dm: &Dm, args: &[&str]) -> crate::util::Run {
    let mut all = vec!["incident", "import", "--from", "pagerduty"];
    all.extend_from_slice(args);
    dm.run_with_env(&[("DORAMETER_PAGERDUTY_TOKEN", PD_TOKEN)], &all)
}

/// What PagerDuty's incident says the store should hold.
fn expected_pd(i: &Value) -> Stored {
    let service = match i["service"]["id"].as_str().unwrap() {
        "PAPI001" => "api",
        _ => "web",
    };
    let resolved = (i["status"] == "resolved").then(|| {
        i["resolved_at"]
            .as_str()
            .or(i["last_status_change_at"].as_str())
            .unwrap()
            .to_string()
    });
    let raw = i["priority"]["summary"]
        .as_str()
        .or(i["urgency"].as_str())
        .unwrap();
    let severity = match raw {
        "P2" => "sev2",
        "high" => "sev1",
        other => other,
    };
    (
        service.into(),
        i["created_at"].as_str().unwrap().into(),
        resolved,
        Some(severity.into()),
        i["title"].as_str().map(str::to_string),
        "unknown".into(),
    )
}

#[test]
fn pagerduty_import_is_incremental_and_follows_the_source() {
    let dm = Dm::default();
    std::fs::write(dm.cwd().join(".dorameter.toml"), PD_CONFIG).unwrap();
    // 260 incidents over 200 days: three mapped services, one not mapped
    // (never asked for); every 17th still open.
    let services = ["PAPI001", "PWEB001", "PWEB002", "POTHER9"];
    let mut incidents = Vec::new();
    for n in 0..260u64 {
        let created = NOW - 200 * DAY + n as i64 * 18 * HOUR;
        let open = n % 17 == 5;
        let resolved = (!open).then_some(created + 3600 + n as i64 * 7);
        let status = if open {
            if n % 2 == 0 {
                "triggered"
            } else {
                "acknowledged"
            }
        } else {
            "resolved"
        };
        incidents.push(pd_incident(
            n,
            created,
            services[n as usize % 4],
            status,
            resolved,
        ));
    }
    let pd = PagerDuty::start(incidents.clone(), true);
    let since = rfc(NOW - 201 * DAY);
    let first = import(&dm, &["--api-url", &pd.url(), "--since", &since]).json();
    let mapped: Vec<&Value> = incidents
        .iter()
        .filter(|i| i["service"]["id"] != "POTHER9")
        .collect();
    let open: Vec<&Value> = mapped
        .iter()
        .copied()
        .filter(|i| i["status"] != "resolved")
        .collect();
    assert_eq!(first["new"], mapped.len(), "{first:#}");
    assert_eq!(first["open"], open.len());
    assert_eq!(
        (first["updated"].as_u64(), first["unchanged"].as_u64()),
        (Some(0), Some(0))
    );
    // 201 days in windows of 90 days: 3 windows; the incidents of each
    // window in pages of 100 (one page when it has fewer).
    let mut expected_requests = 0;
    let mut from = NOW - 201 * DAY;
    while from < NOW {
        let to = (from + 90 * DAY).min(NOW);
        let n = mapped
            .iter()
            .filter(|i| {
                let c = time(i["created_at"].as_str().unwrap()).timestamp();
                c >= from && c < to
            })
            .count();
        expected_requests += n.div_ceil(100).max(1);
        from = to;
    }
    assert_eq!(first["requests"], expected_requests);
    assert_eq!(
        pd.requests(),
        expected_requests,
        "the 429 was retried, not counted"
    );
    // The earliest open incident is where the next import starts.
    let earliest_open = open
        .iter()
        .map(|i| i["created_at"].as_str().unwrap())
        .min()
        .unwrap();
    assert_eq!(first["cursor"], earliest_open);
    let store = stored(&dm);
    assert_eq!(store.len(), mapped.len());
    for i in &mapped {
        let id = format!("pagerduty:{}", i["id"].as_str().unwrap());
        assert_eq!(store[&id], expected_pd(i), "{id}");
    }
    assert!(!store.keys().any(|k| {
        incidents
            .iter()
            .any(|i| i["service"]["id"] == "POTHER9" && k.ends_with(i["id"].as_str().unwrap()))
    }));

    // Rerun: from the cursor; nothing changed.
    let before = pd.requests();
    let second = import(&dm, &["--api-url", &pd.url()]).json();
    let since_cursor = mapped
        .iter()
        .filter(|i| i["created_at"].as_str().unwrap() >= earliest_open)
        .count();
    assert_eq!(
        (second["new"].as_u64(), second["updated"].as_u64()),
        (Some(0), Some(0)),
        "{second:#}"
    );
    assert_eq!(second["unchanged"], since_cursor);
    assert_eq!(second["cursor_before"], earliest_open);
    assert_eq!(
        pd.requests() - before,
        second["requests"].as_u64().unwrap() as usize
    );

    // PagerDuty moves on: every open incident is resolved, one resolved
    // incident is reopened, one is new.
    let reopened_id;
    {
        let mut all = pd.incidents.lock().unwrap();
        for i in all.iter_mut() {
            if i["status"] != "resolved" {
                let created = time(i["created_at"].as_str().unwrap()).timestamp();
                let n = i["incident_number"].as_u64().unwrap();
                *i = pd_incident(
                    n,
                    created,
                    i["service"]["id"].as_str().unwrap(),
                    "resolved",
                    Some(created + 5 * HOUR),
                );
            }
        }
        let last = all
            .iter_mut()
            .rev()
            .find(|i| i["status"] == "resolved" && i["service"]["id"] == "PAPI001")
            .unwrap();
        let created = time(last["created_at"].as_str().unwrap()).timestamp();
        let n = last["incident_number"].as_u64().unwrap();
        reopened_id = format!("pagerduty:{}", last["id"].as_str().unwrap());
        *last = pd_incident(n, created, "PAPI001", "triggered", None);
        all.push(pd_incident(
            999,
            NOW - HOUR,
            "PWEB002",
            "resolved",
            Some(NOW - 30 * 60),
        ));
    }
    let third = import(&dm, &["--api-url", &pd.url()]).json();
    assert_eq!(third["new"], 1, "{third:#}");
    assert_eq!(third["updated"], open.len() + 1);
    let store = stored(&dm);
    assert_eq!(
        store[&reopened_id].2, None,
        "reopened in PagerDuty: open again here"
    );
    for i in pd
        .incidents
        .lock()
        .unwrap()
        .iter()
        .filter(|i| i["service"]["id"] != "POTHER9")
    {
        let id = format!("pagerduty:{}", i["id"].as_str().unwrap());
        assert_eq!(store[&id], expected_pd(i), "{id}");
    }
    // Resolve the reopened one; then nothing is open and nothing is new:
    // the next rerun is one request.
    {
        let mut all = pd.incidents.lock().unwrap();
        let i = all
            .iter_mut()
            .find(|i| format!("pagerduty:{}", i["id"].as_str().unwrap()) == reopened_id)
            .unwrap();
        let created = time(i["created_at"].as_str().unwrap()).timestamp();
        let n = i["incident_number"].as_u64().unwrap();
        *i = pd_incident(n, created, "PAPI001", "resolved", Some(NOW - 10 * 60));
    }
    import(&dm, &["--api-url", &pd.url()]).json();
    let before = pd.requests();
    let quiet = import(&dm, &["--api-url", &pd.url()]).json();
    assert_eq!(pd.requests() - before, 1, "{quiet:#}");
    assert_eq!(
        (quiet["new"].as_u64(), quiet["updated"].as_u64()),
        (Some(0), Some(0))
    );
    pd.check_served();
}

#[test]
fn pagerduty_windows_past_ten_thousand_go_on_from_the_last_creation_time() {
    let dm = Dm::default();
    // 10,150 incidents in one 90-day window: past the API's offset limit.
    let incidents: Vec<Value> = (0..10_150u64)
        .map(|n| {
            let created = NOW - 80 * DAY + n as i64 * 600;
            pd_incident(n, created, "PAPI001", "resolved", Some(created + 300))
        })
        .collect();
    let pd = PagerDuty::start(incidents, false);
    let r = import(
        &dm,
        &[
            "--api-url",
            &pd.url(),
            "--since",
            &rfc(NOW - 81 * DAY),
            "--service",
            "api",
        ],
    )
    .json();
    assert_eq!(r["new"], 10_150, "{r:#}");
    // 100 pages up to the limit, then the rest from the last creation time.
    assert_eq!(r["requests"], 100 + 2);
    assert_eq!(stored(&dm).len(), 10_150);
}

#[test]
fn import_errors_name_what_to_fix_and_never_show_the_token() {
    let dm = Dm::default();
    let pd = PagerDuty::start(vec![], false);
    // No token at all.
    dm.run(&[
        "incident",
        "import",
        "--from",
        "pagerduty",
        "--api-url",
        &pd.url(),
    ])
    .assert_usage_error("--token");
    // A wrong token the server echoes back: refused, and never printed.
    let wrong = "u+wrong/token=3c9d";
    let r = dm.run_with_env(
        &[("DORAMETER_PAGERDUTY_TOKEN", wrong)],
        &[
            "incident",
            "import",
            "--from",
            "pagerduty",
            "--api-url",
            &pd.url(),
        ],
    );
    r.assert_usage_error("token");
    assert!(r.stderr.contains("401"), "{r:#?}");
    assert!(
        !r.stderr.contains(wrong) && !r.stdout.contains(wrong),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("u%2Bwrong%2Ftoken%3D3c9d"), "{r:#?}");
    assert!(
        r.stderr.contains("DORAMETER_PAGERDUTY_TOKEN"),
        "the hint names where the token came from: {r:#?}"
    );
    // A bad --api-url: a usage error, no request.
    for url in ["notaurl", "ftp://api.example.com/"] {
        dm.run_with_env(
            &[("DORAMETER_PAGERDUTY_TOKEN", PD_TOKEN)],
            &[
                "incident",
                "import",
                "--from",
                "pagerduty",
                "--api-url",
                url,
            ],
        )
        .assert_usage_error("--api-url");
    }
    // Mappings that cannot be right.
    for (config, words) in [
        (
            "[[service]]\nname = \"api\"\npagerduty = [\"P1\"]\n[[service]]\nname = \"web\"\npagerduty = [\"P1\"]\n",
            "mapped to 'api' too",
        ),
        (
            "[[service]]\nname = \"api\"\npagerduty = [\"\"]\n",
            "empty PagerDuty service id",
        ),
        (
            "[incident_import]\nseverity = { P1 = \"\" }\n",
            "cannot be empty",
        ),
    ] {
        std::fs::write(dm.cwd().join(".dorameter.toml"), config).unwrap();
        let r = import(&dm, &["--api-url", &pd.url()]);
        r.assert_usage_error(words);
    }
    std::fs::remove_file(dm.cwd().join(".dorameter.toml")).unwrap();
    // A value from the environment is named as such.
    let r = dm.run_with_env(
        &[("DORAMETER_IMPORT_FROM", "jira")],
        &["incident", "import"],
    );
    r.assert_usage_error("DORAMETER_IMPORT_FROM");
    // An unknown source; GitHub without a repository.
    dm.run(&["incident", "import", "--from", "jira"])
        .assert_usage_error("--from");
    dm.run_with_env(
        &[("GITHUB_TOKEN", GH_TOKEN)],
        &["incident", "import", "--from", "github"],
    )
    .assert_usage_error("--repository");
    // None of these created or recorded anything.
    assert!(!dm.store_path().exists(), "no store was created");
}

/// GitHub issues of a repository, imported where no service is named: they
/// are the repository's (not the local clone's remote's), and a 4xx the
/// user must fix is exit 2 naming the repository.
#[test]
fn github_incidents_belong_to_the_repository_read() {
    let dm = Dm::default();
    let issues = Arc::new(Mutex::new(vec![gh_issue(
        1,
        NOW - DAY,
        NOW - DAY,
        None,
        &["incident"],
        "",
        false,
    )]));
    let gh = github(issues, Arc::new(Mutex::new(Vec::new())));
    let env = [("GITHUB_TOKEN", GH_TOKEN)];
    let api = gh.url("");
    let args = [
        "incident",
        "import",
        "--from",
        "github",
        "--api-url",
        &api,
        "--repository",
        "acme/api",
    ];
    let r = dm.run_with_env(&env, &args).json();
    assert_eq!(r["new"], 1, "{r:#}");
    assert_eq!(stored(&dm)["github:acme/api#1"].0, "api");
    // A repository GitHub does not have.
    let r = dm.run_with_env(
        &env,
        &[
            "incident",
            "import",
            "--from",
            "github",
            "--api-url",
            &api,
            "--repository",
            "acme/gone",
        ],
    );
    r.assert_usage_error("acme/gone");
}

/// PagerDuty: the config's `service` is the fallback for unmapped services
/// (after the flag); mapping a service later moves its incidents.
#[test]
fn pagerduty_service_fallback_and_moves() {
    let dm = Dm::default();
    std::fs::write(dm.cwd().join(".dorameter.toml"), "service = \"checkout\"\n").unwrap();
    let pd = PagerDuty::start(
        vec![pd_incident(
            1,
            NOW - 2 * DAY,
            "PAPI001",
            "resolved",
            Some(NOW - DAY),
        )],
        false,
    );
    let since = rfc(NOW - 3 * DAY);
    import(&dm, &["--api-url", &pd.url(), "--since", &since]).json();
    assert_eq!(stored(&dm)["pagerduty:Q000001"].0, "checkout");
    std::fs::write(dm.cwd().join(".dorameter.toml"), PD_CONFIG).unwrap();
    let r = import(&dm, &["--api-url", &pd.url(), "--since", &since]);
    let v = r.json();
    assert_eq!(v["updated"], 1, "{v:#}");
    assert!(
        r.stderr.contains("moved from service 'checkout' to 'api'"),
        "{r:#?}"
    );
    assert_eq!(stored(&dm)["pagerduty:Q000001"].0, "api");
}

#[test]
fn dry_run_records_nothing_and_keeps_the_cursor() {
    let dm = Dm::default();
    std::fs::write(dm.cwd().join(".dorameter.toml"), PD_CONFIG).unwrap();
    let incidents = vec![pd_incident(
        1,
        NOW - 2 * DAY,
        "PAPI001",
        "resolved",
        Some(NOW - DAY),
    )];
    let pd = PagerDuty::start(incidents, false);
    let r = import(&dm, &["--api-url", &pd.url(), "--dry-run"]).json();
    assert_eq!(
        (r["new"].as_u64(), r["dry_run"].as_bool()),
        (Some(1), Some(true)),
        "{r:#}"
    );
    // Each incident as it would be recorded; no store was created.
    assert_eq!(r["incidents"][0]["id"], "pagerduty:Q000001");
    assert_eq!(r["incidents"][0]["action"], "new");
    assert_eq!(r["incidents"][0]["services"], json!(["api"]));
    assert!(!dm.store_path().exists());
    let out = dm
        .raw_command(&[
            "--store",
            &dm.store_url(),
            "incident",
            "import",
            "--from",
            "pagerduty",
        ])
        .args(["--api-url", &pd.url()])
        .env("DORAMETER_PAGERDUTY_TOKEN", PD_TOKEN)
        .output()
        .unwrap();
    let table = crate::util::Run::from_output(vec![], out);
    table.assert_ok();
    assert!(
        table
            .stdout
            .contains("imported 1 PagerDuty incident: 1 new"),
        "{}",
        table.stdout
    );
    // The first real import read the default 90 days, not a dry run's cursor.
    assert_eq!(stored(&dm).len(), 1);
}

// ---------------------------------------------------------------- GitHub

/// A GitHub issue (the example of `@octokit/openapi`, fixtures/sources)
/// with these values; `pr` makes it a pull request.
fn gh_issue(
    n: u64,
    created: i64,
    updated: i64,
    closed: Option<(i64, &str)>,
    labels: &[&str],
    body: &str,
    pr: bool,
) -> Value {
    let mut i: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("github-issue-example.json")).unwrap(),
    )
    .unwrap();
    let o = i.as_object_mut().unwrap();
    if !pr {
        o.remove("pull_request");
    }
    let label = |name: &&str| {
        json!({"id": 1, "node_id": "LA_1", "url": format!("https://api.github.com/repos/acme/api/labels/{name}"),
               "name": name, "description": null, "color": "d73a4a", "default": false})
    };
    o.insert("number".into(), json!(n));
    o.insert("id".into(), json!(1000 + n));
    o.insert("title".into(), json!(format!("Outage {n}")));
    o.insert("body".into(), json!(body));
    o.insert(
        "labels".into(),
        Value::Array(labels.iter().map(label).collect()),
    );
    o.insert("created_at".into(), json!(rfc(created)));
    o.insert("updated_at".into(), json!(rfc(updated)));
    match closed {
        Some((t, reason)) => {
            o.insert("state".into(), json!("closed"));
            o.insert("closed_at".into(), json!(rfc(t)));
            o.insert("state_reason".into(), json!(reason));
        }
        None => {
            o.insert("state".into(), json!("open"));
            o.insert("closed_at".into(), Value::Null);
            o.insert("state_reason".into(), Value::Null);
        }
    }
    i
}

/// A stand-in GitHub `GET /repos/acme/api/issues`: the label filter,
/// `since` on `updated_at`, pages of `per_page` with `Link` headers, and a
/// secondary rate limit (403 with Retry-After) on the first request.
fn github(issues: Arc<Mutex<Vec<Value>>>, served: Arc<Mutex<Vec<String>>>) -> Server {
    let limited = AtomicBool::new(true);
    Server::start(move |req| {
        if req.header("authorization") != Some(&format!("Bearer {GH_TOKEN}")) {
            return Reply::status(401, r#"{"message":"Bad credentials"}"#);
        }
        assert_eq!(req.header("accept"), Some("application/vnd.github+json"));
        if limited.swap(false, Ordering::SeqCst) {
            return Reply::Status(
                403,
                vec![("retry-after".into(), "1".into())],
                r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#.into(),
            );
        }
        let (path, _) = req.path.split_once('?').unwrap();
        if path != "/repos/acme/api/issues" {
            return Reply::status(
                404,
                r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/issues/issues#list-repository-issues","status":"404"}"#,
            );
        }
        let q = query(req);
        assert_eq!(
            (
                param(&q, "state"),
                param(&q, "sort"),
                param(&q, "direction")
            ),
            (Some("all"), Some("updated"), Some("asc"))
        );
        let label = param(&q, "labels").unwrap();
        let since = time(param(&q, "since").unwrap());
        let mut all: Vec<Value> = issues
            .lock()
            .unwrap()
            .iter()
            .filter(|i| {
                i["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["name"] == label)
            })
            .filter(|i| time(i["updated_at"].as_str().unwrap()) >= since)
            .cloned()
            .collect();
        all.sort_by_key(|i| i["updated_at"].as_str().unwrap().to_string());
        assert_eq!(param(&q, "per_page"), Some("100"));
        let (body, headers) = github_page(req, &all);
        served.lock().unwrap().push(body.clone());
        Reply::Status(200, headers, body)
    })
}

#[test]
fn github_issues_with_the_label_are_incidents_linked_by_root_cause() {
    let dm = Dm::default();
    let mut repo = crate::util::Repo::new();
    repo.commit_at("first", NOW - 10 * DAY);
    let culprit = repo.commit_at("cache the cart", NOW - 9 * DAY);
    dm.deploy_at(&repo.path, "api", "d1", &culprit, NOW - 9 * DAY + HOUR, &[]);
    let short = &culprit[..9];
    let mut issues = Vec::new();
    // 230 incidents (three pages), a pull request with the label, an issue
    // closed as not planned, one without the label, and one whose body
    // names the commit that caused it.
    for n in 1..=230u64 {
        let created = NOW - 8 * DAY + n as i64 * 40 * 60;
        let closed = (n % 9 != 0).then_some((created + 2 * HOUR + n as i64, "completed"));
        let labels: &[&str] = if n % 10 == 0 {
            &["incident", "severity::high"]
        } else {
            &["incident"]
        };
        issues.push(gh_issue(
            n,
            created,
            created + 3 * HOUR,
            closed,
            labels,
            "Users see 500s.",
            false,
        ));
    }
    issues.push(gh_issue(
        231,
        NOW - DAY,
        NOW - DAY,
        Some((NOW - DAY + 60, "completed")),
        &["incident"],
        "",
        true,
    ));
    issues.push(gh_issue(
        232,
        NOW - DAY,
        NOW - DAY + 5,
        Some((NOW - DAY + 60, "not_planned")),
        &["incident"],
        "",
        false,
    ));
    issues.push(gh_issue(
        233,
        NOW - DAY,
        NOW - DAY + 6,
        None,
        &["bug"],
        "",
        false,
    ));
    issues.push(gh_issue(
        234,
        NOW - 9 * DAY + 2 * HOUR,
        NOW - DAY + 7,
        Some((NOW - 9 * DAY + 5 * HOUR, "completed")),
        &["incident", "sev1"],
        &format!("Carts empty.\n\nRoot cause: {short}\n"),
        false,
    ));
    let issues = Arc::new(Mutex::new(issues));
    let served = Arc::new(Mutex::new(Vec::new()));
    let gh = github(issues.clone(), served.clone());
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_API_URL", &gh.url("")),
        ("GITHUB_TOKEN", GH_TOKEN),
    ];
    let repo_path = repo.path.display().to_string();
    let args = [
        "incident",
        "import",
        "--from",
        "github",
        "--service",
        "api",
        "--repo",
        &repo_path,
        "--since",
        &rfc(NOW - 30 * DAY),
    ];
    let r = dm.run_with_env(&env, &args).json();
    assert_eq!(r["new"], 231, "{r:#}");
    assert_eq!(
        r["skipped"],
        json!({"a pull request": 1, "closed as not planned": 1})
    );
    assert_eq!(
        r["requests"], 3,
        "233 labelled items in pages of 100, the 403 retried"
    );
    assert_eq!(r["open"], 230 / 9);
    let store = stored(&dm);
    assert_eq!(store.len(), 231);
    let i = &store["github:acme/api#10"];
    assert_eq!((i.0.as_str(), i.3.as_deref()), ("api", Some("high")));
    let linked = &store["github:acme/api#234"];
    assert_eq!(
        (linked.3.as_deref(), linked.5.as_str()),
        (Some("sev1"), "deploy")
    );
    let conn = rusqlite::Connection::open(dm.store_path()).unwrap();
    let (sha, dep): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT deployment_sha, deployment_id FROM incidents WHERE id = 'github:acme/api#234'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // The abbreviated sha resolved in the repository, linked to the
    // deployment that shipped it.
    assert_eq!(
        (sha.as_deref(), dep.as_deref()),
        (Some(culprit.as_str()), Some("d1"))
    );
    // The failure counts against d1: report says so.
    let report = dm.report("api", NOW - 30 * DAY, NOW, &[]);
    assert_eq!(
        report["metrics"]["change_failure_rate"]["failed_deployments"], 1,
        "{report:#}"
    );

    // Rerun: the latest updated issue again (since is inclusive), nothing else.
    let again = dm
        .run_with_env(
            &env,
            &[
                "incident",
                "import",
                "--from",
                "github",
                "--service",
                "api",
                "--repo",
                &repo_path,
            ],
        )
        .json();
    assert_eq!(
        (
            again["new"].as_u64(),
            again["updated"].as_u64(),
            again["requests"].as_u64()
        ),
        (Some(0), Some(0), Some(1)),
        "{again:#}"
    );
    check_bodies(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tools/node/node_modules/@octokit/openapi/generated/api.github.com.json")
            .display()
            .to_string(),
        "#/paths/~1repos~1{owner}~1{repo}~1issues/get/responses/200",
        &served.lock().unwrap(),
    );
}

// ---------------------------------------------------------------- GitLab

fn gl_incident(
    iid: u64,
    created: i64,
    updated: i64,
    closed: Option<i64>,
    severity: &str,
    labels: &[&str],
) -> Value {
    let mut i: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("gitlab-incident-example.json")).unwrap(),
    )
    .unwrap();
    let o = i.as_object_mut().unwrap();
    o.insert("iid".into(), json!(iid));
    o.insert("id".into(), json!(5000 + iid));
    o.insert("title".into(), json!(format!("Payments down {iid}")));
    o.insert("created_at".into(), json!(rfc(created)));
    o.insert("updated_at".into(), json!(rfc(updated)));
    o.insert("severity".into(), json!(severity));
    o.insert("labels".into(), json!(labels));
    o.insert(
        "state".into(),
        json!(if closed.is_some() { "closed" } else { "opened" }),
    );
    o.insert(
        "closed_at".into(),
        closed.map_or(Value::Null, |t| json!(rfc(t))),
    );
    o.insert("references".into(), json!({"short": format!("#{iid}"), "relative": format!("#{iid}"), "full": format!("acme/shop#{iid}")}));
    i
}

#[test]
fn gitlab_incidents_page_by_x_next_page() {
    let dm = Dm::default();
    std::fs::write(
        dm.cwd().join(".dorameter.toml"),
        "[incident_import]\nseverity = { critical = \"sev1\" }\n",
    )
    .unwrap();
    let incidents: Vec<Value> = (1..=120u64)
        .map(|n| {
            let created = NOW - 5 * DAY + n as i64 * 30 * 60;
            let severity = ["CRITICAL", "HIGH", "UNKNOWN"][n as usize % 3];
            let labels: &[&str] = if n % 3 == 2 {
                &["severity::medium"]
            } else {
                &[]
            };
            gl_incident(
                n,
                created,
                created + HOUR,
                (n % 7 != 0).then_some(created + 40 * 60),
                severity,
                labels,
            )
        })
        .collect();
    let keys: Vec<String> = incidents[0].as_object().unwrap().keys().cloned().collect();
    let served = Arc::new(AtomicUsize::new(0));
    let n = served.clone();
    let gl = Server::start(move |req| {
        if req.header("private-token") != Some(GL_TOKEN) {
            return Reply::status(401, r#"{"message":"401 Unauthorized"}"#);
        }
        n.fetch_add(1, Ordering::SeqCst);
        let (path, _) = req.path.split_once('?').unwrap();
        assert_eq!(path, "/api/v4/projects/acme%2Fshop/issues");
        let q = query(req);
        assert_eq!(
            (
                param(&q, "issue_type"),
                param(&q, "order_by"),
                param(&q, "sort")
            ),
            (Some("incident"), Some("updated_at"), Some("asc"))
        );
        let after = time(param(&q, "updated_after").unwrap());
        let per_page: usize = param(&q, "per_page").unwrap().parse().unwrap();
        let page: usize = param(&q, "page").map_or(1, |p| p.parse().unwrap());
        let all: Vec<&Value> = incidents
            .iter()
            .filter(|i| time(i["updated_at"].as_str().unwrap()) >= after)
            .collect();
        let items: Vec<&Value> = all
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .copied()
            .collect();
        let next = if page * per_page < all.len() {
            (page + 1).to_string()
        } else {
            String::new()
        };
        // No Link header: X-Next-Page only, empty on the last page.
        Reply::Status(
            200,
            vec![
                ("x-next-page".into(), next),
                ("x-page".into(), page.to_string()),
            ],
            json!(items).to_string(),
        )
    });
    let api = gl.url("/api/v4");
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_PATH", "acme/shop"),
        ("CI_API_V4_URL", api.as_str()),
        ("DORAMETER_GITLAB_TOKEN", GL_TOKEN),
    ];
    let r = dm
        .run_with_env(
            &env,
            &[
                "incident",
                "import",
                "--from",
                "gitlab",
                "--service",
                "shop",
                "--since",
                &rfc(NOW - 6 * DAY),
            ],
        )
        .json();
    assert_eq!(
        (r["new"].as_u64(), r["requests"].as_u64()),
        (Some(120), Some(2)),
        "{r:#}"
    );
    assert_eq!(r["open"], 120 / 7);
    let store = stored(&dm);
    for n in 1..=120u64 {
        let i = &store[&format!("gitlab:acme/shop#{n}")];
        let severity = match n % 3 {
            0 => Some("sev1"),
            1 => Some("high"),
            _ => Some("medium"),
        };
        assert_eq!(
            (i.0.as_str(), i.3.as_deref(), i.2.is_some()),
            ("shop", severity, n % 7 != 0),
            "#{n}"
        );
    }
    assert!(keys.contains(&"severity".to_string()) && keys.contains(&"references".to_string()));
}

/// On PostgreSQL: the incidents and the cursor in one transaction, the
/// rerun one request; the mapped service and severity as on SQLite.
#[test]
fn pagerduty_import_into_postgresql() {
    let Some(admin) = crate::postgres::server() else {
        return;
    };
    let db = crate::postgres::Db::new(&admin);
    let dm = Dm::default().with_store(&db.url);
    std::fs::write(dm.cwd().join(".dorameter.toml"), PD_CONFIG).unwrap();
    let incidents: Vec<Value> = (1..=150u64)
        .map(|n| {
            let created = NOW - 3 * DAY + n as i64 * 20 * 60;
            pd_incident(
                n,
                created,
                ["PAPI001", "PWEB002"][n as usize % 2],
                "resolved",
                Some(created + 900),
            )
        })
        .collect();
    let pd = PagerDuty::start(incidents.clone(), false);
    let first = import(
        &dm,
        &["--api-url", &pd.url(), "--since", &rfc(NOW - 4 * DAY)],
    )
    .json();
    assert_eq!(
        (first["new"].as_u64(), first["requests"].as_u64()),
        (Some(150), Some(2)),
        "{first:#}"
    );
    let rows = db.sql(
        "SELECT i.id, s.service, i.severity, extract(epoch FROM i.started_at)::bigint, extract(epoch FROM i.resolved_at)::bigint
         FROM dorameter.incidents i JOIN dorameter.incident_services s ON s.incident_seq = i.seq ORDER BY i.id",
    );
    assert_eq!(rows.len(), 150);
    for (row, i) in rows.iter().zip(incidents.iter()) {
        let e = expected_pd(i);
        assert_eq!(
            row[0].as_deref(),
            Some(format!("pagerduty:{}", i["id"].as_str().unwrap()).as_str())
        );
        assert_eq!(
            (row[1].as_deref(), row[2].as_deref()),
            (Some(e.0.as_str()), e.3.as_deref())
        );
        assert_eq!(
            row[3].as_deref().map(|t| rfc(t.parse().unwrap())),
            Some(e.1)
        );
        assert_eq!(row[4].as_deref().map(|t| rfc(t.parse().unwrap())), e.2);
    }
    let cursor = db.sql("SELECT value FROM dorameter.cursors");
    assert_eq!(
        cursor,
        vec![vec![Some(first["cursor"].as_str().unwrap().to_string())]]
    );
    let before = pd.requests();
    let again = import(&dm, &["--api-url", &pd.url()]).json();
    assert_eq!(
        (again["new"].as_u64(), pd.requests() - before),
        (Some(0), 1),
        "{again:#}"
    );
}
