//! Verdicts that hold on systems written by others (issue 11): launcher units, setups that
//! are services, units that cannot be spawned, blame at the group timeout, and a run embedded
//! in a program that has children of its own. Each test names the bug it pins down.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testrium_config::{Group, Setup, Unit};
use testrium_orchestrator::{EndReason, GroupOutcome, Run, RunEvent};
use testrium_tests::fixture::{self, Action, emit, wait};
use testrium_tests::{
    TempBase, db_events, pid_alive, probe_pid, run_group, unit_outcome, verdict_text, wait_until,
};
use testrium_verify::{UnitFailure, UnitStatus};

const GRACE: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(20);
/// Group timeout of the tests whose bug was to wait for it: far above what they need, so a
/// run that ends well before it proves the group ended as soon as its outcome was known.
const GENEROUS: Duration = Duration::from_secs(60);

/// A shell word.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `sh -c` that starts the fixture `script` in the background — once the launcher itself has
/// exited, so the service's probes come after the launcher's end — and exits 0 at once: a
/// launcher unit, as `cmd &` or `subprocess.Popen` start real services.
fn launcher(script: &[Action]) -> Vec<String> {
    let service: Vec<String> = fixture::argv(script).iter().map(|w| quote(w)).collect();
    let line = format!(
        "launcher=$$; (while kill -0 $launcher 2>/dev/null; do sleep 0.01; done; exec {}) & exit 0",
        service.join(" ")
    );
    vec!["sh".to_owned(), "-c".to_owned(), line]
}

/// Regression (issue 11 item 2): a unit whose main process starts its service and exits 0
/// was judged at once (`exited_before_ready`), though the service recorded the unit's
/// `ready_event` a moment later. The unit lives as long as its process tree: the client
/// starts once the service is ready, the group passes, and the service is stopped at the end.
#[test]
fn a_launcher_unit_lives_as_long_as_its_service() {
    let base = TempBase::new("launcher");
    let group = Group::builder("launcher-test", base.dir("launcher-test"))
        .timeout(GENEROUS)
        .unit(
            Unit::command(
                "server",
                launcher(&[
                    emit("server-ready"),
                    wait("client", "asked"),
                    emit("answered"),
                    Action::Hang,
                ]),
            )
            .init(1)
            .ready_event("server-ready")
            .events(["server-ready", "answered"]),
        )
        .unit(
            Unit::command(
                "client",
                fixture::argv(&[emit("asked"), wait("server", "answered")]),
            )
            .init(2)
            .depends_on(["server"])
            .events(["asked"]),
        )
        .build()
        .expect("valid group");
    let outcome = run_group(group, base.path());
    assert!(outcome.passed(), "{}", verdict_text(&outcome));
    let db = &outcome.last_attempt().expect("attempt").db_path;
    let service = probe_pid(db, "server", "server-ready").expect("service pid");
    assert!(
        wait_until(LONG, || !pid_alive(service)),
        "the launcher's service ({service}) outlived the run"
    );
}

/// Regression (issue 11 item 2, the other side): a launcher whose whole tree is gone without
/// its readiness probe still fails at once, not at the timeout.
#[test]
fn a_launcher_whose_service_dies_fails_once_its_tree_is_gone() {
    let base = TempBase::new("launcher-dies");
    let group = Group::builder("launcher-dies-test", base.dir("launcher-dies-test"))
        .timeout(GENEROUS)
        .unit(
            Unit::command("server", launcher(&[Action::Exit(0)]))
                .init(1)
                .ready_event("server-ready")
                .ready_timeout(GENEROUS)
                .events(["server-ready"]),
        )
        .build()
        .expect("valid group");
    let outcome = run_group(group, base.path());
    assert!(!outcome.passed());
    assert!(
        matches!(
            unit_outcome(&outcome, "server").failure,
            Some(UnitFailure::ExitedBeforeReady { .. })
        ),
        "{}",
        verdict_text(&outcome)
    );
    let attempt = outcome.last_attempt().expect("attempt");
    assert!(
        attempt.timings.total < GENEROUS / 2,
        "{:?}",
        attempt.timings
    );
}

