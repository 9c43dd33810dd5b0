//! Scale and concurrency: many units, a deep dependency chain, many groups, concurrent runs.

use std::collections::BTreeSet;
use std::path::PathBuf;

use testrium_events::{History, RunDb};

use super::support::*;

#[test]
fn two_hundred_units_in_one_group() {
    let count = size(200, 200);
    let base = Base::new("wide");
    let mut group = GroupDir::new("test_wide").timeout_s(600);
    for i in 0..count {
        group = group.unit(UnitSpec::fixture(&format!("u{i:03}"), &["emit:up"]).events(&["up"]));
    }
    group.write(base.path());
    let (done, json) = run_with_json(&base);
    done.assert_code(0);
    let attempt = attempt(&read_json(&json), "test_wide").clone();
    let units = units(&attempt);
    assert_eq!(units.len() as u64, count);
    assert!(
        units.values().all(|u| u["status"] == "finished"),
        "{units:?}"
    );
    assert_eq!(
        stored_verdict(&attempt_db(&attempt))["summary"]["events"],
        count
    );
    base.assert_nothing_left();
    figures(
        "two_hundred_units_in_one_group",
        &[
            format!("units: {count}, all finished, {count} probes verified"),
            done.memory(),
            format!("wall time: {:.2} s", done.elapsed.as_secs_f64()),
        ],
    );
}

#[test]
fn dependency_chain_500_deep() {
    let depth = size(500, 500);
    let base = Base::new("chain");
    let name = |i: u64| format!("c{i:03}");
    let mut group = GroupDir::new("test_chain").timeout_s(600);
    for i in 0..depth {
        let mut unit = UnitSpec::fixture(&name(i), &["emit:ready"]).ready("ready", 600);
        if i > 0 {
            unit = unit.after(&[&name(i - 1)]);
        }
        group = group.unit(unit);
    }
    // `init` runs against the chain (last link first): order must come from the dependencies.
    group.write(base.path());
    let units_dir = base.path().join("test_chain").join("units");
    for i in 0..depth {
        let path = units_dir.join(format!("{}.toml", name(i)));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let text = text.replace(
            &format!("init = {}\n", i + 1),
            &format!("init = {}\n", depth - i),
        );
        write(&path, text.as_bytes());
    }
    let check = Testrium::new(&base, "check", &["check"]).run();
    check.assert_code(0);
    let (done, json) = run_with_json(&base);
    done.assert_code(0);
    let attempt = attempt(&read_json(&json), "test_chain").clone();
    let db = PathBuf::from(attempt["db_path"].as_str().unwrap_or_default());
    let events = RunDb::open(&db)
        .and_then(|db| db.read_events())
        .unwrap_or_else(|e| panic!("{e}"))
        .events;
    let order: Vec<String> = events.iter().map(|e| e.unit.clone()).collect();
    let expected: Vec<String> = (0..depth).map(name).collect();
    assert_eq!(
        order, expected,
        "links became ready out of dependency order"
    );
    base.assert_nothing_left();
    figures(
        "dependency_chain_500_deep",
        &[
            format!("depth: {depth}, every link ready in dependency order"),
            format!("testrium check: {:.2} s", check.elapsed.as_secs_f64()),
            format!(
                "run: {:.2} s ({:.1} ms per link)",
                done.elapsed.as_secs_f64(),
                done.elapsed.as_secs_f64() * 1000.0 / depth as f64
            ),
            done.memory(),
        ],
    );
}

#[test]
fn hundred_groups_in_one_base() {
    let count = size(100, 100);
    let base = Base::new("groups");
    for g in 0..count {
        GroupDir::new(&format!("test_g{g:03}"))
            .unit(UnitSpec::fixture("one", &["emit:up"]).events(&["up"]))
            .write(base.path());
    }
    let check = Testrium::new(&base, "check", &["check"]).run();
    check.assert_code(0);
    let json = base.file("report.json");
    let done = Testrium::new(
        &base,
        "run",
        &[
            "run",
            "--jobs",
            "4",
            "--json",
            json.to_str().unwrap_or_default(),
        ],
    )
    .run();
    done.assert_code(0);
    let report = read_json(&json);
    assert_eq!(
        report["groups"].as_array().map(Vec::len),
        Some(count as usize)
    );
    let history = History::open(base.path())
        .and_then(|h| h.recent(None, 10_000))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.len() as u64, count, "history keeps every run");
    assert_eq!(base.run_dirs().len() as u64, count);
    base.assert_nothing_left();
    figures(
        "hundred_groups_in_one_base",
        &[
            format!(
                "groups: {count}; testrium check {:.2} s",
                check.elapsed.as_secs_f64()
            ),
            format!("testrium run --jobs 4: {:.2} s", done.elapsed.as_secs_f64()),
            done.memory(),
        ],
    );
}

