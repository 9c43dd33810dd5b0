//! `testrium wait`: block until another unit's probe is recorded.

use std::time::Duration;

use testrium_events::{ENV_UNIT, Event};
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
    if !args.json && args.key.is_none() {
        return probe
            .wait_for(&args.unit, &args.step, timeout)
            .map_err(|e| super::error_chain(&e));
    }
    let event = probe
        .wait_for_event(&args.unit, &args.step, args.key.as_deref(), timeout)
        .map_err(|e| super::error_chain(&e))?;
    let Some(event) = event else {
        return Ok(false);
    };
    if args.json {
        println!("{}", event_json(&event));
    }
    Ok(true)
}

/// The event as the one JSON object `--json` prints: `unit`, `step`, `type`, `key`, `time`,
/// `metadata` (an object; `{}` when the row has none or it is not a JSON object).
fn event_json(event: &Event) -> serde_json::Value {
    let metadata = event
        .metadata
        .as_deref()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    serde_json::json!({
        "unit": event.unit,
        "step": event.step,
        "type": event.event_type.as_str(),
        "key": event.key,
        "time": event.time,
        "metadata": metadata,
    })
}
