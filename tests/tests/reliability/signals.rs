//! The runner killed or interrupted: SIGKILL mid-run, Ctrl-C (SIGINT) during setup, during the
//! readiness wait and during teardown.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use testrium_events::{RunDb, UnitState};

use super::support::*;

/// The run database of the only run under `base`.
fn only_db(base: &Base) -> PathBuf {
    let dirs = base.run_dirs();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].join("Data.db")
}

/// Every unit's state is terminal and the database reads back.
fn assert_db_final(db: &Path) -> Vec<(String, UnitState)> {
    let db = RunDb::open(db).unwrap_or_else(|e| panic!("open {db:?}: {e}"));
    db.read_events()
        .unwrap_or_else(|e| panic!("read events: {e}"));
    let states: Vec<(String, UnitState)> = db
        .unit_states()
        .unwrap_or_else(|e| panic!("unit states: {e}"))
        .into_iter()
        .map(|r| (r.unit, r.state))
        .collect();
    for (unit, state) in &states {
        assert!(state.is_terminal(), "{unit} left in state {state:?}");
    }
    states
}

#[test]
fn runner_sigkilled_mid_run() {
    let base = Base::new("sigkill");
    GroupDir::new("test_killed")
        .unit(UnitSpec::fixture("server", &["emit:up", "hang"]).events(&["up", "never-comes"]))
        .unit(UnitSpec::fixture("parent", &["grandchild", "emit:up", "hang"]).events(&["up"]))
        .unit(UnitSpec::fixture("daemonizer", &["daemonize", "emit:up", "hang"]).events(&["up"]))
        .unit(UnitSpec::fixture("escaper", &["escape", "emit:up", "hang"]).events(&["up"]))
        .write(base.path());
    GroupDir::new("test_next")
        .unit(UnitSpec::fixture("one", &["emit:up"]).events(&["up"]))
        .write(base.path());
    let running = Testrium::new(&base, "killed", &["run", ".", "test_killed"]).spawn();
    let mut units = Vec::new();
    let mut others = Vec::new();
    for (unit, step, is_unit) in [
        ("server", "up", true),
        ("parent", "up", true),
        ("daemonizer", "up", true),
        ("escaper", "up", true),
        ("parent", "grandchild-up", false),
        ("daemonizer", "daemon-up", false),
        ("escaper", "escaped-up", false),
    ] {
        let event = wait_probe(&base, unit, step, DEADLINE)
            .unwrap_or_else(|| panic!("{unit}:{step} never recorded"));
        if is_unit { &mut units } else { &mut others }.push(event_pid(&event));
    }
    running.signal(Signal::SIGKILL);
    let killed = running.wait(DEADLINE);
    assert_eq!(killed.signal, Some(9));
    // The units die with their runner (parent-death signal).
    let units_gone = wait_until(DEADLINE, || units.iter().all(|&p| !pid_alive(p)));
    assert!(
        units_gone,
        "units alive after the runner died: {}",
        describe(&units)
    );
    // The database is readable (WAL, no torn state).
    let db = RunDb::open(&only_db(&base)).unwrap_or_else(|e| panic!("{e}"));
    let events = db.read_events().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(events.events.len(), 7);
    assert!(db.unit_states().is_ok_and(|s| s.len() == 4));
    // What the units left (a grandchild, a daemon, an escaped child) dies too, without waiting
    // for another run: the attempt's watchdog sees the runner gone.
    let others_gone = wait_until(DEADLINE, || others.iter().all(|&p| !pid_alive(p)));
    assert!(
        others_gone,
        "descendants left by the killed run: {}",
        describe(&others)
    );
    base.assert_nothing_left();
    // The next run works normally.
    let json = base.file("next.json");
    let next = Testrium::new(
        &base,
        "next",
        &[
            "run",
            ".",
            "test_next",
            "--json",
            json.to_str().unwrap_or_default(),
        ],
    )
    .run();
    next.assert_code(0);
    assert!(attempt(&read_json(&json), "test_next")["passed"] == true);
    base.assert_nothing_left();
}

