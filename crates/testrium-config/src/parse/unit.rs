//! `units/<name>.toml`: one `[<name>]` table.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use toml::de::{DeTable, DeValue};

use crate::check::{DraftUnit, UnitSites, list};
use crate::model::{InExcept, Launch, ReadyCheck, Unit};
use crate::names::{UNIT_KEYS, did_you_mean, parse_entrypoint, suggest};
use crate::parse::reader::{Reader, describe, entries};
use crate::source::Site;

/// Reads `units/<name>.toml`. `None` when the file has no usable `[<name>]` table.
pub(crate) fn parse_unit(reader: &mut Reader<'_>, text: &str, name: &str) -> Option<DraftUnit> {
    let document = reader.parse(text)?;
    let mut found = None;
    let mut stray_tables = Vec::new();
    for (key, value) in entries(document.get_ref()) {
        let key_name = key.get_ref().as_ref();
        if key_name == name {
            found = Some((key, value));
        } else if UNIT_KEYS.contains(&key_name) {
            reader.error(
                Some(key.span()),
                key_name,
                format!("key `{key_name}` is outside the `[\"{name}\"]` table"),
                Some(format!("move it below the `[\"{name}\"]` header")),
            );
        } else if matches!(value.get_ref(), DeValue::Table(_)) {
            stray_tables.push(key);
        } else {
            match suggest(key_name, UNIT_KEYS.iter().copied()) {
                Some(k) => reader.error(
                    Some(key.span()),
                    key_name,
                    format!("unknown key `{key_name}` in units/{name}.toml"),
                    Some(format!(
                        "did you mean `{k}`? unit keys go below the `[\"{name}\"]` header"
                    )),
                ),
                // Ignored, as the original ignored it, but said.
                None => reader.warning(
                    Some(key.span()),
                    key_name,
                    format!("unknown key `{key_name}` in units/{name}.toml is ignored"),
                    Some(format!("unit keys go below the `[\"{name}\"]` header")),
                ),
            }
        }
    }
    let Some((header, value)) = found else {
        let stray = stray_tables
            .first()
            .map(|k| (k.get_ref().to_string(), k.span()));
        let (message, span, hint) = match stray {
            Some((other, span)) => (
                format!(
                    "units/{name}.toml has a `[\"{other}\"]` table, but the unit is named `{name}`"
                ),
                Some(span),
                Some(format!(
                    "the table must be named after the file: rename it to `[\"{name}\"]`"
                )),
            ),
            None => (
                format!("units/{name}.toml has no `[\"{name}\"]` table"),
                None,
                Some(format!(
                    "start the file with `[\"{name}\"]`, then `init = 0` and `events = [...]`"
                )),
            ),
        };
        reader.error(span, name, message, hint);
        return None;
    };
    // Other tables next to the unit's: the original read only the unit's table.
    for key in stray_tables {
        let other = key.get_ref().to_string();
        reader.warning(
            Some(key.span()),
            &other,
            format!("table `[\"{other}\"]` in units/{name}.toml is ignored"),
            Some(format!("a unit file holds only the `[\"{name}\"]` table")),
        );
    }
    let header_site = reader.site(header.span());
    let DeValue::Table(table) = value.get_ref() else {
        reader.error(
            Some(value.span()),
            name,
            format!(
                "`{name}` must be a table, found {}",
                describe(value.get_ref())
            ),
            Some(format!(
                "write the unit's keys below a `[\"{name}\"]` header"
            )),
        );
        return None;
    };
    Some(parse_unit_table(reader, table, name, header_site))
}

