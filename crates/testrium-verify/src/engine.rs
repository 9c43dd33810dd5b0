//! `verify`: every rule, combined into one verdict.

use testrium_events::{Event, EventType};

use crate::circuits::check_circuits;
use crate::context::Context;
use crate::correlate::correlate;
use crate::index::{FxMap, canonical_cmp};
use crate::input::{UnitFailure, UnitStatus, VerifyInput};
use crate::render::{clean, fmt_seconds};
use crate::verdict::{
    Clock, ExceptionEvidence, Failure, FailureKind, ProbeCheck, ProbeReport, RunSummary,
    UnknownUnit, Verdict, ViolationKind, Warning, WarningKind,
};

/// The longest exception message kept as evidence, in characters.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Verifies one run: required probes, Send/Receive correlation, latency, declared circuits,
/// unit outcomes, direct tests, malformed rows and the group timeout, combined into a
/// [`Verdict`].
///
/// Pure: no I/O, no clock, no global state; the verdict does not depend on the order of the
/// events. Never panics on any event list.
///
/// A run fails on any missing required probe, orphan send or receive, duplicate key, failed
/// unit, failed direct test, circuit violation, malformed row, or group timeout (see
/// [`FailureKind`]). `Exception` events are evidence (warnings) and do not fail a run by
/// themselves: as in the original, a unit that raises fails through its exit status.
pub fn verify(input: &VerifyInput<'_>) -> Verdict {
    let exp = input.expectations;
    let mut ctx = Context::new(input.events);
    let events = input.events;
    let mut failures: Vec<Failure> = Vec::new();
    let mut warnings: Vec<Warning> = Vec::new();

    // Required probes of the enabled units.
    let probes = required_probes(&ctx, input);
    for m in &probes.missing {
        failures.push(Failure {
            kind: FailureKind::MissingProbe,
            unit: Some(m.unit.clone()),
            message: format!(
                "unit `{}` did not record required probe `{}`",
                clean(&m.unit),
                clean(&m.probe)
            ),
        });
    }

    // Correlation and latency.
    let correlation = correlate(&mut ctx);
    for e in &correlation.report.orphan_sends {
        failures.push(Failure {
            kind: FailureKind::OrphanSend,
            unit: Some(e.unit.to_string()),
            message: format!(
                "`{}:{}` sent key `{}` that was never received",
                clean(&e.unit),
                clean(&e.step),
                clean(e.key.as_deref().unwrap_or_default())
            ),
        });
    }
    for e in &correlation.report.orphan_receives {
        failures.push(Failure {
            kind: FailureKind::OrphanReceive,
            unit: Some(e.unit.to_string()),
            message: format!(
                "`{}:{}` received key `{}` that was never sent",
                clean(&e.unit),
                clean(&e.step),
                clean(e.key.as_deref().unwrap_or_default())
            ),
        });
    }
    for d in &correlation.report.duplicate_keys {
        let mut message = format!(
            "key `{}` sent {} time(s) by {}, received {} time(s)",
            clean(&d.key),
            d.send_count,
            unit_list(&d.send_units),
            d.receive_count
        );
        if !d.repeated_receivers.is_empty() {
            message.push_str(&format!(
                "; received more than once by {}",
                unit_list(&d.repeated_receivers)
            ));
        }
        failures.push(Failure {
            kind: FailureKind::DuplicateKey,
            unit: None,
            message,
        });
    }
    for n in &correlation.negative {
        warnings.push(Warning {
            kind: WarningKind::NegativeLatency,
            unit: Some(n.receive_unit.clone()),
            message: format!(
                "{} pair(s) on route `{}` -> `{}` received before sent on the {} clock (worst {}); latency counted as 0",
                n.count,
                clean(&n.send_unit),
                clean(&n.receive_unit),
                match n.clock {
                    Clock::Monotonic => "monotonic",
                    _ => "wall",
                },
                fmt_seconds(n.worst_s)
            ),
        });
    }

    // Declared circuits.
    let circuits = check_circuits(&ctx, &exp.circuits);
    for c in &circuits {
        for v in &c.violations {
            let key = v
                .key
                .as_deref()
                .map(|k| format!(" key `{}`", clean(k)))
                .unwrap_or_default();
            let name = clean(&c.name);
            let hop = clean(&v.hop_name);
            let n = v.hop + 1;
            let (kind, message) = match v.kind {
                ViolationKind::Missing => (
                    FailureKind::CircuitIncomplete,
                    format!("circuit `{name}`{key}: hop {n} `{hop}` never happened"),
                ),
                ViolationKind::OutOfOrder => (
                    FailureKind::CircuitOutOfOrder,
                    format!(
                        "circuit `{name}`{key}: hop {n} `{hop}` happened only before the previous hop (by {})",
                        fmt_seconds(v.over_by_s.unwrap_or_default())
                    ),
                ),
                ViolationKind::HopOverBudget => (
                    FailureKind::HopOverBudget,
                    format!(
                        "circuit `{name}`{key}: hop {n} `{hop}` took {}, over its {} budget by {}",
                        fmt_seconds(v.actual_s.unwrap_or_default()),
                        fmt_seconds(v.budget_s.unwrap_or_default()),
                        fmt_seconds(v.over_by_s.unwrap_or_default())
                    ),
                ),
                _ => (
                    FailureKind::CircuitOverBudget,
                    format!(
                        "circuit `{name}`{key}: took {} from first to last hop, over its {} budget by {}",
                        fmt_seconds(v.actual_s.unwrap_or_default()),
                        fmt_seconds(v.budget_s.unwrap_or_default()),
                        fmt_seconds(v.over_by_s.unwrap_or_default())
                    ),
                ),
            };
            failures.push(Failure {
                kind,
                unit: None,
                message,
            });
        }
    }

    // Unit outcomes.
    for u in input.unit_outcomes {
        let name = clean(&u.name);
        if u.status == UnitStatus::Failed {
            let kind = match &u.failure {
                Some(f) => failure_kind(f),
                None => match (u.exit_code, u.signal) {
                    (_, Some(_)) => FailureKind::Signaled,
                    (Some(c), None) if c != 0 => FailureKind::NonZeroExit,
                    _ => FailureKind::UnitFailed,
                },
            };
            let reason = match &u.failure {
                Some(f) => clean(&f.to_string()).into_owned(),
                None => match (u.exit_code, u.signal) {
                    (_, Some(s)) => {
                        format!("killed by signal {}", crate::render::signal_name(s))
                    }
                    (Some(c), None) if c != 0 => format!("exited with status {c}"),
                    _ => "failed (no reason given)".to_owned(),
                },
            };
            failures.push(Failure {
                kind,
                unit: Some(u.name.clone()),
                message: format!("unit `{name}` {reason}"),
            });
        } else if let Some(f) = &u.failure {
            warnings.push(Warning {
                kind: WarningKind::UnitNotice,
                unit: Some(u.name.clone()),
                message: format!("unit `{name}` ({}) {}", u.status, clean(&f.to_string())),
            });
        }
    }

    // Direct tests.
    for t in input.direct_tests.iter().filter(|t| !t.passed) {
        failures.push(Failure {
            kind: FailureKind::DirectTestFailed,
            unit: None,
            message: match &t.message {
                Some(m) => format!("direct test `{}` failed: {}", clean(&t.name), clean(m)),
                None => format!("direct test `{}` failed", clean(&t.name)),
            },
        });
    }

    // Malformed rows.
    let mut malformed = input.malformed.to_vec();
    malformed.sort_by(|a, b| {
        a.id.cmp(&b.id)
            .then_with(|| a.unit.cmp(&b.unit))
            .then_with(|| a.step.cmp(&b.step))
            .then_with(|| a.reason.cmp(&b.reason))
    });
    for m in &malformed {
        failures.push(Failure {
            kind: FailureKind::MalformedEvent,
            unit: m.unit.clone(),
            message: format!("row {} could not be read: {}", m.id, clean(&m.reason)),
        });
    }

    if input.timed_out {
        failures.push(Failure {
            kind: FailureKind::GroupTimeout,
            unit: None,
            message: match input.timing.duration_s() {
                Some(d) => format!("group timed out after {}", fmt_seconds(d)),
                None => "group timed out".to_owned(),
            },
        });
    }

    // Evidence: exceptions, unknown units, late events.
    let mut exception_idx: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].event_type == EventType::Exception)
        .collect();
    exception_idx.sort_unstable_by(|&a, &b| canonical_cmp(&events[a], &events[b]));
    let exceptions: Vec<ExceptionEvidence> = exception_idx
        .iter()
        .map(|&i| ExceptionEvidence {
            event: ctx.event_ref(i),
            message: exception_message(&events[i]),
        })
        .collect();
    for x in &exceptions {
        warnings.push(Warning {
            kind: WarningKind::Exception,
            unit: Some(x.event.unit.to_string()),
            message: match &x.message {
                Some(m) => format!(
                    "unit `{}` raised at `{}`: {}",
                    clean(&x.event.unit),
                    clean(&x.event.step),
                    clean(m)
                ),
                None => format!(
                    "unit `{}` raised at `{}`",
                    clean(&x.event.unit),
                    clean(&x.event.step)
                ),
            },
        });
    }

    let mut unknown_units: Vec<UnknownUnit> = Vec::new();
    if !exp.units.is_empty() {
        let known: FxMap<&str, ()> = exp.units.iter().map(|u| (u.name.as_str(), ())).collect();
        for id in 0..ctx.units.len() as u32 {
            let name = ctx.units.name(id);
            if !known.contains_key(name) {
                unknown_units.push(UnknownUnit {
                    unit: name.to_owned(),
                    events: ctx.unit_counts[id as usize],
                });
            }
        }
        unknown_units.sort_by(|a, b| a.unit.cmp(&b.unit));
        for u in &unknown_units {
            warnings.push(Warning {
                kind: WarningKind::UnknownUnit,
                unit: Some(u.unit.clone()),
                message: format!(
                    "{} event(s) from unit `{}`, which is not in the group",
                    u.events,
                    clean(&u.unit)
                ),
            });
        }
    }

    let mut late_idx: Vec<usize> = Vec::new();
    let t = input.timing;
    if t.ended.is_some() || t.ended_mono_ns.is_some() {
        for (i, e) in events.iter().enumerate() {
            let late = match (e.mono_ns, t.ended_mono_ns) {
                (Some(m), Some(end)) => m > end,
                _ => t.ended.is_some_and(|end| e.time > end),
            };
            if late {
                late_idx.push(i);
            }
        }
    }
    late_idx.sort_unstable_by(|&a, &b| canonical_cmp(&events[a], &events[b]));
    let late_events: Vec<_> = late_idx.iter().map(|&i| ctx.event_ref(i)).collect();
    if !late_events.is_empty() {
        let mut per_unit: Vec<(&str, u64)> = Vec::new();
        let mut names: Vec<&str> = late_events.iter().map(|e| &*e.unit).collect();
        names.sort_unstable();
        for n in names {
            match per_unit.last_mut() {
                Some((last, c)) if *last == n => *c += 1,
                _ => per_unit.push((n, 1)),
            }
        }
        for (unit, count) in per_unit {
            warnings.push(Warning {
                kind: WarningKind::LateEvent,
                unit: Some(unit.to_owned()),
                message: format!(
                    "{count} event(s) from unit `{}` recorded after the group ended",
                    clean(unit)
                ),
            });
        }
    }

    failures.sort_by_key(|f| f.kind);
    warnings.sort_by_key(|w| w.kind);

    let summary = RunSummary {
        events: events.len() as u64,
        malformed: malformed.len() as u64,
        late_events: late_events.len() as u64,
        events_span_s: events_span(events),
        group_duration_s: input.timing.duration_s(),
        timed_out: input.timed_out,
    };

    Verdict {
        group: exp.group.clone(),
        passed: failures.is_empty(),
        failures,
        warnings,
        summary,
        probes,
        correlation: correlation.report,
        latency: correlation.latency,
        circuits,
        units: input.unit_outcomes.to_vec(),
        direct_tests: input.direct_tests.to_vec(),
        exceptions,
        malformed,
        unknown_units,
        late_events,
    }
}

