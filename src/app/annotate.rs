//! Annotations of a run's failing tests (issue 15): where each failed, from
//! its report and the checkout (`junit::locate`), as the forge shows them —
//! GitHub's workflow commands, a check run, GitLab's Code Quality report.

use crate::junit::{FailedTest, Hint, Outcome, RepoFiles, locate};
use serde_json::{Value, json};

use crate::render::{Annotation, JunitView, Level, check_run_batches, count};

use super::test_compare::HeadTests;

/// The failing tests' annotations: those located in the checkout first, by
/// file and line, then those without a location (an empty `path`:
/// a workflow command names no file; a check run or Code Quality report
/// leaves them out).
pub fn annotations(
    failures: &[FailedTest],
    head: &HeadTests,
    files: &dyn RepoFiles,
) -> Vec<Annotation> {
    let mut located = Vec::new();
    let mut unlocated = Vec::new();
    for f in failures {
        let text = head.failure_text(&f.id);
        let message = f.message.clone().unwrap_or_default();
        let detail = text.and_then(|t| t.detail.clone());
        let at = text.and_then(|t| {
            let mut all = t.message.clone().unwrap_or_default();
            if let Some(d) = &t.detail {
                all.push('\n');
                all.push_str(d);
            }
            locate(
                &Hint {
                    file: t.file.as_deref(),
                    line: t.line.as_deref(),
                    classname: &t.classname,
                    name: &t.name,
                    text: &all,
                },
                files,
            )
        });
        let title = match f.outcome {
            Outcome::Errored => format!("{} errored", f.id),
            _ => format!("{} failed", f.id),
        };
        let mut a = Annotation {
            path: String::new(),
            line: 0,
            end_line: 0,
            level: Level::Failure,
            title,
            message,
            raw_details: detail,
            identity: f.id.clone(),
        };
        match at {
            Some(loc) => {
                a.path = loc.path;
                a.line = loc.line;
                a.end_line = loc.line;
                located.push(a);
            }
            None => unlocated.push(a),
        }
    }
    // By file and line: the order a reader of the diff meets them.
    located.sort_by(|a, b| (&a.path, a.line, &a.identity).cmp(&(&b.path, b.line, &b.identity)));
    located.extend(unlocated);
    located
}

/// The Checks API's limit on `output.summary`.
const CHECK_RUN_SUMMARY_BYTES: usize = 65_535;

/// The bodies of `--check-run NAME`: the `POST` creating a completed check
/// run on `sha` (its conclusion, `summary` as its text, the first 50 located
/// annotations), and one `PATCH` per further 50.
pub fn check_run_bodies(
    name: &str,
    sha: &str,
    view: &JunitView<'_>,
    summary: &str,
    failing: &[Annotation],
) -> (Value, Vec<Value>) {
    let failed = view.failed + view.errored;
    let title = if failed > 0 {
        format!("{} of {}", count(failed, "failing test"), view.tests)
    } else {
        format!("{} passed", count(view.passed, "test"))
    };
    let mut summary = summary.to_string();
    if summary.len() > CHECK_RUN_SUMMARY_BYTES {
        let mut cut = CHECK_RUN_SUMMARY_BYTES - 64;
        while !summary.is_char_boundary(cut) {
            cut -= 1;
        }
        summary.truncate(cut);
        summary.push_str("\n\n… (cut: see the job summary)\n");
    }
    let batches = check_run_batches(failing);
    let output = |annotations: Option<&Value>| {
        let mut o = json!({"title": title, "summary": summary});
        if let Some(a) = annotations {
            o["annotations"] = a.clone();
        }
        o
    };
    let conclusion = if failed > 0 || !view.errors.is_empty() {
        "failure"
    } else {
        "success"
    };
    let create = json!({
        "name": name,
        "head_sha": sha,
        "status": "completed",
        "conclusion": conclusion,
        "output": output(batches.first()),
    });
    let updates = batches
        .iter()
        .skip(1)
        .map(|b| json!({ "output": output(Some(b)) }))
        .collect();
    (create, updates)
}
