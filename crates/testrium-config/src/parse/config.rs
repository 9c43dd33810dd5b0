//! `config.toml`: the `["Configs"]` table and the `[[circuit]]` tables.

use std::collections::HashSet;
use std::ops::Range;

use indexmap::IndexMap;
use toml::de::{DeTable, DeValue};

use crate::check::{DraftCircuit, DraftContract, DraftFault, list};
use crate::model::{Circuit, Hop, LogMode, Settings};
use crate::names::{
    CIRCUIT_KEYS, CONFIG_FILE_KEYS, CONFIGS_KEYS, HOP_KEYS, did_you_mean, legacy_alias_of,
    parse_hop,
};
use crate::parse::contract::parse_contracts;
use crate::parse::reader::{Reader, Value, describe, entries};
use crate::source::Site;

/// What `config.toml` says.
#[derive(Debug)]
pub(crate) struct ConfigDraft {
    pub(crate) settings: Settings,
    /// `Configs.units`, with the span of each name.
    pub(crate) units: Vec<(String, Site)>,
    pub(crate) circuits: Vec<DraftCircuit>,
    pub(crate) contracts: Vec<DraftContract>,
    pub(crate) faults: Vec<DraftFault>,
    pub(crate) setup: Option<(Vec<String>, Site)>,
    /// Where `["Configs"]` is (or the file).
    pub(crate) site: Site,
    pub(crate) repeat_site: Option<Site>,
    /// `enabled` as written, even when the rest is broken (discovery skips disabled groups).
    pub(crate) enabled: Option<bool>,
    /// `units` was read (the file parsed, `["Configs"]` exists, `units` is a list of strings),
    /// so unit files it does not name are really extra.
    pub(crate) units_known: bool,
}

/// Reads `config.toml`.
pub(crate) fn parse_config(reader: &mut Reader<'_>, text: &str) -> ConfigDraft {
    let mut draft = ConfigDraft {
        settings: Settings::default(),
        units: Vec::new(),
        circuits: Vec::new(),
        contracts: Vec::new(),
        faults: Vec::new(),
        setup: None,
        site: reader.file_site(),
        repeat_site: None,
        enabled: None,
        units_known: false,
    };
    let Some(document) = reader.parse(text) else {
        return draft;
    };
    let mut found_configs = false;
    for (key, value) in entries(document.get_ref()) {
        match key.get_ref().as_ref() {
            "Configs" => {
                found_configs = true;
                draft.site = reader.site(key.span());
                match value.get_ref() {
                    DeValue::Table(table) => {
                        draft.units_known = true;
                        parse_configs(reader, table, &mut draft);
                    }
                    _ => reader.error(
                        Some(value.span()),
                        "Configs",
                        "`Configs` must be a table".into(),
                        Some("write the settings below a `[\"Configs\"]` header".into()),
                    ),
                }
            }
            "circuit" => parse_circuits(reader, value, &mut draft),
            "contract" => parse_contracts(reader, value, &mut draft.contracts),
            "fault" => super::fault::parse_faults(reader, value, &mut draft),
            other => {
                let hint = if CONFIGS_KEYS.contains(&other) {
                    Some(format!(
                        "`{other}` is a setting: move it below the `[\"Configs\"]` header"
                    ))
                } else {
                    did_you_mean(other, CONFIG_FILE_KEYS.iter().copied())
                };
                match hint {
                    Some(hint) => reader.error(
                        Some(key.span()),
                        other,
                        format!("unknown key `{other}` in config.toml"),
                        Some(hint),
                    ),
                    // The original ignored what it did not know; so does Testrium, and says so.
                    None => reader.warning(
                        Some(key.span()),
                        other,
                        format!("unknown key `{other}` in config.toml is ignored"),
                        Some(
                            "config.toml holds a `[\"Configs\"]` table and `[[circuit]]` tables"
                                .into(),
                        ),
                    ),
                }
            }
        }
    }
    if !found_configs {
        reader.error(
            None,
            "Configs",
            "config.toml has no `[\"Configs\"]` table".into(),
            Some("start the file with `[\"Configs\"]` and list the units: `units = [\"source\", \"target\"]`".into()),
        );
    }
    draft
}

