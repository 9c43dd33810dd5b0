//! [`Run`]: the embeddable harness.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use testrium_config::Group;

use crate::attempt::{self, Options};
use crate::cancel::CancelToken;
use crate::error::{RunError, RunErrorKind};
use crate::event::RunEvent;
use crate::outcome::GroupOutcome;
use crate::plan;
use crate::process;

/// The default time units get between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(2);

/// How long the event log must stay quiet, once every required probe is recorded, before the
/// units still running are stopped (at most 20 times this in all).
pub const DEFAULT_SETTLE_PERIOD: Duration = Duration::from_millis(50);

/// How many times a unit with `in-except = "Reload"` is restarted at most, by default.
pub const DEFAULT_MAX_RESTARTS: u32 = 3;

type Observer = Box<dyn FnMut(&RunEvent) + Send>;

/// Runs one validated test group as real processes, then verifies it.
///
/// A builder: set what you need, then call [`execute`](Run::execute), which blocks until
/// every attempt is over and every process it started is gone. `Run` holds no global state
/// and installs no signal handler: two runs (one after the other, or at once from two
/// threads or processes, even of the same group in the same base folder) do not interfere.
///
/// See the [crate documentation](crate) for what a run does, step by step.
pub struct Run {
    group: Group,
    base_dir: Option<PathBuf>,
    observer: Option<Observer>,
    cancel: CancelToken,
    options: Options,
    repeat_override: Option<u8>,
    retries: u32,
    subreaper: bool,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("group", &self.group.name)
            .field("base_dir", &self.base_dir)
            .field("observer", &self.observer.is_some())
            .field("cancel", &self.cancel)
            .field("options", &self.options)
            .field("repeat_override", &self.repeat_override)
            .field("retries", &self.retries)
            .field("subreaper", &self.subreaper)
            .finish()
    }
}

impl Run {
    /// A run of `group` (from [`testrium_config::load_group`] or the builders) with the
    /// defaults: base folder = the group folder's parent, the group's own timeout and
    /// repeat, a 2 s grace period, the runner made a child subreaper.
    pub fn new(group: Group) -> Self {
        Run {
            group,
            base_dir: None,
            observer: None,
            cancel: CancelToken::new(),
            options: Options {
                timeout: None,
                grace: DEFAULT_GRACE_PERIOD,
                settle: DEFAULT_SETTLE_PERIOD,
                max_restarts: DEFAULT_MAX_RESTARTS,
                stream_output: false,
                env: Vec::new(),
                path_prepend: Vec::new(),
                cgroup: true,
                kill_orphans: false,
                listen: None,
            },
            repeat_override: None,
            retries: 0,
            subreaper: true,
        }
    }

    /// The base folder: run directories are created under `<base>/.testrium/runs/`.
    #[must_use]
    pub fn base_dir(mut self, base: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(base.into());
        self
    }

    /// Called with every [`RunEvent`], in order, on the thread that called
    /// [`execute`](Run::execute). Keep it quick: the supervisor waits for it.
    #[must_use]
    pub fn observer(mut self, observer: impl FnMut(&RunEvent) + Send + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// The token the caller flips to stop the run.
    #[must_use]
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    /// Replaces the group's `timeout`.
    #[must_use]
    pub fn timeout_override(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Re-runs a failing attempt up to `retries` times in all (default 0): a group whose failed
    /// attempt passes on a retry passes, and is flaky ([`GroupOutcome::flaky`]). Each retry is
    /// an attempt of its own, with its run directory, marked [`AttemptOutcome::retry`](crate::AttemptOutcome::retry).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Replaces the group's `repeat` (extra attempts).
    #[must_use]
    pub fn repeat_override(mut self, repeat: u8) -> Self {
        self.repeat_override = Some(repeat);
        self
    }

    /// Time between SIGTERM and SIGKILL at teardown (default [`DEFAULT_GRACE_PERIOD`]).
    #[must_use]
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.options.grace = grace;
        self
    }

    /// Once every required probe is recorded, the units still running are stopped as soon as
    /// no new event arrived for this long (default [`DEFAULT_SETTLE_PERIOD`]; at most 20 times
    /// this in all), so work in flight (a Send recorded just after the last required probe, a
    /// client about to exit) lands first. Units that all exit by themselves end the group at
    /// once.
    #[must_use]
    pub fn settle_period(mut self, settle: Duration) -> Self {
        self.options.settle = settle;
        self
    }

    /// Serves the run's OTLP receiver and remote probe API on `addr` instead of a free
    /// loopback port, so units on other hosts (`remote = true`) can reach it. Every attempt
    /// binds it in turn: groups that listen on one address cannot run at the same time.
    #[must_use]
    pub fn listen(mut self, addr: std::net::SocketAddr) -> Self {
        self.options.listen = Some(addr);
        self
    }

    /// Restarts allowed per unit with `in-except = "Reload"` (default
    /// [`DEFAULT_MAX_RESTARTS`]).
    #[must_use]
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.options.max_restarts = restarts;
        self
    }

    /// Sends each line the units write to the observer as [`RunEvent::UnitOutput`] (for
    /// `--verbose`). Output always goes to `logs/<unit>.log` in the run directory.
    #[must_use]
    pub fn stream_output(mut self, stream: bool) -> Self {
        self.options.stream_output = stream;
        self
    }

