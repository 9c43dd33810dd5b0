//! `testrium::Fixture`: a group kept up for a test, and nothing left running after it.

use std::path::Path;
use std::time::Duration;

use testrium::{Fixture, FixtureErrorKind, Group, Unit, UnitState};
use testrium_tests::{TempBase, pid_alive};

/// A group folder with `app.py` holding `source`; its units are built in code.
fn group_dir(base: &TempBase, name: &str, source: &str) -> std::path::PathBuf {
    let dir = base.dir(name);
    std::fs::write(dir.join("app.py"), source).expect("write app.py");
    dir
}

const SERVER: &str = "\
import time
from testrium.modules.events import Events_Manager


def serve():
    Events_Manager(Unit=\"server\", path=\".\").Set_Event(\"server-ready\")
    while True:
        time.sleep(60)


def crash():
    raise RuntimeError(\"no config\")
";

fn server_group(dir: &Path) -> Group {
    Group::builder("test_server", dir)
        .timeout(Duration::from_secs(60))
        .unit(
            Unit::entrypoint("server", "app:serve")
                .ready_event("server-ready")
                .events(["server-ready"]),
        )
        .build()
        .expect("valid group")
}

#[test]
fn a_hanging_server_is_up_while_held_and_gone_when_dropped() {
    let base = TempBase::new("fixture-server");
    let dir = group_dir(&base, "test_server", SERVER);
    let fixture = Fixture::start_with(server_group(&dir), |run| {
        run.base_dir(base.path())
            .settle_period(Duration::from_millis(10))
    })
    .expect("start");
    fixture.wait_ready(Duration::from_secs(20)).expect("ready");

    let pid = fixture.pid("server").expect("the server's pid");
    assert!(pid_alive(pid), "the server is not running");
    assert!(fixture.is_running());
    // `ready`, then `running` right after: either may be the latest.
    assert!(
        matches!(
            fixture.state("server"),
            Some(UnitState::Ready | UnitState::Running)
        ),
        "{:?}",
        fixture.state("server")
    );
    let ready = fixture
        .probe("server", "server-ready")
        .expect("the ready probe");
    assert_eq!(
        ready.pid,
        Some(i64::from(pid)),
        "recorded by the server's process"
    );
    assert!(
        fixture
            .run_dir()
            .is_some_and(|d| d.starts_with(base.path()))
    );

    // Its only required probe is recorded, which ends a plain run once the event log stayed
    // quiet for the settle period (here at most 200 ms in all): a fixture stays up.
    let err = fixture
        .wait_for_probe("server", "never-recorded", Duration::from_millis(500))
        .expect_err("never recorded");
    assert!(
        matches!(err.kind, FixtureErrorKind::ProbeTimeout { .. }),
        "{err:?}"
    );
    assert!(fixture.is_running(), "the fixture's run ended by itself");
    assert!(pid_alive(pid), "the server was stopped");

    drop(fixture);
    // `drop` returns once the teardown is over: no wait needed, the process is gone.
    assert!(!pid_alive(pid), "the server {pid} outlived its fixture");
}

#[test]
fn stop_returns_the_outcome_with_the_server_stopped() {
    let base = TempBase::new("fixture-stop");
    let dir = group_dir(&base, "test_server", SERVER);
    let fixture =
        Fixture::start_with(server_group(&dir), |run| run.base_dir(base.path())).expect("start");
    fixture.wait_ready(Duration::from_secs(20)).expect("ready");
    let pid = fixture.pid("server").expect("the server's pid");

    let outcome = fixture.stop().expect("an outcome");
    assert!(!pid_alive(pid), "the server {pid} outlived stop()");
    assert!(outcome.interrupted, "stopped while running: interrupted");
    let attempt = outcome.last_attempt().expect("one attempt");
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(attempt.units[0].name, "server");
    assert_eq!(attempt.units[0].status.as_str(), "stopped");
}

#[test]
fn a_unit_that_crashes_before_it_is_ready_fails_wait_ready() {
    let base = TempBase::new("fixture-crash");
    let dir = group_dir(&base, "test_crash", SERVER);
    let group = Group::builder("test_crash", &dir)
        .unit(Unit::entrypoint("broken", "app:crash").ready_event("never"))
        .build()
        .expect("valid group");
    let fixture = Fixture::start_with(group, |run| run.base_dir(base.path())).expect("start");
    let err = fixture
        .wait_ready(Duration::from_secs(20))
        .expect_err("the unit crashed");
    assert!(
        matches!(&err.kind, FixtureErrorKind::UnitFailed { unit } if unit == "broken"),
        "{err:?}"
    );
    assert_eq!(
        testrium::config::error_chain(&err),
        "fixture `test_crash`: unit `broken` failed"
    );
}
