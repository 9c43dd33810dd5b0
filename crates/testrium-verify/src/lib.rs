//! Testrium verification: pure functions from expectations and events to a verdict.
#![warn(missing_docs)]
