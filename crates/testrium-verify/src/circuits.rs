//! Declared circuits: every hop happened, in causal order, within budget.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::context::Context;
use crate::expect::ExpectedCircuit;
use crate::stats::{latency_stats, ns_to_s};
use crate::verdict::{CircuitReport, CircuitViolation, Clock, HopReport, ViolationKind};

/// Candidates of one hop: keyed (sorted by key, then time; `keys[i]` is the key of
/// `events[i]`) or not (sorted by time).
struct HopEvents<'a> {
    keys: Option<Vec<&'a str>>,
    events: Vec<u32>,
}

/// Checks every declared circuit.
///
/// A circuit whose hop events carry event keys is checked once per key of its first keyed hop
/// (an *instance*; keys seen only at later hops belong to other flows): a keyed hop is
/// satisfied by its events with that key, a hop whose events carry no key by any of its
/// events. Otherwise the circuit has one instance. In an instance, the first hop is its
/// earliest event and every next hop the earliest event not before the previous hop (equal
/// timestamps are in order). Order is decided on the monotonic clock when every event of the
/// circuit's hops has a monotonic timestamp, else on the wall clock; durations are measured
/// per pair of events on the monotonic clock when both have it, else the wall clock.
pub(crate) fn check_circuits(
    ctx: &Context<'_>,
    circuits: &[ExpectedCircuit],
) -> Vec<CircuitReport> {
    circuits.iter().map(|c| check_circuit(ctx, c)).collect()
}

