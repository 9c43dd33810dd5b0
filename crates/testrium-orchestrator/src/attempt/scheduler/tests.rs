//! The scheduler as tables of inputs and expected actions: no process, no sleep, a clock that
//! moves only when a test says so.

use std::time::{Duration, Instant};

use testrium_config::{Group, InExcept, Unit, UnitBuilder};
use testrium_events::UnitState;
use testrium_verify::{UnitFailure, UnitStatus};

use super::{Action, Limits, Scheduler};
use crate::outcome::EndReason;
use crate::process::Exit;

const GROUP_TIMEOUT: Duration = Duration::from_secs(30);
const SETTLE: Duration = Duration::from_millis(50);
const SPAN_SETTLE: Duration = Duration::from_millis(250);

fn unit(name: &str) -> UnitBuilder {
    Unit::command(name, ["true"])
}

/// A scheduler over `units` (with their dependency indices, which the test keeps consistent
/// with the config's dependencies) and the time it started.
fn scheduler(units: Vec<(UnitBuilder, Vec<usize>)>) -> (Scheduler, Instant) {
    let mut group = Group::builder("scheduler-test", "/nonexistent/scheduler-test");
    let deps: Vec<Vec<usize>> = units.iter().map(|(_, d)| d.clone()).collect();
    for (i, (builder, _)) in units.into_iter().enumerate() {
        group = group.unit(builder.init(u32::try_from(i).unwrap_or(u32::MAX)));
    }
    let group = group.build().unwrap_or_else(|e| panic!("{e:?}"));
    let units: Vec<(Unit, Vec<usize>)> = group.units.values().cloned().zip(deps).collect();
    let t0 = Instant::now();
    let limits = Limits {
        group_timeout: GROUP_TIMEOUT,
        grace: Duration::from_secs(2),
        settle: SETTLE,
        span_settle: SPAN_SETTLE,
        max_restarts: 3,
    };
    (Scheduler::new(units, limits, t0), t0)
}

fn drain(s: &mut Scheduler) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

/// Steps at `now` and carries out the starts as a driver whose spawns all succeed.
fn step_spawning(s: &mut Scheduler, now: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    loop {
        s.step(now);
        let actions = drain(s);
        if actions.is_empty() {
            return all;
        }
        for action in &actions {
            if let Action::Start(i) = action {
                s.starting(*i, now);
                s.spawned(*i);
            }
        }
        all.extend(actions);
        all.extend(drain(s));
    }
}

fn starts(actions: &[Action]) -> Vec<usize> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Start(i) => Some(*i),
            _ => None,
        })
        .collect()
}

#[test]
fn dependencies_start_in_order_once_ready() {
    // api (0) <- worker (1) <- client (2): each waits for the one before to be ready.
    let (mut s, t0) = scheduler(vec![
        (Unit::command("api", ["x"]).ready_event("up"), vec![]),
        (unit("worker"), vec![0]),
        (unit("client"), vec![1]),
    ]);
    assert_eq!(starts(&step_spawning(&mut s, t0)), [0]);
    // Not ready yet: nothing else starts.
    assert_eq!(starts(&step_spawning(&mut s, t0)), Vec::<usize>::new());
    s.probe("api", "up", None, false, t0);
    let actions = drain(&mut s);
    assert_eq!(
        actions,
        [
            Action::State(0, UnitState::Ready),
            Action::State(0, UnitState::Running)
        ]
    );
    // worker has no readiness probe: ready at once, so client starts in the same turn.
    assert_eq!(starts(&step_spawning(&mut s, t0)), [1, 2]);
}

#[test]
fn a_readiness_timeout_fails_the_unit_and_its_dependents_never_start() {
    let server = Unit::command("server", ["x"])
        .ready_event("up")
        .ready_timeout(Duration::from_secs(1));
    let (mut s, t0) = scheduler(vec![(server, vec![]), (unit("client"), vec![0])]);
    step_spawning(&mut s, t0);
    let late = t0 + Duration::from_secs(1);
    let actions = step_spawning(&mut s, late);
    assert!(
        actions.contains(&Action::Signal {
            unit: 0,
            kill: false,
            tree: false
        }),
        "{actions:?}"
    );
    s.exited(0, Exit::Signal(15), false, late);
    let actions = step_spawning(&mut s, late);
    assert!(actions.contains(&Action::State(0, UnitState::Failed)));
    assert!(actions.contains(&Action::State(1, UnitState::Failed)));
    assert!(matches!(
        s.units[0].failure,
        Some(UnitFailure::ReadinessTimeout { .. })
    ));
    assert_eq!(
        s.units[1].failure,
        Some(UnitFailure::DependencyFailed {
            dependency: "server".to_owned()
        })
    );
}

