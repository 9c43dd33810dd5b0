//! The verdict: pass or fail, why, and the reports it was decided from.

use std::fmt;
use std::sync::Arc;

use testrium_events::MalformedEvent;

use crate::input::{DirectTest, UnitOutcome};

/// Why a run failed. Each kind has a stable snake_case id ([`FailureKind::as_str`]) used in JSON
/// and in the history database; ids are never renamed or reused.
///
/// | id | a run fails when |
/// |---|---|
/// | `missing_probe` | an enabled unit did not record one of its required probes |
/// | `orphan_send` | a `Send` key was never received |
/// | `orphan_receive` | a `Receive` key was never sent |
/// | `duplicate_key` | a key was sent more than once, or received more than once by one unit |
/// | `readiness_timeout` | a unit's readiness probe was not recorded in time |
/// | `exited_before_ready` | a unit exited before recording its readiness probe |
/// | `non_zero_exit` | a unit exited with a non-zero status |
/// | `signaled` | a unit was killed by a signal the runner did not send |
/// | `unit_timeout` | a unit's own timeout expired |
/// | `spawn_failed` | a unit's process could not be started |
/// | `killed_after_grace` | a failed unit ignored SIGTERM and was killed |
/// | `dependency_failed` | a unit was not started because a dependency failed |
/// | `unit_failed` | a unit failed for a reason the runner did not give |
/// | `direct_test_failed` | a direct test function or callback check failed |
/// | `circuit_incomplete` | a hop of a declared circuit never happened |
/// | `circuit_out_of_order` | a hop happened only before the previous hop |
/// | `hop_over_budget` | a hop came later than its budget after the previous hop |
/// | `circuit_over_budget` | first to last hop took longer than the circuit's total budget |
/// | `malformed_event` | a row of the `Events` table could not be read |
/// | `group_timeout` | the group hit its timeout |
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// `missing_probe`
    MissingProbe,
    /// `orphan_send`
    OrphanSend,
    /// `orphan_receive`
    OrphanReceive,
    /// `duplicate_key`
    DuplicateKey,
    /// `readiness_timeout`
    ReadinessTimeout,
    /// `exited_before_ready`
    ExitedBeforeReady,
    /// `non_zero_exit`
    NonZeroExit,
    /// `signaled`
    Signaled,
    /// `unit_timeout`
    UnitTimeout,
    /// `spawn_failed`
    SpawnFailed,
    /// `killed_after_grace`
    KilledAfterGrace,
    /// `dependency_failed`
    DependencyFailed,
    /// `unit_failed`
    UnitFailed,
    /// `direct_test_failed`
    DirectTestFailed,
    /// `circuit_incomplete`
    CircuitIncomplete,
    /// `circuit_out_of_order`
    CircuitOutOfOrder,
    /// `hop_over_budget`
    HopOverBudget,
    /// `circuit_over_budget`
    CircuitOverBudget,
    /// `contract_lost`
    ContractLost,
    /// `contract_duplicated`
    ContractDuplicated,
    /// `contract_late`
    ContractLate,
    /// `contract_unsent`
    ContractUnsent,
    /// `malformed_event`
    MalformedEvent,
    /// `group_timeout`
    GroupTimeout,
    /// `fault_not_triggered`: a `[[fault]]` whose probe never came (not `optional`).
    FaultNotTriggered,
}

impl FailureKind {
    /// Every kind, in documentation order.
    pub const ALL: [FailureKind; 25] = [
        FailureKind::MissingProbe,
        FailureKind::OrphanSend,
        FailureKind::OrphanReceive,
        FailureKind::DuplicateKey,
        FailureKind::ReadinessTimeout,
        FailureKind::ExitedBeforeReady,
        FailureKind::NonZeroExit,
        FailureKind::Signaled,
        FailureKind::UnitTimeout,
        FailureKind::SpawnFailed,
        FailureKind::KilledAfterGrace,
        FailureKind::DependencyFailed,
        FailureKind::UnitFailed,
        FailureKind::DirectTestFailed,
        FailureKind::CircuitIncomplete,
        FailureKind::CircuitOutOfOrder,
        FailureKind::HopOverBudget,
        FailureKind::CircuitOverBudget,
        FailureKind::ContractLost,
        FailureKind::ContractDuplicated,
        FailureKind::ContractLate,
        FailureKind::ContractUnsent,
        FailureKind::MalformedEvent,
        FailureKind::GroupTimeout,
        FailureKind::FaultNotTriggered,
    ];

