//! What a run must show: required probes per unit and declared circuits.

use std::time::Duration;

use testrium_config::{Delivery, Group};

/// Everything the verifier checks events against: the units of a group (with the probes each
/// must record) and the declared circuits.
///
/// Built from a validated [`Group`] with [`Expectations::from_group`], or in code:
///
/// ```
/// use std::time::Duration;
/// use testrium_verify::{ExpectedCircuit, Expectations};
///
/// let expectations = Expectations::new("demo")
///     .unit("source", ["command-sent", "response-received"])
///     .unit("target", ["command-received"])
///     .circuit(
///         ExpectedCircuit::new("command")
///             .hop("source", "command-sent")
///             .hop_within("target", "command-received", Duration::from_millis(50))
///             .total_budget(Duration::from_secs(1)),
///     );
/// assert_eq!(expectations.units.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct Expectations {
    /// The group's name (shown in the verdict).
    pub group: String,
    /// Every unit of the group, in config order, disabled units included.
    pub units: Vec<ExpectedUnit>,
    /// Declared circuits, in config order.
    pub circuits: Vec<ExpectedCircuit>,
    /// Delivery contracts, in config order: the pairs they cover are judged by them instead
    /// of the default Send/Receive rules.
    pub contracts: Vec<ExpectedContract>,
}

impl Expectations {
    /// No units, no circuits: only correlation rules apply.
    pub fn new(group: impl Into<String>) -> Self {
        Expectations {
            group: group.into(),
            units: Vec::new(),
            circuits: Vec::new(),
            contracts: Vec::new(),
        }
    }

    /// The expectations of a validated group: every unit with its `events` as required probes
    /// (disabled units are kept, so their events are recognised, but their probes are not
    /// required), every `[[circuit]]` and every `[[contract]]`.
    pub fn from_group(group: &Group) -> Self {
        let units = group
            .units
            .values()
            .map(|u| ExpectedUnit {
                name: u.name.clone(),
                enabled: u.enabled,
                probes: u.events.clone(),
            })
            .collect();
        let circuits = group
            .circuits
            .iter()
            .map(|c| ExpectedCircuit {
                name: c.name.clone(),
                hops: c
                    .hops
                    .iter()
                    .map(|h| ExpectedHop {
                        unit: h.unit.clone(),
                        probe: h.probe.clone(),
                        budget: h.budget,
                    })
                    .collect(),
                total_budget: c.total_budget,
            })
            .collect();
        let contracts = group
            .contracts
            .iter()
            .map(|c| ExpectedContract {
                send_unit: c.send.unit.clone(),
                send_probe: c.send.probe.clone(),
                receive_unit: c.receive.unit.clone(),
                receive_probe: c.receive.probe.clone(),
                delivery: c.delivery,
                within: c.within,
            })
            .collect();
        Expectations {
            group: group.name.clone(),
            units,
            circuits,
            contracts,
        }
    }

    /// Adds an enabled unit that must record each of `probes`.
    #[must_use]
    pub fn unit<I, S>(mut self, name: impl Into<String>, probes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.units.push(ExpectedUnit::new(name, probes));
        self
    }

    /// Adds a disabled unit: known (its events are not "from an unknown unit") but nothing of
    /// it is required.
    #[must_use]
    pub fn disabled_unit<I, S>(mut self, name: impl Into<String>, probes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut unit = ExpectedUnit::new(name, probes);
        unit.enabled = false;
        self.units.push(unit);
        self
    }

    /// Adds a declared circuit.
    #[must_use]
    pub fn circuit(mut self, circuit: ExpectedCircuit) -> Self {
        self.circuits.push(circuit);
        self
    }

    /// Adds a delivery contract.
    #[must_use]
    pub fn contract(mut self, contract: ExpectedContract) -> Self {
        self.contracts.push(contract);
        self
    }
}

impl From<&Group> for Expectations {
    fn from(group: &Group) -> Self {
        Expectations::from_group(group)
    }
}

/// One unit of the group, as far as verification is concerned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExpectedUnit {
    /// The unit's name, as recorded in the `Unit` column.
    pub name: String,
    /// A disabled unit's probes are not required.
    pub enabled: bool,
    /// The probes (`StepCompleted` values) the unit must record, in config order.
    pub probes: Vec<String>,
}

