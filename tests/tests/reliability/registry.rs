//! The registry of every scenario of the reliability suite, and `docs/RELIABILITY.md`
//! generated from it (so the document cannot drift from what the tests do).
//!
//! A scenario's result is read from the test source itself: a test marked `#[ignore = "…"]`
//! shows as ignored with that reason; a scenario covered by another engineer's test shows
//! as not covered while that test does not exist. `reliability_doc_is_current` fails when
//! `docs/RELIABILITY.md` differs from the generated text (measured figures excepted);
//! `TESTRIUM_BLESS=1` rewrites it, figures included (from the last run of the suite).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One scenario of issue 8 and the test that proves it.
#[derive(Debug)]
pub struct Scenario {
    /// Heading it belongs to.
    pub area: &'static str,
    /// What is thrown at Testrium.
    pub scenario: &'static str,
    /// What the test checks.
    pub checked: &'static str,
    /// The test function.
    pub test: &'static str,
    /// Where the test lives: `None` for this suite, else a path from the workspace root.
    pub file: Option<&'static str>,
    /// Sizes: default, and with `TESTRIUM_RELIABILITY_FULL=1`.
    pub sizes: Option<(&'static str, &'static str)>,
}

const FAULTS: &str = "Faults and floods";
const INPUT: &str = "Hostile and broken input";

