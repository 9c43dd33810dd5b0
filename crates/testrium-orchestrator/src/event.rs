//! What a run tells its observer while it works.

use std::path::PathBuf;
use std::time::Duration;

use testrium_events::{Event, UnitState};

/// A live notification from a [`Run`](crate::Run), passed to its observer.
///
/// Times (`at`) are measured from the start of the attempt. Events of one attempt arrive in
/// order, from the thread that called [`Run::execute`](crate::Run::execute).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunEvent {
    /// An attempt began: its run directory and database exist, nothing started yet.
    AttemptStarted {
        /// The group.
        group: String,
        /// 1-based attempt number.
        attempt: u32,
        /// Total attempts planned (`1 + repeat`).
        attempts: u32,
        /// The attempt's run directory.
        run_dir: PathBuf,
    },
    /// The attempt's OTLP receiver (and remote probe API) listens, before any unit starts.
    ReceiverListening {
        /// `http://ADDR:PORT`.
        endpoint: String,
        /// The attempt's bearer token (also in `token` in the run directory).
        token: String,
    },
    /// The setup (`setup.py` or `setup = [...]`) started.
    SetupStarted {
        /// Its pid.
        pid: u32,
    },
    /// The setup process exited on its own.
    SetupExited {
        /// Its exit code (`None` when a signal killed it).
        code: Option<i32>,
        /// Whether that counts as success.
        success: bool,
    },
    /// A unit moved to a new lifecycle state (also recorded in the run database).
    UnitStateChanged {
        /// The unit.
        unit: String,
        /// The new state.
        state: UnitState,
        /// The unit's pid, once started.
        pid: Option<u32>,
        /// When, since the attempt started.
        at: Duration,
    },
    /// A unit is being restarted (`in-except = "Reload"`).
    UnitRestarting {
        /// The unit.
        unit: String,
        /// 1-based restart number.
        restart: u32,
    },
    /// A probe was recorded in the run database (by any writer).
    ProbeRecorded {
        /// The stored event.
        event: Event,
        /// When the runner saw it, since the attempt started.
        at: Duration,
    },
    /// A line of a unit's output (only with [`Run::stream_output`](crate::Run::stream_output)).
    /// Lossy UTF-8, without the newline; very long lines arrive in pieces.
    UnitOutput {
        /// The unit (`setup` for the setup process).
        unit: String,
        /// The line.
        line: String,
    },
    /// The units phase ended; teardown begins.
    TeardownStarted {
        /// Why the units phase ended.
        reason: crate::EndReason,
    },
    /// The group's Python direct test functions started (after the units were stopped).
    DirectTestsStarted,
    /// An attempt ended; its outcome is in the returned [`GroupOutcome`](crate::GroupOutcome).
    AttemptFinished {
        /// 1-based attempt number.
        attempt: u32,
        /// Whether the attempt's verdict passed.
        passed: bool,
        /// Whether it was cut short by cancellation.
        interrupted: bool,
        /// Its wall time.
        duration: Duration,
    },
}
