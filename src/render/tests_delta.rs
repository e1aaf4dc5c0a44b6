//! The tests against the base commit, and the slowest tests: one rendering
//! for the PR/MR comment and `junit`'s Markdown (the job summary).

use super::escape::markdown;
use crate::app::test_compare::Comparison;

/// Lists longer than this are collapsed in `<details>`.
const OPEN: usize = 5;

/// `+12`, `−1`, `±0`.
fn delta(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => format!("+{}", now - before),
        std::cmp::Ordering::Less => format!("−{}", before - now),
        std::cmp::Ordering::Equal => "±0".into(),
    }
}

fn ids(out: &mut String, title: &str, ids: &[String], limit: usize) {
    if ids.is_empty() {
        return;
    }
    let collapsed = ids.len() > OPEN;
    if collapsed {
        out.push_str(&format!(
            "\n<details><summary>{title} ({})</summary>\n\n",
            ids.len()
        ));
    } else {
        out.push_str(&format!("\n{title}:\n\n"));
    }
    for id in ids.iter().take(limit) {
        out.push_str(&format!("- {}\n", markdown(&super::comment::short(id))));
    }
    if ids.len() > limit {
        out.push_str(&format!("- … and {} more\n", ids.len() - limit));
    }
    if collapsed {
        out.push_str("\n</details>\n");
    }
}

/// `#### Tests against the base`: the counts with their deltas, what
/// changed, and the lists. `note` says why there is no comparison.
pub fn against_base(c: Option<&Comparison>, note: Option<&str>, limit: usize) -> String {
    let mut out = String::from("\n#### Tests against the base\n\n");
    let Some(c) = c else {
        out.push_str(&format!(
            "_{}_\n",
            markdown(note.unwrap_or("no base commit to compare with"))
        ));
        return out;
    };
    let sha: String = c
        .base_sha
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    let whence = match c.base_from {
        "named" => format!("the base commit `{sha}`"),
        _ if c.base_back == 0 => format!("the merge base `{sha}`"),
        _ => format!(
            "`{sha}`, {} before the merge base",
            super::count(c.base_back as u64, "commit")
        ),
    };
    out.push_str("| | Tests | Passed | Failing | Skipped |\n|---|---|---|---|---|\n");
    let (h, b) = (&c.head, &c.base);
    out.push_str(&format!(
        "| This pipeline | {} | {} | {} | {} |\n| Against the base | {} | {} | {} | {} |\n\n",
        h.tests,
        h.passed,
        h.failing,
        h.skipped,
        delta(h.tests, b.tests),
        delta(h.passed, b.passed),
        delta(h.failing, b.failing),
        delta(h.skipped, b.skipped),
    ));
    let mut parts = vec![
        format!("{} newly failing", c.newly_failing.len()),
        format!("{} fixed", c.fixed.len()),
        format!("{} removed", c.removed.len()),
        format!("{} added", c.added),
    ];
    if !c.changed() {
        parts = vec!["no change".into()];
    }
    out.push_str(&format!(
        "{} against {whence} ({} recorded).\n",
        parts.join(", "),
        super::count(c.base_runs as u64, "test run")
    ));
    ids(&mut out, "Newly failing", &c.newly_failing, limit);
    ids(&mut out, "Fixed", &c.fixed, limit);
    ids(&mut out, "Removed", &c.removed, limit);
    out
}

/// `#### Slowest tests`, slowest first; nothing when no test has a time.
pub fn slowest<'a>(tests: impl IntoIterator<Item = (&'a str, f64)>) -> String {
    let mut out = String::new();
    for (id, secs) in tests {
        if out.is_empty() {
            out.push_str("\n#### Slowest tests\n\n| Test | Time |\n|---|---|\n");
        }
        out.push_str(&format!(
            "| {} | {} |\n",
            markdown(&super::comment::short(id)),
            seconds(secs)
        ));
    }
    out
}

/// `0.412 s`, `12.3 s`, `2 min 5 s`.
fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.3} s")
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = s.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_compare::Counts;

    #[test]
    fn deltas_lists_and_hostile_names() {
        let c = Comparison {
            base_sha: "0123456789abcdef0123".into(),
            base_from: "merge_base",
            base_back: 2,
            base_runs: 3,
            base: Counts {
                tests: 10,
                passed: 9,
                failing: 1,
                skipped: 0,
            },
            head: Counts {
                tests: 12,
                passed: 9,
                failing: 2,
                skipped: 1,
            },
            newly_failing: vec!["c::a|b".into(), "c::<!--x".into()],
            fixed: vec![],
            removed: (0..7).map(|i| format!("c::gone{i}")).collect(),
            added: 5,
        };
        let md = against_base(Some(&c), None, 6);
        assert!(
            md.contains(
                "| This pipeline | 12 | 9 | 2 | 1 |\n| Against the base | +2 | ±0 | +1 | +1 |"
            ),
            "{md}"
        );
        assert!(md.contains("2 newly failing, 0 fixed, 7 removed, 5 added against `0123456789ab`, 2 commits before the merge base (3 test runs recorded)."), "{md}");
        assert!(md.contains("- c::a\\|b\n- c::&lt;\\!\\-\\-x\n"), "{md}");
        assert!(
            md.contains("<details><summary>Removed (7)</summary>"),
            "{md}"
        );
        assert!(md.contains("- … and 1 more\n"), "{md}");
        assert!(!md.contains("Fixed"), "{md}");
        let none = against_base(None, Some("no test runs recorded for the base"), 6);
        assert!(
            none.ends_with("_no test runs recorded for the base_\n"),
            "{none}"
        );
        assert_eq!(slowest([]), "");
        let s = slowest([("c::slow", 125.2), ("c::x", 0.5)]);
        assert!(
            s.contains("| c::slow | 2 min 5 s |\n| c::x | 0.500 s |"),
            "{s}"
        );
    }
}
