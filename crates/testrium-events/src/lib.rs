//! Testrium event store: the SQLite run database shared by the runner and the units, the probe
//! API units record with, unit lifecycle status, and the history of results.
#![warn(missing_docs)]

mod env;
mod event;

pub use crate::env::{ENV_EVENT_DB, ENV_GROUP, ENV_RUN_DIR, ENV_UNIT};
pub use crate::event::{Event, EventType, MalformedEvent, UnknownEventType};