fn parse_configs(reader: &mut Reader<'_>, table: &DeTable<'_>, draft: &mut ConfigDraft) {
    // Legacy aliases: the new key wins; both with different values is an error.
    let mut aliased: IndexMap<&str, (bool, Range<usize>, &str)> = IndexMap::new();
    let settings = &mut draft.settings;
    for (key, value) in entries(table) {
        let name = key.get_ref().as_ref();
        match name {
            "units" => {
                let example = "[\"source\", \"target\"]";
                let units = reader.strings(name, value, example);
                draft.units_known = units.is_some();
                if let Some(units) = units {
                    let mut seen = HashSet::new();
                    for (unit, span) in units {
                        if unit.trim().is_empty() {
                            reader.error(
                                Some(span),
                                name,
                                "`units` contains a blank name".into(),
                                None,
                            );
                        } else if !seen.insert(unit.clone()) {
                            reader.error(
                                Some(span),
                                name,
                                format!("`units` lists `{unit}` twice"),
                                None,
                            );
                        } else {
                            let site = reader.site(span);
                            draft.units.push((unit, site));
                        }
                    }
                }
            }
            "enabled" => {
                if let Some(b) = reader.bool(name, value) {
                    settings.enabled = b;
                    draft.enabled = Some(b);
                }
            }
            "timeout" => {
                if let Some(d) = reader.seconds(name, value) {
                    settings.timeout = d;
                }
            }
            "repeat" => {
                draft.repeat_site = Some(reader.site(value.span()));
                if let Some(n) = reader.integer(name, value, 0..=10, "0") {
                    settings.repeat = u8::try_from(n).unwrap_or(0);
                }
            }
            "debug-modes" => {
                if let Some(modes) = modes(reader, name, value, false) {
                    settings.debug_modes = modes;
                }
            }
            "test-modes" => {
                if let Some(modes) = modes(reader, name, value, true) {
                    settings.test_modes = modes;
                }
            }
            "use-ai"
            | "diagnostics"
            | "detect-bad-behavior"
            | "save-resume"
            | "gen-metrics"
            | "save-metrics"
            | "save-scores"
            | "analitics"
            | "save-analitics"
            | "save-performance" => {
                let Some(b) = reader.bool(name, value) else {
                    continue;
                };
                let canonical = legacy_alias_of(name).unwrap_or(name);
                if let Some((earlier, _, earlier_name)) = aliased.get(canonical) {
                    if *earlier != b {
                        reader.error(
                            Some(key.span()),
                            name,
                            format!(
                                "`{name}` = {b} contradicts `{earlier_name}` = {earlier}; they \
                                 are the same setting"
                            ),
                            Some(format!("keep only `{canonical}`")),
                        );
                    }
                    if canonical != name {
                        continue;
                    }
                }
                aliased.insert(canonical, (b, key.span(), name));
                match canonical {
                    "use-ai" => settings.use_ai = b,
                    "diagnostics" => settings.diagnostics = b,
                    "detect-bad-behavior" => settings.detect_bad_behavior = b,
                    "save-resume" => settings.save_resume = b,
                    "gen-metrics" => settings.gen_metrics = b,
                    "save-metrics" => settings.save_metrics = b,
                    _ => settings.save_scores = b,
                }
            }
            "python-fork" => {
                if let Some(b) = reader.bool(name, value) {
                    settings.python_fork = b;
                }
            }
            "requires" => {
                if let Some(programs) = reader.strings(name, value, "[\"redis-server\"]") {
                    settings.requires = programs.into_iter().map(|(p, _)| p).collect();
                }
            }
            "setup" => {
                if let Some(argv) = reader.strings(name, value, "[\"./start-broker\", \"--quiet\"]")
                {
                    let site = reader.site(value.span());
                    draft.setup = Some((argv.into_iter().map(|(a, _)| a).collect(), site));
                }
            }
            _ => reader.unknown_key(key, CONFIGS_KEYS, "`[\"Configs\"]`"),
        }
    }
}

