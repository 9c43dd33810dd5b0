//! [`Fixture`]: a group run in the background for the length of a test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use testrium_config::{Group, Launch, error_chain};
use testrium_events::{Event, UnitState};
use testrium_orchestrator::{CancelToken, GroupOutcome, Run, RunError, RunEvent};

/// A test group running in the background, its units kept up until the handle is stopped or
/// dropped: the services a test talks to.
///
/// [`Fixture::start`] runs the group with [`Run`] on a thread of its own, with a
/// [`CancelToken`] and an observer that tracks every unit's state and pid and every probe.
/// [`wait_ready`](Fixture::wait_ready) blocks until every unit is ready (its `ready_event`
/// recorded, or started when it has none), [`wait_for_probe`](Fixture::wait_for_probe) until
/// a probe is recorded, each with a deadline; [`probes`](Fixture::probes),
/// [`pid`](Fixture::pid) and [`state`](Fixture::state) read what happened so far.
/// Dropping the handle (or [`stop`](Fixture::stop), which also returns the outcome) cancels
/// the run and waits until its teardown is over: every process it started is gone when
/// `drop` returns, also when the test panics.
///
/// A fixture differs from a plain [`Run`] of the same group in one way: the units' required
/// probes (`events`) are not required, so recording them all does not end the group and stop
/// its servers. Everything else applies: dependencies and readiness (`ready_event`,
/// `ready_timeout`), unit failures (a crashed unit makes [`wait_ready`](Fixture::wait_ready)
/// fail), and the group's `timeout` (default 30 s), which bounds how long the units stay up:
/// raise it in the group, or with [`Run::timeout_override`] through
/// [`Fixture::start_with`]. One attempt is run, whatever the group's `repeat`.
///
/// ```no_run
/// use std::time::Duration;
/// use testrium::{Fixture, load_group};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let group = load_group("tests/groups/test_backend".as_ref())?;
/// let backend = Fixture::start_with(group, |run| {
///     run.timeout_override(Duration::from_secs(600)).base_dir(std::env::temp_dir())
/// })?;
/// backend.wait_ready(Duration::from_secs(10))?;
/// let port = backend
///     .wait_for_probe("backend", "listening", Duration::from_secs(1))?
///     .metadata
///     .unwrap_or_default();
/// println!("backend listening: {port}");
/// // Stopped while running: the outcome is marked interrupted, the units `stopped`.
/// let outcome = backend.stop()?;
/// let attempt = outcome.last_attempt().expect("one attempt");
/// assert!(attempt.units.iter().all(|u| u.failure.is_none()), "{}", attempt.verdict);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Fixture {
    group: String,
    cancel: CancelToken,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What went wrong with a [`Fixture`].
#[derive(Debug, thiserror::Error)]
#[error("fixture `{group}`")]
#[non_exhaustive]
pub struct FixtureError {
    /// The group's name.
    pub group: String,
    /// What went wrong.
    #[source]
    pub kind: FixtureErrorKind,
}

/// What went wrong with a [`Fixture`], without the group's name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureErrorKind {
    /// The thread that runs the group could not be started.
    #[error("cannot start the thread that runs it")]
    Spawn(#[source] std::io::Error),
    /// Not every unit was ready by the deadline.
    #[error("not ready within {timeout:?}: still waiting for {}", waiting.join(", "))]
    NotReady {
        /// The deadline given.
        timeout: Duration,
        /// The units not ready yet, in config order.
        waiting: Vec<String>,
    },
    /// A unit failed (crash, non-zero exit, readiness timeout…) before every unit was ready.
    #[error("unit `{unit}` failed")]
    UnitFailed {
        /// The unit.
        unit: String,
    },
    /// The probe was not recorded by the deadline.
    #[error("probe `{unit}:{step}` not recorded within {timeout:?}")]
    ProbeTimeout {
        /// The unit.
        unit: String,
        /// The probe.
        step: String,
        /// The deadline given.
        timeout: Duration,
    },
    /// The run was over (group timeout, a unit failure under the group's policy, every unit
    /// exited, or it could not start) before what was awaited happened.
    #[error(
        "the run ended while waiting for {waiting_for}{}",
        cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
    )]
    Ended {
        /// What was awaited.
        waiting_for: String,
        /// Why the run could not start, when it could not (a [`RunError`]'s text).
        cause: Option<String>,
    },
    /// The run could not start (a dependency cycle, a run directory that cannot be created).
    #[error("the run could not start")]
    Run(#[source] RunError),
    /// The thread that runs the group panicked: there is no outcome.
    #[error("the thread that runs it panicked")]
    Panicked,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a change, at most until `deadline`; `None` once it has passed.
    fn wait_until<'a>(
        &self,
        state: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> Option<MutexGuard<'a, State>> {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        let (state, _) = self
            .changed
            .wait_timeout(state, left)
            .unwrap_or_else(PoisonError::into_inner);
        Some(state)
    }
}

