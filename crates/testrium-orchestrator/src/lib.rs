//! Testrium orchestrator: runs one test group as real processes; the embeddable `Run`.
#![warn(missing_docs)]

mod exit_code;

pub use crate::exit_code::TestriumExitCode;
