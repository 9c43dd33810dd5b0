//! A scratch group folder per test, removed on drop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use testrium_config::{Diagnostics, Group, load_group};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A temporary base folder.
pub struct Scratch {
    pub base: PathBuf,
}

impl Scratch {
    pub fn new() -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!("testrium-config-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("{e}"));
        Scratch { base }
    }

    /// Writes `files` (path relative to the base, content).
    pub fn write(&self, files: &[(&str, &str)]) -> &Self {
        for (path, content) in files {
            self.write_bytes(path, content.as_bytes());
        }
        self
    }

    pub fn write_bytes(&self, path: &str, content: &[u8]) {
        let path = self.base.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.base.join(relative)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Loads `test_g` made of `config` and `units` (`(name, text)` → `units/<name>.toml`).
pub fn load(config: &str, units: &[(&str, &str)]) -> Result<Group, Diagnostics> {
    let scratch = Scratch::new();
    scratch.write(&[("test_g/config.toml", config)]);
    std::fs::create_dir_all(scratch.path("test_g/units")).unwrap_or_else(|e| panic!("{e}"));
    for (name, text) in units {
        scratch.write(&[(&format!("test_g/units/{name}.toml") as &str, *text)]);
    }
    load_group(&scratch.path("test_g"))
}

/// `path:line:col: message` for each diagnostic.
pub fn lines(diagnostics: &Diagnostics) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            let severity = match d.severity {
                testrium_config::Severity::Warning => "warning: ",
                _ => "",
            };
            format!(
                "{severity}{}:{}:{}: {}",
                d.path.display(),
                d.line,
                d.column,
                d.message
            )
        })
        .collect()
}
