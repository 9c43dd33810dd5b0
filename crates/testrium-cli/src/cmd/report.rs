//! `testrium report RUN_DIR`: re-renders the reports of a stored run from the `report.json`
//! that `testrium run` left in its run directory, or rebuilds them from what the orchestrator
//! stored in the run database.

use std::io::ErrorKind;
use std::path::Path;

use testrium_orchestrator::{AttemptOutcome, TestriumExitCode};

use crate::args::{GlobalArgs, ReportArgs};
use testrium_events::RunDb;

use crate::cmd::error_chain;
use testrium_report::RunReport;
use testrium_report::{self as report, Format, terminal};
use testrium_report::{REPORT_META_KEY, RUN_DIR_REPORT_HTML, RUN_DIR_REPORT_JSON};

/// Runs `testrium report` and returns the exit code.
pub fn main(global: &GlobalArgs, args: ReportArgs) -> u8 {
    let run = match load(&args.run_dir) {
        Ok(run) => run,
        Err(message) => {
            say!("error: {message}");
            return TestriumExitCode::ENVIRONMENT_ERROR;
        }
    };
    let style = crate::console::style_for_stdout(global.no_color);
    let mut out = std::io::stdout().lock();
    let printed = run
        .groups
        .iter()
        .try_for_each(|g| terminal::write_group(&mut out, g, style))
        .and_then(|()| terminal::write_summary(&mut out, &run, style, global.verbose));
    if let Err(err) = printed
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        say!("error: cannot write to stdout: {err}");
        return TestriumExitCode::ENVIRONMENT_ERROR;
    }
    let html = if args.run_dir.is_dir() {
        Some(args.run_dir.join(RUN_DIR_REPORT_HTML))
    } else {
        None
    };
    let mut code = if run.groups.iter().all(|g| g.passed) && !run.groups.is_empty() {
        TestriumExitCode::SUCCESS
    } else {
        TestriumExitCode::GROUP_FAILED
    };
    let targets = [
        (Format::Html, html),
        (Format::Html, args.html.clone()),
        (Format::Json, args.json.clone()),
        (Format::Junit, args.junit.clone()),
    ];
    for (format, path) in targets {
        let Some(path) = path else { continue };
        if let Err(err) = format.write(&path, &run) {
            say!(
                "error: cannot write the {} report `{}`: {err}",
                format.name(),
                path.display()
            );
            code = TestriumExitCode::ENVIRONMENT_ERROR;
        }
    }
    code
}

/// Reads the stored report of a run directory: `report.json`, else the copy in the run
/// database (`Data.db`, or the path itself when it is a database file), else builds it from
/// the attempt the orchestrator stored there (a run no `testrium run` reported on: a harness
/// embedding `Run`, or a `testrium run` killed before its report was written). The
/// configuration is not known then: see [`report::attempt_report`].
fn load(run_dir: &Path) -> Result<RunReport, String> {
    let path = run_dir.join(RUN_DIR_REPORT_JSON);
    let (text, from) = match std::fs::read_to_string(&path) {
        Ok(text) => (text, path.display().to_string()),
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            let db_path = if run_dir.is_file() {
                run_dir.to_path_buf()
            } else {
                run_dir.join("Data.db")
            };
            if !db_path.is_file() {
                return Err(format!(
                    "`{}` is not a run directory (no `{RUN_DIR_REPORT_JSON}`, no `Data.db`)",
                    run_dir.display()
                ));
            }
            let db = RunDb::open(&db_path)
                .map_err(|e| format!("cannot open `{}`: {}", db_path.display(), error_chain(&e)))?;
            match db.read_meta(REPORT_META_KEY) {
                Some(text) => (text, db_path.display().to_string()),
                // Not reported by `testrium run` (a harness embedding `Run`): rebuild the
                // report from what the orchestrator stored.
                None => {
                    let attempt = AttemptOutcome::read_stored(&db)
                        .map_err(|e| error_chain(&e))?
                        .ok_or_else(|| {
                            format!(
                                "`{}` holds no finished attempt (no stored outcome)",
                                db_path.display()
                            )
                        })?;
                    let report = report::attempt_report(&attempt, None);
                    return Ok(report::attempt_run(&attempt.group, "", report));
                }
            }
        }
        Err(err) => return Err(format!("cannot read `{}`: {err}", path.display())),
    };
    let run = report::json::read(&text).map_err(|err| format!("cannot read `{from}`: {err}"))?;
    if run.schema > report::SCHEMA {
        return Err(format!(
            "`{from}` has report schema {}, newer than this testrium understands ({})",
            run.schema,
            report::SCHEMA
        ));
    }
    Ok(run)
}