#[test]
fn concurrent_runs_and_jobs_share_a_base() {
    let groups = 6;
    let base = Base::new("concurrent");
    for g in 0..groups {
        GroupDir::new(&format!("test_pair{g}"))
            .unit(UnitSpec::hostile("server", &["pairs:50:req", "emit:served"]).events(&["served"]))
            .unit(UnitSpec::fixture("client", &["emit:asked"]).events(&["asked"]))
            .write(base.path());
    }
    let first = base.file("first.json");
    let second = base.file("second.json");
    let a = Testrium::new(
        &base,
        "first",
        &[
            "run",
            "--jobs",
            "3",
            "--json",
            first.to_str().unwrap_or_default(),
        ],
    )
    .spawn();
    let b = Testrium::new(
        &base,
        "second",
        &[
            "run",
            "--jobs",
            "3",
            "--json",
            second.to_str().unwrap_or_default(),
        ],
    )
    .spawn();
    let a = a.wait(DEADLINE);
    let b = b.wait(DEADLINE);
    a.assert_code(0);
    b.assert_code(0);
    let mut run_dirs = BTreeSet::new();
    for json in [&first, &second] {
        let report = read_json(json);
        for group in report["groups"].as_array().into_iter().flatten() {
            for attempt in group["attempts"].as_array().into_iter().flatten() {
                let dir = attempt["run_dir"].as_str().unwrap_or_default().to_owned();
                let db = PathBuf::from(attempt["db_path"].as_str().unwrap_or_default());
                let events = RunDb::open(&db)
                    .and_then(|db| db.read_events())
                    .unwrap_or_else(|e| panic!("{db:?}: {e}"));
                // 50 pairs + served + asked, nothing from the other run.
                assert_eq!(events.events.len(), 102, "{dir}");
                assert!(run_dirs.insert(dir), "two runs shared a run directory");
            }
        }
    }
    assert_eq!(run_dirs.len(), 2 * groups);
    let history = History::open(base.path())
        .and_then(|h| h.recent(None, 10_000))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.len(), 2 * groups, "history keeps every run");
    let ids: BTreeSet<&str> = history.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids.len(), 2 * groups);
    assert!(history.iter().all(|r| r.passed));
    let shown = Testrium::new(&base, "history", &["history", "--base", "."]).run();
    shown.assert_code(0);
    base.assert_nothing_left();
}

#[test]
fn two_hundred_writers_at_once() {
    let writers = 200;
    let pairs = size(50, 500);
    let base = Base::new("writers");
    let mut group = GroupDir::new("test_writers").timeout_s(600);
    for i in 0..writers {
        let tag = format!("w{i:03}");
        group = group.unit(
            UnitSpec::hostile(&tag, &[&format!("pairs:{pairs}:{tag}"), "emit:done"])
                .events(&["done"]),
        );
    }
    group.write(base.path());
    let (done, rows) = run_writers(&base, "test_writers", writers, pairs);
    figures(
        "two_hundred_writers_at_once",
        &[
            format!(
                "{writers} units x {} rows = {rows} rows, all stored, {} pairs matched",
                2 * pairs + 1,
                writers * pairs
            ),
            format!(
                "wall time: {:.2} s ({:.0} rows/s)",
                done.elapsed.as_secs_f64(),
                rows as f64 / done.elapsed.as_secs_f64()
            ),
            done.memory(),
        ],
    );
}

