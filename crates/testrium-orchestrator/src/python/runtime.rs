//! The runner's Python package, and the commands that start Python code.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

use super::error::{PythonError, PythonErrorKind};
use super::interpreter::{fnv1a, resolve_interpreter};

/// File name of the bootstrap script inside the package directory.
const BOOTSTRAP: &str = "testrium_bootstrap.py";

/// The files of the runner's Python package, relative to the package directory.
const PACKAGE_FILES: [(&str, &str); 8] = [
    (BOOTSTRAP, include_str!("bootstrap.py")),
    ("testrium/__init__.py", include_str!("package_init.py")),
    ("testrium/_runner.py", include_str!("runner.py")),
    (
        "testrium/modules/__init__.py",
        include_str!("modules_init.py"),
    ),
    ("testrium/modules/events.py", EVENTS_MODULE),
    (
        "testrium/common/__init__.py",
        include_str!("common_init.py"),
    ),
    ("testrium/common/utils.py", include_str!("utils.py")),
    ("testrium/common/sql_pool.py", include_str!("sql_pool.py")),
];

/// `testrium.modules.events`: the probe client `testrium-events` ships.
const EVENTS_MODULE: &str = testrium_events::PYTHON_EVENTS_MODULE;

/// Names whose presence in a group's Python file means it may define direct tests or
/// callbacks (`def test_…`, `from x import test_…`, `validate_test`, `tests_results`).
const DIRECT_TEST_MARKERS: [&str; 3] = ["test_", "validate_test", "tests_results"];

/// The Python side of one run: the resolved interpreter and the directory holding the
/// runner's `testrium` package.
#[derive(Debug, Clone)]
pub(crate) struct PythonRuntime {
    interpreter: PathBuf,
    package_dir: PathBuf,
}

impl PythonRuntime {
    /// Resolves the interpreter (once per process and cached on disk, see
    /// [`resolve_interpreter`]) and installs the runner's `testrium` package: in a folder of
    /// the user's cache named after the package's content (`~/.cache/testrium/python-package-
    /// <hash>/`, shared by every run, so Python's bytecode cache of it survives from run to
    /// run), or in `<run_dir>/python/` when no cache folder can be written.
    pub(crate) fn prepare(run_dir: &Path) -> Result<PythonRuntime, PythonError> {
        let interpreter = resolve_interpreter()?;
        if let Some(shared) = shared_package_dir()
            && install_package(&shared).is_ok()
        {
            compile_once(&interpreter, &shared);
            return Ok(PythonRuntime {
                interpreter,
                package_dir: shared,
            });
        }
        PythonRuntime::with_interpreter(run_dir, interpreter)
    }

    /// The runner's package written into `<run_dir>/python/`, started with `interpreter`.
    pub(crate) fn with_interpreter(
        run_dir: &Path,
        interpreter: impl Into<PathBuf>,
    ) -> Result<PythonRuntime, PythonError> {
        let package_dir = run_dir.join("python");
        install_package(&package_dir)?;
        Ok(PythonRuntime {
            interpreter: interpreter.into(),
            package_dir,
        })
    }

    /// The directory holding the runner's `testrium` package.
    #[cfg(test)]
    pub(crate) fn package_dir(&self) -> &Path {
        &self.package_dir
    }

    /// Runs `module:function` of a unit in its own interpreter, working directory = the group
    /// folder, import path = [the runner's package, …, the group folder] (last, so that a group
    /// file named like a standard module does not shadow it). When the function
    /// raises, the process records the Exception probe `testrium-unit-exception:<Type>` (with
    /// `{"message": str(exc)}`) as the unit named by `TESTRIUM_UNIT`, prints the traceback to
    /// stderr and exits 1. The caller sets the environment (`TESTRIUM_EVENT_DB`, …).
    pub(crate) fn entrypoint_command(
        &self,
        group_dir: &Path,
        module: &str,
        function: &str,
    ) -> Command {
        let mut command = self.bootstrap("entrypoint", group_dir);
        command.arg(module).arg(function);
        command
    }

