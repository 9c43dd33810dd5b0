//! The Python bridge: how the runner starts Python code of a test group written for the
//! original Testrium (entrypoint units, `setup.py`'s `main()`, direct test functions and the
//! `validate_test` / `tests_results` callbacks).
//!
//! [`PythonRuntime::prepare`] resolves the real interpreter once (not the pyenv shim; cached in
//! memory and in `~/.cache/testrium/`) and installs a standard-library-only `testrium` package
//! plus a bootstrap script (in a content-addressed folder of the user cache, byte-compiled
//! once; in `<run_dir>/python/` when the cache cannot be written). The `*_command` methods
//! build the [`std::process::Command`]s the orchestrator spawns (it adds the environment,
//! process group and output capture): `entrypoint_command` (and its pre-warmed variant
//! `entrypoint_command_gated`), `setup_command`, `direct_tests_command`.
//! [`DirectTestsInput`] is what the direct-tests process reads, [`parse_direct_results`] what
//! it wrote. The runner's package comes first on the import path of every process started
//! this way, so it takes precedence over an installed original `testrium`. Every other process
//! of a run (a `command` unit, a `setup` program) gets the same folder first on `PYTHONPATH`
//! ([`runner_package_dir`], [`python_path_with`]): the files are written without starting an
//! interpreter, so a group with no Python pays a few small file checks.
//!
//! The Python side: `bootstrap.py` (the script, a stub), `runner.py` (`testrium._runner`: the
//! modes), `utils.py` (`testrium.common.utils`), `sql_pool.py` (`testrium.common.sql_pool`), the `__init__` files; the probe client
//! `testrium.modules.events` comes from `testrium_events::PYTHON_EVENTS_MODULE`.

mod error;
mod interpreter;
mod results;
mod runtime;

#[cfg(test)]
mod tests;

pub(crate) use self::{
    interpreter::fnv1a,
    results::{DirectTestsInput, PriorResult, UnitDetail, parse_direct_results},
    runtime::{
        PythonRuntime, needs_direct_tests, python_path_with, runner_package_dir,
        shared_runner_package_dir,
    },
};
