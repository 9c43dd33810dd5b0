//! Builds the report model from what the orchestrator returned, or stored in a run database
//! and read back ([`AttemptOutcome::read_stored`]). The only place that knows the library
//! types; the writers only know [`model`](crate::model).

use std::collections::{HashMap, HashSet};

use testrium_config::Group;
use testrium_events::{EventType, UnitState};
use testrium_orchestrator::{
    AttemptOutcome, EndReason, GroupOutcome, GroupRun, SuiteOutcome, TestriumExitCode,
};
use testrium_verify::{LatencyStats, UnitFailure, UnitStatus};

use crate::cause;

use crate::model::{
    Arrow, AttemptReport, CircuitReport, ContractReport, Correlation, DirectTestReport, Failure,
    FaultReport, GroupReport, HopStat, InstanceTrace, KeyedProbe, LIST_LIMIT, Latency,
    LifecycleMark, Omitted, ProbeCheck, RouteLatency, RunReport, SCHEMA, TIMELINE_LIMIT, Timeline,
    TimelineEvent, UnitReport, finite,
};

/// How many entries of a list of `len` are beyond [`LIST_LIMIT`].
fn extra(len: usize) -> u64 {
    len.saturating_sub(LIST_LIMIT) as u64
}

fn latency(s: &LatencyStats) -> Latency {
    Latency {
        count: s.count,
        mean_ms: finite(s.mean_s * 1e3),
        p50_ms: finite(s.p50_s * 1e3),
        p95_ms: finite(s.p95_s * 1e3),
        p99_ms: finite(s.p99_s * 1e3),
        max_ms: finite(s.max_s * 1e3),
    }
}

/// The report of a whole [`Suite`](testrium_orchestrator::Suite): every group that ran (or
/// could not), the skipped ones, the partition and the exit code — what `testrium run --json`
/// writes.
pub fn run_report(outcome: &SuiteOutcome) -> RunReport {
    RunReport {
        schema: SCHEMA,
        testrium_version: env!("CARGO_PKG_VERSION").to_owned(),
        base: outcome.base.display().to_string(),
        started_at: outcome.started_unix_s,
        duration_s: outcome.duration.as_secs_f64(),
        interrupted: outcome.interrupted,
        exit_code: outcome.exit_code(),
        partition: outcome.partition.map(|p| p.to_string()),
        groups: outcome.groups.iter().map(group_run_report).collect(),
        skipped: outcome.skipped.clone(),
    }
}

/// The report of one group of a suite: [`group_report`] when it ran, [`group_error`] when it
/// could not.
pub fn group_run_report(run: &GroupRun) -> GroupReport {
    match &run.result {
        Ok(outcome) => group_report(&run.group, outcome),
        Err(error) => group_error(&run.group, error),
    }
}

/// The group's report from its outcome.
pub fn group_report(group: &Group, outcome: &GroupOutcome) -> GroupReport {
    let attempts: Vec<AttemptReport> = outcome
        .attempts
        .iter()
        .map(|a| attempt_report(a, Some(group)))
        .collect();
    let passed = outcome.passed();
    let any_passed = attempts.iter().any(|a| a.passed);
    let any_failed = attempts.iter().any(|a| !a.passed && !a.interrupted);
    GroupReport {
        name: group.name.clone(),
        passed,
        flaky: any_passed && any_failed,
        interrupted: outcome.interrupted,
        duration_s: attempts.iter().map(|a| a.duration_s).sum(),
        error: (outcome.interrupted && attempts.is_empty())
            .then(|| "interrupted before its first attempt started".to_owned()),
        attempts,
    }
}

/// A group that could not be run at all.
pub fn group_error(group: &Group, error: &dyn std::error::Error) -> GroupReport {
    let message = testrium_config::error_chain(error);
    GroupReport {
        name: group.name.clone(),
        passed: false,
        flaky: false,
        interrupted: false,
        duration_s: 0.0,
        attempts: Vec::new(),
        error: Some(message),
    }
}

