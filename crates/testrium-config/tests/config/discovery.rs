//! Discovery: order, disabled and excluded groups, and hostile file systems.

use testrium_config::{DiscoverOptions, SkipReason, discover};

use crate::support::Scratch;

const GROUP_CONFIG: &str = "[\"Configs\"]\nunits = [\"a\"]\n";
const UNIT: &str = "[\"a\"]\ninit = 0\nevents = [\"x\"]\n";

fn group(scratch: &Scratch, name: &str, config: &str) {
    scratch.write(&[
        (&format!("{name}/config.toml") as &str, config),
        (&format!("{name}/units/a.toml") as &str, UNIT),
    ]);
}

#[test]
fn finds_groups_in_name_order_and_says_what_it_skipped() {
    let scratch = Scratch::new();
    group(&scratch, "test_c", GROUP_CONFIG);
    group(&scratch, "a_test", GROUP_CONFIG);
    group(&scratch, "test_b", GROUP_CONFIG);
    group(
        &scratch,
        "test_off",
        "[\"Configs\"]\nunits = [\"a\", \"missing\"]\nenabled = false\n",
    );
    group(&scratch, "no_match", GROUP_CONFIG);
    scratch.write(&[
        ("test_no_units/config.toml", GROUP_CONFIG),
        ("test_file", "x"),
    ]);
    let found = discover(&scratch.base, &DiscoverOptions::new().exclude(["test_c"]))
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = found.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a_test", "test_b"]);
    let skipped: Vec<(&str, SkipReason)> = found
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("test_c", SkipReason::Excluded),
            ("test_off", SkipReason::Disabled)
        ]
    );
    assert!(found.diagnostics.is_empty(), "{}", found.diagnostics);
    assert!(found.groups.iter().all(|g| g.dir.is_absolute()));
}

/// Regression (issue 11 item 7): a hidden folder that is otherwise a group (`.test_wip/` with
/// `config.toml` and `units/`) was dropped without a word; it is listed as skipped, and
/// neither loaded nor validated. `.testrium/` (the runs) and hidden folders that are not
/// groups stay unlisted.
#[test]
fn a_hidden_group_folder_is_listed_as_skipped() {
    let scratch = Scratch::new();
    group(&scratch, ".test_wip", "not toml at all [[[");
    group(&scratch, "test_real", GROUP_CONFIG);
    scratch.write(&[
        (".testrium/runs/test_real-1/Data.db", ""),
        (".test_notes/readme.txt", "x"),
        (".test_no_config/units/a.toml", UNIT),
    ]);
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(found.diagnostics.is_empty(), "{}", found.diagnostics);
    let names: Vec<&str> = found.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["test_real"]);
    let skipped: Vec<(&str, SkipReason)> = found
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.reason))
        .collect();
    assert_eq!(skipped, [(".test_wip", SkipReason::Hidden)]);
    assert!(
        SkipReason::Hidden.to_string().contains("starts with `.`"),
        "{}",
        SkipReason::Hidden
    );
}

