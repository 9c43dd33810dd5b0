//! Group-level validation, shared by files and builders: a [`Draft`] (each value already of
//! the right type, invalid values replaced by defaults and reported) becomes a [`Group`] or
//! the list of every problem.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use indexmap::IndexMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::find_cycles;
use crate::model::{Circuit, Fault, Group, Launch, Settings, Setup, Unit};
use crate::names::{did_you_mean, is_module_name, unsafe_name_reason};
use crate::source::{Site, Sources};

/// A group before the cross-checks.
#[derive(Debug)]
pub(crate) struct Draft {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) settings: Settings,
    /// Where group-level problems point when nothing better is known.
    pub(crate) site: Site,
    /// `Configs.repeat` before the range check (builders may give anything).
    pub(crate) repeat_site: Option<Site>,
    pub(crate) units: Vec<DraftUnit>,
    /// Units named in `Configs.units` whose file is missing or broken: references to them are
    /// not reported again.
    pub(crate) broken_units: HashSet<String>,
    pub(crate) circuits: Vec<DraftCircuit>,
    pub(crate) contracts: Vec<DraftContract>,
    pub(crate) faults: Vec<DraftFault>,
    pub(crate) setup: Option<Setup>,
    pub(crate) setup_site: Option<Site>,
}

/// A unit before the cross-checks, with where each of its values came from.
#[derive(Debug)]
pub(crate) struct DraftUnit {
    pub(crate) unit: Unit,
    /// `init` was given (builders may leave it out).
    pub(crate) explicit_init: bool,
    pub(crate) sites: UnitSites,
}

/// Where each value of a unit is written (all default to the unit's header).
#[derive(Debug, Clone)]
pub(crate) struct UnitSites {
    pub(crate) header: Site,
    pub(crate) init: Option<Site>,
    pub(crate) launch: Option<Site>,
    pub(crate) ready_event: Option<Site>,
    /// Every readiness key given (`ready_event`, `ready_tcp`, …) with its site, in order.
    pub(crate) readiness: Vec<(&'static str, Site)>,
    pub(crate) ports: Vec<Site>,
    pub(crate) completed: Vec<Site>,
    pub(crate) ready_timeout: Option<Site>,
    pub(crate) timeout: Option<Site>,
    pub(crate) dependencies: Vec<Site>,
    pub(crate) events: Vec<Site>,
    pub(crate) env: Option<Site>,
    pub(crate) cwd: Option<Site>,
    pub(crate) otel_service: Option<Site>,
}

impl UnitSites {
    pub(crate) fn at(header: Site) -> Self {
        UnitSites {
            header,
            init: None,
            launch: None,
            ready_event: None,
            readiness: Vec::new(),
            ports: Vec::new(),
            completed: Vec::new(),
            ready_timeout: None,
            timeout: None,
            dependencies: Vec::new(),
            events: Vec::new(),
            env: None,
            cwd: None,
            otel_service: None,
        }
    }

    fn or_header<'a>(&'a self, site: &'a Option<Site>) -> &'a Site {
        site.as_ref().unwrap_or(&self.header)
    }

    fn dependency(&self, index: usize) -> &Site {
        self.dependencies.get(index).unwrap_or(&self.header)
    }

    fn port(&self, index: usize) -> &Site {
        self.ports.get(index).unwrap_or(&self.header)
    }

    fn completed(&self, index: usize) -> &Site {
        self.completed.get(index).unwrap_or(&self.header)
    }

    fn event(&self, index: usize) -> &Site {
        self.events.get(index).unwrap_or(&self.header)
    }
}

/// A fault with where its parts are written.
#[derive(Debug)]
pub(crate) struct DraftFault {
    pub(crate) fault: Fault,
    pub(crate) after_site: Site,
    pub(crate) unit_site: Site,
}

/// A circuit with where its parts are written.
#[derive(Debug)]
pub(crate) struct DraftCircuit {
    pub(crate) circuit: Circuit,
    pub(crate) site: Site,
    pub(crate) hop_sites: Vec<Site>,
    pub(crate) budget_site: Option<Site>,
}

impl DraftCircuit {
    fn hop(&self, index: usize) -> &Site {
        self.hop_sites.get(index).unwrap_or(&self.site)
    }
}

mod contracts;
mod services;

pub(crate) use self::contracts::DraftContract;

struct Checker<'a> {
    sources: &'a Sources,
    diagnostics: Diagnostics,
}

