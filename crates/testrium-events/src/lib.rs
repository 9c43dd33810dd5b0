//! Testrium event store: the SQLite run database shared by the runner and the units, the probe
//! API units record with, unit lifecycle status, and the history of results.
//!
//! The schema is the protocol: units in any language write rows into the `Events` table of
//! the run database named by [`ENV_EVENT_DB`]. [`Probe`] is the Rust client (units),
//! [`RunDb`] the runner's handle (schema, readers for the verifier, unit states, metadata),
//! [`History`] the per-base-folder history of results, and [`PYTHON_EVENTS_MODULE`] the
//! source of the standard-library Python client with the original Testrium API. Every client
//! opens the database in WAL mode with `synchronous=NORMAL` and waits up to 30 s for the write
//! lock (in short pauses), so concurrent writers queue instead of losing probes.
//! [`Probe::wait_for`] sleeps until the database's `-wal` file is written (inotify on Linux;
//! elsewhere it polls `PRAGMA data_version` every millisecond) and wakes within a fraction of
//! a millisecond of the awaited probe's commit; [`RunDb::watch_changes`] gives a supervisor
//! the same wake-up as a pollable descriptor ([`ChangeWatch`]).
//!
//! Reading never fails on what units wrote: rows with a NULL unit or step, an unknown type, a
//! non-numeric time or text that is not UTF-8 come back as [`MalformedEvent`]s next to the
//! [`Event`]s of an [`EventLog`]; oversized metadata (over 1 MiB) is replaced by a note of its
//! size.
//!
//! # Schema
//!
//! `PRAGMA user_version` is [`SCHEMA_VERSION`]. Version 0 is the original Python Testrium
//! 0.3: `Events(ID, Unit, StepCompleted, EventType, EventKey, Time, Metadata)`,
//! `UnitStatus(Unit, Status, UpdatedAt)`, `Results(ID, TestGroup, Passed, Duration,
//! AverageLatency, Summary, Time)`. Version 1 adds `Events.MonoNs` (CLOCK_MONOTONIC ns, see
//! [`monotonic_ns`]), `Events.Pid`, `UnitStatus.MonoNs`, and the tables
//! `UnitTransitions(ID, Unit, Status, Time, MonoNs)` and `TestriumMeta(Key, Value)`. A
//! version-0 database is migrated by adding columns; nothing is ever renamed or dropped.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use testrium_events::{EventType, Probe, ProbeRecord, RunDb};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In a unit started by the runner: TESTRIUM_EVENT_DB and TESTRIUM_UNIT are set.
//! let probe = Probe::from_env()?;
//! probe.emit("ready")?;
//! if probe.wait_for("server", "listening", Duration::from_secs(5))? {
//!     probe.send("request-sent", "req-1")?;
//! }
//! probe.record(ProbeRecord::new("done").event_type(EventType::Default).meta("items", 3))?;
//!
//! // In the runner (or a tool), read everything back.
//! let db = RunDb::open(probe.path())?;
//! let log = db.read_events()?;
//! println!("{} events, {} malformed rows", log.events.len(), log.malformed.len());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod env;
mod error;
mod event;
mod history;
mod probe;
mod python;
mod read;
mod schema;
mod store;
mod sys;

pub use crate::env::{ENV_EVENT_DB, ENV_GROUP, ENV_RUN_DIR, ENV_UNIT};
pub use crate::error::{ProbeError, ProbeErrorKind, StoreError, StoreErrorKind};
pub use crate::event::{Event, EventType, MalformedEvent, UnknownEventType};
pub use crate::history::{History, HistoryRecord};
pub use crate::probe::{Probe, ProbeRecord};
pub use crate::python::PYTHON_EVENTS_MODULE;
pub use crate::schema::SCHEMA_VERSION;
pub use crate::store::{
    ChangeWatch, EventLog, RunDb, UnitState, UnitStateRecord, UnknownUnitState,
};
pub use crate::sys::monotonic_ns;
