//! Declared circuits: instances linked hop by hop (issue 13), each checked for order and
//! budgets.
//!
//! Every event of a circuit's first hop starts an *instance*. Walking the events once in time
//! order, an event is linked to an instance waiting at the previous hop when
//!
//! 1. **same key**: the instance's last events carry the event's key;
//! 2. **explicit cause**: the event's cause is such a key (a caused event is linked by rules
//!    1–2 only);
//! 3. **program order**: the event is the next one of the unit that recorded the instance's
//!    last event: each unit keeps its open instances first in, first out;
//! 4. **through the pairs**: an event that is no hop of the circuit carries the instance on
//!    (posts it under its own key and in its own unit) without advancing it, so the host's
//!    `response-sent` links its `request-received` to the client's `response-received`;
//! 5. **time order** (what circuits did before causes existed): an event with neither key nor
//!    cause, of a hop whose unit differs from the previous hop's, takes the instance that
//!    reached the previous hop first, when rules 1–4 give none.
//!
//! Memory: the state of the open instances (their linked events, the keys they are posted
//! under, one entry per unit queue), the hop events that could not be linked, the latencies of
//! complete instances, and one index per event for the time order; nothing per event beyond
//! what the rows already hold.

use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::context::Context;
use crate::expect::ExpectedCircuit;
use crate::index::FxMap;
use crate::rows::Rows;
use crate::stats::{delta, latency_stats, ns_to_s};
use crate::verdict::{
    CircuitReport, CircuitViolation, Clock, HopReport, InstanceTrace, ViolationKind,
};

/// Broken instances listed per circuit (the rest are counted).
const LISTED_INSTANCES: usize = 100;
/// The first instances traced in the report, broken or not.
const TRACED_INSTANCES: u32 = 20;
/// Keys of unlinked events named in a `Missing` violation.
const UNLINKED_KEYS: usize = 3;

/// Violations left out of a report, per kind ([`kind_index`]).
pub(crate) type Omitted = [u64; 4];

/// The slot of a violation kind in [`Omitted`].
pub(crate) fn kind_index(kind: ViolationKind) -> usize {
    match kind {
        ViolationKind::Missing => 0,
        ViolationKind::OutOfOrder => 1,
        ViolationKind::HopOverBudget => 2,
        _ => 3,
    }
}

/// Checks every declared circuit; with each report, the violations it left out per kind.
pub(crate) fn check_circuits(
    ctx: &Context<'_>,
    circuits: &[ExpectedCircuit],
) -> Vec<(CircuitReport, Omitted)> {
    if circuits.is_empty() {
        return Vec::new();
    }
    let order = TimeOrder::new(ctx.rows);
    circuits
        .iter()
        .map(|c| check_circuit(ctx.rows, &order, c))
        .collect()
}

/// Every event in time order: the monotonic clock when every event has it, else the wall
/// clock; ties in the verdict's total order of events (so never the order given).
struct TimeOrder {
    clock: Clock,
    rows: Vec<u32>,
}

/// `t` as an integer ordered as [`f64::total_cmp`] orders floats.
fn sortable(t: f64) -> i64 {
    let bits = t.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

impl TimeOrder {
    fn new(rows: &Rows) -> Self {
        let events = &rows.rows;
        let mono = events.iter().all(|e| e.mono_ns().is_some());
        let mut keyed: Vec<(i64, u32)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let k = match e.mono_ns() {
                    Some(m) if mono => m,
                    _ => sortable(e.time),
                };
                (k, i as u32)
            })
            .collect();
        keyed.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| rows.cmp(a.1 as usize, b.1 as usize))
        });
        TimeOrder {
            clock: if mono { Clock::Monotonic } else { Clock::Wall },
            rows: keyed.into_iter().map(|(_, i)| i).collect(),
        }
    }
}

/// A budget broken while an instance was walked.
#[derive(Debug, Clone, Copy)]
struct Broken {
    kind: ViolationKind,
    hop: usize,
    actual_s: f64,
    budget_s: f64,
}

