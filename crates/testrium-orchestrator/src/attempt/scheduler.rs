//! The scheduler: every decision of an attempt's units phase and teardown, as a state machine
//! with no I/O and no clock of its own.
//!
//! Inputs are what happened — a probe was recorded, a process exited (and whether the rest of
//! its tree lives on), a spawn succeeded or failed, the setup exited, time passed (`now` is
//! given to every call) — and outputs are [`Action`]s for the driver to carry out (start a
//! unit, signal it, record a lifecycle state, watch a launcher's tree) and, once decided, the
//! [`EndReason`] of the units phase. The driver ([`super::Supervisor`]) owns the processes,
//! the run database and the observer; everything it may do is asked for here, so every rule
//! is tested as a table of inputs and expected actions, without a process (see `tests.rs`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use testrium_config::Unit;
use testrium_events::UnitState;
use testrium_verify::{UnitFailure, UnitStatus};

pub(crate) use self::faults::FaultSlot;
use self::in_flight::{CircuitSlot, OpenPairs};
pub(crate) use self::slot::{Phase, UnitSlot};
use self::slot::{SetupSlot, StopReason};
use crate::outcome::EndReason;
use crate::process::Exit;

/// How long units wait for a `setup.py` to get going (unless it records a probe or exits 0
/// sooner), as the original's 0.2 s sleep after starting it.
pub(crate) const SETUP_HEAD_START: Duration = Duration::from_millis(200);
/// Name of the setup in logs, observer events, outcomes and `dependency_failed` evidence.
pub(crate) const SETUP_NAME: &str = "setup";

/// What the scheduler asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Start the unit (record its `starting` state, spawn it) and answer with
    /// [`Scheduler::spawned`] or [`Scheduler::spawn_failed`].
    Start(usize),
    /// Send a signal to the unit: to its process group, or — `tree` — to every process of its
    /// tree (a launcher whose main process is gone).
    Signal { unit: usize, kill: bool, tree: bool },
    /// Record a lifecycle state of the unit.
    State(usize, UnitState),
    /// The unit is about to be started again (`in-except = "Reload"`), for the `restart`-th time.
    Restarting(usize, u32),
    /// Look at the unit's tree until it is gone, then call [`Scheduler::tree_gone`].
    WatchTree(usize),
    /// Fault `n` (of [`Scheduler::faults`]) fired: the driver notes when.
    FaultFired(usize),
    /// SIGSTOP to the unit's whole tree (a `stop` fault).
    Suspend(usize),
    /// SIGCONT to the unit's whole tree.
    Continue(usize),
}

/// The configuration the scheduler decides by.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) group_timeout: Duration,
    pub(crate) grace: Duration,
    pub(crate) settle: Duration,
    /// The settle period once OpenTelemetry spans arrived: covers the exporters' batch delay,
    /// so spans that ended before the last required probe arrived still land.
    pub(crate) span_settle: Duration,
    pub(crate) max_restarts: u32,
}

/// The scheduler of one attempt.
#[derive(Debug)]
pub(crate) struct Scheduler {
    pub(crate) units: Vec<UnitSlot>,
    setup: Option<SetupSlot>,
    limits: Limits,
    t0: Instant,
    deadline: Instant,
    required_total: usize,
    any_probe: bool,
    last_activity: Instant,
    settling: Option<Instant>,
    /// Whether spans arrived over OTLP in this attempt (the settle period is then longer).
    spans_seen: bool,
    kill_now: bool,
    end: Option<EndReason>,
    pub(crate) all_ready_at: Option<Duration>,
    actions: VecDeque<Action>,
    faults: Vec<FaultSlot>,
    circuits: Vec<CircuitSlot>,
    pairs: OpenPairs,
    /// The last time the end waited for circuit instances in flight.
    waited_in_flight: Option<Instant>,
}

