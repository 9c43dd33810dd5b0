//! `testrium emit`.

use crate::args::{EmitArgs, GlobalArgs};

/// Runs `testrium emit` and returns the exit code.
pub fn main(_global: &GlobalArgs, _args: EmitArgs) -> u8 {
    super::not_yet("emit")
}
