//! `testrium report RUN_DIR`: re-renders the reports of a stored run from the `report.json`
//! that `testrium run` left in its run directory, or rebuilds them from what the orchestrator
//! stored in the run database (`testrium_report::read_stored_report`).

use testrium_orchestrator::TestriumExitCode;
use testrium_report::{self as report, Format, RUN_DIR_REPORT_HTML, terminal};

use crate::args::{GlobalArgs, ReportArgs};
use crate::cmd::error_chain;

/// Runs `testrium report` and returns the exit code.
pub fn main(global: &GlobalArgs, args: ReportArgs) -> u8 {
    let run = match report::read_stored_report(&args.run_dir) {
        Ok(run) => run,
        Err(err) => {
            say!("error: {}", error_chain(&err));
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
        (Format::Trace, args.trace.clone()),
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
