//! Run directories: `<base>/.testrium/runs/<group>-<unix ms>-<pid>[-<n>]/` with `Data.db` and
//! `logs/`.
//!
//! Uniqueness needs no shared state: the directory is created with `mkdir` (not
//! `mkdir -p`), which fails when another run (in this process or another) took the name;
//! then the next suffix is tried.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A freshly created, empty run directory.
#[derive(Debug, Clone)]
pub(crate) struct RunDir {
    /// `<group>-<unix ms>-<pid>[-<n>]`: also the run id.
    pub(crate) id: String,
    pub(crate) path: PathBuf,
    pub(crate) db: PathBuf,
    pub(crate) logs: PathBuf,
}

/// Creates a new run directory for `group` under `base`.
pub(crate) fn create(base: &Path, group: &str) -> Result<RunDir, (PathBuf, io::Error)> {
    let runs = base.join(".testrium").join("runs");
    std::fs::create_dir_all(&runs).map_err(|e| (runs.clone(), e))?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let stem = format!("{}-{millis}-{}", safe_name(group), std::process::id());
    for n in 0u32.. {
        let id = if n == 0 {
            stem.clone()
        } else {
            format!("{stem}-{n}")
        };
        let path = runs.join(&id);
        match std::fs::create_dir(&path) {
            Ok(()) => {
                let logs = path.join("logs");
                std::fs::create_dir(&logs).map_err(|e| (logs.clone(), e))?;
                return Ok(RunDir {
                    db: path.join("Data.db"),
                    id,
                    path,
                    logs,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err((path, e)),
        }
    }
    Err((runs, io::Error::other("no free run directory name")))
}

/// A group name made safe as one path component.
fn safe_name(group: &str) -> String {
    let name: String = group
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match name.as_str() {
        "" | "." | ".." => "group".to_owned(),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_group_same_millisecond_gets_distinct_dirs() {
        let base = std::env::temp_dir().join(format!("testrium-rundir-{}", std::process::id()));
        let a = create(&base, "g").expect("first");
        let b = create(&base, "g").expect("second");
        assert_ne!(a.path, b.path);
        assert!(a.logs.is_dir() && b.logs.is_dir());
        std::fs::remove_dir_all(&base).expect("cleanup");
    }

    #[test]
    fn unsafe_group_names_stay_one_component() {
        assert_eq!(safe_name("a/b"), "a_b");
        assert_eq!(safe_name(".."), "group");
    }
}
