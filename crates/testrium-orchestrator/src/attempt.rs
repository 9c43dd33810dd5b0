//! One attempt: run directory, setup, units (the supervisor loop), teardown, direct tests,
//! verification.
//!
//! The supervisor is one loop on the caller's thread. Each turn it reaps exited units
//! (`waitpid` on their own pids), reads the events recorded since the last turn when the
//! database changed (`PRAGMA data_version`), applies readiness, exits and deadlines, starts
//! the units whose dependencies are ready, and checks whether the group is over. Between turns
//! it sleeps in `ppoll` on the units' pidfds and on the database's change watch (inotify on
//! the WAL), so an exit or a commit wakes it at once: for [`TICK`] while things happen, up to
//! [`IDLE_TICK`] when nothing did for a while (never past a unit's deadline). Unit output goes straight to log files, never
//! through a pipe the runner must drain, so a flood or a grandchild holding the output open
//! cannot block anything.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testrium_config::{Group, InExcept, Launch, Setup, Unit};
use testrium_events::{
    ChangeWatch, ENV_EVENT_DB, ENV_GROUP, ENV_RUN_DIR, ENV_UNIT, Event, RunDb, StoreError,
    UnitState, monotonic_ns,
};
use testrium_verify::{
    DirectTest, Expectations, GroupTiming, UnitFailure, UnitOutcome, UnitStatus, Verifier,
    VerifyOptions,
};

use crate::cancel::CancelToken;
use crate::error::{RunError, RunErrorKind};
use crate::event::RunEvent;
use crate::logs::{LogTail, read_tail};
use crate::outcome::{AttemptOutcome, AttemptTimings, EndReason, StoredOutcome};
use crate::plan::Plan;
use crate::process::{self, ENV_RUN_ID, Exit, Process, Signal, spawn, stop_processes};
use crate::python::{self, PythonRuntime};
use crate::rundir::{self, RunDir};
use crate::sample::{EventSample, PAIR_LIMIT};

/// The longest the supervisor sleeps between two looks at the database and the cancel token
/// while things happen (or always, where the database cannot be watched).
const TICK: Duration = Duration::from_millis(1);
/// The longest it sleeps when nothing happened for [`BUSY_SPELL`] and commits wake it anyway
/// (the cancel token is seen within this time).
const IDLE_TICK: Duration = Duration::from_millis(10);
/// How long after an event, an exit or a wake-up the supervisor keeps its short tick.
const BUSY_SPELL: Duration = Duration::from_millis(20);
/// Lines of a failed unit's log kept in its outcome.
const LOG_TAIL_LINES: usize = 20;
/// Meta key of the serialized [`AttemptOutcome`] (without its events and verdict, with
/// `"passed"`) in the run database.
pub const OUTCOME_META_KEY: &str = "testrium.outcome";
/// Meta key of the serialized verdict in the run database.
pub const VERDICT_META_KEY: &str = "testrium.verdict";
/// How long a write of the runner waits for the database's write lock before it is queued.
const RUNNER_BUSY_TIMEOUT: Duration = Duration::from_millis(20);
/// How long the runner waits for its watchdog to acknowledge a clean end.
const WATCHDOG_STAND_DOWN: Duration = Duration::from_millis(100);
/// The direct-tests process's log in `logs/`.
const DIRECT_TESTS_LOG: &str = "_direct-tests.log";
/// How long the final sweep waits for killed processes to disappear.
const SWEEP_DEADLINE: Duration = Duration::from_secs(5);
/// How long units wait for a `setup.py` to get going (unless it records a probe or exits 0
/// sooner), as the original's 0.2 s sleep after starting it.
const SETUP_HEAD_START: Duration = Duration::from_millis(200);
/// Name of the setup process in logs, observer events and outcomes.
const SETUP_NAME: &str = "setup";
/// How soon the tree of a unit whose main process exited is first looked at again, and the
/// longest pause between two looks (the pause doubles in between).
const TREE_CHECK_FIRST: Duration = Duration::from_millis(2);
const TREE_CHECK_MAX: Duration = Duration::from_millis(50);

/// Run options shared by every attempt.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) timeout: Option<Duration>,
    pub(crate) grace: Duration,
    pub(crate) settle: Duration,
    pub(crate) max_restarts: u32,
    pub(crate) stream_output: bool,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) path_prepend: Vec<PathBuf>,
    /// Whether to give each attempt a cgroup of its own where one can be created.
    pub(crate) cgroup: bool,
    /// Whether adopted orphans in another session may be killed (see
    /// [`Run::kill_adopted_orphans`](crate::Run::kill_adopted_orphans)).
    pub(crate) kill_orphans: bool,
}

/// What one attempt needs.
pub(crate) struct Context<'a> {
    pub(crate) group: &'a Group,
    pub(crate) plan: &'a Plan,
    pub(crate) options: &'a Options,
    pub(crate) cancel: &'a CancelToken,
    pub(crate) base: &'a Path,
    pub(crate) identity: &'a str,
    pub(crate) attempt: u32,
    pub(crate) attempts: u32,
}

/// Runs one attempt from run directory to verdict.
pub(crate) fn run(
    ctx: &Context<'_>,
    observer: &mut dyn FnMut(&RunEvent),
) -> Result<AttemptOutcome, RunError> {
    let group = ctx.group;
    let dir = rundir::create(ctx.base, &group.name).map_err(|(path, source)| {
        RunError::new(&group.name, RunErrorKind::RunDir { path, source })
    })?;
    let mut db = RunDb::create(&dir.db).map_err(|source| store_error(group, &dir.db, source))?;
    // The runner never waits long for a unit holding the write lock: its state writes are
    // queued and retried (see `Supervisor::record_state`).
    db.set_busy_timeout(RUNNER_BUSY_TIMEOUT)
        .map_err(|source| store_error(group, &dir.db, source))?;
    observer(&RunEvent::AttemptStarted {
        group: group.name.clone(),
        attempt: ctx.attempt,
        attempts: ctx.attempts,
        run_dir: dir.path.clone(),
    });
    let mut sup = Supervisor::new(ctx, dir, db);
    // Whatever happens (an error, or a panic through `Drop`), nothing may stay alive.
    let result = sup.run_all(observer);
    sup.kill_everything();
    result
}

