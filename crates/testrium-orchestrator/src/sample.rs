//! [`EventSample`]: what an attempt keeps of its events (a bounded sample and counts), so a
//! flood of probes does not make the runner's memory grow with it.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use testrium_events::Event;

/// How many of the earliest events an [`EventSample`] keeps (a report's timeline shows at most
/// this many).
pub const EVENT_SAMPLE_LIMIT: usize = 5_000;

/// How many pairs a runner's verdict lists in
/// [`CorrelationReport::pairs`](testrium_verify::CorrelationReport) (the first ones, in pair
/// order); the rest are counted in `pairs_omitted`, and counts and latency statistics still
/// cover every pair.
pub const PAIR_LIMIT: usize = 5_000;

/// What an attempt keeps of the rows of its `Events` table: how many there were, which units
/// recorded them, and the earliest [`EVENT_SAMPLE_LIMIT`] events in time order (what a report's
/// timeline shows). The rows themselves stay in the run database
/// ([`RunDb::read_events`](testrium_events::RunDb::read_events) reads them all; malformed rows
/// are in the verdict, as evidence).
///
/// Built one row at a time ([`EventSample::push`]), in `ID` order, so its size does not depend
/// on the number of rows.
///
/// ```
/// use testrium_events::{Event, EventType};
/// use testrium_orchestrator::EventSample;
///
/// let mut sample = EventSample::default();
/// sample.push(&Event::new(1, "b", "late", EventType::Default, 20.0));
/// sample.push(&Event::new(2, "a", "early", EventType::Default, 10.0));
/// assert_eq!(sample.count, 2);
/// assert_eq!(sample.units, ["b", "a"]);
/// sample.finish();
/// let steps: Vec<&str> = sample.earliest.iter().map(|e| e.step.as_str()).collect();
/// assert_eq!(steps, ["early", "late"]);
/// ```
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct EventSample {
    /// Rows read as events.
    pub count: u64,
    /// Rows that could not be read (listed in the verdict's `malformed`).
    pub malformed: u64,
    /// Every unit that recorded an event, in the order of its first event.
    pub units: Vec<String>,
    /// Whether every event had a monotonic timestamp (`MonoNs`); vacuously true with none.
    pub all_monotonic: bool,
    /// The earliest events, at most [`EVENT_SAMPLE_LIMIT`], in time order: on the monotonic
    /// clock (milliseconds, as `MonoNs / 1e6`) when every event has it, else on the wall clock
    /// (`Time * 1e3`); equal times by `ID`, then in the order given.
    pub earliest: Vec<Event>,
    #[serde(skip)]
    by_mono: BinaryHeap<Entry>,
    #[serde(skip)]
    by_wall: BinaryHeap<Entry>,
    #[serde(skip)]
    seq: u64,
    #[serde(skip)]
    unit_set: HashSet<String>,
}

impl Default for EventSample {
    fn default() -> Self {
        EventSample {
            count: 0,
            malformed: 0,
            units: Vec::new(),
            all_monotonic: true,
            earliest: Vec::new(),
            by_mono: BinaryHeap::new(),
            by_wall: BinaryHeap::new(),
            seq: 0,
            unit_set: HashSet::new(),
        }
    }
}

/// One sampled event and its place in time order (the heap's greatest is the latest).
#[derive(Debug, Clone)]
struct Entry {
    at: f64,
    id: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at
            .total_cmp(&other.at)
            .then(self.id.cmp(&other.id))
            .then(self.seq.cmp(&other.seq))
    }
}

/// Keeps `event` in `heap` if it is among the `EVENT_SAMPLE_LIMIT` earliest.
fn offer(heap: &mut BinaryHeap<Entry>, at: f64, seq: u64, event: &Event) {
    if heap.len() == EVENT_SAMPLE_LIMIT {
        let Some(latest) = heap.peek() else { return };
        let later = at
            .total_cmp(&latest.at)
            .then(event.id.cmp(&latest.id))
            .is_ge();
        if later {
            return;
        }
        heap.pop();
    }
    heap.push(Entry {
        at,
        id: event.id,
        seq,
        event: event.clone(),
    });
}

