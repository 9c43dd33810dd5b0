//! Tests of the Python bridge with a real interpreter (`python3` must be installed).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::{PythonError, PythonErrorKind};
use super::interpreter::{ENV_PYTHON, Resolver};
use super::results::{DirectTestKind, RequiredProbes};
use super::*;

mod direct;

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "testrium-python-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real interpreter, resolved once per test binary (cache in a scratch dir, not `~`).
fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(program) = std::env::var_os(ENV_PYTHON) {
                return PathBuf::from(program);
            }
            let resolver = Resolver {
                program: OsString::from("python3"),
                env: |name: &str| std::env::var_os(name),
                cwd: std::env::current_dir().unwrap(),
                cache_dir: None,
            };
            resolver.ask().unwrap()
        })
        .clone()
}

/// A run directory with the runner's package, a group folder and a run database path.
struct Fixture {
    scratch: Scratch,
    runtime: PythonRuntime,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let scratch = Scratch::new(tag);
        std::fs::create_dir_all(scratch.0.join("group")).unwrap();
        let runtime = PythonRuntime::with_interpreter(&scratch.0.join("run"), python()).unwrap();
        Fixture { scratch, runtime }
    }

    fn group(&self) -> PathBuf {
        self.scratch.0.join("group")
    }

    fn db(&self) -> PathBuf {
        self.scratch.0.join("run").join("Data.db")
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        self.scratch.write(&format!("group/{name}"), text)
    }

    fn run(&self, mut command: std::process::Command, unit: &str) -> Output {
        command
            .env("TESTRIUM_EVENT_DB", self.db())
            .env("TESTRIUM_UNIT", unit)
            .output()
            .unwrap()
    }

    /// Runs `module:function` of the group folder as the unit `unit`.
    fn run_entrypoint(&self, module: &str, function: &str, unit: &str) -> Output {
        let command = self
            .runtime
            .entrypoint_command(&self.group(), module, function);
        self.run(command, unit)
    }

    /// Every event as `(unit, step, type, key, metadata)`, read through the package itself.
    fn events(&self) -> Vec<(String, String, String, String, serde_json::Value)> {
        let script = "import json, sys\n\
                      from testrium.modules.events import Events_Manager\n\
                      rows = Events_Manager(Unit='*', path=sys.argv[1]).list_events()\n\
                      print(json.dumps([[r['Unit'], r['StepCompleted'], r['EventType'],\n\
                      r['EventKey'] or '', r['Metadata']] for r in rows]))";
        let output = std::process::Command::new(python())
            .arg("-c")
            .arg(script)
            .arg(self.db())
            .env("PYTHONPATH", self.runtime.package_dir())
            .env_remove("TESTRIUM_EVENT_DB")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

impl Fixture {
    /// Sets a unit's UnitStatus through the package's `UnitStatus_Manager`.
    fn set_status(&self, unit: &str, status: &str) {
        let output = std::process::Command::new(python())
            .arg("-c")
            .arg(
                "import sys\n\
                 from testrium.modules.events import UnitStatus_Manager\n\
                 UnitStatus_Manager(path=sys.argv[1]).set_status(sys.argv[2], sys.argv[3])",
            )
            .args([self.db().as_os_str(), unit.as_ref(), status.as_ref()])
            .env("PYTHONPATH", self.runtime.package_dir())
            .env_remove("TESTRIUM_EVENT_DB")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    }
}

/// Waits for `child` to exit; kills it and fails after `deadline`.
fn wait_with_deadline(
    child: &mut std::process::Child,
    deadline: std::time::Duration,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {deadline:?}");
        }
        // Polling the child's exit: std has no wait with a timeout.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn prepare_writes_the_package_into_the_run_directory() {
    let fixture = Fixture::new("package");
    let dir = fixture.runtime.package_dir();
    assert_eq!(dir, fixture.scratch.0.join("run").join("python"));
    for file in [
        "testrium_bootstrap.py",
        "testrium/__init__.py",
        "testrium/_runner.py",
        "testrium/modules/__init__.py",
        "testrium/modules/events.py",
        "testrium/common/__init__.py",
        "testrium/common/utils.py",
        "testrium/common/sql_pool.py",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
}

#[test]
fn installing_again_leaves_unchanged_files_alone_and_repairs_changed_ones() {
    let scratch = Scratch::new("install");
    let dir = scratch.0.join("package");
    super::runtime::install_package(&dir).unwrap();
    let events = dir.join("testrium/modules/events.py");
    let utils = dir.join("testrium/common/utils.py");
    let modified = |path: &Path| std::fs::metadata(path).unwrap().modified().unwrap();
    let before = modified(&events);
    std::fs::write(&utils, "broken").unwrap();
    super::runtime::install_package(&dir).unwrap();
    // Untouched, so Python's bytecode cache of it stays valid from run to run.
    assert_eq!(modified(&events), before);
    assert!(
        std::fs::read_to_string(&utils)
            .unwrap()
            .contains("def test_config")
    );
}

#[test]
fn the_package_is_byte_compiled_once() {
    let scratch = Scratch::new("compile");
    let dir = scratch.0.join("package");
    super::runtime::install_package(&dir).unwrap();
    super::runtime::compile_once(&python(), &dir);
    let cache = dir.join("testrium/modules/__pycache__");
    let compiled: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        compiled.iter().any(|name| name.starts_with("events.")),
        "{compiled:?}"
    );
    let markers = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let e = e.as_ref().unwrap();
            e.file_name().to_string_lossy().starts_with(".compiled-")
        })
        .count();
    assert_eq!(markers, 1);
}

