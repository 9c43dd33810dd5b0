//! Port placeholders in unit values: `{port.http}` (the unit's own port `http`) and
//! `{echo-server.port.echo}` (port `echo` of the unit `echo-server`), expanded in `command`,
//! `env` values, `cwd` and the `ready_*` values. `{{` and `}}` write a literal brace.
//!
//! Anything else in braces (`${HOME}` in a shell command) is left as written: only a brace
//! group whose text is `port.<name>` or `<unit>.port.<name>` is a placeholder.

use std::fmt;

/// A placeholder that does not name a known port.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlaceholderError {
    /// The placeholder as written, with its braces.
    pub placeholder: String,
    /// Why it cannot be expanded.
    pub reason: String,
}

impl fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "placeholder `{}` {}", self.placeholder, self.reason)
    }
}

impl std::error::Error for PlaceholderError {}

/// What a brace group refers to.
enum Reference<'a> {
    /// `{port.<name>}`.
    Own(&'a str),
    /// `{<unit>.port.<name>}`.
    Unit(&'a str, &'a str),
}

fn reference(inner: &str) -> Option<Reference<'_>> {
    if let Some(name) = inner.strip_prefix("port.") {
        return (!name.is_empty()).then_some(Reference::Own(name));
    }
    let (unit, name) = inner.rsplit_once(".port.")?;
    (!unit.is_empty() && !name.is_empty()).then_some(Reference::Unit(unit, name))
}

/// Expands the port placeholders of `text`, written in unit `unit`; `port(unit, name)` gives
/// a port's number, `None` when that unit has no such port. `unescape`: `{{` and `}}` become
/// single braces (done in groups that declare ports, so that existing command lines with
/// double braces keep their meaning elsewhere).
pub fn expand_placeholders(
    text: &str,
    unit: &str,
    unescape: bool,
    port: impl Fn(&str, &str) -> Option<u16>,
) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        if unescape && (tail.starts_with("{{") || tail.starts_with("}}")) {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            out.push('}');
            rest = after;
            continue;
        }
        let Some(close) = tail.find('}') else {
            out.push_str(tail);
            return Ok(out);
        };
        let inner = &tail[1..close];
        match reference(inner) {
            Some(reference) => {
                let (owner, name) = match reference {
                    Reference::Own(name) => (unit, name),
                    Reference::Unit(owner, name) => (owner, name),
                };
                let Some(number) = port(owner, name) else {
                    let reason = if owner == unit {
                        format!(
                            "names no port of unit `{owner}`: declare it with `ports = [\"{name}\"]`"
                        )
                    } else {
                        format!(
                            "names no port of a unit `{owner}` of this group: declare it with \
                             `ports = [\"{name}\"]` in that unit"
                        )
                    };
                    return Err(PlaceholderError {
                        placeholder: format!("{{{inner}}}"),
                        reason,
                    });
                };
                out.push_str(&number.to_string());
            }
            None => out.push_str(&tail[..=close]),
        }
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(unit: &str, name: &str) -> Option<u16> {
        match (unit, name) {
            ("api", "http") => Some(8080),
            ("echo-server", "echo") => Some(7007),
            _ => None,
        }
    }

    #[test]
    fn placeholders_expand_and_the_rest_stays_as_written() {
        let table = [
            ("--port={port.http}", "--port=8080"),
            ("{echo-server.port.echo}", "7007"),
            (
                "http://127.0.0.1:{api.port.http}/health",
                "http://127.0.0.1:8080/health",
            ),
            ("echo ${HOME} {x}", "echo ${HOME} {x}"),
            ("{{port.http}}", "{port.http}"),
            ("a }} b {{", "a } b {"),
            ("unclosed {port.http", "unclosed {port.http"),
        ];
        for (text, expected) in table {
            assert_eq!(
                expand_placeholders(text, "api", true, ports).as_deref(),
                Ok(expected),
                "{text}"
            );
        }
        // Without unescaping, double braces stay.
        assert_eq!(
            expand_placeholders("awk '{{print}}'", "api", false, ports).as_deref(),
            Ok("awk '{{print}}'")
        );
    }

    #[test]
    fn an_unknown_port_is_an_error_naming_it() {
        let error =
            expand_placeholders("{port.admin}", "api", true, ports).expect_err("unknown port");
        assert_eq!(error.placeholder, "{port.admin}");
        assert!(error.reason.contains("ports = [\"admin\"]"), "{error}");
        let error =
            expand_placeholders("{db.port.pg}", "api", true, ports).expect_err("unknown unit");
        assert!(error.to_string().contains("`db`"), "{error}");
    }
}
