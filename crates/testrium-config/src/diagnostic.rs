//! Configuration diagnostics: every problem with its file, line, column, key and a hint,
//! rendered like rustc's errors.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

/// One configuration problem.
///
/// `path` is shown relative to the folder the caller gave (the base folder for discovery, the
/// group folder's parent for [`load_group`](crate::load_group)), so output is stable across
/// machines. `line` and `column` are 1-based; both are 0 when the problem has no position
/// (a missing file, a group built in code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Whether the problem stops the group from running.
    pub severity: Severity,
    /// The file the problem is in (or the group, for groups built in code).
    pub path: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column in characters, 0 when unknown.
    pub column: usize,
    /// The offending key, e.g. `ready_event` or `Configs.timeout`, when there is one.
    pub key: Option<String>,
    /// What is wrong: a lowercase sentence fragment.
    pub message: String,
    /// How to fix it, e.g. "did you mean `ready_event`?".
    pub hint: Option<String>,
    snippet: Option<Snippet>,
}

/// The source line a diagnostic points into, for rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snippet {
    /// The whole line, without its line ending.
    text: String,
    /// How many characters the underline covers (at least 1).
    width: usize,
    /// Characters of a long line cut before `text` (then shown as a leading `…`).
    skipped: usize,
}

/// Most characters of a source line a diagnostic shows.
const SNIPPET_CHARS: usize = 160;

impl Diagnostic {
    /// A diagnostic about `path` with no position.
    pub fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            path: path.into(),
            line: 0,
            column: 0,
            key: None,
            message: message.into(),
            hint: None,
            snippet: None,
        }
    }

    /// Makes this a warning: reported, but the group still loads and runs.
    #[must_use]
    pub fn as_warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Sets the offending key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the hint when there is one.
    #[must_use]
    pub(crate) fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Points the diagnostic at byte range `span` of `text` (the whole file).
    #[must_use]
    pub(crate) fn at_span(mut self, text: &str, span: std::ops::Range<usize>) -> Self {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.min(text.len())).max(start);
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_text = text[line_start..line_end].trim_end_matches('\r');
        self.line = text[..start].matches('\n').count() + 1;
        self.column = text[line_start..start].chars().count() + 1;
        let covered_end = end.min(line_start + line_text.len()).max(start);
        let width = text[start..covered_end].chars().count().max(1);
        // A line of megabytes (config files may be large) is shown as a window around the
        // span, with `…` where it is cut.
        let total = line_text.chars().count();
        let (shown, skipped, width) = if total <= SNIPPET_CHARS {
            (line_text.to_owned(), 0, width)
        } else {
            let before = self.column - 1;
            let from = before
                .saturating_sub(SNIPPET_CHARS / 4)
                .min(total - SNIPPET_CHARS);
            let mut shown = String::with_capacity(SNIPPET_CHARS + 8);
            if from > 0 {
                shown.push('…');
            }
            shown.extend(line_text.chars().skip(from).take(SNIPPET_CHARS));
            if from + SNIPPET_CHARS < total {
                shown.push('…');
            }
            let room = SNIPPET_CHARS.saturating_sub(before - from).max(1);
            (shown, from, width.min(room))
        };
        self.snippet = Some(Snippet {
            text: shown,
            width,
            skipped,
        });
        self
    }

    /// Whether the diagnostic has a line and column.
    pub fn has_position(&self) -> bool {
        self.line > 0
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// Makes text from config files safe to print on a terminal: [`escape_text`](crate::escape_text)
/// (control characters, bidi overrides… shown escaped, never sent raw).
pub(crate) fn sanitize(text: &str) -> Cow<'_, str> {
    crate::text::escape_text(text)
}

/// Like [`sanitize`], but keeps one character per input character so columns still line up:
/// a tab becomes a space, anything else [`needs_escape`](crate::needs_escape) holds for
/// becomes U+FFFD.
fn sanitize_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\t' {
                ' '
            } else if crate::text::needs_escape(c) {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.severity.as_str(), sanitize(&self.message))?;
        let shown = display_path(&self.path);
        let path = sanitize(&shown);
        let digits = if self.has_position() {
            self.line.to_string().len()
        } else {
            1
        };
        let pad = " ".repeat(digits);
        if self.has_position() {
            write!(f, "{pad}--> {path}:{}:{}", self.line, self.column)?;
        } else {
            write!(f, "{pad}--> {path}")?;
        }
        if let Some(snippet) = &self.snippet {
            let cut = if snippet.skipped > 0 { 1 } else { 0 };
            let indent = " ".repeat(
                self.column
                    .saturating_sub(1)
                    .saturating_sub(snippet.skipped)
                    + cut,
            );
            let line = sanitize_line(&snippet.text);
            write!(f, "\n{pad} |\n{} | {}", self.line, line.trim_end())?;
            write!(f, "\n{pad} | {indent}{}", "^".repeat(snippet.width))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} = help: {}", sanitize(hint))?;
        }
        Ok(())
    }
}

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The group cannot run: loading fails.
    Error,
    /// Worth fixing, but the group loads and runs as the original Testrium would run it
    /// (e.g. a unit file that `units` does not list, which the original ignored).
    Warning,
}