impl Checker<'_> {
    fn error(&mut self, site: &Site, key: &str, message: String, hint: Option<String>) {
        let mut diagnostic: Diagnostic = self.sources.error(site, message).with_hint_opt(hint);
        if !key.is_empty() {
            diagnostic = diagnostic.with_key(key);
        }
        self.diagnostics.push(diagnostic);
    }
}

/// Runs every cross-check; `earlier` holds the problems found while reading the files.
pub(crate) fn finish(
    draft: Draft,
    sources: &Sources,
    earlier: Diagnostics,
    warnings: Diagnostics,
) -> Result<Group, Diagnostics> {
    let mut checker = Checker {
        sources,
        diagnostics: earlier,
    };
    check_settings(&mut checker, &draft);
    check_units(&mut checker, &draft);
    check_dependencies(&mut checker, &draft);
    services::check_services(&mut checker, &draft);
    check_circuits(&mut checker, &draft);
    contracts::check_contracts(&mut checker, &draft);
    check_faults(&mut checker, &draft);
    if !checker.diagnostics.is_empty() {
        let mut diagnostics = checker.diagnostics;
        diagnostics.extend(warnings);
        diagnostics.sort();
        return Err(diagnostics);
    }
    let mut units = IndexMap::with_capacity(draft.units.len());
    for draft_unit in draft.units {
        units.insert(draft_unit.unit.name.clone(), draft_unit.unit);
    }
    Ok(Group {
        name: draft.name,
        dir: draft.dir,
        settings: draft.settings,
        units,
        circuits: draft.circuits.into_iter().map(|c| c.circuit).collect(),
        contracts: draft.contracts.into_iter().map(|c| c.contract).collect(),
        faults: draft.faults.into_iter().map(|f| f.fault).collect(),
        setup: draft.setup,
        warnings,
    })
}

fn check_settings(checker: &mut Checker<'_>, draft: &Draft) {
    if let Some(reason) = unsafe_name_reason(&draft.name) {
        checker.error(
            &draft.site,
            "",
            format!("group name `{}` cannot be used: {reason}", draft.name),
            Some("a group name becomes part of its run directory's name".into()),
        );
    }
    if draft.settings.timeout.is_zero() {
        checker.error(
            &draft.site,
            "timeout",
            "group `timeout` must be greater than 0".into(),
            None,
        );
    }
    if draft.settings.repeat > 10 {
        let site = draft.repeat_site.as_ref().unwrap_or(&draft.site);
        checker.error(
            site,
            "repeat",
            format!(
                "`repeat` must be between 0 and 10, found {}",
                draft.settings.repeat
            ),
            None,
        );
    }
    if let Some(Setup::Command(argv)) = &draft.setup {
        let site = draft.setup_site.as_ref().unwrap_or(&draft.site);
        check_argv(checker, site, "setup", argv);
    }
}

fn check_argv(checker: &mut Checker<'_>, site: &Site, key: &str, argv: &[String]) {
    match argv.first() {
        None => checker.error(
            site,
            key,
            format!("`{key}` must name a program: the list is empty"),
            Some(format!("e.g. `{key} = [\"./server\", \"--port\", \"0\"]`")),
        ),
        Some(program) if program.trim().is_empty() => checker.error(
            site,
            key,
            format!("`{key}` must name a program: the first element is blank"),
            None,
        ),
        Some(_) => {}
    }
    if argv.iter().any(|a| a.contains('\0')) {
        checker.error(site, key, format!("`{key}` contains a NUL character"), None);
    }
}

