//! The harness reports groups the way `cargo test` reports tests.
//!
//! This binary is both sides: run with `TESTRIUM_HARNESS_TEST_DIR` set, it is a harness
//! (`testrium::harness::main` on that folder); otherwise it runs that harness as a child
//! process on `tests/groups/` (one passing, one failing, one invalid and one disabled group)
//! and checks what the child prints and how it exits, as `cargo test` would show it.

use std::process::{Command, Output};

use testrium::harness::libtest_mimic;
use testrium::harness::{Arguments, Failed, Trial};

const CHILD_DIR: &str = "TESTRIUM_HARNESS_TEST_DIR";

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        testrium::harness::main(dir);
    }
    let trials = vec![
        Trial::test("reports_passed_failed_invalid_and_disabled_groups", reports),
        Trial::test("lists_every_group", lists),
        Trial::test("filters_groups_by_name", filters),
        Trial::test("runs_no_disabled_group_even_when_asked", include_ignored),
        Trial::test("a_folder_without_groups_is_a_failing_case", no_groups),
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// Runs the harness on `dir` (relative to this package) with `args`.
fn harness(dir: &str, args: &[&str]) -> Result<(i32, String), Failed> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let Output { status, stdout, .. } = Command::new(exe)
        .env(CHILD_DIR, dir)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("cannot run the harness: {e}"))?;
    let code = status.code().ok_or("the harness was killed by a signal")?;
    Ok((code, String::from_utf8_lossy(&stdout).into_owned()))
}

fn check(condition: bool, what: &str, output: &str) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(format!("{what}; the harness printed:\n{output}").into())
    }
}

/// What libtest printed after `test NAME ... ` (names are padded to the longest).
fn outcome_of<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("test ")?.split_once(" ... "))
        .find(|(case, _)| case.trim_end() == name)
        .map_or("", |(_, outcome)| outcome)
}

/// The message libtest prints for a failed case: between `---- NAME ----` and the next one.
fn failure_of<'a>(output: &'a str, name: &str) -> &'a str {
    let header = format!("---- {name} ----\n");
    output.split_once(&header).map_or("", |(_, rest)| {
        rest.split_once("\n\n---- ")
            .or_else(|| rest.split_once("\n\n\nfailures:\n"))
            .map_or(rest, |(message, _)| message)
    })
}

fn reports() -> Result<(), Failed> {
    let (code, out) = harness("tests/groups", &["--test-threads", "2"])?;
    check(code == 101, &format!("exit code {code}, not 101"), &out)?;
    check(
        outcome_of(&out, "test_pass") == "ok",
        "test_pass did not pass",
        &out,
    )?;
    check(
        outcome_of(&out, "test_fail") == "FAILED",
        "test_fail did not fail",
        &out,
    )?;
    check(
        outcome_of(&out, "test_invalid") == "FAILED",
        "test_invalid did not fail",
        &out,
    )?;
    check(
        outcome_of(&out, "test_disabled") == "ignored",
        "test_disabled not ignored",
        &out,
    )?;
    check(
        out.contains("test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured"),
        "wrong counts",
        &out,
    )?;
    // The verdict's text: the probe never recorded, by unit; and where the evidence is.
    let fail = failure_of(&out, "test_fail");
    check(
        fail.starts_with("group test_fail: FAILED"),
        "no verdict in test_fail's message",
        &out,
    )?;
    check(
        fail.contains("missing_probe") && fail.contains("greeter:farewell-said"),
        "test_fail's message does not name the missing probe",
        &out,
    )?;
    check(
        fail.contains("run directory: ") && fail.contains(".testrium/runs/test_fail-"),
        "test_fail's message does not give its run directory",
        &out,
    )?;
    // The diagnostics, with file, line and column.
    let invalid = failure_of(&out, "test_invalid");
    check(
        invalid.contains("test_invalid/config.toml:4:") && invalid.contains("timeout"),
        "test_invalid's message is not its diagnostic",
        &out,
    )?;
    check(
        failure_of(&out, "test_pass").is_empty(),
        "test_pass has a failure",
        &out,
    )
}

fn lists() -> Result<(), Failed> {
    let (code, out) = harness("tests/groups", &["--list"])?;
    check(code == 0, &format!("exit code {code}, not 0"), &out)?;
    let expected = "test_disabled: test\ntest_fail: test\ntest_invalid: test\ntest_pass: test\n";
    check(out == expected, "wrong list", &out)?;
    let (_, out) = harness("tests/groups", &["--list", "--ignored"])?;
    check(
        out == "test_disabled: test\n",
        "wrong list of ignored cases",
        &out,
    )
}

fn filters() -> Result<(), Failed> {
    let (code, out) = harness("tests/groups", &["pass"])?;
    check(code == 0, &format!("exit code {code}, not 0"), &out)?;
    check(
        out.contains("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out"),
        "wrong counts",
        &out,
    )?;
    let (code, out) = harness("tests/groups", &["--exact", "test_fail"])?;
    check(code == 101, &format!("exit code {code}, not 101"), &out)?;
    check(
        out.contains("1 failed; 0 ignored; 0 measured; 3 filtered out"),
        "wrong counts",
        &out,
    )
}

fn include_ignored() -> Result<(), Failed> {
    let (code, out) = harness("tests/groups", &["--include-ignored", "disabled"])?;
    check(code == 0, &format!("exit code {code}, not 0"), &out)?;
    check(
        outcome_of(&out, "test_disabled") == "ignored (disabled (`enabled = false`))",
        "the disabled group is not ignored with its reason",
        &out,
    )
}

fn no_groups() -> Result<(), Failed> {
    let (code, out) = harness("tests/groups/test_pass", &[])?;
    check(code == 101, &format!("exit code {code}, not 101"), &out)?;
    check(
        outcome_of(&out, "testrium::discover") == "FAILED",
        "no failing case",
        &out,
    )?;
    check(
        failure_of(&out, "testrium::discover").contains("no test group found under"),
        "wrong message",
        &out,
    )?;
    let (code, out) = harness("tests/no-such-folder", &[])?;
    check(code == 101, &format!("exit code {code}, not 101"), &out)?;
    check(
        failure_of(&out, "testrium::discover").contains("cannot read base folder"),
        "wrong message for a missing folder",
        &out,
    )
}
