//! `[[fault]]` tables of `config.toml`: a fault injected when a probe is recorded.

use toml::de::DeValue;

use crate::check::{DraftFault, list};
use crate::model::{Fault, FaultAction};
use crate::names::{FAULT_KEYS, did_you_mean, parse_hop};
use crate::parse::config::ConfigDraft;
use crate::parse::reader::{Reader, Value, entries};

pub(crate) fn parse_faults(reader: &mut Reader<'_>, value: &Value<'_>, draft: &mut ConfigDraft) {
    let hint = "declare each fault as `[[fault]]` with `after`, `unit` and `action`";
    for (table, table_value) in reader.array_of_tables("fault", value, hint) {
        let site = reader.site(table_value.span());
        let mut after = None;
        let mut after_site = site.clone();
        let mut unit = None;
        let mut unit_site = site.clone();
        let mut action = None;
        let mut occurrence = 1;
        let mut duration = std::time::Duration::ZERO;
        let mut optional = false;
        let mut broken = false;
        for (key, value) in entries(table) {
            let name = key.get_ref().as_ref();
            match name {
                "after" => {
                    after_site = reader.site(value.span());
                    let Some(text) = reader.string(name, value, "\"producer:order-sent\"") else {
                        broken = true;
                        continue;
                    };
                    match parse_hop(&text) {
                        Some((u, p)) => after = Some((u.to_owned(), p.to_owned())),
                        None => {
                            broken = true;
                            reader.error(
                                Some(value.span()),
                                name,
                                format!("`after` must be `unit:probe`, found `{text}`"),
                                Some("e.g. `after = \"producer:order-sent\"`".into()),
                            );
                        }
                    }
                }
                "unit" => {
                    unit_site = reader.site(value.span());
                    unit = reader.name(name, value, "\"worker\"");
                    broken |= unit.is_none();
                }
                "action" => {
                    let Some(text) = reader.string(name, value, "\"restart\"") else {
                        broken = true;
                        continue;
                    };
                    match FaultAction::ALL.iter().find(|a| a.as_str() == text) {
                        Some(a) => action = Some(*a),
                        None => {
                            broken = true;
                            let names = FaultAction::ALL.map(FaultAction::as_str);
                            let hint =
                                did_you_mean(&text, names.iter().copied()).unwrap_or_else(|| {
                                    format!("valid actions: {}", list(names.iter().copied()))
                                });
                            reader.error(
                                Some(value.span()),
                                name,
                                format!("fault `action` cannot be `{text}`"),
                                Some(hint),
                            );
                        }
                    }
                }
                "occurrence" => match reader.integer(name, value, 1..=i64::from(u32::MAX), "3") {
                    Some(n) => occurrence = u32::try_from(n).unwrap_or(1),
                    None => broken = true,
                },
                "duration-ms" => {
                    let Some(number) = value_number(value) else {
                        reader.wrong_type(name, value, "a number of milliseconds", "500");
                        broken = true;
                        continue;
                    };
                    if !(0.0..=86_400_000.0).contains(&number) {
                        broken = true;
                        reader.error(
                            Some(value.span()),
                            name,
                            format!("`duration-ms` must be between 0 and 86400000, found {number}"),
                            None,
                        );
                        continue;
                    }
                    duration = std::time::Duration::from_secs_f64(number / 1000.0);
                }
                "optional" => match reader.bool(name, value) {
                    Some(b) => optional = b,
                    None => broken = true,
                },
                _ => reader.unknown_new_key(key, FAULT_KEYS, "`[[fault]]`"),
            }
        }
        let missing: Vec<&str> = [
            ("after", after.is_none()),
            ("unit", unit.is_none()),
            ("action", action.is_none()),
        ]
        .iter()
        .filter(|(_, missing)| *missing)
        .map(|(key, _)| *key)
        .collect();
        if !missing.is_empty() {
            if !broken {
                reader.error(
                    Some(table_value.span()),
                    missing[0],
                    format!("fault has no {}", list(missing.iter().copied())),
                    Some(
                        "e.g. `after = \"producer:order-sent\"`, `unit = \"worker\"`, \
                         `action = \"restart\"`"
                            .into(),
                    ),
                );
            }
            continue;
        }
        if broken {
            continue;
        }
        let (Some((after_unit, after_probe)), Some(unit), Some(action)) = (after, unit, action)
        else {
            continue;
        };
        draft.faults.push(DraftFault {
            fault: Fault {
                after_unit,
                after_probe,
                occurrence,
                unit,
                action,
                duration,
                optional,
            },
            after_site,
            unit_site,
        });
    }
}

fn value_number(value: &Value<'_>) -> Option<f64> {
    match value.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
        _ => None,
    }
}