#[test]
fn a_failure_for_good_ends_the_group_after_the_settle_period() {
    let (mut s, t0) = scheduler(vec![
        (Unit::command("server", ["x"]).events(["asked"]), vec![]),
        (unit("client"), vec![]),
    ]);
    step_spawning(&mut s, t0);
    s.exited(1, Exit::Code(3), false, t0);
    step_spawning(&mut s, t0);
    assert_eq!(s.end(), None, "the settle period comes first");
    step_spawning(&mut s, t0 + SETTLE);
    assert_eq!(s.end(), Some(EndReason::UnitFailed));
    // The healthy server is stopped, not blamed.
    s.teardown(EndReason::UnitFailed, t0 + SETTLE);
    s.exited(0, Exit::Signal(15), false, t0 + SETTLE);
    drain(&mut s);
    assert_eq!(s.status(0), UnitStatus::Stopped);
    assert_eq!(s.units[0].failure, None);
}

#[test]
fn resume_all_does_not_end_the_group_on_a_failure() {
    let (mut s, t0) = scheduler(vec![
        (Unit::command("server", ["x"]).events(["asked"]), vec![]),
        (
            Unit::command("client", ["x"]).in_except(InExcept::ResumeAll),
            vec![],
        ),
    ]);
    step_spawning(&mut s, t0);
    s.exited(1, Exit::Code(3), false, t0);
    step_spawning(&mut s, t0 + SETTLE * 100);
    assert_eq!(s.end(), None);
}

#[test]
fn a_spawn_failure_fails_the_unit_at_once_and_blocks_its_dependents() {
    let (mut s, t0) = scheduler(vec![(unit("client"), vec![]), (unit("reporter"), vec![0])]);
    s.step(t0);
    assert_eq!(drain(&mut s), [Action::Start(0)]);
    s.starting(0, t0);
    s.spawn_failed(0, "`./clinet.sh` does not exist".to_owned(), t0);
    step_spawning(&mut s, t0 + SETTLE);
    assert!(matches!(
        s.units[0].failure,
        Some(UnitFailure::SpawnFailed { .. })
    ));
    assert!(matches!(
        s.units[1].failure,
        Some(UnitFailure::DependencyFailed { .. })
    ));
    assert_eq!(s.end(), Some(EndReason::AllExited));
}

#[test]
fn reload_restarts_a_crashed_unit_within_its_budget() {
    let flaky = Unit::command("flaky", ["x"]).in_except(InExcept::Reload);
    let (mut s, t0) = scheduler(vec![(flaky, vec![])]);
    step_spawning(&mut s, t0);
    for restart in 1..=3 {
        s.exited(0, Exit::Code(1), false, t0);
        let actions = drain(&mut s);
        assert_eq!(
            actions,
            [
                Action::State(0, UnitState::Failed),
                Action::Restarting(0, restart),
                Action::Start(0)
            ]
        );
        s.starting(0, t0);
        s.spawned(0);
        drain(&mut s);
    }
    // The budget is spent: the fourth crash is final.
    s.exited(0, Exit::Code(1), false, t0);
    assert_eq!(drain(&mut s), [Action::State(0, UnitState::Failed)]);
    assert_eq!(s.status(0), UnitStatus::Failed);
}

#[test]
fn a_launcher_lives_as_long_as_its_tree() {
    let server = Unit::command("server", ["x"])
        .ready_event("up")
        .events(["up", "answered"]);
    let (mut s, t0) = scheduler(vec![(server, vec![]), (unit("client"), vec![0])]);
    step_spawning(&mut s, t0);
    // The launcher exits 0 while its service runs on: nothing is decided, the tree watched.
    assert!(s.may_detach(0, Exit::Code(0)));
    s.exited(0, Exit::Code(0), true, t0);
    assert_eq!(drain(&mut s), [Action::WatchTree(0)]);
    step_spawning(&mut s, t0);
    assert!(s.units[0].detached);
    // The service records the readiness probe: the client starts.
    s.probe("server", "up", None, false, t0);
    assert_eq!(starts(&step_spawning(&mut s, t0)), [1]);
    // Nothing awaited any more: the launcher is finished; its service is stopped at teardown.
    s.probe("server", "answered", None, false, t0);
    drain(&mut s);
    assert_eq!(s.status(0), UnitStatus::Finished);
}

