//! Properties of `verify` over generated event lists (issue 4), and robustness on hostile
//! ones (issue 8).

use std::time::Duration;

use proptest::prelude::*;
use testrium_config::Delivery;
use testrium_events::{Event, EventType, MalformedEvent};
use testrium_verify::{
    Expectations, ExpectedCircuit, ExpectedContract, FailureKind, GroupTiming, Verdict, Verifier,
    VerifyInput, VerifyOptions, verify,
};

/// One Send/Receive pair: sender, receiver, send time, latency, with monotonic time or not.
#[derive(Debug, Clone)]
struct PairSpec {
    sender: &'static str,
    receiver: &'static str,
    sent: f64,
    latency: f64,
    mono: bool,
}

fn pair_spec() -> impl Strategy<Value = PairSpec> {
    (
        prop::sample::select(vec!["a", "b", "c"]),
        prop::sample::select(vec!["x", "y", "z", "a"]),
        0.0..1000.0f64,
        -0.01..0.5f64,
        any::<bool>(),
    )
        .prop_map(|(sender, receiver, sent, latency, mono)| PairSpec {
            sender,
            receiver,
            sent,
            latency,
            mono,
        })
}

/// The events of `pairs`, keys `k0`, `k1`, …; the receive of pair i is at index 2i+1.
fn pair_events(pairs: &[PairSpec]) -> Vec<Event> {
    let mut events = Vec::with_capacity(pairs.len() * 2);
    for (i, p) in pairs.iter().enumerate() {
        let key = format!("k{i}");
        let id = 2 * i as i64;
        let mut s = Event::new(id, p.sender, "sent", EventType::Send, p.sent).with_key(&key);
        let mut r = Event::new(
            id + 1,
            p.receiver,
            "got",
            EventType::Receive,
            p.sent + p.latency,
        )
        .with_key(&key);
        if p.mono {
            let ns = (p.sent * 1e9) as i64;
            s = s.with_mono_ns(ns);
            r = r.with_mono_ns(ns + (p.latency * 1e9) as i64);
        }
        events.push(s);
        events.push(r);
    }
    events
}

fn json(v: &Verdict) -> String {
    serde_json::to_string(v).expect("a verdict always serializes")
}

/// A hostile event: units, steps and keys from small pools (so duplicates, fan-out, reuse
/// across routes and unknown units all happen), every type, odd times and metadata.
fn hostile_event() -> impl Strategy<Value = Event> {
    let unit = prop::sample::select(vec!["a", "b", "x", "", "é\u{1b}[31m", "line\nbreak"]);
    let step = prop::sample::select(vec!["s", "r", "ready", "done", "\u{202e}evil"]);
    let kind = prop::sample::select(EventType::ALL.to_vec());
    let key = prop::option::of(prop::sample::select(vec!["k1", "k2", "k3", "", "k\u{0}"]));
    let time = prop_oneof![
        8 => 0.0..10.0f64,
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, f64::MAX, f64::MIN, -1e300,
        ]),
    ];
    let mono = prop::option::of(prop_oneof![
        4 => 0i64..10_000_000_000,
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0]),
    ]);
    let metadata = prop::option::of(prop::sample::select(vec![
        r#"{"message": "boom"}"#.to_owned(),
        "not json".to_owned(),
        r#"{"message": {"nested": [1, 2]}}"#.to_owned(),
        format!(r#"{{"message": "{}"}}"#, "x".repeat(5000)),
        "\u{0}\u{1b}".to_owned(),
    ]));
    (0i64..20, unit, step, kind, key, time, mono, metadata).prop_map(
        |(id, unit, step, kind, key, time, mono, metadata)| {
            let mut e = Event::new(id, unit, step, kind, time);
            e.key = key.map(str::to_owned);
            e.mono_ns = mono;
            e.metadata = metadata;
            e
        },
    )
}

