//! Readiness-check benchmarks (not tests): `cargo bench -p testrium-tests --bench readiness`.
//!
//! 1. Release latency of `ready_tcp`: a server unit (a small Python program) opens its port
//!    after `OPEN_AFTER` and records a probe `port-open` right after `listen()`; the runner's
//!    `testrium-ready` event of that unit marks its release. The figure is the difference of
//!    the two events' monotonic timestamps, over `BENCH_ITERATIONS` runs (default 20).
//! 2. Cost of an idle check: a unit whose port never opens, checked for `IDLE_FOR`; the CPU
//!    time this process (the runner, its check threads included) used over that time, as a
//!    share of one core.
//!
//! 3. Fault trigger latency (`[[fault]]`): from the triggering probe's record to the fault
//!    being carried out, as the attempt's outcome reports it, over the same number of runs.
//!
//! Prints the median and p90; figures go to docs/PERFORMANCE.md.

use std::time::{Duration, Instant};

use testrium_config::{Fault, FaultAction, Group, ReadyCheck, Unit};
use testrium_orchestrator::Run;
use testrium_tests::{TempBase, db_events};

const OPEN_AFTER: &str = "0.3";
const IDLE_FOR: Duration = Duration::from_secs(10);

const SERVER: &str = r#"
import os, socket, sys, time
from testrium.modules.events import Events_Manager
time.sleep(float(sys.argv[1]))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["TESTRIUM_PORT_SVC"])))
s.listen(16)
Events_Manager(Unit="svc", path=".").Set_Event("port-open")
while True:
    c, _ = s.accept()
    c.close()
"#;

fn python() -> String {
    testrium_tests::python3_executable()
}

/// One run; the release latency of the `ready_tcp` check.
fn release_latency(base: &TempBase, python: &str) -> Duration {
    let dir = base.dir("bench-ready");
    std::fs::write(dir.join("server.py"), SERVER).expect("write server");
    let group = Group::builder("bench-ready", &dir)
        .timeout(Duration::from_secs(30))
        .unit(
            Unit::command(
                "svc",
                [python.to_owned(), "server.py".into(), OPEN_AFTER.into()],
            )
            .init(1)
            .ports(["svc"])
            .ready_check(ReadyCheck::Tcp("127.0.0.1:{port.svc}".into()))
            .events(["port-open"]),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let outcome = Run::new(group)
        .base_dir(base.path())
        .execute()
        .expect("run");
    let db = &outcome.last_attempt().expect("attempt").db_path;
    let events = db_events(db);
    let mono = |step: &str| {
        events
            .iter()
            .find(|e| e.step == step)
            .and_then(|e| e.mono_ns)
            .unwrap_or_else(|| panic!("no {step} event"))
    };
    let ns = (mono("testrium-ready") - mono("port-open")).max(0);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

/// CPU time of this process so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields after the command: state is [0]; utime [11], stime [12]; 100 ticks a second.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The share of a core this process uses while a unit waits `IDLE_FOR` for a readiness that
/// never comes: by a check that never passes (`check`), or by a probe never recorded (the
/// runner's own idle cost, to compare).
fn idle_cost(base: &TempBase, check: bool) -> f64 {
    let unit = Unit::command("svc", ["sleep", "60"])
        .init(1)
        .ports(["svc"])
        .ready_timeout(IDLE_FOR);
    let unit = if check {
        unit.ready_check(ReadyCheck::Tcp("127.0.0.1:{port.svc}".into()))
    } else {
        unit.ready_event("never")
    };
    let group = Group::builder("bench-idle", base.dir("bench-idle"))
        .timeout(IDLE_FOR * 2)
        .unit(unit)
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let cpu = cpu_time();
    let wall = Instant::now();
    let _ = Run::new(group)
        .base_dir(base.path())
        .execute()
        .expect("run");
    (cpu_time() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64()
}

/// One run of a producer recording three orders and a fault killing a worker on the 3rd:
/// how long after that probe the fault was carried out.
fn fault_latency(base: &TempBase) -> Duration {
    let fixture = testrium_tests::fixture::argv(&[
        testrium_tests::fixture::emit("up"),
        testrium_tests::fixture::Action::Hang,
    ]);
    let producer = testrium_tests::fixture::argv(&[
        testrium_tests::fixture::emit("order-sent"),
        testrium_tests::fixture::emit("order-sent"),
        testrium_tests::fixture::emit("order-sent"),
    ]);
    let group = Group::builder("bench-fault", base.dir("bench-fault"))
        .timeout(Duration::from_secs(30))
        .unit(Unit::command("worker", fixture).init(0).ready_event("up"))
        .unit(
            Unit::command("producer", producer)
                .init(1)
                .depends_on(["worker"])
                .events(["order-sent"]),
        )
        .fault(Fault::new("producer", "order-sent", "worker", FaultAction::Kill).occurrence(3))
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let outcome = Run::new(group)
        .base_dir(base.path())
        .execute()
        .expect("run");
    outcome.last_attempt().expect("attempt").faults[0]
        .latency
        .expect("fired")
}

fn main() {
    let iterations: usize = testrium_tests::bench_iterations(20);
    let base = TempBase::new("bench-readiness");
    let python = python();
    let mut latencies: Vec<Duration> = (0..iterations)
        .map(|_| release_latency(&base, &python))
        .collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "ready_tcp release after the port opened, {iterations} runs: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
    let mut faults: Vec<Duration> = (0..iterations).map(|_| fault_latency(&base)).collect();
    faults.sort();
    let f_at = |q: f64| faults[((faults.len() - 1) as f64 * q).round() as usize];
    println!(
        "fault fired after its probe, {iterations} runs: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        f_at(0.5).as_secs_f64() * 1e3,
        f_at(0.9).as_secs_f64() * 1e3,
        f_at(1.0).as_secs_f64() * 1e3,
    );
    let (with_check, without) = (idle_cost(&base, true), idle_cost(&base, false));
    println!(
        "waiting {} s for a readiness that never comes: {:.2} % of a core with a ready_tcp \
         check, {:.2} % with a ready_event (the runner's own idle cost); the check's share: \
         {:.2} %",
        IDLE_FOR.as_secs(),
        with_check * 100.0,
        without * 100.0,
        (with_check - without) * 100.0
    );
}
