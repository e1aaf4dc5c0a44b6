//! The PR/MR comment's pictures (SPEC §10): Mermaid charts of deployments
//! and lead time per week that are `report --by week`'s points, the text
//! fallback beside them, and the failed deployments of the window with why.
//!
//! Every ```` ```mermaid ```` block of a rendered comment is parsed by the
//! npm `mermaid` package, every version `tools/node/package.json` pins
//! (GitLab's and GitHub's), through `tools/node/mermaid-parse.mjs`; the
//! check is shown to fail on a broken block. The tools are `node` on `PATH`
//! and `tools/node/node_modules`, installed by `scripts/node-tools`
//! (`scripts/test` runs it). Absent or stale, each parse check says SKIPPED
//! on stderr and passes, unless `DORAMETER_REQUIRE_NODE=1` (CI), where it
//! fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::comment::{plain, scripted, weekly_counts};
use super::util::{DAY, Dm, NOW, Repo, at, rfc};

/// `node` and the installed `tools/node` directory, or `None` (after saying
/// so loudly: written to the process's stderr, past the test harness's
/// capture) with `skipped` named as what was not checked.
pub(crate) fn node_tools(skipped: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/node");
    let node = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("node"))
            .find(|p| p.is_file())
    });
    // scripts/node-tools leaves a copy of the lock it installed.
    let lock = std::fs::read(dir.join("package-lock.json")).expect("tools/node/package-lock.json");
    let installed = std::fs::read(dir.join("node_modules/.dorameter-package-lock.json")).ok();
    let missing = match (&node, installed) {
        (None, _) => Some("node not found (apt-get install -y nodejs npm)"),
        (Some(_), None) => Some("tools/node is not installed (run scripts/node-tools)"),
        (Some(_), Some(i)) if i != lock => Some(
            "tools/node/node_modules is older than its package-lock.json (run scripts/node-tools)",
        ),
        _ => None,
    };
    if let Some(why) = missing {
        assert!(
            std::env::var("DORAMETER_REQUIRE_NODE").as_deref() != Ok("1"),
            "DORAMETER_REQUIRE_NODE=1 but {why}"
        );
        let _ = writeln!(std::io::stderr(), "SKIPPED: {why}; {skipped}");
        return None;
    }
    Some((node?, dir))
}