#[test]
fn group_timeout_while_units_start() {
    let units = 40;
    let mut exits = Vec::new();
    for timeout in ["0.001", "0.02", "0.05"] {
        let base = Base::new("timeout-race");
        let mut group = GroupDir::new("test_race");
        for i in 0..units {
            group = group.unit(
                UnitSpec::fixture(&format!("u{i:02}"), &["grandchild", "emit:up", "hang"])
                    .events(&["up"]),
            );
        }
        group.write(base.path());
        let done = Testrium::new(&base, "run", &["run", "--timeout", timeout]).run();
        done.assert_code(1);
        assert_db_final_states(&base);
        base.assert_nothing_left();
        exits.push(format!(
            "--timeout {timeout}: exit {:?} in {:.2} s",
            done.code,
            done.elapsed.as_secs_f64()
        ));
    }
    figures("group_timeout_while_units_start", &exits);
}

/// Every unit state in every run database under `base` is terminal.
fn assert_db_final_states(base: &Base) {
    for dir in base.run_dirs() {
        let db = RunDb::open(&dir.join("Data.db")).unwrap_or_else(|e| panic!("{e}"));
        for record in db.unit_states().unwrap_or_else(|e| panic!("{e}")) {
            assert!(
                record.state.is_terminal(),
                "{} left in {:?}",
                record.unit,
                record.state
            );
        }
    }
}

#[test]
fn report_and_history_read_while_a_run_writes() {
    let base = Base::new("readers");
    GroupDir::new("test_busy")
        .timeout_s(600)
        // Writes, then waits for the test's `go` (so the readers surely overlap the run).
        .unit(
            UnitSpec::command(
                "writer",
                &[
                    "/bin/sh".to_owned(),
                    "-c".to_owned(),
                    format!(
                        "{} pairs:3000:busy && exec {} wait:writer:go emit:done",
                        hostile(),
                        fixture()
                    ),
                ],
            )
            .events(&["done"]),
        )
        .write(base.path());
    // An earlier run in the history.
    GroupDir::new("test_done")
        .unit(UnitSpec::fixture("one", &["emit:up"]).events(&["up"]))
        .write(base.path());
    Testrium::new(&base, "first", &["run", ".", "test_done"])
        .run()
        .assert_code(0);
    let json = base.file("report.json");
    let running = Testrium::new(
        &base,
        "run",
        &[
            "run",
            ".",
            "test_busy",
            "--json",
            json.to_str().unwrap_or_default(),
        ],
    )
    .spawn();
    let busy_dir = || {
        base.run_dirs().into_iter().find(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("test_busy"))
        })
    };
    let started = wait_until(DEADLINE, || {
        busy_dir().is_some_and(|d| {
            RunDb::open(&d.join("Data.db"))
                .and_then(|db| db.read_events())
                .is_ok_and(|log| !log.events.is_empty())
        })
    });
    assert!(started, "the busy run never recorded a probe");
    let dir = busy_dir().unwrap_or_default();
    // Readers of a run in progress and of the shared history: clean answers, no panic.
    let mut readers = Vec::new();
    let mut message = String::new();
    for i in 0..3 {
        let report = Testrium::new(
            &base,
            &format!("report{i}"),
            &["report", dir.to_str().unwrap_or_default()],
        )
        .run();
        report.assert_no_panic();
        readers.push(report.code);
        if i == 0 {
            message = report.stderr.lines().next().unwrap_or_default().to_owned();
        }
        let history =
            Testrium::new(&base, &format!("history{i}"), &["history", "--base", "."]).run();
        history.assert_code(0);
    }
    let go = Testrium::new(
        &base,
        "go",
        &[
            "emit",
            "go",
            "--unit",
            "writer",
            "--db",
            dir.join("Data.db").to_str().unwrap_or_default(),
        ],
    )
    .run();
    go.assert_code(0);
    let done = running.wait(DEADLINE);
    done.assert_code(0);
    let attempt = attempt(&read_json(&json), "test_busy").clone();
    assert_eq!(
        attempt["correlation"]["paired"], 3000,
        "the readers disturbed nothing"
    );
    let history = History::open(base.path())
        .and_then(|h| h.recent(None, 100))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.len(), 2);
    base.assert_nothing_left();
    figures(
        "report_and_history_read_while_a_run_writes",
        &[format!(
            "`testrium report` of the run in progress: exit {readers:?}, says: {}",
            message.replace(base.path().to_str().unwrap_or_default(), "<base>")
        )],
    );
}

