//! Testrium reports: the versioned JSON model of a run and the writers for JSON, JUnit XML,
//! HTML, Chrome trace events and the terminal, as functions of the outcomes the orchestrator returns.
//!
//! A report is built once — [`run_report`] from a [`Suite`](testrium_orchestrator::Suite)'s
//! outcome, [`group_report`] from one [`Run`](testrium_orchestrator::Run)'s — into a
//! [`RunReport`], the model `--json` writes (`"schema": 1`, documented field by field in
//! `docs/REPORTS.md`; fields are only ever added, so its types are `#[non_exhaustive]` and
//! built with `Default` and constructors). Every writer renders that model:
//!
//! - [`json`]: [`json::write`] and [`json::read`] (what `testrium report RUN_DIR` reads back);
//! - [`junit`]: [`junit::write`], the dialect GitHub Actions, GitLab and Jenkins read, unit
//!   logs from a [`junit::LogSource`] ([`junit::FileLogs`]: the log files of the run);
//! - [`html`]: [`html::write`], one self-contained page with a timeline of the circuit;
//! - [`trace`]: [`trace::write`], Chrome trace-event JSON for Perfetto UI and
//!   `chrome://tracing` (a track per unit, probes, pairs as flows, circuit instances as spans);
//! - [`terminal`]: [`terminal::write_group`] as each group finishes and
//!   [`terminal::write_summary`], coloured or not ([`Style`]).
//!
//! [`Format::write`] writes a report file whole or not at all ([`write_file`]);
//! [`store_attempt_reports`] keeps each attempt's own report in its run directory and run
//! database, where [`read_stored_report`] (`testrium report RUN_DIR`) finds it. The `testrium` command calls these same
//! functions, so a harness that embeds [`Suite`](testrium_orchestrator::Suite) writes the very
//! reports `testrium run --json F --junit F --html F` writes. Text that units wrote (names,
//! keys, logs) is data in every format: [`sanitize`] makes it inert for each.
//!
//! # Example
//!
//! A renderer tested without running anything: outcomes built by hand, as an embedder's own
//! tests would.
//!
//! ```
//! use testrium_orchestrator::{AttemptOutcome, GroupOutcome};
//! use testrium_report::{Style, json, junit, terminal};
//! use testrium_verify::{Failure, FailureKind, Verdict};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let group = testrium_config::Group::builder("test_checkout", "/base/test_checkout").build()?;
//! let verdict = Verdict::new(
//!     "test_checkout",
//!     [Failure::new(FailureKind::MissingProbe, "unit `api` did not record `order-placed`").unit("api")],
//! );
//! let attempt = AttemptOutcome::new("test_checkout", 1, "/base/.testrium/runs/test_checkout-1", verdict);
//! let outcome = GroupOutcome::new("test_checkout", [attempt]);
//!
//! let mut run = testrium_report::RunReport::new("/base");
//! run.groups.push(testrium_report::group_report(&group, &outcome));
//! run.exit_code = outcome.exit_code();
//!
//! let mut text = Vec::new();
//! terminal::write_group(&mut text, &run.groups[0], Style::PLAIN)?;
//! assert!(String::from_utf8(text)?.starts_with("FAIL test_checkout"));
//!
//! let mut xml = Vec::new();
//! junit::write(&mut xml, &run, &junit::FileLogs)?;
//! assert!(String::from_utf8(xml)?.contains(r#"<failure message="missing_probe: unit `api`"#));
//!
//! let mut doc = Vec::new();
//! json::write(&mut doc, &run)?;
//! assert_eq!(json::read(std::str::from_utf8(&doc)?)?, run);
//! # Ok(())
//! # }
//! ```
//!
//! With real groups, a [`Suite`](testrium_orchestrator::Suite) runs them and [`run_report`]
//! turns its outcome into the report:
//!
//! ```no_run
//! use testrium_orchestrator::Suite;
//! use testrium_report::Format;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let outcome = Suite::new("tests/circuits").jobs(2).run()?;
//! let report = testrium_report::run_report(&outcome);
//! Format::Junit.write("junit.xml".as_ref(), &report)?;
//! Format::Json.write("testrium.json".as_ref(), &report)?;
//! std::process::exit(i32::from(report.exit_code));
//! # }
//! ```
#![warn(missing_docs)]
#![cfg_attr(
    test,
    expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")
)]

mod build;
mod cause;
mod file;
mod model;
mod store;
mod style;

pub mod html;
pub mod json;
pub mod junit;
pub mod sanitize;
pub mod terminal;
pub mod trace;

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
pub(crate) mod fixtures;

pub use crate::build::{
    attempt_report, attempt_run, group_error, group_report, group_run_report, run_report,
};
pub use crate::file::{Format, iso8601, write_file};
pub use crate::model::{
    Arrow, AttemptReport, CircuitReport, ContractReport, Correlation, DirectTestReport, Failure,
    FaultReport, GroupReport, HopStat, InstanceTrace, KeyedProbe, LIST_LIMIT, Latency,
    LifecycleMark, Omitted, ProbeCheck, RootCause, RouteLatency, RunReport, SCHEMA, SkipKind,
    SkippedGroup, TIMELINE_LIMIT, Timeline, TimelineEvent, UnitReport, finite,
};
pub use crate::store::{
    REPORT_META_KEY, RUN_DIR_REPORT_HTML, RUN_DIR_REPORT_JSON, RUN_DIR_TRACE, ReadReportError,
    StoreReportError, read_stored_report, store_attempt_reports,
};
pub use crate::style::Style;