/// Ctrl-C once the setup recorded `setup-up`; `write_setup` makes the group's setup.
fn ctrl_c_during(label: &str, write_setup: impl FnOnce(&Path) -> GroupDir) {
    let base = Base::new(label);
    let group = write_setup(base.path().join("test_setup").as_path());
    group
        .unit(
            // It never records its probe: the attempt is still running at the Ctrl-C, whether
            // the worker already started (the setup recorded a probe: it is up) or not.
            UnitSpec::fixture("worker", &["hang"])
                .line("use_setup = true")
                .events(&["up"]),
        )
        .write(base.path());
    let (command, json) = run_json_command(&base);
    let running = command.spawn();
    let setup_pid = event_pid(
        &wait_probe(&base, "setup", "setup-up", DEADLINE).unwrap_or_else(|| panic!("no setup")),
    );
    running.signal(Signal::SIGINT);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    assert!(!pid_alive(setup_pid), "setup survived Ctrl-C");
    let report = read_json(&json);
    assert_eq!(report["interrupted"], true);
    let attempt = attempt(&report, "test_setup");
    assert_eq!(attempt["interrupted"], true);
    // A setup that recorded a probe is up (issue 11 item 3): the worker may have been started
    // just before the Ctrl-C, then it was stopped with the rest.
    let worker = units(attempt)["worker"]["status"].clone();
    assert!(
        worker == "not_started" || worker == "stopped",
        "worker: {worker}"
    );
    assert_db_final(&only_db(&base));
    base.assert_nothing_left();
}

#[test]
fn ctrl_c_during_setup() {
    // `setup = [...]` in config.toml.
    ctrl_c_during("ctrlc-setup", |_| {
        let setup = toml_list(&[fixture(), "emit:setup-up".to_owned(), "hang".to_owned()]);
        GroupDir::new("test_setup").config_line(format!("setup = {setup}"))
    });
    // The original's `setup.py` with a `main()`, run by the Python bridge.
    ctrl_c_during("ctrlc-setup-py", |dir| {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        write(
            &dir.join("setup.py"),
            b"import time\n\
              from testrium.modules.events import Events_Manager\n\n\
              def main():\n    \
                  Events_Manager(Unit='setup', path='.').Set_Event('setup-up')\n    \
                  time.sleep(100000)\n",
        );
        GroupDir::new("test_setup")
    });
}

#[test]
fn ctrl_c_during_readiness_wait() {
    let base = Base::new("ctrlc-ready");
    GroupDir::new("test_ready")
        .unit(UnitSpec::fixture("slow", &["emit:booting", "hang"]).ready("never-ready", 600))
        .unit(
            UnitSpec::fixture("dependent", &["emit:up"])
                .after(&["slow"])
                .events(&["up"]),
        )
        .write(base.path());
    let (command, json) = run_json_command(&base);
    let running = command.spawn();
    let slow = event_pid(
        &wait_probe(&base, "slow", "booting", DEADLINE).unwrap_or_else(|| panic!("no probe")),
    );
    running.signal(Signal::SIGINT);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    assert!(!pid_alive(slow));
    let report = read_json(&json);
    let attempt = attempt(&report, "test_ready");
    assert_eq!(attempt["interrupted"], true);
    assert_eq!(units(attempt)["dependent"]["status"], "not_started");
    assert!(done.stdout.contains("interrupted") || done.stderr.contains("interrupted"));
    assert_db_final(&only_db(&base));
    base.assert_nothing_left();
}

#[test]
fn ctrl_c_twice_during_teardown() {
    let base = Base::new("ctrlc-teardown");
    GroupDir::new("test_teardown")
        .unit(
            UnitSpec::hostile("stubborn", &["emit:up", "term-emit-hang:got-term"]).events(&["up"]),
        )
        .write(base.path());
    let (command, json) = run_json_command(&base);
    let running = command.spawn();
    // The unit records `got-term` when teardown's SIGTERM reaches it, and ignores it.
    let pid = event_pid(
        &wait_probe(&base, "stubborn", "got-term", DEADLINE).unwrap_or_else(|| panic!("no probe")),
    );
    running.signal(Signal::SIGINT);
    // Standard signals do not queue: send the second only once the first was handled.
    let err = base.file("run.stderr");
    let noticed = wait_until(DEADLINE, || {
        std::fs::read_to_string(&err).is_ok_and(|t| t.contains("interrupted"))
    });
    assert!(noticed, "the first Ctrl-C was not acknowledged");
    running.signal(Signal::SIGINT);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    assert!(!pid_alive(pid));
    let report = read_json(&json);
    assert_eq!(report["interrupted"], true);
    let attempt = attempt(&report, "test_teardown");
    // Killed at once by the second Ctrl-C, or after the grace period if that came first.
    assert_eq!(units(attempt)["stubborn"]["signal"], 9, "{attempt}");
    let db = PathBuf::from(attempt["db_path"].as_str().unwrap_or_default());
    assert_db_final(&db);
    base.assert_nothing_left();
}

