//! `testrium emit` and `testrium wait`, run as the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use testrium_events::{EventType, RunDb};
use testrium_orchestrator::TestriumExitCode;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "testrium-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn testrium() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testrium"));
    cmd.env_remove("TESTRIUM_EVENT_DB")
        .env_remove("TESTRIUM_UNIT");
    cmd
}

fn run(args: &[&str], db: &Path) -> Output {
    testrium()
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run testrium")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn emit_records_a_probe_with_key_and_metadata() {
    let dir = TempDir::new("emit");
    let db = dir.0.join("Data.db");
    let out = run(
        &[
            "emit", "sent", "--type", "Send", "--key", "k1", "--unit", "shell", "--meta", "a=1",
            "--meta", "b=x=y",
        ],
        &db,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = RunDb::open(&db).expect("open").read_events().expect("read");
    assert_eq!(log.events.len(), 1);
    let event = &log.events[0];
    assert_eq!(
        (event.unit.as_str(), event.step.as_str()),
        ("shell", "sent")
    );
    assert_eq!(event.event_type, EventType::Send);
    assert_eq!(event.key.as_deref(), Some("k1"));
    assert_eq!(event.metadata.as_deref(), Some(r#"{"a":"1","b":"x=y"}"#));
}

#[test]
fn emit_reads_unit_and_db_from_the_environment() {
    let dir = TempDir::new("emit-env");
    let db = dir.0.join("Data.db");
    RunDb::create(&db).expect("create");
    let out = testrium()
        .args(["emit", "ready"])
        .env("TESTRIUM_EVENT_DB", &db)
        .env("TESTRIUM_UNIT", "envunit")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = RunDb::open(&db).expect("open").read_events().expect("read");
    assert_eq!(log.events[0].unit, "envunit");
}

#[test]
fn emit_errors_exit_with_environment_error() {
    let dir = TempDir::new("emit-errors");
    let db = dir.0.join("Data.db");
    let cases: &[(&[&str], &str)] = &[
        (
            &["emit", "x", "--unit", "u", "--type", "Foo"],
            "unknown event type `Foo`",
        ),
        (
            &["emit", "x", "--unit", "u", "--type", "Send"],
            "requires an event key",
        ),
        (
            &["emit", "x", "--unit", "u", "--type", "Receive", "--key", ""],
            "requires an event key",
        ),
        (
            &["emit", "x", "--unit", "u", "--meta", "novalue"],
            "invalid --meta `novalue`",
        ),
        (
            &["emit", "x", "--unit", "*"],
            "cannot record probes as unit `*`",
        ),
        (&["emit", "x"], "pass --unit or set TESTRIUM_UNIT"),
    ];
    for (args, expected) in cases {
        let out = run(args, &db);
        assert_eq!(
            out.status.code(),
            Some(i32::from(TestriumExitCode::ENVIRONMENT_ERROR)),
            "{args:?}"
        );
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = testrium()
        .args(["emit", "x", "--unit", "u"])
        .output()
        .expect("run");
    assert!(stderr(&out).contains("pass --db or set TESTRIUM_EVENT_DB"));
}

#[test]
fn emit_into_an_unwritable_path_names_the_path() {
    let dir = TempDir::new("emit-unwritable");
    // A regular file where a folder should be: fails for root too.
    let file = dir.0.join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let db = file.join("run").join("Data.db");
    let out = run(&["emit", "x", "--unit", "u"], &db);
    assert_eq!(
        out.status.code(),
        Some(i32::from(TestriumExitCode::ENVIRONMENT_ERROR))
    );
    let err = stderr(&out);
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("cannot create its folder"), "{err}");
}

#[test]
fn wait_times_out_with_wait_timeout() {
    let dir = TempDir::new("wait-timeout");
    let db = dir.0.join("Data.db");
    let out = run(&["wait", "never", "--unit", "u", "--timeout", "0.05"], &db);
    assert_eq!(
        out.status.code(),
        Some(i32::from(TestriumExitCode::WAIT_TIMEOUT))
    );
    assert!(stderr(&out).contains("timed out waiting for probe `never` of unit `u`"));
    let out = run(&["wait", "x", "--unit", "u", "--timeout=-1"], &db);
    assert_eq!(
        out.status.code(),
        Some(i32::from(TestriumExitCode::ENVIRONMENT_ERROR))
    );
}

#[test]
fn wait_returns_when_another_process_emits() {
    let dir = TempDir::new("wait-emit");
    let db = dir.0.join("Data.db");
    RunDb::create(&db).expect("create");
    let mut waiter = testrium()
        .args(["wait", "go", "--unit", "writer", "--timeout", "60", "--db"])
        .arg(&db)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wait");
    let out = run(&["emit", "go", "--unit", "writer"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The waiter's own 60 s timeout bounds this wait; it must exit 0 long before.
    let status = waiter.wait().expect("wait for testrium wait");
    assert_eq!(status.code(), Some(0));
}

/// Regression (issue 12): like `Probe::from_env`, `testrium emit` with a stale
/// `TESTRIUM_EVENT_DB` created the missing folders and a database where it pointed. From the
/// environment the database must exist; `--db` still creates it.
#[test]
fn emit_with_a_stale_environment_creates_nothing() {
    let dir = TempDir::new("emit-stale");
    let db = dir.0.join("runs").join("gone").join("Data.db");
    let out = testrium()
        .args(["emit", "ready", "--unit", "u"])
        .env("TESTRIUM_EVENT_DB", &db)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(i32::from(TestriumExitCode::ENVIRONMENT_ERROR))
    );
    let err = stderr(&out);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("TESTRIUM_EVENT_DB"), "{err}");
    assert!(
        !dir.0.join("runs").exists(),
        "folders created for a stale path"
    );
    let out = run(&["emit", "ready", "--unit", "u"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(db.exists());
}

/// Issue 14: a shell unit can read what another unit published: `testrium wait --json` prints
/// the event waited for (metadata as an object), `--key` waits for that key only.
#[test]
fn wait_json_prints_the_event_and_key_selects_it() {
    let dir = TempDir::new("wait-json");
    let db = dir.0.join("Data.db");
    for (key, port) in [("primary", "6379"), ("replica", "6380")] {
        let out = run(
            &[
                "emit",
                "listening",
                "--unit",
                "db",
                "--type",
                "Send",
                "--key",
                key,
                "--meta",
                &format!("port={port}"),
            ],
            &db,
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = run(
        &[
            "wait",
            "listening",
            "--unit",
            "db",
            "--key",
            "replica",
            "--json",
            "--timeout",
            "5",
        ],
        &db,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let event: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(event["unit"], "db");
    assert_eq!(event["step"], "listening");
    assert_eq!(event["type"], "Send");
    assert_eq!(event["key"], "replica");
    assert_eq!(event["metadata"]["port"], "6380");
    assert!(event["time"].as_f64().is_some_and(|t| t > 0.0));
    let out = run(
        &[
            "wait",
            "listening",
            "--unit",
            "db",
            "--key",
            "absent",
            "--timeout",
            "0.1",
        ],
        &db,
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(TestriumExitCode::WAIT_TIMEOUT))
    );
}
