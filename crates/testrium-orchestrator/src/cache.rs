//! The user's cache folder of Testrium: the runner's Python package, the resolved
//! interpreters, the empty run database copied for each attempt.

use std::path::{Path, PathBuf};

/// `$XDG_CACHE_HOME/testrium` or `~/.cache/testrium`; `None` without either variable.
pub(crate) fn dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("testrium"))
}
