//! The rendered diagnostics of broken groups, as users see them (`testrium check`).

use crate::support::Scratch;

/// Loads a group made of `files` (paths under `test_broken/`) and renders its diagnostics.
fn render(files: &[(&str, &str)]) -> String {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.path("test_broken/units")).unwrap_or_else(|e| panic!("{e}"));
    for (path, content) in files {
        scratch.write(&[(&format!("test_broken/{path}") as &str, *content)]);
    }
    match testrium_config::load_group(&scratch.path("test_broken")) {
        Ok(group) if group.warnings.is_empty() => "(valid)".to_owned(),
        Ok(group) => format!("(valid)\n{}", group.warnings),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

const CONFIG: &str = "[\"Configs\"]\nunits = [\"source\", \"target\"]\ntimeout = 10\n";
const SOURCE: &str = "[\"source\"]\ninit = 1\nentrypoint = \"test_case:run_source\"\n\
                      ready_event = \"source-ready\"\nunit_dependencies = [\"target\"]\n\
                      events = [\"source-ready\", \"command-sent\", \"response-received\"]\n";
const TARGET: &str = "[\"target\"]\ninit = 0\nentrypoint = \"test_case:run_target\"\n\
                      events = [\"target-ready\", \"command-received\", \"endpoint-activated\"]\n";

#[test]
fn syntax_error() {
    insta::assert_snapshot!(render(&[
        (
            "config.toml",
            "[\"Configs\"]\nunits = [\"source\", \"target\"\ntimeout = 10\n"
        ),
        ("units/source.toml", SOURCE),
        ("units/target.toml", TARGET),
    ]));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(render(&[
        (
            "config.toml",
            "[\"Configs\"]\nunits = [\"source\", \"target\"]\ntimeout = \"10s\"\nrepeat = 20\n"
        ),
        ("units/source.toml", SOURCE),
        ("units/target.toml", TARGET),
    ]));
}

#[test]
fn unknown_key_with_suggestion() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        (
            "units/source.toml",
            &SOURCE.replace("ready_event", "ready_evnt")
        ),
        ("units/target.toml", TARGET),
    ]));
}

#[test]
fn dependency_cycle() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        ("units/source.toml", SOURCE),
        (
            "units/target.toml",
            &format!("{TARGET}unit_dependencies = [\"source\"]\n")
        ),
    ]));
}

#[test]
fn duplicate_init() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        ("units/source.toml", &SOURCE.replace("init = 1", "init = 0")),
        ("units/target.toml", TARGET),
    ]));
}

#[test]
fn missing_unit_file() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        ("units/source.toml", SOURCE),
        (
            "units/targte.toml",
            &TARGET.replace("\"target\"", "\"targte\"")
        ),
    ]));
}

#[test]
fn extra_unit_file() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        ("units/source.toml", SOURCE),
        ("units/target.toml", TARGET),
        (
            "units/monitor.toml",
            "# left over\n[\"monitor\"]\ninit = 2\n"
        ),
    ]));
}

#[test]
fn unsafe_unit_name() {
    insta::assert_snapshot!(render(&[
        (
            "config.toml",
            "[\"Configs\"]\nunits = [\"source\", \"target\", \"../../etc/passwd\"]\n"
        ),
        ("units/source.toml", SOURCE),
        ("units/target.toml", TARGET),
    ]));
}

#[test]
fn bad_entrypoint() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        (
            "units/source.toml",
            &SOURCE.replace("test_case:run_source", "test_case.py")
        ),
        ("units/target.toml", TARGET),
    ]));
}

#[test]
fn command_and_entrypoint() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        ("units/source.toml", SOURCE),
        (
            "units/target.toml",
            &format!("{TARGET}command = [\"./target\"]\n")
        ),
    ]));
}

#[test]
fn circuit_hop_with_unknown_probe() {
    insta::assert_snapshot!(render(&[
        (
            "config.toml",
            &format!(
                "{CONFIG}\n[[circuit]]\nname = \"request-response\"\nhops = [\"source:command-sent\", \"target:command-recieved\", \"source:response-received\"]\n"
            ),
        ),
        ("units/source.toml", SOURCE),
        ("units/target.toml", TARGET),
    ]));
}

#[test]
fn unknown_and_disabled_dependency() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        (
            "units/source.toml",
            &SOURCE.replace("[\"target\"]\n", "[\"target\", \"db\"]\n")
        ),
        ("units/target.toml", &format!("{TARGET}enabled = false\n")),
    ]));
}

#[test]
fn many_problems_at_once() {
    insta::assert_snapshot!(render(&[
        (
            "config.toml",
            "[\"Configs\"]\nunits = [\"source\", \"target\"]\ntimeout = 0\ntest-modes = [\"DEBUG\", \"VERBOSE\"]\nsave-analitics = \"yes\"\n",
        ),
        (
            "units/source.toml",
            &SOURCE
                .replace("init = 1", "init = -1")
                .replace("ready_event", "ready-event")
        ),
        (
            "units/target.toml",
            "init = 0\n[\"target\"]\nin-except = \"Restart\"\nevents = [\"x\", \"x\"]\n"
        ),
    ]));
}

#[test]
fn binary_garbage_and_missing_table() {
    insta::assert_snapshot!(render(&[
        ("config.toml", CONFIG),
        (
            "units/source.toml",
            "[\"source\"]\ninit = 1\n\u{0}\u{1}\u{2}garbage\u{1b}[31m\n"
        ),
        ("units/target.toml", "# nothing here\n"),
    ]));
}

#[test]
fn missing_config() {
    insta::assert_snapshot!(render(&[("units/source.toml", SOURCE)]));
}
