"""How the runner starts Python code of a test group (``testrium._runner``), called by the
``testrium_bootstrap.py`` script next to the package. Standard library only. Modes:

    testrium_bootstrap.py entrypoint GROUP_DIR MODULE FUNCTION
        run ``MODULE:FUNCTION`` of a unit; when it raises, record the Exception probe
        ``testrium-unit-exception:<Type>`` with ``{"message": str(exc)}``, print the
        traceback to stderr and exit 1. When the module itself or the function does not
        exist, the unit could not be started: say so on stderr, write the reason to
        ``$TESTRIUM_RUN_DIR/spawn-failed/<unit>`` (the runner reports ``spawn_failed``) and
        exit 1.
    testrium_bootstrap.py entrypoint-gated GROUP_DIR MODULE FUNCTION
        the same, pre-warmed: import what every unit needs (no user code), then wait until the
        run database's UnitStatus of TESTRIUM_UNIT says ``starting`` (or later) before running;
        ``failed`` or ``stopped`` first: exit 0 without running anything.
    testrium_bootstrap.py setup GROUP_DIR SETUP_PY
        run ``main()`` of the group's setup.py; exit 1 when it raises.
    testrium_bootstrap.py tests GROUP_DIR INPUT_JSON OUTPUT_JSON
        run the group's direct test functions and callbacks; write the results.
    testrium_bootstrap.py tests-gated GROUP_DIR INPUT_JSON OUTPUT_JSON
        the same, pre-warmed: import what the tests need (no user code), then wait until
        INPUT_JSON exists (the runner writes it atomically when the units are done).
    testrium_bootstrap.py fork-server GROUP_DIR [MODULE ...]
        the fork server: import what units need (no user code), then serve requests on
        stdin, each answered by one line on stdout. While no request waits, it imports, one
        at a time, more modules units and tests may need (``_WARM_LATER``) and, where
        bytecode is not written (``sys.dont_write_bytecode``), compiles (never runs) each
        group file ``MODULE`` (entrypoint modules several units share), so that its forks
        do not compile it again. A request is ``LENGTH\n`` then LENGTH bytes: NUL-separated
        UTF-8 fields ``RUNNER_PID, UNIT (empty: none), CWD, LOG, N, ARG*N, M, (NAME, VALUE)*M,
        K, NAME*K``. It starts the arguments (``entrypoint``/``tests`` mode and theirs, as
        they would be given to this script) in a fork of the server, exactly as the exec'd
        interpreter would run (its environment is the server's with the M variables set and
        the K removed): in a process group of its own, a child of the runner (one
        ``clone(CLONE_PARENT)`` where it can, see ``_clone_parent``; else the server forks
        twice and the unit is re-parented to the runner, a child subreaper), killed when the
        runner dies, with that environment, working directory, stdin from /dev/null and
        stdout/stderr appended to LOG. The answer is ``pid PID``; ``exec REASON`` when the
        unit must get a fresh interpreter (an interpreter setting in its environment differs
        from the server's); ``error TEXT`` when the fork failed. End of file on stdin ends
        the server. Single-threaded, no database connection: a fork inherits nothing it must
        not.
"""

import os
import sys

EXIT_FAILED = 1
EXIT_USAGE = 2


def _prepare_path(group_dir):
    # sys.path[0] is this file's directory (the runner's package). The group folder comes
    # last: its modules are importable by name (the original could not import them at all),
    # but a group file named like a module of the standard library or of an installed
    # package (queue.py, logging.py, a test/ folder) does not shadow that module, as it did
    # not in the original, which never put the group folder on the path of user code.
    group_dir = os.path.abspath(group_dir)
    while group_dir in sys.path:
        sys.path.remove(group_dir)
    sys.path.append(group_dir)
    _ensure_runner_package()
    return group_dir