fn store_error(group: &Group, path: &Path, source: StoreError) -> RunError {
    RunError::new(
        &group.name,
        RunErrorKind::Store {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    )
}

/// Where a unit is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
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
enum StopReason {
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
}

/// One started-or-startable unit.
#[derive(Debug)]
struct Slot {
    unit: Unit,
    deps: Vec<usize>,
    log: PathBuf,
    phase: Phase,
    process: Option<Process>,
    /// A Python interpreter started ahead, waiting for its release (`starting` in the run
    /// database) to import the unit's module: saves an interpreter start per dependency level.
    prewarmed: Option<Process>,
    /// When the current incarnation started.
    started: Option<Instant>,
    /// When the first incarnation started.
    first_started: Option<Instant>,
    exited: Option<Instant>,
    /// The current incarnation recorded its readiness probe (or has none).
    ready: bool,
    /// Some incarnation was ready: dependents may start.
    been_ready: bool,
    /// Required probes not recorded yet.
    missing: HashSet<String>,
    stop: Option<StopReason>,
    kill_at: Option<Instant>,
    killed_after_grace: bool,
    restarts: u32,
    status: Option<UnitStatus>,
    failure: Option<UnitFailure>,
    exit: Option<Exit>,
    tail: Option<LogTail>,
    /// The main process exited while other processes of the unit's tree (its process group,
    /// or processes carrying the attempt's marker and the unit's name) live on: a launcher
    /// that started its service. The unit lives as long as its tree does.
    detached: bool,
    /// When to look at a detached unit's tree again, and the pause after that.
    tree_check: Option<(Instant, Duration)>,
}

impl Slot {
    fn live(&self) -> bool {
        matches!(
            self.phase,
            Phase::Starting | Phase::Running | Phase::Terminating
        )
    }

    /// Whether the unit can still record probes.
    fn may_record(&self) -> bool {
        matches!(
            self.phase,
            Phase::Waiting | Phase::Starting | Phase::Running
        ) || matches!(self.stop, Some(StopReason::Restart(_)))
    }

    /// Failed for good (not `Resume-ALL`), or stopped because a unit it needs did: units that
    /// depend on it are stopped, or never started.
    fn blocks_dependents(&self) -> bool {
        self.phase == Phase::Done
            && ((self.status == Some(UnitStatus::Failed)
                && self.unit.in_except != InExcept::ResumeAll)
                || matches!(self.failure, Some(UnitFailure::DependencyFailed { .. })))
    }

    /// Something is still awaited from the unit: its readiness probe, or required probes.
    fn awaited(&self) -> bool {
        (self.unit.ready_event.is_some() && !self.ready) || !self.missing.is_empty()
    }

    /// The unit failed by itself (not as a consequence of a dependency) and will not be
    /// restarted, under a failure policy that does not carry on (`Resume-ALL` does).
    fn failed_for_good(&self) -> bool {
        self.phase == Phase::Done
            && self.status == Some(UnitStatus::Failed)
            && self.unit.in_except != InExcept::ResumeAll
            && !matches!(self.failure, Some(UnitFailure::DependencyFailed { .. }))
    }

    /// Dependents may start.
    fn satisfies_dependents(&self) -> bool {
        !self.blocks_dependents()
            && (self.been_ready
                || (self.phase == Phase::Done
                    && self.status == Some(UnitStatus::Failed)
                    && self.unit.in_except == InExcept::ResumeAll))
    }
}

/// The setup process.
#[derive(Debug)]
struct SetupSlot {
    /// A `setup.py`: units get a head start wait (see [`Supervisor::setup_allows`]).
    head_start: bool,
    process: Option<Process>,
    log: PathBuf,
    started: Instant,
    exit: Option<Exit>,
    failure: Option<UnitFailure>,
    tail: Option<LogTail>,
    stopped: bool,
    killed_after_grace: bool,
    /// A process of the setup recorded a probe: a setup that is a service is up.
    recorded: bool,
}

struct Supervisor<'a> {
    ctx: &'a Context<'a>,
    dir: RunDir,
    db: RunDb,
    marker: String,
    slots: Vec<Slot>,
    setup: Option<SetupSlot>,
    python: Option<Result<PythonRuntime, String>>,
    t0: Instant,
    started_unix_s: f64,
    started_mono_ns: i64,
    last_event_id: i64,
    data_version: Option<i64>,
    required_total: usize,
    interrupted: bool,
    killed: bool,
    all_ready_at: Option<Duration>,
    /// When the last event was seen.
    last_activity: Instant,
    /// Output lines passed on so far.
    output_lines: u64,
    /// This attempt, counted among those in flight in the process.
    in_flight: Option<process::AttemptGuard>,
    /// State writes waiting for a unit to release the database's write lock.
    pending_states: RefCell<VecDeque<(String, UnitState)>>,
    /// Kills the attempt's marked processes if this runner dies without tearing down.
    watchdog: Option<process::Watchdog>,
    /// The direct-tests interpreter started ahead, waiting for its input file.
    tests_prewarmed: Option<Process>,
    /// The attempt's cgroup, where the runner may create one: every process started for the
    /// attempt joins it, and teardown kills what is left in it.
    cgroup: Option<process::AttemptCgroup>,
}

impl Drop for Supervisor<'_> {
    /// A panic (in the observer, say) unwinds through here: nothing may stay alive.
    fn drop(&mut self) {
        self.kill_everything();
    }
}

impl<'a> Supervisor<'a> {
    fn new(ctx: &'a Context<'a>, dir: RunDir, db: RunDb) -> Self {
        let marker = format!("{}.{}", ctx.identity, dir.id);
        let slots: Vec<Slot> = ctx
            .plan
            .units
            .iter()
            .map(|p| Slot {
                log: dir.logs.join(format!("{}.log", p.unit.name)),
                missing: p.unit.events.iter().cloned().collect(),
                unit: p.unit.clone(),
                deps: p.deps.clone(),
                phase: Phase::Waiting,
                process: None,
                prewarmed: None,
                started: None,
                first_started: None,
                exited: None,
                ready: false,
                been_ready: false,
                stop: None,
                kill_at: None,
                killed_after_grace: false,
                restarts: 0,
                status: None,
                failure: None,
                exit: None,
                tail: None,
                detached: false,
                tree_check: None,
            })
            .collect();
        let required_total = slots.iter().map(|s| s.missing.len()).sum();
        Supervisor {
            ctx,
            dir,
            db,
            marker,
            slots,
            setup: None,
            python: None,
            t0: Instant::now(),
            started_unix_s: unix_now(),
            started_mono_ns: monotonic_ns(),
            last_event_id: 0,
            data_version: None,
            required_total,
            interrupted: false,
            killed: false,
            all_ready_at: None,
            last_activity: Instant::now(),
            output_lines: 0,
            in_flight: Some(process::enter_attempt(ctx.options.kill_orphans)),
            pending_states: RefCell::new(VecDeque::new()),
            watchdog: None,
            tests_prewarmed: None,
            cgroup: if ctx.options.cgroup {
                process::AttemptCgroup::create(ctx.identity)
            } else {
                None
            },
        }
    }

