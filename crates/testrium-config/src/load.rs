//! Loading one group folder: `config.toml`, `units/*.toml`, `setup.py`.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::check::{self, Draft, DraftUnit};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::launch::launch_warnings;
use crate::model::{Group, Setup};
use crate::names::{did_you_mean, unsafe_name_reason};
use crate::parse::{ConfigDraft, Reader, parse_config, parse_unit};
use crate::source::{Site, Sources, read_config_file};

/// Loads and validates the group in folder `dir`, reporting every problem at once.
///
/// Diagnostics name files relative to `dir`'s parent (`test_x/units/source.toml`). A group
/// with `enabled = false` loads normally (`settings.enabled` is false);
/// [`discover`](crate::discover) is what skips disabled groups.
///
/// # Errors
///
/// Every problem found: unreadable or oversized files, TOML syntax, types, ranges, unknown
/// keys, units list against unit files, `init`, dependencies and cycles, circuits.
pub fn load_group(dir: &Path) -> Result<Group, Diagnostics> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "group".to_owned());
    match load(&dir, &name, Path::new(&name), false, None) {
        Loaded::Group(group) => Ok(*group),
        Loaded::Disabled => Err(Diagnostic::new(&name, "group is disabled").into()),
        Loaded::Invalid(diagnostics) => Err(diagnostics),
    }
}

/// What loading a folder gave.
#[derive(Debug)]
pub(crate) enum Loaded {
    Group(Box<Group>),
    /// `enabled = false` and the caller asked to skip disabled groups.
    Disabled,
    Invalid(Diagnostics),
}

/// Loads `dir` (absolute) as group `name`, showing paths under `display_dir`. With
/// `check_launch` (the folders put first on `PATH`), also warns about programs and entrypoints
/// that do not exist ([`launch_warnings`]).
pub(crate) fn load(
    dir: &Path,
    name: &str,
    display_dir: &Path,
    skip_disabled: bool,
    check_launch: Option<&[PathBuf]>,
) -> Loaded {
    let mut loader = Loader {
        sources: Sources::default(),
        diagnostics: Diagnostics::new(),
        warnings: Diagnostics::new(),
        units_display: display_dir.join("units"),
    };
    let config = match loader.read_config(dir, display_dir) {
        Ok(config) => config,
        Err(diagnostic) => return Loaded::Invalid((*diagnostic).into()),
    };
    // A disabled group is skipped without reading its units — but a broken config.toml is
    // still reported (the original refused it too).
    if skip_disabled && config.enabled == Some(false) && loader.diagnostics.is_empty() {
        return Loaded::Disabled;
    }
    let unit_files = match list_unit_files(&dir.join("units"), &loader.units_display) {
        Ok((files, problems)) => {
            loader.diagnostics.extend(problems);
            files
        }
        Err(diagnostic) => {
            loader.diagnostics.push(*diagnostic);
            BTreeMap::new()
        }
    };
    let mut draft = Draft {
        name: name.to_owned(),
        dir: dir.to_path_buf(),
        settings: config.settings,
        site: config.site,
        repeat_site: config.repeat_site,
        units: Vec::new(),
        broken_units: HashSet::new(),
        circuits: config.circuits,
        contracts: config.contracts,
        faults: config.faults,
        setup: None,
        setup_site: None,
    };

    let listed: HashSet<&str> = config.units.iter().map(|(n, _)| n.as_str()).collect();
    let extra: Vec<&str> = unit_files
        .keys()
        .map(String::as_str)
        .filter(|n| !listed.contains(n))
        .collect();
    for (unit_name, site) in &config.units {
        match loader.load_unit(unit_name, site, &unit_files, &extra) {
            Some(unit) => draft.units.push(unit),
            None => {
                draft.broken_units.insert(unit_name.clone());
            }
        }
    }
    // Unit files `units` does not name are extra — unless `units` itself could not be read.
    if config.units_known {
        for unit_name in extra {
            if let Some(path) = unit_files.get(unit_name) {
                loader.report_extra(unit_name, path);
            }
        }
    }
    let setup_py = dir.join("setup.py");
    match config.setup {
        Some((argv, site)) => {
            if setup_py.is_file() {
                let diagnostic = loader
                    .sources
                    .error(
                        &site,
                        "the group has both `setup` in `[\"Configs\"]` and a setup.py",
                    )
                    .with_key("setup")
                    .with_hint("keep one: remove `setup` or rename setup.py");
                loader.diagnostics.push(diagnostic);
            }
            draft.setup = Some(Setup::Command(argv));
            draft.setup_site = Some(site);
        }
        None if setup_py.is_file() => draft.setup = Some(Setup::PythonMain(setup_py)),
        None => {}
    }

    if let Some(path_prepend) = check_launch {
        let warnings = launch_warnings(&draft, &loader.sources, path_prepend);
        loader.warnings.extend(warnings);
    }
    match check::finish(draft, &loader.sources, loader.diagnostics, loader.warnings) {
        Ok(group) => Loaded::Group(Box::new(group)),
        Err(diagnostics) => Loaded::Invalid(diagnostics),
    }
}

