//! Hand-built reports for the writers' tests.

use crate::model::*;

fn lat(count: u64, p50: f64) -> Latency {
    Latency {
        count,
        mean_ms: p50,
        p50_ms: p50,
        p95_ms: p50 * 1.5,
        p99_ms: p50 * 2.0,
        max_ms: p50 * 2.5,
    }
}

fn ev(id: i64, unit: &str, step: &str, ty: &str, key: Option<&str>, t_ms: f64) -> TimelineEvent {
    TimelineEvent {
        id,
        unit: unit.into(),
        step: step.into(),
        event_type: ty.into(),
        key: key.map(Into::into),
        t_ms,
        failed: false,
    }
}

fn unit(name: &str, status: &str, exit: i32) -> UnitReport {
    UnitReport {
        name: name.into(),
        status: status.into(),
        passed: status != "failed",
        exit_code: Some(exit),
        signal: None,
        reason: None,
        duration_s: Some(0.2),
        restarts: 0,
        log_path: Some(format!("/base/.testrium/runs/x/logs/{name}.log")),
        log_tail: vec![format!("{name}: started"), format!("{name}: done")],
        ports: Default::default(),
    }
}

pub fn passing_attempt(attempt: u32) -> AttemptReport {
    AttemptReport {
        attempt,
        passed: true,
        interrupted: false,
        run_dir: format!("/base/.testrium/runs/test_ok-{attempt}"),
        db_path: format!("/base/.testrium/runs/test_ok-{attempt}/Data.db"),
        started_at: 1_700_000_000.0,
        duration_s: 0.25,
        units: vec![unit("source", "finished", 0), unit("target", "stopped", 0)],
        probes: vec![
            ProbeCheck {
                unit: "source".into(),
                step: "command-sent".into(),
                count: 1,
            },
            ProbeCheck {
                unit: "target".into(),
                step: "command-received".into(),
                count: 1,
            },
        ],
        correlation: Correlation {
            paired: 1,
            latency: Some(lat(1, 0.4)),
            routes: vec![RouteLatency {
                from: "source:command-sent".into(),
                to: "target:command-received".into(),
                latency: lat(1, 0.4),
            }],
            ..Correlation::default()
        },
        circuits: vec![CircuitReport {
            name: "request".into(),
            passed: true,
            hops: vec![
                "source:command-sent".into(),
                "target:command-received".into(),
            ],
            total: Some(lat(1, 0.4)),
            budget_ms: Some(100.0),
            message: None,
            hop_stats: vec![
                HopStat {
                    hop: "source:command-sent".into(),
                    reached: 1,
                    budget_ms: None,
                    latency: None,
                },
                HopStat {
                    hop: "target:command-received".into(),
                    reached: 1,
                    budget_ms: Some(10.0),
                    latency: Some(lat(1, 0.4)),
                },
            ],
            instances: 1,
            complete: 1,
            traces: Vec::new(),
        }],
        contracts: vec![],
        direct_tests: vec![],
        failures: vec![],
        warnings: vec![Failure {
            kind: "unit_notice".into(),
            unit: Some("target".into()),
            circuit: None,
            key: None,
            message: "unit `target` (stopped) ignored SIGTERM, killed after the 2s grace period"
                .into(),
            caused_by: None,
        }],
        timeline: Timeline {
            units: vec!["source".into(), "target".into()],
            events: vec![
                ev(1, "target", "ready", "Default", None, 0.0),
                ev(2, "source", "command-sent", "Send", Some("k1"), 1.0),
                ev(3, "target", "command-received", "Receive", Some("k1"), 1.4),
            ],
            omitted: 0,
            arrows: vec![Arrow {
                from_id: 2,
                to_id: 3,
                key: "k1".into(),
                latency_ms: 0.4,
            }],
            first_event_ms: 0.0,
        },
        omitted: Omitted::default(),
        faults: Vec::new(),
        root_causes: Vec::new(),
        retry: false,
        lifecycle: Vec::new(),
        timed_out_at_s: None,
    }
}

