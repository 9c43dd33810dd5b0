//! Stage one: TOML text to typed drafts. Every value is checked for its type and range where it
//! is written; a wrong value is reported with its span and replaced by the default, so the
//! group-level checks still run and every problem is reported at once.

use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::check::{DraftCircuit, DraftUnit, UnitSites, list, seconds};
use crate::diagnostic::Diagnostics;
use crate::model::{Circuit, Hop, InExcept, Launch, LogMode, Settings, Unit};
use crate::names::{
    CIRCUIT_KEYS, CONFIG_FILE_KEYS, CONFIGS_KEYS, HOP_KEYS, UNIT_KEYS, did_you_mean,
    parse_entrypoint, parse_hop, suggest,
};
use crate::source::{FileId, Site, Sources};

type Value<'i> = Spanned<DeValue<'i>>;

/// Reads values of one file, collecting diagnostics.
pub(crate) struct Reader<'s> {
    sources: &'s Sources,
    file: FileId,
    pub(crate) diagnostics: Diagnostics,
}

impl<'s> Reader<'s> {
    pub(crate) fn new(sources: &'s Sources, file: FileId) -> Self {
        Reader {
            sources,
            file,
            diagnostics: Diagnostics::new(),
        }
    }

    pub(crate) fn site(&self, span: Range<usize>) -> Site {
        Site {
            file: self.file,
            span: Some(span),
        }
    }

    fn file_site(&self) -> Site {
        Site {
            file: self.file,
            span: None,
        }
    }

    pub(crate) fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let site = Site {
            file: self.file,
            span,
        };
        let mut diagnostic = self.sources.error(&site, message).with_hint_opt(hint);
        if !key.is_empty() {
            diagnostic = diagnostic.with_key(key);
        }
        self.diagnostics.push(diagnostic);
    }

    fn wrong_type(&mut self, key: &str, value: &Value<'_>, expected: &str, example: &str) {
        self.error(
            Some(value.span()),
            key,
            format!(
                "`{key}` must be {expected}, found {}",
                describe(value.get_ref())
            ),
            Some(format!("e.g. `{key} = {example}`")),
        );
    }

    /// Parses the whole text; syntax errors become diagnostics.
    pub(crate) fn parse<'i>(&mut self, text: &'i str) -> Option<Spanned<DeTable<'i>>> {
        let (table, errors) = DeTable::parse_recoverable(text);
        if errors.is_empty() {
            return Some(table);
        }
        // Recovery after one mistake often reports more on the same line: keep the first.
        let line_of = |span: &Option<Range<usize>>| {
            span.as_ref().map(|s| {
                text.get(..s.start.min(text.len()))
                    .map_or(0, |t| t.matches('\n').count())
            })
        };
        let mut errors = errors;
        errors.sort_by_key(|e| e.span().map_or(usize::MAX, |s| s.start));
        let mut seen_lines = HashSet::new();
        for error in errors {
            if !seen_lines.insert(line_of(&error.span())) {
                continue;
            }
            let message = error.message().trim().to_owned();
            let message = lowercase_first(message.lines().next().unwrap_or("invalid TOML"));
            self.error(error.span(), "", format!("invalid TOML: {message}"), None);
        }
        None
    }

    fn bool(&mut self, key: &str, value: &Value<'_>) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, value, "a boolean", "true");
                None
            }
        }
    }

    fn string(&mut self, key: &str, value: &Value<'_>, example: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(key, value, "a string", example);
                None
            }
        }
    }

    /// A non-blank string.
    fn name(&mut self, key: &str, value: &Value<'_>, example: &str) -> Option<String> {
        let text = self.string(key, value, example)?;
        if text.trim().is_empty() {
            self.error(
                Some(value.span()),
                key,
                format!("`{key}` is blank"),
                Some(format!("e.g. `{key} = {example}`")),
            );
            return None;
        }
        Some(text)
    }

    /// A list of strings with the span of each.
    fn strings(
        &mut self,
        key: &str,
        value: &Value<'_>,
        example: &str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(key, value, "a list of strings", example);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push((s.to_string(), item.span())),
                other => {
                    ok = false;
                    self.error(
                        Some(item.span()),
                        key,
                        format!(
                            "`{key}` must be a list of strings, but it contains {}",
                            describe(other)
                        ),
                        Some(format!("e.g. `{key} = {example}`")),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// Seconds, > 0: an integer or a float.
    fn seconds(&mut self, key: &str, value: &Value<'_>) -> Option<Duration> {
        let Some(number) = number(value) else {
            self.wrong_type(key, value, "a number of seconds", "10");
            return None;
        };
        self.duration(key, value, number, 1.0)
    }

    /// Milliseconds, > 0: an integer or a float.
    fn millis(&mut self, key: &str, value: &Value<'_>) -> Option<Duration> {
        let Some(number) = number(value) else {
            self.wrong_type(key, value, "a number of milliseconds", "50");
            return None;
        };
        self.duration(key, value, number, 1000.0)
    }

    fn duration(
        &mut self,
        key: &str,
        value: &Value<'_>,
        (number, shown): (Option<f64>, String),
        per_second: f64,
    ) -> Option<Duration> {
        let result = number
            .ok_or("it is not a number")
            .and_then(|n| seconds(n / per_second));
        match result {
            Ok(duration) => Some(duration),
            Err(reason) => {
                self.error(
                    Some(value.span()),
                    key,
                    format!("`{key}` cannot be {shown}: {reason}"),
                    None,
                );
                None
            }
        }
    }

    /// An integer in `range`.
    fn integer(
        &mut self,
        key: &str,
        value: &Value<'_>,
        range: std::ops::RangeInclusive<i64>,
        example: &str,
    ) -> Option<i64> {
        let DeValue::Integer(i) = value.get_ref() else {
            self.wrong_type(key, value, "an integer", example);
            return None;
        };
        let number = i64::from_str_radix(i.as_str(), i.radix()).ok();
        match number {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    Some(value.span()),
                    key,
                    format!(
                        "`{key}` must be between {} and {}, found {}",
                        range.start(),
                        range.end(),
                        i.as_str()
                    ),
                    None,
                );
                None
            }
        }
    }

    fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        known: &[&str],
        place: &str,
    ) {
        let hint = did_you_mean(key.get_ref(), known.iter().copied())
            .or_else(|| Some(format!("known keys: {}", list(known.iter().copied()))));
        self.error(
            Some(key.span()),
            key.get_ref(),
            format!("unknown key `{}` in {place}", key.get_ref()),
            hint,
        );
    }
}

