//! Finding the test groups under a base folder.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::load::{Loaded, load};
use crate::model::Group;

/// What [`discover`] looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoverOptions {
    /// Group folder names to leave out (`testrium --less A B run`).
    pub exclude: Vec<String>,
    /// Also warn, in each group's `warnings`, about a `command` program that does not exist
    /// or is not executable and an entrypoint whose module file or function is missing
    /// (`testrium check`). `Some(folders)`: the folders the runner puts before `PATH`.
    pub check_launch: Option<Vec<PathBuf>>,
}

impl DiscoverOptions {
    /// Every group.
    pub fn new() -> Self {
        DiscoverOptions::default()
    }

    /// Leaves out these group folder names.
    #[must_use]
    pub fn exclude<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude.extend(names.into_iter().map(Into::into));
        self
    }

    /// Also warns about programs and entrypoints that do not exist, looking bare program
    /// names up in `path_prepend` and then `PATH`, as the runner will.
    #[must_use]
    pub fn check_launch<I, P>(mut self, path_prepend: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.check_launch = Some(path_prepend.into_iter().map(Into::into).collect());
        self
    }
}

/// The groups under a base folder.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Discovery {
    /// Valid, enabled, not excluded groups, sorted by name.
    pub groups: Vec<Group>,
    /// Groups left out, and why, sorted by name.
    pub skipped: Vec<Skipped>,
    /// Names of the groups that did not validate (their problems are in `diagnostics`).
    pub invalid: Vec<String>,
    /// Every problem of every invalid group, group by group.
    pub diagnostics: Diagnostics,
}

/// A group folder that was found but left out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// The group folder name.
    pub name: String,
    /// Why.
    pub reason: SkipReason,
    /// More about why, e.g. "needs `redis-server`, not found on PATH".
    pub detail: Option<String>,
}

impl Skipped {
    /// The reason as one line, with its detail when there is one.
    pub fn describe(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}: {detail}", self.reason),
            None => self.reason.to_string(),
        }
    }
}

/// Why a group was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// `enabled = false` in its `["Configs"]`.
    Disabled,
    /// Named in [`DiscoverOptions::exclude`] (`--less`).
    Excluded,
    /// A hidden folder (its name starts with `.`, like `.test_wip/`) that is otherwise a
    /// group: it has a `config.toml` and a `units/` folder. Never loaded nor validated.
    Hidden,
    /// A program named in its `requires` is not installed; [`Skipped::detail`] names it.
    MissingProgram,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Disabled => "disabled (`enabled = false`)",
            SkipReason::Excluded => "excluded (`--less`)",
            SkipReason::Hidden => "hidden folder (its name starts with `.`; rename it to run it)",
            SkipReason::MissingProgram => "a program it `requires` is not installed",
        })
    }
}

/// The base folder could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read base folder `{}`", path.display())]
#[non_exhaustive]
pub struct DiscoverError {
    /// The base folder.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub kind: DiscoverErrorKind,
}

/// What went wrong reading the base folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverErrorKind {
    /// It does not exist or cannot be listed.
    #[error("cannot list it")]
    ReadDir(#[source] io::Error),
    /// It is not a folder.
    #[error("it is not a folder")]
    NotADirectory,
}

