//! Send/Receive correlation by event key, and latency over the pairs.

use std::cmp::Ordering;
use std::sync::Arc;

use testrium_events::EventType;

use crate::context::Context;
use crate::contracts::End;
use crate::index::FxMap;
use crate::rows::Rows;
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

/// Correlates every keyed Send and Receive (see [`CorrelationReport`] for the rule). Every
/// pair counts and is measured; only the first `pair_limit` (in pair order) are listed.
///
/// Events of a contract's ends (`covered`) are left to the contract.
pub(crate) fn correlate(
    ctx: &mut Context<'_>,
    pair_limit: Option<usize>,
    covered: &[End],
) -> Correlation {
    let rows = ctx.rows;
    let events = &rows.rows;

    // Group keyed events by interned key: a counting sort by key id.
    let is_keyed = |i: usize| {
        let e = &events[i];
        matches!(e.kind(), EventType::Send | EventType::Receive)
            && rows.key(i).is_some()
            && (covered.is_empty() || !covered.contains(&(e.unit, e.step, e.kind())))
    };
    let nkeys = rows.keys.len();
    let mut offsets: Vec<u32> = vec![0; nkeys + 1];
    let mut keyed_count = 0usize;
    for i in 0..events.len() {
        if let (true, Some(k)) = (is_keyed(i), rows.key_id(i)) {
            offsets[k as usize + 1] += 1;
            keyed_count += 1;
        }
    }
    for k in 0..nkeys {
        offsets[k + 1] += offsets[k];
    }
    let mut fill = offsets.clone();
    let mut grouped = vec![0u32; keyed_count];
    for i in 0..events.len() {
        if let (true, Some(k)) = (is_keyed(i), rows.key_id(i)) {
            let at = &mut fill[k as usize];
            grouped[*at as usize] = i as u32;
            *at += 1;
        }
    }
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
    // (send, receive) event of each pair, with its latency and clock.
    let mut pair_events: Vec<(u32, u32, f64, Clock)> = Vec::new();

    for slot in 0..nkeys {
        let group = &grouped[offsets[slot] as usize..offsets[slot + 1] as usize];
        if group.is_empty() {
            continue;
        }
        sends.clear();
        receives.clear();
        for &i in group {
            if events[i as usize].kind() == EventType::Send {
                sends.push(i);
            } else {
                receives.push(i);
            }
        }
        let key = rows.keys.name(slot as u32);
        if receives.is_empty() {
            orphan_sends.extend_from_slice(&sends);
        } else if sends.is_empty() {
            orphan_receives.extend_from_slice(&receives);
        }

        // Each receiving unit's first receive, and how many it recorded.
        receivers.clear();
        if receives.len() > 1 {
            receives.sort_unstable_by(|&a, &b| {
                rows.unit_name(a as usize)
                    .cmp(rows.unit_name(b as usize))
                    .then_with(|| rows.cmp(a as usize, b as usize))
            });
            for &r in &receives {
                match receivers.last_mut() {
                    Some((first, n)) if events[*first as usize].unit == events[r as usize].unit => {
                        *n += 1;
                    }
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
                .map(|&s| rows.unit_name(s as usize).to_owned())
                .collect();
            send_units.sort_unstable();
            send_units.dedup();
            let repeated_receivers = receivers
                .iter()
                .filter(|&&(_, n)| n > 1)
                .map(|&(r, _)| rows.unit_name(r as usize).to_owned())
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
            .min_by(|&&a, &&b| rows.cmp(a as usize, b as usize))
        else {
            continue;
        };
        let s = &events[first_send as usize];
        for &(r, _) in &receivers {
            let re = &events[r as usize];
            let (raw, clock) = delta(s, re);
            let route_key = (s.unit, re.unit);
            let route = match last_route {
                Some((k, idx)) if k == route_key => idx,
                _ => {
                    let idx = *route_of.entry(route_key).or_insert_with(|| {
                        routes.push(Route {
                            send: s.unit,
                            receive: re.unit,
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
            pair_events.push((first_send, r, latency_s, clock));
        }
    }
    drop(grouped);
    drop(offsets);

    let mut latency = LatencyReport::default();
    for p in &pair_events {
        match p.3 {
            Clock::Monotonic => latency.monotonic_pairs += 1,
            _ => latency.wall_pairs += 1,
        }
    }
    let paired = pair_events.len();
    sort_pairs(rows, &mut pair_events, pair_limit);
    let listed = pair_limit.map_or(paired, |n| n.min(paired));
    report.pairs.reserve_exact(listed);
    let mut key_arc: Option<(u32, Arc<str>)> = None;
    for &(s, r, latency_s, clock) in &pair_events[..listed] {
        let (se, re) = (events[s as usize], events[r as usize]);
        let k = rows.key_id(s as usize).unwrap_or_default();
        let key = match &key_arc {
            Some((id, a)) if *id == k => Arc::clone(a),
            _ => {
                let a: Arc<str> = Arc::from(rows.keys.name(k));
                key_arc = Some((k, Arc::clone(&a)));
                a
            }
        };
        report.pairs.push(Pair {
            key,
            send_unit: ctx.unit_arc(se.unit),
            send_step: ctx.step_arc(se.step),
            send_id: se.id,
            receive_unit: ctx.unit_arc(re.unit),
            receive_step: ctx.step_arc(re.step),
            receive_id: re.id,
            latency_s,
            clock,
        });
    }
    report.pairs_omitted = (paired - listed) as u64;
    drop(pair_events);

    report
        .duplicate_keys
        .sort_unstable_by(|a, b| a.key.cmp(&b.key));
    orphan_sends.sort_unstable_by(|&a, &b| rows.cmp(a as usize, b as usize));
    orphan_receives.sort_unstable_by(|&a, &b| rows.cmp(a as usize, b as usize));
    report.orphan_sends = orphan_sends
        .iter()
        .map(|&i| ctx.event_ref(i as usize))
        .collect();
    report.orphan_receives = orphan_receives
        .iter()
        .map(|&i| ctx.event_ref(i as usize))
        .collect();

    // Latency: overall and per route, routes sorted by unit names.
    let mut all: Vec<f64> = Vec::with_capacity(paired);
    for r in &routes {
        all.extend_from_slice(&r.values);
    }
    latency.overall = latency_stats(&mut all);
    drop(all);
    routes.sort_unstable_by(|a, b| {
        rows.units
            .name(a.send)
            .cmp(rows.units.name(b.send))
            .then_with(|| rows.units.name(a.receive).cmp(rows.units.name(b.receive)))
    });
    let mut negative = Vec::new();
    for r in &mut routes {
        let send_unit = rows.units.name(r.send).to_owned();
        let receive_unit = rows.units.name(r.receive).to_owned();
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
/// event: the order events happened in, whatever order they were given in. With a `limit`,
/// only the first `limit` are sorted into place (the rest are left in any order after them).
fn sort_pairs(rows: &Rows, pairs: &mut [(u32, u32, f64, Clock)], limit: Option<usize>) {
    let events = &rows.rows;
    let cmp = |a: &(u32, u32, f64, Clock), b: &(u32, u32, f64, Clock)| -> Ordering {
        let (sa, sb) = (&events[a.0 as usize], &events[b.0 as usize]);
        // Compact keys first; the full comparison only breaks ties.
        sa.time
            .total_cmp(&sb.time)
            // As before: no monotonic time sorts as i64::MIN here, the id decides first.
            .then_with(|| {
                sa.mono_ns()
                    .unwrap_or(i64::MIN)
                    .cmp(&sb.mono_ns().unwrap_or(i64::MIN))
            })
            .then_with(|| sa.id.cmp(&sb.id))
            .then_with(|| rows.cmp(a.0 as usize, b.0 as usize))
            .then_with(|| {
                rows.unit_name(a.1 as usize)
                    .cmp(rows.unit_name(b.1 as usize))
            })
            .then_with(|| rows.cmp(a.1 as usize, b.1 as usize))
    };
    match limit {
        Some(n) if n < pairs.len() => {
            if n > 0 {
                pairs.select_nth_unstable_by(n - 1, cmp);
            }
            pairs[..n].sort_unstable_by(cmp);
        }
        _ => pairs.sort_unstable_by(cmp),
    }
}
