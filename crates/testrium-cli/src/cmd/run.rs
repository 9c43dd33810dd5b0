//! `testrium run [BASE] [GROUP…]`: flags → `testrium_orchestrator::Suite` → reporters
//! (`testrium-report`). The suite discovers, selects and runs the groups, records history and
//! decides the exit code; this command owns the terminal, the signal handlers and the report
//! files asked for on the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testrium_config::Group;
use testrium_orchestrator::{
    CancelToken, GroupRun, Partition, Suite, SuiteError, SuiteErrorKind, SuiteEvent, SuitePlan,
    TestriumExitCode,
};
use testrium_report::{self as report, Format, sanitize, terminal};

use crate::args::{FlakyResult, GlobalArgs, RunArgs};
use crate::cmd::error_chain;
use crate::console::Console;

/// Runs `testrium run` and returns the exit code.
pub fn main(global: &GlobalArgs, args: RunArgs) -> u8 {
    let suite = match suite(global, &args) {
        Ok(suite) => suite,
        Err(code) => return code,
    };
    let plan = match suite.plan() {
        Ok(plan) => plan,
        Err(err) => {
            say_plan_error(&err);
            return err.exit_code();
        }
    };
    // Problems that do not stop a group (a unit file not listed in `units`…) are shown, once.
    for group in plan.groups.iter().filter(|g| !g.warnings.is_empty()) {
        say!("{}", group.warnings);
    }
    let jobs = suite.jobs_for(&plan);
    let console = Arc::new(Mutex::new(
        Console::new(
            Box::new(std::io::stdout()),
            crate::console::style_for_stdout(global.no_color),
            std::io::stdout().is_terminal(),
            global.verbose,
            jobs > 1,
        )
        .quiet(global.quiet),
    ));
    lock(&console).line(&headline(&plan, jobs));
    if let Some(line) = empty_share(&plan) {
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
    let observer_console = Arc::clone(&console);
    let base = plan.base.clone();
    let quiet = global.quiet;
    let suite = suite.cancel(token).observer(move |event| match event {
        SuiteEvent::GroupStarted { group } => lock(&observer_console).group_started(group),
        SuiteEvent::Run { group, event } => lock(&observer_console).event(group, event),
        SuiteEvent::GroupFinished { group, run } => {
            group_finished(&observer_console, &base, group, run, quiet);
        }
        _ => {}
    });
    let ticker = Ticker::start(Arc::clone(&console));
    let outcome = suite.execute(plan);
    drop(ticker);
    drop(signals);

    let run = report::run_report(&outcome);
    let mut c = lock(&console);
    c.finish();
    c.print(|out, style| terminal::write_summary(out, &run, style, global.verbose));
    let flaky: Vec<String> = outcome
        .flaky_groups()
        .map(|g| format!("`{}`", sanitize::terminal(&g.group.name)))
        .collect();
    if !flaky.is_empty() && args.flaky_result == FlakyResult::Pass {
        say!(
            "warning: {} passed only on a retry (flaky), counted as passed; --flaky-result fail makes {} fail the run",
            flaky.join(", "),
            if flaky.len() == 1 { "it" } else { "them" }
        );
    }
    let mut code = run.exit_code;
    for (format, path) in [
        (Format::Json, &args.json),
        (Format::Junit, &args.junit),
        (Format::Html, &args.html),
        (Format::Trace, &args.trace),
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

/// The suite the flags describe. `Err` is the exit code, after the message was printed.
pub(crate) fn suite(global: &GlobalArgs, args: &RunArgs) -> Result<Suite, u8> {
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
    // Put first on the units' PATH: `testrium emit` and sibling binaries resolve there.
    let exe_dir: Option<PathBuf> = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let listen = args.listen;
    let mut suite = Suite::new(base)
        .exclude(global.less.iter().cloned())
        .groups(names)
        // One listening address: one group at a time.
        .jobs(if args.listen.is_some() { 1 } else { args.jobs })
        .fail_fast(args.fail_fast)
        .stream_output(global.verbose)
        .configure_runs(move |run| {
            // The binary starts no children of its own: any adopted orphan is a unit's.
            let mut run = run.kill_adopted_orphans(true);
            if let Some(addr) = listen {
                run = run.listen(addr);
            }
            match &exe_dir {
                Some(dir) => run.prepend_path(dir),
                None => run,
            }
        });
    if let Some(pattern) = &args.pattern {
        suite = suite.pattern(pattern.clone());
    }
    if let Some(partition) = partition {
        suite = suite.partition(partition);
    }
    if let Some(timeout) = timeout {
        suite = suite.timeout_override(timeout);
    }
    if let Some(repeat) = args.repeat {
        suite = suite.repeat_override(repeat);
    }
    suite = suite
        .retries(args.retries)
        .flaky_fails(args.flaky_result == FlakyResult::Fail);
    Ok(suite)
}

/// Says why nothing was started.
pub(crate) fn say_plan_error(err: &SuiteError) {
    let base = err.base.display();
    match &err.kind {
        SuiteErrorKind::Discover(err) => say!("error: {}", error_chain(err)),
        SuiteErrorKind::UnknownGroups { names } => say!(
            "error: no test group named {} in {base}",
            names
                .iter()
                .map(|n| format!("`{}`", sanitize::terminal(n)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        SuiteErrorKind::InvalidGroups {
            groups,
            diagnostics,
        } => {
            say!("{diagnostics}");
            say!(
                "error: configuration errors in {} group{} ({}); nothing was started",
                groups.len(),
                if groups.len() == 1 { "" } else { "s" },
                groups.join(", ")
            );
        }
        SuiteErrorKind::NoGroups { skipped } if skipped.is_empty() => {
            say!("error: no test group found in {base}");
            say!(
                "  (a test group is a folder whose name contains `test`, with config.toml and units/)"
            );
        }
        SuiteErrorKind::NoGroups { skipped } => {
            say!(
                "error: no test group to run in {base} ({} left out)",
                skipped.len()
            );
            // Regression (issue 11 item 7): nothing is skipped in silence, here either.
            for s in skipped {
                say!(
                    "  SKIP {}: {}",
                    sanitize::terminal(&s.name),
                    sanitize::terminal(&s.reason)
                );
            }
        }
        _ => say!("error: {}", error_chain(err)),
    }
}

fn headline(plan: &SuitePlan, jobs: usize) -> String {
    let n = plan.groups.len();
    let mut head = format!(
        "testrium {}: {n} group{} in {}",
        env!("CARGO_PKG_VERSION"),
        if n == 1 { "" } else { "s" },
        sanitize::terminal(&plan.base.display().to_string())
    );
    if !plan.skipped.is_empty() {
        head.push_str(&format!(" ({} skipped)", plan.skipped.len()));
    }
    if let Some(p) = plan.partition {
        head.push_str(&format!(", partition {p}"));
    }
    if jobs > 1 {
        head.push_str(&format!(", {jobs} at a time"));
    }
    head
}

/// Said when the `--partition` share holds no group (more shards than groups).
fn empty_share(plan: &SuitePlan) -> Option<String> {
    let p = plan.partition?;
    plan.is_empty_share().then(|| {
        format!(
            "partition {p} holds none of the {} selected group{}: nothing to run here \
             (the other shares run them)",
            plan.selected,
            if plan.selected == 1 { "" } else { "s" }
        )
    })
}

/// A group is over: keep each attempt's report in its run directory, say what could not be
/// kept (or recorded in the history), print the group's block.
fn group_finished(
    console: &Mutex<Console>,
    base: &Path,
    group: &Group,
    run: &GroupRun,
    quiet: bool,
) {
    let report = report::group_run_report(run);
    let mut warnings: Vec<String> = Vec::new();
    if let Ok(outcome) = &run.result {
        let problems = report::store_attempt_reports(base, outcome, &report);
        warnings.extend(problems.iter().map(|e| error_chain(e)));
    }
    warnings.extend(run.history_errors.iter().map(|e| error_chain(e)));
    let mut c = lock(console);
    for w in warnings {
        c.print(|out, style| {
            writeln!(out, "{} {}", style.warn("warning:"), sanitize::terminal(&w))
        });
    }
    c.group_finished(&group.name);
    if quiet {
        c.print(|out, style| terminal::write_group_brief(out, &report, style));
    } else {
        c.print(|out, style| terminal::write_group(out, &report, style));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ticks the console about once a second while groups run (elapsed times on the status line,
/// "still running" lines off a terminal); stops when dropped.
struct Ticker {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(console: Arc<Mutex<Console>>) -> Ticker {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("testrium-ticker".to_owned())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(std::time::Duration::from_secs(1))
                {
                    lock(&console).tick(std::time::Instant::now());
                }
            })
            .ok();
        Ticker {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