/// Finds and validates every test group under `base`: each sub-folder whose name contains
/// `test` and that has a `units/` folder, in name order.
///
/// Disabled and excluded groups are listed in [`Discovery::skipped`], and so are hidden
/// folders (`.test_wip/`) that have a `config.toml` and a `units/` folder: they are never run
/// (`.testrium/` holds the runs), but never dropped without a word either. A group that does not
/// validate, and any sub-folder that cannot be read (a symlink loop, no permission), is reported
/// in [`Discovery::diagnostics`] with paths relative to `base`; discovery itself never fails
/// because of one group.
///
/// # Errors
///
/// Only when `base` itself cannot be listed.
pub fn discover(base: &Path, opts: &DiscoverOptions) -> Result<Discovery, DiscoverError> {
    let base_abs = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    let fail = |kind| DiscoverError {
        path: base.to_path_buf(),
        kind,
    };
    let metadata = fs::metadata(&base_abs).map_err(|e| fail(DiscoverErrorKind::ReadDir(e)))?;
    if !metadata.is_dir() {
        return Err(fail(DiscoverErrorKind::NotADirectory));
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(&base_abs).map_err(|e| fail(DiscoverErrorKind::ReadDir(e)))? {
        let entry = entry.map_err(|e| fail(DiscoverErrorKind::ReadDir(e)))?;
        names.push(entry.file_name());
    }
    names.sort();

    let mut discovery = Discovery::default();
    for os_name in names {
        let shown = os_name.to_string_lossy().into_owned();
        if !shown.contains("test") {
            continue;
        }
        let dir = base_abs.join(&os_name);
        if shown.starts_with('.') {
            // Regression (issue 11 item 7): a hidden group was dropped without a word.
            if dir.join("config.toml").is_file() && dir.join("units").is_dir() {
                discovery.skipped.push(Skipped {
                    name: shown,
                    reason: SkipReason::Hidden,
                    detail: None,
                });
            }
            continue;
        }
        let problem = |discovery: &mut Discovery, message: String, hint: Option<String>| {
            discovery.invalid.push(shown.clone());
            discovery
                .diagnostics
                .push(Diagnostic::new(&shown, message).with_hint_opt(hint));
        };
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A dangling symlink.
                problem(
                    &mut discovery,
                    format!("cannot read `{shown}`: {e}"),
                    Some("it is a symbolic link to nothing; remove it".into()),
                );
                continue;
            }
            Err(e) => {
                problem(&mut discovery, format!("cannot read `{shown}`: {e}"), None);
                continue;
            }
        }
        match fs::metadata(dir.join("units")) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                problem(
                    &mut discovery,
                    format!("cannot read `{shown}/units`: {e}"),
                    None,
                );
                continue;
            }
        }
        let Some(name) = os_name.to_str() else {
            problem(
                &mut discovery,
                format!("group folder name `{shown}` is not valid UTF-8"),
                Some("rename the folder: group names are text".into()),
            );
            continue;
        };
        if opts.exclude.iter().any(|e| e == name) {
            discovery.skipped.push(Skipped {
                name: name.to_owned(),
                reason: SkipReason::Excluded,
                detail: None,
            });
            continue;
        }
        match load(
            &dir,
            name,
            Path::new(name),
            true,
            opts.check_launch.as_deref(),
        ) {
            Loaded::Group(group) => match missing_programs(&group) {
                Some(detail) => discovery.skipped.push(Skipped {
                    name: name.to_owned(),
                    reason: SkipReason::MissingProgram,
                    detail: Some(detail),
                }),
                None => discovery.groups.push(*group),
            },
            Loaded::Disabled => discovery.skipped.push(Skipped {
                name: name.to_owned(),
                reason: SkipReason::Disabled,
                detail: None,
            }),
            Loaded::Invalid(diagnostics) => {
                discovery.invalid.push(name.to_owned());
                discovery.diagnostics.extend(diagnostics);
            }
        }
    }
    Ok(discovery)
}

/// "needs `redis-server`, not found on PATH" when a program the group `requires` is missing.
fn missing_programs(group: &Group) -> Option<String> {
    let missing: Vec<String> = group
        .settings
        .requires
        .iter()
        .filter(|program| !program_exists(program, &group.dir))
        .map(|program| format!("`{program}`"))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "needs {}, not found on PATH; install {} to run it",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    ))
}

/// Whether `program` can be run: a path (relative to `dir` when it contains `/`), or an
/// executable file in a folder of `PATH`.
fn program_exists(program: &str, dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(&dir.join(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| executable(&p.join(program))))
}
