//! The decisions: readiness, exits, failures and restarts, stops and kills, deadlines, which
//! unit may start, and when the units phase is over.

use std::time::{Duration, Instant};

use testrium_config::InExcept;
use testrium_events::UnitState;
use testrium_verify::{UnitFailure, UnitStatus};

use super::slot::{Phase, StopReason, UnitSlot};
use super::{Action, SETUP_HEAD_START, Scheduler};
use crate::outcome::EndReason;
use crate::process::Exit;

impl Scheduler {
    pub(super) fn mark_ready(&mut self, index: usize) {
        let slot = &mut self.units[index];
        slot.ready = true;
        slot.coming_back = false;
        slot.been_ready = true;
        slot.phase = Phase::Running;
        self.actions
            .push_back(Action::State(index, UnitState::Ready));
        self.actions
            .push_back(Action::State(index, UnitState::Running));
    }

    /// The unit's process (and tree) is gone: decide what that means.
    pub(super) fn over(&mut self, index: usize, now: Instant) {
        let group_timeout = self.limits.group_timeout;
        let grace = self.limits.grace;
        let slot = &mut self.units[index];
        slot.detached = false;
        slot.kill_at = None;
        let Some(exit) = slot.exit else {
            return;
        };
        let (phase, status, failure, state) = match slot.stop.take() {
            Some(StopReason::GroupEnd) => (
                Phase::Done,
                UnitStatus::Stopped,
                slot.killed_after_grace
                    .then_some(UnitFailure::KilledAfterGrace { grace }),
                UnitState::Stopped,
            ),
            Some(StopReason::GroupTimeout(waiting_for)) => (
                Phase::Done,
                UnitStatus::Failed,
                // Not "exceeded its timeout": the unit may have none of its own.
                Some(UnitFailure::GroupTimedOut {
                    after: group_timeout,
                    waiting_for,
                }),
                UnitState::Failed,
            ),
            Some(StopReason::Failed(failure)) => (
                Phase::Done,
                UnitStatus::Failed,
                Some(failure),
                UnitState::Failed,
            ),
            Some(StopReason::Restart(failure)) => {
                slot.phase = Phase::Done;
                self.restart(index, failure, now);
                return;
            }
            Some(StopReason::DependencyFailed(dependency)) => (
                Phase::Done,
                UnitStatus::Stopped,
                Some(UnitFailure::DependencyFailed { dependency }),
                UnitState::Stopped,
            ),
            // Ended by a fault: not a failure by itself.
            Some(StopReason::Fault) => (Phase::Done, UnitStatus::Stopped, None, UnitState::Stopped),
            Some(StopReason::FaultRestart(at)) => {
                // Started again at `at`, awaiting its readiness as at first start; its
                // dependents keep running (it was ready before).
                slot.phase = Phase::Waiting;
                slot.restart_at = Some(at);
                slot.coming_back = true;
                slot.running = false;
                slot.exit = None;
                slot.ready = false;
                slot.killed_after_grace = false;
                self.actions
                    .push_back(Action::State(index, UnitState::Stopped));
                return;
            }
            None => {
                let failure = match exit {
                    // Exited (its whole tree) before its readiness probe or check.
                    Exit::Code(0) | Exit::Lost if slot.needs_ready() && !slot.ready => {
                        Some(UnitFailure::ExitedBeforeReady {
                            probe: slot.unit.ready_event.clone().unwrap_or_else(|| {
                                slot.check_shown.clone().unwrap_or_else(|| {
                                    slot.unit
                                        .ready_check
                                        .as_ref()
                                        .map(ToString::to_string)
                                        .unwrap_or_default()
                                })
                            }),
                        })
                    }
                    Exit::Code(0) | Exit::Lost => None,
                    Exit::Code(code) => Some(UnitFailure::NonZeroExit { code }),
                    Exit::Signal(signal) => Some(UnitFailure::Signaled { signal }),
                };
                slot.phase = Phase::Done;
                match failure {
                    None => {
                        slot.status = Some(UnitStatus::Finished);
                        if exit == Exit::Lost {
                            slot.failure = Some(UnitFailure::ExitStatusLost);
                        }
                        self.actions
                            .push_back(Action::State(index, UnitState::Finished));
                    }
                    Some(failure) => self.fail(index, failure, now),
                }
                return;
            }
        };
        slot.phase = phase;
        slot.status = Some(status);
        if failure.is_some() {
            slot.failure = failure;
        }
        self.actions.push_back(Action::State(index, state));
    }