    /// The stable snake_case id.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::MissingProbe => "missing_probe",
            FailureKind::OrphanSend => "orphan_send",
            FailureKind::OrphanReceive => "orphan_receive",
            FailureKind::DuplicateKey => "duplicate_key",
            FailureKind::ReadinessTimeout => "readiness_timeout",
            FailureKind::ExitedBeforeReady => "exited_before_ready",
            FailureKind::NonZeroExit => "non_zero_exit",
            FailureKind::Signaled => "signaled",
            FailureKind::UnitTimeout => "unit_timeout",
            FailureKind::SpawnFailed => "spawn_failed",
            FailureKind::KilledAfterGrace => "killed_after_grace",
            FailureKind::DependencyFailed => "dependency_failed",
            FailureKind::UnitFailed => "unit_failed",
            FailureKind::DirectTestFailed => "direct_test_failed",
            FailureKind::CircuitIncomplete => "circuit_incomplete",
            FailureKind::CircuitOutOfOrder => "circuit_out_of_order",
            FailureKind::HopOverBudget => "hop_over_budget",
            FailureKind::CircuitOverBudget => "circuit_over_budget",
            FailureKind::ContractLost => "contract_lost",
            FailureKind::ContractDuplicated => "contract_duplicated",
            FailureKind::ContractLate => "contract_late",
            FailureKind::ContractUnsent => "contract_unsent",
            FailureKind::MalformedEvent => "malformed_event",
            FailureKind::GroupTimeout => "group_timeout",
            FailureKind::FaultNotTriggered => "fault_not_triggered",
        }
    }

    /// The kind with this id, if any.
    pub fn from_id(id: &str) -> Option<FailureKind> {
        FailureKind::ALL.into_iter().find(|k| k.as_str() == id)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Evidence that does not fail a run by itself. Stable snake_case ids as for [`FailureKind`].
///
/// | id | reported when |
/// |---|---|
/// | `exception` | a unit recorded an `Exception` event (it fails the run through its exit status, as in the original) |
/// | `unknown_unit` | events came from a unit that is not in the group |
/// | `late_event` | events were recorded after the group ended |
/// | `negative_latency` | a receive was recorded before its send (clock went backwards); latency clamped to 0 |
/// | `unit_notice` | a unit that did not fail has a reason attached (e.g. ignored SIGTERM at teardown) |
/// | `otlp_input` | the run's OTLP receiver rejected requests or spans (no or wrong token, malformed, too large, unknown service) |
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarningKind {
    /// `exception`
    Exception,
    /// `unknown_unit`
    UnknownUnit,
    /// `late_event`
    LateEvent,
    /// `negative_latency`
    NegativeLatency,
    /// `unit_notice`
    UnitNotice,
    /// `otlp_input`: requests or spans the run's OTLP receiver rejected (no token, malformed,
    /// too large, unknown service…).
    OtlpInput,
}

impl WarningKind {
    /// Every kind, in documentation order.
    pub const ALL: [WarningKind; 6] = [
        WarningKind::Exception,
        WarningKind::UnknownUnit,
        WarningKind::LateEvent,
        WarningKind::NegativeLatency,
        WarningKind::UnitNotice,
        WarningKind::OtlpInput,
    ];

    /// The stable snake_case id.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::Exception => "exception",
            WarningKind::UnknownUnit => "unknown_unit",
            WarningKind::LateEvent => "late_event",
            WarningKind::NegativeLatency => "negative_latency",
            WarningKind::UnitNotice => "unit_notice",
            WarningKind::OtlpInput => "otlp_input",
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a run failed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The unit concerned, when there is one.
    pub unit: Option<String>,
    /// The declared circuit concerned (circuit kinds).
    pub circuit: Option<String>,
    /// The delivery contract concerned (contract kinds), by its name
    /// (`producer:order-sent -> worker:order-received`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// The event key concerned (orphans, duplicates, keyed circuit instances).
    pub key: Option<String>,
    /// One plain-text line explaining it (deterministic; no colours).
    pub message: String,
}

/// One piece of evidence that does not fail the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Warning {
    /// What kind of warning.
    pub kind: WarningKind,
    /// The unit concerned, when there is one.
    pub unit: Option<String>,
    /// One plain-text line explaining it.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` explained by `message`, tied to no unit, circuit or key (set those
    /// with [`unit`](Failure::unit), [`circuit`](Failure::circuit), [`key`](Failure::key)):
    /// for tests of code that renders verdicts.
    ///
    /// ```
    /// use testrium_verify::{Failure, FailureKind};
    ///
    /// let failure = Failure::new(FailureKind::OrphanSend, "key `k1` was never received")
    ///     .unit("source")
    ///     .key("k1");
    /// assert_eq!(failure.unit.as_deref(), Some("source"));
    /// assert_eq!(failure.circuit, None);
    /// ```
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            unit: None,
            circuit: None,
            contract: None,
            key: None,
            message: message.into(),
        }
    }

    /// Sets the unit it concerns.
    #[must_use]
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Sets the declared circuit it concerns.
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