def _ensure_runner_package():
    """Keep the runner's package first on the import path (``PYTHONSAFEPATH`` drops the
    script's directory)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not sys.path or os.path.abspath(sys.path[0] or ".") != here:
        sys.path.insert(0, here)


def _load_file(module_name, path, register=True):
    # `importlib.util` has these too, but imports `contextlib` (3 ms here) to have them.
    import importlib.machinery

    loader = None
    if path in _COMPILED:
        loader = _compiled_loader(module_name, path)
    spec = importlib._bootstrap_external.spec_from_file_location(module_name, path, loader=loader)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib._bootstrap.module_from_spec(spec)
    registered = register and module_name not in sys.modules
    if registered:
        sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if registered:
            sys.modules.pop(module_name, None)
        raise
    return module


def _compiled_loader(module_name, path):
    """A loader of the group file ``path`` that runs the code the fork server compiled from
    it while the file is unchanged (else compiles it, as for any source file)."""
    import importlib.machinery

    class CompiledLoader(importlib.machinery.SourceFileLoader):
        def get_code(self, fullname):
            mtime, size, code = _COMPILED.get(self.path, (None, None, None))
            try:
                stat = os.stat(self.path)
            except OSError:
                code = None
            else:
                if (stat.st_mtime_ns, stat.st_size) != (mtime, size):
                    code = None
            return code if code is not None else super().get_code(fullname)

    return CompiledLoader(module_name, path)


def _is_group_module(group_dir, module_name):
    """Whether importing ``module_name`` (its top-level package) finds the group's own file
    or folder, not a module of the standard library or of an installed package."""
    import importlib.machinery

    top = module_name.split(".", 1)[0]
    if top in sys.builtin_module_names:
        return False
    loaded = sys.modules.get(top)
    if loaded is not None:
        return _inside(group_dir, getattr(loaded, "__file__", None)) or any(
            _inside(group_dir, location) for location in getattr(loaded, "__path__", ())
        )
    try:
        if importlib.machinery.FrozenImporter.find_spec(top) is not None:
            return False
        spec = importlib.machinery.PathFinder.find_spec(top, sys.path)
    except Exception:  # a broken path entry: load the file by path, as the original did
        return False
    if spec is None:
        return False
    locations = list(spec.submodule_search_locations or ())
    return _inside(group_dir, spec.origin) or any(
        _inside(group_dir, location) for location in locations
    )


def _inside(group_dir, path):
    if not isinstance(path, str) or not path:
        return False
    path = os.path.abspath(path)
    return path == group_dir or path.startswith(group_dir.rstrip(os.sep) + os.sep)


def _load_entrypoint(group_dir, module_name, function_name):
    import importlib

    module_path = os.path.join(group_dir, *module_name.split(".")) + ".py"
    if os.path.isfile(module_path):
        if not _is_group_module(group_dir, module_name):
            # The name belongs to another module (queue.py, test/unit.py): load the file by
            # path under the original's name for it, leaving the real module alone.
            module = _load_file(
                "testrium_entrypoint_" + module_name.replace(".", "_"), module_path
            )
        elif "." not in module_name:
            # Load the group's file even when a module of that name is already imported.
            module = _load_file(module_name, module_path)
        else:
            module = importlib.import_module(module_name)
    else:
        # A package (module/__init__.py) or a module found elsewhere: imported with the group
        # folder first on the path for the time of the import, as the original did.
        sys.path.insert(0, group_dir)
        try:
            module = importlib.import_module(module_name)
        finally:
            if sys.path and sys.path[0] == group_dir:
                sys.path.pop(0)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise _EntrypointMissing(
            f"entrypoint `{module_name}:{function_name}`: module `{module_name}` has no "
            f"function `{function_name}`"
        )
    return function


class _EntrypointMissing(Exception):
    """The entrypoint's module or function does not exist: the unit cannot be started."""


def _module_missing(exc, module_name):
    """Whether `exc` says the entrypoint's own module (or a package on its path) is missing,
    not a module that the entrypoint's code imports."""
    missing = getattr(exc, "name", None)
    return isinstance(exc, ModuleNotFoundError) and bool(missing) and (
        module_name == missing or module_name.startswith(missing + ".")
    )


def _report_spawn_failure(unit, message):
    run_dir = os.environ.get("TESTRIUM_RUN_DIR")
    if not run_dir or not unit:
        return
    try:
        folder = os.path.join(run_dir, "spawn-failed")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, unit), "w", encoding="utf-8") as handle:
            handle.write(message)
    except OSError:
        pass  # the exit status and stderr still tell


def _unit_name(default):
    return os.environ.get("TESTRIUM_UNIT") or default


