//! Real services as units (issue 14): readiness without probes (`ready_tcp`, `ready_http`,
//! `ready_log`, `ready_command`), ports handed between units, one-shot units. The services
//! are small Python programs that hold no Testrium code.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use testrium_config::{Group, InExcept, ReadyCheck, Unit};
use testrium_tests::{
    TempBase, db_events, fixture, run_group, testrium_bin, unit_outcome, verdict_text,
};
use testrium_verify::{UnitFailure, UnitStatus};

const GENEROUS: Duration = Duration::from_secs(60);

/// A TCP server on `$PORT` that starts listening after `delay` seconds and serves until
/// killed; with `http`, every request gets `200 ok` (or 503 for `/down`).
const SERVER: &str = r#"
import os, socket, sys, time
time.sleep(float(sys.argv[1]))
print("listening on", os.environ["PORT"], flush=True)
print("Ready to accept connections", flush=True)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen(16)
while True:
    c, _ = s.accept()
    data = c.recv(4096)
    if data.startswith(b"GET"):
        status = b"503 Unavailable" if b"GET /down" in data else b"200 OK"
        c.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
    c.close()
"#;

fn write_server(dir: &Path) {
    std::fs::write(dir.join("server.py"), SERVER).expect("write server");
}

fn python() -> String {
    testrium_tests::python3_executable()
}

/// A server unit on its own port `svc`, listening after `delay` seconds, ready by `check`.
fn server(name: &str, delay: &str, check: ReadyCheck) -> testrium_config::UnitBuilder {
    Unit::command(name, [python(), "server.py".to_owned(), delay.to_owned()])
        .ports(["svc"])
        .env("PORT", "{port.svc}")
        .ready_check(check)
        .ready_timeout(Duration::from_secs(20))
}

/// A client that records `reached` once the server's port answers.
fn client(server: &str) -> testrium_config::UnitBuilder {
    let script = format!(
        "import os, socket\n\
         from testrium.modules.events import Events_Manager\n\
         port = int(os.environ['TESTRIUM_{}_PORT_SVC'])\n\
         socket.create_connection(('127.0.0.1', port), timeout=5).close()\n\
         Events_Manager(Unit='client', path='.').Set_Event('reached', port=port)\n",
        server.to_uppercase().replace('-', "_")
    );
    Unit::command("client", [python(), "-c".to_owned(), script])
        .depends_on([server])
        .events(["reached"])
}

/// Every check kind passes on a server that takes a while to come up: its dependent starts
/// only then (it connects at once, so it would fail if started early), and the readiness is
/// recorded as an event of the unit with the check that passed.
#[test]
fn each_readiness_check_passes_once_the_service_is_up() {
    let checks = [
        ("tcp", ReadyCheck::Tcp("127.0.0.1:{port.svc}".into())),
        (
            "http",
            ReadyCheck::Http("http://127.0.0.1:{port.svc}/health".into()),
        ),
        ("log", ReadyCheck::Log("^Ready to accept".into())),
        (
            "command",
            ReadyCheck::Command(vec![
                python(),
                "-c".into(),
                "import socket; socket.create_connection(('127.0.0.1', {port.svc}), 1)".into(),
            ]),
        ),
    ];
    for (kind, check) in checks {
        let base = TempBase::new(&format!("ready-{kind}"));
        let dir = base.dir("ready-test");
        write_server(&dir);
        // The log check passes when the line is printed, a moment before the port opens:
        // its client waits for the port itself.
        let group = Group::builder("ready-test", &dir)
            .timeout(GENEROUS)
            .unit(server("svc", "0.3", check).init(1))
            .unit(client("svc").init(2))
            .build()
            .unwrap_or_else(|e| panic!("{e:?}"));
        let outcome = run_group(group, base.path());
        if kind != "log" {
            assert!(outcome.passed(), "{kind}: {}", verdict_text(&outcome));
        }
        let db = &outcome.last_attempt().expect("attempt").db_path;
        let ready = db_events(db)
            .into_iter()
            .find(|e| e.unit == "svc" && e.step == "testrium-ready")
            .unwrap_or_else(|| panic!("{kind}: no readiness event"));
        let meta: serde_json::Value =
            serde_json::from_str(ready.metadata.as_deref().unwrap_or("{}")).expect("json");
        assert_eq!(meta["check"], kind);
        assert!(
            !meta["target"].as_str().unwrap_or("{").contains('{'),
            "placeholders expanded: {meta}"
        );
    }
}

