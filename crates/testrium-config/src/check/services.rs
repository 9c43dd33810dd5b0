//! Checks of the keys for real services: readiness checks (`ready_tcp`, `ready_http`,
//! `ready_log`, `ready_command`), `ports` and their placeholders, `completed_dependencies`.

use std::collections::{HashMap, HashSet};

use super::{Checker, Draft, DraftUnit};
use crate::model::{Launch, ReadyCheck};
use crate::names::did_you_mean;
use crate::placeholder::expand_placeholders;
use crate::source::Site;

pub(super) fn check_services(checker: &mut Checker<'_>, draft: &Draft) {
    let ports: HashMap<&str, HashSet<&str>> = draft
        .units
        .iter()
        .map(|u| {
            (
                u.unit.name.as_str(),
                u.unit.ports.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let unescape = draft.units.iter().any(|u| !u.unit.ports.is_empty());
    for draft_unit in &draft.units {
        check_readiness(checker, draft_unit);
        check_ports(checker, draft_unit);
        check_placeholders(checker, draft_unit, &ports, unescape);
    }
}

/// At most one readiness key; each check's value well formed.
fn check_readiness(checker: &mut Checker<'_>, draft_unit: &DraftUnit) {
    let unit = &draft_unit.unit;
    let sites = &draft_unit.sites;
    let given: Vec<&(&'static str, Site)> = sites.readiness.iter().collect();
    if given.len() > 1 {
        let (first, _) = given[0];
        let (second, site) = given[1];
        checker.error(
            site,
            second,
            format!(
                "unit `{}` has both `{first}` and `{second}`: a unit has one readiness check",
                unit.name
            ),
            Some("keep the one that says best when the unit is ready".into()),
        );
        return;
    }
    if given.is_empty()
        && let (Some(_), Some(check)) = (&unit.ready_event, &unit.ready_check)
    {
        checker.error(
            &sites.header,
            check.key(),
            format!(
                "unit `{}` has both `ready_event` and `{}`: a unit has one readiness check",
                unit.name,
                check.key()
            ),
            None,
        );
        return;
    }
    let Some(check) = &unit.ready_check else {
        return;
    };
    let site = given.first().map_or(&sites.header, |(_, site)| site);
    let key = check.key();
    let problem = match check {
        ReadyCheck::Tcp(address) => tcp_problem(address),
        ReadyCheck::Http(url) => http_problem(url),
        ReadyCheck::Log(pattern) => regex::Regex::new(pattern)
            .err()
            .map(|e| (format!("is not a valid regular expression: {e}"), None)),
        ReadyCheck::Command(argv) => match argv.first() {
            None => Some(("is empty".to_owned(), None)),
            Some(program) if program.trim().is_empty() => Some((
                "must name a program: the first element is blank".to_owned(),
                None,
            )),
            Some(_) => None,
        },
    };
    if let Some((what, hint)) = problem {
        checker.error(
            site,
            key,
            format!("`{key}` of unit `{}` {what}", unit.name),
            hint,
        );
    }
}

/// `host:port`, the port a number or a placeholder.
fn tcp_problem(address: &str) -> Option<(String, Option<String>)> {
    let hint = Some("write `host:port`, e.g. `127.0.0.1:6379` or `127.0.0.1:{port.redis}`".into());
    let Some((host, port)) = address.rsplit_once(':') else {
        return Some((format!("`{address}` has no port"), hint));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Some((format!("`{address}` has no host"), hint));
    }
    let placeholder = port.starts_with('{') && port.ends_with('}');
    if !placeholder && port.parse::<u16>().map_or(true, |p| p == 0) {
        return Some((
            format!("`{address}`: `{port}` is not a port (1-65535)"),
            hint,
        ));
    }
    None
}

/// `http://host[:port][/path]`; `https` is refused (not supported).
fn http_problem(url: &str) -> Option<(String, Option<String>)> {
    if url.starts_with("https://") {
        return Some((
            format!("`{url}`: https is not supported"),
            Some(
                "check the plain HTTP port, or use `ready_tcp` on the TLS port, or \
                 `ready_command = [\"curl\", \"-fsk\", \"https://…\"]`"
                    .into(),
            ),
        ));
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Some((
            format!("`{url}` is not an http:// URL"),
            Some("e.g. `http://127.0.0.1:{port.http}/health`".into()),
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Some((format!("`{url}` has no host"), None));
    }
    if let Some((_, port)) = authority.rsplit_once(':') {
        let placeholder = port.starts_with('{') && port.ends_with('}');
        if !placeholder && port.parse::<u16>().map_or(true, |p| p == 0) {
            return Some((format!("`{url}`: `{port}` is not a port (1-65535)"), None));
        }
    }
    None
}

/// Port names: non-empty, letters, digits, `-` and `_`, unique in the unit.
fn check_ports(checker: &mut Checker<'_>, draft_unit: &DraftUnit) {
    let unit = &draft_unit.unit;
    let mut seen = HashSet::new();
    for (i, name) in unit.ports.iter().enumerate() {
        let site = draft_unit.sites.port(i);
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            checker.error(
                site,
                "ports",
                format!("port name `{name}` of unit `{}` is not valid", unit.name),
                Some("use letters, digits, `-` and `_`: it becomes `TESTRIUM_PORT_<NAME>`".into()),
            );
        } else if !seen.insert(name) {
            checker.error(
                site,
                "ports",
                format!("port `{name}` of unit `{}` is declared twice", unit.name),
                None,
            );
        }
    }
}

/// Every placeholder in `command`, `env` values, `cwd` and the readiness check names a port.
fn check_placeholders(
    checker: &mut Checker<'_>,
    draft_unit: &DraftUnit,
    ports: &HashMap<&str, HashSet<&str>>,
    unescape: bool,
) {
    let unit = &draft_unit.unit;
    let sites = &draft_unit.sites;
    let lookup = |owner: &str, name: &str| {
        ports
            .get(owner)
            .is_some_and(|names| names.contains(name))
            .then_some(1)
    };
    let mut values: Vec<(&str, &Site, &str)> = Vec::new();
    if let Launch::Command(argv) = &unit.launch {
        let site = sites.launch.as_ref().unwrap_or(&sites.header);
        values.extend(argv.iter().map(|a| ("command", site, a.as_str())));
    }
    let env_site = sites.env.as_ref().unwrap_or(&sites.header);
    values.extend(unit.env.values().map(|v| ("env", env_site, v.as_str())));
    let cwd_text = unit.cwd.as_ref().map(|c| c.to_string_lossy().into_owned());
    if let Some(cwd) = cwd_text.as_deref() {
        values.push(("cwd", sites.cwd.as_ref().unwrap_or(&sites.header), cwd));
    }
    let check_site = sites
        .readiness
        .first()
        .map_or(&sites.header, |(_, site)| site);
    let check_values: Vec<String> = match &unit.ready_check {
        Some(ReadyCheck::Command(argv)) => argv.clone(),
        Some(check) => vec![check.target()],
        None => Vec::new(),
    };
    let check_key = unit.ready_check.as_ref().map_or("", ReadyCheck::key);
    values.extend(
        check_values
            .iter()
            .map(|v| (check_key, check_site, v.as_str())),
    );
    for (key, site, value) in values {
        if let Err(error) = expand_placeholders(value, &unit.name, unescape, lookup) {
            let units: Vec<&str> = ports.keys().copied().collect();
            let hint = match error
                .placeholder
                .trim_matches(['{', '}'])
                .rsplit_once(".port.")
            {
                Some((owner, _)) if !ports.contains_key(owner) => did_you_mean(owner, units),
                _ => None,
            };
            checker.error(
                site,
                key,
                format!("`{key}` of unit `{}`: {error}", unit.name),
                hint,
            );
        }
    }
}
