//! The Python fork server (issue 15): `entrypoint` units and direct tests are forks of one
//! pre-warmed interpreter, and each still looks to the runner, to itself and to `/proc` as the
//! exec'd interpreter did — its own process group, a child of the runner, its environment,
//! working directory, log, exit code or signal; `python-fork = false` gives a fresh
//! interpreter; a broken server falls back to fresh interpreters with a warning.
//!
//! A unit tells how it was started by its command line: a fork keeps the server's
//! (`… testrium_bootstrap.py fork-server …`), a fresh interpreter has its own (`… entrypoint
//! …`).

use std::path::Path;
use std::time::Duration;

use testrium_config::{Group, Unit};
use testrium_orchestrator::{GroupOutcome, Run};
use testrium_tests::{TempBase, db_events, pid_alive, pids_with_env, wait_until};
use testrium_verify::{UnitFailure, UnitStatus};

const GRACE: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(20);

/// The units' code: `report` records what the unit sees of itself as the metadata of the
/// probe `seen`, prints a line to stdout and to stderr, and exits with `$EXIT_WITH` (0 when
/// unset).
const UNITS_PY: &str = r#"import json, os, sys
from testrium.modules.events import Events_Manager


def facts():
    with open("/proc/self/cmdline", "rb") as handle:
        cmdline = handle.read().split(b"\0")
    with open("/proc/self/environ", "rb") as handle:
        environ = [v.decode(errors="replace") for v in handle.read().split(b"\0") if v]
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "pgid": os.getpgid(0),
        "cwd": os.getcwd(),
        "mode": "fork" if b"fork-server" in cmdline else "exec",
        "env_marker": os.environ.get("MARKER"),
        "env_unit": os.environ.get("TESTRIUM_UNIT"),
        "proc_unit": [v for v in environ if v.startswith("TESTRIUM_UNIT=")],
        "stdin": os.read(0, 10).decode(),
        "sys_path_last": sys.path[-1],
        "argv": sys.argv[1:],
    }


def report():
    unit = os.environ["TESTRIUM_UNIT"]
    Events_Manager(Unit=unit, path=".").Set_Event("seen", metadata=facts())
    print("out of " + unit)
    print("err of " + unit, file=sys.stderr)
    sys.exit(int(os.environ.get("EXIT_WITH", "0")))


def killed():
    Events_Manager(Unit="killed", path=".").Set_Event("seen", metadata=facts())
    os.kill(os.getpid(), 9)


def threaded():
    # Returns at once; its non-daemon thread records a probe later: the exit waits for it.
    import threading
    import time

    def later():
        time.sleep(0.2)
        Events_Manager(Unit="threaded", path=".").Set_Event("from-thread")

    threading.Thread(target=later).start()


def exit_message():
    sys.exit("bye from exit_message")


