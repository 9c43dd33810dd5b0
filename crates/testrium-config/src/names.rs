//! The known keys, "did you mean" suggestions, and the rules for names and entrypoints.

#[cfg(feature = "toml")]
/// Keys of the `["Configs"]` table, legacy aliases included.
pub(crate) const CONFIGS_KEYS: &[&str] = &[
    "units",
    "enabled",
    "timeout",
    "repeat",
    "debug-modes",
    "test-modes",
    "use-ai",
    "diagnostics",
    "detect-bad-behavior",
    "save-resume",
    "gen-metrics",
    "save-metrics",
    "save-scores",
    "analitics",
    "save-analitics",
    "save-performance",
    "setup",
    "requires",
    "python-fork",
];

#[cfg(feature = "toml")]
/// Keys of a unit table, legacy aliases included.
pub(crate) const UNIT_KEYS: &[&str] = &[
    "init",
    "enabled",
    "entrypoint",
    "command",
    "ready_event",
    "ready_tcp",
    "ready_http",
    "ready_log",
    "ready_command",
    "ready_timeout",
    "ports",
    "completed_dependencies",
    "timeout",
    "use_setup",
    "in-except",
    "unit_dependencies",
    "unity_depencies",
    "events",
    "env",
    "cwd",
    "python-fork",
    "otel_service",
    "otel_span_end",
    "remote",
];

#[cfg(feature = "toml")]
/// Keys of one `[[circuit]]` table.
pub(crate) const CIRCUIT_KEYS: &[&str] = &["name", "hops", "budget-ms", "hop-budget-ms"];

#[cfg(feature = "toml")]
/// Keys of a hop written as an inline table.
pub(crate) const HOP_KEYS: &[&str] = &["hop", "budget-ms"];

#[cfg(feature = "toml")]
/// Top-level keys of `config.toml`.
pub(crate) const CONFIG_FILE_KEYS: &[&str] = &["Configs", "circuit", "contract", "fault"];

#[cfg(feature = "toml")]
/// Keys of a `[[contract]]` table.
pub(crate) const CONTRACT_KEYS: &[&str] = &["send", "receive", "delivery", "within-ms"];

#[cfg(feature = "toml")]
/// Keys of one `[[fault]]` table.
pub(crate) const FAULT_KEYS: &[&str] = &[
    "after",
    "occurrence",
    "unit",
    "action",
    "duration-ms",
    "optional",
];

#[cfg(feature = "toml")]
/// The current name of a legacy key (`analitics` → `gen-metrics`, …).
pub(crate) fn legacy_alias_of(key: &str) -> Option<&'static str> {
    match key {
        "analitics" => Some("gen-metrics"),
        "save-analitics" => Some("save-metrics"),
        "save-performance" => Some("save-scores"),
        "unity_depencies" => Some("unit_dependencies"),
        _ => None,
    }
}

/// The closest candidate to `given`, if one is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let normalized = normalize(given);
    let mut best: Option<(&str, f64)> = None;
    for candidate in candidates {
        if normalize(candidate) == normalized {
            return Some(candidate);
        }
        let score = strsim::normalized_damerau_levenshtein(
            &given.to_lowercase(),
            &candidate.to_lowercase(),
        );
        let one_edit = given.chars().count() > 1
            && strsim::damerau_levenshtein(&given.to_lowercase(), &candidate.to_lowercase()) == 1;
        let score = if one_edit { score.max(0.6) } else { score };
        if score >= 0.6 && best.is_none_or(|(_, b)| score > b) {
            best = Some((candidate, score));
        }
    }
    best.map(|(c, _)| c)
}

/// `did you mean `x`?` or nothing.
pub(crate) fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(given, candidates).map(|c| format!("did you mean `{c}`?"))
}

fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Why a unit or group name cannot be used, or `None` when it is safe as a file name.
pub(crate) fn unsafe_name_reason(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("it is blank")
    } else if name.contains('/') || name.contains('\\') {
        Some("it contains a path separator")
    } else if name.contains("..") {
        Some("it contains `..`")
    } else if name == "." {
        Some("it is `.`")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if name.len() > 200 {
        Some("it is longer than 200 bytes")
    } else {
        None
    }
}

/// A Python identifier (ASCII letters, digits, `_`; not starting with a digit) or any
/// non-ASCII alphanumeric, as Python allows.
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Whether `module` is a dotted Python module name (`test_case`, `pkg.server`).
pub(crate) fn is_module_name(module: &str) -> bool {
    module.split('.').all(is_identifier)
}

/// Splits `module:function` at the first `:`, checking the function. The module is checked
/// against the group folder later: like the original, Testrium also loads
/// `<group>/<module>.py` when the module is a file name that is not a Python name.
pub(crate) fn parse_entrypoint(text: &str) -> Result<(String, String), String> {
    let Some((module, function)) = text.split_once(':') else {
        return Err(format!(
            "entrypoint `{text}` is not in \"module:function\" form"
        ));
    };
    let (module, function) = (module.trim(), function.trim());
    if module.is_empty() || function.is_empty() {
        return Err(format!(
            "entrypoint `{text}` is not in \"module:function\" form"
        ));
    }
    if module.chars().any(char::is_control) {
        return Err(format!(
            "entrypoint module `{module}` contains a control character"
        ));
    }
    if !is_identifier(function) {
        return Err(format!(
            "entrypoint function `{function}` is not a Python identifier"
        ));
    }
    Ok((module.to_owned(), function.to_owned()))
}

#[cfg(feature = "toml")]
/// Splits a hop `unit:probe` (the probe may itself contain `:`).
pub(crate) fn parse_hop(text: &str) -> Option<(&str, &str)> {
    let (unit, probe) = text.split_once(':')?;
    if unit.trim().is_empty() || probe.trim().is_empty() {
        return None;
    }
    Some((unit, probe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "toml")]
    #[test]
    fn suggestions() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ready_evnt", Some("ready_event")),
            ("ready-event", Some("ready_event")),
            ("unit_dependency", Some("unit_dependencies")),
            ("debug_modes", Some("debug-modes")),
            ("Timeout", Some("timeout")),
            ("zzzzzz", None),
        ];
        for (given, expected) in cases {
            let all = UNIT_KEYS.iter().chain(CONFIGS_KEYS).copied();
            assert_eq!(suggest(given, all), *expected, "{given}");
        }
    }

    #[test]
    fn names() {
        for ok in ["source", "api-1", "wörker", "a.b"] {
            assert_eq!(unsafe_name_reason(ok), None, "{ok}");
        }
        for bad in ["", " ", "a/b", "..", "a..b", ".", "a\nb", "a\\b", "x\u{1b}"] {
            assert!(unsafe_name_reason(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn entrypoints() {
        assert_eq!(
            parse_entrypoint("test_case:run_source"),
            Ok(("test_case".into(), "run_source".into()))
        );
        assert!(parse_entrypoint("pkg.mod:main").is_ok());
        // Module names that are not Python names are checked against the group folder.
        assert!(parse_entrypoint("test-case:run").is_ok());
        assert!(!is_module_name("test-case") && !is_module_name("units/a"));
        assert!(is_module_name("pkg.mod"));
        for bad in [
            "test_case",
            ":f",
            "m:",
            "m:f()",
            "m:1f",
            "m:f:g",
            "m\u{1b}:f",
        ] {
            assert!(parse_entrypoint(bad).is_err(), "{bad}");
        }
    }
}
