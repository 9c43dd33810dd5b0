//! What the reliability scenarios share: the binaries, base folders that clean up after
//! themselves (processes included), group folders, and `testrium` runs as child processes
//! with a deadline and their peak memory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use testrium_events::{Event, RunDb};

/// The environment variable that selects the full sizes of the heavy scenarios.
pub const ENV_FULL: &str = "TESTRIUM_RELIABILITY_FULL";

/// Whether the heavy scenarios run at their full size.
pub fn full() -> bool {
    std::env::var_os(ENV_FULL).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `default` normally, `full` with `TESTRIUM_RELIABILITY_FULL=1`.
pub fn size(default: u64, full_size: u64) -> u64 {
    if full() { full_size } else { default }
}

/// The generous deadline every wait of the suite uses (CI has 2 busy cores).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// `testrium-fixture` (the orchestrator engineer's scripted unit).
pub fn fixture() -> String {
    env!("CARGO_BIN_EXE_testrium-fixture").to_owned()
}

/// `testrium-fixture-hostile` (this suite's unit).
pub fn hostile() -> String {
    env!("CARGO_BIN_EXE_testrium-fixture-hostile").to_owned()
}

/// The real Python interpreter (not the pyenv shim), resolved once.
pub fn python() -> String {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let out = Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .unwrap_or_else(|e| panic!("python3 is needed by this scenario: {e}"));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .clone()
}

/// The environment variable naming a prebuilt `testrium` binary to drive instead of building one.
pub const ENV_BIN: &str = "TESTRIUM_RELIABILITY_BIN";

/// The `testrium` binary to drive: [`ENV_BIN`] when set, otherwise this build's, brought up to
/// date first.
pub fn testrium() -> PathBuf {
    testrium_tests::testrium_bin(ENV_BIN)
}

/// Whether this process runs as root (permission bits do not stop root).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A fresh base folder (`<tmp>/testrium-reliability-<label>-<pid>-<n>/base`, with outputs
/// beside it in `…/out`). On drop, every process still carrying a
/// path of this folder in its environment (a unit, a daemon of a unit) is SIGKILLed — so a
/// failing scenario leaks nothing — and the folder is removed.
#[derive(Debug)]
pub struct Base {
    root: PathBuf,
    path: PathBuf,
}

impl Base {
    /// A new, empty base folder whose name contains `label`.
    pub fn new(label: &str) -> Base {
        Base::named(label, "base")
    }

    /// A new base folder whose own name (the last component) is `name`.
    pub fn named(label: &str, name: &str) -> Base {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!(
            "testrium-reliability-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let path = root.join(name);
        for dir in [&path, &root.join("out")] {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {dir:?}: {e}"));
        }
        Base { root, path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path for an output file (a report, a captured stream), outside the base folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join("out").join(name)
    }

    /// Processes (not zombies) whose environment names a path in this base folder.
    pub fn live_processes(&self) -> Vec<u32> {
        processes_mentioning(&self.path)
    }

    /// Every run directory created under this base, sorted.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let runs = self.path.join(".testrium").join("runs");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    }

    /// Asserts that no process started for this base is alive (waiting a little for ones
    /// being killed right now).
    pub fn assert_nothing_left(&self) {
        let clean = wait_until(Duration::from_secs(10), || self.live_processes().is_empty());
        assert!(
            clean,
            "processes left running: {}",
            describe(&self.live_processes())
        );
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        for pid in self.live_processes() {
            let _ = nix::sys::signal::kill(pid_of(pid), Signal::SIGKILL);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn pid_of(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// Pids (other than this process) of live processes whose environment contains `path`.
pub fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let own = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own || !pid_alive(pid) {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if environ.windows(needle.len()).any(|w| w == needle) {
            found.push(pid);
        }
    }
    found
}

/// `pid (cmdline)` for each pid, for failure messages.
pub fn describe(pids: &[u32]) -> String {
    let mut text = String::new();
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let _ = write!(text, "\n  {pid} {cmd}");
    }
    text
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

/// Polls a condition until it holds or a deadline passes (the test crate's own).
pub use testrium_tests::wait_until;

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A TOML array of strings.
pub fn toml_list<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|s| toml_str(s.as_ref())).collect();
    format!("[{}]", inner.join(", "))
}

/// One unit of a [`GroupDir`].
#[derive(Debug, Clone)]
pub struct UnitSpec {
    name: String,
    lines: Vec<String>,
}

impl UnitSpec {
    /// A unit running `argv`.
    pub fn command<S: AsRef<str>>(name: &str, argv: &[S]) -> UnitSpec {
        UnitSpec {
            name: name.to_owned(),
            lines: vec![format!("command = {}", toml_list(argv))],
        }
    }

    /// A Python unit: `entrypoint = "module:function"`.
    pub fn entrypoint(name: &str, entrypoint: &str) -> UnitSpec {
        UnitSpec {
            name: name.to_owned(),
            lines: vec![format!("entrypoint = {}", toml_str(entrypoint))],
        }
    }

    /// A unit running `testrium-fixture` with these actions.
    pub fn fixture(name: &str, actions: &[&str]) -> UnitSpec {
        let mut argv = vec![fixture()];
        argv.extend(actions.iter().map(|a| (*a).to_owned()));
        UnitSpec::command(name, &argv)
    }

    /// A unit running `testrium-fixture-hostile` with these actions.
    pub fn hostile(name: &str, actions: &[&str]) -> UnitSpec {
        let mut argv = vec![hostile()];
        argv.extend(actions.iter().map(|a| (*a).to_owned()));
        UnitSpec::command(name, &argv)
    }

    /// Adds a raw TOML line (`key = value`).
    #[must_use]
    pub fn line(mut self, line: impl Into<String>) -> UnitSpec {
        self.lines.push(line.into());
        self
    }

    /// `events = [...]`: the probes it must record.
    #[must_use]
    pub fn events(self, events: &[&str]) -> UnitSpec {
        self.line(format!("events = {}", toml_list(events)))
    }

    /// `ready_event` and `ready_timeout` (seconds).
    #[must_use]
    pub fn ready(self, event: &str, timeout_s: u32) -> UnitSpec {
        self.line(format!("ready_event = {}", toml_str(event)))
            .line(format!("ready_timeout = {timeout_s}"))
    }

    /// `unit_dependencies = [...]`.
    #[must_use]
    pub fn after(self, units: &[&str]) -> UnitSpec {
        self.line(format!("unit_dependencies = {}", toml_list(units)))
    }
}

/// Writes a test group folder in the original's format.
#[derive(Debug, Clone)]
pub struct GroupDir {
    name: String,
    timeout_s: u32,
    config_lines: Vec<String>,
    units: Vec<UnitSpec>,
}

impl GroupDir {
    /// A group `name` (its folder name; must contain `test`) with a 60 s timeout.
    pub fn new(name: &str) -> GroupDir {
        GroupDir {
            name: name.to_owned(),
            timeout_s: 60,
            config_lines: Vec::new(),
            units: Vec::new(),
        }
    }

    /// `timeout` in seconds.
    #[must_use]
    pub fn timeout_s(mut self, seconds: u32) -> GroupDir {
        self.timeout_s = seconds;
        self
    }

    /// A raw line in `["Configs"]`.
    #[must_use]
    pub fn config_line(mut self, line: impl Into<String>) -> GroupDir {
        self.config_lines.push(line.into());
        self
    }

    /// Adds a unit; `init` follows the order of addition.
    #[must_use]
    pub fn unit(mut self, unit: UnitSpec) -> GroupDir {
        self.units.push(unit);
        self
    }

    /// Writes `<base>/<name>/config.toml` and `units/*.toml`; returns the folder.
    pub fn write(&self, base: &Path) -> PathBuf {
        let dir = base.join(&self.name);
        let units_dir = dir.join("units");
        std::fs::create_dir_all(&units_dir).unwrap_or_else(|e| panic!("{units_dir:?}: {e}"));
        let names: Vec<&str> = self.units.iter().map(|u| u.name.as_str()).collect();
        let mut config = format!(
            "[\"Configs\"]\nunits = {}\ntimeout = {}\n",
            toml_list(&names),
            self.timeout_s
        );
        for line in &self.config_lines {
            config.push_str(line);
            config.push('\n');
        }
        write(&dir.join("config.toml"), config.as_bytes());
        for (i, unit) in self.units.iter().enumerate() {
            let mut text = format!("[{}]\ninit = {}\n", toml_str(&unit.name), i + 1);
            for line in &unit.lines {
                text.push_str(line);
                text.push('\n');
            }
            write(
                &units_dir.join(format!("{}.toml", unit.name)),
                text.as_bytes(),
            );
        }
        dir
    }
}

/// Writes a file, panicking with the path on error.
pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

/// A `testrium` command line about to be started.
#[derive(Debug)]
pub struct Testrium {
    command: Command,
    out: PathBuf,
    err: PathBuf,
    closed_stdout: bool,
}

impl Testrium {
    /// `testrium ARGS…` in `base` (its working directory), without colours; stdout and stderr
    /// go to files in `base` named after `label`.
    pub fn new<S: AsRef<std::ffi::OsStr>>(base: &Base, label: &str, args: &[S]) -> Testrium {
        Testrium::under(&[], base, label, args)
    }

    /// Like [`Testrium::new`], run through the command `prefix` (`unshare --pid …`): the
    /// `testrium` binary and `args` are appended to it. An empty prefix runs it directly.
    pub fn under<S: AsRef<std::ffi::OsStr>>(
        prefix: &[&str],
        base: &Base,
        label: &str,
        args: &[S],
    ) -> Testrium {
        let mut command = match prefix.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(testrium());
                command
            }
            None => Command::new(testrium()),
        };
        command
            .args(args)
            .current_dir(base.path())
            .env("NO_COLOR", "1")
            .env_remove("TESTRIUM_EVENT_DB")
            .env_remove("TESTRIUM_UNIT")
            .stdin(Stdio::null());
        Testrium {
            command,
            out: base.file(&format!("{label}.stdout")),
            err: base.file(&format!("{label}.stderr")),
            closed_stdout: false,
        }
    }

    /// Gives it a stdout whose reader is already gone (`testrium run | head -0`): every write
    /// fails with EPIPE (SIGPIPE is ignored by Rust programs).
    #[must_use]
    pub fn closed_stdout(mut self) -> Testrium {
        self.closed_stdout = true;
        self
    }

    /// Starts it, in its own process group (so a runaway run can be killed whole).
    pub fn spawn(mut self) -> Running {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&self.out).unwrap_or_else(|e| panic!("{e}"));
        let err = std::fs::File::create(&self.err).unwrap_or_else(|e| panic!("{e}"));
        let out = if self.closed_stdout {
            let (reader, writer) = nix::unistd::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
            drop(reader);
            Stdio::from(writer)
        } else {
            Stdio::from(out)
        };
        self.command
            .stdout(out)
            .stderr(Stdio::from(err))
            .process_group(0);
        #[expect(
            clippy::zombie_processes,
            reason = "reaped by `Running::wait` (or its drop) with waitpid, so the pid stays ours while its /proc entry is sampled"
        )]
        let child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start testrium: {e}"));
        Running {
            pid: child.id(),
            out: self.out,
            err: self.err,
            started: Instant::now(),
            reaped: false,
        }
    }

    /// Starts it and waits for it (with [`DEADLINE`]).
    pub fn run(self) -> Finished {
        self.spawn().wait(DEADLINE)
    }
}

