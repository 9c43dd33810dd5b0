//! `testrium run [BASE] [GROUP…]`: discover, validate, select, run each group through
//! `testrium_orchestrator::Run`, report, store history, exit with `TestriumExitCode`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testrium_config::{Diagnostics, DiscoverOptions, Group, SkipReason, discover};
use testrium_events::{History, HistoryRecord, RunDb};
use testrium_orchestrator::{AttemptOutcome, CancelToken, Run, RunError, TestriumExitCode};

use crate::args::{GlobalArgs, RunArgs};
use crate::cmd::error_chain;
use crate::console::Console;
use crate::select::{Partition, Selection};
use testrium_report::{self as report, Format, sanitize, terminal};
use testrium_report::{GroupReport, RunReport, SCHEMA, SkipKind, SkippedGroup};

/// File name of the stored report in each run directory (re-rendered by `testrium report`).
pub const RUN_DIR_REPORT_JSON: &str = "report.json";
/// Key of the same document in the run database's meta table.
pub const REPORT_META_KEY: &str = "testrium.report";
/// File name of the HTML report in each run directory.
pub const RUN_DIR_REPORT_HTML: &str = "report.html";

/// Runs `testrium run` and returns the exit code.
pub fn main(global: &GlobalArgs, args: RunArgs) -> u8 {
    let started = Instant::now();
    let started_at = unix_now();
    let plan = match plan(global, &args) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let jobs = args.jobs.max(1).min(plan.groups.len());
    let console = Arc::new(Mutex::new(Console::new(
        Box::new(std::io::stdout()),
        crate::console::style_for_stdout(global.no_color),
        std::io::stdout().is_terminal(),
        global.verbose,
        jobs > 1,
    )));
    lock(&console).line(&plan.headline(jobs));
    if let Some(line) = plan.empty_share() {
        lock(&console).line(&line);
    }

    let token = CancelToken::new();
    let signals = match crate::signals::install(
        token.clone(),
        Arc::new(|count| {
            // stderr: no lock to take, whatever the worker threads hold.
            if count == 1 {
                say!("\ninterrupted: stopping the units (press Ctrl-C again to kill them at once)");
            } else {
                say!("\ninterrupted again: killing the units now");
            }
        }),
    ) {
        Ok(guard) => Some(guard),
        Err(err) => {
            say!("warning: cannot handle Ctrl-C: {err}");
            None
        }
    };
    let options = RunOptions {
        base: plan.base.clone(),
        timeout: plan.timeout,
        repeat: args.repeat,
        verbose: global.verbose,
        fail_fast: args.fail_fast,
        exe_dir: std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf)),
    };
    let finished = execute(&plan.groups, jobs, &options, &token, &console);
    drop(signals);
    let interrupted = token.is_cancelled();

    let Plan {
        base,
        groups,
        mut skipped,
        partition,
        ..
    } = plan;
    let mut reports = Vec::new();
    let mut config_error = false;
    let mut environment_error = false;
    for (group, finished) in groups.iter().zip(finished) {
        match finished {
            Some(finished) => {
                config_error |= finished.config_error;
                environment_error |= finished.report.error.is_some() && !finished.config_error;
                reports.push(finished.report);
            }
            None => skipped.push(SkippedGroup {
                name: group.name.clone(),
                reason: if interrupted {
                    "not run (interrupted)".into()
                } else {
                    "not run (--fail-fast)".into()
                },
                kind: if interrupted {
                    SkipKind::Interrupted
                } else {
                    SkipKind::FailFast
                },
            }),
        }
    }
    let exit_code = if interrupted {
        TestriumExitCode::INTERRUPTED
    } else if config_error {
        TestriumExitCode::CONFIG_ERROR
    } else if environment_error {
        TestriumExitCode::ENVIRONMENT_ERROR
    } else if reports.iter().all(|r| r.passed) {
        TestriumExitCode::SUCCESS
    } else {
        TestriumExitCode::GROUP_FAILED
    };
    let run = RunReport {
        schema: SCHEMA,
        testrium_version: env!("CARGO_PKG_VERSION").to_owned(),
        base: base.display().to_string(),
        started_at,
        duration_s: started.elapsed().as_secs_f64(),
        interrupted,
        exit_code,
        partition: partition.map(|p| p.to_string()),
        groups: reports,
        skipped,
    };

    let mut c = lock(&console);
    c.finish();
    c.print(|out, style| terminal::write_summary(out, &run, style, global.verbose));
    let mut code = exit_code;
    for (format, path) in [
        (Format::Json, &args.json),
        (Format::Junit, &args.junit),
        (Format::Html, &args.html),
    ] {
        let Some(path) = path else { continue };
        match format.write(path, &run) {
            Ok(()) => {
                let text = format!(
                    "{} report: {}",
                    format.name(),
                    sanitize::terminal(&path.display().to_string())
                );
                c.print(|out, style| writeln!(out, "{}", style.dim(&text)));
            }
            Err(err) => {
                say!(
                    "error: cannot write the {} report `{}`: {err}",
                    format.name(),
                    path.display()
                );
                if code == TestriumExitCode::SUCCESS || code == TestriumExitCode::GROUP_FAILED {
                    code = TestriumExitCode::ENVIRONMENT_ERROR;
                }
            }
        }
    }
    c.finish();
    code
}