#[test]
fn entrypoint_runs_the_function_in_the_group_folder() {
    let fixture = Fixture::new("entry");
    fixture.file(
        "units_code.py",
        "import os\n\
         from helper import STEP\n\
         from testrium.modules.events import Events_Manager\n\
         def run():\n\
         \x20   Events_Manager(Unit='u', path='.').Set_Event(STEP, cwd=os.getcwd())\n",
    );
    fixture.file("helper.py", "STEP = 'done'\n");
    let output = fixture.run_entrypoint("units_code", "run", "u");
    assert!(output.status.success(), "{}", stderr(&output));
    let events = fixture.events();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].0.as_str(), events[0].1.as_str()), ("u", "done"));
    let cwd = events[0].4["cwd"].as_str().unwrap();
    assert_eq!(
        Path::new(cwd).canonicalize().unwrap(),
        fixture.group().canonicalize().unwrap()
    );
}

#[test]
fn a_raising_entrypoint_records_the_exception_probe_and_exits_1() {
    let fixture = Fixture::new("raise");
    fixture.file("code.py", "def run():\n    raise KeyError('boom')\n");
    let output = fixture.run_entrypoint("code", "run", "worker");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("Traceback"), "{}", stderr(&output));
    let events = fixture.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "worker");
    assert_eq!(events[0].1, "testrium-unit-exception:KeyError");
    assert_eq!(events[0].2, "Exception");
    assert_eq!(events[0].4, serde_json::json!({"message": "'boom'"}));
}

/// Regression (issue 11 item 4): an entrypoint whose function (or module) does not exist was
/// reported as a crash of the unit's code, with an exception probe. The unit could not be
/// started: exit 1, the reason on stderr and in `spawn-failed/<unit>` of the run directory
/// (the runner reports `spawn_failed`), no exception probe.
#[test]
fn a_missing_entrypoint_function_or_module_is_a_spawn_failure() {
    let fixture = Fixture::new("missing");
    fixture.file("code.py", "X = 1\n");
    let run_dir = fixture.scratch.0.join("run");
    for (module, function, says) in [
        ("code", "X", "module `code` has no function `X`"),
        ("nosuch", "run", "no module `nosuch`"),
    ] {
        let mut command = fixture
            .runtime
            .entrypoint_command(&fixture.group(), module, function);
        command.env("TESTRIUM_RUN_DIR", &run_dir);
        let output = fixture.run(command, "worker");
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains(says), "{}", stderr(&output));
        let reported = std::fs::read_to_string(run_dir.join("spawn-failed").join("worker"))
            .expect("spawn failure reported");
        assert!(reported.contains(says), "{reported}");
    }
    assert!(fixture.events().is_empty());
}

const GATED_UNIT: &str = "import os, sqlite3\n\
    from testrium.modules.events import Events_Manager\n\
    def run():\n\
    \x20   db = sqlite3.connect(os.environ['TESTRIUM_EVENT_DB'])\n\
    \x20   (status,) = db.execute(\"SELECT Status FROM UnitStatus WHERE Unit = 'u'\").fetchone()\n\
    \x20   Events_Manager(Unit='u', path='.').Set_Event('ran', status=status)\n";

#[test]
fn a_gated_entrypoint_runs_once_its_status_says_starting() {
    let fixture = Fixture::new("gated");
    fixture.file("code.py", GATED_UNIT);
    fixture.set_status("u", "created");
    let mut command = fixture
        .runtime
        .entrypoint_command_gated(&fixture.group(), "code", "run");
    let mut child = command
        .env("TESTRIUM_EVENT_DB", fixture.db())
        .env("TESTRIUM_UNIT", "u")
        .spawn()
        .unwrap();
    fixture.set_status("u", "starting");
    let status = wait_with_deadline(&mut child, std::time::Duration::from_secs(30));
    assert!(status.success());
    let events = fixture.events();
    assert_eq!(events.len(), 1);
    // It ran after the release: the status it saw is the one that released it.
    assert_eq!(events[0].1, "ran");
    assert_eq!(events[0].4, serde_json::json!({"status": "starting"}));
}

