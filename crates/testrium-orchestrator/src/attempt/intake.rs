//! [`Intake`]: every row of the run database's `Events` table read once, as it arrives, into
//! the attempt's verifier and sample of events. The driver feeds it the rows it reads while
//! the run is live; after teardown only the tail (rows after the last one seen) is read, and
//! the verdict is built from what it holds.

use testrium_events::{Event, MalformedEvent};
use testrium_verify::{Expectations, Verifier, VerifyOptions};

use crate::sample::{EventSample, PAIR_LIMIT};

/// The rows of an attempt read so far, verified and sampled one at a time, never held.
#[derive(Debug)]
pub(super) struct Intake<'e> {
    expectations: &'e Expectations,
    verifier: Verifier<'e>,
    sample: EventSample,
    /// The greatest `ID` read (rows come in `ID` order).
    last_id: i64,
    /// Rows read (events and malformed rows).
    rows: u64,
    /// The database's schema cookie before the first row was read.
    schema: Option<i64>,
    /// The database's count of rows rewritten in place by their writer
    /// ([`testrium_events::RunDb::relinks`]) before the first row was read.
    relinks: Option<i64>,
}

impl<'e> Intake<'e> {
    pub(super) fn new(expectations: &'e Expectations) -> Self {
        Intake {
            expectations,
            verifier: Verifier::new(expectations, options()),
            sample: EventSample::default(),
            last_id: 0,
            rows: 0,
            schema: None,
            relinks: None,
        }
    }

    /// The greatest `ID` read so far: read only rows after it.
    pub(super) fn last_id(&self) -> i64 {
        self.last_id
    }

    /// Whether the schema cookie is still to be noted (before the first read).
    pub(super) fn needs_schema(&self) -> bool {
        self.schema.is_none()
    }

    /// Notes the database's schema cookie ([`testrium_events::RunDb::schema_cookie`]) and
    /// relink count ([`testrium_events::RunDb::relinks`]) before the first read.
    pub(super) fn note_schema(&mut self, cookie: i64, relinks: i64) {
        self.schema.get_or_insert(cookie);
        self.relinks.get_or_insert(relinks);
    }

    /// Takes the next row (in `ID` order); gives back the event, if it is one, for the
    /// scheduler and the observer.
    pub(super) fn take(&mut self, row: Result<Event, MalformedEvent>) -> Option<Event> {
        self.rows += 1;
        match row {
            Ok(event) => {
                self.last_id = self.last_id.max(event.id);
                self.verifier.push(&event);
                self.sample.push(&event);
                Some(event)
            }
            Err(bad) => {
                self.last_id = self.last_id.max(bad.id);
                self.sample.push_malformed();
                self.verifier.push_malformed(bad);
                None
            }
        }
    }

    /// Whether what was read is the table as it is now, given its row count, greatest `ID`,
    /// schema cookie and relink count: not when a unit deleted rows, inserted a row with an
    /// `ID` below one already read, or dropped and recreated the table (its `ID`s start
    /// again), nor when the OTLP receiver rewrote the key or cause of rows already stored (a
    /// span whose parent arrived later). Any other change of a row in place after it was read
    /// (a unit's own `UPDATE`) is judged as it was read.
    pub(super) fn is_whole(&self, rows: u64, max_id: i64, schema: i64, relinks: i64) -> bool {
        rows == self.rows
            && max_id == self.last_id
            && self.schema.is_none_or(|s| s == schema)
            && self.relinks.is_none_or(|r| r == relinks)
    }

    /// Forgets every row taken, to read the table again from its start.
    pub(super) fn restart(&mut self) {
        *self = Intake::new(self.expectations);
    }

    /// The verifier and the finished sample of events; the intake is left empty.
    pub(super) fn finish(&mut self) -> (Verifier<'e>, EventSample) {
        let done = std::mem::replace(self, Intake::new(self.expectations));
        let mut sample = done.sample;
        sample.finish();
        (done.verifier, sample)
    }
}

