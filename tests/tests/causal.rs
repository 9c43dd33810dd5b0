//! Causal circuits with real processes (issue 13): Python units in the original format do
//! request/response round trips, the request under `req-NNN`, the response under `resp-NNN`.
//!
//! Regression: the README's request→response circuit instrumented with two keys failed with
//! "hop 3 `client:response-received` never happened" while that probe was recorded: a circuit
//! followed one key only.

use std::path::Path;
use std::time::Duration;

use testrium_config::load_group;
use testrium_orchestrator::{GroupOutcome, Run};
use testrium_tests::TempBase;

fn run(dir: &Path, base: &Path) -> GroupOutcome {
    let group = load_group(dir).unwrap_or_else(|d| panic!("{d}"));
    Run::new(group)
        .base_dir(base)
        .grace_period(Duration::from_millis(300))
        .execute()
        .expect("run executes")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            if entry.file_name() != ".testrium" && entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The README's minimal group (`examples/test_hello`) passes as written there.
#[test]
fn the_readme_group_with_two_keys_passes() {
    let base = TempBase::new("causal-readme");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/test_hello");
    let dir = base.path().join("test_hello");
    copy_dir(&examples, &dir);
    let outcome = run(&dir, base.path());
    let attempt = &outcome.attempts[0];
    assert!(outcome.passed(), "{}", attempt.verdict.render_text());
    let c = &attempt.verdict.circuits[0];
    assert_eq!(
        (c.name.as_str(), c.instances, c.complete),
        ("request-response", 1, 1)
    );
    assert_eq!(c.traces[0].key.as_deref(), Some("req-001"));
}

const CONFIG: &str = r#"["Configs"]
units = ["server", "client"]
timeout = 20

[[circuit]]
name = "round-trip"
hops = ["client:request-sent", "server:request-received", "client:response-received"]
budget-ms = 5000
"#;

const SERVER: &str = r#"["server"]
init = 0
entrypoint = "app:run_server"
ready_event = "server-ready"
events = ["server-ready", "request-received", "response-sent"]
"#;

const CLIENT: &str = r#"["client"]
init = 1
entrypoint = "app:run_client"
unit_dependencies = ["server"]
events = ["request-sent", "response-received"]
"#;

/// A TCP server answering one request at a time; the client finds its port in the metadata of
/// the server's readiness probe. Neither names a cause: the server's `response-sent` is linked
/// to its `request-received` by program order, the client's receive to it by key.
const APP: &str = r#"import socket
from testrium.modules.events import Events_Manager

ROUNDS = 5


def run_server():
    events = Events_Manager(Unit="server", path=".")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    events.Set_Event("server-ready", port=listener.getsockname()[1])
    conn, _ = listener.accept()
    stream = conn.makefile("rw")
    for _ in range(ROUNDS):
        request = stream.readline().strip()
        events.Set_Event("request-received", event_type="Receive", event_key=request)
        response = request.replace("req-", "resp-")
        events.Set_Event("response-sent", event_type="Send", event_key=response)
        stream.write(response + "\n")
        stream.flush()
    conn.close()
    listener.close()


def run_client():
    events = Events_Manager(Unit="client", path=".")
    ready = [e for e in Events_Manager(Unit="server", path=".").list_events()
             if e["StepCompleted"] == "server-ready"]
    conn = socket.create_connection(("127.0.0.1", ready[0]["Metadata"]["port"]))
    stream = conn.makefile("rw")
    for i in range(1, ROUNDS + 1):
        request = "req-%03d" % i
        events.Set_Event("request-sent", event_type="Send", event_key=request)
        stream.write(request + "\n")
        stream.flush()
        response = stream.readline().strip()
        events.Set_Event("response-received", event_type="Receive", event_key=response)
    conn.close()
"#;

#[test]
fn python_round_trips_over_tcp_with_two_keys_pass() {
    let base = TempBase::new("causal-tcp");
    let dir = base.dir("round_trip_test");
    std::fs::create_dir_all(dir.join("units")).expect("units");
    std::fs::write(dir.join("config.toml"), CONFIG).expect("config");
    std::fs::write(dir.join("units/server.toml"), SERVER).expect("server");
    std::fs::write(dir.join("units/client.toml"), CLIENT).expect("client");
    std::fs::write(dir.join("app.py"), APP).expect("app");
    let outcome = run(&dir, base.path());
    let attempt = &outcome.attempts[0];
    assert!(outcome.passed(), "{}", attempt.verdict.render_text());
    let c = &attempt.verdict.circuits[0];
    assert_eq!((c.instances, c.complete), (5, 5));
    let keys: Vec<_> = c.traces.iter().filter_map(|t| t.key.as_deref()).collect();
    assert_eq!(
        keys,
        ["req-001", "req-002", "req-003", "req-004", "req-005"]
    );
    assert_eq!(c.total.map(|t| t.count), Some(5));
}
