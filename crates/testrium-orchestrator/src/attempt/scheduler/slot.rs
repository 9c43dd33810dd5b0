//! What the scheduler knows of each unit and of the setup, and the questions it asks of them.

use std::collections::HashSet;
use std::time::Instant;

use testrium_config::{InExcept, Unit};
use testrium_verify::{UnitFailure, UnitStatus};

use crate::process::Exit;

/// Where a unit is in its life. Mapped to the stored [`UnitState`]s and the outcome's
/// [`UnitStatus`] by [`Scheduler::status`] and the `State` actions, and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not started: waiting for its dependencies (or the setup).
    Waiting,
    /// Started, its readiness probe not seen yet.
    Starting,
    /// Ready (or without a readiness probe): running.
    Running,
    /// Asked to stop (SIGTERM sent), waiting for it to exit.
    Terminating,
    /// Over: exited, or never to be started.
    Done,
}

/// Why the runner is stopping a unit.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum StopReason {
    /// The group is over: the unit counts as stopped.
    GroupEnd,
    /// The unit failed (timeout, readiness): it counts as failed.
    Failed(UnitFailure),
    /// It failed and will be restarted (`Reload`).
    Restart(UnitFailure),
    /// A unit it depends on failed (`Resume`): it counts as stopped.
    DependencyFailed(String),
    /// The group timed out while the unit still had work to do: what it was waiting for.
    GroupTimeout(String),
    /// A fault stopped it (`kill`, `terminate`): it counts as stopped, not failed.
    Fault,
    /// A `restart` fault killed it: it starts again at this moment.
    FaultRestart(Instant),
}

/// One unit as the scheduler sees it.
#[derive(Debug)]
pub(crate) struct UnitSlot {
    pub(crate) unit: Unit,
    pub(super) deps: Vec<usize>,
    /// `completed_dependencies`: units that must have exited 0 first.
    pub(super) completed: Vec<usize>,
    pub(crate) phase: Phase,
    /// The last error of its readiness check (`ready_tcp`, …), for the blame.
    pub(super) check_error: Option<String>,
    /// Its readiness check as tried, placeholders expanded (`tcp 127.0.0.1:6379`).
    pub(super) check_shown: Option<String>,
    /// A `restart` fault killed it: when to start it again.
    pub(super) restart_at: Option<Instant>,
    /// A `restart` fault killed it and it is not ready again yet: the group waits for it.
    pub(super) coming_back: bool,
    /// Whether its process runs (spawned and not exited).
    pub(super) running: bool,
    /// The current incarnation recorded its readiness probe (or has none).
    pub(super) ready: bool,
    /// Some incarnation was ready: dependents may start.
    pub(super) been_ready: bool,
    /// Required probes not recorded yet.
    pub(super) missing: HashSet<String>,
    pub(super) stop: Option<StopReason>,
    pub(super) kill_at: Option<Instant>,
    pub(crate) killed_after_grace: bool,
    pub(crate) restarts: u32,
    pub(crate) status: Option<UnitStatus>,
    pub(crate) failure: Option<UnitFailure>,
    pub(crate) exit: Option<Exit>,
    /// The main process exited while the rest of its tree lives on and something is still
    /// awaited from it: a launcher that started its service. It lives as long as its tree.
    pub(crate) detached: bool,
    /// When the current incarnation started, the first one, and when it ended.
    pub(crate) started: Option<Instant>,
    pub(crate) first_started: Option<Instant>,
    pub(crate) ended: Option<Instant>,
    /// Its `ready_event` was recorded at some point: a remote unit's may come before the
    /// runner counts it as started.
    pub(crate) ready_recorded: bool,
}

impl UnitSlot {
    pub(super) fn live(&self) -> bool {
        matches!(
            self.phase,
            Phase::Starting | Phase::Running | Phase::Terminating
        )
    }

    /// Whether the unit can still record probes.
    pub(super) fn may_record(&self) -> bool {
        matches!(
            self.phase,
            Phase::Waiting | Phase::Starting | Phase::Running
        ) || matches!(self.stop, Some(StopReason::Restart(_)))
    }

    /// Something is still awaited from the unit: its readiness, or required probes.
    pub(super) fn awaited(&self) -> bool {
        (self.needs_ready() && !self.ready) || !self.missing.is_empty()
    }

    /// It becomes ready by a probe or a check, not at once.
    pub(super) fn needs_ready(&self) -> bool {
        self.unit.ready_event.is_some() || self.unit.ready_check.is_some()
    }

    /// It exited 0 by itself: `completed_dependencies` on it are satisfied.
    pub(super) fn completed_ok(&self) -> bool {
        self.phase == Phase::Done
            && self.status == Some(UnitStatus::Finished)
            && self.exit == Some(Exit::Code(0))
    }

    /// Failed for good (not `Resume-ALL`), or stopped because a unit it needs did: units that
    /// depend on it are stopped, or never started.
    pub(super) fn blocks_dependents(&self) -> bool {
        self.phase == Phase::Done
            && ((self.status == Some(UnitStatus::Failed)
                && self.unit.in_except != InExcept::ResumeAll)
                || matches!(self.failure, Some(UnitFailure::DependencyFailed { .. })))
    }

    /// The unit failed by itself (not as a consequence of a dependency) and will not be
    /// restarted, under a failure policy that does not carry on (`Resume-ALL` does).
    pub(super) fn failed_for_good(&self) -> bool {
        self.phase == Phase::Done
            && self.status == Some(UnitStatus::Failed)
            && self.unit.in_except != InExcept::ResumeAll
            && !matches!(self.failure, Some(UnitFailure::DependencyFailed { .. }))
    }

    /// Dependents may start.
    pub(super) fn satisfies_dependents(&self) -> bool {
        !self.blocks_dependents()
            && (self.been_ready
                || (self.phase == Phase::Done
                    && self.status == Some(UnitStatus::Failed)
                    && self.unit.in_except == InExcept::ResumeAll))
    }
}

/// The setup as the scheduler sees it.
#[derive(Debug)]
pub(super) struct SetupSlot {
    /// A `setup.py`: units get a head start wait.
    pub(super) head_start: bool,
    pub(super) started: Instant,
    /// It exited successfully (or its status was lost).
    pub(super) succeeded: bool,
    /// A process of it recorded a probe: a setup that is a service is up.
    pub(super) recorded: bool,
    pub(super) failed: bool,
}
