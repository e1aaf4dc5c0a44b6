//! Flaky evidence over a scripted history of stored runs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::support::*;
use crate::util::*;

/// Ingests `tests` as one stored run of `service`, recorded at `t`.
#[track_caller]
fn ingest(
    dm: &mut Dm,
    service: &str,
    id: &str,
    sha: &str,
    t: i64,
    tests: &[(&str, &str)],
) -> Value {
    let file = format!("{id}.xml");
    write(dm, &file, report(tests));
    dm.now = t;
    let v = dm.json(&[
        "junit",
        &file,
        "--service",
        service,
        "--sha",
        sha,
        "--id",
        id,
    ]);
    dm.now = NOW;
    assert_eq!(v["recorded"], true, "{v}");
    v
}

/// `flaky --service S ARGS` at NOW: the findings by id, and the whole output.
#[track_caller]
fn flaky(dm: &Dm, service: &str, extra: &[&str]) -> (BTreeMap<String, Value>, Value) {
    let mut args = vec!["flaky", "--service", service];
    args.extend_from_slice(extra);
    let v = dm.json(&args);
    let mut by_id = BTreeMap::new();
    for t in arr(&v, "tests") {
        let id = t["id"].as_str().expect("id").to_string();
        assert_eq!(
            format!(
                "{}::{}",
                t["classname"].as_str().unwrap_or("?"),
                t["name"].as_str().unwrap_or("?")
            ),
            id,
            "id = classname::name: {t}"
        );
        assert!(by_id.insert(id, t.clone()).is_none(), "each test once: {v}");
    }
    (by_id, v)
}

/// What one finding must say: evidence, failure_rate, runs, failed_runs,
/// retried_runs, mixed_shas.
#[track_caller]
fn assert_finding(
    found: &BTreeMap<String, Value>,
    id: &str,
    evidence: &[&str],
    rate: f64,
    runs_failed_retried_mixed: [u64; 4],
) {
    let [runs, failed, retried, mixed] = runs_failed_retried_mixed;
    let f = found.get(id).unwrap_or_else(|| {
        panic!(
            "{id} should be reported as flaky; reported: {:?}",
            found.keys().collect::<Vec<_>>()
        )
    });
    let got_evidence: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("evidence is a list: {f}"))
        .iter()
        .map(|e| e.as_str().expect("evidence kind"))
        .collect();
    assert_eq!(got_evidence, evidence, "{id}: evidence: {f}");
    assert_close(
        &f["failure_rate"],
        rate,
        0.005,
        &format!("{id}: failure_rate"),
    );
    assert_eq!(
        (
            u(f, "runs"),
            u(f, "failed_runs"),
            u(f, "retried_runs"),
            u(f, "mixed_shas")
        ),
        (runs, failed, retried, mixed),
        "{id}: (runs, failed_runs, retried_runs, mixed_shas): {f}"
    );
}

#[track_caller]
fn assert_ids(found: &BTreeMap<String, Value>, want: &[&str], what: &str) {
    let got: BTreeSet<&str> = found.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = want.iter().copied().collect();
    assert_eq!(got, want, "{what}: the tests reported as flaky");
}

/// Twenty ordinary runs, 12 hours apart, the first 13 days before NOW.
fn run_time(i: i64) -> i64 {
    NOW - 13 * DAY + i * 12 * HOUR
}

fn run_sha(i: i64) -> String {
    if i == 10 || i == 11 {
        "shared".into()
    } else {
        format!("sha{i:02}")
    }
}

/// The tests of ordinary run `i` (0..20).
fn history_run(i: i64) -> Vec<(&'static str, &'static str)> {
    let mut t = vec![
        ("steady", "P"),
        ("broken", "F"),
        ("rate95", if i == 19 { "P" } else { "F" }),
        ("rate5", if i == 0 { "F" } else { "P" }),
        ("retried", if i == 5 { "FP" } else { "P" }),
        (
            "multi",
            match i {
                3 => "FP",
                10 => "F",
                _ => "P",
            },
        ),
    ];
    match i {
        10 => t.push(("samesha", "P")),
        11 => t.push(("samesha", "F")),
        12 => t.push(("diffsha", "P")),
        13 => t.push(("diffsha", "F")),
        _ => {}
    }
    if i < 19 {
        t.push(("rate_few", if i == 7 { "F" } else { "P" }));
    }
    t.push((
        "skippy",
        match i {
            0 => "S",
            19 => "F",
            _ => "P",
        },
    ));
    if i > 0 {
        t.push(("infra_only", "P"));
    }
    t
}

