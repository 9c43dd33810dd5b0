//! Reading typed values out of a parsed TOML file, reporting wrong types and ranges with
//! their spans.

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::check::{list, seconds};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::names::{did_you_mean, legacy_alias_of};
use crate::source::{FileId, Site, Sources};

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Reads values of one file, collecting diagnostics.
pub(crate) struct Reader<'s> {
    sources: &'s Sources,
    file: FileId,
    pub(crate) diagnostics: Diagnostics,
    /// Problems that do not stop the group (see [`crate::Severity::Warning`]).
    pub(crate) warnings: Diagnostics,
}

impl<'s> Reader<'s> {
    pub(crate) fn new(sources: &'s Sources, file: FileId) -> Self {
        Reader {
            sources,
            file,
            diagnostics: Diagnostics::new(),
            warnings: Diagnostics::new(),
        }
    }

    pub(crate) fn site(&self, span: Range<usize>) -> Site {
        Site {
            file: self.file,
            span: Some(span),
        }
    }

    pub(crate) fn file_site(&self) -> Site {
        Site {
            file: self.file,
            span: None,
        }
    }

    pub(crate) fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let diagnostic = self.diagnostic(span, key, message, hint);
        self.diagnostics.push(diagnostic);
    }

    /// Like [`Reader::error`], for a problem that does not stop the group from running.
    pub(crate) fn warning(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let diagnostic = self.diagnostic(span, key, message, hint).as_warning();
        self.warnings.push(diagnostic);
    }

    fn diagnostic(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let site = Site {
            file: self.file,
            span,
        };
        let diagnostic = self.sources.error(&site, message).with_hint_opt(hint);
        if key.is_empty() {
            diagnostic
        } else {
            diagnostic.with_key(key)
        }
    }

    /// The tables of an array of tables (`[[fault]]`, `[[contract]]`), each with its value
    /// (for its span); what is not one is reported (`hint`: how to write one) and left out.
    pub(crate) fn array_of_tables<'v, 'i>(
        &mut self,
        key: &str,
        value: &'v Value<'i>,
        hint: &str,
    ) -> Vec<(&'v DeTable<'i>, &'v Value<'i>)> {
        let DeValue::Array(items) = value.get_ref() else {
            self.error(
                Some(value.span()),
                key,
                format!(
                    "`{key}` must be an array of tables, found {}",
                    describe(value.get_ref())
                ),
                Some(hint.into()),
            );
            return Vec::new();
        };
        let mut tables = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(table) => tables.push((table, item)),
                other => self.error(
                    Some(item.span()),
                    key,
                    format!("`{key}` entries must be tables, found {}", describe(other)),
                    Some(hint.into()),
                ),
            }
        }
        tables
    }

    pub(crate) fn wrong_type(
        &mut self,
        key: &str,
        value: &Value<'_>,
        expected: &str,
        example: &str,
    ) {
        self.error(
            Some(value.span()),
            key,
            format!(
                "`{key}`{} must be {expected}, found {}",
                legacy_alias_of(key)
                    .map(|new| format!(" (legacy spelling of `{new}`)"))
                    .unwrap_or_default(),
                describe(value.get_ref())
            ),
            Some(format!("e.g. `{key} = {example}`")),
        );
    }

    /// Parses the whole text; syntax errors become diagnostics.
    pub(crate) fn parse<'i>(&mut self, text: &'i str) -> Option<Spanned<DeTable<'i>>> {
        let (table, errors) = DeTable::parse_recoverable(text);
        if errors.is_empty() {
            return Some(table);
        }
        // Recovery after one mistake often reports more on the same line: keep the first.
        let line_of = |span: &Option<Range<usize>>| {
            span.as_ref().map(|s| {
                text.get(..s.start.min(text.len()))
                    .map_or(0, |t| t.matches('\n').count())
            })
        };
        let mut errors = errors;
        errors.sort_by_key(|e| e.span().map_or(usize::MAX, |s| s.start));
        let mut seen_lines = HashSet::new();
        for error in errors {
            if !seen_lines.insert(line_of(&error.span())) {
                continue;
            }
            let message = error.message().trim().to_owned();
            let message = lowercase_first(message.lines().next().unwrap_or("invalid TOML"));
            self.error(error.span(), "", format!("invalid TOML: {message}"), None);
        }
        None
    }

    pub(crate) fn bool(&mut self, key: &str, value: &Value<'_>) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, value, "a boolean", "true");
                None
            }
        }
    }

    pub(crate) fn string(&mut self, key: &str, value: &Value<'_>, example: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(key, value, "a string", example);
                None
            }
        }
    }

    /// A non-blank string.
    pub(crate) fn name(&mut self, key: &str, value: &Value<'_>, example: &str) -> Option<String> {
        let text = self.string(key, value, example)?;
        if text.trim().is_empty() {
            self.error(
                Some(value.span()),
                key,
                format!("`{key}` is blank"),
                Some(format!("e.g. `{key} = {example}`")),
            );
            return None;
        }
        Some(text)
    }

    /// A list of strings with the span of each.
    pub(crate) fn strings(
        &mut self,
        key: &str,
        value: &Value<'_>,
        example: &str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(key, value, "a list of strings", example);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push((s.to_string(), item.span())),
                other => {
                    ok = false;
                    self.error(
                        Some(item.span()),
                        key,
                        format!(
                            "`{key}` must be a list of strings, but it contains {}",
                            describe(other)
                        ),
                        Some(format!("e.g. `{key} = {example}`")),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// Seconds, > 0: an integer or a float.
    pub(crate) fn seconds(&mut self, key: &str, value: &Value<'_>) -> Option<Duration> {
        let Some(number) = number(value) else {
            self.wrong_type(key, value, "a number of seconds", "10");
            return None;
        };
        self.duration(key, value, number, 1.0)
    }

    /// Milliseconds, > 0: an integer or a float.
    pub(crate) fn millis(&mut self, key: &str, value: &Value<'_>) -> Option<Duration> {
        let Some(number) = number(value) else {
            self.wrong_type(key, value, "a number of milliseconds", "50");
            return None;
        };
        self.duration(key, value, number, 1000.0)
    }

    fn duration(
        &mut self,
        key: &str,
        value: &Value<'_>,
        (number, shown): (Option<f64>, String),
        per_second: f64,
    ) -> Option<Duration> {
        let result = number
            .ok_or("it is not a number")
            .and_then(|n| seconds(n / per_second));
        match result {
            Ok(duration) => Some(duration),
            Err(reason) => {
                self.error(
                    Some(value.span()),
                    key,
                    format!("`{key}` cannot be {shown}: {reason}"),
                    None,
                );
                None
            }
        }
    }

    /// An integer in `range`.
    pub(crate) fn integer(
        &mut self,
        key: &str,
        value: &Value<'_>,
        range: std::ops::RangeInclusive<i64>,
        example: &str,
    ) -> Option<i64> {
        let DeValue::Integer(i) = value.get_ref() else {
            self.wrong_type(key, value, "an integer", example);
            return None;
        };
        let number = i64::from_str_radix(i.as_str(), i.radix()).ok();
        match number {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    Some(value.span()),
                    key,
                    format!(
                        "`{key}` must be between {} and {}, found {}",
                        range.start(),
                        range.end(),
                        i.as_str()
                    ),
                    None,
                );
                None
            }
        }
    }

    /// An unknown key in a table of the original format (`["Configs"]`, a unit): an error when
    /// it is close to a known key (a typo would silently change the test), otherwise a warning
    /// (the original ignored unknown keys, and a group written for it must run unchanged).
    pub(crate) fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        known: &[&str],
        place: &str,
    ) {
        match did_you_mean(key.get_ref(), known.iter().copied()) {
            Some(hint) => self.error(
                Some(key.span()),
                key.get_ref(),
                format!("unknown key `{}` in {place}", key.get_ref()),
                Some(hint),
            ),
            None => self.warning(
                Some(key.span()),
                key.get_ref(),
                format!("unknown key `{}` in {place} is ignored", key.get_ref()),
                Some(format!("known keys: {}", list(known.iter().copied()))),
            ),
        }
    }

    /// An unknown key in a table Testrium added (`[[circuit]]`): always an error.
    pub(crate) fn unknown_new_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        known: &[&str],
        place: &str,
    ) {
        let hint = did_you_mean(key.get_ref(), known.iter().copied())
            .or_else(|| Some(format!("known keys: {}", list(known.iter().copied()))));
        self.error(
            Some(key.span()),
            key.get_ref(),
            format!("unknown key `{}` in {place}", key.get_ref()),
            hint,
        );
    }
}

/// A number as `f64` (if it converts) with its text as written, or `None` for other types.
fn number(value: &Value<'_>) -> Option<(Option<f64>, String)> {
    match value.get_ref() {
        DeValue::Integer(i) => Some((
            i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|i| i as f64),
            i.to_string(),
        )),
        DeValue::Float(f) => Some((f.as_str().parse::<f64>().ok(), f.as_str().to_owned())),
        _ => None,
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "a string `"x"`", "an integer `5`", …
pub(crate) fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if s.chars().count() > 40 {
                shown.push('…');
            }
            format!("a string \"{shown}\"")
        }
        DeValue::Integer(i) => format!("an integer {i}"),
        DeValue::Float(f) => format!("a float {f}"),
        DeValue::Boolean(b) => format!("a boolean {b}"),
        DeValue::Datetime(d) => format!("a date-time {d}"),
        DeValue::Array(_) => "a list".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// Table entries in the order they are written.
pub(crate) fn entries<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(&'a Spanned<std::borrow::Cow<'i, str>>, &'a Value<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}
