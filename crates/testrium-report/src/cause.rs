//! Root causes: which failures of an attempt caused the others. A unit that could not be
//! spawned, crashed, exited non-zero, never became ready or timed out is a cause; the probes it
//! then never recorded, the units that depended on it and the circuit instances that needed it
//! are its consequences. [`link`] orders the flat `failures` list cause first (each cause
//! followed by its consequences), sets their `caused_by` and fills `root_causes`.

use std::collections::HashMap;
use std::path::Path;

use crate::model::{AttemptReport, Failure, RootCause};

/// The order of causes: spawn failure, crash, readiness failure, timeout. `None`: not a cause
/// by itself.
fn rank(kind: &str) -> Option<u8> {
    Some(match kind {
        "spawn_failed" => 0,
        "signaled" | "non_zero_exit" | "exited_before_ready" | "unit_failed" => 1,
        "readiness_timeout" => 2,
        "unit_timeout" | "group_timeout" => 3,
        _ => return None,
    })
}

/// Orders `a.failures` cause first, links each consequence to its cause (`caused_by`) and
/// fills `a.root_causes`. `dependencies` maps a unit that was not started (or stopped) because
/// a dependency failed to that dependency; `group_dir` is the group's folder, when known, to
/// find the innermost frame of a traceback in the group's own code.
pub(crate) fn link(
    a: &mut AttemptReport,
    dependencies: &HashMap<String, String>,
    group_dir: Option<&Path>,
) {
    let failures = std::mem::take(&mut a.failures);
    // The first cause of each unit, by rank then order.
    let mut roots: Vec<usize> = (0..failures.len())
        .filter(|&i| rank(&failures[i].kind).is_some())
        .collect();
    roots.sort_by_key(|&i| rank(&failures[i].kind));
    let mut unit_root: HashMap<&str, usize> = HashMap::new();
    for &i in &roots {
        if let Some(unit) = failures[i].unit.as_deref() {
            unit_root.entry(unit).or_insert(i);
        }
    }
    // A unit whose dependency failed follows its dependency's cause (a chain of them too).
    let root_of = |unit: &str| -> Option<usize> {
        let mut unit = unit;
        for _ in 0..=dependencies.len() {
            if let Some(&r) = unit_root.get(unit) {
                return Some(r);
            }
            unit = dependencies.get(unit)?;
        }
        None
    };

    let mut is_root = vec![false; failures.len()];
    for &i in &roots {
        is_root[i] = true;
    }
    let mut cause: Vec<Option<usize>> = vec![None; failures.len()];
    for (i, f) in failures.iter().enumerate() {
        if is_root[i] {
            // A unit's second cause (a crash after a readiness timeout) follows its first.
            let first = f.unit.as_deref().and_then(|u| unit_root.get(u).copied());
            cause[i] = first.filter(|&r| r != i);
            continue;
        }
        cause[i] = match f.kind.as_str() {
            "missing_probe" | "dependency_failed" | "killed_after_grace" => {
                f.unit.as_deref().and_then(root_of)
            }
            // A circuit instance that never reached a hop of a unit that failed.
            "circuit_incomplete" => a
                .circuits
                .iter()
                .find(|c| Some(&c.name) == f.circuit.as_ref())
                .into_iter()
                .flat_map(|c| &c.hops)
                .filter(|hop| f.message.contains(&format!("`{hop}`")))
                .find_map(|hop| hop.split_once(':').and_then(|(unit, _)| root_of(unit))),
            _ => None,
        };
    }
    // A send never received whose key is that of a circuit instance broken by a cause.
    for i in 0..failures.len() {
        if failures[i].kind == "orphan_send" && cause[i].is_none() {
            cause[i] = failures.iter().zip(&cause).find_map(|(g, c)| {
                (g.kind == "circuit_incomplete" && g.key.is_some() && g.key == failures[i].key)
                    .then_some(*c)
                    .flatten()
            });
        }
    }

    // Causes first, each followed by its consequences, then the rest in their order.
    let top: Vec<usize> = roots
        .iter()
        .copied()
        .filter(|&i| cause[i].is_none())
        .collect();
    let mut order: Vec<usize> = Vec::with_capacity(failures.len());
    for &r in &top {
        order.push(r);
        order.extend((0..failures.len()).filter(|&i| cause[i] == Some(r)));
    }
    let mut placed = vec![false; failures.len()];
    for &i in &order {
        placed[i] = true;
    }
    order.extend((0..failures.len()).filter(|&i| !placed[i]));
    let new_index: HashMap<usize, usize> = order.iter().enumerate().map(|(n, &o)| (o, n)).collect();

    let mut slots: Vec<Option<Failure>> = failures.into_iter().map(Some).collect();
    a.failures = order
        .iter()
        .filter_map(|&o| {
            let mut f = slots[o].take()?;
            f.caused_by = cause[o].and_then(|c| new_index.get(&c).copied());
            Some(f)
        })
        .collect();
    a.root_causes = top
        .iter()
        .filter_map(|r| new_index.get(r).copied())
        .map(|n| {
            let f = &a.failures[n];
            let (exception, frame) = f
                .unit
                .as_deref()
                .and_then(|u| a.units.iter().find(|unit| unit.name == u))
                .and_then(|u| traceback(&u.log_tail, group_dir))
                .map_or_else(
                    // No traceback in the log: the exception its probe recorded, if any.
                    || (exception_probe(&a.warnings, f.unit.as_deref()), None),
                    |(x, frame)| (Some(x), frame),
                );
            RootCause {
                failure: n,
                kind: f.kind.clone(),
                unit: f.unit.clone(),
                message: f.message.clone(),
                exception,
                frame,
                consequences: a.failures.iter().filter(|g| g.caused_by == Some(n)).count() as u64,
            }
        })
        .collect();
}