    /// Like [`PythonRuntime::entrypoint_command`], pre-warmed: spawn it early; the interpreter
    /// starts and imports what every unit needs (no user code), then waits until the run
    /// database's `UnitStatus` of `TESTRIUM_UNIT` is `starting` (or `ready`, `running`,
    /// `finished`) and runs the function as `entrypoint_command` does. If the status becomes
    /// `failed` or `stopped` first, it exits 0 without running anything. It reads the status
    /// only when the database changed, polling every millisecond while it changes and every
    /// 10 ms at most while it is quiet, so a release is seen within about a millisecond.
    pub(crate) fn entrypoint_command_gated(
        &self,
        group_dir: &Path,
        module: &str,
        function: &str,
    ) -> Command {
        let mut command = self.bootstrap("entrypoint-gated", group_dir);
        command.arg(module).arg(function);
        command
    }

    /// Runs `main()` of the group's `setup.py`; exits 1 when it is missing or raises.
    pub(crate) fn setup_command(&self, group_dir: &Path, setup_py: &Path) -> Command {
        let mut command = self.bootstrap("setup", group_dir);
        command.arg(group_dir.join(setup_py));
        command
    }

    /// Runs the group's direct test functions and the `validate_test` / `tests_results`
    /// callbacks; reads a [`DirectTestsInput`](super::DirectTestsInput) from `input_json` and
    /// writes the results to `output_json` (read them with
    /// [`parse_direct_results`](super::parse_direct_results)). Exits 0 when every test passed.
    pub(crate) fn direct_tests_command(
        &self,
        group_dir: &Path,
        input_json: &Path,
        output_json: &Path,
    ) -> Command {
        let mut command = self.bootstrap("tests", group_dir);
        command.arg(input_json).arg(output_json);
        command
    }

    /// Like [`PythonRuntime::direct_tests_command`], pre-warmed: spawn it early (while the
    /// units run); the interpreter imports what the tests need (no user code), then waits
    /// until `input_json` exists — write it with
    /// [`DirectTestsInput::write`](super::DirectTestsInput::write), which is atomic — polling
    /// every millisecond, backing off to 5 ms, and runs as `direct_tests_command` does.
    pub(crate) fn direct_tests_command_gated(
        &self,
        group_dir: &Path,
        input_json: &Path,
        output_json: &Path,
    ) -> Command {
        let mut command = self.bootstrap("tests-gated", group_dir);
        command.arg(input_json).arg(output_json);
        command
    }

    /// The fork server (the bootstrap's `fork-server` mode): a pre-warmed interpreter whose
    /// forks run `entrypoint_command` and `direct_tests_command` (their arguments, working
    /// directory and environment sent as a request), see `attempt/fork.rs`. It compiles the
    /// group files of `modules` in its idle time (entrypoint modules several forks load).
    pub(crate) fn fork_server_command(&self, group_dir: &Path, modules: &[String]) -> Command {
        let mut command = self.bootstrap("fork-server", group_dir);
        command.args(modules);
        command
    }

    fn bootstrap(&self, mode: &str, group_dir: &Path) -> Command {
        let mut command = Command::new(&self.interpreter);
        command
            .arg(self.package_dir.join(BOOTSTRAP))
            .arg(mode)
            .arg(group_dir)
            .current_dir(group_dir)
            // Output reaches the unit's log line by line, in order with stderr.
            .env("PYTHONUNBUFFERED", "1")
            // Python processes the unit starts itself find the runner's package too.
            .env("PYTHONPATH", self.python_path());
        command
    }

    fn python_path(&self) -> OsString {
        python_path_with(&self.package_dir)
    }
}

/// `PYTHONPATH` for a process the runner starts: `package_dir`, then the runner's own
/// `PYTHONPATH` (if any), so a Python program started as a `command` unit, a `setup`
/// program, or any process they start, imports the runner's `testrium` package first.
pub(crate) fn python_path_with(package_dir: &Path) -> OsString {
    let mut paths = vec![package_dir.to_path_buf()];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&existing).filter(|p| !p.as_os_str().is_empty()));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| package_dir.as_os_str().to_owned())
}

