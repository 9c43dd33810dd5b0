//! `testrium gen config-template [DIR]` and the legacy `testrium gen-configs [DIR]`.

use std::io::Write;
use std::path::{Path, PathBuf};

use testrium_config::{load_group, write_template};
use testrium_orchestrator::TestriumExitCode;

use crate::args::{GenArgs, GenDirArgs, GenKind, GlobalArgs};

/// Runs `testrium gen` and returns the exit code.
pub fn main(_global: &GlobalArgs, args: GenArgs) -> u8 {
    match args.kind {
        GenKind::ConfigTemplate => config_template(args.dir),
    }
}

/// Runs the legacy `testrium gen-configs` and returns the exit code.
pub fn legacy(_global: &GlobalArgs, args: GenDirArgs) -> u8 {
    config_template(args.dir)
}

/// Writes the starter group into `dir` (default: the current folder), never overwriting a
/// file, then validates what is there.
fn config_template(dir: Option<PathBuf>) -> u8 {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let report = match write_template(&dir) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {}", super::error_chain(&error));
            return TestriumExitCode::ENVIRONMENT_ERROR;
        }
    };
    let mut out = std::io::stdout().lock();
    for path in &report.written {
        let _ = writeln!(out, "  wrote  {}", path.display());
    }
    for path in &report.existing {
        let _ = writeln!(
            out,
            "   kept  {} (already exists, not overwritten)",
            path.display()
        );
    }
    if let Err(diagnostics) = load_group(&dir) {
        let _ = out.flush();
        eprintln!("{diagnostics}\n");
        eprintln!(
            "error: the group in `{}` does not validate (existing files were kept)",
            dir.display()
        );
        return TestriumExitCode::CONFIG_ERROR;
    }
    if report.written.is_empty() {
        let _ = writeln!(
            out,
            "nothing written: every template file already exists in {}",
            dir.display()
        );
    } else {
        let _ = writeln!(out, "config template generated in {}", dir.display());
    }
    if !group_name_is_discoverable(&dir) {
        let _ = writeln!(
            out,
            "note: `testrium run` finds groups in folders whose name contains `test`; rename the \
             folder (e.g. `test_request_response`) so it is discovered"
        );
    }
    0
}

fn group_name_is_discoverable(dir: &Path) -> bool {
    std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().contains("test")))
        .unwrap_or(false)
}
