//! `testrium-fixture-harness BASE GROUP_DIR [GRACE_MS]`: a program that embeds
//! `testrium_orchestrator::Run` the way the `testrium` command does, for tests that must
//! signal or SIGKILL the runner itself.
//!
//! SIGINT / SIGTERM flip the run's `CancelToken` (a second one asks to kill at once). Prints
//! `run-dir <path>` when an attempt starts and, at the end, `end interrupted=<bool>
//! passed=<bool>`; exits with the outcome's exit code (130 when interrupted), 3 on a
//! configuration error, 4 when the run could not start.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use testrium_orchestrator::{CancelToken, Run, RunEvent};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(base), Some(group_dir)) = (args.next(), args.next()) else {
        eprintln!("usage: testrium-fixture-harness BASE GROUP_DIR [GRACE_MS]");
        return ExitCode::from(2);
    };
    let grace = args
        .next()
        .and_then(|g| g.to_str().and_then(|g| g.parse::<u64>().ok()))
        .map(Duration::from_millis);
    let group = match testrium_config::load_group(&PathBuf::from(group_dir)) {
        Ok(group) => group,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return ExitCode::from(3);
        }
    };
    let token = CancelToken::new();
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("signals: {e}");
            return ExitCode::from(4);
        }
    };
    let for_signals = token.clone();
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if for_signals.is_cancelled() {
                for_signals.kill_now();
            } else {
                for_signals.cancel();
            }
        }
    });
    let mut run = Run::new(group)
        .base_dir(PathBuf::from(base))
        .cancel(token)
        .observer(|event: &RunEvent| {
            let mut out = std::io::stdout().lock();
            let _ = match event {
                RunEvent::AttemptStarted { run_dir, .. } => {
                    writeln!(out, "run-dir {}", run_dir.display())
                }
                RunEvent::UnitStateChanged {
                    unit, state, pid, ..
                } => {
                    writeln!(out, "state {unit} {state} {}", pid.unwrap_or(0))
                }
                _ => Ok(()),
            };
            let _ = out.flush();
        });
    if let Some(grace) = grace {
        run = run.grace_period(grace);
    }
    match run.execute() {
        Ok(outcome) => {
            // The reader may be gone: never panic on a closed stdout.
            let _ = writeln!(
                std::io::stdout(),
                "end interrupted={} passed={}",
                outcome.interrupted,
                outcome.passed()
            );
            ExitCode::from(outcome.exit_code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_config_error() { 3 } else { 4 })
        }
    }
}
