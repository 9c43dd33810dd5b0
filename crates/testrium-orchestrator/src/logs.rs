//! Unit output: following a log file for `--verbose`, and the tail of a log for reports.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Follows a log file for `--verbose`.
#[derive(Debug)]
pub(crate) struct LogTail {
    path: PathBuf,
    file: Option<File>,
    partial: Vec<u8>,
}

/// Longest piece of a line without newline passed on at once.
const MAX_LINE: usize = 16 * 1024;

impl LogTail {
    pub(crate) fn new(path: &Path) -> Self {
        LogTail {
            path: path.to_path_buf(),
            file: None,
            partial: Vec::new(),
        }
    }

    /// Bytes of the file not read yet.
    pub(crate) fn unread(&mut self) -> u64 {
        let Some(file) = self.file.as_mut() else {
            return 0;
        };
        let position = file.stream_position().unwrap_or(0);
        let len = file.metadata().map_or(0, |m| m.len());
        len.saturating_sub(position)
    }

    /// The last piece of output that did not end with a newline.
    pub(crate) fn rest(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        Some(line)
    }

    pub(crate) fn read_lines(&mut self) -> Vec<String> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = self.file.as_mut() else {
            return Vec::new();
        };
        let mut buf = [0u8; 64 * 1024];
        let mut lines = Vec::new();
        // Bounded work per turn: a flood is passed on over several turns.
        for _ in 0..4 {
            let n = match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &byte in &buf[..n] {
                if byte == b'\n' {
                    lines.push(String::from_utf8_lossy(&self.partial).into_owned());
                    self.partial.clear();
                } else {
                    self.partial.push(byte);
                    if self.partial.len() >= MAX_LINE {
                        lines.push(String::from_utf8_lossy(&self.partial).into_owned());
                        self.partial.clear();
                    }
                }
            }
        }
        lines
    }
}

/// The last `lines` lines of a log file (reads at most its last 16 KiB), lossy UTF-8.
pub(crate) fn read_tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(16 * 1024);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        // The first line is probably cut.
        all.remove(0);
    }
    let mut skip = all.len().saturating_sub(lines);
    // A Python traceback that started before the last lines is kept whole (up to
    // TRACEBACK_LINES), so the unit's own frame is in the tail.
    if let Some(start) = all.iter().rposition(|l| l.trim_end() == TRACEBACK_HEADER)
        && start < skip
        && all.len() - start <= TRACEBACK_LINES
    {
        skip = start;
    }
    all[skip..].iter().map(|s| (*s).to_owned()).collect()
}

/// Whether a log tail holds a Python traceback.
pub(crate) fn has_traceback(tail: &[String]) -> bool {
    tail.iter().any(|l| l.trim_end() == TRACEBACK_HEADER)
}

/// The first line of a Python traceback.
const TRACEBACK_HEADER: &str = "Traceback (most recent call last):";

/// Most lines of a log tail kept to hold a whole Python traceback.
const TRACEBACK_LINES: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 16): the 12-line log tail cut off the user's own stack frame of a
    /// deep traceback.
    #[test]
    fn the_tail_holds_the_whole_traceback() {
        let log = std::env::temp_dir().join(format!("testrium-tail-{}.log", std::process::id()));
        let mut text = String::from("starting\nTraceback (most recent call last):\n");
        for i in 0..30 {
            text.push_str(&format!(
                "  File \"/g/unit.py\", line {i}, in f{i}\n    f{}()\n",
                i + 1
            ));
        }
        text.push_str("RuntimeError: lost\n");
        std::fs::write(&log, text).expect("write log");
        let tail = read_tail(&log, 20);
        assert_eq!(tail[0], "Traceback (most recent call last):");
        assert_eq!(tail.last().map(String::as_str), Some("RuntimeError: lost"));
        assert_eq!(tail.len(), 62);

        std::fs::write(&log, "a\nb\nc\n").expect("write log");
        assert_eq!(read_tail(&log, 2), ["b", "c"]);
        std::fs::remove_file(&log).expect("remove log");
    }
}
