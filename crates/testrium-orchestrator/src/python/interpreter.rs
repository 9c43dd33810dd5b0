//! Finding the real Python interpreter once.
//!
//! `python3` is often a shim (pyenv, asdf) that costs tens of milliseconds per start before
//! the interpreter itself starts. The runner asks the shim once for `sys.executable` and
//! starts that file directly for every unit. The answer is cached in memory for the process
//! and on disk (`$XDG_CACHE_HOME/testrium/` or `~/.cache/testrium/`), keyed by everything a
//! shim decides by: the program name, `PATH`, the pyenv variables, the nearest
//! `.python-version` / `.tool-versions` and pyenv's global version file. A cached path that no
//! longer exists is resolved again.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::error::{PythonError, PythonErrorKind};

/// Environment variable naming the Python interpreter to use, verbatim (no resolution).
pub(crate) const ENV_PYTHON: &str = "TESTRIUM_PYTHON";

/// The program asked when [`ENV_PYTHON`] is not set.
const DEFAULT_PROGRAM: &str = "python3";

/// Environment variables a Python shim decides by.
const KEY_VARIABLES: [&str; 5] = [
    "PATH",
    "PYENV_VERSION",
    "PYENV_ROOT",
    "PYENV_DIR",
    "ASDF_PYTHON_VERSION",
];

/// Files, looked up from the working directory upwards, a Python shim decides by.
const VERSION_FILES: [&str; 2] = [".python-version", ".tool-versions"];

const PRINT_EXECUTABLE: &str = "import sys; sys.stdout.write(sys.executable)";

/// The interpreter the runner starts Python units with: [`ENV_PYTHON`] when set, otherwise
/// the `sys.executable` that `python3` reports (cached).
pub(crate) fn resolve_interpreter() -> Result<PathBuf, PythonError> {
    if let Some(program) = std::env::var_os(ENV_PYTHON).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(program));
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let resolver = Resolver {
        program: OsString::from(DEFAULT_PROGRAM),
        env: |name: &str| std::env::var_os(name),
        cwd,
        cache_dir: crate::cache::dir(),
    };
    resolver.resolve_cached()
}

fn memory_cache() -> &'static Mutex<HashMap<String, PathBuf>> {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// One resolution request: the program and what a shim would look at.
pub(super) struct Resolver<E> {
    pub(super) program: OsString,
    pub(super) env: E,
    pub(super) cwd: PathBuf,
    pub(super) cache_dir: Option<PathBuf>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DiskEntry {
    key: String,
    executable: PathBuf,
}

impl<E: Fn(&str) -> Option<OsString>> Resolver<E> {
    /// Memory cache, then disk cache, then ask the interpreter.
    pub(super) fn resolve_cached(&self) -> Result<PathBuf, PythonError> {
        let key = self.key();
        if let Some(found) = lock(memory_cache()).get(&key).filter(|p| p.is_file()) {
            return Ok(found.clone());
        }
        let found = self.resolve_on_disk(&key)?;
        lock(memory_cache()).insert(key, found.clone());
        Ok(found)
    }