/// The report of one attempt alone: what each run directory keeps (`report.json`), and what
/// `testrium report` rebuilds from a run database. `base` is the base folder, when known.
pub fn attempt_run(group: &str, base: &str, attempt: AttemptReport) -> RunReport {
    RunReport {
        schema: SCHEMA,
        testrium_version: env!("CARGO_PKG_VERSION").to_owned(),
        base: base.to_owned(),
        started_at: attempt.started_at,
        duration_s: attempt.duration_s,
        interrupted: attempt.interrupted,
        exit_code: if attempt.passed {
            TestriumExitCode::SUCCESS
        } else if attempt.interrupted {
            TestriumExitCode::INTERRUPTED
        } else {
            TestriumExitCode::GROUP_FAILED
        },
        partition: None,
        groups: vec![GroupReport {
            name: group.to_owned(),
            passed: attempt.passed,
            flaky: false,
            interrupted: attempt.interrupted,
            duration_s: attempt.duration_s,
            attempts: vec![attempt],
            error: None,
        }],
        skipped: Vec::new(),
    }
}

/// One attempt's report. `group` is the configuration it ran, when known: with it, disabled
/// units are left out and required probes are listed in config order; without it (an attempt
/// read back from its run database), every unit of the outcome is listed and the probes in the
/// verifier's order (completed, then missing).
pub fn attempt_report(a: &AttemptOutcome, group: Option<&Group>) -> AttemptReport {
    let v = &a.verdict;
    let logs = a.run_dir.join("logs");
    // The setup process (when the group has one) first, as the orchestrator logs it.
    let setup = a
        .setup
        .iter()
        .map(|u| (u, logs.join(format!("_{}.log", u.name))));
    let started = a
        .units
        .iter()
        .filter(|u| {
            u.status != UnitStatus::NotStarted
                || group.is_none_or(|g| g.units.get(&u.name).is_none_or(|unit| unit.enabled))
        })
        .map(|u| (u, logs.join(format!("{}.log", u.name))));
    let units = setup
        .chain(started)
        .map(|(u, log)| UnitReport {
            name: u.name.clone(),
            status: u.status.as_str().to_owned(),
            passed: u.status != UnitStatus::Failed,
            exit_code: u.exit_code,
            signal: u.signal,
            reason: u.failure.as_ref().map(ToString::to_string),
            duration_s: u.duration_s,
            restarts: u.restarts,
            log_path: log.exists().then(|| log.display().to_string()),
            log_tail: u.log_tail.clone(),
            ports: u.ports.clone(),
        })
        .collect();

    // Required probes, in config order when the configuration is known.
    let mut probes: Vec<ProbeCheck> = v
        .probes
        .completed
        .iter()
        .chain(&v.probes.missing)
        .map(|p| ProbeCheck {
            unit: p.unit.clone(),
            step: p.probe.clone(),
            count: p.count,
        })
        .collect();
    if let Some(group) = group {
        let order = |p: &ProbeCheck| {
            group
                .units
                .get_index_of(&p.unit)
                .map(|u| {
                    let step = group.units[u]
                        .events
                        .iter()
                        .position(|e| *e == p.step)
                        .unwrap_or(usize::MAX);
                    (u, step)
                })
                .unwrap_or((usize::MAX, usize::MAX))
        };
        probes.sort_by_key(|p| order(p));
    }

    let omitted = Omitted {
        failures: extra(v.failures.len()),
        warnings: extra(v.warnings.len()),
        orphan_sends: extra(v.correlation.orphan_sends.len()),
        orphan_receives: extra(v.correlation.orphan_receives.len()),
        duplicate_keys: extra(v.correlation.duplicate_keys.len()),
    };
    let c = &v.correlation;
    let keyed = |e: &testrium_verify::EventRef| KeyedProbe {
        unit: e.unit.to_string(),
        step: e.step.to_string(),
        key: e.key.as_deref().unwrap_or_default().to_owned(),
    };
    let correlation = Correlation {
        paired: c.paired(),
        orphan_sends: c.orphan_sends.iter().take(LIST_LIMIT).map(keyed).collect(),
        orphan_receives: c
            .orphan_receives
            .iter()
            .take(LIST_LIMIT)
            .map(keyed)
            .collect(),
        duplicate_keys: c
            .duplicate_keys
            .iter()
            .take(LIST_LIMIT)
            .map(|d| KeyedProbe {
                unit: d.send_units.join(","),
                step: format!("{} sends, {} receives", d.send_count, d.receive_count),
                key: d.key.to_string(),
            })
            .collect(),
        latency: v.latency.overall.as_ref().map(latency),
        routes: v
            .latency
            .routes
            .iter()
            .map(|r| RouteLatency {
                from: r.send_unit.clone(),
                to: r.receive_unit.clone(),
                latency: latency(&r.stats),
            })
            .collect(),
    };

    let circuits = v
        .circuits
        .iter()
        .map(|circuit| {
            let message = circuit.violations.first().map(|first| {
                let mut m = format!(
                    "{} hop {} `{}`",
                    violation_word(first.kind),
                    first.hop + 1,
                    first.hop_name
                );
                if let Some(key) = &first.key {
                    m.push_str(&format!(" (key `{key}`)"));
                }
                if circuit.violations.len() > 1 {
                    m.push_str(&format!(" and {} more", circuit.violations.len() - 1));
                }
                m
            });
            CircuitReport {
                name: circuit.name.clone(),
                passed: circuit.passed(),
                hops: circuit
                    .hops
                    .iter()
                    .map(|h| format!("{}:{}", h.unit, h.probe))
                    .collect(),
                total: circuit.total.as_ref().map(latency),
                budget_ms: circuit.total_budget_s.map(|s| s * 1e3),
                message,
                hop_stats: circuit
                    .hops
                    .iter()
                    .map(|h| HopStat {
                        hop: format!("{}:{}", h.unit, h.probe),
                        reached: h.reached,
                        budget_ms: h.budget_s.map(|s| s * 1e3),
                        latency: h.from_previous.as_ref().map(latency),
                    })
                    .collect(),
                instances: circuit.instances,
                complete: circuit.complete,
                traces: circuit
                    .traces
                    .iter()
                    .map(|t| InstanceTrace {
                        key: t.key.as_deref().map(str::to_owned),
                        event_ids: t.event_ids.clone(),
                        complete: t.complete,
                    })
                    .collect(),
            }
        })
        .collect();

    let failures = v
        .failures
        .iter()
        .take(LIST_LIMIT)
        .map(|f| Failure {
            kind: f.kind.as_str().to_owned(),
            unit: f.unit.clone(),
            circuit: f.circuit.clone(),
            key: f.key.clone(),
            message: f.message.clone(),
            caused_by: None,
        })
        .collect();

    let warnings = v
        .warnings
        .iter()
        .take(LIST_LIMIT)
        .map(|w| Failure {
            kind: w.kind.as_str().to_owned(),
            unit: w.unit.clone(),
            circuit: None,
            key: None,
            message: w.message.clone(),
            caused_by: None,
        })
        .collect();

    let direct_tests = a
        .direct_tests
        .iter()
        .map(|t| DirectTestReport {
            name: t.name.clone(),
            passed: t.passed,
            duration_s: t.duration_s,
            message: t.message.clone(),
        })
        .collect();

    let mut report = AttemptReport {
        attempt: a.attempt,
        passed: a.passed(),
        interrupted: a.interrupted,
        run_dir: a.run_dir.display().to_string(),
        db_path: a.db_path.display().to_string(),
        started_at: a.timings.started_unix_s,
        duration_s: a.timings.total.as_secs_f64(),
        units,
        probes,
        correlation,
        circuits,
        contracts: v.contracts.iter().map(|c| contract(c, v)).collect(),
        direct_tests,
        failures,
        warnings,
        timeline: timeline(a, group),
        omitted,
        faults: a
            .faults
            .iter()
            .map(|f| FaultReport {
                after: f.after.clone(),
                occurrence: f.occurrence,
                unit: f.unit.clone(),
                action: f.action.clone(),
                fired: f.fired,
                at_s: f.at.map(|d| d.as_secs_f64()),
                latency_ms: f.latency.map(|d| d.as_secs_f64() * 1e3),
                optional: f.optional,
            })
            .collect(),
        root_causes: Vec::new(),
        retry: a.retry,
        lifecycle: lifecycle(a),
        timed_out_at_s: (a.end == EndReason::GroupTimeout)
            .then_some(a.timings.units_phase.as_secs_f64()),
    };
    // Whom a unit waited for: the dependency that failed, else (a unit never started) the
    // first of its dependencies in the configuration.
    let mut dependencies: HashMap<String, String> = HashMap::new();
    for u in &a.units {
        let dependency = match &u.failure {
            Some(UnitFailure::DependencyFailed { dependency }) => Some(dependency.clone()),
            _ if u.status == UnitStatus::NotStarted => group
                .and_then(|g| g.units.get(&u.name))
                .and_then(|unit| unit.dependencies.first().cloned()),
            _ => None,
        };
        if let Some(dependency) = dependency {
            dependencies.insert(u.name.clone(), dependency);
        }
    }
    cause::link(&mut report, &dependencies, group.map(|g| g.dir.as_path()));
    cause::logged_exceptions(&mut report, group.map(|g| g.dir.as_path()));
    report
}

