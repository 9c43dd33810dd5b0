//! Faults injected at a point of the flow (issue 17, `[[fault]]`): kill, terminate,
//! stop/continue and restart, fired when a probe is recorded for the n-th time, and a fault
//! that never triggers. Every wait is on a probe or an exit; the gaps measured are the units'.

use std::path::Path;
use std::time::Duration;

use testrium_config::{Fault, FaultAction, Group, Unit};
use testrium_orchestrator::{FaultOutcome, GroupOutcome, Run};
use testrium_tests::fixture::{self, Action, emit};
use testrium_tests::{TempBase, db_events, testrium_bin, unit_outcome, verdict_text};
use testrium_verify::{FailureKind, UnitStatus};

const GENEROUS: Duration = Duration::from_secs(60);

fn run(group: Group, base: &Path) -> GroupOutcome {
    let bin_dir = testrium_bin("TESTRIUM_BIN")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Run::new(group)
        .base_dir(base)
        .grace_period(Duration::from_millis(500))
        .prepend_path(bin_dir)
        .execute()
        .expect("run executes")
}

fn fault(outcome: &GroupOutcome) -> &FaultOutcome {
    &outcome.last_attempt().expect("attempt").faults[0]
}

/// A producer that records `order-sent` three times, then waits for the worker's `done`.
fn producer() -> testrium_config::UnitBuilder {
    Unit::command(
        "producer",
        fixture::argv(&[emit("order-sent"), emit("order-sent"), emit("order-sent")]),
    )
    .init(1)
    .events(["order-sent"])
}

fn worker_hanging() -> testrium_config::UnitBuilder {
    Unit::command("worker", fixture::argv(&[emit("up"), Action::Hang]))
        .init(0)
        .ready_event("up")
}

/// `kill` and `terminate` stop the worker when the producer's 3rd order is recorded: the
/// worker counts as stopped, not failed, and the fault says when it fired and how long after
/// its probe.
#[test]
fn kill_and_terminate_stop_the_unit_without_failing_it() {
    for action in [FaultAction::Kill, FaultAction::Terminate] {
        let base = TempBase::new("fault-kill");
        let group = Group::builder("fault-kill-test", base.dir("fault-kill-test"))
            .timeout(GENEROUS)
            .unit(worker_hanging())
            .unit(producer().depends_on(["worker"]))
            .fault(Fault::new("producer", "order-sent", "worker", action).occurrence(3))
            .build()
            .unwrap_or_else(|e| panic!("{e:?}"));
        let outcome = run(group, base.path());
        assert!(outcome.passed(), "{action:?}: {}", verdict_text(&outcome));
        let worker = unit_outcome(&outcome, "worker");
        assert_eq!(worker.status, UnitStatus::Stopped, "{action:?}");
        assert_eq!(worker.failure, None, "{action:?}");
        let f = fault(&outcome);
        assert!(f.fired, "{f:?}");
        assert!(f.latency.is_some() && f.at.is_some(), "{f:?}");
        // Every report shows it: the JSON model, the terminal, a marker on the HTML timeline.
        let group = testrium_report::group_report(
            &testrium_config::Group::builder("fault-kill-test", base.dir("fault-kill-test"))
                .unit(worker_hanging())
                .unit(producer())
                .build()
                .unwrap_or_else(|e| panic!("{e:?}")),
            &outcome,
        );
        let report = &group.attempts[0].faults[0];
        assert!(report.fired && report.latency_ms.is_some(), "{report:?}");
        let mut text = Vec::new();
        testrium_report::terminal::write_group(&mut text, &group, testrium_report::Style::PLAIN)
            .expect("write");
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.contains(&format!(
                "fault {} worker after producer:order-sent #3: fired",
                action.as_str()
            )),
            "{text}"
        );
        let mut run = testrium_report::RunReport::new(base.path().display().to_string());
        run.groups.push(group);
        let page = testrium_report::html::render(&run);
        assert!(
            page.contains("<g class=\"fault\" data-unit=\"worker\">"),
            "fault marker"
        );
    }
}

/// `stop` freezes the worker's whole tree for `duration-ms`, then continues it: its heartbeat
/// (a probe every 10 ms, written by the unit itself) has a gap of about that length, and it
/// goes on after it.
#[test]
fn stop_freezes_the_unit_then_continues_it() {
    let base = TempBase::new("fault-stop");
    let beat = "i=0; while [ $i -lt 80 ]; do testrium emit beat; i=$((i+1)); sleep 0.01; done; \
                testrium emit done";
    let group = Group::builder("fault-stop-test", base.dir("fault-stop-test"))
        .timeout(GENEROUS)
        .unit(
            Unit::command("worker", ["sh", "-c", beat])
                .init(0)
                .events(["beat", "done"]),
        )
        .fault(
            Fault::new("worker", "beat", "worker", FaultAction::Stop)
                .occurrence(10)
                .duration(Duration::from_millis(600)),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let outcome = run(group, base.path());
    assert!(outcome.passed(), "{}", verdict_text(&outcome));
    assert!(fault(&outcome).fired);
    let beats: Vec<i64> = db_events(&outcome.last_attempt().expect("attempt").db_path)
        .into_iter()
        .filter(|e| e.step == "beat")
        .filter_map(|e| e.mono_ns)
        .collect();
    assert_eq!(beats.len(), 80, "every beat recorded after the continue");
    let longest = beats.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        longest >= 500_000_000,
        "the longest gap between beats is {} ms; the unit was not stopped",
        longest / 1_000_000
    );
}