fn check_units(checker: &mut Checker<'_>, draft: &Draft) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut inits: HashMap<u32, &str> = HashMap::new();
    let mut otel_services: HashMap<&str, &str> = HashMap::new();
    for (index, draft_unit) in draft.units.iter().enumerate() {
        let unit = &draft_unit.unit;
        let sites = &draft_unit.sites;
        if let Some(reason) = unsafe_name_reason(&unit.name) {
            checker.error(
                &sites.header,
                "",
                format!("unit name `{}` cannot be used: {reason}", unit.name),
                Some(
                    "a unit name becomes a file name (units/<name>.toml, logs/<name>.log): use \
                     letters, digits, `-` and `_`"
                        .into(),
                ),
            );
        }
        if names.insert(&unit.name, index).is_some() {
            checker.error(
                &sites.header,
                "",
                format!("unit `{}` is defined twice", unit.name),
                Some("give every unit its own name".into()),
            );
        }
        if draft_unit.explicit_init
            && let Some(first) = inits.insert(unit.init, &unit.name)
            && first != unit.name
        {
            checker.error(
                sites.or_header(&sites.init),
                "init",
                format!(
                    "duplicate init {}: units `{first}` and `{}`",
                    unit.init, unit.name
                ),
                Some(
                    "every unit needs its own `init`; it orders units that are free to \
                             start at the same time"
                        .into(),
                ),
            );
        }
        if let Some(service) = unit.otel_service.as_deref()
            && let Some(first) = otel_services.insert(service, &unit.name)
            && first != unit.name
        {
            checker.error(
                sites.or_header(&sites.otel_service),
                "otel_service",
                format!(
                    "units `{first}` and `{}` both have otel_service `{service}`",
                    unit.name
                ),
                Some("a service's spans belong to one unit: give each its own".into()),
            );
        }
        if unit.ready_timeout.is_zero() {
            checker.error(
                sites.or_header(&sites.ready_timeout),
                "ready_timeout",
                format!(
                    "`ready_timeout` of unit `{}` must be greater than 0",
                    unit.name
                ),
                None,
            );
        }
        if unit.timeout.is_some_and(|t| t.is_zero()) {
            checker.error(
                sites.or_header(&sites.timeout),
                "timeout",
                format!("`timeout` of unit `{}` must be greater than 0", unit.name),
                None,
            );
        }
        if let Some(ready) = &unit.ready_event
            && ready.trim().is_empty()
        {
            checker.error(
                sites.or_header(&sites.ready_event),
                "ready_event",
                format!("`ready_event` of unit `{}` is blank", unit.name),
                Some("name a probe, or remove the key to be ready at once".into()),
            );
        }
        match &unit.launch {
            Launch::Command(argv) => {
                check_argv(checker, sites.or_header(&sites.launch), "command", argv);
            }
            Launch::Entrypoint { module, .. } => {
                check_module(checker, draft, sites.or_header(&sites.launch), module);
            }
            _ => {}
        }
        check_list(
            checker,
            &unit.events,
            |i| sites.event(i),
            "events",
            &unit.name,
        );
        check_list(
            checker,
            &unit.dependencies,
            |i| sites.dependency(i),
            "unit_dependencies",
            &unit.name,
        );
        for (key, value) in &unit.env {
            let site = sites.or_header(&sites.env);
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                checker.error(
                    site,
                    "env",
                    format!(
                        "environment variable name `{key}` of unit `{}` is invalid",
                        unit.name
                    ),
                    Some("names must be non-empty and contain no `=`".into()),
                );
            }
            if value.contains('\0') {
                checker.error(
                    site,
                    "env",
                    format!(
                        "environment variable `{key}` of unit `{}` contains a NUL character",
                        unit.name
                    ),
                    None,
                );
            }
        }
        if let Some(cwd) = &unit.cwd {
            if cwd.as_os_str().as_encoded_bytes().contains(&0) {
                checker.error(
                    sites.or_header(&sites.cwd),
                    "cwd",
                    format!("`cwd` of unit `{}` contains a NUL character", unit.name),
                    None,
                );
            }
            if cwd.as_os_str().is_empty() {
                checker.error(
                    sites.or_header(&sites.cwd),
                    "cwd",
                    format!("`cwd` of unit `{}` is empty", unit.name),
                    Some("remove it to use the group folder".into()),
                );
            }
        }
    }
}