#[test]
fn a_launcher_whose_tree_is_gone_without_its_probe_fails_at_once() {
    let server = Unit::command("server", ["x"]).ready_event("up");
    let (mut s, t0) = scheduler(vec![(server, vec![])]);
    step_spawning(&mut s, t0);
    s.exited(0, Exit::Code(0), true, t0);
    drain(&mut s);
    s.tree_gone(0, t0);
    assert_eq!(drain(&mut s), [Action::State(0, UnitState::Failed)]);
    assert!(matches!(
        s.units[0].failure,
        Some(UnitFailure::ExitedBeforeReady { .. })
    ));
}

#[test]
fn a_unit_with_nothing_awaited_is_finished_when_its_main_process_exits() {
    let (mut s, t0) = scheduler(vec![(unit("parent"), vec![])]);
    step_spawning(&mut s, t0);
    assert!(!s.may_detach(0, Exit::Code(0)));
    s.exited(0, Exit::Code(0), false, t0);
    assert_eq!(drain(&mut s), [Action::State(0, UnitState::Finished)]);
}

#[test]
fn use_setup_units_wait_for_the_setup_to_be_up() {
    let worker = Unit::command("worker", ["x"]).use_setup(true);
    let (mut s, t0) = scheduler(vec![(worker, vec![])]);
    s.setup_started(false, true, t0);
    assert_eq!(starts(&step_spawning(&mut s, t0)), Vec::<usize>::new());
    // A probe of another process does not count; one of the setup does.
    s.probe("someone", "x", None, false, t0);
    assert_eq!(starts(&step_spawning(&mut s, t0)), Vec::<usize>::new());
    s.probe("broker", "broker-up", None, true, t0);
    assert_eq!(starts(&step_spawning(&mut s, t0)), [0]);
}

#[test]
fn a_failed_setup_ends_the_group_and_fails_its_use_setup_units() {
    let worker = Unit::command("worker", ["x"]).use_setup(true);
    let (mut s, t0) = scheduler(vec![(worker, vec![]), (unit("other"), vec![])]);
    s.setup_started(false, true, t0);
    step_spawning(&mut s, t0);
    s.setup_exited(false);
    step_spawning(&mut s, t0);
    assert_eq!(s.end(), Some(EndReason::SetupFailed));
    s.teardown(EndReason::SetupFailed, t0);
    drain(&mut s);
    assert_eq!(
        s.units[0].failure,
        Some(UnitFailure::DependencyFailed {
            dependency: "setup".to_owned()
        })
    );
}

