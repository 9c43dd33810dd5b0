//! Verification throughput: 1,000,000 events (500,000 Send/Receive pairs over 10 routes).
//!
//! Run with `cargo bench -p testrium-verify`; prints the figures recorded in
//! `docs/PERFORMANCE.md`. Set `VERIFY_BENCH_PAIRS` to change the size.

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

fn measure(label: &str, expectations: &Expectations, events: &[Event], runs: usize) {
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

fn main() {
    let pairs: usize = std::env::var("VERIFY_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
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
