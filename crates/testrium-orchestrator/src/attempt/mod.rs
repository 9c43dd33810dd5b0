//! One attempt: run directory, setup, units, teardown, direct tests, verification.
//!
//! Two parts with one owner each:
//! - [`scheduler`] decides — which unit starts, when one is ready, failed, restarted or
//!   stopped, when the units phase is over — from what happened and a clock it is given: a
//!   state machine with no I/O, tested as tables of inputs and actions.
//! - The [`Supervisor`] here is its driver: it owns the processes, the run database and the
//!   observer, feeds the scheduler what happened (exits, probes, spawn results, time) and
//!   carries out the actions it asks for. Around it: [`command`] builds the processes,
//!   [`setup`] runs the setup, [`teardown`] stops what is left, [`direct_tests`] runs the
//!   Python test functions, [`finish`] verifies and stores the outcome, [`output`] passes unit
//!   output on.
//!
//! The driver is one loop on the caller's thread. Each turn it reaps exited units (`waitpid`
//! on their own pids), reads the events recorded since the last turn when the database changed
//! (`PRAGMA data_version`), lets the scheduler step and carries out its actions. Between turns
//! it sleeps in `ppoll` on the units' pidfds and, once the attempt has lasted [`WATCH_AFTER`],
//! on the database's change watch (inotify on the WAL), so an exit or a commit wakes it at
//! once: for [`TICK`] while things happen (always, before the watch), up to [`IDLE_TICK`] when
//! nothing did for a while (never past a deadline of the scheduler). Unit
//! output goes straight to log files, never through a pipe the runner must drain, so a flood
//! or a grandchild holding the output open cannot block anything.

mod command;
mod direct_tests;
mod finish;
mod fork;
mod intake;
mod otlp;
mod output;
mod ports;
mod ready;
mod reap;
mod scheduler;
mod setup;
mod states;
mod teardown;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testrium_config::Group;
use testrium_events::{ChangeWatch, RunDb, StoreError, UnitState, UnitStateRecord, monotonic_ns};
use testrium_verify::Expectations;

use self::scheduler::{Action, Limits, Scheduler};
use self::setup::SetupProc;
use crate::cancel::CancelToken;
use crate::error::{RunError, RunErrorKind};
use crate::event::RunEvent;
use crate::logs::LogTail;
use crate::outcome::{AttemptOutcome, EndReason};
use crate::plan::Plan;
use crate::process::{self, Process, Signal};
use crate::python::PythonRuntime;
use crate::rundir::{self, RunDir};