/// How a runner verifies: at most [`PAIR_LIMIT`] pairs listed.
fn options() -> VerifyOptions {
    VerifyOptions::default().pair_limit(PAIR_LIMIT)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use testrium_events::EventType;
    use testrium_verify::{DirectTest, GroupTiming, UnitOutcome, UnitStatus};

    use super::*;

    /// A row of a hostile table: an event of one of a few units, probes and keys, or a
    /// malformed row.
    fn row(id: i64, pick: u8) -> Result<Event, MalformedEvent> {
        let unit = ["a", "b", "c"][usize::from(pick % 3)];
        let step = ["sent", "got", "ready", "boom"][usize::from(pick / 3 % 4)];
        let kind = match pick % 5 {
            0 => EventType::Send,
            1 => EventType::Receive,
            2 => EventType::Exception,
            _ => EventType::Default,
        };
        if pick.is_multiple_of(17) {
            return Err(MalformedEvent::new(
                id,
                Some(unit.to_owned()),
                None,
                "StepCompleted is NULL".to_owned(),
            ));
        }
        let mut event = Event::new(id, unit, step, kind, 1.0 + f64::from(pick) / 7.0);
        event.mono_ns = Some(1_000_000 + i64::from(pick) * 997);
        if matches!(kind, EventType::Send | EventType::Receive) {
            event = event.with_key(format!("k{}", pick % 11));
        }
        Ok(event)
    }

    fn verdict_json(mut intake: Intake<'_>) -> (String, String) {
        let (verifier, sample) = intake.finish();
        let units = [
            UnitOutcome::new("a", UnitStatus::Finished),
            UnitOutcome::new("b", UnitStatus::Stopped),
            UnitOutcome::new("c", UnitStatus::Finished),
        ];
        let tests = [DirectTest::failed("t", 0.0, "no")];
        let verdict = verifier.finish(&units, &tests, GroupTiming::wall(0.5, 60.0), false);
        (
            serde_json::to_string(&verdict).expect("verdict"),
            serde_json::to_string(&sample).expect("sample"),
        )
    }

    proptest! {
        /// The verdict built from rows taken while the run is live, in batches, then the tail,
        /// is byte for byte the verdict of every row read at once after the run (what the
        /// runner did before issue 15); so is the sample of events. And a restart (the table
        /// changed behind the reader) forgets everything taken.
        #[test]
        fn live_batches_then_the_tail_give_the_verdict_of_one_read_at_the_end(
            picks in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let expectations = Expectations::new("g")
                .unit("a", ["sent", "ready"])
                .unit("b", ["got"])
                .unit("c", ["never"]);
            let rows: Vec<_> = picks
                .iter()
                .enumerate()
                .map(|(i, &p)| row(i as i64 + 1, p))
                .collect();

            let mut at_end = Intake::new(&expectations);
            for r in rows.iter().cloned() {
                at_end.take(r);
            }

            let mut live = Intake::new(&expectations);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(rows.len())).collect();
            cuts.sort_unstable();
            let mut from = 0;
            for cut in cuts {
                for r in rows[from..cut.max(from)].iter().cloned() {
                    live.take(r);
                }
                from = cut.max(from);
            }
            // The tail: rows after the last ID seen.
            let seen = live.last_id();
            for r in rows.iter().filter(|r| match r {
                Ok(e) => e.id > seen,
                Err(m) => m.id > seen,
            }) {
                live.take(r.clone());
            }
            let max_id = rows.len() as i64;
            live.note_schema(7, 0);
            prop_assert!(live.is_whole(rows.len() as u64, max_id, 7, 0));
            prop_assert!(!live.is_whole(rows.len() as u64, max_id, 8, 0));
            prop_assert!(!live.is_whole(rows.len() as u64, max_id, 7, 1), "rows rewritten");
            prop_assert!(rows.is_empty() || !live.is_whole(rows.len() as u64 - 1, max_id, 7, 0));
            prop_assert_eq!(verdict_json(live), verdict_json(at_end));

            let mut restarted = Intake::new(&expectations);
            for r in rows.iter().cloned() {
                restarted.take(r);
            }
            restarted.restart();
            prop_assert!(restarted.is_whole(0, 0, 9, 3));
        }
    }
}