/// A `logged_exception` warning for every unit that did not fail but whose log tail holds a
/// Python traceback (a server whose request handler raised: the likely cause of a client's
/// failure), with the exception and the innermost frame in the group's own code.
pub(crate) fn logged_exceptions(a: &mut AttemptReport, group_dir: Option<&Path>) {
    for u in a.units.iter().filter(|u| u.status != "failed") {
        let Some((exception, frame)) = traceback(&u.log_tail, group_dir) else {
            continue;
        };
        let at = frame.map(|f| format!(" (at {f})")).unwrap_or_default();
        let message = format!(
            "unit `{}` ({}) logged a Python traceback: {exception}{at}",
            u.name, u.status
        );
        a.warnings
            .push(Failure::new("logged_exception", message).unit(&u.name));
    }
}

/// The evidence of an `exception` warning of `unit` (`raised at `step`: message`).
fn exception_probe(warnings: &[Failure], unit: Option<&str>) -> Option<String> {
    let unit = unit?;
    let w = warnings
        .iter()
        .find(|w| w.kind == "exception" && w.unit.as_deref() == Some(unit))?;
    let prefix = format!("unit `{unit}` ");
    Some(
        w.message
            .strip_prefix(&prefix)
            .unwrap_or(&w.message)
            .to_owned(),
    )
}

/// The first line of a Python traceback in a log tail: its index.
pub(crate) fn traceback_start(lines: &[String]) -> Option<usize> {
    lines
        .iter()
        .rposition(|l| l.trim_end() == "Traceback (most recent call last):")
}

/// The uncaught exception of the last Python traceback in `lines` (its last line) and the
/// innermost frame in the group's own code (`consumer.py:14 in take`): a file under
/// `group_dir` when known, else one outside the Python installation.
pub(crate) fn traceback(
    lines: &[String],
    group_dir: Option<&Path>,
) -> Option<(String, Option<String>)> {
    let start = traceback_start(lines)?;
    let body = &lines[start + 1..];
    // The exception: the first line after the frames that is not indented.
    let exception = body
        .iter()
        .find(|l| !l.starts_with(' ') && !l.trim().is_empty())?
        .trim()
        .to_owned();
    let mut frames = body.iter().filter_map(|l| frame(l));
    let own = |path: &str| match group_dir {
        Some(dir) if Path::new(path).is_absolute() => Path::new(path).starts_with(dir),
        _ => {
            !(path.contains("site-packages")
                || path.contains("/lib/python")
                || path.starts_with('<'))
        }
    };
    let frame = frames
        .rfind(|(path, _, _)| own(path))
        .map(|(path, line, func)| {
            let shown = group_dir
                .and_then(|dir| Path::new(path).strip_prefix(dir).ok())
                .map_or_else(|| path.to_owned(), |p| p.display().to_string());
            format!("{shown}:{line} in {func}")
        });
    Some((exception, frame))
}

