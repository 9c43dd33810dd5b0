//! Fast hashing and interning for the hot loops: events are indexed by `&str` borrowed from
//! the input, never cloned.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use testrium_events::Event;

/// The Fx hash (as in rustc): not DoS-resistant, which does not matter for a verifier that
/// reads one run's own rows, and several times faster than SipHash on short keys.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Interns borrowed strings into dense `u32` ids (in order of first appearance; ids never
/// decide the order of anything in the verdict).
#[derive(Default)]
pub(crate) struct Interner<'a> {
    ids: FxMap<&'a str, u32>,
    names: Vec<&'a str>,
    last: Option<(&'a str, u32)>,
}

impl<'a> Interner<'a> {
    #[inline]
    pub(crate) fn intern(&mut self, s: &'a str) -> u32 {
        if let Some((last, id)) = self.last {
            if last == s {
                return id;
            }
        }
        let next = self.names.len() as u32;
        let id = *self.ids.entry(s).or_insert(next);
        if id == next {
            self.names.push(s);
        }
        self.last = Some((s, id));
        id
    }

    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub(crate) fn name(&self, id: u32) -> &'a str {
        self.names[id as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// The total order every choice and every list in the verdict follows, so that the verdict
/// does not depend on the order events are given in: wall clock, monotonic clock, id, then
/// every other field.
pub(crate) fn canonical_cmp(a: &Event, b: &Event) -> Ordering {
    a.time
        .total_cmp(&b.time)
        .then_with(|| a.mono_ns.cmp(&b.mono_ns))
        .then_with(|| a.id.cmp(&b.id))
        .then_with(|| a.unit.cmp(&b.unit))
        .then_with(|| a.step.cmp(&b.step))
        .then_with(|| a.event_type.cmp(&b.event_type))
        .then_with(|| a.key.cmp(&b.key))
        .then_with(|| a.pid.cmp(&b.pid))
        .then_with(|| a.metadata.cmp(&b.metadata))
}

/// The key of a Send or Receive event, or `None` (no key, or an empty one).
#[inline]
pub(crate) fn event_key(e: &Event) -> Option<&str> {
    match e.key.as_deref() {
        Some("") | None => None,
        Some(k) => Some(k),
    }
}