#[test]
fn sigterm_to_the_runner_during_readiness_wait() {
    let base = Base::new("sigterm-runner");
    GroupDir::new("test_sigterm")
        .unit(UnitSpec::fixture("slow", &["emit:booting", "hang"]).ready("never-ready", 600))
        .write(base.path());
    let (command, json) = run_json_command(&base);
    let running = command.spawn();
    let slow = event_pid(
        &wait_probe(&base, "slow", "booting", DEADLINE).unwrap_or_else(|| panic!("no probe")),
    );
    // What a service manager or `timeout` sends.
    running.signal(Signal::SIGTERM);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    assert!(!pid_alive(slow));
    assert_eq!(read_json(&json)["interrupted"], true);
    assert_db_final(&only_db(&base));
    base.assert_nothing_left();
}

#[test]
fn ctrl_c_while_parallel_jobs_run() {
    let base = Base::new("ctrlc-jobs");
    let groups = 6;
    for g in 0..groups {
        GroupDir::new(&format!("test_job{g}"))
            .unit(UnitSpec::fixture("server", &["emit:up", "hang"]).events(&["up", "never-comes"]))
            .write(base.path());
    }
    let json = base.file("report.json");
    let running = Testrium::new(
        &base,
        "run",
        &[
            "run",
            "--jobs",
            "3",
            "--json",
            json.to_str().unwrap_or_default(),
        ],
    )
    .spawn();
    // The first three groups run at once (name order).
    let mut pids = Vec::new();
    let all_up = wait_until(DEADLINE, || {
        pids = base
            .run_dirs()
            .iter()
            .filter_map(|dir| {
                let db = RunDb::open(&dir.join("Data.db")).ok()?;
                let events = db.read_events().ok()?.events;
                events.first().map(event_pid)
            })
            .collect();
        pids.len() == 3
    });
    assert!(all_up, "three groups did not start together: {pids:?}");
    running.signal(Signal::SIGINT);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    for pid in &pids {
        assert!(!pid_alive(*pid), "unit {pid} survived Ctrl-C");
    }
    let report = read_json(&json);
    assert_eq!(report["interrupted"], true);
    let ran = report["groups"].as_array().map_or(0, Vec::len);
    let skipped: Vec<String> = report["skipped"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("{} ({})", s["name"], s["reason"]))
        .collect();
    assert_eq!(ran, 3, "{report}");
    assert_eq!(skipped.len(), groups - 3, "{skipped:?}");
    assert!(
        skipped.iter().all(|s| s.contains("interrupted")),
        "{skipped:?}"
    );
    assert_eq!(base.run_dirs().len(), 3, "no group started after Ctrl-C");
    for dir in base.run_dirs() {
        assert_db_final(&dir.join("Data.db"));
    }
    base.assert_nothing_left();
}

#[test]
fn stdout_closed_under_the_runner() {
    let base = Base::new("closed-stdout");
    GroupDir::new("test_closed_stdout")
        .unit(UnitSpec::fixture("server", &["emit:up", "print:hello", "hang"]).events(&["up"]))
        .write(base.path());
    let (command, json) = json_command(&base, true);
    let done = command.closed_stdout().run();
    done.assert_no_panic();
    assert!(done.signal.is_none(), "killed by a signal\n{}", done.show());
    // The run itself completed: report, history, final states, nothing left running.
    let report = read_json(&json);
    let attempt = attempt(&report, "test_closed_stdout");
    assert_eq!(attempt["passed"], true, "{attempt}");
    assert_db_final(&attempt_db(attempt));
    let history = testrium_events::History::open(base.path())
        .and_then(|h| h.recent(None, 10))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.len(), 1);
    base.assert_nothing_left();
    figures(
        "stdout_closed_under_the_runner",
        &[format!("exit code with stdout closed: {:?}", done.code)],
    );
}

