//! `testrium run`.

use crate::args::{GlobalArgs, RunArgs};

/// Runs `testrium run` and returns the exit code.
pub fn main(_global: &GlobalArgs, _args: RunArgs) -> u8 {
    super::not_yet("run")
}