    /// A unit failed: restart it (`Reload`, within budget) or record the failure. A unit still
    /// running is stopped first.
    pub(super) fn fail(&mut self, index: usize, failure: UnitFailure, now: Instant) {
        let slot = &self.units[index];
        let restart =
            slot.unit.in_except == InExcept::Reload && slot.restarts < self.limits.max_restarts;
        if slot.live() && slot.running {
            let reason = if restart {
                StopReason::Restart(failure)
            } else {
                StopReason::Failed(failure)
            };
            self.terminate(index, reason, now);
            return;
        }
        if restart {
            // Its dependencies were ready before: it starts again at once.
            self.restart(index, failure, now);
            return;
        }
        let slot = &mut self.units[index];
        // A launcher's service left running is stopped at teardown with the rest.
        slot.detached = false;
        slot.phase = Phase::Done;
        slot.status = Some(UnitStatus::Failed);
        slot.failure = Some(failure);
        self.actions
            .push_back(Action::State(index, UnitState::Failed));
    }

    pub(super) fn restart(&mut self, index: usize, failure: UnitFailure, now: Instant) {
        self.actions
            .push_back(Action::State(index, UnitState::Failed));
        let slot = &mut self.units[index];
        slot.restarts += 1;
        slot.failure = Some(failure);
        slot.running = false;
        slot.exit = None;
        slot.detached = false;
        slot.ready = false;
        slot.killed_after_grace = false;
        slot.phase = Phase::Waiting;
        self.actions
            .push_back(Action::Restarting(index, slot.restarts));
        self.begin_start(index, now);
    }

    /// Asks for the unit's start; the driver answers with `spawned` or `spawn_failed`.
    pub(super) fn begin_start(&mut self, index: usize, now: Instant) {
        let slot = &mut self.units[index];
        slot.phase = Phase::Starting;
        if slot.unit.remote {
            // Runs elsewhere: nothing to spawn. It is up from now on, ready by its
            // `ready_event` (over OTLP or the remote probe API) or at once.
            slot.started = Some(now);
            slot.first_started.get_or_insert(now);
            self.actions
                .push_back(Action::State(index, UnitState::Starting));
            // Its readiness probe may have come before (it runs on its own schedule).
            if !slot.needs_ready() || slot.ready_recorded {
                self.mark_ready(index);
            }
            return;
        }
        self.actions.push_back(Action::Start(index));
    }

    /// Records when the unit started (the driver calls this when it carries out `Start`).
    pub(crate) fn starting(&mut self, index: usize, now: Instant) {
        let slot = &mut self.units[index];
        slot.started = Some(now);
        slot.first_started.get_or_insert(now);
    }

    /// SIGTERM (SIGKILL without a grace period) to the unit; SIGKILL after the grace period.
    pub(super) fn terminate(&mut self, index: usize, reason: StopReason, now: Instant) {
        let grace = if self.kill_now {
            Duration::ZERO
        } else {
            self.limits.grace
        };
        let slot = &mut self.units[index];
        slot.stop = Some(reason);
        slot.phase = Phase::Terminating;
        if slot.unit.remote {
            // No process of ours to stop: it is over at once.
            slot.exit = Some(Exit::Code(0));
            slot.ended = Some(now);
            self.over(index, now);
            return;
        }
        if slot.running || slot.detached {
            self.actions.push_back(Action::Signal {
                unit: index,
                kill: grace.is_zero(),
                tree: slot.detached,
            });
        }
        slot.kill_at = (!grace.is_zero()).then(|| now + grace);
    }

    /// SIGKILL to the units whose grace period is over.
    pub(super) fn check_kills(&mut self, now: Instant) {
        for index in 0..self.units.len() {
            let slot = &mut self.units[index];
            if slot.phase != Phase::Terminating || slot.kill_at.is_none_or(|at| now < at) {
                continue;
            }
            slot.kill_at = None;
            if slot.running || slot.detached {
                // After a second Ctrl-C nobody was given the chance to ignore SIGTERM.
                slot.killed_after_grace = !self.kill_now;
                self.actions.push_back(Action::Signal {
                    unit: index,
                    kill: true,
                    tree: slot.detached,
                });
            }
        }
    }

    pub(super) fn check_deadlines(&mut self, now: Instant) {
        self.check_kills(now);
        for index in 0..self.units.len() {
            let slot = &self.units[index];
            let Some(started) = slot.started else {
                continue;
            };
            let age = now.saturating_duration_since(started);
            if slot.phase == Phase::Starting && age >= slot.unit.ready_timeout {
                let failure = match &slot.unit.ready_check {
                    Some(check) => UnitFailure::ReadinessCheckTimeout {
                        check: slot
                            .check_shown
                            .clone()
                            .unwrap_or_else(|| check.to_string()),
                        waited: slot.unit.ready_timeout,
                        last_error: slot.check_error.clone(),
                    },
                    None => UnitFailure::ReadinessTimeout {
                        probe: slot.unit.ready_event.clone().unwrap_or_default(),
                        waited: slot.unit.ready_timeout,
                    },
                };
                self.fail(index, failure, now);
                continue;
            }
            if let Some(timeout) = slot.unit.timeout
                && matches!(slot.phase, Phase::Starting | Phase::Running)
                && age >= timeout
            {
                self.fail(index, UnitFailure::Timeout { after: timeout }, now);
            }
        }
    }

