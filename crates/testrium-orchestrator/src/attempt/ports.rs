//! Ports handed to units (`ports = ["http"]`): free loopback TCP ports picked before an
//! attempt's units start, unique among everything this process runs at once (`--jobs`, the
//! attempts of a repeat), released when the attempt ends.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

use testrium_config::Group;

/// Ports held by the attempts in flight in this process.
static IN_USE: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The ports of one attempt: `(unit, name) → port`.
#[derive(Debug, Default)]
pub(super) struct Ports {
    ports: BTreeMap<(String, String), u16>,
}

impl Ports {
    /// Picks a port for every `ports` name of every enabled unit of `group`.
    pub(super) fn allocate(group: &Group) -> Result<Ports, String> {
        let mut ports = Ports::default();
        for unit in group.enabled_units() {
            for name in &unit.ports {
                let port = pick().map_err(|e| {
                    format!(
                        "cannot pick a loopback port for `{}.{name}`: {e}",
                        unit.name
                    )
                })?;
                ports.ports.insert((unit.name.clone(), name.clone()), port);
            }
        }
        Ok(ports)
    }

    /// The port `name` of `unit`.
    pub(super) fn get(&self, unit: &str, name: &str) -> Option<u16> {
        self.ports.get(&(unit.to_owned(), name.to_owned())).copied()
    }

    /// Whether the group declares any port (placeholders then also unescape `{{` and `}}`).
    pub(super) fn any(&self) -> bool {
        !self.ports.is_empty()
    }

    /// Every `(unit, name, port)`.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &str, u16)> {
        self.ports
            .iter()
            .map(|((unit, name), port)| (unit.as_str(), name.as_str(), *port))
    }
}

impl Drop for Ports {
    fn drop(&mut self) {
        let mut in_use = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
        for port in self.ports.values() {
            in_use.remove(port);
        }
    }
}

/// A free loopback port no attempt of this process holds.
fn pick() -> std::io::Result<u16> {
    let mut in_use = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
    for _ in 0..64 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if in_use.insert(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port after 64 tries"))
}

/// The environment variable of a port: `TESTRIUM_PORT_<NAME>` (the unit's own) or
/// `TESTRIUM_<UNIT>_PORT_<NAME>`, upper-cased, every other character `_`.
pub(super) fn env_name(unit: Option<&str>, name: &str) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    match unit {
        Some(unit) => format!("TESTRIUM_{}_PORT_{}", clean(unit), clean(name)),
        None => format!("TESTRIUM_PORT_{}", clean(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_upper_case_with_underscores() {
        assert_eq!(env_name(None, "http"), "TESTRIUM_PORT_HTTP");
        assert_eq!(
            env_name(Some("echo-server"), "admin-ui"),
            "TESTRIUM_ECHO_SERVER_PORT_ADMIN_UI"
        );
    }

    #[test]
    fn picked_ports_are_unique_while_held() {
        let group = Group::builder("ports-test", "/nonexistent/ports-test")
            .unit(
                testrium_config::Unit::command("a", ["x"])
                    .init(1)
                    .ports(["one", "two", "three"]),
            )
            .build()
            .expect("valid group");
        let first = Ports::allocate(&group).expect("ports");
        let second = Ports::allocate(&group).expect("ports");
        let all: BTreeSet<u16> = first
            .iter()
            .chain(second.iter())
            .map(|(_, _, p)| p)
            .collect();
        assert_eq!(all.len(), 6);
        let held: Vec<u16> = first.iter().map(|(_, _, p)| p).collect();
        drop(first);
        let in_use = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(held.iter().all(|p| !in_use.contains(p)));
    }
}
