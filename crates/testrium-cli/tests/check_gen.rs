//! `testrium check` and `testrium gen config-template` / `gen-configs`, run as the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch base folder, removed on drop.
struct Base(PathBuf);

impl Base {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("testrium-cli-check-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{e}"));
        Base(path)
    }

    fn write(&self, path: &str, content: &str) {
        let path = self.0.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, content).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn testrium(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testrium"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot start testrium: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn group(base: &Base, name: &str, config: &str) {
    base.write(&format!("{name}/config.toml"), config);
    base.write(
        &format!("{name}/units/a.toml"),
        "[\"a\"]\ninit = 0\nevents = [\"x\"]\n",
    );
}

const OK: &str = "[\"Configs\"]\nunits = [\"a\"]\n";

#[test]
fn generated_template_passes_check_and_is_never_overwritten() {
    let base = Base::new();
    let out = testrium(&["gen", "config-template", "test_new"], &base.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for file in [
        "config.toml",
        "units/source.toml",
        "units/target.toml",
        "test_case.py",
    ] {
        assert!(
            base.0.join("test_new").join(file).is_file(),
            "{file} missing"
        );
        assert!(
            stdout.contains(&format!("wrote  test_new/{file}")),
            "{stdout}"
        );
    }

    let out = testrium(&["check"], &base.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ok  test_new (2 units, 1 circuit)"),
        "{}",
        text(&out.stdout)
    );

    base.write(
        "test_new/config.toml",
        "[\"Configs\"]\nunits = [\"source\", \"target\"]\n",
    );
    let out = testrium(&["gen-configs", "test_new"], &base.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("kept  test_new/config.toml (already exists, not overwritten)"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing written"), "{stdout}");
    let kept = std::fs::read_to_string(base.0.join("test_new/config.toml")).unwrap_or_default();
    assert_eq!(kept, "[\"Configs\"]\nunits = [\"source\", \"target\"]\n");
}

#[test]
fn gen_into_a_folder_that_will_not_be_discovered_says_so() {
    let base = Base::new();
    let out = testrium(&["gen", "config-template", "group"], &base.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("note: `testrium run` finds groups"));
}

#[test]
fn gen_that_cannot_write_is_an_environment_error() {
    let base = Base::new();
    base.write("file", "x");
    let out = testrium(&["gen", "config-template", "file/test_x"], &base.0);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("error: cannot write `file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn broken_group_exits_3_with_rustc_like_diagnostics() {
    let base = Base::new();
    group(&base, "test_good", OK);
    group(
        &base,
        "test_bad",
        "[\"Configs\"]\nunits = [\"a\"]\ntimout = 5\n",
    );
    group(
        &base,
        "test_off",
        "[\"Configs\"]\nunits = [\"a\"]\nenabled = false\n",
    );
    let out = testrium(&["check", "."], &base.0);
    assert_eq!(out.status.code(), Some(3));
    insta::assert_snapshot!(
        "broken_group",
        format!(
            "--- stdout\n{}--- stderr\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    );
}

#[test]
fn less_excludes_groups_in_the_original_position() {
    let base = Base::new();
    group(&base, "test_good", OK);
    group(&base, "test_bad", "[\"Configs\"]\nunits = 3\n");
    let out = testrium(&["--less", "test_bad", "test_typo", "check"], &base.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("skipped  test_bad: excluded (`--less`)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("checked 2 groups: 1 valid, 0 invalid, 1 skipped"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: `--less test_typo`: no test group has that name"),
        "{stderr}"
    );
    assert!(!stderr.contains("test_bad"), "{stderr}");
}

#[test]
fn no_group_exits_2() {
    let base = Base::new();
    base.write("not_a_group/config.toml", OK);
    let out = testrium(&["check"], &base.0);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("no test group found"));

    group(
        &base,
        "test_off",
        "[\"Configs\"]\nunits = [\"a\"]\nenabled = false\n",
    );
    let out = testrium(&["check"], &base.0);
    assert_eq!(
        out.status.code(),
        Some(2),
        "every group skipped is no group"
    );
    assert!(text(&out.stdout).contains("skipped  test_off: disabled"));
}

#[test]
fn unreadable_base_exits_3_naming_it() {
    let base = Base::new();
    let out = testrium(&["check", "missing-folder"], &base.0);
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: cannot read base folder `missing-folder`"),
        "{stderr}"
    );
}

#[test]
fn binary_garbage_and_symlink_loops_exit_3_without_panic() {
    let base = Base::new();
    group(&base, "test_good", OK);
    base.write("test_garbage/units/a.toml", "x");
    std::fs::write(
        base.0.join("test_garbage/config.toml"),
        [0xff, 0, 0x1b, b'[', b'2', b'J'],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(base.0.join("test_loop"), base.0.join("test_loop"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = testrium(&["check"], &base.0);
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`test_garbage/config.toml` is not valid UTF-8"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot read `test_loop`"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn generated_template_runs_and_passes() {
    // The promise of `gen config-template`: the starter group passes `testrium run` as written.
    let has_python = Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .is_ok_and(|s| s.success());
    if !has_python {
        eprintln!("skipped: python3 is not available");
        return;
    }
    let base = Base::new();
    let out = testrium(&["gen", "config-template", "test_starter"], &base.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = testrium(&["run"], &base.0);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("PASS test_starter"),
        "{}",
        text(&out.stdout)
    );
}

/// Regression (issue 11 item 4, `check` part): a misspelt `command` program, a script without
/// its run bit, a missing interpreter, and an entrypoint whose module file or function does
/// not exist passed `testrium check` without a word, and at run time cost a whole group
/// timeout. Now each is a warning at the key's file:line:col (exit code unchanged: a setup
/// or an earlier unit may create them), with a `chmod +x` hint for the missing run bit.
#[test]
fn missing_programs_and_entrypoints_are_warnings() {
    use std::os::unix::fs::PermissionsExt;
    let base = Base::new();
    base.write(
        "test_launch/config.toml",
        "[\"Configs\"]\nunits = [\"typo\", \"nobit\", \"interp\", \"nomod\", \"nofunc\", \"good\", \"onpath\", \"off\"]\n",
    );
    let unit = |name: &str, init: u32, launch: &str| {
        base.write(
            &format!("test_launch/units/{name}.toml"),
            &format!("[\"{name}\"]\ninit = {init}\n{launch}\n"),
        );
    };
    unit("typo", 0, "command = [\"./clinet.sh\"]");
    unit("nobit", 1, "command = [\"./client.sh\", \"--x\"]");
    unit("interp", 2, "command = [\"python3.0-nowhere\", \"u.py\"]");
    unit("nomod", 3, "entrypoint = \"missing_module:run\"");
    unit("nofunc", 4, "entrypoint = \"app:run_client\"");
    unit("good", 5, "entrypoint = \"app:run_server\"");
    unit("onpath", 6, "command = [\"sh\", \"-c\", \"true\"]");
    unit("off", 7, "enabled = false\ncommand = [\"./also-missing\"]");
    base.write("test_launch/client.sh", "#!/bin/sh\n");
    base.write(
        "test_launch/app.py",
        "def run_server():\n    pass\n\n# run_client is not here\n",
    );
    let script = base.0.join("test_launch/client.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = testrium(&["check"], &base.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr).replace(&base.0.display().to_string(), "[BASE]");
    insta::assert_snapshot!("missing_programs_and_entrypoints", stderr);
    assert!(
        text(&out.stdout).contains("5 warnings"),
        "{}",
        text(&out.stdout)
    );
}
