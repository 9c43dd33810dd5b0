//! Send/Receive correlation by event key, and latency over the pairs.

use std::sync::Arc;

use testrium_events::EventType;

use crate::context::Context;
use crate::index::{FxMap, canonical_cmp, event_key};
use crate::stats::{delta, latency_stats};
use crate::verdict::{Clock, CorrelationReport, DuplicateKey, LatencyReport, Pair, RouteLatency};

/// Pairs whose receive was recorded before the send, per route and clock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NegativeLatency {
    pub(crate) send_unit: String,
    pub(crate) receive_unit: String,
    pub(crate) clock: Clock,
    pub(crate) count: u64,
    /// The most negative latency seen, seconds (< 0).
    pub(crate) worst_s: f64,
}

pub(crate) struct Correlation {
    pub(crate) report: CorrelationReport,
    pub(crate) latency: LatencyReport,
    pub(crate) negative: Vec<NegativeLatency>,
}

struct Route {
    send: u32,
    receive: u32,
    values: Vec<f64>,
    negative: [(u64, f64); 2],
}

/// Correlates every keyed Send and Receive (see [`CorrelationReport`] for the rule).
pub(crate) fn correlate(ctx: &mut Context<'_>) -> Correlation {
    let events = ctx.events;

    // Group keyed events by key without copying keys: intern each key into a slot, then a
    // counting sort by slot.
    let keyed_count = events
        .iter()
        .filter(|e| matches!(e.event_type, EventType::Send | EventType::Receive))
        .count();
    let mut slot_of: FxMap<&str, u32> =
        FxMap::with_capacity_and_hasher(keyed_count / 2 + 1, Default::default());
    let mut keys: Vec<&str> = Vec::with_capacity(keyed_count / 2 + 1);
    let mut counts: Vec<u32> = Vec::with_capacity(keyed_count / 2 + 1);
    let mut keyed: Vec<(u32, u32)> = Vec::with_capacity(keyed_count);
    for (i, e) in events.iter().enumerate() {
        if !matches!(e.event_type, EventType::Send | EventType::Receive) {
            continue;
        }
        let Some(k) = event_key(e) else { continue };
        let next = keys.len() as u32;
        let slot = *slot_of.entry(k).or_insert(next);
        if slot == next {
            keys.push(k);
            counts.push(0);
        }
        counts[slot as usize] += 1;
        keyed.push((slot, i as u32));
    }
    drop(slot_of);
    let mut offsets: Vec<u32> = Vec::with_capacity(keys.len() + 1);
    let mut acc = 0u32;
    offsets.push(0);
    for &c in &counts {
        acc += c;
        offsets.push(acc);
    }
    let mut fill = offsets.clone();
    let mut grouped = vec![0u32; keyed.len()];
    for &(slot, idx) in &keyed {
        let at = &mut fill[slot as usize];
        grouped[*at as usize] = idx;
        *at += 1;
    }
    drop(keyed);
    drop(fill);

    let mut report = CorrelationReport::default();
    let mut routes: Vec<Route> = Vec::new();
    let mut route_of: FxMap<(u32, u32), usize> = FxMap::default();
    let mut last_route: Option<((u32, u32), usize)> = None;
    let mut orphan_sends: Vec<u32> = Vec::new();
    let mut orphan_receives: Vec<u32> = Vec::new();
    let mut sends: Vec<u32> = Vec::new();
    let mut receives: Vec<u32> = Vec::new();
    let mut receivers: Vec<(u32, u32)> = Vec::new(); // (first receive, count) per unit
    report.pairs.reserve(keys.len());
    // (send, receive) event of each pair, to sort the pairs at the end.
    let mut pair_events: Vec<(u32, u32)> = Vec::with_capacity(keys.len());

    for slot in 0..keys.len() as u32 {
        let group = &grouped[offsets[slot as usize] as usize..offsets[slot as usize + 1] as usize];
        sends.clear();
        receives.clear();
        for &i in group {
            if events[i as usize].event_type == EventType::Send {
                sends.push(i);
            } else {
                receives.push(i);
            }
        }
        let key = keys[slot as usize];
        if receives.is_empty() {
            orphan_sends.extend_from_slice(&sends);
        } else if sends.is_empty() {
            orphan_receives.extend_from_slice(&receives);
        }

        // Each receiving unit's first receive, and how many it recorded.
        receivers.clear();
        if receives.len() > 1 {
            let unit_of = &ctx.unit_of;
            let units = &ctx.units;
            receives.sort_unstable_by(|&a, &b| {
                units
                    .name(unit_of[a as usize])
                    .cmp(units.name(unit_of[b as usize]))
                    .then_with(|| canonical_cmp(&events[a as usize], &events[b as usize]))
            });
            for &r in &receives {
                match receivers.last_mut() {
                    Some((first, n)) if unit_of[*first as usize] == unit_of[r as usize] => *n += 1,
                    _ => receivers.push((r, 1)),
                }
            }
        } else if let Some(&r) = receives.first() {
            receivers.push((r, 1));
        }

        let repeated = receivers.iter().any(|&(_, n)| n > 1);
        if sends.len() > 1 || repeated {
            let mut send_units: Vec<String> = sends
                .iter()
                .map(|&s| events[s as usize].unit.clone())
                .collect();
            send_units.sort_unstable();
            send_units.dedup();
            let repeated_receivers = receivers
                .iter()
                .filter(|&&(_, n)| n > 1)
                .map(|&(r, _)| events[r as usize].unit.clone())
                .collect();
            report.duplicate_keys.push(DuplicateKey {
                key: Arc::from(key),
                send_count: sends.len() as u64,
                receive_count: receives.len() as u64,
                send_units,
                repeated_receivers,
            });
        }

        let Some(&first_send) = sends
            .iter()
            .min_by(|&&a, &&b| canonical_cmp(&events[a as usize], &events[b as usize]))
        else {
            continue;
        };
        if receivers.is_empty() {
            continue;
        }
        let key_arc: Arc<str> = Arc::from(key);
        let s = &events[first_send as usize];
        let send_unit_id = ctx.unit_of[first_send as usize];
        let send_unit = ctx.unit_arc(send_unit_id);
        let send_step = ctx.step_arc(&s.step);
        for &(r, _) in &receivers {
            let re = &events[r as usize];
            let receive_unit_id = ctx.unit_of[r as usize];
            let (raw, clock) = delta(s, re);
            let route_key = (send_unit_id, receive_unit_id);
            let route = match last_route {
                Some((k, idx)) if k == route_key => idx,
                _ => {
                    let idx = *route_of.entry(route_key).or_insert_with(|| {
                        routes.push(Route {
                            send: send_unit_id,
                            receive: receive_unit_id,
                            values: Vec::new(),
                            negative: [(0, 0.0); 2],
                        });
                        routes.len() - 1
                    });
                    last_route = Some((route_key, idx));
                    idx
                }
            };
            if raw < 0.0 {
                let slot = &mut routes[route].negative[usize::from(clock == Clock::Wall)];
                slot.0 += 1;
                slot.1 = slot.1.min(raw);
            }
            let latency_s = raw.max(0.0);
            routes[route].values.push(latency_s);
            pair_events.push((first_send, r));
            report.pairs.push(Pair {
                key: Arc::clone(&key_arc),
                send_unit: Arc::clone(&send_unit),
                send_step: Arc::clone(&send_step),
                send_id: s.id,
                receive_unit: ctx.unit_arc(receive_unit_id),
                receive_step: ctx.step_arc(&re.step),
                receive_id: re.id,
                latency_s,
                clock,
            });
        }
    }

    sort_pairs(ctx, &mut report.pairs, &pair_events);
    report
        .duplicate_keys
        .sort_unstable_by(|a, b| a.key.cmp(&b.key));
    orphan_sends.sort_unstable_by(|&a, &b| canonical_cmp(&events[a as usize], &events[b as usize]));
    orphan_receives
        .sort_unstable_by(|&a, &b| canonical_cmp(&events[a as usize], &events[b as usize]));
    report.orphan_sends = orphan_sends
        .iter()
        .map(|&i| ctx.event_ref(i as usize))
        .collect();
    report.orphan_receives = orphan_receives
        .iter()
        .map(|&i| ctx.event_ref(i as usize))
        .collect();

    // Latency: overall and per route, routes sorted by unit names.
    let mut latency = LatencyReport::default();
    for p in &report.pairs {
        match p.clock {
            Clock::Monotonic => latency.monotonic_pairs += 1,
            _ => latency.wall_pairs += 1,
        }
    }
    let mut all: Vec<f64> = Vec::with_capacity(report.pairs.len());
    for r in &routes {
        all.extend_from_slice(&r.values);
    }
    latency.overall = latency_stats(&mut all);
    drop(all);
    routes.sort_unstable_by(|a, b| {
        ctx.units
            .name(a.send)
            .cmp(ctx.units.name(b.send))
            .then_with(|| ctx.units.name(a.receive).cmp(ctx.units.name(b.receive)))
    });
    let mut negative = Vec::new();
    for r in &mut routes {
        let send_unit = ctx.units.name(r.send).to_owned();
        let receive_unit = ctx.units.name(r.receive).to_owned();
        for (i, clock) in [Clock::Monotonic, Clock::Wall].into_iter().enumerate() {
            let (count, worst_s) = r.negative[i];
            if count > 0 {
                negative.push(NegativeLatency {
                    send_unit: send_unit.clone(),
                    receive_unit: receive_unit.clone(),
                    clock,
                    count,
                    worst_s,
                });
            }
        }
        if let Some(stats) = latency_stats(&mut r.values) {
            latency.routes.push(RouteLatency {
                send_unit,
                receive_unit,
                stats,
            });
        }
    }

    Correlation {
        report,
        latency,
        negative,
    }
}

