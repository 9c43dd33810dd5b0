//! What the verifier is given: expectations, events, and what the orchestrator observed.

use std::fmt;
use std::time::Duration;

use testrium_events::{Event, MalformedEvent};

use crate::expect::Expectations;

/// Everything one verification looks at. Borrowed, so a runner verifies its event log without
/// copying it.
///
/// ```
/// use testrium_events::{Event, EventType};
/// use testrium_verify::{Expectations, GroupTiming, VerifyInput};
///
/// let expectations = Expectations::new("demo");
/// let events = vec![Event::new(1, "a", "ready", EventType::Default, 10.0)];
/// let input = VerifyInput::new(&expectations, &events)
///     .timing(GroupTiming::wall(9.5, 11.0));
/// assert!(testrium_verify::verify(&input).passed());
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct VerifyInput<'a> {
    /// What must happen.
    pub expectations: &'a Expectations,
    /// The readable rows of the run database, in any order.
    pub events: &'a [Event],
    /// Rows that could not be read as events.
    pub malformed: &'a [MalformedEvent],
    /// What became of each unit's process (empty when only events are verified).
    pub unit_outcomes: &'a [UnitOutcome],
    /// Python direct test functions and callback checks.
    pub direct_tests: &'a [DirectTest],
    /// When the group started and ended.
    pub timing: GroupTiming,
    /// Whether the group hit its timeout.
    pub timed_out: bool,
}

impl<'a> VerifyInput<'a> {
    /// Expectations and events; no malformed rows, unit outcomes or direct tests, no timing.
    pub fn new(expectations: &'a Expectations, events: &'a [Event]) -> Self {
        VerifyInput {
            expectations,
            events,
            malformed: &[],
            unit_outcomes: &[],
            direct_tests: &[],
            timing: GroupTiming::default(),
            timed_out: false,
        }
    }

    /// Sets the rows that could not be read as events.
    #[must_use]
    pub fn malformed(mut self, malformed: &'a [MalformedEvent]) -> Self {
        self.malformed = malformed;
        self
    }

    /// Sets the unit outcomes.
    #[must_use]
    pub fn unit_outcomes(mut self, outcomes: &'a [UnitOutcome]) -> Self {
        self.unit_outcomes = outcomes;
        self
    }

    /// Sets the direct test results.
    #[must_use]
    pub fn direct_tests(mut self, tests: &'a [DirectTest]) -> Self {
        self.direct_tests = tests;
        self
    }

    /// Sets the group timing.
    #[must_use]
    pub fn timing(mut self, timing: GroupTiming) -> Self {
        self.timing = timing;
        self
    }

    /// Sets whether the group hit its timeout.
    #[must_use]
    pub fn timed_out(mut self, timed_out: bool) -> Self {
        self.timed_out = timed_out;
        self
    }
}

/// When the group started and ended, on the wall clock (Unix seconds, as the `Time` column) and
/// optionally on the monotonic clock (nanoseconds, as the `MonoNs` column).
///
/// Events recorded after `ended` are *late*: kept and counted like any other, and reported as a
/// `late_event` warning.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct GroupTiming {
    /// Wall-clock start, Unix seconds.
    pub started: Option<f64>,
    /// Wall-clock end, Unix seconds: the moment the group was decided (before teardown).
    pub ended: Option<f64>,
    /// Monotonic start, nanoseconds.
    pub started_mono_ns: Option<i64>,
    /// Monotonic end, nanoseconds.
    pub ended_mono_ns: Option<i64>,
}

impl GroupTiming {
    /// Wall-clock start and end, Unix seconds.
    pub fn wall(started: f64, ended: f64) -> Self {
        GroupTiming {
            started: Some(started),
            ended: Some(ended),
            started_mono_ns: None,
            ended_mono_ns: None,
        }
    }

    /// Adds the monotonic start and end, nanoseconds.
    #[must_use]
    pub fn with_mono_ns(mut self, started: i64, ended: i64) -> Self {
        self.started_mono_ns = Some(started);
        self.ended_mono_ns = Some(ended);
        self
    }

    /// The group's duration in seconds: monotonic when both ends have it, else wall clock
    /// (never negative).
    pub fn duration_s(&self) -> Option<f64> {
        if let (Some(a), Some(b)) = (self.started_mono_ns, self.ended_mono_ns) {
            return Some(((i128::from(b) - i128::from(a)) as f64 / 1e9).max(0.0));
        }
        match (self.started, self.ended) {
            (Some(a), Some(b)) => Some((b - a).max(0.0)),
            _ => None,
        }
    }
}

