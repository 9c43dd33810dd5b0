//! The report model: everything every report shows, built once from the run's outcomes, stored
//! as `report.json` in each run directory (so `testrium report` can re-render it), and written
//! by `--json` as the documented, versioned schema (docs/REPORTS.md).
//!
//! Times are Unix seconds (`*_at`), durations seconds (`*_s`), latencies milliseconds (`*_ms`).

use serde::{Deserialize, Serialize};

/// The skipped groups of a report are those of the suite: one vocabulary, owned by the
/// orchestrator (`kind` serializes as `disabled`, `not_selected`, …; an unknown kind reads as
/// `other`).
pub use testrium_orchestrator::{SkipKind, SkippedGroup};

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
#[non_exhaustive]
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

impl Default for RunReport {
    /// A report of this schema and Testrium version with no group, started at the epoch, exit
    /// code 0.
    fn default() -> Self {
        RunReport {
            schema: SCHEMA,
            testrium_version: env!("CARGO_PKG_VERSION").to_owned(),
            base: String::new(),
            started_at: 0.0,
            duration_s: 0.0,
            interrupted: false,
            exit_code: 0,
            partition: None,
            groups: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

impl RunReport {
    /// An empty report of a run in `base` (see [`RunReport::default`]); add groups to it.
    pub fn new(base: impl Into<String>) -> Self {
        RunReport {
            base: base.into(),
            ..RunReport::default()
        }
    }

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

impl GroupReport {
    /// Whether attempt `index` (0-based) failed and the next attempt is its retry.
    pub fn retried(&self, index: usize) -> bool {
        self.attempts.get(index + 1).is_some_and(|next| next.retry)
    }

    /// Passed thanks to a retry of a failed attempt (`--retries`): FLAKY.
    pub fn passed_on_retry(&self) -> bool {
        self.passed && self.attempts.iter().any(|a| a.retry)
    }
}

/// One group: every attempt (`repeat` gives more than one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// A group with these attempts: passed when there is at least one and each passed, flaky
    /// when some passed and some failed (not counting interrupted ones), interrupted when the
    /// last one was, its duration their sum.
    pub fn new(name: impl Into<String>, attempts: Vec<AttemptReport>) -> Self {
        let any_passed = attempts.iter().any(|a| a.passed);
        let any_failed = attempts.iter().any(|a| !a.passed && !a.interrupted);
        GroupReport {
            name: name.into(),
            passed: !attempts.is_empty() && attempts.iter().all(|a| a.passed),
            flaky: any_passed && any_failed,
            interrupted: attempts.last().is_some_and(|a| a.interrupted),
            duration_s: attempts.iter().map(|a| a.duration_s).sum(),
            attempts,
            error: None,
        }
    }

    /// The attempt whose details a short report shows: the first failing one, else the last.
    pub fn shown_attempt(&self) -> Option<&AttemptReport> {
        self.attempts
            .iter()
            .find(|a| !a.passed)
            .or_else(|| self.attempts.last())
    }
}

/// One execution of a group, with its own run directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Delivery contracts (`[[contract]]`), in config order; absent when none is declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<ContractReport>,
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
    /// The group's faults (`[[fault]]`) and what became of each.
    #[serde(default)]
    pub faults: Vec<FaultReport>,
    /// The failures that caused the others, first cause first (spawn failure, crash, readiness
    /// failure, timeout), each with the number of failures it caused. Empty in reports written
    /// before it existed.
    #[serde(default)]
    pub root_causes: Vec<RootCause>,
    /// A retry of the failed attempt before it (`--retries`).
    #[serde(default)]
    pub retry: bool,
    /// Each unit's lifecycle: a mark per state it entered (spawned, ready, exited, stopped,
    /// killed, restarted), in order (empty in reports of runners before it existed).
    #[serde(default)]
    pub lifecycle: Vec<LifecycleMark>,
    /// When the group timeout expired, from the start of the attempt (`None` when it did
    /// not).
    #[serde(default)]
    pub timed_out_at_s: Option<f64>,
}

/// A unit entering a lifecycle state, as the timeline marks it on the unit's lane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LifecycleMark {
    /// The unit.
    pub unit: String,
    /// The state entered: `starting`, `ready`, `running`, `finished`, `stopped`, `failed`.
    pub state: String,
    /// From the start of the attempt.
    pub at_s: f64,
    /// What happened, for people: `spawned`, `restarted`, `ready`, `exited 0`, `exited 3`,
    /// `killed by signal 9`, `stopped by the runner`, `killed after the grace period`.
    pub label: String,
}

impl LifecycleMark {
    /// `unit` entered `state` at `at_s`, described as `label`.
    pub fn new(
        unit: impl Into<String>,
        state: impl Into<String>,
        at_s: f64,
        label: impl Into<String>,
    ) -> Self {
        LifecycleMark {
            unit: unit.into(),
            state: state.into(),
            at_s,
            label: label.into(),
        }
    }
}

/// One `[[fault]]` of an attempt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultReport {
    /// The probe that triggers it, `unit:probe`.
    pub after: String,
    /// Which recording of the probe triggers it.
    pub occurrence: u32,
    /// The unit hit.
    pub unit: String,
    /// `kill`, `terminate`, `stop` or `restart`.
    pub action: String,
    /// Whether it fired.
    pub fired: bool,
    /// When it fired, from the start of the attempt.
    #[serde(default)]
    pub at_s: Option<f64>,
    /// From the triggering probe's record to the fault being carried out.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Not firing does not fail the group.
    pub optional: bool,
}

