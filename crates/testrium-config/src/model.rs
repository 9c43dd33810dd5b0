//! The validated model of a test group. Values of these types are always valid: they are only
//! produced by the loader or the builders after validation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

use crate::graph::find_cycles;

/// One test group: a folder with `config.toml` and `units/`, or the same built in code.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Group {
    /// The folder name (or the name given to the builder).
    pub name: String,
    /// The group folder: working directory of its units, and on their import path.
    pub dir: PathBuf,
    /// The `["Configs"]` table.
    pub settings: Settings,
    /// Units in `Configs.units` order (disabled units included, with `enabled = false`).
    pub units: IndexMap<String, Unit>,
    /// Declared circuits (`[[circuit]]` in config.toml), in file order.
    pub circuits: Vec<Circuit>,
    /// Declared delivery contracts (`[[contract]]` in config.toml), in file order.
    pub contracts: Vec<Contract>,
    /// Faults injected at a point of the flow (`[[fault]]` in config.toml), in file order.
    pub faults: Vec<Fault>,
    /// What runs before the units: `setup = [...]` in `["Configs"]`, or `setup.py` with `main()`.
    pub setup: Option<Setup>,
    /// Problems that do not stop the group from running (each with [`Severity::Warning`]),
    /// e.g. a unit file that `units` does not list. Reporters show them.
    ///
    /// [`Severity::Warning`]: crate::Severity::Warning
    pub warnings: crate::Diagnostics,
}

impl Group {
    /// The enabled units, in `Configs.units` order.
    pub fn enabled_units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values().filter(|u| u.enabled)
    }

    /// A dependency cycle among the enabled units, if any: the unit names along
    /// `unit_dependencies` edges (a unit, then one it depends on, …), the first repeated at
    /// the end (`["a", "b", "a"]`; `["a", "a"]` for a unit that depends on itself).
    /// Dependencies on units that are not enabled are ignored.
    ///
    /// A group from files or the builders never has one (validation rejects it); a group
    /// changed after validation may, and a runner must not wait forever on it. Found with
    /// [`find_cycles`](crate::find_cycles), like the validation's.
    pub fn dependency_cycle(&self) -> Option<Vec<&str>> {
        let enabled: Vec<&Unit> = self.enabled_units().collect();
        let index: HashMap<&str, usize> = enabled
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.as_str(), i))
            .collect();
        let (units, index) = (&enabled, &index);
        let cycle = find_cycles(enabled.len(), move |i| {
            units[i]
                .dependencies
                .iter()
                .chain(&units[i].completed_dependencies)
                .filter_map(move |d| index.get(d.as_str()).copied())
        })
        .into_iter()
        .next()?;
        Some(cycle.into_iter().map(|i| units[i].name.as_str()).collect())
    }
}

/// The `["Configs"]` table, defaults applied and legacy aliases resolved.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// `enabled` (default true): a disabled group is skipped by discovery, and said so.
    pub enabled: bool,
    /// `timeout` in seconds (> 0, default 30): the whole group's deadline.
    pub timeout: Duration,
    /// `repeat` (0..=10, default 0): extra runs of the group.
    pub repeat: u8,
    /// `debug-modes` (default all four).
    pub debug_modes: Vec<LogMode>,
    /// `test-modes` (default `["DEBUG"]`; `"All"` means every mode).
    pub test_modes: Vec<LogMode>,
    /// `use-ai` (default false). Accepted for compatibility; no effect.
    pub use_ai: bool,
    /// `diagnostics` (default true).
    pub diagnostics: bool,
    /// `detect-bad-behavior` (default true).
    pub detect_bad_behavior: bool,
    /// `save-resume` (default true).
    pub save_resume: bool,
    /// `gen-metrics`, alias `analitics` (default true).
    pub gen_metrics: bool,
    /// `save-metrics`, alias `save-analitics` (default true): store the result in history.
    pub save_metrics: bool,
    /// `save-scores`, alias `save-performance` (default true).
    pub save_scores: bool,
    /// `requires = ["redis-server"]` (new): programs the group needs; a group whose program is
    /// not found (on `PATH`, or relative to the group folder when it contains `/`) is skipped
    /// with that reason instead of failing.
    pub requires: Vec<String>,
    /// `python-fork` (new, default true): the group's `entrypoint` units and direct tests
    /// are forks of one pre-warmed interpreter; `false` starts each in a fresh interpreter. A
    /// unit's own `python-fork` takes precedence.
    pub python_fork: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            timeout: Duration::from_secs(30),
            repeat: 0,
            debug_modes: LogMode::ALL.to_vec(),
            test_modes: vec![LogMode::Debug],
            use_ai: false,
            diagnostics: true,
            detect_bad_behavior: true,
            save_resume: true,
            gen_metrics: true,
            save_metrics: true,
            save_scores: true,
            requires: Vec::new(),
            python_fork: true,
        }
    }
}

