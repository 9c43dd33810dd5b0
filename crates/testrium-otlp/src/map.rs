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

/// A span's flow key: final, or provisional while an ancestor it inherits from is unseen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
    /// The key is known for good.
    Final(String),
    /// The key is provisional (the unseen ancestor's context, right when that ancestor is a
    /// Send or a root span); fixed when the span `on` arrives.
    Waiting {
        /// The provisional key.
        key: String,
        /// The context of the unseen ancestor.
        on: String,
    },
}

impl Flow {
    fn key(&self) -> &str {
        match self {
            Flow::Final(k) | Flow::Waiting { key: k, .. } => k,
        }
    }

    fn waiting_on(&self) -> Option<&str> {
        match self {
            Flow::Final(_) => None,
            Flow::Waiting { on, .. } => Some(on),
        }
    }
}

/// One mapped span: where its rows are and how they are linked.
#[derive(Debug)]
pub(crate) struct MappedSpan {
    ctx: String,
    /// Its rows' key: Send → its own context; Receive → the parent's (link's) context;
    /// other spans → their parent's flow key (inherited), or their own context at the root.
    flow: Flow,
    /// Whether the key is inherited (and so follows the parent's key when it is fixed).
    inherits: bool,
    /// The cause of a Send span: its parent's flow key (fixed like an inherited key).
    send_cause: Option<Flow>,
    /// Indices in [`Mapped::rows`]: the main row, the `:end` row, the Exception row.
    main: usize,
    end: Option<usize>,
    exception: Option<usize>,
}

/// What one request's spans became.
#[derive(Debug, Default)]
pub(crate) struct Mapped {
    /// The rows to insert, in order.
    pub(crate) rows: Vec<Event>,
    /// The spans, in order.
    pub(crate) spans: Vec<MappedSpan>,
    /// Spans accepted.
    pub(crate) accepted: u64,
    /// Spans of services no unit claims, by service name.
    pub(crate) unknown: BTreeMap<String, u64>,
    /// Spans rejected as malformed, with the first reason.
    pub(crate) malformed: u64,
    pub(crate) malformed_reason: Option<String>,
    /// SERVER/CONSUMER spans that started a trace of their own (no parent, no link), by unit:
    /// when calls go unanswered, the caller's trace context did not reach them.
    pub(crate) root_entries: BTreeMap<String, u64>,
}

impl Mapped {
    pub(crate) fn rejected(&self) -> u64 {
        self.malformed + self.unknown.values().sum::<u64>()
    }
}

/// Rows of earlier requests waiting for a span to arrive.
#[derive(Debug, Clone)]
struct PendingRows {
    ctx: String,
    inherits: bool,
    /// Rows whose key and cause follow the flow key (an inherited key's main and end rows).
    keyed: Vec<i64>,
    /// Rows whose cause only follows it.
    caused: Vec<i64>,
}

/// Rows to fix in the database: `key_and_cause` get both columns set to `value`, `cause_only`
/// the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relink {
    pub(crate) value: String,
    pub(crate) key_and_cause: Vec<i64>,
    pub(crate) cause_only: Vec<i64>,
}

/// The mapping's memory across the requests of one run: every span seen (a hash of its
/// context), the flow keys that differ from the span's own context, and the rows waiting for
/// a span not seen yet.
#[derive(Debug, Default)]
pub(crate) struct Links {
    seen: HashSet<u64>,
    keys: HashMap<String, Flow>,
    pending: HashMap<String, Vec<PendingRows>>,
}

fn ctx_hash(ctx: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    ctx.hash(&mut h);
    h.finish()
}

impl Links {
    /// The flow key of the span `ctx` from earlier requests: `None` when it was never seen.
    fn flow_of(&self, ctx: &str) -> Option<Flow> {
        if let Some(flow) = self.keys.get(ctx) {
            return Some(flow.clone());
        }
        self.seen
            .contains(&ctx_hash(ctx))
            .then(|| Flow::Final(ctx.to_owned()))
    }

