//! The events a [`Verifier`](crate::Verifier) was given, in a compact form: one 40-byte
//! [`Row`] per event, its unit, step and key interned into [`StrPool`]s (one copy of each
//! distinct string), and the few fields only `Exception` events need kept beside them.

use std::cmp::Ordering;
use std::hash::Hasher;

use testrium_events::{Event, EventType};

use crate::index::FxHasher;

/// Distinct strings stored once in one buffer, with dense `u32` ids in order of first
/// appearance (ids never decide the order of anything in the verdict). An open-addressing
/// table of ids: about 4 bytes of index per string plus its bytes, where a map of owned
/// strings costs some 60.
#[derive(Debug, Default)]
pub(crate) struct StrPool {
    bytes: String,
    /// End offset of each string in `bytes`.
    ends: Vec<usize>,
    /// `id + 1` of the string in each slot, 0 when empty; a power of two long (or empty).
    table: Vec<u32>,
}

fn hash(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.write_usize(s.len());
    h.finish()
}

impl StrPool {
    /// Number of distinct strings.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The string of `id` (an id this pool returned).
    pub(crate) fn name(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.bytes[start..self.ends[id]]
    }

    fn slot(&self, h: u64) -> usize {
        // The high bits: the Fx hash mixes upwards.
        let bits = self.table.len().trailing_zeros();
        (h >> (64 - bits)) as usize
    }

    /// The id of `s`, if interned.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut i = self.slot(hash(s));
        loop {
            match self.table[i] {
                0 => return None,
                t if self.name(t - 1) == s => return Some(t - 1),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The id of `s`, interning it if new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if (self.len() + 1) * 8 > self.table.len() * 7 {
            self.grow();
        }
        let mask = self.table.len() - 1;
        let mut i = self.slot(hash(s));
        loop {
            match self.table[i] {
                0 => break,
                t if self.name(t - 1) == s => return t - 1,
                _ => i = (i + 1) & mask,
            }
        }
        let id = self.ends.len() as u32;
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        self.table[i] = id + 1;
        id
    }

    fn grow(&mut self) {
        let size = (self.table.len() * 2).max(16);
        let old = std::mem::replace(&mut self.table, vec![0; size]);
        let mask = size - 1;
        for t in old.into_iter().filter(|&t| t != 0) {
            let mut i = self.slot(hash(self.name(t - 1)));
            while self.table[i] != 0 {
                i = (i + 1) & mask;
            }
            self.table[i] = t;
        }
    }
}

/// One event, compact: 40 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub(crate) time: f64,
    /// Monotonic time; meaningful only when `has_mono`.
    mono: i64,
    pub(crate) id: i64,
    pub(crate) unit: u32,
    pub(crate) step: u32,
    /// 0: no key; else the key's id in [`Rows::keys`] plus one (an empty key is a key here,
    /// as in [`Event::key`]: only correlation ignores it).
    key: u32,
    kind: EventType,
    has_mono: bool,
}

impl Row {
    #[inline]
    pub(crate) fn mono_ns(&self) -> Option<i64> {
        self.has_mono.then_some(self.mono)
    }

    #[inline]
    pub(crate) fn kind(&self) -> EventType {
        self.kind
    }
}

/// The pid and metadata of an `Exception` event (the only fields the verdict reads that a
/// [`Row`] does not hold).
#[derive(Debug)]
pub(crate) struct ExceptionExtra {
    pub(crate) row: u32,
    pub(crate) pid: Option<i64>,
    pub(crate) metadata: Option<String>,
}

/// Every event given, compact.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub(crate) rows: Vec<Row>,
    pub(crate) units: StrPool,
    pub(crate) steps: StrPool,
    pub(crate) keys: StrPool,
    /// Events per interned unit.
    pub(crate) unit_counts: Vec<u64>,
    /// Of the `Exception` rows, by row index.
    pub(crate) exceptions: Vec<ExceptionExtra>,
    /// `(row, cause key id)` of the rows that name a cause, by row index (most rows name
    /// none, so a side table keeps [`Row`] at 40 bytes). Causes are interned with the keys.
    pub(crate) causes: Vec<(u32, u32)>,
}