impl EventSample {
    /// Adds the next row read as an event (rows come in `ID` order).
    pub fn push(&mut self, event: &Event) {
        self.count += 1;
        if !self.unit_set.contains(&event.unit) {
            self.unit_set.insert(event.unit.clone());
            self.units.push(event.unit.clone());
        }
        let seq = self.seq;
        self.seq += 1;
        match event.mono_ns {
            Some(ns) if self.all_monotonic => {
                offer(&mut self.by_mono, ns as f64 / 1e6, seq, event);
            }
            Some(_) => {}
            None => {
                self.all_monotonic = false;
                self.by_mono = BinaryHeap::new();
            }
        }
        offer(&mut self.by_wall, event.time * 1e3, seq, event);
    }

    /// Counts a row that could not be read.
    pub fn push_malformed(&mut self) {
        self.malformed += 1;
    }

    /// Puts the sampled events into [`EventSample::earliest`], in time order (call after the
    /// last row).
    pub fn finish(&mut self) {
        let heap = if self.all_monotonic {
            std::mem::take(&mut self.by_mono)
        } else {
            std::mem::take(&mut self.by_wall)
        };
        self.by_mono = BinaryHeap::new();
        self.by_wall = BinaryHeap::new();
        self.earliest = heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| e.event)
            .collect();
    }

    /// Every row of the `Events` table of `db`, sampled.
    pub(crate) fn read(db: &testrium_events::RunDb) -> Result<Self, testrium_events::StoreError> {
        let mut sample = EventSample::default();
        db.for_each_event_after(0, |row| match row {
            Ok(event) => sample.push(&event),
            Err(_) => sample.push_malformed(),
        })?;
        sample.finish();
        Ok(sample)
    }
}

#[cfg(test)]
mod tests {
    use testrium_events::EventType;

    use super::*;

    /// What the report's timeline chose from every event before the sample existed: all of
    /// them sorted by time (monotonic when every event has it, else wall), then `ID`, cut.
    fn chosen_from_all(events: &[Event]) -> Vec<i64> {
        let mono = events.iter().all(|e| e.mono_ns.is_some());
        let at = |e: &Event| match e.mono_ns {
            Some(ns) if mono => ns as f64 / 1e6,
            _ => e.time * 1e3,
        };
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by(|&x, &y| {
            at(&events[x])
                .total_cmp(&at(&events[y]))
                .then(events[x].id.cmp(&events[y].id))
        });
        order.truncate(EVENT_SAMPLE_LIMIT);
        order.iter().map(|&i| events[i].id).collect()
    }

    fn sampled(events: &[Event]) -> EventSample {
        let mut sample = EventSample::default();
        for e in events {
            sample.push(e);
        }
        sample.finish();
        sample
    }

    #[test]
    fn the_sample_is_the_timeline_of_every_event() {
        // Times jump around (a cheap deterministic scramble), with ties, over 3x the limit.
        let n = 3 * EVENT_SAMPLE_LIMIT as i64;
        let mut events: Vec<Event> = (1..=n)
            .map(|id| {
                let t = (id * 7919) % 4001;
                Event::new(
                    id,
                    format!("u{}", id % 5),
                    "p",
                    EventType::Default,
                    t as f64,
                )
                .with_mono_ns(((id * 104_729) % 9973) * 1_000)
            })
            .collect();
        let sample = sampled(&events);
        assert!(sample.all_monotonic);
        assert_eq!(sample.count, n as u64);
        assert_eq!(sample.units, ["u1", "u2", "u3", "u4", "u0"]);
        let ids: Vec<i64> = sample.earliest.iter().map(|e| e.id).collect();
        assert_eq!(ids, chosen_from_all(&events));

        // One event without a monotonic time: the wall clock decides, for every event.
        events[EVENT_SAMPLE_LIMIT].mono_ns = None;
        let sample = sampled(&events);
        assert!(!sample.all_monotonic);
        let ids: Vec<i64> = sample.earliest.iter().map(|e| e.id).collect();
        assert_eq!(ids, chosen_from_all(&events));

        // Under the limit: every event.
        let few = &events[..10];
        let ids: Vec<i64> = sampled(few).earliest.iter().map(|e| e.id).collect();
        assert_eq!(ids, chosen_from_all(few));
    }
}
