//! Test groups as `cargo test` cases: a test target with `harness = false` whose `main` turns
//! every group under a folder into one test case.
//!
//! Built on [`libtest_mimic`], so `cargo test` and `cargo nextest run` treat the groups like
//! any other tests: a name filter and `--exact`, `--skip`, `--list`, `--ignored` /
//! `--include-ignored`, `--test-threads`, `--format`, and the usual summary and exit status.
//!
//! ```toml
//! [dev-dependencies]
//! testrium = "0.4"
//!
//! [[test]]
//! name = "groups"      # tests/groups.rs
//! harness = false
//! ```
//!
//! ```no_run
//! // tests/groups.rs
//! fn main() {
//!     testrium::harness::main("tests/groups");
//! }
//! ```
//!
//! `cargo test --test groups -- test_login` then runs the groups whose name contains
//! `test_login`. The folder is relative to the working directory, which `cargo test` and
//! nextest set to the package's folder.
//!
//! # The cases
//!
//! Groups are found with [`testrium_config::discover`]; each case is named after its group
//! folder.
//!
//! - A valid, enabled group runs with [`Run`] when its case runs, one [`Run`] per case (cases
//!   run concurrently, on `--test-threads` threads): runs land in
//!   `<folder>/.testrium/runs/`, no signal handler is installed. The case passes when the
//!   group's outcome passed; otherwise it fails with the verdict's text
//!   ([`Verdict::render_text`](testrium_verify::Verdict::render_text): missing probes,
//!   orphans, failed units with the tail of their log…) and the run directory as its message.
//! - A group that does not validate is a failing case whose message is its diagnostics, with
//!   file, line and column.
//! - A disabled group (`enabled = false`) and a hidden one (`.test_wip/`) are ignored cases:
//!   listed, counted as ignored, never run (not even with `--include-ignored`).
//! - When the folder cannot be read, or holds no test group, there is one failing case,
//!   `testrium::discover`, that says so: a harness pointed at the wrong folder does not pass
//!   by running nothing.
//!
//! # What units find on their `PATH`
//!
//! Units inherit the test's environment. In front of its `PATH` the harness puts the folders
//! given to [`Harness::prepend_path`], then the target folder the test binary was built in
//! (`target/debug` for `target/debug/deps/groups-…`), where cargo puts the binaries of the
//! package under test (a `src/bin/server.rs` is found as `server`) and, when it was built in
//! the same target folder, the `testrium` binary. Units that need nothing else:
//!
//! - Python `entrypoint` units: `python3`; the runner provides the `testrium` Python module.
//! - Units in Rust that record probes with `testrium_events::Probe`: their own binaries.
//! - Shell units calling `testrium emit` / `testrium wait` need the `testrium` command:
//!   installed (`cargo install testrium-cli`, on `PATH`), built in the same target folder
//!   (`cargo build -p testrium-cli` in a workspace that has it), or its folder given to
//!   [`Harness::prepend_path`].
//!
//! Anything else about the runs (grace period, environment, timeouts) is set per run with
//! [`Harness::configure`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `libtest-mimic` this harness is built on, for trials of your own next to the groups'.
pub use libtest_mimic;
pub use libtest_mimic::{Arguments, Conclusion, Failed, Trial};
use testrium_config::{
    DiscoverOptions, Discovery, Group, SkipReason, discover, error_chain, escape_text,
};
use testrium_orchestrator::{GroupOutcome, Run};

/// The name of the failing case that reports a folder that cannot be read or holds no group.
pub const DISCOVER_CASE: &str = "testrium::discover";

type Configure = Arc<dyn Fn(Run) -> Run + Send + Sync>;

/// Runs every group under `dir` as a test case with the arguments of this process, and exits
/// as a test binary does: `Harness::new(dir).run()`.
pub fn main(dir: impl Into<PathBuf>) -> ! {
    Harness::new(dir).run()
}

