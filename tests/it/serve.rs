//! `dorameter serve` as a client sees it: the real binary on 127.0.0.1,
//! asked over HTTP, its answers compared with `report --format json` on
//! the same store (the scripted month), its webhooks recorded and counted,
//! its refusals (tokens, scopes, limits, bodies) and its shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::report_month::{SINCE, UNTIL, script};
use crate::util::*;

pub(crate) const READ: &str = "read-token-0123456789";
pub(crate) const WRITE: &str = "write-token-0123456789";

/// A running server, stopped (SIGTERM, then kill) when dropped.
pub(crate) struct Serving {
    child: Option<Child>,
    pub(crate) addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// An answer: status, headers (lowercase names) and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Seed 000's error code.
    pub(crate) fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

impl Serving {
    /// `serve --listen 127.0.0.1:0` in `dir` with `env` and `args`, once it
    /// says where it listens.
    pub(crate) fn start(
        dm: &Dm,
        dir: &std::path::Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Serving {
        let mut cmd = dm.raw_command(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.args(args).current_dir(dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if let Some(a) = v["listen"].as_str() {
                        let _ = tx.send(a.to_string());
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "serve did not start: {:?} {}",
                    out.status,
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Serving {
            child: Some(child),
            addr,
            log,
        }
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// One request on a fresh connection.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        self.raw(method, path, token, &[], body.unwrap_or("").as_bytes())
    }

    pub(crate) fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call("GET", path, token, None)
    }

    pub(crate) fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.call("POST", path, token, Some(&body.to_string()))
    }

    pub(crate) fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        read_answer(&mut s)
    }

    /// SIGTERM, and the exit status once it has drained.
    pub(crate) fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("running");
        term(&child);
        let status = wait_for(&mut child, Duration::from_secs(30));
        // The log thread ends with the process.
        std::thread::sleep(Duration::from_millis(100));
        (status, self.log())
    }
}

fn term(child: &Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

fn wait_for(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("serve did not stop within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn read_answer(s: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line: {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `report --since --until --format json` of one service.
fn report(dm: &Dm, svc: &str) -> Value {
    dm.report(svc, SINCE, UNTIL, &[])
}

fn opt(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// REST's minutes are `report`'s seconds / 60, to 4 decimals.
fn assert_minutes(rest: &Value, report: &Value, what: &str) {
    match (opt(rest), opt(report)) {
        (None, None) => {}
        (Some(m), Some(s)) => assert!(
            (m * 60.0 - s).abs() <= 0.003 + 1e-9,
            "{what}: {m} min vs {s} s"
        ),
        other => panic!("{what}: {other:?}"),
    }
}

/// Every number of `GET /api/dora/metrics` against `report`'s.
fn check_metrics(rest: &Value, r: &Value, svc: &str) {
    let m = &rest["metrics"];
    let rm = &r["metrics"];
    assert_eq!(rest["project"], svc);
    assert_eq!(rest["environment"], "production");
    assert_eq!(rest["timeRange"]["start"], r["window"]["start"], "{svc}");
    assert_eq!(rest["timeRange"]["end"], r["window"]["end"], "{svc}");
    let df = &m["deploymentFrequency"];
    let rdf = &rm["deployment_frequency"];
    assert_eq!(df["value"], rdf["value"], "{svc} df");
    assert_eq!(df["deployments"], rdf["deployments"], "{svc} df");
    assert_eq!(df["level"], rdf["level"], "{svc} df level");
    assert_eq!(df["unit"], "per_day");
    let lt = &m["leadTimeForChanges"];
    let rlt = &rm["lead_time_for_changes"];
    for k in ["value", "p50", "p95", "mean"] {
        assert_minutes(&lt[k], &rlt[k], &format!("{svc} lead time {k}"));
    }
    assert_eq!(lt["unit"], "minutes");
    assert_eq!(lt["changes"], rlt["changes"]);
    assert_eq!(lt["level"], rlt["level"]);
    let cfr = &m["changeFailureRate"];
    let rcfr = &rm["change_failure_rate"];
    assert_eq!(cfr["value"], rcfr["value"], "{svc} cfr");
    assert_eq!(cfr["total_deployments"], rcfr["total_deployments"]);
    assert_eq!(cfr["failed_deployments"], rcfr["failed_deployments"]);
    assert_eq!(cfr["level"], rcfr["level"]);
    assert_eq!(cfr["unit"], "percent");
    let ttr = &m["meanTimeToRestore"];
    let rttr = &rm["time_to_restore"];
    for k in ["value", "p50", "p95", "mean"] {
        assert_minutes(&ttr[k], &rttr[k], &format!("{svc} ttr {k}"));
    }
    assert_eq!(ttr["total_incidents"], rttr["incidents"]);
    assert_eq!(ttr["open_incidents"], rttr["open_incidents"]);
    assert_eq!(ttr["level"], rttr["level"]);
    let fd = &m["failedDeploymentRecoveryTime"];
    let rfd = &rm["failed_deployment_recovery_time"];
    for k in ["value", "p50", "p95", "mean"] {
        assert_minutes(&fd[k], &rfd[k], &format!("{svc} fdrt {k}"));
    }
    assert_eq!(m["reworkRate"]["value"], rm["rework_rate"]["value"]);
    for (key, metric) in [
        ("deploymentFrequency", "deployment_frequency"),
        ("leadTimeForChanges", "lead_time_for_changes"),
        ("changeFailureRate", "change_failure_rate"),
        ("meanTimeToRestore", "time_to_restore"),
    ] {
        assert_eq!(
            m[key]["description"].is_null(),
            rm[metric]["level"].is_null(),
            "{svc} {key}: a description with every level"
        );
    }
    assert!(m["operationalPerformance"]["value"].is_null());
}

/// The endpoints of one service over the scripted month, against `report`
/// and the month's own model.
fn check_service(srv: &Serving, dm: &Dm, m: &crate::report_month::Month, svc: &str) {
    let r = report(dm, svc);
    let q = format!("project={svc}&timeRange=last30days");
    let all = srv.get(&format!("/api/dora/metrics?{q}"), Some(READ));
    assert_eq!(all.status, 200, "{all:?}");
    check_metrics(&all.json(), &r, svc);
    // The same window named by dates.
    let custom = srv.get(
        &format!(
            "/api/dora/metrics?project={svc}&timeRange=custom&startDate={}&endDate={}",
            rfc(SINCE),
            rfc(UNTIL)
        ),
        Some(READ),
    );
    check_metrics(&custom.json(), &r, svc);

    let e = m.expected(svc);
    let cfr = srv
        .get(&format!("/api/dora/change-failure-rate?{q}"), Some(READ))
        .json();
    let mut ids: Vec<String> = cfr["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["deployment_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = e.failed_ids.clone();
    want.sort();
    assert_eq!(ids, want, "{svc}: the failed deployments");
    for f in cfr["failures"].as_array().unwrap() {
        assert!(!f["reason"].as_str().unwrap().is_empty(), "{f}");
        assert!(!f["causes"].as_array().unwrap().is_empty(), "{f}");
    }
    assert_eq!(
        cfr["summary"]["successful_deployments"].as_u64().unwrap()
            + cfr["summary"]["failed_deployments"].as_u64().unwrap(),
        cfr["summary"]["total_deployments"].as_u64().unwrap()
    );

    for by in ["day", "week", "month"] {
        let df = srv
            .get(
                &format!("/api/dora/deployment-frequency?{q}&groupBy={by}"),
                Some(READ),
            )
            .json();
        let total: u64 = df["timeseries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["deployments"].as_u64().unwrap())
            .sum();
        assert_eq!(total, e.deployments as u64, "{svc} by {by}");
        assert_eq!(
            df["summary"]["value"],
            r["metrics"]["deployment_frequency"]["value"]
        );
    }
    let days = srv
        .get(
            &format!("/api/dora/deployment-frequency?{q}&groupBy=day"),
            Some(READ),
        )
        .json();
    assert_eq!(days["timeseries"].as_array().unwrap().len(), 30, "{days}");

    let lt = srv
        .get(
            &format!("/api/dora/lead-time?{q}&includeStages=true"),
            Some(READ),
        )
        .json();
    assert_minutes(
        &lt["summary"]["p95"],
        &r["metrics"]["lead_time_for_changes"]["p95"],
        "lead-time p95",
    );
    assert_eq!(lt["stages"][0]["name"], "commit_to_deploy");

    let mttr = srv.get(&format!("/api/dora/mttr?{q}"), Some(READ)).json();
    let incidents = mttr["incidents"].as_array().unwrap();
    let resolved = incidents
        .iter()
        .filter(|i| !i["resolved_at"].is_null())
        .count();
    assert_eq!(
        resolved as u64,
        r["metrics"]["time_to_restore"]["incidents"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(
        (incidents.len() - resolved) as u64,
        r["metrics"]["time_to_restore"]["open_incidents"]
            .as_u64()
            .unwrap()
    );

    // Seed 001's endpoint: its rounding, report's numbers.
    let s1 = srv
        .get(&format!("/metrics/dora/{svc}?days=30"), Some(READ))
        .json();
    // A service that is not UTF-8 in the path: the API's error shape.
    let bad = srv.get("/metrics/dora/%FF?days=30", Some(READ));
    assert_eq!((bad.status, bad.code().as_str()), (400, "INVALID_REQUEST"));
    let rdf = r["metrics"]["deployment_frequency"]["value"]
        .as_f64()
        .unwrap();
    assert!(
        (s1["metrics"]["deployment_frequency"]["value"]
            .as_f64()
            .unwrap()
            - rdf)
            .abs()
            <= 0.005
    );
    let mean = r["metrics"]["lead_time_for_changes"]["mean"]
        .as_f64()
        .unwrap();
    assert!(
        (s1["metrics"]["lead_time"]["mean_hours"].as_f64().unwrap() * 3600.0 - mean).abs() <= 18.0
    );
    assert_eq!(
        s1["metrics"]["change_failure_rate"]["value"],
        r["metrics"]["change_failure_rate"]["value"]
    );
    assert_eq!(s1["period_days"], 30);
}

#[test]
fn the_api_answers_what_report_says_on_the_scripted_month() {
    let m = script();
    // Now is the window's end: last30days is March.
    let at_end = Dm::new(UNTIL).with_store(&m.dm.store_url());
    let srv = Serving::start(
        &at_end,
        &at_end.cwd(),
        &[("DORAMETER_API_TOKENS", &format!("read:{READ}"))],
        &["--store", &m.dm.store_url()],
    );
    for svc in ["api", "web"] {
        check_service(&srv, &m.dm, &m, svc);
    }

    // Severity filters the incidents and what is computed from them.
    let high = srv
        .get(
            "/api/dora/mttr?project=api&timeRange=last30days&severity=nonesuch",
            Some(READ),
        )
        .json();
    assert_eq!(high["incidents"].as_array().unwrap().len(), 0);
    assert!(high["summary"]["value"].is_null());

    // Prometheus: all-time counters equal report over all time.
    let prom = srv.get("/metrics", Some(READ));
    assert_eq!(prom.status, 200);
    assert!(
        prom.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let all_time = m.dm.json(&[
        "report",
        "--service",
        "api",
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        &rfc(m.dm.now),
    ]);
    let count = all_time["metrics"]["deployment_frequency"]["deployments"]
        .as_u64()
        .unwrap();
    assert!(
        prom.body.contains(&format!(
            "dora_deployment_frequency_total{{project=\"api\",environment=\"production\"}} {count}\n"
        )),
        "{}",
        prom.body
    );
    assert!(prom.body.contains(&format!(
        "deployments_total{{service=\"api\",environment=\"production\"}} {count}\n"
    )));
    let changes = all_time["metrics"]["lead_time_for_changes"]["changes"]
        .as_u64()
        .unwrap();
    assert!(prom.body.contains(&format!(
        "dora_lead_time_seconds_count{{project=\"api\",environment=\"production\"}} {changes}\n"
    )));
    for t in ["counter", "histogram", "gauge"] {
        assert!(prom.body.contains(&format!(" {t}\n")), "{t}");
    }
    promtool_check(&prom.body);

    // The dashboard is the page `report --format html` writes.
    let page = srv.get("/", Some(READ));
    assert_eq!(page.status, 200);
    assert!(page.header("content-security-policy").is_some());
    assert!(
        page.body.contains("<svg") && page.body.contains("api"),
        "{}",
        &page.body[..200]
    );
}

/// `promtool check metrics` when promtool is installed (CI installs it).
#[expect(clippy::print_stderr, reason = "a skipped check must be visible")]
pub(crate) fn promtool_check(text: &str) {
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var("DORAMETER_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
            "DORAMETER_REQUIRE_PROMETHEUS=1 but promtool is not installed (apt-get install prometheus)"
        );
        eprintln!(
            "SKIPPED: promtool not found (apt-get install prometheus) for `promtool check metrics`"
        );
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn refusals_follow_seed_000s_error_format() {
    let mut repo = Repo::new();
    let dm = Dm::default();
    repo.commit_at("one", dm.now - 3 * HOUR);
    dm.deploy(
        &repo.path,
        &["--service", "api", "--finished-at", &rfc(dm.now - HOUR)],
    );
    let srv = Serving::start(
        &dm,
        &dm.cwd(),
        &[(
            "DORAMETER_API_TOKENS",
            &format!("read:{READ},write:{WRITE}"),
        )],
        &[
            "--store",
            &dm.store_url(),
            "--rate-limit",
            "40/h",
            "--max-body",
            "2000",
        ],
    );
    let unknown = srv.get("/api/dora/metrics?project=apj", Some(READ));
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (404, "INVALID_PROJECT")
    );
    assert_eq!(
        unknown.json()["error"]["details"]["available_projects"],
        json!(["api"])
    );
    let env = srv.get(
        "/api/dora/metrics?project=api&environment=staging",
        Some(READ),
    );
    assert_eq!(
        (env.status, env.code().as_str()),
        (404, "INVALID_ENVIRONMENT")
    );
    let range = srv.get(
        "/api/dora/metrics?project=api&timeRange=yesterday",
        Some(READ),
    );
    assert_eq!(
        (range.status, range.code().as_str()),
        (400, "INVALID_TIME_RANGE")
    );
    let missing = srv.get("/api/dora/metrics", Some(READ));
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (400, "INVALID_REQUEST")
    );
    let old = srv.get(
        "/api/dora/metrics?project=api&timeRange=custom&startDate=2020-01-01&endDate=2020-02-01",
        Some(READ),
    );
    assert_eq!((old.status, old.code().as_str()), (404, "NO_DATA"));

    let anonymous = srv.get("/api/dora/metrics?project=api", None);
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (401, "UNAUTHORIZED")
    );
    assert!(
        anonymous
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = srv.get("/api/dora/metrics?project=api", Some("not-a-token-at-all"));
    assert_eq!(wrong.status, 401);
    let scope = srv.post("/events/deployment", Some(READ), &json!({}));
    assert_eq!((scope.status, scope.code().as_str()), (403, "FORBIDDEN"));
    let big = srv.call(
        "POST",
        "/events/deployment",
        Some(WRITE),
        Some(&"x".repeat(5000)),
    );
    assert_eq!(
        (big.status, big.code().as_str()),
        (413, "PAYLOAD_TOO_LARGE")
    );
    let route = srv.get("/api/dora/nothing", Some(READ));
    assert_eq!((route.status, route.code().as_str()), (404, "NOT_FOUND"));
    assert_eq!(srv.get("/healthz", None).status, 200);
    let method = srv.get("/events/deployment", Some(WRITE));
    assert_eq!(
        (method.status, method.code().as_str()),
        (405, "METHOD_NOT_ALLOWED")
    );

    // The token's limit: headers on every answer, then 429 + Retry-After.
    let mut last = srv.get("/api/dora/lead-time?project=api", Some(READ));
    let limit: u64 = last.header("x-ratelimit-limit").unwrap().parse().unwrap();
    assert_eq!(limit, 40);
    let reset: u64 = last.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > UNIX_2026, "{reset}");
    for _ in 0..60 {
        last = srv.get("/api/dora/lead-time?project=api", Some(READ));
        if last.status == 429 {
            break;
        }
    }
    assert_eq!(
        (last.status, last.code().as_str()),
        (429, "RATE_LIMITED"),
        "{last:?}"
    );
    assert_eq!(last.header("x-ratelimit-remaining"), Some("0"));
    assert!(last.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Another token has its own.
    let other = srv.get("/api/dora/lead-time?project=api", Some(WRITE));
    assert_eq!(other.status, 200, "{other:?}");

    // Bad input never stops the server.
    for garbage in ["{", "[]", "null", "\"x\"", "{\"service\": 3}", "\u{0}"] {
        let a = srv.call("POST", "/events/deployment", Some(WRITE), Some(garbage));
        assert_eq!(a.status, 422, "{garbage}: {a:?}");
        assert_eq!(a.json()["detail"][0]["loc"][0], "body", "{a:?}");
    }
    assert_eq!(srv.get("/healthz", None).status, 200);

    // Tokens never reach the log.
    let (status, log) = srv.terminate();
    assert!(status.success(), "{status:?}");
    let all = log.join("\n");
    assert!(all.contains("\"path\":\"/api/dora/metrics\""), "{all}");
    for secret in [READ, WRITE, "not-a-token-at-all"] {
        assert!(!all.contains(secret), "{secret} in the log");
    }
}

/// 2026-01-01.
const UNIX_2026: u64 = 1_767_225_600;

/// `report` over all time, for counting what webhooks recorded.
fn ever(dm: &Dm, svc: &str, env: &str) -> Value {
    dm.json(&[
        "report",
        "--service",
        svc,
        "--env",
        env,
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        &rfc(dm.now + DAY),
    ])
}

#[test]
fn webhooks_record_once_with_their_commit_times() {
    let dm = Dm::default();
    let srv = Serving::start(
        &dm,
        &dm.cwd(),
        &[("DORAMETER_API_TOKENS", &format!("write:{WRITE}"))],
        &["--store", &dm.store_url()],
    );
    // Seed 001's body, sent three times (a sender retrying on timeouts).
    let body = json!({"service": "payments", "environment": "production", "commit_sha": "abc1234",
        "commit_timestamp": rfc(dm.now - 3 * HOUR), "deployed_at": rfc(dm.now - HOUR),
        "is_rollback": false, "is_hotfix": false});
    for n in 0..3 {
        let a = srv.post("/events/deployment", Some(WRITE), &body);
        assert_eq!(a.status, 200, "{a:?}");
        let want = if n == 0 { "recorded" } else { "duplicate" };
        assert_eq!(a.json()["status"], want, "{a:?}");
    }
    // A later one (naive times, as the seed's TIMESTAMP columns).
    let later = json!({"service": "payments", "environment": "production", "commit_sha": "def5678",
        "commit_timestamp": rfc(dm.now - 50 * MIN).trim_end_matches('Z'),
        "deployed_at": rfc(dm.now - 30 * MIN).trim_end_matches('Z')});
    assert_eq!(
        srv.post("/events/deployment", Some(WRITE), &later).status,
        200
    );
    // Seed 000's webhook: its id, its short sha kept as given.
    let s0 = json!({"project": "payments", "commit_sha": "abc123def456", "deployment_id": "argocd-sync-12345",
        "status": "success", "environment": "staging", "timestamp": rfc(dm.now - 2 * HOUR), "duration_seconds": 120});
    for _ in 0..2 {
        let a = srv.post("/api/plugins/webhook/1/deployments", Some(WRITE), &s0);
        assert_eq!(
            (a.status, a.json()["id"].clone()),
            (200, json!("argocd-sync-12345")),
            "{a:?}"
        );
    }
    // Incidents: seed 001 opens, then resolves; seed 000 records resolved.
    let open = json!({"incident_id": "INC-7", "service": "payments", "severity": "high",
        "detected_at": rfc(dm.now - 40 * MIN)});
    assert_eq!(srv.post("/events/incident", Some(WRITE), &open).status, 200);
    let mut resolved = open.clone();
    resolved["resolved_at"] = json!(rfc(dm.now - 10 * MIN));
    let a = srv.post("/events/incident", Some(WRITE), &resolved);
    assert_eq!(a.json()["resolved"], true, "{a:?}");
    assert_eq!(a.json()["status"], "recorded", "{a:?}");
    // Delivered again, nothing new: a duplicate, not recorded again.
    let again = srv.post("/events/incident", Some(WRITE), &resolved);
    assert_eq!(
        (again.status, again.json()["status"].clone()),
        (200, json!("duplicate")),
        "{again:?}"
    );
    // Resolved before it was detected: refused, naming the body's field.
    let mut backwards = open.clone();
    backwards["incident_id"] = json!("INC-8");
    backwards["resolved_at"] = json!(rfc(dm.now - 50 * MIN));
    let refused = srv.post("/events/incident", Some(WRITE), &backwards);
    assert_eq!(refused.status, 422, "{refused:?}");
    assert!(
        refused.body.contains("resolved_at is before detected_at") && !refused.body.contains("--"),
        "{refused:?}"
    );
    let s0i = json!({"id": "incident-001", "title": "Database connection timeout", "service": "payments",
        "severity": "high", "status": "resolved", "createdDate": rfc(dm.now - 5 * HOUR),
        "resolvedDate": rfc(dm.now - 4 * HOUR), "environment": "production"});
    assert_eq!(
        srv.post("/api/plugins/webhook/1/incidents", Some(WRITE), &s0i)
            .status,
        200
    );
    // The cache never hides what was just recorded.
    let api = srv
        .get(
            "/api/dora/metrics?project=payments&timeRange=last7days",
            Some(WRITE),
        )
        .json();
    drop(srv);

    let r = &ever(&dm, "payments", "production");
    assert_eq!(
        r["metrics"]["deployment_frequency"]["deployments"], 2,
        "{r}"
    );
    // One change per deployment: 2 h and 20 min.
    let lt = &r["metrics"]["lead_time_for_changes"];
    assert_eq!(lt["changes"], 2, "{r}");
    assert_eq!(
        lt["p50"].as_f64().unwrap(),
        (2 * HOUR + 20 * MIN) as f64 / 2.0
    );
    assert_eq!(r["metrics"]["time_to_restore"]["incidents"], 2, "{r}");
    assert_eq!(
        api["metrics"]["deploymentFrequency"]["deployments"], 2,
        "the answer after the webhooks: {api}"
    );
    let staging = ever(&dm, "payments", "staging");
    assert_eq!(staging["metrics"]["deployment_frequency"]["deployments"], 1);
}

fn sign(secret: &str, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!(
        "v1={}",
        tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[test]
fn pagerduty_webhooks_are_signed_and_taken_once() {
    let dm = Dm::default();
    let secret = "pd-signing-secret";
    let srv = Serving::start(
        &dm,
        &dm.cwd(),
        &[("DORAMETER_PAGERDUTY_WEBHOOK_SECRET", secret)],
        &["--store", &dm.store_url()],
    );
    let event = |kind: &str, at: i64| {
        json!({"event": {"id": format!("E{at}"), "event_type": kind, "resource_type": "incident",
            "occurred_at": rfc(at), "agent": null, "client": null,
            "data": {"id": "PGR0VU2", "type": "incident", "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2", "number": 2, "status": "triggered",
                "incident_key": "d3640fbd41094207a1c11e58e46b1662", "created_at": rfc(dm.now - 2 * HOUR),
                "title": "A little bump in the road", "urgency": "high",
                "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH",
                    "self": "https://api.pagerduty.com/services/PF9KMXH", "summary": "checkout", "type": "service_reference"},
                "assignees": [], "escalation_policy": {"id": "PFLT1Z5", "type": "escalation_policy_reference"},
                "teams": [], "priority": null, "conference_bridge": null, "resolve_reason": null}}})
        .to_string()
    };
    let send = |body: &str, sig: Option<String>, id: &str| {
        let mut headers = vec![("X-Webhook-Id", id.to_string())];
        if let Some(s) = sig {
            headers.push(("X-PagerDuty-Signature", s));
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        srv.raw("POST", "/webhooks/pagerduty", None, &h, body.as_bytes())
    };
    let triggered = event("incident.triggered", dm.now - 2 * HOUR);
    let bad = send(&triggered, Some(sign("another-secret", &triggered)), "w1");
    assert_eq!((bad.status, bad.code().as_str()), (401, "UNAUTHORIZED"));
    let none = send(&triggered, None, "w1");
    assert_eq!(none.status, 401);
    assert!(
        none.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no X-PagerDuty-Signature header")),
        "{none:?}"
    );
    let ok = send(&triggered, Some(sign(secret, &triggered)), "w1");
    assert_eq!(ok.status, 200, "{ok:?}");
    let dup = send(&triggered, Some(sign(secret, &triggered)), "w1");
    assert_eq!(
        (dup.status, dup.json()["status"].clone()),
        (200, json!("duplicate"))
    );
    let ack = event("incident.acknowledged", dm.now - 90 * MIN);
    assert_eq!(
        send(&ack, Some(sign(secret, &ack)), "w2").json()["status"],
        "ignored"
    );
    let resolved = event("incident.resolved", dm.now - HOUR);
    // Tampered after signing: refused, nothing stored.
    let tampered = resolved.replace("A little bump", "A big bump");
    assert_eq!(
        send(&tampered, Some(sign(secret, &resolved)), "w3").status,
        401
    );
    let before = ever(&dm, "checkout", "production");
    assert_eq!(
        before["metrics"]["time_to_restore"]["open_incidents"], 1,
        "{before}"
    );
    assert_eq!(
        send(&resolved, Some(sign(secret, &resolved)), "w4").status,
        200
    );
    drop(srv);
    let after = ever(&dm, "checkout", "production");
    let ttr = &after["metrics"]["time_to_restore"];
    assert_eq!(
        (ttr["incidents"].clone(), ttr["open_incidents"].clone()),
        (json!(1), json!(0)),
        "{after}"
    );
    assert_eq!(ttr["p50"].as_f64().unwrap(), HOUR as f64);
}

#[test]
fn sigterm_finishes_the_request_in_flight() {
    let dm = Dm::default();
    let srv = Serving::start(
        &dm,
        &dm.cwd(),
        &[("DORAMETER_API_TOKENS", &format!("write:{WRITE}"))],
        &["--store", &dm.store_url()],
    );
    let body = json!({"service": "api", "environment": "production", "commit_sha": "0123abc",
        "commit_timestamp": rfc(dm.now - HOUR), "deployed_at": rfc(dm.now - MIN)})
    .to_string();
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /events/deployment HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {WRITE}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = srv.child.as_ref().unwrap().id();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(300));
    // New connections are refused while the old one finishes.
    assert!(
        TcpStream::connect(&srv.addr).is_err(),
        "still accepting after SIGTERM"
    );
    s.write_all(&body.as_bytes()[10..]).unwrap();
    let a = read_answer(&mut s);
    assert_eq!(a.status, 200, "{a:?}");
    let (status, log) = srv.terminate();
    assert!(status.success(), "{status:?} {log:?}");
    assert!(log.iter().any(|l| l.contains("draining")), "{log:?}");
    assert_eq!(dm.deployment_count("api"), 1);
}

#[test]
fn a_bad_setting_stops_serve_before_it_listens() {
    let dm = Dm::default();
    let run = dm.run_with_env(
        &[("DORAMETER_API_TOKENS", "admin:abcdefghijkl")],
        &["serve", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("DORAMETER_API_TOKENS") && !run.stderr.contains("abcdefghijkl"));
    let run = dm.run_raw(&["serve", "--listen", "nowhere:port"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--listen"), "{run:#?}");
    let run = dm.run_raw(&["serve", "--listen", "127.0.0.1:0", "--rate-limit", "lots"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--rate-limit"), "{run:#?}");
    let run = dm.run_raw(&["serve", "--listen", "127.0.0.1:0", "--max-body", "0"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let twice = format!("read:{READ},write:{READ}");
    let run = dm.run_with_env(
        &[("DORAMETER_API_TOKENS", &twice)],
        &["serve", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("twice") && !run.stderr.contains(READ),
        "{run:#?}"
    );
    // A read-only server over a SQLite file that is not there: a typo, not
    // an empty, healthy store.
    let missing = format!("sqlite:{}", dm.dir.path().join("nope/x.db").display());
    let run = dm.run_raw(&["serve", "--listen", "127.0.0.1:0", "--store", &missing]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(run.stderr.contains("no store at"), "{run:#?}");
}

/// The month copied into PostgreSQL and into a git store: the same answers.
#[test]
fn the_api_over_postgres_and_git_stores_answers_the_same() {
    let m = script();
    let at_end = Dm::new(UNTIL);
    let env = [("DORAMETER_API_TOKENS", format!("read:{READ}"))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let check = |srv: &Serving, what: &str| {
        for svc in ["api", "web"] {
            let a = srv.get(&format!("/api/dora/metrics?project={svc}"), Some(READ));
            assert_eq!(a.status, 200, "{what}: {a:?}");
            check_metrics(&a.json(), &report(&m.dm, svc), svc);
        }
    };

    // A git store on the repository's remote, served from its checkout.
    let remote = tempfile::tempdir().unwrap();
    let bare = remote.path().join("origin.git");
    m.repo
        .git(&["init", "-q", "--bare", bare.to_str().unwrap()], UNTIL);
    m.repo
        .git(&["remote", "add", "origin", bare.to_str().unwrap()], UNTIL);
    m.repo.git(&["push", "-q", "origin", "main"], UNTIL);
    m.dm.run_in(
        &m.repo.path,
        &["store", "copy", "--from", &m.dm.store_url(), "--to", "git"],
    )
    .assert_ok();
    let srv = Serving::start(&at_end, &m.repo.path, &env, &["--store", "git"]);
    check(&srv, "git");
    drop(srv);

    let Some(admin) = crate::postgres::server() else {
        return;
    };
    let db = crate::postgres::Db::new(&admin);
    m.dm.run_raw(&[
        "store",
        "copy",
        "--from",
        &m.dm.store_url(),
        "--to",
        &db.url,
    ])
    .assert_ok();
    let srv = Serving::start(&at_end, &at_end.cwd(), &env, &["--store", &db.url]);
    check(&srv, "postgres");
    // All-time counters over PostgreSQL (its timestamps have a range).
    let prom = srv.get("/metrics", Some(READ));
    assert_eq!(prom.status, 200, "{prom:?}");
    assert!(
        prom.body
            .contains("dora_deployment_frequency_total{project=\"api\""),
        "{}",
        prom.body
    );
    // Webhooks into PostgreSQL: once, whatever the retries.
    drop(srv);
    let writer = [("DORAMETER_API_TOKENS", format!("write:{WRITE}"))];
    let writer: Vec<(&str, &str)> = writer.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let srv = Serving::start(&at_end, &at_end.cwd(), &writer, &["--store", &db.url]);
    let body = json!({"service": "pg-svc", "environment": "production", "commit_sha": "feed123",
        "commit_timestamp": rfc(UNTIL - 2 * HOUR), "deployed_at": rfc(UNTIL - HOUR)});
    for _ in 0..3 {
        assert_eq!(
            srv.post("/events/deployment", Some(WRITE), &body).status,
            200
        );
    }
    let (status, _) = srv.terminate();
    assert!(status.success());
    let pg = at_end.with_store(&db.url);
    assert_eq!(pg.deployment_count("pg-svc"), 1);
}

/// `serve --repo`: a webhook's short sha is resolved in the server's clone
/// (fetched when it does not have the commit yet) and lead time comes from
/// git, as `deploy` computes it.
#[test]
fn serve_repo_resolves_webhook_shas_and_counts_lead_time_from_git() {
    let dm = Dm::default();
    let mut work = Repo::new();
    let first = work.commit_at("one", dm.now - 10 * HOUR);
    let remote = tempfile::tempdir().unwrap();
    let bare = remote.path().join("origin.git");
    work.git(&["init", "-q", "--bare", bare.to_str().unwrap()], dm.now);
    work.git(&["remote", "add", "origin", bare.to_str().unwrap()], dm.now);
    work.git(&["push", "-q", "origin", "main"], dm.now);
    let clone = remote.path().join("server-clone");
    work.git(
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
        dm.now,
    );
    let srv = Serving::start(
        &dm,
        &dm.cwd(),
        &[("DORAMETER_API_TOKENS", &format!("write:{WRITE}"))],
        &[
            "--store",
            &dm.store_url(),
            "--repo",
            clone.to_str().unwrap(),
        ],
    );
    let deploy = |sha: &str, id: &str, at: i64| {
        let body = json!({"project": "api", "commit_sha": sha, "deployment_id": id,
            "status": "success", "environment": "production", "timestamp": rfc(at)});
        srv.post("/api/plugins/webhook/1/deployments", Some(WRITE), &body)
    };
    assert_eq!(deploy(&first[..7], "d1", dm.now - 9 * HOUR).status, 200);
    // Two commits the server's clone has not fetched yet.
    work.commit_at("two", dm.now - 5 * HOUR);
    let third = work.commit_at("three", dm.now - 3 * HOUR);
    work.git(&["push", "-q", "origin", "main"], dm.now);
    let a = deploy(&third[..9], "d2", dm.now - HOUR);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["lead_time_changes"], 2, "{a:?}");
    let unknown = deploy("0000000", "d3", dm.now - MIN);
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (400, "INVALID_REQUEST"),
        "{unknown:?}"
    );
    drop(srv);
    let r = ever(&dm, "api", "production");
    let lt = &r["metrics"]["lead_time_for_changes"];
    assert_eq!(lt["changes"], 2, "{r}");
    assert_eq!(
        lt["p50"].as_f64().unwrap(),
        (3 * HOUR) as f64,
        "4 h and 2 h: {r}"
    );
    assert_eq!(r["metrics"]["deployment_frequency"]["deployments"], 2);
}

/// A real Prometheus server scraping `serve` every second, and the PromQL
/// of seeds 000 and 001 through its HTTP API.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// `None` (loudly) without the `prometheus` binary, unless CI requires it.
    #[expect(clippy::print_stderr, reason = "a skipped test must be visible")]
    fn scrape(target: &str, token: &str) -> Option<Prometheus> {
        if std::process::Command::new("prometheus")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var("DORAMETER_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
                "DORAMETER_REQUIRE_PROMETHEUS=1 but prometheus is not installed (apt-get install prometheus)"
            );
            eprintln!("SKIPPED: prometheus not found (apt-get install prometheus)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: dorameter\n    authorization:\n      credentials: {token}\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        Some(Prometheus {
            child,
            url: format!("127.0.0.1:{port}"),
            _dir: dir,
        })
    }

    /// The API's answer to an instant query: its HTTP status and JSON
    /// (`Null` when the body is none), or `None` when Prometheus is not up.
    fn answer(&self, promql: &str) -> Option<(u16, Value)> {
        let mut s = TcpStream::connect(&self.url).ok()?;
        let q: String = promql
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let req =
            format!("GET /api/v1/query?query={q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let a = read_answer(&mut s);
        let body = a.body.trim();
        // Chunked answers: the JSON is between the chunk sizes.
        let json_text = body
            .find('{')
            .and_then(|start| body.rfind('}').map(|end| &body[start..=end]))
            .unwrap_or(body);
        Some((
            a.status,
            serde_json::from_str(json_text).unwrap_or(Value::Null),
        ))
    }

    /// The samples of an answer: labels and value.
    fn samples(v: &Value) -> Vec<(Value, f64)> {
        v["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let val: f64 = r["value"][1].as_str()?.parse().ok()?;
                Some((r["metric"].clone(), val))
            })
            .collect()
    }

    /// An instant query's samples; none while Prometheus is not answering.
    fn query(&self, promql: &str) -> Vec<(Value, f64)> {
        match self.answer(promql) {
            Some((200, v)) => Self::samples(&v),
            _ => vec![],
        }
    }

    /// An instant query that must evaluate (a parse or evaluation error
    /// fails the test): its samples, maybe none.
    fn evaluate(&self, promql: &str) -> Vec<(Value, f64)> {
        let (_, v) = self.answer(promql).expect("prometheus is up");
        assert_eq!(v["status"], "success", "{promql}: {v}");
        Self::samples(&v)
    }

    /// The one value of `promql`, waiting (up to 60 s) until it has one
    /// that `ready` accepts.
    fn value(&self, promql: &str, ready: impl Fn(f64) -> bool) -> f64 {
        let start = Instant::now();
        loop {
            if let [(_, v)] = self.query(promql).as_slice() {
                if ready(*v) {
                    return *v;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no answer to {promql}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_serve_and_the_seeds_promql_answers_as_report() {
    let m = script();
    let at_end = Dm::new(UNTIL);
    let tokens = format!("read:{READ},write:{WRITE}");
    // No cache: every scrape sees the webhooks before it.
    let srv = Serving::start(
        &at_end,
        &at_end.cwd(),
        &[("DORAMETER_API_TOKENS", &tokens)],
        &[
            "--store",
            &m.dm.store_url(),
            "--cache-ttl",
            "0s",
            "--rate-limit",
            "off",
        ],
    );
    let Some(prom) = Prometheus::scrape(&srv.addr, READ) else {
        return;
    };
    let all_time = |svc: &str| {
        m.dm.json(&[
            "report",
            "--service",
            svc,
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            &rfc(m.dm.now),
        ])
    };
    // Scraped twice before anything changes.
    prom.value("count_over_time(up{job=\"dorameter\"}[1m])", |v| v >= 2.0);
    assert_eq!(prom.value("up{job=\"dorameter\"}", |_| true), 1.0);

    // Seed 000: the current change failure rate, a fraction.
    let window = report(&m.dm, "api");
    let cfr = prom.value("dora_change_failure_rate{project=\"api\"}", |_| true);
    let want = window["metrics"]["change_failure_rate"]["value"]
        .as_f64()
        .unwrap()
        / 100.0;
    assert!((cfr - want).abs() < 1e-9, "{cfr} vs {want}");
    // Seed 000: p95 lead time in minutes, within the bucket of the exact p95.
    let p95 = prom.value(
        "histogram_quantile(0.95, dora_lead_time_seconds_bucket{project=\"api\"}) / 60",
        |_| true,
    );
    let exact = all_time("api")["metrics"]["lead_time_for_changes"]["p95"]
        .as_f64()
        .unwrap();
    // The exposition's bucket bounds (docs/serve.md), and +Inf.
    let buckets = [
        0.0,
        60.0,
        300.0,
        600.0,
        900.0,
        1800.0,
        3600.0,
        7200.0,
        14400.0,
        28800.0,
        43200.0,
        86400.0,
        172800.0,
        259200.0,
        432000.0,
        604800.0,
        1209600.0,
        2592000.0,
        5184000.0,
        7776000.0,
        15552000.0,
        f64::INFINITY,
    ];
    let hi = buckets.iter().position(|b| *b >= exact).expect("a bucket");
    assert!(
        p95 * 60.0 >= buckets[hi.saturating_sub(1)] && p95 * 60.0 <= buckets[hi],
        "p95 {p95} min vs exact {exact} s"
    );
    // Seed 001: change failure rate over all time, in percent.
    let seed_cfr = prom.value(
        "sum(deployments_failed_total) / sum(deployments_total) * 100",
        |_| true,
    );
    let (mut failed, mut total) = (0.0, 0.0);
    for svc in ["api", "web"] {
        let r = all_time(svc);
        failed += r["metrics"]["change_failure_rate"]["failed_deployments"]
            .as_f64()
            .unwrap();
        total += r["metrics"]["change_failure_rate"]["total_deployments"]
            .as_f64()
            .unwrap();
    }
    assert!(
        (seed_cfr - failed * 100.0 / total).abs() < 1e-9,
        "{seed_cfr}"
    );
    // Seed 001: MTTR in minutes per service.
    let mttr = prom
        .query("avg(incident_resolution_time_seconds) by (service) / 60")
        .into_iter()
        .find(|(l, _)| l["service"] == "api")
        .expect("api's MTTR")
        .1;
    let mean = window["metrics"]["time_to_restore"]["mean"]
        .as_f64()
        .unwrap();
    assert!((mttr * 60.0 - mean).abs() < 1e-6, "{mttr} vs {mean}");

    // The Prometheus dashboard (dashboards/grafana/dorameter-prometheus.json):
    // every query evaluates, for all services and for one, with Grafana's
    // variables as Grafana gives them; those that read serve's window and
    // the all-time counters are report's numbers.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("dashboards/grafana/dorameter-prometheus.json"),
        )
        .expect("the Prometheus dashboard"),
    )
    .expect("JSON");
    let expand = |expr: &str, project: &str| {
        expr.replace("$__range_s", "2592000")
            .replace("$__range", "30d")
            .replace("$environment", "production")
            .replace("$project", project)
    };
    let mut answers = std::collections::BTreeMap::new();
    for project in [".*", "api"] {
        for p in dashboard["panels"].as_array().expect("panels") {
            for t in p["targets"].as_array().expect("targets") {
                let expr = expand(t["expr"].as_str().expect("expr"), project);
                let samples = prom.evaluate(&expr);
                if project == "api" {
                    answers.insert(
                        (
                            p["title"].as_str().unwrap().to_string(),
                            t["refId"].to_string(),
                        ),
                        samples,
                    );
                }
            }
        }
    }
    let one = |title: &str, reference: &str| -> Vec<(Value, f64)> {
        answers[&(title.to_string(), format!("\"{reference}\""))].clone()
    };
    let cfr_panel = one("Change failure rate (serve's window)", "A");
    assert_eq!(cfr_panel.len(), 1, "{cfr_panel:?}");
    assert!((cfr_panel[0].1 - want * 100.0).abs() < 1e-9);
    let api = all_time("api");
    let deployments = one("Deployments and failures (all time)", "A");
    assert_eq!(
        deployments[0].1,
        api["metrics"]["deployment_frequency"]["deployments"]
            .as_f64()
            .unwrap()
    );
    let failures = one("Deployments and failures (all time)", "B");
    assert_eq!(
        failures[0].1,
        api["metrics"]["change_failure_rate"]["failed_deployments"]
            .as_f64()
            .unwrap()
    );
    let levels = one("Levels (serve's window)", "A");
    assert_eq!(levels.len(), 5, "{levels:?}");
    for (labels, score) in levels {
        let metric = labels["metric"].as_str().unwrap();
        let level = window["metrics"][metric]["level"].as_str().unwrap();
        let want = ["low", "medium", "high", "elite"]
            .iter()
            .position(|l| *l == level)
            .unwrap()
            + 1;
        assert_eq!(score, want as f64, "{metric}");
    }

    // Six deployments arrive by webhook, lead times 10 to 60 minutes.
    let before = prom.value("deployments_total{service=\"api\"}", |_| true);
    for k in 1..=6 {
        let at = UNTIL - DAY + k * HOUR;
        let body = json!({"service": "api", "environment": "production", "commit_sha": format!("beef{k:03}"),
            "commit_timestamp": rfc(at - k * 10 * MIN), "deployed_at": rfc(at)});
        assert_eq!(
            srv.post("/events/deployment", Some(WRITE), &body).status,
            200
        );
    }
    let after = prom.value("deployments_total{service=\"api\"}", |v| v >= before + 6.0);
    assert_eq!(after, before + 6.0);
    // Let a few scrapes see the new total, then ask the seeds' rate queries.
    std::thread::sleep(Duration::from_secs(3));
    let seen = prom.value(
        "max_over_time(deployments_total{service=\"api\"}[5m]) - min_over_time(deployments_total{service=\"api\"}[5m])",
        |_| true,
    );
    assert_eq!(seen, 6.0);
    let increase = prom.value(
        "sum(increase(deployments_total{environment=\"production\",service=\"api\"}[7d]))",
        |_| true,
    );
    assert!(
        (6.0..=9.0).contains(&increase),
        "seed 001's 7-day increase: {increase}"
    );
    let rate = prom.value(
        "rate(dora_deployment_frequency_total{project=\"api\"}[7d]) * 86400",
        |_| true,
    );
    assert!(rate > 0.0, "{rate}");
    let median = prom.value(
        "histogram_quantile(0.50, sum(rate(lead_time_seconds_bucket{service=\"api\"}[7d])) by (le, service))",
        |_| true,
    );
    // The new lead times' median, 35 min, is between the 30 and 60 min bounds.
    assert!((1800.0..=3600.0).contains(&median), "{median}");
}

/// Webhook events go to the configured sinks as the CLI's do: a webhook
/// receiver on 127.0.0.1 gets each recorded event once (a retried delivery
/// to serve is not another event), with the CLI's body.
#[test]
fn recorded_webhooks_reach_the_sinks() {
    use crate::server::{Reply, Server};
    let dm = Dm::default();
    let receiver = Server::start(|_| Reply::ok());
    let sink = format!("webhook:{}", receiver.url("/hooks/dora"));
    let srv = Serving::start(
        &dm,
        &dm.cwd(),
        &[("DORAMETER_API_TOKENS", &format!("write:{WRITE}"))],
        &["--store", &dm.store_url(), "--sink", &sink],
    );
    let body = json!({"service": "api", "environment": "production", "commit_sha": "c0ffee1",
        "commit_timestamp": rfc(dm.now - 2 * HOUR), "deployed_at": rfc(dm.now - HOUR)});
    for _ in 0..2 {
        assert_eq!(
            srv.post("/events/deployment", Some(WRITE), &body).status,
            200
        );
    }
    let inc = json!({"incident_id": "INC-9", "service": "api", "severity": "low",
        "detected_at": rfc(dm.now - 30 * MIN)});
    assert_eq!(srv.post("/events/incident", Some(WRITE), &inc).status, 200);
    let start = Instant::now();
    while receiver.requests().len() < 2 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = srv.terminate();
    assert!(status.success());
    let got: Vec<Value> = receiver.requests().iter().map(|r| r.json()).collect();
    let text = serde_json::to_string(&got).unwrap();
    assert_eq!(got.len(), 2, "one deployment, one incident: {text}");
    assert!(text.contains("c0ffee1") && text.contains("INC-9"), "{text}");
}