/// A failure that is a cause, not a consequence: a unit that could not be spawned, crashed,
/// exited non-zero, never became ready or timed out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RootCause {
    /// Its index in the attempt's `failures`.
    pub failure: usize,
    /// Its kind (`spawn_failed`, `signaled`, `non_zero_exit`, `readiness_timeout`, …).
    pub kind: String,
    /// The unit it concerns, if one.
    #[serde(default)]
    pub unit: Option<String>,
    /// Its evidence.
    pub message: String,
    /// The unit's uncaught exception, last line of its traceback (`RuntimeError: lost`).
    #[serde(default)]
    pub exception: Option<String>,
    /// The innermost frame of that traceback in the group's own code (`consumer.py:14 in take`).
    #[serde(default)]
    pub frame: Option<String>,
    /// Failures it caused (their `caused_by` is `failure`).
    pub consequences: u64,
}

/// Entries left out of an attempt's lists beyond [`LIST_LIMIT`] each. The full verdict is in
/// the run database's meta table (`testrium.verdict`), the events in its `Events` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Attempt number `attempt` (1-based) with this verdict and nothing else recorded.
    pub fn new(attempt: u32, passed: bool) -> Self {
        AttemptReport {
            attempt,
            passed,
            ..AttemptReport::default()
        }
    }

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// The loopback ports the runner picked for it (`ports = [...]`), by name.
    #[serde(default)]
    pub ports: std::collections::BTreeMap<String, u16>,
}

impl UnitReport {
    /// A unit with a final `status` (`finished`, `stopped`, `failed`, `not_started`), passed
    /// unless it failed, and nothing else recorded.
    pub fn new(name: impl Into<String>, status: impl Into<String>) -> Self {
        let status = status.into();
        UnitReport {
            name: name.into(),
            passed: status != "failed",
            status,
            ..UnitReport::default()
        }
    }
}

/// A required probe and how often it was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProbeCheck {
    /// The unit that must record it.
    pub unit: String,
    /// The probe (step) name.
    pub step: String,
    /// Rows recorded; 0 means missing.
    pub count: u64,
}

impl ProbeCheck {
    /// Probe `step` of `unit`, recorded `count` times (0: missing).
    pub fn new(unit: impl Into<String>, step: impl Into<String>, count: u64) -> Self {
        ProbeCheck {
            unit: unit.into(),
            step: step.into(),
            count,
        }
    }
}

/// Send/Receive correlation of an attempt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeyedProbe {
    /// Unit (empty when not known).
    pub unit: String,
    /// Probe name (empty when not known).
    pub step: String,
    /// Event key.
    pub key: String,
}

impl KeyedProbe {
    /// Probe `step` of `unit` with event key `key`.
    pub fn new(unit: impl Into<String>, step: impl Into<String>, key: impl Into<String>) -> Self {
        KeyedProbe {
            unit: unit.into(),
            step: step.into(),
            key: key.into(),
        }
    }
}

/// Latency statistics, milliseconds.
#[derive(Debug, Clone, Default, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RouteLatency {
    /// `unit:step` of the Sends.
    pub from: String,
    /// `unit:step` of the Receives.
    pub to: String,
    /// The pairs' latency.
    pub latency: Latency,
}

impl RouteLatency {
    /// The latency of the pairs from `from` to `to`.
    pub fn new(from: impl Into<String>, to: impl Into<String>, latency: Latency) -> Self {
        RouteLatency {
            from: from.into(),
            to: to.into(),
            latency,
        }
    }
}

/// A declared circuit's check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Instances: one per event of the first hop.
    #[serde(default)]
    pub instances: u64,
    /// Instances linked at every hop, in order, within every budget.
    #[serde(default)]
    pub complete: u64,
    /// Some instances with the events linked at each hop they reached (the first ones and
    /// every broken one listed), for the HTML timeline's highlight.
    #[serde(default)]
    pub traces: Vec<InstanceTrace>,
}

