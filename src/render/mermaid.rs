//! Mermaid `xychart-beta` blocks for Markdown that GitHub and GitLab draw
//! (docs/comment.md: why this syntax). The text holds only what the caller
//! built, never a user's string, and every string is reduced to a safe set
//! anyway: a quote cannot end a label, a `%%` cannot open a directive, a
//! newline cannot start a statement, and a fence cannot close the block.

use std::fmt::Write;

/// The bars' and the line's colour: Mermaid's default is a pale lavender a
/// line all but vanishes in on white. A mid blue reads in GitHub's and
/// GitLab's light and dark themes; an `init` directive is understood by
/// Mermaid 10 and 11 alike.
const COLOUR: &str =
    r##"%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#4e79a7"}}}}%%"##;

/// How the values are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Bar,
    Line,
}

/// One chart: a value per x label, drawn from 0 up to `y_max`.
#[derive(Clone, Debug)]
pub struct XyChart<'a> {
    pub title: &'a str,
    pub x_title: &'a str,
    pub labels: &'a [String],
    pub y_title: &'a str,
    pub mark: Mark,
    /// As many as `labels`; non-finite values are drawn as 0 (callers pass
    /// none: a missing value is left out of the x axis, not made up).
    pub values: &'a [f64],
    /// Decimals shown (0 for counts).
    pub decimals: usize,
}

/// The fenced ```` ```mermaid ```` block, ending in a newline. The y axis
/// always starts at 0 (Mermaid's own range would start at the smallest
/// value, drawing it as nothing) and ends at the largest value rounded up
/// (at least 1).
pub fn xychart(c: &XyChart<'_>) -> String {
    let max = c
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = max.ceil().max(1.0);
    let mut out = format!("```mermaid\n{COLOUR}\nxychart-beta\n");
    let _ = writeln!(out, "    title {}", quoted(c.title));
    let labels: Vec<String> = c.labels.iter().map(|l| quoted(l)).collect();
    let _ = writeln!(
        out,
        "    x-axis {} [{}]",
        quoted(c.x_title),
        labels.join(", ")
    );
    let _ = writeln!(out, "    y-axis {} 0 --> {top:.0}", quoted(c.y_title));
    let values: Vec<String> = c
        .values
        .iter()
        .map(|&v| {
            let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
            format!("{v:.prec$}", prec = c.decimals)
        })
        .collect();
    let mark = match c.mark {
        Mark::Bar => "bar",
        Mark::Line => "line",
    };
    let _ = writeln!(out, "    {mark} [{}]", values.join(", "));
    out.push_str("```\n");
    out
}

/// `s` in double quotes, keeping letters, digits, spaces and `,.:/()+-`
/// (anything else becomes a space). Mermaid 11 reads labels as Markdown:
/// a leading `1. ` would be a list, so a digit run followed by `.` and a
/// space loses the dot.
fn quoted(s: &str) -> String {
    let mut kept: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric()
                || matches!(c, ' ' | ',' | '.' | ':' | '/' | '(' | ')' | '+' | '-')
            {
                c
            } else {
                ' '
            }
        })
        .collect();
    let digits = kept.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && kept[digits..].starts_with(". ") {
        kept.remove(digits);
    }
    format!("\"{}\"", kept.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_chart_starts_its_axis_at_zero() {
        let labels = ["Mar 2".to_string(), "Mar 9".to_string()];
        let text = xychart(&XyChart {
            title: "Deployments per week",
            x_title: "week from (UTC)",
            labels: &labels,
            y_title: "deployments",
            mark: Mark::Bar,
            values: &[1.0, 4.0],
            decimals: 0,
        });
        assert_eq!(
            text,
            format!(
                "```mermaid\n{COLOUR}\nxychart-beta\n    title \"Deployments per week\"\n    \
             x-axis \"week from (UTC)\" [\"Mar 2\", \"Mar 9\"]\n    \
             y-axis \"deployments\" 0 --> 4\n    bar [1, 4]\n```\n"
            )
        );
    }

    #[test]
    fn a_line_keeps_its_decimals_and_all_zero_still_has_an_axis() {
        let labels = ["a".to_string(), "b".to_string()];
        let c = XyChart {
            title: "t",
            x_title: "x",
            labels: &labels,
            y_title: "hours",
            mark: Mark::Line,
            values: &[1.25, 26.04],
            decimals: 1,
        };
        let text = xychart(&c);
        assert!(text.contains("y-axis \"hours\" 0 --> 27\n"), "{text}");
        assert!(text.contains("line [1.2, 26.0]\n"), "{text}");
        let zero = xychart(&XyChart {
            values: &[0.0, f64::NAN],
            ..c
        });
        assert!(
            zero.contains("0 --> 1\n") && zero.contains("line [0.0, 0.0]"),
            "{zero}"
        );
    }

    #[test]
    fn strings_cannot_leave_their_quotes_or_the_block() {
        assert_eq!(quoted("a\"b"), "\"a b\"");
        assert_eq!(quoted("x\n    bar [9]"), "\"x     bar  9\"");
        assert_eq!(quoted("%%{init: {}}%%"), "\"init:\"");
        assert_eq!(quoted("```"), "\"\"");
        assert_eq!(quoted("1. first"), "\"1 first\"");
        assert_eq!(quoted("2026-03-02"), "\"2026-03-02\"");
        assert_eq!(quoted("week from (UTC)"), "\"week from (UTC)\"");
    }
}