#[derive(Debug, Default)]
struct State {
    /// The units [`Fixture::wait_ready`] waits for: enabled, with a process, in config order.
    awaited: Vec<String>,
    units: BTreeMap<String, UnitView>,
    probes: Vec<Event>,
    run_dir: Option<PathBuf>,
    /// Set when the run returned.
    result: Option<Result<GroupOutcome, RunError>>,
    /// Set when the run's thread is done (also if it panicked).
    ended: bool,
}

impl State {
    fn end_cause(&self) -> Option<String> {
        match &self.result {
            Some(Err(e)) => Some(error_chain(e)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct UnitView {
    state: Option<UnitState>,
    pid: Option<u32>,
}

/// Marks the run over when the run's thread ends, however it ends.
struct EndGuard(Arc<Shared>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.lock().ended = true;
        self.0.changed.notify_all();
    }
}

impl Fixture {
    /// Starts `group` in the background with a default [`Run`] (runs under the group folder's
    /// parent, in `.testrium/runs/`). Returns at once; see [`wait_ready`](Fixture::wait_ready).
    ///
    /// # Errors
    ///
    /// Only when the thread cannot be started; what goes wrong in the run shows in
    /// [`wait_ready`](Fixture::wait_ready) and [`stop`](Fixture::stop).
    pub fn start(group: Group) -> Result<Fixture, FixtureError> {
        Fixture::start_with(group, |run| run)
    }

    /// [`start`](Fixture::start), with the [`Run`] set up by `configure` first (base folder,
    /// timeout, grace period, environment, `PATH`…). The fixture then sets the run's observer,
    /// cancel token and repeat (one attempt), replacing any set by `configure`.
    ///
    /// # Errors
    ///
    /// As [`start`](Fixture::start).
    pub fn start_with(
        mut group: Group,
        configure: impl FnOnce(Run) -> Run,
    ) -> Result<Fixture, FixtureError> {
        let name = group.name.clone();
        let awaited = group
            .enabled_units()
            .filter(|u| !matches!(u.launch, Launch::Passive))
            .map(|u| u.name.clone())
            .collect();
        // Recording every required probe would end the group and stop its servers.
        for unit in group.units.values_mut() {
            unit.events.clear();
        }
        let shared = Arc::new(Shared::default());
        shared.lock().awaited = awaited;
        let cancel = CancelToken::new();
        let observed = Arc::clone(&shared);
        let run = configure(Run::new(group))
            .observer(move |event| observe(&observed, event))
            .cancel(cancel.clone())
            .repeat_override(0);
        let guard = EndGuard(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(format!("testrium-fixture-{name}"))
            .spawn(move || {
                let result = run.execute();
                guard.0.lock().result = Some(result);
                drop(guard);
            })
            .map_err(|e| FixtureError {
                group: name.clone(),
                kind: FixtureErrorKind::Spawn(e),
            })?;
        Ok(Fixture {
            group: name,
            cancel,
            shared,
            thread: Some(thread),
        })
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Waits until every enabled unit that has a process (not passive) is ready: in state
    /// `ready` or `running` (or `finished`: it exited successfully, nothing is left to wait
    /// for).
    ///
    /// # Errors
    ///
    /// [`FixtureErrorKind::UnitFailed`] as soon as one of those units failed,
    /// [`FixtureErrorKind::NotReady`] at the deadline, [`FixtureErrorKind::Ended`] when the
    /// run is over with some unit never ready.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), FixtureError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let unit_state = |unit: &String| state.units.get(unit).and_then(|v| v.state);
            if let Some(unit) = state
                .awaited
                .iter()
                .find(|u| unit_state(u) == Some(UnitState::Failed))
            {
                let unit = unit.clone();
                return Err(self.error(FixtureErrorKind::UnitFailed { unit }));
            }
            let waiting: Vec<String> = state
                .awaited
                .iter()
                .filter(|u| {
                    !matches!(
                        unit_state(u),
                        Some(UnitState::Ready | UnitState::Running | UnitState::Finished)
                    )
                })
                .cloned()
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if state.ended {
                return Err(self.error(FixtureErrorKind::Ended {
                    waiting_for: format!("units to be ready: {}", waiting.join(", ")),
                    cause: state.end_cause(),
                }));
            }
            state = match self.shared.wait_until(state, deadline) {
                Some(state) => state,
                None => return Err(self.error(FixtureErrorKind::NotReady { timeout, waiting })),
            };
        }
    }

    /// Waits until `unit` recorded the probe `step` (if it already did, returns at once) and
    /// returns the first such event.
    ///
    /// # Errors
    ///
    /// [`FixtureErrorKind::ProbeTimeout`] at the deadline, [`FixtureErrorKind::Ended`] when
    /// the run is over without it.
    pub fn wait_for_probe(
        &self,
        unit: &str,
        step: &str,
        timeout: Duration,
    ) -> Result<Event, FixtureError> {
        let deadline = Instant::now() + timeout;
        let mut scanned = 0;
        let mut state = self.shared.lock();
        loop {
            if let Some(event) = state.probes[scanned..]
                .iter()
                .find(|e| e.unit == unit && e.step == step)
            {
                return Ok(event.clone());
            }
            scanned = state.probes.len();
            if state.ended {
                return Err(self.error(FixtureErrorKind::Ended {
                    waiting_for: format!("probe `{unit}:{step}`"),
                    cause: state.end_cause(),
                }));
            }
            state = match self.shared.wait_until(state, deadline) {
                Some(state) => state,
                None => {
                    return Err(self.error(FixtureErrorKind::ProbeTimeout {
                        unit: unit.to_owned(),
                        step: step.to_owned(),
                        timeout,
                    }));
                }
            };
        }
    }

    /// The first event of `unit`'s probe `step` recorded so far.
    pub fn probe(&self, unit: &str, step: &str) -> Option<Event> {
        let state = self.shared.lock();
        state
            .probes
            .iter()
            .find(|e| e.unit == unit && e.step == step)
            .cloned()
    }

    /// Every probe recorded so far, in the order the runner saw them (kept in memory for the
    /// fixture's life; a flood of probes is better read from the run database, `Data.db` in
    /// [`run_dir`](Fixture::run_dir)).
    pub fn probes(&self) -> Vec<Event> {
        self.shared.lock().probes.clone()
    }

    /// The pid of `unit`'s process (the latest, after a restart), once started.
    pub fn pid(&self, unit: &str) -> Option<u32> {
        self.shared.lock().units.get(unit).and_then(|v| v.pid)
    }

    /// `unit`'s latest lifecycle state, once the run reported one.
    pub fn state(&self, unit: &str) -> Option<UnitState> {
        self.shared.lock().units.get(unit).and_then(|v| v.state)
    }

    /// The run directory (logs, `Data.db`), once the attempt started.
    pub fn run_dir(&self) -> Option<PathBuf> {
        self.shared.lock().run_dir.clone()
    }

    /// Whether the run is still going (it ends by itself at the group's timeout, when every
    /// unit exited, or on a unit failure under the group's failure policy).
    pub fn is_running(&self) -> bool {
        !self.shared.lock().ended
    }

    /// Cancels the run, waits until every process it started is gone, and returns its
    /// outcome (units still running at the cancellation count as `stopped`, and the outcome
    /// is marked interrupted if the run was still going).
    ///
    /// # Errors
    ///
    /// [`FixtureErrorKind::Run`] when the run could not start, [`FixtureErrorKind::Panicked`]
    /// when its thread panicked.
    pub fn stop(mut self) -> Result<GroupOutcome, FixtureError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<GroupOutcome, FixtureError> {
        self.cancel.cancel();
        let joined = self.thread.take().map(JoinHandle::join);
        let result = self.shared.lock().result.take();
        match (joined, result) {
            (Some(Ok(())), Some(Ok(outcome))) => Ok(outcome),
            (Some(Ok(())), Some(Err(e))) => Err(self.error(FixtureErrorKind::Run(e))),
            _ => Err(self.error(FixtureErrorKind::Panicked)),
        }
    }

    fn error(&self, kind: FixtureErrorKind) -> FixtureError {
        FixtureError {
            group: self.group.clone(),
            kind,
        }
    }
}

impl Drop for Fixture {
    /// Cancels the run and waits until every process it started is gone.
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shutdown();
        }
    }
}

/// The fixture's observer: keeps unit states, pids and probes, and wakes the waiters.
fn observe(shared: &Shared, event: &RunEvent) {
    let mut state = shared.lock();
    match event {
        RunEvent::AttemptStarted { run_dir, .. } => state.run_dir = Some(run_dir.clone()),
        RunEvent::UnitStateChanged {
            unit,
            state: unit_state,
            pid,
            ..
        } => {
            let view = state.units.entry(unit.clone()).or_default();
            view.state = Some(*unit_state);
            if pid.is_some() {
                view.pid = *pid;
            }
        }
        RunEvent::ProbeRecorded { event, .. } => state.probes.push(event.clone()),
        _ => return,
    }
    drop(state);
    shared.changed.notify_all();
}
