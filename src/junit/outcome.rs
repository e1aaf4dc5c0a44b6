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
//! [`Tally::replay`] goes back: attempts whose tally is a given one (what
//! `store copy` writes for a stored result).

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

    /// Attempts, in order, whose tally is exactly this one: skips first
    /// (they change nothing but the count), then
    /// - passed, not flaky: the passes;
    /// - passed, flaky: the failures, then the passes;
    /// - failed or errored, not flaky: the passes, then the failures;
    /// - failed or errored, flaky: one failure, the passes, the other
    ///   failures.
    ///
    /// Failures are all of the final kind (a tally does not keep the kinds
    /// of the others). `None` for a tally no attempts give (a row written by
    /// hand: more failures and passes than attempts, a flaky pass with no
    /// failure, …) and for one of more than [`Tally::MAX_REPLAY`] attempts,
    /// which no report holds and which would only take memory.
    pub fn replay(&self) -> Option<Vec<Outcome>> {
        let counted = self.failures.checked_add(self.passes)?;
        let skips = self.attempts.checked_sub(counted)?;
        if self.attempts > Self::MAX_REPLAY {
            return None;
        }
        let (f, p) = (self.failures as usize, self.passes as usize);
        let fits = match (self.outcome, self.flaky) {
            (Outcome::Skipped, flaky) => f == 0 && p == 0 && !flaky,
            (Outcome::Passed, false) => f == 0 && p > 0,
            (Outcome::Passed, true) => f > 0 && p > 0,
            (_, false) => f > 0,
            (_, true) => f > 1 && p > 0,
        };
        if !fits {
            return None;
        }
        let failed = self.outcome;
        let mut out = vec![Outcome::Skipped; skips as usize];
        out.reserve(f + p);
        let mut push = |o: Outcome, n: usize| out.extend(std::iter::repeat_n(o, n));
        match (self.outcome, self.flaky) {
            (Outcome::Skipped, _) => {}
            (Outcome::Passed, false) => push(Outcome::Passed, p),
            (Outcome::Passed, true) => {
                push(Outcome::Failed, f);
                push(Outcome::Passed, p);
            }
            (_, false) => {
                push(Outcome::Passed, p);
                push(failed, f);
            }
            (_, true) => {
                push(failed, 1);
                push(Outcome::Passed, p);
                push(failed, f - 1);
            }
        }
        Some(out)
    }

    /// The most attempts [`Tally::replay`] writes out.
    pub const MAX_REPLAY: u64 = 1 << 20;
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

    /// Every tally up to six attempts (each count, each outcome, flaky or
    /// not): replayed when some attempts give it, and then its attempts
    /// give it back exactly; refused otherwise.
    #[test]
    fn replay_gives_back_exactly_the_tallies_attempts_give() {
        let all = [Passed, Failed, Errored, Skipped];
        let mut reachable = std::collections::HashSet::new();
        for len in 0..=6u32 {
            for n in 0..4usize.pow(len) {
                let attempts: Vec<Outcome> = (0..len).map(|i| all[n / 4usize.pow(i) % 4]).collect();
                reachable.insert(format!("{:?}", Tally::of(&attempts)));
            }
        }
        let mut replayed = 0;
        for attempts in 0..=6 {
            for failures in 0..=6 {
                for passes in 0..=6 {
                    for outcome in all {
                        for flaky in [false, true] {
                            let t = Tally {
                                attempts,
                                failures,
                                passes,
                                outcome,
                                flaky,
                            };
                            let key = format!("{t:?}");
                            match t.replay() {
                                Some(a) => {
                                    assert_eq!(Tally::of(&a), t, "{a:?}");
                                    assert!(reachable.contains(&key), "{key}");
                                    replayed += 1;
                                }
                                None => assert!(!reachable.contains(&key), "{key} refused"),
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(replayed, reachable.len());
        let huge = Tally {
            attempts: u64::MAX,
            failures: u64::MAX,
            passes: 1,
            outcome: Passed,
            flaky: true,
        };
        assert_eq!(huge.replay(), None);
        let big = Tally {
            attempts: Tally::MAX_REPLAY + 1,
            ..Tally::of(&[Passed])
        };
        assert_eq!(big.replay(), None);
    }
}
