//! `testrium verify RUN_DIR [GROUP_DIR]`: a stored run judged again against the group's
//! current configuration (`testrium_orchestrator::reverify`), starting nothing and writing
//! nothing into the run; the same reports and exit codes as `run`.

use std::path::{Path, PathBuf};

use testrium_config::load_group;
use testrium_orchestrator::{TestriumExitCode, reverify};
use testrium_report::{self as report, Format, sanitize, terminal};

use crate::args::{GlobalArgs, VerifyArgs};
use crate::cmd::error_chain;

/// Runs `testrium verify` and returns the exit code.
pub fn main(global: &GlobalArgs, args: VerifyArgs) -> u8 {
    let group_dir = match args.group_dir.clone() {
        Some(dir) => dir,
        None => match default_group_dir(&args.run_dir) {
            Ok(dir) => dir,
            Err(message) => {
                say!("error: {message}");
                return TestriumExitCode::CONFIG_ERROR;
            }
        },
    };
    let group = match load_group(&group_dir) {
        Ok(group) => group,
        Err(diagnostics) => {
            say!("{diagnostics}");
            say!(
                "error: configuration errors in `{}`; the run was not verified",
                group_dir.display()
            );
            return TestriumExitCode::CONFIG_ERROR;
        }
    };
    if !group.warnings.is_empty() {
        say!("{}", group.warnings);
    }
    let attempt = match reverify(&args.run_dir, &group) {
        Ok(attempt) => attempt,
        Err(err) => {
            say!("error: {}", error_chain(&err));
            return if err.is_group_mismatch() {
                TestriumExitCode::CONFIG_ERROR
            } else {
                TestriumExitCode::ENVIRONMENT_ERROR
            };
        }
    };
    let base = std::path::absolute(&group_dir)
        .ok()
        .and_then(|d| d.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let run = report::attempt_run(
        &group.name,
        &base.display().to_string(),
        report::attempt_report(&attempt, Some(&group)),
    );
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
    let mut code = run.exit_code;
    for (format, path) in [
        (Format::Json, &args.json),
        (Format::Junit, &args.junit),
        (Format::Html, &args.html),
    ] {
        let Some(path) = path else { continue };
        if let Err(err) = format.write(path, &run) {
            say!(
                "error: cannot write the {} report `{}`: {err}",
                format.name(),
                sanitize::terminal(&path.display().to_string())
            );
            code = TestriumExitCode::ENVIRONMENT_ERROR;
        }
    }
    code
}

/// The group of a run directory `<base>/.testrium/runs/<id>`: `<base>/<group>`, the group
/// named in the run's stored outcome.
fn default_group_dir(run_dir: &Path) -> Result<PathBuf, String> {
    let shown = sanitize::terminal(&run_dir.display().to_string()).into_owned();
    let dir = if run_dir.is_file() {
        run_dir.parent().unwrap_or(Path::new("."))
    } else {
        run_dir
    };
    let dir = std::path::absolute(dir).map_err(|e| format!("cannot resolve `{shown}`: {e}"))?;
    let runs = dir
        .parent()
        .filter(|p| p.file_name() == Some("runs".as_ref()));
    let dot = runs
        .and_then(Path::parent)
        .filter(|p| p.file_name() == Some(".testrium".as_ref()));
    let Some(base) = dot.and_then(Path::parent) else {
        return Err(format!(
            "`{shown}` is not in `<base>/.testrium/runs/`, so its group cannot be found; give \
             the group folder: `testrium verify RUN_DIR GROUP_DIR`"
        ));
    };
    let group = stored_group_name(run_dir).map_err(|e| format!("`{shown}`: {e}"))?;
    Ok(base.join(group))
}

/// The group name the run's database stores (read-only).
fn stored_group_name(run_dir: &Path) -> Result<String, String> {
    let db = if run_dir.is_file() {
        run_dir.to_path_buf()
    } else {
        run_dir.join("Data.db")
    };
    if !db.is_file() {
        return Err("it is not a run directory (no `Data.db`)".into());
    }
    let db = testrium_events::RunDb::open_read_only(&db).map_err(|e| error_chain(&e))?;
    match testrium_orchestrator::AttemptOutcome::read_stored(&db) {
        Ok(Some(attempt)) => Ok(attempt.group),
        Ok(None) => Err("it holds no finished attempt (no stored outcome)".into()),
        Err(e) => Err(error_chain(&e)),
    }
}
