//! Lifecycle states in the run database: written at once, or queued while a unit holds the
//! database's write lock.

use std::time::Duration;

use testrium_events::UnitState;

use super::Supervisor;
use crate::error::RunError;
use crate::event::RunEvent;
use crate::outcome::UnitTransition;
use crate::process::Process;

impl Supervisor<'_> {
    /// Writes a lifecycle state to the run database. A unit holding the database's write lock
    /// must not stall the runner (states are evidence, not control flow): when the database
    /// is busy the write is queued, in order, and retried every turn.
    pub(super) fn record_state(&self, unit: &str, state: UnitState) -> Result<(), RunError> {
        let mut pending = self.pending_states.borrow_mut();
        if pending.is_empty() {
            match self.db.set_unit_state(unit, state) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_busy() => {}
                Err(e) => return Err(self.store(e)),
            }
        }
        pending.push_back((unit.to_owned(), state));
        Ok(())
    }

    /// Retries queued state writes; returns whether some are still queued.
    pub(super) fn flush_states(&self) -> Result<bool, RunError> {
        let mut pending = self.pending_states.borrow_mut();
        while let Some((unit, state)) = pending.front() {
            match self.db.set_unit_state(unit, *state) {
                Ok(()) => {
                    pending.pop_front();
                }
                Err(e) if e.is_busy() => return Ok(true),
                Err(e) => return Err(self.store(e)),
            }
        }
        Ok(false)
    }

    pub(super) fn set_state(
        &self,
        index: usize,
        state: UnitState,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        self.record_state(self.name(index), state)?;
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
