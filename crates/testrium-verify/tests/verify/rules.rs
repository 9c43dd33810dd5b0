//! One test (or a small table) per rule, and the edge cases of issue 4.

use std::time::Duration;

use testrium_config::{Circuit, Group, Hop, Unit};
use testrium_events::{Event, EventType, MalformedEvent};
use testrium_verify::{
    Clock, DirectTest, Expectations, ExpectedCircuit, FailureKind, GroupTiming, UnitFailure,
    UnitOutcome, UnitStatus, VerifyInput, ViolationKind, WarningKind, verify,
};

use crate::support::{default, recv, send};

fn kinds(v: &testrium_verify::Verdict) -> Vec<FailureKind> {
    v.failures().iter().map(|f| f.kind).collect()
}

fn warning_kinds(v: &testrium_verify::Verdict) -> Vec<WarningKind> {
    v.warnings().iter().map(|w| w.kind).collect()
}

// ---------------------------------------------------------------- edge cases

#[test]
fn empty_event_list_without_requirements_passes() {
    let exp = Expectations::new("empty");
    let v = verify(&VerifyInput::new(&exp, &[]));
    assert!(v.passed());
    assert_eq!(v.summary.events, 0);
    assert_eq!(v.summary.events_span_s, None);
    assert!(v.latency.overall.is_none());
    assert!(v.correlation.pairs.is_empty());
    assert_eq!(v.average_latency_s(), 0.0);
}

#[test]
fn empty_event_list_misses_every_required_probe() {
    let exp = Expectations::new("g")
        .unit("a", ["start", "done"])
        .unit("b", ["got"]);
    let v = verify(&VerifyInput::new(&exp, &[]));
    assert!(!v.passed());
    assert_eq!(kinds(&v), vec![FailureKind::MissingProbe; 3]);
    let missing: Vec<_> = v
        .probes
        .missing
        .iter()
        .map(|p| format!("{}:{}", p.unit, p.probe))
        .collect();
    assert_eq!(missing, ["a:start", "a:done", "b:got"]);
}

#[test]
fn events_from_units_not_in_the_config_are_evidence_and_still_correlate() {
    let exp = Expectations::new("g").unit("a", ["sent"]);
    let events = [
        send(1, "a", "sent", "k1", 1.0),
        recv(2, "stranger", "got", "k1", 1.5),
        default(3, "stranger", "hello", 1.6),
        default(4, "ghost", "boo", 1.7),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed(), "{}", v.render_text());
    assert_eq!(v.correlation.pairs.len(), 1);
    assert_eq!(&*v.correlation.pairs[0].receive_unit, "stranger");
    let unknown: Vec<_> = v
        .unknown_units
        .iter()
        .map(|u| (u.unit.as_str(), u.events))
        .collect();
    assert_eq!(unknown, [("ghost", 1), ("stranger", 2)]);
    assert_eq!(warning_kinds(&v), [WarningKind::UnknownUnit; 2]);
}

#[test]
fn without_declared_units_no_unit_is_unknown() {
    let exp = Expectations::new("plain");
    let v = verify(&VerifyInput::new(&exp, &[default(1, "x", "p", 1.0)]));
    assert!(v.unknown_units.is_empty());
    assert!(v.warnings().is_empty());
}

