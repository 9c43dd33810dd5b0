//! Issue 12, done when: a program that embeds `testrium_orchestrator::Suite` and
//! `testrium-report` gets the same JSON and JUnit reports as `testrium run --json F --junit F`
//! on the bundled examples.
//!
//! Both run the four examples, each in a fresh base folder. Their reports are then compared
//! after [`redact`] (durations, timestamps, run ids, pids, the base folder): the JSON as
//! values, the JUnit XML as text. Only the timeline's event order is also normalised
//! ([`sort_timelines`]): units record concurrently, so the order of their rows (and their ids)
//! is the one thing two runs of the same group legitimately disagree on.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use regex::Regex;
use serde_json::Value;
use testrium_orchestrator::{Suite, SuiteEvent, TestriumExitCode};
use testrium_report::Format;
use testrium_tests::TempBase;

const EXAMPLES: [&str; 4] = [
    "test_api_queue_worker",
    "test_python_request_response",
    "test_rust_circuit",
    "test_shell_circuit",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh base folder with a copy of the bundled examples (without their run leftovers).
fn examples_base(label: &str) -> TempBase {
    let base = TempBase::new(label);
    for name in EXAMPLES {
        copy_dir(&repo().join("examples").join(name), &base.path().join(name));
    }
    base
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".testrium" || name == "__pycache__" {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}

/// The folder of the `testrium` binary, with `testrium-example-unit` (the Rust example's
/// units) beside it: the units of the examples find both on their `PATH`.
fn bin_dir() -> PathBuf {
    let testrium = testrium_tests::testrium_bin("TESTRIUM_BIN");
    let dir = testrium.parent().unwrap().to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "-q",
            "-p",
            "testrium-example-units",
            "--target-dir",
        ])
        .arg(dir.parent().unwrap())
        .current_dir(repo());
    if dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    assert!(
        build.status().unwrap().success(),
        "cannot build testrium-example-unit"
    );
    dir
}