/// The files read so far and the problems found in them.
struct Loader {
    sources: Sources,
    diagnostics: Diagnostics,
    warnings: Diagnostics,
    units_display: PathBuf,
}

impl Loader {
    /// Reads and parses `config.toml`; a file that cannot be read ends the load.
    fn read_config(
        &mut self,
        dir: &Path,
        display_dir: &Path,
    ) -> Result<ConfigDraft, Box<Diagnostic>> {
        let display = display_dir.join("config.toml");
        let path = dir.join("config.toml");
        let text = read_config_file(&path, &display).map_err(|diagnostic| {
            let hint = (!path.exists()).then(|| {
                "a test group needs a config.toml with a `[\"Configs\"]` table; \
                 `testrium gen config-template DIR` writes one"
                    .to_owned()
            });
            Box::new(diagnostic.with_hint_opt(hint))
        })?;
        let file = self.sources.add(display, text);
        let mut reader = Reader::new(&self.sources, file);
        let config = parse_config(&mut reader, self.sources.text(file));
        self.diagnostics.extend(reader.diagnostics);
        self.warnings.extend(reader.warnings);
        Ok(config)
    }

    /// Reads unit `name` listed in `units` at `site`; `None` (with diagnostics) when it cannot.
    fn load_unit(
        &mut self,
        name: &str,
        site: &Site,
        unit_files: &BTreeMap<String, PathBuf>,
        extra: &[&str],
    ) -> Option<DraftUnit> {
        if let Some(reason) = unsafe_name_reason(name) {
            let diagnostic = self
                .sources
                .error(site, format!("unit name `{name}` cannot be used: {reason}"))
                .with_key("units")
                .with_hint(
                    "a unit name becomes a file name (units/<name>.toml, logs/<name>.log): \
                     use letters, digits, `-` and `_`",
                );
            self.diagnostics.push(diagnostic);
            return None;
        }
        let Some(path) = unit_files.get(name) else {
            let hint = did_you_mean(name, extra.iter().copied()).unwrap_or_else(|| {
                format!(
                    "create units/{name}.toml with a `[\"{name}\"]` table, or remove `{name}` \
                     from `units`"
                )
            });
            let diagnostic = self
                .sources
                .error(
                    site,
                    format!(
                        "unit `{name}` is listed in `units` but units/{name}.toml does not exist"
                    ),
                )
                .with_key("units")
                .with_hint(hint);
            self.diagnostics.push(diagnostic);
            return None;
        };
        let display = self.units_display.join(format!("{name}.toml"));
        let text = match read_config_file(path, &display) {
            Ok(text) => text,
            Err(diagnostic) => {
                self.diagnostics.push(*diagnostic);
                return None;
            }
        };
        let file = self.sources.add(display, text);
        let mut reader = Reader::new(&self.sources, file);
        let unit = parse_unit(&mut reader, self.sources.text(file), name);
        self.diagnostics.extend(reader.diagnostics);
        self.warnings.extend(reader.warnings);
        unit
    }

    /// Reports `units/<name>.toml`, which `units` does not name, at its table header. A warning,
    /// not an error: the original ignored such files, and groups written for it must run
    /// unchanged.
    fn report_extra(&mut self, name: &str, path: &Path) {
        let display = self.units_display.join(format!("{name}.toml"));
        let text = read_config_file(path, &display).unwrap_or_default();
        let span = header_span(&text, name);
        let file = self.sources.add(display, text);
        let diagnostic = self
            .sources
            .error(
                &Site { file, span },
                format!("units/{name}.toml is not listed in `units` of config.toml"),
            )
            .with_key("units")
            .with_hint(format!(
                "add \"{name}\" to `units` in config.toml, or delete the file; it is ignored"
            ))
            .as_warning();
        self.warnings.push(diagnostic);
    }
}

/// The `*.toml` files of `units/`, by unit name (dot-files are ignored).
fn list_unit_files(
    units_dir: &Path,
    display: &Path,
) -> Result<(BTreeMap<String, PathBuf>, Diagnostics), Box<Diagnostic>> {
    let cannot = |e: std::io::Error| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("`{}` does not exist", display.display())
        } else {
            format!("cannot read `{}`: {e}", display.display())
        };
        Box::new(Diagnostic::new(display, message))
    };
    let mut files = BTreeMap::new();
    let mut problems = Diagnostics::new();
    for entry in fs::read_dir(units_dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            let shown = file_name.to_string_lossy().into_owned();
            if shown.ends_with(".toml") {
                problems.push(
                    Diagnostic::new(
                        display.join(&shown),
                        format!("unit file name `{shown}` is not valid UTF-8"),
                    )
                    .with_hint("rename the file: unit names are text"),
                );
            }
            continue;
        };
        if file_name.starts_with('.') {
            continue;
        }
        let Some(stem) = file_name.strip_suffix(".toml") else {
            continue;
        };
        files.insert(stem.to_owned(), entry.path());
    }
    Ok((files, problems))
}

/// The span of the `[<name>]` header in `text`, if the text parses that far.
fn header_span(text: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let (table, _) = DeTable::parse_recoverable(text);
    table
        .get_ref()
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(k, _)| k.span())
        .or(Some(0..0))
}
