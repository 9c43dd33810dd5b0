//! `[[contract]]` tables of `config.toml`.

use crate::check::{DraftContract, list};
use crate::model::{Contract, Delivery, ProbeRef};
use crate::names::{CONTRACT_KEYS, did_you_mean, parse_hop};
use crate::parse::reader::{Reader, Value, entries};

/// Reads the `contract` array of tables into `out`; a broken table is reported and left out.
pub(crate) fn parse_contracts(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    out: &mut Vec<DraftContract>,
) {
    let hint = "declare each contract as `[[contract]]` with `send`, `receive` and `delivery`";
    for (table, table_value) in reader.array_of_tables("contract", value, hint) {
        let site = reader.site(table_value.span());
        let (mut send, mut receive, mut delivery, mut within) = (None, None, None, None);
        let (mut send_site, mut receive_site) = (None, None);
        let mut ok = true;
        for (key, value) in entries(table) {
            let name = key.get_ref().as_ref();
            match name {
                "send" | "receive" => {
                    let example = if name == "send" {
                        "\"producer:order-sent\""
                    } else {
                        "\"worker:order-received\""
                    };
                    let Some(text) = reader.string(name, value, example) else {
                        ok = false;
                        continue;
                    };
                    let Some((unit, probe)) = parse_hop(&text) else {
                        reader.error(
                            Some(value.span()),
                            name,
                            format!("`{name}` = `{text}` is not in \"unit:probe\" form"),
                            Some(format!("e.g. `{name} = {example}`")),
                        );
                        ok = false;
                        continue;
                    };
                    let end = ProbeRef::new(unit, probe);
                    if name == "send" {
                        send = Some(end);
                        send_site = Some(reader.site(value.span()));
                    } else {
                        receive = Some(end);
                        receive_site = Some(reader.site(value.span()));
                    }
                }
                "delivery" => {
                    let Some(text) = reader.string(name, value, "\"at-least-once\"") else {
                        ok = false;
                        continue;
                    };
                    delivery = Delivery::from_text(&text);
                    if delivery.is_none() {
                        let names = Delivery::ALL.map(Delivery::as_str);
                        let hint =
                            did_you_mean(&text, names.iter().copied()).unwrap_or_else(|| {
                                format!("valid values: {}", list(names.iter().copied()))
                            });
                        reader.error(
                            Some(value.span()),
                            name,
                            format!("`delivery` = `{text}` is not a delivery guarantee"),
                            Some(hint),
                        );
                        ok = false;
                    }
                }
                "within-ms" => {
                    within = reader.millis(name, value);
                    ok &= within.is_some();
                }
                _ => {
                    reader.unknown_new_key(key, CONTRACT_KEYS, "`[[contract]]`");
                    ok = false;
                }
            }
        }
        if ok {
            // Every key given was read; report the ones not given.
            for (missing, present) in [
                ("send", send.is_some()),
                ("receive", receive.is_some()),
                ("delivery", delivery.is_some()),
            ] {
                if !present {
                    reader.error(
                        Some(table_value.span()),
                        missing,
                        format!("contract has no `{missing}`"),
                        Some(hint.into()),
                    );
                }
            }
        }
        let (Some(send), Some(receive), Some(delivery), true) = (send, receive, delivery, ok)
        else {
            continue;
        };
        let mut contract = Contract::new(send, receive, delivery);
        contract.within = within;
        out.push(DraftContract {
            contract,
            site,
            send_site,
            receive_site,
        });
    }
}