/// Regression (issue 11 item 3): with a setup that is a service (it records a probe and runs
/// on), `use_setup = true` units never started: they waited for the setup to exit, the group
/// timed out, and the report gave no reason.
#[test]
fn use_setup_units_start_once_a_service_setup_is_up() {
    let base = TempBase::new("setup-service");
    let group = Group::builder("setup-service-test", base.dir("setup-service-test"))
        .timeout(GENEROUS)
        .setup(Setup::Command(fixture::argv(&[
            emit("broker-up"),
            Action::Hang,
        ])))
        .unit(
            Unit::command(
                "worker",
                fixture::argv(&[wait("setup", "broker-up"), emit("used")]),
            )
            .init(1)
            .use_setup(true)
            .events(["used"]),
        )
        .build()
        .expect("valid group");
    let outcome = run_group(group, base.path());
    assert!(outcome.passed(), "{}", verdict_text(&outcome));
    let attempt = outcome.last_attempt().expect("attempt");
    assert_ne!(attempt.end, EndReason::GroupTimeout);
    let setup = attempt.setup.as_ref().expect("setup outcome");
    assert_eq!(setup.status, UnitStatus::Stopped);
}

/// Regression (issue 11 item 3): a setup that fails fails the `use_setup` units with
/// `dependency_failed` evidence naming it.
#[test]
fn a_failing_setup_fails_its_use_setup_units_as_their_dependency() {
    let base = TempBase::new("setup-fails");
    let group = Group::builder("setup-fails-test", base.dir("setup-fails-test"))
        .timeout(GENEROUS)
        .setup(Setup::Command(fixture::argv(&[Action::Exit(3)])))
        .unit(
            Unit::command("worker", fixture::argv(&[emit("used")]))
                .init(1)
                .use_setup(true)
                .events(["used"]),
        )
        .build()
        .expect("valid group");
    let outcome = run_group(group, base.path());
    assert!(!outcome.passed());
    assert_eq!(
        unit_outcome(&outcome, "worker").failure,
        Some(UnitFailure::DependencyFailed {
            dependency: "setup".to_owned()
        })
    );
}

/// A group with a healthy server and a client that cannot be spawned; `command` is the
/// client's.
fn spawn_failure_group(base: &TempBase, name: &str, command: Vec<String>) -> GroupOutcome {
    let group = Group::builder(name, base.dir(name))
        .timeout(GENEROUS)
        .unit(
            Unit::command("server", fixture::argv(&[emit("up"), Action::Hang]))
                .init(1)
                .ready_event("up")
                .events(["up", "request-received"]),
        )
        .unit(
            Unit::command("client", command)
                .init(2)
                .depends_on(["server"])
                .events(["request-sent"]),
        )
        .unit(
            Unit::command("reporter", fixture::argv(&[emit("done")]))
                .init(3)
                .depends_on(["client"])
                .events(["done"]),
        )
        .build()
        .expect("valid group");
    run_group(group, base.path())
}

/// Regression (issue 11 item 4): `command = ["./clinet.sh"]` (a typo) made the group wait its
/// whole timeout and then blame the healthy server with `unit_timeout`. The spawn error is
/// the client's failure at once, with the resolved path; its dependent never starts; the
/// server is stopped, not blamed; the group ends as soon as its outcome is known.
#[test]
fn a_command_that_does_not_exist_fails_its_unit_at_once() {
    let base = TempBase::new("spawn-typo");
    let outcome = spawn_failure_group(&base, "spawn-typo-test", vec!["./clinet.sh".to_owned()]);
    let attempt = outcome.last_attempt().expect("attempt");
    assert_eq!(
        attempt.end,
        EndReason::UnitFailed,
        "{}",
        verdict_text(&outcome)
    );
    assert!(
        attempt.timings.total < GENEROUS / 2,
        "{:?}",
        attempt.timings
    );
    let Some(UnitFailure::SpawnFailed { message }) = &unit_outcome(&outcome, "client").failure
    else {
        panic!("{}", verdict_text(&outcome));
    };
    let resolved = base.path().join("spawn-typo-test").join("clinet.sh");
    assert!(
        message.contains(&format!("`{}` does not exist", resolved.display())),
        "{message}"
    );
    assert_eq!(unit_outcome(&outcome, "server").status, UnitStatus::Stopped);
    assert_eq!(unit_outcome(&outcome, "server").failure, None);
    assert!(matches!(
        unit_outcome(&outcome, "reporter").failure,
        Some(UnitFailure::DependencyFailed { .. })
    ));
    assert!(!verdict_text(&outcome).contains("exceeded its timeout"));
}