/// An entrypoint module that is not a Python name must be a file of the group folder (the
/// original loads `<group>/<module>.py` first, whatever the name).
fn check_module(checker: &mut Checker<'_>, draft: &Draft, site: &Site, module: &str) {
    // `x.py` is a dotted name too, but it means the file `x.py`: a mistake, unless `x/py.py`.
    if is_module_name(module) && !module.ends_with(".py") {
        return;
    }
    let mut file = draft.dir.clone();
    file.extend(module.split('.'));
    file.set_extension("py");
    if module.split('.').all(|p| !p.is_empty()) && file.is_file() {
        return;
    }
    let hint = match module.strip_suffix(".py") {
        Some(stem) => format!("write the module without `.py`: `{stem}`"),
        None => "write a dotted Python module name relative to the group folder, e.g. \
                 `entrypoint = \"test_case:run_source\"`"
            .to_owned(),
    };
    checker.error(
        site,
        "entrypoint",
        format!(
            "entrypoint module `{module}` is not a Python module name, and the group folder has \
             no such file"
        ),
        Some(hint),
    );
}

/// Blank and duplicate entries of a list of names.
fn check_list<'s>(
    checker: &mut Checker<'_>,
    values: &[String],
    site: impl Fn(usize) -> &'s Site,
    key: &str,
    unit: &str,
) {
    let mut seen = HashSet::new();
    for (i, value) in values.iter().enumerate() {
        if value.trim().is_empty() {
            checker.error(
                site(i),
                key,
                format!("`{key}` of unit `{unit}` contains a blank value"),
                None,
            );
        } else if !seen.insert(value.as_str()) {
            checker.error(
                site(i),
                key,
                format!("`{key}` of unit `{unit}` lists `{value}` twice"),
                None,
            );
        }
    }
}

fn check_dependencies(checker: &mut Checker<'_>, draft: &Draft) {
    let by_name: HashMap<&str, &DraftUnit> = draft
        .units
        .iter()
        .map(|u| (u.unit.name.as_str(), u))
        .collect();
    // edges[unit] = (dependency, where it is named, under which key)
    let mut edges: Vec<Vec<(usize, &Site, &str)>> = vec![Vec::new(); draft.units.len()];
    let index_of: HashMap<&str, usize> = draft
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.unit.name.as_str(), i))
        .collect();
    for (from, draft_unit) in draft.units.iter().enumerate() {
        let unit = &draft_unit.unit;
        let lists = [
            ("unit_dependencies", &unit.dependencies),
            ("completed_dependencies", &unit.completed_dependencies),
        ];
        for (list_key, names) in lists {
            for (i, dependency) in names.iter().enumerate() {
                if dependency.trim().is_empty() || draft.broken_units.contains(dependency) {
                    continue;
                }
                let site = if list_key == "unit_dependencies" {
                    draft_unit.sites.dependency(i)
                } else {
                    draft_unit.sites.completed(i)
                };
                if dependency == &unit.name {
                    checker.error(
                        site,
                        list_key,
                        format!("unit `{}` depends on itself", unit.name),
                        Some(format!("remove it from `{list_key}`")),
                    );
                    continue;
                }
                let Some(target) = by_name.get(dependency.as_str()) else {
                    let hint = did_you_mean(dependency, by_name.keys().copied()).or_else(|| {
                        Some(format!(
                            "the units of this group are: {}",
                            list(draft.units.iter().map(|u| u.unit.name.as_str()))
                        ))
                    });
                    checker.error(
                        site,
                        list_key,
                        format!(
                            "unit `{}` depends on unknown unit `{dependency}`",
                            unit.name
                        ),
                        hint,
                    );
                    continue;
                };
                if unit.enabled && !target.unit.enabled {
                    checker.error(
                        site,
                        list_key,
                        format!(
                            "unit `{}` depends on disabled unit `{dependency}`",
                            unit.name
                        ),
                        Some(format!(
                            "enable `{dependency}`, disable `{}` too, or remove the dependency",
                            unit.name
                        )),
                    );
                }
                if let Some(&to) = index_of.get(dependency.as_str()) {
                    edges[from].push((to, site, list_key));
                }
            }
        }
    }
    let cycles = find_cycles(edges.len(), |n| edges[n].iter().map(|&(to, _, _)| to));
    for cycle in cycles {
        let (Some(&first), Some(&second)) = (cycle.first(), cycle.get(1)) else {
            continue;
        };
        let names: Vec<&str> = cycle
            .iter()
            .filter_map(|&i| draft.units.get(i).map(|u| u.unit.name.as_str()))
            .collect();
        let Some(&(_, site, key)) = edges[first].iter().find(|&&(to, _, _)| to == second) else {
            continue;
        };
        checker.error(
            site,
            key,
            format!(
                "dependency cycle: {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ),
            Some(
                "a unit starts only when its dependencies are ready, so none of these can ever \
                 start; remove one of the dependencies"
                    .into(),
            ),
        );
    }
}

