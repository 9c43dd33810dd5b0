//! Every error path of the probe API: typed errors, never a panic.

use testrium_events::{EventType, Probe, ProbeErrorKind, ProbeRecord, StoreErrorKind};

use crate::common::TempDir;

#[test]
fn unknown_event_type_is_rejected_when_parsed() {
    let err = "Foo"
        .parse::<EventType>()
        .expect_err("Foo is no event type");
    assert_eq!(
        err.to_string(),
        "unknown event type `Foo` (expected Default, Exception, Send or Receive)"
    );
    assert_eq!("Send".parse::<EventType>(), Ok(EventType::Send));
}

#[test]
fn send_and_receive_without_key_are_rejected() {
    let dir = TempDir::new("nokey");
    let probe = Probe::open(dir.db(), "u").expect("probe");
    for event_type in [EventType::Send, EventType::Receive] {
        for record in [
            ProbeRecord::new("x").event_type(event_type),
            ProbeRecord::new("x").event_type(event_type).key(""),
        ] {
            let err = probe.record(record).expect_err("key required");
            assert!(
                matches!(err.kind(), ProbeErrorKind::KeyRequired { event_type: t } if *t == event_type)
            );
            assert_eq!(
                err.to_string(),
                format!("a {event_type} probe requires an event key")
            );
        }
    }
    assert!(probe.send("x", "").is_err());
}

#[test]
fn metadata_that_is_not_an_object_is_rejected() {
    let dir = TempDir::new("meta");
    let probe = Probe::open(dir.db(), "u").expect("probe");
    for (value, found) in [
        (serde_json::json!([1, 2]), "an array"),
        (serde_json::json!("text"), "a string"),
        (serde_json::json!(3), "a number"),
        (serde_json::Value::Null, "null"),
    ] {
        let err = probe
            .record(ProbeRecord::new("x").metadata(value))
            .expect_err("not an object");
        assert_eq!(
            err.to_string(),
            format!("metadata must be a JSON object, not {found}")
        );
    }
    // Nothing was written by the rejected probes.
    let log = testrium_events::RunDb::open(&dir.db())
        .expect("open")
        .read_events()
        .expect("read");
    assert!(log.is_empty());
}

#[test]
fn wildcard_and_empty_unit_and_empty_step_are_rejected() {
    let dir = TempDir::new("unit");
    for unit in ["*", ""] {
        let err = Probe::open(dir.db(), unit).expect_err("invalid unit");
        assert!(matches!(err.kind(), ProbeErrorKind::InvalidUnit { .. }));
    }
    let probe = Probe::open(dir.db(), "u").expect("probe");
    let err = probe.emit("").expect_err("empty step");
    assert!(matches!(err.kind(), ProbeErrorKind::EmptyStep));
}

#[test]
fn unwritable_database_path_names_the_path() {
    let dir = TempDir::new("unwritable");
    // A regular file where a folder should be: fails even when the tests run as root.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let db = file.join("sub").join("Data.db");
    let err = Probe::open(&db, "u").expect_err("cannot create");
    let ProbeErrorKind::Store(store) = err.kind() else {
        panic!("expected a store error, got {err:?}");
    };
    assert_eq!(store.path(), db);
    assert!(matches!(store.kind(), StoreErrorKind::CreateDir { .. }));
    assert!(
        err.to_string()
            .contains(&format!("cannot use database `{}`", db.display()))
    );
    let err = testrium_events::RunDb::create(&db).expect_err("cannot create");
    assert_eq!(err.path(), db);
}

#[test]
fn opening_a_missing_database_is_not_found() {
    let dir = TempDir::new("missing");
    let err = testrium_events::RunDb::open(&dir.db()).expect_err("missing");
    assert!(matches!(err.kind(), StoreErrorKind::NotFound));
    assert!(!dir.db().exists(), "open must not create the file");
}

#[test]
fn from_env_without_variables_names_the_variable() {
    // Only reads the environment; the test binary never sets these variables.
    if std::env::var_os(testrium_events::ENV_EVENT_DB).is_some() {
        return;
    }
    let err = Probe::from_env().expect_err("no env");
    assert!(matches!(
        err.kind(),
        ProbeErrorKind::MissingEnv {
            var: "TESTRIUM_EVENT_DB"
        }
    ));
}

/// Regression (issue 12): `Probe::from_env` with a stale `TESTRIUM_EVENT_DB` (a run directory
/// deleted since, or an environment copied from another run) created the missing folders and
/// an empty database wherever the path pointed, and recorded probes into it. Opening from the
/// environment now requires the database to exist (the runner creates it) and creates nothing.
#[test]
fn from_env_with_a_stale_database_path_creates_nothing() {
    let dir = TempDir::new("stale-env");
    let gone = dir.path().join("runs").join("test_x-123").join("Data.db");
    // The environment is process-wide: run the check in a child process of this test binary,
    // with exactly the variables it needs.
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "errors::from_env_stale_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(testrium_events::ENV_EVENT_DB, &gone)
        .env(testrium_events::ENV_UNIT, "u")
        .env("TESTRIUM_EVENTS_STALE_CHILD", "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run: {stdout}"
    );
    assert!(
        !dir.path().join("runs").exists(),
        "from_env created folders where a stale path pointed"
    );
    // Opening explicitly (a tool that owns the database) still creates it.
    Probe::open(&gone, "u").expect("explicit open creates");
    assert!(gone.exists());
}

/// The child half of the test above; does nothing unless started by it.
#[test]
fn from_env_stale_child() {
    if std::env::var_os("TESTRIUM_EVENTS_STALE_CHILD").is_none() {
        return;
    }
    let err = Probe::from_env().expect_err("the database does not exist");
    let ProbeErrorKind::DatabaseMissing { var, path } = err.kind() else {
        panic!("expected DatabaseMissing, got {err:?}");
    };
    assert_eq!(*var, "TESTRIUM_EVENT_DB");
    let expected = std::env::var_os(testrium_events::ENV_EVENT_DB).expect("set by the parent");
    assert_eq!(path.as_os_str(), expected);
    let text = err.to_string();
    assert!(text.contains("does not exist"), "{text}");
    assert!(text.contains("TESTRIUM_EVENT_DB"), "{text}");
    assert!(!path.exists());
    assert!(!path.parent().expect("parent").exists());
}

#[test]
fn open_existing_never_creates() {
    let dir = TempDir::new("open-existing");
    let db = dir.path().join("sub").join("Data.db");
    let err = Probe::open_existing(&db, "u").expect_err("missing");
    let ProbeErrorKind::Store(store) = err.kind() else {
        panic!("expected a store error, got {err:?}");
    };
    assert!(matches!(store.kind(), StoreErrorKind::NotFound));
    assert!(!dir.path().join("sub").exists());
    testrium_events::RunDb::create(&db).expect("create");
    let probe = Probe::open_existing(&db, "u").expect("exists now");
    probe.emit("x").expect("emit");
}
