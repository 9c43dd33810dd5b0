//! Per-verification indexes over the borrowed events.

use std::sync::Arc;

use testrium_events::Event;

use crate::index::{FxMap, Interner};
use crate::verdict::EventRef;

/// The events, with each event's unit interned, and caches of the shared strings the verdict
/// holds (one allocation per distinct unit or step, not per event).
pub(crate) struct Context<'a> {
    pub(crate) events: &'a [Event],
    /// Interned unit of each event.
    pub(crate) unit_of: Vec<u32>,
    pub(crate) units: Interner<'a>,
    /// Events per interned unit.
    pub(crate) unit_counts: Vec<u64>,
    unit_arcs: Vec<Option<Arc<str>>>,
    step_arcs: FxMap<&'a str, Arc<str>>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(events: &'a [Event]) -> Self {
        let mut units = Interner::default();
        let mut unit_counts: Vec<u64> = Vec::new();
        let unit_of: Vec<u32> = events
            .iter()
            .map(|e| {
                let id = units.intern(&e.unit);
                if id as usize == unit_counts.len() {
                    unit_counts.push(0);
                }
                unit_counts[id as usize] += 1;
                id
            })
            .collect();
        let unit_arcs = vec![None; units.len()];
        Context {
            events,
            unit_of,
            units,
            unit_counts,
            unit_arcs,
            step_arcs: FxMap::default(),
        }
    }

    pub(crate) fn unit_arc(&mut self, unit: u32) -> Arc<str> {
        let slot = &mut self.unit_arcs[unit as usize];
        match slot {
            Some(a) => Arc::clone(a),
            None => {
                let a: Arc<str> = Arc::from(self.units.name(unit));
                *slot = Some(Arc::clone(&a));
                a
            }
        }
    }

    pub(crate) fn step_arc(&mut self, step: &'a str) -> Arc<str> {
        Arc::clone(
            self.step_arcs
                .entry(step)
                .or_insert_with(|| Arc::from(step)),
        )
    }

    pub(crate) fn event_ref(&mut self, idx: usize) -> EventRef {
        let events = self.events;
        let e = &events[idx];
        EventRef {
            id: e.id,
            unit: self.unit_arc(self.unit_of[idx]),
            step: self.step_arc(&e.step),
            key: e.key.as_deref().map(Arc::from),
            time: e.time,
            mono_ns: e.mono_ns,
        }
    }
}
