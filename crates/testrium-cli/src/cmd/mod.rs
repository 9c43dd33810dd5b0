//! One module per subcommand; each exposes `main(&GlobalArgs, Args) -> u8` (the exit code).

pub mod check;
pub mod emit;
pub mod gen_template;
pub mod history;
pub mod report;
pub mod run;
pub mod wait;

/// Prints that a subcommand is not available yet and returns the configuration-error code.
pub(crate) fn not_yet(name: &str) -> u8 {
    eprintln!("error: `testrium {name}` is not implemented yet");
    3
}