    /// After `mapped.rows` were stored as `ids`: remembers the spans, and returns the stored
    /// rows whose key or cause is known now.
    pub(crate) fn commit(&mut self, mapped: &Mapped, ids: &[i64]) -> Vec<Relink> {
        let id = |i: usize| ids.get(i).copied();
        for span in &mapped.spans {
            self.seen.insert(ctx_hash(&span.ctx));
            if span.flow.key() != span.ctx || span.flow.waiting_on().is_some() {
                self.keys.insert(span.ctx.clone(), span.flow.clone());
            }
            let mut keyed = Vec::new();
            let mut caused = Vec::new();
            if let Some(on) = span.flow.waiting_on().filter(|_| span.inherits) {
                keyed.extend(
                    [Some(span.main), span.end]
                        .into_iter()
                        .flatten()
                        .filter_map(id),
                );
                caused.extend(span.exception.and_then(id));
                self.pending
                    .entry(on.to_owned())
                    .or_default()
                    .push(PendingRows {
                        ctx: span.ctx.clone(),
                        inherits: true,
                        keyed,
                        caused,
                    });
            } else if let Some(on) = span.send_cause.as_ref().and_then(Flow::waiting_on) {
                caused.extend(id(span.main));
                self.pending
                    .entry(on.to_owned())
                    .or_default()
                    .push(PendingRows {
                        ctx: span.ctx.clone(),
                        inherits: false,
                        keyed,
                        caused,
                    });
            }
        }
        let mut out = Vec::new();
        for span in &mapped.spans {
            let Some(waiting) = self.pending.remove(&span.ctx) else {
                continue;
            };
            let key = span.flow.key().to_owned();
            let mut relink = Relink {
                value: key.clone(),
                key_and_cause: Vec::new(),
                cause_only: Vec::new(),
            };
            for rows in waiting {
                if rows.inherits {
                    relink.key_and_cause.extend(&rows.keyed);
                    self.keys.insert(rows.ctx.clone(), span.flow.clone());
                }
                relink.cause_only.extend(&rows.caused);
                if let Some(on) = span.flow.waiting_on() {
                    self.pending.entry(on.to_owned()).or_default().push(rows);
                }
            }
            // Rows that already hold this span's context as key need no write.
            if key != span.ctx {
                out.push(relink);
            }
        }
        out
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

/// How a span's key is made, before looking at other spans.
enum KeyRule {
    /// Its own key: Send (own context), Receive (parent's context), a root span (own context).
    Fixed(String),
    /// Inherited from the span with this context (its parent, or first link).
    Inherit(String),
}

fn key_rule(span: &Span, ctx: &str) -> KeyRule {
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    if matches!(kind, SpanKind::Client | SpanKind::Producer) {
        return KeyRule::Fixed(ctx.to_owned());
    }
    if let Some(key) = receive_key(span) {
        return KeyRule::Fixed(key);
    }
    match cause_context(span) {
        Some(parent) => KeyRule::Inherit(parent),
        None => KeyRule::Fixed(ctx.to_owned()),
    }
}

/// The parent's context, or the first link's.
fn cause_context(span: &Span) -> Option<String> {
    span_context(&span.trace_id, &span.parent_span_id).or_else(|| {
        span.links
            .iter()
            .find_map(|l| span_context(&l.trace_id, &l.span_id))
    })
}

/// The flow keys of one request's spans: resolved through the request itself, then through
/// earlier requests; what neither knows waits for its span (iterative, cycle-safe).
struct Resolver<'a> {
    index: HashMap<String, usize>,
    rules: Vec<KeyRule>,
    memo: Vec<Option<Flow>>,
    links: &'a Links,
}

impl Resolver<'_> {
    /// The flow key of the span with context `ctx`.
    fn flow_of(&mut self, ctx: &str) -> Flow {
        let mut chain = Vec::new();
        let mut visited = HashSet::new();
        let mut cur = ctx.to_owned();
        let result = loop {
            if let Some(&i) = self.index.get(&cur) {
                if let Some(flow) = &self.memo[i] {
                    break flow.clone();
                }
                if !visited.insert(i) {
                    // A cycle of parents (malformed input): the context itself.
                    break Flow::Final(cur);
                }
                match &self.rules[i] {
                    KeyRule::Fixed(key) => {
                        let flow = Flow::Final(key.clone());
                        self.memo[i] = Some(flow.clone());
                        break flow;
                    }
                    KeyRule::Inherit(parent) => {
                        chain.push(i);
                        cur = parent.clone();
                    }
                }
            } else if let Some(flow) = self.links.flow_of(&cur) {
                break flow;
            } else {
                break Flow::Waiting {
                    key: cur.clone(),
                    on: cur,
                };
            }
        };
        for i in chain {
            self.memo[i] = Some(result.clone());
        }
        result
    }
}

