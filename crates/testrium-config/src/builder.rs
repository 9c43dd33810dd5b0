//! Building groups in code, validated exactly like files, so a Rust harness needs no files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use crate::check::{self, Draft, DraftCircuit, DraftContract, DraftFault, DraftUnit, UnitSites};
use crate::diagnostic::Diagnostics;
use crate::model::{
    Circuit, Contract, Fault, Group, Hop, InExcept, Launch, ReadyCheck, Settings, Setup, Unit,
};
use crate::names::parse_entrypoint;
use crate::source::{Site, Sources};

impl Group {
    /// Starts a group built in code. `dir` is the working directory of its units.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use testrium_config::{Circuit, Group, Hop, Unit};
    ///
    /// let group = Group::builder("test_echo", "/tmp")
    ///     .timeout(Duration::from_secs(5))
    ///     .unit(
    ///         Unit::command("server", ["./server", "--port", "0"])
    ///             .init(0)
    ///             .ready_event("listening")
    ///             .events(["listening", "request-received"]),
    ///     )
    ///     .unit(
    ///         Unit::entrypoint("client", "client:main")
    ///             .init(1)
    ///             .depends_on(["server"])
    ///             .events(["request-sent", "reply-received"]),
    ///     )
    ///     .circuit(
    ///         Circuit::new("echo")
    ///             .hop(Hop::new("client", "request-sent"))
    ///             .hop(Hop::new("server", "request-received").within(Duration::from_millis(50)))
    ///             .total_budget(Duration::from_millis(500)),
    ///     )
    ///     .build()?;
    /// assert_eq!(group.units.len(), 2);
    /// # Ok::<(), testrium_config::Diagnostics>(())
    /// ```
    pub fn builder(name: impl Into<String>, dir: impl AsRef<Path>) -> GroupBuilder {
        let dir = dir.as_ref();
        GroupBuilder {
            name: name.into(),
            dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
            settings: Settings::default(),
            units: Vec::new(),
            circuits: Vec::new(),
            contracts: Vec::new(),
            faults: Vec::new(),
            setup: None,
        }
    }
}

/// A group being built in code; [`GroupBuilder::build`] validates it like a folder.
#[derive(Debug, Clone)]
#[must_use]
pub struct GroupBuilder {
    name: String,
    dir: PathBuf,
    settings: Settings,
    units: Vec<UnitBuilder>,
    circuits: Vec<Circuit>,
    contracts: Vec<Contract>,
    faults: Vec<Fault>,
    setup: Option<Setup>,
}

impl GroupBuilder {
    /// Replaces every `["Configs"]` setting at once.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// `timeout`: the whole group's deadline (> 0).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// `repeat`: extra runs (0..=10).
    pub fn repeat(mut self, repeat: u8) -> Self {
        self.settings.repeat = repeat;
        self
    }

