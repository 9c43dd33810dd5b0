//! Databases written by the original Python Testrium 0.3 (schema version 0).

use testrium_events::{Probe, RunDb, SCHEMA_VERSION};

use crate::common::TempDir;

/// The original package's tables, as its `_ensure_schema` methods create them, with its
/// default rollback journal.
pub const ORIGINAL_SCHEMA: &str = "
    CREATE TABLE Events (ID INTEGER PRIMARY KEY AUTOINCREMENT, Unit TEXT, StepCompleted TEXT,
        EventType TEXT, EventKey TEXT, Time NUMBER, Metadata TEXT);
    CREATE TABLE UnitStatus (Unit TEXT PRIMARY KEY, Status TEXT, UpdatedAt NUMBER);
    CREATE TABLE Results (ID INTEGER PRIMARY KEY AUTOINCREMENT, TestGroup TEXT, Passed INTEGER,
        Duration NUMBER, AverageLatency NUMBER, Summary TEXT, Time NUMBER);
    INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)
        VALUES ('old', 'sent', 'Send', 'k', 1700000000.5, '{\"a\": 1}');
    INSERT INTO UnitStatus VALUES ('old', 'ready', 1700000000.0);";

pub fn columns(db: &std::path::Path, table: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .expect("prepare");
    stmt.query_map([], |r| r.get::<_, String>(1))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn original_database_is_migrated_by_adding_columns() {
    let dir = TempDir::new("migrate");
    rusqlite::Connection::open(dir.db())
        .expect("open")
        .execute_batch(ORIGINAL_SCHEMA)
        .expect("original schema");

    let db = RunDb::open(&dir.db()).expect("open original");
    assert_eq!(
        columns(&dir.db(), "Events"),
        [
            "ID",
            "Unit",
            "StepCompleted",
            "EventType",
            "EventKey",
            "Time",
            "Metadata",
            "MonoNs",
            "Pid",
            "Cause"
        ]
    );
    assert_eq!(
        columns(&dir.db(), "UnitStatus"),
        ["Unit", "Status", "UpdatedAt", "MonoNs"]
    );
    let conn = rusqlite::Connection::open(dir.db()).expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");

    Probe::open(dir.db(), "new")
        .expect("probe")
        .emit("x")
        .expect("emit");
    let log = db.read_events().expect("read");
    assert_eq!(log.malformed, []);
    assert_eq!(log.events.len(), 2);
    assert_eq!(log.events[0].unit, "old");
    assert_eq!(log.events[0].key.as_deref(), Some("k"));
    assert_eq!(log.events[0].mono_ns, None);
    assert_eq!(log.events[0].pid, None);
    assert_eq!(log.events[0].time, 1_700_000_000.5);
    assert!(log.events[1].mono_ns.is_some());
    let states = db.unit_states().expect("states");
    assert_eq!(states[0].unit, "old");
    assert_eq!(states[0].mono_ns, None);
}

#[test]
fn a_newer_schema_version_is_used_as_it_is() {
    let dir = TempDir::new("newer");
    RunDb::create(&dir.db()).expect("create");
    rusqlite::Connection::open(dir.db())
        .expect("open")
        .pragma_update(None, "user_version", SCHEMA_VERSION + 5)
        .expect("bump");
    Probe::open(dir.db(), "u")
        .expect("probe")
        .emit("x")
        .expect("emit");
    assert_eq!(crate::common::stored_rows(&dir.db()), 1);
}