/// Regression (issue 11 item 4): a script without the run bit, and one whose `#!`
/// interpreter is missing, are spawn failures that say what to do.
#[test]
fn a_command_without_the_run_bit_or_its_interpreter_says_why() {
    let base = TempBase::new("spawn-perm");
    let dir = base.dir("scripts");
    let no_x = dir.join("no-x.sh");
    std::fs::write(&no_x, "#!/bin/sh\nexit 0\n").expect("write");
    std::fs::set_permissions(&no_x, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let outcome = spawn_failure_group(&base, "spawn-perm-test", vec![no_x.display().to_string()]);
    let Some(UnitFailure::SpawnFailed { message }) = &unit_outcome(&outcome, "client").failure
    else {
        panic!("{}", verdict_text(&outcome));
    };
    assert!(message.contains("not executable"), "{message}");
    assert!(message.contains("chmod +x"), "{message}");

    let no_interpreter = dir.join("no-interp.sh");
    std::fs::write(&no_interpreter, "#!/nonexistent/python9\nprint(1)\n").expect("write");
    std::fs::set_permissions(&no_interpreter, std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let outcome = spawn_failure_group(
        &base,
        "spawn-interp-test",
        vec![no_interpreter.display().to_string()],
    );
    let Some(UnitFailure::SpawnFailed { message }) = &unit_outcome(&outcome, "client").failure
    else {
        panic!("{}", verdict_text(&outcome));
    };
    assert!(
        message.contains("its interpreter `/nonexistent/python9`"),
        "{message}"
    );
}

/// Regression (issue 11 item 5): at the group timeout a unit without a `timeout` of its own
/// was reported as having "exceeded its timeout"; a unit that never started gave no reason.
/// Each unit still running names what it waited for; a unit never started says why.
#[test]
fn the_group_timeout_names_what_each_unit_waited_for() {
    let base = TempBase::new("blame");
    let group = Group::builder("blame-test", base.dir("blame-test"))
        .timeout(Duration::from_millis(600))
        .unit(
            Unit::command("server", fixture::argv(&[Action::Hang]))
                .init(1)
                .ready_event("listening")
                .ready_timeout(GENEROUS),
        )
        .unit(
            Unit::command("client", fixture::argv(&[emit("asked")]))
                .init(2)
                .depends_on(["server"])
                .events(["asked"]),
        )
        .unit(
            Unit::command("worker", fixture::argv(&[emit("one"), Action::Hang]))
                .init(3)
                .events(["one", "two"]),
        )
        .build()
        .expect("valid group");
    let outcome = run_group(group, base.path());
    assert_eq!(
        outcome.last_attempt().expect("attempt").end,
        EndReason::GroupTimeout
    );
    let Some(UnitFailure::GroupTimedOut { waiting_for, .. }) =
        &unit_outcome(&outcome, "server").failure
    else {
        panic!("{}", verdict_text(&outcome));
    };
    assert_eq!(waiting_for, "its readiness probe `listening`");
    let Some(UnitFailure::GroupTimedOut { waiting_for, .. }) =
        &unit_outcome(&outcome, "worker").failure
    else {
        panic!("{}", verdict_text(&outcome));
    };
    assert_eq!(waiting_for, "required probe `two`");
    assert_eq!(
        unit_outcome(&outcome, "client").status,
        UnitStatus::NotStarted
    );
    assert_eq!(
        unit_outcome(&outcome, "client").failure,
        Some(UnitFailure::NotStarted {
            waiting_for: "`server` to be ready".to_owned()
        })
    );
    let report = verdict_text(&outcome);
    assert!(!report.contains("exceeded its timeout"), "{report}");
}

/// A child of the test process itself, as a program embedding `Run` starts its own: `setsid`
/// when `new_session`.
fn own_child(new_session: bool) -> Child {
    let mut command = Command::new("sleep");
    command
        .arg("300")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if new_session {
        // SAFETY: setsid is async-signal-safe and touches only the child.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
    }
    command.spawn().expect("spawn own child")
}

/// Regression (issue 11 item 10): a program embedding `Run` had its own `setsid` child,
/// started during a run, SIGKILLed and reaped by the run — with `.subreaper(false)` too. The
/// embedder's children, started while runs go on (with a unit that daemonizes), stay alive
/// and reapable by their parent.
#[test]
fn an_embedded_run_never_touches_the_embedders_children() {
    for subreaper in [true, false] {
        let base = TempBase::new("embedder");
        let group = Group::builder("embedder-test", base.dir("embedder-test"))
            .timeout(GENEROUS)
            .unit(
                Unit::command(
                    "daemonizer",
                    fixture::argv(&[Action::Daemonize, wait("daemonizer", "daemon-up")]),
                )
                .init(1)
                .events(["daemon-up"]),
            )
            .build()
            .expect("valid group");
        let children: Arc<Mutex<Vec<Child>>> = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&children);
        let outcome = Run::new(group)
            .base_dir(base.path())
            .grace_period(GRACE)
            .subreaper(subreaper)
            .observer(move |event| {
                // Started while the run goes on: after the attempt began.
                if matches!(event, RunEvent::AttemptStarted { .. }) {
                    let mut children = sink.lock().expect("lock");
                    children.push(own_child(true));
                    children.push(own_child(false));
                }
            })
            .execute()
            .expect("run executes");
        assert!(outcome.passed(), "{}", verdict_text(&outcome));
        let daemon = probe_pid(
            &outcome.last_attempt().expect("attempt").db_path,
            "daemonizer",
            "daemon-up",
        )
        .expect("daemon pid");
        assert!(wait_until(LONG, || !pid_alive(daemon)), "daemon survived");
        let mut children = std::mem::take(&mut *children.lock().expect("lock"));
        assert_eq!(children.len(), 2);
        for child in &mut children {
            assert!(
                matches!(child.try_wait(), Ok(None)),
                "subreaper {subreaper}: the embedder's child {} was touched",
                child.id()
            );
        }
        for mut child in children {
            child.kill().expect("kill own child");
            // Still ours to reap: nobody else took its exit status.
            let status = child.wait().expect("reap own child");
            assert!(!status.success());
        }
    }
}

/// The rows a run database holds for `unit`, for the churn test's assertions.
fn steps_of(db: &Path, unit: &str) -> Vec<String> {
    db_events(db)
        .into_iter()
        .filter(|e| e.unit == unit)
        .map(|e| e.step)
        .collect()
}

/// Regression (issue 11 item 1), through the runner: Python units that each open and close
/// a client 40 times while the others write all survive, and every probe is stored.
#[test]
fn python_units_churning_clients_lose_nothing() {
    let base = TempBase::new("py-churn");
    let dir = base.dir("py-churn-test");
    std::fs::write(
        dir.join("churn.py"),
        "import os\n\
         from testrium.modules.events import Events_Manager\n\
         def run():\n\
         \x20   unit = os.environ['TESTRIUM_UNIT']\n\
         \x20   for i in range(40):\n\
         \x20       m = Events_Manager(Unit=unit, path='.')\n\
         \x20       m.Set_Event('c%d' % i)\n\
         \x20       m.connection.close()\n",
    )
    .expect("write");
    let mut builder = Group::builder("py-churn-test", &dir).timeout(GENEROUS);
    let units = 12;
    for n in 0..units {
        builder = builder.unit(
            Unit::entrypoint(format!("u{n}"), "churn:run")
                .init(n)
                .events(["c0", "c39"]),
        );
    }
    let outcome = run_group(builder.build().expect("valid group"), base.path());
    assert!(outcome.passed(), "{}", verdict_text(&outcome));
    let db = &outcome.last_attempt().expect("attempt").db_path;
    for n in 0..units {
        assert_eq!(steps_of(db, &format!("u{n}")).len(), 40, "u{n}");
    }
}

const RESUME_ALL: testrium_config::InExcept = testrium_config::InExcept::ResumeAll;

/// Regression (issue 11 item 4, entrypoints): an entrypoint whose module or function does not
/// exist failed as a crash of the unit's code (`non_zero_exit`, an exception probe); it is the
/// unit's `spawn_failed`, naming what is missing. A module that exists but imports something
/// missing is still the unit's own crash.
#[test]
fn an_entrypoint_that_does_not_exist_is_a_spawn_failure() {
    let base = TempBase::new("entry-missing");
    let dir = base.dir("entry-missing-test");
    std::fs::write(dir.join("app.py"), "def run():\n    pass\n").expect("write");
    std::fs::write(
        dir.join("broken.py"),
        "import no_such_dependency\n\ndef run():\n    pass\n",
    )
    .expect("write");
    let group = Group::builder("entry-missing-test", &dir)
        .timeout(GENEROUS)
        // `Resume-ALL`: each failure is judged on its own, none ends the group early.
        .unit(
            Unit::entrypoint("no-module", "nosuch:run")
                .init(1)
                .in_except(RESUME_ALL),
        )
        .unit(
            Unit::entrypoint("no-function", "app:serve")
                .init(2)
                .in_except(RESUME_ALL),
        )
        .unit(
            Unit::entrypoint("broken", "broken:run")
                .init(3)
                .in_except(RESUME_ALL),
        )
        .build()
        .expect("valid group");
    let outcome = Run::new(group)
        .base_dir(base.path())
        .grace_period(GRACE)
        .execute()
        .expect("run executes");
    let spawn_message = |name: &str| match &unit_outcome(&outcome, name).failure {
        Some(UnitFailure::SpawnFailed { message }) => message.clone(),
        other => panic!("{name}: {other:?}\n{}", verdict_text(&outcome)),
    };
    assert!(
        spawn_message("no-module").contains("no module `nosuch`"),
        "{}",
        verdict_text(&outcome)
    );
    assert!(
        spawn_message("no-function").contains("has no function `serve`"),
        "{}",
        verdict_text(&outcome)
    );
    assert!(
        matches!(
            unit_outcome(&outcome, "broken").failure,
            Some(UnitFailure::NonZeroExit { code: 1 })
        ),
        "{}",
        verdict_text(&outcome)
    );
}

#[test]
fn circuit_instances_in_flight_are_waited_for_before_the_group_ends() {
    // Regression: a group ended once every required probe had been seen once (here `pushed`
    // and the first `done`), 50 ms later, while jobs 2..5 were still on their way through a
    // slow, long-running consumer: they were judged `circuit_incomplete`.
    let base = TempBase::new("in-flight");
    let fixture = testrium_tests::fixture_bin();
    let jobs: Vec<Action> = (1..=5)
        .map(|i| Action::Send("pushed".to_owned(), format!("job-{i}")))
        .collect();
    // The consumer takes 0.3 s per job (its work, not a synchronisation), then runs on as a
    // service does, until stopped.
    let consumer = format!(
        "{f} wait:producer:pushed; for i in 1 2 3 4 5; do sleep 0.3; {f} recv:done:job-$i; done; exec {f} hang",
        f = quote(&fixture.display().to_string())
    );
    let group = Group::builder("in-flight-test", base.dir("in-flight-test"))
        .timeout(GENEROUS)
        .unit(
            Unit::command("producer", fixture::argv(&jobs))
                .init(1)
                .events(["pushed"]),
        )
        .unit(
            Unit::command("consumer", ["sh", "-c", consumer.as_str()])
                .init(2)
                .events(["done"]),
        )
        .circuit(
            testrium_config::Circuit::new("jobs")
                .hop(testrium_config::Hop::new("producer", "pushed"))
                .hop(testrium_config::Hop::new("consumer", "done"))
                .total_budget(LONG),
        )
        .build()
        .expect("valid group");
    let outcome = run_group(group, base.path());
    assert!(outcome.passed(), "{}", verdict_text(&outcome));
    let attempt = outcome.last_attempt().expect("attempt");
    assert_eq!(attempt.end, EndReason::AllProbesRecorded);
    let done: Vec<_> = db_events(&attempt.db_path)
        .into_iter()
        .filter(|e| e.unit == "consumer" && e.step == "done")
        .collect();
    assert_eq!(done.len(), 5, "every job was done before the end");
}