fn violation_word(kind: testrium_verify::ViolationKind) -> &'static str {
    use testrium_verify::ViolationKind as V;
    match kind {
        V::Missing => "missing",
        V::OutOfOrder => "out of order at",
        V::HopOverBudget => "over budget at",
        _ => "over total budget at",
    }
}

/// A mark per lifecycle state each unit entered, in words: the exit of a unit's last process
/// carries its code or signal, a start after an exit is a restart, a stop of a unit that
/// ignored SIGTERM reads as a kill after the grace period.
fn lifecycle(a: &AttemptOutcome) -> Vec<LifecycleMark> {
    let mut started: HashSet<&str> = HashSet::new();
    let mut marks = Vec::with_capacity(a.transitions.len());
    for (n, t) in a.transitions.iter().enumerate() {
        let unit = a.units.iter().find(|u| u.name == t.unit);
        let last_exit = !a.transitions[n + 1..]
            .iter()
            .any(|later| later.unit == t.unit && later.state == UnitState::Starting);
        let exit = || match unit.map(|u| (u.exit_code, u.signal)) {
            Some((_, Some(signal))) if last_exit => format!("killed by signal {signal}"),
            Some((Some(code), None)) if last_exit => format!("exited {code}"),
            _ => "exited".to_owned(),
        };
        let label = match t.state {
            UnitState::Created => continue,
            UnitState::Starting if !started.insert(t.unit.as_str()) => "restarted".to_owned(),
            UnitState::Starting => "spawned".to_owned(),
            UnitState::Ready => "ready".to_owned(),
            UnitState::Running => continue,
            // Ended before it was ever started (the group was decided first).
            UnitState::Stopped | UnitState::Finished if !started.contains(t.unit.as_str()) => {
                "never started".to_owned()
            }
            UnitState::Finished => exit(),
            UnitState::Stopped if a.ignored_sigterm.contains(&t.unit) => {
                "killed after the grace period".to_owned()
            }
            UnitState::Stopped => "stopped by the runner".to_owned(),
            UnitState::Failed => match unit.and_then(|u| u.failure.as_ref()) {
                Some(failure) if last_exit => {
                    format!("failed: {}", failure_words(failure, &exit()))
                }
                _ => format!("failed: {}", exit()),
            },
            _ => continue,
        };
        marks.push(LifecycleMark::new(
            t.unit.clone(),
            t.state.as_str(),
            finite(t.at.as_secs_f64()),
            label,
        ));
    }
    marks
}

