//! Rebuilds an attempt's report from what the orchestrator stores in every run database (the
//! outcome and the verdict as JSON in the meta table, the `Events` table), for runs that no
//! `testrium run` reported on — a harness embedding `testrium_orchestrator::Run`, or a run
//! cut short before its report was stored. Only the fields the report shows are read; a
//! field that is missing reads as empty.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;
use testrium_events::{EventType, RunDb};
use testrium_orchestrator::{OUTCOME_META_KEY, VERDICT_META_KEY};

use super::model::{
    Arrow, AttemptReport, CircuitReport, Correlation, DirectTestReport, Failure, GroupReport,
    HopStat, KeyedProbe, LIST_LIMIT, Latency, Omitted, ProbeCheck, RouteLatency, RunReport, SCHEMA,
    TIMELINE_LIMIT, Timeline, TimelineEvent, UnitReport, finite,
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Outcome {
    group: String,
    attempt: u32,
    run_dir: String,
    db_path: String,
    passed: bool,
    interrupted: bool,
    units: Vec<Unit>,
    setup: Option<Unit>,
    direct_tests: Vec<Direct>,
    timings: Timings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Timings {
    started_unix_s: f64,
    total: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Unit {
    name: String,
    status: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    failure: Option<Value>,
    restarts: u32,
    duration_s: Option<f64>,
    log_tail: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Direct {
    name: String,
    passed: bool,
    duration_s: f64,
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Verdict {
    failures: Vec<Finding>,
    warnings: Vec<Finding>,
    probes: Probes,
    correlation: Pairing,
    latency: LatencyReport,
    circuits: Vec<Circuit>,
    exceptions: Vec<Exception>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Finding {
    kind: String,
    unit: Option<String>,
    circuit: Option<String>,
    key: Option<String>,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Probes {
    completed: Vec<Probe>,
    missing: Vec<Probe>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Probe {
    unit: String,
    probe: String,
    count: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Pairing {
    pairs: Vec<Pair>,
    orphan_sends: Vec<EventRef>,
    orphan_receives: Vec<EventRef>,
    duplicate_keys: Vec<Duplicate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Pair {
    key: String,
    send_id: i64,
    receive_id: i64,
    latency_s: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EventRef {
    id: i64,
    unit: String,
    step: String,
    key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Duplicate {
    key: String,
    send_count: u64,
    receive_count: u64,
    send_units: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LatencyReport {
    overall: Option<Stats>,
    routes: Vec<Route>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Route {
    send_unit: String,
    receive_unit: String,
    stats: Stats,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default)]
struct Stats {
    count: u64,
    mean_s: f64,
    p50_s: f64,
    p95_s: f64,
    p99_s: f64,
    max_s: f64,
}

impl Stats {
    fn latency(self) -> Latency {
        Latency {
            count: self.count,
            mean_ms: finite(self.mean_s * 1e3),
            p50_ms: finite(self.p50_s * 1e3),
            p95_ms: finite(self.p95_s * 1e3),
            p99_ms: finite(self.p99_s * 1e3),
            max_ms: finite(self.max_s * 1e3),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Circuit {
    name: String,
    hops: Vec<Hop>,
    total: Option<Stats>,
    total_budget_s: Option<f64>,
    violations: Vec<Violation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Hop {
    unit: String,
    probe: String,
    budget_s: Option<f64>,
    reached: u64,
    from_previous: Option<Stats>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Violation {
    kind: String,
    key: Option<String>,
    hop: usize,
    hop_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Exception {
    event: EventRef,
}

/// The report of the attempt stored in `db`, from the orchestrator's records; `None` when the
/// database holds no outcome (the attempt never finished).
pub fn rebuild(db: &RunDb) -> Result<Option<RunReport>, String> {
    let Some(outcome) = db.read_meta(OUTCOME_META_KEY) else {
        return Ok(None);
    };
    let outcome: Outcome = serde_json::from_str(&outcome)
        .map_err(|e| format!("cannot read the stored outcome: {e}"))?;
    let verdict: Verdict = match db.read_meta(VERDICT_META_KEY) {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| format!("cannot read the stored verdict: {e}"))?,
        None => Verdict::default(),
    };
    let events = db
        .read_events()
        .map_err(|e| format!("cannot read the events: {e}"))?
        .events;
    let attempt = attempt(&outcome, &verdict, &events);
    Ok(Some(RunReport {
        schema: SCHEMA,
        testrium_version: env!("CARGO_PKG_VERSION").to_owned(),
        base: String::new(),
        started_at: attempt.started_at,
        duration_s: attempt.duration_s,
        interrupted: attempt.interrupted,
        exit_code: if attempt.passed {
            0
        } else if attempt.interrupted {
            130
        } else {
            1
        },
        partition: None,
        groups: vec![GroupReport {
            name: outcome.group.clone(),
            passed: attempt.passed,
            flaky: false,
            interrupted: attempt.interrupted,
            duration_s: attempt.duration_s,
            attempts: vec![attempt],
            error: None,
        }],
        skipped: Vec::new(),
    }))
}

fn finding(f: &Finding) -> Failure {
    Failure {
        kind: f.kind.clone(),
        unit: f.unit.clone(),
        circuit: f.circuit.clone(),
        key: f.key.clone(),
        message: f.message.clone(),
    }
}

/// `non_zero_exit (code 3)` from `{"reason": "non_zero_exit", "code": 3}`.
fn reason(failure: &Value) -> String {
    let Some(map) = failure.as_object() else {
        return failure.to_string();
    };
    let tag = map
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("failed");
    let details: Vec<String> = map
        .iter()
        .filter(|(k, _)| *k != "reason")
        .map(|(k, v)| match v.as_str() {
            Some(s) => format!("{k} {s}"),
            None => format!("{k} {v}"),
        })
        .collect();
    if details.is_empty() {
        tag.to_owned()
    } else {
        format!("{tag} ({})", details.join(", "))
    }
}

fn attempt(o: &Outcome, v: &Verdict, events: &[testrium_events::Event]) -> AttemptReport {
    let logs = std::path::Path::new(&o.run_dir).join("logs");
    let setup = o.setup.iter().map(|u| (u, format!("_{}.log", u.name)));
    let units = setup
        .chain(o.units.iter().map(|u| (u, format!("{}.log", u.name))))
        .map(|(u, file)| {
            let log = logs.join(file);
            UnitReport {
                name: u.name.clone(),
                status: u.status.clone(),
                passed: u.status != "failed",
                exit_code: u.exit_code,
                signal: u.signal,
                reason: u.failure.as_ref().map(reason),
                duration_s: u.duration_s,
                restarts: u.restarts,
                log_path: log.exists().then(|| log.display().to_string()),
                log_tail: u.log_tail.clone(),
            }
        })
        .collect();
    let probes = v
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
    let keyed = |e: &EventRef| KeyedProbe {
        unit: e.unit.clone(),
        step: e.step.clone(),
        key: e.key.clone().unwrap_or_default(),
    };
    let c = &v.correlation;
    let extra = |n: usize| n.saturating_sub(LIST_LIMIT) as u64;
    let correlation = Correlation {
        paired: c.pairs.len() as u64,
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
                key: d.key.clone(),
            })
            .collect(),
        latency: v.latency.overall.map(Stats::latency),
        routes: v
            .latency
            .routes
            .iter()
            .map(|r| RouteLatency {
                from: r.send_unit.clone(),
                to: r.receive_unit.clone(),
                latency: r.stats.latency(),
            })
            .collect(),
    };
    let circuits = v
        .circuits
        .iter()
        .map(|circuit| CircuitReport {
            name: circuit.name.clone(),
            passed: circuit.violations.is_empty(),
            hops: circuit
                .hops
                .iter()
                .map(|h| format!("{}:{}", h.unit, h.probe))
                .collect(),
            total: circuit.total.map(Stats::latency),
            budget_ms: circuit.total_budget_s.map(|s| s * 1e3),
            message: circuit.violations.first().map(|first| {
                let mut m = format!(
                    "{} at hop {} `{}`",
                    first.kind,
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
            }),
            hop_stats: circuit
                .hops
                .iter()
                .map(|h| HopStat {
                    hop: format!("{}:{}", h.unit, h.probe),
                    reached: h.reached,
                    budget_ms: h.budget_s.map(|s| s * 1e3),
                    latency: h.from_previous.map(Stats::latency),
                })
                .collect(),
        })
        .collect();

    // The timeline: every lane that recorded something, in the order of the units.
    let mut lanes: Vec<String> = o.units.iter().map(|u| u.name.clone()).collect();
    for e in events {
        if !lanes.contains(&e.unit) {
            lanes.push(e.unit.clone());
        }
    }
    let mono = events.iter().all(|e| e.mono_ns.is_some());
    let at = |e: &testrium_events::Event| match e.mono_ns {
        Some(ns) if mono => ns as f64 / 1e6,
        _ => e.time * 1e3,
    };
    let mut order: Vec<&testrium_events::Event> = events.iter().collect();
    order.sort_by(|x, y| at(x).total_cmp(&at(y)).then(x.id.cmp(&y.id)));
    let omitted_events = order.len().saturating_sub(TIMELINE_LIMIT) as u64;
    order.truncate(TIMELINE_LIMIT);
    let start = order.first().map(|e| at(e)).unwrap_or(0.0);
    let mut failed: HashSet<i64> = c.orphan_sends.iter().map(|e| e.id).collect();
    failed.extend(c.orphan_receives.iter().map(|e| e.id));
    failed.extend(v.exceptions.iter().map(|x| x.event.id));
    let duplicates: HashSet<&str> = c.duplicate_keys.iter().map(|d| d.key.as_str()).collect();
    let timeline_events: Vec<TimelineEvent> = order
        .iter()
        .map(|e| TimelineEvent {
            id: e.id,
            unit: e.unit.clone(),
            step: e.step.clone(),
            event_type: e.event_type.as_str().to_owned(),
            key: e.key.clone(),
            t_ms: finite((at(e) - start).max(0.0)),
            failed: failed.contains(&e.id)
                || e.event_type == EventType::Exception
                || (e.event_type.requires_key()
                    && e.key.as_deref().is_some_and(|k| duplicates.contains(k))),
        })
        .collect();
    let shown: HashSet<i64> = timeline_events.iter().map(|e| e.id).collect();
    let arrows = c
        .pairs
        .iter()
        .filter(|p| shown.contains(&p.send_id) && shown.contains(&p.receive_id))
        .map(|p| Arrow {
            from_id: p.send_id,
            to_id: p.receive_id,
            key: p.key.clone(),
            latency_ms: finite(p.latency_s * 1e3),
        })
        .collect();

    AttemptReport {
        attempt: o.attempt,
        passed: o.passed,
        interrupted: o.interrupted,
        run_dir: o.run_dir.clone(),
        db_path: o.db_path.clone(),
        started_at: o.timings.started_unix_s,
        duration_s: o.timings.total,
        units,
        probes,
        correlation,
        circuits,
        direct_tests: o
            .direct_tests
            .iter()
            .map(|t| DirectTestReport {
                name: t.name.clone(),
                passed: t.passed,
                duration_s: t.duration_s,
                message: t.message.clone(),
            })
            .collect(),
        failures: v.failures.iter().take(LIST_LIMIT).map(finding).collect(),
        warnings: v.warnings.iter().take(LIST_LIMIT).map(finding).collect(),
        timeline: Timeline {
            units: lanes,
            events: timeline_events,
            omitted: omitted_events,
            arrows,
        },
        omitted: Omitted {
            failures: extra(v.failures.len()),
            warnings: extra(v.warnings.len()),
            orphan_sends: extra(c.orphan_sends.len()),
            orphan_receives: extra(c.orphan_receives.len()),
            duplicate_keys: extra(c.duplicate_keys.len()),
        },
    }
}
