//! The receiver over real HTTP: encodings, the token, every kind of bad input, the flood.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use testrium_events::{EventType, RunDb};
use testrium_otlp::{Receiver, ReceiverOptions, UnitMap};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Fixture {
    dir: PathBuf,
    db: PathBuf,
    receiver: Receiver,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(max_body: Option<usize>) -> Fixture {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "testrium-otlp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let db = dir.join("Data.db");
    RunDb::create(&db).expect("create the run database");
    let units = UnitMap::new()
        .unit("client", None, false)
        .unit("server", None, false);
    let mut options = ReceiverOptions::new(TOKEN, units);
    if let Some(max) = max_body {
        options = options.max_body(max);
    }
    let receiver = Receiver::start(&db, options).expect("start the receiver");
    Fixture { dir, db, receiver }
}

fn spans(service: &str, first: u64, n: u64) -> ExportTraceServiceRequest {
    let spans = (first..first + n)
        .map(|i| Span {
            trace_id: [0x11; 16].to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: "work".to_owned(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i + 10,
            ..Span::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue(service.to_owned())),
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

/// One HTTP/1.1 request on its own connection; the status code.
fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    post_to(addr, "POST", "/v1/traces", headers, body)
}

fn post_to(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) before reading the whole body and close.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

const AUTH: (&str, &str) = ("Authorization", "Bearer 0123456789abcdef0123456789abcdef");
const PROTO: (&str, &str) = ("Content-Type", "application/x-protobuf");
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn rows(db: &std::path::Path) -> Vec<testrium_events::Event> {
    RunDb::open(db)
        .expect("open")
        .read_events()
        .expect("read")
        .events
}

#[test]
fn protobuf_json_and_gzip_bodies_are_stored() {
    let f = fixture(None);
    let addr = f.receiver.addr();
    assert!(addr.ip().is_loopback());
    let proto = spans("client", 0, 2).encode_to_vec();
    assert_eq!(post(addr, &[AUTH, PROTO], &proto), 200);

    let json = serde_json::to_vec(&spans("server", 10, 1)).expect("json");
    assert_eq!(post(addr, &[AUTH, JSON], &json), 200);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&spans("client", 20, 3).encode_to_vec())
        .expect("gzip");
    let gz = gz.finish().expect("gzip");
    assert_eq!(
        post(addr, &[AUTH, PROTO, ("Content-Encoding", "gzip")], &gz),
        200
    );

    let events = rows(&f.db);
    let units: Vec<_> = events.iter().map(|e| e.unit.as_str()).collect();
    assert_eq!(
        units,
        ["client", "client", "server", "client", "client", "client"]
    );
    assert!(events.iter().all(|e| e.event_type == EventType::Default));
    let stats = f.receiver.stats();
    assert_eq!((stats.spans, stats.rows), (6, 6));
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
}

#[test]
fn a_json_body_from_the_otlp_json_encoding_with_hex_ids_is_read() {
    let f = fixture(None);
    let body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"server"}}]},
      "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
      "parentSpanId":"eee19b7ec3c1b173","name":"serve","kind":2,"startTimeUnixNano":"1544712660000000000",
      "endTimeUnixNano":"1544712661000000000","attributes":[{"key":"http.method","value":{"stringValue":"GET"}}]}]}]}]}"#;
    assert_eq!(post(f.receiver.addr(), &[AUTH, JSON], body), 200);
    let events = rows(&f.db);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, EventType::Receive);
    assert_eq!(
        events[0].key.as_deref(),
        Some("5b8efff798038103d269b633813fc60c-eee19b7ec3c1b173")
    );
    assert!(
        events[0]
            .metadata
            .as_deref()
            .is_some_and(|m| m.contains(r#""http.method":"GET""#))
    );
}

#[test]
fn a_request_without_the_token_gets_401_and_a_wrong_one_403() {
    let f = fixture(None);
    let addr = f.receiver.addr();
    let body = spans("client", 0, 1).encode_to_vec();
    assert_eq!(post(addr, &[PROTO], &body), 401);
    assert_eq!(
        post(addr, &[PROTO, ("Authorization", "Bearer nope")], &body),
        403
    );
    assert_eq!(post(addr, &[PROTO, ("Authorization", TOKEN)], &body), 403);
    assert!(rows(&f.db).is_empty(), "nothing stored");
    let warnings = f.receiver.stats().warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("1× request without token")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("2× wrong token")),
        "{warnings:?}"
    );
}

