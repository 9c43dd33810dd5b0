//! Warnings about what a group would start (`testrium check`): a `command` program that does
//! not exist or is not executable, an entrypoint whose module file or function is missing.
//!
//! Warnings, not errors: a setup or an earlier unit may create the program or the file before
//! the unit starts. The checks read the file system the way the orchestrator will: `argv[0]`
//! with a `/` relative to the unit's working directory (`cwd`, default the group folder), a
//! bare name on `PATH` (after the folders the runner puts first); an entrypoint module as a
//! file of the group folder. Whether a function exists is a textual check of the module file.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::check::Draft;
use crate::diagnostic::Diagnostics;
use crate::model::{Launch, Setup};
use crate::names::is_module_name;
use crate::source::{Site, Sources};

/// Warnings for every enabled unit (and a `setup` program) of `draft`.
pub(crate) fn launch_warnings(
    draft: &Draft,
    sources: &Sources,
    path_prepend: &[PathBuf],
) -> Diagnostics {
    let mut warnings = Diagnostics::new();
    let base = draft.dir.parent();
    let warn = |site: &Site, key: &str, message: String, hint: String| {
        sources
            .error(site, message)
            .with_key(key)
            .with_hint(hint)
            .as_warning()
    };
    for draft_unit in draft.units.iter().filter(|u| u.unit.enabled) {
        let unit = &draft_unit.unit;
        let site = draft_unit
            .sites
            .launch
            .as_ref()
            .unwrap_or(&draft_unit.sites.header);
        match &unit.launch {
            Launch::Command(argv) => {
                let Some(program) = argv.first() else {
                    continue;
                };
                let cwd = match &unit.cwd {
                    Some(cwd) => draft.dir.join(cwd),
                    None => draft.dir.clone(),
                };
                let path = unit.env.get("PATH").map(OsString::from);
                let owner = format!("unit `{}`", unit.name);
                if let Some((message, hint)) =
                    program_problem(program, &cwd, path_prepend, path, &owner, base)
                {
                    warnings.push(warn(site, "command", message, hint));
                }
            }
            Launch::Entrypoint { module, function } => {
                if let Some((message, hint)) =
                    entrypoint_problem(&draft.dir, module, function, &unit.name)
                {
                    warnings.push(warn(site, "entrypoint", message, hint));
                }
            }
            _ => {}
        }
    }
    if let (Some(Setup::Command(argv)), Some(site)) = (&draft.setup, &draft.setup_site)
        && let Some(program) = argv.first()
        && let Some((message, hint)) =
            program_problem(program, &draft.dir, path_prepend, None, "`setup`", base)
    {
        warnings.push(warn(site, "setup", message, hint));
    }
    warnings
}

/// What is wrong with `program` as `argv[0]`, if anything: (message, hint).
fn program_problem(
    program: &str,
    cwd: &Path,
    path_prepend: &[PathBuf],
    unit_path: Option<OsString>,
    owner: &str,
    shown_from: Option<&Path>,
) -> Option<(String, String)> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        // `components` drops the `.` of `./x`; shown relative to the base folder, like the
        // diagnostics' file names.
        let path: PathBuf = cwd.join(program).components().collect();
        let shown = shown_from.map_or(path.as_path(), |base| {
            path.strip_prefix(base).unwrap_or(&path)
        });
        let shown = shown.display();
        return match std::fs::metadata(&path) {
            Err(_) => Some((
                format!("command program `{program}` of {owner} does not exist (`{shown}`)"),
                "a path with `/` is relative to the unit's working directory (`cwd`, by \
                 default the group folder); check the spelling, or ignore this if a setup or an \
                 earlier unit creates it"
                    .to_owned(),
            )),
            Ok(m) if m.is_dir() => Some((
                format!("command program `{program}` of {owner} is a folder (`{shown}`)"),
                "name the program inside it".to_owned(),
            )),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => Some((
                format!("command program `{program}` of {owner} is not executable (`{shown}`)"),
                format!(
                    "set its run bit: `chmod +x {shown}`, or start it through its interpreter \
                     (`[\"sh\", \"{program}\"]`)"
                ),
            )),
            Ok(_) => None,
        };
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    match unit_path {
        // A unit's own `PATH` replaces the runner's.
        Some(path) => dirs.extend(std::env::split_paths(&path)),
        None => {
            dirs.extend(path_prepend.iter().cloned());
            if let Some(path) = std::env::var_os("PATH") {
                dirs.extend(std::env::split_paths(&path));
            }
        }
    }
    let mut not_executable = None;
    for dir in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
        let candidate = dir.join(program);
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return None,
            Ok(m) if m.is_file() => {
                not_executable.get_or_insert(candidate);
            }
            _ => {}
        }
    }
    Some(match not_executable {
        Some(found) => (
            format!(
                "command program `{program}` of {owner} is on PATH only as a file that is not \
                 executable (`{}`)",
                found.display()
            ),
            format!("set its run bit: `chmod +x {}`", found.display()),
        ),
        None => (
            format!("command program `{program}` of {owner} is not found on PATH"),
            format!(
                "check the spelling, install it, or write a path (`./{program}` is relative to \
                 the unit's working directory)"
            ),
        ),
    })
}