/// One circuit instance: its starting key and the timeline ids of its events, hop by hop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceTrace {
    /// The key of its first-hop event, when it has one.
    #[serde(default)]
    pub key: Option<String>,
    /// The `id` of the event linked at each hop it reached, in hop order.
    #[serde(default)]
    pub event_ids: Vec<i64>,
    /// Linked at every hop, in order, within every budget.
    pub complete: bool,
}

impl CircuitReport {
    /// Circuit `name` through `hops` (`unit:probe`), held or broken, nothing measured.
    pub fn new(
        name: impl Into<String>,
        passed: bool,
        hops: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        CircuitReport {
            name: name.into(),
            passed,
            hops: hops.into_iter().map(Into::into).collect(),
            ..CircuitReport::default()
        }
    }
}

/// One hop of a declared circuit, over its instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl HopStat {
    /// Hop `hop` (`unit:probe`), reached by `reached` instances, nothing measured.
    pub fn new(hop: impl Into<String>, reached: u64) -> Self {
        HopStat {
            hop: hop.into(),
            reached,
            ..HopStat::default()
        }
    }
}

/// A Python direct test function or callback check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl DirectTestReport {
    /// Direct test `name`, passed or failed, that ran `duration_s` seconds.
    pub fn new(name: impl Into<String>, passed: bool, duration_s: f64) -> Self {
        DirectTestReport {
            name: name.into(),
            passed,
            duration_s,
            message: None,
        }
    }
}

/// One reason an attempt failed, with its evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Index in the same `failures` list of the root cause this failure follows from (a
    /// missing probe of a unit that crashed, a unit whose dependency failed), if one.
    #[serde(default)]
    pub caused_by: Option<usize>,
}

impl Failure {
    /// A failure (or warning) of `kind` (a stable id such as `missing_probe`) with its
    /// evidence, tied to no unit, circuit or key until [`unit`](Failure::unit),
    /// [`circuit`](Failure::circuit) or [`key`](Failure::key) say so.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            kind: kind.into(),
            message: message.into(),
            ..Failure::default()
        }
    }

    /// Sets the unit it concerns.
    #[must_use]
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Sets the circuit it concerns.
    #[must_use]
    pub fn circuit(mut self, circuit: impl Into<String>) -> Self {
        self.circuit = Some(circuit.into());
        self
    }

    /// Sets the event key it concerns.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

/// Probes on a shared time axis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// From the start of the attempt to its first event (the events' `t_ms` count from
    /// there), on the events' clock; 0 in reports of runners before it existed.
    #[serde(default)]
    pub first_event_ms: f64,
}

/// A probe on the timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl TimelineEvent {
    /// Event `id` of `unit`'s probe `step` (`event_type`: `Default`, `Exception`, `Send` or
    /// `Receive`), at `t_ms`, with no key and not failed.
    pub fn new(
        id: i64,
        unit: impl Into<String>,
        step: impl Into<String>,
        event_type: impl Into<String>,
        t_ms: f64,
    ) -> Self {
        TimelineEvent {
            id,
            unit: unit.into(),
            step: step.into(),
            event_type: event_type.into(),
            key: None,
            t_ms,
            failed: false,
        }
    }
}

/// A Send→Receive pair on the timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl Arrow {
    /// The pair of Send `from_id` and Receive `to_id` with key `key`.
    pub fn new(from_id: i64, to_id: i64, key: impl Into<String>, latency_ms: f64) -> Self {
        Arrow {
            from_id,
            to_id,
            key: key.into(),
            latency_ms,
        }
    }
}

/// A delivery contract's check (`[[contract]]`): counts per key and the delivery latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContractReport {
    /// `send -> receive` (`producer:order-sent -> worker:order-received`).
    pub name: String,
    /// `exactly-once`, `at-least-once` or `at-most-once`.
    pub delivery: String,
    /// Held: none of its failures.
    pub passed: bool,
    /// `within-ms`, when declared.
    #[serde(default)]
    pub within_ms: Option<f64>,
    /// Keys sent.
    pub sent: u64,
    /// Keys sent and received.
    pub received: u64,
    /// Keys sent and never received.
    pub lost: u64,
    /// Keys received more than once.
    pub duplicated: u64,
    /// Keys received after `within_ms`.
    pub late: u64,
    /// Keys received but never sent.
    #[serde(default)]
    pub unsent: u64,
    /// First send to first receive of each received key.
    #[serde(default)]
    pub latency: Option<Latency>,
    /// Its failures, as in the attempt's `failures`.
    #[serde(default)]
    pub failures: Vec<Failure>,
}