/// What to run, decided before anything starts.
struct Plan {
    base: PathBuf,
    groups: Vec<Group>,
    skipped: Vec<SkippedGroup>,
    partition: Option<Partition>,
    /// Groups selected before `--partition` took its share.
    selected: usize,
    timeout: Option<Duration>,
}

impl Plan {
    fn headline(&self, jobs: usize) -> String {
        let n = self.groups.len();
        let mut head = format!(
            "testrium {}: {n} group{} in {}",
            env!("CARGO_PKG_VERSION"),
            if n == 1 { "" } else { "s" },
            sanitize::terminal(&self.base.display().to_string())
        );
        if !self.skipped.is_empty() {
            head.push_str(&format!(" ({} skipped)", self.skipped.len()));
        }
        if let Some(p) = self.partition {
            head.push_str(&format!(", partition {p}"));
        }
        if jobs > 1 {
            head.push_str(&format!(", {jobs} at a time"));
        }
        head
    }

    /// Said when the `--partition` share holds no group (more shards than groups).
    fn empty_share(&self) -> Option<String> {
        let p = self.partition?;
        (self.groups.is_empty() && self.selected > 0).then(|| {
            format!(
                "partition {p} holds none of the {} selected group{}: nothing to run here \
                 (the other shares run them)",
                self.selected,
                if self.selected == 1 { "" } else { "s" }
            )
        })
    }
}