/// A number as `f64` (if it converts) with its text as written, or `None` for other types.
fn number(value: &Value<'_>) -> Option<(Option<f64>, String)> {
    match value.get_ref() {
        DeValue::Integer(i) => Some((
            i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|i| i as f64),
            i.to_string(),
        )),
        DeValue::Float(f) => Some((f.as_str().parse::<f64>().ok(), f.as_str().to_owned())),
        _ => None,
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "a string `"x"`", "an integer `5`", …
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if s.chars().count() > 40 {
                shown.push('…');
            }
            format!("a string \"{shown}\"")
        }
        DeValue::Integer(i) => format!("an integer {i}"),
        DeValue::Float(f) => format!("a float {f}"),
        DeValue::Boolean(b) => format!("a boolean {b}"),
        DeValue::Datetime(d) => format!("a date-time {d}"),
        DeValue::Array(_) => "a list".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// Table entries in the order they are written.
fn entries<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(&'a Spanned<std::borrow::Cow<'i, str>>, &'a Value<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// What `config.toml` says.
#[derive(Debug)]
pub(crate) struct ConfigDraft {
    pub(crate) settings: Settings,
    /// `Configs.units`, with the span of each name.
    pub(crate) units: Vec<(String, Site)>,
    pub(crate) circuits: Vec<DraftCircuit>,
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
            other => {
                let hint = if CONFIGS_KEYS.contains(&other) {
                    Some(format!(
                        "`{other}` is a setting: move it below the `[\"Configs\"]` header"
                    ))
                } else {
                    did_you_mean(other, CONFIG_FILE_KEYS.iter().copied()).or_else(|| {
                        Some(
                            "config.toml holds a `[\"Configs\"]` table and `[[circuit]]` tables"
                                .into(),
                        )
                    })
                };
                reader.error(
                    Some(key.span()),
                    other,
                    format!("unknown key `{other}` in config.toml"),
                    hint,
                );
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
                let canonical = match name {
                    "analitics" => "gen-metrics",
                    "save-analitics" => "save-metrics",
                    "save-performance" => "save-scores",
                    other => other,
                };
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
    if single_allowed {
        if let DeValue::String(text) = value.get_ref() {
            if text.as_ref() == "All" {
                return Some(LogMode::ALL.to_vec());
            }
            return parse_one(reader, text, value.span()).map(|m| vec![m]);
        }
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
                _ => reader.unknown_key(key, CIRCUIT_KEYS, "`[[circuit]]`"),
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
                        reader.unknown_key(key, HOP_KEYS, "a hop");
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

/// Reads `units/<name>.toml`. `None` when the file has no usable `[<name>]` table.
pub(crate) fn parse_unit(reader: &mut Reader<'_>, text: &str, name: &str) -> Option<DraftUnit> {
    let document = reader.parse(text)?;
    let mut found = None;
    let mut stray_tables = Vec::new();
    for (key, value) in entries(document.get_ref()) {
        let key_name = key.get_ref().as_ref();
        if key_name == name {
            found = Some((key, value));
        } else if UNIT_KEYS.contains(&key_name) {
            reader.error(
                Some(key.span()),
                key_name,
                format!("key `{key_name}` is outside the `[\"{name}\"]` table"),
                Some(format!("move it below the `[\"{name}\"]` header")),
            );
        } else if matches!(value.get_ref(), DeValue::Table(_)) {
            stray_tables.push(key);
        } else {
            let hint = suggest(key_name, UNIT_KEYS.iter().copied()).map(|k| {
                format!("did you mean `{k}`? unit keys go below the `[\"{name}\"]` header")
            });
            reader.error(
                Some(key.span()),
                key_name,
                format!("unknown key `{key_name}` in units/{name}.toml"),
                hint,
            );
        }
    }
    let Some((header, value)) = found else {
        let stray = stray_tables
            .first()
            .map(|k| (k.get_ref().to_string(), k.span()));
        let (message, span, hint) = match stray {
            Some((other, span)) => (
                format!(
                    "units/{name}.toml has a `[\"{other}\"]` table, but the unit is named `{name}`"
                ),
                Some(span),
                Some(format!(
                    "the table must be named after the file: rename it to `[\"{name}\"]`"
                )),
            ),
            None => (
                format!("units/{name}.toml has no `[\"{name}\"]` table"),
                None,
                Some(format!(
                    "start the file with `[\"{name}\"]`, then `init = 0` and `events = [...]`"
                )),
            ),
        };
        reader.error(span, name, message, hint);
        return None;
    };
    for key in stray_tables {
        let other = key.get_ref().to_string();
        reader.error(
            Some(key.span()),
            &other,
            format!("unexpected table `[\"{other}\"]` in units/{name}.toml"),
            Some(format!("a unit file holds only the `[\"{name}\"]` table")),
        );
    }
    let header_site = reader.site(header.span());
    let DeValue::Table(table) = value.get_ref() else {
        reader.error(
            Some(value.span()),
            name,
            format!(
                "`{name}` must be a table, found {}",
                describe(value.get_ref())
            ),
            Some(format!(
                "write the unit's keys below a `[\"{name}\"]` header"
            )),
        );
        return None;
    };
    Some(parse_unit_table(reader, table, name, header_site))
}

fn parse_unit_table(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    name: &str,
    header: Site,
) -> DraftUnit {
    let mut unit = Unit {
        name: name.to_owned(),
        init: 0,
        enabled: true,
        launch: Launch::Passive,
        ready_event: None,
        ready_timeout: Duration::from_secs(10),
        timeout: None,
        use_setup: false,
        in_except: InExcept::Resume,
        dependencies: Vec::new(),
        events: Vec::new(),
        env: IndexMap::new(),
        cwd: None,
    };
    let mut sites = UnitSites::at(header.clone());
    let mut explicit_init = false;
    let mut launch_key: Option<(&str, Range<usize>)> = None;
    let mut dependencies_key: Option<&str> = None;
    let place = format!("unit `{name}`");
    for (key, value) in entries(table) {
        let key_name = key.get_ref().as_ref();
        match key_name {
            "init" => {
                explicit_init = true;
                sites.init = Some(reader.site(value.span()));
                if let Some(n) = reader.integer(key_name, value, 0..=i64::from(u32::MAX), "0") {
                    unit.init = u32::try_from(n).unwrap_or(0);
                } else {
                    explicit_init = false;
                }
            }
            "enabled" => {
                if let Some(b) = reader.bool(key_name, value) {
                    unit.enabled = b;
                }
            }
            "use_setup" => {
                if let Some(b) = reader.bool(key_name, value) {
                    unit.use_setup = b;
                }
            }
            "entrypoint" | "command" => {
                if let Some((other, _)) = &launch_key {
                    reader.error(
                        Some(key.span()),
                        key_name,
                        format!("unit `{name}` has both `{other}` and `{key_name}`"),
                        Some(
                            "use `entrypoint` for a Python function or `command` for any \
                             program, not both"
                                .into(),
                        ),
                    );
                    continue;
                }
                launch_key = Some((key_name, key.span()));
                sites.launch = Some(reader.site(value.span()));
                if key_name == "entrypoint" {
                    let Some(text) = reader.string(key_name, value, "\"test_case:run_source\"")
                    else {
                        continue;
                    };
                    match parse_entrypoint(&text) {
                        Ok((module, function)) => {
                            unit.launch = Launch::Entrypoint { module, function };
                        }
                        Err(message) => reader.error(
                            Some(value.span()),
                            key_name,
                            message,
                            Some(
                                "write the module (a .py file in the group folder, without \
                                 `.py`) and the function: `entrypoint = \"test_case:run_source\"`"
                                    .into(),
                            ),
                        ),
                    }
                } else if let Some(argv) =
                    reader.strings(key_name, value, "[\"./server\", \"--port\", \"0\"]")
                {
                    unit.launch = Launch::Command(argv.into_iter().map(|(a, _)| a).collect());
                }
            }
            "ready_event" => {
                sites.ready_event = Some(reader.site(value.span()));
                unit.ready_event = reader.name(key_name, value, "\"source-ready\"");
            }
            "ready_timeout" => {
                sites.ready_timeout = Some(reader.site(value.span()));
                if let Some(d) = reader.seconds(key_name, value) {
                    unit.ready_timeout = d;
                }
            }
            "timeout" => {
                sites.timeout = Some(reader.site(value.span()));
                unit.timeout = reader.seconds(key_name, value);
            }
            "in-except" => {
                let Some(text) = reader.string(key_name, value, "\"Resume\"") else {
                    continue;
                };
                let all = [InExcept::Resume, InExcept::Reload, InExcept::ResumeAll];
                match all.iter().find(|m| m.as_str() == text) {
                    Some(mode) => unit.in_except = *mode,
                    None => {
                        let names = all.map(InExcept::as_str);
                        let hint =
                            did_you_mean(&text, names.iter().copied()).unwrap_or_else(|| {
                                format!("valid values: {}", list(names.iter().copied()))
                            });
                        reader.error(
                            Some(value.span()),
                            key_name,
                            format!("`in-except` of unit `{name}` cannot be `{text}`"),
                            Some(hint),
                        );
                    }
                }
            }
            "unit_dependencies" | "unity_depencies" => {
                if let Some(other) = dependencies_key {
                    reader.error(
                        Some(key.span()),
                        key_name,
                        format!("unit `{name}` has both `{other}` and `{key_name}`"),
                        Some("`unity_depencies` is the legacy spelling of `unit_dependencies`: keep only `unit_dependencies`".into()),
                    );
                    continue;
                }
                dependencies_key = Some(key_name);
                if let Some(items) = reader.strings(key_name, value, "[\"target\"]") {
                    for (dependency, span) in items {
                        sites.dependencies.push(reader.site(span));
                        unit.dependencies.push(dependency);
                    }
                }
            }
            "events" => {
                if let Some(items) =
                    reader.strings(key_name, value, "[\"source-ready\", \"command-sent\"]")
                {
                    for (event, span) in items {
                        sites.events.push(reader.site(span));
                        unit.events.push(event);
                    }
                }
            }
            "env" => {
                sites.env = Some(reader.site(value.span()));
                let DeValue::Table(vars) = value.get_ref() else {
                    reader.wrong_type(
                        key_name,
                        value,
                        "a table of strings",
                        "{ RUST_LOG = \"debug\" }",
                    );
                    continue;
                };
                for (var, var_value) in entries(vars) {
                    let var_name = var.get_ref().to_string();
                    match var_value.get_ref() {
                        DeValue::String(s) => {
                            unit.env.insert(var_name, s.to_string());
                        }
                        other => reader.error(
                            Some(var_value.span()),
                            key_name,
                            format!(
                                "environment variable `{var_name}` of unit `{name}` must be a string, found {}",
                                describe(other)
                            ),
                            Some("quote the value: environment values are text".into()),
                        ),
                    }
                }
            }
            "cwd" => {
                sites.cwd = Some(reader.site(value.span()));
                unit.cwd = reader
                    .name(key_name, value, "\"server\"")
                    .map(PathBuf::from);
            }
            _ => reader.unknown_key(key, UNIT_KEYS, &place),
        }
    }
    if !explicit_init && sites.init.is_none() {
        reader.error(
            header.span.clone(),
            "init",
            format!("unit `{name}` has no `init`"),
            Some("add `init = <n>`: a number unique in the group that orders units free to start together".into()),
        );
    }
    DraftUnit {
        unit,
        explicit_init,
        sites,
    }
}