/// Makes two runs' reports comparable: the base folder becomes `[BASE]`, run ids `-[ID]`,
/// pids `[PID]`, and every duration, latency and timestamp (JSON keys ending in `_s`, `_ms`,
/// `_at`; XML `time` and `timestamp`) and every event row id 0 (circuit instances' row ids
/// emptied). The one redaction both
/// formats go through.
fn redact(text: &str, base: &Path) -> String {
    let mut text = text.to_owned();
    let canonical = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    for path in [base.to_path_buf(), canonical] {
        text = text.replace(&path.display().to_string(), "[BASE]");
    }
    let rules = [
        (r"(runs/[^/\s]+?)-\d{10,}-\d+(-\d+)?", "$1-[ID]"),
        (r"\bpid \d+", "pid [PID]"),
        (r#"("\w+_(?:s|ms|at)"): -?[0-9][0-9.eE+-]*"#, "$1: 0"),
        (r#"("(?:id|from_id|to_id)"): \d+"#, "$1: 0"),
        // A circuit instance's events, by row id (ids differ between two runs).
        (r#""event_ids": \[[\d,\s]*\]"#, r#""event_ids": []"#),
        (r#"\b(time|timestamp)="[^"]*""#, r#"$1="[T]""#),
    ];
    for (pattern, replacement) in rules {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    text
}

/// Sorts each attempt's timeline events and arrows (see the module doc).
fn sort_timelines(report: &mut Value) {
    for group in report["groups"].as_array_mut().unwrap() {
        for attempt in group["attempts"].as_array_mut().unwrap() {
            let timeline = &mut attempt["timeline"];
            for list in ["events", "arrows"] {
                timeline[list]
                    .as_array_mut()
                    .unwrap()
                    .sort_by_key(|v| v.to_string());
            }
            // Units' lifecycles interleave as concurrent units happen to change state; each
            // unit's own marks keep their order (a stable sort by unit).
            attempt["lifecycle"]
                .as_array_mut()
                .unwrap()
                .sort_by_key(|v| v["unit"].to_string());
            // A circuit instance's event ids are row ids too: they vary with the order
            // concurrent units wrote their rows (their count does not).
            for circuit in attempt["circuits"].as_array_mut().unwrap() {
                for trace in circuit["traces"].as_array_mut().unwrap() {
                    for id in trace["event_ids"].as_array_mut().unwrap() {
                        *id = Value::from(0);
                    }
                }
            }
        }
    }
}

fn json(path: &Path, base: &Path) -> Value {
    let mut value =
        serde_json::from_str(&redact(&std::fs::read_to_string(path).unwrap(), base)).unwrap();
    sort_timelines(&mut value);
    value
}

#[test]
fn an_embedded_suite_reports_what_testrium_run_reports() {
    let bin_dir = bin_dir();

    // The command.
    let cli = examples_base("embed-cli");
    let (cli_json, cli_junit) = (cli.path().join("out.json"), cli.path().join("out.xml"));
    let mut command = Command::new(bin_dir.join("testrium"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TESTRIUM_") {
            command.env_remove(key);
        }
    }
    let output = command
        .arg("run")
        .arg(cli.path())
        .arg("--json")
        .arg(&cli_json)
        .arg("--junit")
        .arg(&cli_junit)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // The library, as an embedding harness would use it.
    let lib = examples_base("embed-lib");
    let (lib_json, lib_junit) = (lib.path().join("out.json"), lib.path().join("out.xml"));
    let finished = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&finished);
    let path = bin_dir.clone();
    let outcome = Suite::new(lib.path())
        .configure_runs(move |run| run.prepend_path(&path))
        .observer(move |event| {
            if let SuiteEvent::GroupFinished { group, .. } = event {
                seen.lock().unwrap().push(group.name.clone());
            }
        })
        .run()
        .unwrap();
    assert_eq!(outcome.exit_code(), TestriumExitCode::SUCCESS);
    assert_eq!(*finished.lock().unwrap(), EXAMPLES);
    let report = testrium_report::run_report(&outcome);
    Format::Json.write(&lib_json, &report).unwrap();
    Format::Junit.write(&lib_junit, &report).unwrap();

    let (cli_value, lib_value) = (json(&cli_json, cli.path()), json(&lib_json, lib.path()));
    assert_eq!(
        cli_value["groups"].as_array().unwrap().len(),
        EXAMPLES.len()
    );
    assert_eq!(cli_value, lib_value);

    let junit = |path: &Path, base: &Path| redact(&std::fs::read_to_string(path).unwrap(), base);
    let (cli_xml, lib_xml) = (junit(&cli_junit, cli.path()), junit(&lib_junit, lib.path()));
    assert!(
        cli_xml.contains(r#"<testsuite name="test_rust_circuit""#),
        "{cli_xml}"
    );
    assert_eq!(cli_xml, lib_xml);

    // Both recorded their attempts in their base folder's history.
    for base in [cli.path(), lib.path()] {
        let history = testrium_events::History::open(base).unwrap();
        assert_eq!(history.recent(None, 100).unwrap().len(), EXAMPLES.len());
    }
}

#[test]
fn redaction_keeps_what_does_not_vary() {
    let base = Path::new("/tmp/b");
    let text = r#"{"run_dir": "/tmp/b/.testrium/runs/test_x-1796593061727-12397-2", "duration_s": 0.38, "count": 3, "t_ms": 1.5e-3, "id": 42, "message": "pid 123 exited"}
<testsuite name="test_x" time="0.383" timestamp="2026-12-06T21:37:41Z">"#;
    assert_eq!(
        redact(text, base),
        r#"{"run_dir": "[BASE]/.testrium/runs/test_x-[ID]", "duration_s": 0, "count": 3, "t_ms": 0, "id": 0, "message": "pid [PID] exited"}
<testsuite name="test_x" time="[T]" timestamp="[T]">"#
    );
}
