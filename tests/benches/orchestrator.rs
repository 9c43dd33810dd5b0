//! Orchestrator benchmarks (not tests): `cargo bench -p testrium-tests --bench orchestrator`.
//!
//! 1. Framework overhead of a 2-unit group whose units do nothing (`true`): the wall time of
//!    `Run::execute` minus the bare cost of starting and reaping the same two processes
//!    concurrently with `std::process::Command`.
//! 2. Start-to-ready of 100 independent units that record their readiness probe
//!    (`testrium-fixture emit:ready hang`, `ready_event = "ready"`): from the start of the
//!    attempt until the runner has seen every unit ready.
//!
//! Prints medians and p90 over the iterations; figures go to docs/PERFORMANCE.md.

use std::process::Command;
use std::time::{Duration, Instant};

use testrium_config::{Group, Unit};
use testrium_orchestrator::Run;
use testrium_tests::TempBase;
use testrium_tests::fixture::{self, Action, emit};

fn main() {
    let iterations: usize = testrium_tests::bench_iterations(30);
    let base = TempBase::new("bench");

    // Warm-up: page cache, first subreaper call, interpreter-free path.
    for _ in 0..3 {
        bare_pair();
        run_pair(&base);
    }
    let mut bare: Vec<Duration> = (0..iterations).map(|_| bare_pair()).collect();
    // Interleaved, so load changes hit both alike.
    let (mut run, mut run_no_cgroup): (Vec<Duration>, Vec<Duration>) = (0..iterations)
        .map(|_| (run_pair(&base), run_pair_with(&base, false)))
        .unzip();
    report("bare start+reap of 2 processes", &mut bare);
    report("Run::execute of 2 do-nothing units", &mut run);
    report(
        "Run::execute of 2 do-nothing units, no attempt cgroup",
        &mut run_no_cgroup,
    );
    println!(
        "overhead (median Run - median bare): {:.2} ms",
        (testrium_tests::median_secs(&run) - testrium_tests::median_secs(&bare)) * 1e3
    );
    whole_cli(&base, iterations);

    let rounds = (iterations / 5).max(3);
    let mut ready: Vec<Duration> = Vec::new();
    let mut total: Vec<Duration> = Vec::new();
    let mut ready_no_cgroup: Vec<Duration> = Vec::new();
    let mut total_no_cgroup: Vec<Duration> = Vec::new();
    for _ in 0..rounds {
        let (r, t) = hundred_units(&base);
        ready.push(r);
        total.push(t);
        let (r, t) = hundred_units_with(&base, false);
        ready_no_cgroup.push(r);
        total_no_cgroup.push(t);
    }
    report("100 independent units: start to all ready", &mut ready);
    report("100 independent units: whole attempt", &mut total);
    report(
        "100 independent units: start to all ready, no attempt cgroup",
        &mut ready_no_cgroup,
    );
    report(
        "100 independent units: whole attempt, no attempt cgroup",
        &mut total_no_cgroup,
    );

    let (wall, cpu) = idle_runner(&base);
    println!(
        "idle supervisor (1 hanging unit, 2 s group timeout): {:.1} ms CPU over {:.2} s = {:.2} % of a core",
        cpu.as_secs_f64() * 1e3,
        wall.as_secs_f64(),
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0
    );
}

/// CPU time the runner itself uses while a unit hangs until the group timeout.
fn idle_runner(base: &TempBase) -> (Duration, Duration) {
    let group = Group::builder("bench-idle-test", base.dir("bench-idle-test"))
        .timeout(Duration::from_secs(2))
        .unit(Unit::command("sleeper", fixture::argv(&[Action::Hang])).init(1))
        .build()
        .expect("group");
    let cpu_before = own_cpu();
    let start = Instant::now();
    Run::new(group)
        .base_dir(base.path())
        .execute()
        .expect("run");
    (start.elapsed(), own_cpu().saturating_sub(cpu_before))
}