/// The final status of a unit, as the orchestrator reports it (the lowercase names are those of
/// the original's `UnitStatus` table).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnitStatus {
    /// The process exited with status 0 by itself.
    Finished,
    /// The process was stopped by the runner at the end of a passing group (servers).
    Stopped,
    /// The unit failed; [`UnitOutcome::failure`] says why.
    Failed,
    /// The unit was never started: passive (no command or entrypoint) or disabled.
    NotStarted,
}

impl UnitStatus {
    /// Lowercase name: `finished`, `stopped`, `failed`, `not_started`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Finished => "finished",
            UnitStatus::Stopped => "stopped",
            UnitStatus::Failed => "failed",
            UnitStatus::NotStarted => "not_started",
        }
    }
}

impl fmt::Display for UnitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a unit failed (or, on a unit that did not fail, what was irregular about it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnitFailure {
    /// The unit's `ready_event` was not recorded within its `ready_timeout`.
    ReadinessTimeout {
        /// The readiness probe.
        probe: String,
        /// How long the runner waited.
        #[serde(with = "crate::ser::seconds")]
        waited: Duration,
    },
    /// The unit's readiness check (`ready_tcp`, `ready_http`, `ready_log`, `ready_command`)
    /// did not pass within its `ready_timeout`. Its failure kind is `readiness_timeout`.
    ReadinessCheckTimeout {
        /// The check, e.g. `tcp 127.0.0.1:6379`.
        check: String,
        /// How long the runner waited.
        #[serde(with = "crate::ser::seconds")]
        waited: Duration,
        /// The last error the check saw (`connection refused`, `HTTP 503`, `exit 2`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
    },
    /// The process exited before recording its readiness probe.
    ExitedBeforeReady {
        /// The readiness probe.
        probe: String,
    },
    /// The process exited with a non-zero status.
    NonZeroExit {
        /// The exit status.
        code: i32,
    },
    /// The process was killed by a signal it did not get from the runner.
    Signaled {
        /// The signal number.
        signal: i32,
    },
    /// The unit's own `timeout` expired.
    Timeout {
        /// The unit's timeout.
        #[serde(with = "crate::ser::seconds")]
        after: Duration,
    },
    /// The process could not be started.
    SpawnFailed {
        /// Why, e.g. "no such file or directory".
        message: String,
    },
    /// The process ignored SIGTERM and was killed after the grace period.
    KilledAfterGrace {
        /// The grace period it was given.
        #[serde(with = "crate::ser::seconds")]
        grace: Duration,
    },
    /// A unit it depends on failed: the unit was not started (status failed) or was stopped
    /// (status stopped; then it is a warning, the dependency's own failure fails the run).
    DependencyFailed {
        /// The dependency that failed.
        dependency: String,
    },
    /// The group timed out while the unit was still running with work left: this says what
    /// it was waiting for (a unit without a `timeout` of its own never "exceeded" one).
    GroupTimedOut {
        /// The group timeout.
        #[serde(with = "crate::ser::seconds")]
        after: Duration,
        /// What the unit was still waiting for, e.g. "its readiness probe `ready`".
        waiting_for: String,
    },
    /// The unit never started (status not started): what it was waiting for when the group
    /// ended, e.g. "`server` to be ready".
    NotStarted {
        /// What it was waiting for.
        waiting_for: String,
    },
    /// Another waiter in the embedding program reaped the unit's process (a `waitpid(-1)`):
    /// its exit status is unknown. Not a failure by itself; the probes decide.
    ExitStatusLost,
}

impl fmt::Display for UnitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitFailure::ReadinessTimeout { probe, waited } => write!(
                f,
                "readiness probe `{probe}` not recorded within {}",
                crate::render::fmt_seconds(waited.as_secs_f64())
            ),
            UnitFailure::ReadinessCheckTimeout {
                check,
                waited,
                last_error,
            } => {
                write!(
                    f,
                    "readiness check `{check}` did not pass within {}",
                    crate::render::fmt_seconds(waited.as_secs_f64())
                )?;
                match last_error {
                    Some(error) => write!(f, " (last: {error})"),
                    None => Ok(()),
                }
            }
            UnitFailure::ExitedBeforeReady { probe } => {
                write!(f, "exited before recording readiness probe `{probe}`")
            }
            UnitFailure::NonZeroExit { code } => write!(f, "exited with status {code}"),
            UnitFailure::Signaled { signal } => {
                write!(
                    f,
                    "killed by signal {}",
                    crate::render::signal_name(*signal)
                )
            }
            UnitFailure::Timeout { after } => write!(
                f,
                "exceeded its timeout of {}",
                crate::render::fmt_seconds(after.as_secs_f64())
            ),
            UnitFailure::SpawnFailed { message } => write!(f, "could not be started: {message}"),
            UnitFailure::KilledAfterGrace { grace } => write!(
                f,
                "ignored SIGTERM, killed after the {} grace period",
                crate::render::fmt_seconds(grace.as_secs_f64())
            ),
            UnitFailure::GroupTimedOut { after, waiting_for } => write!(
                f,
                "was still running when the group timed out after {}, waiting for {waiting_for}",
                crate::render::fmt_seconds(after.as_secs_f64())
            ),
            UnitFailure::NotStarted { waiting_for } => {
                write!(f, "never started: it was waiting for {waiting_for}")
            }
            UnitFailure::ExitStatusLost => f.write_str(
                "exit status lost: another waiter in this process reaped it (a `waitpid(-1)`)",
            ),
            UnitFailure::DependencyFailed { dependency } => {
                write!(f, "depends on `{dependency}`, which failed")
            }
        }
    }
}

