//! The run as Chrome trace-event JSON (the format Perfetto UI and `chrome://tracing` load):
//! a process per group attempt, a thread (track) per unit, each probe an instant event on its
//! unit's track, each Send→Receive pair a flow arrow (`ph: "s"` at the Send, `ph: "f"` at the
//! Receive), each listed circuit instance an async span from its first hop to its last.
//!
//! Times are microseconds from the run's start: an attempt's probes at their offset from its
//! first probe, placed at the attempt's start time.

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use crate::model::{AttemptReport, RunReport};

/// Writes `run` as a Chrome trace-event JSON document, one event at a time (a flood of
/// probes never sits in memory as one document).
pub fn write(out: impl Write, run: &RunReport) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    out.write_all(b"{\"traceEvents\":[\n")?;
    let mut first = true;
    events(run, &mut |event| {
        if !first {
            out.write_all(b",\n")?;
        }
        first = false;
        serde_json::to_writer(&mut out, &event).map_err(io::Error::from)
    })?;
    out.write_all(b"\n],\"displayTimeUnit\":\"ms\",\"otherData\":")?;
    serde_json::to_writer(&mut out, &other_data(run))?;
    out.write_all(b"}\n")?;
    out.flush()
}

/// The trace-event document of `run` as one value: `{ "traceEvents": […], "displayTimeUnit":
/// "ms", "otherData": {…} }` (what [`write()`] writes).
pub fn document(run: &RunReport) -> Value {
    let mut all = Vec::new();
    let _ = events(run, &mut |event| {
        all.push(event);
        Ok(())
    });
    json!({
        "traceEvents": all,
        "displayTimeUnit": "ms",
        "otherData": other_data(run),
    })
}

fn other_data(run: &RunReport) -> Value {
    json!({
        "testrium_version": run.testrium_version,
        "base": run.base,
    })
}

type Emit<'e> = dyn FnMut(Value) -> io::Result<()> + 'e;

/// Every event of `run`, in order, to `emit`.
fn events(run: &RunReport, emit: &mut Emit<'_>) -> io::Result<()> {
    let mut ids = Ids::default();
    let mut pid = 0u64;
    for group in &run.groups {
        let many = group.attempts.len() > 1;
        for a in &group.attempts {
            pid += 1;
            let name = if many {
                format!("{} [attempt {}]", group.name, a.attempt)
            } else {
                group.name.clone()
            };
            let offset_us = ((a.started_at - run.started_at) * 1e6).max(0.0);
            attempt_events(emit, &mut ids, pid, &name, offset_us, a)?;
        }
    }
    Ok(())
}

/// Ids of flows and async spans, unique in the document.
#[derive(Default)]
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