/// The folder holding the runner's `testrium` package, installed if it is not there yet, for
/// the processes that are not started through the bootstrap (`command` units, a `setup`
/// program): the shared folder [`PythonRuntime::prepare`] uses, or `<run_dir>/python/` when
/// the cache cannot be written; `None` when neither can be written.
///
/// Cheap for groups without Python: no interpreter is started (nothing is byte-compiled
/// here), the files are written once per process, and later calls only check that they are
/// still there.
pub(crate) fn runner_package_dir(run_dir: &Path) -> Option<PathBuf> {
    if let Some(dir) = shared_runner_package_dir() {
        return Some(dir);
    }
    let local = run_dir.join("python");
    (package_installed(&local) || install_package(&local).is_ok()).then_some(local)
}

/// The shared folder of [`runner_package_dir`], installed if needed (`None`: the cache cannot
/// be written). The first call of a process hashes the package and compares its files (some
/// 0.2 ms): a run makes it on its start-up thread, beside its first attempt's start.
pub(crate) fn shared_runner_package_dir() -> Option<PathBuf> {
    static SHARED: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(dir) = shared.as_ref().filter(|dir| package_installed(dir)) {
        return Some(dir.clone());
    }
    let dir = shared_package_dir()?;
    install_package(&dir).ok()?;
    *shared = Some(dir.clone());
    Some(dir)
}

fn package_installed(dir: &Path) -> bool {
    PACKAGE_FILES.iter().all(|(f, _)| dir.join(f).is_file())
}

/// `<cache>/python-package-<hash of the package's files>`.
fn shared_package_dir() -> Option<PathBuf> {
    let mut content = Vec::new();
    for (relative, text) in PACKAGE_FILES {
        content.extend_from_slice(relative.as_bytes());
        content.push(0);
        content.extend_from_slice(text.as_bytes());
        content.push(0);
    }
    let hash = fnv1a(&content);
    Some(crate::cache::dir()?.join(format!("python-package-{hash:016x}")))
}

/// Writes every package file into `dir` whose content differs (a file already right is left
/// alone, so its bytecode cache stays valid). Each write is atomic: another run may be reading.
pub(super) fn install_package(dir: &Path) -> Result<(), PythonError> {
    for (relative, text) in PACKAGE_FILES {
        let path = dir.join(relative);
        if std::fs::read(&path).is_ok_and(|existing| existing == text.as_bytes()) {
            continue;
        }
        write_atomically(&path, text)
            .map_err(|e| PythonError::new(&path, PythonErrorKind::WritePackage(e)))?;
    }
    Ok(())
}

/// Byte-compiles the package in `dir` for `interpreter`, once (a marker file remembers it).
///
/// Python reads bytecode next to a module even where it never writes any
/// (`PYTHONDONTWRITEBYTECODE`, a read-only cache): without it every unit process would compile
/// the probe client again (about 6 ms of CPU each). Best effort: on failure, units compile.
pub(super) fn compile_once(interpreter: &Path, dir: &Path) {
    let marker = dir.join(format!(
        ".compiled-{:016x}",
        fnv1a(interpreter.as_os_str().as_encoded_bytes())
    ));
    if marker.exists() {
        return;
    }
    // `-S`: no site-packages needed (and a faster start); the marker is written last.
    let _ = Command::new(interpreter)
        .args(["-S", "-c", COMPILE_PACKAGE])
        .arg(dir)
        .arg(&marker)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

const COMPILE_PACKAGE: &str = "import compileall, sys\n\
    if compileall.compile_dir(sys.argv[1], quiet=2):\n\
    \x20   open(sys.argv[2], 'w').close()\n";

/// Writes `text` to `path` through a temporary file in the same folder and a rename, so a
/// reader sees the old content or the new one, never a part.
pub(super) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temporary = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Whether the group's Python files may define direct test functions or callbacks, so that a
/// group without any can skip starting an interpreter for them. Conservative: any eligible
/// file (`*.py`, not starting with `_`) that mentions `test_`, `validate_test` or
/// `tests_results`, or that cannot be read, counts.
pub(crate) fn needs_direct_tests(group_dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(group_dir) else {
        return true;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".py") || name.starts_with('_') {
            return false;
        }
        match std::fs::read_to_string(entry.path()) {
            Ok(text) => DIRECT_TEST_MARKERS.iter().any(|m| text.contains(m)),
            Err(_) => entry.path().is_file(),
        }
    })
}
