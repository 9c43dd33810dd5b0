//! `testrium wait`: block until another unit's probe is recorded.

use std::time::Duration;

use testrium_events::ENV_UNIT;
use testrium_orchestrator::TestriumExitCode;

use super::emit::db_path;
use crate::args::{GlobalArgs, WaitArgs};

/// Runs `testrium wait` and returns the exit code: 0 when the probe was recorded,
/// `WAIT_TIMEOUT` when the timeout passed first, `ENVIRONMENT_ERROR` on any other error.
pub fn main(_global: &GlobalArgs, args: WaitArgs) -> u8 {
    let step = args.step.clone();
    let unit = args.unit.clone();
    match wait(args) {
        Ok(true) => TestriumExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: timed out waiting for probe `{step}` of unit `{unit}`");
            TestriumExitCode::WAIT_TIMEOUT
        }
        Err(message) => {
            eprintln!("error: {message}");
            TestriumExitCode::ENVIRONMENT_ERROR
        }
    }
}

fn wait(args: WaitArgs) -> Result<bool, String> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .map_err(|_| format!("invalid --timeout {}: expected seconds >= 0", args.timeout))?;
    let db = db_path(args.db)?;
    // The waiter records nothing; the name only identifies the connection's owner.
    let me = std::env::var(ENV_UNIT)
        .ok()
        .filter(|u| !u.is_empty() && u != "*")
        .unwrap_or_else(|| String::from("testrium-wait"));
    let probe = db.open(&me)?;
    probe
        .wait_for(&args.unit, &args.step, timeout)
        .map_err(|e| super::error_chain(&e))
}