/// A unit's failure in a few words for a timeline tooltip.
fn failure_words(failure: &UnitFailure, exit: &str) -> String {
    match failure {
        UnitFailure::ReadinessTimeout { .. } | UnitFailure::ReadinessCheckTimeout { .. } => {
            format!("never ready ({exit})")
        }
        UnitFailure::ExitedBeforeReady { .. } => format!("{exit} before ready"),
        UnitFailure::Timeout { .. } => format!("its timeout expired ({exit})"),
        UnitFailure::SpawnFailed { message } => format!("could not spawn ({message})"),
        UnitFailure::KilledAfterGrace { .. } => "killed after the grace period".to_owned(),
        UnitFailure::DependencyFailed { dependency } => format!("dependency {dependency} failed"),
        UnitFailure::GroupTimedOut { .. } => format!("group timeout ({exit})"),
        _ => exit.to_owned(),
    }
}

fn timeline(a: &AttemptOutcome, group: Option<&Group>) -> Timeline {
    let v = &a.verdict;
    // A lane per enabled unit (every unit when the configuration is not known), then one per
    // unit that recorded events without being one of those.
    let mut units: Vec<String> = match group {
        Some(group) => group.enabled_units().map(|u| u.name.clone()).collect(),
        None => a.units.iter().map(|u| u.name.clone()).collect(),
    };
    // The attempt keeps its earliest events in the timeline's order (see `EventSample`).
    let sample = &a.events;
    for u in &sample.units {
        if !units.contains(u) {
            units.push(u.clone());
        }
    }
    let events = &sample.earliest;
    // One clock for all points: monotonic when every event has it, else wall.
    let mono = sample.all_monotonic;
    let at = |e: &testrium_events::Event| -> f64 {
        match e.mono_ns {
            Some(ns) if mono => ns as f64 / 1e6,
            _ => e.time * 1e3,
        }
    };
    let mut order: Vec<usize> = (0..events.len()).collect();
    let omitted = sample.count.saturating_sub(TIMELINE_LIMIT as u64);
    order.truncate(TIMELINE_LIMIT);
    let start = order.first().map(|&i| at(&events[i])).unwrap_or(0.0);
    // The start of the attempt on the events' clock (unknown in outcomes without timings).
    let attempt_start = if mono {
        a.timings.started_mono_ns as f64 / 1e6
    } else {
        a.timings.started_unix_s * 1e3
    };
    let first_event_ms = if order.is_empty() || attempt_start <= 0.0 {
        0.0
    } else {
        finite((start - attempt_start).max(0.0))
    };

    let mut failed_ids: HashSet<i64> = HashSet::new();
    failed_ids.extend(v.correlation.orphan_sends.iter().map(|e| e.id));
    failed_ids.extend(v.correlation.orphan_receives.iter().map(|e| e.id));
    failed_ids.extend(v.exceptions.iter().map(|x| x.event.id));
    let duplicate_keys: HashSet<&str> = v
        .correlation
        .duplicate_keys
        .iter()
        .map(|d| &*d.key)
        .collect();

    let timeline_events: Vec<TimelineEvent> = order
        .iter()
        .map(|&i| {
            let e = &events[i];
            let failed = failed_ids.contains(&e.id)
                || e.event_type == EventType::Exception
                || (e.event_type.requires_key()
                    && e.key.as_deref().is_some_and(|k| duplicate_keys.contains(k)));
            TimelineEvent {
                id: e.id,
                unit: e.unit.clone(),
                step: e.step.clone(),
                event_type: e.event_type.as_str().to_owned(),
                key: e.key.clone(),
                t_ms: finite((at(e) - start).max(0.0)),
                failed,
            }
        })
        .collect();
    let shown: HashMap<i64, ()> = timeline_events.iter().map(|e| (e.id, ())).collect();
    let arrows = v
        .correlation
        .pairs
        .iter()
        .filter(|p| shown.contains_key(&p.send_id) && shown.contains_key(&p.receive_id))
        .map(|p| Arrow {
            from_id: p.send_id,
            to_id: p.receive_id,
            key: p.key.to_string(),
            latency_ms: finite(p.latency_s * 1e3),
        })
        .collect();
    Timeline {
        units,
        events: timeline_events,
        omitted,
        arrows,
        first_event_ms,
    }
}