/// One instance (a slot of the slab; `epoch` tells a reused slot from the instance it held).
#[derive(Debug, Default)]
struct Inst {
    epoch: u32,
    live: bool,
    /// The last hop linked.
    level: u16,
    /// Start order.
    seq: u32,
    /// The row linked at each hop reached, with its position in the time order.
    chain: Vec<(u32, u32)>,
    /// Keys it is posted under at its current level.
    posted: Vec<u32>,
    /// Every key its events carried.
    keys: Vec<u32>,
    /// The key of its latest event that had one.
    last_key: Option<u32>,
    broken: Vec<Broken>,
}

/// A place an instance waits at: `(slot, epoch, level)`.
type Entry = (u32, u32, u16);

fn alive(insts: &[Inst], (slot, epoch, level): Entry) -> bool {
    let i = &insts[slot as usize];
    i.live && i.epoch == epoch && i.level == level
}

/// An entry of a unit's queue: where an instance waits, and whether an event of the unit that
/// is no hop already carried it on under its key.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    at: Entry,
    relayed: bool,
}

/// A first-in, first-out queue of waiting instances; entries of instances that moved on are
/// dropped lazily, and the queue is compacted when they outnumber the live ones.
#[derive(Debug)]
struct Queue {
    q: VecDeque<Waiting>,
    cap: usize,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            q: VecDeque::new(),
            cap: 64,
        }
    }
}

impl Queue {
    fn push(&mut self, insts: &[Inst], at: Entry) {
        self.q.push_back(Waiting { at, relayed: false });
        if self.q.len() > self.cap {
            self.q.retain(|w| alive(insts, w.at));
            self.cap = (self.q.len() * 2).max(64);
        }
    }

    fn drop_front(&mut self, insts: &[Inst]) {
        while let Some(w) = self.q.front() {
            if alive(insts, w.at) {
                break;
            }
            self.q.pop_front();
        }
    }

    /// Takes the earliest live entry at `level` (program order: first in, first out).
    fn take(&mut self, insts: &[Inst], level: u16) -> Option<u32> {
        self.drop_front(insts);
        let at = self
            .q
            .iter()
            .position(|w| alive(insts, w.at) && w.at.2 == level)?;
        self.q.remove(at).map(|w| w.at.0)
    }

    /// Marks the entries of instance `slot` as carried on (an event of the unit that is no hop
    /// was linked to it by key or cause).
    fn mark_relayed(&mut self, slot: u32) {
        for w in self.q.iter_mut().filter(|w| w.at.0 == slot) {
            w.relayed = true;
        }
    }

    /// The instance an event of the unit that is no hop carries on: the earliest one no such
    /// event carried yet, else the latest one (a unit that sends twice for one request). The
    /// entry stays for the unit's next hop.
    fn relay(&mut self, insts: &[Inst]) -> Option<u32> {
        self.drop_front(insts);
        if let Some(w) = self.q.iter_mut().find(|w| !w.relayed && alive(insts, w.at)) {
            w.relayed = true;
            return Some(w.at.0);
        }
        self.q
            .iter()
            .rev()
            .find(|w| alive(insts, w.at))
            .map(|w| w.at.0)
    }
}

/// What [`Linker::finish_instance`] keeps of a broken instance.
struct Listed {
    seq: u32,
    violations: Vec<CircuitViolation>,
    trace: InstanceTrace,
}

impl PartialEq for Listed {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl Eq for Listed {}
impl PartialOrd for Listed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Listed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.seq.cmp(&other.seq)
    }
}

