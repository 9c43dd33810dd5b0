//! Each attempt's own report, kept in its run directory and run database, so `testrium report
//! RUN_DIR` can show it again later.

use std::path::PathBuf;

use testrium_events::RunDb;
use testrium_orchestrator::GroupOutcome;

use crate::build::attempt_run;
use crate::file::write_file;
use crate::model::GroupReport;

/// File name of the report of one attempt in its run directory (JSON, as `--json`).
pub const RUN_DIR_REPORT_JSON: &str = "report.json";
/// File name of the HTML report of one attempt in its run directory.
pub const RUN_DIR_REPORT_HTML: &str = "report.html";
/// Key of the JSON report of one attempt in its run database's meta table.
pub const REPORT_META_KEY: &str = "testrium.report";

/// An attempt's report could not be kept. The run itself is done: a warning, not a failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreReportError {
    /// A report file could not be written.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The report could not be turned into JSON.
    #[error("cannot store the report in the run database")]
    Serialize(#[source] serde_json::Error),
    /// The run database could not be opened or written.
    #[error("cannot store the report in the run database")]
    Database(#[source] Box<testrium_events::StoreError>),
}

/// Keeps each attempt's report alone (as [`attempt_run`] builds it) where `testrium report`
/// finds it: `report.json` and `report.html` in the attempt's run directory, and the JSON in
/// its run database under [`REPORT_META_KEY`]. `report` is the group's report built from
/// `outcome` ([`group_report`](crate::group_report)); `base` the base folder it ran in.
/// Returns what could not be kept, in attempt order.
pub fn store_attempt_reports(
    base: &std::path::Path,
    outcome: &GroupOutcome,
    report: &GroupReport,
) -> Vec<StoreReportError> {
    let mut problems = Vec::new();
    let base = base.display().to_string();
    for (attempt, attempt_report) in outcome.attempts.iter().zip(&report.attempts) {
        let single = attempt_run(&report.name, &base, attempt_report.clone());
        let json = attempt.run_dir.join(RUN_DIR_REPORT_JSON);
        if let Err(source) = write_file(&json, |out| crate::json::write(out, &single)) {
            problems.push(StoreReportError::Write { path: json, source });
        }
        // The same document in the run database, so the database alone can be re-rendered.
        let stored = serde_json::to_string(&single)
            .map_err(StoreReportError::Serialize)
            .and_then(|text| {
                RunDb::open(&attempt.db_path)
                    .and_then(|db| db.write_meta(REPORT_META_KEY, &text))
                    .map_err(|e| StoreReportError::Database(Box::new(e)))
            });
        if let Err(err) = stored {
            problems.push(err);
        }
        let html = attempt.run_dir.join(RUN_DIR_REPORT_HTML);
        if let Err(source) = write_file(&html, |out| crate::html::write(out, &single)) {
            problems.push(StoreReportError::Write { path: html, source });
        }
    }
    problems
}
