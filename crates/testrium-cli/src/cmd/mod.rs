//! One module per subcommand; each exposes `main(&GlobalArgs, Args) -> u8` (the exit code).

pub mod check;
pub mod emit;
pub mod gen_template;
pub mod history;
pub mod list;
pub mod report;
pub mod run;
pub mod verify;
pub mod wait;

/// An error and its sources, one line: `outer: cause: root cause` (the one printer every
/// Testrium crate uses).
pub(crate) use testrium_config::error_chain;