impl Warning {
    /// A warning of `kind` explained by `message`, tied to no unit (set it with
    /// [`unit`](Warning::unit)).
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Self {
        Warning {
            kind,
            unit: None,
            message: message.into(),
        }
    }

    /// Sets the unit it concerns.
    #[must_use]
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }
}

/// A reference to one event, as evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct EventRef {
    /// `ID` in the run database.
    pub id: i64,
    /// The unit that recorded it.
    pub unit: Arc<str>,
    /// The probe.
    pub step: Arc<str>,
    /// The event key.
    pub key: Option<Arc<str>>,
    /// Wall clock, Unix seconds.
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub time: f64,
    /// Monotonic clock, nanoseconds.
    pub mono_ns: Option<i64>,
}

/// A required probe, with how often and when it was first recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ProbeCheck {
    /// The unit that must record it.
    pub unit: String,
    /// The probe.
    pub probe: String,
    /// How many events recorded it (0 when missing).
    pub count: u64,
    /// Wall clock of the first one.
    pub first_time: Option<f64>,
}

/// Required probes of the enabled units: which were completed, which are missing (in config
/// order, as the original's `verify_required_events`).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ProbeReport {
    /// Recorded at least once.
    pub completed: Vec<ProbeCheck>,
    /// Never recorded.
    pub missing: Vec<ProbeCheck>,
}

/// Which clock a latency was measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Clock {
    /// Both events had a monotonic timestamp.
    Monotonic,
    /// At least one did not: the wall-clock `Time` column was used.
    Wall,
}

/// A Send paired with a Receive of the same key.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Pair {
    /// The event key.
    pub key: Arc<str>,
    /// The sending unit.
    pub send_unit: Arc<str>,
    /// The Send probe.
    pub send_step: Arc<str>,
    /// `ID` of the Send event.
    pub send_id: i64,
    /// The receiving unit.
    pub receive_unit: Arc<str>,
    /// The Receive probe.
    pub receive_step: Arc<str>,
    /// `ID` of the Receive event.
    pub receive_id: i64,
    /// Receive minus send, seconds, never negative.
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub latency_s: f64,
    /// The clock the latency was measured on.
    pub clock: Clock,
}

/// A key seen more than the rule allows, with its counts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct DuplicateKey {
    /// The event key.
    pub key: Arc<str>,
    /// How many Send events carry it.
    pub send_count: u64,
    /// How many Receive events carry it (all units).
    pub receive_count: u64,
    /// The units that sent it, sorted.
    pub send_units: Vec<String>,
    /// The units that received it more than once, sorted.
    pub repeated_receivers: Vec<String>,
}