impl Scheduler {
    /// The units to start (in `init` order, with the indices of their dependencies).
    pub(crate) fn new(units: Vec<(Unit, Vec<usize>)>, limits: Limits, now: Instant) -> Self {
        let names: Vec<String> = units.iter().map(|(u, _)| u.name.clone()).collect();
        let units: Vec<UnitSlot> = units
            .into_iter()
            .map(|(unit, deps)| UnitSlot {
                missing: unit.events.iter().cloned().collect(),
                // On units that are not started (passive, disabled): satisfied from the start.
                completed: unit
                    .completed_dependencies
                    .iter()
                    .filter_map(|d| names.iter().position(|n| n == d))
                    .collect(),
                unit,
                deps,
                check_error: None,
                check_shown: None,
                restart_at: None,
                coming_back: false,
                phase: Phase::Waiting,
                running: false,
                ready: false,
                been_ready: false,
                stop: None,
                kill_at: None,
                killed_after_grace: false,
                restarts: 0,
                status: None,
                failure: None,
                exit: None,
                detached: false,
                started: None,
                first_started: None,
                ended: None,
                ready_recorded: false,
            })
            .collect();
        let required_total = units.iter().map(|s| s.missing.len()).sum();
        Scheduler {
            units,
            setup: None,
            deadline: now + limits.group_timeout,
            limits,
            t0: now,
            required_total,
            any_probe: false,
            last_activity: now,
            settling: None,
            spans_seen: false,
            kill_now: false,
            end: None,
            all_ready_at: None,
            actions: VecDeque::new(),
            faults: Vec::new(),
            circuits: Vec::new(),
            pairs: OpenPairs::default(),
            waited_in_flight: None,
        }
    }

    /// The next thing to do, if any.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Why the units phase ended, once it did.
    pub(crate) fn end(&self) -> Option<EndReason> {
        self.end
    }

    // ----- inputs ------------------------------------------------------------------------

    /// A setup was started (`head_start`: a `setup.py`), or could not be (`spawned` false:
    /// the group ends as a setup failure).
    pub(crate) fn setup_started(&mut self, head_start: bool, spawned: bool, now: Instant) {
        self.setup = Some(SetupSlot {
            head_start,
            started: now,
            succeeded: false,
            recorded: false,
            failed: !spawned,
        });
    }

    /// The setup exited; `success`: with status 0 (or a lost status).
    pub(crate) fn setup_exited(&mut self, success: bool) {
        if let Some(setup) = self.setup.as_mut() {
            setup.succeeded = success;
            setup.failed = !success;
        }
    }

    /// Any probe was recorded; `by_setup`: by a process of the setup; `unit`, `step`: whose.
    pub(crate) fn probe(
        &mut self,
        unit: &str,
        step: &str,
        mono_ns: Option<i64>,
        by_setup: bool,
        now: Instant,
    ) {
        self.any_probe = true;
        self.last_activity = now;
        self.trigger_faults(unit, step, mono_ns, now);
        self.count_hops(unit, step);
        if by_setup && let Some(setup) = self.setup.as_mut() {
            setup.recorded = true;
        }
        let Some(index) = self.units.iter().position(|s| s.unit.name == unit) else {
            return;
        };
        let slot = &mut self.units[index];
        slot.missing.remove(step);
        if slot.unit.ready_event.as_deref() == Some(step) {
            slot.ready_recorded = true;
        }
        if slot.phase == Phase::Starting && slot.unit.ready_event.as_deref() == Some(step) {
            self.mark_ready(index);
        }
        // A launcher from which nothing is awaited any more is finished; its service runs on
        // until teardown.
        let slot = &self.units[index];
        if slot.detached && slot.stop.is_none() && !slot.awaited() {
            self.over(index, now);
        }
    }