/// A check that never passes fails with `readiness_timeout`, naming the check as tried and
/// the last error it saw; the dependent is not started.
#[test]
fn a_check_that_never_passes_names_its_last_error() {
    let cases = [
        (
            "tcp",
            ReadyCheck::Tcp("127.0.0.1:{port.svc}".into()),
            "60",
            "connection refused",
        ),
        (
            "http",
            ReadyCheck::Http("http://127.0.0.1:{port.svc}/down".into()),
            "0",
            "HTTP 503",
        ),
        (
            "command",
            ReadyCheck::Command(vec!["sh".into(), "-c".into(), "exit 2".into()]),
            "0",
            "exit 2",
        ),
    ];
    for (kind, check, delay, last) in cases {
        let base = TempBase::new(&format!("never-{kind}"));
        let dir = base.dir("never-test");
        write_server(&dir);
        let group = Group::builder("never-test", &dir)
            .timeout(GENEROUS)
            .unit(
                server("svc", delay, check)
                    .init(1)
                    .ready_timeout(Duration::from_millis(800)),
            )
            .unit(client("svc").init(2))
            .build()
            .unwrap_or_else(|e| panic!("{e:?}"));
        let outcome = run_group(group, base.path());
        match &unit_outcome(&outcome, "svc").failure {
            Some(UnitFailure::ReadinessCheckTimeout {
                check, last_error, ..
            }) => {
                assert!(check.starts_with(kind), "{check}");
                assert!(!check.contains('{'), "expanded: {check}");
                assert_eq!(last_error.as_deref(), Some(last), "{kind}");
            }
            other => panic!("{kind}: {other:?}\n{}", verdict_text(&outcome)),
        }
        assert!(matches!(
            unit_outcome(&outcome, "client").failure,
            Some(UnitFailure::DependencyFailed { .. })
        ));
    }
}