    fn group(&self) -> &'a Group {
        self.ctx.group
    }

    fn store(&self, source: StoreError) -> RunError {
        store_error(self.group(), &self.dir.db, source)
    }

    fn since(&self) -> Duration {
        self.t0.elapsed()
    }

    fn run_all(&mut self, observer: &mut dyn FnMut(&RunEvent)) -> Result<AttemptOutcome, RunError> {
        for slot in &self.slots {
            self.record_state(&slot.unit.name, UnitState::Created)?;
        }
        if !self.slots.is_empty() || self.group().setup.is_some() {
            // Best effort: without `sh`, descendants of a SIGKILLed runner's units are killed
            // by the next run's sweep instead.
            let cgroup = self.cgroup.as_ref().map(process::AttemptCgroup::path);
            self.watchdog = process::Watchdog::start(&self.marker, cgroup).ok();
        }
        self.start_setup(observer);
        self.prewarm();
        let end = self.supervise(observer)?;
        let units_phase = self.since();
        let mut ended_unix_s = unix_now();
        let mut ended_mono_ns = monotonic_ns();
        observer(&RunEvent::TeardownStarted { reason: end });
        let teardown_start = Instant::now();
        self.teardown_units(end, observer)?;
        let teardown = teardown_start.elapsed();
        if self.ctx.options.stream_output {
            self.flush_output(observer);
        }
        let direct_start = Instant::now();
        let direct_tests = self.direct_tests(units_phase, observer)?;
        let direct_time = direct_tests.as_ref().map(|_| direct_start.elapsed());
        if direct_tests.is_some() {
            // Test functions are part of the group (they may record probes, e.g. for passive
            // units): what they record is not late.
            ended_unix_s = unix_now();
            ended_mono_ns = monotonic_ns();
        }
        // Never released (interrupted): it has no work to do.
        if let Some(mut unreleased) = self.tests_prewarmed.take() {
            stop_processes(&mut [&mut unreleased], Duration::ZERO);
        }
        self.teardown_setup();
        let mut swept = self.sweep();
        swept += self.kill_cgroup();
        if let Some(guard) = self.in_flight.take() {
            swept += guard.finish();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            watchdog.stand_down(WATCHDOG_STAND_DOWN);
        }
        self.killed = true;
        // Every unit is gone, so is any lock one of them held.
        let locked = self.flush_states()?;

        // Every row, read one at a time into the verifier and the attempt's sample of them,
        // never held all at once: a flood of probes must not make the runner grow with it.
        // The observer sees what the final read found, so it saw every probe.
        let expectations = Expectations::from_group(self.group());
        let mut verifier = Verifier::new(
            &expectations,
            VerifyOptions::default().pair_limit(PAIR_LIMIT),
        );
        let mut events = EventSample::default();
        let seen = self.last_event_id;
        let mut newest = seen;
        let at = self.since();
        self.db
            .for_each_event_after(0, |row| match row {
                Ok(event) => {
                    newest = newest.max(event.id);
                    if event.id > seen {
                        observer(&RunEvent::ProbeRecorded {
                            event: event.clone(),
                            at,
                        });
                    }
                    verifier.push(&event);
                    events.push(&event);
                }
                Err(bad) => {
                    newest = newest.max(bad.id);
                    events.push_malformed();
                    verifier.push_malformed(bad);
                }
            })
            .map_err(|e| self.store(e))?;
        events.finish();
        self.last_event_id = newest;
        let units = self.unit_outcomes();
        let setup = self.setup_outcome();
        let mut verified_units = units.clone();
        if let Some(setup) = setup.as_ref().filter(|s| s.status == UnitStatus::Failed) {
            verified_units.push(setup.clone());
        }
        let direct_tests = match direct_tests {
            Some(tests) => tests,
            // As the original: a group where nothing ran (every unit passive or disabled, no
            // direct test) is a failed scenario, not a vacuous pass.
            None if self.slots.is_empty() && !self.interrupted && !locked => {
                vec![DirectTest::failed(
                    "scenario",
                    0.0,
                    "no entrypoints or test functions found: no unit was started and no direct \
                 test ran",
                )]
            }
            None => Vec::new(),
        };
        let mut direct_tests = direct_tests;
        if locked {
            direct_tests.push(DirectTest::failed(
                "run database",
                0.0,
                format!(
                    "the run database stayed locked after teardown: {} lifecycle state \
                     writes could not be recorded",
                    self.pending_states.borrow().len()
                ),
            ));
        }
        let verdict = verifier.finish(
            &verified_units,
            &direct_tests,
            GroupTiming::wall(self.started_unix_s, ended_unix_s)
                .with_mono_ns(self.started_mono_ns, ended_mono_ns),
            end == EndReason::GroupTimeout,
        );
        let outcome = AttemptOutcome {
            group: self.group().name.clone(),
            attempt: self.ctx.attempt,
            run_id: self.dir.id.clone(),
            run_dir: self.dir.path.clone(),
            db_path: self.dir.db.clone(),
            units,
            setup,
            direct_tests,
            events,
            timings: AttemptTimings {
                started_unix_s: self.started_unix_s,
                started_mono_ns: self.started_mono_ns,
                all_ready: self.all_ready_at,
                units_phase,
                teardown,
                direct_tests: direct_time,
                total: self.since(),
            },
            end,
            ignored_sigterm: self
                .slots
                .iter()
                .filter(|s| s.killed_after_grace)
                .map(|s| s.unit.name.clone())
                .collect(),
            swept_processes: swept,
            verdict,
            interrupted: self.interrupted,
        };
        // Streamed into the database: the verdict of a flood holds every pair, and its text
        // (plus the copies SQLite would make of it) would be the runner's largest allocation.
        let stored = StoredOutcome::of(&outcome);
        for written in [
            self.db.write_meta_json(OUTCOME_META_KEY, &stored),
            self.db.write_meta_json(VERDICT_META_KEY, &outcome.verdict),
        ] {
            match written {
                // Still locked: the outcome is returned, only `testrium report` will miss it.
                Err(e) if is_busy(&e) => {}
                result => result.map_err(|e| self.store(e))?,
            }
        }
        observer(&RunEvent::AttemptFinished {
            attempt: self.ctx.attempt,
            passed: outcome.passed(),
            interrupted: outcome.interrupted,
            duration: outcome.timings.total,
        });
        Ok(outcome)
    }

    // ----- the supervisor loop -------------------------------------------------------------

    fn group_timeout(&self) -> Duration {
        self.ctx
            .options
            .timeout
            .unwrap_or(self.group().settings.timeout)
    }

    fn supervise(&mut self, observer: &mut dyn FnMut(&RunEvent)) -> Result<EndReason, RunError> {
        let deadline = self.t0 + self.group_timeout();
        let mut settling: Option<Instant> = None;
        // Woken by commits of other processes (inotify on the WAL): the loop can then sleep
        // longer than a tick when nothing happens. Without it, it polls every tick.
        let watch = DropAside(self.db.watch_changes());
        let watch = &watch.0;
        let mut busy_until = Instant::now() + BUSY_SPELL;
        loop {
            if self.ctx.cancel.is_cancelled() {
                self.interrupted = true;
                return Ok(EndReason::Interrupted);
            }
            self.flush_states()?;
            let exited = self.reap();
            if self.poll_events(!exited.is_empty(), observer)? || !exited.is_empty() {
                busy_until = Instant::now() + BUSY_SPELL;
            }
            for index in exited {
                self.handle_exit(index, observer)?;
            }
            if self.poll_setup(observer) {
                return Ok(EndReason::SetupFailed);
            }
            let now = Instant::now();
            self.check_deadlines(now, observer)?;
            self.stop_dependents();
            self.start_eligible(observer)?;
            if self.all_ready_at.is_none()
                && self.slots.iter().all(|s| s.been_ready)
                && !self.slots.is_empty()
            {
                self.all_ready_at = Some(self.since());
            }
            if self.ctx.options.stream_output {
                self.stream_output(observer);
            }
            match self.finished() {
                Some(end @ (EndReason::AllProbesRecorded | EndReason::UnitFailed)) => {
                    // Let in-flight work land (a Send recorded just after the last required
                    // probe, a unit about to exit by itself) before stopping anything.
                    let since = *settling.get_or_insert(now);
                    let quiet = self.last_activity.max(since);
                    if now.saturating_duration_since(quiet) >= self.ctx.options.settle
                        || now.saturating_duration_since(since) >= self.ctx.options.settle * 20
                    {
                        return Ok(end);
                    }
                }
                Some(end) => return Ok(end),
                None => settling = None,
            }
            if now >= deadline {
                return Ok(EndReason::GroupTimeout);
            }
            let tick = if watch.is_some() && now >= busy_until {
                IDLE_TICK
            } else {
                TICK
            };
            let mut wake = self.next_deadline(now + tick, deadline);
            if let Some(since) = settling {
                wake = wake.min(self.last_activity.max(since) + self.ctx.options.settle);
            }
            let processes = self
                .slots
                .iter()
                .filter_map(|s| s.process.as_ref())
                .chain(self.setup.iter().filter_map(|s| s.process.as_ref()));
            // An error here (never expected) only shortens the sleep.
            let _ = process::wait_any_or(
                processes,
                watch.as_ref().map(AsFd::as_fd),
                wake.saturating_duration_since(now),
            );
            if watch.as_ref().is_some_and(ChangeWatch::drain) {
                busy_until = Instant::now() + BUSY_SPELL;
            }
        }
    }

    /// The earliest of `wake`, the group deadline and every unit's pending deadline
    /// (readiness, unit timeout, SIGKILL after grace, the setup head start).
    fn next_deadline(&self, mut wake: Instant, deadline: Instant) -> Instant {
        wake = wake.min(deadline);
        for slot in &self.slots {
            if let Some(at) = slot.kill_at {
                wake = wake.min(at);
            }
            if let Some((at, _)) = slot.tree_check.filter(|_| slot.detached) {
                wake = wake.min(at);
            }
            let Some(started) = slot.started else {
                continue;
            };
            if slot.phase == Phase::Starting {
                wake = wake.min(started + slot.unit.ready_timeout);
            }
            if let Some(timeout) = slot.unit.timeout {
                if matches!(slot.phase, Phase::Starting | Phase::Running) {
                    wake = wake.min(started + timeout);
                }
            }
        }
        if let Some(setup) = self.setup.as_ref().filter(|s| s.head_start) {
            let end = setup.started + SETUP_HEAD_START;
            if Instant::now() < end {
                wake = wake.min(end);
            }
        }
        wake
    }

    /// Reaps exited unit processes; returns the indices of the units that are over: their
    /// main process exited and nothing of their tree is left (see [`Slot::detached`]).
    fn reap(&mut self) -> Vec<usize> {
        let now = Instant::now();
        let mut exited = Vec::new();
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            let Some(process) = slot.process.as_mut() else {
                continue;
            };
            if process.exited().is_none() {
                let exit = match process.try_wait() {
                    Ok(Some(exit)) => exit,
                    Ok(None) => continue,
                    Err(_) => Exit::Lost,
                };
                slot.exit = Some(exit);
                slot.exited = Some(now);
                // A launcher: its main process ended well by itself while its service lives
                // on and something is still awaited from the unit (its readiness probe,
                // required probes). The unit is over when the whole tree is, or when nothing
                // is awaited from it any more. (What a unit asked to stop leaves behind is
                // killed at teardown, as ever.)
                let launcher =
                    (exit.success() || exit == Exit::Lost) && slot.awaited() && slot.stop.is_none();
                if launcher && self.tree_alive(index) {
                    let slot = &mut self.slots[index];
                    slot.detached = true;
                    slot.tree_check = Some((now + TREE_CHECK_FIRST, TREE_CHECK_FIRST));
                    continue;
                }
                exited.push(index);
                continue;
            }
            let Some((at, pause)) = slot.tree_check.filter(|_| slot.detached) else {
                continue;
            };
            let done = slot.stop.is_none() && !slot.awaited();
            if now < at && !done {
                continue;
            }
            if !done && self.tree_alive(index) {
                let pause = (pause * 2).min(TREE_CHECK_MAX);
                self.slots[index].tree_check = Some((now + pause, pause));
            } else {
                let slot = &mut self.slots[index];
                slot.detached = false;
                slot.tree_check = None;
                slot.exited = Some(now);
                exited.push(index);
            }
        }
        exited
    }

    /// The tree of the unit at `index` (see [`process::UnitTree`]), once it was started.
    fn tree(&self, index: usize) -> Option<process::UnitTree<'_>> {
        let slot = &self.slots[index];
        slot.process.as_ref().map(|p| process::UnitTree {
            pgid: p.pid(),
            marker: &self.marker,
            unit: &slot.unit.name,
        })
    }

    /// Signals the unit's process group; for a launcher whose main process is gone, its whole
    /// tree (the service it left, `setsid` or not, is what is stopped). Processes that left
    /// the group of a unit still running are found by the sweep at the end.
    fn signal_unit(&self, index: usize, signal: Signal) {
        let Some(tree) = self.tree(index) else {
            return;
        };
        if self.slots[index].detached {
            tree.signal(signal);
        } else {
            process::signal_group(tree.pgid, signal);
        }
    }

    fn tree_alive(&self, index: usize) -> bool {
        self.tree(index).is_some_and(|tree| !tree.live().is_empty())
    }

    /// Reads events recorded since the last look when the database changed (or `force`).
    fn poll_events(
        &mut self,
        force: bool,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<bool, RunError> {
        let version = self.db.data_version().map_err(|e| self.store(e))?;
        if !force && self.data_version == Some(version) {
            return Ok(false);
        }
        self.data_version = Some(version);
        let log = self
            .db
            .read_events_after(self.last_event_id)
            .map_err(|e| self.store(e))?;
        let mut newest = self.last_event_id;
        for bad in &log.malformed {
            newest = newest.max(bad.id);
        }
        if !log.events.is_empty() || !log.malformed.is_empty() {
            self.last_activity = Instant::now();
        }
        for event in &log.events {
            newest = newest.max(event.id);
            self.apply_event(event, observer)?;
        }
        self.last_event_id = newest;
        Ok(true)
    }

    fn apply_event(
        &mut self,
        event: &Event,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        observer(&RunEvent::ProbeRecorded {
            event: event.clone(),
            at: self.since(),
        });
        if let Some(setup) = self.setup.as_mut().filter(|s| !s.recorded) {
            setup.recorded = event.unit == SETUP_NAME
                || setup
                    .process
                    .as_ref()
                    .is_some_and(|p| process::recorded_by_tree(event.pid, p.pid()));
        }
        let Some(index) = self.slots.iter().position(|s| s.unit.name == event.unit) else {
            return Ok(());
        };
        let slot = &mut self.slots[index];
        slot.missing.remove(&event.step);
        if slot.phase == Phase::Starting
            && slot.unit.ready_event.as_deref() == Some(event.step.as_str())
        {
            self.mark_ready(index, observer)?;
        }
        Ok(())
    }

    fn mark_ready(
        &mut self,
        index: usize,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        let slot = &mut self.slots[index];
        slot.ready = true;
        slot.been_ready = true;
        slot.phase = Phase::Running;
        self.set_state(index, UnitState::Ready, observer)?;
        self.set_state(index, UnitState::Running, observer)
    }

    /// Writes a lifecycle state to the run database. A unit holding the database's write lock
    /// must not stall the runner (states are evidence, not control flow): when the database
    /// is busy the write is queued, in order, and retried every turn.
    fn record_state(&self, unit: &str, state: UnitState) -> Result<(), RunError> {
        let mut pending = self.pending_states.borrow_mut();
        if pending.is_empty() {
            match self.db.set_unit_state(unit, state) {
                Ok(()) => return Ok(()),
                Err(e) if is_busy(&e) => {}
                Err(e) => return Err(self.store(e)),
            }
        }
        pending.push_back((unit.to_owned(), state));
        Ok(())
    }

    /// Retries queued state writes; returns whether some are still queued.
    fn flush_states(&self) -> Result<bool, RunError> {
        let mut pending = self.pending_states.borrow_mut();
        while let Some((unit, state)) = pending.front() {
            match self.db.set_unit_state(unit, *state) {
                Ok(()) => {
                    pending.pop_front();
                }
                Err(e) if is_busy(&e) => return Ok(true),
                Err(e) => return Err(self.store(e)),
            }
        }
        Ok(false)
    }

    fn set_state(
        &self,
        index: usize,
        state: UnitState,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        let slot = &self.slots[index];
        self.record_state(&slot.unit.name, state)?;
        observer(&RunEvent::UnitStateChanged {
            unit: slot.unit.name.clone(),
            state,
            pid: slot.process.as_ref().map(Process::pid),
            at: self.since(),
        });
        Ok(())
    }

    /// Decides what an exit means.
    fn handle_exit(
        &mut self,
        index: usize,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        let group_timeout = self.group_timeout();
        let slot = &mut self.slots[index];
        let Some(exit) = slot.exit else {
            return Ok(());
        };
        slot.kill_at = None;
        match slot.stop.take() {
            Some(StopReason::GroupEnd) => {
                slot.phase = Phase::Done;
                slot.status = Some(UnitStatus::Stopped);
                if slot.killed_after_grace {
                    slot.failure = Some(UnitFailure::KilledAfterGrace {
                        grace: self.ctx.options.grace,
                    });
                }
                self.set_state(index, UnitState::Stopped, observer)
            }
            Some(StopReason::GroupTimeout(waiting_for)) => {
                slot.phase = Phase::Done;
                slot.status = Some(UnitStatus::Failed);
                // Not "exceeded its timeout": the unit may have none of its own.
                slot.failure = Some(UnitFailure::GroupTimedOut {
                    after: group_timeout,
                    waiting_for,
                });
                self.set_state(index, UnitState::Failed, observer)
            }
            Some(StopReason::Failed(failure)) => {
                slot.phase = Phase::Done;
                slot.status = Some(UnitStatus::Failed);
                slot.failure = Some(failure);
                self.set_state(index, UnitState::Failed, observer)
            }
            Some(StopReason::Restart(failure)) => {
                slot.phase = Phase::Done;
                self.restart(index, failure, observer)
            }
            Some(StopReason::DependencyFailed(dependency)) => {
                slot.phase = Phase::Done;
                slot.status = Some(UnitStatus::Stopped);
                slot.failure = Some(UnitFailure::DependencyFailed { dependency });
                self.set_state(index, UnitState::Stopped, observer)
            }
            None => {
                let failure = match exit {
                    Exit::Code(0) | Exit::Lost => match slot.unit.ready_event.as_ref() {
                        Some(probe) if !slot.ready => Some(UnitFailure::ExitedBeforeReady {
                            probe: probe.clone(),
                        }),
                        _ => None,
                    },
                    Exit::Code(code) => Some(UnitFailure::NonZeroExit { code }),
                    Exit::Signal(signal) => Some(UnitFailure::Signaled { signal }),
                };
                match failure {
                    None => {
                        slot.phase = Phase::Done;
                        slot.status = Some(UnitStatus::Finished);
                        if exit == Exit::Lost {
                            slot.failure = Some(UnitFailure::ExitStatusLost);
                        }
                        self.set_state(index, UnitState::Finished, observer)
                    }
                    Some(failure) => {
                        slot.phase = Phase::Done;
                        self.fail(index, failure, observer)
                    }
                }
            }
        }
    }

    /// A unit failed: restart it (`Reload`, within budget) or record the failure. A unit still
    /// running is stopped first.
    fn fail(
        &mut self,
        index: usize,
        failure: UnitFailure,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        let restart = self.slots[index].unit.in_except == InExcept::Reload
            && self.slots[index].restarts < self.ctx.options.max_restarts;
        let running = self.slots[index].live() && self.slots[index].exit.is_none();
        if running {
            let reason = if restart {
                StopReason::Restart(failure)
            } else {
                StopReason::Failed(failure)
            };
            self.terminate(index, reason);
            return Ok(());
        }
        if restart {
            return self.restart(index, failure, observer);
        }
        let slot = &mut self.slots[index];
        slot.phase = Phase::Done;
        slot.status = Some(UnitStatus::Failed);
        slot.failure = Some(failure);
        self.set_state(index, UnitState::Failed, observer)
    }

    fn restart(
        &mut self,
        index: usize,
        failure: UnitFailure,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        self.set_state(index, UnitState::Failed, observer)?;
        let slot = &mut self.slots[index];
        slot.restarts += 1;
        slot.failure = Some(failure);
        slot.process = None;
        slot.exit = None;
        slot.detached = false;
        slot.tree_check = None;
        slot.ready = false;
        slot.killed_after_grace = false;
        slot.phase = Phase::Waiting;
        observer(&RunEvent::UnitRestarting {
            unit: slot.unit.name.clone(),
            restart: slot.restarts,
        });
        // Its dependencies were ready before: it starts again on this turn.
        self.start(index, observer)
    }

    /// SIGTERM to the unit's process group; SIGKILL after the grace period.
    fn terminate(&mut self, index: usize, reason: StopReason) {
        let grace = self.grace();
        let signal = if grace.is_zero() {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        self.signal_unit(index, signal);
        let slot = &mut self.slots[index];
        slot.stop = Some(reason);
        slot.phase = Phase::Terminating;
        slot.kill_at = (!grace.is_zero()).then(|| Instant::now() + grace);
    }

    fn grace(&self) -> Duration {
        if self.ctx.cancel.is_kill_now() {
            Duration::ZERO
        } else {
            self.ctx.options.grace
        }
    }

    fn check_deadlines(
        &mut self,
        now: Instant,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        let kill_now = self.ctx.cancel.is_kill_now();
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.phase == Phase::Terminating {
                let running = slot
                    .process
                    .as_ref()
                    .is_some_and(|p| p.exited().is_none() || slot.detached);
                if slot.kill_at.is_some_and(|at| now >= at) && running {
                    self.signal_unit(index, Signal::SIGKILL);
                    let slot = &mut self.slots[index];
                    // After a second Ctrl-C nobody was given the chance to ignore SIGTERM.
                    slot.killed_after_grace = !kill_now;
                    slot.kill_at = None;
                }
                continue;
            }
            let slot = &mut self.slots[index];
            let Some(started) = slot.started else {
                continue;
            };
            let age = now.saturating_duration_since(started);
            if slot.phase == Phase::Starting && age >= slot.unit.ready_timeout {
                let failure = UnitFailure::ReadinessTimeout {
                    probe: slot.unit.ready_event.clone().unwrap_or_default(),
                    waited: slot.unit.ready_timeout,
                };
                self.fail(index, failure, observer)?;
                continue;
            }
            if let Some(timeout) = slot.unit.timeout {
                if matches!(slot.phase, Phase::Starting | Phase::Running) && age >= timeout {
                    self.fail(index, UnitFailure::Timeout { after: timeout }, observer)?;
                }
            }
        }
        Ok(())
    }

    /// Stops the running units that depend on a unit that failed for good (`Resume`): their
    /// circuit is broken, waiting for it would only run into the timeout.
    fn stop_dependents(&mut self) {
        for index in 0..self.slots.len() {
            if !matches!(self.slots[index].phase, Phase::Starting | Phase::Running) {
                continue;
            }
            let blocker = self.slots[index]
                .deps
                .iter()
                .find(|&&d| self.slots[d].blocks_dependents())
                .map(|&d| self.slots[d].unit.name.clone());
            if let Some(dependency) = blocker {
                self.terminate(index, StopReason::DependencyFailed(dependency));
            }
        }
    }

    /// Starts every waiting unit whose dependencies are ready, in `init` order; marks those
    /// that can never start.
    fn start_eligible(&mut self, observer: &mut dyn FnMut(&RunEvent)) -> Result<(), RunError> {
        loop {
            let mut changed = false;
            for index in 0..self.slots.len() {
                if self.slots[index].phase != Phase::Waiting {
                    continue;
                }
                let blocked = self.slots[index]
                    .deps
                    .iter()
                    .find(|&&d| self.slots[d].blocks_dependents())
                    .map(|&d| self.slots[d].unit.name.clone());
                if let Some(dependency) = blocked {
                    let slot = &mut self.slots[index];
                    slot.phase = Phase::Done;
                    slot.status = Some(UnitStatus::Failed);
                    slot.failure = Some(UnitFailure::DependencyFailed { dependency });
                    self.set_state(index, UnitState::Failed, observer)?;
                    changed = true;
                    continue;
                }
                let deps_ready = self.slots[index]
                    .deps
                    .iter()
                    .all(|&d| self.slots[d].satisfies_dependents());
                if deps_ready && self.setup_allows(index) {
                    self.start(index, observer)?;
                    changed = true;
                }
            }
            if !changed {
                return Ok(());
            }
        }
    }

    /// `use_setup = true` units wait until the setup is up: it exited successfully, or a
    /// process of it recorded a probe (a setup that is a service: it starts a broker, records
    /// a probe and runs on).
    ///
    /// Other units start at once, except after a `setup.py`: as the original (which slept
    /// 0.2 s after starting it), they get [`SETUP_HEAD_START`] — cut short as soon as the setup
    /// recorded a probe or exited successfully.
    fn setup_allows(&self, index: usize) -> bool {
        let Some(setup) = self.setup.as_ref() else {
            return true;
        };
        if self.slots[index].unit.use_setup {
            return setup.recorded || setup.exit.is_some_and(Exit::success);
        }
        !setup.head_start
            || setup.exit.is_some_and(Exit::success)
            || self.last_event_id > 0
            || setup.started.elapsed() >= SETUP_HEAD_START
    }

    fn start(&mut self, index: usize, observer: &mut dyn FnMut(&RunEvent)) -> Result<(), RunError> {
        self.slots[index].phase = Phase::Starting;
        // Recorded before the spawn (its timestamp is the start); reported with the pid.
        self.record_state(&self.slots[index].unit.name, UnitState::Starting)?;
        let unit = self.slots[index].unit.clone();
        // A pre-warmed interpreter that died waiting is reaped here; the unit then starts the
        // usual way.
        let prewarmed = self.slots[index]
            .prewarmed
            .take()
            .and_then(|mut process| matches!(process.try_wait(), Ok(None)).then_some(process));
        let spawned = match prewarmed {
            // Released by the `starting` state just written.
            Some(process) => Ok(process),
            None => self.unit_command(&unit, false).and_then(spawn),
        };
        let now = Instant::now();
        let slot = &mut self.slots[index];
        slot.started = Some(now);
        slot.first_started.get_or_insert(now);
        observer(&RunEvent::UnitStateChanged {
            unit: unit.name.clone(),
            state: UnitState::Starting,
            pid: spawned.as_ref().ok().map(Process::pid),
            at: self.since(),
        });
        match spawned {
            Ok(process) => {
                self.slots[index].process = Some(process);
                if unit.ready_event.is_none() {
                    self.mark_ready(index, observer)?;
                }
                Ok(())
            }
            Err(message) => {
                self.slots[index].phase = Phase::Done;
                self.fail(index, UnitFailure::SpawnFailed { message }, observer)
            }
        }
    }

    fn unit_command(&mut self, unit: &Unit, gated: bool) -> Result<Command, String> {
        let group = self.group();
        let cwd = match unit.cwd.as_ref() {
            Some(cwd) => group.dir.join(cwd),
            None => group.dir.clone(),
        };
        let mut command = match &unit.launch {
            Launch::Command(argv) => {
                let Some(program) = argv.first() else {
                    return Err("empty command".to_owned());
                };
                let mut command = Command::new(resolve_program(program, &cwd));
                command.args(&argv[1..]);
                command
            }
            Launch::Entrypoint { module, function } if gated => self
                .python()?
                .entrypoint_command_gated(&group.dir, module, function),
            Launch::Entrypoint { module, function } => self
                .python()?
                .entrypoint_command(&group.dir, module, function),
            // Not planned: passive units are never started.
            _ => return Err("unit has nothing to start".to_owned()),
        };
        let log = self.slots_log(&unit.name);
        self.prepare(&mut command, Some(&unit.name), &cwd, &log)?;
        for (key, value) in &unit.env {
            command.env(key, value);
        }
        Ok(command)
    }

    fn slots_log(&self, unit: &str) -> PathBuf {
        self.dir.logs.join(format!("{unit}.log"))
    }

    /// The environment, working directory and output every process of the run gets.
    fn prepare(
        &self,
        command: &mut Command,
        unit: Option<&str>,
        cwd: &Path,
        log: &Path,
    ) -> Result<(), String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open log `{}`: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot open log `{}`: {e}", log.display()))?;
        command
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .env(ENV_EVENT_DB, &self.dir.db)
            .env(ENV_RUN_DIR, &self.dir.path)
            .env(ENV_GROUP, &self.group().name)
            .env(ENV_RUN_ID, &self.marker);
        // Any Python program of the run, and its children, imports the runner's package.
        if !command.get_envs().any(|(key, _)| key == "PYTHONPATH") {
            if let Some(dir) = python::runner_package_dir(&self.dir.path) {
                command.env("PYTHONPATH", python::python_path_with(&dir));
            }
        }
        if let Some(cgroup) = &self.cgroup {
            process::join_cgroup(command, cgroup.procs_fd());
        }
        match unit {
            Some(unit) => command.env(ENV_UNIT, unit),
            None => command.env_remove(ENV_UNIT),
        };
        for (key, value) in &self.ctx.options.env {
            command.env(key, value);
        }
        if !self.ctx.options.path_prepend.is_empty() {
            let mut paths: Vec<PathBuf> = self.ctx.options.path_prepend.clone();
            if let Some(existing) = std::env::var_os("PATH") {
                paths.extend(std::env::split_paths(&existing));
            }
            if let Ok(joined) = std::env::join_paths(paths) {
                command.env("PATH", joined);
            }
        }
        Ok(())
    }

    /// The Python runtime, prepared on first use.
    fn python(&mut self) -> Result<&PythonRuntime, String> {
        if self.python.is_none() {
            self.python = Some(PythonRuntime::prepare(&self.dir.path).map_err(|e| error_chain(&e)));
        }
        match self.python.as_ref() {
            Some(Ok(runtime)) => Ok(runtime),
            Some(Err(message)) => Err(message.clone()),
            None => Err("python runtime unavailable".to_owned()),
        }
    }

    /// Starts, ahead of time, the interpreters of the entrypoint units that cannot start at
    /// once (they wait for dependencies, or for the setup with `use_setup`); each waits for its
    /// `starting` state.
    fn prewarm(&mut self) {
        if self.needs_direct_tests() {
            // Any error: the tests process is simply started when the units phase ends.
            self.tests_prewarmed = self.direct_tests_process(true).ok();
        }
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            // Not for the setup head start alone: a unit released at 0.2 s would then run its
            // code at once, sooner than after a cold start as in the original.
            let waits = !slot.deps.is_empty() || (self.setup.is_some() && slot.unit.use_setup);
            if !waits || !matches!(slot.unit.launch, Launch::Entrypoint { .. }) {
                continue;
            }
            let unit = slot.unit.clone();
            // On any error the unit is simply started the usual way.
            if let Ok(process) = self.unit_command(&unit, true).and_then(spawn) {
                self.slots[index].prewarmed = Some(process);
            }
        }
    }

    /// Whether the units phase is over.
    fn finished(&self) -> Option<EndReason> {
        if self.slots.iter().all(|s| s.phase == Phase::Done) {
            return Some(EndReason::AllExited);
        }
        // A unit failed for good (no restart left, not `Resume-ALL`): the group's verdict is
        // known, waiting on would only blame healthy units at the timeout.
        if self.slots.iter().any(Slot::failed_for_good) {
            return Some(EndReason::UnitFailed);
        }
        // Every unit that can start has started (a unit with no probes of its own still gets
        // to run), and nothing that could still record a required probe is left.
        if self.required_total > 0
            && !self.slots.iter().any(|s| s.phase == Phase::Waiting)
            && !self
                .slots
                .iter()
                .any(|s| s.may_record() && !s.missing.is_empty())
            && !self.slots.iter().any(|s| s.phase == Phase::Terminating)
        {
            return Some(EndReason::AllProbesRecorded);
        }
        None
    }

    /// What a started unit was still waiting for (its readiness probe, its required probes).
    fn waiting_for_work(&self, index: usize) -> String {
        let slot = &self.slots[index];
        let mut text = match slot.unit.ready_event.as_ref().filter(|_| !slot.ready) {
            Some(probe) => format!("its readiness probe `{probe}`"),
            None => {
                let mut missing: Vec<&str> = slot.missing.iter().map(String::as_str).collect();
                missing.sort_unstable();
                let noun = if missing.len() == 1 {
                    "required probe"
                } else {
                    "required probes"
                };
                format!("{noun} {}", quoted_list(&missing))
            }
        };
        if slot.detached {
            text.push_str(" (its main process had exited; the rest of its tree ran on)");
        }
        text
    }

    /// What a unit that was not started was waiting for.
    fn waiting_for_start(&self, index: usize) -> String {
        let slot = &self.slots[index];
        let deps: Vec<&str> = slot
            .deps
            .iter()
            .filter(|&&d| !self.slots[d].satisfies_dependents())
            .map(|&d| self.slots[d].unit.name.as_str())
            .collect();
        if !deps.is_empty() {
            return format!("{} to be ready", quoted_list(&deps));
        }
        match self.setup.as_ref() {
            Some(_) if slot.unit.use_setup => {
                "the setup to record a probe or exit successfully (`use_setup = true`)".to_owned()
            }
            Some(_) => "the setup's head start".to_owned(),
            None => "its dependencies".to_owned(),
        }
    }

    // ----- setup -------------------------------------------------------------------------

    fn start_setup(&mut self, observer: &mut dyn FnMut(&RunEvent)) {
        let Some(setup) = self.group().setup.clone() else {
            return;
        };
        let log = self.dir.logs.join(format!("_{SETUP_NAME}.log"));
        let group_dir = self.group().dir.clone();
        let command = match &setup {
            Setup::PythonMain(path) => self
                .python()
                .map(|python| python.setup_command(&group_dir, path)),
            Setup::Command(argv) => match argv.first() {
                Some(program) => {
                    let mut command = Command::new(resolve_program(program, &group_dir));
                    command.args(&argv[1..]);
                    Ok(command)
                }
                None => Err("empty setup command".to_owned()),
            },
            _ => Err("unknown kind of setup".to_owned()),
        };
        let spawned = command.and_then(|mut command| {
            self.prepare(&mut command, Some(SETUP_NAME), &group_dir, &log)?;
            spawn(command)
        });
        let mut slot = SetupSlot {
            head_start: matches!(setup, Setup::PythonMain(_)),
            process: None,
            log,
            started: Instant::now(),
            exit: None,
            failure: None,
            tail: None,
            stopped: false,
            killed_after_grace: false,
            recorded: false,
        };
        match spawned {
            Ok(process) => {
                observer(&RunEvent::SetupStarted { pid: process.pid() });
                slot.process = Some(process);
            }
            Err(message) => slot.failure = Some(UnitFailure::SpawnFailed { message }),
        }
        self.setup = Some(slot);
    }

    /// Reaps the setup; true when it failed (the group ends).
    fn poll_setup(&mut self, observer: &mut dyn FnMut(&RunEvent)) -> bool {
        let Some(setup) = self.setup.as_mut() else {
            return false;
        };
        if setup.failure.is_some() {
            return true;
        }
        let Some(process) = setup.process.as_mut() else {
            return false;
        };
        if process.exited().is_some() {
            return false;
        }
        let exit = match process.try_wait() {
            Ok(Some(exit)) => exit,
            Ok(None) => return false,
            Err(_) => Exit::Code(-1),
        };
        setup.exit = Some(exit);
        let (code, success) = match exit {
            Exit::Code(code) => (Some(code), code == 0),
            Exit::Signal(_) => (None, false),
            // Unknown: the units that wait for it are not held back for that.
            Exit::Lost => (None, true),
        };
        observer(&RunEvent::SetupExited { code, success });
        if !success {
            setup.failure = Some(match exit {
                Exit::Code(code) => UnitFailure::NonZeroExit { code },
                Exit::Signal(signal) => UnitFailure::Signaled { signal },
                Exit::Lost => UnitFailure::ExitStatusLost,
            });
            return true;
        }
        false
    }

    fn teardown_setup(&mut self) {
        let grace = self.grace();
        let Some(setup) = self.setup.as_mut() else {
            return;
        };
        let Some(process) = setup.process.as_mut() else {
            return;
        };
        if process.exited().is_some() {
            return;
        }
        setup.stopped = true;
        let killed = stop_processes(&mut [process], grace);
        setup.killed_after_grace = killed.first().copied().unwrap_or(false);
        setup.exit = process.exited();
    }

    fn setup_outcome(&self) -> Option<UnitOutcome> {
        let setup = self.setup.as_ref()?;
        let mut outcome = match (&setup.failure, setup.stopped) {
            (Some(failure), _) => UnitOutcome::failed(SETUP_NAME, failure.clone())
                .with_log_tail(read_tail(&setup.log, LOG_TAIL_LINES)),
            (None, true) => UnitOutcome::stopped(SETUP_NAME),
            (None, false) => UnitOutcome::new(SETUP_NAME, UnitStatus::Finished),
        };
        match setup.exit {
            Some(Exit::Code(code)) => outcome = outcome.with_exit_code(code),
            Some(Exit::Signal(signal)) => outcome = outcome.with_signal(signal),
            Some(Exit::Lost) if outcome.failure.is_none() => {
                outcome = outcome.with_failure(UnitFailure::ExitStatusLost);
            }
            Some(Exit::Lost) | None => {}
        }
        if setup.killed_after_grace && outcome.failure.is_none() {
            outcome = outcome.with_failure(UnitFailure::KilledAfterGrace {
                grace: self.ctx.options.grace,
            });
        }
        Some(outcome.with_duration_s(setup.started.elapsed().as_secs_f64()))
    }

    // ----- teardown ----------------------------------------------------------------------

    /// Stops every unit still running and records the final states.
    fn teardown_units(
        &mut self,
        end: EndReason,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(), RunError> {
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            match slot.phase {
                Phase::Starting | Phase::Running => {
                    let unfinished = !slot.ready || !slot.missing.is_empty();
                    let reason = if end == EndReason::GroupTimeout && unfinished {
                        StopReason::GroupTimeout(self.waiting_for_work(index))
                    } else {
                        StopReason::GroupEnd
                    };
                    self.terminate(index, reason);
                }
                Phase::Terminating => {
                    // A restart that will not happen any more.
                    if let Some(StopReason::Restart(failure)) = self.slots[index].stop.clone() {
                        self.slots[index].stop = Some(StopReason::Failed(failure));
                    }
                }
                Phase::Waiting => {
                    // A unit that never started always says why it was waiting.
                    let setup_failed = end == EndReason::SetupFailed && slot.unit.use_setup;
                    let waiting_for = self.waiting_for_start(index);
                    let slot = &mut self.slots[index];
                    slot.phase = Phase::Done;
                    if setup_failed {
                        slot.status = Some(UnitStatus::Failed);
                        slot.failure = Some(UnitFailure::DependencyFailed {
                            dependency: SETUP_NAME.to_owned(),
                        });
                        self.set_state(index, UnitState::Failed, observer)?;
                    } else {
                        slot.status = Some(UnitStatus::NotStarted);
                        slot.failure = Some(UnitFailure::NotStarted { waiting_for });
                        self.set_state(index, UnitState::Stopped, observer)?;
                    }
                }
                Phase::Done => {}
            }
        }
        // Interpreters started ahead for units that never started.
        let mut unreleased: Vec<&mut Process> = self
            .slots
            .iter_mut()
            .filter_map(|s| s.prewarmed.as_mut())
            .collect();
        stop_processes(&mut unreleased, Duration::ZERO);
        // Members of a unit's group whose leader already exited (a grandchild holding the
        // log open, say) go too.
        for slot in &self.slots {
            if let Some(process) = slot.process.as_ref() {
                if process.exited().is_some() {
                    process.signal_group(Signal::SIGKILL);
                }
            }
        }
        // Wait for every unit to exit, SIGKILL after its grace period.
        loop {
            let now = Instant::now();
            self.flush_states()?;
            let exited = self.reap();
            for index in exited {
                self.handle_exit(index, observer)?;
            }
            if self.ctx.cancel.is_kill_now() {
                for slot in &mut self.slots {
                    if slot.phase == Phase::Terminating {
                        slot.kill_at = Some(now);
                    }
                }
            }
            self.check_deadlines(now, observer)?;
            if !self.slots.iter().any(Slot::live) {
                break;
            }
            let mut wake = now + TICK * 50;
            for slot in &self.slots {
                if let Some(at) = slot.kill_at {
                    wake = wake.min(at);
                }
            }
            let processes = self.slots.iter().filter_map(|s| s.process.as_ref());
            let _ = process::wait_any(processes, wake.saturating_duration_since(now));
        }
        // Leftover members of every unit's process group, waited for until they are gone.
        let pgids: Vec<u32> = self
            .slots
            .iter()
            .filter_map(|s| s.process.as_ref().map(Process::pid))
            .collect();
        process::kill_groups(&pgids, Instant::now() + SWEEP_DEADLINE);
        if self.all_ready_at.is_none()
            && !self.slots.is_empty()
            && self.slots.iter().all(|s| s.been_ready)
        {
            self.all_ready_at = Some(self.since());
        }
        Ok(())
    }

    /// Kills every process still carrying the attempt's marker (daemons, `setsid` children);
    /// returns how many there were.
    fn sweep(&mut self) -> usize {
        process::kill_marked(&self.marker, Instant::now() + SWEEP_DEADLINE).len()
    }

    /// Kills what is left in the attempt's cgroup (descendants that left their unit's process
    /// group and cleared their environment); returns how many there were.
    fn kill_cgroup(&mut self) -> usize {
        self.cgroup
            .as_ref()
            .map_or(0, |cgroup| cgroup.kill_all(Instant::now() + SWEEP_DEADLINE))
    }

    /// Last resort on every path out of [`run`]: SIGKILL to everything started.
    fn kill_everything(&mut self) {
        if self.killed {
            return;
        }
        self.killed = true;
        let mut processes: Vec<&mut Process> = self
            .slots
            .iter_mut()
            .flat_map(|s| s.process.as_mut().into_iter().chain(s.prewarmed.as_mut()))
            .chain(self.tests_prewarmed.as_mut())
            .chain(self.setup.iter_mut().filter_map(|s| s.process.as_mut()))
            .collect();
        stop_processes(&mut processes, Duration::ZERO);
        let pgids: Vec<u32> = processes.iter().map(|p| p.pid()).collect();
        process::kill_groups(&pgids, Instant::now() + SWEEP_DEADLINE);
        process::kill_marked(&self.marker, Instant::now() + SWEEP_DEADLINE);
        self.kill_cgroup();
    }

    // ----- direct tests ------------------------------------------------------------------

    fn direct_tests(
        &mut self,
        units_phase: Duration,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<Option<Vec<DirectTest>>, RunError> {
        if self.interrupted || !self.needs_direct_tests() {
            return Ok(None);
        }
        observer(&RunEvent::DirectTestsStarted);
        let (input_path, output_path) = self.direct_tests_paths();
        let mut input = python::DirectTestsInput::from_group(self.group(), &self.dir.db);
        if !self.slots.is_empty() {
            let passed = self.slots.iter().all(|s| {
                matches!(
                    s.status,
                    Some(UnitStatus::Finished | UnitStatus::Stopped | UnitStatus::NotStarted)
                )
            });
            let details = self
                .slots
                .iter()
                .filter(|s| s.first_started.is_some())
                .map(|s| {
                    let status = s.status.unwrap_or(UnitStatus::Failed);
                    python::UnitDetail {
                        name: s.unit.name.clone(),
                        passed: matches!(status, UnitStatus::Finished | UnitStatus::Stopped),
                        status: status.as_str().to_owned(),
                        exitcode: s.exit.and_then(|exit| match exit {
                            Exit::Code(code) => Some(code),
                            Exit::Signal(signal) => Some(-signal),
                            Exit::Lost => None,
                        }),
                    }
                })
                .collect();
            input = input.prior_result(
                python::PriorResult::new("unit_processes", passed, units_phase)
                    .with_details(details),
            );
        }
        if let Err(e) = input.write(&input_path) {
            return Ok(Some(vec![DirectTest::failed(
                "direct tests",
                0.0,
                error_chain(&e),
            )]));
        }
        let log = self.dir.logs.join(DIRECT_TESTS_LOG);
        let started = Instant::now();
        // Started ahead and released by the input file just written; else started now.
        let prewarmed = self
            .tests_prewarmed
            .take()
            .and_then(|mut process| matches!(process.try_wait(), Ok(None)).then_some(process));
        let spawned = match prewarmed {
            Some(process) => Ok(process),
            None => self.direct_tests_process(false),
        };
        let mut process = match spawned {
            Ok(process) => process,
            Err(message) => {
                return Ok(Some(vec![DirectTest::failed(
                    "direct tests",
                    0.0,
                    format!("could not be started: {message}"),
                )]));
            }
        };
        let deadline = started + self.group_timeout();
        let mut timed_out = false;
        loop {
            match process.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => {}
            }
            if self.ctx.cancel.is_cancelled() {
                self.interrupted = true;
                break;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            if self.ctx.options.stream_output {
                self.stream_output(observer);
            }
            let _ = process::wait_any([&process], TICK * 10);
        }
        let grace = self.grace();
        stop_processes(&mut [&mut process], grace);
        let seconds = started.elapsed().as_secs_f64();
        if timed_out {
            return Ok(Some(vec![DirectTest::failed(
                "direct tests",
                seconds,
                format!(
                    "did not finish within {:.1} s",
                    self.group_timeout().as_secs_f64()
                ),
            )]));
        }
        match python::parse_direct_results(&output_path) {
            Ok(tests) => Ok(Some(
                tests
                    .into_iter()
                    .map(|t| {
                        let seconds = t.duration.as_secs_f64();
                        match (t.passed, t.message) {
                            (true, _) => DirectTest::passed(t.name, seconds),
                            (false, message) => DirectTest::failed(
                                t.name,
                                seconds,
                                message.unwrap_or_else(|| "failed".to_owned()),
                            ),
                        }
                    })
                    .collect(),
            )),
            Err(e) => {
                let mut message = error_chain(&e);
                let tail = read_tail(&log, LOG_TAIL_LINES);
                if !tail.is_empty() {
                    message.push('\n');
                    message.push_str(&tail.join("\n"));
                }
                Ok(Some(vec![DirectTest::failed(
                    "direct tests",
                    seconds,
                    message,
                )]))
            }
        }
    }

    fn needs_direct_tests(&self) -> bool {
        let dir = &self.group().dir;
        dir.is_dir() && python::needs_direct_tests(dir)
    }

    fn direct_tests_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path.join("direct-tests-input.json"),
            self.dir.path.join("direct-tests-results.json"),
        )
    }

    /// Starts the direct-tests process; `gated`: ahead of time, waiting for its input file.
    fn direct_tests_process(&mut self, gated: bool) -> Result<Process, String> {
        let group_dir = self.group().dir.clone();
        let (input_path, output_path) = self.direct_tests_paths();
        let log = self.dir.logs.join(DIRECT_TESTS_LOG);
        let mut command = self.python().map(|python| {
            if gated {
                python.direct_tests_command_gated(&group_dir, &input_path, &output_path)
            } else {
                python.direct_tests_command(&group_dir, &input_path, &output_path)
            }
        })?;
        // The original ran direct tests inside the runner, whose working directory was the
        // base folder (`testrium run` started there): paths in tests are relative to it.
        let cwd = std::path::absolute(self.ctx.base).unwrap_or_else(|_| self.ctx.base.to_owned());
        self.prepare(&mut command, None, &cwd, &log)?;
        spawn(command)
    }

    // ----- output ------------------------------------------------------------------------

    fn stream_output(&mut self, observer: &mut dyn FnMut(&RunEvent)) {
        for slot in &mut self.slots {
            if slot.process.is_none() {
                continue;
            }
            let tail = slot.tail.get_or_insert_with(|| LogTail::new(&slot.log));
            for line in tail.read_lines() {
                self.output_lines += 1;
                observer(&RunEvent::UnitOutput {
                    unit: slot.unit.name.clone(),
                    line,
                });
            }
        }
        if let Some(setup) = self.setup.as_mut() {
            let tail = setup.tail.get_or_insert_with(|| LogTail::new(&setup.log));
            for line in tail.read_lines() {
                observer(&RunEvent::UnitOutput {
                    unit: SETUP_NAME.to_owned(),
                    line,
                });
            }
        }
    }

    /// Passes on what the units wrote after the last turn, including a last line without a
    /// newline (bounded: a flood is cut at 64 reads per unit).
    fn flush_output(&mut self, observer: &mut dyn FnMut(&RunEvent)) {
        for _ in 0..64 {
            let before = self.output_lines;
            self.stream_output(observer);
            if self.output_lines == before {
                break;
            }
        }
        for slot in &mut self.slots {
            let Some(tail) = slot.tail.as_mut() else {
                continue;
            };
            if let Some(line) = tail.rest() {
                observer(&RunEvent::UnitOutput {
                    unit: slot.unit.name.clone(),
                    line,
                });
            }
            let unread = tail.unread();
            if unread > 0 {
                observer(&RunEvent::UnitOutput {
                    unit: slot.unit.name.clone(),
                    line: format!(
                        "[{unread} bytes not shown, see logs/{}.log]",
                        slot.unit.name
                    ),
                });
            }
        }
    }

    // ----- outcomes ----------------------------------------------------------------------

    fn unit_outcomes(&self) -> Vec<UnitOutcome> {
        self.group()
            .units
            .values()
            .map(|unit| {
                let Some(slot) = self.slots.iter().find(|s| s.unit.name == unit.name) else {
                    return UnitOutcome::new(unit.name.clone(), UnitStatus::NotStarted);
                };
                let status = slot.status.unwrap_or(UnitStatus::Stopped);
                let mut outcome =
                    UnitOutcome::new(unit.name.clone(), status).with_restarts(slot.restarts);
                if let Some(failure) = slot.failure.clone() {
                    outcome = outcome.with_failure(failure);
                } else if slot.killed_after_grace {
                    outcome = outcome.with_failure(UnitFailure::KilledAfterGrace {
                        grace: self.ctx.options.grace,
                    });
                }
                match slot.exit {
                    Some(Exit::Code(code)) => outcome = outcome.with_exit_code(code),
                    Some(Exit::Signal(signal)) => outcome = outcome.with_signal(signal),
                    Some(Exit::Lost) | None => {}
                }
                if let (Some(start), Some(end)) = (slot.first_started, slot.exited) {
                    outcome =
                        outcome.with_duration_s(end.saturating_duration_since(start).as_secs_f64());
                }
                if status == UnitStatus::Failed || slot.killed_after_grace {
                    outcome = outcome.with_log_tail(read_tail(&slot.log, LOG_TAIL_LINES));
                }
                outcome
            })
            .collect()
    }
}

/// `argv[0]` of a `command`: looked up on `PATH` when it is a bare name, else relative to
/// `cwd` (`./server.sh` becomes `<cwd>/server.sh`, so errors name the file plainly).
fn resolve_program(program: &str, cwd: &Path) -> OsString {
    if program.contains('/') && Path::new(program).is_relative() {
        cwd.join(program)
            .components()
            .collect::<PathBuf>()
            .into_os_string()
    } else {
        OsString::from(program)
    }
}

/// `a`, `b` and `c`, each in backticks.
fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Drops its value on a short-lived thread of its own: closing an inotify instance (the
/// change watch) waits for a kernel RCU grace period, 10–20 ms, which the run need not wait
/// for.
struct DropAside<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> Drop for DropAside<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            let spawned = std::thread::Builder::new()
                .name("testrium-close".to_owned())
                .spawn(move || drop(value));
            // Without a thread, close it here.
            drop(spawned);
        }
    }
}

/// Whether a store error is SQLite's "database is locked/busy" (a unit holds the write lock).
fn is_busy(error: &StoreError) -> bool {
    error.is_busy()
}

/// An error and its sources, joined with ": ".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
