//! What goes into and comes out of the direct-tests process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use testrium_config::Group;

use super::error::{PythonError, PythonErrorKind};

/// Input of the direct-tests process (written as JSON by the runner).
///
/// `tests_results(data)` receives the original's summary: the runner's earlier checks
/// (`prior_results`, e.g. the original's `unit_processes` entry) followed by the direct tests,
/// and the required-probe report and correlations. Those two are computed by the Python side
/// from `db` after the tests ran (so probes the tests record count, as in the original) unless
/// the runner gives them here.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct DirectTestsInput {
    /// The group's name.
    pub(crate) group: String,
    /// The run database.
    pub(crate) db: PathBuf,
    /// Every unit with its required probes, in the original's shape.
    pub(crate) units: Vec<RequiredProbes>,
    /// Results that come before the direct tests in `data["tests_results"]`.
    pub(crate) prior_results: Vec<PriorResult>,
    /// `{"completed": [{"unit", "step"}…], "missing": […]}`, when the runner computed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) required: Option<serde_json::Value>,
    /// The original's correlation report, when the runner computed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) correlations: Option<serde_json::Value>,
}

/// A unit's required probes, as the original's `verify_required_events` takes them.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RequiredProbes {
    pub(crate) name: String,
    pub(crate) enabled: bool,
    pub(crate) events: Vec<String>,
}

/// One entry of the original's `tests_results` list (`{"name", "passed", "total_time"}`,
/// and `details` on the `unit_processes` entry).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PriorResult {
    pub(crate) name: String,
    pub(crate) passed: bool,
    /// Seconds.
    pub(crate) total_time: f64,
    /// One `{"name", "passed", "status", "exitcode"}` per started unit, as the original's
    /// `unit_processes` entry had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) details: Option<Vec<UnitDetail>>,
}

/// A started unit in the original's `unit_processes` details.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct UnitDetail {
    pub(crate) name: String,
    pub(crate) passed: bool,
    /// `finished`, `stopped` or `failed`.
    pub(crate) status: String,
    /// The exit code; negative for a signal (as `multiprocessing` reported it); `None` while
    /// running.
    pub(crate) exitcode: Option<i32>,
}

impl PriorResult {
    /// A check that took `duration`.
    pub(crate) fn new(name: impl Into<String>, passed: bool, duration: Duration) -> Self {
        PriorResult {
            name: name.into(),
            passed,
            total_time: duration.as_secs_f64(),
            details: None,
        }
    }

    /// With the per-unit details of the original's `unit_processes` entry.
    #[must_use]
    pub(crate) fn with_details(mut self, details: Vec<UnitDetail>) -> Self {
        self.details = Some(details);
        self
    }
}

impl DirectTestsInput {
    /// The input for `group` whose run database is `db`, with no prior results.
    pub(crate) fn from_group(group: &Group, db: &Path) -> Self {
        DirectTestsInput {
            group: group.name.clone(),
            db: db.to_path_buf(),
            units: group
                .units
                .values()
                .map(|unit| RequiredProbes {
                    name: unit.name.clone(),
                    enabled: unit.enabled,
                    events: unit.events.clone(),
                })
                .collect(),
            prior_results: Vec::new(),
            required: None,
            correlations: None,
        }
    }

    /// Adds an entry before the direct tests in `data["tests_results"]`.
    #[must_use]
    pub(crate) fn prior_result(mut self, result: PriorResult) -> Self {
        self.prior_results.push(result);
        self
    }

    /// Writes the input file (atomically: a reader sees all of it or nothing).
    pub(crate) fn write(&self, path: &Path) -> Result<(), PythonError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| {
            PythonError::new(path, PythonErrorKind::WriteInput(std::io::Error::other(e)))
        })?;
        super::runtime::write_atomically(path, &text)
            .map_err(|e| PythonError::new(path, PythonErrorKind::WriteInput(e)))
    }
}

/// What produced a [`DirectTest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub(crate) enum DirectTestKind {
    /// A `test_*` function.
    Test,
    /// The `tests_results(data)` callback.
    Callback,
    /// Loading one of the group's Python files (it raised on import).
    Load,
}

/// The result of one direct test function or callback.
// TODO: switch to `testrium_verify::DirectTest` once it lands (same fields).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub(crate) struct DirectTest {
    /// The function's name (`test_x`, `module.test_x` when two files define it,
    /// `tests_results`, `load file.py`).
    pub(crate) name: String,
    /// What produced it.
    pub(crate) kind: DirectTestKind,
    /// Whether it passed.
    pub(crate) passed: bool,
    /// How long it ran (including `validate_test`).
    pub(crate) duration: Duration,
    /// Why it failed: the exception, or what a callback returned; then the traceback.
    pub(crate) message: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawResults {
    tests: Vec<RawTest>,
}

#[derive(serde::Deserialize)]
struct RawTest {
    name: String,
    kind: DirectTestKind,
    passed: bool,
    duration: f64,
    message: Option<String>,
    traceback: Option<String>,
}

/// Reads the results the direct-tests process wrote to `path`, in run order.
pub(crate) fn parse_direct_results(path: &Path) -> Result<Vec<DirectTest>, PythonError> {
    let text =
        std::fs::read(path).map_err(|e| PythonError::new(path, PythonErrorKind::ReadResults(e)))?;
    let raw: RawResults = serde_json::from_slice(&text)
        .map_err(|e| PythonError::new(path, PythonErrorKind::ParseResults(e)))?;
    Ok(raw
        .tests
        .into_iter()
        .map(|test| DirectTest {
            name: test.name,
            kind: test.kind,
            passed: test.passed,
            duration: Duration::try_from_secs_f64(test.duration).unwrap_or_default(),
            message: match (test.message, test.traceback) {
                (Some(message), Some(traceback)) => Some(format!("{message}\n{traceback}")),
                (message, traceback) => message.or(traceback),
            },
        })
        .collect())
}