def run_entrypoint(group_dir, module_name, function_name):
    group_dir = _prepare_path(group_dir)
    missing = None
    try:
        function = _load_entrypoint(group_dir, module_name, function_name)
    except _EntrypointMissing as exc:
        missing = str(exc)
    except ModuleNotFoundError as exc:
        if not _module_missing(exc, module_name):
            return _unit_raised(group_dir, module_name, exc)
        missing = (
            f"entrypoint `{module_name}:{function_name}`: no module `{module_name}` in "
            f"{group_dir} (nor on the import path)"
        )
    except Exception as exc:
        return _unit_raised(group_dir, module_name, exc)
    if missing is not None:
        print(f"testrium: {missing}", file=sys.stderr)
        _report_spawn_failure(_unit_name(module_name), missing)
        return EXIT_FAILED
    try:
        function()
    except Exception as exc:
        return _unit_raised(group_dir, module_name, exc)
    return 0


def _unit_raised(group_dir, module_name, exc):
    """The unit's code raised (called inside the `except` clause): its traceback on stderr,
    its Exception probe recorded, exit 1."""
    import traceback

    traceback.print_exc()
    _record_exception(group_dir, _unit_name(module_name), exc)
    return EXIT_FAILED


# Statuses that release a gated unit, and those that mean it will never be released.
_RELEASED = {"starting", "ready", "running", "finished"}
_ABANDONED = {"failed", "stopped"}
_GATE_POLL_MIN = 0.001
_GATE_POLL_MAX = 0.01


def run_entrypoint_gated(group_dir, module_name, function_name):
    import importlib.util  # noqa: F401 - what loading the entrypoint needs
    import sqlite3

    import testrium.modules.events  # noqa: F401 - the probe client every unit imports

    unit = os.environ.get("TESTRIUM_UNIT")
    database = os.environ.get("TESTRIUM_EVENT_DB")
    if unit and database and not _wait_for_release(sqlite3, database, unit):
        return 0
    return run_entrypoint(group_dir, module_name, function_name)


def _wait_for_release(sqlite3, database, unit):
    """Wait until the unit's status releases it (True) or abandons it (False). Reads the
    status only when another connection committed (``PRAGMA data_version``); polls every
    millisecond while the database changes, backing off to 10 ms while it is quiet."""
    import time

    connection = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        seen = None
        delay = _GATE_POLL_MIN
        while True:
            version = connection.execute("PRAGMA data_version").fetchone()[0]
            if version != seen:
                seen = version
                delay = _GATE_POLL_MIN
                try:
                    row = connection.execute(
                        "SELECT Status FROM UnitStatus WHERE Unit = ?", (unit,)
                    ).fetchone()
                except sqlite3.OperationalError:  # not created yet, or busy: look again
                    row = None
                    seen = None
                status = row[0] if row else None
                if status in _RELEASED:
                    return True
                if status in _ABANDONED:
                    return False
            else:
                delay = min(delay * 2, _GATE_POLL_MAX)
            time.sleep(delay)
    finally:
        connection.close()


def _record_exception(group_dir, unit, exc):
    try:
        from testrium.modules.events import Events_Manager

        Events_Manager(Unit=unit, path=group_dir).Set_Event(
            f"testrium-unit-exception:{type(exc).__name__}",
            event_type="Exception",
            metadata={"message": str(exc)},
        )
    except Exception as record_error:  # the unit failed anyway; say why it is not recorded
        print(
            f"testrium: cannot record the exception probe: {record_error!r}",
            file=sys.stderr,
        )