/// A fault names units of the group (enabled, started) and a probe its trigger unit records.
fn check_faults(checker: &mut Checker<'_>, draft: &Draft) {
    let by_name: HashMap<&str, &Unit> = draft
        .units
        .iter()
        .map(|u| (u.unit.name.as_str(), &u.unit))
        .collect();
    let units = || list(draft.units.iter().map(|u| u.unit.name.as_str()));
    for draft_fault in &draft.faults {
        let fault = &draft_fault.fault;
        match by_name.get(fault.after_unit.as_str()) {
            None => checker.error(
                &draft_fault.after_site,
                "after",
                format!("fault `after` names unknown unit `{}`", fault.after_unit),
                did_you_mean(&fault.after_unit, by_name.keys().copied())
                    .or_else(|| Some(format!("the units of this group are: {}", units()))),
            ),
            Some(unit) => {
                let known = unit.events.iter().any(|e| e == &fault.after_probe)
                    || unit.ready_event.as_deref() == Some(fault.after_probe.as_str());
                if !known {
                    checker.error(
                        &draft_fault.after_site,
                        "after",
                        format!(
                            "fault `after` names probe `{}`, which unit `{}` does not declare",
                            fault.after_probe, fault.after_unit
                        ),
                        did_you_mean(&fault.after_probe, unit.events.iter().map(String::as_str))
                            .or_else(|| {
                                Some(format!(
                                    "add it to the `events` of `{}`, or name one of them",
                                    fault.after_unit
                                ))
                            }),
                    );
                }
            }
        }
        match by_name.get(fault.unit.as_str()) {
            None => checker.error(
                &draft_fault.unit_site,
                "unit",
                format!("fault names unknown unit `{}`", fault.unit),
                did_you_mean(&fault.unit, by_name.keys().copied())
                    .or_else(|| Some(format!("the units of this group are: {}", units()))),
            ),
            Some(unit) if !unit.enabled || matches!(unit.launch, Launch::Passive) => {
                checker.error(
                    &draft_fault.unit_site,
                    "unit",
                    format!(
                        "fault hits unit `{}`, which is not started (disabled or passive)",
                        fault.unit
                    ),
                    None,
                );
            }
            Some(_) => {}
        }
    }
}

