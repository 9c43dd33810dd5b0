//! What a [`Suite`](crate::Suite) plans, tells and returns.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use testrium_config::Group;

use crate::error::RunError;
use crate::event::RunEvent;
use crate::exit_code::TestriumExitCode;
use crate::outcome::GroupOutcome;
#[cfg(doc)]
use crate::suite::Suite;
use crate::suite::{HistoryError, Partition};

/// What a [`Suite`] will run, decided before anything starts ([`Suite::plan`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SuitePlan {
    /// The base folder (absolute).
    pub base: PathBuf,
    /// The groups to run, sorted by name.
    pub groups: Vec<Group>,
    /// Every other discovered group, and why it will not run.
    pub skipped: Vec<SkippedGroup>,
    /// The partition share, when one was asked for.
    pub partition: Option<Partition>,
    /// How many groups were selected before the partition took its share.
    pub selected: usize,
    pub(crate) started: Instant,
    pub(crate) started_unix_s: f64,
}

impl SuitePlan {
    /// Whether this is a partition share that holds none of the selected groups (more shards
    /// than groups): nothing to run here, and not an error — the exit code is 0.
    pub fn is_empty_share(&self) -> bool {
        self.partition.is_some() && self.selected > 0 && self.groups.is_empty()
    }
}

/// What a [`Suite`] tells its observer.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum SuiteEvent<'a> {
    /// A group is about to run.
    GroupStarted {
        /// The group.
        group: &'a Group,
    },
    /// Something happened in a running group (see [`RunEvent`]).
    Run {
        /// The group's name.
        group: &'a str,
        /// What happened.
        event: &'a RunEvent,
    },
    /// A group is over: its outcome (or why it could not run) and its history recorded.
    GroupFinished {
        /// The group.
        group: &'a Group,
        /// What happened.
        run: &'a GroupRun,
    },
}

/// One group run by a [`Suite`].
#[derive(Debug)]
#[non_exhaustive]
pub struct GroupRun {
    /// The group, as configured.
    pub group: Group,
    /// Its outcome, or why it could not run at all.
    pub result: Result<GroupOutcome, RunError>,
    /// Attempts that could not be recorded in the history (warnings: the run is done).
    pub history_errors: Vec<HistoryError>,
}

impl GroupRun {
    /// A group run with this result, nothing wrong with its history: for tests of code that
    /// renders outcomes.
    pub fn new(group: Group, result: Result<GroupOutcome, RunError>) -> Self {
        GroupRun {
            group,
            result,
            history_errors: Vec::new(),
        }
    }

    /// Whether it ran and passed ([`GroupOutcome::passed`]).
    pub fn passed(&self) -> bool {
        self.result.as_ref().is_ok_and(GroupOutcome::passed)
    }

    /// Whether the group passed only on a retry ([`GroupOutcome::flaky`]).
    pub fn flaky(&self) -> bool {
        self.result.as_ref().is_ok_and(GroupOutcome::flaky)
    }
}

/// Everything a [`Suite`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct SuiteOutcome {
    /// The base folder.
    pub base: PathBuf,
    /// When planning started, Unix seconds.
    pub started_unix_s: f64,
    /// From the start of planning to the end of the last group.
    pub duration: Duration,
    /// The groups that ran (or could not run), in plan order.
    pub groups: Vec<GroupRun>,
    /// Every discovered group that did not run, and why: the plan's, then those not started
    /// because of [`Suite::fail_fast`] or cancellation.
    pub skipped: Vec<SkippedGroup>,
    /// The partition share, when one was asked for.
    pub partition: Option<Partition>,
    /// Whether the cancel token was flipped.
    pub interrupted: bool,
    /// Whether a flaky group (passed only on a retry) fails the suite ([`Suite::flaky_fails`]).
    pub flaky_fails: bool,
}

