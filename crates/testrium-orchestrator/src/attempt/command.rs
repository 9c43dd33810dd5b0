//! Building the processes of an attempt: a unit's command line, working directory,
//! environment and output; the Python runtime; interpreters started ahead of their units.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use testrium_config::{Launch, Unit};
use testrium_events::{ENV_EVENT_DB, ENV_GROUP, ENV_RUN_DIR, ENV_UNIT};

use super::fork::{self, ForkServer, Forked};
use super::{ForkState, Supervisor, ports};
use crate::process::{self, ENV_RUN_ID, Process, spawn};
use crate::python::{self, PythonRuntime};

impl Supervisor<'_> {
    pub(super) fn unit_command(&mut self, unit: &Unit, gated: bool) -> Result<Command, String> {
        let group = self.group();
        let cwd = self.unit_cwd(unit)?;
        let mut command = match &unit.launch {
            Launch::Command(argv) => {
                let argv: Vec<String> = argv
                    .iter()
                    .map(|a| self.expand(&unit.name, a))
                    .collect::<Result<_, _>>()?;
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
        let log = self.dir.logs.join(format!("{}.log", unit.name));
        self.prepare(&mut command, Some(&unit.name), &cwd, &log)?;
        self.unit_env(&mut command, unit)?;
        Ok(command)
    }

    /// The unit's working directory (its `cwd`, placeholders expanded, or the group folder).
    pub(super) fn unit_cwd(&self, unit: &Unit) -> Result<PathBuf, String> {
        let group = self.group();
        match unit.cwd.as_ref() {
            Some(cwd) => {
                let cwd = self.expand(&unit.name, &cwd.to_string_lossy())?;
                Ok(group.dir.join(cwd))
            }
            None => Ok(group.dir.clone()),
        }
    }

    /// The unit's own port variables and its `env` (placeholders expanded).
    pub(super) fn unit_env(&self, command: &mut Command, unit: &Unit) -> Result<(), String> {
        for name in &unit.ports {
            if let Some(port) = self.ports.get(&unit.name, name) {
                command.env(ports::env_name(None, name), port.to_string());
            }
        }
        for (key, value) in &unit.env {
            command.env(key, self.expand(&unit.name, value)?);
        }
        Ok(())
    }

    /// `text` of unit `unit` with its port placeholders expanded.
    pub(super) fn expand(&self, unit: &str, text: &str) -> Result<String, String> {
        testrium_config::expand_placeholders(text, unit, self.ports.any(), |owner, name| {
            self.ports.get(owner, name)
        })
        .map_err(|e| e.to_string())
    }

    /// The environment, working directory and output every process of the run gets.
    pub(super) fn prepare(
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
        // Every port of the group, to every process of the run.
        for (owner, name, port) in self.ports.iter() {
            command.env(ports::env_name(Some(owner), name), port.to_string());
        }
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
        if !command.get_envs().any(|(key, _)| key == "PYTHONPATH")
            && let Some(dir) = python::runner_package_dir(&self.dir.path)
        {
            command.env("PYTHONPATH", python::python_path_with(&dir));
        }
        if let Some(cgroup) = &self.cgroup {
            process::join_cgroup(command, cgroup.procs_fd());
        }
        match unit {
            Some(unit) => command.env(ENV_UNIT, unit),
            None => command.env_remove(ENV_UNIT),
        };
        self.otlp_env(command, unit);
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
    pub(super) fn python(&mut self) -> Result<&PythonRuntime, String> {
        if self.python.is_none() {
            self.python = Some(
                PythonRuntime::prepare(&self.dir.path)
                    .map_err(|e| testrium_config::error_chain(&e)),
            );
        }
        match self.python.as_ref() {
            Some(Ok(runtime)) => Ok(runtime),
            Some(Err(message)) => Err(message.clone()),
            None => Err("python runtime unavailable".to_owned()),
        }
    }

    /// Whether `unit` runs as a fork of the fork server (an `entrypoint` unit whose
    /// `python-fork`, or else its group's, is not `false`).
    pub(super) fn forks(&self, unit: &Unit) -> bool {
        matches!(unit.launch, Launch::Entrypoint { .. })
            && unit
                .python_fork
                .unwrap_or(self.group().settings.python_fork)
    }

    /// Starts the fork server (once) when a unit or the direct tests fork.
    pub(super) fn start_fork_server_if_needed(&mut self) {
        if !matches!(self.fork, ForkState::Off) {
            return;
        }
        let tests_fork = self.group().settings.python_fork && self.needs_direct_tests();
        if tests_fork || self.ctx.plan.units.iter().any(|p| self.forks(&p.unit)) {
            self.start_fork_server();
        }
    }

    /// Starts the fork server, when the runner can adopt its forks (it is a child subreaper).
    /// A server that cannot start is recorded as broken, with a warning.
    fn start_fork_server(&mut self) {
        if !matches!(self.fork, ForkState::Off) || !process::is_subreaper() {
            return;
        }
        let group_dir = self.group().dir.clone();
        let log = self.dir.logs.join(FORK_SERVER_LOG);
        let shared = self.shared_entrypoint_modules();
        let started = self
            .python()
            .map(|python| python.fork_server_command(&group_dir, &shared))
            .and_then(|mut command| {
                self.prepare(&mut command, None, &group_dir, &log)?;
                // The slot each fork overwrites with its unit's name (see `runner.py`).
                command.env(ENV_UNIT, " ".repeat(fork::UNIT_SLOT));
                ForkServer::start(command, &log, self.cgroup.as_ref())
            });
        self.fork = match started {
            Ok(server) => ForkState::Running(server),
            Err(message) => {
                self.fork_broke(&format!("could not be started: {message}"));
                ForkState::Broken
            }
        };
    }

    /// The entrypoint modules of more than one forked unit: the fork server compiles them in
    /// its idle time (where bytecode is not written), so that each fork does not.
    fn shared_entrypoint_modules(&self) -> Vec<String> {
        let mut units = std::collections::BTreeMap::<&str, usize>::new();
        for planned in &self.ctx.plan.units {
            if let Launch::Entrypoint { module, .. } = &planned.unit.launch
                && self.forks(&planned.unit)
            {
                *units.entry(module.as_str()).or_default() += 1;
            }
        }
        units
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(module, _)| module.to_owned())
            .collect()
    }

    fn fork_broke(&mut self, reason: &str) {
        if self.fork_warning.is_none() {
            self.fork_warning = Some(format!(
                "the Python fork server broke ({reason}): units and direct tests started after \
                 that ran in fresh interpreters"
            ));
        }
    }

    /// Starts a Python process built as `command` (an `entrypoint` unit's, named `unit`, or
    /// the direct tests'): a fork of the fork server when `fork` and the server runs, else
    /// the command itself. `log` is the file its output goes to.
    pub(super) fn spawn_python(
        &mut self,
        unit: Option<&str>,
        fork: bool,
        command: Command,
        log: &Path,
    ) -> Result<Process, String> {
        if fork && let Some(process) = self.fork_python(unit, &command, log) {
            return Ok(process);
        }
        // Born in the attempt's cgroup where the kernel allows (no join on the critical path).
        process::spawn_in(command, log, self.cgroup.as_ref())
    }

    fn fork_python(
        &mut self,
        unit: Option<&str>,
        command: &Command,
        log: &Path,
    ) -> Option<Process> {
        let ForkState::Running(server) = &mut self.fork else {
            return None;
        };
        // A missing folder: `spawn` says so as for any unit.
        let cwd = command.get_current_dir().filter(|cwd| cwd.is_dir())?;
        let args = fork::command_args(command)?;
        let env = fork::command_env(command)?;
        match server.fork(&args, unit, cwd, &env, log) {
            Forked::Started(process) => Some(process),
            Forked::Exec => None,
            Forked::Broken(reason) => {
                self.fork = ForkState::Broken;
                self.fork_broke(&reason);
                None
            }
        }
    }

    /// The fork server's pid, while it runs.
    pub(super) fn fork_server_pid(&self) -> Option<u32> {
        match &self.fork {
            ForkState::Running(server) => Some(server.pid()),
            ForkState::Off | ForkState::Broken | ForkState::Done => None,
        }
    }

    /// Stops the fork server (when the attempt starts nothing more).
    pub(super) fn stop_fork_server(&mut self) {
        if let ForkState::Running(server) = &mut self.fork {
            server.stop();
            self.fork = ForkState::Done;
        }
    }

    /// Starts, ahead of time, the fork server when a unit or the direct tests fork, and the
    /// interpreters of the other entrypoint units that cannot start at once (they wait for
    /// dependencies, or for the setup with `use_setup`); each waits for its `starting` state.
    pub(super) fn prewarm(&mut self) {
        let direct_tests = self.needs_direct_tests();
        let tests_fork = direct_tests && self.group().settings.python_fork;
        self.start_fork_server_if_needed();
        let serving = matches!(self.fork, ForkState::Running(_));
        if direct_tests && !(tests_fork && serving) {
            // Any error: the tests process is simply started when the units phase ends.
            self.tests_prewarmed = self.direct_tests_process(true).ok();
        }
        for index in 0..self.procs.len() {
            let planned = &self.ctx.plan.units[index];
            // Not for the setup head start alone: a unit released at 0.2 s would then run its
            // code at once, sooner than after a cold start as in the original.
            let waits =
                !planned.deps.is_empty() || (self.setup.is_some() && planned.unit.use_setup);
            if !waits
                || !matches!(planned.unit.launch, Launch::Entrypoint { .. })
                || (serving && self.forks(&planned.unit))
            {
                continue;
            }
            let unit = planned.unit.clone();
            // On any error the unit is simply started the usual way.
            if let Ok(process) = self.unit_command(&unit, true).and_then(spawn) {
                self.procs[index].prewarmed = Some(process);
            }
        }
    }
}

/// The fork server's log in `logs/`.
const FORK_SERVER_LOG: &str = "_fork-server.log";

/// `argv[0]` of a `command`: looked up on `PATH` when it is a bare name, else relative to
/// `cwd` (`./server.sh` becomes `<cwd>/server.sh`, so errors name the file plainly).
pub(super) fn resolve_program(program: &str, cwd: &Path) -> OsString {
    if program.contains('/') && Path::new(program).is_relative() {
        cwd.join(program)
            .components()
            .collect::<PathBuf>()
            .into_os_string()
    } else {
        OsString::from(program)
    }
}
