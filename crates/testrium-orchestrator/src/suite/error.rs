//! Why a [`Suite`](crate::Suite) could not plan.

use std::path::PathBuf;

use testrium_config::{Diagnostics, DiscoverError};

use crate::exit_code::TestriumExitCode;
use crate::suite::SkippedGroup;
#[cfg(doc)]
use crate::suite::Suite;

/// A [`Suite`] could not plan: nothing was started.
#[derive(Debug, thiserror::Error)]
#[error("cannot run the test groups in `{}`", base.display())]
#[non_exhaustive]
pub struct SuiteError {
    /// The base folder.
    pub base: PathBuf,
    /// What went wrong.
    #[source]
    pub kind: SuiteErrorKind,
}

impl SuiteError {
    /// The exit code for it: [`NO_GROUPS`](TestriumExitCode::NO_GROUPS) for a name that is no
    /// group and for nothing to run,
    /// [`CONFIG_ERROR`](TestriumExitCode::CONFIG_ERROR) for an unreadable base folder and
    /// invalid selected groups.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            SuiteErrorKind::UnknownGroups { .. } | SuiteErrorKind::NoGroups { .. } => {
                TestriumExitCode::NO_GROUPS
            }
            SuiteErrorKind::Discover(_) | SuiteErrorKind::InvalidGroups { .. } => {
                TestriumExitCode::CONFIG_ERROR
            }
        }
    }
}

/// Why a [`Suite`] could not plan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteErrorKind {
    /// The base folder could not be read.
    #[error(transparent)]
    Discover(DiscoverError),
    /// Groups asked for by name ([`Suite::groups`]) that do not exist.
    #[error("no test group named {}", quoted(.names))]
    UnknownGroups {
        /// The names.
        names: Vec<String>,
    },
    /// Selected groups whose configuration is invalid.
    #[error("configuration errors in {} ({})", plural(.groups.len(), "group"), .groups.join(", "))]
    InvalidGroups {
        /// Their names.
        groups: Vec<String>,
        /// Their problems, with file, line and column.
        diagnostics: Diagnostics,
    },
    /// No group left to run: none found, or every one skipped.
    #[error("no test group to run ({} left out)", .skipped.len())]
    NoGroups {
        /// The groups found, and why each was left out (empty when none was found).
        skipped: Vec<SkippedGroup>,
    },
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
