//! `testrium gen config-template [DIR]` and the legacy `testrium gen-configs [DIR]`.

use crate::args::{GenArgs, GenDirArgs, GlobalArgs};

/// Runs `testrium gen` and returns the exit code.
pub fn main(_global: &GlobalArgs, _args: GenArgs) -> u8 {
    super::not_yet("gen")
}

/// Runs the legacy `testrium gen-configs` and returns the exit code.
pub fn legacy(_global: &GlobalArgs, _args: GenDirArgs) -> u8 {
    super::not_yet("gen-configs")
}