/// The test cases of every group under a folder; see the [module documentation](self).
///
/// ```no_run
/// use std::time::Duration;
/// use testrium::harness::Harness;
///
/// Harness::new("tests/groups")
///     .exclude(["test_soak"])
///     .prepend_path(env!("CARGO_MANIFEST_DIR"))
///     .configure(|run| run.grace_period(Duration::from_millis(500)).env("RUST_LOG", "debug"))
///     .run();
/// ```
#[derive(Clone)]
pub struct Harness {
    dir: PathBuf,
    exclude: Vec<String>,
    path_prepend: Vec<PathBuf>,
    target_dir_on_path: bool,
    configure: Option<Configure>,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("dir", &self.dir)
            .field("exclude", &self.exclude)
            .field("path_prepend", &self.path_prepend)
            .field("target_dir_on_path", &self.target_dir_on_path)
            .field("configure", &self.configure.is_some())
            .finish()
    }
}

impl Harness {
    /// The groups under `dir` (relative to the working directory: the package's folder under
    /// `cargo test`). Runs land in `<dir>/.testrium/runs/`.
    pub fn new(dir: impl Into<PathBuf>) -> Harness {
        Harness {
            dir: dir.into(),
            exclude: Vec::new(),
            path_prepend: Vec::new(),
            target_dir_on_path: true,
            configure: None,
        }
    }

    /// Leaves these group folders out: not listed, not run (`testrium --less`).
    #[must_use]
    pub fn exclude<I, S>(mut self, names: I) -> Harness
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude.extend(names.into_iter().map(Into::into));
        self
    }

    /// Puts `dir` in front of the units' `PATH`, after the folders given before and before the
    /// test binary's target folder.
    #[must_use]
    pub fn prepend_path(mut self, dir: impl Into<PathBuf>) -> Harness {
        self.path_prepend.push(dir.into());
        self
    }

    /// Whether to put the target folder the test binary was built in (`target/debug`) on the
    /// units' `PATH` (default true).
    #[must_use]
    pub fn target_dir_on_path(mut self, enabled: bool) -> Harness {
        self.target_dir_on_path = enabled;
        self
    }

    /// Sets up each group's [`Run`] (grace period, environment, timeout override…) before it
    /// executes. Called once per case, on the thread that runs it.
    #[must_use]
    pub fn configure(mut self, configure: impl Fn(Run) -> Run + Send + Sync + 'static) -> Harness {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// The test cases, one per group (plus [`DISCOVER_CASE`] when the folder cannot be read
    /// or holds no group), for a caller that adds its own trials before
    /// [`libtest_mimic::run`].
    pub fn trials(&self) -> Vec<Trial> {
        let base = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        let options = DiscoverOptions::new().exclude(self.exclude.iter().cloned());
        let discovery = match discover(&base, &options) {
            Ok(discovery) => discovery,
            Err(e) => {
                let message = error_chain(&e);
                return vec![Trial::test(DISCOVER_CASE, move || Err(message.into()))];
            }
        };
        let path = self.unit_path();
        let mut cases = cases(&discovery, &base, &path, self.configure.as_ref());
        if cases.is_empty() {
            let message = format!("no test group found under `{}`", base.display());
            cases.push(Trial::test(DISCOVER_CASE, move || Err(message.into())));
        }
        cases
    }

    /// Runs the cases as `args` ask (filter, list, threads…) and returns the counts. Prints
    /// like `cargo test` does.
    pub fn run_with(&self, args: &Arguments) -> Conclusion {
        libtest_mimic::run(args, self.trials())
    }

    /// Runs the cases as this process's arguments ask, then exits with libtest's status: 0
    /// when no case failed, 101 otherwise.
    pub fn run(&self) -> ! {
        self.run_with(&Arguments::from_args()).exit()
    }

    /// The folders to put in front of the units' `PATH`, first first.
    fn unit_path(&self) -> Vec<PathBuf> {
        let mut path = self.path_prepend.clone();
        if self.target_dir_on_path
            && let Some(dir) = target_dir()
        {
            path.push(dir);
        }
        path
    }
}

/// The target folder the running test binary was built in: `target/debug` for
/// `target/debug/deps/groups-…`.
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.is_dir().then_some(dir)
}

