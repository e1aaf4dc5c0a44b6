//! Annotations of a run's failing tests (issue 15): where each failed, from
//! its report and the checkout (`junit::locate`), as the forge shows them —
//! GitHub's workflow commands, a check run, GitLab's Code Quality report.

use crate::junit::{FailedTest, Hint, Outcome, RepoFiles, locate};
use crate::render::{Annotation, Level};

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