/// What is wrong with entrypoint `module:function`, if anything: (message, hint).
fn entrypoint_problem(
    group_dir: &Path,
    module: &str,
    function: &str,
    unit: &str,
) -> Option<(String, String)> {
    // As the orchestrator's Python runtime finds it in the group folder: `a.b` is `a/b.py` or
    // the package `a/b/__init__.py`; a name that is not a Python name is the file `<name>.py`.
    let mut base = group_dir.to_path_buf();
    if is_module_name(module) {
        base.extend(module.split('.'));
    } else {
        base.push(module);
    }
    let candidates = [base.with_extension("py"), base.join("__init__.py")];
    let Some(file) = candidates.iter().find(|c| c.is_file()) else {
        let relative = format!("{}.py", module.replace('.', "/"));
        return Some((
            format!(
                "entrypoint module `{module}` of unit `{unit}` has no file in the group folder \
                 (`{relative}`)"
            ),
            "check the spelling; ignore this if the module is installed for the units' \
             interpreter, or created by a setup or an earlier unit"
                .to_owned(),
        ));
    };
    let text = std::fs::read(file).ok()?;
    if defines(&String::from_utf8_lossy(&text), function) {
        return None;
    }
    let shown = file.strip_prefix(group_dir).unwrap_or(file).display();
    Some((
        format!("entrypoint function `{function}` of unit `{unit}` is not defined in `{shown}`"),
        format!(
            "define `def {function}():` in `{shown}`, or fix the name (this check looks for a \
             `def`, an assignment or an import of `{function}` in the file)"
        ),
    ))
}

/// Whether `text` (Python source) textually defines `name`: `def name`, `async def name`,
/// `class name`, `name = …`, `name: … =`, or an import that binds it (`import x as name`,
/// `from x import name`). Deliberately simple: anything that could bind it counts.
fn defines(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        let first_is = |keywords: &[&str]| words.first().is_some_and(|w| keywords.contains(w));
        if first_is(&["def", "class"]) && words.get(1) == Some(&name) {
            return true;
        }
        if first_is(&["async"]) && words.get(1) == Some(&"def") && words.get(2) == Some(&name) {
            return true;
        }
        if first_is(&["import", "from"]) && words.contains(&name) {
            return true;
        }
        // `start as name` (also on the lines of a parenthesised import).
        if words.windows(2).any(|w| w[0] == "as" && w[1] == name) {
            return true;
        }
        // `name = …`, `name: int = …`, `a, name = …`: the word before a lone `=`.
        if let Some(rest) = line.strip_prefix(name) {
            let rest = rest.trim_start();
            if rest.starts_with(':') || (rest.starts_with('=') && !rest.starts_with("==")) {
                return true;
            }
            if rest.starts_with(',') {
                return true;
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textual_definitions() {
        let yes = [
            "def run():",
            "  def run(x):",
            "async def run():",
            "run = other",
            "run: Callable = other",
            "run, stop = make()",
            "from helpers import run",
            "from helpers import (\n    start as run,\n)",
            "import run",
            "class run:",
        ];
        for text in yes {
            assert!(defines(text, "run"), "{text}");
        }
        let no = [
            "def running():",
            "# run the server",
            "rerun = 1",
            "run == 2",
            "print(run)",
            "",
        ];
        for text in no {
            assert!(!defines(text, "run"), "{text}");
        }
    }
}
