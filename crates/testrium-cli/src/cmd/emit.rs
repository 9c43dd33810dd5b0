//! `testrium emit`: record a probe from a shell unit.

use std::path::PathBuf;

use testrium_events::{
    ENV_EVENT_DB, ENV_EVENT_URL, ENV_TOKEN, ENV_UNIT, EventType, Probe, ProbeErrorKind,
    ProbeRecord, StoreErrorKind,
};
use testrium_orchestrator::TestriumExitCode;

use crate::args::{EmitArgs, GlobalArgs};

/// Runs `testrium emit` and returns the exit code: 0 when the probe was recorded,
/// `ENVIRONMENT_ERROR` otherwise (with the reason on stderr).
pub fn main(_global: &GlobalArgs, args: EmitArgs) -> u8 {
    match emit(args) {
        Ok(()) => TestriumExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            TestriumExitCode::ENVIRONMENT_ERROR
        }
    }
}

fn emit(args: EmitArgs) -> Result<(), String> {
    let event_type: EventType = args.event_type.parse().map_err(|e| format!("{e}"))?;
    let db = db_path(args.db)?;
    let unit = match args.unit {
        Some(unit) => unit,
        None => std::env::var(ENV_UNIT)
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| format!("no unit name: pass --unit or set {ENV_UNIT}"))?,
    };
    let mut record = ProbeRecord::new(args.step).event_type(event_type);
    if let Some(key) = args.key {
        record = record.key(key);
    }
    if let Some(cause) = args.cause {
        record = record.cause(cause);
    }
    for entry in &args.meta {
        let (key, value) = entry
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("invalid --meta `{entry}`: expected KEY=VALUE"))?;
        record = record.meta(key, value);
    }
    let probe = db.open(&unit)?;
    probe.record(record).map_err(|e| super::error_chain(&e))?;
    Ok(())
}

/// The run database: `--db`, else `$TESTRIUM_EVENT_DB`.
pub(crate) enum Db {
    /// `--db`: opened, created if missing (a tool that owns the database).
    Arg(PathBuf),
    /// `$TESTRIUM_EVENT_DB`: must exist — the runner creates it before it starts a unit, and a
    /// stale variable must not create folders and a database where it points.
    Env(PathBuf),
    /// No database path but `$TESTRIUM_EVENT_URL` (with `$TESTRIUM_TOKEN`): the runner's
    /// remote probe API, for a unit on another host.
    Remote(String),
}

impl Db {
    pub(crate) fn open(&self, unit: &str) -> Result<Probe, String> {
        let opened = match self {
            Db::Remote(url) => {
                Probe::remote(url, &std::env::var(ENV_TOKEN).unwrap_or_default(), unit)
            }
            Db::Arg(path) => Probe::open(path, unit),
            Db::Env(path) => Probe::open_existing(path, unit).map_err(|e| match e.kind() {
                ProbeErrorKind::Store(store)
                    if matches!(store.kind(), StoreErrorKind::NotFound) =>
                {
                    ProbeErrorKind::DatabaseMissing {
                        var: ENV_EVENT_DB,
                        path: path.clone(),
                    }
                    .into()
                }
                _ => e,
            }),
        };
        opened.map_err(|e| super::error_chain(&e))
    }
}

pub(crate) fn db_path(arg: Option<PathBuf>) -> Result<Db, String> {
    if let Some(path) = arg {
        return Ok(Db::Arg(path));
    }
    if let Some(path) = std::env::var_os(ENV_EVENT_DB).filter(|p| !p.is_empty()) {
        return Ok(Db::Env(PathBuf::from(path)));
    }
    std::env::var(ENV_EVENT_URL)
        .ok()
        .filter(|u| !u.is_empty())
        .map(Db::Remote)
        .ok_or_else(|| {
            format!("no run database: pass --db or set {ENV_EVENT_DB} (or {ENV_EVENT_URL})")
        })
}