struct Linker<'a> {
    rows: &'a Rows,
    circuit: &'a ExpectedCircuit,
    clock: Clock,
    hop_names: Vec<String>,
    /// Per interned unit: `(step, hop)` of the hops it records.
    hops_of_unit: Vec<Vec<(u32, u16)>>,
    /// Whether hop `h + 1` may be linked to hop `h` by time order (rule 5).
    time_order: Vec<bool>,
    insts: Vec<Inst>,
    free: Vec<u32>,
    key_waiters: FxMap<u32, Vec<(u32, u32)>>,
    unit_queues: Vec<Queue>,
    level_queues: Vec<Queue>,
    /// Hop events linked to no instance: `(row, position)`, in time order.
    unlinked: Vec<Vec<(u32, u32)>>,
    recorded: Vec<u64>,
    reached: Vec<u64>,
    hop_values: Vec<Vec<f64>>,
    totals: Vec<f64>,
    instances: u32,
    complete: u64,
    listed: BinaryHeap<Listed>,
    omitted: Omitted,
    traces: BTreeMap<u32, InstanceTrace>,
}

fn check_circuit(
    rows: &Rows,
    order: &TimeOrder,
    circuit: &ExpectedCircuit,
) -> (CircuitReport, Omitted) {
    let n = circuit.hops.len();
    let mut hops_of_unit: Vec<Vec<(u32, u16)>> = vec![Vec::new(); rows.units.len()];
    for (h, hop) in circuit.hops.iter().enumerate() {
        if let (Some(u), Some(s)) = (rows.units.get(&hop.unit), rows.steps.get(&hop.probe)) {
            let list = &mut hops_of_unit[u as usize];
            // A hop listed twice (only possible in code) is the first one.
            if !list.iter().any(|&(step, _)| step == s) {
                list.push((s, h as u16));
            }
        }
    }
    let keyed = rows.rows.iter().enumerate().any(|(i, r)| {
        rows.key(i).is_some()
            && hops_of_unit[r.unit as usize]
                .iter()
                .any(|&(s, _)| s == r.step)
    });
    let mut l = Linker {
        rows,
        circuit,
        clock: order.clock,
        hop_names: circuit
            .hops
            .iter()
            .map(|hop| format!("{}:{}", hop.unit, hop.probe))
            .collect(),
        hops_of_unit,
        time_order: (0..n)
            .map(|h| h + 1 < n && circuit.hops[h].unit != circuit.hops[h + 1].unit)
            .collect(),
        insts: Vec::new(),
        free: Vec::new(),
        key_waiters: FxMap::default(),
        unit_queues: (0..rows.units.len()).map(|_| Queue::default()).collect(),
        level_queues: (0..n).map(|_| Queue::default()).collect(),
        unlinked: vec![Vec::new(); n],
        recorded: vec![0; n],
        reached: vec![0; n],
        hop_values: vec![Vec::new(); n],
        totals: Vec::new(),
        instances: 0,
        complete: 0,
        listed: BinaryHeap::new(),
        omitted: [0; 4],
        traces: BTreeMap::new(),
    };
    if n > 0 {
        for (pos, &row) in order.rows.iter().enumerate() {
            l.event(row, pos as u32);
        }
    }
    l.report(keyed)
}

