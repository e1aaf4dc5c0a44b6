//! Failing and flaky tests as annotations on a forge's diff, in the three
//! forms the forges read: GitHub Actions workflow commands (`::error
//! file=…`), GitHub check-run annotations (the Checks API), and GitLab's
//! Code Quality report (the `codequality` artifact shown in merge request
//! diffs). Each keeps within its destination's documented limits; the text
//! is cleaned by `escape::plain_text` and escaped for the destination.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Value, json};

use super::escape;
use crate::ci::github;

/// Annotations of each level a GitHub Actions step shows: the runner keeps
/// the first 10 errors, 10 warnings and 10 notices of a step
/// (`_maxCountPerIssueType`, actions/runner `ExecutionContext.cs`; "10
/// warning annotations, 10 error annotations, and 10 notice annotations per
/// step", actions/toolkit `docs/problem-matchers.md`).
pub const GITHUB_PER_STEP: usize = 10;
/// Annotations a GitHub Actions job shows, all its steps together (same
/// document): the budget a caller passes to [`workflow_commands`] when no
/// other step of the job annotates.
pub const GITHUB_PER_JOB: usize = 50;
/// The runner cuts a workflow command's message to 4,096 characters (.NET
/// `string.Length`: UTF-16 code units; `_maxIssueMessageLength`,
/// actions/runner `ExecutionContext.cs`); cutting it here keeps the cut on
/// a character and says so.
const GITHUB_MESSAGE_UNITS: usize = 4096;
/// Annotations per Checks API request (`output.annotations`: `maxItems:
/// 50` in `@octokit/openapi`'s `checks/create`).
pub const CHECK_RUN_BATCH: usize = 50;
/// `message` and `raw_details` of a check-run annotation: "The maximum
/// size is 64 KB". 64,000 bytes is under every reading of that (as
/// EnricoMi/publish-unit-test-result-action cuts them), and one field over
/// the limit fails the whole request.
const CHECK_RUN_TEXT_BYTES: usize = 64_000;
/// `title`: "The maximum size is 255 characters". Workflow command titles
/// become the same annotations, so they are cut there too.
const TITLE_CHARS: usize = 255;
/// A Code Quality `description` is one line ("Descriptions must be a
/// single line of text", the Code Climate spec GitLab follows); this keeps
/// it readable in the merge request widget.
const DESCRIPTION_CHARS: usize = 500;

/// How serious an annotation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Failure,
    Warning,
    Notice,
}

impl Level {
    fn index(self) -> usize {
        match self {
            Level::Failure => 0,
            Level::Warning => 1,
            Level::Notice => 2,
        }
    }

    /// The workflow command: `::error`, `::warning`, `::notice`.
    fn command(self) -> &'static str {
        ["error", "warning", "notice"][self.index()]
    }

    /// The Checks API's `annotation_level`.
    fn check_run(self) -> &'static str {
        ["failure", "warning", "notice"][self.index()]
    }

    /// GitLab's severity (`info`, `minor`, `major`, `critical`, `blocker`):
    /// a failing test as linters report an error.
    fn code_quality(self) -> &'static str {
        ["major", "minor", "info"][self.index()]
    }

    /// The Code Quality `check_name`: what kind of finding it is.
    fn check_name(self) -> &'static str {
        [
            "dorameter/failed-test",
            "dorameter/test-warning",
            "dorameter/test-notice",
        ][self.index()]
    }
}

/// One annotation: a line range of a repository file and what to say there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Repository-relative, `/`-separated; empty when no file is known (a
    /// workflow command then names no file; check runs and Code Quality
    /// reports take only annotations with a file).
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// 1-based, at least `line`.
    pub end_line: u32,
    pub level: Level,
    pub title: String,
    pub message: String,
    /// The stack trace: shown behind "Raw output" on GitHub's checks page.
    pub raw_details: Option<String>,
    /// The test's identity (`classname::name`): what a Code Quality
    /// finding's fingerprint is made of, so the same failing test is the
    /// same finding from one pipeline to the next.
    pub identity: String,
}

impl Annotation {
    /// Names a file: check runs and Code Quality reports take only these.
    pub fn has_file(&self) -> bool {
        !self.path.is_empty()
    }

