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
    let skip = all.len().saturating_sub(lines);
    all[skip..].iter().map(|s| (*s).to_owned()).collect()
}
