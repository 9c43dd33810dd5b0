//! `testrium check`.

use crate::args::{CheckArgs, GlobalArgs};

/// Runs `testrium check` and returns the exit code.
pub fn main(_global: &GlobalArgs, _args: CheckArgs) -> u8 {
    super::not_yet("check")
}
