//! Delivery contracts: the Send events of one probe and the Receive events of another, paired
//! by key, counted per key and judged by the contract's delivery guarantee.

use testrium_events::EventType;

use crate::context::Context;
use crate::expect::ExpectedContract;
use crate::render::clean;
use crate::rows::Rows;
use crate::stats::{delta, latency_stats};
use crate::verdict::{ContractReport, Failure, FailureKind};

/// Keys listed per kind in a [`ContractReport`].
const KEYS_LISTED: usize = 100;
/// Keys named per failure message.
const KEYS_NAMED: usize = 10;

/// `(unit, step, type)` of an end of a contract, as interned in the rows.
pub(crate) type End = (u32, u32, EventType);

/// The ends (Send probe, Receive probe) of every contract that any event recorded: events of
/// these are judged by their contracts, not by the default correlation.
pub(crate) fn covered_ends(rows: &Rows, contracts: &[ExpectedContract]) -> Vec<End> {
    let mut ends = Vec::new();
    for c in contracts {
        ends.extend(end(rows, &c.send_unit, &c.send_probe, EventType::Send));
        ends.extend(end(
            rows,
            &c.receive_unit,
            &c.receive_probe,
            EventType::Receive,
        ));
    }
    ends.sort_unstable();
    ends.dedup();
    ends
}

fn end(rows: &Rows, unit: &str, probe: &str, kind: EventType) -> Option<End> {
    Some((rows.units.get(unit)?, rows.steps.get(probe)?, kind))
}

/// Each contract's report, with its failures appended to `failures`.
pub(crate) fn check_contracts(
    ctx: &Context<'_>,
    contracts: &[ExpectedContract],
    failures: &mut Vec<Failure>,
) -> Vec<ContractReport> {
    contracts
        .iter()
        .map(|c| check_one(ctx.rows, c, failures))
        .collect()
}

fn check_one(rows: &Rows, c: &ExpectedContract, failures: &mut Vec<Failure>) -> ContractReport {
    let send = end(rows, &c.send_unit, &c.send_probe, EventType::Send);
    let receive = end(rows, &c.receive_unit, &c.receive_probe, EventType::Receive);
    // (key id, row) of each keyed event of either end: 8 bytes per event of the contract.
    let mut events: Vec<(u32, u32)> = Vec::new();
    for (i, r) in rows.rows.iter().enumerate() {
        let this = Some((r.unit, r.step, r.kind()));
        if (this == send || this == receive)
            && let Some(k) = rows.key_id(i)
        {
            events.push((k, i as u32));
        }
    }
    events.sort_unstable_by_key(|&(k, _)| k);

    let within_s = c.within.map(|w| w.as_secs_f64());
    let mut report = ContractReport {
        name: c.name(),
        send: format!("{}:{}", c.send_unit, c.send_probe),
        receive: format!("{}:{}", c.receive_unit, c.receive_probe),
        delivery: c.delivery.as_str().to_owned(),
        within_s,
        ..ContractReport::default()
    };
    let (mut lost, mut duplicated, mut late, mut unsent) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut latencies: Vec<f64> = Vec::new();
    for group in events.chunk_by(|a, b| a.0 == b.0) {
        let key = group[0].0;
        let first = |kind: EventType| {
            group
                .iter()
                .map(|&(_, i)| i as usize)
                .filter(|&i| rows.rows[i].kind() == kind)
                .min_by(|&a, &b| rows.cmp(a, b))
        };
        let receives = group
            .iter()
            .filter(|&&(_, i)| rows.rows[i as usize].kind() == EventType::Receive)
            .count();
        if receives > 1 {
            duplicated.push(key);
        }
        match (first(EventType::Send), first(EventType::Receive)) {
            (Some(_), None) => {
                report.sent += 1;
                lost.push(key);
            }
            (Some(s), Some(r)) => {
                report.sent += 1;
                report.received += 1;
                let latency_s = delta(&rows.rows[s], &rows.rows[r]).0.max(0.0);
                if within_s.is_some_and(|w| latency_s > w) {
                    late.push(key);
                }
                latencies.push(latency_s);
            }
            (None, _) => unsent.push(key),
        }
    }
    drop(events);
    report.latency = latency_stats(&mut latencies);
    report.lost = lost.len() as u64;
    report.duplicated = duplicated.len() as u64;
    report.late = late.len() as u64;
    report.unsent = unsent.len() as u64;

    let before = failures.len();
    let delivery = c.delivery;
    let name = clean(&report.name).into_owned();
    let mut fail = |kind: FailureKind, keys: &[String], count: u64, what: &str| {
        let named: Vec<String> = keys
            .iter()
            .take(KEYS_NAMED)
            .map(|k| format!("`{}`", clean(k)))
            .collect();
        let more = if count as usize > named.len() {
            ", …"
        } else {
            ""
        };
        failures.push(Failure {
            kind,
            unit: None,
            circuit: None,
            contract: Some(report.name.clone()),
            key: keys.first().cloned(),
            message: format!(
                "contract `{name}` ({delivery}): {count} key(s) {what}: {}{more}",
                named.join(", ")
            ),
        });
    };
    report.lost_keys = listed(rows, lost);
    report.duplicated_keys = listed(rows, duplicated);
    report.late_keys = listed(rows, late);
    report.unsent_keys = listed(rows, unsent);
    if delivery.loss_fails() && report.lost > 0 {
        fail(
            FailureKind::ContractLost,
            &report.lost_keys,
            report.lost,
            "sent and never received",
        );
    }
    if delivery.duplicate_fails() && report.duplicated > 0 {
        fail(
            FailureKind::ContractDuplicated,
            &report.duplicated_keys,
            report.duplicated,
            "received more than once",
        );
    }
    if report.late > 0 {
        let what = format!(
            "received later than {}ms after sent",
            c.within.map_or(0, |w| w.as_millis())
        );
        fail(
            FailureKind::ContractLate,
            &report.late_keys,
            report.late,
            &what,
        );
    }
    if report.unsent > 0 {
        fail(
            FailureKind::ContractUnsent,
            &report.unsent_keys,
            report.unsent,
            "received but never sent",
        );
    }
    report.passed = failures.len() == before;
    report
}

/// The first [`KEYS_LISTED`] of `keys` in key order (not in the order events came in).
fn listed(rows: &Rows, mut keys: Vec<u32>) -> Vec<String> {
    let cmp = |a: &u32, b: &u32| rows.keys.name(*a).cmp(rows.keys.name(*b));
    if keys.len() > KEYS_LISTED {
        keys.select_nth_unstable_by(KEYS_LISTED - 1, cmp);
        keys.truncate(KEYS_LISTED);
    }
    keys.sort_unstable_by(cmp);
    keys.into_iter()
        .map(|k| rows.keys.name(k).to_owned())
        .collect()
}