/// The longest the supervisor sleeps between two looks at the database and the cancel token
/// while things happen (or always, where the database cannot be watched).
const TICK: Duration = Duration::from_millis(1);
/// The longest it sleeps when nothing happened for [`BUSY_SPELL`] and commits wake it anyway
/// (the cancel token is seen within this time).
const IDLE_TICK: Duration = Duration::from_millis(10);
/// How long after an event, an exit or a wake-up the supervisor keeps its short tick.
const BUSY_SPELL: Duration = Duration::from_millis(20);
/// How long an attempt runs before the supervisor watches the run database (inotify) instead
/// of looking every [`TICK`]. Closing a watch makes the kernel wait for an RCU grace period
/// (10–20 ms, whenever any process on the machine removed a watch shortly before), and the
/// runner's exit waits for that close: for a run shorter than this, polling costs less
/// (at most 250 looks) than the grace period its end would wait for.
const WATCH_AFTER: Duration = Duration::from_millis(250);
/// Lines of a failed unit's log kept in its outcome.
const LOG_TAIL_LINES: usize = 20;
/// Meta key of the serialized [`AttemptOutcome`] (without its events and verdict, with
/// `"passed"`) in the run database.
pub const OUTCOME_META_KEY: &str = "testrium.outcome";
/// Meta key of the serialized verdict in the run database.
pub const VERDICT_META_KEY: &str = "testrium.verdict";
/// How long a write of the runner waits for the database's write lock before it is queued.
const RUNNER_BUSY_TIMEOUT: Duration = Duration::from_millis(20);
/// Past this size the runner restarts the run database's write-ahead log (see
/// [`RunDb::restart_wal_above`]): writers committing without a pause never let it restart on
/// its own, and it would grow by some 3.5 KiB per probe (712 MB in a 200,000-probe flood).
const WAL_RESTART_BYTES: u64 = 8 << 20;
/// How long a restart of the write-ahead log waits for the writer holding the lock and for
/// readers of older snapshots (a writer descheduled on a busy machine holds them for tens of
/// milliseconds).
const WAL_RESTART_WAIT: Duration = Duration::from_millis(100);
/// Rows read per batch while the run is live (see [`Supervisor::poll_events`]).
const READ_BATCH: u64 = 500;
/// How long the final sweep waits for killed processes to disappear.
const SWEEP_DEADLINE: Duration = Duration::from_secs(5);
/// How soon the tree of a launcher whose main process exited is first looked at again, and
/// the longest pause between two looks (the pause doubles in between).
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
    /// Where the OTLP receiver listens (`None`: a free loopback port).
    pub(crate) listen: Option<std::net::SocketAddr>,
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
    /// A retry of the failed attempt before it.
    pub(crate) retry: bool,
    /// The sweep of leftovers of dead runners, finished before the first process starts.
    pub(crate) startup: &'a StartupSweep,
}

/// The sweep a run starts with (see [`StartupSweep::start`]), on a thread of its own, and the
/// check of the runner's Python package.
#[derive(Debug)]
pub(crate) struct StartupSweep(std::sync::Mutex<Option<std::thread::JoinHandle<()>>>);

impl StartupSweep {
    /// Kills, on a thread of its own, the leftovers of runners that died (SIGKILL) before they
    /// could tear down: processes carrying their markers, and their attempts' cgroups. Never a
    /// process of a live runner, so it may overlap with this run's start.
    pub(crate) fn start() -> StartupSweep {
        let sweep = || {
            process::sweep(None, Signal::SIGKILL);
            process::sweep_stale_cgroups(Instant::now() + SWEEP_DEADLINE);
            // Not a sweep, but on the way too: the runner's Python package, which every
            // process of the run gets on its `PYTHONPATH`, checked or written once.
            let _ = crate::python::shared_runner_package_dir();
        };
        let handle = std::thread::Builder::new()
            .name("testrium-sweep".to_owned())
            .spawn(sweep);
        match handle {
            Ok(handle) => StartupSweep(std::sync::Mutex::new(Some(handle))),
            Err(_) => {
                // No thread: here and now.
                sweep();
                StartupSweep(std::sync::Mutex::new(None))
            }
        }
    }

