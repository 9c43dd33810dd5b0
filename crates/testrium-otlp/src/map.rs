//! From OTLP spans to probe rows: the mapping documented in docs/CONFIG.md ("OpenTelemetry
//! spans as probes").

use std::collections::{BTreeMap, HashMap, HashSet};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::{Map, Value as Json};
use testrium_events::{Event, EventType};

/// `Span.flags` bit: the flags say whether the parent is remote.
const HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags` bit: the parent is remote (another process).
const IS_REMOTE: u32 = 0x200;

/// Which unit a span belongs to: the unit named by its resource's `service.name`, or the unit
/// whose `otel_service` names it; and which units also get `<name>:end` probes.
#[derive(Debug, Clone, Default)]
pub struct UnitMap {
    services: HashMap<String, String>,
    claimed: HashSet<String>,
    end_probes: HashSet<String>,
}

impl UnitMap {
    /// An empty map: every service is unknown.
    pub fn new() -> Self {
        UnitMap::default()
    }

    /// Adds `unit`. Its spans are those whose `service.name` is `otel_service` when given,
    /// else the unit's own name (unless another unit's `otel_service` claims that name).
    /// `end_probes`: each span also records `<name>:end` at its end time.
    #[must_use]
    pub fn unit(mut self, unit: &str, otel_service: Option<&str>, end_probes: bool) -> Self {
        match otel_service.filter(|s| !s.is_empty()) {
            Some(service) => {
                // Its own name no longer names it (unless another unit's otel_service does).
                if self.services.get(unit).is_some_and(|u| u == unit) {
                    self.services.remove(unit);
                }
                self.services.insert(service.to_owned(), unit.to_owned());
                self.claimed.insert(service.to_owned());
            }
            None => {
                if !self.claimed.contains(unit) {
                    self.services.insert(unit.to_owned(), unit.to_owned());
                }
            }
        }
        if end_probes {
            self.end_probes.insert(unit.to_owned());
        }
        self
    }

    /// The unit whose spans carry `service`.
    pub fn resolve(&self, service: &str) -> Option<&str> {
        self.services.get(service).map(String::as_str)
    }
}

/// The two clocks read once per request, to place span times (Unix nanoseconds) on the
/// monotonic clock the other probes use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) unix_ns: i128,
    pub(crate) mono_ns: i64,
}

impl Clock {
    pub(crate) fn now() -> Clock {
        let unix_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        Clock {
            unix_ns,
            mono_ns: testrium_events::monotonic_ns(),
        }
    }

    fn mono(&self, unix_ns: u64) -> i64 {
        let delta = self.unix_ns - i128::from(unix_ns);
        let mono = i128::from(self.mono_ns) - delta;
        i64::try_from(mono).unwrap_or(0)
    }
}

/// What one request's spans became.
#[derive(Debug, Default)]
pub(crate) struct Mapped {
    /// The rows to insert, in order.
    pub(crate) rows: Vec<Event>,
    /// Row index → the span context its cause names and that may still turn out to be a
    /// Receive span (whose key is its parent's context): fixed up when it arrives.
    pub(crate) unresolved: Vec<(usize, String)>,
    /// Span contexts of the Receive spans of this request with their keys.
    pub(crate) receives: Vec<(String, String)>,
    /// Span contexts of every span of this request.
    pub(crate) spans: Vec<String>,
    /// Spans accepted.
    pub(crate) accepted: u64,
    /// Spans of services no unit claims, by service name.
    pub(crate) unknown: BTreeMap<String, u64>,
    /// Spans rejected as malformed, with the first reason.
    pub(crate) malformed: u64,
    pub(crate) malformed_reason: Option<String>,
}

impl Mapped {
    pub(crate) fn rejected(&self) -> u64 {
        self.malformed + self.unknown.values().sum::<u64>()
    }
}

/// The mapping's memory across requests of one run: the keys of the Receive spans seen (their
/// children name them as cause) and the rows whose cause names a span not seen yet.
#[derive(Debug, Default)]
pub(crate) struct Links {
    receive_keys: HashMap<String, String>,
    pending: HashMap<String, Vec<i64>>,
}

impl Links {
    /// After `mapped.rows` were stored as `ids`: which stored rows get which cause now.
    pub(crate) fn commit(&mut self, mapped: &Mapped, ids: &[i64]) -> Vec<(Vec<i64>, String)> {
        let mut updates = Vec::new();
        for (ctx, key) in &mapped.receives {
            self.receive_keys.insert(ctx.clone(), key.clone());
        }
        for ctx in &mapped.spans {
            if let Some(waiting) = self.pending.remove(ctx)
                && let Some(key) = self.receive_keys.get(ctx)
            {
                updates.push((waiting, key.clone()));
            }
        }
        for (row, ctx) in &mapped.unresolved {
            let Some(&id) = ids.get(*row) else { continue };
            match self.receive_keys.get(ctx) {
                Some(key) => updates.push((vec![id], key.clone())),
                None => self.pending.entry(ctx.clone()).or_default().push(id),
            }
        }
        updates
    }

    /// The key a span context's probe carries when it is known to differ from the context.
    fn key_of(&self, ctx: &str) -> Option<&str> {
        self.receive_keys.get(ctx).map(String::as_str)
    }
}

/// `trace-span` in lowercase hex, the key of a span's probe (`None` when the ids are not valid:
/// 16 and 8 bytes, not all zero).
pub fn span_context(trace_id: &[u8], span_id: &[u8]) -> Option<String> {
    if trace_id.len() != 16 || span_id.len() != 8 {
        return None;
    }
    if trace_id.iter().all(|&b| b == 0) || span_id.iter().all(|&b| b == 0) {
        return None;
    }
    Some(format!("{}-{}", hex(trace_id), hex(span_id)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Maps every span of `request`; `links` resolves causes named by spans of earlier requests.
pub(crate) fn map_request(
    request: &ExportTraceServiceRequest,
    units: &UnitMap,
    links: &Links,
    clock: Clock,
) -> Mapped {
    let mut out = Mapped::default();
    // The Receive spans of this request first: a child is usually exported before its parent,
    // often in the same batch.
    let mut batch_keys: HashMap<String, String> = HashMap::new();
    for rs in &request.resource_spans {
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            if let (Some(ctx), Some(key)) = (
                span_context(&span.trace_id, &span.span_id),
                receive_key(span),
            ) {
                batch_keys.insert(ctx, key);
            }
        }
    }
    for rs in &request.resource_spans {
        let resource = rs.resource.as_ref().map(|r| r.attributes.as_slice());
        let service = resource
            .and_then(|attrs| string_attr(attrs, "service.name"))
            .unwrap_or("unknown_service");
        let pid = resource.and_then(|attrs| int_attr(attrs, "process.pid"));
        let count: usize = rs.scope_spans.iter().map(|s| s.spans.len()).sum();
        let Some(unit) = units.resolve(service) else {
            if count == 0 {
                continue;
            }
            *out.unknown.entry(service.to_owned()).or_default() += count as u64;
            continue;
        };
        let end_probes = units.end_probes.contains(unit);
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            match map_span(span, unit, pid, end_probes, clock, &batch_keys, links) {
                Ok(m) => {
                    let base = out.rows.len();
                    out.rows.extend(m.rows);
                    if let Some((row, ctx)) = m.unresolved {
                        out.unresolved.push((base + row, ctx));
                    }
                    if let Some(key) = m.receive_key {
                        out.receives.push((m.ctx.clone(), key));
                    }
                    out.spans.push(m.ctx);
                    out.accepted += 1;
                }
                Err(reason) => {
                    out.malformed += 1;
                    if out.malformed_reason.is_none() {
                        out.malformed_reason = Some(format!("unit `{unit}`: {reason}"));
                    }
                }
            }
        }
    }
    out
}

/// The parent or first link context of a Server/Consumer span that becomes a Receive: its key.
fn receive_key(span: &Span) -> Option<String> {
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    if !matches!(kind, SpanKind::Server | SpanKind::Consumer) {
        return None;
    }
    let local_parent = span.flags & HAS_IS_REMOTE != 0 && span.flags & IS_REMOTE == 0;
    if !local_parent && let Some(parent) = span_context(&span.trace_id, &span.parent_span_id) {
        return Some(parent);
    }
    span.links
        .iter()
        .find_map(|l| span_context(&l.trace_id, &l.span_id))
}

struct SpanRows {
    rows: Vec<Event>,
    ctx: String,
    receive_key: Option<String>,
    unresolved: Option<(usize, String)>,
}

fn map_span(
    span: &Span,
    unit: &str,
    pid: Option<i64>,
    end_probes: bool,
    clock: Clock,
    batch_keys: &HashMap<String, String>,
    links: &Links,
) -> Result<SpanRows, String> {
    let ctx = span_context(&span.trace_id, &span.span_id)
        .ok_or_else(|| format!("span `{}` has no valid trace or span id", span.name))?;
    if span.name.is_empty() {
        return Err("a span has no name".to_owned());
    }
    if span.start_time_unix_nano == 0 {
        return Err(format!("span `{}` has no start time", span.name));
    }
    let end_ns = span.end_time_unix_nano.max(span.start_time_unix_nano);
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    let parent = span_context(&span.trace_id, &span.parent_span_id);
    let link_ctxs: Vec<String> = span
        .links
        .iter()
        .filter_map(|l| span_context(&l.trace_id, &l.span_id))
        .collect();
    let metadata = metadata(span, kind, parent.as_deref());
    let time = |ns: u64| ns as f64 / 1e9;
    let event = |step: &str, ty: EventType, ns: u64| {
        let mut e = Event::new(0, unit, step, ty, time(ns)).with_mono_ns(clock.mono(ns));
        if let Some(pid) = pid {
            e = e.with_pid(pid);
        }
        e
    };

    let mut rows = Vec::new();
    let mut unresolved = None;
    let receive = receive_key(span);
    let key = match (&receive, kind) {
        (_, SpanKind::Producer | SpanKind::Client) => {
            rows.push(event(
                &span.name,
                EventType::Send,
                span.start_time_unix_nano,
            ));
            ctx.clone()
        }
        (Some(key), _) => {
            // The parent's (or first link's) context pairs with its Send; each further link
            // is one more message this span received.
            rows.push(event(
                &span.name,
                EventType::Receive,
                span.start_time_unix_nano,
            ));
            for link in link_ctxs.iter().filter(|l| *l != key) {
                rows.push(
                    event(&span.name, EventType::Receive, span.start_time_unix_nano)
                        .with_key(link.clone())
                        .with_metadata(metadata.clone()),
                );
            }
            key.clone()
        }
        (None, _) => {
            rows.push(event(
                &span.name,
                EventType::Default,
                span.start_time_unix_nano,
            ));
            ctx.clone()
        }
    };
    // The cause of a span that is not a Receive: its parent (or first link). A parent that is
    // a Receive span carries its own parent's context as key, so name that key.
    if receive.is_none()
        && let Some(cause_ctx) = parent.clone().or_else(|| link_ctxs.first().cloned())
    {
        let cause = match batch_keys.get(&cause_ctx).map(String::as_str) {
            Some(k) => k.to_owned(),
            None => match links.key_of(&cause_ctx) {
                Some(k) => k.to_owned(),
                None => {
                    unresolved = Some((0, cause_ctx.clone()));
                    cause_ctx
                }
            },
        };
        rows[0] = rows[0].clone().with_cause(cause);
    }
    rows[0] = rows[0]
        .clone()
        .with_key(key.clone())
        .with_metadata(metadata.clone());
    if end_probes {
        rows.push(
            event(&format!("{}:end", span.name), EventType::Default, end_ns)
                .with_key(key.clone())
                .with_metadata(metadata.clone()),
        );
    }
    if let Some(status) = &span.status
        && status.code == StatusCode::Error as i32
    {
        let message = if status.message.is_empty() {
            exception_message(span).unwrap_or_else(|| "span status ERROR".to_owned())
        } else {
            status.message.clone()
        };
        let mut meta = Map::new();
        meta.insert("message".to_owned(), Json::String(message));
        meta.insert("otel.span".to_owned(), Json::String(ctx.clone()));
        rows.push(
            event(&span.name, EventType::Exception, end_ns)
                .with_cause(key.clone())
                .with_metadata(Json::Object(meta).to_string()),
        );
    }
    Ok(SpanRows {
        rows,
        ctx,
        receive_key: receive,
        unresolved,
    })
}

/// The `exception.message` of the span's first `exception` event.
fn exception_message(span: &Span) -> Option<String> {
    span.events
        .iter()
        .filter(|e| e.name == "exception")
        .find_map(|e| string_attr(&e.attributes, "exception.message").map(str::to_owned))
}

fn metadata(span: &Span, kind: SpanKind, parent: Option<&str>) -> String {
    let mut meta = Map::new();
    for kv in &span.attributes {
        meta.insert(kv.key.clone(), any_value(kv.value.as_ref()));
    }
    let ids = span_context(&span.trace_id, &span.span_id).unwrap_or_default();
    meta.insert("otel.span".to_owned(), Json::String(ids));
    if let Some(parent) = parent {
        meta.insert("otel.parent".to_owned(), Json::String(parent.to_owned()));
    }
    meta.insert(
        "otel.kind".to_owned(),
        Json::String(
            kind.as_str_name()
                .trim_start_matches("SPAN_KIND_")
                .to_lowercase(),
        ),
    );
    let duration = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano);
    meta.insert(
        "otel.duration_ms".to_owned(),
        serde_json::Number::from_f64(duration as f64 / 1e6).map_or(Json::Null, Json::Number),
    );
    Json::Object(meta).to_string()
}

fn any_value(value: Option<&AnyValue>) -> Json {
    match value.and_then(|v| v.value.as_ref()) {
        None => Json::Null,
        Some(Value::StringValue(s)) => Json::String(s.clone()),
        Some(Value::BoolValue(b)) => Json::Bool(*b),
        Some(Value::IntValue(i)) => Json::from(*i),
        Some(Value::DoubleValue(f)) => {
            serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
        }
        Some(Value::ArrayValue(a)) => {
            Json::Array(a.values.iter().map(|v| any_value(Some(v))).collect())
        }
        Some(Value::KvlistValue(kv)) => Json::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), any_value(kv.value.as_ref())))
                .collect(),
        ),
        Some(Value::BytesValue(b)) => Json::String(hex(b)),
        Some(Value::StringValueStrindex(_)) => Json::Null,
    }
}

fn string_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        }
    })
}

fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::IntValue(i)) => Some(*i),
            _ => None,
        }
    })
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;
