//! Faults injected at a point of the flow (`[[fault]]`): when a probe is recorded for the n-th
//! time, a unit is killed, terminated, stopped for a while, or restarted. A unit ended by a
//! fault is not a failure by itself: what is judged is what happens to the circuits and the
//! required probes.

use std::time::{Duration, Instant};

use testrium_config::{Fault, FaultAction};

use super::slot::{Phase, StopReason};
use super::{Action, Scheduler};

/// One fault and what became of it.
#[derive(Debug, Clone)]
pub(crate) struct FaultSlot {
    pub(crate) fault: Fault,
    /// The unit hit, when it is one the runner starts.
    target: Option<usize>,
    /// How many times its probe was recorded so far.
    seen: u32,
    /// When it fired, and the monotonic time of the probe that triggered it.
    pub(crate) fired: Option<(Instant, Option<i64>)>,
    /// `stop`: when to send SIGCONT.
    resume_at: Option<Instant>,
}

impl Scheduler {
    /// The group's faults (`[[fault]]`).
    pub(crate) fn with_faults(mut self, faults: Vec<Fault>) -> Self {
        self.faults = faults
            .into_iter()
            .map(|fault| FaultSlot {
                target: self.units.iter().position(|s| s.unit.name == fault.unit),
                fault,
                seen: 0,
                fired: None,
                resume_at: None,
            })
            .collect();
        self
    }

    /// The faults, fired or not.
    pub(crate) fn faults(&self) -> &[FaultSlot] {
        &self.faults
    }

    /// A probe was recorded: fires the faults it triggers.
    pub(super) fn trigger_faults(
        &mut self,
        unit: &str,
        step: &str,
        mono_ns: Option<i64>,
        now: Instant,
    ) {
        for index in 0..self.faults.len() {
            let slot = &mut self.faults[index];
            if slot.fired.is_some()
                || slot.fault.after_unit != unit
                || slot.fault.after_probe != step
            {
                continue;
            }
            slot.seen += 1;
            if slot.seen == slot.fault.occurrence {
                slot.fired = Some((now, mono_ns));
                self.actions.push_back(Action::FaultFired(index));
                self.fire(index, now);
            }
        }
    }

    fn fire(&mut self, index: usize, now: Instant) {
        let fault = self.faults[index].fault.clone();
        let Some(target) = self.faults[index].target else {
            return;
        };
        let slot = &self.units[target];
        let alive = matches!(slot.phase, Phase::Starting | Phase::Running)
            && (slot.running || slot.detached);
        if !alive {
            return;
        }
        match fault.action {
            FaultAction::Kill => self.stop_by_fault(target, StopReason::Fault, true, now),
            FaultAction::Terminate => self.stop_by_fault(target, StopReason::Fault, false, now),
            FaultAction::Restart => self.stop_by_fault(
                target,
                StopReason::FaultRestart(now + fault.duration),
                true,
                now,
            ),
            FaultAction::Stop => {
                self.actions.push_back(Action::Suspend(target));
                self.faults[index].resume_at = Some(now + fault.duration);
            }
            // An action this build does not know: nothing is done (validation rejects it).
            _ => {}
        }
    }

    /// Stops the unit for a fault: SIGKILL to its whole tree (`kill`), or SIGTERM then
    /// SIGKILL after the grace period.
    fn stop_by_fault(&mut self, index: usize, reason: StopReason, kill: bool, now: Instant) {
        let grace = self.limits.grace;
        let slot = &mut self.units[index];
        slot.stop = Some(reason);
        slot.phase = Phase::Terminating;
        self.actions.push_back(Action::Signal {
            unit: index,
            kill: kill || grace.is_zero(),
            tree: true,
        });
        slot.kill_at = (!kill && !grace.is_zero()).then(|| now + grace);
    }

    /// SIGCONT to the units whose `stop` fault is over (all of them at teardown: a stopped
    /// process cannot act on SIGTERM).
    pub(super) fn resume_stopped(&mut self, now: Instant, all: bool) {
        for index in 0..self.faults.len() {
            let slot = &mut self.faults[index];
            let due = slot.resume_at.is_some_and(|at| all || now >= at);
            if let (true, Some(target)) = (due, slot.target) {
                slot.resume_at = None;
                self.actions.push_back(Action::Continue(target));
            }
        }
    }

    /// The next SIGCONT due.
    pub(super) fn next_resume(&self) -> Option<Instant> {
        self.faults.iter().filter_map(|f| f.resume_at).min()
    }

    /// How long after its probe a fault fired, when both are known: `fired_mono_ns` is when
    /// the driver carried it out.
    pub(crate) fn fault_latency(slot: &FaultSlot, fired_mono_ns: i64) -> Option<Duration> {
        let probe = slot.fired?.1?;
        u64::try_from(fired_mono_ns.saturating_sub(probe))
            .ok()
            .map(Duration::from_nanos)
    }
}