def runtime():
    # What a raw clone must leave working as os.fork does (PyOS_AfterFork_Child): threads and
    # their native ids, multiprocessing with both start methods, subprocesses that inherit
    # the unit's environment, signals raised at oneself, the unit's own time zone.
    import multiprocessing
    import signal
    import subprocess
    import threading
    import time

    unit = os.environ["TESTRIUM_UNIT"]
    ids = []
    threads = [threading.Thread(target=lambda: ids.append(threading.get_native_id())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 3 and os.getpid() not in ids, ids
    assert threading.get_native_id() == os.getpid()
    for method in ("fork", "spawn"):
        context = multiprocessing.get_context(method)
        queue = context.Queue()
        child = context.Process(target=_put_pid, args=(queue,))
        child.start()
        assert queue.get(timeout=20) != os.getpid()
        child.join(20)
        assert child.exitcode == 0, (method, child.exitcode)
    out = subprocess.run(
        ["sh", "-c", "echo $MARKER:$TESTRIUM_UNIT"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "m:" + unit, out
    got = []
    signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    signal.raise_signal(signal.SIGUSR1)
    os.kill(os.getpid(), signal.SIGUSR1)
    assert got == [signal.SIGUSR1] * 2, got
    assert time.strftime("%Z") == "JST", time.strftime("%Z")
    Events_Manager(Unit=unit, path=".").Set_Event("runtime-ok", metadata=facts())


def _put_pid(queue):
    queue.put(os.getpid())


def daemonize():
    # A launcher: a pure-Python daemon (fork + setsid, no exec) left behind, then exit 0.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            Events_Manager(Unit="launcher", path=".").Set_Event("daemon-up", metadata=facts())
            import time
            while True:
                time.sleep(1)
        os._exit(0)
"#;

fn write_units(dir: &Path) {
    std::fs::write(dir.join("units_py.py"), UNITS_PY).expect("write units");
}

/// A direct test that passes only in a fork (`fork`) or only in a fresh interpreter, and
/// only without `TESTRIUM_UNIT` (the direct tests belong to no unit), also in `/proc`.
fn write_direct_test(dir: &Path, fork: bool) {
    let expected = if fork { "True" } else { "False" };
    std::fs::write(
        dir.join("direct_py.py"),
        format!(
            "import os\n\n\ndef test_how_started():\n    \
             cmdline = open('/proc/self/cmdline', 'rb').read()\n    \
             assert (b'fork-server' in cmdline) is {expected}, cmdline\n    \
             environ = open('/proc/self/environ', 'rb').read().split(b'\\0')\n    \
             assert not [v for v in environ if v.startswith(b'TESTRIUM_UNIT=')], environ\n    \
             assert 'TESTRIUM_UNIT' not in os.environ\n"
        ),
    )
    .expect("write direct test");
}

fn assert_direct_test_passed(outcome: &GroupOutcome) {
    let attempt = outcome.last_attempt().expect("attempt");
    let test = attempt
        .direct_tests
        .iter()
        .find(|t| t.name == "test_how_started")
        .unwrap_or_else(|| panic!("direct test ran: {:?}", attempt.direct_tests));
    assert!(test.passed, "{:?}", test.message);
}

fn run(group: Group, base: &Path, fault: Option<&str>) -> GroupOutcome {
    let mut run = Run::new(group).base_dir(base).grace_period(GRACE);
    if let Some(fault) = fault {
        run = run.env("TESTRIUM_FORK_SERVER_FAULT", fault);
    }
    run.execute().expect("run executes")
}

/// The metadata of `unit`'s probe `step`.
fn seen(outcome: &GroupOutcome, unit: &str, step: &str) -> serde_json::Value {
    let attempt = outcome.last_attempt().expect("attempt");
    let event = db_events(&attempt.db_path)
        .into_iter()
        .find(|e| e.unit == unit && e.step == step)
        .unwrap_or_else(|| {
            let log = attempt.run_dir.join("logs").join(format!("{unit}.log"));
            panic!(
                "{unit}:{step} recorded; log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
    serde_json::from_str(event.metadata.as_deref().expect("metadata")).expect("json")
}

fn unit_failure(outcome: &GroupOutcome, unit: &str) -> (UnitStatus, Option<UnitFailure>) {
    let attempt = outcome.last_attempt().expect("attempt");
    let u = attempt
        .units
        .iter()
        .find(|u| u.name == unit)
        .expect("unit outcome");
    (u.status, u.failure.clone())
}

fn log_of(outcome: &GroupOutcome, unit: &str) -> String {
    let attempt = outcome.last_attempt().expect("attempt");
    std::fs::read_to_string(attempt.run_dir.join("logs").join(format!("{unit}.log")))
        .unwrap_or_default()
}

fn warnings(outcome: &GroupOutcome) -> Vec<String> {
    let attempt = outcome.last_attempt().expect("attempt");
    attempt
        .verdict
        .warnings()
        .iter()
        .map(|w| w.message.clone())
        .collect()
}

/// Nothing started for the group runs any more (the server and the forks included).
fn assert_nothing_left(group: &str) {
    let gone = wait_until(LONG, || pids_with_env("TESTRIUM_GROUP", group).is_empty());
    assert!(
        gone,
        "processes of {group} still alive: {:?}",
        pids_with_env("TESTRIUM_GROUP", group)
    );
}

#[test]
fn a_forked_unit_gets_its_own_group_environment_cwd_log_and_exit_code() {
    // One `clone(CLONE_PARENT)` per unit.
    forked_unit_facts("fork_facts_test", None);
}

/// The same where the server makes units with two forks (where `clone(CLONE_PARENT)` is
/// refused, or the machine is neither x86_64 nor aarch64).
#[test]
fn a_unit_made_by_two_forks_gets_the_same() {
    forked_unit_facts("fork_facts_double_test", Some("double-fork"));
}

fn forked_unit_facts(name: &str, fault: Option<&str>) {
    let base = TempBase::new(name);
    let dir = base.dir(name);
    write_units(&dir);
    write_direct_test(&dir, true);
    std::fs::create_dir_all(dir.join("sub")).expect("sub folder");
    let group = Group::builder(name, &dir)
        .unit(
            // No required probe: the group ends when both exited, so their exits are seen.
            Unit::entrypoint("first", "units_py:report")
                .init(1)
                .env("MARKER", "one")
                .cwd("sub"),
        )
        .unit(
            Unit::entrypoint("second", "units_py:report")
                .init(2)
                .env("MARKER", "two")
                .env("EXIT_WITH", "3"),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path(), fault);
    let runner = std::process::id();
    for (unit, marker, cwd) in [
        ("first", "one", dir.join("sub")),
        ("second", "two", dir.clone()),
    ] {
        let facts = seen(&outcome, unit, "seen");
        assert_eq!(facts["mode"], "fork", "{unit}: {facts}");
        assert_eq!(facts["ppid"], runner, "{unit}: a child of the runner");
        assert_eq!(facts["pgid"], facts["pid"], "{unit}: its own process group");
        assert_eq!(facts["cwd"], cwd.display().to_string(), "{unit}");
        assert_eq!(facts["env_marker"], marker, "{unit}");
        assert_eq!(facts["env_unit"], unit, "{unit}");
        assert_eq!(
            facts["proc_unit"],
            serde_json::json!([format!("TESTRIUM_UNIT={unit}")]),
            "{unit}: /proc/<pid>/environ names the unit"
        );
        assert_eq!(facts["stdin"], "", "{unit}: stdin is /dev/null");
        assert_eq!(facts["argv"], serde_json::json!([]), "{unit}");
        assert_eq!(facts["sys_path_last"], dir.display().to_string(), "{unit}");
        let log = log_of(&outcome, unit);
        assert!(log.contains(&format!("out of {unit}\n")), "{unit}: {log}");
        assert!(log.contains(&format!("err of {unit}\n")), "{unit}: {log}");
    }
    assert_eq!(
        unit_failure(&outcome, "first"),
        (UnitStatus::Finished, None)
    );
    assert_eq!(
        unit_failure(&outcome, "second"),
        (
            UnitStatus::Failed,
            Some(UnitFailure::NonZeroExit { code: 3 })
        )
    );
    assert!(
        warnings(&outcome)
            .iter()
            .all(|w| !w.contains("fork server"))
    );
    assert_direct_test_passed(&outcome);
    assert_nothing_left(name);
}

/// Threads, `multiprocessing` (fork and spawn), subprocesses, signals raised at oneself and
/// the unit's time zone work in a unit made by one `clone(CLONE_PARENT)` (which skips glibc's
/// `fork` and relies on `PyOS_AfterFork_Child`) as in one made by two forks.
#[test]
fn a_forked_unit_runs_threads_processes_signals_and_its_time_zone() {
    let base = TempBase::new("fork-runtime");
    for (name, fault) in [
        ("fork_runtime_test", None),
        ("fork_runtime_double_test", Some("double-fork")),
    ] {
        let dir = base.dir(name);
        write_units(&dir);
        let group = Group::builder(name, &dir)
            .unit(
                Unit::entrypoint("rt", "units_py:runtime")
                    .env("MARKER", "m")
                    .env("TZ", "JST-9")
                    .events(["runtime-ok"]),
            )
            .build()
            .expect("valid group");
        let outcome = run(group, base.path(), fault);
        assert!(outcome.passed(), "{name}: {}", log_of(&outcome, "rt"));
        let facts = seen(&outcome, "rt", "runtime-ok");
        assert_eq!(facts["mode"], "fork", "{name}: {facts}");
        assert_eq!(facts["ppid"], std::process::id(), "{name}");
        assert_nothing_left(name);
    }
}

#[test]
fn a_forked_unit_killed_by_a_signal_reports_the_signal() {
    let base = TempBase::new("fork-signal");
    let dir = base.dir("fork_signal_test");
    write_units(&dir);
    let group = Group::builder("fork_signal_test", &dir)
        .unit(Unit::entrypoint("killed", "units_py:killed").events(["seen"]))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path(), None);
    assert_eq!(seen(&outcome, "killed", "seen")["mode"], "fork");
    assert_eq!(
        unit_failure(&outcome, "killed"),
        (
            UnitStatus::Failed,
            Some(UnitFailure::Signaled { signal: 9 })
        )
    );
    assert_nothing_left("fork_signal_test");
}

#[test]
fn python_fork_false_or_an_interpreter_setting_starts_a_fresh_interpreter() {
    let base = TempBase::new("fork-optout");
    let dir = base.dir("fork_optout_test");
    write_units(&dir);
    let group = Group::builder("fork_optout_test", &dir)
        .unit(
            Unit::entrypoint("forked", "units_py:report")
                .init(1)
                .events(["seen"]),
        )
        .unit(
            Unit::entrypoint("fresh", "units_py:report")
                .init(2)
                .python_fork(false)
                .events(["seen"]),
        )
        .unit(
            // An interpreter setting of its own: the server's interpreter would not have it.
            Unit::entrypoint("warned", "units_py:report")
                .init(3)
                .env("PYTHONWARNINGS", "ignore")
                .events(["seen"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path(), None);
    assert!(outcome.passed(), "{:?}", warnings(&outcome));
    assert_eq!(seen(&outcome, "forked", "seen")["mode"], "fork");
    let fresh = seen(&outcome, "fresh", "seen");
    assert_eq!(fresh["mode"], "exec", "{fresh}");
    assert_eq!(fresh["ppid"], std::process::id());
    assert_eq!(fresh["pgid"], fresh["pid"]);
    assert_eq!(seen(&outcome, "warned", "seen")["mode"], "exec");

    let dir = base.dir("fork_optout_group_test");
    write_units(&dir);
    write_direct_test(&dir, false);
    let group = Group::builder("fork_optout_group_test", &dir)
        .python_fork(false)
        .unit(Unit::entrypoint("fresh", "units_py:report").events(["seen"]))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path(), None);
    assert!(outcome.passed());
    assert_eq!(seen(&outcome, "fresh", "seen")["mode"], "exec");
    assert_direct_test_passed(&outcome);
    // No server was started for a group that forks nothing.
    let logs = outcome
        .last_attempt()
        .expect("attempt")
        .run_dir
        .join("logs");
    assert!(!logs.join("_fork-server.log").exists());
}

/// A server that cannot start, dies on its first request, or never answers: every unit still
/// runs (in a fresh interpreter), the verdict is the one a working server gives, and the
/// report says what happened.
#[test]
fn a_broken_fork_server_falls_back_to_fresh_interpreters_with_a_warning() {
    for fault in ["exit", "die", "hang"] {
        let base = TempBase::new("fork-broken");
        let name = format!("fork_broken_{fault}_test");
        let dir = base.dir(&name);
        write_units(&dir);
        let group = Group::builder(&name, &dir)
            .unit(
                Unit::entrypoint("first", "units_py:report")
                    .init(1)
                    .events(["seen"]),
            )
            .unit(
                Unit::entrypoint("second", "units_py:report")
                    .init(2)
                    .depends_on(["first"])
                    .events(["seen"]),
            )
            .build()
            .expect("valid group");
        let outcome = run(group, base.path(), Some(fault));
        assert!(outcome.passed(), "{fault}: {:?}", warnings(&outcome));
        for unit in ["first", "second"] {
            let facts = seen(&outcome, unit, "seen");
            assert_eq!(facts["mode"], "exec", "{fault}: {unit}");
            assert_eq!(facts["ppid"], std::process::id(), "{fault}: {unit}");
        }
        let warnings = warnings(&outcome);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("the Python fork server broke")),
            "{fault}: {warnings:?}"
        );
        assert_nothing_left(&name);
    }
}

/// Teardown of forks is teardown of exec'd units: a unit that never ends is stopped, the
/// pure-Python daemon a launcher left (no exec: its environment block is the server's) is
/// still named after its unit in `/proc` and is killed, and neither the server nor any fork
/// outlives the run.
#[test]
fn teardown_of_forked_units_leaves_nothing_running() {
    let base = TempBase::new("fork-teardown");
    let dir = base.dir("fork_teardown_test");
    write_units(&dir);
    let group = Group::builder("fork_teardown_test", &dir)
        .unit(Unit::entrypoint("launcher", "units_py:daemonize").events(["daemon-up"]))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path(), None);
    assert!(outcome.passed(), "{:?}", warnings(&outcome));
    let daemon = seen(&outcome, "launcher", "daemon-up");
    assert_eq!(daemon["mode"], "fork");
    assert_eq!(
        daemon["proc_unit"],
        serde_json::json!(["TESTRIUM_UNIT=launcher"]),
        "{daemon}"
    );
    let pid = u32::try_from(daemon["pid"].as_u64().expect("pid")).expect("pid");
    assert!(wait_until(LONG, || !pid_alive(pid)), "daemon {pid} alive");
    assert_nothing_left("fork_teardown_test");
}

/// A fork ends as the script would: non-daemon threads are waited for, `sys.exit("text")`
/// prints the text and exits 1.
#[test]
fn a_forked_unit_exits_as_the_interpreter_would() {
    let base = TempBase::new("fork-exit");
    let dir = base.dir("fork_exit_test");
    write_units(&dir);
    // Two groups: a failing unit would stop the other one.
    let group = Group::builder("fork_exit_test", &dir)
        .unit(Unit::entrypoint("threaded", "units_py:threaded"))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path(), None);
    let attempt = outcome.last_attempt().expect("attempt");
    assert!(
        db_events(&attempt.db_path)
            .iter()
            .any(|e| e.unit == "threaded" && e.step == "from-thread"),
        "the thread's probe: {}",
        log_of(&outcome, "threaded")
    );
    assert_eq!(
        unit_failure(&outcome, "threaded"),
        (UnitStatus::Finished, None)
    );
    let group = Group::builder("fork_exit_test", &dir)
        .unit(Unit::entrypoint("message", "units_py:exit_message"))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path(), None);
    assert_eq!(
        unit_failure(&outcome, "message"),
        (
            UnitStatus::Failed,
            Some(UnitFailure::NonZeroExit { code: 1 })
        )
    );
    assert!(log_of(&outcome, "message").contains("bye from exit_message\n"));
    assert_nothing_left("fork_exit_test");
}

/// The group file of `a_unit_runs_the_group_file_as_it_is_when_it_starts`: `rewrite` replaces
/// the file itself, then `later` (released by `rewrite`'s ready probe) records the version it
/// runs.
const SHARED_PY: &str = r#"import os
from testrium.modules.events import Events_Manager

VERSION = "old"


def mode():
    with open("/proc/self/cmdline", "rb") as handle:
        return "fork" if b"fork-server" in handle.read() else "exec"


def rewrite():
    path = os.path.abspath(__file__)
    with open(path) as handle:
        source = handle.read()
    with open(path + ".new", "w") as handle:
        handle.write(source.replace('VERSION = "old"', 'VERSION = "newer"'))
    os.replace(path + ".new", path)
    Events_Manager(Unit="rewrite", path=".").Set_Event("rewritten", metadata={"mode": mode()})


def later():
    Events_Manager(Unit="later", path=".").Set_Event(
        "seen", metadata={"version": VERSION, "mode": mode()}
    )
"#;

/// Issue 15: where bytecode is not written, the server compiles a group file several forks
/// load, in its idle time, and forks load it with that code — never with code older than the
/// file: a unit started after the file was rewritten runs the new version.
#[test]
fn a_unit_runs_the_group_file_as_it_is_when_it_starts() {
    let base = TempBase::new("fork-compiled");
    let dir = base.dir("fork_compiled_test");
    std::fs::write(dir.join("shared_py.py"), SHARED_PY).expect("write units");
    let group = Group::builder("fork_compiled_test", &dir)
        .unit(Unit::entrypoint("rewrite", "shared_py:rewrite").ready_event("rewritten"))
        .unit(Unit::entrypoint("later", "shared_py:later").depends_on(["rewrite"]))
        .build()
        .expect("valid group");
    let outcome = Run::new(group)
        .base_dir(base.path())
        .grace_period(GRACE)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .execute()
        .expect("run executes");
    assert_eq!(seen(&outcome, "rewrite", "rewritten")["mode"], "fork");
    let later = seen(&outcome, "later", "seen");
    assert_eq!(later["mode"], "fork");
    assert_eq!(later["version"], "newer");
    assert_nothing_left("fork_compiled_test");
}
