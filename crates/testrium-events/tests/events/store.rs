//! `RunDb`: schema, readers, unit states, metadata.

use testrium_events::{EventType, Probe, RunDb, SCHEMA_VERSION, UnitState};

use crate::common::TempDir;

fn pragma(path: &std::path::Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
        .map(|v| format!("{v:?}"))
        .expect("pragma")
}

#[test]
fn create_sets_wal_and_schema_version() {
    let dir = TempDir::new("create");
    let db = RunDb::create(&dir.db()).expect("create");
    assert_eq!(db.path(), dir.db());
    assert_eq!(pragma(&dir.db(), "journal_mode"), r#"Text("wal")"#);
    assert_eq!(
        pragma(&dir.db(), "user_version"),
        format!("Integer({SCHEMA_VERSION})")
    );
}

/// The schema as SQLite keeps it, the journal mode and the schema version.
fn layout(path: &std::path::Path) -> (Vec<String>, String, String) {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .expect("prepare");
    let sql = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    (
        sql,
        pragma(path, "journal_mode"),
        pragma(path, "user_version"),
    )
}

/// Issue 15: `create_in_cache` keeps an empty database in the cache on its first call and
/// copies it on later ones; a copy is what `create` makes (same schema, journal mode, version,
/// no rows) and takes probes. A broken file where the cache's database should be is never a
/// broken run database: the database is created as `create` does.
#[test]
fn create_in_cache_copies_an_empty_database_kept_in_the_cache() {
    let dir = TempDir::new("create-cached");
    let cache = dir.path().join("cache");
    let reference = dir.path().join("reference/Data.db");
    drop(RunDb::create(&reference).expect("create"));
    let first = dir.path().join("first/Data.db");
    drop(RunDb::create_in_cache(&first, &cache).expect("first"));
    let kept: Vec<_> = std::fs::read_dir(&cache)
        .expect("cache")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let second = dir.path().join("second/Data.db");
    let db = RunDb::create_in_cache(&second, &cache).expect("second");
    for made in [&first, &second] {
        assert_eq!(layout(made), layout(&reference));
    }
    assert_eq!(db.read_events().expect("read").events, []);
    Probe::open(&second, "u")
        .expect("probe")
        .emit("on-a-copy")
        .expect("emit");
    assert_eq!(db.read_events().expect("read").events[0].step, "on-a-copy");
    // The kept database replaced by something that is not one.
    std::fs::write(&kept[0], b"not a database").expect("spoil");
    let third = dir.path().join("third/Data.db");
    drop(RunDb::create_in_cache(&third, &cache).expect("third"));
    assert_eq!(layout(&third), layout(&reference));
    assert_eq!(
        layout(&kept[0]),
        layout(&reference),
        "a good one is kept again"
    );
}

/// Issue 15: the runner writes a turn's state changes in one commit; each keeps the time it
/// was entered (not the time of the commit), in order.
#[test]
fn set_unit_states_keeps_each_change_with_its_own_time_in_order() {
    use testrium_events::UnitStateRecord;

    let dir = TempDir::new("states-batch");
    let db = RunDb::create(&dir.db()).expect("create");
    let records = [
        UnitStateRecord::new("a", UnitState::Starting, 10.0, Some(1_000)),
        UnitStateRecord::new("a", UnitState::Ready, 11.0, Some(2_000)),
        UnitStateRecord::new("b", UnitState::Starting, 12.0, None),
    ];
    db.set_unit_states(&records).expect("write");
    db.set_unit_states(&[]).expect("nothing to write");
    assert_eq!(db.unit_transitions().expect("transitions"), records);
    assert_eq!(
        db.unit_states().expect("states"),
        [records[1].clone(), records[2].clone()]
    );
}

#[test]
fn events_round_trip_in_id_order() {
    let dir = TempDir::new("roundtrip");
    let db = RunDb::create(&dir.db()).expect("create");
    let probe = Probe::open(dir.db(), "source").expect("probe");
    let a = probe.emit("started").expect("emit");
    let b = probe.send("sent", "k1").expect("send");
    let log = db.read_events().expect("read");
    assert_eq!(log.malformed, []);
    assert_eq!(log.events.len(), 2);
    assert_eq!(log.events[0].id, a);
    assert_eq!(log.events[0].step, "started");
    assert_eq!(log.events[0].key, None);
    assert_eq!(log.events[1].id, b);
    assert_eq!(log.events[1].event_type, EventType::Send);
    assert_eq!(log.events[1].key.as_deref(), Some("k1"));
    assert_eq!(log.events[1].pid, Some(i64::from(std::process::id())));
    assert!(log.events[1].mono_ns.is_some());
    assert_eq!(log.events[1].metadata.as_deref(), Some("{}"));
    let after = db.read_events_after(a).expect("read after");
    assert_eq!(after.events.len(), 1);
    assert_eq!(after.events[0].id, b);
    assert_eq!(log.last_id(), Some(b));
}

#[test]
fn unit_states_and_transitions() {
    let dir = TempDir::new("states");
    let db = RunDb::create(&dir.db()).expect("create");
    db.set_unit_state("b", UnitState::Starting).expect("set");
    db.set_unit_state("a", UnitState::Starting).expect("set");
    db.set_unit_state("b", UnitState::Ready).expect("set");
    let states: Vec<_> = db
        .unit_states()
        .expect("states")
        .into_iter()
        .map(|r| (r.unit, r.state))
        .collect();
    assert_eq!(
        states,
        [
            ("a".into(), UnitState::Starting),
            ("b".into(), UnitState::Ready)
        ]
    );
    let transitions: Vec<_> = db
        .unit_transitions()
        .expect("transitions")
        .into_iter()
        .map(|r| (r.unit, r.state))
        .collect();
    assert_eq!(
        transitions,
        [
            ("b".into(), UnitState::Starting),
            ("a".into(), UnitState::Starting),
            ("b".into(), UnitState::Ready)
        ]
    );
}

#[test]
fn meta_round_trip() {
    let dir = TempDir::new("meta");
    let db = RunDb::create(&dir.db()).expect("create");
    assert_eq!(db.read_meta("outcome"), None);
    db.write_meta("outcome", "{\"a\":1}").expect("write");
    db.write_meta("outcome", "{\"a\":2}").expect("write");
    assert_eq!(db.read_meta("outcome").as_deref(), Some("{\"a\":2}"));
}

#[test]
fn meta_json_is_streamed_as_the_same_text() {
    let dir = TempDir::new("meta-json");
    let db = RunDb::create(&dir.db()).expect("create");
    // Large enough to span many pages, with text that needs escaping.
    let value: Vec<(u32, String)> = (0..20_000).map(|i| (i, format!("k\"{i}\u{e9}"))).collect();
    db.write_meta_json("verdict", &value).expect("write");
    let text = serde_json::to_string(&value).expect("serialize");
    assert_eq!(db.read_meta("verdict").as_deref(), Some(text.as_str()));
    // Replaced by a shorter value, then by plain text.
    db.write_meta_json("verdict", &[1, 2]).expect("write");
    assert_eq!(db.read_meta("verdict").as_deref(), Some("[1,2]"));
    db.write_meta("verdict", "{}").expect("write");
    assert_eq!(db.read_meta("verdict").as_deref(), Some("{}"));
    // Other keys are untouched.
    db.write_meta_json("outcome", &"x").expect("write");
    assert_eq!(db.read_meta("outcome").as_deref(), Some("\"x\""));
    assert_eq!(db.read_meta("verdict").as_deref(), Some("{}"));
}

#[test]
fn data_version_changes_on_other_connections_commit() {
    let dir = TempDir::new("version");
    let db = RunDb::create(&dir.db()).expect("create");
    let before = db.data_version().expect("version");
    assert_eq!(db.data_version().expect("version"), before);
    Probe::open(dir.db(), "u")
        .expect("probe")
        .emit("x")
        .expect("emit");
    assert_ne!(db.data_version().expect("version"), before);
}

#[cfg(target_os = "linux")]
#[test]
fn watch_changes_wakes_on_another_connections_commit() {
    use std::time::Duration;

    let dir = TempDir::new("watch");
    let db = RunDb::create(&dir.db()).expect("create");
    let probe = Probe::open(dir.db(), "u").expect("probe");
    probe.emit("first").expect("emit");
    let watch = db.watch_changes().expect("inotify on Linux");
    watch.drain();
    let before = db.data_version().expect("version");
    assert!(!watch.wait(Duration::ZERO));
    probe.emit("second").expect("emit");
    assert!(watch.wait(Duration::from_secs(30)));
    assert_ne!(db.data_version().expect("version"), before);
    assert!(!watch.drain(), "drained by wait");
}

/// Regression (issue 15): writers committing without a pause never let the write-ahead log
/// restart (712 MB in a 200,000-probe flood). `restart_wal_above` restarts it: what follows is
/// written from its beginning, so it stops growing; and a watch on the log, taken before the
/// restart, still wakes on the next commit.
#[cfg(target_os = "linux")]
#[test]
fn restart_wal_above_restarts_the_log_and_a_watch_still_wakes() {
    use std::time::Duration;

    let dir = TempDir::new("wal-restart");
    let mut db = RunDb::create(&dir.db()).expect("create");
    let probe = Probe::open(dir.db(), "u").expect("probe");
    let watch = db.watch_changes().expect("inotify on Linux");
    let batch = |tag: &str| {
        for i in 0..300 {
            probe.emit(&format!("{tag}-{i}")).expect("emit");
        }
    };
    batch("before");
    let grown = db.wal_size();
    assert!(
        grown > 300 * 4096,
        "the log holds a page per commit: {grown}"
    );
    assert!(
        !db.restart_wal_above(u64::MAX, std::time::Duration::from_secs(30))
            .expect("checkpoint")
    );
    assert!(
        db.restart_wal_above(0, std::time::Duration::from_secs(30))
            .expect("checkpoint")
    );
    watch.drain();
    let before = db.data_version().expect("version");
    probe.emit("after").expect("emit");
    assert!(watch.wait(Duration::from_secs(30)), "the wake-up was lost");
    assert_ne!(db.data_version().expect("version"), before);
    let log = db.read_events().expect("read");
    assert_eq!(log.events.len(), 301);
    assert_eq!(log.events[300].step, "after");
    // Written from the log's beginning: the same number of commits again does not grow it.
    batch("again");
    assert!(db.wal_size() <= grown, "{} > {grown}", db.wal_size());
    assert_eq!(db.read_events().expect("read").events.len(), 601);
}

/// Regression (issue 15, the write-ahead log on a busy machine): the runner restarts the log
/// past 8 MiB, but where it was rarely scheduled (8 busy loops on 2 cores) writers that commit
/// while readers hold snapshots grew it to 53 MiB in the probe-flood test. A writer restarts
/// it itself past 24 MiB: 12,000 probes (a page each, some 47 MiB of log) with nobody else
/// restarting it keep it under 32 MiB.
#[test]
fn a_writer_restarts_the_log_when_nobody_else_does() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = TempDir::new("wal-cap");
    let _runner = RunDb::create(&dir.db()).expect("create");
    let probe = Probe::open(dir.db(), "flooder").expect("probe");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = crate::common::hold_snapshots(dir.db(), Arc::clone(&stop));
    for i in 0..12_000 {
        probe.emit(&format!("p-{i}")).expect("emit");
    }
    stop.store(true, Ordering::Relaxed);
    let peak = reader.join().expect("reader");
    let mib = |bytes: u64| bytes as f64 / 1024.0 / 1024.0;
    assert!(
        peak < 32 << 20,
        "the write-ahead log peaked at {:.1} MiB",
        mib(peak)
    );
    assert_eq!(crate::common::stored_rows(&dir.db()), 12_000);
}