    fn lines(&self) -> (u32, u32) {
        let start = self.line.max(1);
        (start, self.end_line.max(start))
    }
}

/// Workflow commands for a step's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowCommands {
    /// One command per line, each ending with a newline.
    pub text: String,
    /// Annotations written.
    pub annotated: usize,
    /// Annotations left out (said in one closing `::notice`).
    pub not_annotated: usize,
}

/// `::error file=…,line=…,endLine=…,title=…::message` for each annotation,
/// in order, within `limit` and the step's [`GITHUB_PER_STEP`] of each
/// level. When some are left out, a last `::notice` (counted within the
/// limits) says how many; with `limit` 0 nothing is written.
pub fn workflow_commands(annotations: &[Annotation], limit: usize) -> WorkflowCommands {
    let mut shown: Vec<&Annotation> = Vec::new();
    let mut per_level = [0; 3];
    for a in annotations {
        if shown.len() < limit && per_level[a.level.index()] < GITHUB_PER_STEP {
            per_level[a.level.index()] += 1;
            shown.push(a);
        }
    }
    let notice = Level::Notice.index();
    if shown.len() < annotations.len() && limit > 0 {
        // Room for the closing notice.
        if per_level[notice] == GITHUB_PER_STEP {
            if let Some(i) = shown.iter().rposition(|a| a.level == Level::Notice) {
                shown.remove(i);
            }
        } else if shown.len() == limit {
            shown.pop();
        }
    }
    let mut text = String::new();
    for a in &shown {
        let (start, end) = a.lines();
        // No file: no line either (the command then names neither).
        let (start, end) = if !a.has_file() {
            (String::new(), String::new())
        } else {
            (start.to_string(), end.to_string())
        };
        let message = escape::plain_text(&a.message);
        let message = cut(&message, GITHUB_MESSAGE_UNITS, char::len_utf16);
        text.push_str(&github::command(
            a.level.command(),
            &[
                ("file", &escape::plain_text(&a.path)),
                ("line", &start),
                ("endLine", &end),
                ("title", &title(&a.title)),
            ],
            &message,
        ));
    }
    let not_annotated = annotations.len() - shown.len();
    if not_annotated > 0 && limit > 0 {
        let message = format!(
            "{} not annotated: GitHub Actions shows {GITHUB_PER_STEP} errors, {GITHUB_PER_STEP} warnings and {GITHUB_PER_STEP} notices per step, {GITHUB_PER_JOB} per job",
            super::count(not_annotated as u64, "more test")
        );
        text.push_str(&github::notice(&message, &[("title", "dorameter")]));
    }
    WorkflowCommands {
        text,
        annotated: shown.len(),
        not_annotated,
    }
}

/// `output.annotations` for the Checks API (`POST` and `PATCH
/// /repos/{owner}/{repo}/check-runs`) of the annotations naming a file: one
/// JSON array per request, at most [`CHECK_RUN_BATCH`] annotations each
/// (each `PATCH` appends its batch).
pub fn check_run_batches(annotations: &[Annotation]) -> Vec<Value> {
    let with_file: Vec<&Annotation> = annotations.iter().filter(|a| a.has_file()).collect();
    with_file
        .chunks(CHECK_RUN_BATCH)
        .map(|batch| Value::Array(batch.iter().map(|a| check_run_annotation(a)).collect()))
        .collect()
}

fn check_run_annotation(a: &Annotation) -> Value {
    let (start, end) = a.lines();
    let title = title(&a.title);
    let message = escape::plain_text(&a.message);
    // `message` is required: a failure without one is named by its title.
    let message = if message.trim().is_empty() {
        title.clone()
    } else {
        message
    };
    let mut o = json!({
        "path": a.path,
        "start_line": start,
        "end_line": end,
        "annotation_level": a.level.check_run(),
        "message": cut(&message, CHECK_RUN_TEXT_BYTES, char::len_utf8),
    });
    if !title.is_empty() {
        o["title"] = json!(title);
    }
    if let Some(raw) = a.raw_details.as_deref().filter(|r| !r.trim().is_empty()) {
        let raw = escape::plain_text(raw);
        o["raw_details"] = json!(cut(&raw, CHECK_RUN_TEXT_BYTES, char::len_utf8));
    }
    o
}

