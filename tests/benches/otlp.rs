//! OTLP receiver benchmarks (not tests): `cargo bench -p testrium-tests --bench otlp`.
//!
//! 1. What the receiver adds to every run: `Receiver::start` + `stop` on a run database,
//!    interleaved with whole `Run::execute`s of a 2-unit do-nothing group (which include it).
//! 2. Spans ingested per second: 100,000 spans in OTLP/protobuf batches of 512 over HTTP,
//!    from 1 and from 4 concurrent senders, until every row is stored.
//! 3. Added latency from a span's export to the probe visible to `wait_for_event` (another
//!    thread waiting on the run database), interleaved with the same wait on a probe written
//!    directly (`Probe::emit`). An SDK adds its batch delay (`OTEL_BSP_SCHEDULE_DELAY`,
//!    100 ms in a run) before the export; this measures what Testrium adds after it.
//!
//! Prints medians and p90/p99; figures go to docs/PERFORMANCE.md.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use testrium_events::{Probe, RunDb};
use testrium_otlp::{Receiver, ReceiverOptions, UnitMap};
use testrium_tests::TempBase;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn main() {
    let iterations: usize = testrium_tests::bench_iterations(30);
    let base = TempBase::new("bench-otlp");

    // 1. The receiver's share of a run.
    for _ in 0..3 {
        receiver_start_stop(&base);
        run_pair(&base);
    }
    let (mut receiver, mut run): (Vec<Duration>, Vec<Duration>) = (0..iterations)
        .map(|_| (receiver_start_stop(&base), run_pair(&base)))
        .unzip();
    report("Receiver::start + stop", &mut receiver);
    report(
        "Run::execute of 2 do-nothing units (receiver included)",
        &mut run,
    );
    println!(
        "receiver share of the run (median / median): {:.1} %",
        testrium_tests::median_secs(&receiver) / testrium_tests::median_secs(&run) * 100.0
    );

    // 2. Ingestion.
    for senders in [1_u64, 4] {
        let mut rates = Vec::new();
        for _ in 0..3 {
            rates.push(flood(&base, senders));
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "ingest 100,000 spans, batches of 512, {senders} sender(s): median {:.0} spans/s \
             (runs: {})",
            rates[1],
            rates
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // 3. Latency to visible.
    let (mut span, mut direct) = latency(&base, iterations * 10);
    report("span POST -> visible to wait_for_event", &mut span);
    report("Probe::emit -> visible to wait_for_event", &mut direct);
}

fn db(base: &TempBase, name: &str) -> std::path::PathBuf {
    let dir = base.dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("Data.db");
    RunDb::create(&path).expect("create");
    path
}

fn receiver_start_stop(base: &TempBase) -> Duration {
    let path = db(base, "start-stop");
    let units = UnitMap::new().unit("a", None, false).unit("b", None, false);
    let start = Instant::now();
    let receiver = Receiver::start(&path, ReceiverOptions::new(TOKEN, units)).expect("start");
    receiver.stop();
    start.elapsed()
}

fn run_pair(base: &TempBase) -> Duration {
    testrium_tests::run_do_nothing_pair(base, true).0
}

fn request(first: u64, n: u64) -> ExportTraceServiceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let spans = (first..first + n)
        .map(|i| Span {
            trace_id: [0x22; 16].to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: format!("step-{}", i % 8),
            kind: 1,
            start_time_unix_nano: now,
            end_time_unix_nano: now,
            attributes: vec![KeyValue {
                key: "i".to_owned(),
                value: Some(AnyValue {
                    value: Some(Value::IntValue(i as i64)),
                }),
                ..KeyValue::default()
            }],
            ..Span::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("svc".to_owned())),
                    }),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// One request on a connection of its own (as an SDK's exporter without keep-alive).
fn post(addr: SocketAddr, body: &[u8]) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-protobuf\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(body).expect("body");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// Spans per second for 100,000 spans from `senders` threads.
fn flood(base: &TempBase, senders: u64) -> f64 {
    const TOTAL: u64 = 100_000;
    const BATCH: u64 = 512;
    let path = db(base, "flood");
    let units = UnitMap::new().unit("svc", None, false);
    let receiver = Receiver::start(&path, ReceiverOptions::new(TOKEN, units)).expect("start");
    let addr = receiver.addr();
    let batches: Vec<Vec<u8>> = (0..TOTAL.div_ceil(BATCH))
        .map(|b| request(b * BATCH, BATCH.min(TOTAL - b * BATCH)).encode_to_vec())
        .collect();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..senders {
            let batches = &batches;
            scope.spawn(move || {
                for body in batches.iter().skip(t as usize).step_by(senders as usize) {
                    post(addr, body);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let stats = receiver.stop();
    assert_eq!(stats.spans, TOTAL);
    TOTAL as f64 / elapsed.as_secs_f64()
}

/// Interleaved: a span posted (one per request) and a probe emitted, each awaited by a
/// `wait_for_event` already waiting in another thread.
fn latency(base: &TempBase, n: usize) -> (Vec<Duration>, Vec<Duration>) {
    let path = db(base, "latency");
    let units = UnitMap::new().unit("svc", None, false);
    let receiver = Receiver::start(&path, ReceiverOptions::new(TOKEN, units)).expect("start");
    let addr = receiver.addr();
    let writer = Probe::open_existing(&path, "direct").expect("probe");
    let mut span = Vec::new();
    let mut direct = Vec::new();
    for i in 0..n as u64 {
        // The span posted is number `i + 999_999` of `request`'s numbering.
        let step = format!("step-{}", (i + 999_999) % 8);
        for via_span in [true, false] {
            let path = path.clone();
            let (unit, wanted) = if via_span {
                ("svc", step.clone())
            } else {
                ("direct", format!("direct-{i}"))
            };
            let key = (via_span).then(|| {
                format!(
                    "{:032x}-{:016x}",
                    0x2222_2222_2222_2222_2222_2222_2222_2222_u128,
                    i + 1_000_000
                )
            });
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let waiter = std::thread::spawn(move || {
                let probe = Probe::open_existing(&path, "waiter").expect("probe");
                ready_tx.send(()).expect("ready");
                let found = probe
                    .wait_for_event(unit, &wanted, key.as_deref(), Duration::from_secs(10))
                    .expect("wait");
                assert!(found.is_some());
                Instant::now()
            });
            ready_rx.recv().expect("waiter up");
            // Let the waiter enter its wait (it reads the rows once, then sleeps).
            std::thread::sleep(Duration::from_millis(2));
            let start = Instant::now();
            if via_span {
                post(addr, &request(i + 1_000_000 - 1, 1).encode_to_vec());
            } else {
                writer.emit(&format!("direct-{i}")).expect("emit");
            }
            let seen = waiter.join().expect("waiter");
            let took = seen.saturating_duration_since(start);
            if via_span {
                span.push(took);
            } else {
                direct.push(took);
            }
        }
    }
    receiver.stop();
    (span, direct)
}

fn report(label: &str, samples: &mut [Duration]) {
    let p = |q: f64| testrium_tests::quantile_ms(samples, q);
    println!(
        "{label}: median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, min {:.3} ms (n={})",
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.0),
        samples.len()
    );
}
