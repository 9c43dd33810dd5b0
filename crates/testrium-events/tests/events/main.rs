//! Integration tests of the event store: one test binary for the crate.

mod common;
mod probe;
mod store;
