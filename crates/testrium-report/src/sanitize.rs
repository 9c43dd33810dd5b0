//! Text written by units (names, probe names, metadata, logs) is data, never markup or terminal
//! control: these functions make it inert for each output.

use std::borrow::Cow;
use std::fmt::Write as _;

/// One line of unit-provided text, safe to print on a terminal: control characters, ANSI escape
/// sequences and bidi overrides are shown escaped (`\n`, `\u{1b}`), never executed. The
/// escaper every Testrium output shares: [`testrium_config::escape_text`].
pub fn terminal(text: &str) -> Cow<'_, str> {
    testrium_config::escape_text(text)
}

/// Several lines for the terminal (a diagnostic, an error chain): each line as [`terminal`],
/// the line breaks kept.
pub fn lines(text: &str) -> String {
    text.split('\n')
        .map(terminal)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A log line for the terminal: like [`terminal`], but a tab stays a tab-width of spaces and a
/// trailing `\r` (CRLF logs) is dropped.
pub fn terminal_log_line(line: &str) -> Cow<'_, str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\t') {
        Cow::Owned(terminal(&line.replace('\t', "    ")).into_owned())
    } else {
        terminal(line)
    }
}

/// Whether XML 1.0 allows the character at all (even escaped).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Text that XML 1.0 can hold: characters it forbids (most C0 controls, U+FFFE, U+FFFF) are
/// written as visible `\u{..}` escapes. Markup characters are left to the XML writer.
pub fn xml(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_xml_char(c) {
            out.push(c);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// Text escaped for HTML element content and double- or single-quoted attribute values.
/// Control characters other than newline and tab are shown as `\u{..}`.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || !is_xml_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A message for HTML element content: escaped as [`html`], each `` `name` `` in it set as
/// `<code>name</code>` (a backtick without its pair is dropped), so no backtick shows.
pub fn html_with_code(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let paired = parts.len() % 2 == 1;
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if i % 2 == 1 && (paired || !last) && !part.is_empty() {
            out.push_str("<code>");
            out.push_str(&html(part));
            out.push_str("</code>");
        } else {
            out.push_str(&html(part));
        }
    }
    out
}

/// Text for a single-line context (a terminal table cell, an attribute): newlines and other
/// controls escaped. Also bounded to `max` characters, with `…` when cut.
pub fn one_line(text: &str, max: usize) -> String {
    let clean = terminal(text);
    let mut chars = clean.chars();
    let cut: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticked_names_become_code() {
        assert_eq!(
            html_with_code("unit `a<b` exited, `x` too"),
            "unit <code>a&lt;b</code> exited, <code>x</code> too"
        );
        assert_eq!(html_with_code("odd ` one"), "odd  one");
        assert_eq!(html_with_code("empty `` pair"), "empty  pair");
        assert_eq!(html_with_code("`<script>`"), "<code>&lt;script&gt;</code>");
    }

    #[test]
    fn terminal_escapes_controls_and_keeps_unicode() {
        assert_eq!(terminal("plain ünïcødé ✓"), "plain ünïcødé ✓");
        assert_eq!(
            terminal("\u{1b}[31mred\u{1b}[0m"),
            "\\u{1b}[31mred\\u{1b}[0m"
        );
        assert_eq!(terminal("a\nb\r\tc\u{7f}"), "a\\nb\\r\\tc\\u{7f}");
        assert_eq!(terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(terminal("abc\u{202e}def"), "abc\\u{202e}def");
        assert!(!terminal("\u{1b}]0;title\u{7}").contains('\u{1b}'));
        // Regression (issue 12): the verifier's text did not escape these; one escaper now.
        assert_eq!(
            terminal("\u{200e}\u{200f}\u{fffe}\u{ffff}"),
            "\\u{200e}\\u{200f}\\u{fffe}\\u{ffff}"
        );
    }

    #[test]
    fn lines_keeps_line_breaks_only() {
        assert_eq!(lines("a\u{1b}[1m\nb\rc\n"), "a\\u{1b}[1m\nb\\rc\n");
    }

    #[test]
    fn log_lines_keep_tabs_readable() {
        assert_eq!(terminal_log_line("a\tb\r"), "a    b");
        assert_eq!(terminal_log_line("\u{1b}[1mbold"), "\\u{1b}[1mbold");
    }

    #[test]
    fn xml_drops_nothing_but_escapes_illegal_characters() {
        assert_eq!(xml("ok <&> \"'"), "ok <&> \"'");
        assert_eq!(xml("a\u{0}b\u{1b}c\u{fffe}"), "a\\u{0}b\\u{1b}c\\u{fffe}");
        assert_eq!(xml("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(html("\u{1b}[31m"), "\\u{1b}[31m");
    }

    #[test]
    fn one_line_cuts_long_text() {
        assert_eq!(one_line("a\nb", 10), "a\\nb");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
