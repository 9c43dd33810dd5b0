//! `verify`: every rule, combined into one verdict with its failures and warnings.

use crate::circuits::{Omitted, check_circuits, kind_index};
use crate::context::Context;
use crate::contracts::{check_contracts, covered_ends};
use crate::correlate::correlate;
use crate::evidence::{events_span, exceptions, late_events, unknown_units};
use crate::expect::Expectations;
use crate::input::{DirectTest, GroupTiming, UnitFailure, UnitOutcome, UnitStatus, VerifyInput};
use crate::probes::required_probes;
use crate::render::{clean, fmt_seconds};
use crate::rows::Rows;
use crate::stream::VerifyOptions;
use crate::verdict::{
    CircuitReport, Clock, Failure, FailureKind, RunSummary, Verdict, ViolationKind, Warning,
    WarningKind,
};
use testrium_events::MalformedEvent;

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
///
/// The same as giving each event to a [`Verifier`](crate::Verifier) with the default
/// [`VerifyOptions`] (every pair listed), which is how it is done.
pub fn verify(input: &VerifyInput<'_>) -> Verdict {
    let mut verifier = crate::Verifier::new(input.expectations, VerifyOptions::default());
    for e in input.events {
        verifier.push(e);
    }
    for m in input.malformed {
        verifier.push_malformed(m.clone());
    }
    verifier.finish(
        input.unit_outcomes,
        input.direct_tests,
        input.timing,
        input.timed_out,
    )
}

/// Everything but the events: what [`decide`] needs from the caller.
pub(crate) struct Finish<'a> {
    pub(crate) unit_outcomes: &'a [UnitOutcome],
    pub(crate) direct_tests: &'a [DirectTest],
    pub(crate) timing: GroupTiming,
    pub(crate) timed_out: bool,
}

