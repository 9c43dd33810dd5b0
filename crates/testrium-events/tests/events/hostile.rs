//! Rows written straight into `Events` by units: read as evidence, never a failed read.

use testrium_events::{EventType, Probe, RunDb};

use crate::common::TempDir;

fn raw(db: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).expect("open raw");
    conn.execute_batch(sql).expect("raw sql");
}

#[test]
fn hostile_rows_become_malformed_evidence() {
    let dir = TempDir::new("hostile");
    let db = RunDb::create(&dir.db()).expect("create");
    let probe = Probe::open(dir.db(), "good").expect("probe");
    probe.emit("before").expect("emit");
    raw(
        &dir.db(),
        "INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata) VALUES
            (NULL, 's', 'Default', '', 1.0, '{}'),
            ('u', NULL, 'Default', '', 1.0, '{}'),
            ('u', 's', 'Bogus', '', 1.0, '{}'),
            ('u', 's', NULL, '', 1.0, '{}'),
            ('u', 's', 'Default', '', 'yesterday', '{}'),
            ('u', 's', 'Default', '', NULL, '{}'),
            (CAST(x'ff00fe' AS TEXT), 's', 'Default', '', 1.0, '{}'),
            ('u', 's', 'Default', '', x'00', '{}');
         INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata) VALUES
            ('u', 42, 'Default', NULL, '17.5', NULL),
            ('u', 'bad-meta', 'Default', CAST(x'ff' AS TEXT), 2, CAST(x'7bff7d' AS TEXT)),
            ('u', 'huge', 'Default', '', 3, '{\"a\":\"' || hex(zeroblob(600000)) || '\"}');",
    );
    probe.emit("after").expect("emit");

    let log = db
        .read_events()
        .expect("a hostile table never fails the read");
    let reasons: Vec<&str> = log.malformed.iter().map(|m| m.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "Unit is NULL",
            "StepCompleted is NULL",
            "unknown event type `Bogus`",
            "EventType is NULL",
            "Time `yesterday` is not a number",
            "Time is NULL",
            "Unit is not valid UTF-8",
            "Time is a blob",
        ]
    );
    assert_eq!(log.malformed[2].unit.as_deref(), Some("u"));
    assert_eq!(log.malformed[2].step.as_deref(), Some("s"));

    let steps: Vec<&str> = log.events.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(steps, ["before", "42", "bad-meta", "huge", "after"]);
    let numeric = &log.events[1];
    assert_eq!(numeric.time, 17.5);
    assert_eq!(numeric.key, None);
    assert_eq!(numeric.metadata, None);
    assert_eq!(numeric.mono_ns, None);
    let lossy = &log.events[2];
    assert_eq!(lossy.key.as_deref(), Some("\u{fffd}"));
    assert_eq!(lossy.metadata.as_deref(), Some("{\u{fffd}}"));
    let huge = &log.events[3];
    assert_eq!(
        huge.metadata.as_deref(),
        Some("{\"testrium_truncated\":true,\"bytes\":1200008}")
    );
    assert_eq!(log.events[4].event_type, EventType::Default);
    // IDs stay in order across both lists.
    assert!(log.events.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(log.last_id(), Some(log.events[4].id));
}

#[test]
fn a_missing_events_table_reads_as_empty() {
    let dir = TempDir::new("noevents");
    let db = RunDb::create(&dir.db()).expect("create");
    raw(&dir.db(), "DROP TABLE Events");
    assert!(db.read_events().expect("read").is_empty());
    // A probe recreates the table it needs.
    Probe::open(dir.db(), "u")
        .expect("probe")
        .emit("x")
        .expect("emit");
    assert_eq!(db.read_events().expect("read").events.len(), 1);
}
