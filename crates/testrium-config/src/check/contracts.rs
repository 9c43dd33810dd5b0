//! `[[contract]]`: each end a probe of an enabled unit, each pair covered once.

use std::collections::{HashMap, HashSet};

use super::{Checker, Draft, list};
use crate::model::{Contract, ProbeRef, Unit};
use crate::names::did_you_mean;
use crate::source::Site;

/// A contract with where its parts are written.
#[derive(Debug)]
pub(crate) struct DraftContract {
    pub(crate) contract: Contract,
    pub(crate) site: Site,
    pub(crate) send_site: Option<Site>,
    pub(crate) receive_site: Option<Site>,
}

pub(super) fn check_contracts(checker: &mut Checker<'_>, draft: &Draft) {
    let by_name: HashMap<&str, &Unit> = draft
        .units
        .iter()
        .map(|u| (u.unit.name.as_str(), &u.unit))
        .collect();
    let mut pairs = HashSet::new();
    for draft_contract in &draft.contracts {
        let contract = &draft_contract.contract;
        let name = contract.name();
        for (end, key, site) in [
            (&contract.send, "send", &draft_contract.send_site),
            (&contract.receive, "receive", &draft_contract.receive_site),
        ] {
            let site = site.as_ref().unwrap_or(&draft_contract.site);
            check_end(checker, draft, &by_name, &name, end, key, site);
        }
        if !pairs.insert((&contract.send, &contract.receive)) {
            checker.error(
                &draft_contract.site,
                "contract",
                format!("two contracts cover `{name}`"),
                Some("keep one contract per send and receive probe".into()),
            );
        }
        if contract.within.is_some_and(|w| w.is_zero()) {
            checker.error(
                &draft_contract.site,
                "within-ms",
                format!("`within-ms` of contract `{name}` must be greater than 0"),
                None,
            );
        }
    }
}

fn check_end(
    checker: &mut Checker<'_>,
    draft: &Draft,
    by_name: &HashMap<&str, &Unit>,
    name: &str,
    end: &ProbeRef,
    key: &str,
    site: &Site,
) {
    if draft.broken_units.contains(&end.unit) {
        return;
    }
    let Some(unit) = by_name.get(end.unit.as_str()) else {
        checker.error(
            site,
            key,
            format!("contract `{name}` names unknown unit `{}`", end.unit),
            did_you_mean(&end.unit, by_name.keys().copied()),
        );
        return;
    };
    if !unit.enabled {
        checker.error(
            site,
            key,
            format!("contract `{name}` names disabled unit `{}`", end.unit),
            Some("enable the unit or remove the contract".into()),
        );
        return;
    }
    if !unit.events.iter().any(|e| e == &end.probe) {
        let hint =
            did_you_mean(&end.probe, unit.events.iter().map(String::as_str)).unwrap_or_else(|| {
                format!(
                    "add `{}` to the `events` of unit `{}` (its events: {})",
                    end.probe,
                    end.unit,
                    list(unit.events.iter().map(String::as_str))
                )
            });
        checker.error(
            site,
            key,
            format!(
                "contract `{name}`: probe `{}` is not in the `events` of unit `{}`",
                end.probe, end.unit
            ),
            Some(hint),
        );
    }
}
