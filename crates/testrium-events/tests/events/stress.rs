//! 8 writer processes × 5,000 probes into one database, Rust and Python clients mixed: every
//! row is stored, intact, and no writer sees "database is locked" (the original lost about
//! half of them).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testrium_events::{EventType, Probe, ProbeRecord, RunDb};

use crate::common::{TempDir, python_cmd};

const PER_WRITER: usize = 5_000;
const RUST_WRITERS: usize = 4;
const PYTHON_WRITERS: usize = 4;
const CHILD_ENV: &str = "TESTRIUM_STRESS_CHILD_DB";

/// The probe every writer records as its `i`-th: odd ones are `Send` with a key.
fn expected(unit: &str, i: usize) -> (String, EventType, Option<String>) {
    if i % 2 == 1 {
        (
            format!("s{i}"),
            EventType::Send,
            Some(format!("{unit}-{i}")),
        )
    } else {
        (format!("s{i}"), EventType::Default, None)
    }
}

/// The Rust writer, run in a child process by [`eight_writers_lose_nothing`] (ignored so a
/// plain `cargo test` does not run it on its own).
#[test]
#[ignore = "child process of eight_writers_lose_nothing"]
fn stress_rust_writer_child() {
    // Only meaningful as a child (`cargo test -- --ignored` on its own does nothing).
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let unit = std::env::var("TESTRIUM_UNIT").expect("unit");
    let probe = Probe::open(std::path::PathBuf::from(db), &unit).expect("open");
    assert!(
        probe
            .wait_for("parent", "go", Duration::from_secs(120))
            .expect("wait")
    );
    for i in 0..PER_WRITER {
        let (step, event_type, key) = expected(&unit, i);
        let mut record = ProbeRecord::new(step).event_type(event_type).meta("seq", i);
        if let Some(key) = key {
            record = record.key(key);
        }
        probe.record(record).expect("record");
    }
}

const PYTHON_WRITER: &str = r#"
import os, sys
from testrium.modules.events import Events_Manager
unit = os.environ["TESTRIUM_UNIT"]
m = Events_Manager(Unit=unit, path=sys.argv[1])
assert m.wait_for_event("go", unit="parent", timeout=120)
for i in range(int(sys.argv[2])):
    if i % 2 == 1:
        m.Set_Event("s%d" % i, "Send", event_key="%s-%d" % (unit, i), seq=i)
    else:
        m.Set_Event("s%d" % i, seq=i)
"#;

#[test]
fn eight_writers_lose_nothing() {
    let dir = TempDir::new("stress");
    let db = dir.db();
    let run_db = RunDb::create(&db).expect("create");
    let exe = std::env::current_exe().expect("test binary");
    let mut children: Vec<(String, Child)> = Vec::new();
    for n in 0..RUST_WRITERS {
        let unit = format!("rust{n}");
        let child = Command::new(&exe)
            .args([
                "--exact",
                "stress::stress_rust_writer_child",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &db)
            .env("TESTRIUM_UNIT", &unit)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rust writer");
        children.push((unit, child));
    }
    for n in 0..PYTHON_WRITERS {
        let unit = format!("py{n}");
        let child = python_cmd(dir.path())
            .args(["-c", PYTHON_WRITER])
            .arg(&db)
            .arg(PER_WRITER.to_string())
            .env("TESTRIUM_UNIT", &unit)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python writer");
        children.push((unit, child));
    }
    // All writers start together, so they contend for the write lock the whole time.
    Probe::open(&db, "parent")
        .expect("probe")
        .emit("go")
        .expect("go");
    for (unit, child) in children {
        let out = child.wait_with_output().expect("writer exit");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "writer {unit} failed:\n{stderr}");
        assert!(!stderr.contains("locked"), "writer {unit}: {stderr}");
    }

    let log = run_db.read_events().expect("read");
    assert_eq!(log.malformed, []);
    let rows: Vec<_> = log.events.iter().filter(|e| e.unit != "parent").collect();
    assert_eq!(rows.len(), (RUST_WRITERS + PYTHON_WRITERS) * PER_WRITER);
    let mut seen: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for event in rows {
        let meta: serde_json::Value =
            serde_json::from_str(event.metadata.as_deref().expect("metadata")).expect("json");
        let i = usize::try_from(meta["seq"].as_u64().expect("seq")).expect("usize");
        let (step, event_type, key) = expected(&event.unit, i);
        assert_eq!(
            (&event.step, event.event_type, &event.key),
            (&step, event_type, &key),
            "row {} of {} is not intact",
            event.id,
            event.unit
        );
        assert!(event.mono_ns.is_some() && event.pid.is_some());
        let slots = seen
            .entry(event.unit.as_str())
            .or_insert_with(|| vec![false; PER_WRITER]);
        assert!(!slots[i], "duplicate {} of {}", i, event.unit);
        slots[i] = true;
    }
    assert_eq!(seen.len(), RUST_WRITERS + PYTHON_WRITERS);
    assert!(seen.values().all(|slots| slots.iter().all(|s| *s)));
}

