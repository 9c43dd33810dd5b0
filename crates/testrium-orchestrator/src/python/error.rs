//! Errors of the Python bridge.

use std::path::PathBuf;

/// A failure of the Python bridge, with the file or program it concerns.
#[derive(Debug, thiserror::Error)]
#[error("python bridge: `{}`", path.display())]
#[non_exhaustive]
pub struct PythonError {
    /// The interpreter, package file or results file concerned.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub kind: PythonErrorKind,
}

impl PythonError {
    pub(crate) fn new(path: impl Into<PathBuf>, kind: PythonErrorKind) -> Self {
        PythonError {
            path: path.into(),
            kind,
        }
    }
}

/// What went wrong in the Python bridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PythonErrorKind {
    /// The interpreter could not be started.
    #[error("cannot start the interpreter")]
    Spawn(#[source] std::io::Error),
    /// The interpreter ran but did not report its `sys.executable`.
    #[error("the interpreter did not report sys.executable ({status}): {stderr}")]
    Resolve {
        /// How the interpreter exited.
        status: std::process::ExitStatus,
        /// The end of its standard error.
        stderr: String,
    },
    /// A file of the runner's Python package could not be written.
    #[error("cannot write the runner's python package")]
    WritePackage(#[source] std::io::Error),
    /// The direct-tests input could not be written.
    #[error("cannot write the direct-tests input")]
    WriteInput(#[source] std::io::Error),
    /// The direct-test results could not be read.
    #[error("cannot read the direct-test results")]
    ReadResults(#[source] std::io::Error),
    /// The direct-test results are not the JSON the bootstrap writes.
    #[error("invalid direct-test results")]
    ParseResults(#[source] serde_json::Error),
}