#[test]
// Regression: SIGHUP (terminal closed) killed `testrium run` without teardown or report (fixed
// in 4ec82f8).
fn sighup_to_the_runner() {
    let base = Base::new("sighup");
    GroupDir::new("test_sighup")
        .unit(
            UnitSpec::fixture("parent", &["grandchild", "emit:up", "hang"])
                .events(&["up", "never-comes"]),
        )
        .write(base.path());
    let (command, json) = run_json_command(&base);
    let running = command.spawn();
    let pids: Vec<u32> = [("parent", "up"), ("parent", "grandchild-up")]
        .iter()
        .map(|(unit, step)| {
            event_pid(
                &wait_probe(&base, unit, step, DEADLINE).unwrap_or_else(|| panic!("no {step}")),
            )
        })
        .collect();
    running.signal(Signal::SIGHUP);
    let done = running.wait(DEADLINE);
    done.assert_no_panic();
    assert!(
        done.signal.is_none(),
        "killed by the signal, no teardown\n{}",
        done.show()
    );
    assert!(matches!(done.code, Some(129 | 130)), "{}", done.show());
    assert_eq!(read_json(&json)["interrupted"], true);
    for pid in pids {
        assert!(!pid_alive(pid), "{pid} survived the run");
    }
    assert_db_final(&only_db(&base));
    base.assert_nothing_left();
}

/// A group whose Python entrypoint units wait for `gate`, which never becomes ready (it fails
/// readiness after `ready_timeout_s`).
/// Starts `testrium run` on [`python_waiters_group`] (long readiness timeout) and waits until
/// the gate unit boots; also whether the pre-warmed interpreters (when the runner starts them
/// early) came up within 10 s.
fn start_python_waiters(base: &Base) -> (Running, bool) {
    python_waiters_group(base, 600);
    let running = Testrium::new(base, "run", &["run"]).spawn();
    wait_probe(base, "gate", "booting", DEADLINE).unwrap_or_else(|| panic!("no probe"));
    let prewarmed = wait_until(std::time::Duration::from_secs(10), || {
        pythons(base).len() >= 2
    });
    (running, prewarmed)
}

fn python_waiters_group(base: &Base, ready_timeout_s: u32) {
    let dir = base.path().join("test_py_waiters");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    write(
        &dir.join("waiters.py"),
        b"from testrium.modules.events import Events_Manager\n\n\
          def run():\n    \
              Events_Manager(Unit='py1', path='.').Set_Event('py-ran')\n",
    );
    let mut group = GroupDir::new("test_py_waiters").unit(
        UnitSpec::fixture("gate", &["emit:booting", "hang"]).ready("never-ready", ready_timeout_s),
    );
    for name in ["py1", "py2"] {
        group = group.unit(
            UnitSpec::entrypoint(name, "waiters:run")
                .after(&["gate"])
                .events(&["py-ran"]),
        );
    }
    group.write(base.path());
}

/// Live processes for `base` that are Python interpreters.
fn pythons(base: &Base) -> Vec<u32> {
    base.live_processes()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("python"))
        })
        .collect()
}

#[test]
fn python_units_waiting_on_a_dependency_leave_nothing() {
    // Ctrl-C while they wait.
    let base = Base::new("py-waiters-ctrlc");
    let (running, prewarmed) = start_python_waiters(&base);
    running.signal(Signal::SIGINT);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    base.assert_nothing_left();
    // The dependency fails: the waiting units never run, and nothing of them stays.
    let failed = Base::new("py-waiters-fail");
    python_waiters_group(&failed, 1);
    let json = failed.file("report.json");
    let done = Testrium::new(
        &failed,
        "run",
        &["run", "--json", json.to_str().unwrap_or_default()],
    )
    .run();
    done.assert_code(1);
    let report = read_json(&json);
    let units = units(attempt(&report, "test_py_waiters"));
    for name in ["py1", "py2"] {
        assert!(
            units[name]["exit_code"].is_null(),
            "{name} ran: {}",
            units[name]
        );
    }
    failed.assert_nothing_left();
    figures(
        "python_units_waiting_on_a_dependency_leave_nothing",
        &[format!(
            "pre-warmed interpreters seen while waiting: {}",
            if prewarmed { "yes" } else { "no" }
        )],
    );
}