    /// Disk cache, then ask the interpreter (and store the answer on disk).
    pub(super) fn resolve_on_disk(&self, key: &str) -> Result<PathBuf, PythonError> {
        let file = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("python-{:016x}.json", fnv1a(key.as_bytes()))));
        if let Some(entry) = file.as_deref().and_then(read_entry)
            && entry.key == key
            && entry.executable.is_file()
        {
            return Ok(entry.executable);
        }
        let found = self.ask()?;
        if let Some(file) = file {
            write_entry(
                &file,
                &DiskEntry {
                    key: key.to_owned(),
                    executable: found.clone(),
                },
            );
        }
        Ok(found)
    }

    /// Run the program once and read its `sys.executable`.
    pub(super) fn ask(&self) -> Result<PathBuf, PythonError> {
        let program = PathBuf::from(&self.program);
        let output = Command::new(&self.program)
            .args(["-c", PRINT_EXECUTABLE])
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| PythonError::new(&program, PythonErrorKind::Spawn(e)))?;
        let executable = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(PythonError::new(
                program,
                PythonErrorKind::Resolve {
                    status: output.status,
                    stderr: tail.join("\n"),
                },
            ));
        }
        // An embedded interpreter may report nothing; then start the program itself.
        if executable.is_empty() {
            return Ok(program);
        }
        Ok(PathBuf::from(executable))
    }

    /// Everything the resolution depends on, as one text.
    pub(super) fn key(&self) -> String {
        let mut key = format!("program={}\n", self.program.to_string_lossy());
        for name in KEY_VARIABLES {
            let value = (self.env)(name).unwrap_or_default();
            key.push_str(&format!("{name}={}\n", value.to_string_lossy()));
        }
        for name in VERSION_FILES {
            match nearest(&self.cwd, name) {
                Some((path, text)) => {
                    key.push_str(&format!("{}={}\n", path.display(), text.trim()));
                }
                None => key.push_str(&format!("{name}=\n")),
            }
        }
        let pyenv_root = (self.env)("PYENV_ROOT")
            .map(PathBuf::from)
            .or_else(|| (self.env)("HOME").map(|home| Path::new(&home).join(".pyenv")));
        if let Some(global) = pyenv_root.map(|root| root.join("version")) {
            let text = std::fs::read_to_string(&global).unwrap_or_default();
            key.push_str(&format!("{}={}\n", global.display(), text.trim()));
        }
        // Which file `PATH` finds, and its identity: a newly installed or re-pointed
        // `python3` is another key, even with the same `PATH`.
        let path = (self.env)("PATH").unwrap_or_default();
        match find_on_path(&self.program, &path) {
            Some((found, identity)) => {
                key.push_str(&format!("found={} {identity}\n", found.display()));
            }
            None => key.push_str("found=\n"),
        }
        key
    }
}

/// The first `program` on `path` (or `program` itself when it contains a `/`), with its
/// inode and modification time (of the link itself, when it is a symbolic link).
fn find_on_path(program: &OsString, path: &OsString) -> Option<(PathBuf, String)> {
    use std::os::unix::fs::MetadataExt;

    let identity = |candidate: &Path| {
        let metadata = std::fs::symlink_metadata(candidate).ok()?;
        Some(format!(
            "ino={} mtime={}.{}",
            metadata.ino(),
            metadata.mtime(),
            metadata.mtime_nsec()
        ))
    };
    let program_path = Path::new(program);
    if program_path.components().count() > 1 {
        return identity(program_path).map(|id| (program_path.to_path_buf(), id));
    }
    std::env::split_paths(path).find_map(|dir| {
        let candidate = dir.join(program_path);
        let is_file = std::fs::metadata(&candidate).is_ok_and(|m| m.is_file());
        if !is_file {
            return None;
        }
        identity(&candidate).map(|id| (candidate, id))
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The cache holds plain paths: a panic elsewhere cannot leave it inconsistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The nearest `name` in `dir` or its ancestors, with its text.
fn nearest(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    dir.ancestors().find_map(|ancestor| {
        let path = ancestor.join(name);
        std::fs::read_to_string(&path).ok().map(|text| (path, text))
    })
}

fn read_entry(file: &Path) -> Option<DiskEntry> {
    let text = std::fs::read(file).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Best effort: a cache that cannot be written only costs the next run one resolution.
fn write_entry(file: &Path, entry: &DiskEntry) {
    let Some(dir) = file.parent() else { return };
    let Ok(text) = serde_json::to_vec(entry) else {
        return;
    };
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&temporary, text))
        .and_then(|()| std::fs::rename(&temporary, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
}

/// FNV-1a, 64 bits: a stable file name for a key (std's hasher may change between releases).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
