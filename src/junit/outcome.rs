//! The per-test outcome rule of SPEC §6, written once.
//!
//! Entries with the same identity (`classname::name`) are attempts of one
//! test, in the order they ran. The test's outcome is the outcome of its last
//! attempt that was not a skip, and skipped when every attempt was. It is
//! flaky (`retry` evidence) when an attempt passed after one failed; a pass
//! followed by a failure is not a retry that worked (and is what a genuine
//! name collision looks like): the test failed.
//!
//! [`Tally`] folds attempts one by one ([`Tally::push`], what the report
//! aggregator does over its sorted records) or joins two tallies of
//! consecutive attempts ([`Tally::merge`], what both stores do when a test
//! they already hold comes again). The two agree: tallying `a` then `b`
//! attempt by attempt equals merging the tallies of `a` and `b`.

use super::model::Outcome;

/// A test's attempts so far, folded by the rule above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub attempts: u64,
    /// Failed or errored attempts.
    pub failures: u64,
    pub passes: u64,
    /// The outcome of the last attempt that was not a skip; skipped when
    /// there was none.
    pub outcome: Outcome,
    /// An attempt passed after one failed.
    pub flaky: bool,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::EMPTY
    }
}

impl Tally {
    /// No attempt yet: merging it changes nothing.
    pub const EMPTY: Tally = Tally {
        attempts: 0,
        failures: 0,
        passes: 0,
        outcome: Outcome::Skipped,
        flaky: false,
    };

    /// The attempts of one entry, in the order they ran.
    pub fn of(attempts: &[Outcome]) -> Tally {
        let mut t = Tally::EMPTY;
        for &a in attempts {
            t.push(a);
        }
        t
    }

    /// One more attempt, run after every attempt tallied so far.
    #[inline]
    pub fn push(&mut self, attempt: Outcome) {
        self.attempts += 1;
        match attempt {
            Outcome::Skipped => {}
            Outcome::Passed => {
                self.passes += 1;
                self.flaky |= self.failures > 0;
                self.outcome = Outcome::Passed;
            }
            failed @ (Outcome::Failed | Outcome::Errored) => {
                self.failures += 1;
                self.outcome = failed;
            }
        }
    }

    /// The attempts of `later`, run after every attempt tallied so far.
    pub fn merge(&mut self, later: &Tally) {
        self.flaky = self.flaky || later.flaky || (self.failures > 0 && later.passes > 0);
        self.attempts += later.attempts;
        self.failures += later.failures;
        self.passes += later.passes;
        if later.outcome != Outcome::Skipped {
            self.outcome = later.outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    #[test]
    fn the_last_attempt_that_was_not_a_skip_wins() {
        let cases: &[(&[Outcome], Outcome, bool)] = &[
            (&[], Skipped, false),
            (&[Passed], Passed, false),
            (&[Skipped, Skipped], Skipped, false),
            (&[Failed, Passed], Passed, true),
            (&[Failed, Errored, Passed], Passed, true),
            (&[Passed, Failed], Failed, false),
            (&[Failed, Skipped], Failed, false),
            (&[Errored, Failed], Failed, false),
            (&[Failed, Passed, Failed], Failed, true),
            (&[Skipped, Failed, Skipped, Passed, Skipped], Passed, true),
        ];
        for (attempts, outcome, flaky) in cases {
            let t = Tally::of(attempts);
            assert_eq!((t.outcome, t.flaky), (*outcome, *flaky), "{attempts:?}");
            assert_eq!(t.attempts, attempts.len() as u64);
            assert_eq!(
                t.failures + t.passes,
                attempts.iter().filter(|o| **o != Skipped).count() as u64
            );
        }
    }

    /// Merging the tallies of consecutive attempts is tallying them all, for
    /// every split of every sequence of up to six attempts.
    #[test]
    fn merging_tallies_is_tallying_the_attempts_in_order() {
        let all = [Passed, Failed, Errored, Skipped];
        for len in 0..=6u32 {
            for n in 0..4usize.pow(len) {
                let attempts: Vec<Outcome> = (0..len).map(|i| all[n / 4usize.pow(i) % 4]).collect();
                let whole = Tally::of(&attempts);
                for split in 0..=attempts.len() {
                    let (a, b) = attempts.split_at(split);
                    let mut merged = Tally::of(a);
                    merged.merge(&Tally::of(b));
                    assert_eq!(merged, whole, "{a:?} then {b:?}");
                }
                let mut from_empty = Tally::EMPTY;
                from_empty.merge(&whole);
                assert_eq!(from_empty, whole);
            }
        }
    }
}
