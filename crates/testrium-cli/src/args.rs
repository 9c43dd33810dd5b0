//! Command-line arguments. No clap type leaves this crate.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Testrium: run circuits of cooperating processes and prove every cause reached its effect.
#[derive(Debug, Parser)]
#[command(name = "testrium", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options accepted before the subcommand, in the original's positions.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Stream unit output to the terminal, prefixed by the unit name.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// One line per group, and the failures of those that fail (root causes first).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Exclude test groups by folder name (`testrium --less A B run`).
    #[arg(long, value_name = "GROUP", num_args = 1.., global = true)]
    pub less: Vec<String>,
    /// Never colour output (the NO_COLOR environment variable does the same).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Discover, validate and run test groups (the default).
    ///
    /// Every selected group is validated before anything starts: a configuration error in one
    /// of them exits 3 and runs nothing. Exit codes: 0 passed, 1 a group failed, 2 no group,
    /// 3 configuration error, 4 environment error, 130 interrupted.
    Run(RunArgs),
    /// Discover and validate test groups without running them.
    Check(CheckArgs),
    /// Generate templates (`testrium gen config-template DIR`).
    Gen(GenArgs),
    /// Legacy spelling of `gen config-template`.
    #[command(name = "gen-configs", hide = true)]
    GenConfigs(GenDirArgs),
    /// Record a probe from a shell unit.
    Emit(EmitArgs),
    /// Wait for a probe of another unit; exits non-zero on timeout.
    Wait(WaitArgs),
    /// Re-render the reports of a stored run.
    Report(ReportArgs),
    /// Judge a stored run again against its group's current configuration, starting nothing.
    ///
    /// Edited budgets, required probes, circuits and contracts apply to the events the run
    /// recorded; the run itself is only read. Exit codes as `run`: 0 passed, 1 failed, 3 the
    /// group is invalid or its units no longer match the run, 4 not a readable run.
    Verify(VerifyArgs),
    /// Show the last runs, pass rate and latency trend.
    History(HistoryArgs),
    /// List the groups `run` would run with the same selection (names, `-k`, `--less`,
    /// `--partition`): their units, dependencies, readiness and circuits. Starts nothing.
    List(ListArgs),
}