/// A scripted history of service `shop`: 20 ordinary runs, one
/// infrastructure run (9 of 10 tests failed) and one run 14 days and an hour
/// old.
fn history() -> Dm {
    let mut dm = Dm::default();
    for i in 0..20 {
        let id = format!("run-{i:02}");
        ingest(
            &mut dm,
            "shop",
            &id,
            &run_sha(i),
            run_time(i),
            &history_run(i),
        );
    }
    // Every test failed but one: an infrastructure failure, ignored. It
    // shares sha01 with run 1, where steady and infra_only passed.
    let infra = ingest(
        &mut dm,
        "shop",
        "run-infra",
        "sha01",
        NOW - 2 * DAY,
        &[
            ("steady", "F"),
            ("broken", "F"),
            ("rate95", "F"),
            ("rate5", "F"),
            ("retried", "F"),
            ("multi", "F"),
            ("rate_few", "F"),
            ("skippy", "F"),
            ("infra_only", "F"),
            ("infra_retry", "FP"),
        ],
    );
    assert_eq!(
        (u(&infra, "tests"), u(&infra, "failed"), u(&infra, "passed")),
        (10, 9, 1),
        "{infra}"
    );
    // Older than the 14-day window.
    ingest(
        &mut dm,
        "shop",
        "run-old",
        "old",
        NOW - 14 * DAY - HOUR,
        &[
            ("steady", "P"),
            ("broken", "F"),
            ("rate5", "F"),
            ("old_flaky", "FP"),
        ],
    );
    dm
}