/// Checks the options, discovers and validates the groups, selects them (names, `-k`,
/// `--partition`). `Err` is the exit code, after the message was printed.
fn plan(global: &GlobalArgs, args: &RunArgs) -> Result<Plan, u8> {
    let partition = match args.partition.as_deref().map(str::parse::<Partition>) {
        Some(Err(err)) => {
            say!("error: {err}");
            return Err(TestriumExitCode::CONFIG_ERROR);
        }
        Some(Ok(p)) => Some(p),
        None => None,
    };
    let timeout = match args.timeout {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            say!("error: --timeout must be a positive number of seconds, got {s}");
            return Err(TestriumExitCode::CONFIG_ERROR);
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    let base = match &args.base {
        Some(base) => base.clone(),
        None => std::env::current_dir().map_err(|err| {
            say!("error: cannot read the current directory: {err}");
            TestriumExitCode::ENVIRONMENT_ERROR
        })?,
    };
    let base = std::path::absolute(&base).unwrap_or(base);
    let mut names = args.groups.clone();
    // `testrium run path/to/test_group`: that group, in its base folder.
    let base = match (base.parent(), base.file_name()) {
        (Some(parent), Some(name))
            if args.base.is_some()
                && base.join("config.toml").is_file()
                && base.join("units").is_dir() =>
        {
            names.push(name.to_string_lossy().into_owned());
            parent.to_path_buf()
        }
        _ => base,
    };

    let discovery =
        discover(&base, &DiscoverOptions::new().exclude(global.less.clone())).map_err(|err| {
            say!("error: {}", error_chain(&err));
            TestriumExitCode::CONFIG_ERROR
        })?;
    let mut skipped: Vec<SkippedGroup> = discovery
        .skipped
        .iter()
        .map(|s| SkippedGroup {
            name: s.name.clone(),
            reason: s.reason.to_string(),
            kind: match s.reason {
                SkipReason::Disabled => SkipKind::Disabled,
                SkipReason::Excluded => SkipKind::Excluded,
                SkipReason::Hidden => SkipKind::Hidden,
                _ => SkipKind::Other,
            },
        })
        .collect();
    let selection = Selection {
        names,
        pattern: args.pattern.clone(),
    };
    let known: Vec<&str> = discovery
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .chain(discovery.skipped.iter().map(|s| s.name.as_str()))
        .chain(discovery.invalid.iter().map(String::as_str))
        .collect();
    let unknown = selection.unknown_names(&known);
    if !unknown.is_empty() {
        say!(
            "error: no test group named {} in {}",
            unknown
                .iter()
                .map(|n| format!("`{}`", sanitize::terminal(n)))
                .collect::<Vec<_>>()
                .join(", "),
            base.display()
        );
        return Err(TestriumExitCode::NO_GROUPS);
    }

    // A configuration error in a selected group stops everything before anything starts.
    let blocking: Vec<&str> = discovery
        .invalid
        .iter()
        .map(String::as_str)
        .filter(|name| selection.matches(name))
        .collect();
    if !blocking.is_empty() {
        let mut shown = Diagnostics::new();
        for d in discovery.diagnostics.iter() {
            let group = d
                .path
                .strip_prefix(&base)
                .unwrap_or(&d.path)
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            let other = group
                .is_some_and(|g| discovery.invalid.contains(&g) && !blocking.contains(&g.as_str()));
            if !other {
                shown.push(d.clone());
            }
        }
        say!("{shown}");
        say!(
            "error: configuration errors in {} group{} ({}); nothing was started",
            blocking.len(),
            if blocking.len() == 1 { "" } else { "s" },
            blocking.join(", ")
        );
        return Err(TestriumExitCode::CONFIG_ERROR);
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
    if let Some(partition) = partition {
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
    // More shards than groups is normal for a small suite: an empty share is not an error
    // (the reports it was asked for are still written, with no group in them).
    let empty_share = partition.is_some() && selected > 0 && groups.is_empty();
    if groups.is_empty() && !empty_share {
        if skipped.is_empty() {
            say!("error: no test group found in {}", base.display());
            say!(
                "  (a test group is a folder whose name contains `test`, with config.toml and units/)"
            );
        } else {
            say!(
                "error: no test group to run in {} ({} left out)",
                base.display(),
                skipped.len()
            );
            // Regression (issue 11 item 7): nothing is skipped in silence, here either.
            for s in &skipped {
                say!(
                    "  SKIP {}: {}",
                    sanitize::terminal(&s.name),
                    sanitize::terminal(&s.reason)
                );
            }
        }
        return Err(TestriumExitCode::NO_GROUPS);
    }
    // Problems that do not stop a group (a unit file not listed in `units`…) are shown, once.
    for group in groups.iter().filter(|g| !g.warnings.is_empty()) {
        say!("{}", group.warnings);
    }
    Ok(Plan {
        base,
        groups,
        skipped,
        partition,
        selected,
        timeout,
    })
}

/// Runs the groups, `jobs` at a time, each isolated in its own `Run`. A slot stays `None` for
/// a group that never started (`--fail-fast`, interrupted).
fn execute(
    groups: &[Group],
    jobs: usize,
    options: &RunOptions,
    token: &CancelToken,
    console: &Arc<Mutex<Console>>,
) -> Vec<Option<Finished>> {
    let history = Mutex::new(());
    let slots: Vec<Mutex<Option<Finished>>> = groups.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) && !token.is_cancelled() {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(group) = groups.get(index) else {
                        break;
                    };
                    let finished = run_group(group, options, token, console, &history);
                    if options.fail_fast && !finished.report.passed {
                        stop.store(true, Ordering::SeqCst);
                    }
                    *lock(&slots[index]) = Some(finished);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect()
}

/// How every group is run.
struct RunOptions {
    base: PathBuf,
    timeout: Option<Duration>,
    repeat: Option<u8>,
    verbose: bool,
    fail_fast: bool,
    /// Put first on the units' PATH: `testrium emit` and sibling binaries resolve there.
    exe_dir: Option<PathBuf>,
}

struct Finished {
    report: GroupReport,
    config_error: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run_group(
    group: &Group,
    options: &RunOptions,
    token: &CancelToken,
    console: &Arc<Mutex<Console>>,
    history: &Mutex<()>,
) -> Finished {
    lock(console).group_started(group);
    let observer_console = Arc::clone(console);
    let name = group.name.clone();
    let mut run = Run::new(group.clone())
        .base_dir(&options.base)
        .cancel(token.clone())
        .stream_output(options.verbose)
        // The binary starts no children of its own: any adopted orphan is a unit's.
        .kill_adopted_orphans(true)
        .observer(move |event| lock(&observer_console).event(&name, event));
    if let Some(dir) = &options.exe_dir {
        run = run.prepend_path(dir);
    }
    if let Some(timeout) = options.timeout {
        run = run.timeout_override(timeout);
    }
    if let Some(repeat) = options.repeat {
        run = run.repeat_override(repeat);
    }
    let (report, config_error) = match run.execute() {
        Ok(outcome) => {
            let report = report::group_report(group, &outcome);
            store_attempts(group, &outcome.attempts, &report, options, history, console);
            (report, false)
        }
        Err(err) => (report::group_error(group, &err), is_config(&err)),
    };
    let mut c = lock(console);
    c.group_finished(&group.name);
    c.print(|out, style| terminal::write_group(out, &report, style));
    drop(c);
    Finished {
        report,
        config_error,
    }
}

fn is_config(err: &RunError) -> bool {
    err.is_config_error()
}

/// Writes each attempt's `report.json` and `report.html` into its run directory and records it
/// in the base folder's history. Failures here are warnings: the run itself is done.
fn store_attempts(
    group: &Group,
    attempts: &[AttemptOutcome],
    report: &GroupReport,
    options: &RunOptions,
    history: &Mutex<()>,
    console: &Arc<Mutex<Console>>,
) {
    let mut warnings = Vec::new();
    for (outcome, attempt) in attempts.iter().zip(&report.attempts) {
        let base = options.base.display().to_string();
        let single = report::attempt_run(&report.name, &base, attempt.clone());
        let json = outcome.run_dir.join(RUN_DIR_REPORT_JSON);
        if let Err(err) = report::write_file(&json, |out| report::json::write(out, &single)) {
            warnings.push(format!("cannot write `{}`: {err}", json.display()));
        }
        // The same document in the run database, so the database alone can be re-rendered.
        let stored = serde_json::to_string(&single)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                RunDb::open(&outcome.db_path)
                    .and_then(|db| db.write_meta(REPORT_META_KEY, &text))
                    .map_err(|e| error_chain(&e))
            });
        if let Err(err) = stored {
            warnings.push(format!(
                "cannot store the report in the run database: {err}"
            ));
        }
        let html = outcome.run_dir.join(RUN_DIR_REPORT_HTML);
        if let Err(err) = report::write_file(&html, |out| report::html::write(out, &single)) {
            warnings.push(format!("cannot write `{}`: {err}", html.display()));
        }
        if group.settings.save_metrics {
            let _serial = lock(history);
            if let Err(err) = record_history(&options.base, outcome, attempt) {
                warnings.push(format!("cannot record history: {}", error_chain(&err)));
            }
        }
    }
    if !warnings.is_empty() {
        let mut c = lock(console);
        for w in warnings {
            c.print(|out, style| {
                writeln!(out, "{} {}", style.warn("warning:"), sanitize::terminal(&w))
            });
        }
    }
}

fn record_history(
    base: &Path,
    outcome: &AttemptOutcome,
    attempt: &testrium_report::AttemptReport,
) -> Result<(), testrium_events::StoreError> {
    let history = History::open(base)?;
    let v = &outcome.verdict;
    let mut record = HistoryRecord::new(&outcome.group, &outcome.run_id);
    record.attempt = outcome.attempt;
    record.passed = attempt.passed;
    record.time = outcome.timings.started_unix_s;
    record.duration_s = attempt.duration_s;
    record.average_latency_s = v.average_latency_s();
    if let Some(l) = &v.latency.overall {
        record.p50_s = Some(l.p50_s);
        record.p95_s = Some(l.p95_s);
        record.p99_s = Some(l.p99_s);
        record.max_s = Some(l.max_s);
    }
    let mut kinds: Vec<String> = v
        .failures
        .iter()
        .map(|f| f.kind.as_str().to_owned())
        .collect();
    kinds.dedup();
    if attempt.interrupted {
        kinds.push("interrupted".into());
    }
    record.failure_kinds = kinds;
    record.run_dir = outcome.run_dir.clone();
    record.summary = serde_json::json!({
        "failures": attempt.failures.len(),
        "paired": attempt.correlation.paired,
        "orphan_sends": attempt.correlation.orphan_sends.len(),
        "orphan_receives": attempt.correlation.orphan_receives.len(),
        "duplicate_keys": attempt.correlation.duplicate_keys.len(),
        "probes_missing": attempt.probes.iter().filter(|p| p.count == 0).count(),
        "interrupted": attempt.interrupted,
    })
    .to_string();
    history.record(&record)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