    /// Waits until the sweep is done (at once after the first time).
    pub(crate) fn wait(&self) {
        let handle = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
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
    // From an empty database kept in the user's cache where there is one (a copy instead of
    // creating the schema: about 0.4 ms of every attempt here).
    let created = match crate::cache::dir() {
        Some(cache) => RunDb::create_in_cache(&dir.db, &cache),
        None => RunDb::create(&dir.db),
    };
    let mut db = created.map_err(|source| store_error(group, &dir.db, source))?;
    // The runner never waits long for a unit holding the write lock: its state writes are
    // queued and retried (see `Supervisor::flush_states`).
    db.set_busy_timeout(RUNNER_BUSY_TIMEOUT)
        .map_err(|source| store_error(group, &dir.db, source))?;
    observer(&RunEvent::AttemptStarted {
        group: group.name.clone(),
        attempt: ctx.attempt,
        attempts: ctx.attempts,
        run_dir: dir.path.clone(),
    });
    let receiver = otlp::start(ctx, &dir)?;
    observer(&RunEvent::ReceiverListening {
        endpoint: receiver.endpoint(),
        token: receiver.token().to_owned(),
    });
    // What the group expects, for the verifier fed while the run is live.
    let expectations = Expectations::from_group(group);
    let mut sup = Supervisor::new(ctx, dir, db, &expectations);
    sup.otlp = Some(receiver);
    // First: the interpreter's start-up is the longest step before the first Python unit.
    sup.start_fork_server_if_needed();
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

/// A unit's processes, as the driver holds them.
#[derive(Debug)]
struct UnitProcs {
    log: PathBuf,
    process: Option<Process>,
    /// A Python interpreter started ahead, waiting for its release (`starting` in the run
    /// database) to import the unit's module: saves an interpreter start per dependency level.
    prewarmed: Option<Process>,
    tail: Option<LogTail>,
    /// When to look at a launcher's tree again, and the pause after that.
    tree_check: Option<(Instant, Duration)>,
    /// Its readiness check (`ready_tcp`, …) while it is tried.
    ready: Option<ready::ReadyState>,
}

struct Supervisor<'a> {
    ctx: &'a Context<'a>,
    dir: RunDir,
    db: RunDb,
    marker: String,
    sched: Scheduler,
    procs: Vec<UnitProcs>,
    /// The ports of the group's units (`ports = [...]`), held until the attempt ends.
    ports: ports::Ports,
    /// When each fault of the group was carried out (monotonic ns), once it was.
    faults_fired: Vec<Option<i64>>,
    setup: Option<SetupProc>,
    python: Option<Result<PythonRuntime, String>>,
    t0: Instant,
    started_unix_s: f64,
    started_mono_ns: i64,
    /// Every row read so far, in the verifier and the sample of events: each row is read
    /// once, while the run is live, and only the tail after teardown.
    intake: intake::Intake<'a>,
    data_version: Option<i64>,
    interrupted: bool,
    killed: bool,
    /// Output lines passed on so far.
    output_lines: u64,
    /// This attempt, counted among those in flight in the process.
    in_flight: Option<process::AttemptGuard>,
    /// State changes not written yet (see `states.rs`).
    pending_states: RefCell<VecDeque<UnitStateRecord>>,
    /// Every state a unit entered, with its time since the start (for the outcome).
    transitions: RefCell<Vec<crate::outcome::UnitTransition>>,
    /// Kills the attempt's marked processes if this runner dies without tearing down.
    watchdog: Option<process::Watchdog>,
    /// The direct-tests interpreter started ahead, waiting for its input file.
    tests_prewarmed: Option<Process>,
    /// The attempt's cgroup, where the runner may create one: every process started for the
    /// attempt joins it, and teardown kills what is left in it.
    cgroup: Option<process::AttemptCgroup>,
    /// The Python fork server, once started.
    fork: ForkState,
    /// Why the fork server broke, for the report's warnings.
    fork_warning: Option<String>,
    /// The attempt's OTLP receiver, until it is stopped after teardown.
    otlp: Option<testrium_otlp::Receiver>,
    /// The receiver's last answered request the scheduler was told about.
    otlp_seen: Option<Instant>,
}

/// The Python fork server of the attempt.
#[derive(Debug)]
enum ForkState {
    /// Not started (nothing forks, or not yet).
    Off,
    /// Running: `entrypoint` units and the direct tests are its forks.
    Running(fork::ForkServer),
    /// Broken (or not startable): fresh interpreters for the rest of the attempt.
    Broken,
    /// Stopped: the attempt starts no more Python processes.
    Done,
}

impl Drop for Supervisor<'_> {
    /// A panic (in the observer, say) unwinds through here: nothing may stay alive.
    fn drop(&mut self) {
        self.kill_everything();
    }
}