/// Maps every span of `request`; `links` resolves keys named by spans of earlier requests.
pub(crate) fn map_request(
    request: &ExportTraceServiceRequest,
    units: &UnitMap,
    links: &Links,
    clock: Clock,
) -> Mapped {
    let mut out = Mapped::default();
    // Every span of the request first: a child is usually exported before its parent, often
    // in the same batch.
    let mut resolver = Resolver {
        index: HashMap::new(),
        rules: Vec::new(),
        memo: Vec::new(),
        links,
    };
    for rs in &request.resource_spans {
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            if let Some(ctx) = span_context(&span.trace_id, &span.span_id) {
                resolver.rules.push(key_rule(span, &ctx));
                resolver.memo.push(None);
                resolver.index.insert(ctx, resolver.rules.len() - 1);
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
            let base = out.rows.len();
            match map_span(span, unit, pid, end_probes, clock, &mut resolver) {
                Ok((rows, mut mapped)) => {
                    if is_root_entry(span) {
                        *out.root_entries.entry(unit.to_owned()).or_default() += 1;
                    }
                    out.rows.extend(rows);
                    mapped.main += base;
                    mapped.end = mapped.end.map(|i| i + base);
                    mapped.exception = mapped.exception.map(|i| i + base);
                    out.spans.push(mapped);
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

/// A SERVER or CONSUMER span with neither a parent nor a link: the start of a new trace.
fn is_root_entry(span: &Span) -> bool {
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    matches!(kind, SpanKind::Server | SpanKind::Consumer)
        && span_context(&span.trace_id, &span.parent_span_id).is_none()
        && span.links.is_empty()
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

fn map_span(
    span: &Span,
    unit: &str,
    pid: Option<i64>,
    end_probes: bool,
    clock: Clock,
    resolver: &mut Resolver<'_>,
) -> Result<(Vec<Event>, MappedSpan), String> {
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
        let mut e = Event::new(0, unit, step, ty, time(ns))
            .with_mono_ns(clock.mono(ns))
            .with_metadata(metadata.clone());
        if let Some(pid) = pid {
            e = e.with_pid(pid);
        }
        e
    };

    let receive = receive_key(span);
    let is_send = matches!(kind, SpanKind::Producer | SpanKind::Client);
    let (flow, inherits, ty) = if is_send {
        (Flow::Final(ctx.clone()), false, EventType::Send)
    } else if let Some(key) = &receive {
        (Flow::Final(key.clone()), false, EventType::Receive)
    } else {
        match cause_context(span) {
            Some(parent) => (resolver.flow_of(&parent), true, EventType::Default),
            None => (Flow::Final(ctx.clone()), false, EventType::Default),
        }
    };
    let send_cause = if is_send {
        cause_context(span).map(|p| resolver.flow_of(&p))
    } else {
        None
    };
    let key = flow.key().to_owned();
    let mut main = event(&span.name, ty, span.start_time_unix_nano).with_key(key.clone());
    // The cause: an inherited key is its parent's flow; a Send names its parent's flow.
    if inherits {
        main = main.with_cause(key.clone());
    } else if let Some(cause) = &send_cause {
        main = main.with_cause(cause.key().to_owned());
    }
    let mut rows = vec![main];
    if receive.is_some() {
        // Each further link is one more message this span received.
        for link in link_ctxs.iter().filter(|l| **l != key) {
            rows.push(
                event(&span.name, EventType::Receive, span.start_time_unix_nano)
                    .with_key(link.clone()),
            );
        }
    }
    let mut end = None;
    if end_probes {
        end = Some(rows.len());
        let mut row =
            event(&format!("{}:end", span.name), EventType::Default, end_ns).with_key(key.clone());
        if inherits {
            row = row.with_cause(key.clone());
        }
        rows.push(row);
    }
    let mut exception = None;
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
        exception = Some(rows.len());
        rows.push(
            event(&span.name, EventType::Exception, end_ns)
                .with_cause(key.clone())
                .with_metadata(Json::Object(meta).to_string()),
        );
    }
    Ok((
        rows,
        MappedSpan {
            ctx,
            flow,
            inherits,
            send_cause,
            main: 0,
            end,
            exception,
        },
    ))
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