#[test]
fn the_group_timeout_names_what_each_unit_waited_for() {
    let (mut s, t0) = scheduler(vec![
        (
            Unit::command("server", ["x"])
                .ready_event("listening")
                .ready_timeout(GROUP_TIMEOUT * 2),
            vec![],
        ),
        (Unit::command("client", ["x"]).events(["asked"]), vec![0]),
        (
            Unit::command("worker", ["x"]).events(["one", "two"]),
            vec![],
        ),
    ]);
    step_spawning(&mut s, t0);
    s.probe("worker", "one", None, false, t0);
    let end = t0 + GROUP_TIMEOUT;
    step_spawning(&mut s, end);
    assert_eq!(s.end(), Some(EndReason::GroupTimeout));
    s.teardown(EndReason::GroupTimeout, end);
    s.exited(0, Exit::Signal(15), false, end);
    s.exited(2, Exit::Signal(15), false, end);
    drain(&mut s);
    let waited = |i: usize| match &s.units[i].failure {
        Some(UnitFailure::GroupTimedOut { waiting_for, .. }) => waiting_for.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(waited(0), "its readiness probe `listening`");
    assert_eq!(waited(2), "required probe `two`");
    assert_eq!(s.status(1), UnitStatus::NotStarted);
    assert_eq!(
        s.units[1].failure,
        Some(UnitFailure::NotStarted {
            waiting_for: "`server` to be ready".to_owned()
        })
    );
}

#[test]
fn sigkill_follows_sigterm_after_the_grace_period_unless_killed_at_once() {
    let (mut s, t0) = scheduler(vec![(unit("stubborn"), vec![])]);
    step_spawning(&mut s, t0);
    s.teardown(EndReason::AllProbesRecorded, t0);
    assert_eq!(
        drain(&mut s),
        [Action::Signal {
            unit: 0,
            kill: false,
            tree: false
        }]
    );
    s.teardown_step(t0 + Duration::from_secs(1));
    assert_eq!(drain(&mut s), []);
    assert_eq!(s.next_kill(), Some(t0 + Duration::from_secs(2)));
    s.teardown_step(t0 + Duration::from_secs(2));
    assert_eq!(
        drain(&mut s),
        [Action::Signal {
            unit: 0,
            kill: true,
            tree: false
        }]
    );
    s.exited(0, Exit::Signal(9), false, t0 + Duration::from_secs(2));
    drain(&mut s);
    assert!(s.units[0].killed_after_grace);
    assert!(!s.any_live());
}

#[test]
fn a_fault_fires_on_the_nth_probe_and_a_restart_waits_for_readiness_again() {
    use testrium_config::{Fault, FaultAction};
    let (s, t0) = scheduler(vec![
        (Unit::command("worker", ["x"]).ready_event("up"), vec![]),
        (
            Unit::command("producer", ["x"]).events(["order-sent"]),
            vec![0],
        ),
    ]);
    let mut s = s.with_faults(vec![
        Fault::new("producer", "order-sent", "worker", FaultAction::Restart)
            .occurrence(2)
            .duration(Duration::from_millis(100)),
    ]);
    step_spawning(&mut s, t0);
    s.probe("worker", "up", None, false, t0);
    step_spawning(&mut s, t0);
    s.probe("producer", "order-sent", Some(1), false, t0);
    assert!(drain(&mut s).is_empty(), "not on the first order");
    s.probe("producer", "order-sent", Some(2), false, t0);
    assert_eq!(
        drain(&mut s),
        [
            Action::FaultFired(0),
            Action::Signal {
                unit: 0,
                kill: true,
                tree: true
            }
        ]
    );
    s.exited(0, Exit::Signal(9), false, t0);
    drain(&mut s);
    // Not before its time; the group does not end while the worker comes back.
    assert_eq!(starts(&step_spawning(&mut s, t0)), Vec::<usize>::new());
    assert_eq!(s.end(), None);
    let later = t0 + Duration::from_millis(100);
    assert_eq!(starts(&step_spawning(&mut s, later)), [0]);
    s.probe("worker", "up", None, false, later);
    drain(&mut s);
    assert_ne!(s.status(0), UnitStatus::Failed);
}

/// Issue 18: spans come in batches, so once any arrived a group with every required probe
/// recorded waits for the longer span settle period (quiet since the last batch) before it
/// ends; without spans the usual settle period.
#[test]
fn spans_in_flight_keep_the_group_open_for_the_span_settle_period() {
    for spans in [false, true] {
        let (mut s, t0) = scheduler(vec![(
            Unit::command("service", ["x"]).events(["a", "b"]),
            vec![],
        )]);
        step_spawning(&mut s, t0);
        if spans {
            s.spans_received(t0);
        }
        s.probe("service", "a", None, false, t0);
        // The second required span comes in a second batch.
        let t1 = t0 + Duration::from_millis(100);
        if spans {
            s.spans_received(t1);
        }
        s.probe("service", "b", None, false, t1);
        step_spawning(&mut s, t1);
        step_spawning(&mut s, t1 + SETTLE);
        if !spans {
            assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
            continue;
        }
        assert_eq!(s.end(), None, "a batch may still be on its way");
        assert_eq!(s.next_deadline(t1 + SETTLE), t1 + SPAN_SETTLE);
        // A batch during the settle period is activity: the wait starts again.
        let t2 = t1 + Duration::from_millis(200);
        s.spans_received(t2);
        step_spawning(&mut s, t1 + SPAN_SETTLE);
        assert_eq!(s.end(), None);
        step_spawning(&mut s, t2 + SPAN_SETTLE);
        assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
    }
}

/// Issue 18: a `remote = true` unit is never started (no `Start`, no signal); its readiness
/// probe (arriving over the network) makes it ready and starts its dependents; the group ends
/// once its required probes are in, and it is stopped without a signal.
#[test]
fn a_remote_unit_is_never_started_nor_signalled_and_its_probes_end_the_group() {
    let (mut s, t0) = scheduler(vec![
        (
            Unit::remote("orders")
                .ready_event("orders-up")
                .events(["order-stored"]),
            vec![],
        ),
        (unit("client").events(["order-sent"]), vec![0]),
    ]);
    let actions = step_spawning(&mut s, t0);
    assert!(starts(&actions).is_empty(), "{actions:?}");
    s.probe("orders", "orders-up", None, false, t0);
    let actions = step_spawning(&mut s, t0);
    assert_eq!(
        starts(&actions),
        [1],
        "the dependent starts once it is ready"
    );
    s.probe("client", "order-sent", None, false, t0);
    s.probe("orders", "order-stored", None, false, t0);
    step_spawning(&mut s, t0);
    step_spawning(&mut s, t0 + SETTLE);
    assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
    s.teardown(EndReason::AllProbesRecorded, t0 + SETTLE);
    let actions = drain(&mut s);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Signal { unit: 0, .. })),
        "{actions:?}"
    );
    assert_eq!(s.status(0), UnitStatus::Stopped);
    assert_eq!(s.units[0].failure, None);
}

