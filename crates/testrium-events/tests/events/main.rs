//! Integration tests of the event store: one test binary for the crate.

mod cause;
mod common;
mod errors;
mod history;
mod hostile;
mod migrate;
mod probe;
mod python;
mod store;
mod stress;
