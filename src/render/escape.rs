//! Escaping user-controlled text (service names, ids, titles) for each place
//! it lands. Every renderer goes through these; nothing user-given is
//! interpolated raw.

/// Bidirectional formatting characters (U+202A–U+202E overrides and
/// embeddings, U+2066–U+2069 isolates, U+200E/U+200F/U+061C marks): they
/// reorder how the rest of a line is displayed ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// For a terminal: control characters (escape sequences, carriage returns,
/// newlines) and bidi formatting characters become visible `\u{..}` escapes
/// so text cannot move the cursor, recolour the screen, forge extra lines or
/// display reordered.
pub fn terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// For Markdown (tables included): inert text that cannot open links, HTML,
/// comments, mentions, or break out of a table cell. ANSI escape sequences
/// (a test runner's colours) are dropped whole, not left as `[31m`.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape_sequence(&mut chars),
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
            // Shown, not obeyed: the reader sees the text in its real order.
            // (a character reference would be decoded back into the control).
            c if is_bidi_control(c) => out.push_str(&format!("&lt;U+{:04X}&gt;", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// For HTML text and quoted attribute values (either quote): `& < > " '`
/// become character references, so text can neither open a tag nor leave
/// an attribute. Control characters other than tab and newline are dropped
/// and bidi controls are shown as `<U+202E>`, as in [`markdown`].
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c if is_bidi_control(c) => out.push_str(&format!("&lt;U+{:04X}&gt;", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// For plain text that someone else's renderer shows (GitHub annotations,
/// GitLab Code Quality findings): newlines and tabs are kept, CRLF and CR
/// become LF; ANSI escape sequences (the colours a test runner writes),
/// other control characters and bidi controls are dropped, so the text can
/// neither recolour a log nor display reordered.
pub fn plain_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\u{1b}' => skip_escape_sequence(&mut chars),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips the rest of an ANSI escape sequence whose ESC was just read: a CSI
/// (`ESC [` parameters, final byte @..~), a two-character escape, or an OSC
/// (`ESC ]`), which runs to BEL or ST.
fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// The line of a failure message a list shows: its first non-blank line,
/// trimmed, without a test runner's colours or control characters, cut to
/// `max` characters with `…`. Still to be escaped for where it lands.
pub fn message_line(message: &str, max: usize) -> String {
    let clean = plain_text(message);
    let line = clean
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let mut cut: String = line.chars().take(max).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
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
        // Trojan Source: a right-to-left override shows as what it is.
        let evil = "api\u{202E}gnp.exe\u{2066}";
        assert_eq!(terminal(evil), "api\\u{202e}gnp.exe\\u{2066}");
        assert_eq!(markdown(evil), "api&lt;U+202E&gt;gnp.exe&lt;U+2066&gt;");
        assert_eq!(html(evil), "api&lt;U+202E&gt;gnp.exe&lt;U+2066&gt;");
    }

    /// Playwright's and jest's coloured messages, as their reporters write
    /// them: the colours go whole, in Markdown and in the line a list shows.
    #[test]
    fn colours_are_dropped_whole_from_markdown_and_message_lines() {
        let playwright = "\u{1b}[31mTest timeout of 2000ms exceeded.\u{1b}[39m\n\nCall log:";
        assert_eq!(
            markdown(playwright),
            "Test timeout of 2000ms exceeded.  Call log:"
        );
        assert_eq!(
            message_line(playwright, 200),
            "Test timeout of 2000ms exceeded."
        );
        let jest = "\n  \u{1b}[2mexpect(\u{1b}[22m\u{1b}[31mreceived\u{1b}[39m\u{1b}[2m).\u{1b}[22mtoBe\r\n";
        assert_eq!(message_line(jest, 200), "expect(received).toBe");
        assert_eq!(message_line(jest, 6), "expect…");
        assert_eq!(message_line("  \n\t\n", 10), "");
        assert_eq!(
            terminal(&message_line(playwright, 200)),
            "Test timeout of 2000ms exceeded."
        );
    }

    #[test]
    fn plain_text_keeps_lines_and_drops_what_a_renderer_would_obey() {
        // jest and mocha colour their diffs: `- Expected` in green.
        assert_eq!(
            plain_text("\u{1b}[32m- Expected\u{1b}[39m\r\n\u{1b}[31m+ Received\u{1b}[39m\r"),
            "- Expected\n+ Received\n"
        );
        assert_eq!(
            plain_text("a\u{1b}]8;;https://x\u{7}link\u{1b}]8;;\u{1b}\\b"),
            "alinkb"
        );
        assert_eq!(
            plain_text("api\u{202E}gnp.exe\u{2066}\u{0}x\ty"),
            "apignp.exex\ty"
        );
        assert_eq!(plain_text("é\u{1b}"), "é");
    }

    #[test]
    fn html_text_cannot_open_tags_or_leave_attributes() {
        assert_eq!(
            html(r#"<script>a&b</script>"'"#),
            "&lt;script&gt;a&amp;b&lt;/script&gt;&quot;&#39;"
        );
        assert_eq!(
            html("x\" onload=\"alert(1)"),
            "x&quot; onload=&quot;alert(1)"
        );
        assert_eq!(html("it's <b>"), "it&#39;s &lt;b&gt;");
        // An existing reference is text too: shown as typed, not decoded.
        assert_eq!(html("&lt;"), "&amp;lt;");
        assert_eq!(html("a\u{0}b\x1b[31m\tc"), "ab[31m\tc");
        assert_eq!(html("payments-api / prod"), "payments-api / prod");
    }
}