/// What became of one unit's process.
///
/// The orchestrator decides the status; the verifier reports it: a unit whose status is
/// [`UnitStatus::Failed`] fails the run (kind from its [`UnitFailure`]); a reason on a unit that
/// did not fail (for example [`UnitFailure::KilledAfterGrace`] on a server stopped at the end of
/// a passing group) is a warning.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct UnitOutcome {
    /// The unit's name.
    pub name: String,
    /// Final status.
    pub status: UnitStatus,
    /// Exit status, when the process exited by itself or after SIGTERM.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    /// Why it failed (or what was irregular).
    pub failure: Option<UnitFailure>,
    /// How many times it was restarted (`in-except = "Reload"`).
    pub restarts: u32,
    /// Wall time from start to exit, seconds.
    pub duration_s: Option<f64>,
    /// The last lines of its output, oldest first.
    pub log_tail: Vec<String>,
    /// The loopback ports the runner picked for it (`ports = [...]`), by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ports: std::collections::BTreeMap<String, u16>,
}

impl UnitOutcome {
    /// A unit with the given status and nothing else recorded.
    pub fn new(name: impl Into<String>, status: UnitStatus) -> Self {
        UnitOutcome {
            name: name.into(),
            status,
            exit_code: None,
            signal: None,
            failure: None,
            restarts: 0,
            duration_s: None,
            log_tail: Vec::new(),
            ports: std::collections::BTreeMap::new(),
        }
    }

    /// The ports the runner picked for the unit, by name.
    #[must_use]
    pub fn with_ports(mut self, ports: impl IntoIterator<Item = (String, u16)>) -> Self {
        self.ports.extend(ports);
        self
    }

    /// A unit that exited with status 0.
    pub fn finished(name: impl Into<String>) -> Self {
        UnitOutcome::new(name, UnitStatus::Finished).with_exit_code(0)
    }

    /// A unit stopped by the runner at the end of the group.
    pub fn stopped(name: impl Into<String>) -> Self {
        UnitOutcome::new(name, UnitStatus::Stopped)
    }

    /// A failed unit.
    pub fn failed(name: impl Into<String>, failure: UnitFailure) -> Self {
        UnitOutcome::new(name, UnitStatus::Failed).with_failure(failure)
    }

    /// Sets the exit status.
    #[must_use]
    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.exit_code = Some(code);
        self
    }

    /// Sets the signal that ended the process.
    #[must_use]
    pub fn with_signal(mut self, signal: i32) -> Self {
        self.signal = Some(signal);
        self
    }

    /// Sets the failure reason (the status is left as it is).
    #[must_use]
    pub fn with_failure(mut self, failure: UnitFailure) -> Self {
        self.failure = Some(failure);
        self
    }

    /// Sets the restart count.
    #[must_use]
    pub fn with_restarts(mut self, restarts: u32) -> Self {
        self.restarts = restarts;
        self
    }

    /// Sets the duration in seconds.
    #[must_use]
    pub fn with_duration_s(mut self, seconds: f64) -> Self {
        self.duration_s = Some(seconds);
        self
    }

    /// Sets the last lines of output.
    #[must_use]
    pub fn with_log_tail<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.log_tail = lines.into_iter().map(Into::into).collect();
        self
    }
}

/// The result of a Python direct test function (`test_*` in the group folder) or of a callback
/// check (`validate_test`, `tests_results`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct DirectTest {
    /// The function's name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// How long it ran, seconds.
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub duration_s: f64,
    /// The exception text or the reason it failed.
    pub message: Option<String>,
}

impl DirectTest {
    /// A passing test.
    pub fn passed(name: impl Into<String>, duration_s: f64) -> Self {
        DirectTest {
            name: name.into(),
            passed: true,
            duration_s,
            message: None,
        }
    }

    /// A failing test with its message.
    pub fn failed(name: impl Into<String>, duration_s: f64, message: impl Into<String>) -> Self {
        DirectTest {
            name: name.into(),
            passed: false,
            duration_s,
            message: Some(message.into()),
        }
    }
}
