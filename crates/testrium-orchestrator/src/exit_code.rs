//! The process exit codes of `testrium`, documented once, here.

/// Exit codes of the `testrium` command (and of harnesses that want to behave the same).
///
/// 0–3 are those of the original Python Testrium and keep their meaning.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TestriumExitCode;

impl TestriumExitCode {
    /// Every selected group passed.
    pub const SUCCESS: u8 = 0;
    /// At least one group failed.
    pub const GROUP_FAILED: u8 = 1;
    /// No test group was found (or every one was excluded).
    pub const NO_GROUPS: u8 = 2;
    /// A configuration error: nothing was started.
    pub const CONFIG_ERROR: u8 = 3;
    /// Testrium itself could not work (a run directory or database it cannot create, a report
    /// it cannot write, a probe that could not be recorded from `testrium emit`).
    pub const ENVIRONMENT_ERROR: u8 = 4;
    /// `testrium wait` gave up: the probe was not recorded within the timeout.
    pub const WAIT_TIMEOUT: u8 = 5;
    /// The run was interrupted (SIGINT or SIGTERM); units were torn down, reports written.
    pub const INTERRUPTED: u8 = 130;
}
