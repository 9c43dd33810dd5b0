//! The original probe API over HTTP, for units that have no database path
//! (`TESTRIUM_EVENT_URL`): `POST /v1/probes` records a probe, `GET /v1/wait` waits for one.
//!
//! - `POST /v1/probes` with a JSON object `{"unit", "step", "type"?, "key"?, "cause"?,
//!   "metadata"?, "time"?, "pid"?}` (type `Default` when absent; `time` in Unix seconds, the
//!   runner's clock when absent) → `200 {"id": N}`; a bad probe → 400 naming the field.
//! - `GET /v1/wait?unit=U&step=S[&key=K]&timeout_ms=N` (`unit=*`: any unit; at most 300 s)
//!   → `200 {"found": true, "event": {…}}` once recorded, `200 {"found": false}` at the
//!   timeout. Each wait runs on a thread of its own (at most [`MAX_WAITS`] at once, 503 past
//!   that), so waiting never holds up the spans.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value as Json, json};
use testrium_events::{Event, EventType, Probe};
use tiny_http::{Method, Request};

use crate::map::Clock;
use crate::server::{Answer, Shared, respond};

/// Where probes are recorded.
pub(crate) const PROBES_PATH: &str = "/v1/probes";
/// Where a unit waits for a probe.
pub(crate) const WAIT_PATH: &str = "/v1/wait";
/// Waits in progress at most.
const MAX_WAITS: usize = 256;
/// The longest wait asked for.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// `POST /v1/probes`.
pub(crate) fn record(shared: &Shared, request: &mut Request) -> Answer {
    if *request.method() != Method::Post {
        return shared.reject(
            "wrong method",
            format!("`{}` on {PROBES_PATH} (POST only)", request.method()),
            405,
        );
    }
    let body = match shared.read_body(request) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let event = match parse_probe(&body) {
        Ok(event) => event,
        Err(message) => return shared.reject("malformed probe", message, 400),
    };
    let mut store = shared
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match store
        .db(&shared.db_path)
        .and_then(|db| db.insert_events(std::slice::from_ref(&event)))
    {
        Ok(ids) => Answer::json(200, &json!({ "id": ids.first() })),
        Err(e) => shared.reject("database error", e.to_string(), 503),
    }
}

/// A probe from its JSON form; the error names the field.
fn parse_probe(body: &[u8]) -> Result<Event, String> {
    let value: Json =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| "the body must be a JSON object".to_owned())?;
    let text = |field: &str| -> Result<Option<String>, String> {
        match obj.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("field `{field}` must be a string, found {other}")),
        }
    };
    let unit = text("unit")?.filter(|u| !u.is_empty() && u != "*");
    let unit = unit.ok_or_else(|| "field `unit` is required (a unit name)".to_owned())?;
    let step = text("step")?.filter(|s| !s.is_empty());
    let step = step.ok_or_else(|| "field `step` is required".to_owned())?;
    let event_type = match text("type")? {
        None => EventType::Default,
        Some(t) => t.parse().map_err(|e| format!("field `type`: {e}"))?,
    };
    let key = text("key")?.filter(|k| !k.is_empty());
    if event_type.requires_key() && key.is_none() {
        return Err(format!("field `key` is required for a {event_type} probe"));
    }
    let metadata = match obj.get("metadata") {
        None | Some(Json::Null) => "{}".to_owned(),
        Some(m @ Json::Object(_)) => m.to_string(),
        Some(other) => return Err(format!("field `metadata` must be an object, found {other}")),
    };
    let clock = Clock::now();
    let unix_ns = match obj.get("time") {
        None | Some(Json::Null) => clock.unix_ns,
        Some(t) => {
            let secs = t
                .as_f64()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| format!("field `time` must be Unix seconds, found {t}"))?;
            (secs * 1e9) as i128
        }
    };
    let mono = i64::try_from(i128::from(clock.mono_ns) - (clock.unix_ns - unix_ns)).unwrap_or(0);
    let mut event = Event::new(0, unit, step, event_type, unix_ns as f64 / 1e9)
        .with_mono_ns(mono)
        .with_metadata(metadata);
    if let Some(key) = key {
        event = event.with_key(key);
    }
    if let Some(cause) = text("cause")?.filter(|c| !c.is_empty()) {
        event = event.with_cause(cause);
    }
    if let Some(pid) = obj.get("pid").and_then(Json::as_i64) {
        event = event.with_pid(pid);
    }
    Ok(event)
}

