//! The `testrium` command: a thin layer that turns flags into library calls and outcomes into
//! output. Everything it runs lives in the library crates.
#![cfg_attr(
    test,
    expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")
)]

/// `eprintln!` for messages that carry outside text (file names, group names, error chains):
/// control characters and escape sequences are shown escaped, never executed.
/// A closed stderr (terminal gone after SIGHUP) is ignored rather than a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "{}",
            testrium_report::sanitize::lines(&format!($($arg)*))
        );
    }};
}

mod args;
mod cmd;
mod console;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let argv = args::normalize_argv(std::env::args_os().collect());
    let cli = Cli::parse_from(argv);
    let code = match cli.command.clone().unwrap_or_default() {
        Command::Run(run) => cmd::run::main(&cli.global, run),
        Command::Check(check) => cmd::check::main(&cli.global, check),
        Command::Gen(gen_args) => cmd::gen_template::main(&cli.global, gen_args),
        Command::GenConfigs(gen_args) => cmd::gen_template::legacy(&cli.global, gen_args),
        Command::Emit(emit) => cmd::emit::main(&cli.global, emit),
        Command::Wait(wait) => cmd::wait::main(&cli.global, wait),
        Command::Report(report) => cmd::report::main(&cli.global, report),
        Command::Verify(verify) => cmd::verify::main(&cli.global, verify),
        Command::History(history) => cmd::history::main(&cli.global, history),
        Command::List(list) => cmd::list::main(&cli.global, list),
    };
    ExitCode::from(code)
}