fn check_circuits(checker: &mut Checker<'_>, draft: &Draft) {
    let by_name: HashMap<&str, &Unit> = draft
        .units
        .iter()
        .map(|u| (u.unit.name.as_str(), &u.unit))
        .collect();
    let mut names = HashSet::new();
    for draft_circuit in &draft.circuits {
        let circuit = &draft_circuit.circuit;
        if circuit.name.trim().is_empty() {
            checker.error(
                &draft_circuit.site,
                "name",
                "circuit name is blank".into(),
                None,
            );
        } else if !names.insert(circuit.name.as_str()) {
            checker.error(
                &draft_circuit.site,
                "name",
                format!("two circuits are named `{}`", circuit.name),
                Some("give every circuit its own name".into()),
            );
        }
        if circuit.hops.len() < 2 {
            checker.error(
                &draft_circuit.site,
                "hops",
                format!(
                    "circuit `{}` has {} hop(s); a circuit needs at least two",
                    circuit.name,
                    circuit.hops.len()
                ),
                Some(
                    "list the probes from cause to effect, e.g. `hops = [\"source:command-sent\", \
                     \"target:command-received\"]`"
                        .into(),
                ),
            );
        }
        if circuit.total_budget.is_some_and(|b| b.is_zero()) {
            let site = draft_circuit
                .budget_site
                .as_ref()
                .unwrap_or(&draft_circuit.site);
            checker.error(
                site,
                "budget-ms",
                format!(
                    "budget of circuit `{}` must be greater than 0",
                    circuit.name
                ),
                None,
            );
        }
        let mut seen = HashSet::new();
        for (i, hop) in circuit.hops.iter().enumerate() {
            let site = draft_circuit.hop(i);
            let text = format!("{}:{}", hop.unit, hop.probe);
            if !seen.insert((hop.unit.as_str(), hop.probe.as_str())) {
                checker.error(
                    site,
                    "hops",
                    format!("circuit `{}` lists hop `{text}` twice", circuit.name),
                    None,
                );
            }
            if let Some(budget) = hop.budget {
                if i == 0 {
                    checker.error(
                        site,
                        "budget-ms",
                        format!(
                            "the first hop of circuit `{}` has a budget, but there is no earlier \
                             hop to measure it from",
                            circuit.name
                        ),
                        Some("use the circuit's `budget-ms` for the whole circuit".into()),
                    );
                } else if budget.is_zero() {
                    checker.error(
                        site,
                        "budget-ms",
                        format!("budget of hop `{text}` must be greater than 0"),
                        None,
                    );
                }
            }
            if draft.broken_units.contains(&hop.unit) {
                continue;
            }
            let Some(unit) = by_name.get(hop.unit.as_str()) else {
                checker.error(
                    site,
                    "hops",
                    format!(
                        "circuit `{}` names unknown unit `{}`",
                        circuit.name, hop.unit
                    ),
                    did_you_mean(&hop.unit, by_name.keys().copied()),
                );
                continue;
            };
            if !unit.enabled {
                checker.error(
                    site,
                    "hops",
                    format!(
                        "circuit `{}` goes through disabled unit `{}`",
                        circuit.name, hop.unit
                    ),
                    Some("enable the unit or remove the circuit".into()),
                );
                continue;
            }
            if !unit.events.iter().any(|e| e == &hop.probe) {
                let hint = did_you_mean(&hop.probe, unit.events.iter().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!(
                            "add `{}` to the `events` of unit `{}` (its events: {})",
                            hop.probe,
                            hop.unit,
                            list(unit.events.iter().map(String::as_str))
                        )
                    });
                checker.error(
                    site,
                    "hops",
                    format!(
                        "circuit `{}`: probe `{}` is not in the `events` of unit `{}`",
                        circuit.name, hop.probe, hop.unit
                    ),
                    Some(hint),
                );
            }
        }
    }
}

/// `a`, `b`, `c` (or "none").
pub(crate) fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(|i| format!("`{i}`")).collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(feature = "toml")]
/// `Duration` from seconds given in a file, or why not.
pub(crate) fn seconds(value: f64) -> Result<std::time::Duration, &'static str> {
    if !value.is_finite() {
        return Err("it is not a finite number");
    }
    if value <= 0.0 {
        return Err("it must be greater than 0");
    }
    std::time::Duration::try_from_secs_f64(value).map_err(|_| "it is too large")
}
