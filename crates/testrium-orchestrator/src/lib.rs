//! Testrium orchestrator: runs test groups as real processes and never leaves anything
//! behind. [`Run`] runs one group (the harness other tools embed); [`Suite`] runs the groups
//! of a base folder as `testrium run` does — selection (`-k`, `--less`, `--partition`),
//! `--jobs`, fail-fast, repeat, history, the exit-code policy — reporting through
//! [`SuiteEvent`]s and a [`CancelToken`], with no signal handler and no printing
//! (`testrium-report` renders its [`SuiteOutcome`]).
//!
//! A [`Run`] takes a validated [`Group`](testrium_config::Group) (from files with
//! `testrium_config::load_group`, or from the builders) and, for each attempt (`1 + repeat`),
//! creates a fresh run directory `<base>/.testrium/runs/<group>-<unix ms>-<pid>[-<n>]/` with
//! `Data.db` (the run database) and `logs/<unit>.log`, then:
//!
//! 1. **plans** the units: the dependency graph of the enabled units (a cycle, found by
//!    [`Group::dependency_cycle`](testrium_config::Group::dependency_cycle), is a
//!    [`RunErrorKind::DependencyCycle`] naming it); passive units (no `command`, no
//!    `entrypoint`) and disabled units are not started;
//! 2. starts the **setup** (`setup.py`'s `main()` or `setup = [...]`) in the background; it
//!    runs until the end of the attempt unless it exits by itself. If it fails (non-zero exit),
//!    the group ends at once and the setup's outcome (with its log tail) fails the verdict.
//!    Units with `use_setup = true` start once the setup is up: a process of it recorded a
//!    probe (a setup that is a service) or it exited successfully; a setup that fails fails
//!    them (`dependency_failed` on `setup`). Other units do not wait for a `setup = [...]` command; after a `setup.py`
//!    they get the original's head start: they start once the setup recorded a probe, exited
//!    0, or ran for 0.2 s, whichever comes first;
//! 3. **starts each unit** as soon as every unit it depends on is *ready*, in `init` order
//!    among those free to start, independent units concurrently. A unit runs in its own process
//!    group with the caller's environment plus `TESTRIUM_EVENT_DB`, `TESTRIUM_UNIT`,
//!    `TESTRIUM_RUN_DIR`, `TESTRIUM_GROUP` and its `env`, in the group folder (or its `cwd`),
//!    stdout and stderr appended to `logs/<unit>.log` (one file, in order). `command` runs that
//!    program; `entrypoint = "module:function"` runs the Python function with the runner's
//!    standard-library `testrium` package importable; if it raises, the exception probe
//!    `testrium-unit-exception:<Type>` is recorded and the unit fails. The interpreters of
//!    entrypoint units that must wait (for dependencies, or for the setup with `use_setup`)
//!    are started at the beginning of the attempt and wait, without importing the unit's
//!    module, until the runner writes their `starting` state: a dependency level costs a
//!    module import, not an interpreter start; their readiness and unit timeouts count from
//!    that release. The direct-tests interpreter (below) is started ahead the same way,
//!    released by its input file;
//! 4. **supervises**: a unit is ready when its `ready_event` is recorded (at once without
//!    one); not ready within `ready_timeout`, it fails then (not at the group timeout). A unit
//!    is its process *tree*: a *launcher* whose main process exits 0 while its service (its
//!    process group, or processes carrying the attempt's marker and the unit's name) runs on
//!    and something is still awaited from it lives until that tree is gone. A unit that
//!    cannot be spawned fails at once (`spawn_failed`, with the resolved path and a hint).
//!    The units phase ends when every unit exited; or every required probe that can still be
//!    recorded is; or a unit failed for good (not `Resume-ALL`, no restart left: the verdict
//!    is known, the other units are stopped, not blamed) — each of these two once the event
//!    log stayed quiet for the settle period ([`Run::settle_period`]), and the first only
//!    once no circuit instance or keyed Send is still in flight (waited for within the
//!    circuit's budget, else 5 s; docs/CONFIG.md); or at the group
//!    `timeout` (each unit still running then says what it waited for, each unit never
//!    started why); or on cancellation. A unit's own `timeout` fails that unit;
//! 5. **tears down**: SIGTERM to each unit's process group, the grace period, SIGKILL (units
//!    that needed it are reported); then the group's Python direct test functions run (when
//!    its Python files define any), the setup is stopped, and every process still carrying the
//!    attempt's marker in its environment (daemons that double-forked or left their group) is
//!    killed;
//! 6. **verifies** with `testrium_verify::verify` and stores the outcome as JSON in the run
//!    database's meta table ([`OUTCOME_META_KEY`], [`VERDICT_META_KEY`];
//!    [`AttemptOutcome::read_stored`] reads it back). A group where
//!    nothing ran (no unit started, no direct test) fails, as in the original ("no
//!    entrypoints or test functions found"). The group's end, for late events, is the end
//!    of the units phase, or of the direct tests when the group has some (their probes are
//!    part of the group).
//!
//! [`reverify`] judges a stored attempt again against a group's current configuration
//! (`testrium verify`): the run database opened read-only, its rows streamed into a new
//! `Verifier` with the stored unit outcomes, direct tests and timing; nothing is started or
//! written.
//!
//! Lifecycle states (`created → starting → ready → running → finished | stopped | failed`)
//! are written to the run database with timestamps as they happen.
//!
//! Inside, every decision of an attempt is made by a scheduler with no I/O (events in —
//! probe recorded, process exited, spawn failed, time passed —, actions out: start, signal,
//! record a state, watch a launcher's tree), tested as tables without a process; a driver
//! owns the processes, the run database and the observer (see `docs/ARCHITECTURE.md`).
//!
//! # Failure policy (`in-except`)
//!
//! - `Resume` (default): the failure is recorded and the group's verdict is known: after the
//!   settle period the other units are stopped (status `stopped`, not blamed) and the group
//!   ends (`EndReason::UnitFailed`) instead of waiting for probes that would only run into
//!   the timeout. Units that depend on the failed unit, directly or through others, are
//!   stopped if running (reason "dependency failed") and never started otherwise (`failed`,
//!   same reason).
//! - `Reload`: the failed unit (crash, non-zero exit, readiness or unit timeout) is restarted,
//!   at most [`Run::max_restarts`] times (default [`DEFAULT_MAX_RESTARTS`]); a unit that
//!   recovers does not fail the group (its outcome counts the restarts). Past the budget it
//!   behaves as `Resume`.
//! - `Resume-ALL`: the failure blocks nobody: units that depend on it keep running or start
//!   anyway, and everything runs to its end (the most evidence, the slowest failure).
//!
//! # Nothing left behind
//!
//! Units get `PR_SET_PDEATHSIG(SIGKILL)`, so they die with the runner (even SIGKILLed); the
//! runner makes itself a child subreaper ([`Run::subreaper`]); each attempt marks its
//! processes with `TESTRIUM_RUN_ID=<runner pid>.<runner start time>.<pid namespace>.<run id>`
//! and sweeps them at teardown. Where the runner may create one (root, or a delegated cgroup
//! v2 subtree), each attempt also has a cgroup of its own, `testrium-<pid>-<n>` below the
//! runner's: every process it starts joins it before `exec`, and teardown kills whatever is
//! left in it — which also reaches a descendant that cleared its environment and left its
//! unit's process group without leaving the session, the one case the other mechanisms miss.
//! If the runner is SIGKILLed, the descendants of its units (which have no parent-death
//! signal) are killed by the attempt's watchdog — a small `sh` process holding a pipe only the
//! runner writes to, which kills the attempt's cgroup and sweeps the marker when that pipe
//! closes without a clean goodbye — and, as a last resort, by the next `Run` in any process,
//! which first kills processes whose marker names a runner (of its pid namespace) that no
//! longer exists. Cancellation goes through a [`CancelToken`]; the library installs no signal
//! handler.
//!
//! # Process-wide state a `Run` touches
//!
//! - the child-subreaper flag of the calling process ([`Run::subreaper`], on by default; it
//!   stays on after the run);
//! - a count of attempts in flight in the process (so overlapping runs share the end-of-run
//!   orphan sweep), and nothing else global: two `Run`s at once, in threads, work;
//! - at the start of every run, processes whose marker names a runner of this pid namespace
//!   that is gone (leftovers of a SIGKILLed runner) are killed, and stale attempt cgroups
//!   removed;
//! - never the caller's own children: a run signals, reaps or sweeps only processes it
//!   started (its units and their descendants, known by process group, marker or cgroup).
//!   Only with [`Run::kill_adopted_orphans`] (for a program that has no children of its own,
//!   as the `testrium` binary) are adopted orphans in another session killed too.
//!
//! # Platform
//!
//! Linux only: process groups with `PR_SET_PDEATHSIG`, the child subreaper, cgroups v2,
//! `/proc` and inotify are what make "nothing left behind" hold, and there is no fallback that
//! keeps that promise elsewhere, so on any other target the crate does not compile (a
//! `compile_error!` says so). The layers below it — `testrium-config`, `testrium-events`,
//! `testrium-verify` — build on any unix, so tools that read configs, record probes or verify
//! stored runs are not tied to Linux.
//!
//! # Crates and features
//!
//! The orchestrator uses `testrium-config` with its `toml` feature (groups from files) and
//! `testrium-events` with `sqlite` and `bundled` (SQLite compiled in): a runner needs no
//! system library. Units it starts may link the small probe side of `testrium-events`
//! instead (see that crate's documentation).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use testrium_config::{Group, Unit};
//! use testrium_orchestrator::{Run, RunEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let group = Group::builder("echo-test", "/path/to/echo-test")
//!     .timeout(Duration::from_secs(10))
//!     .unit(
//!         Unit::command("server", ["./target/debug/echo-server"])
//!             .init(1)
//!             .ready_event("listening")
//!             .events(["listening", "request-received"]),
//!     )
//!     .unit(
//!         Unit::command("client", ["./target/debug/echo-client"])
//!             .init(2)
//!             .depends_on(["server"])
//!             .events(["request-sent", "response-received"]),
//!     )
//!     .build()?;
//! let outcome = Run::new(group)
//!     .base_dir(std::env::temp_dir())
//!     .observer(|event: &RunEvent| {
//!         if let RunEvent::UnitStateChanged { unit, state, .. } = event {
//!             eprintln!("{unit}: {state}");
//!         }
//!     })
//!     .execute()?;
//! let attempt = outcome.last_attempt().expect("one attempt");
//! println!("{}", attempt.verdict.render_text());
//! assert!(outcome.passed());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "testrium-orchestrator needs Linux: it relies on PR_SET_PDEATHSIG, the child subreaper, \
     cgroups v2, /proc and inotify to leave no process behind; testrium-config, \
     testrium-events and testrium-verify build on any unix"
);