impl Linker<'_> {
    fn hop_of(&self, row: u32) -> Option<u16> {
        let r = &self.rows.rows[row as usize];
        self.hops_of_unit[r.unit as usize]
            .iter()
            .find(|&&(s, _)| s == r.step)
            .map(|&(_, h)| h)
    }

    fn event(&mut self, row: u32, pos: u32) {
        let hop = self.hop_of(row);
        if let Some(h) = hop {
            self.recorded[h as usize] += 1;
        }
        if hop == Some(0) {
            self.start(row, pos);
            return;
        }
        let want = hop.map(|h| h - 1);
        let key = self.rows.key_id(row as usize);
        if hop.is_none() && key.is_none() {
            // No hop and no key: it can carry no instance anywhere its unit's queue does not.
            return;
        }
        let cause = self.rows.cause_id(row as usize);
        let mut linked = None;
        let mut key_linked = false;
        for k in [cause, key].into_iter().flatten() {
            let (found, any) = self.take_key(k, want);
            key_linked |= any;
            if found.is_some() {
                linked = found;
                break;
            }
        }
        if let (Some(slot), None) = (linked, hop) {
            let unit = self.rows.rows[row as usize].unit as usize;
            self.unit_queues[unit].mark_relayed(slot);
        }
        if linked.is_none() && cause.is_none() && !key_linked {
            let unit = self.rows.rows[row as usize].unit as usize;
            linked = match want {
                Some(w) => self.unit_queues[unit].take(&self.insts, w),
                None => self.unit_queues[unit].relay(&self.insts),
            };
            if let Some(w) =
                want.filter(|&w| linked.is_none() && key.is_none() && self.time_order[w as usize])
            {
                linked = self.level_queues[w as usize].take(&self.insts, w);
            }
        }
        match (linked, hop) {
            (Some(slot), Some(h)) => self.advance(slot, h, row, pos),
            (Some(slot), None) => self.post(slot, row, false),
            (None, Some(h)) => self.unlinked[h as usize].push((row, pos)),
            (None, None) => {}
        }
    }

    /// The first instance posted under `key` (at `level`, when given), and whether any live
    /// instance is posted under it at all.
    fn take_key(&self, key: u32, level: Option<u16>) -> (Option<u32>, bool) {
        let Some(waiters) = self.key_waiters.get(&key) else {
            return (None, false);
        };
        let found = waiters
            .iter()
            .find(|&&(s, _)| level.is_none_or(|l| self.insts[s as usize].level == l))
            .map(|&(s, _)| s);
        (found, !waiters.is_empty())
    }

    fn start(&mut self, row: u32, pos: u32) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.insts.push(Inst::default());
                (self.insts.len() - 1) as u32
            }
        };
        let seq = self.instances;
        self.instances += 1;
        let inst = &mut self.insts[slot as usize];
        inst.live = true;
        inst.level = 0;
        inst.seq = seq;
        inst.chain.push((row, pos));
        self.reached[0] += 1;
        self.post(slot, row, true);
        if self.circuit.hops.len() == 1 {
            self.finish_instance(slot);
        }
    }

    /// Posts instance `slot` under the key of `row`; when `row` is the hop it has just reached,
    /// also in its unit's queue and that level's time-order queue.
    fn post(&mut self, slot: u32, row: u32, reached: bool) {
        let (epoch, level) = {
            let i = &self.insts[slot as usize];
            (i.epoch, i.level)
        };
        if let Some(k) = self.rows.key_id(row as usize) {
            let inst = &mut self.insts[slot as usize];
            inst.last_key = Some(k);
            if !inst.keys.contains(&k) {
                inst.keys.push(k);
            }
            if !inst.posted.contains(&k) {
                inst.posted.push(k);
                self.key_waiters.entry(k).or_default().push((slot, epoch));
            }
        }
        if reached {
            let unit = self.rows.rows[row as usize].unit as usize;
            self.unit_queues[unit].push(&self.insts, (slot, epoch, level));
            if self.time_order[level as usize] {
                self.level_queues[level as usize].push(&self.insts, (slot, epoch, level));
            }
        }
    }

    fn unpost(&mut self, slot: u32) {
        let posted = std::mem::take(&mut self.insts[slot as usize].posted);
        for k in &posted {
            if let Some(w) = self.key_waiters.get_mut(k) {
                w.retain(|&(s, _)| s != slot);
                if w.is_empty() {
                    self.key_waiters.remove(k);
                }
            }
        }
        let mut posted = posted;
        posted.clear();
        self.insts[slot as usize].posted = posted;
    }

    /// Links `row` as hop `h` of instance `slot` (waiting at hop `h - 1`).
    fn advance(&mut self, slot: u32, h: u16, row: u32, pos: u32) {
        self.unpost(slot);
        let prev = {
            let inst = &mut self.insts[slot as usize];
            let prev = inst.chain.last().map_or(row, |c| c.0);
            inst.level = h;
            inst.chain.push((row, pos));
            prev
        };
        self.reached[h as usize] += 1;
        let d = self.measure(prev, row);
        if let Some(b) = self.circuit.hops[h as usize].budget {
            let b = b.as_secs_f64();
            if d > b {
                self.insts[slot as usize].broken.push(Broken {
                    kind: ViolationKind::HopOverBudget,
                    hop: h as usize,
                    actual_s: d,
                    budget_s: b,
                });
            }
        }
        if h as usize + 1 == self.circuit.hops.len() {
            self.finish_instance(slot);
        } else {
            self.post(slot, row, true);
        }
    }

    /// Seconds from event `a` to event `b`: the best clock both have, never negative.
    fn measure(&self, a: u32, b: u32) -> f64 {
        let rows = &self.rows.rows;
        delta(&rows[a as usize], &rows[b as usize]).0.max(0.0)
    }

    /// Seconds from `a` to `b` on the clock of the time order (negative when `b` is first).
    fn diff(&self, a: u32, b: u32) -> f64 {
        let (ea, eb) = (&self.rows.rows[a as usize], &self.rows.rows[b as usize]);
        match (self.clock, ea.mono_ns(), eb.mono_ns()) {
            (Clock::Monotonic, Some(x), Some(y)) => ns_to_s(i128::from(y) - i128::from(x)),
            _ => eb.time - ea.time,
        }
    }

    /// Every hop linked: total budget, statistics, then the slot is freed.
    fn finish_instance(&mut self, slot: u32) {
        let chain = std::mem::take(&mut self.insts[slot as usize].chain);
        let first = chain[0].0;
        let last = chain[chain.len() - 1].0;
        for h in 1..chain.len() {
            let d = self.measure(chain[h - 1].0, chain[h].0);
            self.hop_values[h].push(d);
        }
        let total = self.measure(first, last);
        self.totals.push(total);
        if let Some(b) = self.circuit.total_budget {
            let b = b.as_secs_f64();
            if total > b {
                self.insts[slot as usize].broken.push(Broken {
                    kind: ViolationKind::TotalOverBudget,
                    hop: self.circuit.hops.len() - 1,
                    actual_s: total,
                    budget_s: b,
                });
            }
        }
        let ok = self.insts[slot as usize].broken.is_empty();
        if ok {
            self.complete += 1;
        }
        self.keep(slot, &chain, ok, None);
        self.release(slot, chain);
    }

    /// Lists (or counts) a broken instance and traces the first ones.
    fn keep(
        &mut self,
        slot: u32,
        chain: &[(u32, u32)],
        ok: bool,
        missing: Option<CircuitViolation>,
    ) {
        let seq = self.insts[slot as usize].seq;
        let traced = seq < TRACED_INSTANCES;
        if ok && !traced {
            return;
        }
        let rows = self.rows;
        let key: Option<Arc<str>> = rows.key(chain[0].0 as usize).map(Arc::from);
        let trace = InstanceTrace {
            key: key.clone(),
            event_ids: chain
                .iter()
                .map(|&(r, _)| rows.rows[r as usize].id)
                .collect(),
            complete: ok,
        };
        if traced {
            self.traces.insert(seq, trace.clone());
        }
        if ok {
            return;
        }
        let start_id = Some(rows.rows[chain[0].0 as usize].id);
        let mut violations: Vec<CircuitViolation> = self.insts[slot as usize]
            .broken
            .iter()
            .map(|b| CircuitViolation {
                kind: b.kind,
                key: key.clone(),
                hop: b.hop,
                hop_name: self.hop_names[b.hop].clone(),
                actual_s: Some(b.actual_s),
                budget_s: Some(b.budget_s),
                over_by_s: Some(b.actual_s - b.budget_s),
                start_id,
                previous_key: None,
                unlinked: 0,
                unlinked_keys: Vec::new(),
            })
            .collect();
        if let Some(mut m) = missing {
            m.key = key.clone();
            m.start_id = start_id;
            violations.push(m);
        }
        self.listed.push(Listed {
            seq,
            violations,
            trace,
        });
        if self.listed.len() > LISTED_INSTANCES
            && let Some(out) = self.listed.pop()
        {
            for v in &out.violations {
                self.omitted[kind_index(v.kind)] += 1;
            }
        }
    }

    fn release(&mut self, slot: u32, mut chain: Vec<(u32, u32)>) {
        self.unpost(slot);
        let inst = &mut self.insts[slot as usize];
        chain.clear();
        inst.chain = chain;
        inst.live = false;
        inst.epoch = inst.epoch.wrapping_add(1);
        inst.keys.clear();
        inst.broken.clear();
        inst.last_key = None;
        self.free.push(slot);
    }

    /// The instances still open: each is broken at the hop after its last one, missing or out
    /// of order.
    fn finish_open(&mut self) {
        let mut open: Vec<(u32, u32)> = self
            .insts
            .iter()
            .enumerate()
            .filter(|(_, i)| i.live)
            .map(|(s, i)| (i.seq, s as u32))
            .collect();
        open.sort_unstable();
        let index = UnlinkedIndex::new(self);
        for (_, slot) in open {
            let chain = std::mem::take(&mut self.insts[slot as usize].chain);
            let (frontier, frontier_pos) = chain[chain.len() - 1];
            let h = chain.len();
            let inst = &self.insts[slot as usize];
            let before = index.latest_before(self, inst, h, frontier, frontier_pos);
            let hop = &self.circuit.hops[h];
            let budget_s = hop.budget.map(|b| b.as_secs_f64());
            let violation = match before {
                Some(cand) => {
                    let by = self.diff(frontier, cand);
                    CircuitViolation {
                        kind: ViolationKind::OutOfOrder,
                        key: None,
                        hop: h,
                        hop_name: self.hop_names[h].clone(),
                        actual_s: Some(by),
                        budget_s,
                        over_by_s: Some(-by),
                        start_id: None,
                        previous_key: None,
                        unlinked: 0,
                        unlinked_keys: Vec::new(),
                    }
                }
                None => CircuitViolation {
                    kind: ViolationKind::Missing,
                    key: None,
                    hop: h,
                    hop_name: self.hop_names[h].clone(),
                    actual_s: None,
                    budget_s,
                    over_by_s: None,
                    start_id: None,
                    previous_key: inst.last_key.map(|k| Arc::from(self.rows.keys.name(k))),
                    unlinked: self.unlinked[h].len() as u64,
                    unlinked_keys: index.keys[h].clone(),
                },
            };
            self.keep(slot, &chain, false, Some(violation));
            self.release(slot, chain);
        }
    }

    fn report(mut self, keyed: bool) -> (CircuitReport, Omitted) {
        self.finish_open();
        let n = self.circuit.hops.len();
        let mut violations = Vec::new();
        let mut listed = std::mem::take(&mut self.listed).into_sorted_vec();
        if self.instances == 0 && n > 0 {
            violations.push(CircuitViolation {
                kind: ViolationKind::Missing,
                key: None,
                hop: 0,
                hop_name: self.hop_names[0].clone(),
                actual_s: None,
                budget_s: None,
                over_by_s: None,
                start_id: None,
                previous_key: None,
                unlinked: 0,
                unlinked_keys: Vec::new(),
            });
        }
        for l in &mut listed {
            violations.append(&mut l.violations);
            self.traces.entry(l.seq).or_insert_with(|| l.trace.clone());
        }
        let hops = self
            .circuit
            .hops
            .iter()
            .enumerate()
            .map(|(h, hop)| HopReport {
                unit: hop.unit.clone(),
                probe: hop.probe.clone(),
                budget_s: if h == 0 {
                    None
                } else {
                    hop.budget.map(|b| b.as_secs_f64())
                },
                reached: self.reached[h],
                from_previous: latency_stats(&mut self.hop_values[h]),
            })
            .collect();
        let report = CircuitReport {
            name: self.circuit.name.clone(),
            keyed,
            instances: u64::from(self.instances),
            complete: self.complete,
            hops,
            total: latency_stats(&mut self.totals),
            total_budget_s: self.circuit.total_budget.map(|b| b.as_secs_f64()),
            violations,
            violations_omitted: self.omitted.iter().sum(),
            traces: self.traces.into_values().collect(),
        };
        (report, self.omitted)
    }
}

