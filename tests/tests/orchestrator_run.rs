//! The orchestrator with real processes: fixture units (Rust), shell units, Python entrypoint
//! units, and a harness process embedding `Run` that the tests signal and SIGKILL.
//!
//! After every test no process it started is alive (checked by pid) and the run database
//! holds the expected statuses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testrium_config::{Circuit, Group, Hop, InExcept, Setup, Unit};
use testrium_events::UnitState;
use testrium_orchestrator::{EndReason, GroupOutcome, Run, RunEvent};
use testrium_tests::fixture::{self, Action, emit, wait};
use testrium_tests::{
    GroupFiles, TempBase, db_events, db_states, pid_alive, probe_pid, wait_until,
};
use testrium_verify::{UnitFailure, UnitStatus};

const GRACE: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(20);

fn run(group: Group, base: &Path) -> GroupOutcome {
    Run::new(group)
        .base_dir(base)
        .grace_period(GRACE)
        .execute()
        .expect("run executes")
}

fn run_observed(group: Group, base: &Path) -> (GroupOutcome, Vec<RunEvent>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let outcome = Run::new(group)
        .base_dir(base)
        .grace_period(GRACE)
        .observer(move |e: &RunEvent| sink.lock().expect("lock").push(e.clone()))
        .execute()
        .expect("run executes");
    let events = seen.lock().expect("lock").clone();
    (outcome, events)
}

fn statuses(outcome: &GroupOutcome) -> BTreeMap<String, UnitStatus> {
    outcome
        .last_attempt()
        .expect("attempt")
        .units
        .iter()
        .map(|u| (u.name.clone(), u.status))
        .collect()
}

fn failure(outcome: &GroupOutcome, unit: &str) -> Option<UnitFailure> {
    outcome
        .last_attempt()
        .expect("attempt")
        .units
        .iter()
        .find(|u| u.name == unit)
        .and_then(|u| u.failure.clone())
}

fn db_of(outcome: &GroupOutcome) -> PathBuf {
    outcome.last_attempt().expect("attempt").db_path.clone()
}

