//! The `Cause` column (schema version 2, issue 13): recorded from Rust, Python and metadata,
//! read back by both; databases of version 1 gain the column and their rows still read.

use testrium_events::{EventType, Probe, ProbeRecord, RunDb, SCHEMA_VERSION};

use crate::common::{TempDir, run_python};
use crate::migrate::columns;

#[test]
fn rust_and_python_record_a_cause_and_metadata_counts_as_one() {
    let dir = TempDir::new("cause");
    let db = dir.path().join("run").join("Data.db");
    let probe = Probe::open(&db, "host").expect("probe");
    probe
        .record(
            ProbeRecord::new("response-sent")
                .event_type(EventType::Send)
                .key("resp-7")
                .cause("req-7"),
        )
        .expect("record");
    probe.emit("no-cause").expect("emit");
    // An empty cause is no cause.
    probe
        .record(ProbeRecord::new("empty").cause(""))
        .expect("record");
    run_python(
        dir.path(),
        r#"
from testrium.modules.events import Events_Manager
m = Events_Manager(Unit="py", path="run")
m.Set_Event("response-sent", "Send", event_key="resp-8", cause="req-8")
m.Set_Event("meta-cause", metadata={"cause": "req-9"})
m.Set_Event("plain", note="x")
"#,
    );
    let log = RunDb::open(&db).expect("open").read_events().expect("read");
    let causes: Vec<(&str, Option<&str>)> = log
        .events
        .iter()
        .map(|e| (e.step.as_str(), e.cause.as_deref()))
        .collect();
    assert_eq!(
        causes,
        [
            ("response-sent", Some("req-7")),
            ("no-cause", None),
            ("empty", None),
            ("response-sent", Some("req-8")),
            ("meta-cause", Some("req-9")),
            ("plain", None),
        ]
    );
    // The Python client stores the keyword in the column, not in the metadata.
    assert_eq!(log.events[3].metadata.as_deref(), Some("{}"));
}

#[test]
fn a_version_1_database_gains_the_cause_column_and_its_rows_still_read() {
    let dir = TempDir::new("cause-v1");
    let db = dir.db();
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(
        "CREATE TABLE Events (ID INTEGER PRIMARY KEY AUTOINCREMENT, Unit TEXT,
             StepCompleted TEXT, EventType TEXT, EventKey TEXT, Time NUMBER, Metadata TEXT,
             MonoNs INTEGER DEFAULT NULL, Pid INTEGER DEFAULT NULL);
         INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)
             VALUES ('old', 'sent', 'Send', 'k', 1.5, '{\"cause\": \"req-1\"}');
         PRAGMA user_version = 1;",
    )
    .expect("version 1 schema");
    drop(conn);
    let probe = Probe::open(&db, "new").expect("probe");
    probe
        .record(ProbeRecord::new("got").cause("k"))
        .expect("record");
    assert_eq!(
        columns(&db, "Events").last().map(String::as_str),
        Some("Cause")
    );
    let log = RunDb::open(&db).expect("open").read_events().expect("read");
    let causes: Vec<Option<&str>> = log.events.iter().map(|e| e.cause.as_deref()).collect();
    assert_eq!(causes, [Some("req-1"), Some("k")]);
    let conn = rusqlite::Connection::open(&db).expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
}
