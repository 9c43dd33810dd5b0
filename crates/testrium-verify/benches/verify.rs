//! Verification throughput: 1,000,000 events (500,000 Send/Receive pairs over 10 routes), and
//! 1,000,000 events holding 100,000 round trips of a 4-hop causal circuit (issue 13).
//!
//! Run with `cargo bench -p testrium-verify --bench verify [-- FILTER]` (only the cases whose
//! label contains `FILTER`, e.g. `causal`); prints the figures recorded in
//! `docs/PERFORMANCE.md`. Set `VERIFY_BENCH_PAIRS` to change the size of the pair cases.

use std::hint::black_box;
use std::time::{Duration, Instant};

use testrium_events::{Event, EventType};
use testrium_verify::{Expectations, ExpectedCircuit, VerifyInput, verify};

/// 10 routes: sender-i → receiver-i.
fn route(i: usize) -> (String, String) {
    (format!("sender-{i}"), format!("receiver-{i}"))
}

fn events(pairs: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(pairs * 2);
    let base_ns: i64 = 1_000_000_000;
    for i in 0..pairs {
        let (s, r) = route(i % 10);
        let key = format!("msg-{i:07}");
        let sent_ns = base_ns + (i as i64) * 1_000;
        // Latency 50–1049 µs, varying per pair.
        let latency_ns = 50_000 + ((i as i64 * 7919) % 1_000) * 1_000;
        let t = 1_700_000_000.0 + sent_ns as f64 / 1e9;
        events.push(
            Event::new(2 * i as i64 + 1, s, "sent", EventType::Send, t)
                .with_key(key.clone())
                .with_mono_ns(sent_ns),
        );
        events.push(
            Event::new(
                2 * i as i64 + 2,
                r,
                "received",
                EventType::Receive,
                t + latency_ns as f64 / 1e9,
            )
            .with_key(key)
            .with_mono_ns(sent_ns + latency_ns),
        );
    }
    events
}

fn expectations() -> Expectations {
    let mut e = Expectations::new("bench");
    for i in 0..10 {
        e = e
            .unit(format!("sender-{i}"), ["sent"])
            .unit(format!("receiver-{i}"), ["received"]);
    }
    e
}

/// CPU time of this thread, from `/proc/thread-self/schedstat` (nanoseconds on CPU), so the
/// figure does not depend on how busy the shared machine is.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// 100,000 round trips (10 events each): client `request-sent` (`req-N`) → server
/// `request-received` → server `handled` (no key: program order) → client `response-received`
/// (`resp-N`: linked through the server's `response-sent`), with a database call in between
/// (4 events) and a keyless client log line that belong to no hop. A request every 10 µs, its
/// response 500 µs later: about 50 instances open at a time.
fn round_trips(instances: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(instances * 10);
    let base_ns: i64 = 1_000_000_000;
    let mut add = |unit: &str, step: &str, kind: EventType, key: Option<String>, ns: i64| {
        let id = events.len() as i64 + 1;
        let mut e =
            Event::new(id, unit, step, kind, 1_700_000_000.0 + ns as f64 / 1e9).with_mono_ns(ns);
        if let Some(k) = key {
            e = e.with_key(k);
        }
        events.push(e);
    };
    for i in 0..instances {
        let t = base_ns + i as i64 * 10_000;
        let req = format!("req-{i:06}");
        add(
            "client",
            "request-sent",
            EventType::Send,
            Some(req.clone()),
            t,
        );
        add(
            "server",
            "request-received",
            EventType::Receive,
            Some(req),
            t + 1_000,
        );
        add(
            "server",
            "db-query",
            EventType::Send,
            Some(format!("db-{i:06}")),
            t + 2_000,
        );
        add(
            "db",
            "query-received",
            EventType::Receive,
            Some(format!("db-{i:06}")),
            t + 3_000,
        );
        add(
            "db",
            "rows-sent",
            EventType::Send,
            Some(format!("rows-{i:06}")),
            t + 4_000,
        );
        add(
            "server",
            "rows-received",
            EventType::Receive,
            Some(format!("rows-{i:06}")),
            t + 5_000,
        );
        add("server", "handled", EventType::Default, None, t + 6_000);
        add(
            "server",
            "response-sent",
            EventType::Send,
            Some(format!("resp-{i:06}")),
            t + 7_000,
        );
        add("client", "log", EventType::Default, None, t + 8_000);
        let resp = format!("resp-{i:06}");
        add(
            "client",
            "response-received",
            EventType::Receive,
            Some(resp),
            t + 500_000,
        );
    }
    events.sort_by_key(|e| e.mono_ns);
    events
}

