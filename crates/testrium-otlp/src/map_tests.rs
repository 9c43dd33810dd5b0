use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use testrium_events::EventType;

use super::*;

const TRACE: [u8; 16] = [0xab; 16];
const START: u64 = 1_700_000_000_000_000_000;

fn sid(n: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 0, 0, n]
}

fn ctx(n: u8) -> String {
    span_context(&TRACE, &sid(n)).expect("valid ids")
}

fn span(n: u8, name: &str, kind: SpanKind, parent: Option<u8>) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: sid(n),
        parent_span_id: parent.map(sid).unwrap_or_default(),
        name: name.to_owned(),
        kind: kind as i32,
        start_time_unix_nano: START + u64::from(n) * 1_000_000,
        end_time_unix_nano: START + u64::from(n) * 1_000_000 + 500_000,
        ..Span::default()
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::StringValue(service.to_owned())),
                    kv("process.pid", Value::IntValue(4242)),
                ],
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

fn units() -> UnitMap {
    UnitMap::new()
        .unit("client", None, true)
        .unit("server", Some("orders-api"), false)
}

fn clock() -> Clock {
    Clock {
        unix_ns: i128::from(START) + 1_000_000_000,
        mono_ns: 5_000_000_000,
    }
}

fn map(service: &str, spans: Vec<Span>) -> Mapped {
    map_request(
        &request(service, spans),
        &units(),
        &Links::default(),
        clock(),
    )
}

fn meta(e: &testrium_events::Event) -> serde_json::Value {
    serde_json::from_str(e.metadata.as_deref().unwrap_or("{}")).expect("metadata is JSON")
}

#[test]
fn an_internal_span_is_a_default_probe_at_its_start_keyed_by_its_context() {
    // `server` has otel_service = "orders-api": its own name maps nothing.
    let m = map("server", vec![span(1, "handle", SpanKind::Internal, None)]);
    assert!(m.rows.is_empty());
    assert_eq!(m.unknown.get("server"), Some(&1));
    let m = map(
        "orders-api",
        vec![span(1, "handle", SpanKind::Internal, None)],
    );
    assert_eq!(m.accepted, 1);
    let e = &m.rows[0];
    assert_eq!((e.unit.as_str(), e.step.as_str()), ("server", "handle"));
    assert_eq!(e.event_type, EventType::Default);
    assert_eq!(e.key.as_deref(), Some(ctx(1).as_str()));
    assert_eq!(e.cause, None);
    assert_eq!(e.time, (START + 1_000_000) as f64 / 1e9);
    // One second before the clock was read, minus the span's 1 ms offset.
    assert_eq!(e.mono_ns, Some(5_000_000_000 - 1_000_000_000 + 1_000_000));
    assert_eq!(e.pid, Some(4242));
    assert_eq!(m.rows.len(), 1, "no end probe unless the unit asks");
}

#[test]
fn client_and_producer_spans_are_sends_keyed_by_their_own_context() {
    for kind in [SpanKind::Client, SpanKind::Producer] {
        let m = map("client", vec![span(2, "call", kind, None)]);
        assert_eq!(m.rows[0].event_type, EventType::Send, "{kind:?}");
        assert_eq!(m.rows[0].key.as_deref(), Some(ctx(2).as_str()));
    }
}

#[test]
fn server_and_consumer_children_are_receives_keyed_by_the_parent_context() {
    for kind in [SpanKind::Server, SpanKind::Consumer] {
        let m = map("orders-api", vec![span(3, "serve", kind, Some(2))]);
        let e = &m.rows[0];
        assert_eq!(e.event_type, EventType::Receive, "{kind:?}");
        assert_eq!(
            e.key.as_deref(),
            Some(ctx(2).as_str()),
            "pairs with the Send"
        );
        assert_eq!(e.cause, None, "the key links it");
        assert_eq!(m.spans[0].flow, Flow::Final(ctx(2)));
    }
}

