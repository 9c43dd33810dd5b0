//! The setup process: a `setup.py`'s `main()` or a `setup = [...]` command, started before the
//! units and stopped at teardown. When `use_setup` units may start is the scheduler's call.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use testrium_config::Setup;
use testrium_events::Event;
use testrium_verify::{UnitFailure, UnitOutcome, UnitStatus};

use super::command::resolve_program;
use super::scheduler::SETUP_NAME;
use super::{LOG_TAIL_LINES, Supervisor};
use crate::event::RunEvent;
use crate::logs::{LogTail, read_tail};
use crate::process::{self, Exit, Process, stop_processes};

/// The setup process, as the driver holds it.
#[derive(Debug)]
pub(super) struct SetupProc {
    process: Option<Process>,
    log: PathBuf,
    started: Instant,
    exit: Option<Exit>,
    failure: Option<UnitFailure>,
    tail: Option<LogTail>,
    stopped: bool,
    killed_after_grace: bool,
}

impl SetupProc {
    pub(super) fn process(&self) -> Option<&Process> {
        self.process.as_ref()
    }

    pub(super) fn process_mut(&mut self) -> Option<&mut Process> {
        self.process.as_mut()
    }

    /// Whether a process of the setup recorded `event`: by its name, or by the recording
    /// process's pid (the setup's process group).
    pub(super) fn recorded(&self, event: &Event) -> bool {
        event.unit == SETUP_NAME
            || self
                .process
                .as_ref()
                .is_some_and(|p| process::recorded_by_tree(event.pid, p.pid()))
    }

    /// Lines written to its log since the last call.
    pub(super) fn read_lines(&mut self) -> Vec<String> {
        let log = &self.log;
        self.tail
            .get_or_insert_with(|| LogTail::new(log))
            .read_lines()
    }
}

impl Supervisor<'_> {
    pub(super) fn start_setup(&mut self, observer: &mut dyn FnMut(&RunEvent)) {
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
            process::spawn_in(command, &log, self.cgroup.as_ref())
        });
        let now = Instant::now();
        let mut proc = SetupProc {
            process: None,
            log,
            started: now,
            exit: None,
            failure: None,
            tail: None,
            stopped: false,
            killed_after_grace: false,
        };
        let ok = spawned.is_ok();
        match spawned {
            Ok(process) => {
                observer(&RunEvent::SetupStarted { pid: process.pid() });
                proc.process = Some(process);
            }
            Err(message) => proc.failure = Some(UnitFailure::SpawnFailed { message }),
        }
        self.setup = Some(proc);
        self.sched
            .setup_started(matches!(setup, Setup::PythonMain(_)), ok, now);
    }

    /// Reaps the setup and tells the scheduler when it exited.
    pub(super) fn poll_setup(&mut self, observer: &mut dyn FnMut(&RunEvent)) {
        let Some(setup) = self.setup.as_mut() else {
            return;
        };
        let Some(process) = setup.process.as_mut() else {
            return;
        };
        if process.exited().is_some() {
            return;
        }
        let exit = match process.try_wait() {
            Ok(Some(exit)) => exit,
            Ok(None) => return,
            Err(_) => Exit::Lost,
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
        }
        self.sched.setup_exited(success);
    }

    pub(super) fn teardown_setup(&mut self) {
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

    pub(super) fn setup_outcome(&self, grace: Duration) -> Option<UnitOutcome> {
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
            outcome = outcome.with_failure(UnitFailure::KilledAfterGrace { grace });
        }
        Some(outcome.with_duration_s(setup.started.elapsed().as_secs_f64()))
    }
}