/// Every scenario, in the order of the issue.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        area: FAULTS,
        scenario: "a unit writes a flood to stdout and stderr without a newline, run with `--verbose`",
        checked: "exit 0, no deadlock; `logs/<unit>.log` holds every byte (no cap); runner peak RSS (`VmHWM`) < 32 MiB while it follows the log for `--verbose`",
        test: "flood_of_output_without_newlines",
        file: None,
        sizes: Some(("16 MiB per stream", "50 MiB per stream")),
    },
    Scenario {
        area: FAULTS,
        scenario: "the same flood (4 MiB per stream), shown with `--verbose`",
        checked: "every byte reaches the terminal, or the terminal says how much was left out",
        test: "verbose_stream_passes_a_flood_on_whole",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit ignores SIGTERM",
        checked: "killed with SIGKILL after the grace period; `ignored_sigterm` in the stored outcome, the unit's reason, the HTML report and a terminal warning say so; no process left",
        test: "unit_ignoring_sigterm_is_killed_after_grace",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit daemonizes (double fork + `setsid`), another's child leaves its process group, another leaves a grandchild",
        checked: "every one of the 6 recording processes is dead after the run; the sweep reports the ones outside the units' groups",
        test: "daemon_and_escaped_child_are_killed_at_teardown",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit starts 100 daemons (double fork + `setsid`) and 100 grandchildren in its group",
        checked: "the sweep finds and kills at least the 100 daemons; no process with the run's paths in its environment survives",
        test: "hundred_daemons_and_hundred_grandchildren",
        file: None,
        sizes: Some(("100 + 100", "100 + 100")),
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit starts a daemon that clears its environment (`setsid env -i …`) and a child that does (`env -i …`, same process group)",
        checked: "both are dead after the run, although neither carries the run's marker",
        test: "daemon_with_a_cleared_environment_is_killed_at_teardown",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit's child clears its environment and leaves the unit's process group without leaving the session (`setpgid` + `execve` with an empty environment); the unit then exits",
        checked: "the child is dead after the run: it joined the attempt's cgroup before `exec`, and teardown kills the cgroup (skipped where no cgroup can be created: there it survives, a documented gap)",
        test: "escaped_child_with_a_cleared_environment_is_killed_through_the_cgroup",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "one unit floods Send/Receive probes as fast as it can while 7 others emit pairs too, one planted orphan Send",
        checked: "every row is stored and verified (exact count), every pair matched, exactly the planted `orphan_send` failure found; runner peak RSS (`VmHWM`) < 28 MiB + 0.09 KiB per stored event; the run database's write-ahead log (sampled every 2 ms) stays < 64 MiB; `testrium report` re-renders the stored run with the same counts",
        test: "probe_flood_with_seven_concurrent_writers",
        file: None,
        sizes: Some(("20,000 + 7 × 2,001 rows", "200,000 + 7 × 10,001 rows")),
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit exits before its ready probe (600 s readiness timeout)",
        checked: "`exited_before_ready` decided by the exit, not the timeout; its dependent is never started; exit 1",
        test: "unit_exiting_before_its_ready_probe",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit records its ready probe, then aborts",
        checked: "`signaled` (SIGABRT) and `missing_probe` reported; exit 1",
        test: "unit_crashing_after_ready",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a unit records a probe after the group ended (in its SIGTERM handler)",
        checked: "the row is kept in the database, counted in `late_events`, warned as `late_event`; the run still passes",
        test: "probes_after_the_group_ended_are_kept_and_flagged_late",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "the runner (`testrium run`) is SIGKILLed mid-run, with a grandchild, a daemon and an escaped child alive",
        checked: "every unit dies with it (parent-death signal), and the grandchild, daemon and escaped child too, before any next run in this base (the attempt's watchdog); the run database reads back (events and states); the next `testrium run` in the same base passes",
        test: "runner_sigkilled_mid_run",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "the runner is SIGKILLed while Python entrypoint units wait for a dependency (pre-warmed interpreters)",
        checked: "every process of the run dies without any next run (parent-death signal, watchdog)",
        test: "runner_sigkilled_while_python_units_wait",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "Ctrl-C (SIGINT) while the setup process runs: a `setup = [...]` command, and the original's `setup.py` `main()` (Python)",
        checked: "exit 130; the setup is killed; the unit waiting for it is stopped, or never starts (a setup that recorded a probe is up); the JSON report is written and marked interrupted; every state in the database is terminal",
        test: "ctrl_c_during_setup",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "Ctrl-C while a unit waits for its readiness probe",
        checked: "exit 130; the unit is killed, its dependent never starts; the report is written, interrupted; states terminal",
        test: "ctrl_c_during_readiness_wait",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "Ctrl-C twice during teardown, while a unit ignores SIGTERM",
        checked: "exit 130; the unit is killed by SIGKILL (at once, or after the grace period if that came first); report written, marked interrupted; states terminal",
        test: "ctrl_c_twice_during_teardown",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "SIGTERM to the runner while a unit waits for its readiness probe",
        checked: "handled as Ctrl-C: exit 130, the unit killed, the report written and marked interrupted, states terminal",
        test: "sigterm_to_the_runner_during_readiness_wait",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "Python entrypoint units wait for a dependency that never becomes ready: Ctrl-C while they wait; the dependency failing its readiness",
        checked: "exit 130, resp. exit 1 with the waiting units never run; no interpreter (pre-warmed or not) left running",
        test: "python_units_waiting_on_a_dependency_leave_nothing",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "Ctrl-C while a Python direct test function (`test_*` in the group's files) runs, and while the units run before the direct tests are released",
        checked: "exit 130 both times; the test function's process killed; the report written, interrupted; no interpreter left running",
        test: "ctrl_c_during_python_direct_tests",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "SIGHUP to the runner (its terminal closed), with a unit's grandchild alive",
        checked: "handled like Ctrl-C: torn down, not killed by the signal; exit 129 or 130; the report written and marked interrupted; the unit and its grandchild dead; states terminal",
        test: "sighup_to_the_runner",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "Ctrl-C while `--jobs 3` runs 3 of 6 groups",
        checked: "exit 130; every unit of the 3 running groups killed; the other 3 never started and reported as skipped (interrupted); every run database final",
        test: "ctrl_c_while_parallel_jobs_run",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "Ctrl-C during the second of 6 attempts (`--repeat 5`, the first timed out)",
        checked: "exit 130; no further attempt starts; the report holds the 2 attempts; both databases final; nothing left running",
        test: "ctrl_c_between_repeated_attempts",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "the runner's stdout is a pipe nobody reads (`testrium --verbose run | head -0`)",
        checked: "no panic, no death by SIGPIPE; the run completes: JSON report, history record, final states, nothing left running",
        test: "stdout_closed_under_the_runner",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "200 units in one group",
        checked: "exit 0; every unit finished; every probe verified; nothing left running",
        test: "two_hundred_units_in_one_group",
        file: None,
        sizes: Some(("200 units", "200 units")),
    },
    Scenario {
        area: FAULTS,
        scenario: "200 units writing Send/Receive pairs into the run database at the same time",
        checked: "exit 0; every row stored (exact count), every pair matched; nothing left running",
        test: "two_hundred_writers_at_once",
        file: None,
        sizes: Some(("200 × 101 rows", "200 × 1,001 rows")),
    },
    Scenario {
        area: FAULTS,
        scenario: "8 Python units recording Send/Receive pairs at once with the original's `Events_Manager.Set_Event` (where 0.3.0 lost about half the rows to \"database is locked\")",
        checked: "exit 0; every row stored (exact count), every pair matched; nothing left running",
        test: "eight_python_writers_at_once",
        file: None,
        sizes: Some(("8 × 2,001 rows", "8 × 10,001 rows")),
    },
    Scenario {
        area: FAULTS,
        scenario: "many one-probe Python units, each opening a client, recording its probe and exiting, all at once (a new client's first statements used to run without busy handling: `database is locked`)",
        checked: "exit 0 in every run; no unit's log mentions a locked database; every probe stored",
        test: "short_lived_python_units_lose_nothing",
        file: None,
        sizes: Some(("100 units, 1 run", "500 units, 3 runs")),
    },
    Scenario {
        area: FAULTS,
        scenario: "the group timeout expires while 40 units (each with a grandchild) are still being started: `--timeout` 1 ms, 20 ms, 50 ms",
        checked: "exit 1 each time; every unit state terminal; nothing left running",
        test: "group_timeout_while_units_start",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a dependency chain 500 deep (with `init` against the chain)",
        checked: "`testrium check` and `testrium run` exit 0; every link becomes ready in dependency order",
        test: "dependency_chain_500_deep",
        file: None,
        sizes: Some(("500 links", "500 links")),
    },
    Scenario {
        area: FAULTS,
        scenario: "100 groups in one base folder, run with `--jobs 4`",
        checked: "`testrium check` and `testrium run` exit 0; one run directory and one history record per group",
        test: "hundred_groups_in_one_base",
        file: None,
        sizes: Some(("100 groups", "100 groups")),
    },
    Scenario {
        area: FAULTS,
        scenario: "40 groups run 16 at a time (`--jobs 16`), each unit leaving a marked daemon and a daemon with a cleared environment",
        checked: "exit 0; all 80 daemons dead after the run (the cleared ones only by the runner's adopted-orphan kill); nothing left running",
        test: "parallel_jobs_with_daemons_in_every_group",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "two `testrium run --jobs 3` at once in the same base folder (6 groups each)",
        checked: "both exit 0; 12 distinct run directories, each database holding exactly its own rows; history keeps all 12 runs; `testrium history` works",
        test: "concurrent_runs_and_jobs_share_a_base",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "a `testrium run` in a pid namespace of its own (a container) while another runs on the host",
        checked: "the host run's sweep for leftovers of dead runners leaves the container's unit alone (a marker's pids are judged only in the pid namespace that wrote it); both exit 0; nothing left running (skipped where `unshare --pid` is refused)",
        test: "a_runner_on_the_host_leaves_a_containers_units_alone",
        file: None,
        sizes: None,
    },
    Scenario {
        area: FAULTS,
        scenario: "`testrium report` of a run in progress and `testrium history` of its base, 3 times each, while a unit writes 6,000 rows",
        checked: "no panic; `history` exits 0; the run passes with every pair matched; history holds both runs",
        test: "report_and_history_read_while_a_run_writes",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "rows written straight into `Events`: unknown/integer types, all-NULL, non-UTF-8 unit/step/metadata, text and blob `Time`, keyless Send, non-JSON metadata, 8 MiB metadata",
        checked: "exit 1 with `malformed_event` evidence (no crash, no panic); the valid rows still count; JUnit well-formed (expat); HTML written; `testrium report` re-renders the run",
        test: "hostile_rows_written_straight_into_events",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "Send/Receive pairs written straight into `Events` with `MonoNs` at i64::MIN/MAX and `Time` at ±1e308, on a declared circuit with a 10 ms budget",
        checked: "exit 1 (over budget), no overflow panic; the 3 pairs are paired; JUnit well-formed; `testrium report` re-renders the run (exit 1)",
        test: "extreme_clock_values_in_events",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "a unit destroys the run database mid-run: drops `Events` and `UnitStatus`; overwrites `Data.db` with garbage and deletes its WAL",
        checked: "no panic, no hang (5 s group timeout); exit 1 (group failed, report written) or 4 (environment error naming `Data.db`); nothing left running",
        test: "unit_destroying_the_run_database",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "a unit holds the run database's write lock (a write transaction it never commits), with a 3 s group timeout",
        checked: "the group ends by its timeout as a failure with a report (exit 1, `group_timeout`), not by a 30 s busy wait and an environment error; nothing left running",
        test: "unit_holding_the_database_write_lock",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "a unit deletes its own run directory (`rm -rf $TESTRIUM_RUN_DIR`)",
        checked: "no panic; exit 0, or 1/4 naming the run directory; the `--json` report and the history record are still written; nothing left running",
        test: "unit_deleting_its_run_directory",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "probe names, keys, metadata, exception messages and unit output with quotes, `<script>`, newlines, CR, ANSI/OSC escapes, BEL, NUL, `]]>`, non-ASCII and bytes that are not UTF-8, run with `--verbose`",
        checked: "no ESC/BEL/CSI/CR/NUL byte reaches the terminal (`run` and `report`); the HTML reports never contain `<script>alert`; JUnit is well-formed for expat; the JSON keeps the text exactly",
        test: "hostile_text_through_terminal_html_junit",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "a group folder and a unit named with `<img onerror>`, quotes, `&` and non-ASCII; a required probe named `<svg onload>`; unit output with HTML, run with `--verbose`",
        checked: "exit 1 (the unit fails on purpose); names shown as they are on the terminal with no control character; no raw tag in the HTML report; JUnit well-formed; JSON keys by the exact names",
        test: "hostile_group_and_unit_names",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "a group folder whose name holds ESC, OSC (set title), BEL, C1 CSI and CR",
        checked: "`testrium run`: exit 3 (group names cannot hold control characters) and no control character reaches the terminal; neither from `testrium report` given a path with escapes",
        test: "control_characters_in_a_group_folder_name",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "the same folder, through `testrium check`",
        checked: "exit 3 and no control character reaches the terminal",
        test: "control_characters_in_a_group_folder_name_through_check",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "`--json` names a FIFO (as `/dev/stdout` or a pipe to `jq` would be)",
        checked: "the report is written through the FIFO, which stays a FIFO (a rename over it would replace it — as root even /dev/stdout or /dev/full)",
        test: "reports_written_to_a_fifo",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "a base folder whose path holds a newline, quotes and non-ASCII, running the original's Python request/response template",
        checked: "exit 0 (Python units find the run database through the odd path); no control character on the terminal, the newline shown escaped",
        test: "base_folder_path_with_newline_quotes_and_non_ascii",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "the base's history database is binary garbage, or a directory",
        checked: "`testrium run` still runs and passes (exit 0), naming `history.db` in a warning; `testrium history` exits 4 naming it; no panic",
        test: "corrupt_history_database",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "config files: binary garbage, a unit file over the 64 MiB cap, 100,000-deep nested arrays, inline tables and dotted table names, a FIFO as unit file, a directory as `config.toml`, a chmod 000 unit file (skipped as root)",
        checked: "each: exit 3 (configuration error), the message names the file, no panic, no hang",
        test: "broken_config_files",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "symlink loops in the base folder (a group folder linking to itself, a loop inside `units/`, a two-link loop) and a chmod 000 group folder (skipped as root)",
        checked: "exit 3 naming the looping group; the valid group alone still runs (exit 0)",
        test: "symlink_loops_and_unreadable_folders_in_the_base",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "a run directory that cannot be created: `.testrium` is a file; a chmod 555 base (skipped as root)",
        checked: "exit 4 (`ENVIRONMENT_ERROR`, documented in `TestriumExitCode`) naming `.testrium`; no panic; nothing left running",
        test: "run_directory_that_cannot_be_created",
        file: None,
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "generated config documents (proptest): arbitrary bytes, arbitrary TOML, arbitrary text lines",
        checked: "loading and validating never panics (config engineer's suite)",
        test: "arbitrary_toml_never_panics",
        file: Some("crates/testrium-config/tests/config/robustness.rs"),
        sizes: None,
    },
    Scenario {
        area: INPUT,
        scenario: "generated event lists (proptest)",
        checked: "verification never panics and stays independent of event order on hostile lists; pairing and orphan properties (verify engineer's suite)",
        test: "never_panics_and_stays_order_independent_on_hostile_lists",
        file: Some("crates/testrium-verify/tests/verify/props.rs"),
        sizes: None,
    },
];