/// A unit that dies while its check is tried fails at once, not at its readiness timeout.
#[test]
fn a_unit_that_dies_while_checked_fails_at_once() {
    let base = TempBase::new("check-dies");
    let group = Group::builder("check-dies-test", base.dir("check-dies-test"))
        .timeout(GENEROUS)
        .unit(
            Unit::command("svc", ["sh", "-c", "exit 0"])
                .init(1)
                .ports(["svc"])
                .ready_check(ReadyCheck::Tcp("127.0.0.1:{port.svc}".into()))
                .ready_timeout(GENEROUS),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let outcome = run_group(group, base.path());
    assert!(
        matches!(
            unit_outcome(&outcome, "svc").failure,
            Some(UnitFailure::ExitedBeforeReady { .. })
        ),
        "{}",
        verdict_text(&outcome)
    );
    let attempt = outcome.last_attempt().expect("attempt");
    assert!(attempt.timings.total < GENEROUS / 2);
}

/// `completed_dependencies`: a unit starts after its one-shot dependency exited 0; when that
/// fails, the unit fails with `dependency_failed` and never starts.
#[test]
fn completed_dependencies_wait_for_a_successful_exit() {
    for (code, passes) in [(0, true), (3, false)] {
        let base = TempBase::new("one-shot");
        let group = Group::builder("one-shot-test", base.dir("one-shot-test"))
            .timeout(GENEROUS)
            .unit(
                Unit::command(
                    "migrate",
                    fixture::argv(&[fixture::emit("migrated"), fixture::Action::Exit(code)]),
                )
                .init(1)
                .in_except(InExcept::ResumeAll),
            )
            .unit(
                Unit::command("app", fixture::argv(&[fixture::emit("served")]))
                    .init(2)
                    .after_completion_of(["migrate"])
                    .events(["served"]),
            )
            .build()
            .unwrap_or_else(|e| panic!("{e:?}"));
        let outcome = run_group(group, base.path());
        let db = &outcome.last_attempt().expect("attempt").db_path;
        let steps: Vec<String> = db_events(db).into_iter().map(|e| e.step).collect();
        if passes {
            assert!(outcome.passed(), "{}", verdict_text(&outcome));
            assert_eq!(steps, ["migrated", "served"]);
        } else {
            assert_eq!(
                unit_outcome(&outcome, "app").failure,
                Some(UnitFailure::DependencyFailed {
                    dependency: "migrate".to_owned()
                })
            );
            assert_eq!(unit_outcome(&outcome, "app").status, UnitStatus::Failed);
            assert!(!steps.contains(&"served".to_owned()));
        }
    }
}

/// Ports are unique across the groups `--jobs 4` runs at once, reach the unit as
/// `TESTRIUM_PORT_<NAME>` and other units as `TESTRIUM_<UNIT>_PORT_<NAME>`, and expand in
/// `command` and `env`.
#[test]
fn ports_are_unique_across_parallel_runs_and_reach_every_unit() {
    let base = TempBase::new("ports");
    let record = "from testrium.modules.events import Events_Manager\n\
                  import os, sys\n\
                  Events_Manager(Unit=os.environ['TESTRIUM_UNIT'], path='.').Set_Event(\n\
                  \x20   'ports', argv=sys.argv[1], own=os.environ['TESTRIUM_PORT_HTTP'],\n\
                  \x20   peer=os.environ['TESTRIUM_ECHO_SERVER_PORT_ECHO'], env=os.environ['URL'])\n";
    for g in 0..4 {
        let dir = base.dir(&format!("test_ports_{g}"));
        std::fs::write(dir.join("record.py"), record).expect("write");
        std::fs::create_dir_all(dir.join("units")).expect("units");
        std::fs::write(
            dir.join("config.toml"),
            "[\"Configs\"]\nunits = [\"echo-server\", \"web\"]\ntimeout = 60\n",
        )
        .expect("config");
        std::fs::write(
            dir.join("units/echo-server.toml"),
            "[\"echo-server\"]\ninit = 0\nports = [\"echo\"]\n",
        )
        .expect("unit");
        std::fs::write(
            dir.join("units/web.toml"),
            "[\"web\"]\ninit = 1\nports = [\"http\"]\n\
             command = [\"python3\", \"record.py\", \"{port.http}\"]\n\
             env = { URL = \"http://127.0.0.1:{echo-server.port.echo}/\" }\n\
             events = [\"ports\"]\n",
        )
        .expect("unit");
    }
    let out = Command::new(testrium_bin("TESTRIUM_BIN"))
        .args(["run", "--jobs", "4"])
        .arg(base.path())
        .output()
        .expect("run testrium");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = BTreeSet::new();
    for run in std::fs::read_dir(base.path().join(".testrium/runs")).expect("runs") {
        let db = run.expect("entry").path().join("Data.db");
        let event = db_events(&db)
            .into_iter()
            .find(|e| e.step == "ports")
            .expect("ports probe");
        let meta: serde_json::Value =
            serde_json::from_str(event.metadata.as_deref().unwrap_or("{}")).expect("json");
        let own = meta["own"].as_str().unwrap_or_default().to_owned();
        let peer = meta["peer"].as_str().unwrap_or_default().to_owned();
        assert_eq!(meta["argv"].as_str(), Some(own.as_str()), "{meta}");
        assert_eq!(
            meta["env"].as_str(),
            Some(format!("http://127.0.0.1:{peer}/").as_str()),
            "{meta}"
        );
        assert!(seen.insert(own), "{meta}");
        assert!(seen.insert(peer), "{meta}");
    }
    assert_eq!(seen.len(), 8, "4 groups × 2 ports, all distinct: {seen:?}");
}

/// Runs `testrium run` on a copy of the bundled example `name` with a JSON report; returns
/// the exit code, the terminal output and the report.
fn run_example(name: &str) -> (Option<i32>, String, serde_json::Value) {
    run_example_edited(name, |_| {})
}

/// [`run_example`] on a copy that `edit` changes first (given the group's folder).
fn run_example_edited(
    name: &str,
    edit: impl FnOnce(&Path),
) -> (Option<i32>, String, serde_json::Value) {
    let base = TempBase::new(&format!("example-{name}"));
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
        .join(name);
    let status = Command::new("cp")
        .arg("-r")
        .arg(&from)
        .arg(base.path())
        .status()
        .expect("cp");
    assert!(status.success());
    edit(&base.path().join(name));
    testrium_tests::run_cli_with_json(base.path())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// The bundled Redis example: a real server with no Testrium code, ready by `ready_command`
/// on a port the runner picked, written and read through by two shell units. Where Redis is
/// not installed the group is skipped, and both the run and this test say why.
#[test]
fn the_redis_example_runs_where_redis_is_installed() {
    let (code, text, report) = run_example("test_redis_service");
    if !(on_path("redis-server") && on_path("redis-cli")) {
        eprintln!(
            "skipped: redis-server or redis-cli is not installed (Debian: apt-get install \
             redis-server redis-tools); checking that the group is skipped, saying so"
        );
        assert!(text.contains("needs `redis-server`"), "{text}");
        return;
    }
    assert_eq!(code, Some(0), "{text}");
    let units = &report["groups"][0]["attempts"][0]["units"];
    let redis = units
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "redis"))
        .expect("redis unit");
    assert!(redis["ports"]["redis"].as_u64().is_some(), "{redis}");
}

