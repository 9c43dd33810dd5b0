//! Generative tests: arbitrary bytes and arbitrary TOML documents never panic the loader; it
//! always returns a group or at least one diagnostic naming a file of the group.

use proptest::prelude::*;
use toml::{Table, Value};

use crate::support::Scratch;

/// Loads `test_p` made of these files; checks the result is a group or diagnostics.
fn load_and_check(config: &[u8], a: &[u8], b: &[u8]) {
    let scratch = Scratch::new();
    scratch.write_bytes("test_p/config.toml", config);
    scratch.write_bytes("test_p/units/a.toml", a);
    scratch.write_bytes("test_p/units/b.toml", b);
    match testrium_config::load_group(&scratch.path("test_p")) {
        Ok(group) => {
            assert_eq!(group.name, "test_p");
            for unit in group.units.values() {
                assert!(!unit.name.contains('/'));
            }
            assert_eq!(group.warnings.error_count(), 0);
            let shown = group.warnings.to_string();
            assert!(!shown.contains('\u{1b}'), "raw escape in {shown:?}");
        }
        Err(diagnostics) => {
            assert!(diagnostics.error_count() > 0, "{diagnostics:?}");
            for diagnostic in &diagnostics {
                assert!(diagnostic.path.starts_with("test_p"), "{diagnostic:?}");
            }
            let shown = diagnostics.to_string();
            assert!(shown.starts_with("error: ") || shown.starts_with("warning: "));
            assert!(!shown.contains('\u{1b}'), "raw escape in {shown:?}");
        }
    }
}

const KEYS: &[&str] = &[
    "units",
    "enabled",
    "timeout",
    "repeat",
    "debug-modes",
    "test-modes",
    "use-ai",
    "diagnostics",
    "analitics",
    "save-analitics",
    "save-performance",
    "setup",
    "init",
    "entrypoint",
    "command",
    "ready_event",
    "ready_timeout",
    "use_setup",
    "python-fork",
    "in-except",
    "unit_dependencies",
    "unity_depencies",
    "events",
    "env",
    "cwd",
    "name",
    "hops",
    "budget-ms",
    "hop-budget-ms",
    "hop",
    "a",
    "b",
];

const STRINGS: &[&str] = &[
    "a",
    "b",
    "a:a-sent",
    "b:b-got",
    "a-sent",
    "b-got",
    "m:f",
    "test_case:run",
    "All",
    "DEBUG",
    "INFO",
    "Resume",
    "Reload",
    "Resume-ALL",
    "",
    "..",
    "a/b",
    "\u{1b}[2J",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_-]{1,8}",
        1 => "\\PC{0,6}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Boolean),
        prop_oneof![any::<i64>(), -3i64..12].prop_map(Value::Integer),
        prop_oneof![any::<f64>(), -1.0f64..100.0].prop_map(Value::Float),
        prop_oneof![
            3 => proptest::sample::select(STRINGS).prop_map(str::to_owned),
            1 => "\\PC{0,10}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Table(m.into_iter().collect())),
        ]
    })
}

