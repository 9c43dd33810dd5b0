//! Decoding rows of the `Events` table. Units can write anything into that table, so every
//! column is read as a raw SQLite value and checked: a bad row becomes a [`MalformedEvent`],
//! never an error for the whole read and never a panic.

use rusqlite::types::ValueRef;

use crate::event::{Event, EventType, MalformedEvent};

/// Metadata larger than this is replaced by a small JSON object saying how large it was.
pub(crate) const MAX_METADATA_BYTES: usize = 1 << 20;

/// The columns read, in order. Missing columns (a database written by an older client that
/// could not be migrated, e.g. read-only) are read as NULL.
pub(crate) const COLUMNS: [&str; 10] = [
    "ID",
    "Unit",
    "StepCompleted",
    "EventType",
    "EventKey",
    "Time",
    "MonoNs",
    "Pid",
    "Metadata",
    "Cause",
];

/// Builds the SELECT for the columns present in the table.
pub(crate) fn select_sql(present: &[String]) -> String {
    let cols: Vec<String> = COLUMNS
        .iter()
        .map(|c| {
            if present.iter().any(|p| p.eq_ignore_ascii_case(c)) {
                (*c).to_owned()
            } else {
                format!("NULL AS {c}")
            }
        })
        .collect();
    format!(
        "SELECT {} FROM Events WHERE ID > ?1 ORDER BY ID",
        cols.join(", ")
    )
}

fn kind(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

/// Text for a name column (unit, step, type): must be present and UTF-8.
fn strict_text(v: ValueRef<'_>, column: &str) -> Result<String, String> {
    match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| format!("{column} is not valid UTF-8")),
        ValueRef::Integer(i) => Ok(i.to_string()),
        ValueRef::Real(f) => Ok(f.to_string()),
        ValueRef::Null => Err(format!("{column} is NULL")),
    }
}

/// Text for a free-form column: NULL and empty become `None`, invalid UTF-8 is replaced.
fn lossy_text(v: ValueRef<'_>) -> Option<String> {
    let s = match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Null => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn time(v: ValueRef<'_>) -> Result<f64, String> {
    let t = match v {
        ValueRef::Integer(i) => i as f64,
        ValueRef::Real(f) => f,
        ValueRef::Text(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| {
                format!(
                    "Time `{}` is not a number",
                    String::from_utf8_lossy(&b[..b.len().min(64)])
                )
            })?,
        other => return Err(format!("Time is {}", kind(other))),
    };
    if t.is_finite() {
        Ok(t)
    } else {
        Err(format!("Time `{t}` is not finite"))
    }
}

fn integer(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a real in an integer column is truncated on purpose"
        )]
        ValueRef::Real(f) if f.is_finite() => Some(f as i64),
        ValueRef::Text(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn metadata(v: ValueRef<'_>) -> Option<String> {
    let len = match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => b.len(),
        _ => 0,
    };
    if len > MAX_METADATA_BYTES {
        return Some(format!("{{\"testrium_truncated\":true,\"bytes\":{len}}}"));
    }
    lossy_text(v)
}

/// A non-empty `cause` string in the metadata: how a unit written for the original records a
/// cause (the original folds unknown keyword arguments of `Set_Event` into the metadata).
fn metadata_cause(metadata: Option<&str>) -> Option<String> {
    let meta = metadata.filter(|m| m.contains("\"cause\""))?;
    match serde_json::from_str::<serde_json::Value>(meta)
        .ok()?
        .get("cause")?
    {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Decodes one row selected with [`select_sql`].
pub(crate) fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Event, MalformedEvent>> {
    let id = match row.get_ref(0)? {
        ValueRef::Integer(i) => i,
        _ => 0,
    };
    let unit = strict_text(row.get_ref(1)?, "Unit");
    let step = strict_text(row.get_ref(2)?, "StepCompleted");
    let malformed = |reason: String| {
        let lossy = |i| row.get_ref(i).ok().and_then(lossy_text);
        Ok(Err(MalformedEvent::new(id, lossy(1), lossy(2), reason)))
    };
    let (unit, step) = match (unit, step) {
        (Ok(u), Ok(s)) => (u, s),
        (Err(reason), _) | (_, Err(reason)) => return malformed(reason),
    };
    let event_type = match row.get_ref(3)? {
        ValueRef::Text(b) => match std::str::from_utf8(b).map(str::parse::<EventType>) {
            Ok(Ok(t)) => t,
            _ => {
                return malformed(format!(
                    "unknown event type `{}`",
                    String::from_utf8_lossy(&b[..b.len().min(64)])
                ));
            }
        },
        other => return malformed(format!("EventType is {}", kind(other))),
    };
    let time = match time(row.get_ref(5)?) {
        Ok(t) => t,
        Err(reason) => return malformed(reason),
    };
    let key = lossy_text(row.get_ref(4)?);
    let mut event = Event::new(id, unit, step, event_type, time);
    event.key = key;
    event.mono_ns = integer(row.get_ref(6)?);
    event.pid = integer(row.get_ref(7)?);
    event.metadata = metadata(row.get_ref(8)?);
    event.cause = lossy_text(row.get_ref(9)?).or_else(|| metadata_cause(event.metadata.as_deref()));
    Ok(Ok(event))
}
