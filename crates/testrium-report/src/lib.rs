//! Testrium reports: the versioned JSON model of a run and the writers for JSON, JUnit XML,
//! HTML and the terminal, as functions of the outcomes the orchestrator returns.
//!
//! A report is built once ([`group_report`] from one [`Run`](testrium_orchestrator::Run)'s
//! outcome) into a [`RunReport`] — the model `--json` writes, documented as `"schema": 1` in `docs/REPORTS.md`
//! — and every writer renders that model: [`json`], [`junit`], [`html`], [`terminal`]. The
//! `testrium` command calls these same functions. Text that units wrote (names, keys, logs)
//! is data in every format: [`sanitize`] makes it inert for each.
#![warn(missing_docs)]
#![cfg_attr(
    test,
    expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")
)]

mod build;
mod file;
mod model;
mod store;
mod style;

pub mod html;
pub mod json;
pub mod junit;
pub mod sanitize;
pub mod terminal;

#[cfg(test)]
pub(crate) mod fixtures;

pub use crate::build::{
    attempt_report, attempt_run, group_error, group_report, group_run_report, run_report,
};
pub use crate::file::{Format, iso8601, write_file};
pub use crate::model::{
    Arrow, AttemptReport, CircuitReport, Correlation, DirectTestReport, Failure, GroupReport,
    HopStat, KeyedProbe, LIST_LIMIT, Latency, Omitted, ProbeCheck, RouteLatency, RunReport, SCHEMA,
    SkipKind, SkippedGroup, TIMELINE_LIMIT, Timeline, TimelineEvent, UnitReport, finite,
};
pub use crate::store::{
    REPORT_META_KEY, RUN_DIR_REPORT_HTML, RUN_DIR_REPORT_JSON, StoreReportError,
    store_attempt_reports,
};
pub use crate::style::Style;
