//! Error types of the store and of the probe clients.

use std::path::{Path, PathBuf};

/// An operation on a run (or history) database failed. Names the database file.
#[derive(Debug, thiserror::Error)]
#[error("cannot use database `{}`", path.display())]
#[non_exhaustive]
pub struct StoreError {
    path: PathBuf,
    #[source]
    kind: StoreErrorKind,
}

impl StoreError {
    pub(crate) fn new(path: &Path, kind: StoreErrorKind) -> Self {
        StoreError {
            path: path.to_path_buf(),
            kind,
        }
    }

    pub(crate) fn sqlite(path: &Path, action: &'static str, source: rusqlite::Error) -> Self {
        StoreError::new(path, StoreErrorKind::Sqlite { action, source })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong.
    pub fn kind(&self) -> &StoreErrorKind {
        &self.kind
    }

    /// Whether another connection held a lock for longer than the busy timeout
    /// (`SQLITE_BUSY` or `SQLITE_LOCKED`): the operation may succeed if retried later.
    pub fn is_busy(&self) -> bool {
        match &self.kind {
            StoreErrorKind::Sqlite { source, .. } => crate::schema::is_busy(source),
            _ => false,
        }
    }
}

/// What went wrong with a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The folder that should hold the database could not be created (or is not writable).
    #[error("cannot create its folder `{}`", dir.display())]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `RunDb::open` on a file that does not exist.
    #[error("the database file does not exist")]
    NotFound,
    /// An SQLite call failed.
    #[error("cannot {action}")]
    Sqlite {
        /// What was being done, e.g. "open the database" or "insert an event".
        action: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

/// A probe could not be recorded or waited for.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
#[non_exhaustive]
pub struct ProbeError {
    kind: ProbeErrorKind,
}

impl ProbeError {
    /// What went wrong.
    pub fn kind(&self) -> &ProbeErrorKind {
        &self.kind
    }
}

impl From<ProbeErrorKind> for ProbeError {
    fn from(kind: ProbeErrorKind) -> Self {
        ProbeError { kind }
    }
}

impl From<StoreError> for ProbeError {
    fn from(error: StoreError) -> Self {
        ProbeError {
            kind: ProbeErrorKind::Store(error),
        }
    }
}

/// What went wrong with a probe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeErrorKind {
    /// `Probe::from_env` outside a unit started by the runner.
    #[error("environment variable `{var}` is not set (the runner sets it for every unit)")]
    MissingEnv {
        /// The variable, e.g. `TESTRIUM_EVENT_DB`.
        var: &'static str,
    },
    /// `Probe::from_env` where `TESTRIUM_EVENT_DB` names a database that does not exist: the
    /// environment is left over from another run (the runner creates the database before it
    /// starts a unit). Nothing is created there.
    #[error(
        "run database `{}` named by `{var}` does not exist (the runner creates it before it \
         starts a unit; is this environment left over from another run?)",
        path.display()
    )]
    DatabaseMissing {
        /// The variable, `TESTRIUM_EVENT_DB`.
        var: &'static str,
        /// The path it names.
        path: PathBuf,
    },
    /// The unit name is empty or `*` (which means "every unit" to readers).
    #[error("cannot record probes as unit `{unit}`")]
    InvalidUnit {
        /// The rejected name.
        unit: String,
    },
    /// The step (probe name) is empty.
    #[error("the probe name (step) is empty")]
    EmptyStep,
    /// A `Send` or `Receive` probe without an event key.
    #[error("a {event_type} probe requires an event key")]
    KeyRequired {
        /// `Send` or `Receive`.
        event_type: crate::EventType,
    },
    /// Metadata that is not a JSON object.
    #[error("metadata must be a JSON object, not {found}")]
    MetadataNotObject {
        /// The JSON kind given, e.g. "an array".
        found: &'static str,
    },
    /// The runner's remote probe API (`TESTRIUM_EVENT_URL`) could not be reached, or refused.
    #[error("remote probe API `{url}`: {message}")]
    Remote {
        /// The API's address.
        url: String,
        /// What went wrong (the answer's status and text, or the transport's error).
        message: String,
    },
    /// The database could not be used.
    #[error(transparent)]
    Store(StoreError),
}