#[test]
fn flaky_reports_each_kind_of_evidence_exactly() {
    let dm = history();
    let c = |s: &str| format!("c::{s}");

    // Defaults: --window 14d --min-runs 20 --min-failure-rate 5 --max-failure-rate 95 --infra-threshold 80.
    let (found, v) = flaky(&dm, "shop", &[]);
    assert_eq!(v["service"], "shop", "{v}");
    assert_eq!(ts(&v["window"]["start"]), NOW - 14 * DAY, "{v}");
    assert_eq!(ts(&v["window"]["end"]), NOW, "{v}");
    assert_close(&v["window"]["days"], 14.0, 1e-9, "window.days");
    assert_ids(
        &found,
        &[
            &c("rate95"),
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
        ],
        "defaults",
    );
    // 19 of 20 runs failed: 95 % is still flaky (the cap is inclusive); 20 of 20 (broken) is not.
    assert_finding(
        &found,
        &c("rate95"),
        &["failure_rate"],
        95.0,
        [20, 19, 0, 0],
    );
    // 1 of 20: exactly the 5 % floor.
    assert_finding(&found, &c("rate5"), &["failure_rate"], 5.0, [20, 1, 0, 0]);
    // Failed then passed inside run 5: its outcome there is passed.
    assert_finding(&found, &c("retried"), &["retry"], 0.0, [20, 0, 1, 0]);
    // Passed in run 10 and failed in run 11, both on sha `shared`; two runs only.
    assert_finding(&found, &c("samesha"), &["same_sha"], 50.0, [2, 1, 0, 1]);
    // All three kinds, listed in SPEC order.
    assert_finding(
        &found,
        &c("multi"),
        &["retry", "same_sha", "failure_rate"],
        5.0,
        [20, 1, 1, 1],
    );
    // Seen from the first to the last ordinary run: neither the older run nor
    // the later infrastructure run counts.
    let rate5 = &found[&c("rate5")];
    assert_eq!(ts(&rate5["first_seen"]), run_time(0), "{rate5}");
    assert_eq!(ts(&rate5["last_seen"]), run_time(19), "{rate5}");
    let samesha = &found[&c("samesha")];
    assert_eq!(ts(&samesha["first_seen"]), run_time(10), "{samesha}");
    assert_eq!(ts(&samesha["last_seen"]), run_time(11), "{samesha}");
    // Not reported: steady (0 %), broken (100 %), diffsha (pass and fail on
    // different shas), rate_few (19 runs), skippy (20 entries, one skipped:
    // 19 runs), infra_only and infra_retry (their failures are in the
    // infrastructure run only), old_flaky (older than the window).

    // --min-runs 19 admits the tests with 19 counted runs.
    let (found, _) = flaky(&dm, "shop", &["--min-runs", "19"]);
    assert_ids(
        &found,
        &[
            &c("rate95"),
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
            &c("rate_few"),
            &c("skippy"),
        ],
        "--min-runs 19",
    );
    assert_finding(
        &found,
        &c("rate_few"),
        &["failure_rate"],
        100.0 / 19.0,
        [19, 1, 0, 0],
    );
    assert_finding(
        &found,
        &c("skippy"),
        &["failure_rate"],
        100.0 / 19.0,
        [19, 1, 0, 0],
    );

    // The rate bounds are flags.
    let (found, _) = flaky(
        &dm,
        "shop",
        &["--min-failure-rate", "6", "--max-failure-rate", "100"],
    );
    assert_ids(
        &found,
        &[
            &c("broken"),
            &c("rate95"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
        ],
        "--min-failure-rate 6 --max-failure-rate 100",
    );
    assert_finding(
        &found,
        &c("broken"),
        &["failure_rate"],
        100.0,
        [20, 20, 0, 0],
    );
    assert_finding(
        &found,
        &c("multi"),
        &["retry", "same_sha"],
        5.0,
        [20, 1, 1, 1],
    );

    // A wider window takes in the old run.
    let (found, _) = flaky(&dm, "shop", &["--window", "15d"]);
    assert_ids(
        &found,
        &[
            &c("rate95"),
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
            &c("old_flaky"),
        ],
        "--window 15d",
    );
    assert_finding(
        &found,
        &c("rate5"),
        &["failure_rate"],
        200.0 / 21.0,
        [21, 2, 0, 0],
    );
    assert_finding(&found, &c("old_flaky"), &["retry"], 0.0, [1, 0, 1, 0]);
    assert_eq!(ts(&found[&c("rate5")]["first_seen"]), NOW - 14 * DAY - HOUR);

    // Proof that the infrastructure run is what hid infra_only and
    // infra_retry: with the threshold above its 90 %, it counts (and shares
    // sha01 with run 1, where most tests passed).
    let (found, _) = flaky(&dm, "shop", &["--infra-threshold", "95"]);
    assert_ids(
        &found,
        &[
            &c("rate5"),
            &c("retried"),
            &c("samesha"),
            &c("multi"),
            &c("steady"),
            &c("infra_only"),
            &c("infra_retry"),
            &c("skippy"),
            &c("rate_few"),
        ],
        "--infra-threshold 95",
    );
    assert_finding(
        &found,
        &c("infra_only"),
        &["same_sha", "failure_rate"],
        5.0,
        [20, 1, 0, 1],
    );
    assert_finding(
        &found,
        &c("steady"),
        &["same_sha"],
        100.0 / 21.0,
        [21, 1, 0, 1],
    );
    assert_finding(&found, &c("infra_retry"), &["retry"], 0.0, [1, 0, 1, 0]);
    assert_finding(
        &found,
        &c("rate5"),
        &["same_sha", "failure_rate"],
        200.0 / 21.0,
        [21, 2, 0, 1],
    );
    assert_finding(
        &found,
        &c("multi"),
        &["retry", "same_sha", "failure_rate"],
        200.0 / 21.0,
        [21, 2, 1, 2],
    );
    assert_finding(
        &found,
        &c("skippy"),
        &["same_sha", "failure_rate"],
        10.0,
        [20, 2, 0, 1],
    );
    assert_eq!(ts(&found[&c("rate5")]["last_seen"]), NOW - 2 * DAY);

    // The gate, and a service with no history.
    let gate = dm.run(&["flaky", "--service", "shop", "--fail-on-flaky"]);
    gate.assert_no_panic();
    assert_eq!(
        gate.code, 3,
        "--fail-on-flaky with flaky tests exits 3: {gate:#?}"
    );
    assert_eq!(
        arr(&out_json(&gate), "tests").len(),
        5,
        "the findings are still printed"
    );
    assert!(
        gate.stderr
            .trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("error: ")),
        "every non-zero exit says why: {gate:#?}"
    );
    // A service the store never heard of is a typo, not "no flaky tests".
    let none = dm.run(&["flaky", "--service", "nobody", "--fail-on-flaky"]);
    assert_eq!(none.code, 4, "{none:#?}");
    assert!(none.stderr.contains("known: shop"), "{none:#?}");
}

