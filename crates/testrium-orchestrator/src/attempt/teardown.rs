//! Teardown: every unit still running is stopped (SIGTERM, the grace period, SIGKILL), the
//! ones never started are settled, and whatever is left of the units' process groups goes.

use std::time::{Duration, Instant};

use super::Supervisor;
use crate::error::RunError;
use crate::event::RunEvent;
use crate::outcome::EndReason;
use crate::process::{self, Process, Signal, stop_processes};

/// How long teardown waits for exits between two looks at the grace deadlines.
const TEARDOWN_TICK: Duration = Duration::from_millis(50);
/// How long the sweep of the units' process groups waits for killed processes to disappear.
const GROUPS_DEADLINE: Duration = Duration::from_secs(5);

impl Supervisor<'_> {
    /// Stops every unit still running and records the final states.
    pub(super) fn teardown_units(
        &mut self,
        end: EndReason,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        if self.ctx.cancel.is_kill_now() {
            self.sched.kill_now(Instant::now());
        }
        // Readiness checks in flight (a `ready_command` still running) go first.
        for procs in &mut self.procs {
            if let Some(mut ready) = procs.ready.take() {
                ready.abandon();
            }
        }
        self.sched.teardown(end, Instant::now());
        self.execute(observer)?;
        // Interpreters started ahead for units that never started.
        let mut unreleased: Vec<&mut Process> = self
            .procs
            .iter_mut()
            .filter_map(|p| p.prewarmed.as_mut())
            .collect();
        stop_processes(&mut unreleased, Duration::ZERO);
        // Members of a unit's group whose leader already exited (a grandchild holding the
        // log open, say) go too — not a launcher's service, which was asked to stop.
        for (procs, slot) in self.procs.iter().zip(&self.sched.units) {
            if let Some(process) = procs.process.as_ref()
                && process.exited().is_some()
                && !slot.detached
            {
                process.signal_group(Signal::SIGKILL);
            }
        }
        // Wait for every unit to exit, SIGKILL after its grace period.
        loop {
            let now = Instant::now();
            self.flush_states()?;
            let ended = self.reap();
            self.apply_ended(ended);
            if self.ctx.cancel.is_kill_now() {
                self.sched.kill_now(now);
            }
            self.sched.teardown_step(now);
            self.execute(observer)?;
            if !self.sched.any_live() {
                break;
            }
            let mut wake = (now + TEARDOWN_TICK).min(self.next_tree_check());
            if let Some(at) = self.sched.next_kill() {
                wake = wake.min(at);
            }
            let processes = self.procs.iter().filter_map(|p| p.process.as_ref());
            let _ = process::wait_any(processes, wake.saturating_duration_since(now));
        }
        // Leftover members of every unit's process group, waited for until they are gone.
        let pgids: Vec<u32> = self
            .procs
            .iter()
            .filter_map(|p| p.process.as_ref().map(Process::pid))
            .collect();
        process::kill_groups(&pgids, Instant::now() + GROUPS_DEADLINE);
        if self.sched.all_ready_at.is_none() && self.sched.all_been_ready() {
            self.sched.all_ready_at = Some(self.since());
        }
        Ok(())
    }
}
