//! JUnit XML ingestion (SPEC §6): a streaming parser that holds up on every
//! real producer, the per-test outcome rules, and flaky-test detection.

mod aggregate;
mod flaky;
mod input;
mod location;
mod model;
mod outcome;
mod parse;

pub use aggregate::{Aggregator, FailedTest, FlakyTest, NAMES_BYTES, Summary};
pub use flaky::{Finding, TestHistory, Thresholds, evaluate};
pub use location::{Hint, Location, RepoFiles, WorkTree, locate};
pub use model::{Entry, Outcome, OwnedEntry, Unlisted};
pub use outcome::Tally;
pub use parse::{FileStats, Limits, ParseError, parse, parse_seconds, plainly_below};