/// `debug-modes` / `test-modes`: a list of modes, or (test-modes only) one mode or `"All"`.
fn modes(
    reader: &mut Reader<'_>,
    key: &str,
    value: &Value<'_>,
    single_allowed: bool,
) -> Option<Vec<LogMode>> {
    let parse_one = |reader: &mut Reader<'_>, text: &str, span: Range<usize>| {
        let found = LogMode::ALL.iter().copied().find(|m| m.as_str() == text);
        if found.is_none() {
            let mut candidates: Vec<&str> = LogMode::ALL.iter().map(|m| m.as_str()).collect();
            if single_allowed {
                candidates.push("All");
            }
            let hint = did_you_mean(text, candidates.iter().copied())
                .or_else(|| Some(format!("valid modes: {}", list(candidates.iter().copied()))));
            reader.error(
                Some(span),
                key,
                format!("`{key}` contains an invalid mode `{text}`"),
                hint,
            );
        }
        found
    };
    if single_allowed && let DeValue::String(text) = value.get_ref() {
        if text.as_ref() == "All" {
            return Some(LogMode::ALL.to_vec());
        }
        return parse_one(reader, text, value.span()).map(|m| vec![m]);
    }
    let items = reader.strings(key, value, "[\"DEBUG\", \"INFO\"]")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (text, span) in items {
        match parse_one(reader, &text, span) {
            Some(mode) if !out.contains(&mode) => out.push(mode),
            Some(_) => {}
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_circuits(reader: &mut Reader<'_>, value: &Value<'_>, draft: &mut ConfigDraft) {
    let example_hint = "declare each circuit as `[[circuit]]` with `name` and `hops`";
    let DeValue::Array(tables) = value.get_ref() else {
        reader.error(
            Some(value.span()),
            "circuit",
            format!(
                "`circuit` must be an array of tables, found {}",
                describe(value.get_ref())
            ),
            Some(example_hint.into()),
        );
        return;
    };
    for (index, table_value) in tables.iter().enumerate() {
        let DeValue::Table(table) = table_value.get_ref() else {
            reader.error(
                Some(table_value.span()),
                "circuit",
                format!(
                    "`circuit` entries must be tables, found {}",
                    describe(table_value.get_ref())
                ),
                Some(example_hint.into()),
            );
            continue;
        };
        let mut circuit = Circuit {
            name: format!("circuit-{}", index + 1),
            hops: Vec::new(),
            total_budget: None,
        };
        let mut draft_circuit_site = reader.site(table_value.span());
        let mut hop_sites = Vec::new();
        let mut budget_site = None;
        let mut has_hops = false;
        let mut hops_ok = true;
        let mut hop_budgets = Vec::new();
        for (key, value) in entries(table) {
            let name = key.get_ref().as_ref();
            match name {
                "name" => {
                    if let Some(text) = reader.name(name, value, "\"request-response\"") {
                        circuit.name = text;
                        draft_circuit_site = reader.site(value.span());
                    }
                }
                "budget-ms" => {
                    budget_site = Some(reader.site(value.span()));
                    circuit.total_budget = reader.millis(name, value);
                }
                "hop-budget-ms" => {
                    let DeValue::Table(budgets) = value.get_ref() else {
                        reader.wrong_type(
                            name,
                            value,
                            "a table of hop budgets",
                            "{ \"target:command-received\" = 50 }",
                        );
                        continue;
                    };
                    for (hop, budget) in entries(budgets) {
                        if let Some(duration) = reader.millis(name, budget) {
                            hop_budgets.push((hop.get_ref().to_string(), hop.span(), duration));
                        }
                    }
                }
                "hops" => {
                    has_hops = true;
                    let DeValue::Array(items) = value.get_ref() else {
                        reader.wrong_type(
                            name,
                            value,
                            "a list of hops",
                            "[\"source:command-sent\", \"target:command-received\"]",
                        );
                        hops_ok = false;
                        continue;
                    };
                    for item in items.iter() {
                        match parse_hop_value(reader, item) {
                            Some(hop) => {
                                circuit.hops.push(hop);
                                hop_sites.push(reader.site(item.span()));
                            }
                            None => hops_ok = false,
                        }
                    }
                }
                _ => reader.unknown_new_key(key, CIRCUIT_KEYS, "`[[circuit]]`"),
            }
        }
        if !has_hops {
            reader.error(
                Some(table_value.span()),
                "hops",
                format!("circuit `{}` has no `hops`", circuit.name),
                Some("e.g. `hops = [\"source:command-sent\", \"target:command-received\"]`".into()),
            );
            continue;
        }
        if !hops_ok {
            continue;
        }
        for (text, span, duration) in hop_budgets {
            let position = circuit
                .hops
                .iter()
                .position(|h| parse_hop(&text) == Some((h.unit.as_str(), h.probe.as_str())));
            let Some(position) = position else {
                let hops: Vec<String> = circuit
                    .hops
                    .iter()
                    .map(|h| format!("{}:{}", h.unit, h.probe))
                    .collect();
                let hint =
                    did_you_mean(&text, hops.iter().map(String::as_str)).unwrap_or_else(|| {
                        format!("the hops are: {}", list(hops.iter().map(String::as_str)))
                    });
                reader.error(
                    Some(span),
                    "hop-budget-ms",
                    format!(
                        "`hop-budget-ms` names `{text}`, which is not a hop of circuit `{}`",
                        circuit.name
                    ),
                    Some(hint),
                );
                continue;
            };
            let Some(hop) = circuit.hops.get_mut(position) else {
                continue;
            };
            if hop.budget.is_some() {
                reader.error(
                    Some(span),
                    "hop-budget-ms",
                    format!("hop `{text}` has a budget twice (inline and in `hop-budget-ms`)"),
                    Some("keep one of them".into()),
                );
                continue;
            }
            hop.budget = Some(duration);
            if position == 0 {
                // The "first hop has a budget" error then points at the budget.
                if let Some(site) = hop_sites.get_mut(0) {
                    *site = reader.site(span);
                }
            }
        }
        draft.circuits.push(DraftCircuit {
            circuit,
            site: draft_circuit_site,
            hop_sites,
            budget_site,
        });
    }
}

/// `"unit:probe"` or `{ hop = "unit:probe", budget-ms = 50 }`.
fn parse_hop_value(reader: &mut Reader<'_>, item: &Value<'_>) -> Option<Hop> {
    let hint = "a hop is `\"unit:probe\"` or `{ hop = \"unit:probe\", budget-ms = 50 }`";
    let split = |reader: &mut Reader<'_>, text: &str, span: Range<usize>| match parse_hop(text) {
        Some((unit, probe)) => Some(Hop::new(unit, probe)),
        None => {
            reader.error(
                Some(span),
                "hops",
                format!("hop `{text}` is not in \"unit:probe\" form"),
                Some(hint.into()),
            );
            None
        }
    };
    match item.get_ref() {
        DeValue::String(text) => split(reader, text, item.span()),
        DeValue::Table(table) => {
            let mut hop = None;
            let mut budget = None;
            let mut ok = true;
            for (key, value) in entries(table) {
                match key.get_ref().as_ref() {
                    "hop" => match value.get_ref() {
                        DeValue::String(text) => {
                            hop = split(reader, text, value.span());
                            ok &= hop.is_some();
                        }
                        _ => {
                            reader.wrong_type(
                                "hop",
                                value,
                                "a string",
                                "\"target:command-received\"",
                            );
                            ok = false;
                        }
                    },
                    "budget-ms" => {
                        budget = reader.millis("budget-ms", value);
                        ok &= budget.is_some();
                    }
                    _ => {
                        reader.unknown_new_key(key, HOP_KEYS, "a hop");
                        ok = false;
                    }
                }
            }
            if hop.is_none() && ok {
                reader.error(
                    Some(item.span()),
                    "hop",
                    "hop table has no `hop` key".into(),
                    Some(hint.into()),
                );
            }
            let mut hop = hop?;
            if !ok {
                return None;
            }
            hop.budget = budget;
            Some(hop)
        }
        other => {
            reader.error(
                Some(item.span()),
                "hops",
                format!(
                    "a hop must be a string or a table, found {}",
                    describe(other)
                ),
                Some(hint.into()),
            );
            None
        }
    }
}