/// A value of `debug-modes` / `test-modes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogMode {
    /// `DEBUG`
    Debug,
    /// `INFO`
    Info,
    /// `WARNING`
    Warning,
    /// `EXCEPT`
    Except,
}

impl LogMode {
    /// Every mode, in the original's order.
    pub const ALL: [LogMode; 4] = [
        LogMode::Debug,
        LogMode::Info,
        LogMode::Warning,
        LogMode::Except,
    ];

    /// The text used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            LogMode::Debug => "DEBUG",
            LogMode::Info => "INFO",
            LogMode::Warning => "WARNING",
            LogMode::Except => "EXCEPT",
        }
    }
}

/// One unit: `units/<name>.toml` holding a `[<name>]` table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Unit {
    /// The unit's name: safe as a file name (no `/`, no `..`, no control characters).
    pub name: String,
    /// `init` (non-negative, unique in the group): breaks ties among units free to start.
    pub init: u32,
    /// `enabled` (default true). A disabled unit is not started and its probes are not required.
    pub enabled: bool,
    /// How the unit's process is started.
    pub launch: Launch,
    /// `ready_event`: the probe that makes the unit ready; ready at once when `None` (and no
    /// [`ready_check`](Unit::ready_check)).
    pub ready_event: Option<String>,
    /// `ready_tcp`, `ready_http`, `ready_log` or `ready_command`: readiness without a probe
    /// (exclusive with `ready_event`). Values as written: port placeholders not expanded.
    pub ready_check: Option<ReadyCheck>,
    /// `ports = ["http", …]`: names of loopback TCP ports the runner picks for the unit
    /// before it starts (`TESTRIUM_PORT_<NAME>`, `{port.<name>}`).
    pub ports: Vec<String>,
    /// `completed_dependencies`: units that must have exited 0 before this one starts.
    pub completed_dependencies: Vec<String>,
    /// `ready_timeout` in seconds (> 0, default 10).
    pub ready_timeout: Duration,
    /// `timeout` in seconds: the unit's own deadline, if any.
    pub timeout: Option<Duration>,
    /// `use_setup` (default false).
    pub use_setup: bool,
    /// `in-except` (default `Resume`): what happens when the unit fails.
    pub in_except: InExcept,
    /// `unit_dependencies` (alias `unity_depencies`): units that must be ready before this starts.
    pub dependencies: Vec<String>,
    /// `events`: the probes this unit must record for the group to pass (unique).
    pub events: Vec<String>,
    /// `env = { KEY = "value" }`: extra environment for the unit's process.
    pub env: IndexMap<String, String>,
    /// `cwd`: working directory, relative to the group folder (default: the group folder).
    pub cwd: Option<PathBuf>,
    /// `python-fork` (new): `Some(false)` runs this `entrypoint` unit in a fresh interpreter,
    /// not as a fork of the pre-warmed one; `None` follows the group's `python-fork`.
    pub python_fork: Option<bool>,
    /// `otel_service = "orders-api"` (new): the OpenTelemetry `service.name` whose spans are
    /// this unit's probes; `None`: the unit's own name.
    pub otel_service: Option<String>,
    /// `otel_span_end = true` (new, default false): each of the unit's spans also records
    /// `<span name>:end` at the span's end.
    pub otel_span_end: bool,
    /// `remote = true` (new, default false): the unit runs elsewhere and is never started by
    /// the runner; its probes come over OTLP or the remote probe API. Its launch is
    /// [`Launch::Passive`].
    pub remote: bool,
}

/// Readiness without a probe: what the runner checks until it passes (or `ready_timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadyCheck {
    /// `ready_tcp = "127.0.0.1:6379"`: a TCP connection succeeds.
    Tcp(String),
    /// `ready_http = "http://127.0.0.1:8080/health"`: a plain HTTP GET answers 2xx.
    Http(String),
    /// `ready_log = "Ready to accept connections"`: a regular expression found in a line the
    /// unit writes to stdout or stderr.
    Log(String),
    /// `ready_command = ["pg_isready", …]`: the command exits 0 (run in the unit's working
    /// directory with its environment, each try bounded).
    Command(Vec<String>),
}

