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
//! A [`Verifier`] gives the same verdict fed one event at a time (a runner reads its run
//! database row by row into it): it keeps each event in about 40 bytes, with one copy of each
//! distinct unit, probe and key, instead of the events themselves. With
//! [`VerifyOptions::pair_limit`] it lists only the first pairs
//! ([`CorrelationReport::pairs_omitted`] counts the rest); every count, orphan, duplicate and
//! latency statistic still covers every pair.
//!
//! # A light layer
//!
//! The verifier reads no database and no file. It names the group model
//! ([`Expectations::from_group`] takes a `testrium_config::Group`) and the event types
//! (`testrium_events::Event`), and takes both crates without their default features: its
//! dependency tree holds no SQLite, no TOML parser and no graph library — serde, serde_json,
//! indexmap, strsim, thiserror and libc. A tool that verifies events from elsewhere (another
//! store, a log, a test) builds them with `Event::new` and links only that; a tool that reads a
//! stored run adds `testrium-events` with its `sqlite` feature. Text from units is escaped
//! with `testrium_config::escape_text`, the escaper the command line uses too.
//!
//! # Rules
//!
//! - **Required probes.** Each enabled unit must record each probe in its `events`, under its
//!   own name, with any event type (as the original's `verify_required_events`). Probes of
//!   disabled units are not required.
//! - **Correlation.** `Send` and `Receive` events are paired by event key (events without a
//!   key, or with an empty one, are not correlated). Keys are global: the same key on two
//!   routes is a duplicate. *Fan-out*: a key is sent once and may be received once **by each
//!   receiving unit**, each receive making a pair with the send. A duplicate is a key sent more
//!   than once, or received more than once by the same unit; the earliest send and each unit's
//!   earliest receive are still paired. A key with sends and no receive gives orphan sends;
//!   with receives and no send, orphan receives.
//! - **Latency** of a pair is receive minus send on the monotonic clock when both events have
//!   a monotonic timestamp, else on the wall clock (`Time`). A negative latency (the receive was
//!   recorded first, or the wall clock went backwards) counts as 0 and is reported as a
//!   `negative_latency` warning. Statistics (count, min, mean, nearest-rank p50/p95/p99, max)
//!   are given over all pairs and per route (sending unit → receiving unit).
//! - **Circuits.** Each event of a declared circuit's first hop starts an *instance*; each
//!   next hop is linked to it when its event carries the same key as the instance's last
//!   events, names one of those keys as its `cause` (then only these two rules apply), is
//!   the next event of the unit that recorded the previous hop (program order, first in,
//!   first out), or is reached from the previous hop through events that are no hops (the
//!   host's `response-sent` links its `request-received` to the client's
//!   `response-received`); an event with neither key nor cause, of a hop whose unit differs
//!   from the previous hop's, takes the instance that reached the previous hop first. A
//!   broken instance is `circuit_incomplete` at its first hop never linked (naming the events
//!   of that hop that were recorded but not linked, and how to link them), or
//!   `circuit_out_of_order` when that hop's event came before the previous hop (with by how
//!   much); a hop later than its budget is `hop_over_budget`; first to last hop over the
//!   total budget is `circuit_over_budget`. A circuit without any first-hop event is
//!   incomplete at its first hop. The first 100 broken instances are listed, the rest
//!   counted ([`CircuitReport::violations_omitted`]); latency is over the instances whose
//!   every hop was linked. `docs/CONFIG.md` gives the rules with a round-trip example.
//! - **Delivery contracts.** The `Send` events of a contract's send probe and the `Receive`
//!   events of its receive probe are paired by key and judged by the contract instead of the
//!   correlation rules above (no orphans or duplicates from them). Per key (a re-sent key is
//!   one message): `lost` (sent, never received) fails `exactly-once` and `at-least-once`,
//!   `duplicated` (received more than once) fails `exactly-once` and `at-most-once`, `late`
//!   (first receive more than `within` after the first send) and `unsent` (received, never
//!   sent) always fail. Each [`ContractReport`] counts them and gives the delivery latency
//!   (first send to first receive).
//! - **Units and direct tests.** A unit whose status is [`UnitStatus::Failed`] fails the run
//!   with the kind of its [`UnitFailure`]; a reason on a unit that did not fail (a server that
//!   ignored SIGTERM at teardown) is a `unit_notice` warning. A failed [`DirectTest`] fails
//!   the run.
//! - **Evidence.** `Exception` events are `exception` warnings with the `message` from their
//!   metadata: to stay compatible with the original, they do not fail a run by themselves (a
//!   unit that raises fails through its exit status). Malformed rows fail the run
//!   (`malformed_event`): a row that cannot be read may be the missing receive, and a verdict
//!   must not pass on data it ignored. Events from units not in the group are `unknown_unit`
//!   warnings (when the expectations declare units) and are still correlated. Events recorded
//!   after [`GroupTiming::ended`] are kept, counted like any other and reported as
//!   `late_event` warnings. A group that timed out fails (`group_timeout`).
//!
//! Every list in the verdict has a defined order (config order, key order or event order:
//! wall clock, monotonic clock, id, then the other fields), so the verdict does not depend on
//! the order of the events; every string from a unit is escaped in
//! [`Verdict::render_text`] and in failure messages.
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
mod contracts;
mod correlate;
mod engine;
mod evidence;
mod expect;
mod index;
mod input;
mod probes;
mod render;
mod rows;
mod ser;
mod stats;
mod stream;
mod verdict;

pub use crate::engine::verify;
pub use crate::expect::{
    Expectations, ExpectedCircuit, ExpectedContract, ExpectedHop, ExpectedUnit,
};
pub use crate::input::{
    DirectTest, GroupTiming, UnitFailure, UnitOutcome, UnitStatus, VerifyInput,
};
pub use crate::render::fmt_seconds;
pub use crate::stream::{Verifier, VerifyOptions};
pub use crate::verdict::{
    CircuitReport, CircuitViolation, Clock, ContractReport, CorrelationReport, DuplicateKey,
    EventRef, ExceptionEvidence, Failure, FailureKind, HopReport, InstanceTrace, LatencyReport,
    LatencyStats, Pair, ProbeCheck, ProbeReport, RouteLatency, RunSummary, UnknownUnit, Verdict,
    ViolationKind, Warning, WarningKind,
};