impl Rows {
    pub(crate) fn push(&mut self, e: &Event) {
        let unit = self.units.intern(&e.unit);
        if unit as usize == self.unit_counts.len() {
            self.unit_counts.push(0);
        }
        self.unit_counts[unit as usize] += 1;
        let step = self.steps.intern(&e.step);
        let key = match e.key.as_deref() {
            Some(k) => self.keys.intern(k) + 1,
            None => 0,
        };
        if let Some(cause) = event_cause(e) {
            let id = self.keys.intern(&cause);
            self.causes.push((self.rows.len() as u32, id));
        }
        if e.event_type == EventType::Exception {
            self.exceptions.push(ExceptionExtra {
                row: self.rows.len() as u32,
                pid: e.pid,
                metadata: e.metadata.clone(),
            });
        }
        self.rows.push(Row {
            time: e.time,
            mono: e.mono_ns.unwrap_or_default(),
            id: e.id,
            unit,
            step,
            key,
            kind: e.event_type,
            has_mono: e.mono_ns.is_some(),
        });
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    #[inline]
    pub(crate) fn unit_name(&self, i: usize) -> &str {
        self.units.name(self.rows[i].unit)
    }

    /// The event key as given (`Some("")` for an empty one).
    #[inline]
    pub(crate) fn raw_key(&self, i: usize) -> Option<&str> {
        match self.rows[i].key {
            0 => None,
            k => Some(self.keys.name(k - 1)),
        }
    }

    /// The key of an event for correlation and circuits: `None` without one or when empty.
    #[inline]
    pub(crate) fn key(&self, i: usize) -> Option<&str> {
        match self.raw_key(i) {
            Some("") | None => None,
            k => k,
        }
    }

    /// The interned key id for correlation (`None` as [`Rows::key`]).
    #[inline]
    pub(crate) fn key_id(&self, i: usize) -> Option<u32> {
        self.key(i).map(|_| self.rows[i].key - 1)
    }

    /// The interned key id of the cause row `i` names, if any (never an empty one).
    #[inline]
    pub(crate) fn cause_id(&self, i: usize) -> Option<u32> {
        if self.causes.is_empty() {
            return None;
        }
        self.causes
            .binary_search_by_key(&(i as u32), |c| c.0)
            .ok()
            .map(|at| self.causes[at].1)
    }

    /// Pid and metadata of row `i` when it is an `Exception`.
    pub(crate) fn exception_extra(&self, i: usize) -> Option<&ExceptionExtra> {
        self.exceptions
            .binary_search_by_key(&(i as u32), |x| x.row)
            .ok()
            .map(|at| &self.exceptions[at])
    }

    /// The total order every choice and every list in the verdict follows, so that the
    /// verdict does not depend on the order events are given in: wall clock, monotonic clock,
    /// id, unit, step, type, key, pid, metadata. Pid and metadata are kept for `Exception`
    /// events only: two other events equal up to the key are indistinguishable in a verdict,
    /// so which of them comes first changes nothing.
    pub(crate) fn cmp(&self, a: usize, b: usize) -> Ordering {
        let (x, y) = (&self.rows[a], &self.rows[b]);
        x.time
            .total_cmp(&y.time)
            .then_with(|| x.mono_ns().cmp(&y.mono_ns()))
            .then_with(|| x.id.cmp(&y.id))
            .then_with(|| {
                if x.unit == y.unit {
                    Ordering::Equal
                } else {
                    self.units.name(x.unit).cmp(self.units.name(y.unit))
                }
            })
            .then_with(|| {
                if x.step == y.step {
                    Ordering::Equal
                } else {
                    self.steps.name(x.step).cmp(self.steps.name(y.step))
                }
            })
            .then_with(|| x.kind.cmp(&y.kind))
            .then_with(|| {
                if x.key == y.key {
                    Ordering::Equal
                } else {
                    self.raw_key(a).cmp(&self.raw_key(b))
                }
            })
            .then_with(
                || match (self.exception_extra(a), self.exception_extra(b)) {
                    (Some(p), Some(q)) => {
                        p.pid.cmp(&q.pid).then_with(|| p.metadata.cmp(&q.metadata))
                    }
                    _ => Ordering::Equal,
                },
            )
            .then_with(|| match (self.cause_id(a), self.cause_id(b)) {
                (Some(p), Some(q)) if p != q => self.keys.name(p).cmp(self.keys.name(q)),
                (p, q) => p.is_some().cmp(&q.is_some()),
            })
    }
}

/// The cause of an event: its `cause`, else a `cause` string in its metadata (how a unit
/// written for the original records one); an empty cause is none.
fn event_cause(e: &Event) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(c) = e.cause.as_deref() {
        return (!c.is_empty()).then_some(std::borrow::Cow::Borrowed(c));
    }
    let meta = e.metadata.as_deref().filter(|m| m.contains("\"cause\""))?;
    match serde_json::from_str::<serde_json::Value>(meta)
        .ok()?
        .get("cause")?
    {
        serde_json::Value::String(s) if !s.is_empty() => Some(std::borrow::Cow::Owned(s.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_interns_each_string_once() {
        let mut pool = StrPool::default();
        let ids: Vec<u32> = (0..1000).map(|i| pool.intern(&format!("k{i}"))).collect();
        assert_eq!(ids, (0..1000).collect::<Vec<u32>>());
        assert_eq!(pool.intern("k17"), 17);
        assert_eq!(pool.intern(""), 1000);
        assert_eq!(pool.get(""), Some(1000));
        assert_eq!(pool.get("k999"), Some(999));
        assert_eq!(pool.get("nope"), None);
        assert_eq!(pool.name(42), "k42");
        assert_eq!(pool.len(), 1001);
    }
}