#[test]
fn ctrl_c_between_repeated_attempts() {
    let base = Base::new("ctrlc-repeat");
    GroupDir::new("test_repeat")
        .timeout_s(1)
        .unit(UnitSpec::fixture("server", &["emit:up", "hang"]).events(&["up", "never-comes"]))
        .write(base.path());
    let json = base.file("report.json");
    let running = Testrium::new(
        &base,
        "run",
        &[
            "run",
            "--repeat",
            "5",
            "--json",
            json.to_str().unwrap_or_default(),
        ],
    )
    .spawn();
    // Attempt 1 times out after 1 s; Ctrl-C once attempt 2's unit is up.
    let second = wait_until(DEADLINE, || {
        let dirs = base.run_dirs();
        dirs.len() >= 2
            && RunDb::open(&dirs[1].join("Data.db"))
                .and_then(|db| db.read_events())
                .is_ok_and(|log| !log.events.is_empty())
    });
    assert!(second, "attempt 2 never started");
    running.signal(Signal::SIGINT);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    assert_eq!(base.run_dirs().len(), 2, "no attempt started after Ctrl-C");
    let report = read_json(&json);
    let attempts = report["groups"][0]["attempts"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(attempts, 2, "{report}");
    for dir in base.run_dirs() {
        assert_db_final(&dir.join("Data.db"));
    }
    base.assert_nothing_left();
}

/// A group with a Python direct test function that records `check-started` and then sleeps;
/// its unit records `up` and, when `unit_hangs`, waits forever for nothing.
fn direct_tests_group(base: &Base, unit_hangs: bool) {
    let dir = base.path().join("test_direct");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    write(
        &dir.join("checks.py"),
        b"import time\n\
          from testrium.modules.events import Events_Manager\n\n\
          def test_slow():\n    \
              Events_Manager(Unit='checks', path='.').Set_Event('check-started')\n    \
              time.sleep(100000)\n",
    );
    let unit = if unit_hangs {
        UnitSpec::fixture("one", &["emit:up", "hang"]).events(&["up", "never-comes"])
    } else {
        UnitSpec::fixture("one", &["emit:up"]).events(&["up"])
    };
    GroupDir::new("test_direct").unit(unit).write(base.path());
}

#[test]
fn ctrl_c_during_python_direct_tests() {
    // While the direct test function runs.
    let base = Base::new("ctrlc-direct");
    direct_tests_group(&base, false);
    let (command, json) = run_json_command(&base);
    let running = command.spawn();
    let check = event_pid(
        &wait_probe(&base, "checks", "check-started", DEADLINE)
            .unwrap_or_else(|| panic!("the direct test never started")),
    );
    running.signal(Signal::SIGINT);
    let done = running.wait(DEADLINE);
    done.assert_code(130);
    assert!(!pid_alive(check), "the direct test survived Ctrl-C");
    assert_eq!(read_json(&json)["interrupted"], true);
    base.assert_nothing_left();
    // While the units run, before the direct tests (perhaps pre-started) are released.
    let early = Base::new("ctrlc-direct-early");
    direct_tests_group(&early, true);
    let running = Testrium::new(&early, "run", &["run"]).spawn();
    wait_probe(&early, "one", "up", DEADLINE).unwrap_or_else(|| panic!("no probe"));
    running.signal(Signal::SIGINT);
    running.wait(DEADLINE).assert_code(130);
    early.assert_nothing_left();
}

#[test]
fn runner_sigkilled_while_python_units_wait() {
    let base = Base::new("sigkill-py");
    let (running, prewarmed) = start_python_waiters(&base);
    running.signal(Signal::SIGKILL);
    assert_eq!(running.wait(DEADLINE).signal, Some(9));
    let gone = wait_until(DEADLINE, || base.live_processes().is_empty());
    assert!(
        gone,
        "left after the runner died: {}",
        describe(&base.live_processes())
    );
    figures(
        "runner_sigkilled_while_python_units_wait",
        &[format!(
            "pre-warmed interpreters seen before the kill: {}",
            if prewarmed { "yes" } else { "no" }
        )],
    );
}
