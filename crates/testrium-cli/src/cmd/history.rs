//! `testrium history`.

use crate::args::{GlobalArgs, HistoryArgs};

/// Runs `testrium history` and returns the exit code.
pub fn main(_global: &GlobalArgs, _args: HistoryArgs) -> u8 {
    super::not_yet("history")
}