impl SuiteOutcome {
    /// An outcome in `base` with no group, not interrupted: for tests of code that renders
    /// outcomes.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        SuiteOutcome {
            base: base.into(),
            started_unix_s: 0.0,
            duration: Duration::ZERO,
            groups: Vec::new(),
            skipped: Vec::new(),
            partition: None,
            interrupted: false,
            flaky_fails: false,
        }
    }

    /// The groups that passed only on a retry.
    pub fn flaky_groups(&self) -> impl Iterator<Item = &GroupRun> {
        self.groups.iter().filter(|g| g.flaky())
    }

    /// Whether every group that ran passed and nothing was interrupted (vacuously true for an
    /// empty partition share).
    pub fn passed(&self) -> bool {
        self.exit_code() == TestriumExitCode::SUCCESS
    }

    /// The exit code of the suite, the policy of `testrium run`:
    /// [`INTERRUPTED`](TestriumExitCode::INTERRUPTED) when cancelled, else
    /// [`CONFIG_ERROR`](TestriumExitCode::CONFIG_ERROR) when a group could not run because of
    /// its configuration (a dependency cycle), else
    /// [`ENVIRONMENT_ERROR`](TestriumExitCode::ENVIRONMENT_ERROR) when one could not run for
    /// another reason (a run directory or database), else
    /// [`SUCCESS`](TestriumExitCode::SUCCESS) when every group passed and
    /// [`GROUP_FAILED`](TestriumExitCode::GROUP_FAILED) when one failed — or passed only on a
    /// retry, with [`flaky_fails`](SuiteOutcome::flaky_fails).
    pub fn exit_code(&self) -> u8 {
        let errors = || self.groups.iter().filter_map(|g| g.result.as_ref().err());
        if self.interrupted {
            TestriumExitCode::INTERRUPTED
        } else if errors().any(RunError::is_config_error) {
            TestriumExitCode::CONFIG_ERROR
        } else if errors().next().is_some() {
            TestriumExitCode::ENVIRONMENT_ERROR
        } else if self
            .groups
            .iter()
            .all(|g| g.passed() && !(self.flaky_fails && g.flaky()))
        {
            TestriumExitCode::SUCCESS
        } else {
            TestriumExitCode::GROUP_FAILED
        }
    }
}

/// A discovered group that did not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SkippedGroup {
    /// Folder name.
    pub name: String,
    /// Why, for people: `disabled (`enabled = false`)`, `not selected`, `another partition
    /// than hash:1/3`, `not run (--fail-fast)`…
    pub reason: String,
    /// Why, for programs (`other` in reports written before it existed).
    #[serde(default)]
    pub kind: SkipKind,
}

impl SkippedGroup {
    /// Group `name`, skipped for `reason` of `kind`.
    pub fn new(name: impl Into<String>, reason: impl Into<String>, kind: SkipKind) -> Self {
        SkippedGroup {
            name: name.into(),
            reason: reason.into(),
            kind,
        }
    }
}

/// Why a discovered group did not run. Serialized in snake case (`not_selected`); a kind this
/// version does not know reads as [`SkipKind::Other`].
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipKind {
    /// `enabled = false` in its `config.toml`.
    Disabled,
    /// A hidden folder (`.test_wip/`) that is otherwise a group.
    Hidden,
    /// Excluded by name ([`Suite::exclude`], `--less`).
    Excluded,
    /// Not named ([`Suite::groups`]), or not matching the pattern ([`Suite::pattern`], `-k`).
    NotSelected,
    /// In another partition share.
    Partition,
    /// Its configuration is invalid, and it was not selected.
    Invalid,
    /// Not started: [`Suite::fail_fast`] stopped the suite.
    FailFast,
    /// Not started: the suite was cancelled.
    Interrupted,
    /// A program it `requires` is not installed (the reason names it).
    MissingProgram,
    /// Unknown (a report written before `kind` existed, or by a newer version).
    #[default]
    #[serde(other)]
    Other,
}

impl SkipKind {
    /// Left out by the selection (exclusions, names, pattern, partition, invalid and not
    /// selected): `testrium run` counts these and names them only with `--verbose`. Every
    /// other skipped group is named.
    pub fn by_selection(self) -> bool {
        matches!(
            self,
            SkipKind::Excluded | SkipKind::NotSelected | SkipKind::Partition | SkipKind::Invalid
        )
    }
}
