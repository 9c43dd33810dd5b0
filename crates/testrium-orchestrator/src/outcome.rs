//! What a run returns.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use testrium_events::{RunDb, UnitState};
use testrium_verify::{DirectTest, UnitOutcome, Verdict};

use crate::attempt::{OUTCOME_META_KEY, VERDICT_META_KEY};
use crate::error::{StoredAttemptError, StoredAttemptErrorKind};
use crate::exit_code::TestriumExitCode;
use crate::sample::EventSample;

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
    /// The outcome of `group` made of these attempts, not interrupted: for tests of code that
    /// renders outcomes (a [`Run`](crate::Run) returns the real ones).
    ///
    /// ```
    /// use testrium_orchestrator::{AttemptOutcome, GroupOutcome};
    /// use testrium_verify::Verdict;
    ///
    /// let attempt = AttemptOutcome::new("test_x", 1, "/base/.testrium/runs/test_x-1", Verdict::new("test_x", []));
    /// let outcome = GroupOutcome::new("test_x", [attempt]);
    /// assert!(outcome.passed());
    /// assert_eq!(outcome.exit_code(), 0);
    /// ```
    pub fn new(
        group: impl Into<String>,
        attempts: impl IntoIterator<Item = AttemptOutcome>,
    ) -> Self {
        GroupOutcome {
            group: group.into(),
            attempts: attempts.into_iter().collect(),
            interrupted: false,
        }
    }

    /// Whether every attempt passed — an attempt that failed and was retried
    /// ([`Run::retries`](crate::Run::retries)) counts as its last retry — and nothing was
    /// interrupted.
    pub fn passed(&self) -> bool {
        !self.interrupted
            && !self.attempts.is_empty()
            && self
                .attempts
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.retried(*i))
                .all(|(_, a)| a.passed())
    }

    /// Whether attempt `index` (0-based) failed and the next attempt is its retry.
    pub fn retried(&self, index: usize) -> bool {
        self.attempts.get(index + 1).is_some_and(|next| next.retry)
    }

    /// Passed only thanks to retries: some attempt failed, and a retry of it passed.
    pub fn flaky(&self) -> bool {
        self.passed() && self.attempts.iter().any(|a| !a.passed())
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
/// [`OUTCOME_META_KEY`](crate::OUTCOME_META_KEY). [`AttemptOutcome::read_stored`] reads it all
/// back.
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
    /// What the attempt keeps of the rows of its `Events` table: their count, the units that
    /// recorded them and the earliest [`EVENT_SAMPLE_LIMIT`](crate::EVENT_SAMPLE_LIMIT) events
    /// in time order (a report's timeline). Every row stays in the run database
    /// ([`RunDb::read_events`]); malformed ones are also in the verdict. (Before, this held
    /// every row, which made a runner's memory grow with a flood of probes.)
    #[serde(skip)]
    pub events: EventSample,
    /// Where the time went.
    pub timings: AttemptTimings,
    /// Why the units phase ended.
    pub end: EndReason,
    /// Units that ignored SIGTERM and were killed after the grace period.
    pub ignored_sigterm: Vec<String>,
    /// Processes outside the units' process groups (daemons, `setsid` children) that were
    /// still alive at teardown and were killed by the sweep: those carrying the attempt's
    /// marker, and orphans adopted by the runner (as a subreaper) that left its session, even
    /// with a cleared environment (killed when the process's last attempt in flight ends), and
    /// what was left in the attempt's cgroup where it has one.
    pub swept_processes: usize,
    /// The verification of this attempt.
    pub verdict: Verdict,
    /// Whether the attempt was cut short by cancellation.
    pub interrupted: bool,
    /// A retry of the failed attempt before it ([`Run::retries`](crate::Run::retries)).
    pub retry: bool,
    /// The group's faults (`[[fault]]`) and what became of each.
    pub faults: Vec<FaultOutcome>,
    /// Every lifecycle state a unit entered, in order, with its time since the start of the
    /// attempt (the `UnitTransitions` rows of the run database, kept for reports' timelines;
    /// empty in outcomes stored before it existed).
    pub transitions: Vec<UnitTransition>,
}

/// A unit entering a lifecycle state during an attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct UnitTransition {
    /// The unit.
    pub unit: String,
    /// The state it entered.
    pub state: UnitState,
    /// When, from the start of the attempt (monotonic clock).
    #[serde(with = "seconds")]
    pub at: Duration,
}

impl UnitTransition {
    /// `unit` entered `state` at `at` from the start of the attempt.
    pub fn new(unit: impl Into<String>, state: UnitState, at: Duration) -> Self {
        UnitTransition {
            unit: unit.into(),
            state,
            at,
        }
    }
}

