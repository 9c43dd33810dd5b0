//! Each attempt's own report, kept in its run directory and run database, so `testrium report
//! RUN_DIR` can show it again later ([`read_stored_report`]).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use testrium_events::RunDb;
use testrium_orchestrator::{AttemptOutcome, GroupOutcome, StoredAttemptError};

use crate::build::{attempt_report, attempt_run};
use crate::file::write_file;
use crate::model::{GroupReport, RunReport, SCHEMA};

/// File name of the report of one attempt in its run directory (JSON, as `--json`).
pub const RUN_DIR_REPORT_JSON: &str = "report.json";
/// File name of the HTML report of one attempt in its run directory.
pub const RUN_DIR_REPORT_HTML: &str = "report.html";
/// File name of the Chrome trace-event JSON of one attempt in its run directory (as `--trace`).
pub const RUN_DIR_TRACE: &str = "trace.json";
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
        let trace = attempt.run_dir.join(RUN_DIR_TRACE);
        if let Err(source) = write_file(&trace, |out| crate::trace::write(out, &single)) {
            problems.push(StoreReportError::Write {
                path: trace,
                source,
            });
        }
    }
    problems
}

/// The report of a run directory could not be read back ([`read_stored_report`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadReportError {
    /// Neither a report file nor a run database is there.
    #[error("`{}` is not a run directory (no `{RUN_DIR_REPORT_JSON}`, no `Data.db`)", path.display())]
    NotARunDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The report file exists but cannot be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The run database cannot be opened.
    #[error("cannot open `{}`", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<testrium_events::StoreError>,
    },
    /// The attempt the orchestrator stored cannot be read.
    #[error(transparent)]
    Stored(StoredAttemptError),
    /// The run database holds no finished attempt.
    #[error("`{}` holds no finished attempt (no stored outcome)", path.display())]
    NoAttempt {
        /// The database file.
        path: PathBuf,
    },
    /// The stored report is not a report of this schema.
    #[error("cannot read `{}`", from.display())]
    Invalid {
        /// Where it was read from (the file, or the run database).
        from: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The stored report was written by a newer Testrium.
    #[error(
        "`{}` has report schema {schema}, newer than this testrium understands ({SCHEMA})",
        from.display()
    )]
    NewerSchema {
        /// Where it was read from.
        from: PathBuf,
        /// Its schema.
        schema: u32,
    },
}

/// Reads the report of a run directory back: its [`RUN_DIR_REPORT_JSON`], else the copy in
/// its run database (`Data.db`; `run_dir` may also be the database file itself) under
/// [`REPORT_META_KEY`], else — a run nobody reported on, such as a harness embedding
/// [`Run`](testrium_orchestrator::Run) — the report rebuilt from the attempt the orchestrator
/// stored there ([`AttemptOutcome::read_stored`]; the configuration is not known then, see
/// [`attempt_report`]). What `testrium report RUN_DIR` shows.
pub fn read_stored_report(run_dir: &Path) -> Result<RunReport, ReadReportError> {
    let path = run_dir.join(RUN_DIR_REPORT_JSON);
    let (text, from) = match std::fs::read_to_string(&path) {
        Ok(text) => (text, path),
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            let db_path = if run_dir.is_file() {
                run_dir.to_path_buf()
            } else {
                run_dir.join("Data.db")
            };
            if !db_path.is_file() {
                return Err(ReadReportError::NotARunDirectory {
                    path: run_dir.to_path_buf(),
                });
            }
            let db = RunDb::open(&db_path).map_err(|e| ReadReportError::Database {
                path: db_path.clone(),
                source: Box::new(e),
            })?;
            match db.read_meta(REPORT_META_KEY) {
                Some(text) => (text, db_path),
                None => {
                    let attempt = AttemptOutcome::read_stored(&db)
                        .map_err(ReadReportError::Stored)?
                        .ok_or(ReadReportError::NoAttempt { path: db_path })?;
                    let report = attempt_report(&attempt, None);
                    return Ok(attempt_run(&attempt.group, "", report));
                }
            }
        }
        Err(source) => return Err(ReadReportError::Read { path, source }),
    };
    let run = crate::json::read(&text).map_err(|source| ReadReportError::Invalid {
        from: from.clone(),
        source,
    })?;
    if run.schema > SCHEMA {
        return Err(ReadReportError::NewerSchema {
            from,
            schema: run.schema,
        });
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "testrium-report-store-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_folder_with_no_report_and_no_database_is_no_run_directory() {
        let dir = temp("empty");
        let err = read_stored_report(&dir).unwrap_err();
        assert!(
            matches!(err, ReadReportError::NotARunDirectory { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .ends_with("is not a run directory (no `report.json`, no `Data.db`)")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_stored_report_reads_back_unless_a_newer_schema_wrote_it() {
        let dir = temp("schema");
        let mut run = crate::fixtures::run();
        let path = dir.join(RUN_DIR_REPORT_JSON);
        write_file(&path, |out| crate::json::write(out, &run)).unwrap();
        assert_eq!(read_stored_report(&dir).unwrap(), run);
        run.schema = SCHEMA + 1;
        write_file(&path, |out| crate::json::write(out, &run)).unwrap();
        let err = read_stored_report(&dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("newer than this testrium understands"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