/// Regression (wrong verdict, found trying Redis as a new user would): `redis-server
/// --daemonize yes` as a launcher unit failed with `exited_before_ready` while Redis was up.
/// The daemon leaves the unit's process group (`setsid`) and overwrites its environment with
/// its process title (setproctitle), so neither the group nor the marker found it; a live
/// process of the attempt's cgroup that no unit claims now keeps a waiting launcher alive.
/// Where no attempt cgroup can be created (the documented gap), the test says so and stops.
#[test]
fn a_daemonizing_server_that_rewrites_its_title_is_a_live_launcher() {
    if !(on_path("redis-server") && on_path("redis-cli")) {
        eprintln!(
            "skipped: redis-server or redis-cli is not installed (Debian: apt-get install \
             redis-server redis-tools)"
        );
        return;
    }
    let probe = TempBase::new("daemonize-cgroup");
    let cgroup_file = probe.path().join("unit.cgroup");
    let cgroup_path = cgroup_file.display().to_string();
    let (code, text, report) = run_example_edited("test_redis_service", |group| {
        let unit = format!(
            r#"["redis"]
init = 0
ports = ["redis"]
command = ["sh", "-c", "cat /proc/self/cgroup > '{cgroup_path}'; exec redis-server --port {{port.redis}} --bind 127.0.0.1 --save '' --appendonly no --daemonize yes"]
ready_tcp = "127.0.0.1:{{port.redis}}"
"#
        );
        std::fs::write(group.join("units").join("redis.toml"), unit).expect("write redis.toml");
    });
    let in_attempt_cgroup =
        std::fs::read_to_string(&cgroup_file).is_ok_and(|text| text.contains("testrium-"));
    if !in_attempt_cgroup {
        eprintln!("skipped: no attempt cgroup can be created here (the documented gap)");
        return;
    }
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("exited_before_ready"), "{text}");
    let units = &report["groups"][0]["attempts"][0]["units"];
    let reader = units
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "reader"))
        .expect("reader unit");
    assert_eq!(reader["status"], "finished", "{reader}");
}

/// The bundled HTTP example: `python3 -m http.server` ready by `ready_http`, and a plain
/// Python `command` unit that imports the runner's `testrium` module.
#[test]
fn the_http_example_passes() {
    let (code, text, _) = run_example("test_http_service");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ports: web.http="), "{text}");
}

