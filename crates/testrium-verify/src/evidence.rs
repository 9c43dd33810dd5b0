//! Evidence that does not fail a run by itself: exceptions, events from unknown units, late
//! events; and the span of the events.

use crate::context::Context;
use crate::expect::Expectations;
use crate::index::FxMap;
use crate::input::GroupTiming;
use crate::rows::Rows;
use crate::verdict::{EventRef, ExceptionEvidence, UnknownUnit};

/// The longest exception message kept as evidence, in characters.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Every `Exception` event, in event order, with its message.
pub(crate) fn exceptions(ctx: &mut Context<'_>) -> Vec<ExceptionEvidence> {
    let rows = ctx.rows;
    let mut idx: Vec<usize> = rows.exceptions.iter().map(|x| x.row as usize).collect();
    idx.sort_unstable_by(|&a, &b| rows.cmp(a, b));
    idx.iter()
        .map(|&i| ExceptionEvidence {
            event: ctx.event_ref(i),
            message: rows
                .exception_extra(i)
                .and_then(|x| exception_message(x.metadata.as_deref())),
        })
        .collect()
}

/// Units that recorded events but are not in the group, by name (none when the expectations
/// declare no unit at all: a plain event list has no notion of "unknown").
pub(crate) fn unknown_units(ctx: &Context<'_>, exp: &Expectations) -> Vec<UnknownUnit> {
    if exp.units.is_empty() {
        return Vec::new();
    }
    let known: FxMap<&str, ()> = exp.units.iter().map(|u| (u.name.as_str(), ())).collect();
    let units = &ctx.rows.units;
    let mut unknown: Vec<UnknownUnit> = (0..units.len() as u32)
        .filter(|&id| !known.contains_key(units.name(id)))
        .map(|id| UnknownUnit {
            unit: units.name(id).to_owned(),
            events: ctx.rows.unit_counts[id as usize],
        })
        .collect();
    unknown.sort_by(|a, b| a.unit.cmp(&b.unit));
    unknown
}

/// Events recorded after the group ended (monotonic clock when both have it, else wall
/// clock), in event order.
pub(crate) fn late_events(ctx: &mut Context<'_>, t: &GroupTiming) -> Vec<EventRef> {
    if t.ended.is_none() && t.ended_mono_ns.is_none() {
        return Vec::new();
    }
    let rows = ctx.rows;
    let mut idx: Vec<usize> = rows
        .rows
        .iter()
        .enumerate()
        .filter(|(_, e)| match (e.mono_ns(), t.ended_mono_ns) {
            (Some(m), Some(end)) => m > end,
            _ => t.ended.is_some_and(|end| e.time > end),
        })
        .map(|(i, _)| i)
        .collect();
    idx.sort_unstable_by(|&a, &b| rows.cmp(a, b));
    idx.iter().map(|&i| ctx.event_ref(i)).collect()
}

/// `message` from an Exception event's metadata (a JSON object), bounded in length.
pub(crate) fn exception_message(metadata: Option<&str>) -> Option<String> {
    let meta = metadata?;
    let value: serde_json::Value = serde_json::from_str(meta).ok()?;
    let message = match value.get("message")? {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if message.chars().count() > MAX_MESSAGE_CHARS {
        let mut cut: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
        cut.push_str("… (truncated)");
        Some(cut)
    } else {
        Some(message)
    }
}

/// First to last event, seconds: monotonic when every event has it, else wall clock.
pub(crate) fn events_span(rows: &Rows) -> Option<f64> {
    let events = &rows.rows;
    if events.is_empty() {
        return None;
    }
    if events.iter().all(|e| e.mono_ns().is_some()) {
        let (lo, hi) = events
            .iter()
            .filter_map(|e| e.mono_ns())
            .fold((i64::MAX, i64::MIN), |(lo, hi), m| (lo.min(m), hi.max(m)));
        return Some(crate::stats::ns_to_s(i128::from(hi) - i128::from(lo)));
    }
    // total_cmp, not f64::min/max: the result must not depend on the order (±0, NaN).
    let lo = events.iter().map(|e| e.time).min_by(f64::total_cmp)?;
    let hi = events.iter().map(|e| e.time).max_by(f64::total_cmp)?;
    Some(hi - lo)
}
