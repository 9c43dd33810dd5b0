//! `testrium wait`.

use crate::args::{GlobalArgs, WaitArgs};

/// Runs `testrium wait` and returns the exit code.
pub fn main(_global: &GlobalArgs, _args: WaitArgs) -> u8 {
    super::not_yet("wait")
}
