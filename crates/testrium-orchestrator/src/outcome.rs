//! What a run returns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use testrium_events::EventLog;
use testrium_verify::{DirectTest, UnitOutcome, Verdict};

use crate::exit_code::TestriumExitCode;

/// Everything a [`Run`](crate::Run) of one group produced: one [`AttemptOutcome`] per attempt
/// (`1 + repeat`, fewer when cancelled).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GroupOutcome {
    /// The group's name.
    pub group: String,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptOutcome>,
    /// Whether the run was cancelled (the last attempt is then marked interrupted too).
    pub interrupted: bool,
}

impl GroupOutcome {
    /// Whether every attempt passed and nothing was interrupted.
    pub fn passed(&self) -> bool {
        !self.interrupted && !self.attempts.is_empty() && self.attempts.iter().all(|a| a.passed())
    }

    /// The last attempt (the one a single-run report shows).
    pub fn last_attempt(&self) -> Option<&AttemptOutcome> {
        self.attempts.last()
    }

    /// The exit code a command should end with for this group alone:
    /// [`INTERRUPTED`](TestriumExitCode::INTERRUPTED), [`SUCCESS`](TestriumExitCode::SUCCESS) or
    /// [`GROUP_FAILED`](TestriumExitCode::GROUP_FAILED).
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            TestriumExitCode::INTERRUPTED
        } else if self.passed() {
            TestriumExitCode::SUCCESS
        } else {
            TestriumExitCode::GROUP_FAILED
        }
    }
}

/// One execution of the group in its own run directory.
///
/// Stored in the run database's meta table so `testrium report RUN_DIR` can re-render it: the
/// verdict as JSON under [`VERDICT_META_KEY`](crate::VERDICT_META_KEY), the rest (without the
/// events, which are the `Events` table, plus `"passed"`) under
/// [`OUTCOME_META_KEY`](crate::OUTCOME_META_KEY).
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct AttemptOutcome {
    /// The group's name.
    pub group: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// The run id: the run directory's name, `<group>-<unix ms>-<pid>[-<n>]`.
    pub run_id: String,
    /// The run directory.
    pub run_dir: PathBuf,
    /// The run database (`<run_dir>/Data.db`).
    pub db_path: PathBuf,
    /// Every unit of the group, in config order (passive and disabled ones as `not_started`).
    pub units: Vec<UnitOutcome>,
    /// The setup process, when the group has one.
    pub setup: Option<UnitOutcome>,
    /// Python direct test functions and callbacks (empty when the group has none).
    pub direct_tests: Vec<DirectTest>,
    /// Every row of the `Events` table after the attempt.
    #[serde(skip)]
    pub events: EventLog,
    /// Where the time went.
    pub timings: AttemptTimings,
    /// Why the units phase ended.
    pub end: EndReason,
    /// Units that ignored SIGTERM and were killed after the grace period.
    pub ignored_sigterm: Vec<String>,
    /// Processes outside the units' process groups (daemons, `setsid` children) that were
    /// still alive at teardown and were killed by the sweep: those carrying the attempt's
    /// marker, and orphans adopted by the runner (as a subreaper) that left its session, even
    /// with a cleared environment (killed when the process's last attempt in flight ends).
    pub swept_processes: usize,
    /// The verification of this attempt.
    pub verdict: Verdict,
    /// Whether the attempt was cut short by cancellation.
    pub interrupted: bool,
}

impl AttemptOutcome {
    /// Whether the verdict passed and the attempt was not interrupted.
    pub fn passed(&self) -> bool {
        !self.interrupted && self.verdict.passed()
    }
}

/// Where an attempt's time went. Durations serialize as seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct AttemptTimings {
    /// Wall clock at the start, Unix seconds.
    pub started_unix_s: f64,
    /// CLOCK_MONOTONIC at the start, ns (the clock of the `MonoNs` column).
    pub started_mono_ns: i64,
    /// Start of the attempt to every started unit ready (`None` when some never were).
    #[serde(serialize_with = "opt_secs")]
    pub all_ready: Option<Duration>,
    /// Start of the attempt to the end of the units phase (the moment the group was decided).
    #[serde(serialize_with = "secs")]
    pub units_phase: Duration,
    /// Stopping the units.
    #[serde(serialize_with = "secs")]
    pub teardown: Duration,
    /// The direct tests process, when there was one.
    #[serde(serialize_with = "opt_secs")]
    pub direct_tests: Option<Duration>,
    /// The whole attempt.
    #[serde(serialize_with = "secs")]
    pub total: Duration,
}

/// Why the units phase of an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndReason {
    /// Every started unit exited (or none could start).
    AllExited,
    /// Every required probe that could still be recorded was; the rest were stopped.
    AllProbesRecorded,
    /// The group timeout expired.
    GroupTimeout,
    /// The setup process failed.
    SetupFailed,
    /// The caller cancelled the run.
    Interrupted,
}

impl EndReason {
    /// Lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::AllExited => "all_exited",
            EndReason::AllProbesRecorded => "all_probes_recorded",
            EndReason::GroupTimeout => "group_timeout",
            EndReason::SetupFailed => "setup_failed",
            EndReason::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// What is stored under [`OUTCOME_META_KEY`]: the attempt without its events (in the
/// `Events` table) and without its verdict (stored whole under [`VERDICT_META_KEY`]), so the
/// verdict is serialized once.
#[derive(serde::Serialize)]
pub(crate) struct StoredOutcome<'a> {
    group: &'a str,
    attempt: u32,
    run_id: &'a str,
    run_dir: &'a Path,
    db_path: &'a Path,
    passed: bool,
    interrupted: bool,
    end: EndReason,
    units: &'a [UnitOutcome],
    setup: Option<&'a UnitOutcome>,
    direct_tests: &'a [DirectTest],
    timings: &'a AttemptTimings,
    ignored_sigterm: &'a [String],
    swept_processes: usize,
}

impl<'a> StoredOutcome<'a> {
    pub(crate) fn of(outcome: &'a AttemptOutcome) -> Self {
        StoredOutcome {
            group: &outcome.group,
            attempt: outcome.attempt,
            run_id: &outcome.run_id,
            run_dir: &outcome.run_dir,
            db_path: &outcome.db_path,
            passed: outcome.passed(),
            interrupted: outcome.interrupted,
            end: outcome.end,
            units: &outcome.units,
            setup: outcome.setup.as_ref(),
            direct_tests: &outcome.direct_tests,
            timings: &outcome.timings,
            ignored_sigterm: &outcome.ignored_sigterm,
            swept_processes: outcome.swept_processes,
        }
    }
}