#[test]
fn flaky_infrastructure_threshold_is_more_than_80_percent() {
    let mut dm = Dm::default();
    let t0 = NOW - 3 * DAY;
    // Exactly 80 % failed: not an infrastructure run.
    ingest(
        &mut dm,
        "edge",
        "a",
        "x",
        t0,
        &[
            ("t1", "F"),
            ("t2", "F"),
            ("t3", "E"),
            ("t4", "F"),
            ("t5", "P"),
        ],
    );
    ingest(
        &mut dm,
        "edge",
        "b",
        "x",
        t0 + HOUR,
        &[
            ("t1", "P"),
            ("t2", "P"),
            ("t3", "P"),
            ("t4", "P"),
            ("t5", "P"),
        ],
    );
    // 90 % failed: ignored.
    let many: Vec<(String, &str)> = (1..=10)
        .map(|i| (format!("u{i:02}"), if i == 10 { "P" } else { "F" }))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, o)| (n.as_str(), *o)).collect();
    ingest(&mut dm, "edge", "c", "y", t0 + 2 * HOUR, &many);
    let pass: Vec<(&str, &str)> = many.iter().map(|(n, _)| (*n, "P")).collect();
    ingest(&mut dm, "edge", "d", "y", t0 + 3 * HOUR, &pass);

    // Pass and fail in two runs without a sha: no same_sha evidence.
    for (id, t, outcome) in [("n1", t0 + 4 * HOUR, "P"), ("n2", t0 + 5 * HOUR, "F")] {
        write(
            &dm,
            &format!("{id}.xml"),
            report(&[("nosha", outcome), ("t5", "P")]),
        );
        dm.now = t;
        let v = dm.json(&[
            "junit",
            &format!("{id}.xml"),
            "--service",
            "edge",
            "--id",
            id,
        ]);
        dm.now = NOW;
        assert_eq!(v["recorded"], true, "{v}");
    }

    let t_ids = ["c::t1", "c::t2", "c::t3", "c::t4"];
    let u_ids: Vec<String> = (1..=9).map(|i| format!("c::u{i:02}")).collect();

    let (found, _) = flaky(&dm, "edge", &[]);
    assert_ids(&found, &t_ids, "80 % is not more than 80 %; 90 % is");
    for id in t_ids {
        assert_finding(&found, id, &["same_sha"], 50.0, [2, 1, 0, 1]);
    }

    let (found, _) = flaky(&dm, "edge", &["--infra-threshold", "75"]);
    assert_ids(
        &found,
        &[],
        "--infra-threshold 75 ignores both failing runs",
    );

    let (found, _) = flaky(&dm, "edge", &["--infra-threshold", "95"]);
    let mut all: Vec<&str> = t_ids.to_vec();
    all.extend(u_ids.iter().map(String::as_str));
    assert_ids(
        &found,
        &all,
        "--infra-threshold 95 counts both failing runs",
    );
    for id in &u_ids {
        assert_finding(&found, id, &["same_sha"], 50.0, [2, 1, 0, 1]);
    }
}