fn table() -> impl Strategy<Value = Table> {
    proptest::collection::btree_map(key(), value(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// A config.toml shaped like the real thing, with arbitrary values.
fn config_document() -> impl Strategy<Value = String> {
    (
        table(),
        proptest::option::of(proptest::collection::vec(table(), 0..3)),
        any::<bool>(),
    )
        .prop_map(|(mut configs, circuits, list_units)| {
            if list_units {
                configs.insert(
                    "units".into(),
                    Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
                );
            }
            let mut doc = Table::new();
            doc.insert("Configs".into(), Value::Table(configs));
            if let Some(circuits) = circuits {
                doc.insert(
                    "circuit".into(),
                    Value::Array(circuits.into_iter().map(Value::Table).collect()),
                );
            }
            toml::to_string(&doc).unwrap_or_default()
        })
}

/// A unit file `[<name>]` with arbitrary values.
fn unit_document(name: &'static str) -> impl Strategy<Value = String> {
    (table(), any::<bool>()).prop_map(move |(mut unit, with_init)| {
        if with_init {
            unit.insert("init".into(), Value::Integer(i64::from(name == "b")));
        }
        let mut doc = Table::new();
        doc.insert(name.into(), Value::Table(unit));
        toml::to_string(&doc).unwrap_or_default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        config in proptest::collection::vec(any::<u8>(), 0..400),
        a in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        load_and_check(&config, &a, b"[\"b\"]\ninit = 1\n");
    }

    #[test]
    fn arbitrary_toml_never_panics(
        config in config_document(),
        a in unit_document("a"),
        b in unit_document("b"),
    ) {
        load_and_check(config.as_bytes(), a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn arbitrary_text_lines_never_panic(
        config in proptest::collection::vec(
            prop_oneof![
                Just("[\"Configs\"]".to_owned()),
                Just("units = [\"a\", \"b\"]".to_owned()),
                Just("[[circuit]]".to_owned()),
                Just("hops = [\"a:x\", \"b:y\"]".to_owned()),
                "[a-z\\-_]{1,10} = [0-9\"\\[\\]{},.a-z:]{0,12}",
                "\\PC{0,20}",
            ],
            0..10,
        ),
    ) {
        load_and_check(config.join("\n").as_bytes(), b"[\"a\"]\ninit = 0\n", b"[\"b\"]\ninit = 1\n");
    }
}

/// One unit of a random group built in code: name index, init, enabled, dependencies (indexes),
/// events.
type UnitSpec = (usize, Option<u32>, bool, Vec<usize>, Vec<usize>);

const NAMES: &[&str] = &["a", "b", "c", "d", "e", "../x", ""];
const PROBES: &[&str] = &["p", "q", "r", ""];

fn unit_spec() -> impl Strategy<Value = UnitSpec> {
    (
        0..NAMES.len(),
        proptest::option::of(0u32..6),
        proptest::bool::weighted(0.85),
        proptest::collection::vec(0..NAMES.len(), 0..3),
        proptest::collection::vec(0..PROBES.len(), 0..3),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever a harness builds, `build` answers; and what it accepts can be started: every
    /// dependency is an enabled unit of the group (for enabled units), the dependency graph
    /// has a topological order, inits are unique, and every hop names a probe of its unit.
    #[test]
    fn built_groups_that_validate_are_runnable(
        units in proptest::collection::vec(unit_spec(), 0..6),
        hops in proptest::collection::vec((0..NAMES.len(), 0..PROBES.len()), 0..4),
    ) {
        use testrium_config::{Circuit, Group, Hop, Unit};
        let mut builder = Group::builder("test_prop", "/tmp");
        for (name, init, enabled, deps, events) in &units {
            let mut unit = Unit::passive(NAMES[*name]).enabled(*enabled)
                .depends_on(deps.iter().map(|d| NAMES[*d]))
                .events(events.iter().map(|e| PROBES[*e]));
            if let Some(init) = init {
                unit = unit.init(*init);
            }
            builder = builder.unit(unit);
        }
        if !hops.is_empty() {
            let mut circuit = Circuit::new("c");
            for (unit, probe) in &hops {
                circuit = circuit.hop(Hop::new(NAMES[*unit], PROBES[*probe]));
            }
            builder = builder.circuit(circuit);
        }
        match builder.build() {
            Err(diagnostics) => prop_assert!(!diagnostics.is_empty()),
            Ok(group) => {
                let mut inits = std::collections::HashSet::new();
                for unit in group.units.values() {
                    prop_assert!(inits.insert(unit.init), "duplicate init accepted");
                    for dep in &unit.dependencies {
                        let target = group.units.get(dep);
                        prop_assert!(target.is_some(), "unknown dependency accepted");
                        if unit.enabled {
                            prop_assert!(target.is_some_and(|t| t.enabled));
                        }
                    }
                }
                // Kahn: every unit can be started once its dependencies are.
                let mut started: Vec<&str> = Vec::new();
                while started.len() < group.units.len() {
                    let next = group.units.values().find(|u| {
                        !started.contains(&u.name.as_str())
                            && u.dependencies.iter().all(|d| started.contains(&d.as_str()))
                    });
                    prop_assert!(next.is_some(), "a dependency cycle was accepted");
                    if let Some(unit) = next {
                        started.push(&unit.name);
                    }
                }
                for circuit in &group.circuits {
                    prop_assert!(circuit.hops.len() >= 2);
                    for hop in &circuit.hops {
                        let unit = group.units.get(&hop.unit);
                        prop_assert!(unit.is_some_and(|u| u.enabled && u.events.contains(&hop.probe)));
                    }
                }
            }
        }
    }
}
