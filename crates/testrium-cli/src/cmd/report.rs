//! `testrium report`.

use crate::args::{GlobalArgs, ReportArgs};

/// Runs `testrium report` and returns the exit code.
pub fn main(_global: &GlobalArgs, _args: ReportArgs) -> u8 {
    super::not_yet("report")
}
