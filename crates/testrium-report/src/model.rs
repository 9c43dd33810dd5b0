//! The report model: everything every report shows, built once from the run's outcomes, stored
//! as `report.json` in each run directory (so `testrium report` can re-render it), and written
//! by `--json` as the documented, versioned schema (docs/REPORTS.md).
//!
//! Times are Unix seconds (`*_at`), durations seconds (`*_s`), latencies milliseconds (`*_ms`).

use serde::{Deserialize, Serialize};

/// Version of the JSON document; bumped only on incompatible changes (fields are only added).
pub const SCHEMA: u32 = 1;

/// Most timeline events kept per attempt (the run database keeps them all).
pub const TIMELINE_LIMIT: usize = 5_000;

// An attempt keeps this many of its earliest events, and its verdict lists this many pairs
// (the timeline's arrows): the timeline must not ask for more.
const _: () = assert!(
    TIMELINE_LIMIT <= testrium_orchestrator::EVENT_SAMPLE_LIMIT
        && TIMELINE_LIMIT <= testrium_orchestrator::PAIR_LIMIT
);

/// Most entries kept per list (failures, warnings, orphans, duplicates) per attempt, so a flood
/// of 100,000 orphans gives a report of a few hundred kilobytes, not of hundreds of megabytes.
pub const LIST_LIMIT: usize = 1_000;

/// A number JSON can hold: NaN becomes 0 and ±infinity the largest finite value (rows written
/// straight into `Events` can carry absurd clocks; `null` would not read back as a number).
pub fn finite(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(f64::MIN, f64::MAX)
    }
}

/// A whole `testrium run` (or the re-rendering of stored runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The Testrium version that produced it.
    pub testrium_version: String,
    /// The base folder.
    pub base: String,
    /// When the run started.
    pub started_at: f64,
    /// Wall time of the whole run.
    pub duration_s: f64,
    /// Whether SIGINT/SIGTERM interrupted it.
    pub interrupted: bool,
    /// The process exit code (`TestriumExitCode`).
    pub exit_code: u8,
    /// `--partition`, when given.
    #[serde(default)]
    pub partition: Option<String>,
    /// The groups that ran, in the order they were selected.
    pub groups: Vec<GroupReport>,
    /// Discovered groups that did not run, and why.
    #[serde(default)]
    pub skipped: Vec<SkippedGroup>,
}

impl RunReport {
    /// Groups that passed.
    pub fn passed(&self) -> usize {
        self.groups.iter().filter(|g| g.passed).count()
    }

    /// Groups that failed.
    pub fn failed(&self) -> usize {
        self.groups.iter().filter(|g| !g.passed).count()
    }

    /// Groups that passed in some attempts and failed in others.
    pub fn flaky(&self) -> impl Iterator<Item = &GroupReport> {
        self.groups.iter().filter(|g| g.flaky)
    }
}

/// A discovered group that did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedGroup {
    /// Folder name.
    pub name: String,
    /// `disabled`, `excluded by --less`, `not selected`, `other partition`…
    pub reason: String,
    /// The reason, for programs (added in schema 1; `other` in reports written before it).
    #[serde(default)]
    pub kind: SkipKind,
}

/// Why a discovered group did not run, for programs reading the JSON report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// `enabled = false` in its `config.toml`.
    Disabled,
    /// A hidden folder (`.test_wip/`) that is otherwise a group.
    Hidden,
    /// Named in `--less`.
    Excluded,
    /// Not named on the command line, or not matching `-k`.
    NotSelected,
    /// In another `--partition` share.
    Partition,
    /// Its configuration is invalid, and it was not selected.
    Invalid,
    /// Not started: `--fail-fast` stopped the run.
    FailFast,
    /// Not started: the run was interrupted.
    Interrupted,
    /// Unknown (a report written before `kind` existed).
    #[default]
    #[serde(other)]
    Other,
}

impl SkipKind {
    /// Left out by the command line (`--less`, names, `-k`, `--partition`): the terminal
    /// counts these, and names them with `--verbose`. Every other skipped group is named.
    pub fn by_selection(self) -> bool {
        matches!(
            self,
            SkipKind::Excluded | SkipKind::NotSelected | SkipKind::Partition | SkipKind::Invalid
        )
    }
}

