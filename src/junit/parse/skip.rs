//! The raw skipper: element bodies we do not model (`system-out`, stack
//! traces, properties) are consumed byte by byte without buffering, up to
//! their end tag, which quick-xml then reads; a failure body is kept only up
//! to the message cap.

use std::io::{BufRead, Read};

use quick_xml::Reader;
use quick_xml::reader::BinaryStream;

use super::element::{Kind, cap_at_char_boundary};
use super::reader::{ParseError, Parser};
use crate::junit::input::Input;

impl Parser<'_> {
    /// Skips an element's body raw, up to (not including) its end tag, which
    /// quick-xml then reads; keeps the body as the message when asked.
    pub(super) fn skip<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        element: &str,
        keep_body: bool,
    ) -> Result<(), ParseError> {
        self.push(Kind::Skipped, element, None, 0);
        let cap = if keep_body {
            self.limits.message_bytes
        } else {
            0
        };
        let mut body = Vec::new();
        let mut stream = reader.stream();
        stream.get_mut().set_limiting(false);
        let result = skip_raw(&mut stream, element.as_bytes(), &mut body, cap);
        stream.get_mut().set_limiting(true);
        result.map_err(|e| self.error(reader.buffer_position(), e))?;
        if keep_body {
            let text = String::from_utf8_lossy(&body);
            // The cap may cut an entity in half: drop the stub.
            let whole = match text.rfind('&') {
                Some(i) if !text[i..].contains(';') => &text[..i],
                _ => &text,
            };
            let mut msg = quick_xml::escape::unescape(whole)
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| whole.to_string());
            msg = msg.trim().to_string();
            cap_at_char_boundary(&mut msg, self.limits.message_bytes);
            self.case.message = msg;
        }
        Ok(())
    }
}

/// Consumes an element body up to (not including) `</end_name`, skipping
/// nested markup, comments and CDATA. Keeps at most `cap` bytes of text.
/// Reads through quick-xml's `BinaryStream`, so error positions stay right.
fn skip_raw<R: Read>(
    input: &mut BinaryStream<'_, Input<R>>,
    end_name: &[u8],
    body: &mut Vec<u8>,
    cap: usize,
) -> Result<(), String> {
    #[derive(PartialEq)]
    enum State {
        Text,
        CData,
        Comment,
        Tag(Option<u8>),
    }
    let truncated = || {
        format!(
            "unexpected end of file inside <{}> (truncated report?)",
            String::from_utf8_lossy(end_name)
        )
    };
    let io = |e: std::io::Error| format!("cannot read the file: {e}");
    let mut state = State::Text;
    let keep = |body: &mut Vec<u8>, bytes: &[u8]| {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&bytes[..bytes.len().min(room)]);
    };
    // CDATA is literal: escape it as kept, so the whole body unescapes as one text.
    let keep_cdata = |body: &mut Vec<u8>, bytes: &[u8]| {
        for &b in bytes {
            if body.len() >= cap {
                break;
            }
            match b {
                b'&' => body.extend_from_slice(b"&amp;"),
                b'<' => body.extend_from_slice(b"&lt;"),
                _ => body.push(b),
            }
        }
    };
    loop {
        let chunk = input.fill_buf().map_err(io)?;
        if chunk.is_empty() {
            return Err(truncated());
        }
        match state {
            State::Text => {
                let Some(i) = memchr::memchr(b'<', chunk) else {
                    let n = chunk.len();
                    keep(body, chunk);
                    input.consume(n);
                    continue;
                };
                keep(body, &chunk[..i]);
                input.consume(i);
                let ahead = input.get_mut().peek(end_name.len() + 3).map_err(io)?;
                if ahead.len() > end_name.len() + 2
                    && ahead.starts_with(b"</")
                    && &ahead[2..2 + end_name.len()] == end_name
                    && matches!(
                        ahead[2 + end_name.len()],
                        b'>' | b' ' | b'\t' | b'\r' | b'\n'
                    )
                {
                    return Ok(());
                }
                let ahead = input.get_mut().peek(9).map_err(io)?;
                let (skip, next) = if ahead.starts_with(b"<![CDATA[") {
                    (9, State::CData)
                } else if ahead.starts_with(b"<!--") {
                    (4, State::Comment)
                } else if ahead.len() < 2 {
                    return Err(truncated());
                } else {
                    (1, State::Tag(None))
                };
                input.consume(skip);
                state = next;
            }
            State::CData | State::Comment => {
                let (mark, close): (u8, &[u8]) = if state == State::CData {
                    (b']', b"]]>")
                } else {
                    (b'-', b"-->")
                };
                let Some(i) = memchr::memchr(mark, chunk) else {
                    let n = chunk.len();
                    if state == State::CData {
                        keep_cdata(body, chunk);
                    }
                    input.consume(n);
                    continue;
                };
                if state == State::CData {
                    keep_cdata(body, &chunk[..i]);
                }
                input.consume(i);
                let ahead = input.get_mut().peek(3).map_err(io)?;
                if ahead == close {
                    input.consume(3);
                    state = State::Text;
                } else if ahead.len() < 3 && !close.starts_with(ahead) {
                    input.consume(1);
                } else if ahead.len() < 3 {
                    return Err(truncated());
                } else {
                    if state == State::CData {
                        keep_cdata(body, &ahead[..1]);
                    }
                    input.consume(1);
                }
            }
            State::Tag(quote) => {
                let mut q = quote;
                let mut end = None;
                for (i, &b) in chunk.iter().enumerate() {
                    match (q, b) {
                        (None, b'"' | b'\'') => q = Some(b),
                        (Some(open), b2) if b2 == open => q = None,
                        (None, b'>') => {
                            end = Some(i + 1);
                            break;
                        }
                        _ => {}
                    }
                }
                let n = end.unwrap_or(chunk.len());
                input.consume(n);
                state = if end.is_some() {
                    State::Text
                } else {
                    State::Tag(q)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::junit::parse::reader::Limits;
    use crate::junit::parse::test_support::run_with;

    #[test]
    fn huge_bodies_stream_in_constant_memory_and_messages_are_capped() {
        let big = "y".repeat(40 << 20);
        let xml = format!(
            "<testsuite name=\"s\"><system-out>{big}</system-out><testcase name=\"t\"><failure><![CDATA[{big}]]></failure><system-err>{big}</system-err></testcase></testsuite>"
        );
        let limits = Limits {
            max_event_bytes: 1 << 20,
            ..Limits::default()
        };
        let seen = run_with(xml.as_bytes(), &limits).unwrap();
        assert_eq!(seen.len(), 1);
        let m = seen[0].message.as_ref().unwrap();
        assert!(
            m.len() <= limits.message_bytes + 4 && m.starts_with("yyy"),
            "{}",
            m.len()
        );
        // The same text between elements, where nothing expects it, is refused.
        let stray = format!("<testsuite name=\"s\">{big}<testcase name=\"t\"/></testsuite>");
        let e = run_with(stray.as_bytes(), &limits).unwrap_err();
        assert!(e.message.contains("larger than"), "{e}");
    }
}