/// Send/Receive correlation by event key.
///
/// Rule (fan-out): a key is sent once and may be received once by each receiving unit; each
/// such Receive is paired with the Send. A key sent more than once, or received more than once
/// by the same unit, is a duplicate (the first Send and each unit's first Receive are still
/// paired). A key with Sends and no Receive is an orphan send; with Receives and no Send, an
/// orphan receive. Keys are global: reusing a key on two routes is a duplicate.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CorrelationReport {
    /// Pairs, in the order of their Send events (wall clock, monotonic clock, id), then by
    /// receiving unit: every pair, or the first ones when the verification was given a
    /// [`pair_limit`](crate::VerifyOptions::pair_limit) (see
    /// [`pairs_omitted`](Self::pairs_omitted); the latency statistics still cover every
    /// pair).
    pub pairs: Vec<Pair>,
    /// Pairs left out of [`pairs`](Self::pairs) by a pair limit (0 without one; absent from
    /// verdicts stored before it existed, which listed every pair). The true number of pairs
    /// is [`paired`](Self::paired). Written only when not 0, so a verdict without a limit
    /// serializes as before the field existed.
    #[serde(default, skip_serializing_if = "crate::ser::is_zero")]
    pub pairs_omitted: u64,
    /// Sends whose key was never received, in event order.
    pub orphan_sends: Vec<EventRef>,
    /// Receives whose key was never sent, in event order.
    pub orphan_receives: Vec<EventRef>,
    /// Duplicate keys, sorted by key.
    pub duplicate_keys: Vec<DuplicateKey>,
}

/// Summary statistics of a set of latencies, seconds. Percentiles are nearest-rank.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct LatencyStats {
    /// Number of samples (at least one).
    pub count: u64,
    /// Smallest.
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub min_s: f64,
    /// Arithmetic mean.
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub mean_s: f64,
    /// Median (nearest rank).
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub p50_s: f64,
    /// 95th percentile (nearest rank).
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub p95_s: f64,
    /// 99th percentile (nearest rank).
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub p99_s: f64,
    /// Largest.
    #[serde(deserialize_with = "crate::ser::f64_or_nan")]
    pub max_s: f64,
}

/// Latency of one route: sending unit → receiving unit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RouteLatency {
    /// Sending unit.
    pub send_unit: String,
    /// Receiving unit.
    pub receive_unit: String,
    /// Statistics over this route's pairs.
    pub stats: LatencyStats,
}

/// Latency statistics over all pairs and per route.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct LatencyReport {
    /// Over every pair; `None` when there are none.
    pub overall: Option<LatencyStats>,
    /// Per route, sorted by sending then receiving unit.
    pub routes: Vec<RouteLatency>,
    /// Pairs measured on the monotonic clock.
    pub monotonic_pairs: u64,
    /// Pairs measured on the wall clock.
    pub wall_pairs: u64,
}

/// The kind of a circuit violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationKind {
    /// The hop never happened (for this key).
    Missing,
    /// The hop happened only before the previous hop.
    OutOfOrder,
    /// The hop came later than its budget allows.
    HopOverBudget,
    /// First to last hop took longer than the total budget.
    TotalOverBudget,
}

/// One way one instance of a circuit broke.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CircuitViolation {
    /// What broke.
    pub kind: ViolationKind,
    /// The starting key of the instance: the key of its first-hop event (`None` when that
    /// event has no key, or when the circuit has no instance at all).
    pub key: Option<Arc<str>>,
    /// Index of the hop that broke (0-based; the last hop for `TotalOverBudget`). For
    /// `Missing` and `OutOfOrder`, the instance's first broken hop.
    pub hop: usize,
    /// `unit:probe` of that hop.
    pub hop_name: String,
    /// Measured time, seconds: from the previous hop (hop budgets), from the first hop (total
    /// budget), or how far before the previous hop it happened (out of order).
    pub actual_s: Option<f64>,
    /// The budget, seconds.
    pub budget_s: Option<f64>,
    /// By how much the budget was exceeded, or the order broken, seconds.
    pub over_by_s: Option<f64>,
    /// `ID` of the instance's first-hop event (`None` when the circuit has no instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_id: Option<i64>,
    /// For `Missing`: the key the instance carried at its last linked hop (what the missing
    /// hop should name as its `cause`, or carry as its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key: Option<Arc<str>>,
    /// For `Missing`: how many events of the missing hop were recorded but linked to no
    /// instance (0: the hop was never recorded, or only by other instances).
    #[serde(default, skip_serializing_if = "crate::ser::is_zero")]
    pub unlinked: u64,
    /// For `Missing`: the first distinct keys of those unlinked events (at most 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlinked_keys: Vec<String>,
}

/// The events of one circuit instance, for a report to show or highlight it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct InstanceTrace {
    /// The starting key (the key of its first-hop event).
    pub key: Option<Arc<str>>,
    /// `ID` of the event linked at each hop it reached, in hop order (the first broken hop
    /// and those after it are absent).
    pub event_ids: Vec<i64>,
    /// Whether every hop was linked, in order and within every budget.
    pub complete: bool,
}