/// A started `testrium`. Never reaped by `std`: [`Running::wait`] polls it with `waitpid`
/// while it samples its peak memory.
#[derive(Debug)]
pub struct Running {
    /// Its pid (also its process group).
    pub pid: u32,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
    reaped: bool,
}

/// How a `testrium` run ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// The raw stdout bytes.
    pub stdout_bytes: Vec<u8>,
    /// The raw stderr bytes.
    pub stderr_bytes: Vec<u8>,
    /// The runner's own `VmHWM` (peak RSS, KiB) as last read from `/proc/<pid>/status` while
    /// it ran (sampled every few ms, so a lower bound of its true peak).
    pub vmhwm_kib: u64,
    /// Start to exit.
    pub elapsed: Duration,
}

impl Finished {
    /// Asserts it exited with `code` and did not panic; shows its output otherwise.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit\n{}", self.show());
        self.assert_no_panic();
        self
    }

    /// Asserts nothing panicked in the runner.
    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "testrium panicked\n{}",
            self.show()
        );
        assert_ne!(self.code, Some(101), "testrium panicked\n{}", self.show());
    }

    /// The output, for failure messages (cut to the last 4 KiB of each stream).
    pub fn show(&self) -> String {
        let cut = |s: &str| {
            let start = s.len().saturating_sub(4096);
            let start = (start..s.len())
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(0);
            s[start..].to_owned()
        };
        format!(
            "code {:?} signal {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.signal,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }

    /// The runner's own sampled peak in MiB (`VmHWM`, a lower bound).
    pub fn vmhwm_mib(&self) -> f64 {
        self.vmhwm_kib as f64 / 1024.0
    }

    /// The memory figure of a scenario.
    ///
    /// (Not `ru_maxrss` from `wait4`: Linux carries the forked test process's peak over the
    /// `exec`, so it measures the test, not the runner.)
    pub fn memory(&self) -> String {
        format!("runner peak RSS (VmHWM): {:.1} MiB", self.vmhwm_mib())
    }
}

impl Running {
    /// Sends `signal` to the `testrium` process itself (as a terminal's Ctrl-C reaches it:
    /// units live in their own process groups).
    pub fn signal(&self, signal: Signal) {
        let _ = nix::sys::signal::kill(pid_of(self.pid), signal);
    }

    /// Waits until it exits; past `timeout`, kills its process group and panics.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let mut vmhwm_kib = 0;
        loop {
            vmhwm_kib = vmhwm_kib.max(vmhwm(self.pid));
            let mut status: libc::c_int = 0;
            let pid = i32::try_from(self.pid).unwrap_or(i32::MAX);
            // SAFETY: waitpid only writes the status we own.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                self.reaped = true;
                let (code, signal) = if libc::WIFEXITED(status) {
                    (Some(libc::WEXITSTATUS(status)), None)
                } else if libc::WIFSIGNALED(status) {
                    (None, Some(libc::WTERMSIG(status)))
                } else {
                    (None, None)
                };
                let stdout_bytes = std::fs::read(&self.out).unwrap_or_default();
                let stderr_bytes = std::fs::read(&self.err).unwrap_or_default();
                return Finished {
                    code,
                    signal,
                    stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
                    stderr: String::from_utf8_lossy(&stderr_bytes).into_owned(),
                    stdout_bytes,
                    stderr_bytes,
                    vmhwm_kib,
                    elapsed: self.started.elapsed(),
                };
            }
            assert!(
                r == 0,
                "waitpid failed: {}",
                std::io::Error::last_os_error()
            );
            if Instant::now() >= deadline {
                let _ = nix::sys::signal::killpg(pid_of(self.pid), Signal::SIGKILL);
                let out = std::fs::read_to_string(&self.out).unwrap_or_default();
                let err = std::fs::read_to_string(&self.err).unwrap_or_default();
                panic!(
                    "testrium did not finish within {timeout:?}\n--- stdout\n{out}\n--- stderr\n{err}"
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// `VmHWM` of a live process, KiB (0 when unreadable).
fn vmhwm(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = nix::sys::signal::killpg(pid_of(self.pid), Signal::SIGKILL);
            let mut status = 0;
            // SAFETY: reaps our own child; blocking is fine, it was just SIGKILLed.
            unsafe { libc::waitpid(i32::try_from(self.pid).unwrap_or(i32::MAX), &mut status, 0) };
        }
    }
}

/// The first event `unit` recorded with `step` in any run database under `base`, waiting up
/// to `timeout` for it.
pub fn wait_probe(base: &Base, unit: &str, step: &str, timeout: Duration) -> Option<Event> {
    let mut found = None;
    wait_until(timeout, || {
        for dir in base.run_dirs() {
            let db = dir.join("Data.db");
            if !db.is_file() {
                continue;
            }
            let Ok(db) = RunDb::open(&db) else { continue };
            let Ok(log) = db.read_events() else { continue };
            if let Some(e) = log
                .events
                .into_iter()
                .find(|e| e.unit == unit && e.step == step)
            {
                found = Some(e);
                return true;
            }
        }
        false
    });
    found
}

/// The pid recorded with an event.
pub fn event_pid(event: &Event) -> u32 {
    event
        .pid
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or_else(|| panic!("event without pid: {event:?}"))
}

/// Where [`run_with_reports`] had `testrium run` write its reports (outside the base folder).
#[derive(Debug)]
pub struct Reports {
    /// `--json`.
    pub json: PathBuf,
    /// `--junit`.
    pub junit: PathBuf,
    /// `--html`.
    pub html: PathBuf,
}

/// `testrium [--verbose] run --json … --junit … --html …` in `base`, run and waited for
/// (with [`DEADLINE`]).
pub fn run_with_reports(base: &Base, verbose: bool) -> (Finished, Reports) {
    let reports = Reports {
        json: base.file("report.json"),
        junit: base.file("junit.xml"),
        html: base.file("report.html"),
    };
    let mut args: Vec<&std::ffi::OsStr> = Vec::new();
    if verbose {
        args.push("--verbose".as_ref());
    }
    args.extend([
        "run".as_ref(),
        "--json".as_ref(),
        reports.json.as_os_str(),
        "--junit".as_ref(),
        reports.junit.as_os_str(),
        "--html".as_ref(),
        reports.html.as_os_str(),
    ]);
    (Testrium::new(base, "run", &args).run(), reports)
}

/// `testrium run --json <base>/report.json` in `base`, not started yet, and the path of its
/// JSON report (read it with [`read_json`]).
pub fn run_json_command(base: &Base) -> (Testrium, PathBuf) {
    json_command(base, false)
}

/// [`run_json_command`], with `--verbose` first when `verbose` (unit output streamed to the
/// terminal).
pub fn json_command(base: &Base, verbose: bool) -> (Testrium, PathBuf) {
    let json = base.file("report.json");
    let mut args: Vec<&std::ffi::OsStr> = Vec::new();
    if verbose {
        args.push("--verbose".as_ref());
    }
    args.extend(["run".as_ref(), "--json".as_ref(), json.as_os_str()]);
    let command = Testrium::new(base, "run", &args);
    (command, json)
}

/// [`run_json_command`], run and waited for (with [`DEADLINE`]).
pub fn run_with_json(base: &Base) -> (Finished, PathBuf) {
    let (command, json) = run_json_command(base);
    (command.run(), json)
}

/// Reads a JSON file written by `testrium run --json`.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path:?}: {e}"))
}

/// The last attempt of group `name` in a `--json` report.
pub fn attempt<'a>(report: &'a serde_json::Value, group: &str) -> &'a serde_json::Value {
    let groups = report["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups: {report}"));
    let g = groups
        .iter()
        .find(|g| g["name"] == group)
        .unwrap_or_else(|| panic!("no group {group} in report"));
    g["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .unwrap_or_else(|| panic!("no attempt of {group}"))
}

