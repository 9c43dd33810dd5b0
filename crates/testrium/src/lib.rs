//! Testrium in one dependency: the layers re-exported under one version, a `cargo test`
//! harness that turns every test group under a folder into a test case ([`harness`]), and a
//! [`Fixture`] that runs a group in the background for the length of a test.
//!
//! The layers, as modules: [`config`] (`testrium-config`: the group model, validation,
//! discovery), [`events`] (`testrium-events`: the run database and the probe API),
//! [`verify`] (`testrium-verify`: events and expectations to a verdict) and [`orchestrator`]
//! (`testrium-orchestrator`: [`Run`], which starts, supervises, tears down and verifies one
//! group). The everyday types are also at the top level: [`Group`] and [`Unit`] (with their
//! builders) to describe a group, [`Run`], [`RunEvent`], [`CancelToken`] and [`GroupOutcome`]
//! to run it, [`Verdict`] and [`Failure`] to read the result, [`Probe`] for units written in
//! Rust, [`TestriumExitCode`] for tools that exit like `testrium`; and [`Fixture`], to keep a
//! group's units up while a test talks to them.
//!
//! # Which `Event` is which
//!
//! - [`Event`] is `testrium_events::Event`: the stored record of one probe (unit, step, type,
//!   key, timestamps, metadata), a row of the run database's `Events` table. The verifier
//!   takes these; [`RunEvent::ProbeRecorded`] carries one.
//! - `testrium-verify` has no event type of its own: it names `testrium_events::Event`, and a
//!   verdict points back at events with [`verify::EventRef`].
//! - [`RunEvent`] (`testrium_orchestrator::RunEvent`) is not a probe: it is what a [`Run`]
//!   tells its observer while it works (a unit changed state, a probe was recorded, an
//!   attempt ended…).
//!
//! # Use it from `cargo test`
//!
//! ```toml
//! [dev-dependencies]
//! testrium = "0.4"
//!
//! [[test]]
//! name = "groups"
//! harness = false
//! ```
//!
//! and in `tests/groups.rs`, every group under `tests/groups/` becomes a test case that
//! `cargo test` and `cargo nextest run` run, filter and list like any other:
//!
//! ```no_run
//! fn main() {
//!     testrium::harness::main("tests/groups");
//! }
//! ```
//!
//! See [`harness`] for what a case does and what units need on their `PATH`.
//!
//! # Example: one group with `Run`
//!
//! ```no_run
//! use std::time::Duration;
//! use testrium::{Group, Run, RunEvent, Unit};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let group = Group::builder("test_echo", "/path/to/test_echo")
//!     .timeout(Duration::from_secs(10))
//!     .unit(Unit::command("server", ["./server"]).ready_event("listening"))
//!     .build()?;
//! let outcome = Run::new(group)
//!     .observer(|event: &RunEvent| eprintln!("{event:?}"))
//!     .execute()?;
//! for attempt in &outcome.attempts {
//!     println!("{}", attempt.verdict.render_text());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Example: a group as a fixture
//!
//! ```no_run
//! use std::time::Duration;
//! use testrium::{Fixture, Group, Unit};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let group = Group::builder("test_api", "/path/to/test_api")
//!     .unit(Unit::command("api", ["./target/debug/api-server"]).ready_event("listening"))
//!     .build()?;
//! let api = Fixture::start(group)?;
//! api.wait_ready(Duration::from_secs(10))?;
//! let listening = api.probe("api", "listening").expect("recorded: the unit is ready");
//! println!("api (pid {:?}) ready at {}", api.pid("api"), listening.time);
//! // … exercise the api …
//! drop(api); // cancels the run and waits until every process it started is gone
//! # Ok(())
//! # }
//! ```
//!
//! # Platform
//!
//! Linux, like `testrium-orchestrator`.
#![warn(missing_docs)]
#![expect(
    clippy::needless_doctest_main,
    reason = "a `harness = false` test file is its `main`: the examples show that whole file"
)]

mod fixture;
pub mod harness;

pub use testrium_config as config;
pub use testrium_events as events;
pub use testrium_orchestrator as orchestrator;
pub use testrium_verify as verify;

pub use crate::fixture::{Fixture, FixtureError, FixtureErrorKind};
pub use testrium_config::{
    Circuit, Contract, Delivery, Diagnostic, Diagnostics, DiscoverOptions, Discovery, Group,
    GroupBuilder, Hop, ProbeRef, Unit, UnitBuilder, discover, load_group,
};
pub use testrium_events::{Event, EventType, Probe, ProbeRecord, RunDb, UnitState};
pub use testrium_orchestrator::{
    AttemptOutcome, CancelToken, EndReason, GroupOutcome, Run, RunError, RunEvent, TestriumExitCode,
};
pub use testrium_verify::{Expectations, Failure, FailureKind, UnitOutcome, Verdict};