    /// `enabled`.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.settings.enabled = enabled;
        self
    }

    /// `python-fork` (default true): `false` starts every `entrypoint` unit and the direct
    /// tests in a fresh interpreter.
    pub fn python_fork(mut self, python_fork: bool) -> Self {
        self.settings.python_fork = python_fork;
        self
    }

    /// Adds a unit (units keep the order they are added in).
    pub fn unit(mut self, unit: UnitBuilder) -> Self {
        self.units.push(unit);
        self
    }

    /// Adds a circuit.
    pub fn circuit(mut self, circuit: Circuit) -> Self {
        self.circuits.push(circuit);
        self
    }

    /// Adds a delivery contract (as `[[contract]]`).
    ///
    /// ```
    /// use testrium_config::{Contract, Delivery, Group, ProbeRef, Unit};
    ///
    /// let group = Group::builder("test_queue", "/tmp")
    ///     .unit(Unit::passive("producer").events(["order-sent"]))
    ///     .unit(Unit::passive("worker").events(["order-received"]))
    ///     .contract(Contract::new(
    ///         ProbeRef::new("producer", "order-sent"),
    ///         ProbeRef::new("worker", "order-received"),
    ///         Delivery::AtLeastOnce,
    ///     ))
    ///     .build()?;
    /// assert_eq!(group.contracts[0].name(), "producer:order-sent -> worker:order-received");
    /// # Ok::<(), testrium_config::Diagnostics>(())
    /// ```
    pub fn contract(mut self, contract: Contract) -> Self {
        self.contracts.push(contract);
        self
    }

    /// Adds a `[[fault]]`.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Sets what runs before the units.
    pub fn setup(mut self, setup: Setup) -> Self {
        self.setup = Some(setup);
        self
    }

    /// Validates the group with the same rules as a folder.
    ///
    /// Units without [`UnitBuilder::init`] get the numbers after the highest one given, in the
    /// order they were added.
    ///
    /// # Errors
    ///
    /// Every problem found; diagnostics name the group and have no line or column.
    pub fn build(self) -> Result<Group, Diagnostics> {
        let mut sources = Sources::default();
        let file = sources.add(PathBuf::from(&self.name), String::new());
        let site = Site { file, span: None };
        let mut diagnostics = Diagnostics::new();
        let mut next_init = self
            .units
            .iter()
            .filter_map(|u| u.init)
            .max()
            .map_or(0, |m| m.saturating_add(1));
        let mut units = Vec::with_capacity(self.units.len());
        for builder in self.units {
            let explicit_init = builder.init.is_some();
            let init = builder.init.unwrap_or_else(|| {
                let init = next_init;
                next_init = next_init.saturating_add(1);
                init
            });
            let launch = match builder.launch {
                PendingLaunch::Ready(launch) => launch,
                PendingLaunch::Entrypoint(text) => {
                    match parse_entrypoint(&text) {
                        Ok((module, function)) => Launch::Entrypoint { module, function },
                        Err(message) => {
                            diagnostics.push(
                            sources
                                .error(&site, format!("unit `{}`: {message}", builder.name))
                                .with_key("entrypoint")
                                .with_hint("e.g. `Unit::entrypoint(\"source\", \"test_case:run_source\")`"),
                        );
                            Launch::Passive
                        }
                    }
                }
            };
            units.push(DraftUnit {
                unit: Unit {
                    name: builder.name,
                    init,
                    enabled: builder.enabled,
                    launch,
                    ready_event: builder.ready_event,
                    ready_check: builder.ready_check,
                    ports: builder.ports,
                    completed_dependencies: builder.completed_dependencies,
                    ready_timeout: builder.ready_timeout,
                    timeout: builder.timeout,
                    use_setup: builder.use_setup,
                    in_except: builder.in_except,
                    dependencies: builder.dependencies,
                    events: builder.events,
                    env: builder.env,
                    cwd: builder.cwd,
                    python_fork: builder.python_fork,
                    otel_service: builder.otel_service,
                    otel_span_end: builder.otel_span_end,
                    remote: builder.remote,
                },
                explicit_init,
                sites: UnitSites::at(site.clone()),
            });
        }
        let draft = Draft {
            name: self.name,
            dir: self.dir,
            settings: self.settings,
            site: site.clone(),
            repeat_site: None,
            units,
            broken_units: Default::default(),
            circuits: self
                .circuits
                .into_iter()
                .map(|circuit| DraftCircuit {
                    circuit,
                    site: site.clone(),
                    hop_sites: Vec::new(),
                    budget_site: None,
                })
                .collect(),
            contracts: self
                .contracts
                .into_iter()
                .map(|contract| DraftContract {
                    contract,
                    site: site.clone(),
                    send_site: None,
                    receive_site: None,
                })
                .collect(),
            faults: self
                .faults
                .into_iter()
                .map(|fault| DraftFault {
                    fault,
                    after_site: site.clone(),
                    unit_site: site.clone(),
                })
                .collect(),
            setup: self.setup,
            setup_site: None,
        };
        check::finish(draft, &sources, diagnostics, Diagnostics::new())
    }
}

/// How a unit built in code is launched, before validation.
#[derive(Debug, Clone)]
enum PendingLaunch {
    Ready(Launch),
    Entrypoint(String),
}

/// A unit being built in code; add it with [`GroupBuilder::unit`].
#[derive(Debug, Clone)]
#[must_use]
pub struct UnitBuilder {
    name: String,
    launch: PendingLaunch,
    init: Option<u32>,
    enabled: bool,
    ready_event: Option<String>,
    ready_check: Option<ReadyCheck>,
    ports: Vec<String>,
    completed_dependencies: Vec<String>,
    ready_timeout: Duration,
    timeout: Option<Duration>,
    use_setup: bool,
    in_except: InExcept,
    dependencies: Vec<String>,
    events: Vec<String>,
    env: IndexMap<String, String>,
    cwd: Option<PathBuf>,
    python_fork: Option<bool>,
    otel_service: Option<String>,
    otel_span_end: bool,
    remote: bool,
}