/// Every pid that recorded a probe in the attempt's database.
fn all_probe_pids(outcome: &GroupOutcome) -> Vec<u32> {
    let mut pids: Vec<u32> = db_events(&db_of(outcome))
        .iter()
        .filter_map(|e| e.pid.and_then(|p| u32::try_from(p).ok()))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Every pid is gone. The runner waits for what it killed, but a process killed by SIGKILL
/// finishes exiting asynchronously: allow it a deadline rather than a single look.
fn assert_all_dead(pids: &[u32]) {
    wait_until(LONG, || pids.iter().all(|&pid| !pid_alive(pid)));
    for &pid in pids {
        assert!(!pid_alive(pid), "process {pid} is still alive");
    }
}

/// A unit whose last action records its last required probe may be stopped (the group is
/// decided, the settle period is short) before it exits by itself: either is a success.
fn assert_done(status: UnitStatus) {
    assert!(
        matches!(status, UnitStatus::Finished | UnitStatus::Stopped),
        "{status:?}"
    );
}

/// [`assert_done`] for a state in the run database.
fn assert_done_state(state: UnitState) {
    assert!(
        matches!(state, UnitState::Finished | UnitState::Stopped),
        "{state:?}"
    );
}

fn state_order(events: &[RunEvent], state: UnitState) -> Vec<String> {
    let mut order = Vec::new();
    for event in events {
        if let RunEvent::UnitStateChanged { unit, state: s, .. } = event
            && *s == state
            && !order.contains(unit)
        {
            order.push(unit.clone());
        }
    }
    order
}

#[test]
fn units_start_by_dependency_then_init_order() {
    let base = TempBase::new("order");
    // c needs b, b needs a (ready on its probe); x and y are free from the start: init decides.
    let group = Group::builder("order-test", base.dir("order-test"))
        .unit(
            fixture::unit("c", 1, &[emit("c-started")])
                .depends_on(["b"])
                .events(["c-started"]),
        )
        .unit(
            fixture::unit("b", 2, &[emit("b-started"), emit("b-ready"), Action::Hang])
                .depends_on(["a"])
                .ready_event("b-ready"),
        )
        .unit(
            fixture::unit("a", 3, &[emit("a-ready"), Action::Hang])
                .ready_event("a-ready")
                .events(["a-ready"]),
        )
        .unit(fixture::unit("y", 5, &[emit("y-started")]).events(["y-started"]))
        .unit(fixture::unit("x", 4, &[emit("x-started")]).events(["x-started"]))
        .build()
        .expect("valid group");
    let (outcome, events) = run_observed(group, base.path());

    let starting = state_order(&events, UnitState::Starting);
    assert_eq!(starting, ["a", "x", "y", "b", "c"], "start order");
    // Issue 16: the attempt keeps every state change the observer saw, for reports' lanes.
    let seen: Vec<(String, UnitState)> = events
        .iter()
        .filter_map(|event| match event {
            RunEvent::UnitStateChanged { unit, state, .. } => Some((unit.clone(), *state)),
            _ => None,
        })
        .collect();
    let transitions = &outcome.attempts[0].transitions;
    let kept: Vec<(String, UnitState)> = transitions
        .iter()
        .map(|t| (t.unit.clone(), t.state))
        .collect();
    assert_eq!(kept, seen);
    assert!(
        transitions.windows(2).all(|w| w[0].at <= w[1].at),
        "in time order"
    );
    // b started only after a was ready, c only after b was.
    let probes = db_events(&db_of(&outcome));
    let id = |unit: &str, step: &str| {
        probes
            .iter()
            .find(|e| e.unit == unit && e.step == step)
            .map(|e| e.id)
            .unwrap_or_else(|| panic!("{unit}:{step} recorded"))
    };
    assert!(id("a", "a-ready") < id("b", "b-started"));
    assert!(id("b", "b-ready") < id("c", "c-started"));
    assert!(
        outcome.passed(),
        "{}",
        outcome.attempts[0].verdict.render_text()
    );
    // Every required probe recorded: the servers a and b were stopped, not failed.
    assert_eq!(outcome.attempts[0].end, EndReason::AllProbesRecorded);
    let st = statuses(&outcome);
    assert_eq!(st["a"], UnitStatus::Stopped);
    assert_eq!(st["b"], UnitStatus::Stopped);
    // c recorded its probe and exits: it may be stopped before it gets there.
    assert!(
        matches!(st["c"], UnitStatus::Finished | UnitStatus::Stopped),
        "{st:?}"
    );
    let db = db_states(&db_of(&outcome));
    assert_eq!(db["a"], UnitState::Stopped);
    assert!(
        matches!(db["c"], UnitState::Finished | UnitState::Stopped),
        "{db:?}"
    );
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn independent_units_start_concurrently() {
    let base = TempBase::new("concurrent");
    // Each becomes ready only after seeing the other start: a runner that started them one
    // after the other (waiting for readiness) would deadlock into a readiness timeout.
    let group = Group::builder("concurrent-test", base.dir("concurrent-test"))
        .unit(
            fixture::unit(
                "left",
                1,
                &[
                    emit("left-started"),
                    wait("right", "right-started"),
                    emit("left-ready"),
                ],
            )
            .ready_event("left-ready")
            .ready_timeout(LONG)
            .events(["left-ready"]),
        )
        .unit(
            fixture::unit(
                "right",
                2,
                &[
                    emit("right-started"),
                    wait("left", "left-started"),
                    emit("right-ready"),
                ],
            )
            .ready_event("right-ready")
            .ready_timeout(LONG)
            .events(["right-ready"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    assert!(
        outcome.passed(),
        "{}",
        outcome.attempts[0].verdict.render_text()
    );
    let db = db_states(&db_of(&outcome));
    assert_done_state(db["left"]);
    assert_done_state(db["right"]);
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn readiness_timeout_fails_fast_and_blocks_dependents() {
    let base = TempBase::new("readiness");
    let group = Group::builder("readiness-test", base.dir("readiness-test"))
        .timeout(Duration::from_secs(60))
        .unit(
            fixture::unit("slow", 1, &[emit("booting"), Action::Hang])
                .ready_event("never-ready")
                .ready_timeout(Duration::from_millis(300))
                .events(["never-ready"]),
        )
        .unit(
            fixture::unit("client", 2, &[emit("sent")])
                .depends_on(["slow"])
                .events(["sent"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    assert!(!outcome.passed());
    // Decided by the readiness failure, not by the 60 s group timeout.
    assert_eq!(attempt.end, EndReason::AllExited);
    assert!(matches!(
        failure(&outcome, "slow"),
        Some(UnitFailure::ReadinessTimeout { ref probe, .. }) if probe == "never-ready"
    ));
    assert_eq!(
        failure(&outcome, "client"),
        Some(UnitFailure::DependencyFailed {
            dependency: "slow".to_owned()
        })
    );
    let db = db_states(&db_of(&outcome));
    assert_eq!(db["slow"], UnitState::Failed);
    assert_eq!(db["client"], UnitState::Failed);
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn exit_before_ready_and_crash_after_ready_fail() {
    let base = TempBase::new("early-exit");
    let group = Group::builder("early-exit-test", base.dir("early-exit-test"))
        .unit(fixture::unit("quitter", 1, &[emit("hello")]).ready_event("ready"))
        .unit(fixture::unit("crasher", 2, &[emit("ready"), Action::Crash]).ready_event("ready"))
        .unit(fixture::unit("exiter", 3, &[Action::Exit(3)]))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    assert!(!outcome.passed());
    assert_eq!(
        failure(&outcome, "quitter"),
        Some(UnitFailure::ExitedBeforeReady {
            probe: "ready".to_owned()
        })
    );
    assert_eq!(
        failure(&outcome, "crasher"),
        Some(UnitFailure::Signaled { signal: 6 })
    );
    assert_eq!(
        failure(&outcome, "exiter"),
        Some(UnitFailure::NonZeroExit { code: 3 })
    );
    let db = db_states(&db_of(&outcome));
    assert!(db.values().all(|s| *s == UnitState::Failed), "{db:?}");
}

#[test]
fn shell_unit_crash_is_a_failure_with_its_log_tail() {
    let base = TempBase::new("shell");
    let group = Group::builder("shell-test", base.dir("shell-test"))
        .unit(
            Unit::command(
                "sh",
                ["sh", "-c", "echo about to fail; echo oops >&2; exit 7"],
            )
            .init(1),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let unit = &outcome.attempts[0].units[0];
    assert_eq!(unit.status, UnitStatus::Failed);
    assert_eq!(unit.failure, Some(UnitFailure::NonZeroExit { code: 7 }));
    assert_eq!(unit.log_tail, ["about to fail", "oops"]);
    let log = outcome.attempts[0].run_dir.join("logs").join("sh.log");
    assert_eq!(
        std::fs::read_to_string(log).expect("log"),
        "about to fail\noops\n"
    );
    assert_eq!(db_states(&db_of(&outcome))["sh"], UnitState::Failed);
}

#[test]
fn python_entrypoint_exception_is_recorded_and_fails_the_unit() {
    let base = TempBase::new("python");
    let dir = base.dir("python-test");
    std::fs::write(
        dir.join("units_py.py"),
        "from testrium.modules.events import Events_Manager\n\
         \n\
         def good():\n    Events_Manager(Unit=\"good\", path=\".\").Set_Event(\"hello\")\n\
         \n\
         def bad():\n    raise ValueError(\"broken on purpose\")\n",
    )
    .expect("write module");
    let group = Group::builder("python-test", &dir)
        .unit(
            Unit::entrypoint("good", "units_py:good")
                .init(1)
                .events(["hello"]),
        )
        .unit(
            Unit::entrypoint("bad", "units_py:bad")
                .init(2)
                .events(["never"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let events = db_events(&db_of(&outcome));
    let exception = events
        .iter()
        .find(|e| e.unit == "bad" && e.step == "testrium-unit-exception:ValueError")
        .unwrap_or_else(|| {
            let log = outcome.attempts[0].run_dir.join("logs").join("bad.log");
            panic!(
                "exception probe recorded; events: {events:?}; log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
    assert!(
        exception
            .metadata
            .as_deref()
            .unwrap_or("")
            .contains("broken on purpose")
    );
    assert!(events.iter().any(|e| e.unit == "good" && e.step == "hello"));
    let st = statuses(&outcome);
    assert_done(st["good"]);
    assert_eq!(st["bad"], UnitStatus::Failed);
    assert!(!outcome.passed());
    let db = db_states(&db_of(&outcome));
    assert_eq!(db["bad"], UnitState::Failed);
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn unit_hanging_past_its_timeout_is_killed_and_fails() {
    let base = TempBase::new("hang");
    let group = Group::builder("hang-test", base.dir("hang-test"))
        .timeout(Duration::from_secs(60))
        .unit(
            fixture::unit("hanger", 1, &[emit("up"), Action::IgnoreTerm, Action::Hang])
                .timeout(Duration::from_millis(300)),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    assert_eq!(
        failure(&outcome, "hanger"),
        Some(UnitFailure::Timeout {
            after: Duration::from_millis(300)
        })
    );
    assert_eq!(outcome.attempts[0].end, EndReason::AllExited);
    assert_eq!(db_states(&db_of(&outcome))["hanger"], UnitState::Failed);
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn group_timeout_stops_units_and_reports_missing_probes() {
    let base = TempBase::new("group-timeout");
    let group = Group::builder("group-timeout-test", base.dir("group-timeout-test"))
        .timeout(Duration::from_millis(500))
        .unit(fixture::unit("server", 1, &[emit("up"), Action::Hang]).events(["up"]))
        .unit(
            fixture::unit("client", 2, &[emit("asked"), Action::Hang])
                .events(["asked", "answered"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    assert_eq!(attempt.end, EndReason::GroupTimeout);
    assert!(!outcome.passed());
    // The server did its part: stopped; the client still missed a probe: failed.
    let st = statuses(&outcome);
    assert_eq!(st["server"], UnitStatus::Stopped);
    assert_eq!(st["client"], UnitStatus::Failed);
    let text = attempt.verdict.render_text();
    assert!(text.contains("answered"), "missing probe reported: {text}");
    let db = db_states(&db_of(&outcome));
    assert_eq!(db["server"], UnitState::Stopped);
    assert_eq!(db["client"], UnitState::Failed);
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn unit_ignoring_sigterm_is_killed_after_the_grace_period() {
    let base = TempBase::new("ignore-term");
    let group = Group::builder("ignore-term-test", base.dir("ignore-term-test"))
        .unit(
            fixture::unit(
                "stubborn",
                1,
                &[Action::IgnoreTerm, emit("up"), Action::Hang],
            )
            .events(["up"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    assert_eq!(attempt.ignored_sigterm, ["stubborn"]);
    assert_eq!(
        failure(&outcome, "stubborn"),
        Some(UnitFailure::KilledAfterGrace { grace: GRACE })
    );
    assert_eq!(statuses(&outcome)["stubborn"], UnitStatus::Stopped);
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn grandchildren_escaped_children_and_daemons_are_killed() {
    let base = TempBase::new("grandchild");
    // Each parent waits until its descendant recorded its probe (so its pid is known), then
    // exits 0, leaving the descendant behind: in its process group holding the log open, in
    // its own process group, or double-forked into its own session.
    let group = Group::builder("grandchild-test", base.dir("grandchild-test"))
        .unit(fixture::unit(
            "parent",
            1,
            &[Action::Grandchild, wait("parent", "grandchild-up")],
        ))
        .unit(fixture::unit(
            "escaper",
            2,
            &[Action::Escape, wait("escaper", "escaped-up")],
        ))
        .unit(fixture::unit(
            "daemon",
            3,
            &[Action::Daemonize, wait("daemon", "daemon-up")],
        ))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let db = db_of(&outcome);
    let descendants: Vec<u32> = [
        ("parent", "grandchild-up"),
        ("escaper", "escaped-up"),
        ("daemon", "daemon-up"),
    ]
    .iter()
    .map(|(unit, step)| probe_pid(&db, unit, step).unwrap_or_else(|| panic!("{step}")))
    .collect();
    assert!(
        outcome.passed(),
        "{}",
        outcome.attempts[0].verdict.render_text()
    );
    assert_eq!(outcome.attempts[0].end, EndReason::AllExited);
    assert_all_dead(&descendants);
    assert!(
        outcome.attempts[0].swept_processes >= 1,
        "the daemon was found by the sweep"
    );
    let states = db_states(&db);
    assert!(
        states.values().all(|s| *s == UnitState::Finished),
        "{states:?}"
    );
}

#[test]
fn reload_restarts_a_crashed_unit_until_it_recovers() {
    let base = TempBase::new("reload");
    // Fails on its first start (no marker file yet), succeeds on the second.
    let script = "if [ -e \"$TESTRIUM_RUN_DIR/started-once\" ]; then exit 0; fi; \
                  touch \"$TESTRIUM_RUN_DIR/started-once\"; exit 4";
    let group = Group::builder("reload-test", base.dir("reload-test"))
        .unit(
            Unit::command("flaky", ["sh", "-c", script])
                .init(1)
                .in_except(InExcept::Reload),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let unit = &outcome.attempts[0].units[0];
    assert_eq!(unit.restarts, 1);
    assert_eq!(unit.status, UnitStatus::Finished);
    assert!(
        outcome.passed(),
        "{}",
        outcome.attempts[0].verdict.render_text()
    );
}

#[test]
fn disabled_and_passive_units_are_not_started() {
    let base = TempBase::new("passive");
    let group = Group::builder("passive-test", base.dir("passive-test"))
        .unit(
            fixture::unit("off", 1, &[emit("should-not-run")])
                .enabled(false)
                .events(["x"]),
        )
        .unit(Unit::passive("external").init(2))
        .unit(
            fixture::unit("on", 3, &[emit("ran")])
                .depends_on(["external"])
                .events(["ran"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    assert!(
        outcome.passed(),
        "{}",
        outcome.attempts[0].verdict.render_text()
    );
    let st = statuses(&outcome);
    assert_eq!(st["off"], UnitStatus::NotStarted);
    assert_eq!(st["external"], UnitStatus::NotStarted);
    assert!(
        !db_events(&db_of(&outcome))
            .iter()
            .any(|e| e.step == "should-not-run")
    );
}

#[test]
fn setup_runs_first_and_use_setup_units_wait_for_it() {
    let base = TempBase::new("setup");
    let setup = fixture::argv(&[emit("prepared")]);
    let group = Group::builder("setup-test", base.dir("setup-test"))
        .setup(Setup::Command(setup))
        .unit(
            fixture::unit("user", 1, &[emit("used")])
                .use_setup(true)
                .events(["used"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let events = db_events(&db_of(&outcome));
    let prepared = events
        .iter()
        .position(|e| e.step == "prepared")
        .expect("setup ran");
    let used = events
        .iter()
        .position(|e| e.step == "used")
        .expect("unit ran");
    assert!(prepared < used);
    let setup = outcome.attempts[0].setup.as_ref().expect("setup outcome");
    assert_eq!(setup.status, UnitStatus::Finished);
}

#[test]
fn repeat_runs_every_attempt_in_a_fresh_run_dir() {
    let base = TempBase::new("repeat");
    let group = Group::builder("repeat-test", base.dir("repeat-test"))
        .repeat(2)
        .unit(fixture::unit("once", 1, &[emit("done")]).events(["done"]))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    assert_eq!(outcome.attempts.len(), 3);
    let dirs: std::collections::BTreeSet<_> =
        outcome.attempts.iter().map(|a| a.run_dir.clone()).collect();
    assert_eq!(dirs.len(), 3);
    for attempt in &outcome.attempts {
        assert!(attempt.passed());
        assert_eq!(
            db_events(&attempt.db_path).len(),
            1,
            "each attempt has its own database"
        );
    }
}

#[test]
fn two_runs_of_the_same_group_at_once_do_not_collide() {
    let base = TempBase::new("twice");
    let dir = base.dir("twice-test");
    let make = || {
        Group::builder("twice-test", &dir)
            .unit(
                fixture::unit("server", 1, &[emit("up"), Action::Hang])
                    .ready_event("up")
                    .events(["up"]),
            )
            .unit(
                fixture::unit("client", 2, &[wait("server", "up"), emit("done")])
                    .depends_on(["server"])
                    .events(["done"]),
            )
            .build()
            .expect("valid group")
    };
    let (a, b) = (make(), make());
    let base_path = base.path().to_path_buf();
    let other = std::thread::spawn({
        let base_path = base_path.clone();
        move || run(a, &base_path)
    });
    let first = run(b, &base_path);
    let second = other.join().expect("thread");
    for outcome in [&first, &second] {
        assert!(
            outcome.passed(),
            "{}",
            outcome.attempts[0].verdict.render_text()
        );
        let events = db_events(&db_of(outcome));
        assert_eq!(events.len(), 2, "only its own events: {events:?}");
        assert_all_dead(&all_probe_pids(outcome));
    }
    assert_ne!(first.attempts[0].run_dir, second.attempts[0].run_dir);
}

/// The doc example's shape: a Rust test running a circuit of two Rust-built units.
#[test]
fn rust_request_response_circuit_passes() {
    let base = TempBase::new("echo");
    let server = testrium_tests::bin("testrium-fixture-echo-server");
    let client = testrium_tests::bin("testrium-fixture-echo-client");
    let group = Group::builder("echo-test", base.dir("echo-test"))
        .unit(
            Unit::command("server", [server.display().to_string()])
                .init(1)
                .ready_event("listening")
                .events(["listening", "request-received", "response-sent"]),
        )
        .unit(
            Unit::command("client", [client.display().to_string(), "3".to_owned()])
                .init(2)
                .depends_on(["server"])
                .events(["request-sent", "response-received", "done"]),
        )
        // The round trip itself, request `req-<i>` and response `req-<i>-response`: since
        // issue 13 each request is an instance linked to its own response. (This circuit
        // ended at the client's single `done` before, as a circuit could not follow a flow
        // across two keys; one `done` now completes one of the three instances only.)
        .circuit(
            Circuit::new("echo")
                .hop(Hop::new("client", "request-sent"))
                .hop(Hop::new("server", "request-received"))
                .hop(Hop::new("client", "response-received")),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    assert!(outcome.passed(), "{}", attempt.verdict.render_text());
    let circuit = &attempt.verdict.circuits[0];
    assert_eq!((circuit.instances, circuit.complete), (3, 3));
    assert_eq!(
        attempt.verdict.correlation.pairs.len(),
        6,
        "3 requests + 3 responses paired"
    );
    let st = statuses(&outcome);
    assert_done(st["client"]);
    assert_eq!(st["server"], UnitStatus::Stopped);
    let stored = RunDbMeta::outcome(&attempt.db_path);
    assert!(
        stored.contains("\"passed\":true"),
        "outcome stored for `testrium report`"
    );
    assert_all_dead(&all_probe_pids(&outcome));
}

struct RunDbMeta;

impl RunDbMeta {
    fn outcome(db: &Path) -> String {
        testrium_events::RunDb::open(db)
            .expect("open")
            .read_meta(testrium_orchestrator::OUTCOME_META_KEY)
            .expect("outcome stored")
    }
}

// ----- the runner itself signalled or killed ----------------------------------------------

/// A harness process embedding `Run`, and the run directory it announced.
struct Harness {
    child: std::process::Child,
    run_dir: PathBuf,
}

impl Drop for Harness {
    /// A failing test must not leave its runner behind (SIGKILL: its units die with it, its
    /// watchdog kills their descendants).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn start_harness(base: &Path, group_dir: &Path) -> Harness {
    start_harness_with_grace(base, group_dir, GRACE)
}

fn start_harness_with_grace(base: &Path, group_dir: &Path, grace: Duration) -> Harness {
    let mut child = Command::new(testrium_tests::bin("testrium-fixture-harness"))
        .arg(base)
        .arg(group_dir)
        .arg(grace.as_millis().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start harness");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let run_dir = loop {
        let line = lines
            .next()
            .expect("harness announces its run dir")
            .expect("read");
        if let Some(dir) = line.strip_prefix("run-dir ") {
            break PathBuf::from(dir);
        }
    };
    // Keep draining in the background so the harness never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Harness { child, run_dir }
}

fn signal_group_files(base: &TempBase, name: &str) -> PathBuf {
    GroupFiles::new(base.dir(name))
        .fixture_unit(
            "server",
            1,
            &[
                Action::Grandchild,
                Action::Daemonize,
                emit("serving"),
                Action::Hang,
            ],
            "ready_event = \"serving\"\nevents = [\"serving\", \"never\"]",
        )
        .fixture_unit(
            "stubborn",
            2,
            &[Action::IgnoreTerm, emit("stubborn-up"), Action::Hang],
            "unit_dependencies = [\"server\"]",
        )
        .write()
}

/// Waits until every probe in `steps` is in the database; returns their writers' pids.
fn wait_for_pids(db: &Path, steps: &[(&str, &str)]) -> Vec<u32> {
    let mut pids = Vec::new();
    assert!(
        wait_until(LONG, || {
            pids = steps
                .iter()
                .filter_map(|(u, s)| probe_pid(db, u, s))
                .collect();
            pids.len() == steps.len()
        }),
        "units came up"
    );
    pids
}

const UP: [(&str, &str); 4] = [
    ("server", "serving"),
    ("server", "grandchild-up"),
    ("server", "daemon-up"),
    ("stubborn", "stubborn-up"),
];

#[test]
fn sigint_to_the_runner_tears_everything_down_and_records_statuses() {
    let base = TempBase::new("sigint");
    let group_dir = signal_group_files(&base, "sigint-test");
    let mut harness = start_harness(base.path(), &group_dir);
    let db = harness.run_dir.join("Data.db");
    let pids = wait_for_pids(&db, &UP);

    let harness_pid = nix::unistd::Pid::from_raw(i32::try_from(harness.child.id()).expect("pid"));
    nix::sys::signal::kill(harness_pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = harness.child.wait().expect("harness exits");
    assert_eq!(status.code(), Some(130), "interrupted exit code");
    assert_all_dead(&pids);
    let states = db_states(&db);
    assert_eq!(states["server"], UnitState::Stopped);
    assert_eq!(states["stubborn"], UnitState::Stopped);
    let stored = RunDbMeta::outcome(&db);
    assert!(stored.contains("\"interrupted\":true"), "{stored}");
    assert!(
        stored.contains("\"ignored_sigterm\":[\"stubborn\"]"),
        "{stored}"
    );
}

#[test]
fn sigkill_of_the_runner_leaves_nothing_alive() {
    let base = TempBase::new("sigkill");
    let group_dir = signal_group_files(&base, "sigkill-test");
    let mut harness = start_harness(base.path(), &group_dir);
    let db = harness.run_dir.join("Data.db");
    let pids = wait_for_pids(&db, &UP);
    let units: Vec<u32> = [("server", "serving"), ("stubborn", "stubborn-up")]
        .iter()
        .filter_map(|(u, s)| probe_pid(&db, u, s))
        .collect();

    harness.child.kill().expect("SIGKILL the runner");
    harness.child.wait().expect("reap the runner");
    // The units die with their runner (parent-death signal), even the one ignoring SIGTERM.
    assert!(
        wait_until(LONG, || units.iter().all(|&p| !pid_alive(p))),
        "units died with the runner"
    );
    // Their descendants (a grandchild in the unit's group, a setsid daemon) are killed by the
    // attempt's watchdog, without waiting for another run.
    assert!(
        wait_until(LONG, || pids.iter().all(|&p| !pid_alive(p))),
        "descendants of the killed runner's units were killed by its watchdog"
    );
    // And the next run works normally.
    let next = Group::builder("next-test", base.dir("next-test"))
        .unit(fixture::unit("quick", 1, &[emit("done")]).events(["done"]))
        .build()
        .expect("valid group");
    assert!(run(next, base.path()).passed());
    // The killed run's database is readable and shows where it was.
    let states = db_states(&db);
    assert_eq!(states["server"], UnitState::Running);
    assert!(db_events(&db).iter().any(|e| e.step == "serving"));
}

#[test]
fn unit_output_goes_to_its_log_and_to_the_observer_when_streamed() {
    let base = TempBase::new("output");
    let group = Group::builder("output-test", base.dir("output-test"))
        .unit(
            Unit::command(
                "talker",
                ["sh", "-c", "echo one; echo two >&2; printf three"],
            )
            .init(1),
        )
        .build()
        .expect("valid group");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let outcome = Run::new(group)
        .base_dir(base.path())
        .stream_output(true)
        .observer(move |e: &RunEvent| {
            if let RunEvent::UnitOutput { unit, line } = e {
                sink.lock().expect("lock").push(format!("{unit}: {line}"));
            }
        })
        .execute()
        .expect("run executes");
    assert!(outcome.passed());
    assert_eq!(
        *lines.lock().expect("lock"),
        ["talker: one", "talker: two", "talker: three"]
    );
    let log = outcome.attempts[0].run_dir.join("logs").join("talker.log");
    assert_eq!(
        std::fs::read_to_string(log).expect("log"),
        "one\ntwo\nthree"
    );
}

#[test]
fn cancelling_before_anything_is_ready_stops_units_and_marks_the_outcome_interrupted() {
    let base = TempBase::new("cancel");
    let token = testrium_orchestrator::CancelToken::new();
    let trigger = token.clone();
    let group = Group::builder("cancel-test", base.dir("cancel-test"))
        .unit(
            fixture::unit("waiter", 1, &[emit("up"), Action::Hang])
                .ready_event("never")
                .ready_timeout(LONG),
        )
        .build()
        .expect("valid group");
    // Cancel as soon as the unit recorded its first probe: during the readiness wait.
    let outcome = Run::new(group)
        .base_dir(base.path())
        .grace_period(GRACE)
        .cancel(token)
        .observer(move |e: &RunEvent| {
            if matches!(e, RunEvent::ProbeRecorded { event, .. } if event.step == "up") {
                trigger.cancel();
            }
        })
        .execute()
        .expect("run executes");
    assert!(outcome.interrupted);
    assert_eq!(
        outcome.exit_code(),
        testrium_orchestrator::TestriumExitCode::INTERRUPTED
    );
    let attempt = &outcome.attempts[0];
    assert_eq!(attempt.end, EndReason::Interrupted);
    assert_eq!(statuses(&outcome)["waiter"], UnitStatus::Stopped);
    assert_eq!(db_states(&db_of(&outcome))["waiter"], UnitState::Stopped);
    assert_all_dead(&all_probe_pids(&outcome));
}

/// Regression (compat `passive_only_test`): a group where nothing runs passed vacuously; the
/// original fails it ("no entrypoints or test functions found").
#[test]
fn a_group_where_nothing_runs_fails() {
    let base = TempBase::new("nothing");
    let group = Group::builder("nothing-test", base.dir("nothing-test"))
        .unit(Unit::passive("external").init(1))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    assert!(!outcome.passed());
    let attempt = &outcome.attempts[0];
    assert_eq!(attempt.direct_tests.len(), 1);
    assert_eq!(attempt.direct_tests[0].name, "scenario");
    assert!(!attempt.direct_tests[0].passed);
}

#[test]
fn a_panicking_observer_leaves_nothing_alive() {
    let base = TempBase::new("panic");
    let group = Group::builder("panic-test", base.dir("panic-test"))
        .unit(
            fixture::unit(
                "server",
                1,
                &[
                    Action::Grandchild,
                    wait("server", "grandchild-up"),
                    emit("up"),
                    Action::Hang,
                ],
            )
            .events(["up", "never"]),
        )
        .build()
        .expect("valid group");
    let db = Arc::new(Mutex::new(None));
    let seen_db = Arc::clone(&db);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Run::new(group)
            .base_dir(base.path())
            .grace_period(GRACE)
            .observer(move |e: &RunEvent| match e {
                RunEvent::AttemptStarted { run_dir, .. } => {
                    *seen_db.lock().expect("lock") = Some(run_dir.join("Data.db"));
                }
                RunEvent::ProbeRecorded { event, .. } if event.step == "up" => {
                    panic!("observer bug")
                }
                _ => {}
            })
            .execute()
    }));
    assert!(result.is_err(), "the panic reaches the caller");
    let db = db.lock().expect("lock").clone().expect("run dir announced");
    let pids: Vec<u32> = [("server", "up"), ("server", "grandchild-up")]
        .iter()
        .filter_map(|(u, s)| probe_pid(&db, u, s))
        .collect();
    assert_eq!(pids.len(), 2, "unit and grandchild were up");
    assert_all_dead(&pids);
}

/// The issue's own scenario: a shell unit whose `sleep 300` outlives it (and holds its output).
#[test]
fn shell_grandchild_sleep_300_is_killed_at_teardown() {
    let base = TempBase::new("sleep300");
    let script = "sleep 300 & echo $! > \"$TESTRIUM_RUN_DIR/sleep.pid\"; echo started; exit 0";
    let group = Group::builder("sleep-test", base.dir("sleep-test"))
        .unit(Unit::command("parent", ["sh", "-c", script]).init(1))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    let pid: u32 = std::fs::read_to_string(attempt.run_dir.join("sleep.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(outcome.passed(), "{}", attempt.verdict.render_text());
    assert_eq!(statuses(&outcome)["parent"], UnitStatus::Finished);
    assert!(!pid_alive(pid), "sleep 300 ({pid}) still alive");
    assert_eq!(db_states(&attempt.db_path)["parent"], UnitState::Finished);
}

#[test]
fn a_crashed_server_stops_its_waiting_client_at_once_under_resume() {
    let base = TempBase::new("resume");
    let group = Group::builder("resume-test", base.dir("resume-test"))
        .timeout(Duration::from_secs(60))
        .unit(
            fixture::unit(
                "server",
                1,
                &[emit("up"), wait("client", "asked"), Action::Exit(2)],
            )
            .ready_event("up")
            .events(["up", "answered"]),
        )
        .unit(
            fixture::unit("client", 2, &[emit("asked"), wait("server", "answered")])
                .depends_on(["server"])
                .events(["asked", "got-answer"]),
        )
        .unit(fixture::unit("bystander", 3, &[emit("did-my-part")]).events(["did-my-part"]))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    // Not the 60 s group timeout: the client was stopped when its server failed.
    assert_eq!(attempt.end, EndReason::AllExited);
    assert_eq!(
        failure(&outcome, "server"),
        Some(UnitFailure::NonZeroExit { code: 2 })
    );
    assert_eq!(
        failure(&outcome, "client"),
        Some(UnitFailure::DependencyFailed {
            dependency: "server".to_owned()
        })
    );
    let st = statuses(&outcome);
    assert_eq!(st["client"], UnitStatus::Stopped);
    assert_done(st["bystander"]);
    let db = db_states(&db_of(&outcome));
    assert_eq!(db["server"], UnitState::Failed);
    assert_eq!(db["client"], UnitState::Stopped);
    assert_all_dead(&all_probe_pids(&outcome));
}

#[test]
fn resume_all_lets_dependents_run_to_their_end() {
    let base = TempBase::new("resume-all");
    let group = Group::builder("resume-all-test", base.dir("resume-all-test"))
        .unit(
            fixture::unit("server", 1, &[emit("up"), Action::Exit(2)])
                .ready_event("never")
                .in_except(InExcept::ResumeAll),
        )
        .unit(
            fixture::unit("client", 2, &[emit("ran-anyway")])
                .depends_on(["server"])
                .events(["ran-anyway"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    assert_eq!(
        failure(&outcome, "server"),
        Some(UnitFailure::NonZeroExit { code: 2 })
    );
    assert_done(statuses(&outcome)["client"]);
    assert!(
        db_events(&db_of(&outcome))
            .iter()
            .any(|e| e.step == "ran-anyway")
    );
}

fn python_pair_group(base: &TempBase, name: &str, server_body: &str) -> Group {
    let dir = base.dir(name);
    std::fs::write(
        dir.join("pair.py"),
        format!(
            "import time\n\
             from testrium.modules.events import Events_Manager\n\
             \n\
             def server():\n{server_body}\n\
             \n\
             def client():\n    Events_Manager(Unit=\"client\", path=\".\").Set_Event(\"asked\")\n"
        ),
    )
    .expect("write module");
    Group::builder(name, &dir)
        .unit(
            Unit::entrypoint("server", "pair:server")
                .init(1)
                .ready_event("ready")
                .events(["ready"]),
        )
        .unit(
            Unit::entrypoint("client", "pair:client")
                .init(2)
                .depends_on(["server"])
                .events(["asked"]),
        )
        .build()
        .expect("valid group")
}

/// The client's interpreter is started ahead and released by its `starting` state.
#[test]
fn python_dependent_unit_runs_after_its_dependency_is_ready() {
    let base = TempBase::new("py-pair");
    let group = python_pair_group(
        &base,
        "py-pair-test",
        "    Events_Manager(Unit=\"server\", path=\".\").Set_Event(\"ready\")\n    time.sleep(30)",
    );
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    assert!(outcome.passed(), "{}", attempt.verdict.render_text());
    let events = db_events(&attempt.db_path);
    let at = |unit: &str, step: &str| {
        events
            .iter()
            .position(|e| e.unit == unit && e.step == step)
            .unwrap_or_else(|| panic!("{unit}:{step}"))
    };
    assert!(at("server", "ready") < at("client", "asked"));
    let st = statuses(&outcome);
    // Done with its probes, it may still be shutting its interpreter down when stopped.
    assert!(
        matches!(st["client"], UnitStatus::Finished | UnitStatus::Stopped),
        "{st:?}"
    );
    assert_eq!(st["server"], UnitStatus::Stopped);
    let run_dir = attempt.run_dir.display().to_string();
    assert!(testrium_tests::pids_with_env("TESTRIUM_RUN_DIR", &run_dir).is_empty());
}

/// The pre-started interpreter of a unit that never starts does not outlive the run.
#[test]
fn python_dependent_of_a_failed_unit_never_runs_and_leaves_nothing() {
    let base = TempBase::new("py-pair-fail");
    let group = python_pair_group(&base, "py-pair-fail-test", "    raise RuntimeError(\"no\")");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    assert!(!outcome.passed());
    assert_eq!(
        failure(&outcome, "client"),
        Some(UnitFailure::DependencyFailed {
            dependency: "server".to_owned()
        })
    );
    assert!(
        !db_events(&attempt.db_path)
            .iter()
            .any(|e| e.step == "asked")
    );
    let run_dir = attempt.run_dir.display().to_string();
    assert!(testrium_tests::pids_with_env("TESTRIUM_RUN_DIR", &run_dir).is_empty());
}

#[test]
fn a_second_sigint_kills_at_once_without_the_grace_period() {
    let base = TempBase::new("sigint-twice");
    let group_dir = signal_group_files(&base, "sigint-twice-test");
    // A grace period far longer than the test's deadline: only kill_now can end it in time.
    let mut harness = start_harness_with_grace(base.path(), &group_dir, Duration::from_secs(600));
    let db = harness.run_dir.join("Data.db");
    let pids = wait_for_pids(&db, &UP);

    let harness_pid = nix::unistd::Pid::from_raw(i32::try_from(harness.child.id()).expect("pid"));
    // Ctrl-C, then Ctrl-C again until it is gone (signals of one kind do not queue: a second
    // one sent at once could merge with the first).
    let mut status = None;
    assert!(
        wait_until(LONG, || {
            let _ = nix::sys::signal::kill(harness_pid, nix::sys::signal::Signal::SIGINT);
            status = harness.child.try_wait().expect("try_wait");
            status.is_some()
        }),
        "the second Ctrl-C did not cut the 600 s grace period short"
    );
    assert_eq!(status.and_then(|s| s.code()), Some(130));
    assert_all_dead(&pids);
    assert_eq!(db_states(&db)["stubborn"], UnitState::Stopped);
}

/// Direct test functions run after the units (their interpreter started ahead, released by
/// the input file), their results feed the verdict, nothing of them outlives the run.
#[test]
fn python_direct_tests_run_after_the_units_and_feed_the_verdict() {
    let base = TempBase::new("direct");
    let dir = base.dir("direct-test");
    std::fs::write(
        dir.join("checks.py"),
        "from testrium.modules.events import Events_Manager\n\
         \n\
         def test_unit_recorded_its_probe():\n    \
             assert Events_Manager(Unit=\"*\", path=\".\").wait_for_event(\"hello\", unit=\"greeter\", timeout=5)\n\
         \n\
         def test_broken():\n    raise AssertionError(\"broken on purpose\")\n",
    )
    .expect("write tests");
    let group = Group::builder("direct-test", &dir)
        .unit(fixture::unit("greeter", 1, &[emit("hello")]).events(["hello"]))
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = &outcome.attempts[0];
    let results: BTreeMap<&str, bool> = attempt
        .direct_tests
        .iter()
        .map(|t| (t.name.as_str(), t.passed))
        .collect();
    assert_eq!(
        results.get("test_unit_recorded_its_probe"),
        Some(&true),
        "{results:?}"
    );
    assert_eq!(results.get("test_broken"), Some(&false), "{results:?}");
    assert!(!outcome.passed());
    let run_dir = attempt.run_dir.display().to_string();
    assert!(testrium_tests::pids_with_env("TESTRIUM_RUN_DIR", &run_dir).is_empty());
}

/// Issue 15: the verdict is built from the rows read while the run is live, and after
/// teardown only the rows after the last one seen are read. A unit that drops and recreates
/// `Events` (the original's `drop_events_table`) restarts its `ID`s, so that tail would miss
/// what it recorded afterwards; the runner notices (the schema changed) and reads every row
/// again: the verdict is the one of the table as it is at the end, as before.
#[test]
fn a_table_recreated_during_the_run_is_read_again_whole() {
    let base = TempBase::new("recreated");
    let dir = base.dir("recreated-test");
    std::fs::write(
        dir.join("units_py.py"),
        "import time\n\
         from testrium.modules.events import Events_Manager, UnitStatus_Manager\n\
         \n\
         def dropper():\n\
         \x20   m = Events_Manager(Unit=\"dropper\", path=\".\")\n\
         \x20   m.Set_Event(\"first\")\n\
         \x20   states = UnitStatus_Manager(path=\".\")\n\
         \x20   deadline = time.monotonic() + 60\n\
         \x20   # The runner read `first` once it says the unit is ready.\n\
         \x20   while states.get_status(\"dropper\") not in (\"ready\", \"running\"):\n\
         \x20       assert time.monotonic() < deadline, \"never ready\"\n\
         \x20       m.wait_for_event(\"never\", timeout=0.005)\n\
         \x20   m.drop_events_table()\n\
         \x20   m.Set_Event(\"second\")\n",
    )
    .expect("write module");
    let group = Group::builder("recreated-test", &dir)
        .unit(
            Unit::entrypoint("dropper", "units_py:dropper")
                .init(1)
                .ready_event("first")
                .events(["second"]),
        )
        .build()
        .expect("valid group");
    let outcome = run(group, base.path());
    let attempt = outcome.last_attempt().expect("attempt");
    let events = db_events(&db_of(&outcome));
    assert_eq!(
        events.iter().map(|e| e.step.as_str()).collect::<Vec<_>>(),
        ["second"],
        "log: {}",
        std::fs::read_to_string(attempt.run_dir.join("logs").join("dropper.log"))
            .unwrap_or_default()
    );
    assert!(outcome.passed(), "{}", attempt.verdict.render_text());
    assert_eq!(attempt.verdict.summary.events, 1);
    assert_eq!(attempt.events.count, 1);
}