#[test]
fn eight_python_writers_at_once() {
    let writers = 8;
    let pairs = size(1_000, 5_000);
    let base = Base::new("py-writers");
    let dir = base.path().join("test_py_writers");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    // The original's client API, as Python units of 0.3.0 groups use it.
    write(
        &dir.join("writers.py"),
        b"import os\n\
          from testrium.modules.events import Events_Manager\n\n\
          def run():\n    \
              unit = os.environ['TESTRIUM_UNIT']\n    \
              em = Events_Manager(Unit=unit, path='.')\n    \
              for i in range(int(os.environ['PAIRS'])):\n        \
                  key = '%s-%d' % (unit, i)\n        \
                  em.Set_Event(unit + '-sent', event_type='Send', event_key=key)\n        \
                  em.Set_Event(unit + '-received', event_type='Receive', event_key=key)\n    \
              em.Set_Event('done')\n",
    );
    let mut group = GroupDir::new("test_py_writers").timeout_s(600);
    for i in 0..writers {
        group = group.unit(
            UnitSpec::entrypoint(&format!("py{i}"), "writers:run")
                .line(format!("env = {{ PAIRS = \"{pairs}\" }}"))
                .events(&["done"]),
        );
    }
    group.write(base.path());
    let (done, rows) = run_writers(&base, "test_py_writers", writers, pairs);
    figures(
        "eight_python_writers_at_once",
        &[
            format!(
                "{writers} Python units x {} rows (Events_Manager.Set_Event) = {rows} rows, all stored, {} pairs matched",
                2 * pairs + 1,
                writers * pairs
            ),
            format!(
                "wall time: {:.2} s ({:.0} rows/s)",
                done.elapsed.as_secs_f64(),
                rows as f64 / done.elapsed.as_secs_f64()
            ),
        ],
    );
}

/// Regression (issue 11 item 1): one-probe Python units crashed with `database is locked` (4
/// of 500 in every run, 3 runs in 10 with 100): a new client's first statements ran with no
/// busy handling while other clients opened, wrote and closed the run database.
#[test]
fn short_lived_python_units_lose_nothing() {
    let count = size(100, 500);
    let rounds = size(1, 3);
    let base = Base::new("py-short");
    let dir = base.path().join("test_py_short");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    write(
        &dir.join("short.py"),
        b"import os\n\
          from testrium.modules.events import Events_Manager\n\n\
          def run():\n    \
              Events_Manager(Unit=os.environ['TESTRIUM_UNIT'], path='.').Set_Event('done')\n",
    );
    let mut group = GroupDir::new("test_py_short").timeout_s(600);
    for i in 0..count {
        group = group.unit(UnitSpec::entrypoint(&format!("u{i}"), "short:run").events(&["done"]));
    }
    group.write(base.path());
    let mut seconds = Vec::new();
    for round in 0..rounds {
        let (done, json) = run_with_json(&base);
        let report = read_json(&json);
        let attempt = attempt(&report, "test_py_short").clone();
        let stored = RunDb::open(&attempt_db(&attempt))
            .and_then(|db| db.read_events())
            .unwrap_or_else(|e| panic!("{e}"));
        let locked: Vec<String> = units(&attempt)
            .into_iter()
            .filter(|(_, unit)| unit["log_tail"].to_string().contains("locked"))
            .map(|(name, _)| name)
            .collect();
        assert!(
            locked.is_empty(),
            "round {round}: units crashed: {locked:?}"
        );
        done.assert_code(0);
        assert_eq!(
            stored.events.len() as u64,
            count,
            "round {round}: every probe"
        );
        seconds.push(done.elapsed.as_secs_f64());
    }
    base.assert_nothing_left();
    figures(
        "short_lived_python_units_lose_nothing",
        &[format!(
            "{count} one-probe Python units, {rounds} run(s): every unit survived, every probe stored; wall time per run: {}",
            seconds
                .iter()
                .map(|s| format!("{s:.2} s"))
                .collect::<Vec<_>>()
                .join(", ")
        )],
    );
}

