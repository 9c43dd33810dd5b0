//! [`Suite`]: many groups of a base folder, selected, run `jobs` at a time, recorded in the
//! history, with one exit code — what `testrium run` does, as a library.

mod error;
mod history;
mod outcome;
mod select;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testrium_config::{Diagnostics, DiscoverOptions, Group, SkipReason, discover};

use crate::cancel::CancelToken;
use crate::run::Run;

pub use self::error::{SuiteError, SuiteErrorKind};
pub use self::history::HistoryError;
pub use self::outcome::{GroupRun, SkipKind, SkippedGroup, SuiteEvent, SuiteOutcome, SuitePlan};
use self::select::Selection;
pub use self::select::{Partition, PartitionError};

type Observer = Arc<dyn Fn(&SuiteEvent<'_>) + Send + Sync>;
type Configure = Arc<dyn Fn(Run) -> Run + Send + Sync>;

/// Runs the test groups of a base folder: discovers them, selects some (names, a pattern,
/// exclusions, a CI partition), runs each in its own [`Run`] — `jobs` at a time, stopping
/// after the first failure with [`fail_fast`](Suite::fail_fast) —, records every attempt in
/// the base folder's history (`<base>/.testrium/history.db`, for groups whose `save-metrics`
/// is true) and decides the exit code ([`SuiteOutcome::exit_code`], [`TestriumExitCode`](crate::TestriumExitCode)).
///
/// Progress goes to an [observer](Suite::observer) as [`SuiteEvent`]s (a group started, each
/// [`RunEvent`](crate::RunEvent) of its run, a group finished), from the worker threads. Cancellation goes
/// through a [`CancelToken`]: the running groups are torn down, the others are not started
/// and are listed as skipped. Like [`Run`], a suite installs no signal handler and prints
/// nothing; `testrium run` is this plus flags, a terminal and report files
/// (`testrium-report` renders a [`SuiteOutcome`]).
///
/// Planning ([`plan`](Suite::plan)) is separate from running ([`execute`](Suite::execute)) so
/// a caller can show what will run first; [`run`](Suite::run) does both.
///
/// # Example
///
/// ```no_run
/// use testrium_orchestrator::{Partition, Suite, SuiteEvent};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let outcome = Suite::new("tests/circuits")
///     .pattern("checkout")
///     .partition("hash:1/4".parse::<Partition>()?)
///     .jobs(2)
///     .fail_fast(true)
///     .observer(|event| {
///         if let SuiteEvent::GroupFinished { run, .. } = event {
///             eprintln!("{}: {}", run.group.name, if run.passed() { "pass" } else { "FAIL" });
///         }
///     })
///     .run()?;
/// for skipped in &outcome.skipped {
///     eprintln!("skipped {}: {}", skipped.name, skipped.reason);
/// }
/// std::process::exit(i32::from(outcome.exit_code()));
/// # }
/// ```
pub struct Suite {
    base: PathBuf,
    exclude: Vec<String>,
    selection: Selection,
    partition: Option<Partition>,
    jobs: usize,
    fail_fast: bool,
    timeout: Option<Duration>,
    repeat: Option<u8>,
    retries: u32,
    flaky_fails: bool,
    stream_output: bool,
    record_history: bool,
    cancel: CancelToken,
    configure: Option<Configure>,
    observer: Option<Observer>,
}

impl fmt::Debug for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("base", &self.base)
            .field("exclude", &self.exclude)
            .field("selection", &self.selection)
            .field("partition", &self.partition)
            .field("jobs", &self.jobs)
            .field("fail_fast", &self.fail_fast)
            .field("timeout", &self.timeout)
            .field("repeat", &self.repeat)
            .field("retries", &self.retries)
            .field("flaky_fails", &self.flaky_fails)
            .field("stream_output", &self.stream_output)
            .field("record_history", &self.record_history)
            .field("cancel", &self.cancel)
            .field("configure", &self.configure.is_some())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Suite {
    /// Every group under `base` (made absolute), one at a time, history recorded: the
    /// defaults of `testrium run BASE`.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        let base = base.into();
        Suite {
            base: std::path::absolute(&base).unwrap_or(base),
            exclude: Vec::new(),
            selection: Selection::default(),
            partition: None,
            jobs: 1,
            fail_fast: false,
            timeout: None,
            repeat: None,
            retries: 0,
            flaky_fails: false,
            stream_output: false,
            record_history: true,
            cancel: CancelToken::new(),
            configure: None,
            observer: None,
        }
    }

    /// Leaves these group folders out (`--less`); they are listed as skipped
    /// ([`SkipKind::Excluded`]).
    #[must_use]
    pub fn exclude<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude.extend(names.into_iter().map(Into::into));
        self
    }

    /// Runs only these groups (by folder name). A name no group has is an error
    /// ([`SuiteErrorKind::UnknownGroups`]). Without names, every group.
    #[must_use]
    pub fn groups<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.selection
            .names
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Runs only the groups whose name contains `pattern` (`-k`).
    #[must_use]
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.selection.pattern = Some(pattern.into());
        self
    }

    /// Runs only this share of the selected groups (`--partition`). A share that holds none of
    /// them (more shards than groups) is not an error: see [`SuitePlan::is_empty_share`].
    #[must_use]
    pub fn partition(mut self, partition: Partition) -> Self {
        self.partition = Some(partition);
        self
    }

    /// How many groups run at once (default 1; 0 counts as 1), each in its own run directory.
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    /// Starts no group after the first one that failed (those running finish); the groups
    /// not started are listed as skipped ([`SkipKind::FailFast`]).
    #[must_use]
    pub fn fail_fast(mut self, enabled: bool) -> Self {
        self.fail_fast = enabled;
        self
    }

    /// Replaces every group's `timeout` ([`Run::timeout_override`]).
    #[must_use]
    pub fn timeout_override(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Re-runs a failing attempt of each group up to `retries` times ([`Run::retries`]).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Whether a group that passed only on a retry (flaky) fails the suite (default: it
    /// passes, [`SuiteOutcome::flaky_groups`] names it).
    #[must_use]
    pub fn flaky_fails(mut self, fails: bool) -> Self {
        self.flaky_fails = fails;
        self
    }

    /// Replaces every group's `repeat` ([`Run::repeat_override`]).
    #[must_use]
    pub fn repeat_override(mut self, repeat: u8) -> Self {
        self.repeat = Some(repeat);
        self
    }

    /// Streams unit output to the observer ([`Run::stream_output`]).
    #[must_use]
    pub fn stream_output(mut self, stream: bool) -> Self {
        self.stream_output = stream;
        self
    }

    /// Whether to append every attempt to `<base>/.testrium/history.db` (default true; a
    /// group whose `save-metrics` is false is never recorded).
    #[must_use]
    pub fn record_history(mut self, enabled: bool) -> Self {
        self.record_history = enabled;
        self
    }

    /// The token the caller flips to stop the suite: running groups are torn down, no other
    /// starts.
    #[must_use]
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    /// Adjusts each group's [`Run`] before it executes (grace period, environment, `PATH`,
    /// subreaper…). It gets the run with the suite's settings applied (base folder, cancel
    /// token, observer, overrides); replacing the observer or the token there detaches that
    /// run from the suite's.
    #[must_use]
    pub fn configure_runs(
        mut self,
        configure: impl Fn(Run) -> Run + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// Called with every [`SuiteEvent`]. With [`jobs`](Suite::jobs) above 1 it is called from
    /// several threads at once; the events of one group arrive in order, from one thread.
    /// Keep it quick: the group's supervisor waits for it.
    #[must_use]
    pub fn observer(mut self, observer: impl Fn(&SuiteEvent<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The base folder.
    pub fn base(&self) -> &std::path::Path {
        &self.base
    }

    /// How many groups of `plan` run at once: [`jobs`](Suite::jobs), at least 1, at most the
    /// number of groups.
    pub fn jobs_for(&self, plan: &SuitePlan) -> usize {
        self.jobs.max(1).min(plan.groups.len())
    }

    /// Discovers, validates and selects the groups, starting nothing.
    ///
    /// Errors: the base folder cannot be read; a name given to [`groups`](Suite::groups) is
    /// no group; a *selected* group's configuration is invalid (every selected group is
    /// validated before anything starts; one that is not selected is only listed as skipped);
    /// no group is left to run (except an empty partition share).
    pub fn plan(&self) -> Result<SuitePlan, SuiteError> {
        let started = Instant::now();
        let started_unix_s = unix_now();
        let base = self.base.clone();
        let fail = |kind| SuiteError {
            base: self.base.clone(),
            kind,
        };
        let discovery = discover(&base, &DiscoverOptions::new().exclude(self.exclude.clone()))
            .map_err(|e| fail(SuiteErrorKind::Discover(e)))?;
        let mut skipped: Vec<SkippedGroup> = discovery
            .skipped
            .iter()
            .map(|s| SkippedGroup {
                name: s.name.clone(),
                reason: s.describe(),
                kind: match s.reason {
                    SkipReason::Disabled => SkipKind::Disabled,
                    SkipReason::Excluded => SkipKind::Excluded,
                    SkipReason::Hidden => SkipKind::Hidden,
                    SkipReason::MissingProgram => SkipKind::MissingProgram,
                    _ => SkipKind::Other,
                },
            })
            .collect();
        let selection = &self.selection;
        let known: Vec<&str> = discovery
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .chain(discovery.skipped.iter().map(|s| s.name.as_str()))
            .chain(discovery.invalid.iter().map(String::as_str))
            .collect();
        let unknown = selection.unknown_names(&known);
        if !unknown.is_empty() {
            let names = unknown.into_iter().map(str::to_owned).collect();
            return Err(fail(SuiteErrorKind::UnknownGroups { names }));
        }

        // A configuration error in a selected group stops everything before anything starts.
        let blocking: Vec<String> = discovery
            .invalid
            .iter()
            .filter(|name| selection.matches(name))
            .cloned()
            .collect();
        if !blocking.is_empty() {
            // The problems of the blocking groups, not of the invalid ones left out.
            let mut diagnostics = Diagnostics::new();
            for d in discovery.diagnostics.iter() {
                let group = d
                    .path
                    .strip_prefix(&base)
                    .unwrap_or(&d.path)
                    .components()
                    .next()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned());
                let other =
                    group.is_some_and(|g| discovery.invalid.contains(&g) && !blocking.contains(&g));
                if !other {
                    diagnostics.push(d.clone());
                }
            }
            return Err(fail(SuiteErrorKind::InvalidGroups {
                groups: blocking,
                diagnostics,
            }));
        }
        for name in &discovery.invalid {
            skipped.push(SkippedGroup {
                name: name.clone(),
                reason: "invalid configuration (not selected)".into(),
                kind: SkipKind::Invalid,
            });
        }

        let mut groups = Vec::new();
        for group in discovery.groups {
            if selection.matches(&group.name) {
                groups.push(group);
            } else {
                skipped.push(SkippedGroup {
                    name: group.name,
                    reason: "not selected".into(),
                    kind: SkipKind::NotSelected,
                });
            }
        }
        let selected = groups.len();
        if let Some(partition) = self.partition {
            let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
            groups = partition.apply(groups, |g| g.name.as_str());
            for name in names {
                if !groups.iter().any(|g| g.name == name) {
                    skipped.push(SkippedGroup {
                        name,
                        reason: format!("another partition than {partition}"),
                        kind: SkipKind::Partition,
                    });
                }
            }
        }
        let plan = SuitePlan {
            base,
            groups,
            skipped,
            partition: self.partition,
            selected,
            started,
            started_unix_s,
        };
        // More shards than groups is normal for a small suite: an empty share is not an error.
        if plan.groups.is_empty() && !plan.is_empty_share() {
            return Err(fail(SuiteErrorKind::NoGroups {
                skipped: plan.skipped,
            }));
        }
        Ok(plan)
    }

    /// Runs the groups of `plan` (from [`plan`](Suite::plan)) and returns what happened to
    /// each. Blocks until every group is over and every process it started is gone.
    pub fn execute(&self, plan: SuitePlan) -> SuiteOutcome {
        let jobs = self.jobs_for(&plan);
        let history = Mutex::new(());
        let slots: Vec<Mutex<Option<GroupRun>>> =
            plan.groups.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| {
                    while !stop.load(Ordering::SeqCst) && !self.cancel.is_cancelled() {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(group) = plan.groups.get(index) else {
                            break;
                        };
                        let run = self.run_group(&plan.base, group, &history);
                        if self.fail_fast && !run.passed() {
                            stop.store(true, Ordering::SeqCst);
                        }
                        *lock(&slots[index]) = Some(run);
                    }
                });
            }
        });
        let interrupted = self.cancel.is_cancelled();
        let SuitePlan {
            base,
            groups,
            mut skipped,
            partition,
            started,
            started_unix_s,
            ..
        } = plan;
        let mut ran = Vec::new();
        for (group, slot) in groups.into_iter().zip(slots) {
            match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(run) => ran.push(run),
                None if interrupted => skipped.push(SkippedGroup {
                    name: group.name,
                    reason: "not run (interrupted)".into(),
                    kind: SkipKind::Interrupted,
                }),
                None => skipped.push(SkippedGroup {
                    name: group.name,
                    reason: "not run (--fail-fast)".into(),
                    kind: SkipKind::FailFast,
                }),
            }
        }
        SuiteOutcome {
            base,
            started_unix_s,
            duration: started.elapsed(),
            groups: ran,
            skipped,
            partition,
            interrupted,
            flaky_fails: self.flaky_fails,
        }
    }

    /// [`plan`](Suite::plan), then [`execute`](Suite::execute).
    pub fn run(self) -> Result<SuiteOutcome, SuiteError> {
        let plan = self.plan()?;
        Ok(self.execute(plan))
    }

    fn emit(&self, event: SuiteEvent<'_>) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }

    fn run_group(&self, base: &std::path::Path, group: &Group, history: &Mutex<()>) -> GroupRun {
        self.emit(SuiteEvent::GroupStarted { group });
        let mut run = Run::new(group.clone())
            .base_dir(base)
            .cancel(self.cancel.clone())
            .stream_output(self.stream_output);
        if let Some(observer) = &self.observer {
            let observer = Arc::clone(observer);
            let name = group.name.clone();
            run = run.observer(move |event| {
                observer(&SuiteEvent::Run {
                    group: &name,
                    event,
                });
            });
        }
        if let Some(timeout) = self.timeout {
            run = run.timeout_override(timeout);
        }
        if let Some(repeat) = self.repeat {
            run = run.repeat_override(repeat);
        }
        run = run.retries(self.retries);
        if let Some(configure) = &self.configure {
            run = configure(run);
        }
        let result = run.execute();
        let mut history_errors = Vec::new();
        if let Ok(outcome) = &result
            && self.record_history
            && group.settings.save_metrics
        {
            // One writer at a time from this process; other processes wait on SQLite's lock.
            let _serial = lock(history);
            for attempt in &outcome.attempts {
                if let Err(err) = history::record(base, attempt) {
                    history_errors.push(err);
                }
            }
        }
        let run = GroupRun {
            group: group.clone(),
            result,
            history_errors,
        };
        self.emit(SuiteEvent::GroupFinished { group, run: &run });
        run
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