/// User + system CPU time of this process (clock ticks of 10 ms, from /proc/self/stat).
fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The whole `testrium run` (when the CLI was built into the same target directory:
/// `cargo build --release -p testrium-cli`) of a base folder holding one group of two
/// `command = ["true"]` units, against `sh -c 'true & true & wait'`.
fn whole_cli(base: &TempBase, iterations: usize) {
    let cli = testrium_tests::bin("testrium");
    if !cli.is_file() {
        println!("testrium run: skipped ({} not built)", cli.display());
        return;
    }
    let folder = base.dir("cli-base");
    testrium_tests::GroupFiles::new(folder.join("test_noop"))
        .unit("a", "init = 1\ncommand = [\"true\"]")
        .unit("b", "init = 2\ncommand = [\"true\"]")
        .write();
    let time = |command: &mut Command| {
        let start = Instant::now();
        let status = command
            .current_dir(&folder)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run");
        assert!(status.success());
        start.elapsed()
    };
    let mut sh: Vec<Duration> = (0..iterations)
        .map(|_| time(Command::new("sh").args(["-c", "true & true & wait"])))
        .collect();
    let mut cli_runs: Vec<Duration> = (0..iterations)
        .map(|_| time(Command::new(&cli).arg("run")))
        .collect();
    report("sh -c 'true & true & wait'", &mut sh);
    report("testrium run (2 do-nothing units)", &mut cli_runs);
    println!(
        "testrium run overhead (median - median sh): {:.2} ms",
        (testrium_tests::median_secs(&cli_runs) - testrium_tests::median_secs(&sh)) * 1e3
    );
}

fn bare_pair() -> Duration {
    let start = Instant::now();
    let mut a = Command::new("true").spawn().expect("spawn");
    let mut b = Command::new("true").spawn().expect("spawn");
    a.wait().expect("wait");
    b.wait().expect("wait");
    start.elapsed()
}

fn run_pair(base: &TempBase) -> Duration {
    run_pair_with(base, true)
}

/// [`run_pair`], with or without the attempt's cgroup.
fn run_pair_with(base: &TempBase, cgroup: bool) -> Duration {
    let (elapsed, outcome) = testrium_tests::run_do_nothing_pair(base, cgroup);
    if std::env::var_os("BENCH_DETAIL").is_some() {
        eprintln!("{:?}", outcome.last_attempt().map(|a| &a.timings));
    }
    elapsed
}

fn hundred_units(base: &TempBase) -> (Duration, Duration) {
    hundred_units_with(base, true)
}

/// [`hundred_units`], with or without the attempt's cgroup.
fn hundred_units_with(base: &TempBase, cgroup: bool) -> (Duration, Duration) {
    let mut builder = Group::builder("bench-hundred-test", base.dir("bench-hundred-test"));
    for i in 0..100u32 {
        builder = builder.unit(
            Unit::command(
                format!("u{i}"),
                fixture::argv(&[emit("ready"), Action::Hang]),
            )
            .init(i)
            .ready_event("ready")
            .events(["ready"]),
        );
    }
    let group = builder.build().expect("group");
    let start = Instant::now();
    let outcome = Run::new(group)
        .base_dir(base.path())
        .settle_period(Duration::ZERO)
        .cgroup(cgroup)
        .execute()
        .expect("run");
    let total = start.elapsed();
    let attempt = outcome.last_attempt().expect("attempt");
    assert!(outcome.passed(), "{}", attempt.verdict.render_text());
    (attempt.timings.all_ready.expect("all ready"), total)
}

fn report(label: &str, samples: &mut [Duration]) {
    let p = |q: f64| testrium_tests::quantile_ms(samples, q);
    println!(
        "{label}: median {:.2} ms, p90 {:.2} ms, min {:.2} ms (n={})",
        p(0.5),
        p(0.9),
        p(0.0),
        samples.len()
    );
}