/// One group: every attempt (`repeat` gives more than one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    /// Folder name.
    pub name: String,
    /// Every attempt passed.
    pub passed: bool,
    /// Some attempts passed and some failed.
    pub flaky: bool,
    /// SIGINT/SIGTERM cut it short.
    #[serde(default)]
    pub interrupted: bool,
    /// Sum of the attempts' durations.
    pub duration_s: f64,
    /// The attempts, in order.
    pub attempts: Vec<AttemptReport>,
    /// Why the group could not be run at all (run directory not creatable, …).
    #[serde(default)]
    pub error: Option<String>,
}

impl GroupReport {
    /// The attempt whose details a short report shows: the first failing one, else the last.
    pub fn shown_attempt(&self) -> Option<&AttemptReport> {
        self.attempts
            .iter()
            .find(|a| !a.passed)
            .or_else(|| self.attempts.last())
    }
}

/// One execution of a group, with its own run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptReport {
    /// 1-based.
    pub attempt: u32,
    /// The verdict of this attempt.
    pub passed: bool,
    /// Cut short by SIGINT/SIGTERM.
    #[serde(default)]
    pub interrupted: bool,
    /// `<base>/.testrium/runs/<group>-<id>`.
    pub run_dir: String,
    /// The run database.
    pub db_path: String,
    /// When the attempt started.
    pub started_at: f64,
    /// Its wall time.
    pub duration_s: f64,
    /// Every enabled unit.
    pub units: Vec<UnitReport>,
    /// Every required probe, seen or not.
    pub probes: Vec<ProbeCheck>,
    /// Send/Receive pairing and latency.
    pub correlation: Correlation,
    /// Declared circuits.
    #[serde(default)]
    pub circuits: Vec<CircuitReport>,
    /// Python direct test functions and callbacks.
    #[serde(default)]
    pub direct_tests: Vec<DirectTestReport>,
    /// Every reason this attempt failed, with its evidence.
    pub failures: Vec<Failure>,
    /// Evidence that does not fail the attempt (a unit killed after ignoring SIGTERM, an
    /// exception probe, late events…), same shape as failures.
    #[serde(default)]
    pub warnings: Vec<Failure>,
    /// Probes on a shared time axis, for the HTML sequence diagram.
    pub timeline: Timeline,
    /// How many entries of the bounded lists were left out (the run database has them all).
    #[serde(default)]
    pub omitted: Omitted,
}

/// Entries left out of an attempt's lists beyond [`LIST_LIMIT`] each. The full verdict is in
/// the run database's meta table (`testrium.verdict`), the events in its `Events` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    /// Failures beyond the limit.
    pub failures: u64,
    /// Warnings beyond the limit.
    pub warnings: u64,
    /// Orphan sends beyond the limit.
    pub orphan_sends: u64,
    /// Orphan receives beyond the limit.
    pub orphan_receives: u64,
    /// Duplicate keys beyond the limit.
    pub duplicate_keys: u64,
}

impl AttemptReport {
    /// Orphan sends, orphan receives and duplicate keys, counting those left out of the lists.
    pub fn correlation_counts(&self) -> (u64, u64, u64) {
        let c = &self.correlation;
        (
            c.orphan_sends.len() as u64 + self.omitted.orphan_sends,
            c.orphan_receives.len() as u64 + self.omitted.orphan_receives,
            c.duplicate_keys.len() as u64 + self.omitted.duplicate_keys,
        )
    }
}

/// One unit of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitReport {
    /// Unit name.
    pub name: String,
    /// Final lifecycle state: `finished`, `stopped`, `failed`, …
    pub status: String,
    /// The unit counts as passed (finished or stopped, and no failure names it).
    pub passed: bool,
    /// Exit code, when it exited.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Terminating signal, when killed by one.
    #[serde(default)]
    pub signal: Option<i32>,
    /// Why it failed, in words (`exited with status 1`), when it did or something was irregular.
    #[serde(default)]
    pub reason: Option<String>,
    /// From start to exit or stop, when it was started.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// How often it was restarted (`in-except = "Reload"`).
    #[serde(default)]
    pub restarts: u32,
    /// Its stdout/stderr log.
    #[serde(default)]
    pub log_path: Option<String>,
    /// The last lines of its log.
    #[serde(default)]
    pub log_tail: Vec<String>,
}

