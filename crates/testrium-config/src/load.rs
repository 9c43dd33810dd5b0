//! Loading one group folder: `config.toml`, `units/*.toml`, `setup.py`.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::check::{self, Draft};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{Group, Setup};
use crate::names::{did_you_mean, unsafe_name_reason};
use crate::parse::{Reader, parse_config, parse_unit};
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
    match load(&dir, &name, Path::new(&name), false) {
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

/// Loads `dir` (absolute) as group `name`, showing paths under `display_dir`.
pub(crate) fn load(dir: &Path, name: &str, display_dir: &Path, skip_disabled: bool) -> Loaded {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::new();

    let config_display = display_dir.join("config.toml");
    let config_text = match read_config_file(&dir.join("config.toml"), &config_display) {
        Ok(text) => text,
        Err(diagnostic) => {
            let hint = if dir.join("config.toml").exists() {
                None
            } else {
                Some("a test group needs a config.toml with a `[\"Configs\"]` table; `testrium gen config-template DIR` writes one".to_owned())
            };
            return Loaded::Invalid((*diagnostic).with_hint_opt(hint).into());
        }
    };
    let config_file = sources.add(config_display, config_text);
    let config = {
        let mut reader = Reader::new(&sources, config_file);
        let config = parse_config(&mut reader, sources.text(config_file));
        diagnostics.extend(reader.diagnostics);
        config
    };
    if skip_disabled && config.enabled == Some(false) {
        return Loaded::Disabled;
    }

    let units_display = display_dir.join("units");
    let unit_files = match list_unit_files(&dir.join("units"), &units_display) {
        Ok((files, problems)) => {
            diagnostics.extend(problems);
            files
        }
        Err(diagnostic) => {
            diagnostics.push(*diagnostic);
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
        if let Some(reason) = unsafe_name_reason(unit_name) {
            diagnostics.push(
                sources
                    .error(
                        site,
                        format!("unit name `{unit_name}` cannot be used: {reason}"),
                    )
                    .with_key("units")
                    .with_hint(
                        "a unit name becomes a file name (units/<name>.toml, logs/<name>.log): \
                         use letters, digits, `-` and `_`",
                    ),
            );
            draft.broken_units.insert(unit_name.clone());
            continue;
        }
        let Some(path) = unit_files.get(unit_name) else {
            let hint = did_you_mean(unit_name, extra.iter().copied()).or_else(|| {
                Some(format!(
                    "create units/{unit_name}.toml with a `[\"{unit_name}\"]` table, or remove \
                     `{unit_name}` from `units`"
                ))
            });
            diagnostics.push(
                sources
                    .error(
                        site,
                        format!(
                            "unit `{unit_name}` is listed in `units` but units/{unit_name}.toml does not exist"
                        ),
                    )
                    .with_key("units")
                    .with_hint_opt(hint),
            );
            draft.broken_units.insert(unit_name.clone());
            continue;
        };
        let display = units_display.join(format!("{unit_name}.toml"));
        let text = match read_config_file(path, &display) {
            Ok(text) => text,
            Err(diagnostic) => {
                diagnostics.push(*diagnostic);
                draft.broken_units.insert(unit_name.clone());
                continue;
            }
        };
        let file = sources.add(display, text);
        let mut reader = Reader::new(&sources, file);
        let parsed = parse_unit(&mut reader, sources.text(file), unit_name);
        diagnostics.extend(reader.diagnostics);
        match parsed {
            Some(unit) => draft.units.push(unit),
            None => {
                draft.broken_units.insert(unit_name.clone());
            }
        }
    }

    let extra = if config.units_known {
        extra
    } else {
        Vec::new()
    };
    for unit_name in extra {
        let Some(path) = unit_files.get(unit_name) else {
            continue;
        };
        let display = units_display.join(format!("{unit_name}.toml"));
        let text = read_config_file(path, &display).unwrap_or_default();
        let span = header_span(&text, unit_name);
        let file = sources.add(display, text);
        let site = Site { file, span };
        diagnostics.push(
            sources
                .error(
                    &site,
                    format!("units/{unit_name}.toml is not listed in `units` of config.toml"),
                )
                .with_key("units")
                .with_hint(format!(
                    "add \"{unit_name}\" to `units` in config.toml, or delete the file"
                )),
        );
    }

    let setup_py = dir.join("setup.py");
    let has_setup_py = setup_py.is_file();
    match config.setup {
        Some((argv, site)) => {
            if has_setup_py {
                diagnostics.push(
                    sources
                        .error(
                            &site,
                            "the group has both `setup` in `[\"Configs\"]` and a setup.py",
                        )
                        .with_key("setup")
                        .with_hint("keep one: remove `setup` or rename setup.py"),
                );
            }
            draft.setup = Some(Setup::Command(argv));
            draft.setup_site = Some(site);
        }
        None if has_setup_py => draft.setup = Some(Setup::PythonMain(setup_py)),
        None => {}
    }

    match check::finish(draft, &sources, diagnostics) {
        Ok(group) => Loaded::Group(Box::new(group)),
        Err(diagnostics) => Loaded::Invalid(diagnostics),
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