/// What became of one `[[fault]]` in an attempt.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct FaultOutcome {
    /// The probe that triggers it, `unit:probe`.
    pub after: String,
    /// Which recording of the probe triggers it.
    pub occurrence: u32,
    /// The unit hit.
    pub unit: String,
    /// `kill`, `terminate`, `stop` or `restart`.
    pub action: String,
    /// Whether its probe came and it fired.
    pub fired: bool,
    /// When it fired, from the start of the attempt.
    #[serde(default, with = "opt_seconds")]
    pub at: Option<Duration>,
    /// From the triggering probe's record to the fault being carried out (monotonic clock).
    #[serde(default, with = "opt_seconds")]
    pub latency: Option<Duration>,
    /// `optional = true`: not firing does not fail the group.
    pub optional: bool,
}

impl FaultOutcome {
    /// A fault that did not fire (yet): set [`fired`](FaultOutcome::fired), `at` and
    /// `latency` when it did.
    pub fn new(
        after: impl Into<String>,
        occurrence: u32,
        unit: impl Into<String>,
        action: impl Into<String>,
        optional: bool,
    ) -> Self {
        FaultOutcome {
            after: after.into(),
            occurrence,
            unit: unit.into(),
            action: action.into(),
            optional,
            ..FaultOutcome::default()
        }
    }
}

impl AttemptOutcome {
    /// Attempt `attempt` of `group` in `run_dir` with this verdict, and nothing else recorded:
    /// the run id is the directory's name, the database `<run_dir>/Data.db`, no unit, setup,
    /// direct test or event, zero timings, ended because every unit exited, not interrupted.
    /// For tests of code that renders outcomes; set the public fields for more.
    pub fn new(
        group: impl Into<String>,
        attempt: u32,
        run_dir: impl Into<PathBuf>,
        verdict: Verdict,
    ) -> Self {
        let run_dir = run_dir.into();
        AttemptOutcome {
            group: group.into(),
            attempt,
            run_id: run_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            db_path: run_dir.join("Data.db"),
            run_dir,
            units: Vec::new(),
            setup: None,
            direct_tests: Vec::new(),
            events: EventSample::default(),
            timings: AttemptTimings::default(),
            end: EndReason::AllExited,
            ignored_sigterm: Vec::new(),
            swept_processes: 0,
            verdict,
            interrupted: false,
            retry: false,
            faults: Vec::new(),
            transitions: Vec::new(),
        }
    }

    /// Whether the verdict passed and the attempt was not interrupted.
    pub fn passed(&self) -> bool {
        !self.interrupted && self.verdict.passed()
    }

    /// Reads back the attempt stored in the run database `db`, its events sampled from the
    /// `Events` table (one row at a time, as the run did): what `testrium report` re-renders for a run no `testrium run` reported on (a
    /// harness embedding [`Run`](crate::Run), or a `testrium run` killed after the attempt).
    ///
    /// `Ok(None)` when the database holds no outcome (the attempt never finished). An outcome
    /// stored without its verdict (the database was locked when the verdict was written) reads
    /// with an empty verdict ([`Verdict::default`]) that passed as the outcome says.
    pub fn read_stored(db: &RunDb) -> Result<Option<AttemptOutcome>, StoredAttemptError> {
        let error = |kind| StoredAttemptError::new(db.path(), kind);
        let store = |e| error(StoredAttemptErrorKind::Store(Box::new(e)));
        let invalid = |key, source| error(StoredAttemptErrorKind::Invalid { key, source });
        let Some(text) = db.try_read_meta(OUTCOME_META_KEY).map_err(store)? else {
            return Ok(None);
        };
        let stored: StoredOutcome<'static> =
            serde_json::from_str(&text).map_err(|e| invalid(OUTCOME_META_KEY, e))?;
        let verdict = match db.try_read_meta(VERDICT_META_KEY).map_err(store)? {
            Some(text) => serde_json::from_str(&text).map_err(|e| invalid(VERDICT_META_KEY, e))?,
            None => {
                let mut verdict = Verdict::default();
                verdict.group = stored.group.to_string();
                verdict.passed = stored.passed;
                verdict
            }
        };
        let events = EventSample::read(db).map_err(store)?;
        Ok(Some(stored.into_outcome(verdict, events)))
    }
}

/// Where an attempt's time went. Durations serialize as seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AttemptTimings {
    /// Wall clock at the start, Unix seconds.
    pub started_unix_s: f64,
    /// CLOCK_MONOTONIC at the start, ns (the clock of the `MonoNs` column).
    pub started_mono_ns: i64,
    /// Start of the attempt to every started unit ready (`None` when some never were).
    #[serde(with = "opt_seconds")]
    pub all_ready: Option<Duration>,
    /// Start of the attempt to the end of the units phase (the moment the group was decided).
    #[serde(with = "seconds")]
    pub units_phase: Duration,
    /// Stopping the units.
    #[serde(with = "seconds")]
    pub teardown: Duration,
    /// The direct tests process, when there was one.
    #[serde(with = "opt_seconds")]
    pub direct_tests: Option<Duration>,
    /// The whole attempt.
    #[serde(with = "seconds")]
    pub total: Duration,
}

