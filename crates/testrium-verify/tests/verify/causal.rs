//! Causal circuits (issue 13): a request and its response are one circuit across keys.
//!
//! Regression: the README's request→response circuit, instrumented as the original taught
//! (request key `req-001`, response key `resp-001`), failed with "hop 3
//! `client:response-received` never happened" although that probe was recorded: a circuit
//! followed one key only.

use std::time::Duration;

use proptest::prelude::*;
use testrium_events::{Event, EventType};
use testrium_verify::{
    Expectations, ExpectedCircuit, FailureKind, Verdict, Verifier, VerifyInput, VerifyOptions,
    ViolationKind, verify,
};

/// client:request-sent -> server:request-received -> client:response-received; the server's
/// `response-sent` is no hop (it links the pairs).
fn round_trip(hop_ms: u64, total_ms: u64) -> Expectations {
    Expectations::new("test_request_response")
        .unit("client", ["request-sent", "response-received"])
        .unit("server", ["request-received", "response-sent"])
        .circuit(
            ExpectedCircuit::new("round-trip")
                .hop("client", "request-sent")
                .hop("server", "request-received")
                .hop_within("client", "response-received", Duration::from_millis(hop_ms))
                .total_budget(Duration::from_millis(total_ms)),
        )
}

/// Events with consecutive ids, times in ms (monotonic clock on every event).
#[derive(Default)]
struct Log {
    events: Vec<Event>,
}

impl Log {
    fn add(
        &mut self,
        unit: &str,
        step: &str,
        kind: EventType,
        key: &str,
        cause: Option<&str>,
        ms: f64,
    ) {
        let id = self.events.len() as i64 + 1;
        let mut e = Event::new(id, unit, step, kind, 1_700_000_000.0 + ms / 1e3)
            .with_key(key)
            .with_mono_ns((ms * 1e6) as i64);
        if let Some(c) = cause {
            e = e.with_cause(c);
        }
        self.events.push(e);
    }

    /// One request handled at once: `req-NNN` out, `resp-NNN` back, no cause.
    fn sequential(&mut self, i: usize, start_ms: f64, response_ms: f64) {
        let (req, resp) = (format!("req-{i:03}"), format!("resp-{i:03}"));
        self.add(
            "client",
            "request-sent",
            EventType::Send,
            &req,
            None,
            start_ms,
        );
        self.add(
            "server",
            "request-received",
            EventType::Receive,
            &req,
            None,
            start_ms + 1.0,
        );
        self.add(
            "server",
            "response-sent",
            EventType::Send,
            &resp,
            None,
            start_ms + 2.0,
        );
        self.add(
            "client",
            "response-received",
            EventType::Receive,
            &resp,
            None,
            start_ms + response_ms,
        );
    }
}

fn failures(v: &Verdict) -> Vec<(FailureKind, Option<&str>, &str)> {
    v.failures()
        .iter()
        .map(|f| (f.kind, f.key.as_deref(), f.message.as_str()))
        .collect()
}

#[test]
fn one_request_with_two_keys_and_no_cause_passes() {
    let mut log = Log::default();
    log.sequential(1, 0.0, 3.0);
    let v = verify(&VerifyInput::new(&round_trip(10, 50), &log.events));
    assert!(v.passed(), "{}", v.render_text());
    let c = &v.circuits[0];
    assert_eq!((c.instances, c.complete), (1, 1));
    assert_eq!(c.traces[0].event_ids, [1, 2, 4]);
    assert_eq!(c.total.map(|t| t.count), Some(1));
}

#[test]
fn twenty_requests_handled_one_at_a_time_pass() {
    let mut log = Log::default();
    for i in 0..20 {
        log.sequential(i, i as f64 * 10.0, 3.0 + (i % 3) as f64);
    }
    let v = verify(&VerifyInput::new(&round_trip(10, 50), &log.events));
    assert!(v.passed(), "{}", v.render_text());
    let c = &v.circuits[0];
    assert_eq!((c.instances, c.complete), (20, 20));
    let hop = c.hops[2].from_previous.expect("complete instances");
    assert_eq!(hop.count, 20);
    // Hop 3 is measured from hop 2 (`request-received`, 1 ms after the request).
    assert!((hop.max_s - 0.004).abs() < 1e-9, "{hop:?}");
}

/// 20 requests in flight at once, answered out of order by a threaded host: each response
/// names its request as its cause.
fn concurrent(cause: bool) -> Log {
    let mut log = Log::default();
    for i in 0..20 {
        let req = format!("req-{i:03}");
        log.add(
            "client",
            "request-sent",
            EventType::Send,
            &req,
            None,
            i as f64 * 0.1,
        );
    }
    for i in 0..20 {
        let req = format!("req-{i:03}");
        log.add(
            "server",
            "request-received",
            EventType::Receive,
            &req,
            None,
            5.0 + i as f64 * 0.1,
        );
    }
    // Answered in the order 19, 18, …, 0.
    for (n, i) in (0..20).rev().enumerate() {
        let (req, resp) = (format!("req-{i:03}"), format!("resp-{i:03}"));
        let at = 10.0 + n as f64 * 0.2;
        let c = cause.then_some(req.as_str());
        log.add("server", "response-sent", EventType::Send, &resp, c, at);
        log.add(
            "client",
            "response-received",
            EventType::Receive,
            &resp,
            None,
            at + 0.1,
        );
    }
    log
}