impl ExpectedUnit {
    /// An enabled unit that must record each of `probes`.
    pub fn new<I, S>(name: impl Into<String>, probes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ExpectedUnit {
            name: name.into(),
            enabled: true,
            probes: probes.into_iter().map(Into::into).collect(),
        }
    }
}

/// A declared circuit: hops from cause to effect, each a probe of a unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExpectedCircuit {
    /// The circuit's name.
    pub name: String,
    /// The hops in causal order.
    pub hops: Vec<ExpectedHop>,
    /// Budget from the first hop to the last.
    #[serde(serialize_with = "crate::ser::opt_duration_s")]
    pub total_budget: Option<Duration>,
}

impl ExpectedCircuit {
    /// A circuit with no hops yet.
    pub fn new(name: impl Into<String>) -> Self {
        ExpectedCircuit {
            name: name.into(),
            hops: Vec::new(),
            total_budget: None,
        }
    }

    /// Appends a hop with no budget.
    #[must_use]
    pub fn hop(mut self, unit: impl Into<String>, probe: impl Into<String>) -> Self {
        self.hops.push(ExpectedHop {
            unit: unit.into(),
            probe: probe.into(),
            budget: None,
        });
        self
    }

    /// Appends a hop that must follow the previous one within `budget`.
    #[must_use]
    pub fn hop_within(
        mut self,
        unit: impl Into<String>,
        probe: impl Into<String>,
        budget: Duration,
    ) -> Self {
        self.hops.push(ExpectedHop {
            unit: unit.into(),
            probe: probe.into(),
            budget: Some(budget),
        });
        self
    }

    /// Sets the budget from the first hop to the last.
    #[must_use]
    pub fn total_budget(mut self, budget: Duration) -> Self {
        self.total_budget = Some(budget);
        self
    }
}

/// One hop of a circuit: `unit:probe`, with an optional budget from the previous hop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExpectedHop {
    /// The unit that records the probe.
    pub unit: String,
    /// The probe (`StepCompleted`).
    pub probe: String,
    /// Budget from the previous hop to this one (ignored on the first hop).
    #[serde(serialize_with = "crate::ser::opt_duration_s")]
    pub budget: Option<Duration>,
}

/// A delivery contract: the `Send` events of one probe and the `Receive` events of another,
/// paired by key and judged by [`delivery`](ExpectedContract::delivery).
///
/// ```
/// use std::time::Duration;
/// use testrium_config::Delivery;
/// use testrium_verify::{ExpectedContract, Expectations};
///
/// let expectations = Expectations::new("queue").contract(
///     ExpectedContract::new("producer", "order-sent", "worker", "order-received", Delivery::AtLeastOnce)
///         .within(Duration::from_secs(2)),
/// );
/// assert_eq!(expectations.contracts[0].name(), "producer:order-sent -> worker:order-received");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExpectedContract {
    /// The unit that records the Send probe.
    pub send_unit: String,
    /// The Send probe.
    pub send_probe: String,
    /// The unit that records the Receive probe.
    pub receive_unit: String,
    /// The Receive probe.
    pub receive_probe: String,
    /// What the channel promises.
    #[serde(serialize_with = "crate::ser::delivery")]
    pub delivery: Delivery,
    /// Each Send must be received within this time (else it is `late`).
    #[serde(serialize_with = "crate::ser::opt_duration_s")]
    pub within: Option<Duration>,
}

impl ExpectedContract {
    /// A contract from `send_unit:send_probe` to `receive_unit:receive_probe`, no deadline.
    pub fn new(
        send_unit: impl Into<String>,
        send_probe: impl Into<String>,
        receive_unit: impl Into<String>,
        receive_probe: impl Into<String>,
        delivery: Delivery,
    ) -> Self {
        ExpectedContract {
            send_unit: send_unit.into(),
            send_probe: send_probe.into(),
            receive_unit: receive_unit.into(),
            receive_probe: receive_probe.into(),
            delivery,
            within: None,
        }
    }

    /// Each Send must be received within `within`.
    #[must_use]
    pub fn within(mut self, within: Duration) -> Self {
        self.within = Some(within);
        self
    }

    /// `send_unit:send_probe -> receive_unit:receive_probe`, as in reports.
    pub fn name(&self) -> String {
        format!(
            "{}:{} -> {}:{}",
            self.send_unit, self.send_probe, self.receive_unit, self.receive_probe
        )
    }
}
