//! Errors that stop a run before or outside the units (a failing unit is an outcome, not an
//! error).

use std::path::PathBuf;

/// A group could not be run. Units already started were torn down before this was returned.
#[derive(Debug, thiserror::Error)]
#[error("cannot run group `{group}`")]
#[non_exhaustive]
pub struct RunError {
    /// The group's name.
    pub group: String,
    /// What went wrong.
    #[source]
    pub kind: RunErrorKind,
}

impl RunError {
    pub(crate) fn new(group: &str, kind: RunErrorKind) -> Self {
        RunError {
            group: group.to_owned(),
            kind,
        }
    }

    /// Whether this is a configuration problem (exit code 3) rather than an environment one.
    pub fn is_config_error(&self) -> bool {
        matches!(self.kind, RunErrorKind::DependencyCycle { .. })
    }
}

/// Why a group could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunErrorKind {
    /// `unit_dependencies` form a cycle; the units along it, the first repeated at the end.
    #[error("dependency cycle: {}", .units.join(" -> "))]
    DependencyCycle {
        /// The units along the cycle, e.g. `["a", "b", "a"]`.
        units: Vec<String>,
    },
    /// The run directory (or its `logs/`) could not be created.
    #[error("cannot create run directory `{path}`")]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The run database could not be created, read or written.
    #[error("run database error")]
    Store {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<testrium_events::StoreError>,
    },
    /// The run's OTLP receiver could not be started (its address taken, its token not
    /// written).
    #[error("cannot start the OTLP receiver: {message}")]
    Receiver {
        /// Why.
        message: String,
    },
    /// The loopback ports the units declared (`ports = [...]`) could not be picked.
    #[error("cannot pick the units' ports: {message}")]
    Ports {
        /// Why.
        message: String,
    },
}

/// The attempt stored in a run database could not be read back
/// ([`AttemptOutcome::read_stored`](crate::AttemptOutcome::read_stored)).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the attempt stored in `{}`", path.display())]
#[non_exhaustive]
pub struct StoredAttemptError {
    /// The run database.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub kind: StoredAttemptErrorKind,
}

impl StoredAttemptError {
    pub(crate) fn new(path: &std::path::Path, kind: StoredAttemptErrorKind) -> Self {
        StoredAttemptError {
            path: path.to_path_buf(),
            kind,
        }
    }
}

/// Why a stored attempt could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoredAttemptErrorKind {
    /// The run database could not be read.
    #[error(transparent)]
    Store(Box<testrium_events::StoreError>),
    /// A stored record is not JSON of the shape this version writes.
    #[error("invalid `{key}` record")]
    Invalid {
        /// Its meta key ([`OUTCOME_META_KEY`](crate::OUTCOME_META_KEY) or
        /// [`VERDICT_META_KEY`](crate::VERDICT_META_KEY)).
        key: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}
