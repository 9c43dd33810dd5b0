//! `testrium check [BASE]`: discover and validate every group without running anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use testrium_config::{DiscoverOptions, Discovery, Severity, discover};
use testrium_orchestrator::TestriumExitCode;

use crate::args::{CheckArgs, GlobalArgs};
use testrium_report::Style;
use testrium_report::sanitize;

/// Runs `testrium check` and returns the exit code: 3 on any configuration error, 2 when no
/// group is found (or every one is skipped), 0 otherwise.
pub fn main(global: &GlobalArgs, args: CheckArgs) -> u8 {
    let base = args.base.unwrap_or_else(|| PathBuf::from("."));
    // Programs resolve as at run time: the runner puts its own folder (`testrium emit`, sibling
    // binaries) before `PATH`.
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let options = DiscoverOptions::new()
        .exclude(global.less.iter().cloned())
        .check_launch(exe_dir);
    let found = match discover(&base, &options) {
        Ok(found) => found,
        Err(error) => {
            eprintln!("error: {}", sanitize::terminal(&super::error_chain(&error)));
            return TestriumExitCode::CONFIG_ERROR;
        }
    };
    // Output errors (a closed pipe) are not the user's problem: the exit code still tells.
    let _ = print(
        &base,
        &found,
        crate::console::style_for_stdout(global.no_color),
    );
    for name in &global.less {
        if !found.skipped.iter().any(|s| &s.name == name) {
            eprintln!(
                "warning: `--less {}`: no test group has that name",
                sanitize::terminal(name)
            );
        }
    }
    exit_code(&found)
}

/// The exit code for a discovery.
fn exit_code(found: &Discovery) -> u8 {
    if !found.invalid.is_empty() || found.diagnostics.error_count() > 0 {
        TestriumExitCode::CONFIG_ERROR
    } else if found.groups.is_empty() {
        TestriumExitCode::NO_GROUPS
    } else {
        TestriumExitCode::SUCCESS
    }
}

fn print(base: &Path, found: &Discovery, style: Style) -> std::io::Result<()> {
    {
        // Diagnostics render their unit-provided text escaped already.
        let mut err = std::io::stderr().lock();
        if !found.diagnostics.is_empty() {
            writeln!(err, "{}\n", found.diagnostics)?;
        }
        for group in found.groups.iter().filter(|g| !g.warnings.is_empty()) {
            writeln!(err, "{}\n", group.warnings)?;
        }
    }
    let mut out = std::io::stdout().lock();
    let mut lines: Vec<(&str, String)> = Vec::new();
    for group in &found.groups {
        let units = group.units.len();
        let circuits = group.circuits.len();
        let warnings = match group.warnings.len() {
            0 => String::new(),
            n => format!(", {n} warning{}", plural(n)),
        };
        lines.push((
            &group.name,
            format!(
                "     {}  {} ({units} unit{}, {circuits} circuit{}{warnings})",
                style.pass("ok"),
                sanitize::terminal(&group.name),
                plural(units),
                plural(circuits)
            ),
        ));
    }
    for name in &found.invalid {
        let errors = found
            .diagnostics
            .iter()
            .filter(|d| d.path.starts_with(name) && d.severity == Severity::Error)
            .count();
        lines.push((
            name,
            format!(
                "  {}  {} ({errors} problem{})",
                style.fail("error"),
                sanitize::terminal(name),
                plural(errors)
            ),
        ));
    }
    for skipped in &found.skipped {
        lines.push((
            &skipped.name,
            format!(
                "{}  {}: {}",
                style.warn("skipped"),
                sanitize::terminal(&skipped.name),
                skipped.reason
            ),
        ));
    }
    lines.sort_by(|a, b| a.0.cmp(b.0));
    for (_, line) in &lines {
        writeln!(out, "{line}")?;
    }
    let problems = found.diagnostics.error_count();
    if found.groups.is_empty() && found.invalid.is_empty() && found.skipped.is_empty() {
        writeln!(
            out,
            "no test group found in `{}` (a group is a folder whose name contains `test`, with \
             a config.toml and a units/ folder)",
            sanitize::terminal(&base.display().to_string())
        )?;
        return Ok(());
    }
    let problems = if problems == 0 {
        String::new()
    } else {
        format!(" ({problems} problem{})", plural(problems))
    };
    writeln!(
        out,
        "checked {} group{}: {} valid, {} invalid{problems}, {} skipped",
        lines.len(),
        plural(lines.len()),
        found.groups.len(),
        found.invalid.len(),
        found.skipped.len()
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