/// Sorts the pairs by their Send event (canonical order), then receiving unit, then Receive
/// event: the order events happened in, whatever order they were given in.
fn sort_pairs(ctx: &Context<'_>, pairs: &mut [Pair], pair_events: &[(u32, u32)]) {
    let events = ctx.events;
    // Compact sort keys first (cache-friendly); the full comparison only breaks ties.
    let mut order: Vec<(f64, i64, i64, u32)> = pair_events
        .iter()
        .enumerate()
        .map(|(i, &(s, _))| {
            let e = &events[s as usize];
            (e.time, e.mono_ns.unwrap_or(i64::MIN), e.id, i as u32)
        })
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| a.2.cmp(&b.2))
            .then_with(|| {
                let (sa, ra) = pair_events[a.3 as usize];
                let (sb, rb) = pair_events[b.3 as usize];
                canonical_cmp(&events[sa as usize], &events[sb as usize])
                    .then_with(|| {
                        ctx.units
                            .name(ctx.unit_of[ra as usize])
                            .cmp(ctx.units.name(ctx.unit_of[rb as usize]))
                    })
                    .then_with(|| canonical_cmp(&events[ra as usize], &events[rb as usize]))
            })
    });
    // Permute in place, one cycle at a time: a second list of every pair would double the
    // largest allocation of a big run. `source[k]` is the pair that goes to position `k`.
    let mut source: Vec<u32> = order.iter().map(|o| o.3).collect();
    drop(order);
    for start in 0..source.len() {
        let mut k = start;
        while source[k] as usize != k {
            let from = source[k] as usize;
            source[k] = k as u32;
            if from == start {
                break;
            }
            pairs.swap(k, from);
            k = from;
        }
    }
}