#[test]
fn parallel_jobs_with_daemons_in_every_group() {
    let groups = 40;
    let base = Base::new("jobs-daemons");
    let pids = base.file("daemons.pid");
    for g in 0..groups {
        let script = format!(
            "(exec setsid env -i {hostile} hang) & echo $! >> '{pids}'; \
             {fixture} daemonize && exec {fixture} emit:spawned hang",
            hostile = hostile(),
            fixture = fixture(),
            pids = pids.display(),
        );
        GroupDir::new(&format!("test_j{g:02}"))
            .unit(
                UnitSpec::command("spawner", &["/bin/sh".to_owned(), "-c".to_owned(), script])
                    .events(&["spawned"]),
            )
            .write(base.path());
    }
    let done = Testrium::new(&base, "run", &["run", "--jobs", "16"]).run();
    let daemons: Vec<u32> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    // The environment-cleared daemons are invisible to the base's own cleanup.
    let survivors: Vec<u32> = daemons.iter().copied().filter(|&p| pid_alive(p)).collect();
    for &pid in &survivors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    done.assert_code(0);
    assert_eq!(daemons.len(), groups);
    assert!(
        survivors.is_empty(),
        "survived the run: {}",
        describe(&survivors)
    );
    base.assert_nothing_left();
    figures(
        "parallel_jobs_with_daemons_in_every_group",
        &[format!(
            "{groups} groups, --jobs 16, 2 daemons each (one with a cleared environment): exit {:?} in {:.2} s, none left",
            done.code,
            done.elapsed.as_secs_f64()
        )],
    );
}

/// What runs a command in a pid namespace of its own, as a container does.
const NEW_PID_NAMESPACE: &[&str] = &["unshare", "--pid", "--fork", "--mount-proc"];

#[test]
fn a_runner_on_the_host_leaves_a_containers_units_alone() {
    // Creating a pid namespace needs CAP_SYS_ADMIN; where it is refused, so is the scenario.
    let permitted = std::process::Command::new(NEW_PID_NAMESPACE[0])
        .args(&NEW_PID_NAMESPACE[1..])
        .arg("true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !permitted {
        eprintln!("skipped: `unshare --pid` is not permitted on this machine");
        return;
    }
    let inner = Base::new("ns-inner");
    GroupDir::new("test_inner")
        .unit(
            UnitSpec::fixture("waiter", &["emit:up", "wait:host:go", "emit:done"])
                .events(&["done"]),
        )
        .write(inner.path());
    let running = Testrium::under(NEW_PID_NAMESPACE, &inner, "inner", &["run"]).spawn();
    wait_probe(&inner, "waiter", "up", DEADLINE).unwrap_or_else(|| panic!("waiter never up"));
    // A run on the host starts (sweeping leftovers of dead runners) and ends while the
    // container's unit waits: the unit's marker names a pid of the container, which on the
    // host is another process or none.
    let outer = Base::new("ns-outer");
    GroupDir::new("test_outer")
        .unit(UnitSpec::fixture("one", &["emit:ok"]).events(&["ok"]))
        .write(outer.path());
    Testrium::new(&outer, "outer", &["run"])
        .run()
        .assert_code(0);
    let dirs = inner.run_dirs();
    let db = dirs
        .first()
        .unwrap_or_else(|| panic!("no run directory"))
        .join("Data.db");
    testrium_events::Probe::open(&db, "host")
        .and_then(|probe| probe.emit("go").map(drop))
        .unwrap_or_else(|e| panic!("emit go: {e}"));
    let done = running.wait(DEADLINE);
    done.assert_code(0);
    inner.assert_nothing_left();
    figures(
        "a_runner_on_the_host_leaves_a_containers_units_alone",
        &[format!(
            "run in a pid namespace: exit {:?} in {:.2} s, its unit untouched by a host run",
            done.code,
            done.elapsed.as_secs_f64()
        )],
    );
}

/// Runs the group `name` of `writers` units that each record `pairs` Send/Receive pairs and
/// one last probe: asserts that it passes, that every row landed and every pair matched, and
/// that nothing is left running. Returns the run and the number of rows.
fn run_writers(base: &Base, name: &str, writers: u64, pairs: u64) -> (Finished, u64) {
    let (done, json) = run_with_json(base);
    done.assert_code(0);
    let attempt = attempt(&read_json(&json), name).clone();
    let rows = writers * (2 * pairs + 1);
    let stored = RunDb::open(&attempt_db(&attempt))
        .and_then(|db| db.read_events())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.events.len() as u64, rows, "every row lands");
    assert_eq!(attempt["correlation"]["paired"], writers * pairs);
    base.assert_nothing_left();
    (done, rows)
}
