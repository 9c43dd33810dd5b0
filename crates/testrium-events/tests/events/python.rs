//! The Python client (`PYTHON_EVENTS_MODULE`), run with the real interpreter.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use testrium_events::{EventType, Probe, RunDb, SCHEMA_VERSION};

use crate::common::{TempDir, python_cmd, run_python};
use crate::migrate::{ORIGINAL_SCHEMA, columns};

const TABLES: [&str; 5] = [
    "Events",
    "UnitStatus",
    "Results",
    "UnitTransitions",
    "TestriumMeta",
];

fn schema_of(db: &std::path::Path) -> Vec<(String, Vec<String>)> {
    TABLES
        .iter()
        .map(|t| ((*t).to_owned(), columns(db, t)))
        .collect()
}

#[test]
fn python_creates_the_same_schema_as_rust() {
    let dir = TempDir::new("py-schema");
    let rust_db = dir.path().join("rust.db");
    RunDb::create(&rust_db).expect("create");
    run_python(
        dir.path(),
        "from testrium.modules.events import Events_Manager\nEvents_Manager(Unit='u', path='py.db')",
    );
    let py_db = dir.path().join("py.db");
    assert_eq!(schema_of(&py_db), schema_of(&rust_db));
    let conn = rusqlite::Connection::open(&py_db).expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    assert_eq!((version, mode.as_str()), (SCHEMA_VERSION, "wal"));
}