/// One hop of a circuit, over all its instances.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct HopReport {
    /// The unit.
    pub unit: String,
    /// The probe.
    pub probe: String,
    /// Budget from the previous hop, seconds.
    pub budget_s: Option<f64>,
    /// Instances in which this hop was linked, in order.
    pub reached: u64,
    /// Time from the previous hop, over the instances whose every hop was linked (`None` for
    /// the first hop, or when no instance is complete).
    pub from_previous: Option<LatencyStats>,
}

/// The check of one declared circuit.
///
/// Each event of the first hop starts an *instance*; the next hops are linked to it by the
/// rules of `docs/CONFIG.md` (same key, explicit cause, program order, through the pairs, and
/// time order for hops that share neither key nor unit). Per-hop and total latency are over
/// the instances whose every hop was linked (over budget or not).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CircuitReport {
    /// The circuit's name.
    pub name: String,
    /// Whether any event of its hops carries a key.
    pub keyed: bool,
    /// Instances: events of the first hop.
    pub instances: u64,
    /// Instances in which every hop was linked, in order and within every budget.
    pub complete: u64,
    /// Per-hop figures.
    pub hops: Vec<HopReport>,
    /// First hop to last, over the instances whose every hop was linked.
    pub total: Option<LatencyStats>,
    /// The total budget, seconds.
    pub total_budget_s: Option<f64>,
    /// What broke, for the first broken instances (in the order they started, each with its
    /// first broken hop and every budget it exceeded), at most 100 instances.
    pub violations: Vec<CircuitViolation>,
    /// Violations of the broken instances left out of [`violations`](Self::violations)
    /// (absent, 0, when none was left out).
    #[serde(default, skip_serializing_if = "crate::ser::is_zero")]
    pub violations_omitted: u64,
    /// The first instances (up to 20) and every instance in
    /// [`violations`](Self::violations), in the order they started: their linked events, so
    /// a report can show or highlight one instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<InstanceTrace>,
}

impl CorrelationReport {
    /// How many pairs were made: those listed plus those left out by a pair limit.
    pub fn paired(&self) -> u64 {
        self.pairs.len() as u64 + self.pairs_omitted
    }
}

impl CircuitReport {
    /// No violations.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// An `Exception` event, with the message from its metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ExceptionEvidence {
    /// The event.
    pub event: EventRef,
    /// `message` from the metadata, when present.
    pub message: Option<String>,
}

/// Events from a unit that is not in the group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct UnknownUnit {
    /// The `Unit` column.
    pub unit: String,
    /// How many events it recorded.
    pub events: u64,
}

/// Counts and spans of the run.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RunSummary {
    /// Readable events.
    pub events: u64,
    /// Malformed rows.
    pub malformed: u64,
    /// Events recorded after the group ended.
    pub late_events: u64,
    /// First to last event, seconds (monotonic when every event has it, else wall clock).
    pub events_span_s: Option<f64>,
    /// Group start to end, seconds, when the timing was given.
    pub group_duration_s: Option<f64>,
    /// Whether the group hit its timeout.
    pub timed_out: bool,
}

/// The outcome of verification: pass or fail, every reason, and the reports behind it.
///
/// It serializes to JSON (the run database keeps it so, see `testrium-orchestrator`) and reads
/// back equal, except for non-finite numbers: JSON writes them as `null`, which reads back as
/// NaN (as `None` where the number is optional). The default is the verdict of nothing
/// verified: not passed, every report empty.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Verdict {
    /// The group's name.
    pub group: String,
    /// Whether the run passed: no failures.
    pub passed: bool,
    /// Every reason it failed, grouped by kind in [`FailureKind::ALL`] order.
    pub failures: Vec<Failure>,
    /// Evidence that does not fail the run.
    pub warnings: Vec<Warning>,
    /// Counts and spans.
    pub summary: RunSummary,
    /// Required probes.
    pub probes: ProbeReport,
    /// Send/Receive correlation.
    pub correlation: CorrelationReport,
    /// Latency over the pairs.
    pub latency: LatencyReport,
    /// Declared circuits, in config order.
    pub circuits: Vec<CircuitReport>,
    /// Delivery contracts, in config order (absent when the group declares none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<ContractReport>,
    /// The unit outcomes given, in the order given.
    pub units: Vec<UnitOutcome>,
    /// The direct tests given, in the order given.
    pub direct_tests: Vec<DirectTest>,
    /// Exception events, in event order.
    pub exceptions: Vec<ExceptionEvidence>,
    /// Malformed rows, by id.
    pub malformed: Vec<MalformedEvent>,
    /// Units not in the group that recorded events, by name.
    pub unknown_units: Vec<UnknownUnit>,
    /// Late events, in event order.
    pub late_events: Vec<EventRef>,
}

