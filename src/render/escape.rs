//! Escaping user-controlled text (service names, ids, titles) for each place
//! it lands. Every renderer goes through these; nothing user-given is
//! interpolated raw.

/// For a terminal: control characters (escape sequences, carriage returns,
/// newlines) become visible `\u{..}` escapes so text cannot move the cursor,
/// recolour the screen or forge extra lines.
pub fn terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// For Markdown (tables included): inert text that cannot open links, HTML,
/// comments, mentions, or break out of a table cell.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '~' | '{' | '}'
            | '+' | '-' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width joiner after @ stops @mentions without changing the text's look.
            '@' => out.push_str("@\u{2060}"),
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// For a Prometheus label value: backslash, double quote and newline escaped.
pub fn prometheus_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// For a CSV field (RFC 4180), also defusing spreadsheet formulas.
pub fn csv(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_comes_out_inert() {
        assert_eq!(terminal("a\x1b[31mred\nb"), "a\\u{1b}[31mred\\nb");
        let md = markdown("x|y <!-- [a](javascript:alert(1)) @org/team #123");
        assert!(
            !md.contains("<!--") && !md.contains("](") && !md.contains("@o"),
            "{md}"
        );
        assert!(md.contains("\\|"));
        assert_eq!(prometheus_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv("-3.5"), "-3.5");
    }
}
