//! Helpers shared by the workspace-level tests, and the typed model of the fixture units in
//! `src/bin/`.
//!
//! - [`bin`]: a binary of this workspace, found in the target directory next to the test
//!   executable; [`testrium_bin`]: the `testrium` binary, brought up to date first;
//! - [`TempBase`]: a fresh base folder, removed when dropped;
//! - [`wait_until`]: wait for a condition with a deadline (never a bare sleep);
//! - [`pid_alive`]: whether a process still runs (zombies count as gone);
//! - [`fixture`]: what `testrium-fixture` can be told to do, and what each action produces;
//! - [`GroupFiles`]: writes a test group folder (`config.toml` + `units/*.toml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use testrium_events::{Event, RunDb, UnitState};

/// Path of the workspace binary `name`, in the target directory that holds the running test.
///
/// Integration tests live in `target/<profile>/deps/`; binaries in `target/<profile>/`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// Path of `testrium-fixture`.
pub fn fixture_bin() -> PathBuf {
    bin("testrium-fixture")
}

/// The `testrium` binary to drive: the file named by the environment variable `override_var`
/// when it is set (a release build, or a run as a user that cannot build), otherwise this
/// build's, (re)built once per test process with the cargo running the tests — a no-op right
/// after `cargo test --workspace`, and never stale when only this package is tested (`cargo
/// test -p testrium-tests` alone does not build other packages' binaries).
pub fn testrium_bin(override_var: &str) -> PathBuf {
    if let Some(binary) = std::env::var_os(override_var) {
        return PathBuf::from(binary);
    }
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_testrium).clone()
}

fn build_testrium() -> PathBuf {
    let binary = bin(&format!("testrium{}", std::env::consts::EXE_SUFFIX));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "-q", "-p", "testrium-cli", "--bin", "testrium"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if binary
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(status.success(), "cannot build the testrium binary");
    assert!(binary.is_file(), "{} not found", binary.display());
    binary
}

/// A fresh, empty folder under the system temp dir, removed (with everything in it) on drop.
#[derive(Debug)]
pub struct TempBase {
    path: PathBuf,
}

impl TempBase {
    /// A new folder whose name contains `label`.
    pub fn new(label: &str) -> TempBase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("testrium-tests-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {path:?}: {e}"));
        TempBase { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A sub-folder (created).
    pub fn dir(&self, name: &str) -> PathBuf {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {dir:?}: {e}"));
        dir
    }
}