mod attempt;
mod cache;
mod cancel;
mod error;
mod event;
mod exit_code;
mod logs;
mod outcome;
mod plan;
mod process;
mod python;
mod reverify;
mod run;
mod rundir;
mod sample;
mod suite;

pub use crate::attempt::{OUTCOME_META_KEY, VERDICT_META_KEY};
pub use crate::cancel::CancelToken;
pub use crate::error::{RunError, RunErrorKind, StoredAttemptError, StoredAttemptErrorKind};
pub use crate::event::RunEvent;
pub use crate::exit_code::TestriumExitCode;
pub use crate::outcome::{
    AttemptOutcome, AttemptTimings, EndReason, FaultOutcome, GroupOutcome, UnitTransition,
};
pub use crate::reverify::{ReverifyError, ReverifyErrorKind, reverify};
pub use crate::run::{DEFAULT_GRACE_PERIOD, DEFAULT_MAX_RESTARTS, DEFAULT_SETTLE_PERIOD, Run};
pub use crate::sample::{EVENT_SAMPLE_LIMIT, EventSample, PAIR_LIMIT};
pub use crate::suite::{
    GroupRun, HistoryError, Partition, PartitionError, SkipKind, SkippedGroup, Suite, SuiteError,
    SuiteErrorKind, SuiteEvent, SuiteOutcome, SuitePlan,
};
