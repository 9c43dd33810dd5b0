//! Blame: what a unit was waiting for when the group timed out or ended before it started.

use super::Scheduler;

impl Scheduler {
    /// What a started unit was still waiting for (its readiness probe, its required probes).
    pub(super) fn waiting_for_work(&self, index: usize) -> String {
        let slot = &self.units[index];
        let mut text = match slot.unit.ready_event.as_ref().filter(|_| !slot.ready) {
            Some(probe) => format!("its readiness probe `{probe}`"),
            None if !slot.ready && slot.unit.ready_check.is_some() => {
                let check = slot.check_shown.clone().unwrap_or_else(|| {
                    slot.unit
                        .ready_check
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                });
                match &slot.check_error {
                    Some(error) => format!("its readiness check `{check}` (last: {error})"),
                    None => format!("its readiness check `{check}`"),
                }
            }
            None => {
                let mut missing: Vec<&str> = slot.missing.iter().map(String::as_str).collect();
                missing.sort_unstable();
                let noun = if missing.len() == 1 {
                    "required probe"
                } else {
                    "required probes"
                };
                format!("{noun} {}", quoted_list(&missing))
            }
        };
        if slot.detached {
            text.push_str(" (its main process had exited; the rest of its tree ran on)");
        }
        text
    }

    /// What a unit that was not started was waiting for.
    pub(super) fn waiting_for_start(&self, index: usize) -> String {
        let slot = &self.units[index];
        let deps: Vec<&str> = slot
            .deps
            .iter()
            .filter(|&&d| !self.units[d].satisfies_dependents())
            .map(|&d| self.units[d].unit.name.as_str())
            .collect();
        if !deps.is_empty() {
            return format!("{} to be ready", quoted_list(&deps));
        }
        let completed: Vec<&str> = slot
            .completed
            .iter()
            .filter(|&&d| !self.units[d].completed_ok())
            .map(|&d| self.units[d].unit.name.as_str())
            .collect();
        if !completed.is_empty() {
            return format!("{} to exit successfully", quoted_list(&completed));
        }
        match self.setup.as_ref() {
            Some(_) if slot.unit.use_setup => {
                "the setup to record a probe or exit successfully (`use_setup = true`)".to_owned()
            }
            Some(_) => "the setup's head start".to_owned(),
            None => "its dependencies".to_owned(),
        }
    }
}

/// `a`, `b` and `c`, each in backticks.
fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
