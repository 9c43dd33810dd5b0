//! Snapshots of `Verdict::render_text()`: a passing circuit, and one verdict per failure kind.

use std::time::Duration;

use testrium_config::Delivery;
use testrium_events::{Event, EventType, MalformedEvent};
use testrium_verify::{
    DirectTest, Expectations, ExpectedCircuit, ExpectedContract, Failure, FailureKind, GroupTiming,
    UnitFailure, UnitOutcome, UnitStatus, Verdict, VerifyInput, verify,
};

use crate::support::{default, recv, send};

/// The request/response circuit of the original's template.
fn expectations() -> Expectations {
    Expectations::new("test_request_response")
        .unit("source", ["command-sent", "response-received"])
        .unit("target", ["command-received", "endpoint-activated"])
        .circuit(
            ExpectedCircuit::new("command")
                .hop("source", "command-sent")
                .hop_within("target", "command-received", Duration::from_millis(10))
                .hop_within("target", "endpoint-activated", Duration::from_millis(20))
                .hop("source", "response-received")
                .total_budget(Duration::from_millis(100)),
        )
}

/// The events of a passing run, times in ms after t0 (monotonic clock on every event).
fn events_at(ms: [i64; 4]) -> Vec<Event> {
    let t0 = 1_700_000_000.0;
    let at = |i: usize| (t0 + ms[i] as f64 / 1e3, 5_000_000_000 + ms[i] * 1_000_000);
    let e = |i: usize, ev: Event| ev.with_mono_ns(at(i).1);
    vec![
        e(0, send(1, "source", "command-sent", "cmd-1", at(0).0)),
        e(1, recv(2, "target", "command-received", "cmd-1", at(1).0)),
        e(2, default(3, "target", "endpoint-activated", at(2).0)),
        e(3, default(4, "source", "response-received", at(3).0)),
    ]
}

fn passing_events() -> Vec<Event> {
    events_at([0, 4, 9, 15])
}

fn outcomes() -> Vec<UnitOutcome> {
    vec![
        UnitOutcome::finished("source").with_duration_s(0.2),
        UnitOutcome::stopped("target"),
    ]
}

fn timing() -> GroupTiming {
    GroupTiming::wall(1_699_999_999.9, 1_700_000_000.5)
}

#[test]
fn passing_circuit() {
    let exp = expectations();
    let events = passing_events();
    let outcomes = outcomes();
    let tests = [DirectTest::passed("test_response_shape", 0.012)];
    let v = verify(
        &VerifyInput::new(&exp, &events)
            .unit_outcomes(&outcomes)
            .direct_tests(&tests)
            .timing(timing()),
    );
    assert!(v.passed());
    insta::assert_snapshot!("passing_circuit", v.render_text());
}