fn failure_kind(f: &UnitFailure) -> FailureKind {
    match f {
        UnitFailure::ReadinessTimeout { .. } => FailureKind::ReadinessTimeout,
        UnitFailure::ExitedBeforeReady { .. } => FailureKind::ExitedBeforeReady,
        UnitFailure::NonZeroExit { .. } => FailureKind::NonZeroExit,
        UnitFailure::Signaled { .. } => FailureKind::Signaled,
        UnitFailure::Timeout { .. } => FailureKind::UnitTimeout,
        UnitFailure::SpawnFailed { .. } => FailureKind::SpawnFailed,
        UnitFailure::KilledAfterGrace { .. } => FailureKind::KilledAfterGrace,
        UnitFailure::DependencyFailed { .. } => FailureKind::DependencyFailed,
    }
}

fn unit_list(units: &[String]) -> String {
    if units.is_empty() {
        return "no unit".to_owned();
    }
    units
        .iter()
        .map(|u| format!("`{}`", clean(u)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which required probes of the enabled units were recorded, with counts and first times.
fn required_probes(ctx: &Context<'_>, input: &VerifyInput<'_>) -> ProbeReport {
    let exp = input.expectations;
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

/// `message` from an Exception event's metadata (a JSON object), bounded in length.
fn exception_message(e: &Event) -> Option<String> {
    let meta = e.metadata.as_deref()?;
    let value: serde_json::Value = serde_json::from_str(meta).ok()?;
    let message = match value.get("message")? {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if message.chars().count() > MAX_MESSAGE_CHARS {
        let mut cut: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
        cut.push_str("… (truncated)");
        Some(cut)
    } else {
        Some(message)
    }
}

/// First to last event, seconds: monotonic when every event has it, else wall clock.
fn events_span(events: &[Event]) -> Option<f64> {
    if events.is_empty() {
        return None;
    }
    if events.iter().all(|e| e.mono_ns.is_some()) {
        let (lo, hi) = events
            .iter()
            .filter_map(|e| e.mono_ns)
            .fold((i64::MAX, i64::MIN), |(lo, hi), m| (lo.min(m), hi.max(m)));
        return Some(crate::stats::ns_to_s(i128::from(hi) - i128::from(lo)));
    }
    // total_cmp, not f64::min/max: the result must not depend on the order (±0, NaN).
    let lo = events.iter().map(|e| e.time).min_by(f64::total_cmp)?;
    let hi = events.iter().map(|e| e.time).max_by(f64::total_cmp)?;
    Some(hi - lo)
}