/// A delivery contract's report, with its failures (those the verifier tied to it).
fn contract(c: &testrium_verify::ContractReport, v: &testrium_verify::Verdict) -> ContractReport {
    let mut report = ContractReport {
        name: c.name.clone(),
        delivery: c.delivery.clone(),
        passed: c.passed,
        within_ms: c.within_s.map(|s| finite(s * 1e3)),
        sent: c.sent,
        received: c.received,
        lost: c.lost,
        duplicated: c.duplicated,
        late: c.late,
        unsent: c.unsent,
        latency: c.latency.as_ref().map(latency),
        failures: Vec::new(),
    };
    for f in v
        .failures
        .iter()
        .filter(|f| f.contract.as_deref() == Some(c.name.as_str()))
    {
        let mut failure = Failure::new(f.kind.as_str(), f.message.clone());
        failure.key = f.key.clone();
        report.failures.push(failure);
    }
    report
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use testrium_orchestrator::UnitTransition;
    use testrium_verify::{UnitOutcome, Verdict};

    use super::*;

    /// Issue 16: the lanes' marks say what happened in words: spawn, restart, ready, the exit
    /// code of the last process, a kill after the grace period.
    #[test]
    fn lifecycle_marks_read_as_what_happened() {
        let mut a = AttemptOutcome::new("g", 1, "/tmp/g-1", Verdict::new("g", []));
        let mut server = UnitOutcome::new("server", UnitStatus::Failed);
        server.exit_code = Some(3);
        server.failure = Some(UnitFailure::NonZeroExit { code: 3 });
        a.units = vec![server, UnitOutcome::new("proxy", UnitStatus::Stopped)];
        a.ignored_sigterm = vec!["proxy".into()];
        let ms = Duration::from_millis;
        a.transitions = vec![
            UnitTransition::new("server", UnitState::Created, ms(0)),
            UnitTransition::new("server", UnitState::Starting, ms(1)),
            UnitTransition::new("server", UnitState::Failed, ms(5)),
            UnitTransition::new("server", UnitState::Starting, ms(6)),
            UnitTransition::new("server", UnitState::Ready, ms(9)),
            UnitTransition::new("server", UnitState::Running, ms(9)),
            UnitTransition::new("server", UnitState::Failed, ms(20)),
            UnitTransition::new("proxy", UnitState::Starting, ms(2)),
            UnitTransition::new("proxy", UnitState::Stopped, ms(30)),
            UnitTransition::new("client", UnitState::Stopped, ms(31)),
        ];
        let labels: Vec<(String, String)> = lifecycle(&a)
            .into_iter()
            .map(|m| (m.unit, m.label))
            .collect();
        let expected = [
            ("server", "spawned"),
            ("server", "failed: exited"),
            ("server", "restarted"),
            ("server", "ready"),
            ("server", "failed: exited 3"),
            ("proxy", "spawned"),
            ("proxy", "killed after the grace period"),
            ("client", "never started"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(u, l)| (u.to_string(), l.to_string()))
            .collect();
        assert_eq!(labels, expected);
        assert_eq!(lifecycle(&a)[4].at_s, 0.02);
    }
}
