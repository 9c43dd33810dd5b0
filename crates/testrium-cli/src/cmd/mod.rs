//! One module per subcommand; each exposes `main(&GlobalArgs, Args) -> u8` (the exit code).

pub mod check;
pub mod emit;
pub mod gen_template;
pub mod history;
pub mod report;
pub mod run;
pub mod wait;

/// An error and its sources, one line: `outer: cause: root cause`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