/// Regression (issue 11 item 4): `testrium check` said nothing about a `setup` or `command`
/// program that does not exist. Asked for (`check_launch`), these are warnings at the key;
/// without it (`testrium run`, embedders) nothing is looked up.
#[test]
fn launch_checks_warn_only_when_asked() {
    let scratch = Scratch::new();
    group(
        &scratch,
        "test_launch",
        "[\"Configs\"]\nunits = [\"a\"]\nsetup = [\"./start-broker\"]\n",
    );
    scratch.write(&[(
        "test_launch/units/a.toml",
        "[\"a\"]\ninit = 0\ncommand = [\"my-tool-that-is-nowhere\"]\n",
    )]);
    let plain = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        plain.groups[0].warnings.is_empty(),
        "{}",
        plain.groups[0].warnings
    );
    let tools = scratch.path("tools");
    let found = discover(
        &scratch.base,
        &DiscoverOptions::new().check_launch([tools.clone()]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let shown = found.groups[0].warnings.to_string();
    assert_eq!(found.groups[0].warnings.len(), 2, "{shown}");
    assert!(shown.contains("--> test_launch/config.toml:3:9"), "{shown}");
    assert!(
        shown.contains("program `./start-broker` of `setup` does not exist"),
        "{shown}"
    );
    assert!(
        shown.contains("--> test_launch/units/a.toml:3:11"),
        "{shown}"
    );
    // A program in a folder put before `PATH` (the runner's own folder) is found.
    std::fs::create_dir_all(&tools).unwrap_or_else(|e| panic!("{e}"));
    let tool = tools.join("my-tool-that-is-nowhere");
    std::fs::write(&tool, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let found = discover(&scratch.base, &DiscoverOptions::new().check_launch([tools]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found.groups[0].warnings.len(),
        1,
        "{}",
        found.groups[0].warnings
    );
}

#[test]
fn a_disabled_group_with_a_broken_config_is_reported() {
    let scratch = Scratch::new();
    group(
        &scratch,
        "test_off",
        "[\"Configs\"]\nunits = [\"a\"]\nenabled = false\ntimeout = \"x\"\n",
    );
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(found.skipped.is_empty());
    assert_eq!(found.invalid, ["test_off"]);
}

#[test]
fn invalid_groups_are_reported_and_the_others_still_found() {
    let scratch = Scratch::new();
    group(&scratch, "test_good", GROUP_CONFIG);
    group(
        &scratch,
        "test_bad",
        "[\"Configs\"]\nunits = [\"a\"]\ntimeout = -1\n",
    );
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.groups.len(), 1);
    assert_eq!(found.invalid, ["test_bad"]);
    let shown = found.diagnostics.to_string();
    assert!(shown.contains("--> test_bad/config.toml:3:11"), "{shown}");
}

#[test]
fn missing_base_is_an_error_naming_it() {
    let scratch = Scratch::new();
    let missing = scratch.path("nope");
    let error = discover(&missing, &DiscoverOptions::new()).err();
    let shown = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(shown.contains("nope"), "{shown}");
}

#[test]
fn symlink_loops_are_named_not_followed_forever() {
    let scratch = Scratch::new();
    group(&scratch, "test_good", GROUP_CONFIG);
    let looped = scratch.path("test_loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap_or_else(|e| panic!("{e}"));
    let dangling = scratch.path("test_dangling");
    std::os::unix::fs::symlink(scratch.path("nowhere"), &dangling)
        .unwrap_or_else(|e| panic!("{e}"));
    // A loop inside a group: an unlisted unit file pointing at itself. Unlisted unit files
    // are ignored with a warning (as the original ignored them), so the group still loads.
    group(&scratch, "test_inner", GROUP_CONFIG);
    let inner = scratch.path("test_inner/units/b.toml");
    std::os::unix::fs::symlink(&inner, &inner).unwrap_or_else(|e| panic!("{e}"));
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = found.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["test_good", "test_inner"], "{found:?}");
    assert_eq!(found.invalid, ["test_dangling", "test_loop"]);
    let shown = found.diagnostics.to_string();
    assert!(shown.contains("cannot read `test_loop`"), "{shown}");
    assert!(shown.contains("cannot read `test_dangling`"), "{shown}");
    let warned = found.groups[1].warnings.to_string();
    assert!(
        warned.contains("warning:") && warned.contains("test_inner/units/b.toml"),
        "{warned}"
    );
}

#[test]
fn huge_and_binary_files_are_refused_with_their_path() {
    let scratch = Scratch::new();
    group(&scratch, "test_huge", GROUP_CONFIG);
    // One byte over the cap, sparse: refused by its size before a byte of it is read.
    let huge = std::fs::File::create(scratch.path("test_huge/config.toml"))
        .and_then(|file| file.set_len(testrium_config::MAX_CONFIG_FILE_BYTES + 1));
    huge.unwrap_or_else(|e| panic!("{e}"));
    group(&scratch, "test_binary", GROUP_CONFIG);
    scratch.write_bytes(
        "test_binary/units/a.toml",
        &[0xff, 0xfe, 0, 1, 2, 0x80, 0x90],
    );
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.invalid, ["test_binary", "test_huge"]);
    let shown = found.diagnostics.to_string();
    assert!(
        shown.contains("`test_huge/config.toml` is larger than 64 MiB"),
        "{shown}"
    );
    assert!(
        shown.contains("`test_binary/units/a.toml` is not valid UTF-8"),
        "{shown}"
    );
}

/// Regression (issue 11 item 9): a valid 10 MB unit file (long comments) was refused by a
/// 1 MiB cap, though the original reads it; no hand-written config reaches the 64 MiB cap.
#[test]
fn a_ten_megabyte_unit_file_of_comments_loads() {
    let scratch = Scratch::new();
    group(&scratch, "test_long_comments", GROUP_CONFIG);
    let line = format!("# {}\n", "a long comment about this unit ".repeat(8));
    let mut unit = String::with_capacity(10_500_000);
    unit.push_str("[\"a\"]\n");
    while unit.len() < 10_000_000 {
        unit.push_str(&line);
    }
    unit.push_str("init = 0\nevents = [\"x\"]\n");
    scratch.write(&[("test_long_comments/units/a.toml", &unit)]);
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert!(found.diagnostics.is_empty(), "{}", found.diagnostics);
    assert_eq!(found.groups.len(), 1);
    assert_eq!(found.groups[0].units[0].events, ["x"]);
}

#[test]
fn deeply_nested_tables_are_a_diagnostic() {
    let scratch = Scratch::new();
    let depth = 5_000;
    let nested = format!(
        "[\"Configs\"]\nunits = [\"a\"]\nx = {}1{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let dotted = format!("[\"a\"]\ninit = 0\n{} = 1\n", vec!["k"; depth].join("."));
    scratch.write(&[
        ("test_deep/config.toml", &nested),
        ("test_deep/units/a.toml", &dotted),
    ]);
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.invalid, ["test_deep"]);
    assert!(!found.diagnostics.is_empty());
}

#[test]
fn unreadable_files_and_folders_are_named() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    group(&scratch, "test_locked", GROUP_CONFIG);
    group(&scratch, "test_secret", GROUP_CONFIG);
    let set = |path: &str, mode: u32| {
        std::fs::set_permissions(scratch.path(path), std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
    };
    set("test_locked", 0o000);
    set("test_secret/units/a.toml", 0o000);
    let readable = std::fs::read(scratch.path("test_secret/units/a.toml")).is_ok();
    let found = discover(&scratch.base, &DiscoverOptions::new());
    set("test_locked", 0o755);
    set("test_secret/units/a.toml", 0o644);
    if readable {
        eprintln!("skipped: running with privileges that read any file (root)");
        return;
    }
    let found = found.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.invalid, ["test_locked", "test_secret"]);
    let shown = found.diagnostics.to_string();
    assert!(shown.contains("cannot read `test_locked/units`"), "{shown}");
    assert!(
        shown.contains("cannot read `test_secret/units/a.toml`"),
        "{shown}"
    );
}

#[test]
fn a_fifo_is_not_read() {
    // Regression: opening a FIFO named like a unit file would block discovery forever.
    let scratch = Scratch::new();
    group(&scratch, "test_fifo", GROUP_CONFIG);
    let fifo = scratch.path("test_fifo/units/a.toml");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let found = discover(&scratch.base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
    let shown = found.diagnostics.to_string();
    assert!(
        shown.contains("`test_fifo/units/a.toml` is not a regular file"),
        "{shown}"
    );
}