fn check_circuit(ctx: &Context<'_>, circuit: &ExpectedCircuit) -> CircuitReport {
    let rows = ctx.rows;
    let events = &rows.rows;
    let hop_ids: Vec<Option<(u32, u32)>> = circuit
        .hops
        .iter()
        .map(|h| Some((rows.units.get(&h.unit)?, rows.steps.get(&h.probe)?)))
        .collect();
    let mut raw: Vec<Vec<u32>> = vec![Vec::new(); circuit.hops.len()];
    if hop_ids.iter().any(Option::is_some) {
        for (i, e) in events.iter().enumerate() {
            for (h, ids) in hop_ids.iter().enumerate() {
                if *ids == Some((e.unit, e.step)) {
                    raw[h].push(i as u32);
                }
            }
        }
    }
    let clock = if raw
        .iter()
        .flatten()
        .all(|&i| events[i as usize].mono_ns().is_some())
    {
        Clock::Monotonic
    } else {
        Clock::Wall
    };
    let by_time = |a: &u32, b: &u32| -> Ordering {
        let (ea, eb) = (&events[*a as usize], &events[*b as usize]);
        let first = match clock {
            Clock::Monotonic => ea.mono_ns().cmp(&eb.mono_ns()),
            _ => ea.time.total_cmp(&eb.time),
        };
        first.then_with(|| rows.cmp(*a as usize, *b as usize))
    };
    let keyed = raw
        .iter()
        .flatten()
        .any(|&i| rows.key(i as usize).is_some());
    let hops: Vec<HopEvents<'_>> = raw
        .into_iter()
        .map(|mut list| {
            if list.iter().any(|&i| rows.key(i as usize).is_some()) {
                let mut v: Vec<(&str, u32)> = list
                    .iter()
                    .filter_map(|&i| rows.key(i as usize).map(|k| (k, i)))
                    .collect();
                v.sort_unstable_by(|a, b| a.0.cmp(b.0).then_with(|| by_time(&a.1, &b.1)));
                let (keys, events) = v.into_iter().unzip();
                HopEvents {
                    keys: Some(keys),
                    events,
                }
            } else {
                list.sort_unstable_by(by_time);
                HopEvents {
                    keys: None,
                    events: list,
                }
            }
        })
        .collect();

    let diff = |a: u32, b: u32| -> f64 {
        let (ea, eb) = (&events[a as usize], &events[b as usize]);
        match (clock, ea.mono_ns(), eb.mono_ns()) {
            (Clock::Monotonic, Some(x), Some(y)) => ns_to_s(i128::from(y) - i128::from(x)),
            _ => eb.time - ea.time,
        }
    };

    // Order is decided on the circuit's clock; durations are measured pairwise on the best
    // clock both events have (monotonic when both have it), never negative.
    let measure = |a: u32, b: u32| -> f64 {
        crate::stats::delta(&events[a as usize], &events[b as usize])
            .0
            .max(0.0)
    };

    let n = circuit.hops.len();
    let mut hop_values: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut reached = vec![0u64; n];
    let mut totals: Vec<f64> = Vec::new();
    let mut violations: Vec<CircuitViolation> = Vec::new();
    let mut complete = 0u64;
    let mut instances = 0u64;

    // Instance keys: the keys of the first keyed hop (the cause), sorted. Keys that appear
    // only at later hops belong to other flows through the same probes.
    let instance_keys: Vec<Option<&str>> = match hops.iter().find_map(|h| h.keys.as_deref()) {
        Some(lead) => {
            let mut ks: Vec<&str> = lead.to_vec();
            ks.dedup();
            ks.into_iter().map(Some).collect()
        }
        None => vec![None],
    };

    let hop_names: Vec<String> = circuit
        .hops
        .iter()
        .map(|hop| format!("{}:{}", hop.unit, hop.probe))
        .collect();
    let mut cursors = vec![0usize; n];
    let mut ranges = vec![(0usize, 0usize); n];
    for key in instance_keys {
        instances += 1;
        // Candidates of each hop for this instance: a range of its sorted events.
        for (h, hop) in hops.iter().enumerate() {
            ranges[h] = match (&hop.keys, key) {
                (Some(keys), Some(k)) => {
                    let mut c = cursors[h];
                    while c < keys.len() && keys[c] < k {
                        c += 1;
                    }
                    let start = c;
                    while c < keys.len() && keys[c] == k {
                        c += 1;
                    }
                    cursors[h] = c;
                    (start, c)
                }
                _ => (0, hop.events.len()),
            };
        }
        // Only violations hold the key: allocate it only for them.
        let key_arc = || -> Option<Arc<str>> { key.map(Arc::from) };
        let mut ok = true;
        let mut first: Option<u32> = None;
        let mut prev: Option<u32> = None;
        for (h, hop) in circuit.hops.iter().enumerate() {
            let cands = &hops[h].events[ranges[h].0..ranges[h].1];
            let hop_name = || hop_names[h].clone();
            let Some(&last_cand) = cands.last() else {
                violations.push(CircuitViolation {
                    kind: ViolationKind::Missing,
                    key: key_arc(),
                    hop: h,
                    hop_name: hop_name(),
                    actual_s: None,
                    budget_s: hop.budget.map(|b| b.as_secs_f64()),
                    over_by_s: None,
                });
                ok = false;
                prev = None;
                break;
            };
            let chosen = match prev {
                None => cands[0],
                Some(p) => {
                    let at = cands.partition_point(|&c| diff(p, c) < 0.0);
                    if at == cands.len() {
                        let before = diff(p, last_cand);
                        violations.push(CircuitViolation {
                            kind: ViolationKind::OutOfOrder,
                            key: key_arc(),
                            hop: h,
                            hop_name: hop_name(),
                            actual_s: Some(before),
                            budget_s: hop.budget.map(|b| b.as_secs_f64()),
                            over_by_s: Some(-before),
                        });
                        ok = false;
                        prev = None;
                        break;
                    }
                    let c = cands[at];
                    let d = measure(p, c);
                    hop_values[h].push(d);
                    if let Some(b) = hop.budget {
                        let b = b.as_secs_f64();
                        if d > b {
                            violations.push(CircuitViolation {
                                kind: ViolationKind::HopOverBudget,
                                key: key_arc(),
                                hop: h,
                                hop_name: hop_name(),
                                actual_s: Some(d),
                                budget_s: Some(b),
                                over_by_s: Some(d - b),
                            });
                            ok = false;
                        }
                    }
                    c
                }
            };
            reached[h] += 1;
            first.get_or_insert(chosen);
            prev = Some(chosen);
        }
        if let (Some(f), Some(l)) = (first, prev) {
            let total = measure(f, l);
            totals.push(total);
            if let Some(b) = circuit.total_budget {
                let b = b.as_secs_f64();
                if total > b {
                    let h = n.saturating_sub(1);
                    violations.push(CircuitViolation {
                        kind: ViolationKind::TotalOverBudget,
                        key: key_arc(),
                        hop: h,
                        hop_name: hop_names.last().cloned().unwrap_or_default(),
                        actual_s: Some(total),
                        budget_s: Some(b),
                        over_by_s: Some(total - b),
                    });
                    ok = false;
                }
            }
        }
        if ok {
            complete += 1;
        }
    }

    let hops_report = circuit
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
            reached: reached[h],
            from_previous: latency_stats(&mut hop_values[h]),
        })
        .collect();
    CircuitReport {
        name: circuit.name.clone(),
        keyed,
        instances,
        complete,
        hops: hops_report,
        total: latency_stats(&mut totals),
        total_budget_s: circuit.total_budget.map(|b| b.as_secs_f64()),
        violations,
    }
}
