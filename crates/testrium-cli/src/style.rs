//! Terminal colours: on only when stdout is a terminal, `--no-color` is absent and `NO_COLOR`
//! is unset or empty (<https://no-color.org>).

use std::io::IsTerminal;

/// Whether and how to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// No colour at all (files, pipes, tests).
    pub const PLAIN: Style = Style { color: false };

    /// Colour for stdout, from the flag, the environment and whether stdout is a terminal.
    pub fn for_stdout(no_color_flag: bool) -> Style {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color_flag || no_color_env || !std::io::stdout().is_terminal() {
            Style::PLAIN
        } else {
            Style { color: true }
        }
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