def run_setup(group_dir, setup_path):
    _prepare_path(group_dir)
    try:
        module = _load_file("testrium_setup_module", setup_path)
        main = getattr(module, "main", None)
        if not callable(main):
            raise AttributeError(f"{setup_path} does not define main()")
        main()
    except Exception as exc:
        import traceback

        traceback.print_exc()
        print(f"An error occurred in run_setup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


# ---------------------------------------------------------------------------------------
# Direct test functions and callbacks (the original's loaders.py + run_test_functions).

_NOT_TESTS = {"test_config", "tests_results", "test_results"}


class _Result:
    __slots__ = ("name", "kind", "passed", "duration", "message", "traceback", "file",
                 "priority", "parallelize")

    def __init__(self, name, kind, file=None, priority=0, parallelize=False):
        self.name = name
        self.kind = kind
        self.passed = False
        self.duration = 0.0
        self.message = None
        self.traceback = None
        self.file = file
        self.priority = priority
        self.parallelize = parallelize

    def fail(self, message, with_traceback=False):
        self.passed = False
        self.message = message
        if with_traceback:
            import traceback

            self.traceback = traceback.format_exc()

    def as_json(self):
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def as_original(self):
        """The dict the original put into ``tests_results`` (plus a message)."""
        result = {"name": self.name, "passed": self.passed, "total_time": self.duration}
        if self.message is not None:
            result["message"] = self.message
        return result


def _describe(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(result, function, *args):
    """Call ``function``; on an exception fail ``result`` and return ``(False, None)``."""
    try:
        return True, function(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit from a test fails the test, not the run
        result.fail(_describe(exc), with_traceback=True)
        return False, None


def _run_one(name, function, result, validate_test):
    import time

    start = time.perf_counter()
    ok, _ = _call(result, function)
    if ok and validate_test is not None:
        ok, accepted = _call(result, validate_test, name)
        if ok and not accepted:
            ok = False
            result.fail(f"validate_test({name!r}) returned {accepted!r}")
    result.passed = ok
    result.duration = time.perf_counter() - start


def _collect(group_dir):
    """Load every eligible file once; return (load results, tests, callbacks)."""
    load_results = []
    tests = []  # (name, function, file)
    callbacks = {"validate_test": None, "tests_results": None}
    seen_functions = {}
    files = sorted(
        name for name in os.listdir(group_dir)
        if name.endswith(".py") and not name.startswith("_")
        and os.path.isfile(os.path.join(group_dir, name))
    )
    for filename in files:
        module_name = filename[:-3]
        load = _Result(f"load {filename}", "load", file=filename)
        # Registered under its own name only when that name finds this file (a tests file
        # named queue.py must not replace the standard library's queue).
        ok, module = _call(
            load, _load_file, module_name, os.path.join(group_dir, filename),
            _is_group_module(group_dir, module_name),
        )
        if not ok:
            load_results.append(load)
            continue
        for attr in dir(module):
            value = getattr(module, attr, None)
            # The original looks for callbacks in every file, setup.py included.
            if attr in callbacks and callable(value):
                callbacks[attr] = value
            if filename == "setup.py" or not attr.startswith("test_") or attr in _NOT_TESTS:
                continue
            if not callable(value) or id(value) in seen_functions:
                continue
            seen_functions[id(value)] = attr
            tests.append((attr, value, filename))
    # A name defined in two files runs twice (the original silently kept one): qualify it.
    counts = {}
    for name, _, _ in tests:
        counts[name] = counts.get(name, 0) + 1
    tests = [
        (name if counts[name] == 1 else f"{filename[:-3]}.{name}", function, filename)
        for name, function, filename in tests
    ]
    return load_results, tests, callbacks


def _schedule(tests):
    """Group tests by priority (ascending); each group is (sequential, parallel)."""
    groups = {}
    invalid = []
    for name, function, filename in tests:
        priority = getattr(function, "testrium_priority", 0)
        parallelize = bool(getattr(function, "testrium_parallelize", False))
        result = _Result(name, "test", file=filename, priority=priority, parallelize=parallelize)
        if isinstance(priority, bool) or not isinstance(priority, (int, float)):
            result.priority = None
            result.fail(f"test_config priority must be a number, not {priority!r}")
            invalid.append(result)
            continue
        sequential, parallel = groups.setdefault(priority, ([], []))
        (parallel if parallelize else sequential).append((name, function, result))
    return [groups[p] for p in sorted(groups)], invalid


def _run_tests(tests, validate_test):
    groups, results = _schedule(tests)
    for sequential, parallel in groups:
        for name, function, result in sequential:
            _run_one(name, function, result, validate_test)
            results.append(result)
        if parallel:
            import threading

            threads = [
                threading.Thread(
                    target=_run_one, args=(name, function, result, validate_test),
                    name=name, daemon=True,
                )
                for name, function, result in parallel
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            results.extend(result for _, _, result in parallel)
    return results


def _summary_inputs(spec):
    """The probe report and correlations for ``tests_results``: from the runner when it
    gave them, otherwise computed from the run database now (after the tests ran)."""
    required = spec.get("required")
    correlations = spec.get("correlations")
    if required is None or correlations is None:
        from testrium.modules.events import Events_Manager

        database = spec.get("db") or os.environ.get("TESTRIUM_EVENT_DB") or "."
        manager = Events_Manager(Unit="*", path=database)
        if required is None:
            required = manager.verify_required_events(spec.get("units", []))
        if correlations is None:
            correlations = manager.correlate_send_receive()
    return required, correlations


def run_tests(group_dir, input_path, output_path):
    import json
    import time

    group_dir = _prepare_path(group_dir)
    with open(input_path, encoding="utf-8") as handle:
        spec = json.load(handle)

    load_results, tests, callbacks = _collect(group_dir)
    results = list(load_results)
    results.extend(_run_tests(tests, callbacks["validate_test"]))

    tail = callbacks["tests_results"]
    if tail is not None:
        tail_result = _Result("tests_results", "callback")
        start = time.perf_counter()
        tests_completed = list(spec.get("prior_results", []))
        tests_completed.extend(result.as_original() for result in results)
        ok, inputs = _call(tail_result, _summary_inputs, spec)
        if ok:
            required, correlations = inputs
            data = {
                "duration": sum(test.get("total_time", 0.0) for test in tests_completed),
                "passed": all(test.get("passed", False) for test in tests_completed),
                "tests_results": tests_completed,
                "events_completed": required["completed"],
                "events_missing": required["missing"],
                "correlations": correlations,
            }
            ok, accepted = _call(tail_result, tail, data)
            if ok and not accepted:
                ok = False
                tail_result.fail(f"tests_results(data) returned {accepted!r}")
        tail_result.passed = ok
        tail_result.duration = time.perf_counter() - start
        results.append(tail_result)

    document = {
        "version": 1,
        "tests": [result.as_json() for result in results],
        "callbacks": {name: fn is not None for name, fn in callbacks.items()},
    }
    temporary = f"{output_path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, default=repr)
    os.replace(temporary, output_path)
    return 0 if all(result.passed for result in results) else EXIT_FAILED


def run_tests_gated(group_dir, input_path, output_path):
    import json  # noqa: F401 - what run_tests needs, loaded while the units run
    import sqlite3  # noqa: F401
    import threading  # noqa: F401
    import time
    import traceback  # noqa: F401

    import testrium.common.utils  # noqa: F401
    import testrium.modules.events  # noqa: F401

    delay = _GATE_POLL_MIN
    while not os.path.exists(input_path):
        time.sleep(delay)
        delay = min(delay * 2, _GATE_POLL_MAX / 2)
    return run_tests(group_dir, input_path, output_path)


# ---------------------------------------------------------------------------------------
# The fork server.

# The runner starts the server with TESTRIUM_UNIT set to this many spaces: a slot in the
# initial environment block (what /proc/<pid>/environ shows, and how the runner finds a unit's
# processes that left its process group) that each fork overwrites with its unit's name.
_UNIT_SLOT = 255
# Environment variables the interpreter reads when it starts: a unit whose value differs from
# the server's must get a fresh interpreter.
_INTERPRETER_ENV = ("PYTHON", "LC_", "LANG")
# Fault injection for the runner's tests of its fallback (never set by users): `exit` (the
# server ends at once), `die` (it ends on the first request), `hang` (it never answers),
# `double-fork` (units are made by two forks, as where `clone(CLONE_PARENT)` is refused).
_FAULT_ENV = "TESTRIUM_FORK_SERVER_FAULT"
# `clone` and its system call number, where the server makes units with one clone.
_CLONE_PARENT = 0x00008000
_SIGCHLD = 17
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}


def _clone_parent():
    """A function that makes a fork of this process whose parent is this process's parent
    (the runner), as ``os.fork`` does (``PyOS_BeforeFork``, the system call,
    ``PyOS_AfterFork_Child``/``_Parent``: the interpreter's locks, threads and at-fork hooks
    are looked after exactly as for ``os.fork``); or None where the machine has no such call
    here. It returns 0 in the fork, its pid in the server, and raises OSError when refused.

    Why: with ``os.fork`` the unit would be the server's child; two forks (the middle one
    exiting at once so the unit is re-parented to the runner) cost the server 1.4 ms more per
    unit (500 units: 0.7 s of the server's one-at-a-time work). The raw call skips only what
    glibc's ``fork`` adds for multi-threaded processes, and the server has one thread."""
    import ctypes

    number = _SYS_CLONE.get(os.uname().machine)
    if number is None:
        return None
    try:
        # PyDLL: the GIL stays held across the call, as os.fork holds it across fork().
        syscall = ctypes.PyDLL(None, use_errno=True).syscall
        api = ctypes.pythonapi
        before, child, parent = (
            api.PyOS_BeforeFork,
            api.PyOS_AfterFork_Child,
            api.PyOS_AfterFork_Parent,
        )
    except (AttributeError, OSError):
        return None
    syscall.restype = ctypes.c_long
    syscall.argtypes = [ctypes.c_long, ctypes.c_ulong] + [ctypes.c_void_p] * 4
    for function in (before, child, parent):
        function.restype = None
        function.argtypes = []

    def clone():
        before()
        pid = syscall(number, _CLONE_PARENT | _SIGCHLD, None, None, None, None)
        if pid == 0:
            child()
            return 0
        error = ctypes.get_errno()
        parent()
        if pid < 0:
            raise OSError(error, os.strerror(error))
        return pid

    return clone


# Modules units and the direct tests may need, imported by the server while no request waits
# (one at a time: a request is answered before the next import), so that later forks have
# them; in dependency order, so that each step is short (1-2 ms here). A fork made earlier
# imports what it needs itself. `json` is not needed to serve: requests are not JSON.
_WARM_LATER = (
    "enum",
    "functools",
    "re",
    "json",
    "collections",
    "contextlib",
    "threading",
    "linecache",
    "textwrap",
    "traceback",
    "importlib.util",
    "fnmatch",
    "shutil",
    "testrium.common.utils",
)


def run_fork_server(group_dir, *modules):
    import ctypes
    import gc
    import importlib.machinery  # noqa: F401 - what loading an entrypoint needs
    import sqlite3  # noqa: F401
    import time

    import testrium.modules.events  # noqa: F401 - the probe client every unit imports

    fault = os.environ.get(_FAULT_ENV)
    if fault == "exit":
        return EXIT_FAILED
    libc = ctypes.CDLL(None, use_errno=True)
    clone = None if fault == "double-fork" else _clone_parent()
    later = [("compile", m) for m in modules if sys.dont_write_bytecode]
    later += [("import", m) for m in _WARM_LATER]
    if later:
        # Looked at without waiting while there is work for idle time.
        os.set_blocking(0, False)
    pending = b""
    while True:
        payload, pending = _take_request(pending)
        if payload is None:
            try:
                chunk = os.read(0, 65536)
            except BlockingIOError:
                _warm(group_dir, *later.pop(0))
                if not later:
                    os.set_blocking(0, True)
                continue
            if not chunk:
                return 0
            pending += chunk
            continue
        if fault == "die":
            return EXIT_FAILED
        if fault == "hang":
            while True:
                time.sleep(3600)
        try:
            request = _parse_request(payload)
            reason = _needs_exec(request)
            if reason is not None:
                reply, argv = f"exec {reason}", None
            else:
                # What the server holds goes to the permanent generation: a fork's collector
                # never walks it, so fewer of the pages it shares with the server are copied.
                gc.freeze()
                if clone is not None:
                    try:
                        reply, argv = _clone_unit(request, libc, clone)
                    except OSError:
                        # Refused (a seccomp filter, a pid namespace's init): two forks from
                        # now on.
                        clone = None
                if clone is None:
                    reply, argv = _fork_unit(request, libc)
        except Exception as exc:  # a bad request: say so, keep serving
            reply, argv = f"error fork server: {exc!r}", None
        if argv is not None:
            # This process is the unit now: run it as the exec'd interpreter would.
            _run_forked(argv)
        if reply is not None:  # else answered already
            _answer(reply)


def _take_request(pending):
    """The payload of the first whole request in ``pending`` (None if there is none yet) and
    what follows it."""
    end = pending.find(b"\n")
    if end < 0:
        return None, pending
    size = int(pending[:end])
    if len(pending) - end - 1 < size:
        return None, pending
    return pending[end + 1 : end + 1 + size], pending[end + 1 + size :]


def _parse_request(payload):
    fields = iter(payload.decode().split("\0"))

    def many():
        return [next(fields) for _ in range(int(next(fields)))]

    request = {"runner": int(next(fields)), "unit": next(fields) or None}
    request["cwd"] = next(fields)
    request["log"] = next(fields)
    request["argv"] = many()
    pairs = [next(fields) for _ in range(2 * int(next(fields)))]
    request["env_set"] = dict(zip(pairs[0::2], pairs[1::2]))
    request["env_unset"] = many()
    return request


def _answer(reply):
    os.write(1, (reply.replace("\n", " ") + "\n").encode())


# Code objects of group files compiled by the server: path -> (mtime_ns, size, code).
_COMPILED = {}


def _warm(group_dir, kind, name):
    """One step of the server's idle time: import module ``name``, or compile (never run)
    the group file of entrypoint module ``name``. Best effort: a failure here is the fork's
    to meet, as it would be without a server."""
    try:
        if kind == "import":
            __import__(name)
            return
        path = os.path.join(os.path.abspath(group_dir), *name.split(".")) + ".py"
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            source = handle.read()
        # What SourceFileLoader compiles (importlib._bootstrap_external.source_to_code).
        code = compile(source, path, "exec", dont_inherit=True, optimize=-1)
        _COMPILED[path] = (stat.st_mtime_ns, stat.st_size, code)
    except Exception:
        pass


def _run_forked(argv):
    """Runs the bootstrap mode ``argv`` in this fork and exits as the interpreter would at
    the end of the script — non-daemon threads joined, then the atexit handlers, output
    flushed, ``sys.exit``'s code — without the finalization of every object the server
    imported (it would copy most of the pages the fork shares with the server)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    import atexit

    # As the interpreter's exit: non-daemon threads joined (none where `threading` was never
    # imported: importing it here would cost 3 ms).
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        try:
            print(code, file=sys.stderr)
        except Exception:
            pass
        code = EXIT_FAILED
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code & 0xFF)


def _needs_exec(request):
    for key in list(request["env_set"]) + list(request["env_unset"]):
        if key.startswith(_INTERPRETER_ENV):
            return f"`{key}` differs from the fork server's"
    unit = request.get("unit")
    if unit is not None and len(unit.encode()) > _UNIT_SLOT:
        return "the unit's name is longer than the fork server's marker slot"
    return None


def _clone_unit(request, libc, clone):
    """Makes the unit with one ``clone`` (a child of the runner from its birth). Returns as
    ``_fork_unit``; raises OSError (nothing made) when the call is refused."""
    go_read, go_write = os.pipe()
    try:
        unit = clone()
    except OSError:
        os.close(go_read)
        os.close(go_write)
        raise
    if unit == 0:
        try:
            os.close(go_write)
            # Its own process group is set first thing in `_become_unit`. The runner, its
            # parent, sets it too as soon as it reads the pid (whichever is first), so the
            # server does not wait for the unit to run before it answers.
            return None, _become_unit(request, libc, go_read)
        except BaseException as exc:
            try:
                os.write(2, f"testrium: cannot start the unit in a fork: {exc!r}\n".encode())
            finally:
                os._exit(EXIT_FAILED)
    os.close(go_read)
    return _answer_and_release(unit, go_write)


def _fork_unit(request, libc):
    """Forks twice: the grandchild is the unit, re-parented to the runner when the middle
    process exits. Returns ``(reply, None)`` in the server (``(None, None)`` once it answered
    itself), ``(None, argv)`` in the unit."""
    go_read, go_write = os.pipe()
    pid_read, pid_write = os.pipe()
    try:
        middle = os.fork()
    except OSError as exc:
        for fd in (go_read, go_write, pid_read, pid_write):
            os.close(fd)
        return f"error fork: {exc}", None
    if middle == 0:
        try:
            os.close(go_write)
            os.close(pid_read)
            unit = os.fork()
            if unit == 0:
                os.close(pid_write)
                try:
                    return None, _become_unit(request, libc, go_read)
                except BaseException as exc:
                    os.write(2, f"testrium: cannot start the unit in a fork: {exc!r}\n".encode())
                    os._exit(EXIT_FAILED)
            # Its own process group before the runner hears of it.
            os.setpgid(unit, unit)
            os.write(pid_write, str(unit).encode())
            os._exit(0)
        except BaseException:
            os._exit(EXIT_FAILED)
    os.close(go_read)
    os.close(pid_write)
    try:
        _, status = os.waitpid(middle, 0)
        data = b""
        while True:
            chunk = os.read(pid_read, 64)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(pid_read)
    if status != 0 or not data:
        os.close(go_write)  # a unit that was born reads end of file and exits
        return f"error fork: the middle process ended with status {status}", None
    # The middle process is reaped, so the unit is the runner's child now: tell the runner,
    # then let the unit go.
    return _answer_and_release(int(data), go_write)


def _answer_and_release(pid, go_write):
    """Tells the runner the unit's pid (the answer to its request), then lets the unit go."""
    _answer(f"pid {pid}")
    try:
        os.write(go_write, b"g")
    finally:
        os.close(go_write)
    return None, None


def _become_unit(request, libc, go_read):
    """In the grandchild: wait to be released, then become what the exec'd unit would be."""
    import _signal  # `signal` would import `enum` (2 ms here)

    try:
        os.setpgid(0, 0)
    except OSError:
        pass  # done already (by the middle process, or by the runner)
    released = os.read(go_read, 1) == b"g"
    os.close(go_read)
    if not released:
        # The server died before the runner heard of this process: it must run nothing.
        os._exit(EXIT_FAILED)
    # Killed when the runner dies, as an exec'd unit is (PR_SET_PDEATHSIG = 1).
    if libc.prctl(1, _signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != request["runner"]:
        os.kill(os.getpid(), _signal.SIGKILL)
    _write_unit_slot(request.get("unit"))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    # Only what differs from the server's environment: replacing all of it touched (and so
    # copied) some 140 pages the fork shared with the server.
    environ = os.environ
    for key in request["env_unset"]:
        environ.pop(key, None)
    for key, value in request["env_set"].items():
        environ[key] = value
    import time

    time.tzset()
    os.chdir(request["cwd"])
    return request["argv"]


def _write_unit_slot(unit):
    """Writes ``TESTRIUM_UNIT=<unit>`` (or nothing) over the slot of the initial environment
    block, so that /proc/<pid>/environ names the unit as it would for an exec'd one."""
    import ctypes

    try:
        with open("/proc/self/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        # Fields 50 and 51 (env_start, env_end); fields[0] is field 3.
        start, end = int(fields[47]), int(fields[48])
        block = ctypes.string_at(start, end - start)
        slot = b"TESTRIUM_UNIT=" + b" " * _UNIT_SLOT + b"\0"
        offset = block.find(b"\0" + slot)
        offset = 0 if block.startswith(slot) else offset + 1 if offset >= 0 else -1
        if offset < 0:
            return
        value = b"TESTRIUM_UNIT=" + unit.encode() if unit else b""
        value = value.ljust(len(slot) - 1, b"\0")
        ctypes.memmove(start + offset, value, len(value))
    except (OSError, ValueError, IndexError):
        pass  # the unit still runs; only a process it moves out of its group goes unnamed


def main(argv):
    modes = {
        "entrypoint": (run_entrypoint, 3),
        "entrypoint-gated": (run_entrypoint_gated, 3),
        "setup": (run_setup, 2),
        "tests": (run_tests, 3),
        "tests-gated": (run_tests_gated, 3),
        "fork-server": (run_fork_server, 1),
    }
    arity = modes[argv[1]][1] if len(argv) >= 2 and argv[1] in modes else -1
    # The fork server takes its group's folder, then any number of module names.
    variadic = len(argv) >= 2 and argv[1] == "fork-server"
    if arity < 0 or (len(argv) - 2 < arity if variadic else len(argv) - 2 != arity):
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE
    function, _ = modes[argv[1]]
    arguments = list(argv[2:])
    # User code must not see the runner's internal arguments (mode, folders, file paths) as
    # its command line: an entrypoint, setup or test that reads `sys.argv` or calls argparse
    # sees only the program name.
    del sys.argv[1:]
    return function(*arguments)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