pub fn failing_attempt(attempt: u32) -> AttemptReport {
    let mut a = passing_attempt(attempt);
    a.passed = false;
    a.run_dir = format!("/base/.testrium/runs/test_bad-{attempt}");
    a.units[1] = UnitReport {
        reason: Some("exited with status 1".into()),
        log_tail: vec![
            "Traceback (most recent call last):".into(),
            "  File \"/base/test_bad/target.py\", line 9, in <module>".into(),
            "    handle(read())".into(),
            "  File \"/base/test_bad/target.py\", line 5, in handle".into(),
            "    raise ValueError(\"boom\")".into(),
            "ValueError: boom".into(),
        ],
        ..unit("target", "failed", 1)
    };
    a.probes[1].count = 0;
    a.correlation.paired = 0;
    a.correlation.routes.clear();
    a.correlation.latency = None;
    a.correlation.orphan_sends = vec![KeyedProbe {
        unit: "source".into(),
        step: "command-sent".into(),
        key: "k1".into(),
    }];
    a.circuits[0].passed = false;
    a.circuits[0].total = None;
    a.circuits[0].complete = 0;
    a.circuits[0].message = Some("hop target:command-received never recorded".into());
    a.failures = vec![
        Failure {
            kind: "missing_probe".into(),
            unit: Some("target".into()),
            circuit: None,
            key: None,
            message: "target: `command-received` was never recorded".into(),
            caused_by: None,
        },
        Failure {
            kind: "orphan_send".into(),
            unit: Some("source".into()),
            circuit: None,
            key: None,
            message: "`source:command-sent` sent key `k1` that was never received".into(),
            caused_by: None,
        },
        Failure {
            kind: "non_zero_exit".into(),
            unit: Some("target".into()),
            circuit: None,
            key: None,
            message: "target exited with code 1".into(),
            caused_by: None,
        },
        Failure {
            kind: "circuit_incomplete".into(),
            unit: None,
            circuit: Some("request".into()),
            key: Some("k1".into()),
            message: "circuit `request` key `k1`: hop 2 `target:command-received` never happened"
                .into(),
            caused_by: None,
        },
    ];
    a.failures[1].key = Some("k1".into());
    a.timeline.events.truncate(2);
    a.timeline.events[1].failed = true;
    a.timeline.arrows.clear();
    crate::cause::link(
        &mut a,
        &Default::default(),
        Some(std::path::Path::new("/base/test_bad")),
    );
    a
}

/// A unit that could not be spawned, and the unit that depended on it.
pub fn spawn_failure() -> RunReport {
    let mut a = AttemptReport::new(1, false);
    a.run_dir = "/base/.testrium/runs/test_spawn-1".into();
    a.units = vec![
        UnitReport {
            reason: Some("could not be started: No such file or directory (os error 2)".into()),
            exit_code: None,
            duration_s: None,
            log_tail: Vec::new(),
            ..unit("server", "failed", 0)
        },
        UnitReport {
            reason: Some("its dependency `server` failed".into()),
            exit_code: None,
            duration_s: None,
            log_tail: Vec::new(),
            ..unit("client", "failed", 0)
        },
    ];
    a.probes = vec![
        ProbeCheck::new("server", "listening", 0),
        ProbeCheck::new("client", "request-sent", 0),
    ];
    a.failures = vec![
        Failure::new(
            "missing_probe",
            "unit `server` did not record required probe `listening`",
        )
        .unit("server"),
        Failure::new(
            "missing_probe",
            "unit `client` did not record required probe `request-sent`",
        )
        .unit("client"),
        Failure::new(
            "dependency_failed",
            "unit `client` depends on `server`, which failed",
        )
        .unit("client"),
        Failure::new(
            "spawn_failed",
            "unit `server` could not be started: No such file or directory (os error 2)",
        )
        .unit("server"),
    ];
    let deps = [("client".to_owned(), "server".to_owned())].into();
    crate::cause::link(&mut a, &deps, None);
    let mut run = run();
    run.groups = vec![group("test_spawn", vec![a])];
    run
}

/// A server that never became ready, and the client waiting for it.
pub fn readiness_timeout() -> RunReport {
    let mut a = AttemptReport::new(1, false);
    a.run_dir = "/base/.testrium/runs/test_not_ready-1".into();
    a.units = vec![
        UnitReport {
            reason: Some("readiness probe `listening` not recorded within 500 ms".into()),
            exit_code: None,
            signal: Some(15),
            log_tail: vec!["server: binding…".into()],
            ..unit("server", "failed", 0)
        },
        UnitReport {
            reason: Some("its dependency `server` failed".into()),
            exit_code: None,
            duration_s: None,
            log_tail: Vec::new(),
            ..unit("client", "failed", 0)
        },
    ];
    a.probes = vec![
        ProbeCheck::new("server", "listening", 0),
        ProbeCheck::new("client", "request-sent", 0),
    ];
    a.failures = vec![
        Failure::new(
            "missing_probe",
            "unit `server` did not record required probe `listening`",
        )
        .unit("server"),
        Failure::new(
            "missing_probe",
            "unit `client` did not record required probe `request-sent`",
        )
        .unit("client"),
        Failure::new(
            "readiness_timeout",
            "unit `server` readiness probe `listening` not recorded within 500 ms",
        )
        .unit("server"),
        Failure::new(
            "dependency_failed",
            "unit `client` depends on `server`, which failed",
        )
        .unit("client"),
    ];
    let deps = [("client".to_owned(), "server".to_owned())].into();
    crate::cause::link(&mut a, &deps, None);
    let mut run = run();
    run.groups = vec![group("test_not_ready", vec![a])];
    run
}

pub fn group(name: &str, attempts: Vec<AttemptReport>) -> GroupReport {
    let passed = attempts.iter().all(|a| a.passed);
    let flaky = !passed && attempts.iter().any(|a| a.passed);
    GroupReport {
        name: name.into(),
        passed,
        flaky,
        interrupted: false,
        duration_s: attempts.iter().map(|a| a.duration_s).sum(),
        attempts,
        error: None,
    }
}

