//! What the parser's tests read a report into.

use super::reader::{Limits, ParseError, parse};
use crate::junit::Outcome;

#[derive(Debug, PartialEq)]
pub(super) struct Seen {
    pub(super) id: String,
    pub(super) attempts: Vec<Outcome>,
    pub(super) time: Option<f64>,
    pub(super) message: Option<String>,
}

pub(super) fn run_with(xml: &[u8], limits: &Limits) -> Result<Vec<Seen>, ParseError> {
    let mut seen = Vec::new();
    parse(xml, limits, &mut |e| {
        seen.push(Seen {
            id: e.identity(),
            attempts: e.attempts.to_vec(),
            time: e.time(),
            message: e.message.map(str::to_string),
        })
    })?;
    Ok(seen)
}

pub(super) fn run(xml: &[u8]) -> Result<Vec<Seen>, ParseError> {
    run_with(xml, &Limits::default())
}
