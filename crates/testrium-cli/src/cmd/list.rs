//! `testrium list [BASE] [GROUP…]`: the groups `testrium run` would run with the same selection
//! flags (`-k`, `--less`, `--partition`, names), each with its units, their dependencies and
//! readiness, and its circuits; `--json` for programs. The selection is `Suite::plan`'s, the
//! very one `run` makes; nothing is started.

use std::io::{self, Write};

use serde_json::{Value, json};
use testrium_config::{Group, Unit};
use testrium_orchestrator::{SuitePlan, TestriumExitCode};
use testrium_report::Style;
use testrium_report::sanitize::terminal as t;
use testrium_report::terminal::seconds;

use crate::args::{GlobalArgs, ListArgs, RunArgs};

/// The schema version of `testrium list --json` (fields are only ever added).
const LIST_SCHEMA: u32 = 1;

/// Runs `testrium list` and returns the exit code: 0, or that of `run` for the same selection
/// when it would not start (2 no group, 3 configuration error, 4 environment error).
pub fn main(global: &GlobalArgs, args: ListArgs) -> u8 {
    let run = RunArgs {
        base: args.base,
        groups: args.groups,
        pattern: args.pattern,
        partition: args.partition,
        ..RunArgs::default()
    };
    let suite = match crate::cmd::run::suite(global, &run) {
        Ok(suite) => suite,
        Err(code) => return code,
    };
    let plan = match suite.plan() {
        Ok(plan) => plan,
        Err(err) => {
            crate::cmd::run::say_plan_error(&err);
            return err.exit_code();
        }
    };
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &plan_json(&plan))
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(
            &mut out,
            &plan,
            crate::console::style_for_stdout(global.no_color),
            global.verbose,
        )
    };
    match written {
        Ok(()) => TestriumExitCode::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => TestriumExitCode::SUCCESS,
        Err(err) => {
            say!("error: cannot write to stdout: {err}");
            TestriumExitCode::ENVIRONMENT_ERROR
        }
    }
}

/// How a unit becomes ready, in words: `probe `ready``, `tcp 127.0.0.1:6379`, `at once`.
fn readiness(unit: &Unit) -> String {
    match (&unit.ready_event, &unit.ready_check) {
        (Some(event), _) => format!("probe `{event}`"),
        (None, Some(check)) => check.to_string(),
        (None, None) => "at once".to_owned(),
    }
}

fn write_text(
    out: &mut dyn Write,
    plan: &SuitePlan,
    style: Style,
    verbose: bool,
) -> io::Result<()> {
    let n = plan.groups.len();
    let mut head = format!(
        "{n} group{} in {}",
        if n == 1 { "" } else { "s" },
        t(&plan.base.display().to_string())
    );
    if let Some(p) = plan.partition {
        head.push_str(&format!(", partition {p}"));
    }
    writeln!(out, "{head}")?;
    for group in &plan.groups {
        write_group(out, group, style)?;
    }
    for s in &plan.skipped {
        // As `run`'s summary: groups left out by the command line only with --verbose.
        let by_command_line = matches!(
            s.kind,
            testrium_orchestrator::SkipKind::Excluded
                | testrium_orchestrator::SkipKind::NotSelected
                | testrium_orchestrator::SkipKind::Partition
        );
        if verbose || !by_command_line {
            writeln!(
                out,
                "{} {}: {}",
                style.warn("SKIP"),
                t(&s.name),
                t(&s.reason)
            )?;
        }
    }
    Ok(())
}

fn write_group(out: &mut dyn Write, group: &Group, style: Style) -> io::Result<()> {
    writeln!(
        out,
        "{}  timeout {}",
        style.bold(&t(&group.name)),
        seconds(group.settings.timeout.as_secs_f64())
    )?;
    let width = group
        .units
        .values()
        .map(|u| t(&u.name).chars().count())
        .max()
        .unwrap_or(0);
    for unit in group.units.values() {
        let mut line = format!("  {:width$}", t(&unit.name));
        if !unit.enabled {
            line.push_str("  disabled");
        }
        line.push_str(&format!("  ready: {}", t(&readiness(unit))));
        if unit.ready_event.is_some() || unit.ready_check.is_some() {
            line.push_str(&format!(
                " (within {})",
                seconds(unit.ready_timeout.as_secs_f64())
            ));
        }
        if !unit.dependencies.is_empty() {
            line.push_str(&format!(
                "  after ready: {}",
                t(&unit.dependencies.join(", "))
            ));
        }
        if !unit.completed_dependencies.is_empty() {
            line.push_str(&format!(
                "  after exit 0: {}",
                t(&unit.completed_dependencies.join(", "))
            ));
        }
        if !unit.events.is_empty() {
            line.push_str(&format!("  probes: {}", t(&unit.events.join(", "))));
        }
        writeln!(out, "{line}")?;
    }
    for circuit in &group.circuits {
        let hops: Vec<String> = circuit
            .hops
            .iter()
            .map(|h| format!("{}:{}", h.unit, h.probe))
            .collect();
        let mut line = format!("  circuit {}: {}", t(&circuit.name), t(&hops.join(" -> ")));
        if let Some(budget) = circuit.total_budget {
            line.push_str(&format!(" (budget {})", seconds(budget.as_secs_f64())));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The plan as JSON: what `testrium list --json` prints.
fn plan_json(plan: &SuitePlan) -> Value {
    json!({
        "schema": LIST_SCHEMA,
        "base": plan.base.display().to_string(),
        "partition": plan.partition.map(|p| p.to_string()),
        "groups": plan.groups.iter().map(group_json).collect::<Vec<_>>(),
        "skipped": plan.skipped,
    })
}

fn group_json(group: &Group) -> Value {
    json!({
        "name": group.name,
        "dir": group.dir.display().to_string(),
        "timeout_s": group.settings.timeout.as_secs_f64(),
        "units": group.units.values().map(|u| json!({
            "name": u.name,
            "enabled": u.enabled,
            "dependencies": u.dependencies,
            "completed_dependencies": u.completed_dependencies,
            "ready_event": u.ready_event,
            "ready_check": u.ready_check.as_ref().map(|c| json!({
                "kind": c.kind(),
                "target": c.target(),
            })),
            "ready_timeout_s": u.ready_timeout.as_secs_f64(),
            "probes": u.events,
        })).collect::<Vec<_>>(),
        "circuits": group.circuits.iter().map(|c| json!({
            "name": c.name,
            "hops": c.hops.iter().map(|h| json!({
                "unit": h.unit,
                "probe": h.probe,
                "budget_ms": h.budget.map(|b| b.as_secs_f64() * 1e3),
            })).collect::<Vec<_>>(),
            "budget_ms": c.total_budget.map(|b| b.as_secs_f64() * 1e3),
        })).collect::<Vec<_>>(),
    })
}