#[test]
fn keys_reused_across_routes_are_duplicates_naming_both_senders() {
    let exp = Expectations::new("g");
    let events = [
        send(1, "a", "sent", "1", 1.0),
        recv(2, "b", "got", "1", 1.1),
        send(3, "c", "sent", "1", 1.2),
        recv(4, "d", "got", "1", 1.3),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(kinds(&v), [FailureKind::DuplicateKey]);
    let d = &v.correlation.duplicate_keys[0];
    assert_eq!((d.send_count, d.receive_count), (2, 2));
    assert_eq!(d.send_units, ["a", "c"]);
    assert!(d.repeated_receivers.is_empty());
    // The first send is still paired with each receiving unit's receive.
    let pairs: Vec<_> = v
        .correlation
        .pairs
        .iter()
        .map(|p| (&*p.send_unit, &*p.receive_unit))
        .collect();
    assert_eq!(pairs, [("a", "b"), ("a", "d")]);
}

#[test]
fn equal_timestamps_give_zero_latency_and_keep_circuit_order() {
    let exp = Expectations::new("g").circuit(
        ExpectedCircuit::new("c")
            .hop("a", "sent")
            .hop_within("b", "got", Duration::ZERO),
    );
    let events = [
        send(1, "a", "sent", "k", 5.0).with_mono_ns(100),
        recv(2, "b", "got", "k", 5.0).with_mono_ns(100),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed(), "{}", v.render_text());
    assert_eq!(v.correlation.pairs[0].latency_s, 0.0);
    assert!(v.warnings().is_empty());
    assert_eq!(v.circuits[0].complete, 1);
}

#[test]
fn wall_clock_going_backwards_clamps_latency_to_zero_and_warns() {
    let exp = Expectations::new("g");
    // No monotonic timestamps: the wall clock stepped back 0.25 s between send and receive.
    let events = [
        send(1, "a", "sent", "k", 10.0),
        recv(2, "b", "got", "k", 9.75),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed(), "clock steps are evidence, not failures");
    let p = &v.correlation.pairs[0];
    assert_eq!((p.latency_s, p.clock), (0.0, Clock::Wall));
    assert_eq!(warning_kinds(&v), [WarningKind::NegativeLatency]);
    assert!(
        v.warnings()[0].message.contains("wall clock"),
        "{}",
        v.warnings()[0].message
    );
    assert!(v.warnings()[0].message.contains("-250 ms"));
}

#[test]
fn monotonic_clock_wins_over_a_wall_clock_step() {
    let exp = Expectations::new("g");
    let events = [
        send(1, "a", "sent", "k", 10.0).with_mono_ns(1_000_000),
        recv(2, "b", "got", "k", 9.0).with_mono_ns(4_000_000),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    let p = &v.correlation.pairs[0];
    assert_eq!((p.latency_s, p.clock), (0.003, Clock::Monotonic));
    assert!(v.warnings().is_empty());
    assert_eq!(v.latency.monotonic_pairs, 1);
}

#[test]
fn one_end_without_monotonic_time_falls_back_to_wall_clock() {
    let exp = Expectations::new("g");
    let events = [
        send(1, "a", "sent", "k", 10.0).with_mono_ns(1_000_000),
        recv(2, "b", "got", "k", 10.5), // written by the original Python client
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    let p = &v.correlation.pairs[0];
    assert_eq!((p.latency_s, p.clock), (0.5, Clock::Wall));
    assert_eq!((v.latency.monotonic_pairs, v.latency.wall_pairs), (0, 1));
}

// ---------------------------------------------------------------- required probes

#[test]
fn required_probes_are_per_unit_and_disabled_units_are_not_required() {
    let exp = Expectations::new("g")
        .unit("a", ["ready", "done"])
        .disabled_unit("off", ["never"]);
    let events = [
        default(1, "a", "ready", 1.0),
        default(2, "a", "ready", 0.5),
        default(3, "b", "done", 1.2), // right probe, wrong unit
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(kinds(&v), [FailureKind::MissingProbe]);
    assert_eq!(v.probes.completed.len(), 1);
    let ready = &v.probes.completed[0];
    assert_eq!((ready.count, ready.first_time), (2, Some(0.5)));
    assert_eq!(v.probes.missing[0].probe, "done");
    assert_eq!(v.failures()[0].unit.as_deref(), Some("a"));
    // `b` is not in the group; `off` is (disabled), so only `b` is unknown.
    assert_eq!(v.unknown_units.len(), 1);
}

#[test]
fn any_event_type_completes_a_probe_as_in_the_original() {
    let exp = Expectations::new("g").unit("a", ["sent", "boom"]);
    let events = [
        send(1, "a", "sent", "k", 1.0),
        recv(2, "b", "got", "k", 1.1),
        Event::new(3, "a", "boom", EventType::Exception, 1.2),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.probes.missing.is_empty());
}

// ---------------------------------------------------------------- correlation

#[test]
fn orphan_send_and_orphan_receive() {
    let exp = Expectations::new("g");
    let events = [
        send(1, "a", "sent", "lost", 1.0),
        recv(2, "b", "got", "phantom", 1.1),
        send(3, "a", "sent", "ok", 1.2),
        recv(4, "b", "got", "ok", 1.3),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(
        kinds(&v),
        [FailureKind::OrphanSend, FailureKind::OrphanReceive]
    );
    assert_eq!(v.correlation.orphan_sends[0].key.as_deref(), Some("lost"));
    assert_eq!(
        v.correlation.orphan_receives[0].key.as_deref(),
        Some("phantom")
    );
    assert_eq!(v.correlation.pairs.len(), 1);
}

#[test]
fn fan_out_one_send_received_once_by_each_unit_is_not_a_duplicate() {
    let exp = Expectations::new("g");
    let events = [
        send(1, "pub", "published", "evt", 1.0),
        recv(2, "sub-b", "got", "evt", 1.2),
        recv(3, "sub-a", "got", "evt", 1.1),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed(), "{}", v.render_text());
    let receivers: Vec<_> = v
        .correlation
        .pairs
        .iter()
        .map(|p| &*p.receive_unit)
        .collect();
    assert_eq!(receivers, ["sub-a", "sub-b"]);
    assert_eq!(v.latency.routes.len(), 2);
}

#[test]
fn a_unit_receiving_a_key_twice_is_a_duplicate() {
    let exp = Expectations::new("g");
    let events = [
        send(1, "a", "sent", "k", 1.0),
        recv(2, "b", "got", "k", 1.1),
        recv(3, "b", "got-again", "k", 1.2),
        recv(4, "c", "got", "k", 1.3),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(kinds(&v), [FailureKind::DuplicateKey]);
    let d = &v.correlation.duplicate_keys[0];
    assert_eq!((d.send_count, d.receive_count), (1, 3));
    assert_eq!(d.repeated_receivers, ["b"]);
    // b's first receive and c's receive are paired.
    let pairs: Vec<_> = v
        .correlation
        .pairs
        .iter()
        .map(|p| (&*p.receive_unit, &*p.receive_step))
        .collect();
    assert_eq!(pairs, [("b", "got"), ("c", "got")]);
}

#[test]
fn a_key_sent_twice_and_never_received_is_duplicate_and_orphan() {
    let exp = Expectations::new("g");
    let events = [send(1, "a", "s", "k", 1.0), send(2, "a", "s", "k", 2.0)];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(
        kinds(&v),
        [
            FailureKind::OrphanSend,
            FailureKind::OrphanSend,
            FailureKind::DuplicateKey
        ]
    );
}

#[test]
fn events_without_a_key_or_with_an_empty_key_are_not_correlated() {
    let exp = Expectations::new("g");
    let events = [
        Event::new(1, "a", "s", EventType::Send, 1.0),
        Event::new(2, "b", "r", EventType::Receive, 1.0).with_key(""),
        default(3, "a", "x", 1.0).with_key("k"),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed());
    assert!(v.correlation.pairs.is_empty());
}

#[test]
fn first_send_is_the_earliest_whatever_the_input_order() {
    let exp = Expectations::new("g");
    let events = [
        send(9, "late", "s", "k", 3.0),
        recv(2, "b", "r", "k", 4.0),
        send(5, "early", "s", "k", 1.0),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(&*v.correlation.pairs[0].send_unit, "early");
    assert_eq!(v.correlation.pairs[0].latency_s, 3.0);
}

// ---------------------------------------------------------------- latency

#[test]
fn latency_stats_overall_and_per_route() {
    let exp = Expectations::new("g");
    let mut events = Vec::new();
    let mut id = 0;
    // a -> b: 1..=100 ms; c -> b: 500 ms.
    for i in 1..=100u32 {
        let key = format!("ab-{i}");
        let t = f64::from(i);
        events.push(send(id, "a", "s", &key, t));
        events.push(recv(id + 1, "b", "r", &key, t + f64::from(i) / 1000.0));
        id += 2;
    }
    events.push(send(id, "c", "s", "cb", 500.0));
    events.push(recv(id + 1, "b", "r", "cb", 500.5));
    let v = verify(&VerifyInput::new(&exp, &events));
    let routes: Vec<_> = v
        .latency
        .routes
        .iter()
        .map(|r| (r.send_unit.as_str(), r.receive_unit.as_str(), r.stats.count))
        .collect();
    assert_eq!(routes, [("a", "b", 100), ("c", "b", 1)]);
    let ab = v.latency.routes[0].stats;
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    assert!(close(ab.min_s, 0.001) && close(ab.max_s, 0.100), "{ab:?}");
    assert!(close(ab.p50_s, 0.050) && close(ab.p95_s, 0.095) && close(ab.p99_s, 0.099));
    assert!(close(ab.mean_s, 0.0505));
    let all = v.latency.overall.expect("pairs");
    assert_eq!(all.count, 101);
    assert!(close(all.max_s, 0.5));
    assert!(close(v.average_latency_s(), all.mean_s));
}

#[test]
fn scenario_span_and_group_duration() {
    let exp = Expectations::new("g");
    let events = [default(1, "a", "x", 10.0), default(2, "a", "y", 12.5)];
    let v = verify(&VerifyInput::new(&exp, &events).timing(GroupTiming::wall(9.0, 13.0)));
    assert_eq!(v.summary.events_span_s, Some(2.5));
    assert_eq!(v.summary.group_duration_s, Some(4.0));
    let events = [
        default(1, "a", "x", 10.0).with_mono_ns(1_000),
        default(2, "a", "y", 99.0).with_mono_ns(2_001_000),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(
        v.summary.events_span_s,
        Some(0.002),
        "monotonic when every event has it"
    );
}

// ---------------------------------------------------------------- circuits

fn command_circuit() -> ExpectedCircuit {
    ExpectedCircuit::new("command")
        .hop("source", "command-sent")
        .hop_within("target", "command-received", Duration::from_millis(10))
        .hop_within("target", "endpoint-activated", Duration::from_millis(20))
        .hop("source", "response-received")
        .total_budget(Duration::from_millis(100))
}

fn circuit_events(times_ms: [f64; 4]) -> Vec<Event> {
    let ms = |i: usize| 100.0 + times_ms[i] / 1000.0;
    vec![
        send(1, "source", "command-sent", "c1", ms(0)),
        recv(2, "target", "command-received", "c1", ms(1)),
        default(3, "target", "endpoint-activated", ms(2)),
        default(4, "source", "response-received", ms(3)),
    ]
}

#[test]
fn circuit_in_order_within_budget_passes() {
    let exp = Expectations::new("g").circuit(command_circuit());
    let v = verify(&VerifyInput::new(
        &exp,
        &circuit_events([0.0, 5.0, 15.0, 30.0]),
    ));
    assert!(v.passed(), "{}", v.render_text());
    let c = &v.circuits[0];
    assert!(c.keyed);
    assert_eq!((c.instances, c.complete), (1, 1));
    assert_eq!(
        c.hops.iter().map(|h| h.reached).collect::<Vec<_>>(),
        [1, 1, 1, 1]
    );
    let total = c.total.expect("complete instance");
    assert!((total.max_s - 0.030).abs() < 1e-9);
}

#[test]
fn circuit_missing_hop_names_the_hop() {
    let exp = Expectations::new("g").circuit(command_circuit());
    let mut events = circuit_events([0.0, 5.0, 15.0, 30.0]);
    events.remove(2);
    let v = verify(&VerifyInput::new(&exp, &events));
    assert_eq!(kinds(&v), [FailureKind::CircuitIncomplete]);
    let viol = &v.circuits[0].violations[0];
    assert_eq!((viol.kind, viol.hop), (ViolationKind::Missing, 2));
    assert_eq!(viol.hop_name, "target:endpoint-activated");
    assert_eq!(viol.key.as_deref(), Some("c1"));
}

#[test]
fn circuit_hop_before_the_previous_one_is_out_of_order_by_how_much() {
    let exp = Expectations::new("g").circuit(command_circuit());
    // endpoint-activated 3 ms before command-received.
    let v = verify(&VerifyInput::new(
        &exp,
        &circuit_events([0.0, 5.0, 2.0, 30.0]),
    ));
    assert_eq!(kinds(&v), [FailureKind::CircuitOutOfOrder]);
    let viol = &v.circuits[0].violations[0];
    assert_eq!((viol.kind, viol.hop), (ViolationKind::OutOfOrder, 2));
    let by = viol.over_by_s.expect("how much");
    assert!((by - 0.003).abs() < 1e-6, "{by}");
}

#[test]
fn circuit_hop_over_budget_reports_actual_budget_and_excess() {
    let exp = Expectations::new("g").circuit(command_circuit());
    // command-received 12 ms after command-sent (budget 10 ms).
    let v = verify(&VerifyInput::new(
        &exp,
        &circuit_events([0.0, 12.0, 15.0, 30.0]),
    ));
    assert_eq!(kinds(&v), [FailureKind::HopOverBudget]);
    let viol = &v.circuits[0].violations[0];
    assert_eq!((viol.kind, viol.hop), (ViolationKind::HopOverBudget, 1));
    assert_eq!(viol.budget_s, Some(0.010));
    assert!((viol.over_by_s.expect("excess") - 0.002).abs() < 1e-6);
    assert!(
        v.failures()[0]
            .message
            .contains("over its 10 ms budget by 2 ms")
    );
}

#[test]
fn circuit_over_total_budget() {
    let exp = Expectations::new("g").circuit(command_circuit());
    let v = verify(&VerifyInput::new(
        &exp,
        &circuit_events([0.0, 5.0, 15.0, 150.0]),
    ));
    assert_eq!(kinds(&v), [FailureKind::CircuitOverBudget]);
    let viol = &v.circuits[0].violations[0];
    assert_eq!(viol.kind, ViolationKind::TotalOverBudget);
    assert!((viol.over_by_s.expect("excess") - 0.050).abs() < 1e-6);
}

#[test]
fn keyed_circuit_is_checked_per_key_and_ignores_keys_of_other_flows() {
    let exp =
        Expectations::new("g").circuit(ExpectedCircuit::new("c").hop("a", "sent").hop_within(
            "b",
            "got",
            Duration::from_millis(10),
        ));
    let events = [
        send(1, "a", "sent", "k1", 1.000),
        recv(2, "b", "got", "k1", 1.005),
        send(3, "a", "sent", "k2", 1.000),
        recv(4, "b", "got", "k2", 1.050),  // over budget
        send(5, "a", "sent", "k3", 1.000), // never received at b
        recv(6, "b", "got", "other", 1.0), // from another flow: not an instance
        send(7, "x", "sent", "other", 0.9),
        recv(8, "y", "got", "k3", 1.001),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    let c = &v.circuits[0];
    assert_eq!((c.instances, c.complete), (3, 1));
    let viols: Vec<_> = c
        .violations
        .iter()
        .map(|x| (x.key.as_deref().unwrap_or_default(), x.kind))
        .collect();
    assert_eq!(
        viols,
        [
            ("k2", ViolationKind::HopOverBudget),
            ("k3", ViolationKind::Missing)
        ]
    );
}

#[test]
fn unkeyed_hop_in_keyed_circuit_takes_the_earliest_event_after_the_previous_hop() {
    let exp = Expectations::new("g").circuit(
        ExpectedCircuit::new("c")
            .hop("a", "sent")
            .hop("b", "got")
            .hop_within("b", "handled", Duration::from_millis(10)),
    );
    let events = [
        send(1, "a", "sent", "k1", 1.0),
        recv(2, "b", "got", "k1", 1.1),
        default(3, "b", "handled", 1.102),
        send(4, "a", "sent", "k2", 2.0),
        recv(5, "b", "got", "k2", 2.1),
        default(6, "b", "handled", 2.105),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed(), "{}", v.render_text());
    let stats = v.circuits[0].hops[2].from_previous.expect("reached");
    assert_eq!(stats.count, 2);
    assert!((stats.max_s - 0.005).abs() < 1e-6);
}

#[test]
fn circuit_without_any_event_is_incomplete_at_its_first_hop() {
    let exp = Expectations::new("g").circuit(command_circuit());
    let v = verify(&VerifyInput::new(&exp, &[]));
    assert_eq!(kinds(&v), [FailureKind::CircuitIncomplete]);
    assert_eq!(v.circuits[0].violations[0].hop, 0);
    assert!(!v.circuits[0].keyed);
}

#[test]
fn unkeyed_circuit_repeated_probes_pick_the_earliest_in_order() {
    let exp = Expectations::new("g").circuit(
        ExpectedCircuit::new("c")
            .hop("a", "start")
            .hop_within("b", "end", Duration::from_secs(1)),
    );
    // An `end` before `start` (a leftover) must not be chosen.
    let events = [
        default(1, "b", "end", 0.5),
        default(2, "a", "start", 1.0),
        default(3, "b", "end", 1.5),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed(), "{}", v.render_text());
    assert_eq!(
        v.circuits[0].hops[1].from_previous.map(|s| s.max_s),
        Some(0.5)
    );
}

// ---------------------------------------------------------------- evidence and outcomes

#[test]
fn exception_events_are_evidence_with_their_message_not_failures() {
    let exp = Expectations::new("g").unit("a", ["boom"; 0]);
    let events = [Event::new(
        1,
        "a",
        "testrium-unit-exception:ValueError",
        EventType::Exception,
        1.0,
    )
    .with_metadata(r#"{"message": "bad value"}"#)];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(
        v.passed(),
        "an exception alone does not fail the run (original behaviour)"
    );
    assert_eq!(v.exceptions[0].message.as_deref(), Some("bad value"));
    assert_eq!(warning_kinds(&v), [WarningKind::Exception]);
    assert!(v.warnings()[0].message.contains("bad value"));
    // A unit that raises fails through its exit status.
    let outcomes =
        [UnitOutcome::failed("a", UnitFailure::NonZeroExit { code: 1 }).with_exit_code(1)];
    let v = verify(&VerifyInput::new(&exp, &events).unit_outcomes(&outcomes));
    assert_eq!(kinds(&v), [FailureKind::NonZeroExit]);
}

#[test]
fn exception_metadata_that_is_not_json_or_has_no_message() {
    let exp = Expectations::new("g");
    let events = [
        Event::new(1, "a", "x", EventType::Exception, 1.0).with_metadata("not json"),
        Event::new(2, "a", "y", EventType::Exception, 2.0).with_metadata(r#"{"message": 42}"#),
        Event::new(3, "a", "z", EventType::Exception, 3.0),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    let messages: Vec<_> = v.exceptions.iter().map(|x| x.message.as_deref()).collect();
    assert_eq!(messages, [None, Some("42"), None]);
}

#[test]
fn malformed_rows_are_evidence_and_fail_the_run() {
    let exp = Expectations::new("g");
    let malformed = [
        MalformedEvent::new(7, Some("a".into()), None, "unknown event type `Foo`"),
        MalformedEvent::new(3, None, None, "`Unit` is NULL"),
    ];
    let v = verify(&VerifyInput::new(&exp, &[]).malformed(&malformed));
    assert_eq!(kinds(&v), [FailureKind::MalformedEvent; 2]);
    assert_eq!(v.malformed.iter().map(|m| m.id).collect::<Vec<_>>(), [3, 7]);
    assert_eq!(v.summary.malformed, 2);
}

#[test]
fn events_after_the_group_ended_are_flagged_late() {
    let exp = Expectations::new("g").unit("a", ["x", "y"]);
    let events = [
        default(1, "a", "x", 10.0).with_mono_ns(1_000),
        default(2, "a", "y", 10.5).with_mono_ns(5_000), // wall says late, monotonic says not
        default(3, "a", "z", 12.0),                     // wall only: late
    ];
    let timing = GroupTiming::wall(9.0, 10.2).with_mono_ns(0, 6_000);
    let v = verify(&VerifyInput::new(&exp, &events).timing(timing));
    assert!(
        v.passed(),
        "late events are kept and counted: {}",
        v.render_text()
    );
    assert_eq!(v.late_events.iter().map(|e| e.id).collect::<Vec<_>>(), [3]);
    assert_eq!(v.summary.late_events, 1);
    assert_eq!(warning_kinds(&v), [WarningKind::LateEvent]);
}

#[test]
fn group_timeout_fails() {
    let exp = Expectations::new("g");
    let v = verify(
        &VerifyInput::new(&exp, &[])
            .timing(GroupTiming::wall(0.0, 30.0))
            .timed_out(true),
    );
    assert_eq!(kinds(&v), [FailureKind::GroupTimeout]);
    assert_eq!(v.failures()[0].message, "group timed out after 30 s");
}

#[test]
fn every_unit_failure_reason_maps_to_its_kind() {
    let table = [
        (
            UnitFailure::ReadinessTimeout {
                probe: "ready".into(),
                waited: Duration::from_secs(10),
            },
            FailureKind::ReadinessTimeout,
        ),
        (
            UnitFailure::ExitedBeforeReady {
                probe: "ready".into(),
            },
            FailureKind::ExitedBeforeReady,
        ),
        (
            UnitFailure::NonZeroExit { code: 2 },
            FailureKind::NonZeroExit,
        ),
        (UnitFailure::Signaled { signal: 11 }, FailureKind::Signaled),
        (
            UnitFailure::Timeout {
                after: Duration::from_secs(5),
            },
            FailureKind::UnitTimeout,
        ),
        (
            UnitFailure::SpawnFailed {
                message: "no such file".into(),
            },
            FailureKind::SpawnFailed,
        ),
        (
            UnitFailure::KilledAfterGrace {
                grace: Duration::from_secs(2),
            },
            FailureKind::KilledAfterGrace,
        ),
        (
            UnitFailure::DependencyFailed {
                dependency: "db".into(),
            },
            FailureKind::DependencyFailed,
        ),
    ];
    let exp = Expectations::new("g");
    for (failure, kind) in table {
        let outcomes = [UnitOutcome::failed("u", failure.clone())];
        let v = verify(&VerifyInput::new(&exp, &[]).unit_outcomes(&outcomes));
        assert_eq!(kinds(&v), [kind], "{failure:?}");
        assert_eq!(v.failures()[0].unit.as_deref(), Some("u"));
    }
}

#[test]
fn failed_unit_without_a_reason_uses_its_exit_status() {
    let exp = Expectations::new("g");
    let outcomes = [
        UnitOutcome::new("a", UnitStatus::Failed).with_exit_code(3),
        UnitOutcome::new("b", UnitStatus::Failed).with_signal(9),
        UnitOutcome::new("c", UnitStatus::Failed),
    ];
    let v = verify(&VerifyInput::new(&exp, &[]).unit_outcomes(&outcomes));
    assert_eq!(
        kinds(&v),
        [
            FailureKind::NonZeroExit,
            FailureKind::Signaled,
            FailureKind::UnitFailed
        ]
    );
    assert_eq!(
        v.failures()[1].message,
        "unit `b` killed by signal SIGKILL (9)"
    );
}

#[test]
fn a_reason_on_a_unit_that_did_not_fail_is_a_warning() {
    let exp = Expectations::new("g");
    let outcomes = [
        UnitOutcome::stopped("server").with_failure(UnitFailure::KilledAfterGrace {
            grace: Duration::from_secs(2),
        }),
        UnitOutcome::finished("client"),
        UnitOutcome::new("passive", UnitStatus::NotStarted),
    ];
    let v = verify(&VerifyInput::new(&exp, &[]).unit_outcomes(&outcomes));
    assert!(v.passed());
    assert_eq!(warning_kinds(&v), [WarningKind::UnitNotice]);
    assert_eq!(
        v.warnings()[0].message,
        "unit `server` (stopped) ignored SIGTERM, killed after the 2 s grace period"
    );
}

#[test]
fn failed_direct_tests_fail_the_run() {
    let exp = Expectations::new("g");
    let tests = [
        DirectTest::passed("test_ok", 0.01),
        DirectTest::failed("test_bad", 0.02, "AssertionError: 1 != 2"),
    ];
    let v = verify(&VerifyInput::new(&exp, &[]).direct_tests(&tests));
    assert_eq!(kinds(&v), [FailureKind::DirectTestFailed]);
    assert_eq!(
        v.failures()[0].message,
        "direct test `test_bad` failed: AssertionError: 1 != 2"
    );
}

// ---------------------------------------------------------------- kinds, JSON, text

#[test]
fn failure_kind_ids_are_stable_and_round_trip() {
    let ids: Vec<_> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        ids,
        [
            "missing_probe",
            "orphan_send",
            "orphan_receive",
            "duplicate_key",
            "readiness_timeout",
            "exited_before_ready",
            "non_zero_exit",
            "signaled",
            "unit_timeout",
            "spawn_failed",
            "killed_after_grace",
            "dependency_failed",
            "unit_failed",
            "direct_test_failed",
            "circuit_incomplete",
            "circuit_out_of_order",
            "hop_over_budget",
            "circuit_over_budget",
            "contract_lost",
            "contract_duplicated",
            "contract_late",
            "contract_unsent",
            "malformed_event",
            "group_timeout",
            "fault_not_triggered",
        ]
    );
    for k in FailureKind::ALL {
        assert_eq!(FailureKind::from_id(k.as_str()), Some(k));
        assert_eq!(
            serde_json::to_value(k).expect("serializes"),
            serde_json::Value::String(k.as_str().to_owned())
        );
    }
    for k in WarningKind::ALL {
        assert_eq!(
            serde_json::to_value(k).expect("serializes"),
            serde_json::Value::String(k.as_str().to_owned())
        );
    }
    assert_eq!(FailureKind::from_id("nope"), None);
}

#[test]
fn verdict_serializes_to_json_with_seconds_and_plain_strings() {
    let exp = Expectations::new("g").unit("a", ["sent"]);
    let events = [
        send(1, "a", "sent", "k", 1.0).with_mono_ns(0),
        recv(2, "b", "got", "k", 1.0).with_mono_ns(1_500_000),
    ];
    let outcomes = [UnitOutcome::failed(
        "b",
        UnitFailure::ReadinessTimeout {
            probe: "ready".into(),
            waited: Duration::from_millis(1500),
        },
    )];
    let v = verify(&VerifyInput::new(&exp, &events).unit_outcomes(&outcomes));
    let json = serde_json::to_value(&v).expect("serializes");
    assert_eq!(json["passed"], false);
    assert_eq!(json["failures"][0]["kind"], "readiness_timeout");
    assert_eq!(json["correlation"]["pairs"][0]["key"], "k");
    assert_eq!(json["correlation"]["pairs"][0]["clock"], "monotonic");
    assert_eq!(json["latency"]["overall"]["p50_s"], 0.0015);
    assert_eq!(json["units"][0]["status"], "failed");
    assert_eq!(json["units"][0]["failure"]["reason"], "readiness_timeout");
    assert_eq!(json["units"][0]["failure"]["waited"], 1.5);
}

#[test]
fn text_from_units_cannot_inject_lines_or_terminal_escapes() {
    let exp = Expectations::new("g").unit("evil\u{1b}[2J\nunit", ["probe\r\u{202e}x"]);
    let v = verify(&VerifyInput::new(&exp, &[]));
    let text = v.render_text();
    assert!(!text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{202e}'));
    assert!(text.contains(r"evil\u{1b}[2J\nunit"), "{text}");
    assert!(v.failures().iter().all(|f| !f.message.contains('\n')));
}

#[test]
fn render_caps_each_kind_and_counts_the_rest() {
    let exp = Expectations::new("g");
    let events: Vec<_> = (0..25)
        .map(|i| send(i, "a", "s", &format!("k{i:02}"), f64::from(i as u32)))
        .collect();
    let v = verify(&VerifyInput::new(&exp, &events));
    let text = v.render_text();
    assert_eq!(text.matches("[orphan_send] `a:s` sent key").count(), 20);
    assert!(text.contains("[orphan_send] … and 5 more"), "{text}");
}

// ---------------------------------------------------------------- from_group

#[test]
fn expectations_from_a_built_group() {
    let group = Group::builder("test_demo", "/tmp/test_demo")
        .unit(Unit::passive("source").init(0).events(["command-sent"]))
        .unit(Unit::passive("target").init(1).events(["command-received"]))
        .unit(
            Unit::passive("off")
                .init(2)
                .enabled(false)
                .events(["never"]),
        )
        .circuit(
            Circuit::new("command")
                .hop(Hop::new("source", "command-sent"))
                .hop(Hop::new("target", "command-received").within(Duration::from_millis(5)))
                .total_budget(Duration::from_millis(50)),
        )
        .build()
        .expect("valid group");
    let exp = Expectations::from_group(&group);
    assert_eq!(exp.group, "test_demo");
    let units: Vec<_> = exp
        .units
        .iter()
        .map(|u| (u.name.as_str(), u.enabled, u.probes.len()))
        .collect();
    assert_eq!(
        units,
        [("source", true, 1), ("target", true, 1), ("off", false, 1)]
    );
    assert_eq!(
        exp.circuits[0].hops[1].budget,
        Some(Duration::from_millis(5))
    );
    assert_eq!(
        exp.circuits[0].total_budget,
        Some(Duration::from_millis(50))
    );

    let events = [
        send(1, "source", "command-sent", "c", 1.000),
        recv(2, "target", "command-received", "c", 1.002),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    assert!(v.passed(), "{}", v.render_text());
}

#[test]
fn failures_name_their_circuit_and_key() {
    let exp = Expectations::new("g").circuit(command_circuit());
    let mut events = circuit_events([0.0, 12.0, 15.0, 30.0]);
    events.push(send(9, "source", "command-sent", "lost", 100.5));
    let v = verify(&VerifyInput::new(&exp, &events));
    let got: Vec<_> = v
        .failures()
        .iter()
        .map(|f| (f.kind, f.circuit.as_deref(), f.key.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (FailureKind::OrphanSend, None, Some("lost")),
            (
                FailureKind::CircuitIncomplete,
                Some("command"),
                Some("lost")
            ),
            (FailureKind::HopOverBudget, Some("command"), Some("c1")),
        ]
    );
}

#[test]
fn dependency_failed_on_a_stopped_unit_is_a_warning_worded_neutrally() {
    let exp = Expectations::new("g");
    let outcomes = [
        UnitOutcome::failed("api", UnitFailure::NonZeroExit { code: 1 }).with_exit_code(1),
        UnitOutcome::stopped("client").with_failure(UnitFailure::DependencyFailed {
            dependency: "api".into(),
        }),
        UnitOutcome::failed(
            "worker",
            UnitFailure::DependencyFailed {
                dependency: "api".into(),
            },
        ),
    ];
    let v = verify(&VerifyInput::new(&exp, &[]).unit_outcomes(&outcomes));
    assert_eq!(
        kinds(&v),
        [FailureKind::NonZeroExit, FailureKind::DependencyFailed]
    );
    assert_eq!(
        v.failures()[1].message,
        "unit `worker` depends on `api`, which failed"
    );
    assert_eq!(
        v.warnings()[0].message,
        "unit `client` (stopped) depends on `api`, which failed"
    );
}

/// Regression (reliability's `extreme_clock_values_in_events`): rows with MonoNs = i64::MIN /
/// i64::MAX and Time = ±1e308 printed a 300-digit number of seconds and `infs`.
#[test]
fn extreme_clock_values_stay_short_in_text_and_never_overflow() {
    let exp = Expectations::new("g").circuit(ExpectedCircuit::new("c").hop("a", "s").hop_within(
        "b",
        "r",
        Duration::from_millis(10),
    ));
    let events = [
        send(1, "a", "s", "k1", -1e308).with_mono_ns(i64::MIN),
        recv(2, "b", "r", "k1", 1e308).with_mono_ns(i64::MAX),
        send(3, "a", "s", "k2", -1e308),
        recv(4, "b", "r", "k2", 1e308),
    ];
    let v = verify(&VerifyInput::new(&exp, &events));
    let lat: Vec<_> = v.correlation.pairs.iter().map(|p| p.latency_s).collect();
    assert!((lat[0] - 1.8446744073709552e10).abs() < 1.0, "{lat:?}");
    assert_eq!(lat[1], f64::INFINITY);
    let text = v.render_text();
    assert!(text.contains("1.84e10 s"), "{text}");
    assert!(text.contains("max inf"), "{text}");
    assert!(text.lines().all(|l| l.len() < 400), "{text}");
    assert_eq!(v.failure_kinds(), [FailureKind::HopOverBudget]);
}

// ---------------------------------------------------------------- delivery contracts (issue 17)

mod contracts {
    use std::time::Duration;

    use testrium_config::Delivery;
    use testrium_events::Event;
    use testrium_verify::{
        ContractReport, Expectations, ExpectedContract, FailureKind, Verdict, VerifyInput, verify,
    };

    use super::kinds;
    use crate::support::{recv, send};

    fn expectations(delivery: Delivery, within: Option<Duration>) -> Expectations {
        let mut contract = ExpectedContract::new("p", "sent", "w", "got", delivery);
        if let Some(w) = within {
            contract = contract.within(w);
        }
        Expectations::new("queue")
            .unit("p", ["sent"])
            .unit("w", ["got"])
            .contract(contract)
    }

    fn run(delivery: Delivery, within: Option<Duration>, events: &[Event]) -> Verdict {
        verify(&VerifyInput::new(&expectations(delivery, within), events))
    }

    /// k1 delivered once, k2 resent and delivered twice, k3 lost.
    fn retries_and_a_loss() -> Vec<Event> {
        vec![
            send(1, "p", "sent", "k1", 1.0),
            recv(2, "w", "got", "k1", 1.1),
            send(3, "p", "sent", "k2", 1.2),
            send(4, "p", "sent", "k2", 1.5),
            recv(5, "w", "got", "k2", 1.3),
            recv(6, "w", "got", "k2", 1.6),
            send(7, "p", "sent", "k3", 1.7),
        ]
    }

    fn counts(c: &ContractReport) -> [u64; 6] {
        [c.sent, c.received, c.lost, c.duplicated, c.late, c.unsent]
    }

    #[test]
    fn exactly_once_passes_on_one_receive_per_send() {
        let events = [
            send(1, "p", "sent", "k1", 1.0),
            recv(2, "w", "got", "k1", 1.25),
            send(3, "p", "sent", "k2", 2.0),
            recv(4, "w", "got", "k2", 2.5),
        ];
        let v = run(Delivery::ExactlyOnce, None, &events);
        assert!(v.passed(), "{}", v.render_text());
        let c = &v.contracts[0];
        assert!(c.passed);
        assert_eq!(c.name, "p:sent -> w:got");
        assert_eq!(c.delivery, "exactly-once");
        assert_eq!(counts(c), [2, 2, 0, 0, 0, 0]);
        let l = c.latency.expect("latency");
        assert_eq!((l.p50_s, l.max_s), (0.25, 0.5));
        // Judged by the contract: no pairs, orphans or duplicates of the default rules.
        assert!(v.correlation.pairs.is_empty());
        assert!(
            v.render_text()
                .contains("contract p:sent -> w:got (exactly-once): passed")
        );
    }

    #[test]
    fn exactly_once_fails_on_a_loss_and_a_duplicate_naming_the_keys() {
        let v = run(Delivery::ExactlyOnce, None, &retries_and_a_loss());
        assert_eq!(
            kinds(&v),
            [FailureKind::ContractLost, FailureKind::ContractDuplicated]
        );
        let c = &v.contracts[0];
        assert!(!c.passed);
        assert_eq!(counts(c), [3, 2, 1, 1, 0, 0]);
        assert_eq!(c.lost_keys, ["k3"]);
        assert_eq!(c.duplicated_keys, ["k2"]);
        let f = &v.failures()[1];
        assert_eq!(f.contract.as_deref(), Some("p:sent -> w:got"));
        assert_eq!(f.key.as_deref(), Some("k2"));
        assert_eq!(
            f.message,
            "contract `p:sent -> w:got` (exactly-once): 1 key(s) received more than once: `k2`"
        );
        // Latency from the first send to the first receive of each key.
        let l = c.latency.expect("latency");
        assert_eq!(l.count, 2);
    }

    #[test]
    fn at_least_once_counts_duplicates_and_fails_on_a_loss() {
        let v = run(Delivery::AtLeastOnce, None, &retries_and_a_loss());
        assert_eq!(kinds(&v), [FailureKind::ContractLost]);
        let mut events = retries_and_a_loss();
        events.push(recv(8, "w", "got", "k3", 1.8));
        let v = run(Delivery::AtLeastOnce, None, &events);
        assert!(v.passed(), "{}", v.render_text());
        assert_eq!(counts(&v.contracts[0]), [3, 3, 0, 1, 0, 0]);
    }

    #[test]
    fn at_most_once_counts_losses_and_fails_on_a_duplicate() {
        let v = run(Delivery::AtMostOnce, None, &retries_and_a_loss());
        assert_eq!(kinds(&v), [FailureKind::ContractDuplicated]);
        let mut events = retries_and_a_loss();
        events.retain(|e| e.id != 6);
        let v = run(Delivery::AtMostOnce, None, &events);
        assert!(v.passed(), "{}", v.render_text());
        assert_eq!(counts(&v.contracts[0]), [3, 2, 1, 0, 0, 0]);
    }

    #[test]
    fn within_ms_makes_a_slow_receive_late_not_lost() {
        let events = [
            send(1, "p", "sent", "k1", 1.0).with_mono_ns(1_000_000_000),
            recv(2, "w", "got", "k1", 1.0).with_mono_ns(1_050_000_000),
            send(3, "p", "sent", "k2", 2.0).with_mono_ns(2_000_000_000),
            recv(4, "w", "got", "k2", 2.0).with_mono_ns(2_250_000_000),
        ];
        let within = Some(Duration::from_millis(100));
        for delivery in Delivery::ALL {
            let v = run(delivery, within, &events);
            assert_eq!(kinds(&v), [FailureKind::ContractLate], "{delivery}");
            let c = &v.contracts[0];
            assert_eq!(counts(c), [2, 2, 0, 0, 1, 0]);
            assert_eq!(c.late_keys, ["k2"]);
            assert_eq!(c.within_s, Some(0.1));
        }
        let v = run(
            Delivery::ExactlyOnce,
            Some(Duration::from_millis(250)),
            &events,
        );
        assert!(v.passed(), "{}", v.render_text());
    }

    #[test]
    fn a_receive_with_no_send_always_fails() {
        let events = [
            send(1, "p", "sent", "k1", 1.0),
            recv(2, "w", "got", "k1", 1.1),
            recv(3, "w", "got", "ghost", 1.2),
        ];
        for delivery in Delivery::ALL {
            let v = run(delivery, None, &events);
            assert_eq!(kinds(&v), [FailureKind::ContractUnsent], "{delivery}");
            assert_eq!(v.contracts[0].unsent_keys, ["ghost"]);
        }
    }

    #[test]
    fn a_pair_not_covered_keeps_the_default_rules() {
        let events = [
            send(1, "p", "sent", "k1", 1.0),
            recv(2, "w", "got", "k1", 1.1),
            recv(3, "w", "got", "k1", 1.2),
            send(4, "p", "ping", "x1", 1.0),
            recv(5, "w", "pong", "x1", 1.1),
            recv(6, "w", "pong", "x1", 1.2),
            send(7, "p", "ping", "x2", 1.3),
        ];
        let v = run(Delivery::AtLeastOnce, None, &events);
        assert_eq!(
            kinds(&v),
            [FailureKind::OrphanSend, FailureKind::DuplicateKey]
        );
        assert_eq!(v.correlation.duplicate_keys[0].key.as_ref(), "x1");
        assert_eq!(v.correlation.pairs.len(), 1);
        assert!(v.contracts[0].passed);
    }

    #[test]
    fn the_verdict_does_not_depend_on_event_order() {
        let events = retries_and_a_loss();
        let mut reversed = events.clone();
        reversed.reverse();
        let a = run(Delivery::ExactlyOnce, None, &events);
        let b = run(Delivery::ExactlyOnce, None, &reversed);
        assert_eq!(a, b);
    }
}