#[test]
fn a_server_span_without_parent_or_links_is_a_default_probe() {
    let m = map("orders-api", vec![span(3, "serve", SpanKind::Server, None)]);
    assert_eq!(m.rows[0].event_type, EventType::Default);
    assert_eq!(m.rows[0].key.as_deref(), Some(ctx(3).as_str()));
}

#[test]
fn a_server_span_whose_parent_is_local_is_not_a_receive() {
    let mut s = span(3, "serve", SpanKind::Server, Some(2));
    s.flags = HAS_IS_REMOTE;
    let m = map("orders-api", vec![s]);
    assert_eq!(m.rows[0].event_type, EventType::Default);
    // It inherits its parent's flow key (the parent, unseen, is taken as a root until then).
    assert_eq!(m.rows[0].key.as_deref(), Some(ctx(2).as_str()));
    assert_eq!(m.rows[0].cause.as_deref(), Some(ctx(2).as_str()));
}

#[test]
fn every_link_of_a_consumer_span_is_a_receive() {
    let mut s = span(9, "batch", SpanKind::Consumer, None);
    s.links = [4_u8, 5]
        .iter()
        .map(|&n| Link {
            trace_id: TRACE.to_vec(),
            span_id: sid(n),
            ..Link::default()
        })
        .collect();
    let m = map("orders-api", vec![s]);
    let keys: Vec<_> = m.rows.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, vec![Some(ctx(4)), Some(ctx(5))]);
    assert!(m.rows.iter().all(|e| e.event_type == EventType::Receive));
}

#[test]
fn a_link_is_the_cause_of_an_internal_span_without_parent() {
    let mut s = span(9, "work", SpanKind::Internal, None);
    s.links = vec![Link {
        trace_id: TRACE.to_vec(),
        span_id: sid(4),
        ..Link::default()
    }];
    let m = map("client", vec![s]);
    assert_eq!(m.rows[0].cause.as_deref(), Some(ctx(4).as_str()));
}

#[test]
fn a_child_names_its_receive_parent_key_as_cause_in_the_same_batch() {
    // Exported child first, as SDKs do (a span is exported when it ends).
    let child = span(4, "store", SpanKind::Internal, Some(3));
    let parent = span(3, "serve", SpanKind::Server, Some(2));
    let m = map("orders-api", vec![child, parent]);
    assert_eq!(m.rows[0].step, "store");
    // The flow key of the request it serves: the client's context.
    assert_eq!(m.rows[0].key.as_deref(), Some(ctx(2).as_str()));
    assert_eq!(m.rows[0].cause.as_deref(), Some(ctx(2).as_str()));
    assert_eq!(m.spans[0].flow, Flow::Final(ctx(2)));
}

#[test]
fn a_child_that_arrives_before_its_receive_parent_gets_its_cause_fixed_later() {
    let mut links = Links::default();
    let first = map_request(
        &request(
            "orders-api",
            vec![span(4, "store", SpanKind::Internal, Some(3))],
        ),
        &units(),
        &links,
        clock(),
    );
    assert_eq!(first.rows[0].cause.as_deref(), Some(ctx(3).as_str()));
    assert!(links.commit(&first, &[10]).is_empty());
    let second = map_request(
        &request(
            "orders-api",
            vec![span(3, "serve", SpanKind::Server, Some(2))],
        ),
        &units(),
        &links,
        clock(),
    );
    assert_eq!(
        links.commit(&second, &[11]),
        vec![Relink {
            value: ctx(2),
            key_and_cause: vec![10],
            cause_only: vec![],
        }]
    );
    // A later child resolves at once.
    let third = map_request(
        &request(
            "orders-api",
            vec![span(5, "log", SpanKind::Internal, Some(3))],
        ),
        &units(),
        &links,
        clock(),
    );
    assert_eq!(third.rows[0].cause.as_deref(), Some(ctx(2).as_str()));
}

