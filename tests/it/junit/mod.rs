//! JUnit ingestion (SPEC §4 `junit`/`flaky`, §6): every committed fixture
//! from a real (or documented) producer against its expected file, CTRF
//! JSON reports, storing and idempotency, flaky evidence over a scripted
//! history, and hostile or broken input.

mod bad_input;
mod ctrf;
mod fixtures;
mod flaky;
mod inputs;
mod peer;
mod storing;
mod support;