    /// Adds `key=value` to the environment of every unit (the unit's own `env` wins).
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.options.env.push((key.into(), value.into()));
        self
    }

    /// Puts `dir` first on the units' `PATH` (e.g. the folder of the `testrium` binary, so a
    /// shell unit can call `testrium emit`). Later calls come first.
    #[must_use]
    pub fn prepend_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.path_prepend.insert(0, dir.into());
        self
    }

    /// Whether to make the calling process a child subreaper (default true), so orphaned
    /// descendants of units (double-forked daemons) are re-parented to it and can be reaped.
    /// This is a process-wide setting that stays on after the run; turn it off when the
    /// embedding program must not adopt orphans. Daemons are found and killed at teardown
    /// either way when they carry the attempt's marker in their environment, or are in the
    /// attempt's cgroup. A run never signals, reaps or sweeps a process it did not start: the
    /// embedding program's own children (`setsid` ones included) are left alone, with the
    /// subreaper on or off (see [`Run::kill_adopted_orphans`] for the one exception).
    #[must_use]
    pub fn subreaper(mut self, enabled: bool) -> Self {
        self.subreaper = enabled;
        self
    }

    /// Whether this process starts no children of its own while runs go on (default false),
    /// so that every child of it in another session born during a run is an orphan adopted
    /// from a unit (as a subreaper) and may be killed when the last attempt in flight ends —
    /// which reaches a daemon that cleared its environment where no cgroup could be created.
    /// Only a program that owns all its children (the `testrium` binary) turns this on: an
    /// embedding program's own `setsid` children would be killed with them.
    #[must_use]
    pub fn kill_adopted_orphans(mut self, enabled: bool) -> Self {
        self.options.kill_orphans = enabled;
        self
    }

    /// Whether to run each attempt in a cgroup of its own (default true), where the process
    /// may create one (root, or a delegated cgroup v2 subtree): every process the attempt
    /// starts joins it before `exec`, and teardown kills whatever is left in it — descendants
    /// that cleared their environment and left their unit's process group included. Where no
    /// cgroup can be created, the attempt runs without one either way.
    #[must_use]
    pub fn cgroup(mut self, enabled: bool) -> Self {
        self.options.cgroup = enabled;
        self
    }

    /// The group this run executes.
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// Runs every attempt and verifies each. Blocks until all processes started are gone.
    ///
    /// Errors are for what prevents running at all (a dependency cycle, a run directory or
    /// database that cannot be created); everything that goes wrong with units is in the
    /// outcome. Units already started are torn down before an error is returned.
    pub fn execute(mut self) -> Result<GroupOutcome, RunError> {
        let name = self.group.name.clone();
        let plan = plan::plan(&self.group)
            .map_err(|units| RunError::new(&name, RunErrorKind::DependencyCycle { units }))?;
        if self.subreaper {
            // Best effort: without it, daemons are still found by the marker sweep.
            let _ = process::become_subreaper();
        }
        // Leftovers of runners that died (SIGKILL) before they could tear down: swept while the
        // first attempt makes its run directory, database and receiver (0.3-0.5 ms of /proc
        // and cgroup reads), and done before its first process starts (`Context::startup`).
        let startup = attempt::StartupSweep::start();

        let base = self
            .base_dir
            .clone()
            .unwrap_or_else(|| default_base(&self.group.dir));
        let repeat = self.repeat_override.unwrap_or(self.group.settings.repeat);
        let attempts = 1 + u32::from(repeat);
        let identity = process::runner_identity();
        let mut noop = |_: &RunEvent| {};
        let observer: &mut dyn FnMut(&RunEvent) = match self.observer.as_mut() {
            Some(o) => o.as_mut(),
            None => &mut noop,
        };
        let mut outcome = GroupOutcome {
            group: name,
            attempts: Vec::new(),
            interrupted: false,
        };
        // `attempts` planned runs; a failed one is run again while retries are left.
        let mut retries_left = self.retries;
        let mut planned_done = 0;
        let mut number = 0;
        let mut retry = false;
        while planned_done < attempts {
            number += 1;
            let ctx = attempt::Context {
                group: &self.group,
                plan: &plan,
                options: &self.options,
                cancel: &self.cancel,
                base: &base,
                identity: &identity,
                attempt: number,
                attempts: attempts + (self.retries - retries_left),
                retry,
                startup: &startup,
            };
            let result = attempt::run(&ctx, observer);
            let result = match result {
                Ok(result) => result,
                Err(error) => {
                    startup.wait();
                    return Err(error);
                }
            };
            let interrupted = result.interrupted;
            let failed = !result.passed();
            outcome.attempts.push(result);
            if interrupted || self.cancel.is_cancelled() {
                outcome.interrupted = true;
                break;
            }
            retry = failed && retries_left > 0;
            if retry {
                retries_left -= 1;
            } else {
                planned_done += 1;
            }
        }
        startup.wait();
        Ok(outcome)
    }
}

/// The group folder's parent (the folder `testrium run` runs in), or the group folder.
fn default_base(group_dir: &Path) -> PathBuf {
    group_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| group_dir.to_path_buf(), Path::to_path_buf)
}
