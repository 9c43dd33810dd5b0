//! Circuit instances in flight at the end of the units phase.
//!
//! A group whose required probes have all been recorded is over (the original's rule) — but
//! not while a declared circuit still has instances on their way: an instance whose first hop
//! was recorded and whose last hop was not yet, while a unit that records a later hop may still
//! record it. The scheduler counts the events of each circuit's first and last hop as they are
//! recorded; more first hops than last hops means instances in flight. It waits for them for
//! at most the circuit's budget (the total budget, else the sum of the hop budgets when every
//! hop has one, else [`IN_FLIGHT_WAIT`]) from the moment the group would otherwise have ended,
//! and never past the group timeout. What is still open then is judged by the verifier as
//! ever (over budget or incomplete).
//!
//! Keyed pairs are waited for the same way: a Send whose Receive (same key) has not been
//! recorded yet, while a unit that could record it is still running, is waited for up to
//! [`IN_FLIGHT_WAIT`] (pairs have no budget of their own); then it is an orphan as ever.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use testrium_config::Circuit;
use testrium_events::EventType;

use super::Scheduler;
use super::slot::Phase;

/// How long instances of a circuit without a budget are waited for at the end.
pub(crate) const IN_FLIGHT_WAIT: Duration = Duration::from_secs(5);

/// One declared circuit, as the end of the units phase needs it.
#[derive(Debug, Clone)]
pub(crate) struct CircuitSlot {
    first: (String, String),
    last: (String, String),
    /// Units that record a hop after the first (indices into the scheduler's units).
    later_units: Vec<usize>,
    /// The longest an instance may take.
    wait: Duration,
    /// Events of the first hop recorded so far.
    started: u64,
    /// Events of the last hop recorded so far.
    completed: u64,
}

impl CircuitSlot {
    fn open(&self) -> bool {
        self.started > self.completed
    }
}

/// Keys sent and not received yet (and received before their Send was seen), by a 64-bit
/// hash of the key: a flood of pairs costs a few bytes per open pair, and a collision could
/// only shorten or lengthen the (bounded) wait, never change a verdict.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenPairs {
    sends: HashMap<u64, u32>,
    early_receives: HashMap<u64, u32>,
}

impl OpenPairs {
    fn record(&mut self, event_type: EventType, key: &str) {
        let key = crate::python::fnv1a(key.as_bytes());
        let (mine, theirs) = match event_type {
            EventType::Send => (&mut self.sends, &mut self.early_receives),
            EventType::Receive => (&mut self.early_receives, &mut self.sends),
            _ => return,
        };
        if let Some(count) = theirs.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                theirs.remove(&key);
            }
        } else {
            *mine.entry(key).or_insert(0) += 1;
        }
    }

    /// Sends waiting for their Receive.
    pub(crate) fn open(&self) -> usize {
        self.sends.values().map(|&n| n as usize).sum()
    }
}

impl Scheduler {
    /// The group's declared circuits (`[[circuit]]`).
    pub(crate) fn with_circuits(mut self, circuits: &[Circuit]) -> Self {
        self.circuits = circuits
            .iter()
            .filter_map(|circuit| {
                let (first, rest) = circuit.hops.split_first()?;
                let last = rest.last()?;
                let hop_budgets: Option<Duration> = rest.iter().map(|h| h.budget).sum();
                let mut later_units: Vec<usize> = rest
                    .iter()
                    .filter_map(|h| self.units.iter().position(|s| s.unit.name == h.unit))
                    .collect();
                later_units.sort_unstable();
                later_units.dedup();
                Some(CircuitSlot {
                    first: (first.unit.clone(), first.probe.clone()),
                    last: (last.unit.clone(), last.probe.clone()),
                    later_units,
                    wait: circuit
                        .total_budget
                        .or(hop_budgets)
                        .unwrap_or(IN_FLIGHT_WAIT),
                    started: 0,
                    completed: 0,
                })
            })
            .collect();
        self
    }

    /// A keyed probe was recorded: a Send opens a pair, its Receive closes it.
    pub(crate) fn keyed_probe(&mut self, event_type: EventType, key: &str) {
        self.pairs.record(event_type, key);
    }

    /// A probe was recorded: counts it when it is a circuit's first or last hop.
    pub(super) fn count_hops(&mut self, unit: &str, step: &str) {
        for circuit in &mut self.circuits {
            if circuit.first.0 == unit && circuit.first.1 == step {
                circuit.started += 1;
            }
            if circuit.last.0 == unit && circuit.last.1 == step {
                circuit.completed += 1;
            }
        }
    }

    /// Until when the end of the units phase waits for circuit instances in flight, the group
    /// having been able to end since `since`; `None`: nothing to wait for.
    pub(super) fn in_flight_until(&self, since: Instant) -> Option<Instant> {
        let pairs = (self.pairs.open() > 0 && self.units.iter().any(|s| s.may_record()))
            .then(|| (since + IN_FLIGHT_WAIT).min(self.deadline));
        let circuits = self
            .circuits
            .iter()
            .filter(|c| c.open())
            .filter(|c| {
                c.later_units.iter().any(|&i| {
                    let slot = &self.units[i];
                    slot.may_record() || (slot.detached && slot.phase == Phase::Done)
                })
            })
            .map(|c| (since + c.wait).min(self.deadline))
            .max();
        pairs.max(circuits)
    }

    /// Circuits with instances in flight: `(circuit index, first hops, last hops)`.
    #[cfg(test)]
    pub(crate) fn open_circuits(&self) -> Vec<(usize, u64, u64)> {
        self.circuits
            .iter()
            .enumerate()
            .filter(|(_, c)| c.open())
            .map(|(i, c)| (i, c.started, c.completed))
            .collect()
    }
}