/// The verdict over the rows a [`Verifier`](crate::Verifier) collected.
pub(crate) fn decide(
    exp: &Expectations,
    options: &VerifyOptions,
    rows: &Rows,
    mut malformed: Vec<MalformedEvent>,
    input: &Finish<'_>,
) -> Verdict {
    let mut ctx = Context::new(rows);
    let mut failures: Vec<Failure> = Vec::new();
    let mut warnings: Vec<Warning> = Vec::new();

    // Required probes of the enabled units.
    let probes = required_probes(&ctx, exp);
    for m in &probes.missing {
        failures.push(Failure {
            circuit: None,
            contract: None,
            key: None,
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
    let covered = covered_ends(rows, &exp.contracts);
    let correlation = correlate(&mut ctx, options.pair_limit, &covered);
    for e in &correlation.report.orphan_sends {
        failures.push(Failure {
            circuit: None,
            contract: None,
            key: e.key.as_deref().map(str::to_owned),
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
            circuit: None,
            contract: None,
            key: e.key.as_deref().map(str::to_owned),
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
            circuit: None,
            contract: None,
            key: Some(d.key.to_string()),
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
    let checked = check_circuits(&ctx, &exp.circuits);
    let mut circuits = Vec::with_capacity(checked.len());
    for (c, omitted) in checked {
        circuit_failures(&c, &omitted, &mut failures);
        circuits.push(c);
    }

    // Delivery contracts.
    let contracts = check_contracts(&ctx, &exp.contracts, &mut failures);

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
                circuit: None,
                contract: None,
                key: None,
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
            circuit: None,
            contract: None,
            key: None,
            kind: FailureKind::DirectTestFailed,
            unit: None,
            message: match &t.message {
                Some(m) => format!("direct test `{}` failed: {}", clean(&t.name), clean(m)),
                None => format!("direct test `{}` failed", clean(&t.name)),
            },
        });
    }

    // Malformed rows.
    malformed.sort_by(|a, b| {
        a.id.cmp(&b.id)
            .then_with(|| a.unit.cmp(&b.unit))
            .then_with(|| a.step.cmp(&b.step))
            .then_with(|| a.reason.cmp(&b.reason))
    });
    for m in &malformed {
        failures.push(Failure {
            circuit: None,
            contract: None,
            key: None,
            kind: FailureKind::MalformedEvent,
            unit: m.unit.clone(),
            message: format!("row {} could not be read: {}", m.id, clean(&m.reason)),
        });
    }

    if input.timed_out {
        failures.push(Failure {
            circuit: None,
            contract: None,
            key: None,
            kind: FailureKind::GroupTimeout,
            unit: None,
            message: match input.timing.duration_s() {
                Some(d) => format!("group timed out after {}", fmt_seconds(d)),
                None => "group timed out".to_owned(),
            },
        });
    }

    // Evidence: exceptions, unknown units, late events.
    let exceptions = exceptions(&mut ctx);
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

    let unknown_units = unknown_units(&ctx, exp);
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

    let late_events = late_events(&mut ctx, &input.timing);
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
        events: rows.len() as u64,
        malformed: malformed.len() as u64,
        late_events: late_events.len() as u64,
        events_span_s: events_span(rows),
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
        contracts,
        units: input.unit_outcomes.to_vec(),
        direct_tests: input.direct_tests.to_vec(),
        exceptions,
        malformed,
        unknown_units,
        late_events,
    }
}

/// The failures of one circuit: one per listed violation, one per kind for those left out.
fn circuit_failures(c: &CircuitReport, omitted: &Omitted, failures: &mut Vec<Failure>) {
    let name = clean(&c.name);
    for v in &c.violations {
        let key = v
            .key
            .as_deref()
            .map(|k| format!(" key `{}`", clean(k)))
            .unwrap_or_default();
        let hop = clean(&v.hop_name);
        let n = v.hop + 1;
        let (kind, message) = match v.kind {
            ViolationKind::Missing if v.unlinked > 0 => {
                let mut keys: Vec<String> = v
                    .unlinked_keys
                    .iter()
                    .map(|k| format!("`{}`", clean(k)))
                    .collect();
                if (keys.len() as u64) < v.unlinked && !keys.is_empty() {
                    keys.push("…".to_owned());
                }
                let keys = if keys.is_empty() {
                    "without a key".to_owned()
                } else {
                    format!("keys {}", keys.join(", "))
                };
                let message = match v.previous_key.as_deref() {
                    Some(p) => {
                        let p = clean(p);
                        format!(
                            "circuit `{name}`{key}: hop {n} `{hop}` recorded {}× but not caused by `{p}` ({keys}): give it `cause=\"{p}\"`, or use one key for the flow",
                            v.unlinked
                        )
                    }
                    None => format!(
                        "circuit `{name}`{key}: hop {n} `{hop}` recorded {}× but not linked to hop {} ({keys}): give it the key of the hop before as its `cause`, or record it in the same unit",
                        v.unlinked,
                        n - 1
                    ),
                };
                (FailureKind::CircuitIncomplete, message)
            }
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
            circuit: Some(c.name.clone()),
            contract: None,
            key: v.key.as_deref().map(str::to_owned),
            kind,
            unit: None,
            message,
        });
    }
    let kinds = [
        (
            ViolationKind::Missing,
            FailureKind::CircuitIncomplete,
            "incomplete",
        ),
        (
            ViolationKind::OutOfOrder,
            FailureKind::CircuitOutOfOrder,
            "out of order",
        ),
        (
            ViolationKind::HopOverBudget,
            FailureKind::HopOverBudget,
            "over a hop budget",
        ),
        (
            ViolationKind::TotalOverBudget,
            FailureKind::CircuitOverBudget,
            "over the total budget",
        ),
    ];
    for (vk, kind, what) in kinds {
        let count = omitted[kind_index(vk)];
        if count > 0 {
            failures.push(Failure {
                circuit: Some(c.name.clone()),
                contract: None,
                key: None,
                kind,
                unit: None,
                message: format!(
                    "circuit `{name}`: {count} more instance(s) {what}, not listed (the first {} broken instances are)",
                    c.violations.len().min(100)
                ),
            });
        }
    }
}

fn failure_kind(f: &UnitFailure) -> FailureKind {
    match f {
        UnitFailure::ReadinessTimeout { .. } | UnitFailure::ReadinessCheckTimeout { .. } => {
            FailureKind::ReadinessTimeout
        }
        UnitFailure::ExitedBeforeReady { .. } => FailureKind::ExitedBeforeReady,
        UnitFailure::NonZeroExit { .. } => FailureKind::NonZeroExit,
        UnitFailure::Signaled { .. } => FailureKind::Signaled,
        UnitFailure::Timeout { .. } => FailureKind::UnitTimeout,
        UnitFailure::SpawnFailed { .. } => FailureKind::SpawnFailed,
        UnitFailure::KilledAfterGrace { .. } => FailureKind::KilledAfterGrace,
        UnitFailure::DependencyFailed { .. } | UnitFailure::NotStarted { .. } => {
            FailureKind::DependencyFailed
        }
        UnitFailure::GroupTimedOut { .. } => FailureKind::GroupTimeout,
        // Never a failure by itself (see the variant); counted as one only if a caller says so.
        UnitFailure::ExitStatusLost => FailureKind::UnitFailed,
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