#[test]
fn python_rows_are_read_by_rust_and_rust_rows_by_python() {
    let dir = TempDir::new("py-rows");
    let db = dir.path().join("run").join("Data.db");
    let probe = Probe::open(&db, "rust").expect("probe");
    probe.send("request-sent", "k1").expect("send");
    let out = run_python(
        dir.path(),
        r#"
import json, os, time
from testrium.modules.events import Events_Manager
m = Events_Manager(Unit="py", path="run")
m.Set_Event("request-received", "Receive", event_key="k1", metadata={"b": 1}, extra="x")
m.Set_Event("done")
print(os.getpid())
print(time.monotonic_ns())
print(json.dumps([[e["Unit"], e["StepCompleted"], e["EventType"], e["EventKey"], e["Metadata"]]
                  for e in m.list_events(unit="*")]))
c = m.correlate_send_receive()
print(json.dumps([[p["event_key"], p["send_unit"], p["receive_unit"]] for p in c["paired"]]))
print(0 < c["average_latency"] < 60)
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    let py_pid: i64 = lines[0].parse().expect("pid");
    let py_mono: i64 = lines[1].parse().expect("mono");
    assert_eq!(
        lines[2],
        r#"[["rust", "request-sent", "Send", "k1", {}], ["py", "request-received", "Receive", "k1", {"b": 1, "extra": "x"}], ["py", "done", "Default", "", {}]]"#
    );
    assert_eq!(lines[3], r#"[["k1", "rust", "py"]]"#);
    assert_eq!(lines[4], "True");

    let log = RunDb::open(&db).expect("open").read_events().expect("read");
    assert_eq!(log.malformed, []);
    let received = &log.events[1];
    assert_eq!(received.event_type, EventType::Receive);
    assert_eq!(received.key.as_deref(), Some("k1"));
    assert_eq!(received.pid, Some(py_pid));
    assert_eq!(
        received.metadata.as_deref(),
        Some(r#"{"b": 1, "extra": "x"}"#)
    );
    // Same clock: Python's time.monotonic_ns() and the Rust probe's MonoNs.
    let rust_mono = log.events[0].mono_ns.expect("rust mono");
    let py_written = received.mono_ns.expect("python mono");
    assert!(rust_mono < py_written && py_written <= py_mono);
    assert!(testrium_events::monotonic_ns() > py_mono);
    assert_eq!(log.events[2].key, None);
}

#[test]
fn python_errors_are_the_original_value_errors() {
    let dir = TempDir::new("py-errors");
    let out = run_python(
        dir.path(),
        r#"
from testrium.modules.events import Events_Manager, UnitStatus_Manager
m = Events_Manager(Unit="u", path=".")
cases = [
    (lambda: Events_Manager(Unit="*", path=".").Set_Event("x")),
    (lambda: m.Set_Event("x", event_type="Foo")),
    (lambda: m.Set_Event("x", "Send")),
    (lambda: m.Set_Event("x", "Receive", event_key="")),
    (lambda: m.Set_Event("x", metadata=[1, 2])),
    (lambda: m.Set_Event("x", metadata=None)),
    (lambda: UnitStatus_Manager(path=".").set_status("u", "sleeping")),
]
for case in cases:
    try:
        case()
        print("no error")
    except ValueError as e:
        print(e)
print(m.list_events())
"#,
    );
    assert_eq!(
        out,
        "Can't set an event for generalized unit '*'\n\
         Event type can only be one of: Default, Exception, Receive, Send\n\
         Send and Receive events require event_key\n\
         Send and Receive events require event_key\n\
         metadata must be a dictionary\n\
         metadata must be a dictionary\n\
         unit status must be one of: created, failed, finished, ready, running, starting, stopped\n\
         []\n"
    );
}

#[test]
fn python_list_events_table_has_the_dataframe_to_dict_shape() {
    let dir = TempDir::new("py-table");
    let out = run_python(
        dir.path(),
        r#"
from testrium.modules.events import Events_Manager
m = Events_Manager(Unit="u", path=".")
print(m.List_Events())
m.Set_Event("a")
m.Set_Event("b", "Send", event_key="k", metadata={"n": 1})
Events_Manager(Unit="other", path=".").Set_Event("c")
t = m.List_Events()
for column, values in t.items():
    if column != "Time":
        print(column, values)
print(sorted(t["Time"]) == [0, 1], all(isinstance(v, float) for v in t["Time"].values()))
print(sorted(m.completed_steps()), sorted(m.completed_steps("*")))
print(m.verify_required_events([
    {"name": "u", "events": ["a", "z"]},
    {"name": "off", "enabled": False, "events": ["q"]},
]))
"#,
    );
    assert_eq!(
        out,
        "{'ID': {}, 'Unit': {}, 'StepCompleted': {}, 'EventType': {}, 'EventKey': {}, 'Time': {}, 'Metadata': {}}\n\
         ID {0: 1, 1: 2}\n\
         Unit {0: 'u', 1: 'u'}\n\
         StepCompleted {0: 'a', 1: 'b'}\n\
         EventType {0: 'Default', 1: 'Send'}\n\
         EventKey {0: '', 1: 'k'}\n\
         Metadata {0: {}, 1: {'n': 1}}\n\
         True True\n\
         ['a', 'b'] ['a', 'b', 'c']\n\
         {'completed': [{'unit': 'u', 'step': 'a'}], 'missing': [{'unit': 'u', 'step': 'z'}]}\n"
    );
}

#[test]
fn python_honours_testrium_event_db_over_the_path_argument() {
    let dir = TempDir::new("py-env");
    let db = dir.path().join("runs").join("r1").join("Data.db");
    let out = python_cmd(dir.path())
        .env("TESTRIUM_EVENT_DB", &db)
        .args([
            "-c",
            "from testrium.modules.events import Events_Manager, resolve_database_path\n\
             m = Events_Manager(Unit='u', path='elsewhere')\n\
             m.Set_Event('x')\n\
             print(m.database_path == resolve_database_path('ignored.db'))",
        ])
        .output()
        .expect("python");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "True\n");
    assert!(!dir.path().join("elsewhere").exists());
    let log = RunDb::open(&db).expect("open").read_events().expect("read");
    assert_eq!(log.events.len(), 1);
    // Without the variable: `<path>/Data.db`, or the path itself when it ends in `.db`.
    let out = run_python(
        dir.path(),
        "import os\nfrom testrium.modules.events import resolve_database_path as r\n\
         print(os.path.relpath(r('a')), os.path.relpath(r('b/x.db')), os.path.relpath(r(None)))",
    );
    assert_eq!(out, "a/Data.db b/x.db Data.db\n");
}

#[test]
fn python_statuses_results_and_drop() {
    let dir = TempDir::new("py-status");
    let db = dir.path().join("Data.db");
    let out = run_python(
        dir.path(),
        r#"
from testrium.modules.events import Events_Manager, UnitStatus_Manager, Results_Manager
s = UnitStatus_Manager(path=".")
s.set_status("a", "starting")
s.set_status("a", "ready")
print(s.get_status("a"), s.get_status("nobody"), s.list_statuses())
Results_Manager(path=".").store_result("g", True, 1.5, 0.25, {"k": [1]})
m = Events_Manager(Unit="u", path=".")
m.Set_Event("x")
m.drop_events_table()
print(m.list_events())
m.Set_Event("y")
print([e["StepCompleted"] for e in m.list_events()])
"#,
    );
    assert_eq!(out, "ready None {'a': 'ready'}\n[]\n['y']\n");
    let run_db = RunDb::open(&db).expect("open");
    let transitions: Vec<_> = run_db
        .unit_transitions()
        .expect("transitions")
        .into_iter()
        .map(|r| r.state.as_str())
        .collect();
    assert_eq!(transitions, ["starting", "ready"]);
    let log = run_db.read_events().expect("read");
    assert_eq!(log.events.len(), 1);
    assert!(
        log.events[0].mono_ns.is_some(),
        "recreated table keeps MonoNs"
    );
    let conn = rusqlite::Connection::open(&db).expect("open");
    let row: (String, i64, f64, String) = conn
        .query_row(
            "SELECT TestGroup, Passed, Duration, Summary FROM Results",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("result row");
    assert_eq!(row, ("g".into(), 1, 1.5, r#"{"k": [1]}"#.into()));
}

#[test]
fn python_reads_hostile_rows_and_migrates_original_databases() {
    let dir = TempDir::new("py-hostile");
    let db = dir.path().join("Data.db");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(ORIGINAL_SCHEMA).expect("original");
    conn.execute_batch(
        "INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)
         VALUES ('old', CAST(x'ff' AS TEXT), 'Default', NULL, 'x', 'not json')",
    )
    .expect("hostile");
    drop(conn);
    let out = run_python(
        dir.path(),
        r#"
from testrium.modules.events import Events_Manager
m = Events_Manager(Unit="old", path=".")
events = m.list_events()
print(len(events), events[1]["StepCompleted"] == "\ufffd", events[1]["Metadata"])
m.Set_Event("new")
print(m.correlate_send_receive()["orphan_sends"][0]["EventKey"])
"#,
    );
    assert_eq!(out, "2 True {}\nk\n");
    assert_eq!(
        columns(&db, "Events").last().map(String::as_str),
        Some("Cause")
    );
    let log = RunDb::open(&db).expect("open").read_events().expect("read");
    assert_eq!(log.events.len(), 2);
    assert_eq!(log.malformed.len(), 1);
    assert!(log.events[1].mono_ns.is_some());
}

/// Starts the Python `script` (stdout piped) in `dir`, and a Rust probe `rust` on `db`, once
/// the script recorded `py:waiting`.
fn python_waiting(
    dir: &std::path::Path,
    db: &std::path::Path,
    script: &str,
) -> (std::process::Child, Probe) {
    let child = python_cmd(dir)
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn python");
    let probe = Probe::open(db, "rust").expect("probe");
    assert!(
        probe
            .wait_for("py", "waiting", Duration::from_secs(60))
            .expect("wait")
    );
    (child, probe)
}

#[test]
fn python_wait_for_event_wakes_on_a_rust_probe_in_another_process() {
    let dir = TempDir::new("py-wait");
    let db = dir.path().join("Data.db");
    RunDb::create(&db).expect("create");
    let (mut child, probe) = python_waiting(
        dir.path(),
        &db,
        "import sys\nfrom testrium.modules.events import Events_Manager\n\
         m = Events_Manager(Unit='py', path='.')\n\
         m.Set_Event('waiting')\n\
         print(m.wait_for_event('go', unit='rust', timeout=60), flush=True)\n\
         print(m.wait_for_event('never', unit='rust', timeout=0.01), flush=True)",
    );
    probe.emit("go").expect("emit");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .collect::<Result<_, _>>()
        .expect("read");
    assert!(child.wait().expect("wait").success());
    assert_eq!(lines, ["True", "False"]);
}

#[test]
fn python_wait_for_event_polls_where_inotify_is_unavailable() {
    let dir = TempDir::new("py-poll");
    let out = run_python(
        dir.path(),
        r#"
import threading
import testrium.modules.events as ev
ev._watch_wal = lambda path: None  # as on macOS, or with inotify limits reached
m = ev.Events_Manager(Unit="a", path=".")
def later():
    assert ev.Events_Manager(Unit="b", path=".").wait_for_event("ready", unit="a", timeout=60)
    ev.Events_Manager(Unit="b", path=".").Set_Event("go")
t = threading.Thread(target=later)
t.start()
m.Set_Event("ready")
print(m.wait_for_event("go", unit="b", timeout=60), m.wait_for_event("x", unit="b", timeout=0.01))
t.join()
"#,
    );
    assert_eq!(out, "True False\n");
}

/// Regression: `wait_for_event` keeps one `-wal` watch per manager and thread (closing one per
/// call added up to 20 ms to some wake-ups). Every wait takes the watch at once here. Repeated waits on one manager still wake for each
/// new probe and are not ended early by notifications of earlier writes; two threads waiting
/// on the same manager at once both wake.
#[test]
fn python_repeated_and_concurrent_waits_on_one_manager() {
    let dir = TempDir::new("py-wait-repeated");
    let out = run_python(
        dir.path(),
        r#"
import threading
import testrium.modules.events as ev
from testrium.modules.events import Events_Manager
ev._POLL_FIRST_S = 0  # every wait on the watch
waiter = Events_Manager(Unit="w", path=".")
writer = Events_Manager(Unit="x", path=".")
seen = []
for n in range(3):
    writer.Set_Event("noise-%d" % n)
    writer.Set_Event("step-%d" % n)
    seen.append(waiter.wait_for_event("step-%d" % n, unit="x", timeout=60))
    seen.append(waiter.wait_for_event("never", unit="x", timeout=0.02))
results = {}
def wait(name):
    results[name] = waiter.wait_for_event(name, unit="x", timeout=60)
threads = [threading.Thread(target=wait, args=(name,)) for name in ("left", "right")]
for t in threads:
    t.start()
writer.Set_Event("left")
writer.Set_Event("right")
for t in threads:
    t.join()
print(seen, results["left"], results["right"])
"#,
    );
    assert_eq!(out, "[True, False, True, False, True, False] True True\n");
}

/// Regression (issue 15): a wait takes no inotify watch for its first 50 ms. The watch is
/// closed with its manager or at exit, and that close waited 10-20 ms for the kernel when
/// another unit had closed one just before: the template circuit's source ended 13 ms (median)
/// after its last probe. A longer wait takes the watch, and the manager keeps it.
#[test]
fn python_short_waits_take_no_inotify_watch() {
    let dir = TempDir::new("py-short-waits");
    let out = run_python(
        dir.path(),
        r#"
import os
from testrium.modules.events import Events_Manager
def watches():
    return sum(os.readlink("/proc/self/fd/" + fd) == "anon_inode:inotify"
               for fd in os.listdir("/proc/self/fd") if os.path.islink("/proc/self/fd/" + fd))
m = Events_Manager(Unit="a", path=".")
m.Set_Event("there")
print(m.wait_for_event("there"), m.wait_for_event("never", timeout=0.02), watches())
print(m.wait_for_event("never", timeout=0.08), watches())
"#,
    );
    assert_eq!(out, "True False 0\nFalse 1\n");
}

/// Issue 15: the runner restarts the write-ahead log during a flood. A Python waiter whose
/// `-wal` watch was taken before the restart still wakes on the next commit (its 50 ms safety
/// net is turned off, and the watch taken at once, so only the watch can wake it).
#[test]
fn python_wait_for_event_wakes_after_the_log_was_restarted() {
    let dir = TempDir::new("py-wal-restart");
    let db = dir.path().join("Data.db");
    let mut run_db = RunDb::create(&db).expect("create");
    let (mut child, probe) = python_waiting(
        dir.path(),
        &db,
        "import testrium.modules.events as ev\n\
         ev._WATCH_CHECK_S = 1000.0\n\
         ev._POLL_FIRST_S = 0\n\
         m = ev.Events_Manager(Unit='py', path='.')\n\
         m.Set_Event('waiting')\n\
         print(m.wait_for_event('go', unit='rust', timeout=60), flush=True)",
    );
    for i in 0..300 {
        probe.emit(&format!("noise-{i}")).expect("emit");
    }
    assert!(
        run_db
            .restart_wal_above(0, std::time::Duration::from_secs(30))
            .expect("checkpoint")
    );
    probe.emit("go").expect("emit");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .collect::<Result<_, _>>()
        .expect("read");
    assert!(child.wait().expect("wait").success());
    assert_eq!(lines, ["True"]);
}

/// Issue 15: a unit's interpreter imports only what a probe needs. `json` (with `re` and
/// `enum`), `select` and `threading` are imported on first use; they stay attributes of the
/// module (`events.json`, `from … import *`) as in the original.
#[test]
fn python_client_imports_only_what_a_probe_needs() {
    let dir = TempDir::new("py-imports");
    // `-S`: no site-packages, whose `.pth` files may import any of these first.
    let script = r#"
import sys
before = set(sys.modules)  # what the interpreter's start (site) imported already
import testrium.modules.events as ev
ev.Events_Manager(Unit="a", path=".").Set_Event("plain")
lazy = ("json", "json.decoder", "re", "enum", "select", "threading")
print(sorted(m for m in lazy if m in sys.modules and m not in before))
ev.Events_Manager(Unit="a", path=".").Set_Event("meta", metadata={"k": 1})
print(ev.Events_Manager(Unit="*", path=".").list_events()[1]["Metadata"])
namespace = {}
exec("from testrium.modules.events import *", namespace)
print(namespace["json"].dumps([1]), ev.json is namespace["json"], ev.threading.__name__)
"#;
    let out = python_cmd(dir.path())
        .args(["-S", "-c", script])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out, "[]\n{'k': 1}\n[1] True threading\n");
}

/// The Python client restarts the write-ahead log past 24 MiB as the Rust probe does (see
/// `store::a_writer_restarts_the_log_when_nobody_else_does`): 12,000 probes with a reader
/// holding snapshots all the time and nobody else restarting the log keep it under 32 MiB.
#[test]
fn the_python_client_restarts_the_log_when_nobody_else_does() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = TempDir::new("py-wal-cap");
    let _runner = RunDb::create(&dir.db()).expect("create");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = crate::common::hold_snapshots(dir.db(), Arc::clone(&stop));
    run_python(
        dir.path(),
        &format!(
            "from testrium.modules.events import Events_Manager\n\
             m = Events_Manager(Unit='flooder', path={:?})\n\
             for i in range(12000):\n    m.Set_Event('p-%d' % i)\n",
            dir.path().display().to_string()
        ),
    );
    stop.store(true, Ordering::Relaxed);
    let peak = reader.join().expect("reader");
    assert!(
        peak < 32 << 20,
        "the write-ahead log peaked at {:.1} MiB",
        peak as f64 / 1024.0 / 1024.0
    );
    assert_eq!(crate::common::stored_rows(&dir.db()), 12_000);
}
