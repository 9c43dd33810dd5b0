//! The starter group written by `testrium gen config-template DIR`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The files of the starter group: path relative to the target folder, and content.
const FILES: &[(&str, &str)] = &[
    ("config.toml", include_str!("../templates/config.toml")),
    (
        "units/source.toml",
        include_str!("../templates/units/source.toml"),
    ),
    (
        "units/target.toml",
        include_str!("../templates/units/target.toml"),
    ),
    ("test_case.py", include_str!("../templates/test_case.py")),
];

/// What [`write_template`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateReport {
    /// Files written, in order.
    pub written: Vec<PathBuf>,
    /// Files that already existed and were left untouched.
    pub existing: Vec<PathBuf>,
}

/// The starter group could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{}`", path.display())]
#[non_exhaustive]
pub struct TemplateError {
    /// The file or folder that could not be written.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// Writes a starter test group into `dir` (created if missing): `config.toml` with every
/// `["Configs"]` key and a `[[circuit]]`, `units/source.toml`, `units/target.toml` and
/// `test_case.py`, a two-unit Python request/response circuit. An existing file is never
/// overwritten; it is listed in [`TemplateReport::existing`].
///
/// # Errors
///
/// When a folder cannot be created or a file cannot be written.
pub fn write_template(dir: &Path) -> Result<TemplateReport, TemplateError> {
    let mut report = TemplateReport::default();
    for (relative, content) in FILES {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| TemplateError {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let fail = |source| TemplateError {
            path: path.clone(),
            source,
        };
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(content.as_bytes()).map_err(fail)?;
                report.written.push(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => report.existing.push(path),
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(report)
}