/// Units that open a client, record one probe and close it again, over and over.
const CHURN_UNITS: usize = 24;
const CHURN_OPENS: usize = 40;

const PYTHON_CHURNER: &str = r#"
import os, sys
from testrium.modules.events import Events_Manager
unit = os.environ["TESTRIUM_UNIT"]
for i in range(int(sys.argv[2])):
    m = Events_Manager(Unit=unit, path=sys.argv[1])
    m.Set_Event("c%d" % i)
    m.connection.close()
"#;

/// The Rust churner, run in a child process by [`churning_clients_lose_nothing`].
#[test]
#[ignore = "child process of churning_clients_lose_nothing"]
fn stress_rust_churner_child() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let unit = std::env::var("TESTRIUM_UNIT").expect("unit");
    for i in 0..CHURN_OPENS {
        let probe = Probe::open(std::path::PathBuf::from(&db), &unit).expect("open");
        probe.emit(&format!("c{i}")).expect("emit");
    }
}

/// Regression (issue 11, item 1): a Python client's first statements (the `PRAGMA`s of
/// `_connect`) ran without busy handling, so a client opened while another process closed the
/// database's last connection (checkpoint and write-ahead-log reset) died with
/// `sqlite3.OperationalError: database is locked` before it could record anything: 6 of 24
/// churning units crashed in every run. Both with the runner's connection held open (a live
/// run) and without it (clients alone, the harder case: every close may be the last), 24
/// units — Python and Rust — open and close a client 40 times while the others write, and
/// every row is stored. `TESTRIUM_RELIABILITY_FULL=1` repeats it 10 times.
#[test]
fn churning_clients_lose_nothing() {
    let rounds = if std::env::var_os("TESTRIUM_RELIABILITY_FULL").is_some() {
        10
    } else {
        1
    };
    for round in 0..rounds {
        for with_runner in [true, false] {
            churn_round(with_runner, round);
        }
    }
}

fn churn_round(with_runner: bool, round: usize) {
    let dir = TempDir::new("churn");
    let db = dir.db();
    let runner = with_runner.then(|| RunDb::create(&db).expect("create"));
    let exe = std::env::current_exe().expect("test binary");
    let mut children: Vec<(String, Child)> = Vec::new();
    for n in 0..CHURN_UNITS {
        // Three Python units for each Rust one: the Python client is the one that crashed.
        let unit = format!("u{n}");
        let child = if n % 4 == 3 {
            Command::new(&exe)
                .args([
                    "--exact",
                    "stress::stress_rust_churner_child",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, &db)
                .env("TESTRIUM_UNIT", &unit)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn rust churner")
        } else {
            python_cmd(dir.path())
                .args(["-c", PYTHON_CHURNER])
                .arg(&db)
                .arg(CHURN_OPENS.to_string())
                .env("TESTRIUM_UNIT", &unit)
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn python churner")
        };
        children.push((unit, child));
    }
    for (unit, child) in children {
        let out = child.wait_with_output().expect("churner exit");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "round {round}, runner open: {with_runner}: unit {unit} failed:\n{stderr}"
        );
    }
    let log = match runner {
        Some(runner) => runner.read_events().expect("read"),
        None => RunDb::open(&db).expect("open").read_events().expect("read"),
    };
    assert_eq!(log.malformed, []);
    let mut per_unit: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &log.events {
        *per_unit.entry(event.unit.as_str()).or_default() += 1;
    }
    assert_eq!(per_unit.len(), CHURN_UNITS, "round {round}: {per_unit:?}");
    assert!(
        per_unit.values().all(|&n| n == CHURN_OPENS),
        "round {round}, runner open: {with_runner}: rows lost: {per_unit:?}"
    );
}