pub fn run() -> RunReport {
    RunReport {
        schema: SCHEMA,
        testrium_version: "0.4.0".into(),
        base: "/base".into(),
        started_at: 1_700_000_000.0,
        duration_s: 1.5,
        interrupted: false,
        exit_code: 1,
        partition: None,
        groups: vec![
            group("test_ok", vec![passing_attempt(1)]),
            group("test_bad", vec![failing_attempt(1)]),
            group("test_flaky", vec![passing_attempt(1), failing_attempt(2)]),
        ],
        skipped: vec![
            SkippedGroup::new(
                "test_off",
                "disabled (`enabled = false`)",
                SkipKind::Disabled,
            ),
            SkippedGroup::new("test_other", "not selected", SkipKind::NotSelected),
        ],
    }
}

/// Unit-provided text at its worst: markup, quotes, newlines, ANSI escapes, bidi overrides,
/// characters XML forbids, non-ASCII.
pub const HOSTILE: &str =
    "x\"'<script>alert(1)</script>&\n\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}ü✓\u{0}\u{fffe}";

pub fn hostile() -> RunReport {
    let mut a = failing_attempt(1);
    let h = HOSTILE.to_owned();
    a.units[1].name = format!("unit{h}");
    a.units[1].log_tail.push(h.clone());
    a.failures[0].message = format!("missing {h}");
    a.correlation.orphan_sends[0].key = h.clone();
    a.timeline.units[1] = format!("unit{h}");
    a.timeline.events[0].unit = format!("unit{h}");
    a.timeline.events[0].step = h.clone();
    a.circuits[0].name = h.clone();
    a.direct_tests.push(DirectTestReport {
        name: format!("test_{h}"),
        passed: false,
        duration_s: 0.01,
        message: Some(h.clone()),
    });
    let mut run = run();
    run.groups = vec![group(&format!("test_{h}"), vec![a])];
    run.skipped.clear();
    run
}

/// A group whose first attempt crashed and whose retry passed (`--retries 1`).
pub fn flaky_on_retry() -> RunReport {
    let mut retry = passing_attempt(2);
    retry.retry = true;
    let mut g = group("test_bad", vec![failing_attempt(1), retry]);
    g.passed = true;
    g.flaky = true;
    let mut run = run();
    run.groups = vec![g];
    run
}

/// A run of `pairs` Send→Receive pairs from `client` to `server`, 0.1 ms apart, with the
/// lifecycle of both units.
pub fn pairs(pairs: usize) -> RunReport {
    let mut run = run();
    run.groups.truncate(1);
    let group = &mut run.groups[0];
    group.attempts.truncate(1);
    let a = &mut group.attempts[0];
    a.duration_s = 0.5;
    a.timeline.units = vec!["client".into(), "server".into()];
    a.timeline.first_event_ms = 20.0;
    a.timeline.events.clear();
    a.timeline.arrows.clear();
    for n in 0..pairs {
        let key = format!("k{n}");
        let t = n as f64 * 0.1;
        let (send, receive) = (2 * n as i64 + 1, 2 * n as i64 + 2);
        a.timeline
            .events
            .push(ev(send, "client", "request-sent", "Send", Some(&key), t));
        a.timeline.events.push(ev(
            receive,
            "server",
            "request-received",
            "Receive",
            Some(&key),
            t + 0.05,
        ));
        a.timeline.arrows.push(Arrow {
            from_id: send,
            to_id: receive,
            key,
            latency_ms: 0.05,
        });
    }
    a.lifecycle = vec![
        LifecycleMark::new("server", "starting", 0.001, "spawned"),
        LifecycleMark::new("server", "ready", 0.015, "ready"),
        LifecycleMark::new("client", "starting", 0.016, "spawned"),
        LifecycleMark::new("client", "finished", 0.45, "exited 0"),
        LifecycleMark::new("server", "stopped", 0.46, "stopped by the runner"),
    ];
    run
}

/// A run whose `server` never became ready: the group timed out after 8 s, the server was
/// killed after the grace period; `client` never started.
pub fn hang() -> RunReport {
    let mut run = pairs(0);
    let a = &mut run.groups[0].attempts[0];
    a.duration_s = 8.12;
    a.timeline.first_event_ms = 2.0;
    a.timeline.events = vec![
        ev(1, "server", "booting", "Default", None, 0.0),
        ev(2, "server", "loading", "Default", None, 30.0),
    ];
    a.lifecycle = vec![
        LifecycleMark::new("server", "starting", 0.001, "spawned"),
        LifecycleMark::new("server", "failed", 8.0, "failed: group timeout (exited)"),
        LifecycleMark::new("server", "stopped", 8.11, "killed after the grace period"),
    ];
    a.timed_out_at_s = Some(8.0);
    run
}
