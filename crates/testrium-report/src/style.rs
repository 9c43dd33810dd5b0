//! Terminal colours, as ANSI SGR codes. Whether to colour at all (a terminal, `--no-color`,
//! `NO_COLOR`) is the caller's decision: the `testrium` command colours only a terminal.

/// Whether and how to colour the terminal report.
///
/// ```
/// use testrium_report::Style;
///
/// assert_eq!(Style::PLAIN.fail("FAIL"), "FAIL");
/// assert_eq!(Style::COLOR.pass("ok"), "\u{1b}[1;32mok\u{1b}[0m");
/// assert_eq!(Style::new(false), Style::PLAIN);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// No colour at all (files, pipes, tests).
    pub const PLAIN: Style = Style { color: false };

    /// ANSI colours (a terminal that asked for them).
    pub const COLOR: Style = Style { color: true };

    /// Colours when `color`, else [`Style::PLAIN`].
    pub const fn new(color: bool) -> Style {
        Style { color }
    }

    /// Whether colour codes are written.
    pub fn color(self) -> bool {
        self.color
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }

    /// Passed.
    pub fn pass(self, text: &str) -> String {
        self.paint("1;32", text)
    }

    /// Failed.
    pub fn fail(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// A warning (flaky, skipped, regression).
    pub fn warn(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// A heading.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Secondary text (paths, hints).
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_writes_no_escape_codes() {
        assert_eq!(Style::PLAIN.fail("FAIL"), "FAIL");
        assert_eq!(Style { color: true }.pass("ok"), "\u{1b}[1;32mok\u{1b}[0m");
    }
}