/// A required probe and how often it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeCheck {
    /// The unit that must record it.
    pub unit: String,
    /// The probe (step) name.
    pub step: String,
    /// Rows recorded; 0 means missing.
    pub count: u64,
}

/// Send/Receive correlation of an attempt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// Keys with both a Send and a Receive.
    pub paired: u64,
    /// Sends nobody received.
    pub orphan_sends: Vec<KeyedProbe>,
    /// Receives nobody sent.
    pub orphan_receives: Vec<KeyedProbe>,
    /// Keys sent or received more than once.
    pub duplicate_keys: Vec<KeyedProbe>,
    /// Send→Receive latency over every pair.
    #[serde(default)]
    pub latency: Option<Latency>,
    /// Latency per route (`unit:send-step` → `unit:receive-step`).
    #[serde(default)]
    pub routes: Vec<RouteLatency>,
}

/// A keyed probe named by a correlation finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedProbe {
    /// Unit (empty when not known).
    pub unit: String,
    /// Probe name (empty when not known).
    pub step: String,
    /// Event key.
    pub key: String,
}

/// Latency statistics, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// Latency of one route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteLatency {
    /// `unit:step` of the Sends.
    pub from: String,
    /// `unit:step` of the Receives.
    pub to: String,
    /// The pairs' latency.
    pub latency: Latency,
}

/// A declared circuit's check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CircuitReport {
    /// Circuit name.
    pub name: String,
    /// Held: every hop present, in order, within budget.
    pub passed: bool,
    /// `unit:probe` of each hop.
    pub hops: Vec<String>,
    /// First hop to last, when measured.
    #[serde(default)]
    pub total: Option<Latency>,
    /// The total budget, when declared.
    #[serde(default)]
    pub budget_ms: Option<f64>,
    /// What went wrong, when it did.
    #[serde(default)]
    pub message: Option<String>,
    /// Per hop: how many instances reached it, and the time from the previous hop.
    #[serde(default)]
    pub hop_stats: Vec<HopStat>,
}

/// One hop of a declared circuit, over its instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopStat {
    /// `unit:probe`.
    pub hop: String,
    /// Instances in which it happened in order.
    pub reached: u64,
    /// Its budget from the previous hop, when declared.
    #[serde(default)]
    pub budget_ms: Option<f64>,
    /// Time from the previous hop (`None` for the first hop).
    #[serde(default)]
    pub latency: Option<Latency>,
}

/// A Python direct test function or callback check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectTestReport {
    /// Function name.
    pub name: String,
    /// Passed.
    pub passed: bool,
    /// Its duration.
    pub duration_s: f64,
    /// Error message, when it failed.
    #[serde(default)]
    pub message: Option<String>,
}

/// One reason an attempt failed, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Stable kind from the verifier (`missing_probe`, `orphan_send`, … see docs/REPORTS.md).
    pub kind: String,
    /// The unit it concerns, if one.
    #[serde(default)]
    pub unit: Option<String>,
    /// The circuit it concerns, if one.
    #[serde(default)]
    pub circuit: Option<String>,
    /// The event key it concerns (orphans, duplicates, a keyed circuit's instance), if one.
    #[serde(default)]
    pub key: Option<String>,
    /// The evidence, one line.
    pub message: String,
}

/// Probes on a shared time axis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Lanes, in unit order.
    pub units: Vec<String>,
    /// Events in time order (at most [`TIMELINE_LIMIT`]).
    pub events: Vec<TimelineEvent>,
    /// Events left out beyond the limit.
    #[serde(default)]
    pub omitted: u64,
    /// Send→Receive pairs among `events`.
    pub arrows: Vec<Arrow>,
}

/// A probe on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Row id in the run database.
    pub id: i64,
    /// Unit.
    pub unit: String,
    /// Probe name.
    pub step: String,
    /// `Default`, `Exception`, `Send`, `Receive`.
    pub event_type: String,
    /// Event key.
    #[serde(default)]
    pub key: Option<String>,
    /// Milliseconds since the attempt's first event.
    pub t_ms: f64,
    /// Named by a failure (an exception, an orphan, a duplicate).
    #[serde(default)]
    pub failed: bool,
}

/// A Send→Receive pair on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arrow {
    /// The Send's row id.
    pub from_id: i64,
    /// The Receive's row id.
    pub to_id: i64,
    /// The shared key.
    pub key: String,
    /// Receive minus Send.
    pub latency_ms: f64,
}
