//! Lifecycle states in the run database: queued as they happen (with their time) and written
//! together, in one commit, when the driver's turn ends — or when a unit waits for its own
//! state (a pre-warmed interpreter is released by `starting`) — and kept queued while a unit
//! holds the database's write lock.

use std::time::Duration;

use testrium_events::{UnitState, UnitStateRecord, monotonic_ns};

use super::{Supervisor, unix_now};
use crate::error::RunError;
use crate::event::RunEvent;
use crate::outcome::UnitTransition;
use crate::process::Process;

impl Supervisor<'_> {
    /// Queues a lifecycle state for the run database, with the time it is entered; see
    /// [`Supervisor::flush_states`].
    pub(super) fn record_state(&self, unit: &str, state: UnitState) {
        self.pending_states
            .borrow_mut()
            .push_back(UnitStateRecord::new(
                unit,
                state,
                unix_now(),
                Some(monotonic_ns()),
            ));
    }

    /// Writes the queued states, in order, in one transaction. A unit holding the database's
    /// write lock must not stall the runner (states are evidence, not control flow): while
    /// the database is busy they stay queued and are tried again every turn. Returns whether
    /// some are still queued.
    pub(super) fn flush_states(&self) -> Result<bool, RunError> {
        let mut pending = self.pending_states.borrow_mut();
        if pending.is_empty() {
            return Ok(false);
        }
        match self.db.set_unit_states(pending.make_contiguous()) {
            Ok(()) => {
                pending.clear();
                Ok(false)
            }
            Err(e) if e.is_busy() => Ok(true),
            Err(e) => Err(self.store(e)),
        }
    }

    pub(super) fn set_state(
        &self,
        index: usize,
        state: UnitState,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        self.record_state(self.name(index), state);
        let at = self.since();
        self.note_transition(index, state, at);
        observer(&RunEvent::UnitStateChanged {
            unit: self.name(index).to_owned(),
            state,
            pid: self.procs[index].process.as_ref().map(Process::pid),
            at,
        });
        Ok(())
    }

    /// Keeps a state change for the outcome (reports draw them on the unit's lane).
    pub(super) fn note_transition(&self, index: usize, state: UnitState, at: Duration) {
        self.transitions
            .borrow_mut()
            .push(UnitTransition::new(self.name(index), state, at));
    }
}
