//! A streaming JUnit XML parser on quick-xml: constant memory in the file size.
//! A file whose first non-blank byte is `{` is read as a CTRF JSON report
//! instead (`ctrf`), under the same limits.
//!
//! - Accepts `<testsuites>` and bare `<testsuite>` roots, nested suites, CDATA,
//!   entities, a UTF-8 byte-order mark and non-BMP text.
//! - Never resolves a DTD or an external entity: `<!DOCTYPE>` is skipped and an
//!   unknown entity stays literal text, so nothing can be fetched or expanded.
//! - Element bodies we do not model (`system-out`, stack traces, properties)
//!   are skipped byte by byte without buffering; a failure body is kept only
//!   up to the message cap. Any other single tag or text node larger than
//!   `Limits::max_event_bytes` is an error, not an allocation.
//! - Every error names the position as an element path, e.g.
//!   `testsuites/testsuite[0]("x")/testcase[3]`, and the byte offset.
//!
//! The work is split along the parser's seams:
//! - `reader`: the entry point and the quick-xml event loop;
//! - `ctrf`: CTRF JSON reports, streamed one test object at a time;
//! - `ctrf_entry`: one CTRF test object and what it maps to;
//! - `element`: the element path — what each start and end tag does to the
//!   open suites and the open `<testcase>`, and the error paths they name;
//! - `fast`: the `<testcase .../>` fast path that reads plain tags straight
//!   from the input;
//! - `skip`: the raw skipper for element bodies we do not model;
//! - `seconds`: the `time` attribute.

mod ctrf;
mod ctrf_entry;
mod dialect;
mod element;
mod fast;
mod reader;
mod seconds;
mod skip;
#[cfg(test)]
mod test_support;
mod trx_spill;

pub use reader::{FileStats, Limits, ParseError, parse};
pub use seconds::{parse_seconds, plainly_below};