#[test]
fn a_remote_unit_whose_readiness_never_comes_fails_at_its_ready_timeout() {
    let (mut s, t0) = scheduler(vec![(
        Unit::remote("orders")
            .ready_event("orders-up")
            .ready_timeout(Duration::from_secs(1)),
        vec![],
    )]);
    step_spawning(&mut s, t0);
    step_spawning(&mut s, t0 + Duration::from_secs(1));
    assert_eq!(s.status(0), UnitStatus::Failed);
    assert!(
        matches!(
            s.units[0].failure,
            Some(UnitFailure::ReadinessTimeout { .. })
        ),
        "{:?}",
        s.units[0].failure
    );
}

/// Regression (found under load): a remote unit's readiness probe that arrived before the
/// scheduler counted the unit as started was ignored, and the unit failed its ready_timeout.
#[test]
fn a_remote_units_readiness_probe_may_come_before_it_is_started() {
    let (mut s, t0) = scheduler(vec![(
        Unit::remote("orders").ready_event("orders-up"),
        vec![],
    )]);
    s.probe("orders", "orders-up", None, false, t0);
    step_spawning(&mut s, t0);
    assert!(s.units[0].ready, "ready at once");
}

/// A producer that records `pushed` per job and a long-running consumer that records `done`
/// per job, with the circuit `producer:pushed -> consumer:done` (budget `budget`).
fn producer_consumer(budget: Option<Duration>) -> (Scheduler, Instant) {
    let (s, t0) = scheduler(vec![
        (Unit::command("producer", ["x"]).events(["pushed"]), vec![]),
        (Unit::command("consumer", ["x"]).events(["done"]), vec![]),
    ]);
    let mut circuit = testrium_config::Circuit::new("jobs")
        .hop(testrium_config::Hop::new("producer", "pushed"))
        .hop(testrium_config::Hop::new("consumer", "done"));
    if let Some(budget) = budget {
        circuit = circuit.total_budget(budget);
    }
    (s.with_circuits(&[circuit]), t0)
}

#[test]
fn the_group_waits_for_circuit_instances_in_flight() {
    // Regression: the group ended once `pushed` and `done` had each been seen once, judging
    // jobs 2..5, still on their way through a queue, `circuit_incomplete`.
    let budget = Duration::from_secs(2);
    let (mut s, t0) = producer_consumer(Some(budget));
    step_spawning(&mut s, t0);
    for _ in 0..5 {
        s.probe("producer", "pushed", None, false, t0);
    }
    s.exited(0, Exit::Code(0), false, t0);
    s.probe("consumer", "done", None, false, t0);
    let later = t0 + SETTLE * 30;
    step_spawning(&mut s, t0);
    step_spawning(&mut s, later);
    assert_eq!(
        s.end(),
        None,
        "4 instances are in flight: {:?}",
        s.open_circuits()
    );
    assert_eq!(s.open_circuits(), [(0, 5, 1)]);
    // The driver is woken at the end of the wait at the latest.
    assert!(s.next_deadline(later) <= t0 + budget);
    for _ in 0..4 {
        s.probe("consumer", "done", None, false, later);
    }
    step_spawning(&mut s, later);
    assert_eq!(
        s.end(),
        None,
        "the settle period still comes after the last instance"
    );
    step_spawning(&mut s, later + SETTLE);
    assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
}