/// The parser's verdict on `diagrams` (its report: a line per diagram and
/// Mermaid version), or `None` when the tools are missing (skipped).
fn parse(diagrams: &[String]) -> Option<Result<String, String>> {
    let (node, dir) = node_tools("the comment's Mermaid blocks were not parsed")?;
    let script = dir.join("mermaid-parse.mjs");
    let mut child = Command::new(node)
        .arg(&script)
        .arg("--json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    let input = serde_json::to_vec(diagrams).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.status.code() {
        Some(0) => Some(Ok(stdout)),
        Some(1) => Some(Err(stdout)),
        _ => panic!(
            "{} failed: {}\n{stdout}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The ```` ```mermaid ```` blocks of a Markdown body, each closed.
fn mermaid_blocks(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.lines() {
        match &mut current {
            None if line == "```mermaid" => current = Some(Vec::new()),
            None => {}
            Some(lines) if line == "```" => {
                out.push(format!("{}\n", lines.join("\n")));
                current = None;
            }
            Some(lines) => lines.push(line),
        }
    }
    assert!(current.is_none(), "an unclosed ```mermaid block: {body}");
    out
}

/// A chart's x labels and values: as many of each, every value on the
/// axis (0 to its top).
#[derive(Debug)]
struct Chart {
    mark: String,
    labels: Vec<String>,
    values: Vec<f64>,
    y_title: String,
}

fn list(s: &str) -> Vec<&str> {
    let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
    inner.split(", ").filter(|x| !x.is_empty()).collect()
}

#[track_caller]
fn chart(block: &str) -> Chart {
    // A directive (the colour) may come first.
    let lines: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("%%"))
        .collect();
    assert_eq!(lines[0], "xychart-beta", "{block}");
    let x = lines
        .iter()
        .find_map(|l| l.strip_prefix("x-axis "))
        .unwrap();
    let labels: Vec<String> = list(&x[x.find('[').unwrap()..])
        .into_iter()
        .map(|l| l.trim_matches('"').to_string())
        .collect();
    let y = lines
        .iter()
        .find_map(|l| l.strip_prefix("y-axis "))
        .unwrap();
    let (y_title, range) = y.rsplit_once("\" ").unwrap();
    let top: f64 = range.strip_prefix("0 --> ").unwrap().parse().unwrap();
    let marks: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("bar [") || l.starts_with("line ["))
        .collect();
    assert_eq!(marks.len(), 1, "{block}");
    let (mark, data) = marks[0].split_once(' ').unwrap();
    let values: Vec<f64> = list(data).iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(labels.len(), values.len(), "a value per label: {block}");
    assert!(values.iter().all(|&v| (0.0..=top).contains(&v)), "{block}");
    Chart {
        mark: mark.to_string(),
        labels,
        values,
        y_title: y_title.trim_start_matches('"').to_string(),
    }
}

/// The comment's charts, checked for shape and parsed by every pinned
/// Mermaid; `want` blocks expected.
#[track_caller]
fn charts(body: &str, want: usize) -> Vec<Chart> {
    let blocks = mermaid_blocks(body);
    assert_eq!(blocks.len(), want, "{body}");
    let charts = blocks.iter().map(|b| chart(b)).collect();
    if !blocks.is_empty()
        && let Some(verdict) = parse(&blocks)
    {
        let report = verdict
            .unwrap_or_else(|e| panic!("Mermaid refused the comment's charts:\n{e}\n{body}"));
        // Each block, by each version, read as an xychart.
        let oks = report
            .lines()
            .filter(|l| l.starts_with("ok ") && l.ends_with(": xychart"));
        assert!(oks.count() >= 2 * blocks.len(), "{report}");
    }
    charts
}

/// `comment --dry-run` with `extra` flags; the body.
fn body(dm: &Dm, extra: &[&str]) -> String {
    let mut args = vec!["comment", "--service", "api", "--dry-run"];
    args.extend_from_slice(extra);
    plain(dm, &[], &args).assert_ok().stdout.clone()
}

/// `report --by week` over `[since, until)`: each point's deployments and
/// lead time p50.
fn weekly_points(dm: &Dm, since: i64, until: i64) -> Vec<(u64, Option<f64>)> {
    let (since, until) = (rfc(since), rfc(until));
    let v = dm.json(&[
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
    let series = if v.is_array() { &v[0] } else { &v };
    series["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|p| {
            let m = &p["metrics"];
            (
                m["deployment_frequency"]["deployments"].as_u64().unwrap(),
                m["lead_time_for_changes"]["p50"].as_f64(),
            )
        })
        .collect()
}

#[test]
fn comment_charts_are_report_by_week_and_parse_in_every_pinned_mermaid() {
    // Window [day 3, day 33): ISO weeks from Wednesday 03-04. A failed job
    // on day 6 and an incident on day 9.
    let (dm, _repo) = scripted(
        &[
            (-3, 1),
            (4, 2),
            (5, 30),
            (9, 1),
            (12, 3),
            (16, 50),
            (22, 2),
            (29, 4),
            (32, 1),
        ],
        &[6],
        &[(9, 2)],
    );
    let body = body(&dm, &[]);
    let c = charts(&body, 2);
    let (bars, line) = (&c[0], &c[1]);
    assert_eq!((bars.mark.as_str(), line.mark.as_str()), ("bar", "line"));
    assert_eq!(
        bars.labels,
        ["Mar 4", "Mar 9", "Mar 16", "Mar 23", "Mar 30"]
    );
    let points = weekly_points(&dm, NOW - 30 * DAY, NOW);
    let counts: Vec<f64> = points.iter().map(|p| p.0 as f64).collect();
    assert_eq!(bars.values, counts, "{body}");
    assert_eq!(
        weekly_counts(&body),
        points.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    // The line: each week's p50 in hours, to one decimal, as `report` has it.
    assert_eq!(line.y_title, "p50, hours");
    let p50: Vec<f64> = points
        .iter()
        .filter_map(|p| p.1)
        .map(|s| (s / 3600.0 * 10.0).round() / 10.0)
        .collect();
    assert_eq!(line.values, p50, "{body}");
    assert_eq!(line.labels.len(), 5, "every week shipped changes: {body}");
    // The fallback table holds the same numbers.
    let table = body
        .split("<summary>The numbers behind the charts</summary>")
        .nth(1)
        .unwrap();
    assert!(table.contains("| 2026-03-04 | 5 | 2 | "), "{table}");
    assert!(table.contains("| 2026-03-30 | 4 | 2 | "), "{table}");
}

#[test]
fn comment_charts_leave_weeks_without_changes_off_the_line() {
    // Deployments in the first and fourth weeks only: three weeks of no
    // deployment are real zeros on the bars, but they have no lead time.
    let (dm, _repo) = scripted(&[(-10, 1), (4, 2), (23, 5)], &[], &[]);
    let body = body(&dm, &[]);
    let c = charts(&body, 2);
    assert_eq!(c[0].values, [1.0, 0.0, 0.0, 1.0, 0.0], "{body}");
    assert_eq!(c[1].labels, ["Mar 4", "Mar 23"], "{body}");
    assert_eq!(c[1].values, [2.0, 5.0], "{body}");
    assert!(
        body.contains("the other 3 have no lead time and are left out, not drawn as 0."),
        "{body}"
    );
    assert!(body.contains("| 2026-03-09 | 7 | 0 | – | 0 |"), "{body}");
}

#[test]
fn comment_charts_of_a_single_week() {
    // --window 3d: Tuesday 03-31 to Friday 04-03, inside one ISO week.
    let (dm, _repo) = scripted(&[(28, 1), (30, 3), (31, 2), (32, 1)], &[], &[]);
    let body = body(&dm, &["--window", "3d"]);
    let c = charts(&body, 1);
    assert_eq!(c[0].labels, ["Mar 31"]);
    assert_eq!(c[0].values, [3.0]);
    assert!(body.contains("this one covers only 3 of 7 days."), "{body}");
    assert!(
        body.contains("Only the week from Mar 31 has a lead time (p50 2.0h): no line to draw."),
        "{body}"
    );
}

#[test]
fn comment_charts_of_many_weeks_show_the_last_two_years() {
    // --window 800d: 115 weeks from Wednesday 2024-01-24; a deployment every 20 days.
    let days: Vec<(i64, i64)> = (0..40).map(|k| (32 - k * 20, 1 + k % 5)).collect();
    let (dm, _repo) = scripted(&days, &[], &[]);
    let body = body(&dm, &["--window", "800d"]);
    let c = charts(&body, 2);
    assert_eq!(c[0].labels.len(), 104, "{body}");
    assert_eq!(
        c[0].labels.last().unwrap(),
        "2026-03-30",
        "dated across years"
    );
    assert!(c[1].labels.len() > 30, "{body}");
    assert!(
        body.contains("The charts and the table show the last 104 of 115 weeks."),
        "{body}"
    );
    assert_eq!(weekly_counts(&body).len(), 115);
    assert_eq!(weekly_counts(&body).iter().sum::<u64>(), 40);
    assert!(body.len() < 65_536, "{}", body.len());
}

#[test]
fn comment_charts_without_lead_time_data_draw_bars_only() {
    // One commit deployed again and again: the first has no previous
    // deployment, the others ship nothing new, so no lead-time sample.
    let dm = Dm::default();
    let mut repo = Repo::new();
    let sha = repo.commit_at("only", at(-5, 0, 0));
    for (i, day) in [4, 11, 18].into_iter().enumerate() {
        dm.deploy_at(
            &repo.path,
            "api",
            &format!("d{i}"),
            &sha,
            at(day, 0, 0),
            &[],
        );
    }
    let body = body(&dm, &[]);
    let c = charts(&body, 1);
    assert_eq!(c[0].values, [1.0, 1.0, 1.0, 0.0, 0.0], "{body}");
    assert!(
        body.contains(
            "No deployment of these weeks shipped a change with a lead time: no lead-time chart."
        ),
        "{body}"
    );
    assert!(body.contains("| Lead time for changes | – |"), "{body}");
}

#[test]
fn comment_before_any_deployment_has_no_charts() {
    let dm = Dm::default();
    let body = body(&dm, &[]);
    charts(&body, 0);
    assert!(
        body.contains("No deployment recorded yet for this service and environment."),
        "{body}"
    );
}

#[test]
fn comment_chart_check_rejects_a_broken_block() {
    let (dm, _repo) = scripted(&[(-3, 1), (4, 2), (12, 3)], &[], &[]);
    let good = mermaid_blocks(&body(&dm, &[]));
    assert_eq!(good.len(), 2);
    let open_list = match good[0].rfind(']') {
        Some(i) => format!("{}{}", &good[0][..i], &good[0][i + 1..]),
        None => panic!("{}", good[0]),
    };
    let broken = [
        // The bars' list left open.
        open_list,
        // A missing value written as null (what a week without a lead
        // time would be if it were drawn).
        good[1].replacen("line [", "line [null, ", 1),
        // Not a diagram type.
        good[0].replacen("xychart-beta", "xychart-gamma", 1),
    ];
    for b in &broken {
        let Some(verdict) = parse(std::slice::from_ref(b)) else {
            return;
        };
        let report = verdict.expect_err(b);
        // Every pinned version refuses it.
        assert!(
            report.lines().all(|l| l.starts_with("error mermaid@")) && report.lines().count() >= 2,
            "{report}"
        );
    }
    // And the good ones pass the same way.
    if let Some(verdict) = parse(&good) {
        verdict.unwrap();
    }
}

#[test]
fn comment_lists_failed_deployments_with_their_causes_escaped() {
    // d1 (day 5) is rolled back by d2 (day 6) redeploying d0's commit; d3
    // (day 10) gets an incident with a hostile title.
    let dm = Dm::default();
    let mut repo = Repo::new();
    let c0 = repo.commit_at("zero", at(-2, 0, 0));
    dm.deploy_at(&repo.path, "api", "d0", &c0, at(-1, 0, 0), &[]);
    let c1 = repo.commit_at("one", at(4, 0, 0));
    dm.deploy_at(&repo.path, "api", "d1", &c1, at(5, 0, 0), &[]);
    let back = dm.deploy_at(&repo.path, "api", "d2", &c0, at(6, 0, 0), &[]);
    assert_eq!(back["kind"], "rollback", "{back}");
    let c3 = repo.commit_at("three", at(9, 0, 0));
    dm.deploy_at(&repo.path, "api", "d3", &c3, at(10, 0, 0), &[]);
    let (start, end) = (rfc(at(10, 1, 0)), rfc(at(10, 4, 0)));
    dm.run(&[
        "incident",
        "open",
        "--id",
        "INC-7",
        "--service",
        "api",
        "--cause",
        "deploy",
        "--severity",
        "sev1",
        "--title",
        "</details><img src=x> @oncall | #1",
        "--started-at",
        &start,
        "--resolved-at",
        &end,
    ])
    .assert_ok();
    let body = body(&dm, &[]);
    let section = body
        .split("<summary>2 failed deployments in this window, and why</summary>")
        .nth(1)
        .unwrap_or_else(|| panic!("{body}"));
    let section = section.split("</details>").next().unwrap();
    let lines: Vec<&str> = section.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(lines.len(), 2, "{section}");
    // Newest first.
    assert!(
        lines[0].starts_with("- 2026-03-11 00:00:00Z · deployment d3 (`"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(
            "): incident INC\\-7 (sev1): &lt;/details&gt;&lt;img src=x&gt; @\u{2060}oncall \\| \\#1 · recovered after 4.0h"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("- 2026-03-06 00:00:00Z · deployment d1 (`")
            && lines[1].ends_with("): rolled back by deployment d2 · recovered after 1.0d"),
        "{}",
        lines[1]
    );
    assert_eq!(
        body.matches("</details>").count(),
        body.matches("<details>").count(),
        "{body}"
    );
    assert!(!body.contains("<img"), "{body}");
    charts(&body, 2);
}

#[test]
fn the_demo_comment_parses() {
    let dm = Dm::default();
    let dir = dm.dir.path().join("demo");
    let demo = dir.display().to_string();
    dm.run_raw(&["demo", &demo]).assert_ok();
    let out = dm
        .raw_command(&["comment", "--dry-run"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let body = String::from_utf8(out.stdout).unwrap();
    let c = charts(&body, 2);
    assert!(c[0].values.iter().sum::<f64>() > 0.0, "{body}");
    assert!(
        body.contains("failed deployments in this window, and why"),
        "{body}"
    );
}

#[test]
fn comment_docs_mermaid_examples_parse() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut blocks = Vec::new();
    for entry in std::fs::read_dir(&docs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            blocks.extend(mermaid_blocks(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(!blocks.is_empty(), "docs/comment.md shows a chart");
    if let Some(verdict) = parse(&blocks) {
        verdict.unwrap_or_else(|e| panic!("a Mermaid example in docs/ is refused:\n{e}"));
    }
}

#[test]
fn comment_lists_the_newest_fifty_failed_deployments_and_counts_the_rest() {
    // 55 deployments twelve hours apart, each hit by an incident an hour later.
    let dm = Dm::default();
    let mut repo = Repo::new();
    for k in 0..55 {
        let t = at(4, 0, 0) + k * 12 * 3600;
        let sha = repo.commit_at(&format!("change {k}"), t - 3600);
        dm.deploy_at(&repo.path, "api", &format!("d{k:02}"), &sha, t, &[]);
        let (start, end) = (rfc(t + 3600), rfc(t + 2 * 3600));
        let id = format!("INC-{k:02}");
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
    let body = body(&dm, &[]);
    let section = body
        .split("<summary>55 failed deployments in this window, and why</summary>")
        .nth(1)
        .unwrap_or_else(|| panic!("{body}"));
    let section = section.split("</details>").next().unwrap();
    let lines: Vec<&str> = section.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(lines.len(), 51, "{section}");
    assert!(lines[0].contains("deployment d54 "), "{}", lines[0]);
    assert!(lines[49].contains("deployment d05 "), "{}", lines[49]);
    assert!(
        lines[49].contains(": incident INC\\-05 · recovered after 2.0h"),
        "{}",
        lines[49]
    );
    assert_eq!(lines[50], "- … and 5 more");
    assert!(body.len() < 65_536, "{}", body.len());
    charts(&body, 2);
}
