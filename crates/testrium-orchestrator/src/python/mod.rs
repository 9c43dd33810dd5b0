//! The Python bridge: how the runner starts Python code of a test group written for the
//! original Testrium (entrypoint units, `setup.py`'s `main()`, direct test functions and the
//! `validate_test` / `tests_results` callbacks).
//!
//! [`PythonRuntime::prepare`] resolves the real interpreter once (not the pyenv shim) and
//! writes a standard-library-only `testrium` package plus a bootstrap script into
//! `<run_dir>/python/`; the `*_command` methods build the [`std::process::Command`]s the
//! orchestrator spawns (it adds the environment, process group, output capture).
//! [`parse_direct_results`] reads what the direct-tests process wrote.

mod error;
mod interpreter;
mod results;
mod runtime;

#[cfg(test)]
mod tests;

pub(crate) use self::{
    results::{DirectTestsInput, PriorResult, parse_direct_results},
    runtime::{PythonRuntime, needs_direct_tests},
};