/// A run that fails with exactly `kind` (and the evidence it implies).
fn failing(kind: FailureKind) -> Verdict {
    let exp = expectations();
    let mut events = passing_events();
    let mut outcomes = outcomes();
    let mut tests = Vec::new();
    let mut malformed = Vec::new();
    let mut timed_out = false;
    let fail = |name: &str, f: UnitFailure| UnitOutcome::failed(name, f);
    match kind {
        FailureKind::MissingProbe => {
            events.retain(|e| e.step != "endpoint-activated");
            // Without that probe the circuit is incomplete too: declare none for this one.
            let exp = Expectations::new("test_request_response")
                .unit("source", ["command-sent", "response-received"])
                .unit("target", ["command-received", "endpoint-activated"]);
            return verify(
                &VerifyInput::new(&exp, &events)
                    .unit_outcomes(&outcomes)
                    .timing(timing()),
            );
        }
        FailureKind::OrphanSend => {
            events.push(send(5, "source", "command-sent", "cmd-2", 1_700_000_000.02));
        }
        FailureKind::OrphanReceive => {
            events.push(recv(
                5,
                "target",
                "command-received",
                "cmd-9",
                1_700_000_000.02,
            ));
        }
        FailureKind::DuplicateKey => {
            events.push(recv(
                5,
                "target",
                "command-received",
                "cmd-1",
                1_700_000_000.02,
            ));
        }
        FailureKind::ReadinessTimeout => {
            outcomes[1] = fail(
                "target",
                UnitFailure::ReadinessTimeout {
                    probe: "listening".into(),
                    waited: Duration::from_secs(10),
                },
            )
            .with_log_tail(["binding 0.0.0.0:8080", "still waiting for the database"]);
        }
        FailureKind::ExitedBeforeReady => {
            outcomes[1] = fail(
                "target",
                UnitFailure::ExitedBeforeReady {
                    probe: "listening".into(),
                },
            )
            .with_exit_code(1)
            .with_log_tail([
                "Traceback (most recent call last):",
                "ImportError: no module named flask",
            ]);
        }
        FailureKind::NonZeroExit => {
            outcomes[0] = fail("source", UnitFailure::NonZeroExit { code: 2 }).with_exit_code(2);
        }
        FailureKind::Signaled => {
            outcomes[0] = fail("source", UnitFailure::Signaled { signal: 11 }).with_signal(11);
        }
        FailureKind::UnitTimeout => {
            outcomes[0] = fail(
                "source",
                UnitFailure::Timeout {
                    after: Duration::from_secs(5),
                },
            )
            .with_signal(15);
        }
        FailureKind::SpawnFailed => {
            outcomes[0] = fail(
                "source",
                UnitFailure::SpawnFailed {
                    message: "`./client`: no such file or directory".into(),
                },
            );
        }
        FailureKind::KilledAfterGrace => {
            outcomes[1] = fail(
                "target",
                UnitFailure::KilledAfterGrace {
                    grace: Duration::from_secs(2),
                },
            )
            .with_signal(9);
        }
        FailureKind::DependencyFailed => {
            outcomes[0] = fail(
                "source",
                UnitFailure::DependencyFailed {
                    dependency: "target".into(),
                },
            );
            outcomes[1] = UnitOutcome::new("target", UnitStatus::Failed).with_exit_code(1);
        }
        FailureKind::UnitFailed => {
            outcomes[1] = UnitOutcome::new("target", UnitStatus::Failed).with_restarts(3);
        }
        FailureKind::DirectTestFailed => {
            tests.push(DirectTest::failed(
                "test_response_shape",
                0.03,
                "AssertionError: 'ok' != 'OK'",
            ));
        }
        FailureKind::CircuitIncomplete => {
            // The response probe is recorded by another unit than the circuit says.
            let exp = expectations();
            events[3].unit = "proxy".into();
            return verify(
                &VerifyInput::new(&exp, &events)
                    .unit_outcomes(&outcomes)
                    .timing(timing()),
            );
        }
        FailureKind::CircuitOutOfOrder => {
            events = events_at([0, 4, 2, 15]);
        }
        FailureKind::HopOverBudget => {
            events = events_at([0, 14, 19, 25]);
        }
        FailureKind::CircuitOverBudget => {
            events = events_at([0, 4, 9, 140]);
        }
        FailureKind::MalformedEvent => {
            malformed.push(MalformedEvent::new(
                9,
                Some("target".into()),
                Some("command-received".into()),
                "unknown event type `Recieve`",
            ));
        }
        FailureKind::GroupTimeout => {
            timed_out = true;
        }
        FailureKind::ContractLost
        | FailureKind::ContractDuplicated
        | FailureKind::ContractLate
        | FailureKind::ContractUnsent => {
            let mut contract = ExpectedContract::new(
                "source",
                "command-sent",
                "target",
                "command-received",
                Delivery::ExactlyOnce,
            );
            match kind {
                FailureKind::ContractLost => {
                    events.push(send(5, "source", "command-sent", "cmd-2", 1_700_000_000.02));
                }
                FailureKind::ContractDuplicated => {
                    events.push(recv(
                        5,
                        "target",
                        "command-received",
                        "cmd-1",
                        1_700_000_000.02,
                    ));
                }
                FailureKind::ContractLate => contract = contract.within(Duration::from_millis(2)),
                _ => {
                    events.push(recv(
                        5,
                        "target",
                        "command-received",
                        "cmd-9",
                        1_700_000_000.02,
                    ));
                }
            }
            // Without the circuit: the contract alone judges the pair.
            let exp = Expectations::new("test_request_response")
                .unit("source", ["command-sent", "response-received"])
                .unit("target", ["command-received", "endpoint-activated"])
                .contract(contract);
            return verify(
                &VerifyInput::new(&exp, &events)
                    .unit_outcomes(&outcomes)
                    .timing(timing()),
            );
        }
        FailureKind::FaultNotTriggered => {
            // Judged by the runner, which adds it to the verifier's verdict.
            let exp = expectations();
            let mut v = verify(
                &VerifyInput::new(&exp, &events)
                    .unit_outcomes(&outcomes)
                    .timing(timing()),
            );
            v.add_failure(Failure::new(
                FailureKind::FaultNotTriggered,
                "fault `kill` of `target` after `source:command-sent` #3 never triggered: the \
                 probe was recorded 1 time",
            ));
            return v;
        }
        other => panic!("no scenario for {other}"),
    }
    verify(
        &VerifyInput::new(&exp, &events)
            .unit_outcomes(&outcomes)
            .direct_tests(&tests)
            .malformed(&malformed)
            .timing(timing())
            .timed_out(timed_out),
    )
}