/// Regression (reliability's `unit_holding_the_database_write_lock`): a unit holding the write
/// lock blocked the runner for the whole 30 s busy timeout in `set_unit_state`.
#[test]
fn short_busy_timeout_fails_fast_with_is_busy_and_recovers() {
    use std::time::Duration;

    let dir = TempDir::new("busy");
    let mut db = RunDb::create(&dir.db()).expect("create");
    db.set_busy_timeout(Duration::from_millis(20))
        .expect("busy timeout");
    let unit = rusqlite::Connection::open(dir.db()).expect("open");
    unit.execute_batch("BEGIN IMMEDIATE")
        .expect("hold the write lock");
    let err = db
        .set_unit_state("a", UnitState::Running)
        .expect_err("the write lock is held");
    assert!(err.is_busy(), "{err:?}");
    // Reading is never blocked by a writer in WAL mode.
    assert!(db.read_events().expect("read").is_empty());
    unit.execute_batch("COMMIT").expect("release");
    db.set_unit_state("a", UnitState::Running).expect("retry");
    assert_eq!(db.unit_states().expect("states").len(), 1);
    let not_busy = RunDb::open(&dir.path().join("missing.db")).expect_err("missing");
    assert!(!not_busy.is_busy());
}

/// `testrium verify` (issue 17) reads a stored run without changing it: a read-only
/// connection opened immutable when no write-ahead log is beside the database creates no
/// file and leaves the database's bytes as they were, wherever it lives (a folder name that
/// needs escaping in a `file:` URI included).
#[test]
fn open_read_only_reads_a_stored_run_and_writes_nothing() {
    let dir = TempDir::new("read only");
    let folder = dir.path().join("runs ?#%20 x");
    std::fs::create_dir_all(&folder).expect("folder");
    let path = folder.join("Data.db");
    {
        let db = RunDb::create(&path).expect("create");
        let probe = Probe::open(&path, "source").expect("probe");
        probe.send("sent", "k1").expect("send");
        db.write_meta("note", "kept").expect("meta");
    }
    let files = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(files(&folder), ["Data.db"]);
    let bytes = std::fs::read(&path).expect("bytes");
    let modified = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");

    let db = RunDb::open_read_only(&path).expect("open read-only");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    let log = db.read_events().expect("read");
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.events[0].key.as_deref(), Some("k1"));
    assert_eq!(db.read_meta("note").as_deref(), Some("kept"));
    assert!(db.write_meta("note", "changed").is_err());
    drop(db);

    assert_eq!(files(&folder), ["Data.db"]);
    assert_eq!(std::fs::read(&path).expect("bytes"), bytes);
    assert_eq!(
        std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime"),
        modified
    );
    assert!(RunDb::open_read_only(&folder.join("missing.db")).is_err());
}
