//! End to end: the real `testrium` binary against the bundled examples and the small groups in
//! `tests/fixtures/`, each copied into a fresh base folder so runs never write into the repo.
//! Terminal reports are snapshot with times, latencies, paths and run ids redacted.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const TESTRIUM: &str = env!("CARGO_BIN_EXE_testrium");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh base folder holding copies of some groups; removed on drop.
struct Base {
    path: PathBuf,
}

impl Base {
    fn new(label: &str) -> Base {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "testrium-cli-e2e-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Base { path }
    }

    /// Copies `examples/<name>` (or a fixture, `fixtures/<name>`) into the base.
    fn with(self, names: &[&str]) -> Base {
        for name in names {
            let example = repo().join("examples").join(name);
            let src = if example.is_dir() {
                example
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(name)
            };
            copy_dir(&src, &self.path.join(name));
        }
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = testrium();
        cmd.arg("run").arg(&self.path).args(args);
        cmd.output().unwrap()
    }

    fn redact(&self, text: &str) -> String {
        let canonical = self.path.canonicalize().unwrap();
        text.replace(&canonical.display().to_string(), "[BASE]")
            .replace(&self.path.display().to_string(), "[BASE]")
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".testrium"
            || name == "__pycache__"
            || name.to_string_lossy().ends_with(".marker")
        {
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

fn testrium() -> Command {
    ensure_example_unit();
    let mut cmd = Command::new(TESTRIUM);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TESTRIUM_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1").stdin(Stdio::null());
    cmd
}

/// `testrium-example-unit` (examples/rust-units), which the Rust example runs, must sit next to
/// `testrium`: `cargo test -p testrium-cli` does not build it, so build it (a no-op when it is
/// up to date) into the same target directory; cargo releases its lock before running tests.
fn ensure_example_unit() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let bin_dir = Path::new(TESTRIUM).parent().unwrap();
        let Some(cargo) = std::env::var_os("CARGO") else {
            assert!(
                bin_dir.join("testrium-example-unit").is_file(),
                "testrium-example-unit is missing: cargo build -p testrium-example-units"
            );
            return;
        };
        let target_dir = bin_dir.parent().unwrap();
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "-q",
            "-p",
            "testrium-example-units",
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(repo());
        if bin_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building testrium-example-unit failed");
    });
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Snapshot of a terminal report: durations, latencies (one format, `[T]`) and run ids vary
/// from run to run.
macro_rules! assert_report {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"-?\b\d+(\.\d+)?(e\d+)? (ns|µs|ms|s)\b", "[T]"),
                (r"(runs/[^/\s]+?)-\d{10,}-\d+(-\d+)?", "$1-[ID]"),
                (r"(\d+ pairs?)\s+p50", "$1  p50"),
                (r"(->\s[a-z]+)\s+(\d+ pairs?)", "$1  $2"),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn wait_for(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_child(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("testrium did not exit within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

const EXAMPLES: [&str; 4] = [
    "test_api_queue_worker",
    "test_python_request_response",
    "test_rust_circuit",
    "test_shell_circuit",
];

#[test]
fn bundled_examples_pass() {
    let base = Base::new("examples").with(&EXAMPLES);
    let json_path = base.path.join("out/report.json");
    let junit_path = base.path.join("out/junit.xml");
    let html_path = base.path.join("out/report.html");
    let trace_path = base.path.join("out/trace.json");
    let out = base.run(&[
        "--json",
        json_path.to_str().unwrap(),
        "--junit",
        junit_path.to_str().unwrap(),
        "--html",
        html_path.to_str().unwrap(),
        "--trace",
        trace_path.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_report!("bundled_examples_pass", base.redact(&stdout));

    let report = json(&json_path);
    assert_eq!(report["schema"], 1);
    assert_eq!(report["exit_code"], 0);
    let groups = report["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, EXAMPLES);
    let api = &groups[0]["attempts"][0];
    assert_eq!(api["correlation"]["paired"], 10);
    assert_eq!(api["circuits"][0]["name"], "job-lifecycle");
    assert_eq!(api["circuits"][0]["passed"], true);
    assert_eq!(api["timeline"]["arrows"].as_array().unwrap().len(), 10);
    let rust = &groups[2]["attempts"][0];
    assert_eq!(rust["correlation"]["paired"], 20);

    // Issue 16: the trace parses, with one track per unit and one flow per Send→Receive pair.
    let trace = json(&trace_path);
    let events = trace["traceEvents"].as_array().unwrap();
    let of =
        |ph: &str| -> Vec<&serde_json::Value> { events.iter().filter(|e| e["ph"] == ph).collect() };
    for (pid, group) in (1u64..).zip(groups) {
        let attempt = &group["attempts"][0];
        let mut units: Vec<&str> = attempt["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        let mut tracks: Vec<&str> = of("M")
            .iter()
            .filter(|e| e["name"] == "thread_name" && e["pid"] == pid)
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        units.sort_unstable();
        tracks.sort_unstable();
        assert_eq!(tracks, units, "{}", group["name"]);
        let flows = of("s").iter().filter(|e| e["pid"] == pid).count();
        assert_eq!(
            flows as u64,
            attempt["correlation"]["paired"].as_u64().unwrap(),
            "{}",
            group["name"]
        );
    }
    assert_eq!(of("s").len(), of("f").len());
    assert!(!of("b").is_empty(), "circuit instances as async spans");

    // Each run directory has its own report, HTML page and trace, and `testrium report`
    // re-renders it.
    let run_dir = PathBuf::from(api["run_dir"].as_str().unwrap());
    assert!(run_dir.join("report.html").is_file());
    assert!(run_dir.join("trace.json").is_file());
    let again = testrium().arg("report").arg(&run_dir).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again.stdout).starts_with("PASS test_api_queue_worker"));
    // The run database alone is enough.
    std::fs::remove_file(run_dir.join("report.json")).unwrap();
    let junit = base.path.join("again.xml");
    let again = testrium()
        .arg("report")
        .arg(run_dir.join("Data.db"))
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("name=\"unit queue\"")
    );
    let missing = testrium().arg("report").arg(&base.path).output().unwrap();
    assert_eq!(missing.status.code(), Some(4));
    assert!(text(&missing.stderr).contains("is not a run directory"));

    // History has one record per group.
    let history = testrium()
        .args(["history", "--base"])
        .arg(&base.path)
        .output()
        .unwrap();
    let history = text(&history.stdout);
    for name in EXAMPLES {
        assert!(history.contains(name), "{history}");
    }
    assert!(
        std::fs::read_to_string(&junit_path)
            .unwrap()
            .contains("<testsuite name=\"test_rust_circuit\"")
    );
    assert!(
        std::fs::read_to_string(&html_path)
            .unwrap()
            .contains("class=\"lane\"")
    );
}

#[test]
fn failing_group_reports_its_evidence() {
    let base = Base::new("failing").with(&["test_failing", "test_not_ready"]);
    let junit_path = base.path.join("junit.xml");
    let out = base.run(&["--junit", junit_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_report!(
        "failing_group_reports_its_evidence",
        base.redact(&text(&out.stdout))
    );
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    assert!(
        xml.contains("RuntimeError: job-2 was lost"),
        "unit log in system-out"
    );
}

#[test]
fn configuration_error_starts_nothing() {
    let base = Base::new("broken").with(&["test_broken", "test_failing"]);
    let out = base.run(&[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "", "nothing ran");
    assert!(!base.path.join(".testrium/runs").exists());
    assert_report!(
        "configuration_error_starts_nothing",
        base.redact(&text(&out.stderr))
    );
    // Selecting only the valid group runs it.
    let out = base.run(&["test_failing"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn no_group_exits_2() {
    let base = Base::new("empty");
    let out = base.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no test group found"));
    let base = base.with(&["test_flaky"]);
    let out = base.run(&["test_nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no test group named `test_nope`"));
    let out = base.run(&["-k", "nothing-matches"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_group_folder_as_base_runs_that_group() {
    let base = Base::new("one-group").with(&["test_shell_circuit", "test_failing"]);
    let out = testrium()
        .arg("run")
        .arg(base.path.join("test_shell_circuit"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("PASS test_shell_circuit"));
    assert!(!stdout.contains("test_failing"));
    // Its run directory is in the base folder, as for any run.
    assert!(base.path.join(".testrium/runs").is_dir());
}

#[test]
fn repeat_reports_flaky_groups() {
    let base = Base::new("flaky").with(&["test_flaky"]);
    let json_path = base.path.join("r.json");
    let out = base.run(&["--repeat", "1", "--json", json_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_report!(
        "repeat_reports_flaky_groups",
        base.redact(&text(&out.stdout))
    );
    let report = json(&json_path);
    assert_eq!(report["groups"][0]["flaky"], true);
    let attempts: Vec<bool> = report["groups"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(attempts, [true, false]);
    let history = testrium()
        .args(["history", "--base"])
        .arg(&base.path)
        .output()
        .unwrap();
    assert!(
        text(&history.stdout).contains("FLAKY"),
        "{}",
        text(&history.stdout)
    );
}

#[test]
fn hostile_unit_text_stays_inert() {
    let base = Base::new("hostile").with(&["test_hostile"]);
    let junit_path = base.path.join("junit.xml");
    let html_path = base.path.join("r.html");
    let out = base.run(&[
        "--junit",
        junit_path.to_str().unwrap(),
        "--html",
        html_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains('\u{1b}'),
        "an escape from a unit reached the terminal"
    );
    assert!(!stdout.contains('\u{7}'));
    assert_report!("hostile_unit_text_stays_inert", base.redact(&stdout));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        !html.contains("<script"),
        "unescaped markup in the HTML report"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("<g class=\"lane\" data-unit=\"x&quot;&lt;b&gt;é\">"));
    assert!(!html.contains("<b>"));
    assert!(!html.contains('\u{1b}'));
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    for c in xml.chars() {
        assert!(
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..),
            "{c:?} is not allowed in XML 1.0"
        );
    }
    let mut reader = quick_xml::Reader::from_str(&xml);
    reader.config_mut().check_end_names = true;
    let mut depth = 0_i32;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(_) => depth += 1,
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    assert!(xml.contains("&lt;script&gt;"));
    assert!(xml.contains("name=\"unit x&quot;&lt;b&gt;é\""), "{xml}");
}

#[test]
fn partitions_cover_every_group_once() {
    let base = Base::new("partition").with(&["test_flaky", "test_failing", "test_hostile"]);
    for scheme in ["hash", "count"] {
        let mut seen = Vec::new();
        for share in 1..=2 {
            let json_path = base.path.join(format!("{scheme}-{share}.json"));
            let out = base.run(&[
                "--partition",
                &format!("{scheme}:{share}/2"),
                "--json",
                json_path.to_str().unwrap(),
            ]);
            assert!(
                matches!(out.status.code(), Some(0..=2)),
                "{}",
                text(&out.stderr)
            );
            if out.status.code() != Some(2) {
                for g in json(&json_path)["groups"].as_array().unwrap() {
                    seen.push(g["name"].as_str().unwrap().to_owned());
                }
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            ["test_failing", "test_flaky", "test_hostile"],
            "{scheme}"
        );
    }
    let out = base.run(&["--partition", "count:3/2"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("invalid partition"));
}

#[test]
fn interrupt_tears_down_and_still_reports() {
    interrupted_by("INT");
}

/// The terminal closed (or the ssh connection dropped): the same as Ctrl-C.
#[test]
fn hangup_tears_down_and_still_reports() {
    interrupted_by("HUP");
}

fn interrupted_by(signal: &str) {
    let base = Base::new(&format!("interrupt-{signal}")).with(&["test_interrupt"]);
    let json_path = base.path.join("r.json");
    let mut child = testrium()
        .arg("run")
        .arg(&base.path)
        .arg("--json")
        .arg(&json_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = base.path.join("test_interrupt/started.marker");
    wait_for("the unit to start", Duration::from_secs(30), || {
        marker.exists()
    });
    let pid = i32::try_from(child.id()).unwrap();
    assert!(
        Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_child(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
    let report = json(&json_path);
    assert_eq!(report["interrupted"], true);
    let attempt = &report["groups"][0]["attempts"][0];
    assert_eq!(attempt["interrupted"], true);
    assert_eq!(attempt["units"][0]["status"], "stopped");
    assert!(
        Path::new(attempt["run_dir"].as_str().unwrap())
            .join("report.html")
            .is_file()
    );
}

#[test]
fn concurrent_runs_and_jobs_keep_every_result() {
    let base = Base::new("concurrent").with(&["test_shell_circuit", "test_flaky", "test_failing"]);
    // Two `testrium run` at once in the same base folder, each running groups in parallel.
    let spawn = || {
        testrium()
            .arg("run")
            .arg(&base.path)
            .args(["--jobs", "3", "test_shell_circuit", "test_failing"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert_eq!(wait_child(&mut a, Duration::from_secs(60)).code(), Some(1));
    assert_eq!(wait_child(&mut b, Duration::from_secs(60)).code(), Some(1));
    let history = testrium()
        .args(["history", "--base"])
        .arg(&base.path)
        .output()
        .unwrap();
    let history = text(&history.stdout);
    let runs = |group: &str| {
        history
            .lines()
            .filter(|l| l.contains(group) && l.contains('#'))
            .count()
    };
    assert_eq!(runs("test_shell_circuit"), 2, "{history}");
    assert_eq!(runs("test_failing"), 2, "{history}");
    let dirs = std::fs::read_dir(base.path.join(".testrium/runs"))
        .unwrap()
        .count();
    assert_eq!(dirs, 4, "four distinct run directories");
}

/// The headless Chromium that renders HTML reports: `/usr/bin/chromium`, or `chromium` /
/// `chromium-browser` on the PATH.
fn chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

#[test]
fn html_report_renders_in_chromium() {
    let base = Base::new("html").with(&["test_api_queue_worker", "test_failing"]);
    let page = base.path.join("report.html");
    let out = base.run(&["--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let Some(dom) = chromium_dom("html_report_renders_in_chromium", &base, &page) else {
        return;
    };
    // The DOM Chromium built from the page: one lane per unit, one arrow per Send→Receive
    // pair (labelled with its latency), every probe drawn, failures marked, the verdict shown.
    assert!(dom.contains("id=\"verdict\">FAILED</span>"), "{dom}");
    assert_eq!(dom.matches("<g class=\"lane\"").count(), 5);
    for unit in ["queue", "worker", "api", "producer", "consumer"] {
        assert!(dom.contains(&format!("<g class=\"lane\" data-unit=\"{unit}\">")));
    }
    assert_eq!(dom.matches("<g class=\"arrow\"").count(), 10 + 1);
    assert!(dom.contains("marker-end=\"url(#head-0-1)\""));
    assert!(dom.matches("<circle class=\"probe").count() >= 24 + 4);
    // The orphan send of job-2 is ringed, the missing probe named on its lane.
    // (A probe of a circuit instance carries its instance classes after `failed`.)
    assert!(dom.split("<circle").any(
        |c| c.starts_with(" class=\"probe Send failed") && c.contains("data-unit=\"producer\"")
    ));
    assert!(dom.contains("✗ missing: job-done"));
}

#[test]
fn fail_fast_stops_after_the_first_failure() {
    let base = Base::new("failfast").with(&["test_failing", "test_shell_circuit"]);
    let json_path = base.path.join("r.json");
    let out = base.run(&["--fail-fast", "--json", json_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&json_path);
    assert_eq!(report["groups"].as_array().unwrap().len(), 1);
    assert_eq!(report["groups"][0]["name"], "test_failing");
    assert_eq!(report["skipped"][0]["name"], "test_shell_circuit");
    assert_eq!(report["skipped"][0]["reason"], "not run (--fail-fast)");
}

/// Issue 16: `-q` prints one line per group and the failures of those that fail, nothing else.
#[test]
fn quiet_prints_a_line_per_group_and_the_failures() {
    let base = Base::new("quiet").with(&["test_failing", "test_shell_circuit"]);
    let out = base.run(&["-q"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let groups: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .collect();
    assert_eq!(groups.len(), 2, "one line per group: {stdout}");
    assert!(!stdout.contains("RUN "), "{stdout}");
    assert!(!stdout.contains("probes:"), "{stdout}");
    assert!(!stdout.contains("correlation:"), "{stdout}");
    assert!(stdout.contains("failures ("), "{stdout}");
}

#[test]
fn verbose_streams_unit_output_prefixed_and_inert() {
    let base = Base::new("verbose").with(&["test_hostile"]);
    let out = testrium()
        .arg("--verbose")
        .arg("run")
        .arg(&base.path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "[weird] \\u{1b}[31mRED\\u{1b}[0m \\u{1b}]0;pwned\\u{7} \\u{1b}[2J <b>bold</b> & \"quotes\"\n"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{1b}'));
}

#[test]
fn a_flood_of_orphans_gives_bounded_reports() {
    let base = Base::new("flood").with(&["test_orphan_flood"]);
    let json_path = base.path.join("r.json");
    let html_path = base.path.join("r.html");
    let out = base.run(&[
        "--json",
        json_path.to_str().unwrap(),
        "--html",
        html_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("failures (5000):"), "{stdout}");
    assert!(stdout.contains("… and 4970 more (see --json and the run database)"));
    assert!(stdout.contains("0 paired, 5000 orphan sends"));
    let attempt = &json(&json_path)["groups"][0]["attempts"][0];
    assert_eq!(attempt["failures"].as_array().unwrap().len(), 1000);
    assert_eq!(attempt["omitted"]["failures"], 4000);
    assert_eq!(
        attempt["correlation"]["orphan_sends"]
            .as_array()
            .unwrap()
            .len(),
        1000
    );
    assert_eq!(attempt["omitted"]["orphan_sends"], 4000);
    assert_eq!(
        attempt["timeline"]["events"].as_array().unwrap().len(),
        5000
    );
    assert_eq!(attempt["timeline"]["omitted"], 1);
    assert!(std::fs::metadata(&json_path).unwrap().len() < 3_000_000);
    assert!(
        std::fs::read_to_string(&html_path)
            .unwrap()
            .contains("5000 orphan sends")
    );
}

#[test]
fn configuration_warnings_are_shown_and_the_group_runs() {
    let base = Base::new("warnings").with(&["test_shell_circuit"]);
    std::fs::write(
        base.path.join("test_shell_circuit/units/spare.toml"),
        "[\"spare\"]\ninit = 5\ncommand = [\"true\"]\n",
    )
    .unwrap();
    let out = base.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("warning"), "{stderr}");
    assert!(stderr.contains("spare"), "{stderr}");
}

/// A run made by a harness embedding `Run` (no `testrium run`, so no stored report): `testrium
/// report` rebuilds the report from what the orchestrator stored in the run database.
#[test]
fn report_rebuilds_a_run_made_by_the_library() {
    let base = Base::new("library").with(&["test_failing"]);
    let group = testrium_config::load_group(&base.path.join("test_failing")).unwrap();
    let outcome = testrium_orchestrator::Run::new(group)
        .base_dir(&base.path)
        .prepend_path(Path::new(TESTRIUM).parent().unwrap())
        .execute()
        .unwrap();
    let run_dir = outcome.last_attempt().unwrap().run_dir.clone();
    assert!(!run_dir.join("report.json").exists());
    let junit = base.path.join("junit.xml");
    let out = testrium()
        .arg("report")
        .arg(&run_dir)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("FAIL test_failing"), "{stdout}");
    assert!(stdout.contains("orphan_send"), "{stdout}");
    assert!(stdout.contains("consumer  failed    exit 3"), "{stdout}");
    assert!(stdout.contains("RuntimeError: job-2 was lost"), "{stdout}");
    assert!(run_dir.join("report.html").is_file());
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<g class=\"arrow\"").count(), 1);
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("name=\"circuit job\"")
    );
}

/// A run whose report was never stored (a `testrium run` killed after the attempt) is rebuilt
/// from the run database into the report the run would have written. Regression: the rebuild
/// had its own copy of the mapping and said `non_zero_exit (code 3)` for "exited with status
/// 3", `missing at hop 2` for "missing hop 2", and read latencies back one ulp off. (Without
/// the configuration the rebuild lists required probes in the verifier's order, so these
/// groups are ones where that is the config order.)
#[test]
fn a_rebuilt_report_is_the_report_of_the_run() {
    let groups = ["test_failing", "test_not_ready", "test_over_budget"];
    let base = Base::new("rebuilt").with(&groups);
    let json_path = base.path.join("live.json");
    let out = base.run(&["--json", json_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let live = json(&json_path);
    for (i, name) in groups.iter().enumerate() {
        let group = &live["groups"][i];
        assert_eq!(group["name"], *name);
        let attempt = &group["attempts"][0];
        let run_dir = PathBuf::from(attempt["run_dir"].as_str().unwrap());
        // What a kill before the report was stored leaves: no report.json, no report in the
        // database (`testrium.report`), only the orchestrator's records.
        std::fs::remove_file(run_dir.join("report.json")).unwrap();
        let forget = Command::new("python3")
            .arg("-c")
            .arg(
                "import sqlite3, sys\n\
                 db = sqlite3.connect(sys.argv[1])\n\
                 db.execute(\"DELETE FROM TestriumMeta WHERE Key = 'testrium.report'\")\n\
                 db.commit()",
            )
            .arg(run_dir.join("Data.db"))
            .status()
            .unwrap();
        assert!(forget.success());
        let again_path = base.path.join(format!("{name}.json"));
        let again = testrium()
            .arg("report")
            .arg(&run_dir)
            .arg("--json")
            .arg(&again_path)
            .output()
            .unwrap();
        assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
        let again = json(&again_path);
        assert_eq!(again["groups"][0]["name"], *name);
        assert_eq!(again["groups"][0]["passed"], group["passed"]);
        assert_eq!(again["groups"][0]["attempts"][0], *attempt, "{name}");
    }
}

#[test]
fn timeout_override_ends_a_group_that_would_run_a_minute() {
    let base = Base::new("timeout").with(&["test_interrupt"]);
    let json_path = base.path.join("r.json");
    let out = base.run(&["--timeout", "0.5", "--json", json_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let attempt = &json(&json_path)["groups"][0]["attempts"][0];
    let kinds: Vec<&str> = attempt["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"group_timeout"), "{kinds:?}");
    let bad = base.run(&["--timeout", "0"]);
    assert_eq!(bad.status.code(), Some(3));
}

#[test]
fn budget_overruns_are_evidence() {
    let base = Base::new("budget").with(&["test_over_budget"]);
    let junit_path = base.path.join("junit.xml");
    let out = base.run(&["--junit", junit_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .contains("hop_over_budget      circuit `slow-hop` key `k1`: hop 2 `b:received` took"),
        "{stdout}"
    );
    assert!(stdout.contains("over its 1 ms budget by"));
    assert!(stdout.contains("circuit_over_budget  circuit `slow-hop` key `k1`: took"));
    assert!(stdout.contains("circuit slow-hop: broken"));
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    assert!(
        xml.contains("<testcase classname=\"test_over_budget\" name=\"circuit slow-hop\""),
        "{xml}"
    );
    assert!(xml.contains("type=\"hop_over_budget\""));
}

/// Regression (issue 11 item 6): `command = ["python3", "u.py"]` with `from
/// testrium.modules.events import Events_Manager` failed with `ModuleNotFoundError`: only
/// processes started through the Python bootstrap had the runner's package on `PYTHONPATH`.
/// Now every process the runner starts (a `command` unit, a `setup` program) and their
/// children (a grandchild `python3`) import it, and an existing `PYTHONPATH` is kept after it.
#[test]
fn python_command_units_and_their_children_import_the_runner_package() {
    let base = Base::new("python-command").with(&["test_python_command"]);
    let json_path = base.path.join("out.json");
    let extra = base.path.join("extra-path");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("user_helper.py"), "VALUE = 42\n").unwrap();
    std::fs::write(
        base.path.join("test_python_command/grandchild.py"),
        "import user_helper\nassert user_helper.VALUE == 42\n".to_owned()
            + &std::fs::read_to_string(base.path.join("test_python_command/grandchild.py"))
                .unwrap(),
    )
    .unwrap();
    let out = testrium()
        .env("PYTHONPATH", &extra)
        .arg("run")
        .arg(&base.path)
        .args(["--json", json_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = json(&json_path);
    let probes = report["groups"][0]["attempts"][0]["probes"]
        .as_array()
        .unwrap();
    for step in ["setup-imported", "unit-imported", "grandchild-imported"] {
        assert!(
            probes.iter().any(|p| p["step"] == step && p["count"] == 1),
            "{step} not recorded: {probes:?}"
        );
    }
}

/// Regression (issue 11 item 8): an empty `--partition` share (more CI shards than groups)
/// exited 2 ("no test group to run") and wrote none of the reports it was asked for, so the
/// CI job failed and its report upload step found nothing. Now it exits 0, says so, and
/// writes valid, empty `--json`, `--junit` and `--html` reports; a base folder with no group
/// at all still exits 2.
#[test]
fn an_empty_partition_share_passes_and_still_writes_its_reports() {
    let base = Base::new("empty-share").with(&["test_failing"]);
    let path = |name: &str| base.path.join(name).to_str().unwrap().to_owned();
    let (json_path, junit_path, html_path) = (path("r.json"), path("r.xml"), path("r.html"));
    let args = [
        "--partition",
        "count:2/3",
        "--json",
        &json_path,
        "--junit",
        &junit_path,
        "--html",
        &html_path,
    ];
    let out = base.run(&args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("partition count:2/3 holds none of the 1 selected group"),
        "{stdout}"
    );
    let report = json(Path::new(&json_path));
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["groups"].as_array().unwrap().len(), 0);
    assert_eq!(report["skipped"][0]["name"], "test_failing");
    assert_eq!(report["skipped"][0]["kind"], "partition");
    let junit = std::fs::read_to_string(&junit_path).unwrap();
    assert!(junit.contains("tests=\"0\""), "{junit}");
    let mut reader = quick_xml::Reader::from_str(&junit);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("invalid JUnit XML: {e}\n{junit}"),
        }
    }
    assert!(
        std::fs::read_to_string(&html_path)
            .unwrap()
            .contains("</html>")
    );
    // The other shares hold the group.
    assert_eq!(
        base.run(&["--partition", "count:1/3"]).status.code(),
        Some(1)
    );
    // No group at all is still "no test group found", partition or not.
    let empty = Base::new("empty-share-none");
    for args in [
        &[][..],
        &["--partition", "count:2/3", "--json", &json_path][..],
    ] {
        let out = empty.run(args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }
}

/// Regression (issue 11 item 7): a group disabled by its config was only counted ("1
/// skipped"), a hidden `.test_wip/` group was dropped without a word, and groups left out by
/// `-k` were not told apart. Now the first two are named with their reason, the others are
/// counted by reason and named with `--verbose`, and the JSON report names every one with a
/// `kind`.
#[test]
fn nothing_is_skipped_in_silence() {
    let base = Base::new("skipped").with(&["test_failing", "test_flaky"]);
    copy_dir(&base.path.join("test_flaky"), &base.path.join(".test_wip"));
    copy_dir(&base.path.join("test_flaky"), &base.path.join("test_off"));
    let config = base.path.join("test_off/config.toml");
    let text_of = std::fs::read_to_string(&config).unwrap();
    let disabled = text_of.replacen("[\"Configs\"]", "[\"Configs\"]\nenabled = false", 1);
    assert_ne!(disabled, text_of);
    std::fs::write(&config, disabled).unwrap();
    let json_path = base.path.join("r.json");
    let out = base.run(&["-k", "failing", "--json", json_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 skipped"), "{stdout}");
    assert!(
        stdout.contains("SKIP test_off: disabled (`enabled = false`)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SKIP .test_wip: hidden folder (its name starts with `.`"),
        "{stdout}"
    );
    assert!(stdout.contains("left out: 1 not selected"), "{stdout}");
    assert!(!stdout.contains("SKIP test_flaky"), "{stdout}");
    let report = json(&json_path);
    let kinds: Vec<(String, String)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut kinds = kinds;
    kinds.sort();
    assert_eq!(
        kinds,
        [
            (".test_wip".to_owned(), "hidden".to_owned()),
            ("test_flaky".to_owned(), "not_selected".to_owned()),
            ("test_off".to_owned(), "disabled".to_owned()),
        ]
    );
    // --verbose names the groups the command line left out too.
    let out = testrium()
        .args(["--verbose", "run"])
        .arg(&base.path)
        .args(["-k", "failing"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("SKIP test_flaky: not selected"), "{stdout}");
    // --less and --partition are counted as well.
    let out = testrium()
        .args(["--less", "test_flaky", "run"])
        .arg(&base.path)
        .args(["--partition", "count:1/1"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("left out: 1 excluded (`--less`)"),
        "{stdout}"
    );
    // When nothing is left to run (exit 2), the skipped groups are named too.
    let only_off = Base::new("skipped-only");
    copy_dir(&base.path.join("test_off"), &only_off.path.join("test_off"));
    let out = only_off.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("SKIP test_off: disabled (`enabled = false`)"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- testrium verify (issue 17)

/// The only run directory under `base`.
fn only_run_dir(base: &Base) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(base.path.join(".testrium/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.into_iter().next().unwrap()
}

/// Every file of a folder with its bytes and modification time.
fn snapshot_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            let path = e.path();
            let modified = e.metadata().unwrap().modified().unwrap();
            (path.clone(), std::fs::read(&path).unwrap(), modified)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// `testrium verify` judges a stored run against the edited group: the contract that held
/// at-least-once fails exactly-once naming the duplicated key, with every report, and the
/// run directory is left byte for byte as it was.
#[test]
fn verify_rejudges_a_stored_run_against_the_edited_contract() {
    let base = Base::new("verify-contract").with(&["test_contract"]);
    let out = base.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("producer:order-sent -> worker:order-received"),
        "{stdout}"
    );
    let run_dir = only_run_dir(&base);
    let before = snapshot_dir(&run_dir);

    // Unchanged: the same verdict.
    let out = testrium().arg("verify").arg(&run_dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    edit(
        &base.path.join("test_contract/config.toml"),
        "\"at-least-once\"",
        "\"exactly-once\"",
    );
    let (json, junit, html) = (
        base.path.join("v.json"),
        base.path.join("v.xml"),
        base.path.join("v.html"),
    );
    let out = testrium()
        .arg("verify")
        .arg(&run_dir)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("contract_duplicated"), "{stdout}");
    assert!(
        stdout.contains("1 key(s) received more than once: `k2`"),
        "{stdout}"
    );
    let report = self::json(&json);
    assert_eq!(report["exit_code"], 1);
    let failures = &report["groups"][0]["attempts"][0]["failures"];
    assert_eq!(failures[0]["kind"], "contract_duplicated", "{failures}");
    assert_eq!(
        report["groups"][0]["attempts"][0]["contracts"][0]["duplicated"],
        1
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"contract producer:order-sent -&gt; worker:order-received\""),
        "{xml}"
    );
    assert!(xml.contains("type=\"contract_duplicated\""), "{xml}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<table class=\"contracts\">"), "{page}");

    // The same with the group folder given.
    let out = testrium()
        .arg("verify")
        .arg(&run_dir)
        .arg(base.path.join("test_contract"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    assert_eq!(snapshot_dir(&run_dir), before, "verify wrote into the run");
}

/// An edited budget: the run that broke it passes once the budget is raised.
#[test]
fn verify_applies_an_edited_budget() {
    let base = Base::new("verify-budget").with(&["test_over_budget"]);
    assert_eq!(base.run(&[]).status.code(), Some(1));
    let run_dir = only_run_dir(&base);
    let config = base.path.join("test_over_budget/config.toml");
    edit(&config, "budget-ms = 1 }", "budget-ms = 60000 }");
    edit(&config, "budget-ms = 2\n", "budget-ms = 60000\n");
    let out = testrium().arg("verify").arg(&run_dir).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).starts_with("PASS test_over_budget"));
}

/// Not a run (4), a database from a newer schema (4), a group whose units changed (3), an
/// invalid group (3): a clear message each, and nothing written.
#[test]
fn verify_refuses_what_it_cannot_judge() {
    let base = Base::new("verify-errors").with(&["test_contract"]);
    assert_eq!(base.run(&[]).status.code(), Some(0));
    let run_dir = only_run_dir(&base);
    let before = snapshot_dir(&run_dir);
    let verify = |args: &[&Path]| {
        let mut cmd = testrium();
        cmd.arg("verify");
        for a in args {
            cmd.arg(a);
        }
        cmd.output().unwrap()
    };

    let out = verify(&[&base.path.join("test_contract")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not in `<base>/.testrium/runs/`"),
        "{}",
        text(&out.stderr)
    );
    let group = base.path.join("test_contract");
    let out = verify(&[&group, &group]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("it is not a run directory (no `Data.db`)"),
        "{}",
        text(&out.stderr)
    );

    // A copy of the database whose header says a newer schema (user_version at offset 60).
    let newer = base.path.join("newer");
    std::fs::create_dir_all(&newer).unwrap();
    let mut bytes = std::fs::read(run_dir.join("Data.db")).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(newer.join("Data.db"), bytes).unwrap();
    let out = verify(&[&newer, &group]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("its database has schema 99, newer than this testrium reads"),
        "{}",
        text(&out.stderr)
    );

    // The worker renamed: the group's units are no longer the run's.
    let units = group.join("units");
    std::fs::rename(units.join("worker.toml"), units.join("consumer.toml")).unwrap();
    edit(
        &units.join("consumer.toml"),
        "[\"worker\"]",
        "[\"consumer\"]",
    );
    let config = group.join("config.toml");
    edit(&config, "\"worker\"]", "\"consumer\"]");
    edit(&config, "worker:order-received", "consumer:order-received");
    let out = verify(&[&run_dir]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "no longer match the run's (only in the group: `consumer`; only in the run: `worker`)"
        ),
        "{}",
        text(&out.stderr)
    );

    // An invalid group.
    edit(&config, "\"at-least-once\"", "\"at-least-one\"");
    let out = verify(&[&run_dir]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`delivery` = `at-least-one` is not a delivery guarantee"),
        "{}",
        text(&out.stderr)
    );

    assert_eq!(snapshot_dir(&run_dir), before, "verify wrote into the run");
}

/// Issue 16: `testrium list` names exactly the groups `run` runs with the same selection
/// flags, with their units, readiness, dependencies and circuits, and starts nothing.
#[test]
fn list_names_the_groups_run_would_run() {
    let base = Base::new("list").with(&[
        "test_shell_circuit",
        "test_rust_circuit",
        "test_api_queue_worker",
    ]);
    let selection = ["-k", "circuit", "--less", "test_rust_circuit"];
    let out = testrium()
        .arg("list")
        .arg(&base.path)
        .args(selection)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_report!(
        "list_names_the_groups_run_would_run",
        base.redact(&text(&out.stdout))
    );
    assert!(
        !base.path.join(".testrium").join("runs").exists(),
        "list started nothing"
    );

    let out = testrium()
        .arg("list")
        .arg(&base.path)
        .args(selection)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let server = &listed["groups"][0]["units"][0];
    assert_eq!(server["name"], "server");
    assert_eq!(server["ready_event"], "server-ready");
    assert_eq!(listed["groups"][0]["units"][1]["dependencies"][0], "server");
    assert_eq!(listed["groups"][0]["circuits"][0]["name"], "request");

    let report = base.path.join("run.json");
    let out = base.run(&[&selection[..], &["--json", report.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let ran: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(names(&listed), names(&ran));
    assert_eq!(names(&listed), ["test_shell_circuit"]);
}

/// Issue 16: `--retries N` re-runs a failing group; one that fails, then passes, is FLAKY in
/// the terminal, the JSON and the JUnit (`<flakyFailure>`, no `<failure>`), and passes —
/// unless `--flaky-result fail`.
#[test]
fn retries_report_a_group_that_passes_on_retry_as_flaky() {
    let base = Base::new("retries").with(&["test_flaky"]);
    // The coin lands tails (exit 1) first, then heads.
    let marker = base.path.join("test_flaky").join("flipped.marker");
    std::fs::write(&marker, "").unwrap();
    let json_path = base.path.join("r.json");
    let junit_path = base.path.join("j.xml");
    let out = base.run(&[
        "--retries",
        "2",
        "--json",
        json_path.to_str().unwrap(),
        "--junit",
        junit_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_report!(
        "retries_report_a_group_that_passes_on_retry_as_flaky",
        base.redact(&text(&out.stdout))
    );
    assert!(
        text(&out.stderr).contains("warning: `test_flaky` passed only on a retry (flaky)"),
        "{}",
        text(&out.stderr)
    );
    let report = json(&json_path);
    let group = &report["groups"][0];
    assert_eq!(group["passed"], true);
    assert_eq!(group["flaky"], true);
    let attempts: Vec<(bool, bool)> = group["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["passed"].as_bool().unwrap(),
                a["retry"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(false, false), (true, true)]);

    let xml = std::fs::read_to_string(&junit_path).unwrap();
    let coin = xml
        .split("<testcase ")
        .find(|c| c.contains("name=\"unit coin\""))
        .unwrap();
    assert!(coin.contains("<flakyFailure "), "{xml}");
    assert!(!coin.contains("<failure "), "{xml}");
    assert!(!xml.contains("[attempt"), "{xml}");

    // The passing attempt left the marker: tails again first, and now flaky fails the run.
    assert!(marker.exists());
    let out = base.run(&["--retries", "1", "--flaky-result", "fail"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
}

/// The DOM Chromium builds from a page, or `None` (saying so) without a `chromium` binary.
fn chromium_dom(test: &str, base: &Base, page: &Path) -> Option<String> {
    let Some(chromium) = chromium() else {
        println!("SKIPPED {test}: no chromium binary (apt-get install chromium)");
        return None;
    };
    let profile = base.path.join("chromium-profile");
    let dom = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(dom.status.success(), "chromium failed: {:?}", dom.status);
    Some(text(&dom.stdout))
}

/// A number attribute of a tag's text (`<circle … cx="12.5" …`).
fn number_attr(tag: &str, name: &str) -> Option<f64> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[at..].split('"').next()?.parse().ok()
}

/// Issue 16: what a person sees of a 1,000-pair run and of a hang. The lanes carry the units'
/// lifecycle, the axis ends at the attempt's end (a 3 s hang reads as 3 s), a band per route
/// replaces 1,000 arrows, nothing is drawn over the lanes' names, and no backtick shows.
#[test]
fn html_report_of_a_flood_and_a_hang_reads_in_chromium() {
    let base = Base::new("html-scale").with(&["test_pairs_1000", "test_hang"]);
    let page = base.path.join("report.html");
    let json_path = base.path.join("report.json");
    let out = base.run(&[
        "--html",
        page.to_str().unwrap(),
        "--json",
        json_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report = json(&json_path);
    let Some(dom) = chromium_dom(
        "html_report_of_a_flood_and_a_hang_reads_in_chromium",
        &base,
        &page,
    ) else {
        return;
    };
    let svgs: Vec<&str> = dom
        .split("<svg class=\"timeline\"")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").unwrap()])
        .collect();
    assert_eq!(svgs.len(), 2);
    for (group, svg) in report["groups"].as_array().unwrap().iter().zip(&svgs) {
        let name = group["name"].as_str().unwrap();
        let duration_ms = group["attempts"][0]["duration_s"].as_f64().unwrap() * 1e3;
        // The axis runs to the attempt's end, its last tick labelled with it.
        let end = number_attr(svg, "data-end-ms").unwrap();
        assert!(
            (end - duration_ms).abs() < 1.0,
            "{name}: axis to {end} of {duration_ms}"
        );
        let axis = &svg[svg.find("<g class=\"axis\">").unwrap()..];
        let last_tick = axis[..axis.find("</g>").unwrap()]
            .rsplit("data-ms=\"")
            .next()
            .unwrap();
        assert!(
            last_tick.starts_with(&format!("{end:.3}\"")),
            "{name}: {last_tick}"
        );
        // Lifecycle marks on the lanes.
        assert!(
            svg.contains("<g class=\"life starting\" data-unit=\"server\""),
            "{name}: spawn mark"
        );
        // Nothing starts left of where the lanes' names end.
        let labels_end = svg
            .split("<text class=\"lane-label\" ")
            .skip(1)
            .map(|t| {
                let x = number_attr(&format!(" {t}"), "x").unwrap();
                let name = &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()];
                x + name.chars().count() as f64 * 7.5
            })
            .fold(0.0, f64::max);
        assert!(labels_end > 8.0);
        for tag in svg.split('<').skip(1) {
            let (head, content) = tag.split_once('>').unwrap_or((tag, ""));
            if head.starts_with('/') || head.contains("class=\"lane-label\"") {
                continue;
            }
            let width = if head.starts_with("text") {
                content.chars().count() as f64 * 6.5
            } else {
                0.0
            };
            let left = if head.contains("text-anchor=\"middle\"") {
                width / 2.0
            } else if head.contains("text-anchor=\"end\"") {
                width
            } else {
                0.0
            };
            let r = number_attr(head, "r").unwrap_or(0.0);
            for attr in ["x", "cx", "x1", "x2"] {
                if let Some(x) = number_attr(head, attr) {
                    assert!(
                        x - left - r >= labels_end,
                        "{name}: <{head}> reaches the lanes' names (x {x}, ends at {labels_end})"
                    );
                }
            }
        }
    }
    // The flood: one band for its route, not 1,000 arrows; probes named where there is room.
    let groups = report["groups"].as_array().unwrap();
    let svg_of = |name: &str| svgs[groups.iter().position(|g| g["name"] == name).unwrap()];
    let flood = svg_of("test_pairs_1000");
    assert_eq!(flood.matches("<g class=\"arrow\"").count(), 0);
    assert!(flood.contains(
        "data-route=\"client:request-sent → server:request-received\" data-pairs=\"1000\""
    ));
    assert!(flood.contains(">1000 pairs · p50 "));
    assert!(flood.contains("<text class=\"probe-label\""));
    assert_eq!(
        dom.matches("<figure class=\"histogram\"").count(),
        1,
        "a latency histogram"
    );
    // The hang: the server spawned, never ready, failed at the group timeout, a red line there.
    let hang = svg_of("test_hang");
    assert!(
        hang.contains("<g class=\"timeout\" data-at-ms=\"3"),
        "{hang}"
    );
    assert!(hang.contains("server: failed: group timeout"), "{hang}");
    assert!(!hang.contains("<g class=\"life ready\" data-unit=\"server\""));
    // No backtick in what is read: the text between tags.
    let texts: String = dom
        .split('<')
        .filter_map(|t| t.split_once('>').map(|(_, text)| text))
        .collect();
    assert!(!texts.contains('`'), "a backtick shows");
    assert!(dom.contains("<code>server</code>"), "names set as code");
    assert!(!dom.contains("<script"));
}

/// Issue 18: `--listen` beyond loopback prints where the receiver listens and the token that
/// units on other hosts need; on loopback nothing is printed (the units have it already).
#[test]
fn listen_beyond_loopback_prints_the_receiver_and_its_token() {
    let base = Base::new("listen").with(&["test_shell_circuit"]);
    let out = base.run(&["--listen", "0.0.0.0:0"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("OTLP"))
        .unwrap_or_else(|| panic!("no OTLP line in:\n{text}"));
    assert!(line.contains("http://0.0.0.0:"), "{line}");
    let token = line.rsplit(' ').next().unwrap_or("");
    assert_eq!(token.len(), 32, "{line}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");

    let out = base.run(&["--listen", "127.0.0.1:0"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("OTLP"), "{text}");
}

/// `TESTRIUM_TOKEN` in the runner's environment is the token of every attempt (for services
/// configured once, outside the run); one that is short or not plain is an environment error
/// naming the variable, and nothing runs.
#[test]
fn a_token_set_in_the_environment_is_the_runs_token() {
    let base = Base::new("token").with(&["test_shell_circuit"]);
    let token = "staging-token_0123456789.abc";
    let out = testrium()
        .env("TESTRIUM_TOKEN", token)
        .arg("run")
        .arg(&base.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let runs = base.path.join(".testrium/runs");
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(Result::ok)
        .next()
        .expect("a run folder");
    let written = std::fs::read_to_string(run.path().join("token")).unwrap();
    assert_eq!(written.trim(), token);

    let out = testrium()
        .env("TESTRIUM_TOKEN", "short")
        .arg("run")
        .arg(&base.path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("TESTRIUM_TOKEN in the runner's environment must be at least 16"),
        "{text}"
    );
}