/// The unlinked hop events, indexed to tell an out-of-order hop from a missing one.
struct UnlinkedIndex {
    /// `(hop, key)` → positions of unlinked events of that hop carrying or naming the key.
    by_key: FxMap<(u16, u32), Vec<(u32, u32)>>,
    /// `(hop, unit)` → unlinked events of that hop with neither key nor cause.
    by_unit: FxMap<(u16, u32), Vec<(u32, u32)>>,
    /// Per hop: unlinked events with neither key nor cause.
    bare: Vec<Vec<(u32, u32)>>,
    /// Per hop: the first distinct keys of its unlinked events.
    keys: Vec<Vec<String>>,
}

impl UnlinkedIndex {
    fn new(l: &Linker<'_>) -> Self {
        let rows = l.rows;
        let mut index = UnlinkedIndex {
            by_key: FxMap::default(),
            by_unit: FxMap::default(),
            bare: vec![Vec::new(); l.unlinked.len()],
            keys: vec![Vec::new(); l.unlinked.len()],
        };
        for (h, list) in l.unlinked.iter().enumerate() {
            for &(row, pos) in list {
                let key = rows.key_id(row as usize);
                let cause = rows.cause_id(row as usize);
                if let Some(k) = key {
                    let name = rows.keys.name(k);
                    let names = &mut index.keys[h];
                    if names.len() < UNLINKED_KEYS && !names.iter().any(|n| n == name) {
                        names.push(name.to_owned());
                    }
                }
                for k in [key, cause].into_iter().flatten() {
                    index
                        .by_key
                        .entry((h as u16, k))
                        .or_default()
                        .push((row, pos));
                }
                if key.is_none() && cause.is_none() {
                    let unit = rows.rows[row as usize].unit;
                    index
                        .by_unit
                        .entry((h as u16, unit))
                        .or_default()
                        .push((row, pos));
                    index.bare[h].push((row, pos));
                }
            }
        }
        index
    }