fn attempt_events(
    emit: &mut Emit<'_>,
    ids: &mut Ids,
    pid: u64,
    name: &str,
    offset_us: f64,
    a: &AttemptReport,
) -> io::Result<()> {
    emit(json!({
        "name": "process_name", "ph": "M", "pid": pid, "tid": 0,
        "args": { "name": name },
    }))?;
    // One track per unit: the timeline's lanes, then any unit only the unit list names.
    let mut lanes: Vec<&str> = a.timeline.units.iter().map(String::as_str).collect();
    for u in &a.units {
        if !lanes.contains(&u.name.as_str()) {
            lanes.push(&u.name);
        }
    }
    for e in &a.timeline.events {
        if !lanes.contains(&e.unit.as_str()) {
            lanes.push(&e.unit);
        }
    }
    let tid_of: HashMap<&str, u64> = lanes
        .iter()
        .enumerate()
        .map(|(i, unit)| (*unit, i as u64 + 1))
        .collect();
    for (unit, tid) in lanes.iter().zip(1u64..) {
        emit(json!({
            "name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
            "args": { "name": unit },
        }))?;
        emit(json!({
            "name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
            "args": { "sort_index": tid },
        }))?;
    }

    // Lifetime phases as spans on each unit's track (`starting` until ready, `running` until
    // it ends), and each lifecycle mark (spawned, ready, exited 3, killed…) as an instant.
    // Marks count from the attempt's start, probes from its first probe.
    let ts_of = |at_s: f64| offset_us + (at_s * 1e3 - a.timeline.first_event_ms) * 1e3;
    let mut open: HashMap<&str, (&str, f64)> = HashMap::new();
    let close = |emit: &mut Emit<'_>, unit: &str, name: &str, start: f64, end: f64| {
        let tid = tid_of.get(unit).copied().unwrap_or(0);
        emit(json!({
            "name": name, "cat": "lifecycle", "ph": "X", "ts": start,
            "dur": (end - start).max(0.0), "pid": pid, "tid": tid,
        }))
    };
    for mark in &a.lifecycle {
        let ts = ts_of(mark.at_s);
        let tid = tid_of.get(mark.unit.as_str()).copied().unwrap_or(0);
        emit(json!({
            "name": mark.label, "cat": "lifecycle", "ph": "i", "s": "t",
            "ts": ts, "pid": pid, "tid": tid, "args": { "state": mark.state },
        }))?;
        let phase = match mark.state.as_str() {
            "starting" => Some("starting"),
            "ready" | "running" => Some("running"),
            _ => None,
        };
        if let Some(&(name, _)) = open.get(mark.unit.as_str())
            && Some(name) == phase
        {
            continue;
        }
        if let Some((name, start)) = open.remove(mark.unit.as_str()) {
            close(emit, &mark.unit, name, start, ts)?;
        }
        if let Some(phase) = phase {
            open.insert(&mark.unit, (phase, ts));
        }
    }
    let end = ts_of(a.duration_s);
    let mut still: Vec<(&str, (&str, f64))> = open.into_iter().collect();
    still.sort_by(|x, y| x.0.cmp(y.0));
    for (unit, (name, start)) in still {
        close(emit, unit, name, start, end)?;
    }

    // Probes.
    let mut at: HashMap<i64, (f64, u64)> = HashMap::new();
    for e in &a.timeline.events {
        let ts = offset_us + e.t_ms * 1e3;
        let tid = tid_of.get(e.unit.as_str()).copied().unwrap_or(0);
        at.insert(e.id, (ts, tid));
        emit(json!({
            "name": e.step, "cat": e.event_type, "ph": "i", "s": "t",
            "ts": ts, "pid": pid, "tid": tid,
            "args": { "id": e.id, "key": e.key, "failed": e.failed },
        }))?;
    }

    // Send→Receive pairs as flows.
    for arrow in &a.timeline.arrows {
        let (Some(&(from_ts, from_tid)), Some(&(to_ts, to_tid))) =
            (at.get(&arrow.from_id), at.get(&arrow.to_id))
        else {
            continue;
        };
        let id = ids.next();
        let args = json!({ "key": arrow.key, "latency_ms": arrow.latency_ms });
        emit(json!({
            "name": arrow.key, "cat": "pair", "ph": "s", "id": id, "bp": "e",
            "ts": from_ts, "pid": pid, "tid": from_tid, "args": args,
        }))?;
        emit(json!({
            "name": arrow.key, "cat": "pair", "ph": "f", "id": id, "bp": "e",
            "ts": to_ts, "pid": pid, "tid": to_tid, "args": args,
        }))?;
    }

    // Circuit instances as async spans, first hop to last.
    for circuit in &a.circuits {
        for trace in &circuit.traces {
            let times: Vec<f64> = trace
                .event_ids
                .iter()
                .filter_map(|id| at.get(id).map(|&(ts, _)| ts))
                .collect();
            let (Some(start), Some(end)) = (
                times.iter().copied().reduce(f64::min),
                times.iter().copied().reduce(f64::max),
            ) else {
                continue;
            };
            let id = ids.next();
            let span = format!("circuit {}", circuit.name);
            let args = json!({
                "key": trace.key,
                "complete": trace.complete,
                "hops_reached": trace.event_ids.len(),
                "hops": circuit.hops.len(),
            });
            emit(json!({
                "name": span, "cat": "circuit", "ph": "b", "id": id,
                "ts": start, "pid": pid, "tid": 0, "args": args,
            }))?;
            emit(json!({
                "name": span, "cat": "circuit", "ph": "e", "id": id,
                "ts": end, "pid": pid, "tid": 0,
            }))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn phases<'a>(doc: &'a Value, ph: &str) -> Vec<&'a Value> {
        doc["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == ph)
            .collect()
    }

    /// Issue 16: each unit's lifetime phases are spans on its track.
    #[test]
    fn lifetime_phases_are_spans_on_each_units_track() {
        let mut run = fixtures::run();
        let a = &mut run.groups[0].attempts[0];
        a.lifecycle = vec![
            crate::model::LifecycleMark::new("source", "starting", 0.001, "spawned"),
            crate::model::LifecycleMark::new("source", "ready", 0.002, "ready"),
            crate::model::LifecycleMark::new("source", "running", 0.002, "ready"),
            crate::model::LifecycleMark::new("source", "finished", 0.004, "exited 0"),
        ];
        let doc = document(&run);
        let spans: Vec<&Value> = phases(&doc, "X")
            .into_iter()
            .filter(|e| e["cat"] == "lifecycle")
            .collect();
        let names: Vec<&str> = spans.iter().filter_map(|e| e["name"].as_str()).collect();
        assert!(names.starts_with(&["starting", "running"]), "{names:?}");
        let running = spans[1];
        assert!(
            (running["dur"].as_f64().unwrap_or(0.0) - 2000.0).abs() < 1.0,
            "{running}"
        );
    }

    #[test]
    fn tracks_probes_flows_and_circuit_spans() {
        let run = fixtures::run();
        let mut text = Vec::new();
        write(&mut text, &run).unwrap();
        let doc: Value = serde_json::from_slice(&text).unwrap();
        let attempts: usize = run.groups.iter().map(|g| g.attempts.len()).sum();
        let units: usize = run
            .groups
            .iter()
            .flat_map(|g| &g.attempts)
            .map(|a| a.timeline.units.len())
            .sum();
        let threads = phases(&doc, "M")
            .into_iter()
            .filter(|e| e["name"] == "thread_name")
            .count();
        assert_eq!(threads, units);
        let processes = phases(&doc, "M")
            .into_iter()
            .filter(|e| e["name"] == "process_name")
            .count();
        assert_eq!(processes, attempts);
        let probes: usize = run
            .groups
            .iter()
            .flat_map(|g| &g.attempts)
            .map(|a| a.timeline.events.len())
            .sum();
        assert_eq!(phases(&doc, "i").len(), probes);
        let pairs: usize = run
            .groups
            .iter()
            .flat_map(|g| &g.attempts)
            .map(|a| a.timeline.arrows.len())
            .sum();
        assert_eq!(phases(&doc, "s").len(), pairs);
        assert_eq!(phases(&doc, "f").len(), pairs);
        // A flow starts on the Send's track and ends on the Receive's, at their times.
        let s = phases(&doc, "s")[0];
        let f = phases(&doc, "f")[0];
        assert_eq!(s["id"], f["id"]);
        assert_ne!(s["tid"], f["tid"]);
        assert!(f["ts"].as_f64() >= s["ts"].as_f64());
        // Every async span that begins ends.
        assert_eq!(phases(&doc, "b").len(), phases(&doc, "e").len());
    }
}