/// The sources of this suite, to read each test's attributes from.
const SUITE_SOURCES: &[(&str, &str)] = &[
    (
        "tests/tests/reliability/faults.rs",
        include_str!("faults.rs"),
    ),
    (
        "tests/tests/reliability/signals.rs",
        include_str!("signals.rs"),
    ),
    ("tests/tests/reliability/scale.rs", include_str!("scale.rs")),
    ("tests/tests/reliability/input.rs", include_str!("input.rs")),
];

/// Where a scenario's test stands.
#[derive(Debug, PartialEq)]
enum Status {
    /// In the default suite: CI runs it and it must pass.
    Runs { file: String },
    /// Marked `#[ignore = "reason"]`.
    Ignored { file: String, reason: String },
    /// Its test does not exist (yet).
    Missing,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Finds `fn test(` in `source`; returns its `#[ignore…]` reason, if any.
fn find_test(source: &str, test: &str) -> Option<Option<String>> {
    let needle = format!("fn {test}(");
    let at = source.find(&needle)?;
    let before = &source[..at];
    // The attributes just above the function.
    let mut ignore = None;
    for (i, line) in before.lines().rev().enumerate() {
        let line = line.trim();
        if i == 0 && line.is_empty() {
            // The indentation before `fn`.
            continue;
        }
        if !line.starts_with("#[") && !line.starts_with("//") {
            break;
        }
        if let Some(rest) = line.strip_prefix("#[ignore") {
            let reason = rest
                .split_once('"')
                .and_then(|(_, r)| r.rsplit_once('"'))
                .map_or("ignored", |(r, _)| r);
            ignore = Some(reason.to_owned());
        }
    }
    Some(ignore)
}

fn status(scenario: &Scenario) -> Status {
    let sources: Vec<(String, String)> = match scenario.file {
        None => SUITE_SOURCES
            .iter()
            .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
            .collect(),
        Some(file) => std::fs::read_to_string(workspace().join(file))
            .map(|s| vec![(file.to_owned(), s)])
            .unwrap_or_default(),
    };
    for (file, source) in sources {
        match find_test(&source, scenario.test) {
            Some(None) => return Status::Runs { file },
            Some(Some(reason)) => return Status::Ignored { file, reason },
            None => {}
        }
    }
    Status::Missing
}

const FIGURES_START: &str = "<!-- figures:start -->";
const FIGURES_END: &str = "<!-- figures:end -->";

/// The document, with `figures` as the measured-figures block.
fn render(figures: &str) -> String {
    let mut doc = String::new();
    doc.push_str(
        "# Reliability\n\n\
         <!-- Generated by tests/tests/reliability.rs (registry.rs): do not edit by hand. -->\n\n\
         What Testrium survives, proven end to end with real processes by the reliability suite\n\
         (`tests/tests/reliability.rs`). Every scenario drives the real `testrium` binary as a\n\
         child process, with fixture units (`testrium-fixture`, `testrium-fixture-hostile`) that\n\
         misbehave on purpose. Every wait has a deadline; nothing sleeps to synchronise. Every\n\
         scenario ends by checking that no process it started is still alive, and `.ci/run`\n\
         checks the same for the whole suite (every process carrying the suite's tag in its\n\
         environment, or running a binary of this build, is a leak).\n\n\
         This file is generated from the suite's registry of scenarios: the test\n\
         `reliability_doc_is_current` fails when it differs from what the tests do.\n\n\
         ## Reproduce\n\n\
         ```sh\n\
         # default sizes (CI runs them as part of `cargo test --workspace`); the suite builds the\n\
         # `testrium` binary it drives (`cargo build -p testrium-cli`) first\n\
         cargo test -p testrium-tests --test reliability\n\
         # full sizes (50 MiB floods, 200,000 probes)\n\
         TESTRIUM_RELIABILITY_FULL=1 cargo test -p testrium-tests --test reliability\n\
         # rewrite this file, figures from the runs above included\n\
         TESTRIUM_BLESS=1 cargo test -p testrium-tests --test reliability reliability_doc_is_current\n\
         # or all three at once, from fresh figures\n\
         tests/scripts/reliability-figures.sh\n\
         # drive a prebuilt binary instead of building one (a release build, another user)\n\
         TESTRIUM_RELIABILITY_BIN=/path/to/testrium cargo test -p testrium-tests --test reliability\n\
         ```\n\n\
         Root reads and writes through permission bits: as root the chmod cases (an unreadable\n\
         unit file, an unreadable group folder, a read-only base) are skipped with a printed note;\n\
         as any other user they run (the suite passes as `nobody` too).\n\n\
         Peak memory is the `testrium` process's own `VmHWM` from `/proc/<pid>/status`, sampled\n\
         every 2 ms while it runs (not `ru_maxrss`, which Linux carries over `exec` from the\n\
         forked test process).\n\n\
         Results: *pass* means the test runs in the default suite, which CI requires to pass;\n\
         *ignored* names the bug the test waits for (it runs with `-- --include-ignored`).\n",
    );
    let mut area = "";
    for scenario in SCENARIOS {
        if scenario.area != area {
            area = scenario.area;
            let _ = write!(
                doc,
                "\n## {area}\n\n| scenario | what is checked | test | sizes (default / full) | result |\n|---|---|---|---|---|\n"
            );
        }
        let sizes = scenario
            .sizes
            .map_or_else(|| "—".to_owned(), |(d, f)| format!("{d} / {f}"));
        let (test, result) = match status(scenario) {
            Status::Runs { file } => (format!("`{}` ({file})", scenario.test), "pass".to_owned()),
            Status::Ignored { file, reason } => (
                format!("`{}` ({file})", scenario.test),
                format!("ignored: {reason}"),
            ),
            Status::Missing => (
                format!(
                    "`{}` ({})",
                    scenario.test,
                    scenario.file.unwrap_or("this suite")
                ),
                "not covered yet".to_owned(),
            ),
        };
        let _ = writeln!(
            doc,
            "| {} | {} | {test} | {sizes} | {result} |",
            cell(scenario.scenario),
            cell(scenario.checked)
        );
    }
    doc.push_str(
        "\n## Figures measured\n\n\
         From the last blessed run (machine-dependent, so not compared by the test).\n\n",
    );
    doc.push_str(FIGURES_START);
    doc.push('\n');
    doc.push_str(figures);
    doc.push_str(FIGURES_END);
    doc.push('\n');
    doc
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The figures block of an existing document, per test (`### test` sections).
fn existing_figures(doc: &str) -> (String, BTreeMap<String, String>) {
    let mut sections = BTreeMap::new();
    let block = doc
        .split_once(FIGURES_START)
        .and_then(|(_, rest)| rest.split_once(FIGURES_END))
        .map_or("", |(block, _)| block)
        .trim_start_matches('\n');
    let mut current: Option<String> = None;
    for line in block.lines() {
        if let Some(test) = line.strip_prefix("### ") {
            current = Some(test.trim().trim_matches('`').to_owned());
            sections.insert(current.clone().unwrap_or_default(), String::new());
        } else if let Some(test) = &current
            && let Some(text) = sections.get_mut(test)
        {
            text.push_str(line);
            text.push('\n');
        }
    }
    (block.to_owned(), sections)
}

/// Figures measured by the tests of this build (see `support::figures`), per test: the
/// default-size run and the full-size run, when there was one.
fn measured_figures() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability-figures");
    let mut found = BTreeMap::new();
    for scenario in SCENARIOS {
        let mut section = String::new();
        for size in ["default", "full"] {
            let file = dir.join(format!("{}.{size}.txt", scenario.test));
            if let Ok(text) = std::fs::read_to_string(file) {
                let _ = writeln!(section, "\n{size} sizes:\n");
                for line in text.lines() {
                    let _ = writeln!(section, "- {line}");
                }
            }
        }
        if !section.is_empty() {
            section.push('\n');
            found.insert(scenario.test.to_owned(), section);
        }
    }
    found
}

fn figures_block(mut sections: BTreeMap<String, String>) -> String {
    let mut block = String::new();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let _ = writeln!(
        block,
        "Machine of the last bless: {cores} cores, Linux {}, debug build, load average {load} \
         (a shared machine: wall times vary with it; row counts and memory much less).\n",
        kernel.trim()
    );
    for scenario in SCENARIOS {
        if let Some(text) = sections.remove(scenario.test) {
            let _ = write!(block, "### `{}`\n{}", scenario.test, text);
        }
    }
    block
}

#[test]
fn reliability_doc_is_current() {
    let path = workspace().join("docs").join("RELIABILITY.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let (current_block, mut sections) = existing_figures(&current);
    if std::env::var_os("TESTRIUM_BLESS").is_some_and(|v| v == "1") {
        sections.extend(measured_figures());
        let doc = render(&figures_block(sections));
        std::fs::write(&path, doc).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        return;
    }
    let expected = render(&current_block);
    assert!(
        current == expected,
        "docs/RELIABILITY.md is out of date with the reliability suite; run\n  \
         TESTRIUM_BLESS=1 cargo test -p testrium-tests --test reliability reliability_doc_is_current\n\
         --- expected\n{expected}"
    );
}

#[test]
fn every_suite_test_is_registered() {
    for (file, source) in SUITE_SOURCES {
        let mut lines = source.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "#[test]" {
                continue;
            }
            let name = lines
                .by_ref()
                .map(str::trim)
                .find_map(|l| {
                    l.strip_prefix("fn ")
                        .and_then(|r| r.split_once('('))
                        .map(|(n, _)| n)
                })
                .unwrap_or_default();
            assert!(
                SCENARIOS.iter().any(|s| s.test == name && s.file.is_none()),
                "{file}: test `{name}` is not in the registry (tests/tests/reliability/registry.rs)"
            );
        }
    }
    for scenario in SCENARIOS.iter().filter(|s| s.file.is_none()) {
        assert_ne!(
            status(scenario),
            Status::Missing,
            "no test `{}`",
            scenario.test
        );
    }
}

#[test]
fn ignore_reasons_are_read_from_the_source() {
    let source = "#[test]\n#[ignore = \"bug: `x` leaks; reported\"]\nfn leaky() {}\n\n\
                  #[test]\n// Regression: fixed.\nfn fixed() {}\n\
                  proptest! {\n    #[test]\n    fn inner(x in 0..1) {}\n}\n";
    assert_eq!(
        find_test(source, "leaky"),
        Some(Some("bug: `x` leaks; reported".to_owned()))
    );
    assert_eq!(find_test(source, "fixed"), Some(None));
    assert_eq!(find_test(source, "inner"), Some(None));
    assert_eq!(find_test(source, "absent"), None);
}