/// Why the units phase of an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    /// A unit failed for good (no restart left, not `in-except = "Resume-ALL"`): the verdict
    /// was known, the other units were stopped.
    UnitFailed,
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
            EndReason::UnitFailed => "unit_failed",
            EndReason::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A [`Duration`] as a number of seconds, read back to the nearest nanosecond (an error, not a
/// panic, for a negative or non-finite number).
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// [`seconds`] for an optional duration (`null` when `None`).
mod opt_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|secs| Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// What is stored under [`OUTCOME_META_KEY`]: the attempt without its events (in the
/// `Events` table) and without its verdict (stored whole under [`VERDICT_META_KEY`]), so the
/// verdict is serialized once. Written borrowed from an [`AttemptOutcome`], read back owned.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredOutcome<'a> {
    group: Cow<'a, str>,
    attempt: u32,
    run_id: Cow<'a, str>,
    run_dir: Cow<'a, Path>,
    db_path: Cow<'a, Path>,
    /// [`AttemptOutcome::passed`]; only read when the verdict is missing (outcomes stored
    /// before it was written here embedded their verdict instead).
    #[serde(default)]
    passed: bool,
    interrupted: bool,
    end: EndReason,
    units: Cow<'a, [UnitOutcome]>,
    setup: Option<Cow<'a, UnitOutcome>>,
    direct_tests: Cow<'a, [DirectTest]>,
    timings: AttemptTimings,
    ignored_sigterm: Cow<'a, [String]>,
    swept_processes: usize,
    /// [`AttemptOutcome::retry`] (false in outcomes stored before it existed; written only
    /// when true, so other records keep their bytes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    retry: bool,
    /// Written only when the group has faults, so records of groups without any stay as
    /// they were.
    #[serde(default, skip_serializing_if = "no_faults")]
    faults: Cow<'a, [FaultOutcome]>,
    /// Written only when there are some, so records stored before keep their bytes.
    #[serde(default, skip_serializing_if = "no_transitions")]
    transitions: Cow<'a, [UnitTransition]>,
}

#[expect(
    clippy::ptr_arg,
    reason = "serde's skip_serializing_if passes the field itself by reference"
)]
fn no_transitions(transitions: &Cow<'_, [UnitTransition]>) -> bool {
    transitions.is_empty()
}

#[expect(
    clippy::ptr_arg,
    reason = "serde's skip_serializing_if passes the field itself by reference"
)]
fn no_faults(faults: &Cow<'_, [FaultOutcome]>) -> bool {
    faults.is_empty()
}

impl<'a> StoredOutcome<'a> {
    pub(crate) fn of(outcome: &'a AttemptOutcome) -> Self {
        StoredOutcome {
            group: Cow::Borrowed(&outcome.group),
            attempt: outcome.attempt,
            run_id: Cow::Borrowed(&outcome.run_id),
            run_dir: Cow::Borrowed(&outcome.run_dir),
            db_path: Cow::Borrowed(&outcome.db_path),
            passed: outcome.passed(),
            interrupted: outcome.interrupted,
            end: outcome.end,
            units: Cow::Borrowed(&outcome.units),
            setup: outcome.setup.as_ref().map(Cow::Borrowed),
            direct_tests: Cow::Borrowed(&outcome.direct_tests),
            timings: outcome.timings,
            ignored_sigterm: Cow::Borrowed(&outcome.ignored_sigterm),
            swept_processes: outcome.swept_processes,
            retry: outcome.retry,
            faults: Cow::Borrowed(&outcome.faults),
            transitions: Cow::Borrowed(&outcome.transitions),
        }
    }

    /// The attempt, with the verdict and events stored beside it.
    fn into_outcome(self, verdict: Verdict, events: EventSample) -> AttemptOutcome {
        AttemptOutcome {
            group: self.group.into_owned(),
            attempt: self.attempt,
            run_id: self.run_id.into_owned(),
            run_dir: self.run_dir.into_owned(),
            db_path: self.db_path.into_owned(),
            units: self.units.into_owned(),
            setup: self.setup.map(Cow::into_owned),
            direct_tests: self.direct_tests.into_owned(),
            events,
            timings: self.timings,
            end: self.end,
            ignored_sigterm: self.ignored_sigterm.into_owned(),
            swept_processes: self.swept_processes,
            verdict,
            interrupted: self.interrupted,
            retry: self.retry,
            faults: self.faults.into_owned(),
            transitions: self.transitions.into_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