impl ReadyCheck {
    /// The unit key this check is written with (`ready_tcp`, …).
    pub fn key(&self) -> &'static str {
        match self {
            ReadyCheck::Tcp(_) => "ready_tcp",
            ReadyCheck::Http(_) => "ready_http",
            ReadyCheck::Log(_) => "ready_log",
            ReadyCheck::Command(_) => "ready_command",
        }
    }

    /// Short kind (`tcp`, `http`, `log`, `command`), as recorded with the readiness event.
    pub fn kind(&self) -> &'static str {
        match self {
            ReadyCheck::Tcp(_) => "tcp",
            ReadyCheck::Http(_) => "http",
            ReadyCheck::Log(_) => "log",
            ReadyCheck::Command(_) => "command",
        }
    }

    /// The check's value as one line (a command joined with spaces).
    pub fn target(&self) -> String {
        match self {
            ReadyCheck::Tcp(v) | ReadyCheck::Http(v) | ReadyCheck::Log(v) => v.clone(),
            ReadyCheck::Command(argv) => argv.join(" "),
        }
    }
}

impl std::fmt::Display for ReadyCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind(), self.target())
    }
}

/// How a unit's process is started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Launch {
    /// `entrypoint = "module:function"`: that Python function in its own `python3` process.
    Entrypoint {
        /// Dotted module path, relative to the group folder.
        module: String,
        /// Function name in that module.
        function: String,
    },
    /// `command = ["prog", "arg", …]`: that program (resolved against `PATH`, or relative to the
    /// unit's working directory when it contains a `/`).
    Command(Vec<String>),
    /// Neither: the unit is not started; its probes may come from setup or test functions
    /// (as in the original, where units without an entrypoint are passive).
    Passive,
}

/// `in-except`: what the group does when this unit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InExcept {
    /// `Resume`: record the failure and let the rest of the circuit continue.
    Resume,
    /// `Reload`: restart the failed unit (a bounded number of times).
    Reload,
    /// `Resume-ALL`: record the failure and let every unit run to its end, whatever else fails.
    ResumeAll,
}

impl InExcept {
    /// The text used in unit files.
    pub fn as_str(self) -> &'static str {
        match self {
            InExcept::Resume => "Resume",
            InExcept::Reload => "Reload",
            InExcept::ResumeAll => "Resume-ALL",
        }
    }
}

/// What runs before the units and is torn down at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setup {
    /// `setup.py` in the group folder, whose `main()` runs in a background `python3` process.
    PythonMain(PathBuf),
    /// `setup = ["prog", "arg", …]` in `["Configs"]`.
    Command(Vec<String>),
}

/// A fault injected when a probe is recorded (`[[fault]]`): when unit `after_unit` records
/// `after_probe` for the `occurrence`-th time, `action` hits unit `unit`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Fault {
    /// The unit whose probe triggers the fault.
    pub after_unit: String,
    /// The probe that triggers it.
    pub after_probe: String,
    /// Which recording of that probe triggers it (1-based, default 1).
    pub occurrence: u32,
    /// The unit hit.
    pub unit: String,
    /// What is done to it.
    pub action: FaultAction,
    /// `duration-ms`: for `stop`, how long before SIGCONT; for `restart`, how long before it
    /// starts again (default 0).
    pub duration: Duration,
    /// `optional = true`: a fault whose probe never comes does not fail the group.
    pub optional: bool,
}

impl Fault {
    /// A fault: `action` on `unit` when `after` (`"unit:probe"`) is first recorded.
    pub fn new(
        after_unit: impl Into<String>,
        after_probe: impl Into<String>,
        unit: impl Into<String>,
        action: FaultAction,
    ) -> Self {
        Fault {
            after_unit: after_unit.into(),
            after_probe: after_probe.into(),
            occurrence: 1,
            unit: unit.into(),
            action,
            duration: Duration::ZERO,
            optional: false,
        }
    }

    /// On the `occurrence`-th recording of the probe (1-based).
    #[must_use]
    pub fn occurrence(mut self, occurrence: u32) -> Self {
        self.occurrence = occurrence;
        self
    }

    /// `duration-ms`.
    #[must_use]
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// `optional`.
    #[must_use]
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }
}

/// What a fault does to its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultAction {
    /// SIGKILL to the unit's whole tree.
    Kill,
    /// SIGTERM, the grace period, then SIGKILL.
    Terminate,
    /// SIGSTOP to the whole tree; SIGCONT after `duration-ms`.
    Stop,
    /// Kill the tree, then start the unit again after `duration-ms`, awaiting its readiness
    /// as at first start (its dependents keep running).
    Restart,
}

