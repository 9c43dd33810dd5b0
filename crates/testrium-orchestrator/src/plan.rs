//! Planning: the dependency graph of a group's units and the order they may start in.

use std::collections::HashMap;

use testrium_config::{Group, Launch, Unit};

/// The units the runner starts, sorted by `init`, each with the indices of the units it
/// waits for.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) units: Vec<PlannedUnit>,
}

/// One unit to start.
#[derive(Debug)]
pub(crate) struct PlannedUnit {
    pub(crate) unit: Unit,
    /// Indices (into [`Plan::units`]) of the started units that must be ready first.
    /// Dependencies on disabled or passive units are satisfied from the start: nothing of
    /// theirs is started to wait for.
    pub(crate) deps: Vec<usize>,
}

/// Builds the plan. A dependency cycle among enabled units is an error naming the cycle
/// (`a -> b -> a`: `a` depends on `b`, which depends on `a`), found by the same finder as the
/// config validation ([`Group::dependency_cycle`]).
pub(crate) fn plan(group: &Group) -> Result<Plan, Vec<String>> {
    if let Some(cycle) = group.dependency_cycle() {
        return Err(cycle.into_iter().map(str::to_owned).collect());
    }
    let enabled: Vec<&Unit> = group.enabled_units().collect();
    let mut launched: Vec<&Unit> = enabled
        .into_iter()
        .filter(|u| u.remote || !matches!(u.launch, Launch::Passive))
        .collect();
    launched.sort_by_key(|u| u.init);
    let index: HashMap<&str, usize> = launched
        .iter()
        .enumerate()
        .map(|(i, u)| (u.name.as_str(), i))
        .collect();
    let units = launched
        .iter()
        .map(|u| {
            let mut deps: Vec<usize> = u
                .dependencies
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect();
            deps.sort_unstable();
            deps.dedup();
            PlannedUnit {
                unit: (*u).clone(),
                deps,
            }
        })
        .collect();
    Ok(Plan { units })
}

#[cfg(test)]
mod tests {
    use testrium_config::Unit;

    use super::*;

    fn group() -> Group {
        Group::builder("plan-test", "/nonexistent/plan-test")
            .unit(Unit::command("c", ["true"]).init(3).depends_on(["b"]))
            .unit(Unit::command("b", ["true"]).init(2).depends_on(["a"]))
            .unit(Unit::command("a", ["true"]).init(1))
            .unit(Unit::passive("p").init(4))
            .unit(Unit::command("off", ["true"]).init(5).enabled(false))
            .build()
            .expect("valid group")
    }

    #[test]
    fn plan_keeps_started_units_in_init_order_with_dependency_indices() {
        let plan = plan(&group()).expect("no cycle");
        let names: Vec<&str> = plan.units.iter().map(|u| u.unit.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(plan.units[1].deps, [0]);
        assert_eq!(plan.units[2].deps, [1]);
    }

    #[test]
    fn a_cycle_is_named_along_its_edges() {
        // The builders reject cycles; a group edited afterwards must still not hang the runner.
        let mut group = group();
        if let Some(a) = group.units.get_mut("a") {
            a.dependencies.push("c".to_owned());
        }
        let cycle = plan(&group).expect_err("cycle");
        // `c` (first in the group) depends on `b`, `b` on `a`, `a` on `c`.
        assert_eq!(cycle, ["c", "b", "a", "c"]);
        assert_eq!(cycle.len(), 4, "{cycle:?}");
        assert_eq!(cycle.first(), cycle.last());
        for name in ["a", "b", "c"] {
            assert!(cycle.iter().any(|n| n == name), "{cycle:?}");
        }
    }

    #[test]
    fn a_self_dependency_is_a_cycle() {
        let mut group = group();
        if let Some(a) = group.units.get_mut("a") {
            a.dependencies.push("a".to_owned());
        }
        assert_eq!(plan(&group).expect_err("cycle"), ["a", "a"]);
    }
}