#[test]
fn one_snapshot_per_failure_kind() {
    for kind in FailureKind::ALL {
        let v = failing(kind);
        assert!(
            v.failure_kinds().contains(&kind),
            "{kind}: {:?}\n{}",
            v.failure_kinds(),
            v.render_text()
        );
        insta::assert_snapshot!(format!("failure_{kind}"), v.render_text());
    }
}

#[test]
fn warnings_and_evidence() {
    let exp = expectations();
    let mut events = passing_events();
    events.push(
        Event::new(
            5,
            "source",
            "testrium-unit-exception:ValueError",
            EventType::Exception,
            1_700_000_000.016,
        )
        .with_metadata(r#"{"message": "unexpected payload \u001b[31mred\u001b[0m"}"#),
    );
    events.push(default(6, "sidecar", "started", 1_700_000_000.001));
    events.push(default(7, "target", "shutdown", 1_700_000_001.0));
    events.push(send(8, "source", "ping", "p-1", 1_700_000_000.010));
    events.push(recv(9, "target", "pong", "p-1", 1_700_000_000.008));
    let outcomes = [
        UnitOutcome::finished("source"),
        UnitOutcome::stopped("target")
            .with_failure(UnitFailure::KilledAfterGrace {
                grace: Duration::from_secs(2),
            })
            .with_signal(9),
    ];
    let v = verify(
        &VerifyInput::new(&exp, &events)
            .unit_outcomes(&outcomes)
            .timing(timing()),
    );
    assert!(v.passed(), "{}", v.render_text());
    insta::assert_snapshot!("warnings_and_evidence", v.render_text());
}

/// Pins the JSON shape of a verdict (field names, snake_case ids, seconds as numbers), which
/// reports and the history read.
#[test]
fn verdict_json_shape() {
    let exp = expectations();
    let mut events = events_at([0, 14, 19, 25]);
    events.push(send(5, "source", "command-sent", "cmd-2", 1_700_000_000.02));
    let outcomes = [
        UnitOutcome::finished("source"),
        UnitOutcome::failed("target", UnitFailure::NonZeroExit { code: 1 })
            .with_exit_code(1)
            .with_log_tail(["boom"]),
    ];
    let malformed = [MalformedEvent::new(9, None, None, "`Unit` is NULL")];
    let tests = [DirectTest::passed("test_shape", 0.5)];
    let v = verify(
        &VerifyInput::new(&exp, &events)
            .unit_outcomes(&outcomes)
            .malformed(&malformed)
            .direct_tests(&tests)
            .timing(timing()),
    );
    insta::assert_json_snapshot!("verdict_json", v);
}

/// A verdict reads back equal from its JSON (what the run database keeps), and writes the same
/// bytes again: every failure kind, the warnings and their evidence.
#[test]
fn verdict_reads_back_from_its_json() {
    let exp = expectations();
    let mut events = passing_events();
    events.push(
        Event::new(5, "source", "boom", EventType::Exception, 1_700_000_000.016)
            .with_metadata(r#"{"message": "unexpected"}"#),
    );
    events.push(default(6, "sidecar", "started", 1_700_000_000.001));
    events.push(default(7, "target", "shutdown", 1_700_000_001.0));
    events.push(send(8, "source", "ping", "p-1", 1_700_000_000.010));
    events.push(recv(9, "target", "pong", "p-1", 1_700_000_000.008));
    let outcomes = [
        UnitOutcome::stopped("target").with_failure(UnitFailure::KilledAfterGrace {
            grace: Duration::from_millis(2_345),
        }),
    ];
    let warnings = verify(
        &VerifyInput::new(&exp, &events)
            .unit_outcomes(&outcomes)
            .timing(timing()),
    );
    assert!(!warnings.warnings().is_empty() && !warnings.exceptions.is_empty());
    let verdicts = FailureKind::ALL
        .into_iter()
        .map(failing)
        .chain([warnings, Verdict::default()]);
    for v in verdicts {
        let json = serde_json::to_string(&v).expect("serializes");
        let back: Verdict = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, v, "{json}");
        assert_eq!(serde_json::to_string(&back).expect("serializes"), json);
    }
}