impl<'a> Supervisor<'a> {
    fn new(ctx: &'a Context<'a>, dir: RunDir, db: RunDb, expectations: &'a Expectations) -> Self {
        let marker = format!("{}.{}", ctx.identity, dir.id);
        let now = Instant::now();
        let limits = Limits {
            group_timeout: ctx.options.timeout.unwrap_or(ctx.group.settings.timeout),
            grace: ctx.options.grace,
            settle: ctx.options.settle,
            span_settle: otlp::SPAN_SETTLE,
            max_restarts: ctx.options.max_restarts,
        };
        let sched = Scheduler::new(
            ctx.plan
                .units
                .iter()
                .map(|p| (p.unit.clone(), p.deps.clone()))
                .collect(),
            limits,
            now,
        )
        .with_faults(ctx.group.faults.clone())
        .with_circuits(&ctx.group.circuits);
        let procs = ctx
            .plan
            .units
            .iter()
            .map(|p| UnitProcs {
                log: dir.logs.join(format!("{}.log", p.unit.name)),
                process: None,
                prewarmed: None,
                tail: None,
                tree_check: None,
                ready: None,
            })
            .collect();
        Supervisor {
            ctx,
            dir,
            db,
            marker,
            sched,
            procs,
            ports: ports::Ports::default(),
            faults_fired: vec![None; ctx.group.faults.len()],
            setup: None,
            python: None,
            t0: now,
            started_unix_s: unix_now(),
            started_mono_ns: monotonic_ns(),
            intake: intake::Intake::new(expectations),
            data_version: None,
            interrupted: false,
            killed: false,
            output_lines: 0,
            in_flight: Some(process::enter_attempt(ctx.options.kill_orphans)),
            pending_states: RefCell::new(VecDeque::new()),
            transitions: RefCell::new(Vec::new()),
            watchdog: None,
            tests_prewarmed: None,
            cgroup: if ctx.options.cgroup {
                process::AttemptCgroup::create(ctx.identity)
            } else {
                None
            },
            fork: ForkState::Off,
            fork_warning: None,
            otlp: None,
            otlp_seen: None,
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

    fn group_timeout(&self) -> Duration {
        self.ctx
            .options
            .timeout
            .unwrap_or(self.group().settings.timeout)
    }

    fn grace(&self) -> Duration {
        if self.ctx.cancel.is_kill_now() {
            Duration::ZERO
        } else {
            self.ctx.options.grace
        }
    }

    fn name(&self, index: usize) -> &str {
        &self.sched.units[index].unit.name
    }

    // ----- the loop ----------------------------------------------------------------------

    fn supervise(&mut self, observer: &mut dyn FnMut(&RunEvent)) -> Result<EndReason, RunError> {
        // Woken by commits of other processes (inotify on the WAL): the loop can then sleep
        // longer than a tick when nothing happens. Without it, it polls every tick. The watch
        // is made only once the attempt has lasted `WATCH_AFTER` (see there).
        let mut watch: DropAside<ChangeWatch> = DropAside(None);
        let watch_from = Instant::now() + WATCH_AFTER;
        let mut watch_tried = false;
        let mut busy_until = Instant::now() + BUSY_SPELL;
        loop {
            if !watch_tried && Instant::now() >= watch_from {
                watch_tried = true;
                watch = DropAside(self.db.watch_changes());
            }
            let watch = &watch.0;
            if self.ctx.cancel.is_cancelled() {
                self.interrupted = true;
                self.sched.cancelled();
                return Ok(EndReason::Interrupted);
            }
            self.flush_states()?;
            let ended = self.reap();
            if self.poll_events(!ended.is_empty(), observer)? || !ended.is_empty() {
                busy_until = Instant::now() + BUSY_SPELL;
            }
            self.apply_ended(ended);
            self.poll_receiver();
            self.poll_setup(observer);
            self.run_ready_checks();
            self.step(observer)?;
            if self.ctx.options.stream_output {
                self.stream_output(observer);
            }
            if let Some(end) = self.sched.end() {
                return Ok(end);
            }
            let now = Instant::now();
            let tick = if watch.is_some() && now >= busy_until {
                IDLE_TICK
            } else {
                TICK
            };
            let mut wake = self
                .sched
                .next_deadline(now)
                .min(self.next_tree_check())
                .min(now + tick);
            if let Some(at) = self.next_ready_check() {
                wake = wake.min(at);
            }
            let processes = self
                .procs
                .iter()
                .filter_map(|p| p.process.as_ref())
                .chain(self.setup.iter().filter_map(SetupProc::process));
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

    /// Lets the scheduler step and carries out what it asks for, until it asks for nothing
    /// more (a unit started without a readiness probe is ready at once, and its dependents
    /// start in the same turn).
    fn step(&mut self, observer: &mut dyn FnMut(&RunEvent)) -> Result<(), RunError> {
        loop {
            self.sched.step(Instant::now());
            if !self.execute(observer)? {
                return Ok(());
            }
        }
    }

    /// Carries out the scheduler's actions; returns whether a unit was started.
    fn execute(&mut self, observer: &mut dyn FnMut(&RunEvent)) -> Result<bool, RunError> {
        let mut started = false;
        while let Some(action) = self.sched.poll_action() {
            match action {
                Action::Start(index) => {
                    started = true;
                    self.start(index, observer)?;
                }
                Action::Signal { unit, kill, tree } => {
                    let signal = if kill {
                        Signal::SIGKILL
                    } else {
                        Signal::SIGTERM
                    };
                    match self.tree(unit) {
                        Some(t) if tree => {
                            t.signal(signal);
                        }
                        Some(t) => {
                            process::signal_group(t.pgid, signal);
                        }
                        None => {}
                    }
                }
                Action::State(index, state) => self.set_state(index, state, observer)?,
                Action::Restarting(index, restart) => {
                    let procs = &mut self.procs[index];
                    procs.process = None;
                    procs.tree_check = None;
                    observer(&RunEvent::UnitRestarting {
                        unit: self.name(index).to_owned(),
                        restart,
                    });
                }
                Action::WatchTree(index) => {
                    self.procs[index].tree_check =
                        Some((Instant::now() + TREE_CHECK_FIRST, TREE_CHECK_FIRST));
                }
                Action::FaultFired(index) => {
                    if let Some(slot) = self.faults_fired.get_mut(index) {
                        *slot = Some(monotonic_ns());
                    }
                }
                Action::Suspend(unit) | Action::Continue(unit) => {
                    let signal = if matches!(action, Action::Suspend(_)) {
                        Signal::SIGSTOP
                    } else {
                        Signal::SIGCONT
                    };
                    if let Some(tree) = self.tree(unit) {
                        tree.signal(signal);
                    }
                }
            }
        }
        // The turn's state changes, in one commit.
        self.flush_states()?;
        Ok(started)
    }

    /// Starts a unit: its `starting` state first (its timestamp is the start), then its
    /// process (a pre-warmed interpreter is released by that state).
    fn start(&mut self, index: usize, observer: &mut dyn FnMut(&RunEvent)) -> Result<(), RunError> {
        self.record_state(self.name(index), UnitState::Starting);
        if self.procs[index].prewarmed.is_some() {
            // The interpreter waiting for this state must find it in the database.
            self.flush_states()?;
        }
        // A pre-warmed interpreter that died waiting is reaped here; the unit then starts the
        // usual way.
        let prewarmed = self.procs[index]
            .prewarmed
            .take()
            .and_then(|mut process| matches!(process.try_wait(), Ok(None)).then_some(process));
        let spawned = match prewarmed {
            Some(process) => Ok(process),
            None => {
                let unit = self.sched.units[index].unit.clone();
                let fork = self.forks(&unit);
                let log = self.procs[index].log.clone();
                self.unit_command(&unit, false)
                    .and_then(|command| self.spawn_python(Some(&unit.name), fork, command, &log))
            }
        };
        let now = Instant::now();
        self.sched.starting(index, now);
        let at = self.since();
        self.note_transition(index, UnitState::Starting, at);
        observer(&RunEvent::UnitStateChanged {
            unit: self.name(index).to_owned(),
            state: UnitState::Starting,
            pid: spawned.as_ref().ok().map(Process::pid),
            at,
        });
        match spawned {
            Ok(process) => {
                self.procs[index].process = Some(process);
                self.sched.spawned(index);
            }
            Err(message) => self.sched.spawn_failed(index, message, now),
        }
        Ok(())
    }

    /// Reads events recorded since the last look when the database changed (or `force`), one
    /// row at a time: into the verifier and the sample of events, then to the scheduler and
    /// the observer.
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
        if self.intake.needs_schema() {
            let cookie = self.db.schema_cookie().map_err(|e| self.store(e))?;
            let relinks = self.db.relinks().map_err(|e| self.store(e))?;
            self.intake.note_schema(cookie, relinks);
        }
        let now = Instant::now();
        let t0 = self.t0;
        let mut malformed = false;
        // Every row up to the last one committed now, in batches: between two batches this
        // connection holds no snapshot, so a write-ahead log grown past its limit can be
        // restarted even while a flood keeps the reader busy for long.
        let target = self.db.max_event_id().map_err(|e| self.store(e))?;
        let _ = self
            .db
            .restart_wal_above(WAL_RESTART_BYTES, WAL_RESTART_WAIT);
        loop {
            let Supervisor {
                db,
                intake,
                sched,
                setup,
                ..
            } = &mut *self;
            let read = db.for_each_event_after_limit(intake.last_id(), READ_BATCH, |row| {
                let Some(event) = intake.take(row) else {
                    malformed = true;
                    return;
                };
                // Only while it matters (a setup not up yet) costs a look at the recording
                // process.
                let by_setup = sched.setup_waiting_for_probe()
                    && setup.as_ref().is_some_and(|setup| setup.recorded(&event));
                sched.probe(&event.unit, &event.step, event.mono_ns, by_setup, now);
                if let Some(key) = event.key.as_deref() {
                    sched.keyed_probe(event.event_type, key);
                }
                observer(&RunEvent::ProbeRecorded {
                    event,
                    at: t0.elapsed(),
                });
            });
            let given = read.map_err(|e| self.store(e))?;
            // Best effort: a unit holding a snapshot past the wait only postpones it to a
            // later batch, and a failure costs disk space, never a probe.
            let _ = self
                .db
                .restart_wal_above(WAL_RESTART_BYTES, WAL_RESTART_WAIT);
            if given < READ_BATCH || self.intake.last_id() >= target {
                break;
            }
        }
        if malformed {
            self.sched.activity(now);
        }
        Ok(true)
    }

    // ----- the last resort ---------------------------------------------------------------

    /// Kills what is left in the attempt's cgroup (descendants that left their unit's process
    /// group and cleared their environment); returns how many there were.
    fn kill_cgroup(&self) -> usize {
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
        for procs in &mut self.procs {
            if let Some(mut ready) = procs.ready.take() {
                ready.abandon();
            }
        }
        let mut processes: Vec<&mut Process> = self
            .procs
            .iter_mut()
            .flat_map(|p| p.process.as_mut().into_iter().chain(p.prewarmed.as_mut()))
            .chain(self.tests_prewarmed.as_mut())
            .chain(self.setup.iter_mut().filter_map(SetupProc::process_mut))
            .chain(match &mut self.fork {
                ForkState::Running(server) => Some(server.process_mut()),
                ForkState::Off | ForkState::Broken | ForkState::Done => None,
            })
            .collect();
        process::stop_processes(&mut processes, Duration::ZERO);
        let pgids: Vec<u32> = processes.iter().map(|p| p.pid()).collect();
        process::kill_groups(&pgids, Instant::now() + SWEEP_DEADLINE);
        process::kill_marked(&self.marker, Instant::now() + SWEEP_DEADLINE);
        self.kill_cgroup();
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