#[test]
fn bad_input_gets_the_right_4xx_is_counted_and_the_receiver_goes_on() {
    let f = fixture(Some(64 * 1024));
    let addr = f.receiver.addr();
    assert_eq!(post(addr, &[AUTH, PROTO], b"\xff\xff\xff\xff garbage"), 400);
    assert_eq!(post(addr, &[AUTH, JSON], b"{\"resourceSpans\": [}"), 400);
    assert_eq!(
        post(addr, &[AUTH, ("Content-Type", "text/plain")], b"x"),
        415
    );
    assert_eq!(
        post(addr, &[AUTH, PROTO, ("Content-Encoding", "br")], b"x"),
        415
    );
    assert_eq!(
        post(
            addr,
            &[AUTH, PROTO, ("Content-Encoding", "gzip")],
            b"not gzip"
        ),
        400
    );
    // Oversized, as sent and once decompressed (a small gzip body that inflates past it).
    let big = spans("client", 0, 2_000).encode_to_vec();
    assert!(big.len() > 64 * 1024);
    assert_eq!(post(addr, &[AUTH, PROTO], &big), 413);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0_u8; 1024 * 1024]).expect("gzip");
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 64 * 1024);
    assert_eq!(
        post(addr, &[AUTH, PROTO, ("Content-Encoding", "gzip")], &bomb),
        413
    );
    assert_eq!(
        post(
            addr,
            &[AUTH, PROTO],
            &spans("billing", 0, 3).encode_to_vec()
        ),
        400
    );
    assert_eq!(post_to(addr, "GET", "/v1/traces", &[AUTH], b""), 405);
    assert_eq!(post_to(addr, "POST", "/v1/logs", &[AUTH], b""), 404);
    // Still answering, nothing lost.
    assert_eq!(
        post(addr, &[AUTH, PROTO], &spans("server", 0, 5).encode_to_vec()),
        200
    );
    assert_eq!(rows(&f.db).len(), 5);
    let warnings = f.receiver.stats().warnings.join("\n");
    for kind in [
        "malformed protobuf",
        "malformed JSON",
        "unsupported media type",
        "unsupported encoding",
        "malformed gzip",
        "2× body too large",
        "3× span of an unknown service: service.name `billing`",
        "wrong method",
        "unknown path",
    ] {
        assert!(warnings.contains(kind), "{kind} missing in:\n{warnings}");
    }
}

#[test]
fn a_flood_of_100000_spans_in_batches_is_stored_completely() {
    let f = fixture(None);
    let addr = f.receiver.addr();
    let senders: Vec<_> = (0..4_u64)
        .map(|t| {
            std::thread::spawn(move || {
                for batch in 0..50_u64 {
                    let first = (t * 50 + batch) * 500;
                    let body = spans("client", first, 500).encode_to_vec();
                    assert_eq!(post(addr, &[AUTH, PROTO], &body), 200);
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    let events = rows(&f.db);
    assert_eq!(events.len(), 100_000);
    let mut keys: Vec<_> = events.iter().filter_map(|e| e.key.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 100_000, "every span once");
    assert_eq!(f.receiver.stats().spans, 100_000);
}

/// The Rust `Probe` over the remote probe API (feature `remote`): records through
/// `POST /v1/probes`, waits through `GET /v1/wait`, and a wrong token is an error naming the
/// answer.
#[test]
fn the_rust_probe_records_and_waits_over_http() {
    use std::time::Duration;
    use testrium_events::{Probe, ProbeErrorKind};
    let f = fixture(None);
    let url = f.receiver.endpoint();
    let client = Probe::remote(&url, TOKEN, "client").expect("remote probe");
    client
        .send("request-sent", "req-1")
        .expect("send over HTTP");
    let waiter = {
        let url = url.clone();
        std::thread::spawn(move || {
            let server = Probe::remote(&url, TOKEN, "server").expect("remote probe");
            server
                .wait_for_event("client", "response-wanted", None, Duration::from_secs(20))
                .expect("wait over HTTP")
        })
    };
    client.emit("response-wanted").expect("emit");
    let seen = waiter.join().expect("waiter").expect("found");
    assert_eq!(seen.unit, "client");
    assert!(
        !client
            .wait_for("server", "never", Duration::from_millis(50))
            .expect("wait")
    );
    let events = rows(&f.db);
    assert_eq!(events[0].step, "request-sent");
    assert_eq!(events[0].key.as_deref(), Some("req-1"));
    assert_eq!(events[0].pid, Some(i64::from(std::process::id())));

    let intruder = Probe::remote(&url, "wrong", "client").expect("remote probe");
    let err = intruder.emit("x").expect_err("refused");
    assert!(
        matches!(err.kind(), ProbeErrorKind::Remote { message, .. } if message.contains("403")),
        "{err}"
    );
}