    /// The latest unlinked event of hop `h` recorded before the instance's last event that
    /// would have been linked to it had it come later: one carrying or naming a key of the
    /// instance, or one with neither key nor cause of the unit of the instance's last event
    /// (or of any unit, when hop `h` may be linked by time order).
    fn latest_before(
        &self,
        l: &Linker<'_>,
        inst: &Inst,
        h: usize,
        frontier: u32,
        frontier_pos: u32,
    ) -> Option<u32> {
        let latest = |list: &[(u32, u32)]| -> Option<(u32, u32)> {
            let at = list.partition_point(|&(_, p)| p < frontier_pos);
            at.checked_sub(1).map(|i| list[i])
        };
        let hop = h as u16;
        let mut best: Option<(u32, u32)> = None;
        let mut consider = |c: Option<(u32, u32)>| {
            if let Some(c) = c
                && best.is_none_or(|b| c.1 > b.1)
            {
                best = Some(c);
            }
        };
        for k in &inst.keys {
            consider(self.by_key.get(&(hop, *k)).and_then(|v| latest(v)));
        }
        let unit = l.rows.rows[frontier as usize].unit;
        consider(self.by_unit.get(&(hop, unit)).and_then(|v| latest(v)));
        if l.time_order[h - 1] {
            consider(latest(&self.bare[h]));
        }
        best.map(|b| b.0)
    }
}
