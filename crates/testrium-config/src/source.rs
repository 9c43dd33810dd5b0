//! Reading config files defensively (size cap, regular files only, UTF-8) and pointing
//! diagnostics into them.

#[cfg(feature = "toml")]
use std::fs;
#[cfg(feature = "toml")]
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

/// The largest config file Testrium reads: 64 MiB. Real configs are a few hundred bytes, but
/// a hand-written file with long comments must never meet the cap (the original has none);
/// it only stops a log or a disk image named `*.toml` from being read into memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Index of a file in [`Sources`].
pub(crate) type FileId = usize;

/// A place a diagnostic can point at: a file, and a byte range in it when known.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) file: FileId,
    pub(crate) span: Option<Range<usize>>,
}

/// One file: its display path (relative to what the caller gave) and its text.
#[derive(Debug)]
struct SourceFile {
    display: PathBuf,
    text: String,
}

/// The files of one group, so diagnostics can show lines from them.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Registers a file (or a pseudo-file with no text, e.g. a group built in code).
    pub(crate) fn add(&mut self, display: PathBuf, text: String) -> FileId {
        self.files.push(SourceFile { display, text });
        self.files.len() - 1
    }

    pub(crate) fn text(&self, file: FileId) -> &str {
        self.files.get(file).map_or("", |f| f.text.as_str())
    }

    pub(crate) fn display(&self, file: FileId) -> &Path {
        self.files
            .get(file)
            .map_or(Path::new(""), |f| f.display.as_path())
    }

    /// A diagnostic at `site`.
    pub(crate) fn error(&self, site: &Site, message: impl Into<String>) -> Diagnostic {
        let diagnostic = Diagnostic::new(self.display(site.file), message);
        match &site.span {
            Some(span) => diagnostic.at_span(self.text(site.file), span.clone()),
            None => diagnostic,
        }
    }
}

#[cfg(feature = "toml")]
/// Reads a config file: a regular file, at most [`MAX_CONFIG_FILE_BYTES`], valid UTF-8.
/// The error names the display path and says what is wrong; it never panics.
pub(crate) fn read_config_file(path: &Path, display: &Path) -> Result<String, Box<Diagnostic>> {
    let fail = |message: String| Box::new(Diagnostic::new(display, message));
    let metadata = fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            fail(format!("`{}` does not exist", display.display()))
        } else {
            fail(format!("cannot read `{}`: {e}", display.display()))
        }
    })?;
    if !metadata.is_file() {
        return Err(fail(format!(
            "`{}` is not a regular file",
            display.display()
        )));
    }
    if metadata.len() > MAX_CONFIG_FILE_BYTES {
        return Err(Box::new(too_large(display)));
    }
    let file = fs::File::open(path)
        .map_err(|e| fail(format!("cannot read `{}`: {e}", display.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read `{}`: {e}", display.display())))?;
    if bytes.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(Box::new(too_large(display)));
    }
    decode(bytes, display)
}

#[cfg(feature = "toml")]
fn too_large(display: &Path) -> Diagnostic {
    Diagnostic::new(
        display,
        format!(
            "`{}` is larger than {} MiB; a config file is never that big",
            display.display(),
            MAX_CONFIG_FILE_BYTES / (1024 * 1024)
        ),
    )
    .with_hint("check that this is the file you meant (not a log or a binary)")
}

#[cfg(feature = "toml")]
/// Turns bytes into text, or a diagnostic pointing at the first byte that is not UTF-8.
pub(crate) fn decode(bytes: Vec<u8>, display: &Path) -> Result<String, Box<Diagnostic>> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let valid_up_to = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..valid_up_to]).into_owned();
            let diagnostic = Diagnostic::new(
                display,
                format!(
                    "`{}` is not valid UTF-8 text (byte {valid_up_to})",
                    display.display()
                ),
            )
            .with_hint("config files are TOML text; is this a binary file?");
            let end = prefix.len();
            Err(Box::new(diagnostic.at_span(&prefix, end..end)))
        }
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;

    #[test]
    fn binary_garbage_is_named_with_its_position() {
        let d = decode(b"a = 1\nb = \xff\xfe".to_vec(), Path::new("g/config.toml"))
            .err()
            .unwrap_or_else(|| Box::new(Diagnostic::new("", "")));
        assert_eq!((d.line, d.column), (2, 5));
        assert!(d.message.contains("g/config.toml"), "{}", d.message);
        assert!(d.message.contains("UTF-8"), "{}", d.message);
    }
}