/// `GET /v1/wait`, answered from a thread of its own.
pub(crate) fn spawn_wait(shared: &Arc<Shared>, request: Request) {
    if let Err(answer) = shared.authorize(&request) {
        respond(request, answer);
        return;
    }
    if shared.waits.fetch_add(1, Ordering::SeqCst) >= MAX_WAITS {
        shared.waits.fetch_sub(1, Ordering::SeqCst);
        let answer = shared.reject(
            "too many waits",
            format!("more than {MAX_WAITS} waits at once"),
            503,
        );
        respond(request, answer);
        return;
    }
    let shared_for_thread = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("testrium-wait".to_owned())
        .spawn(move || {
            let answer = wait(&shared_for_thread, &request);
            respond(request, answer);
            shared_for_thread.waits.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        shared.waits.fetch_sub(1, Ordering::SeqCst);
    }
}

fn wait(shared: &Shared, request: &Request) -> Answer {
    if *request.method() != Method::Get {
        return shared.reject(
            "wrong method",
            format!("`{}` on {WAIT_PATH} (GET only)", request.method()),
            405,
        );
    }
    let query = request.url().split_once('?').map_or("", |(_, q)| q);
    let mut unit = None;
    let mut step = None;
    let mut key = None;
    let mut timeout = Duration::from_secs(10);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match name {
            "unit" => unit = Some(value),
            "step" => step = Some(value),
            "key" => key = Some(value),
            "timeout_ms" => match value.parse::<u64>() {
                Ok(ms) => timeout = Duration::from_millis(ms).min(MAX_WAIT),
                Err(_) => {
                    return shared.reject(
                        "malformed wait",
                        format!("`timeout_ms` must be milliseconds, found `{value}`"),
                        400,
                    );
                }
            },
            _ => {}
        }
    }
    let (Some(unit), Some(step)) = (unit, step) else {
        return shared.reject(
            "malformed wait",
            "`unit` and `step` are required".to_owned(),
            400,
        );
    };
    let probe = match Probe::open_existing(&shared.db_path, "testrium-remote-wait") {
        Ok(p) => p,
        Err(e) => return shared.reject("database error", e.to_string(), 503),
    };
    match probe.wait_for_event(&unit, &step, key.as_deref(), timeout) {
        Ok(Some(event)) => Answer::json(200, &json!({ "found": true, "event": event })),
        Ok(None) => Answer::json(200, &json!({ "found": false })),
        Err(e) => shared.reject("database error", e.to_string(), 503),
    }
}

/// `%XX` and `+` of a query value.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("POST%20%2Forders"), "POST /orders");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn a_probe_is_read_from_json_and_a_bad_one_names_its_field() {
        let e = parse_probe(
            br#"{"unit":"a","step":"sent","type":"Send","key":"k1","metadata":{"n":1}}"#,
        )
        .expect("valid");
        assert_eq!((e.unit.as_str(), e.step.as_str()), ("a", "sent"));
        assert_eq!(e.event_type, EventType::Send);
        assert_eq!(e.key.as_deref(), Some("k1"));
        assert_eq!(e.metadata.as_deref(), Some(r#"{"n":1}"#));
        for (body, field) in [
            (&br#"{"step":"x"}"#[..], "`unit`"),
            (br#"{"unit":"a"}"#, "`step`"),
            (br#"{"unit":"a","step":"x","type":"Bogus"}"#, "`type`"),
            (br#"{"unit":"a","step":"x","type":"Receive"}"#, "`key`"),
            (br#"{"unit":"a","step":"x","metadata":[1]}"#, "`metadata`"),
            (br#"{"unit":"a","step":"x","time":"now"}"#, "`time`"),
            (b"[1]", "JSON object"),
            (b"{", "not JSON"),
        ] {
            let err = parse_probe(body).expect_err("invalid");
            assert!(err.contains(field), "{err} should name {field}");
        }
    }
}