impl Verdict {
    /// The verdict of `group` with these failures (passed when there are none) and every
    /// report empty: for tests of code that renders verdicts. Verdicts of real events come
    /// from [`verify`](crate::verify).
    ///
    /// ```
    /// use testrium_verify::{Failure, FailureKind, Verdict};
    ///
    /// let verdict = Verdict::new("test_x", [Failure::new(FailureKind::MissingProbe, "no `done`")]);
    /// assert!(!verdict.passed());
    /// assert!(Verdict::new("test_x", []).passed());
    /// ```
    pub fn new(group: impl Into<String>, failures: impl IntoIterator<Item = Failure>) -> Self {
        let failures: Vec<Failure> = failures.into_iter().collect();
        Verdict {
            group: group.into(),
            passed: failures.is_empty(),
            failures,
            ..Verdict::default()
        }
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.passed
    }

    /// Adds a failure found outside the verifier (a runner's own judgement, such as a fault
    /// that never triggered): the verdict no longer passes.
    pub fn add_failure(&mut self, failure: Failure) {
        self.failures.push(failure);
        self.failures.sort_by_key(|f| f.kind);
        self.passed = false;
    }

    /// Every reason the run failed.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// Evidence that does not fail the run.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The distinct failure kinds, in [`FailureKind::ALL`] order (what history stores).
    pub fn failure_kinds(&self) -> Vec<FailureKind> {
        let mut kinds: Vec<FailureKind> = self.failures.iter().map(|f| f.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// Mean latency over all pairs, seconds (0 when there are none): the original's
    /// `average_latency`.
    pub fn average_latency_s(&self) -> f64 {
        self.latency.overall.map_or(0.0, |s| s.mean_s)
    }

    /// A plain-text report: no colours, deterministic (snapshot-testable), one item per line,
    /// at most 20 lines per failure or warning kind (then "… and N more"). Text from units is
    /// escaped (control characters as `\u{..}`). Durations always print as `0s`,
    /// `<n>.<1 digit>µs`, `<n>.<3 digits>ms` or `<n>.<3 digits>s`, so a reporter can redact
    /// them with one pattern such as `-?\d+\.\d+(µs|ms|s)|\b0s\b` (only values from broken
    /// clocks print otherwise: a million seconds or more in scientific notation, `inf`, `NaN`).
    pub fn render_text(&self) -> String {
        crate::render::render(self)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_text())
    }
}

/// What a delivery contract saw: counts per key (a key sent twice, a retry, is one message)
/// and the delivery latency, first send to first receive of each key.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ContractReport {
    /// `send -> receive` (`producer:order-sent -> worker:order-received`).
    pub name: String,
    /// The Send probe, `unit:probe`.
    pub send: String,
    /// The Receive probe, `unit:probe`.
    pub receive: String,
    /// `exactly-once`, `at-least-once` or `at-most-once`.
    pub delivery: String,
    /// `within-ms`, in seconds.
    pub within_s: Option<f64>,
    /// Whether the contract held (no failure of its own).
    pub passed: bool,
    /// Keys sent.
    pub sent: u64,
    /// Keys sent and received.
    pub received: u64,
    /// Keys sent and never received.
    pub lost: u64,
    /// Keys received more than once.
    pub duplicated: u64,
    /// Keys received later than `within_s` after their first send.
    pub late: u64,
    /// Keys received but never sent.
    pub unsent: u64,
    /// Delivery latency of the received keys (p50/p95/p99/max).
    pub latency: Option<LatencyStats>,
    /// The lost keys, in key order, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_keys: Vec<String>,
    /// The duplicated keys, in key order, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicated_keys: Vec<String>,
    /// The late keys, in key order, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub late_keys: Vec<String>,
    /// The unsent keys, in key order, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsent_keys: Vec<String>,
}