impl Default for Command {
    fn default() -> Self {
        Command::Run(RunArgs::default())
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Base folder holding the test groups (default: the current directory), or one group's
    /// folder to run just that group.
    #[arg(value_name = "BASE")]
    pub base: Option<PathBuf>,
    /// Only these groups (folder names).
    #[arg(value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Only groups whose name contains PATTERN.
    #[arg(short = 'k', value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Stop after the first failing group.
    #[arg(long)]
    pub fail_fast: bool,
    /// Run up to N groups in parallel.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Run each group N extra times (overrides `repeat`).
    #[arg(long, value_name = "N")]
    pub repeat: Option<u8>,
    /// Re-run a failing attempt of a group up to N times; a group that fails, then passes, is
    /// FLAKY.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// What a FLAKY group (passed only on a retry) counts as: `pass` (with a warning) or
    /// `fail`.
    #[arg(long, value_enum, value_name = "fail|pass", default_value_t = FlakyResult::Pass)]
    pub flaky_result: FlakyResult,
    /// Override every group's timeout, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Serve each run's OTLP receiver (and remote probe API) on this address instead of a free
    /// loopback port, so units on other hosts (`remote = true`) can send to it; the token is
    /// printed when the address is not loopback. Groups then run one at a time.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Run only a share of the groups: `hash:K/N` or `count:K/N`.
    #[arg(long, value_name = "hash:K/N|count:K/N")]
    pub partition: Option<String>,
    /// Write the whole outcome as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report (one is always written to the run directory).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the run as Chrome trace-event JSON, for Perfetto UI or chrome://tracing (one is
    /// always written to the run directory, `trace.json`).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    /// Base folder holding the test groups (default: the current directory), or one group's
    /// folder.
    #[arg(value_name = "BASE")]
    pub base: Option<PathBuf>,
    /// Only these groups (folder names).
    #[arg(value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Only groups whose name contains PATTERN.
    #[arg(short = 'k', value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Only a share of the groups: `hash:K/N` or `count:K/N`.
    #[arg(long, value_name = "hash:K/N|count:K/N")]
    pub partition: Option<String>,
    /// Print the list as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Base folder holding the test groups (default: the current directory).
    #[arg(value_name = "BASE")]
    pub base: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// What to generate.
    #[arg(value_enum)]
    pub kind: GenKind,
    /// Target folder (default: the current directory).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `--flaky-result`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum FlakyResult {
    /// A flaky group fails the run.
    Fail,
    /// A flaky group passes, with a warning.
    #[default]
    Pass,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GenKind {
    /// A starter test group with a 2-unit request/response circuit.
    ConfigTemplate,
}

#[derive(Debug, Clone, Args)]
pub struct GenDirArgs {
    /// Target folder (default: the current directory).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct EmitArgs {
    /// The probe (step) name.
    pub step: String,
    /// Event type: Default, Exception, Send or Receive.
    #[arg(long = "type", value_name = "TYPE", default_value = "Default")]
    pub event_type: String,
    /// Event key (required for Send and Receive).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The key of the event that caused this one (links circuit hops across keys).
    #[arg(long, value_name = "KEY")]
    pub cause: Option<String>,
    /// Unit name (default: $TESTRIUM_UNIT).
    #[arg(long, value_name = "UNIT")]
    pub unit: Option<String>,
    /// Metadata entry, repeatable: `--meta key=value`.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Run database (default: $TESTRIUM_EVENT_DB).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// The probe (step) name to wait for.
    pub step: String,
    /// The unit that records it.
    #[arg(long, value_name = "UNIT")]
    pub unit: String,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Only an event with this key counts.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Print the event waited for as one JSON object (`unit`, `step`, `type`, `key`, `time`,
    /// `metadata`) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Run database (default: $TESTRIUM_EVENT_DB).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A run directory (`.testrium/runs/<group>-<id>`).
    pub run_dir: PathBuf,
    /// Write the outcome as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the run as Chrome trace-event JSON (Perfetto UI, chrome://tracing).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// A run directory (`<base>/.testrium/runs/<group>-<id>`) or its `Data.db`.
    pub run_dir: PathBuf,
    /// The group folder (default: `<base>/<group>`, the group the run stored, beside the
    /// run's `.testrium` folder).
    pub group_dir: Option<PathBuf>,
    /// Write the outcome as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Only this group.
    pub group: Option<String>,
    /// Base folder (default: the current directory).
    #[arg(long, value_name = "BASE")]
    pub base: Option<PathBuf>,
    /// How many runs to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub last: usize,
    /// Flag a latency regression when the group's last 3 runs each have a p95 above this
    /// factor times (and more than 1 ms above) the median p95 of up to 20 runs before them
    /// (at least 5): a lasting shift, not one noisy run.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.25)]
    pub regression_factor: f64,
}

const SUBCOMMANDS: &[&str] = &[
    "run",
    "check",
    "gen",
    "gen-configs",
    "emit",
    "wait",
    "report",
    "history",
    "list",
    "help",
];

/// Makes `testrium --less A B run` mean what it meant in the original: `--less` takes names
/// until the next option or subcommand name.
pub fn normalize_argv(argv: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut iter = argv.into_iter();
    if let Some(program) = iter.next() {
        out.push(program);
    }
    let mut in_less = false;
    for arg in iter {
        let text = arg.to_string_lossy();
        if text == "--less" {
            in_less = true;
            continue;
        }
        if in_less {
            if text.starts_with('-') || SUBCOMMANDS.contains(&text.as_ref()) {
                in_less = false;
            } else {
                let mut joined = OsString::from("--less=");
                joined.push(&arg);
                out.push(joined);
                continue;
            }
        }
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_argv(args.iter().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn less_stops_at_subcommand() {
        assert_eq!(
            norm(&["testrium", "--less", "a", "b", "run"]),
            ["testrium", "--less=a", "--less=b", "run"]
        );
    }

    #[test]
    fn less_stops_at_option() {
        assert_eq!(
            norm(&["testrium", "--less", "a", "--verbose", "run"]),
            ["testrium", "--less=a", "--verbose", "run"]
        );
    }

    #[test]
    fn original_positions_parse() {
        let cli = Cli::parse_from(norm(&["testrium", "--verbose", "--less", "x", "y", "run"]));
        assert!(cli.global.verbose);
        assert_eq!(cli.global.less, ["x", "y"]);
        assert!(matches!(cli.command, Some(Command::Run(_))));
    }
}