/// GitLab's Code Quality report (`artifacts:reports:codequality`) of the
/// annotations naming a file: an array of `{description, check_name,
/// fingerprint, severity, location: {path, lines: {begin}}}`, the fields
/// GitLab reads
/// (doc/ci/testing/code_quality.md, "Implement a custom tool").
pub fn code_quality(annotations: &[Annotation]) -> Value {
    Value::Array(
        annotations
            .iter()
            .filter(|a| a.has_file())
            .map(|a| {
                json!({
                    "description": description(a),
                    "check_name": a.level.check_name(),
                    "fingerprint": fingerprint(a),
                    "severity": a.level.code_quality(),
                    "location": {"path": a.path, "lines": {"begin": a.lines().0}},
                })
            })
            .collect(),
    )
}

/// `title: first line of the message`, on one line.
fn description(a: &Annotation) -> String {
    let message = escape::plain_text(&a.message);
    let first = message.lines().map(str::trim).find(|l| !l.is_empty());
    let title = title(&a.title);
    let text = match first {
        Some(first) if !title.is_empty() => format!("{title}: {first}"),
        Some(first) => first.to_string(),
        None => title,
    };
    cut(&text.replace('\t', " "), DESCRIPTION_CHARS, |_| 1).into_owned()
}

/// The same test failing in the same file is the same finding: neither the
/// line nor the message (both change as the code does) is part of it.
fn fingerprint(a: &Annotation) -> String {
    let key = format!("{}\0{}", a.path, a.identity);
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
}

/// A title on one line, within [`TITLE_CHARS`].
fn title(s: &str) -> String {
    let clean = escape::plain_text(s).replace(['\n', '\t'], " ");
    cut(clean.trim(), TITLE_CHARS, |_| 1).into_owned()
}