/// One trial per discovered group, in name order.
fn cases(
    discovery: &Discovery,
    base: &Path,
    path: &[PathBuf],
    configure: Option<&Configure>,
) -> Vec<Trial> {
    let mut cases: Vec<(String, Trial)> = Vec::new();
    for group in &discovery.groups {
        let group = group.clone();
        let (base, path, configure) = (base.to_path_buf(), path.to_vec(), configure.cloned());
        let name = group.name.clone();
        let trial = Trial::test(name.clone(), move || {
            run_case(group, &base, &path, configure.as_ref())
        });
        cases.push((name, trial));
    }
    for name in &discovery.invalid {
        let message = invalid_message(discovery, name);
        cases.push((
            name.clone(),
            Trial::test(name.clone(), move || Err(message.into())),
        ));
    }
    for skipped in &discovery.skipped {
        if skipped.reason == SkipReason::Excluded {
            continue;
        }
        let reason = skipped.reason.to_string();
        let trial = Trial::ignorable_test(skipped.name.clone(), move || {
            Ok(libtest_mimic::Completion::ignored_with(reason))
        })
        .with_ignored_flag(true);
        cases.push((skipped.name.clone(), trial));
    }
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases.into_iter().map(|(_, trial)| trial).collect()
}

/// Runs one group: `Ok` when its outcome passed, else the verdict's text.
fn run_case(
    group: Group,
    base: &Path,
    path: &[PathBuf],
    configure: Option<&Configure>,
) -> Result<(), Failed> {
    let name = group.name.clone();
    let mut run = Run::new(group).base_dir(base);
    // `Run::prepend_path`: later calls come first.
    for dir in path.iter().rev() {
        run = run.prepend_path(dir);
    }
    if let Some(configure) = configure {
        run = configure(run);
    }
    match run.execute() {
        Ok(outcome) if outcome.passed() => Ok(()),
        Ok(outcome) => Err(failure_message(&outcome).into()),
        Err(e) => Err(format!(
            "group `{}` could not run: {}",
            escape_text(&name),
            error_chain(&e)
        )
        .into()),
    }
}

/// The message of a failed group: each failed attempt's verdict and run directory.
fn failure_message(outcome: &GroupOutcome) -> String {
    let mut message = String::new();
    let attempts = outcome.attempts.len();
    for attempt in outcome.attempts.iter().filter(|a| !a.passed()) {
        if attempts > 1 {
            message.push_str(&format!("attempt {}/{attempts}\n", attempt.attempt));
        }
        message.push_str(attempt.verdict.render_text().trim_end());
        message.push('\n');
        if attempt.interrupted {
            message.push_str("interrupted\n");
        }
        message.push_str(&format!("run directory: {}\n", attempt.run_dir.display()));
    }
    if message.is_empty() {
        message.push_str(if outcome.interrupted {
            "interrupted"
        } else {
            "no attempt ran"
        });
    }
    message.truncate(message.trim_end().len());
    message
}

/// The diagnostics of the invalid group `name`.
fn invalid_message(discovery: &Discovery, name: &str) -> String {
    let mine: Vec<String> = discovery
        .diagnostics
        .iter()
        .filter(|d| d.path.starts_with(name))
        .map(ToString::to_string)
        .collect();
    if mine.is_empty() {
        format!("group `{}` is not valid", escape_text(name))
    } else {
        mine.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use testrium_config::Diagnostic;

    use super::*;

    #[test]
    fn an_invalid_group_gets_its_own_diagnostics_only() {
        let mut discovery = Discovery::default();
        discovery.invalid = vec!["test_a".into(), "test_ab".into(), "test_c".into()];
        discovery
            .diagnostics
            .push(Diagnostic::new("test_a/config.toml", "first problem of a"));
        discovery
            .diagnostics
            .push(Diagnostic::new("test_ab/units/x.toml", "problem of ab"));
        discovery.diagnostics.push(Diagnostic::new(
            "test_a/units/y.toml",
            "second problem of a",
        ));
        let a = invalid_message(&discovery, "test_a");
        assert!(
            a.contains("first problem of a") && a.contains("second problem of a"),
            "{a}"
        );
        assert!(!a.contains("problem of ab"), "{a}");
        assert!(invalid_message(&discovery, "test_ab").contains("problem of ab"));
        assert_eq!(
            invalid_message(&discovery, "test_c"),
            "group `test_c` is not valid"
        );
    }
}