fn parse_unit_table(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    name: &str,
    header: Site,
) -> DraftUnit {
    let mut unit = Unit {
        name: name.to_owned(),
        init: 0,
        enabled: true,
        launch: Launch::Passive,
        ready_event: None,
        ready_check: None,
        ports: Vec::new(),
        completed_dependencies: Vec::new(),
        ready_timeout: Duration::from_secs(10),
        timeout: None,
        use_setup: false,
        in_except: InExcept::Resume,
        dependencies: Vec::new(),
        events: Vec::new(),
        env: IndexMap::new(),
        cwd: None,
        python_fork: None,
        otel_service: None,
        otel_span_end: false,
        remote: false,
    };
    let mut sites = UnitSites::at(header.clone());
    let mut explicit_init = false;
    let mut launch_key: Option<(&str, Range<usize>)> = None;
    let mut dependencies_key: Option<&str> = None;
    let mut remote_key = None;
    let place = format!("unit `{name}`");
    for (key, value) in entries(table) {
        let key_name = key.get_ref().as_ref();
        match key_name {
            "init" => {
                explicit_init = true;
                sites.init = Some(reader.site(value.span()));
                if let Some(n) = reader.integer(key_name, value, 0..=i64::from(u32::MAX), "0") {
                    unit.init = u32::try_from(n).unwrap_or(0);
                } else {
                    explicit_init = false;
                }
            }
            "enabled" => {
                if let Some(b) = reader.bool(key_name, value) {
                    unit.enabled = b;
                }
            }
            "use_setup" => {
                if let Some(b) = reader.bool(key_name, value) {
                    unit.use_setup = b;
                }
            }
            "python-fork" => {
                if let Some(b) = reader.bool(key_name, value) {
                    unit.python_fork = Some(b);
                }
            }
            "entrypoint" | "command" => {
                if let Some((other, _)) = &launch_key {
                    reader.error(
                        Some(key.span()),
                        key_name,
                        format!("unit `{name}` has both `{other}` and `{key_name}`"),
                        Some(
                            "use `entrypoint` for a Python function or `command` for any \
                             program, not both"
                                .into(),
                        ),
                    );
                    continue;
                }
                launch_key = Some((key_name, key.span()));
                sites.launch = Some(reader.site(value.span()));
                if key_name == "entrypoint" {
                    let Some(text) = reader.string(key_name, value, "\"test_case:run_source\"")
                    else {
                        continue;
                    };
                    match parse_entrypoint(&text) {
                        Ok((module, function)) => {
                            unit.launch = Launch::Entrypoint { module, function };
                        }
                        Err(message) => reader.error(
                            Some(value.span()),
                            key_name,
                            message,
                            Some(
                                "write the module (a .py file in the group folder, without \
                                 `.py`) and the function: `entrypoint = \"test_case:run_source\"`"
                                    .into(),
                            ),
                        ),
                    }
                } else if let Some(argv) =
                    reader.strings(key_name, value, "[\"./server\", \"--port\", \"0\"]")
                {
                    unit.launch = Launch::Command(argv.into_iter().map(|(a, _)| a).collect());
                }
            }
            "ready_event" => {
                sites.ready_event = Some(reader.site(value.span()));
                sites
                    .readiness
                    .push(("ready_event", reader.site(key.span())));
                unit.ready_event = reader.name(key_name, value, "\"source-ready\"");
            }
            "ready_tcp" | "ready_http" | "ready_log" => {
                let (static_key, example) = match key_name {
                    "ready_tcp" => ("ready_tcp", "\"127.0.0.1:{port.redis}\""),
                    "ready_http" => ("ready_http", "\"http://127.0.0.1:{port.http}/health\""),
                    _ => ("ready_log", "\"Ready to accept connections\""),
                };
                sites
                    .readiness
                    .push((static_key, reader.site(value.span())));
                if let Some(text) = reader.string(key_name, value, example) {
                    unit.ready_check = Some(match static_key {
                        "ready_tcp" => ReadyCheck::Tcp(text),
                        "ready_http" => ReadyCheck::Http(text),
                        _ => ReadyCheck::Log(text),
                    });
                }
            }
            "ready_command" => {
                sites
                    .readiness
                    .push(("ready_command", reader.site(value.span())));
                if let Some(argv) = reader.strings(
                    key_name,
                    value,
                    "[\"pg_isready\", \"-h\", \"127.0.0.1\", \"-p\", \"{port.pg}\"]",
                ) {
                    unit.ready_check = Some(ReadyCheck::Command(
                        argv.into_iter().map(|(a, _)| a).collect(),
                    ));
                }
            }
            "ports" => {
                if let Some(items) = reader.strings(key_name, value, "[\"http\", \"admin\"]") {
                    for (port, span) in items {
                        sites.ports.push(reader.site(span));
                        unit.ports.push(port);
                    }
                }
            }
            "completed_dependencies" => {
                if let Some(items) = reader.strings(key_name, value, "[\"migrate\"]") {
                    for (dependency, span) in items {
                        sites.completed.push(reader.site(span));
                        unit.completed_dependencies.push(dependency);
                    }
                }
            }
            "ready_timeout" => {
                sites.ready_timeout = Some(reader.site(value.span()));
                if let Some(d) = reader.seconds(key_name, value) {
                    unit.ready_timeout = d;
                }
            }
            "timeout" => {
                sites.timeout = Some(reader.site(value.span()));
                unit.timeout = reader.seconds(key_name, value);
            }
            "in-except" => {
                let Some(text) = reader.string(key_name, value, "\"Resume\"") else {
                    continue;
                };
                let all = [InExcept::Resume, InExcept::Reload, InExcept::ResumeAll];
                match all.iter().find(|m| m.as_str() == text) {
                    Some(mode) => unit.in_except = *mode,
                    None => {
                        let names = all.map(InExcept::as_str);
                        let hint =
                            did_you_mean(&text, names.iter().copied()).unwrap_or_else(|| {
                                format!("valid values: {}", list(names.iter().copied()))
                            });
                        reader.error(
                            Some(value.span()),
                            key_name,
                            format!("`in-except` of unit `{name}` cannot be `{text}`"),
                            Some(hint),
                        );
                    }
                }
            }
            "unit_dependencies" | "unity_depencies" => {
                let Some(items) = reader.strings(key_name, value, "[\"target\"]") else {
                    continue;
                };
                if let Some(other) = dependencies_key {
                    // Both spellings: fine when they agree (the original kept the new one).
                    let same = items.iter().map(|(d, _)| d).eq(unit.dependencies.iter());
                    if !same {
                        reader.error(
                            Some(key.span()),
                            key_name,
                            format!(
                                "`{key_name}` of unit `{name}` contradicts `{other}`; they are \
                                 the same setting"
                            ),
                            Some(
                                "`unity_depencies` is the legacy spelling of \
                                 `unit_dependencies`: keep only `unit_dependencies`"
                                    .into(),
                            ),
                        );
                    }
                    if key_name != "unit_dependencies" {
                        continue;
                    }
                    // The current spelling wins, as in the original.
                    unit.dependencies.clear();
                    sites.dependencies.clear();
                }
                dependencies_key = Some(key_name);
                for (dependency, span) in items {
                    sites.dependencies.push(reader.site(span));
                    unit.dependencies.push(dependency);
                }
            }
            "events" => {
                if let Some(items) =
                    reader.strings(key_name, value, "[\"source-ready\", \"command-sent\"]")
                {
                    for (event, span) in items {
                        sites.events.push(reader.site(span));
                        unit.events.push(event);
                    }
                }
            }
            "env" => {
                sites.env = Some(reader.site(value.span()));
                let DeValue::Table(vars) = value.get_ref() else {
                    reader.wrong_type(
                        key_name,
                        value,
                        "a table of strings",
                        "{ RUST_LOG = \"debug\" }",
                    );
                    continue;
                };
                for (var, var_value) in entries(vars) {
                    let var_name = var.get_ref().to_string();
                    match var_value.get_ref() {
                        DeValue::String(s) => {
                            unit.env.insert(var_name, s.to_string());
                        }
                        other => reader.error(
                            Some(var_value.span()),
                            key_name,
                            format!(
                                "environment variable `{var_name}` of unit `{name}` must be a string, found {}",
                                describe(other)
                            ),
                            Some("quote the value: environment values are text".into()),
                        ),
                    }
                }
            }
            "otel_service" => {
                sites.otel_service = Some(reader.site(value.span()));
                unit.otel_service = reader
                    .string(key_name, value, "\"orders-api\"")
                    .filter(|s| !s.is_empty());
            }
            "otel_span_end" => {
                if let Some(b) = reader.bool(key_name, value) {
                    unit.otel_span_end = b;
                }
            }
            "remote" => {
                if let Some(b) = reader.bool(key_name, value) {
                    unit.remote = b;
                    remote_key = Some(key.span());
                }
            }
            "cwd" => {
                sites.cwd = Some(reader.site(value.span()));
                unit.cwd = reader
                    .name(key_name, value, "\"server\"")
                    .map(PathBuf::from);
            }
            _ => reader.unknown_key(key, UNIT_KEYS, &place),
        }
    }
    if unit.remote
        && let Some((launch, _)) = &launch_key
    {
        reader.error(
            remote_key,
            "remote",
            format!("unit `{name}` is `remote = true` and has `{launch}`"),
            Some(
                "a remote unit runs elsewhere and is never started: remove the launch key, or \
                 `remote`"
                    .into(),
            ),
        );
    }
    if !explicit_init && sites.init.is_none() {
        reader.error(
            header.span.clone(),
            "init",
            format!("unit `{name}` has no `init`"),
            Some("add `init = <n>`: a number unique in the group that orders units free to start together".into()),
        );
    }
    DraftUnit {
        unit,
        explicit_init,
        sites,
    }
}