impl Unit {
    /// A unit that runs a program: `argv[0]` is resolved against `PATH`, or relative to the
    /// unit's working directory when it contains a `/`.
    pub fn command<I, S>(name: impl Into<String>, argv: I) -> UnitBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        UnitBuilder::new(
            name.into(),
            PendingLaunch::Ready(Launch::Command(argv.into_iter().map(Into::into).collect())),
        )
    }

    /// A unit that runs the Python function `module:function` of the group folder.
    pub fn entrypoint(name: impl Into<String>, entrypoint: impl Into<String>) -> UnitBuilder {
        UnitBuilder::new(name.into(), PendingLaunch::Entrypoint(entrypoint.into()))
    }

    /// A unit that is not started: its probes come from setup or test functions.
    pub fn passive(name: impl Into<String>) -> UnitBuilder {
        UnitBuilder::new(name.into(), PendingLaunch::Ready(Launch::Passive))
    }

    /// `remote = true`: a unit that runs on another host and is never started; its probes come
    /// over OTLP or the remote probe API.
    pub fn remote(name: impl Into<String>) -> UnitBuilder {
        let mut builder = UnitBuilder::new(name.into(), PendingLaunch::Ready(Launch::Passive));
        builder.remote = true;
        builder
    }
}

impl UnitBuilder {
    fn new(name: String, launch: PendingLaunch) -> Self {
        UnitBuilder {
            name,
            launch,
            init: None,
            enabled: true,
            ready_event: None,
            ready_check: None,
            ports: Vec::new(),
            completed_dependencies: Vec::new(),
            ready_timeout: Duration::from_secs(10),
            timeout: None,
            use_setup: false,
            in_except: InExcept::Resume,
            dependencies: Vec::new(),
            events: Vec::new(),
            env: IndexMap::new(),
            cwd: None,
            python_fork: None,
            otel_service: None,
            otel_span_end: false,
            remote: false,
        }
    }

    /// `otel_service`: the OpenTelemetry `service.name` whose spans are this unit's probes.
    pub fn otel_service(mut self, service: impl Into<String>) -> Self {
        self.otel_service = Some(service.into());
        self
    }

    /// `otel_span_end`: each span also records `<span name>:end` at its end.
    pub fn otel_span_end(mut self, on: bool) -> Self {
        self.otel_span_end = on;
        self
    }

    /// `init`: unique in the group; orders units free to start at the same time.
    pub fn init(mut self, init: u32) -> Self {
        self.init = Some(init);
        self
    }

    /// `enabled` (default true).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// `ready_event`: the probe that makes the unit ready.
    pub fn ready_event(mut self, probe: impl Into<String>) -> Self {
        self.ready_event = Some(probe.into());
        self
    }

    /// A readiness check instead of a probe: [`ReadyCheck::Tcp`] (`ready_tcp`), `Http`,
    /// `Log` or `Command`. Exclusive with [`ready_event`](UnitBuilder::ready_event).
    pub fn ready_check(mut self, check: ReadyCheck) -> Self {
        self.ready_check = Some(check);
        self
    }

    /// `ports`: names of loopback ports the runner picks for the unit (added to any given
    /// before); see `{port.<name>}` placeholders and `TESTRIUM_PORT_<NAME>`.
    pub fn ports<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ports.extend(names.into_iter().map(Into::into));
        self
    }

    /// `completed_dependencies`: units that must have exited 0 before this one starts (added
    /// to any given before).
    pub fn after_completion_of<I, S>(mut self, units: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.completed_dependencies
            .extend(units.into_iter().map(Into::into));
        self
    }

    /// `ready_timeout` (default 10 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// `timeout`: the unit's own deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `use_setup` (default false).
    pub fn use_setup(mut self, use_setup: bool) -> Self {
        self.use_setup = use_setup;
        self
    }

    /// `python-fork` (default: the group's): `false` runs this `entrypoint` unit in a fresh
    /// interpreter instead of a fork of the pre-warmed one.
    pub fn python_fork(mut self, python_fork: bool) -> Self {
        self.python_fork = Some(python_fork);
        self
    }

    /// `in-except` (default [`InExcept::Resume`]).
    pub fn in_except(mut self, in_except: InExcept) -> Self {
        self.in_except = in_except;
        self
    }

    /// `unit_dependencies`: units that must be ready before this one starts (added to any
    /// given before).
    pub fn depends_on<I, S>(mut self, units: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.dependencies.extend(units.into_iter().map(Into::into));
        self
    }

    /// `events`: probes this unit must record (added to any given before).
    pub fn events<I, S>(mut self, probes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events.extend(probes.into_iter().map(Into::into));
        self
    }

    /// One `env` entry.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// `cwd`, relative to the group folder.
    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }
}

impl Circuit {
    /// An empty circuit; add at least two hops.
    pub fn new(name: impl Into<String>) -> Self {
        Circuit {
            name: name.into(),
            hops: Vec::new(),
            total_budget: None,
        }
    }

    /// Appends a hop.
    #[must_use]
    pub fn hop(mut self, hop: Hop) -> Self {
        self.hops.push(hop);
        self
    }

    /// Budget from the first hop to the last.
    #[must_use]
    pub fn total_budget(mut self, budget: Duration) -> Self {
        self.total_budget = Some(budget);
        self
    }
}