#[test]
fn a_child_of_a_default_parent_keeps_the_parent_context_as_cause() {
    let mut links = Links::default();
    let first = map("client", vec![span(4, "call", SpanKind::Client, Some(1))]);
    links.commit(&first, &[1]);
    let second = map("client", vec![span(1, "job", SpanKind::Internal, None)]);
    assert!(links.commit(&second, &[2]).is_empty(), "nothing to fix");
    assert_eq!(first.rows[0].cause.as_deref(), Some(ctx(1).as_str()));
}

#[test]
fn status_error_adds_an_exception_with_the_status_message() {
    let mut s = span(2, "call", SpanKind::Client, None);
    s.status = Some(Status {
        message: "connection refused".to_owned(),
        code: StatusCode::Error as i32,
    });
    let m = map("client", vec![s]);
    let types: Vec<_> = m.rows.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types,
        vec![EventType::Send, EventType::Default, EventType::Exception]
    );
    let exc = &m.rows[2];
    assert_eq!(exc.step, "call");
    assert_eq!(meta(exc)["message"], "connection refused");
    assert_eq!(exc.cause.as_deref(), Some(ctx(2).as_str()));
    assert_eq!(
        exc.time,
        (START + 2_000_000 + 500_000) as f64 / 1e9,
        "at the end"
    );
}

#[test]
fn status_ok_and_unset_add_nothing() {
    let mut s = span(1, "job", SpanKind::Internal, None);
    s.status = Some(Status {
        message: String::new(),
        code: StatusCode::Ok as i32,
    });
    let m = map("orders-api", vec![s]);
    assert!(m.rows.iter().all(|e| e.event_type != EventType::Exception));
}

#[test]
fn end_probes_come_at_the_span_end_with_the_same_key() {
    let m = map("client", vec![span(2, "call", SpanKind::Client, None)]);
    let end = &m.rows[1];
    assert_eq!(end.step, "call:end");
    assert_eq!(end.event_type, EventType::Default);
    assert_eq!(end.key, m.rows[0].key);
    assert_eq!(end.time, (START + 2_500_000) as f64 / 1e9);
}

#[test]
fn attributes_and_span_ids_go_into_the_metadata() {
    let mut s = span(3, "serve", SpanKind::Server, Some(2));
    s.attributes = vec![
        kv("http.route", Value::StringValue("/orders".into())),
        kv("http.status_code", Value::IntValue(201)),
        kv("retry", Value::BoolValue(false)),
        kv("ratio", Value::DoubleValue(0.5)),
    ];
    let m = map("orders-api", vec![s]);
    let md = meta(&m.rows[0]);
    assert_eq!(md["http.route"], "/orders");
    assert_eq!(md["http.status_code"], 201);
    assert_eq!(md["retry"], false);
    assert_eq!(md["ratio"], 0.5);
    assert_eq!(md["otel.span"], ctx(3));
    assert_eq!(md["otel.parent"], ctx(2));
    assert_eq!(md["otel.kind"], "server");
    assert_eq!(md["otel.duration_ms"], 0.5);
}

#[test]
fn spans_of_unknown_services_are_counted_not_stored() {
    let m = map("billing", vec![span(1, "a", SpanKind::Internal, None); 3]);
    assert!(m.rows.is_empty());
    assert_eq!(m.unknown.get("billing"), Some(&3));
    assert_eq!(m.rejected(), 3);
}

#[test]
fn malformed_spans_are_rejected_with_a_reason() {
    let mut bad_id = span(1, "a", SpanKind::Internal, None);
    bad_id.span_id = vec![1, 2];
    let no_name = span(2, "", SpanKind::Internal, None);
    let mut no_start = span(3, "c", SpanKind::Internal, None);
    no_start.start_time_unix_nano = 0;
    let good = span(4, "d", SpanKind::Internal, None);
    let m = map("client", vec![bad_id, no_name, no_start, good]);
    assert_eq!((m.accepted, m.malformed), (1, 3));
    assert!(
        m.malformed_reason
            .as_deref()
            .is_some_and(|r| r.contains("no valid trace or span id")),
        "{:?}",
        m.malformed_reason
    );
}

