//! The stored record of a probe.

use std::fmt;
use std::str::FromStr;

/// The kind of a probe, stored in the `EventType` column.
///
/// `Send` and `Receive` carry an event key that pairs them across units.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum EventType {
    /// A plain completion tag.
    Default,
    /// Something went wrong in the unit; the metadata usually holds a `message`.
    Exception,
    /// The cause side of a keyed pair.
    Send,
    /// The effect side of a keyed pair.
    Receive,
}

impl EventType {
    /// Every event type, in the order the original documented them.
    pub const ALL: [EventType; 4] = [
        EventType::Default,
        EventType::Exception,
        EventType::Send,
        EventType::Receive,
    ];

    /// The text stored in the `EventType` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Default => "Default",
            EventType::Exception => "Exception",
            EventType::Send => "Send",
            EventType::Receive => "Receive",
        }
    }

    /// Whether this type requires an event key (`Send` and `Receive`).
    pub fn requires_key(self) -> bool {
        matches!(self, EventType::Send | EventType::Receive)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when text is not one of the four event types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}` (expected Default, Exception, Send or Receive)")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// One row of the `Events` table, as the verifier sees it.
///
/// Built by the store's readers, or in code with [`Event::new`] and the `with_*` methods
/// (tests, and tools that verify events from another source).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// `ID`: insertion order in the run database.
    pub id: i64,
    /// `Unit`: the unit that emitted the probe.
    pub unit: String,
    /// `StepCompleted`: the probe name.
    pub step: String,
    /// `EventType`.
    pub event_type: EventType,
    /// `EventKey`; `None` when the column is NULL or empty.
    pub key: Option<String>,
    /// `Time`: wall clock, Unix seconds as a float.
    pub time: f64,
    /// `MonoNs`: CLOCK_MONOTONIC in nanoseconds, shared by all processes on the host;
    /// `None` for rows written by clients that do not record it (the original Python package).
    pub mono_ns: Option<i64>,
    /// `Pid`: the writer's process id, when recorded.
    pub pid: Option<i64>,
    /// `Metadata`: a JSON object as text; `None` when absent or empty.
    pub metadata: Option<String>,
    /// `Cause`: the key of the event that caused this one (see the `[[circuit]]` linking
    /// rules); `None` when NULL or empty. The readers also take it from a `cause` string in
    /// the metadata (how a group written for the original records it). Absent from events
    /// serialized before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl Event {
    /// An event with no key, no monotonic time, no pid and no metadata.
    pub fn new(
        id: i64,
        unit: impl Into<String>,
        step: impl Into<String>,
        event_type: EventType,
        time: f64,
    ) -> Self {
        Event {
            id,
            unit: unit.into(),
            step: step.into(),
            event_type,
            key: None,
            time,
            mono_ns: None,
            pid: None,
            metadata: None,
            cause: None,
        }
    }

    /// Sets the event key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the monotonic timestamp in nanoseconds.
    #[must_use]
    pub fn with_mono_ns(mut self, mono_ns: i64) -> Self {
        self.mono_ns = Some(mono_ns);
        self
    }

    /// Sets the writer's process id.
    #[must_use]
    pub fn with_pid(mut self, pid: i64) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Sets the metadata (a JSON object as text).
    #[must_use]
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// Sets the cause: the key of the event that caused this one.
    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
}

/// A row of the `Events` table that could not be read as an [`Event`] (an unknown type, a NULL
/// unit or step, a non-numeric time, text that is not UTF-8…). Units can write anything into
/// the table; such rows are evidence for the verifier, never a crash.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct MalformedEvent {
    /// `ID` of the row.
    pub id: i64,
    /// `Unit`, as far as it could be read (lossy UTF-8).
    pub unit: Option<String>,
    /// `StepCompleted`, as far as it could be read (lossy UTF-8).
    pub step: Option<String>,
    /// Why the row was rejected, e.g. "unknown event type `Foo`".
    pub reason: String,
}

impl MalformedEvent {
    /// A malformed row with the reason it was rejected.
    pub fn new(
        id: i64,
        unit: Option<String>,
        step: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        MalformedEvent {
            id,
            unit,
            step,
            reason: reason.into(),
        }
    }
}

/// The rows of the `Events` table, in `ID` order: the readable ones and the malformed ones.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct EventLog {
    /// Rows read as events.
    pub events: Vec<Event>,
    /// Rows that could not be read, with the reason.
    pub malformed: Vec<MalformedEvent>,
}

impl EventLog {
    /// A log from parts.
    pub fn new(events: Vec<Event>, malformed: Vec<MalformedEvent>) -> Self {
        EventLog { events, malformed }
    }

    /// The highest `ID` seen (readable or not), or `None` for an empty log; pass it to
    /// [`RunDb::read_events_after`](crate::RunDb::read_events_after) to read only what came
    /// after.
    pub fn last_id(&self) -> Option<i64> {
        let a = self.events.last().map(|e| e.id);
        let b = self.malformed.last().map(|m| m.id);
        a.max(b)
    }

    /// Whether the log holds no row at all.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.malformed.is_empty()
    }

    /// Appends another log read after this one (keeps `ID` order).
    pub fn extend(&mut self, other: EventLog) {
        self.events.extend(other.events);
        self.malformed.extend(other.malformed);
    }
}