fn hostile_expectations() -> impl Strategy<Value = Expectations> {
    let probes = prop::collection::vec(prop::sample::select(vec!["s", "r", "ready", "done"]), 0..3);
    let units = prop::collection::vec(
        (
            prop::sample::select(vec!["a", "b", "x", "ghost"]),
            probes,
            any::<bool>(),
        ),
        0..4,
    );
    let hop = (
        prop::sample::select(vec!["a", "b", "x"]),
        prop::sample::select(vec!["s", "r", "ready", "done"]),
        prop::option::of(0u64..3_000),
    );
    let circuits = prop::collection::vec(
        (
            prop::collection::vec(hop, 0..4),
            prop::option::of(0u64..5_000),
        ),
        0..3,
    );
    let end = || {
        (
            prop::sample::select(vec!["a", "b", "x"]),
            prop::sample::select(vec!["s", "r", "ready"]),
        )
    };
    let contracts = prop::collection::vec(
        (
            end(),
            end(),
            prop::sample::select(Delivery::ALL.to_vec()),
            prop::option::of(1u64..3_000),
        ),
        0..3,
    );
    (units, circuits, contracts).prop_map(|(units, circuits, contracts)| {
        let mut exp = Expectations::new("hostile");
        for ((su, sp), (ru, rp), delivery, within) in contracts {
            let mut c = ExpectedContract::new(su, sp, ru, rp, delivery);
            if let Some(ms) = within {
                c = c.within(Duration::from_millis(ms));
            }
            exp = exp.contract(c);
        }
        for (name, probes, enabled) in units {
            exp = if enabled {
                exp.unit(name, probes)
            } else {
                exp.disabled_unit(name, probes)
            };
        }
        for (i, (hops, total)) in circuits.into_iter().enumerate() {
            let mut c = ExpectedCircuit::new(format!("c{i}"));
            for (unit, probe, budget) in hops {
                c = match budget {
                    Some(ms) => c.hop_within(unit, probe, Duration::from_millis(ms)),
                    None => c.hop(unit, probe),
                };
            }
            if let Some(ms) = total {
                c = c.total_budget(Duration::from_millis(ms));
            }
            exp = exp.circuit(c);
        }
        exp
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every generated Send with exactly one Receive is paired; nothing else is reported.
    #[test]
    fn every_send_with_one_receive_is_paired(pairs in prop::collection::vec(pair_spec(), 0..60)) {
        let events = pair_events(&pairs);
        let exp = Expectations::new("pairs");
        let v = verify(&VerifyInput::new(&exp, &events));
        prop_assert!(v.passed(), "{}", v.render_text());
        prop_assert_eq!(v.correlation.pairs.len(), pairs.len());
        prop_assert!(v.correlation.orphan_sends.is_empty());
        prop_assert!(v.correlation.orphan_receives.is_empty());
        prop_assert!(v.correlation.duplicate_keys.is_empty());
        prop_assert!(v.correlation.pairs.iter().all(|p| p.latency_s >= 0.0));
        let counted: u64 = v.latency.routes.iter().map(|r| r.stats.count).sum();
        prop_assert_eq!(counted, pairs.len() as u64);
    }

    /// Removing one Receive yields exactly one orphan send, with that key.
    #[test]
    fn removing_one_receive_yields_one_orphan_send(
        pairs in prop::collection::vec(pair_spec(), 1..60),
        pick in any::<prop::sample::Index>(),
    ) {
        let mut events = pair_events(&pairs);
        let i = pick.index(pairs.len());
        events.remove(2 * i + 1);
        let exp = Expectations::new("pairs");
        let v = verify(&VerifyInput::new(&exp, &events));
        prop_assert_eq!(v.correlation.orphan_sends.len(), 1);
        let key = format!("k{i}");
        prop_assert_eq!(v.correlation.orphan_sends[0].key.as_deref(), Some(key.as_str()));
        prop_assert!(v.correlation.orphan_receives.is_empty());
        prop_assert_eq!(v.correlation.pairs.len(), pairs.len() - 1);
        prop_assert_eq!(v.failure_kinds(), vec![FailureKind::OrphanSend]);
    }

    /// The verdict does not depend on the order the events are given in.
    #[test]
    fn verdict_does_not_depend_on_event_order(
        (events, shuffled) in prop::collection::vec(pair_spec(), 0..40)
            .prop_map(|p| pair_events(&p))
            .prop_flat_map(|e| (Just(e.clone()), Just(e).prop_shuffle())),
    ) {
        let exp = Expectations::new("order")
            .unit("a", ["sent"])
            .unit("x", ["got"])
            .circuit(ExpectedCircuit::new("ax").hop("a", "sent").hop_within("x", "got", Duration::from_millis(100)));
        let a = verify(&VerifyInput::new(&exp, &events));
        let b = verify(&VerifyInput::new(&exp, &shuffled));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.render_text(), b.render_text());
    }

    /// Hostile lists (unknown units, duplicate ids, NaN and infinite times, extreme monotonic
    /// values, control characters, bad metadata, malformed rows, odd circuits): never a
    /// panic, the text stays clean, the JSON and the text do not depend on the order.
    #[test]
    fn never_panics_and_stays_order_independent_on_hostile_lists(
        (events, shuffled) in prop::collection::vec(hostile_event(), 0..40)
            .prop_flat_map(|e| (Just(e.clone()), Just(e).prop_shuffle())),
        exp in hostile_expectations(),
        malformed in prop::collection::vec((0i64..5, prop::option::of(".*"), ".*"), 0..3),
        ended in prop::option::of(0.0..10.0f64),
        timed_out in any::<bool>(),
    ) {
        let (malformed, timing) = malformed_and_timing(malformed, ended);
        let run = |events: &[Event]| {
            verify(
                &VerifyInput::new(&exp, events)
                    .malformed(&malformed)
                    .timing(timing)
                    .timed_out(timed_out),
            )
        };
        let a = run(&events);
        let b = run(&shuffled);
        prop_assert_eq!(a.passed(), a.failures().is_empty());
        let text = a.render_text();
        prop_assert!(
            !text.chars().any(|c| c != '\n' && c.is_control()),
            "control character in {text:?}"
        );
        prop_assert!(a.failures().iter().all(|f| !f.message.chars().any(char::is_control)));
        prop_assert_eq!(json(&a), json(&b));
        prop_assert_eq!(text, b.render_text());
        // The JSON reads back (a run database keeps it) into a verdict that writes it again
        // byte for byte, `null` for a NaN or infinite time included.
        let written = json(&a);
        let back: Verdict = serde_json::from_str(&written)
            .map_err(|e| TestCaseError::fail(format!("{e}: {written}")))?;
        prop_assert_eq!(json(&back), written);
    }

    /// A [`Verifier`] fed the events one at a time, in any order, gives `verify`'s verdict;
    /// with a pair limit, the same verdict with the pair list cut (and the cut counted).
    #[test]
    fn streaming_gives_the_verdict_of_verify(
        (events, shuffled) in prop::collection::vec(
            prop_oneof![3 => hostile_event(), 1 => pair_spec().prop_map(|p| pair_events(&[p])[0].clone())],
            0..60,
        )
        .prop_flat_map(|e| (Just(e.clone()), Just(e).prop_shuffle())),
        pairs in prop::collection::vec(pair_spec(), 0..30),
        exp in hostile_expectations(),
        malformed in prop::collection::vec((0i64..5, prop::option::of("[a-z]*"), "[a-z]*"), 0..3),
        ended in prop::option::of(0.0..10.0f64),
        limit in 0usize..20,
    ) {
        let mut events = events;
        let mut shuffled = shuffled;
        let extra = pair_events(&pairs);
        events.extend(extra.iter().cloned());
        shuffled.splice(0..0, extra.into_iter().rev());
        let (malformed, timing) = malformed_and_timing(malformed, ended);
        let expected = verify(&VerifyInput::new(&exp, &events).malformed(&malformed).timing(timing));
        let stream = |options: VerifyOptions| {
            let mut v = Verifier::new(&exp, options);
            for e in &shuffled {
                v.push(e);
            }
            for m in malformed.iter().rev() {
                v.push_malformed(m.clone());
            }
            prop_assert_eq!(v.events(), shuffled.len() as u64);
            Ok(v.finish(&[], &[], timing, false))
        };
        let all = stream(VerifyOptions::default())?;
        prop_assert_eq!(json(&all), json(&expected));
        let cut = stream(VerifyOptions::default().pair_limit(limit))?;
        let mut want = expected.clone();
        let paired = want.correlation.pairs.len();
        want.correlation.pairs.truncate(limit);
        want.correlation.pairs_omitted = paired.saturating_sub(limit) as u64;
        prop_assert_eq!(cut.correlation.paired(), paired as u64);
        prop_assert_eq!(json(&cut), json(&want));
    }
}

/// The malformed rows and group timing a property generated (`ended`: the group's end, in
/// seconds on both clocks).
fn malformed_and_timing(
    rows: Vec<(i64, Option<String>, String)>,
    ended: Option<f64>,
) -> (Vec<MalformedEvent>, GroupTiming) {
    let malformed = rows
        .into_iter()
        .map(|(id, unit, reason)| MalformedEvent::new(id, unit, None, reason))
        .collect();
    let timing = match ended {
        Some(end) => GroupTiming::wall(0.0, end).with_mono_ns(0, (end * 1e9) as i64),
        None => GroupTiming::default(),
    };
    (malformed, timing)
}