impl FaultAction {
    /// Every action, in documentation order.
    pub const ALL: [FaultAction; 4] = [
        FaultAction::Kill,
        FaultAction::Terminate,
        FaultAction::Stop,
        FaultAction::Restart,
    ];

    /// The text used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultAction::Kill => "kill",
            FaultAction::Terminate => "terminate",
            FaultAction::Stop => "stop",
            FaultAction::Restart => "restart",
        }
    }
}

/// A declared circuit: an ordered list of hops from cause to effect.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Circuit {
    /// `name` (default `circuit-<n>`, 1-based).
    pub name: String,
    /// The hops, in causal order; at least two.
    pub hops: Vec<Hop>,
    /// Budget for the whole circuit: first hop to last.
    pub total_budget: Option<Duration>,
}

/// One hop of a circuit: a probe of a unit, `"unit:probe"`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Hop {
    /// The unit that records the probe (a unit of the group).
    pub unit: String,
    /// The probe (one of that unit's `events`).
    pub probe: String,
    /// Budget from the previous hop to this one (`None` for the first hop or no budget).
    pub budget: Option<Duration>,
}

impl Hop {
    /// A hop with no budget.
    pub fn new(unit: impl Into<String>, probe: impl Into<String>) -> Self {
        Hop {
            unit: unit.into(),
            probe: probe.into(),
            budget: None,
        }
    }

    /// Sets the budget from the previous hop.
    #[must_use]
    pub fn within(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
        self
    }
}

/// A delivery contract (`[[contract]]` in config.toml): what a channel from a Send probe to a
/// Receive probe promises, judged on the events paired by key instead of the default
/// Send/Receive rules.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contract {
    /// `send = "unit:probe"`: the Send probe.
    pub send: ProbeRef,
    /// `receive = "unit:probe"`: the Receive probe, paired with the send by event key.
    pub receive: ProbeRef,
    /// `delivery`: what the channel promises.
    pub delivery: Delivery,
    /// `within-ms` (> 0): each Send must be received within this time; a later Receive is
    /// `late`.
    pub within: Option<Duration>,
}

impl Contract {
    /// A contract from `send` to `receive` with no deadline.
    pub fn new(send: ProbeRef, receive: ProbeRef, delivery: Delivery) -> Self {
        Contract {
            send,
            receive,
            delivery,
            within: None,
        }
    }

    /// Sets `within-ms`: each Send must be received within `within`.
    #[must_use]
    pub fn within(mut self, within: Duration) -> Self {
        self.within = Some(within);
        self
    }

    /// The contract's name in reports: `send -> receive` (`producer:sent -> worker:got`).
    pub fn name(&self) -> String {
        format!("{} -> {}", self.send, self.receive)
    }
}

/// A probe of a unit, `"unit:probe"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ProbeRef {
    /// The unit that records the probe.
    pub unit: String,
    /// The probe (one of that unit's `events`).
    pub probe: String,
}

impl ProbeRef {
    /// `unit:probe`.
    pub fn new(unit: impl Into<String>, probe: impl Into<String>) -> Self {
        ProbeRef {
            unit: unit.into(),
            probe: probe.into(),
        }
    }
}

impl std::fmt::Display for ProbeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.unit, self.probe)
    }
}

/// `delivery` of a [`Contract`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Delivery {
    /// `exactly-once`: every Send received, no key received twice.
    ExactlyOnce,
    /// `at-least-once`: every Send received; duplicates are counted, not failed.
    AtLeastOnce,
    /// `at-most-once`: no key received twice; losses are counted, not failed.
    AtMostOnce,
}

impl Delivery {
    /// Every value, in documentation order.
    pub const ALL: [Delivery; 3] = [
        Delivery::ExactlyOnce,
        Delivery::AtLeastOnce,
        Delivery::AtMostOnce,
    ];

    /// The text used in config files (`exactly-once`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::ExactlyOnce => "exactly-once",
            Delivery::AtLeastOnce => "at-least-once",
            Delivery::AtMostOnce => "at-most-once",
        }
    }

    /// The value written `text`, if any.
    pub fn from_text(text: &str) -> Option<Delivery> {
        Delivery::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// Whether a key sent and never received fails the contract.
    pub fn loss_fails(self) -> bool {
        self != Delivery::AtMostOnce
    }

    /// Whether a key received more than once fails the contract.
    pub fn duplicate_fails(self) -> bool {
        self != Delivery::AtLeastOnce
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