    /// Stops the running units that depend on a unit that failed for good (`Resume`): their
    /// circuit is broken, waiting for it would only run into the timeout.
    pub(super) fn stop_dependents(&mut self, now: Instant) {
        for index in 0..self.units.len() {
            if !matches!(self.units[index].phase, Phase::Starting | Phase::Running) {
                continue;
            }
            let blocker = self.units[index]
                .deps
                .iter()
                .find(|&&d| self.units[d].blocks_dependents())
                .map(|&d| self.units[d].unit.name.clone());
            if let Some(dependency) = blocker {
                self.terminate(index, StopReason::DependencyFailed(dependency), now);
            }
        }
    }

    /// Starts every waiting unit whose dependencies are ready, in `init` order; marks those
    /// that can never start.
    pub(super) fn start_eligible(&mut self, now: Instant) {
        loop {
            let mut changed = false;
            for index in 0..self.units.len() {
                if self.units[index].phase != Phase::Waiting {
                    continue;
                }
                // A one-shot dependency that ended any other way than exit 0 never completes.
                let slot = &self.units[index];
                let blocked = slot
                    .deps
                    .iter()
                    .find(|&&d| self.units[d].blocks_dependents())
                    .or_else(|| {
                        slot.completed.iter().find(|&&d| {
                            let dep = &self.units[d];
                            dep.phase == Phase::Done && !dep.completed_ok()
                        })
                    })
                    .map(|&d| self.units[d].unit.name.clone());
                if let Some(dependency) = blocked {
                    let slot = &mut self.units[index];
                    slot.phase = Phase::Done;
                    slot.status = Some(UnitStatus::Failed);
                    slot.failure = Some(UnitFailure::DependencyFailed { dependency });
                    self.actions
                        .push_back(Action::State(index, UnitState::Failed));
                    changed = true;
                    continue;
                }
                let slot = &self.units[index];
                let deps_ready = slot
                    .deps
                    .iter()
                    .all(|&d| self.units[d].satisfies_dependents())
                    && slot.completed.iter().all(|&d| self.units[d].completed_ok());
                // A unit a `restart` fault killed starts again at its time, not before.
                let restart_due = match self.units[index].restart_at {
                    Some(at) if now < at => continue,
                    Some(_) => {
                        self.units[index].restart_at = None;
                        true
                    }
                    None => false,
                };
                if restart_due || (deps_ready && self.setup_allows(index, now)) {
                    self.begin_start(index, now);
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// `use_setup = true` units wait until the setup is up: it recorded a probe (a setup that
    /// is a service) or exited successfully. Other units start at once, except after a
    /// `setup.py`: as the original (which slept 0.2 s after starting it), they get
    /// [`SETUP_HEAD_START`] — cut short as soon as anything recorded a probe or the setup
    /// exited successfully.
    pub(super) fn setup_allows(&self, index: usize, now: Instant) -> bool {
        let Some(setup) = self.setup.as_ref() else {
            return true;
        };
        if self.units[index].unit.use_setup {
            return setup.recorded || setup.succeeded;
        }
        !setup.head_start
            || setup.succeeded
            || self.any_probe
            || now.saturating_duration_since(setup.started) >= SETUP_HEAD_START
    }

    /// Whether the units phase is over.
    pub(super) fn finished(&self) -> Option<EndReason> {
        // A remote unit has no process to exit: it counts once nothing is awaited from it.
        if self
            .units
            .iter()
            .all(|s| s.phase == Phase::Done || (s.unit.remote && !s.awaited()))
        {
            return Some(EndReason::AllExited);
        }
        // A unit failed for good: the group's verdict is known, waiting on would only blame
        // healthy units at the timeout.
        if self.units.iter().any(UnitSlot::failed_for_good) {
            return Some(EndReason::UnitFailed);
        }
        // A unit a `restart` fault killed comes back (ready again) before the group ends.
        if self
            .units
            .iter()
            .any(|s| s.coming_back && matches!(s.phase, Phase::Waiting | Phase::Starting))
        {
            return None;
        }
        // Every unit that can start has started (a unit with no probes of its own still gets
        // to run), and nothing that could still record a required probe is left.
        if self.required_total > 0
            && !self.units.iter().any(|s| s.phase == Phase::Waiting)
            && !self
                .units
                .iter()
                .any(|s| s.may_record() && !s.missing.is_empty())
            && !self.units.iter().any(|s| s.phase == Phase::Terminating)
        {
            return Some(EndReason::AllProbesRecorded);
        }
        None
    }
}