/// A group that `requires` a program that is not installed is skipped with that reason, in
/// the terminal and in the JSON report (`kind` `missing_program`), not failed.
#[test]
fn a_group_requiring_a_missing_program_is_skipped_saying_why() {
    let base = TempBase::new("requires");
    let dir = base.dir("test_needs");
    std::fs::create_dir_all(dir.join("units")).expect("units");
    std::fs::write(
        dir.join("config.toml"),
        "[\"Configs\"]\nunits = [\"a\"]\nrequires = [\"no-such-program-testrium\"]\n",
    )
    .expect("config");
    std::fs::write(
        dir.join("units/a.toml"),
        "[\"a\"]\ninit = 0\ncommand = [\"true\"]\n",
    )
    .expect("unit");
    let ok = base.dir("test_ok");
    std::fs::create_dir_all(ok.join("units")).expect("units");
    std::fs::write(ok.join("config.toml"), "[\"Configs\"]\nunits = [\"a\"]\n").expect("config");
    std::fs::write(
        ok.join("units/a.toml"),
        "[\"a\"]\ninit = 0\ncommand = [\"true\"]\n",
    )
    .expect("unit");
    let json = base.path().join("report.json");
    let out = Command::new(testrium_bin("TESTRIUM_BIN"))
        .arg("run")
        .arg(base.path())
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run testrium");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("SKIP test_needs") && text.contains("needs `no-such-program-testrium`"),
        "{text}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("json");
    let skipped = &report["skipped"][0];
    assert_eq!(skipped["name"], "test_needs");
    assert_eq!(skipped["kind"], "missing_program");
}

/// The bundled PostgreSQL + nginx example: two off-the-shelf servers from Debian's packages
/// in the foreground on picked ports, a Python entrypoint between them, every order proven
/// as one circuit. Where PostgreSQL or nginx is not installed the group is skipped, and both
/// the run and this test say why.
#[test]
fn the_postgres_and_nginx_example_runs_where_they_are_installed() {
    let (code, text, report) = run_example("test_orders_postgres");
    if !(on_path("pg_isready") && on_path("psql") && on_path("nginx")) {
        eprintln!(
            "skipped: PostgreSQL or nginx is not installed (Debian: apt-get install postgresql \
             nginx); checking that the group is skipped, saying so"
        );
        assert!(text.contains("needs `"), "{text}");
        return;
    }
    assert_eq!(code, Some(0), "{text}");
    let circuit = &report["groups"][0]["attempts"][0]["circuits"][0];
    assert_eq!(circuit["instances"], 10, "{circuit}");
    assert_eq!(circuit["complete"], 10, "{circuit}");
}

/// Regression (root cause missing, found trying PostgreSQL and nginx as a new user would):
/// when the service's request handler raised, the client failed with `HTTP Error 502` and
/// nothing in the report named the service's exception, which was only in its log (the
/// service itself was merely stopped). It is now a `logged_exception` warning.
#[test]
fn a_service_handler_that_raises_is_named_next_to_the_clients_failure() {
    if !(on_path("pg_isready") && on_path("psql") && on_path("nginx")) {
        eprintln!(
            "skipped: PostgreSQL or nginx is not installed (Debian: apt-get install postgresql \
             nginx)"
        );
        return;
    }
    let (code, text, report) = run_example_edited("test_orders_postgres", |group| {
        let api = group.join("api.py");
        let source = std::fs::read_to_string(&api).expect("read api.py");
        let broken = source.replace(
            "        psql(f\"insert into orders",
            "        if key == \"order-5\":\n            psql(\"insert into no_such_table values (1)\")\n        psql(f\"insert into orders",
        );
        assert_ne!(broken, source, "the edit applies");
        std::fs::write(&api, broken).expect("write api.py");
    });
    assert_eq!(code, Some(1), "{text}");
    let attempt = &report["groups"][0]["attempts"][0];
    let logged: Vec<&str> = attempt["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["kind"] == "logged_exception")
        .filter_map(|w| w["message"].as_str())
        .collect();
    assert_eq!(logged.len(), 1, "{text}");
    assert!(
        logged[0].starts_with(
            "unit `api` (stopped) logged a Python traceback: subprocess.CalledProcessError"
        ),
        "{}",
        logged[0]
    );
    assert!(
        logged[0].ends_with("(at api.py:18 in psql)"),
        "{}",
        logged[0]
    );
    assert!(
        text.contains("warning: logged_exception: unit `api`"),
        "{text}"
    );
}