#[test]
fn twenty_concurrent_requests_answered_out_of_order_are_linked_by_cause() {
    let log = concurrent(true);
    let v = verify(&VerifyInput::new(&round_trip(100, 100), &log.events));
    assert!(v.passed(), "{}", v.render_text());
    let c = &v.circuits[0];
    assert_eq!((c.instances, c.complete), (20, 20));
    // Each instance is its own request and response: req-019, answered first, took 5 ms + 0.1 ms.
    let trace = &c.traces[19];
    assert_eq!(trace.key.as_deref(), Some("req-019"));
    let ids = &trace.event_ids;
    let key = |id: i64| log.events[id as usize - 1].key.clone().unwrap_or_default();
    assert_eq!(
        (key(ids[1]), key(ids[2])),
        ("req-019".into(), "resp-019".into())
    );
}

#[test]
fn a_cause_in_the_metadata_counts_as_the_cause() {
    let mut log = concurrent(true);
    for e in &mut log.events {
        if let Some(c) = e.cause.take() {
            e.metadata = Some(format!(r#"{{"cause": "{c}"}}"#));
        }
    }
    let v = verify(&VerifyInput::new(&round_trip(100, 100), &log.events));
    assert!(v.passed(), "{}", v.render_text());
    assert_eq!(v.circuits[0].complete, 20);
}

#[test]
fn an_explicit_cause_is_authoritative_over_program_order() {
    let mut log = Log::default();
    log.add(
        "client",
        "request-sent",
        EventType::Send,
        "req-1",
        None,
        0.0,
    );
    log.add(
        "server",
        "request-received",
        EventType::Receive,
        "req-1",
        None,
        1.0,
    );
    // Names a cause nobody carries: not linked by program order to `request-received`.
    log.add(
        "server",
        "response-sent",
        EventType::Send,
        "resp-1",
        Some("other"),
        2.0,
    );
    log.add(
        "client",
        "response-received",
        EventType::Receive,
        "resp-1",
        None,
        3.0,
    );
    let v = verify(&VerifyInput::new(&round_trip(10, 50), &log.events));
    assert_eq!(v.failure_kinds(), [FailureKind::CircuitIncomplete]);
    assert_eq!(v.circuits[0].complete, 0);
}

#[test]
fn a_dropped_response_fails_naming_its_instance_and_the_first_missing_hop() {
    let mut log = Log::default();
    for i in 0..20 {
        log.sequential(i, i as f64 * 10.0, 3.0);
    }
    // The client never records the response to req-007.
    log.events
        .retain(|e| !(e.step == "response-received" && e.key.as_deref() == Some("resp-007")));
    let v = verify(&VerifyInput::new(&round_trip(10, 50), &log.events));
    assert_eq!(
        failures(&v)[1..],
        [(
            FailureKind::CircuitIncomplete,
            Some("req-007"),
            "circuit `round-trip` key `req-007`: hop 3 `client:response-received` never happened"
        )]
    );
    let c = &v.circuits[0];
    assert_eq!((c.instances, c.complete), (20, 19));
    let viol = &c.violations[0];
    assert_eq!((viol.kind, viol.hop), (ViolationKind::Missing, 2));
    assert_eq!(viol.previous_key.as_deref(), Some("resp-007"));
    assert_eq!(c.hops[2].from_previous.map(|s| s.count), Some(19));
}

#[test]
fn a_slow_instance_is_named_by_the_budget_failure() {
    let mut log = Log::default();
    for i in 0..20 {
        let response_ms = if i == 12 { 180.0 } else { 3.0 };
        log.sequential(i, i as f64 * 200.0, response_ms);
    }
    let v = verify(&VerifyInput::new(&round_trip(100, 150), &log.events));
    let got: Vec<_> = failures(&v)
        .into_iter()
        .map(|(k, key, _)| (k, key))
        .collect();
    assert_eq!(
        got,
        [
            (FailureKind::HopOverBudget, Some("req-012")),
            (FailureKind::CircuitOverBudget, Some("req-012")),
        ]
    );
    assert!(
        v.failures()[0]
            .message
            .contains("hop 3 `client:response-received` took 179 ms")
    );
    let c = &v.circuits[0];
    assert_eq!((c.instances, c.complete), (20, 19));
    // The slow instance is in the latency figures: that is where its max comes from.
    assert_eq!(c.total.map(|t| t.count), Some(20));
    assert!(c.total.is_some_and(|t| (t.max_s - 0.180).abs() < 1e-9));
}

/// The message of the issue: the response probe is recorded under its own keys with nothing
/// linking it to the request (no `response-sent` probe, no cause).
#[test]
fn an_unlinked_hop_says_how_to_link_it() {
    let mut log = Log::default();
    log.add(
        "client",
        "request-sent",
        EventType::Send,
        "req-7",
        None,
        0.0,
    );
    log.add(
        "server",
        "request-received",
        EventType::Receive,
        "req-7",
        None,
        1.0,
    );
    for i in 1..=3 {
        let k = format!("resp-{i}");
        log.add(
            "client",
            "response-received",
            EventType::Default,
            &k,
            None,
            1.0 + i as f64,
        );
    }
    let exp = Expectations::new("g").circuit(
        ExpectedCircuit::new("rr")
            .hop("client", "request-sent")
            .hop("server", "request-received")
            .hop("client", "response-received"),
    );
    let v = verify(&VerifyInput::new(&exp, &log.events));
    assert_eq!(
        failures(&v),
        [(
            FailureKind::CircuitIncomplete,
            Some("req-7"),
            "circuit `rr` key `req-7`: hop 3 `client:response-received` recorded 3× but not caused by `req-7` (keys `resp-1`, `resp-2`, `resp-3`): give it `cause=\"req-7\"`, or use one key for the flow"
        )]
    );
    let viol = &v.circuits[0].violations[0];
    assert_eq!((viol.unlinked, viol.unlinked_keys.len()), (3, 3));
}

#[test]
fn broken_instances_are_listed_up_to_a_cap_and_counted() {
    let mut log = Log::default();
    for i in 0..250 {
        let req = format!("req-{i:03}");
        log.add(
            "client",
            "request-sent",
            EventType::Send,
            &req,
            None,
            i as f64,
        );
    }
    let v = verify(&VerifyInput::new(&round_trip(10, 50), &log.events));
    let c = &v.circuits[0];
    assert_eq!((c.instances, c.complete), (250, 0));
    assert_eq!((c.violations.len(), c.violations_omitted), (100, 150));
    assert_eq!(c.violations[0].key.as_deref(), Some("req-000"));
    assert_eq!(c.violations[99].key.as_deref(), Some("req-099"));
    let last = v.failures().last().expect("a summary failure");
    assert_eq!(last.kind, FailureKind::CircuitIncomplete);
    assert!(
        last.message.contains("150 more instance(s) incomplete"),
        "{}",
        last.message
    );
}

/// One round trip per `(latency, caused)`, 50 ms apart, each hop `latency` ms after the one
/// before; `caused`: the response names its request as its cause.
fn generated(latencies: &[(f64, bool)]) -> Vec<Event> {
    let mut log = Log::default();
    for (i, &(lat, caused)) in latencies.iter().enumerate() {
        let (req, resp) = (format!("req-{i}"), format!("resp-{i}"));
        let t = i as f64 * 50.0;
        log.add("client", "request-sent", EventType::Send, &req, None, t);
        log.add(
            "server",
            "request-received",
            EventType::Receive,
            &req,
            None,
            t + lat,
        );
        let c = caused.then_some(req.as_str());
        log.add(
            "server",
            "response-sent",
            EventType::Send,
            &resp,
            c,
            t + 2.0 * lat,
        );
        log.add(
            "client",
            "response-received",
            EventType::Receive,
            &resp,
            None,
            t + 3.0 * lat,
        );
    }
    log.events
}

proptest! {
    /// Shuffling the events never changes the verdict, streamed or not.
    #[test]
    fn shuffled_event_order_never_changes_a_verdict(
        (events, shuffled) in prop::collection::vec((0.1..20.0f64, any::<bool>()), 0..25)
            .prop_map(|l| generated(&l))
            .prop_flat_map(|e| (Just(e.clone()), Just(e).prop_shuffle())),
        hop_ms in 5u64..60,
    ) {
        let exp = round_trip(hop_ms, 3 * hop_ms);
        let a = verify(&VerifyInput::new(&exp, &events));
        let b = verify(&VerifyInput::new(&exp, &shuffled));
        prop_assert_eq!(&a, &b);
        let mut stream = Verifier::new(&exp, VerifyOptions::default());
        for e in shuffled.iter().rev() {
            stream.push(e);
        }
        let c = stream.finish(&[], &[], Default::default(), false);
        prop_assert_eq!(&a, &c);
    }

    /// Removing any one event of a hop always fails the circuit.
    #[test]
    fn a_dropped_hop_always_fails(
        latencies in prop::collection::vec((0.1..20.0f64, any::<bool>()), 1..25),
        pick in any::<prop::sample::Index>(),
    ) {
        let mut events = generated(&latencies);
        let exp = round_trip(1_000, 1_000);
        prop_assert!(verify(&VerifyInput::new(&exp, &events)).passed());
        let hops: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.step != "response-sent")
            .map(|(i, _)| i)
            .collect();
        let gone = events.remove(hops[pick.index(hops.len())]);
        let v = verify(&VerifyInput::new(&exp, &events));
        let c = &v.circuits[0];
        prop_assert!(!v.passed());
        prop_assert!(c.complete < latencies.len() as u64, "{} dropped", gone.step);
        // Without its first hop an instance never starts: the request's receive is then an
        // orphan; any later hop dropped leaves its instance incomplete.
        if gone.step != "request-sent" {
            prop_assert!(v.failure_kinds().contains(&FailureKind::CircuitIncomplete));
        }
    }
}