/// `unit name -> unit report` of an attempt.
pub fn units(attempt: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    attempt["units"]
        .as_array()
        .map(|units| {
            units
                .iter()
                .map(|u| (u["name"].as_str().unwrap_or_default().to_owned(), u.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The failure kinds of an attempt.
pub fn failure_kinds(attempt: &serde_json::Value) -> Vec<String> {
    attempt["failures"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| f["kind"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The `AttemptOutcome` JSON the orchestrator stored in a run database.
pub fn stored_outcome(db: &Path) -> serde_json::Value {
    let db = RunDb::open(db).unwrap_or_else(|e| panic!("open {db:?}: {e}"));
    let text = db
        .read_meta(testrium_orchestrator::OUTCOME_META_KEY)
        .unwrap_or_else(|| panic!("no outcome stored in {:?}", db.path()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stored outcome: {e}"))
}

/// The verdict the orchestrator stored in a run database (the whole of it: the `--json` report
/// bounds its lists).
pub fn stored_verdict(db: &Path) -> serde_json::Value {
    let db = RunDb::open(db).unwrap_or_else(|e| panic!("open {db:?}: {e}"));
    let text = db
        .read_meta(testrium_orchestrator::VERDICT_META_KEY)
        .unwrap_or_else(|| panic!("no verdict stored in {:?}", db.path()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stored verdict: {e}"))
}

/// The run database of an attempt of a `--json` report.
pub fn attempt_db(attempt: &serde_json::Value) -> PathBuf {
    PathBuf::from(attempt["db_path"].as_str().unwrap_or_default())
}

/// Measured figures of a scenario, kept for `docs/RELIABILITY.md` (see `registry`).
pub fn figures(test: &str, lines: &[String]) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability-figures");
    let _ = std::fs::create_dir_all(&dir);
    let size = if full() { "full" } else { "default" };
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    let _ = std::fs::write(dir.join(format!("{test}.{size}.txt")), text);
    eprintln!("[{test}] figures:\n{}", lines.join("\n"));
}

/// Samples the size of every run database's write-ahead log (`Data.db-wal`) under a base
/// folder, every few milliseconds on a thread of its own, until [`WalSampler::peak`].
#[derive(Debug)]
pub struct WalSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl WalSampler {
    /// Starts sampling the run databases of `base` (those created later included).
    pub fn start(base: &Base) -> WalSampler {
        let runs = base.path.join(".testrium").join("runs");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                let done = stopped.load(Ordering::SeqCst);
                for entry in std::fs::read_dir(&runs).into_iter().flatten().flatten() {
                    if let Ok(meta) = std::fs::metadata(entry.path().join("Data.db-wal")) {
                        peak = peak.max(meta.len());
                    }
                }
                if done {
                    return peak;
                }
                // A sampling period, not a synchronisation: the peak is a lower bound.
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        WalSampler { stop, thread }
    }

    /// Stops sampling; the largest size seen, in bytes.
    pub fn peak(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or(0)
    }
}
