//! Required probes: which probes of the enabled units were recorded.

use crate::context::Context;
use crate::expect::Expectations;
use crate::index::FxMap;
use crate::verdict::{ProbeCheck, ProbeReport};

/// Which required probes of the enabled units were recorded, with counts and first times.
pub(crate) fn required_probes(ctx: &Context<'_>, exp: &Expectations) -> ProbeReport {
    let rows = ctx.rows;
    // One slot per distinct required (unit, probe); per interned unit, its (step, slot) list.
    let mut slot_of: FxMap<(&str, &str), usize> = FxMap::default();
    let mut slots: Vec<(u64, Option<f64>)> = Vec::new();
    let mut watch: Vec<Vec<(u32, usize)>> = vec![Vec::new(); rows.units.len()];
    for u in exp.units.iter().filter(|u| u.enabled) {
        for p in &u.probes {
            let next = slots.len();
            let slot = *slot_of.entry((u.name.as_str(), p.as_str())).or_insert(next);
            if slot == next {
                slots.push((0, None));
                if let (Some(id), Some(step)) = (rows.units.get(&u.name), rows.steps.get(p)) {
                    watch[id as usize].push((step, slot));
                }
            }
        }
    }
    for r in &rows.rows {
        for &(step, slot) in &watch[r.unit as usize] {
            if step == r.step {
                let (count, first) = &mut slots[slot];
                *count += 1;
                *first = Some(match *first {
                    Some(t) if t.total_cmp(&r.time).is_le() => t,
                    _ => r.time,
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
