//! Probe benchmarks: emission latency (Rust and Python clients, one writer and 8 concurrent
//! writer processes), aggregate throughput, cross-process `wait_for` wake-up latency and the
//! CPU an idle waiter costs — each next to the original Testrium's approach (rollback journal,
//! commit with fsync per probe, 100 ms polling of a full query).
//!
//! ```text
//! CARGO_TARGET_DIR=/tmp/tgt-events cargo bench -p testrium-events --bench probe
//! CARGO_TARGET_DIR=/tmp/tgt-events cargo bench -p testrium-events --bench probe -- --quick
//! chrt -f 10 /tmp/tgt-events/release/deps/probe-<hash> --wake-only
//! ```
//!
//! Writers, waiters and idle waiters run as child processes: this binary re-executes itself
//! with `BENCH_ROLE` set (Rust clients), or runs the real Python interpreter (Python clients).
#![expect(clippy::unwrap_used, reason = "a benchmark may abort on I/O errors")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testrium_events::{Probe, RunDb, monotonic_ns};

const ROLE: &str = "BENCH_ROLE";
const WRITERS: usize = 8;

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    // Only wake-up and idle CPU (e.g. under `chrt -f 10` to take CPU contention out).
    let wake_only = std::env::args().any(|a| a == "--wake-only");
    let scale = if quick { 5 } else { 1 };
    let n = 5_000 / scale;
    let dir = std::env::temp_dir().join(format!("testrium-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let py = Python::new(&dir);
    let mut table = Table::default();

    println!("# testrium-events probe benchmark ({n} probes per writer)\n");

    if !wake_only {
        // --- emission latency, one writer ---
        let db = fresh(&dir, "single-rust");
        let probe = Probe::open(&db, "w").unwrap();
        for i in 0..200 {
            probe.emit(&format!("warmup{i}")).unwrap();
        }
        let mut lat = Vec::with_capacity(n);
        let start = Instant::now();
        for i in 0..n {
            let t = Instant::now();
            probe.emit(&format!("s{i}")).unwrap();
            lat.push(t.elapsed().as_nanos() as u64);
        }
        let wall = start.elapsed();
        table.latency("Rust probe, 1 writer", &lat, n as f64 / wall.as_secs_f64());

        let db = fresh(&dir, "single-py");
        let out = py.run(
            "writer",
            &[&db, Path::new(&n.to_string())],
            &[("TESTRIUM_UNIT", "w")],
        );
        let (lat, rate) = writer_result(&[out]);
        table.latency("Python probe (Set_Event), 1 writer", &lat, rate);

        let db = fresh(&dir, "single-orig");
        let n_orig = 1_000 / scale;
        let out = py.run(
            "original_writer",
            &[&db, Path::new(&n_orig.to_string())],
            &[("TESTRIUM_UNIT", "w")],
        );
        let (lat, rate) = writer_result(&[out]);
        table.latency(
            "original approach (rollback journal, fsync per probe), 1 Python writer",
            &lat,
            rate,
        );

        // --- 8 concurrent writer processes ---
        let db = fresh(&dir, "multi-rust");
        let children: Vec<Child> = (0..WRITERS)
            .map(|w| {
                self_child("writer")
                    .env("BENCH_DB", &db)
                    .env("BENCH_N", n.to_string())
                    .env("TESTRIUM_UNIT", format!("w{w}"))
                    .spawn()
                    .unwrap()
            })
            .collect();
        go(&db);
        let outs = children.into_iter().map(output).collect::<Vec<_>>();
        let (lat, rate) = writer_result(&outs);
        check_rows(&db, WRITERS * n);
        table.latency("Rust probe, 8 writer processes", &lat, rate);

        let db = fresh(&dir, "multi-py");
        let children: Vec<Child> = (0..WRITERS)
            .map(|w| {
                py.spawn(
                    "writer",
                    &[&db, Path::new(&n.to_string())],
                    &[("TESTRIUM_UNIT", &format!("w{w}"))],
                )
            })
            .collect();
        go(&db);
        let outs = children.into_iter().map(output).collect::<Vec<_>>();
        let (lat, rate) = writer_result(&outs);
        check_rows(&db, WRITERS * n);
        table.latency("Python probe, 8 writer processes", &lat, rate);

        let db = fresh(&dir, "multi-orig");
        let n_orig_multi = 500 / scale;
        let children: Vec<Child> = (0..WRITERS)
            .map(|w| {
                py.spawn(
                    "original_writer",
                    &[&db, Path::new(&n_orig_multi.to_string())],
                    &[("TESTRIUM_UNIT", &format!("w{w}"))],
                )
            })
            .collect();
        go_original(&db, &py);
        let outs = children.into_iter().map(output).collect::<Vec<_>>();
        let (lat, rate) = writer_result(&outs);
        let stored = count_rows(&db);
        table.latency(
            &format!(
                "original approach, 8 Python writers: {stored} of {} rows stored",
                WRITERS * n_orig_multi
            ),
            &lat,
            rate,
        );

        // --- the runner's database: create + drop ---
        let mut create = Vec::new();
        let mut close = Vec::new();
        for i in 0..20 {
            let path = dir.join(format!("create-{i}")).join("Data.db");
            let t = Instant::now();
            let db = RunDb::create(&path).unwrap();
            db.set_unit_state("u", testrium_events::UnitState::Starting)
                .unwrap();
            create.push(t.elapsed().as_nanos() as u64);
            let t = Instant::now();
            drop(db);
            close.push(t.elapsed().as_nanos() as u64);
        }
        create.sort_unstable();
        close.sort_unstable();
        table.create = format!(
            "| `RunDb::create` of a new run database + first state, then drop | {} ms | {} ms | {} ms | {} ms |",
            ms(pct(&create, 0.5)),
            ms(pct(&create, 1.0)),
            ms(pct(&close, 0.5)),
            ms(pct(&close, 1.0)),
        );
        eprintln!("{}", table.create);

        // --- reading for the verifier ---
        let rows = 1_000_000 / scale;
        let db = fresh(&dir, "read");
        {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute_batch("BEGIN").unwrap();
            let mut stmt = conn
                .prepare(
                    "INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata, MonoNs, Pid)
                     VALUES (?1, ?2, ?3, ?4, ?5, '{}', ?6, 1)",
                )
                .unwrap();
            for i in 0..rows {
                let send = i % 2 == 0;
                stmt.execute(rusqlite::params![
                    format!("unit-{}", i % 10),
                    if send { "sent" } else { "received" },
                    if send { "Send" } else { "Receive" },
                    format!("k{}", i / 2),
                    1.7e9 + i as f64 * 1e-4,
                    i as i64 * 1_000,
                ])
                .unwrap();
            }
            drop(stmt);
            conn.execute_batch("COMMIT").unwrap();
        }
        let reader = RunDb::open(&db).unwrap();
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let log = reader.read_events().unwrap();
            times.push(t.elapsed());
            assert_eq!(log.events.len(), rows);
        }
        let best = times.iter().min().unwrap();
        table.read = format!(
            "| `RunDb::read_events`, {rows} rows | {:.0} ms | {:.0} rows/s |",
            best.as_secs_f64() * 1e3,
            rows as f64 / best.as_secs_f64()
        );
        eprintln!("{}", table.read);
    }

    // --- cross-process wake-up ---
    let rounds = 500 / scale;
    let wake = wake_up(&dir, "wake-rust", self_child("waiter"), rounds);
    table.wake("Rust `Probe::wait_for`", &wake);
    let wake = wake_up(&dir, "wake-py", py.command("waiter"), rounds);
    table.wake("Python `wait_for_event`", &wake);
    let wake = wake_up(
        &dir,
        "wake-orig",
        py.command("original_waiter"),
        30 / scale.min(3),
    );
    table.wake("original approach (100 ms poll of a full query)", &wake);

    // --- idle waiter CPU ---
    let idle = Duration::from_secs(if quick { 1 } else { 3 });
    let secs = idle.as_secs_f64().to_string();
    let db = fresh(&dir, "idle");
    let cpu = idle_cpu(
        self_child("idle")
            .env("BENCH_DB", &db)
            .env("BENCH_SECS", &secs),
    );
    table.cpu("Rust `Probe::wait_for`", cpu);
    let cpu = idle_cpu(py.command("idle").arg(&db).arg(&secs));
    table.cpu("Python `wait_for_event`", cpu);
    let cpu = idle_cpu(py.command("original_idle").arg(&db).arg(&secs));
    table.cpu("original approach (100 ms poll)", cpu);

    table.print();
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Child processes (Rust clients)

fn child(role: &str) {
    let env = |k: &str| std::env::var(k).unwrap();
    let db = PathBuf::from(env("BENCH_DB"));
    let mut stdout = std::io::stdout().lock();
    match role {
        "writer" => {
            let n: usize = env("BENCH_N").parse().unwrap();
            let probe = Probe::open(&db, &env("TESTRIUM_UNIT")).unwrap();
            assert!(
                probe
                    .wait_for("parent", "go", Duration::from_secs(60))
                    .unwrap()
            );
            let mut lat = Vec::with_capacity(n);
            let start = monotonic_ns();
            for i in 0..n {
                let t = Instant::now();
                probe.emit(&format!("s{i}")).unwrap();
                lat.push(t.elapsed().as_nanos() as u64);
            }
            let end = monotonic_ns();
            write!(stdout, "{start} {end}").unwrap();
            for l in lat {
                write!(stdout, " {l}").unwrap();
            }
            writeln!(stdout).unwrap();
        }
        "waiter" => {
            let rounds: usize = env("BENCH_N").parse().unwrap();
            let probe = Probe::open(&db, "waiter").unwrap();
            probe.emit("waiting").unwrap();
            for k in 0..rounds {
                assert!(
                    probe
                        .wait_for("writer", &format!("w{k}"), Duration::from_secs(30))
                        .unwrap()
                );
                let woke = monotonic_ns();
                probe.emit(&format!("ack{k}")).unwrap();
                writeln!(stdout, "{woke}").unwrap();
            }
        }
        "idle" => {
            let secs: f64 = env("BENCH_SECS").parse().unwrap();
            let probe = Probe::open(&db, "idle").unwrap();
            let (cpu, wall) = (self_cpu(), Instant::now());
            let found = probe
                .wait_for("nobody", "never", Duration::from_secs_f64(secs))
                .unwrap();
            assert!(!found);
            let share = (self_cpu() - cpu) / wall.elapsed().as_secs_f64();
            writeln!(stdout, "{share}").unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

fn self_child(role: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(ROLE, role).stdout(Stdio::piped());
    cmd
}

fn output(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Python clients

const PY_BENCH: &str = r#"
import os, sqlite3, sys, time
role, args = sys.argv[1], sys.argv[2:]

def original_connect(db):
    # What the original 0.3 client did: default sqlite3 settings (rollback journal,
    # synchronous=FULL, 5 s timeout, implicit transactions) and a commit per probe.
    c = sqlite3.connect(db, check_same_thread=False)
    c.execute("CREATE TABLE IF NOT EXISTS Events (ID INTEGER PRIMARY KEY AUTOINCREMENT, Unit TEXT,"
              " StepCompleted TEXT, EventType TEXT, EventKey TEXT, Time NUMBER, Metadata TEXT)")
    c.commit()
    return c

def original_steps(c, unit):
    return {r[0] for r in c.execute(
        "SELECT StepCompleted FROM Events WHERE Unit = ? ORDER BY Time, ID", (unit,)).fetchall()}

def original_wait(c, step, unit, timeout):
    deadline = time.time() + timeout
    while time.time() <= deadline:
        if step in original_steps(c, unit):
            return True
        time.sleep(0.1)
    return False

def emit_line(start, end, lat):
    print(start, end, " ".join(map(str, lat)))

if role == "writer":
    from testrium.modules.events import Events_Manager
    db, n = args[0], int(args[1])
    m = Events_Manager(Unit=os.environ["TESTRIUM_UNIT"], path=db)
    assert m.wait_for_event("go", unit="parent", timeout=60)
    lat = []
    clock = time.perf_counter_ns
    start = time.monotonic_ns()
    for i in range(n):
        t = clock()
        m.Set_Event("s%d" % i)
        lat.append(clock() - t)
    emit_line(start, time.monotonic_ns(), lat)
elif role == "original_writer":
    import json
    db, n = args[0], int(args[1])
    unit = os.environ["TESTRIUM_UNIT"]
    # Setup and the start signal are retried so that only the probes themselves are measured
    # (the original client would crash on "database is locked" right here as well).
    while True:
        try:
            c = original_connect(db)
            if "go" in original_steps(c, "parent"):
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.001)
    lat, lost = [], 0
    clock = time.perf_counter_ns
    start = time.monotonic_ns()
    for i in range(n):
        t = clock()
        try:
            c.execute("INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)"
                      " VALUES (?, ?, ?, ?, ?, ?)",
                      (unit, "s%d" % i, "Default", "", time.time(), json.dumps({}, sort_keys=True)))
            c.commit()
        except sqlite3.OperationalError:
            lost += 1
            c.rollback()
            continue
        lat.append(clock() - t)
    emit_line(start, time.monotonic_ns(), lat)
elif role == "waiter":
    from testrium.modules.events import Events_Manager
    db, rounds = args[0], int(args[1])
    m = Events_Manager(Unit="waiter", path=db)
    m.Set_Event("waiting")
    for k in range(rounds):
        assert m.wait_for_event("w%d" % k, unit="writer", timeout=30)
        woke = time.monotonic_ns()
        m.Set_Event("ack%d" % k)
        print(woke, flush=True)
elif role == "original_waiter":
    db, rounds = args[0], int(args[1])
    c = original_connect(db)
    ins = ("INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)"
           " VALUES ('waiter', ?, 'Default', '', ?, '{}')")
    c.execute(ins, ("waiting", time.time())); c.commit()
    for k in range(rounds):
        assert original_wait(c, "w%d" % k, "writer", 30)
        woke = time.monotonic_ns()
        c.execute(ins, ("ack%d" % k, time.time())); c.commit()
        print(woke, flush=True)
elif role == "idle":
    from testrium.modules.events import Events_Manager
    db, secs = args[0], float(args[1])
    m = Events_Manager(Unit="idle", path=db)
    cpu, wall = time.process_time(), time.perf_counter()
    assert not m.wait_for_event("never", unit="nobody", timeout=secs)
    print((time.process_time() - cpu) / (time.perf_counter() - wall))
elif role == "original_idle":
    db, secs = args[0], float(args[1])
    c = original_connect(db)
    cpu, wall = time.process_time(), time.perf_counter()
    assert not original_wait(c, "never", "nobody", secs)
    print((time.process_time() - cpu) / (time.perf_counter() - wall))
"#;

struct Python {
    exe: PathBuf,
    dir: PathBuf,
}

impl Python {
    fn new(dir: &Path) -> Python {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap();
        let exe = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let pkg = dir.join("py").join("testrium").join("modules");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(dir.join("py").join("testrium").join("__init__.py"), "").unwrap();
        std::fs::write(pkg.join("__init__.py"), "").unwrap();
        std::fs::write(pkg.join("events.py"), testrium_events::PYTHON_EVENTS_MODULE).unwrap();
        Python {
            exe,
            dir: dir.join("py"),
        }
    }

    fn command(&self, role: &str) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.env("PYTHONPATH", &self.dir)
            .env_remove("TESTRIUM_EVENT_DB")
            .args(["-c", PY_BENCH, role])
            .stdout(Stdio::piped());
        cmd
    }

    fn spawn(&self, role: &str, args: &[&Path], env: &[(&str, &str)]) -> Child {
        let mut cmd = self.command(role);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    }

    fn run(&self, role: &str, args: &[&Path], env: &[(&str, &str)]) -> String {
        let child = self.spawn(role, args, env);
        // A single writer waits for the start signal like the concurrent ones.
        let db = args[0];
        if role == "original_writer" {
            go_original(db, self);
        } else {
            go(db);
        }
        output(child)
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(name).join("Data.db");
    if name.ends_with("orig") {
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    } else {
        RunDb::create(&db).unwrap();
    }
    db
}

fn go(db: &Path) {
    Probe::open(db, "parent").unwrap().emit("go").unwrap();
}

fn go_original(db: &Path, py: &Python) {
    let out = Command::new(&py.exe)
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], timeout=30)\n\
             c.execute(\"CREATE TABLE IF NOT EXISTS Events (ID INTEGER PRIMARY KEY AUTOINCREMENT, Unit TEXT, StepCompleted TEXT, EventType TEXT, EventKey TEXT, Time NUMBER, Metadata TEXT)\")\n\
             c.execute(\"INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata) VALUES ('parent', 'go', 'Default', '', ?, '{}')\", (time.time(),))\n\
             c.commit()",
        ])
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Latencies of all writers, and the aggregate rate (rows / span from first start to last end).
fn writer_result(outs: &[String]) -> (Vec<u64>, f64) {
    let mut lat = Vec::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for out in outs {
        let mut nums = out.split_whitespace().map(|x| x.parse::<i64>().unwrap());
        first = first.min(nums.next().unwrap());
        last = last.max(nums.next().unwrap());
        lat.extend(nums.map(|x| x as u64));
    }
    let rate = lat.len() as f64 / ((last - first) as f64 / 1e9);
    (lat, rate)
}

fn count_rows(db: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM Events WHERE Unit LIKE 'w%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    n as usize
}

fn check_rows(db: &Path, expected: usize) {
    assert_eq!(count_rows(db), expected, "rows lost in {}", db.display());
}

/// Cross-process wake-up: this process records `w{k}`, the waiter child wakes and records
/// `ack{k}`. Returns, per round, the waiter's wake time − the moment `emit` returned (the
/// commit), and − the probe's MonoNs (taken before the INSERT, so it also counts the writer's
/// own insert, including a stall behind a WAL checkpoint's fsync).
fn wake_up(dir: &Path, name: &str, mut waiter: Command, rounds: usize) -> (Vec<u64>, Vec<u64>) {
    let db = fresh(dir, name);
    let original = name.ends_with("orig");
    if original {
        // The original's waiter creates its own table; create it first so the parent can write.
        RunDb::create(&db).unwrap();
    }
    let child = waiter
        .env("BENCH_DB", &db)
        .env("BENCH_N", rounds.to_string())
        .arg(&db)
        .arg(rounds.to_string())
        .spawn()
        .unwrap();
    let probe = Probe::open(&db, "writer").unwrap();
    assert!(
        probe
            .wait_for("waiter", "waiting", Duration::from_secs(30))
            .unwrap()
    );
    let mut ids = Vec::with_capacity(rounds);
    let mut seed = 0x2545_f491_u64;
    for k in 0..rounds {
        // A pseudo-random pause de-phases the probe from the waiter's poll period.
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_micros((seed >> 33) % 3_000));
        let id = probe.emit(&format!("w{k}")).unwrap();
        ids.push((id, monotonic_ns()));
        assert!(
            probe
                .wait_for("waiter", &format!("ack{k}"), Duration::from_secs(30))
                .unwrap()
        );
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let woke: Vec<i64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let log = RunDb::open(&db).unwrap().read_events().unwrap();
    ids.iter()
        .zip(&woke)
        .map(|((id, committed), woke)| {
            let event = log.events.iter().find(|e| e.id == *id).unwrap();
            (
                (woke - committed).max(0) as u64,
                (woke - event.mono_ns.unwrap()).max(0) as u64,
            )
        })
        .unzip()
}

/// CPU share of one core used by an idle waiter while it waits (measured by the child itself,
/// from its CPU time before and after the wait, so interpreter start-up is excluded).
fn idle_cpu(cmd: &mut Command) -> f64 {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// CPU time (user + system) of this process, seconds.
fn self_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) };
    assert_eq!(rc, 0);
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

// ---------------------------------------------------------------------------------------------
// Report

#[derive(Default)]
struct Table {
    create: String,
    read: String,
    latency: Vec<String>,
    wake: Vec<String>,
    cpu: Vec<String>,
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

fn ms(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1e6)
}

impl Table {
    fn latency(&mut self, name: &str, lat: &[u64], rate: f64) {
        let mut s = lat.to_vec();
        s.sort_unstable();
        self.latency.push(format!(
            "| {name} | {} | {} | {} | {} | {:.0} |",
            s.len(),
            us(pct(&s, 0.5)),
            us(pct(&s, 0.99)),
            us(pct(&s, 1.0)),
            rate
        ));
        eprintln!("{}", self.latency.last().unwrap());
    }

    fn wake(&mut self, name: &str, (commit, probe): &(Vec<u64>, Vec<u64>)) {
        let mut s = commit.clone();
        s.sort_unstable();
        let mut p = probe.clone();
        p.sort_unstable();
        self.wake.push(format!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            s.len(),
            ms(pct(&s, 0.5)),
            ms(pct(&s, 0.99)),
            ms(pct(&s, 1.0)),
            ms(pct(&p, 0.5)),
            ms(pct(&p, 0.99)),
        ));
        eprintln!("{}", self.wake.last().unwrap());
    }

    fn cpu(&mut self, name: &str, share: f64) {
        self.cpu
            .push(format!("| {name} | {:.2} % |", share * 100.0));
        eprintln!("{}", self.cpu.last().unwrap());
    }

    fn print(&self) {
        if !self.latency.is_empty() {
            println!(
                "| probe emission | probes | p50 µs | p99 µs | max µs | probes/s (all writers) |"
            );
            println!("|---|---|---|---|---|---|");
            for l in &self.latency {
                println!("{l}");
            }
            println!();
            println!(
                "| runner database (20 runs) | create p50 | create max | drop p50 | drop max |"
            );
            println!("|---|---|---|---|---|");
            println!("{}", self.create);
            println!();
            println!("| reading | best of 3 | throughput |");
            println!("|---|---|---|");
            println!("{}", self.read);
            println!();
        }
        println!(
            "| cross-process wake-up | rounds | from commit: p50 ms | p99 ms | max ms | from probe time (MonoNs): p50 ms | p99 ms |"
        );
        println!("|---|---|---|---|---|---|---|");
        for l in &self.wake {
            println!("{l}");
        }
        println!();
        println!("| idle waiter | CPU while waiting (share of one core) |");
        println!("|---|---|");
        for l in &self.cpu {
            println!("{l}");
        }
    }
}
