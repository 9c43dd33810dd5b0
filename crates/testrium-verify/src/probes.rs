//! Required probes: which probes of the enabled units were recorded.

use crate::context::Context;
use crate::expect::Expectations;
use crate::index::FxMap;
use crate::verdict::{ProbeCheck, ProbeReport};

/// Which required probes of the enabled units were recorded, with counts and first times.
pub(crate) fn required_probes(ctx: &Context<'_>, exp: &Expectations) -> ProbeReport {
    // One slot per distinct required (unit, probe); per interned unit, its (probe, slot) list.
    let mut slot_of: FxMap<(&str, &str), usize> = FxMap::default();
    let mut slots: Vec<(u64, Option<f64>)> = Vec::new();
    let mut watch: Vec<Vec<(&str, usize)>> = vec![Vec::new(); ctx.units.len()];
    for u in exp.units.iter().filter(|u| u.enabled) {
        for p in &u.probes {
            let next = slots.len();
            let slot = *slot_of.entry((u.name.as_str(), p.as_str())).or_insert(next);
            if slot == next {
                slots.push((0, None));
                if let Some(id) = ctx.units.get(&u.name) {
                    watch[id as usize].push((p.as_str(), slot));
                }
            }
        }
    }
    for (i, e) in ctx.events.iter().enumerate() {
        for &(probe, slot) in &watch[ctx.unit_of[i] as usize] {
            if probe == e.step {
                let (count, first) = &mut slots[slot];
                *count += 1;
                *first = Some(match *first {
                    Some(t) if t.total_cmp(&e.time).is_le() => t,
                    _ => e.time,
                });
            }
        }
    }
    let mut report = ProbeReport::default();
    for u in exp.units.iter().filter(|u| u.enabled) {
        for p in &u.probes {
            let (count, first_time) = slot_of
                .get(&(u.name.as_str(), p.as_str()))
                .map_or((0, None), |&slot| slots[slot]);
            let check = ProbeCheck {
                unit: u.name.clone(),
                probe: p.clone(),
                count,
                first_time,
            };
            if count > 0 {
                report.completed.push(check);
            } else {
                report.missing.push(check);
            }
        }
    }
    report
}
