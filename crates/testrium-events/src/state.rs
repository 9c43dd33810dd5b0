//! The unit lifecycle vocabulary, stored in `UnitStatus.Status` and `UnitTransitions`.

use std::fmt;
use std::str::FromStr;

/// Lifecycle state of a unit, stored in `UnitStatus.Status` (lowercase, as the original).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum UnitState {
    /// Known to the runner, not started yet.
    Created,
    /// Its process is being started.
    Starting,
    /// Its ready probe was recorded (or it has none).
    Ready,
    /// Running after readiness.
    Running,
    /// Exited successfully by itself.
    Finished,
    /// Stopped by the runner at the end of the group (not a failure).
    Stopped,
    /// Failed (non-zero exit, signal, timeout, readiness timeout, spawn failure…).
    Failed,
}

impl UnitState {
    /// Every state, in lifecycle order.
    pub const ALL: [UnitState; 7] = [
        UnitState::Created,
        UnitState::Starting,
        UnitState::Ready,
        UnitState::Running,
        UnitState::Finished,
        UnitState::Stopped,
        UnitState::Failed,
    ];

    /// The stored text: `created`, `starting`, `ready`, `running`, `finished`, `stopped`,
    /// `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Created => "created",
            UnitState::Starting => "starting",
            UnitState::Ready => "ready",
            UnitState::Running => "running",
            UnitState::Finished => "finished",
            UnitState::Stopped => "stopped",
            UnitState::Failed => "failed",
        }
    }

    /// Whether the unit is done (`finished`, `stopped` or `failed`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            UnitState::Finished | UnitState::Stopped | UnitState::Failed
        )
    }
}

impl fmt::Display for UnitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when text is not a unit state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown unit state `{0}`")]
pub struct UnknownUnitState(pub String);

impl FromStr for UnitState {
    type Err = UnknownUnitState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownUnitState(s.to_owned()))
    }
}

/// A unit's state at a point in time (latest state, or one transition).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct UnitStateRecord {
    /// The unit.
    pub unit: String,
    /// The state entered.
    pub state: UnitState,
    /// Wall clock, Unix seconds.
    pub time: f64,
    /// CLOCK_MONOTONIC nanoseconds, when recorded.
    pub mono_ns: Option<i64>,
}

impl UnitStateRecord {
    /// A record (for tests and tools building outcomes by hand).
    pub fn new(unit: impl Into<String>, state: UnitState, time: f64, mono_ns: Option<i64>) -> Self {
        UnitStateRecord {
            unit: unit.into(),
            state,
            time,
            mono_ns,
        }
    }
}