fn round_trip_expectations() -> Expectations {
    Expectations::new("bench-causal")
        .unit("client", ["request-sent", "response-received"])
        .unit("server", ["request-received", "handled", "response-sent"])
        .unit("db", ["query-received", "rows-sent"])
        .circuit(
            ExpectedCircuit::new("round-trip")
                .hop("client", "request-sent")
                .hop_within("server", "request-received", Duration::from_millis(1))
                .hop("server", "handled")
                .hop("client", "response-received")
                .total_budget(Duration::from_millis(5)),
        )
}

/// Whether a case runs: no filter argument, or its label contains one.
fn selected(label: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    filters.is_empty() || filters.iter().any(|f| label.contains(f.as_str()))
}

fn measure(label: &str, expectations: &Expectations, events: &[Event], runs: usize) {
    if !selected(label) {
        return;
    }
    let mut wall: Vec<Duration> = Vec::with_capacity(runs);
    let mut cpu: Vec<Duration> = Vec::with_capacity(runs);
    let mut passed = false;
    for _ in 0..runs {
        let cpu_start = thread_cpu();
        let start = Instant::now();
        let verdict = verify(black_box(&VerifyInput::new(expectations, events)));
        wall.push(start.elapsed());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu()) {
            cpu.push(b.saturating_sub(a));
        }
        passed = verdict.passed();
        black_box(&verdict);
        drop(verdict);
    }
    wall.sort();
    cpu.sort();
    print!(
        "{label}: {} events, {runs} runs: wall min {:.1} ms, median {:.1} ms",
        events.len(),
        ms(wall[0]),
        ms(wall[runs / 2]),
    );
    if cpu.len() == runs {
        print!(
            "; cpu min {:.1} ms, median {:.1} ms",
            ms(cpu[0]),
            ms(cpu[runs / 2])
        );
    }
    println!(" (passed: {passed})");
}

/// The causal case, also checking its verdict: every instance complete.
fn measure_causal() {
    let label = "causal: 100k round trips of a 4-hop circuit";
    if !selected(label) {
        return;
    }
    let events = round_trips(100_000);
    let exp = round_trip_expectations();
    let verdict = verify(&VerifyInput::new(&exp, &events));
    let c = &verdict.circuits[0];
    assert_eq!(
        (c.instances, c.complete),
        (100_000, 100_000),
        "{}",
        verdict.render_text()
    );
    measure(label, &exp, &events, 7);
}

fn main() {
    let pairs: usize = std::env::var("VERIFY_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    measure_causal();
    let events = events(pairs);
    let plain = expectations();
    measure("correlation + probes", &plain, &events, 7);

    // The same events with one keyed circuit over every route's hops.
    let circuit = plain.clone().circuit(
        ExpectedCircuit::new("route-0")
            .hop("sender-0", "sent")
            .hop_within("receiver-0", "received", Duration::from_millis(5)),
    );
    measure("with a keyed circuit", &circuit, &events, 7);

    // A broken run: every Receive lost, so 500,000 orphan sends (each a failure with a message).
    let sends_only: Vec<Event> = events
        .iter()
        .filter(|e| e.event_type == EventType::Send)
        .cloned()
        .collect();
    measure("500k orphan sends (failing run)", &plain, &sends_only, 5);

    // The original's figure: 100,000 events.
    let small = self::events(50_000);
    measure("100k events", &plain, &small, 11);
}
