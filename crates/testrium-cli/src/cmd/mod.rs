//! One module per subcommand; each exposes `main(&GlobalArgs, Args) -> u8` (the exit code).

pub mod check;
pub mod emit;
pub mod gen_template;
pub mod history;
pub mod report;
pub mod run;
pub mod wait;