/// `  File "path", line 14, in func` → (path, 14, func).
fn frame(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (path, rest) = rest.split_once("\", line ")?;
    let (number, func) = rest.split_once(", in ")?;
    Some((path, number, func.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CircuitReport, UnitReport};

    fn failure(kind: &str, unit: Option<&str>, message: &str) -> Failure {
        let f = Failure::new(kind, message);
        match unit {
            Some(u) => f.unit(u),
            None => f,
        }
    }

    fn kinds(a: &AttemptReport) -> Vec<(&str, Option<usize>)> {
        a.failures
            .iter()
            .map(|f| (f.kind.as_str(), f.caused_by))
            .collect()
    }

    /// Regression (issue 16): six `missing_probe` lines came before the crash that caused them.
    #[test]
    fn a_crash_comes_before_its_missing_probes_and_broken_circuit() {
        let mut a = AttemptReport::new(1, false);
        a.circuits = vec![CircuitReport::new(
            "job",
            false,
            ["producer:job-sent", "consumer:job-received"],
        )];
        a.failures = vec![
            failure("missing_probe", Some("consumer"), "no `job-done`"),
            failure("orphan_send", Some("producer"), "sent `job-2`").key("job-2"),
            failure("non_zero_exit", Some("consumer"), "exited with status 3"),
            failure(
                "circuit_incomplete",
                None,
                "circuit `job` key `job-2`: hop 2 `consumer:job-received` never happened",
            )
            .circuit("job")
            .key("job-2"),
            failure("duplicate_key", None, "key `x` twice"),
        ];
        link(&mut a, &HashMap::new(), None);
        assert_eq!(
            kinds(&a),
            [
                ("non_zero_exit", None),
                ("missing_probe", Some(0)),
                ("orphan_send", Some(0)),
                ("circuit_incomplete", Some(0)),
                ("duplicate_key", None),
            ]
        );
        assert_eq!(a.root_causes.len(), 1);
        assert_eq!(a.root_causes[0].consequences, 3);
    }

    #[test]
    fn a_spawn_failure_comes_first_and_takes_its_dependents() {
        let mut a = AttemptReport::new(1, false);
        a.failures = vec![
            failure("missing_probe", Some("client"), "no `sent`"),
            failure("readiness_timeout", Some("cache"), "not ready"),
            failure("dependency_failed", Some("client"), "depends on `server`"),
            failure("dependency_failed", Some("proxy"), "depends on `client`"),
            failure("spawn_failed", Some("server"), "no such file"),
        ];
        let deps = HashMap::from([
            ("client".to_owned(), "server".to_owned()),
            ("proxy".to_owned(), "client".to_owned()),
        ]);
        link(&mut a, &deps, None);
        assert_eq!(
            kinds(&a),
            [
                ("spawn_failed", None),
                ("missing_probe", Some(0)),
                ("dependency_failed", Some(0)),
                ("dependency_failed", Some(0)),
                ("readiness_timeout", None),
            ]
        );
        assert_eq!(a.root_causes[0].consequences, 3);
        assert_eq!(a.root_causes[1].consequences, 0);
    }

    /// Regression: a client failed with `HTTP Error 502` while the real cause, the server's
    /// request handler raising, was in no report (the server was merely stopped).
    #[test]
    fn a_traceback_logged_by_a_unit_that_did_not_fail_is_a_warning() {
        let tail: Vec<String> = [
            "Traceback (most recent call last):",
            "  File \"/g/api.py\", line 12, in psql",
            "    check=True)",
            "subprocess.CalledProcessError: Command 'psql' returned non-zero exit status 1.",
            "----------------------------------------",
        ]
        .map(str::to_owned)
        .to_vec();
        let mut a = AttemptReport::new(1, false);
        let mut api = UnitReport::new("api", "stopped");
        api.log_tail = tail.clone();
        let mut client = UnitReport::new("client", "failed");
        client.log_tail = tail;
        a.units = vec![api, client];
        logged_exceptions(&mut a, Some(Path::new("/g")));
        let logged: Vec<(&str, &str)> = a
            .warnings
            .iter()
            .map(|w| (w.kind.as_str(), w.message.as_str()))
            .collect();
        // The failed unit's own traceback is its root cause's evidence, not a warning.
        assert_eq!(
            logged,
            [(
                "logged_exception",
                "unit `api` (stopped) logged a Python traceback: subprocess.CalledProcessError: \
                 Command 'psql' returned non-zero exit status 1. (at api.py:12 in psql)"
            )]
        );
    }

    #[test]
    fn the_innermost_frame_of_the_groups_own_code() {
        let tail: Vec<String> = [
            "consumer: took job-1",
            "Traceback (most recent call last):",
            "  File \"/g/consumer.py\", line 30, in <module>",
            "    main()",
            "  File \"/g/consumer.py\", line 14, in take",
            "    json.loads(raw)",
            "  File \"/usr/lib/python3.12/json/__init__.py\", line 346, in loads",
            "    return _default_decoder.decode(s)",
            "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
        ]
        .map(str::to_owned)
        .to_vec();
        let (x, frame) = traceback(&tail, Some(Path::new("/g"))).unwrap();
        assert_eq!(
            x,
            "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"
        );
        assert_eq!(frame.as_deref(), Some("consumer.py:14 in take"));
        let (_, frame) = traceback(&tail, None).unwrap();
        assert_eq!(frame.as_deref(), Some("/g/consumer.py:14 in take"));

        let mut a = AttemptReport::new(1, false);
        a.units = vec![UnitReport {
            log_tail: tail,
            ..UnitReport::new("consumer", "failed")
        }];
        a.failures = vec![failure("non_zero_exit", Some("consumer"), "status 1")];
        link(&mut a, &HashMap::new(), Some(Path::new("/g")));
        assert_eq!(
            a.root_causes[0].frame.as_deref(),
            Some("consumer.py:14 in take")
        );
    }
}