impl Drop for TempBase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Polls `condition` until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether process `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("X");
    !matches!(state, "Z" | "X" | "x")
}

/// Running processes (not zombies) whose initial environment holds `name=value`: e.g. every
/// process of a run directory with `TESTRIUM_RUN_DIR`.
pub fn pids_with_env(name: &str, value: &str) -> Vec<u32> {
    let needle = format!("{name}={value}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
        })
        .filter(|&pid| pid_alive(pid))
        .collect()
}

/// Latest lifecycle state of every unit in the run database at `db`.
pub fn db_states(db: &Path) -> BTreeMap<String, UnitState> {
    let db = RunDb::open(db).unwrap_or_else(|e| panic!("open {db:?}: {e}"));
    db.unit_states()
        .unwrap_or_else(|e| panic!("unit states: {e}"))
        .into_iter()
        .map(|r| (r.unit, r.state))
        .collect()
}

/// Every event in the run database at `db`.
pub fn db_events(db: &Path) -> Vec<Event> {
    let db = RunDb::open(db).unwrap_or_else(|e| panic!("open {db:?}: {e}"));
    db.read_events()
        .unwrap_or_else(|e| panic!("read events: {e}"))
        .events
}

/// The pid that recorded `unit`'s probe `step`, if recorded.
pub fn probe_pid(db: &Path, unit: &str, step: &str) -> Option<u32> {
    let db = RunDb::open(db).ok()?;
    let log = db.read_events().ok()?;
    log.events
        .iter()
        .find(|e| e.unit == unit && e.step == step)
        .and_then(|e| e.pid)
        .and_then(|p| u32::try_from(p).ok())
}

/// The typed model of `testrium-fixture`'s actions.
/// One unit's outcome in the last attempt of a run (the test fails when there is none).
pub fn unit_outcome<'a>(
    outcome: &'a testrium_orchestrator::GroupOutcome,
    name: &str,
) -> &'a testrium_verify::UnitOutcome {
    outcome
        .last_attempt()
        .expect("attempt")
        .units
        .iter()
        .find(|u| u.name == name)
        .unwrap_or_else(|| panic!("no unit {name}"))
}

/// The verdict of the last attempt as text, for assertion messages.
pub fn verdict_text(outcome: &testrium_orchestrator::GroupOutcome) -> String {
    outcome
        .last_attempt()
        .expect("attempt")
        .verdict
        .render_text()
}

/// Runs `testrium run BASE --json BASE/report.json` (the binary of [`testrium_bin`] with
/// `TESTRIUM_BIN`): the exit code, stdout and stderr together, and the JSON report
/// (`Null` when none was written).
pub fn run_cli_with_json(base: &Path) -> (Option<i32>, String, serde_json::Value) {
    let json = base.join("report.json");
    let out = std::process::Command::new(testrium_bin("TESTRIUM_BIN"))
        .arg("run")
        .arg(base)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run testrium");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (out.status.code(), text, report)
}

/// Runs `group` with `base` as base folder and a short grace period (the test fails when the
/// run cannot start at all).
pub fn run_group(
    group: testrium_config::Group,
    base: &Path,
) -> testrium_orchestrator::GroupOutcome {
    testrium_orchestrator::Run::new(group)
        .base_dir(base)
        .grace_period(Duration::from_millis(300))
        .execute()
        .expect("run executes")
}

pub mod fixture {
    /// One action of a fixture script; the script runs its actions in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Action {
        /// Records probe `step` (Default). Produces: that probe.
        Emit(String),
        /// Records Send `step` with `key`. Produces: that probe.
        Send(String, String),
        /// Records Receive `step` with `key`. Produces: that probe.
        Receive(String, String),
        /// Waits (up to 30 s) for `unit`'s probe `step`; exits 92 if it never comes.
        Wait(String, String),
        /// Prints a line on stdout.
        Print(String),
        /// Writes this many bytes (`x`, no newline) to stdout and to stderr.
        Flood(usize),
        /// Exits with this code.
        Exit(u8),
        /// Aborts (SIGABRT).
        Crash,
        /// Sleeps forever.
        Hang,
        /// From now on SIGTERM does not terminate the process.
        IgnoreTerm,
        /// Starts a child in the unit's process group that records `grandchild-up` and hangs.
        Grandchild,
        /// Starts a child in its own process group that records `escaped-up` and hangs.
        Escape,
        /// Double fork + setsid: a daemon that records `daemon-up` and hangs.
        Daemonize,
        /// Sends one OpenTelemetry span named `step` (OTLP/JSON, one request) to the runner's
        /// receiver as `OTEL_SERVICE_NAME`, with the run's token; exits 93 unless answered 200.
        /// Produces: that probe (through the receiver).
        Span(String),
        /// Sleeps this many milliseconds (an exporter's batch delay, say).
        Sleep(u64),
        /// Waits for SIGTERM, then sends span `step` (as `Span`) and exits 0: an SDK that
        /// flushes its last batch when stopped. Produces: that probe, during teardown.
        SpanOnTerm(String),
    }

    impl Action {
        /// The command-line form.
        pub fn arg(&self) -> String {
            match self {
                Action::Emit(step) => format!("emit:{step}"),
                Action::Send(step, key) => format!("send:{step}:{key}"),
                Action::Receive(step, key) => format!("recv:{step}:{key}"),
                Action::Wait(unit, step) => format!("wait:{unit}:{step}"),
                Action::Print(text) => format!("print:{text}"),
                Action::Flood(bytes) => format!("flood:{bytes}"),
                Action::Exit(code) => format!("exit:{code}"),
                Action::Crash => "crash".to_owned(),
                Action::Hang => "hang".to_owned(),
                Action::IgnoreTerm => "ignore-term".to_owned(),
                Action::Grandchild => "grandchild".to_owned(),
                Action::Escape => "escape".to_owned(),
                Action::Daemonize => "daemonize".to_owned(),
                Action::Span(step) => format!("span:{step}"),
                Action::Sleep(ms) => format!("sleep:{ms}"),
                Action::SpanOnTerm(step) => format!("span-on-term:{step}"),
            }
        }

        /// The probes this action records (as the unit running it).
        pub fn probes(&self) -> Vec<String> {
            match self {
                Action::Emit(step)
                | Action::Send(step, _)
                | Action::Receive(step, _)
                | Action::Span(step)
                | Action::SpanOnTerm(step) => {
                    vec![step.clone()]
                }
                Action::Grandchild => vec!["grandchild-up".to_owned()],
                Action::Escape => vec!["escaped-up".to_owned()],
                Action::Daemonize => vec!["daemon-up".to_owned()],
                _ => Vec::new(),
            }
        }
    }

    /// `emit:<step>`.
    pub fn emit(step: &str) -> Action {
        Action::Emit(step.to_owned())
    }

    /// `wait:<unit>:<step>`.
    pub fn wait(unit: &str, step: &str) -> Action {
        Action::Wait(unit.to_owned(), step.to_owned())
    }

    /// A unit `name` (with `init`) that runs the fixture with `script`.
    pub fn unit(name: &str, init: u32, script: &[Action]) -> testrium_config::UnitBuilder {
        testrium_config::Unit::command(name, argv(script)).init(init)
    }

    /// The full argv (fixture path first) of a script.
    pub fn argv(script: &[Action]) -> Vec<String> {
        let mut argv = vec![super::fixture_bin().display().to_string()];
        argv.extend(script.iter().map(Action::arg));
        argv
    }

    /// Every probe the script records, in order.
    pub fn probes(script: &[Action]) -> Vec<String> {
        script.iter().flat_map(Action::probes).collect()
    }
}

/// Writes a test group folder in the original's format.
#[derive(Debug)]
pub struct GroupFiles {
    dir: PathBuf,
    timeout_s: u32,
    units: Vec<(String, String)>,
}

impl GroupFiles {
    /// A group folder `dir` (created) with a 30 s timeout.
    pub fn new(dir: impl Into<PathBuf>) -> GroupFiles {
        GroupFiles {
            dir: dir.into(),
            timeout_s: 30,
            units: Vec::new(),
        }
    }

    /// Sets `timeout` (seconds).
    #[must_use]
    pub fn timeout_s(mut self, seconds: u32) -> Self {
        self.timeout_s = seconds;
        self
    }

    /// Adds a unit `name` whose table body is `body` (TOML lines, e.g. `init = 1`).
    #[must_use]
    pub fn unit(mut self, name: &str, body: &str) -> Self {
        self.units.push((name.to_owned(), body.to_owned()));
        self
    }

    /// Adds a unit running the fixture `script`, with more TOML lines in `extra`.
    #[must_use]
    pub fn fixture_unit(
        self,
        name: &str,
        init: u32,
        script: &[fixture::Action],
        extra: &str,
    ) -> Self {
        let body = format!(
            "init = {init}\ncommand = {}\n{extra}",
            toml_list(&fixture::argv(script))
        );
        self.unit(name, &body)
    }

    /// Writes the files; returns the group folder.
    pub fn write(&self) -> PathBuf {
        let units_dir = self.dir.join("units");
        std::fs::create_dir_all(&units_dir).unwrap_or_else(|e| panic!("{units_dir:?}: {e}"));
        let names: Vec<String> = self.units.iter().map(|(n, _)| n.clone()).collect();
        let config = format!(
            "[\"Configs\"]\nunits = {}\ntimeout = {}\n",
            toml_list(&names),
            self.timeout_s
        );
        std::fs::write(self.dir.join("config.toml"), config).unwrap_or_else(|e| panic!("{e}"));
        for (name, body) in &self.units {
            let text = format!("[{}]\n{body}\n", toml_str(name));
            std::fs::write(units_dir.join(format!("{name}.toml")), text)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        self.dir.clone()
    }
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A TOML array of strings.
pub fn toml_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// For the benchmarks: the median of `samples`, in seconds.
pub fn median_secs(samples: &[Duration]) -> f64 {
    quantile_ms(samples, 0.5) / 1e3
}

/// For the benchmarks: the `q` quantile (0 to 1, nearest rank; 0 is the minimum) of
/// `samples`, in milliseconds; 0 for no samples.
pub fn quantile_ms(samples: &[Duration], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    sorted[(last as f64 * q).round() as usize].as_secs_f64() * 1e3
}

/// For the benchmarks: `BENCH_ITERATIONS` from the environment, else `default`.
pub fn bench_iterations(default: usize) -> usize {
    std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The real Python interpreter behind `python3` (not a pyenv shim): its `sys.executable`.
pub fn python3_executable() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// For the benchmarks: one `Run::execute` of a group of two `command = ["true"]` units in
/// `base` (with or without the attempt's cgroup): its wall time and outcome (checked passed).
pub fn run_do_nothing_pair(
    base: &TempBase,
    cgroup: bool,
) -> (Duration, testrium_orchestrator::GroupOutcome) {
    use testrium_config::{Group, Unit};
    let group = Group::builder("bench-pair-test", base.dir("bench-pair-test"))
        .unit(Unit::command("a", ["true"]).init(1))
        .unit(Unit::command("b", ["true"]).init(2))
        .build()
        .expect("group");
    let start = Instant::now();
    let outcome = testrium_orchestrator::Run::new(group)
        .base_dir(base.path())
        .cgroup(cgroup)
        .execute()
        .expect("run");
    let elapsed = start.elapsed();
    assert!(outcome.passed(), "{}", verdict_text(&outcome));
    (elapsed, outcome)
}

/// One OTLP/JSON span `name` of `service`, posted in one HTTP/1.1 request to
/// `<endpoint>/v1/traces` (`endpoint`: `http://host:port`) with the bearer `token`. Returns
/// the answer's first line; `Err` when the request could not be made.
pub fn post_otlp_span(
    endpoint: &str,
    token: &str,
    service: &str,
    name: &str,
) -> Result<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_nanos();
    let span = serde_json::json!({
        "traceId": format!("{:032x}", now | 1),
        "spanId": format!("{:016x}", (now as u64) | 1),
        "name": name,
        "kind": 1,
        "startTimeUnixNano": now.to_string(),
        "endTimeUnixNano": now.to_string(),
    });
    post_otlp_spans(endpoint, token, service, &[span])
}

/// OTLP/JSON `spans` (objects of the `spans` array) of `service`, posted as
/// [`post_otlp_span`] does.
pub fn post_otlp_spans(
    endpoint: &str,
    token: &str,
    service: &str,
    spans: &[serde_json::Value],
) -> Result<String, String> {
    use std::io::{Read, Write};
    let host = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("endpoint `{endpoint}` is not http://"))?;
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}]
    }]})
    .to_string();
    let mut stream = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    Ok(answer.lines().next().unwrap_or("").to_owned())
}