impl Severity {
    /// `error` or `warning`, as rendered.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Paths always print with `/`, so snapshots match everywhere.
fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Every problem found in one load, in file and position order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No problems.
    pub fn new() -> Self {
        Diagnostics::default()
    }

    /// Adds one problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Adds every problem of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Whether there is no problem.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many problems.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// The problems, in order.
    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.items
    }

    /// How many of the problems are errors (not warnings).
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// The problems, by value.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Sorts by path, then line, then column; keeps insertion order otherwise.
    pub(crate) fn sort(&mut self) {
        // Within a file: by position, problems without one last.
        let key = |d: &Diagnostic| {
            let line = if d.has_position() { d.line } else { usize::MAX };
            (d.path.clone(), line, d.column)
        };
        self.items.sort_by_key(key);
        self.items.dedup();
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics {
            items: vec![diagnostic],
        }
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(items: Vec<Diagnostic>) -> Self {
        Diagnostics { items }
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostics {
    /// Every diagnostic, rustc-like, separated by blank lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_characters() {
        let text = "a = 1\n[\"é\"]\nready_evnt = \"x\"\n";
        let start = text.find("ready_evnt").unwrap_or_default();
        let d = Diagnostic::new("g/units/x.toml", "unknown key").at_span(text, start..start + 10);
        assert_eq!((d.line, d.column), (3, 1));
        let start = text.find('é').unwrap_or_default();
        let d = Diagnostic::new("f", "m").at_span(text, start + 2..start + 3);
        assert_eq!((d.line, d.column), (2, 4));
    }

    #[test]
    fn renders_like_rustc() {
        let text = "[\"source\"]\nready_evnt = \"x\"\n";
        let start = text.find("ready_evnt").unwrap_or_default();
        let d = Diagnostic::new("test_x/units/source.toml", "unknown key `ready_evnt`")
            .at_span(text, start..start + 10)
            .with_hint("did you mean `ready_event`?");
        assert_eq!(
            d.to_string(),
            "error: unknown key `ready_evnt`\n --> test_x/units/source.toml:2:1\n  |\n2 | ready_evnt = \"x\"\n  | ^^^^^^^^^^\n  = help: did you mean `ready_event`?"
        );
    }

    /// With the 64 MiB cap (issue 11 item 9), a diagnostic on a line of megabytes printed the
    /// whole line: it shows a window around the span, the caret still under it.
    #[test]
    fn a_huge_line_is_shown_as_a_window() {
        let text = format!(
            "{} = 1, typo = \"{}\"\n",
            "x".repeat(500_000),
            "y".repeat(500_000)
        );
        let start = text.find("typo").unwrap_or_default();
        let d = Diagnostic::new("f.toml", "unknown key `typo`").at_span(&text, start..start + 4);
        assert_eq!((d.line, d.column), (1, 500_007));
        let shown = d.to_string();
        assert!(shown.len() < 1_000, "{} bytes", shown.len());
        let lines: Vec<&str> = shown.lines().collect();
        let (source, carets) = (lines[3], lines[4]);
        assert!(
            source.starts_with("1 | …x") && source.ends_with("y…"),
            "{source}"
        );
        let at = carets.find('^').unwrap_or_default();
        let under: String = source.chars().skip(at).take(4).collect();
        assert_eq!(under, "typo", "{source}\n{carets}");
        assert_eq!(carets.matches('^').count(), 4);
        // At the end of a long line.
        let text = format!("{}typo", "x".repeat(1_000));
        let d = Diagnostic::new("f", "m").at_span(&text, 1_000..1_004);
        let shown = d.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        let at = lines[4].find('^').unwrap_or_default();
        let under: String = lines[3].chars().skip(at).take(4).collect();
        assert_eq!(under, "typo", "{shown}");
    }

    #[test]
    fn escapes_never_reach_the_terminal() {
        let d = Diagnostic::new("f\u{1b}[31m", "unknown key `\u{1b}[2J`").with_hint("\u{7}");
        let shown = d.to_string();
        assert!(!shown.contains('\u{1b}'), "{shown:?}");
        assert!(!shown.contains('\u{7}'), "{shown:?}");
        assert!(shown.contains("\\u{1b}[2J"), "{shown:?}");
    }
}