    /// Malformed rows and other writes count as activity for the settle period.
    pub(crate) fn activity(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// The OTLP receiver answered a request (or is answering one): activity, and from now on
    /// the settle period covers the exporters' batch delay.
    pub(crate) fn spans_received(&mut self, now: Instant) {
        self.spans_seen = true;
        self.last_activity = now;
    }

    /// The settle period in force.
    fn settle(&self) -> Duration {
        if self.spans_seen {
            self.limits.settle.max(self.limits.span_settle)
        } else {
            self.limits.settle
        }
    }

    /// The unit's process was started.
    pub(crate) fn spawned(&mut self, index: usize) {
        self.units[index].running = true;
        if !self.units[index].needs_ready() {
            self.mark_ready(index);
        }
    }

    /// Whether the unit's readiness check should be tried now (it is starting, not ready).
    pub(crate) fn wants_check(&self, index: usize) -> bool {
        let slot = &self.units[index];
        slot.unit.ready_check.is_some() && slot.phase == Phase::Starting && !slot.ready
    }

    /// The unit's readiness check passed.
    pub(crate) fn check_passed(&mut self, index: usize) {
        if self.wants_check(index) {
            self.mark_ready(index);
        }
    }

    /// The unit's readiness check as the driver tries it (placeholders expanded), for the
    /// messages.
    pub(crate) fn check_shown(&mut self, index: usize, shown: String) {
        self.units[index].check_shown = Some(shown);
    }

    /// A try of the unit's readiness check failed with `error`.
    pub(crate) fn check_failed(&mut self, index: usize, error: String) {
        self.units[index].check_error = Some(error);
    }

    /// The unit's process could not be started.
    pub(crate) fn spawn_failed(&mut self, index: usize, message: String, now: Instant) {
        self.units[index].phase = Phase::Done;
        self.fail(index, UnitFailure::SpawnFailed { message }, now);
    }

    /// The unit's process exited, having said it could not start the unit's code (an
    /// entrypoint whose module or function does not exist): a spawn failure.
    pub(crate) fn start_failed(&mut self, index: usize, exit: Exit, message: String, now: Instant) {
        let slot = &mut self.units[index];
        slot.running = false;
        slot.exit = Some(exit);
        slot.ended = Some(now);
        self.spawn_failed(index, message, now);
    }

    /// The unit's main process exited; `tree_alive`: other processes of its tree live on.
    pub(crate) fn exited(&mut self, index: usize, exit: Exit, tree_alive: bool, now: Instant) {
        self.last_activity = now;
        let slot = &mut self.units[index];
        slot.running = false;
        slot.exit = Some(exit);
        slot.ended = Some(now);
        // A launcher: its main process ended well by itself while its service lives on and
        // something is still awaited from the unit. (What a unit asked to stop leaves behind
        // is killed at teardown, as ever.)
        if tree_alive && self.may_detach(index, exit) {
            let slot = &mut self.units[index];
            slot.detached = true;
            self.actions.push_back(Action::WatchTree(index));
            return;
        }
        self.over(index, now);
    }

    /// Whether an exit like `exit` could make the unit a launcher (then the driver looks at
    /// its tree before telling [`Scheduler::exited`]).
    pub(crate) fn may_detach(&self, index: usize, exit: Exit) -> bool {
        let slot = &self.units[index];
        (exit.success() || exit == Exit::Lost) && slot.awaited() && slot.stop.is_none()
    }

    /// Whether `use_setup` units still wait for the setup to record a probe.
    pub(crate) fn setup_waiting_for_probe(&self) -> bool {
        self.setup.as_ref().is_some_and(|s| !s.recorded)
    }

    /// The tree of a detached unit is gone.
    pub(crate) fn tree_gone(&mut self, index: usize, now: Instant) {
        if self.units[index].detached {
            self.units[index].ended = Some(now);
            self.over(index, now);
        }
    }

    /// A second Ctrl-C: no grace period from now on.
    pub(crate) fn kill_now(&mut self, now: Instant) {
        self.kill_now = true;
        for slot in &mut self.units {
            if slot.phase == Phase::Terminating {
                slot.kill_at = Some(now);
            }
        }
    }

    /// The run was cancelled: the units phase ends.
    pub(crate) fn cancelled(&mut self) {
        self.end.get_or_insert(EndReason::Interrupted);
    }

    /// Time passed: deadlines, dependents of failed units, units free to start, the end of
    /// the units phase.
    pub(crate) fn step(&mut self, now: Instant) {
        if self.end.is_some() {
            return;
        }
        if self.setup.as_ref().is_some_and(|s| s.failed) {
            self.end = Some(EndReason::SetupFailed);
            return;
        }
        self.check_deadlines(now);
        self.resume_stopped(now, false);
        self.stop_dependents(now);
        self.start_eligible(now);
        if self.all_ready_at.is_none()
            && !self.units.is_empty()
            && self.units.iter().all(|s| s.been_ready)
        {
            self.all_ready_at = Some(now.saturating_duration_since(self.t0));
        }
        match self.finished() {
            Some(end @ (EndReason::AllProbesRecorded | EndReason::UnitFailed)) => {
                // Let in-flight work land (a Send recorded just after the last required
                // probe, a unit about to exit by itself) before stopping anything.
                let since = *self.settling.get_or_insert(now);
                let quiet = self.last_activity.max(since);
                // Circuit instances on their way are waited for, within their budget.
                let in_flight = end == EndReason::AllProbesRecorded
                    && self.in_flight_until(since).is_some_and(|until| now < until);
                if in_flight {
                    self.waited_in_flight = Some(now);
                }
                // The settle period's cap counts from the end of that wait.
                let capped_since = self.waited_in_flight.map_or(since, |w| w.max(since));
                if !in_flight
                    && (now.saturating_duration_since(quiet) >= self.settle()
                        || now.saturating_duration_since(capped_since) >= self.settle() * 20)
                {
                    self.end = Some(end);
                }
            }
            Some(end) => self.end = Some(end),
            None => self.settling = None,
        }
        if self.end.is_none() && now >= self.deadline {
            self.end = Some(EndReason::GroupTimeout);
        }
    }

    /// The earliest moment something is due: a deadline of a unit, the setup head start, the
    /// settle period, the group timeout.
    pub(crate) fn next_deadline(&self, now: Instant) -> Instant {
        let mut wake = self.deadline;
        for slot in &self.units {
            if let Some(at) = slot.kill_at {
                wake = wake.min(at);
            }
            let Some(started) = slot.started else {
                continue;
            };
            if slot.phase == Phase::Starting {
                wake = wake.min(started + slot.unit.ready_timeout);
            }
            if let Some(timeout) = slot.unit.timeout
                && matches!(slot.phase, Phase::Starting | Phase::Running)
            {
                wake = wake.min(started + timeout);
            }
        }
        if let Some(setup) = self.setup.as_ref().filter(|s| s.head_start) {
            let end = setup.started + SETUP_HEAD_START;
            if now < end {
                wake = wake.min(end);
            }
        }
        if let Some(since) = self.settling {
            let settled = self.last_activity.max(since) + self.settle();
            // While instances are in flight only the wait's own end needs a wake-up (a probe
            // completing an instance wakes the driver anyway).
            wake = wake.min(match self.in_flight_until(since) {
                Some(until) if until > now => until,
                _ => settled,
            });
        }
        if let Some(at) = self.next_resume() {
            wake = wake.min(at);
        }
        for slot in &self.units {
            if let Some(at) = slot.restart_at {
                wake = wake.min(at);
            }
        }
        wake
    }

    // ----- teardown ----------------------------------------------------------------------

    /// The units phase is over: stop every unit still running, settle the ones never started.
    pub(crate) fn teardown(&mut self, end: EndReason, now: Instant) {
        // A stopped process cannot act on SIGTERM: continue it first.
        self.resume_stopped(now, true);
        for index in 0..self.units.len() {
            let slot = &self.units[index];
            match slot.phase {
                Phase::Starting | Phase::Running => {
                    let unfinished = !slot.ready || !slot.missing.is_empty();
                    let reason = if end == EndReason::GroupTimeout && unfinished {
                        StopReason::GroupTimeout(self.waiting_for_work(index))
                    } else {
                        StopReason::GroupEnd
                    };
                    self.terminate(index, reason, now);
                }
                Phase::Terminating => {
                    // A restart that will not happen any more.
                    if let Some(StopReason::Restart(failure)) = self.units[index].stop.clone() {
                        self.units[index].stop = Some(StopReason::Failed(failure));
                    }
                }
                Phase::Waiting if slot.restart_at.is_some() => {
                    // A `restart` fault stopped it and the group ended before its restart.
                    let slot = &mut self.units[index];
                    slot.phase = Phase::Done;
                    slot.restart_at = None;
                    slot.status = Some(UnitStatus::Stopped);
                }
                Phase::Waiting => {
                    // A unit that never started always says why it was waiting.
                    let setup_failed = end == EndReason::SetupFailed && slot.unit.use_setup;
                    let waiting_for = self.waiting_for_start(index);
                    let slot = &mut self.units[index];
                    slot.phase = Phase::Done;
                    if setup_failed {
                        slot.status = Some(UnitStatus::Failed);
                        slot.failure = Some(UnitFailure::DependencyFailed {
                            dependency: SETUP_NAME.to_owned(),
                        });
                        self.actions
                            .push_back(Action::State(index, UnitState::Failed));
                    } else {
                        slot.status = Some(UnitStatus::NotStarted);
                        slot.failure = Some(UnitFailure::NotStarted { waiting_for });
                        self.actions
                            .push_back(Action::State(index, UnitState::Stopped));
                    }
                }
                Phase::Done => {}
            }
        }
    }

    /// SIGKILL after the grace period, during teardown.
    pub(crate) fn teardown_step(&mut self, now: Instant) {
        self.check_kills(now);
    }

    /// Whether a unit still runs (teardown waits for none to be left).
    pub(crate) fn any_live(&self) -> bool {
        self.units.iter().any(UnitSlot::live)
    }

    /// The earliest SIGKILL due during teardown.
    pub(crate) fn next_kill(&self) -> Option<Instant> {
        self.units.iter().filter_map(|s| s.kill_at).min()
    }

    /// Whether every unit was ready at some point.
    pub(crate) fn all_been_ready(&self) -> bool {
        !self.units.is_empty() && self.units.iter().all(|s| s.been_ready)
    }

    /// The status a unit ends with.
    pub(crate) fn status(&self, index: usize) -> UnitStatus {
        self.units[index].status.unwrap_or(UnitStatus::Stopped)
    }
}

mod blame;
mod decide;
mod faults;
mod in_flight;
mod slot;
#[cfg(test)]
mod tests;
