//! Text for people: escaping what came from files and units so it cannot drive a terminal or
//! reorder a line, and an error with its causes on one line. The one escaper and the one
//! error-chain printer of Testrium: config diagnostics, the verifier's text, the orchestrator
//! and the command line all use these.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether [`escape_text`] escapes `c`: a character that would change what a terminal (or an
/// editor, or a log viewer) shows beyond printing itself.
///
/// - C0 and C1 control characters and DEL (`ESC` starts ANSI sequences; `\n` and `\r` move
///   the cursor);
/// - the bidirectional formatting characters, which reorder the text around them ("Trojan
///   Source"): the marks U+061C, U+200E (LRM), U+200F (RLM), the embeddings and overrides
///   U+202A–U+202E, the isolates U+2066–U+2069;
/// - the line and paragraph separators U+2028, U+2029, which some viewers break lines on;
/// - the noncharacters U+FFFE and U+FFFF, which are not text (XML forbids them, and U+FFFE
///   is a byte-swapped byte-order mark).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{fffe}'
                | '\u{ffff}'
        )
}

/// `text` on one line and inert: every character for which [`needs_escape`] holds is written
/// as a visible escape — `\n`, `\r`, `\t`, else `\u{hex}` (lowercase, as Rust writes it) —
/// and everything else (any other Unicode) is kept. Borrowed when nothing needs escaping.
///
/// ```
/// use testrium_config::escape_text;
///
/// assert_eq!(escape_text("plain ünïcødé ✓"), "plain ünïcødé ✓");
/// assert_eq!(escape_text("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
/// assert_eq!(escape_text("abc\u{202e}def\u{200f}"), "abc\\u{202e}def\\u{200f}");
/// ```
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An error and its sources on one line, joined with `": "`: `outer: cause: root cause`.
///
/// Testrium's error messages are fragments that do not repeat their source's text, so the
/// chain reads as one sentence. Not escaped: pass the result through [`escape_text`] before
/// printing text that may hold names from files or units.
///
/// ```
/// use std::fmt;
/// use testrium_config::error_chain;
///
/// #[derive(Debug)]
/// struct CannotOpen(std::io::Error);
/// impl fmt::Display for CannotOpen {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("cannot open `Data.db`")
///     }
/// }
/// impl std::error::Error for CannotOpen {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let error = CannotOpen(std::io::Error::other("permission denied"));
/// assert_eq!(error_chain(&error), "cannot open `Data.db`: permission denied");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 12): the command line's escaper and the verifier's disagreed on
    /// U+200E, U+200F, U+FFFE and U+FFFF (the verifier printed them raw). One function now
    /// escapes them, for every caller.
    #[test]
    fn bidi_marks_and_noncharacters_are_escaped() {
        for (c, escaped) in [
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{fffe}', "\\u{fffe}"),
            ('\u{ffff}', "\\u{ffff}"),
            ('\u{061c}', "\\u{61c}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
        ] {
            assert!(needs_escape(c), "{c:?}");
            assert_eq!(escape_text(&format!("a{c}b")), format!("a{escaped}b"));
        }
    }

    #[test]
    fn controls_are_escaped_and_other_unicode_kept() {
        assert!(matches!(
            escape_text("ünï ✓ 日本 \u{200b}"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            escape_text("a\nb\r\tc\u{7f}\u{9b}31m\u{0}"),
            "a\\nb\\r\\tc\\u{7f}\\u{9b}31m\\u{0}"
        );
        assert_eq!(
            escape_text("\u{1b}[31mred\u{1b}[0m"),
            "\\u{1b}[31mred\\u{1b}[0m"
        );
        // Neighbours of the escaped ranges are ordinary text.
        for c in [
            '\u{200d}', '\u{2027}', '\u{202f}', '\u{2065}', '\u{206a}', '\u{fffd}',
        ] {
            assert!(!needs_escape(c), "{c:?}");
        }
    }

    #[test]
    fn error_chain_joins_every_source() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("cannot open `x`")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = Outer(std::io::Error::other("permission denied"));
        assert_eq!(error_chain(&error), "cannot open `x`: permission denied");
    }
}