/// `restart` kills the worker and starts it again after `duration-ms`, awaiting its readiness
/// as at first start (the group waits for it to come back): its readiness probe is recorded
/// twice, by two processes.
#[test]
fn restart_kills_the_unit_and_starts_it_again() {
    let base = TempBase::new("fault-restart");
    let group = Group::builder("fault-restart-test", base.dir("fault-restart-test"))
        .timeout(GENEROUS)
        .unit(worker_hanging())
        .unit(
            Unit::command("producer", fixture::argv(&[emit("order-sent")]))
                .init(1)
                .depends_on(["worker"])
                .events(["order-sent"]),
        )
        .fault(
            Fault::new("producer", "order-sent", "worker", FaultAction::Restart)
                .duration(Duration::from_millis(200)),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let outcome = run(group, base.path());
    let events = db_events(&outcome.last_attempt().expect("attempt").db_path);
    let ups: Vec<i64> = events
        .iter()
        .filter(|e| e.unit == "worker" && e.step == "up")
        .filter_map(|e| e.pid)
        .collect();
    assert_eq!(ups.len(), 2, "{}", verdict_text(&outcome));
    assert_ne!(ups[0], ups[1], "a new process after the restart");
    assert!(fault(&outcome).fired);
    assert_ne!(unit_outcome(&outcome, "worker").status, UnitStatus::Failed);
}

/// A fault whose probe never comes (`occurrence` 5 of 3 orders) fails the group with
/// `fault_not_triggered`, unless it is `optional`.
#[test]
fn a_fault_that_never_triggers_fails_unless_optional() {
    for optional in [false, true] {
        let base = TempBase::new("fault-never");
        let group = Group::builder("fault-never-test", base.dir("fault-never-test"))
            .timeout(GENEROUS)
            .unit(producer())
            .fault(
                Fault::new("producer", "order-sent", "producer", FaultAction::Kill)
                    .occurrence(5)
                    .optional(optional),
            )
            .build()
            .unwrap_or_else(|e| panic!("{e:?}"));
        let outcome = run(group, base.path());
        let kinds = outcome
            .last_attempt()
            .expect("attempt")
            .verdict
            .failure_kinds();
        assert!(!fault(&outcome).fired);
        if optional {
            assert!(outcome.passed(), "{}", verdict_text(&outcome));
        } else {
            assert_eq!(kinds, [FailureKind::FaultNotTriggered]);
        }
    }
}

/// Issue 17, done when: the bundled queue example (a fault kills the worker after its 3rd
/// order and restarts it; unacknowledged orders come again) passes under its at-least-once
/// contract; the same run, re-verified with `delivery = "exactly-once"`, fails and names the
/// duplicated key — without starting anything.
#[test]
fn the_queue_example_holds_at_least_once_and_reverified_exactly_once_fails() {
    let base = TempBase::new("queue-example");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/test_queue_fault");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&from)
        .arg(base.path())
        .status()
        .expect("cp");
    assert!(status.success());
    let testrium = testrium_bin("TESTRIUM_BIN");
    let json = base.path().join("run.json");
    let out = std::process::Command::new(&testrium)
        .arg("run")
        .arg(base.path())
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("json");
    let attempt = &report["groups"][0]["attempts"][0];
    assert_eq!(attempt["faults"][0]["fired"], true, "{attempt}");
    let run_dir = attempt["run_dir"].as_str().expect("run dir").to_owned();
    // The same run, judged against an edited contract.
    let config = base.path().join("test_queue_fault/config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace(
            "delivery = \"at-least-once\"",
            "delivery = \"exactly-once\"",
        ),
    )
    .expect("edit");
    let again = std::process::Command::new(&testrium)
        .arg("verify")
        .arg(&run_dir)
        .output()
        .expect("verify");
    let said = String::from_utf8_lossy(&again.stdout).into_owned();
    assert_eq!(again.status.code(), Some(1), "{said}");
    assert!(said.contains("contract_duplicated"), "{said}");
    assert!(
        said.contains("order-3"),
        "the duplicated key is named: {said}"
    );
}