#[test]
fn instances_in_flight_are_waited_for_no_longer_than_the_budget() {
    let budget = Duration::from_secs(2);
    let (mut s, t0) = producer_consumer(Some(budget));
    step_spawning(&mut s, t0);
    s.probe("producer", "pushed", None, false, t0);
    s.probe("producer", "pushed", None, false, t0);
    s.probe("consumer", "done", None, false, t0);
    step_spawning(&mut s, t0);
    step_spawning(&mut s, t0 + budget / 2);
    assert_eq!(s.end(), None);
    // A lost job: the verifier judges it; the group does not wait on to its timeout.
    step_spawning(&mut s, t0 + budget);
    assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
}

#[test]
fn a_circuit_without_a_budget_is_waited_for_the_default() {
    let (mut s, t0) = producer_consumer(None);
    step_spawning(&mut s, t0);
    s.probe("producer", "pushed", None, false, t0);
    s.probe("producer", "pushed", None, false, t0);
    s.probe("consumer", "done", None, false, t0);
    step_spawning(&mut s, t0);
    step_spawning(&mut s, t0 + super::in_flight::IN_FLIGHT_WAIT - SETTLE);
    assert_eq!(s.end(), None);
    step_spawning(&mut s, t0 + super::in_flight::IN_FLIGHT_WAIT);
    assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
}

#[test]
fn instances_that_no_unit_can_complete_are_not_waited_for() {
    let (mut s, t0) = producer_consumer(Some(Duration::from_secs(2)));
    step_spawning(&mut s, t0);
    s.probe("producer", "pushed", None, false, t0);
    s.probe("producer", "pushed", None, false, t0);
    s.probe("consumer", "done", None, false, t0);
    // The consumer is gone: the second job cannot be done any more.
    s.exited(1, Exit::Code(0), false, t0);
    step_spawning(&mut s, t0);
    step_spawning(&mut s, t0 + SETTLE);
    assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
}

#[test]
fn sends_whose_receive_is_on_its_way_are_waited_for() {
    // No circuit declared: the keyed pairs alone keep the group open (bounded).
    let (mut s, t0) = scheduler(vec![
        (Unit::command("producer", ["x"]).events(["pushed"]), vec![]),
        (Unit::command("consumer", ["x"]).events(["taken"]), vec![]),
    ]);
    step_spawning(&mut s, t0);
    for key in ["a", "b"] {
        s.probe("producer", "pushed", None, false, t0);
        s.keyed_probe(testrium_events::EventType::Send, key);
    }
    s.probe("consumer", "taken", None, false, t0);
    s.keyed_probe(testrium_events::EventType::Receive, "a");
    step_spawning(&mut s, t0);
    step_spawning(&mut s, t0 + SETTLE * 2);
    assert_eq!(s.end(), None, "`b` is on its way");
    s.probe("consumer", "taken", None, false, t0 + SETTLE * 3);
    s.keyed_probe(testrium_events::EventType::Receive, "b");
    step_spawning(&mut s, t0 + SETTLE * 3);
    step_spawning(&mut s, t0 + SETTLE * 4);
    assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
}

#[test]
fn a_send_never_received_is_waited_for_no_longer_than_the_default() {
    let (mut s, t0) = scheduler(vec![
        (Unit::command("producer", ["x"]).events(["pushed"]), vec![]),
        (unit("consumer"), vec![]),
    ]);
    step_spawning(&mut s, t0);
    s.probe("producer", "pushed", None, false, t0);
    s.keyed_probe(testrium_events::EventType::Send, "lost");
    step_spawning(&mut s, t0);
    step_spawning(&mut s, t0 + super::in_flight::IN_FLIGHT_WAIT - SETTLE);
    assert_eq!(s.end(), None);
    step_spawning(&mut s, t0 + super::in_flight::IN_FLIGHT_WAIT);
    assert_eq!(s.end(), Some(EndReason::AllProbesRecorded));
}
