//! [`Verifier`]: verification fed one event at a time, for runs too large to hold as events.

use testrium_events::{Event, MalformedEvent};

use crate::engine::{Finish, decide};
use crate::expect::Expectations;
use crate::input::{DirectTest, GroupTiming, UnitOutcome};
use crate::rows::Rows;
use crate::verdict::Verdict;

/// Options of a verification.
///
/// ```
/// use testrium_verify::VerifyOptions;
///
/// let options = VerifyOptions::default().pair_limit(1000);
/// assert_eq!(options.pair_limit, Some(1000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// List at most this many pairs in [`CorrelationReport::pairs`](crate::CorrelationReport)
    /// (the first ones, in pair order); the rest are counted in
    /// [`CorrelationReport::pairs_omitted`](crate::CorrelationReport). Counts, orphans,
    /// duplicates and latency statistics still cover every pair. `None` (the default): every
    /// pair is listed.
    pub pair_limit: Option<usize>,
}

impl VerifyOptions {
    /// Lists at most `limit` pairs.
    #[must_use]
    pub fn pair_limit(mut self, limit: usize) -> Self {
        self.pair_limit = Some(limit);
        self
    }
}

/// A verification fed one event at a time: the events need not be held in memory together
/// (a runner reads its run database row by row into it). Gives the verdict
/// [`verify`](crate::verify) gives for the same events, malformed rows, unit outcomes, direct
/// tests and timing, whatever order the events come in.
///
/// Each event is kept in a compact form (about 40 bytes, with one copy of each distinct unit,
/// probe and event key; `Exception` events also keep their pid and metadata, events that
/// name a cause 8 bytes more), where an [`Event`] takes some 250 bytes with its strings.
/// Declared circuits are linked when the verdict is asked for, in one pass over the events
/// in time order: beyond one 4-byte index per event for that order, what it holds grows
/// with the instances open at a time (and the latencies of complete ones), not with the
/// events. Delivery contracts are judged then too, one pass over the events per contract: 8
/// bytes per event of the contract's two probes, and one latency per key it received.
///
/// ```
/// use testrium_events::{Event, EventType};
/// use testrium_verify::{Expectations, GroupTiming, Verifier, VerifyOptions};
///
/// let expectations = Expectations::new("demo").unit("a", ["sent"]).unit("b", ["got"]);
/// let mut verifier = Verifier::new(&expectations, VerifyOptions::default().pair_limit(10));
/// for i in 0..100 {
///     let key = format!("k{i}");
///     verifier.push(&Event::new(2 * i, "a", "sent", EventType::Send, 1.0).with_key(&key));
///     verifier.push(&Event::new(2 * i + 1, "b", "got", EventType::Receive, 1.5).with_key(&key));
/// }
/// let verdict = verifier.finish(&[], &[], GroupTiming::default(), false);
/// assert!(verdict.passed());
/// assert_eq!(verdict.correlation.pairs.len(), 10);
/// assert_eq!(verdict.correlation.paired(), 100);
/// assert_eq!(verdict.latency.overall.map(|s| s.count), Some(100));
/// ```
#[derive(Debug)]
pub struct Verifier<'e> {
    expectations: &'e Expectations,
    options: VerifyOptions,
    rows: Rows,
    malformed: Vec<MalformedEvent>,
}

impl<'e> Verifier<'e> {
    /// A verification of `expectations` with no event yet.
    pub fn new(expectations: &'e Expectations, options: VerifyOptions) -> Self {
        Verifier {
            expectations,
            options,
            rows: Rows::default(),
            malformed: Vec::new(),
        }
    }

    /// Adds one event (readable row).
    pub fn push(&mut self, event: &Event) {
        self.rows.push(event);
    }

    /// Adds one row that could not be read as an event.
    pub fn push_malformed(&mut self, malformed: MalformedEvent) {
        self.malformed.push(malformed);
    }

    /// How many events were added.
    pub fn events(&self) -> u64 {
        self.rows.len() as u64
    }

    /// The verdict: the events given, with what the orchestrator observed (see
    /// [`VerifyInput`](crate::VerifyInput) for each part).
    pub fn finish(
        self,
        unit_outcomes: &[UnitOutcome],
        direct_tests: &[DirectTest],
        timing: GroupTiming,
        timed_out: bool,
    ) -> Verdict {
        decide(
            self.expectations,
            &self.options,
            &self.rows,
            self.malformed,
            &Finish {
                unit_outcomes,
                direct_tests,
                timing,
                timed_out,
            },
        )
    }
}