/// `s` within `max` as `size` measures each character (bytes, UTF-16
/// units, characters), cut on a character and ended with `…` when cut.
fn cut(s: &str, max: usize, size: impl Fn(char) -> usize) -> Cow<'_, str> {
    if s.chars().map(&size).sum::<usize>() <= max {
        return Cow::Borrowed(s);
    }
    let budget = max.saturating_sub(size('…'));
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if used + size(c) > budget {
            break;
        }
        used += size(c);
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(path: &str, line: u32, title: &str, message: &str) -> Annotation {
        Annotation {
            path: path.into(),
            line,
            end_line: line,
            level: Level::Failure,
            title: title.into(),
            message: message.into(),
            raw_details: None,
            identity: format!("{path}::{title}"),
        }
    }

    /// A workflow command as the runner reads it (actions/runner
    /// `ActionCommand.TryParseV2`, its `UnescapeProperty`/`UnescapeData`):
    /// name, properties, message.
    fn runner_reads(line: &str) -> (String, Vec<(String, String)>, String) {
        let unescape = |s: &str, property: bool| {
            let mut s = s.replace("%0D", "\r").replace("%0A", "\n");
            if property {
                s = s.replace("%3A", ":").replace("%2C", ",");
            }
            s.replace("%25", "%")
        };
        let line = line.trim_start();
        assert!(line.starts_with("::"), "{line}");
        let end = 2 + line[2..].find("::").expect("a command");
        let info = &line[2..end];
        let (name, props) = info.split_once(' ').unwrap_or((info, ""));
        let props = props
            .split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), unescape(v, true)))
            .collect();
        (name.to_string(), props, unescape(&line[end + 2..], false))
    }

    #[test]
    fn a_failure_becomes_an_error_command() {
        let a = Annotation {
            end_line: 14,
            ..failure(
                "tests/test_calc.py",
                12,
                "tests.test_calc::test_fails",
                "AssertionError: deliberate failure\nassert 4 == 5",
            )
        };
        let out = workflow_commands(&[a], GITHUB_PER_JOB);
        assert_eq!(
            out.text,
            "::error file=tests/test_calc.py,line=12,endLine=14,title=tests.test_calc%3A%3Atest_fails::AssertionError: deliberate failure%0Aassert 4 == 5\n"
        );
        assert_eq!((out.annotated, out.not_annotated), (1, 0));
    }

    #[test]
    fn hostile_text_cannot_forge_commands_or_properties() {
        let a = Annotation {
            level: Level::Warning,
            raw_details: Some("::error::raw".into()),
            ..failure(
                "src/a,b:c.rs",
                3,
                "t,file=/etc/passwd::x\ny\u{202E}",
                "50% done\r\n::set-output name=x::y\n%0A::add-mask::\u{1b}[31mred\u{1b}[0m \u{2066}z",
            )
        };
        let out = workflow_commands(std::slice::from_ref(&a), GITHUB_PER_JOB);
        // One line: nothing after a newline can start a command.
        assert_eq!(out.text.lines().count(), 1, "{}", out.text);
        let (name, props, message) = runner_reads(out.text.lines().next().unwrap());
        assert_eq!(name, "warning");
        let prop = |k: &str| props.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        assert_eq!(prop("file"), Some("src/a,b:c.rs"));
        assert_eq!(prop("title"), Some("t,file=/etc/passwd::x y"));
        assert_eq!(prop("line"), Some("3"));
        assert_eq!(props.len(), 4, "{props:?}");
        assert_eq!(
            message,
            "50% done\n::set-output name=x::y\n%0A::add-mask::red z"
        );
    }

    #[test]
    fn per_step_limits_leave_room_for_one_closing_notice() {
        let mut all: Vec<Annotation> = (1..=25)
            .map(|i| failure("a.rs", i, &format!("t{i}"), "boom"))
            .collect();
        all.extend((1..=3).map(|i| Annotation {
            level: Level::Warning,
            ..failure("b.rs", i, "flaky", "passed on a retry")
        }));
        let out = workflow_commands(&all, GITHUB_PER_JOB);
        let lines: Vec<&str> = out.text.lines().collect();
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::error ")).count(),
            GITHUB_PER_STEP
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::warning ")).count(),
            3
        );
        assert_eq!((out.annotated, out.not_annotated), (13, 15));
        assert_eq!(
            lines.last().unwrap(),
            &"::notice title=dorameter::15 more tests not annotated: GitHub Actions shows 10 errors, 10 warnings and 10 notices per step, 50 per job"
        );
        // The first ten, in order.
        assert!(lines[0].contains("title=t1::") && lines[9].contains("title=t10::"));

        // A smaller budget counts the notice in it.
        let out = workflow_commands(&all, 5);
        assert_eq!(out.text.lines().count(), 5);
        assert_eq!((out.annotated, out.not_annotated), (4, 24));

        // Ten notices already: the tenth makes way for the summary.
        let notices: Vec<Annotation> = (1..=12)
            .map(|i| Annotation {
                level: Level::Notice,
                ..failure("c.rs", i, "slow", "took 3 s")
            })
            .collect();
        let out = workflow_commands(&notices, GITHUB_PER_JOB);
        assert_eq!(
            out.text
                .lines()
                .filter(|l| l.starts_with("::notice "))
                .count(),
            10
        );
        assert_eq!((out.annotated, out.not_annotated), (9, 3));

        let out = workflow_commands(&all, 0);
        assert_eq!(
            (out.text.as_str(), out.annotated, out.not_annotated),
            ("", 0, 28)
        );
        let out = workflow_commands(&[], GITHUB_PER_JOB);
        assert_eq!((out.text.as_str(), out.annotated), ("", 0));
    }

    #[test]
    fn long_messages_are_cut_where_the_runner_would_on_a_character() {
        // 100 KB of text whose characters take two UTF-16 units each and
        // whose `%` triples when escaped: the runner counts after decoding.
        let message = "😀%".repeat(34_000);
        let out = workflow_commands(&[failure("a.rs", 1, "t", &message)], 1);
        let (_, _, read) = runner_reads(out.text.trim_end());
        assert!(
            read.encode_utf16().count() <= GITHUB_MESSAGE_UNITS,
            "{}",
            read.len()
        );
        assert!(read.encode_utf16().count() > GITHUB_MESSAGE_UNITS - 4);
        assert!(read.ends_with('…') && read.starts_with("😀%😀%"));
        let title = "é".repeat(300);
        let out = workflow_commands(&[failure("a.rs", 1, &title, "m")], 1);
        let (_, props, _) = runner_reads(out.text.trim_end());
        assert_eq!(props[3].1.chars().count(), TITLE_CHARS);
    }

    #[test]
    fn check_runs_take_fifty_annotations_a_request_within_the_size_limits() {
        let mut all: Vec<Annotation> = (1..=120)
            .map(|i| failure("src/lib.rs", i, &format!("t{i}"), "boom"))
            .collect();
        // 100 KB of two-byte characters, a 300-character title of emoji.
        all[0] = Annotation {
            end_line: 0,
            raw_details: Some(format!("{}\u{202E}", "é".repeat(50_000))),
            ..failure("src/lib.rs", 0, &"🦀".repeat(300), &"é".repeat(50_000))
        };
        all[1].message = " ".into();
        all[2].level = Level::Warning;
        all[3].level = Level::Notice;
        let batches = check_run_batches(&all);
        let sizes: Vec<usize> = batches
            .iter()
            .map(|b| b.as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [50, 50, 20]);
        let first = &batches[0][0];
        assert_eq!(first["start_line"], 1);
        assert_eq!(first["end_line"], 1);
        assert_eq!(first["annotation_level"], "failure");
        let message = first["message"].as_str().unwrap();
        assert!(message.len() <= CHECK_RUN_TEXT_BYTES && message.len() > CHECK_RUN_TEXT_BYTES - 4);
        assert!(message.ends_with("é…"));
        let raw = first["raw_details"].as_str().unwrap();
        assert!(raw.len() <= CHECK_RUN_TEXT_BYTES && !raw.contains('\u{202E}'));
        assert_eq!(
            first["title"].as_str().unwrap().chars().count(),
            TITLE_CHARS
        );
        // `message` is required: an empty one is the title.
        assert_eq!(batches[0][1]["message"], "t2");
        assert_eq!(batches[0][2]["annotation_level"], "warning");
        assert_eq!(batches[0][3]["annotation_level"], "notice");
        assert_eq!(
            batches[2][19],
            json!({"path": "src/lib.rs", "start_line": 120, "end_line": 120,
                   "annotation_level": "failure", "message": "boom", "title": "t120"})
        );
        assert!(check_run_batches(&[]).is_empty());
    }

    #[test]
    fn code_quality_findings_keep_their_fingerprint_across_runs() {
        let a = Annotation {
            raw_details: Some("trace".into()),
            ..failure(
                "tests/test_calc.py",
                12,
                "test_fails\u{202E}",
                "\u{1b}[31mAssertionError\u{1b}[0m: deliberate\tfailure\nassert 4 == 5",
            )
        };
        let report = code_quality(std::slice::from_ref(&a));
        let finding = &report[0];
        assert_eq!(
            finding["description"],
            "test_fails: AssertionError: deliberate failure"
        );
        assert_eq!(finding["check_name"], "dorameter/failed-test");
        assert_eq!(finding["severity"], "major");
        assert_eq!(
            finding["location"],
            json!({"path": "tests/test_calc.py", "lines": {"begin": 12}})
        );
        let fp = finding["fingerprint"].as_str().unwrap();
        assert!(
            fp.len() == 32 && fp.bytes().all(|b| b.is_ascii_hexdigit()),
            "{fp}"
        );
        let mut keys: Vec<&String> = finding.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "check_name",
                "description",
                "fingerprint",
                "location",
                "severity"
            ]
        );

        // The next run: the test moved and says something else. Same finding.
        let moved = Annotation {
            line: 40,
            end_line: 40,
            message: "assert 5 == 6".into(),
            level: Level::Warning,
            ..a.clone()
        };
        assert_eq!(code_quality(&[moved])[0]["fingerprint"], fp);
        let other = Annotation {
            identity: "tests.test_calc::test_other".into(),
            ..a.clone()
        };
        assert_ne!(code_quality(&[other])[0]["fingerprint"], fp);

        // One line, within its budget, whatever the message.
        let long = Annotation {
            message: format!("{}\nsecond line", "x".repeat(10_000)),
            ..a
        };
        let d = code_quality(&[long])[0]["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!d.contains('\n') && d.chars().count() == DESCRIPTION_CHARS && d.ends_with('…'));
        assert_eq!(code_quality(&[]), json!([]));
    }
}