#[test]
fn a_unit_name_claimed_by_another_units_otel_service_maps_to_that_unit() {
    let u = UnitMap::new()
        .unit("a", Some("b"), false)
        .unit("b", None, false);
    assert_eq!(u.resolve("b"), Some("a"));
    assert_eq!(u.resolve("a"), None);
}

#[test]
fn a_chain_exported_leaf_first_in_three_batches_gets_the_flow_key_of_its_root() {
    // service span 3 (Receive of client span 2) ← child 4 ← grandchild 5; exported 5, 4, 3.
    let mut links = Links::default();
    let batch = |links: &Links, s: Span| {
        map_request(&request("orders-api", vec![s]), &units(), links, clock())
    };
    let g = batch(&links, span(5, "grandchild", SpanKind::Internal, Some(4)));
    assert_eq!(
        g.rows[0].key.as_deref(),
        Some(ctx(4).as_str()),
        "provisional"
    );
    assert!(links.commit(&g, &[1]).is_empty());
    let c = batch(&links, span(4, "child", SpanKind::Internal, Some(3)));
    assert_eq!(
        c.rows[0].key.as_deref(),
        Some(ctx(3).as_str()),
        "provisional"
    );
    assert_eq!(
        links.commit(&c, &[2]),
        vec![Relink {
            value: ctx(3),
            key_and_cause: vec![1],
            cause_only: vec![],
        }]
    );
    let s = batch(&links, span(3, "serve", SpanKind::Server, Some(2)));
    let relinks = links.commit(&s, &[3]);
    assert_eq!(relinks.len(), 1);
    let mut fixed = relinks[0].key_and_cause.clone();
    fixed.sort_unstable();
    assert_eq!((relinks[0].value.clone(), fixed), (ctx(2), vec![1, 2]));
    // A later descendant resolves at once.
    let late = batch(&links, span(6, "late", SpanKind::Internal, Some(5)));
    assert_eq!(late.rows[0].key.as_deref(), Some(ctx(2).as_str()));
    assert_eq!(late.spans[0].flow, Flow::Final(ctx(2)));
}

#[test]
fn a_send_inside_a_served_request_is_caused_by_the_request_flow() {
    let server = span(3, "serve", SpanKind::Server, Some(2));
    let call = span(7, "call-db", SpanKind::Client, Some(3));
    let m = map("orders-api", vec![call, server]);
    assert_eq!(m.rows[0].event_type, EventType::Send);
    assert_eq!(
        m.rows[0].key.as_deref(),
        Some(ctx(7).as_str()),
        "its own key pairs downstream"
    );
    assert_eq!(m.rows[0].cause.as_deref(), Some(ctx(2).as_str()));
}

#[test]
fn a_cycle_of_parents_does_not_hang_or_crash() {
    let a = span(1, "a", SpanKind::Internal, Some(2));
    let b = span(2, "b", SpanKind::Internal, Some(1));
    let m = map("client", vec![a, b]);
    assert_eq!(m.accepted, 2);
}

/// A SERVER span that starts a trace of its own is counted: when its caller's CLIENT spans go
/// unanswered, the runner says the trace context did not reach it (found trying a gateway
/// that called a worker: `propagate.extract(dict(self.headers))` missed the capitalised
/// `Traceparent` header that urllib sends, and nothing said why nothing was paired).
#[test]
fn server_spans_that_start_their_own_trace_are_counted() {
    let own_trace = map(
        "orders-api",
        vec![
            span(1, "handle", SpanKind::Server, None),
            span(2, "handle", SpanKind::Server, None),
        ],
    );
    assert_eq!(
        own_trace.root_entries,
        BTreeMap::from([("server".to_owned(), 2)])
    );
    let called = map(
        "orders-api",
        vec![
            span(3, "handle", SpanKind::Server, Some(9)),
            span(4, "work", SpanKind::Internal, None),
        ],
    );
    assert!(called.root_entries.is_empty(), "{:?}", called.root_entries);
}
