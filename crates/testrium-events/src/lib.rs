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
//! # Features: the vocabulary, the probe side, the whole store
//!
//! | features | what you get | links |
//! |---|---|---|
//! | `default-features = false` | the vocabulary: [`Event`], [`EventType`], [`MalformedEvent`], [`EventLog`], [`UnitState`], [`UnitStateRecord`], the environment contract ([`ENV_EVENT_DB`], [`ENV_UNIT`], …), [`monotonic_ns`], [`PYTHON_EVENTS_MODULE`] | serde, thiserror (libc on unix) |
//! | `default-features = false, features = ["sqlite"]` | also [`Probe`], [`RunDb`], [`History`], [`ChangeWatch`], [`SCHEMA_VERSION`] | the system's `libsqlite3` (>= 3.45.3), dynamically |
//! | default (`sqlite` + `bundled`) | the same, with SQLite compiled in | bundled SQLite (no system library needed) |
//! | `features = ["remote"]` (with `sqlite`) | also `Probe::remote`, and [`Probe::from_env`] over the runner's remote probe API when only [`ENV_EVENT_URL`] is set (a unit on another host) | `ureq` (plain HTTP, no TLS) |
//!
//! Crates that only name events (a verifier, a report writer) take the vocabulary alone. A
//! unit binary that only records probes can take the small probe side, which skips compiling
//! SQLite's C code (~2 MB of binary, seconds of build) and uses the system library:
//!
//! ```toml
//! [dependencies]
//! testrium-events = { version = "0.4", default-features = false, features = ["sqlite"] }
//! ```
//!
//! (`cargo build --no-default-features --features sqlite` does the same from the command
//! line.) The system library must be SQLite 3.45.3 or newer (the oldest `rusqlite` supports;
//! e.g. Debian 13, not Debian 12's 3.40): an older one fails at link time on
//! `sqlite3_set_clientdata`. `SQLITE3_LIB_DIR` (with `SQLITE3_STATIC=1` for a static
//! `libsqlite3.a`) points the build at another copy. Features unify across a build: inside a
//! workspace where another crate takes the defaults, the unit gets the bundled SQLite too.
//! The runner itself uses the defaults.
//!
//! Outside a run, [`Probe::from_env`] is an error, never a side effect: a missing variable is
//! [`ProbeErrorKind::MissingEnv`], and a `TESTRIUM_EVENT_DB` naming a database that does not
//! exist (a stale environment) is [`ProbeErrorKind::DatabaseMissing`] — nothing is created
//! where it points; the runner creates the database before it starts a unit.
//!
//! # Schema
//!
//! `PRAGMA user_version` is `SCHEMA_VERSION`. Version 0 is the original Python Testrium
//! 0.3: `Events(ID, Unit, StepCompleted, EventType, EventKey, Time, Metadata)`,
//! `UnitStatus(Unit, Status, UpdatedAt)`, `Results(ID, TestGroup, Passed, Duration,
//! AverageLatency, Summary, Time)`. Version 1 adds `Events.MonoNs` (CLOCK_MONOTONIC ns, see
//! [`monotonic_ns`]), `Events.Pid`, `UnitStatus.MonoNs`, and the tables
//! `UnitTransitions(ID, Unit, Status, Time, MonoNs)` and `TestriumMeta(Key, Value)`. A
//! version-0 database is migrated by adding columns; nothing is ever renamed or dropped.
//!
//! # Example
//!
//! A unit records probes and waits for another unit's (with the `sqlite` feature):
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use testrium_events::{EventType, Probe, ProbeRecord, RunDb};
//!
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
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```
//!
//! The vocabulary alone (any feature set) builds events in code, e.g. to verify events that
//! came from somewhere else:
//!
//! ```
//! use testrium_events::{Event, EventLog, EventType};
//!
//! let log = EventLog::new(
//!     vec![
//!         Event::new(1, "client", "request-sent", EventType::Send, 10.0).with_key("r1"),
//!         Event::new(2, "server", "request-received", EventType::Receive, 10.2).with_key("r1"),
//!     ],
//!     Vec::new(),
//! );
//! assert_eq!(log.last_id(), Some(2));
//! assert!("Receive".parse::<EventType>().is_ok());
//! ```
#![warn(missing_docs)]

mod env;
#[cfg(feature = "sqlite")]
mod error;
mod event;
#[cfg(feature = "sqlite")]
mod history;
#[cfg(feature = "sqlite")]
mod probe;
mod python;
#[cfg(feature = "sqlite")]
mod read;
#[cfg(feature = "remote")]
mod remote;
#[cfg(feature = "sqlite")]
mod schema;
mod state;
#[cfg(feature = "sqlite")]
mod store;
mod sys;

pub use crate::env::{ENV_EVENT_DB, ENV_EVENT_URL, ENV_GROUP, ENV_RUN_DIR, ENV_TOKEN, ENV_UNIT};
#[cfg(feature = "sqlite")]
pub use crate::error::{ProbeError, ProbeErrorKind, StoreError, StoreErrorKind};
pub use crate::event::{Event, EventLog, EventType, MalformedEvent, UnknownEventType};
#[cfg(feature = "sqlite")]
pub use crate::history::{History, HistoryRecord, Regression, RegressionRule};
#[cfg(feature = "sqlite")]
pub use crate::probe::{Probe, ProbeRecord};
pub use crate::python::PYTHON_EVENTS_MODULE;
#[cfg(feature = "sqlite")]
pub use crate::schema::SCHEMA_VERSION;
pub use crate::state::{UnitState, UnitStateRecord, UnknownUnitState};
#[cfg(feature = "sqlite")]
pub use crate::store::{ChangeWatch, RunDb};
pub use crate::sys::monotonic_ns;
