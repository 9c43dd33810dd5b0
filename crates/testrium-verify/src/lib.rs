//! Testrium verification: pure functions from expectations and events to a [`Verdict`].
//!
//! Given what a test group expects ([`Expectations`]: required probes per unit, declared
//! circuits) and what a run recorded (its [`Event`](testrium_events::Event)s, malformed rows,
//! the [`UnitOutcome`]s and [`DirectTest`]s the orchestrator observed), [`verify`] decides pass
//! or fail and explains why: required probes completed or missing, Send/Receive correlation
//! (pairs, orphans, duplicate keys, with fan-out allowed: a key may be received once by each
//! receiving unit), latency statistics overall and per route (p50/p95/p99, monotonic clock when
//! available), declared circuits checked for presence, causal order and latency budgets, and
//! evidence (exceptions, late events, events from unknown units). Every failure has a stable
//! [`FailureKind`] id. No I/O, no clocks, no global state; the verdict does not depend on the
//! order of the events.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use testrium_events::{Event, EventType};
//! use testrium_verify::{ExpectedCircuit, Expectations, FailureKind, VerifyInput, verify};
//!
//! let expectations = Expectations::new("request-response")
//!     .unit("source", ["command-sent"])
//!     .unit("target", ["command-received"])
//!     .circuit(
//!         ExpectedCircuit::new("command")
//!             .hop("source", "command-sent")
//!             .hop_within("target", "command-received", Duration::from_millis(10)),
//!     );
//! let events = vec![
//!     Event::new(1, "source", "command-sent", EventType::Send, 100.000)
//!         .with_key("c-1")
//!         .with_mono_ns(1_000_000),
//!     Event::new(2, "target", "command-received", EventType::Receive, 100.002)
//!         .with_key("c-1")
//!         .with_mono_ns(3_000_000),
//! ];
//! let verdict = verify(&VerifyInput::new(&expectations, &events));
//! assert!(verdict.passed());
//! assert_eq!(verdict.correlation.pairs.len(), 1);
//! assert_eq!(verdict.latency.overall.map(|s| s.p50_s), Some(0.002));
//!
//! // Without the receive, the send is an orphan and the probe and circuit hop are missing.
//! let verdict = verify(&VerifyInput::new(&expectations, &events[..1]));
//! assert!(!verdict.passed());
//! assert_eq!(
//!     verdict.failure_kinds(),
//!     [FailureKind::MissingProbe, FailureKind::OrphanSend, FailureKind::CircuitIncomplete]
//! );
//! println!("{}", verdict.render_text());
//! ```
#![warn(missing_docs)]

mod circuits;
mod context;
mod correlate;
mod engine;
mod expect;
mod index;
mod input;
mod render;
mod ser;
mod stats;
mod verdict;

pub use crate::engine::verify;
pub use crate::expect::{Expectations, ExpectedCircuit, ExpectedHop, ExpectedUnit};
pub use crate::input::{
    DirectTest, GroupTiming, UnitFailure, UnitOutcome, UnitStatus, VerifyInput,
};
pub use crate::verdict::{
    CircuitReport, CircuitViolation, Clock, CorrelationReport, DuplicateKey, EventRef,
    ExceptionEvidence, Failure, FailureKind, HopReport, LatencyReport, LatencyStats, Pair,
    ProbeCheck, ProbeReport, RouteLatency, RunSummary, UnknownUnit, Verdict, ViolationKind,
    Warning, WarningKind,
};
