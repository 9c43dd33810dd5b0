//! Per-verification caches over the compact rows.

use std::sync::Arc;

use crate::index::FxMap;
use crate::rows::Rows;
use crate::verdict::EventRef;

/// The rows, and caches of the shared strings the verdict holds (one allocation per distinct
/// unit or step, not per event).
pub(crate) struct Context<'a> {
    pub(crate) rows: &'a Rows,
    unit_arcs: Vec<Option<Arc<str>>>,
    step_arcs: FxMap<u32, Arc<str>>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(rows: &'a Rows) -> Self {
        Context {
            rows,
            unit_arcs: vec![None; rows.units.len()],
            step_arcs: FxMap::default(),
        }
    }

    pub(crate) fn unit_arc(&mut self, unit: u32) -> Arc<str> {
        let rows = self.rows;
        let slot = &mut self.unit_arcs[unit as usize];
        match slot {
            Some(a) => Arc::clone(a),
            None => {
                let a: Arc<str> = Arc::from(rows.units.name(unit));
                *slot = Some(Arc::clone(&a));
                a
            }
        }
    }

    pub(crate) fn step_arc(&mut self, step: u32) -> Arc<str> {
        let rows = self.rows;
        Arc::clone(
            self.step_arcs
                .entry(step)
                .or_insert_with(|| Arc::from(rows.steps.name(step))),
        )
    }

    pub(crate) fn event_ref(&mut self, idx: usize) -> EventRef {
        let r = self.rows.rows[idx];
        EventRef {
            id: r.id,
            unit: self.unit_arc(r.unit),
            step: self.step_arc(r.step),
            key: self.rows.raw_key(idx).map(Arc::from),
            time: r.time,
            mono_ns: r.mono_ns(),
        }
    }
}