#[test]
fn a_gated_entrypoint_abandoned_before_release_runs_nothing() {
    let fixture = Fixture::new("abandoned");
    fixture.file("code.py", "def run():\n    raise SystemExit(7)\n");
    fixture.set_status("u", "created");
    let mut command = fixture
        .runtime
        .entrypoint_command_gated(&fixture.group(), "code", "run");
    let mut child = command
        .env("TESTRIUM_EVENT_DB", fixture.db())
        .env("TESTRIUM_UNIT", "u")
        .spawn()
        .unwrap();
    fixture.set_status("u", "failed");
    let status = wait_with_deadline(&mut child, std::time::Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "the unit's code ran");
    assert!(fixture.events().is_empty());
}

#[test]
fn the_runner_package_takes_precedence_over_an_installed_testrium() {
    let fixture = Fixture::new("precedence");
    // A fake installed package earlier on PYTHONPATH than site-packages.
    let fake = fixture.scratch.write(
        "site/testrium/__init__.py",
        "raise ImportError('the installed testrium was imported')\n",
    );
    let site = fake.parent().unwrap().parent().unwrap().to_path_buf();
    fixture.file(
        "code.py",
        "import testrium\n\
         from testrium.common.utils import verify_condition\n\
         def run():\n\
         \x20   verify_condition(testrium.TESTRIUM_RUNNER_PACKAGE, 'not the runner package')\n",
    );
    let mut command = fixture
        .runtime
        .entrypoint_command(&fixture.group(), "code", "run");
    command.env("PYTHONPATH", site);
    let output = fixture.run(command, "u");
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn setup_runs_main_and_fails_without_it() {
    let fixture = Fixture::new("setup");
    let setup = fixture.file(
        "setup.py",
        "from testrium.modules.events import Events_Manager\n\
         def main():\n\
         \x20   Events_Manager(Unit='setup', path='.').Set_Event('setup-done')\n",
    );
    let output = fixture.run(
        fixture.runtime.setup_command(&fixture.group(), &setup),
        "setup",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(fixture.events()[0].1, "setup-done");

    std::fs::write(&setup, "X = 1\n").unwrap();
    let output = fixture.run(
        fixture.runtime.setup_command(&fixture.group(), &setup),
        "setup",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("does not define main()"));
}

const DIRECT_TESTS: &str = r#"
import threading, time
from testrium.common.utils import test_config, verify_condition
from testrium.modules.events import Events_Manager

ORDER = []
BARRIER = threading.Barrier(2, timeout=10)

@test_config(priority=2)
def test_late():
    ORDER.append("late")
    verify_condition(ORDER[:2] == ["early", "middle"] and set(ORDER[2:4]) == {"p1", "p2"}, str(ORDER))

@test_config(priority=0)
def test_early():
    ORDER.append("early")
    Events_Manager(Unit="checker", path=".").Set_Event("checked")

@test_config(priority=1)
def test_middle():
    ORDER.append("middle")

# Both wait on one barrier: they only pass when they really run at the same time.
@test_config(priority=1, parallelize=True)
def test_parallel_one():
    BARRIER.wait()
    ORDER.append("p1")

@test_config(priority=1, parallelize=True)
def test_parallel_two():
    BARRIER.wait()
    ORDER.append("p2")

@test_config(priority=3)
def test_raises():
    verify_condition(False, "expected failure")

@test_config(priority=3)
def test_rejected():
    pass

def validate_test(name):
    return name != "test_rejected"

SEEN = {}

def tests_results(data):
    SEEN.update(data)
    names = [t["name"] for t in data["tests_results"]]
    return (
        names[0] == "unit_processes"
        and data["passed"] is False
        and {"unit": "checker", "step": "checked"} in data["events_completed"]
        and {"unit": "checker", "step": "never"} in data["events_missing"]
        and data["correlations"]["orphan_sends"] == []
    )
"#;

#[test]
fn the_interpreter_is_asked_once_then_read_from_the_disk_cache() {
    let scratch = Scratch::new("resolve");
    let calls = scratch.0.join("calls");
    // A fake shim: counts its starts and reports /bin/sh as its sys.executable.
    let shim = scratch.write(
        "bin/python3",
        &format!(
            "#!/bin/sh\necho call >> '{}'\nprintf /bin/sh\n",
            calls.display()
        ),
    );
    make_executable(&shim);
    let version = std::cell::RefCell::new("3.11".to_owned());
    let resolver = Resolver {
        program: shim.clone().into_os_string(),
        env: |name: &str| match name {
            "PYENV_VERSION" => Some(OsString::from(version.borrow().clone())),
            _ => None,
        },
        cwd: scratch.0.clone(),
        cache_dir: Some(scratch.0.join("cache")),
    };
    let count = || {
        std::fs::read_to_string(&calls)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    assert_eq!(
        unless_busy(|| resolver.resolve_on_disk(&resolver.key())).unwrap(),
        Path::new("/bin/sh")
    );
    assert_eq!(count(), 1);
    assert_eq!(
        unless_busy(|| resolver.resolve_on_disk(&resolver.key())).unwrap(),
        Path::new("/bin/sh")
    );
    assert_eq!(count(), 1, "the second resolution must come from the cache");

    // Another pyenv version, or another .python-version, is another key.
    *version.borrow_mut() = "3.12".to_owned();
    unless_busy(|| resolver.resolve_on_disk(&resolver.key())).unwrap();
    assert_eq!(count(), 2);
    let before = resolver.key();
    scratch.write(".python-version", "3.13\n");
    assert_ne!(resolver.key(), before);
}

#[test]
fn a_python3_installed_earlier_on_path_is_another_key() {
    let scratch = Scratch::new("pathkey");
    let late = scratch.write("late/python3", "#!/bin/sh\nprintf /bin/sh\n");
    make_executable(&late);
    let path = std::env::join_paths([scratch.0.join("early"), scratch.0.join("late")]).unwrap();
    let resolver = Resolver {
        program: OsString::from("python3"),
        env: |name: &str| (name == "PATH").then(|| path.clone()),
        cwd: scratch.0.clone(),
        cache_dir: None,
    };
    let before = resolver.key();
    assert!(
        before.contains(&format!("found={}", late.display())),
        "{before}"
    );
    let early = scratch.write("early/python3", "#!/bin/sh\nprintf /bin/sh\n");
    make_executable(&early);
    assert_ne!(resolver.key(), before);
}

#[test]
fn a_failing_interpreter_is_an_error_with_its_stderr() {
    let scratch = Scratch::new("badpython");
    let shim = scratch.write(
        "python3",
        "#!/bin/sh\necho 'pyenv: no such version' >&2\nexit 127\n",
    );
    make_executable(&shim);
    let resolver = Resolver {
        program: shim.into_os_string(),
        env: |_: &str| None,
        cwd: scratch.0.clone(),
        cache_dir: None,
    };
    let error = unless_busy(|| resolver.ask()).unwrap_err();
    match error.kind {
        PythonErrorKind::Resolve { stderr, .. } => assert_eq!(stderr, "pyenv: no such version"),
        other => panic!("unexpected {other:?}"),
    }
}

/// Runs `attempt` again while starting a just-written script fails with ETXTBSY.
///
/// Regression (flaky test): another test thread forking while this one still had the script
/// open for writing leaves a copy of that descriptor in the child until it execs; running the
/// script in that window fails with "Text file busy". The script did not run, so trying again
/// changes nothing else.
fn unless_busy<T>(attempt: impl Fn() -> Result<T, PythonError>) -> Result<T, PythonError> {
    const ETXTBSY: i32 = 26;
    let mut tries = 0;
    loop {
        match attempt() {
            Err(PythonError {
                kind: PythonErrorKind::Spawn(ref error),
                ..
            }) if error.raw_os_error() == Some(ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Issue 15: where bytecode is not written, the fork server compiles (never runs) a group file
/// several forked units load, and its forks load it with that code — unless the file changed
/// since (a unit that rewrites it is followed by one that runs the new code).
#[test]
fn a_group_file_the_server_compiled_is_loaded_with_that_code_until_it_changes() {
    let fixture = Fixture::new("compiled");
    let path = fixture.file(
        "shared.py",
        "VERSION = 'old'\ndef f():\n    return VERSION\n",
    );
    let script = r#"
import os, sys
import testrium._runner as runner
group, path = sys.argv[1], sys.argv[2]
runner._warm(group, "compile", "shared")
runner._warm(group, "compile", "missing")  # no such file: nothing, no error
code = runner._COMPILED[path][2]
first = runner._load_file("shared", path)
print(first.f(), any(c is first.f.__code__ for c in code.co_consts), sorted(runner._COMPILED) == [path])
with open(path, "w") as handle:
    handle.write("VERSION = 'newer'\ndef f():\n    return VERSION\n")
second = runner._load_file("shared_again", path)
print(second.f(), any(c is second.f.__code__ for c in code.co_consts))
"#;
    let output = std::process::Command::new(python())
        .arg("-B")
        .arg("-c")
        .arg(script)
        .arg(fixture.group())
        .arg(&path)
        .env("PYTHONPATH", fixture.runtime.package_dir())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "old True True\nnewer False\n"
    );
}
