//! The suite: selection as a table over a base folder of small groups, the exit-code policy
//! over constructed outcomes, and a few real runs of `true`/`false` units (fail-fast,
//! cancellation, history, observer order).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use testrium_verify::Verdict;

use super::*;
use crate::error::RunError;
use crate::event::RunEvent;
use crate::exit_code::TestriumExitCode;
use crate::outcome::{AttemptOutcome, GroupOutcome};

/// A fresh base folder; removed on drop.
struct Base(PathBuf);

impl Base {
    fn new(label: &str) -> Base {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "testrium-suite-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Base(path)
    }

    /// A group `name` of one unit running `program` (`true`, `false`), with `extra` lines in
    /// its `["Configs"]`.
    fn group(self, name: &str, program: &str, extra: &str) -> Base {
        let dir = self.0.join(name);
        std::fs::create_dir_all(dir.join("units")).unwrap();
        std::fs::write(
            dir.join("config.toml"),
            format!("[\"Configs\"]\nunits = [\"u\"]\ntimeout = 20\n{extra}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("units/u.toml"),
            format!("[\"u\"]\ninit = 1\ncommand = [\"{program}\"]\n"),
        )
        .unwrap();
        self
    }

    /// A group whose unit file does not parse.
    fn invalid(self, name: &str) -> Base {
        let dir = self.0.join(name);
        std::fs::create_dir_all(dir.join("units")).unwrap();
        std::fs::write(dir.join("config.toml"), "[\"Configs\"]\nunits = [\"u\"]\n").unwrap();
        std::fs::write(dir.join("units/u.toml"), "[\"u\"]\ncommand = 7\n").unwrap();
        self
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(plan: &SuitePlan) -> Vec<&str> {
    plan.groups.iter().map(|g| g.name.as_str()).collect()
}

fn skipped(skipped: &[SkippedGroup]) -> Vec<(&str, SkipKind)> {
    skipped.iter().map(|s| (s.name.as_str(), s.kind)).collect()
}

fn four_groups() -> Base {
    Base::new("select")
        .group("test_a", "true", "")
        .group("test_b", "true", "")
        .group("test_ab", "true", "")
        .group("test_off", "true", "enabled = false")
}

/// A suite, the groups it runs, the groups it skips.
type Case<'a> = (Suite, &'a [&'a str], &'a [(&'a str, SkipKind)]);

#[test]
fn selection_by_names_pattern_and_exclusions() {
    let base = four_groups();
    let cases: [Case<'_>; 4] = [
        (
            Suite::new(base.path()),
            &["test_a", "test_ab", "test_b"],
            &[("test_off", SkipKind::Disabled)],
        ),
        (
            Suite::new(base.path()).pattern("b"),
            &["test_ab", "test_b"],
            &[
                ("test_off", SkipKind::Disabled),
                ("test_a", SkipKind::NotSelected),
            ],
        ),
        (
            Suite::new(base.path()).groups(["test_b", "test_a"]),
            &["test_a", "test_b"],
            &[
                ("test_off", SkipKind::Disabled),
                ("test_ab", SkipKind::NotSelected),
            ],
        ),
        (
            Suite::new(base.path())
                .exclude(["test_ab"])
                .pattern("test_"),
            &["test_a", "test_b"],
            &[
                ("test_ab", SkipKind::Excluded),
                ("test_off", SkipKind::Disabled),
            ],
        ),
    ];
    for (suite, run, skip) in cases {
        let plan = suite.plan().unwrap();
        assert_eq!(names(&plan), run, "{suite:?}");
        assert_eq!(skipped(&plan.skipped), skip, "{suite:?}");
    }
}

#[test]
fn partitions_are_disjoint_and_an_empty_share_is_no_error() {
    let base = four_groups();
    let mut all = Vec::new();
    for share in 1..=3 {
        let plan = Suite::new(base.path())
            .partition(Partition::Count { share, of: 3 })
            .plan()
            .unwrap();
        assert_eq!(plan.selected, 3);
        assert_eq!(plan.groups.len(), 1);
        assert!(
            plan.skipped
                .iter()
                .any(|s| s.kind == SkipKind::Partition && s.reason.contains("count:"))
        );
        all.extend(plan.groups.into_iter().map(|g| g.name));
    }
    all.sort();
    assert_eq!(all, ["test_a", "test_ab", "test_b"]);

    let plan = Suite::new(base.path())
        .pattern("test_a")
        .partition(Partition::Count { share: 3, of: 3 })
        .plan()
        .unwrap();
    assert!(plan.is_empty_share(), "{plan:?}");
}

#[test]
fn planning_errors_and_their_exit_codes() {
    let base = four_groups().invalid("test_bad");
    let error = |suite: Suite| suite.plan().unwrap_err();

    let err = error(Suite::new(base.path()).groups(["test_a", "test_nope"]));
    assert!(
        matches!(&err.kind, SuiteErrorKind::UnknownGroups { names } if names == &["test_nope"])
    );
    assert_eq!(err.exit_code(), TestriumExitCode::NO_GROUPS);

    // The invalid group blocks the suite only when it is selected.
    let err = error(Suite::new(base.path()));
    let SuiteErrorKind::InvalidGroups {
        groups,
        diagnostics,
    } = &err.kind
    else {
        panic!("{err:?}");
    };
    assert_eq!(groups, &["test_bad"]);
    assert!(!diagnostics.is_empty());
    assert_eq!(err.exit_code(), TestriumExitCode::CONFIG_ERROR);
    let plan = Suite::new(base.path()).pattern("test_a").plan().unwrap();
    assert!(skipped(&plan.skipped).contains(&("test_bad", SkipKind::Invalid)));

    let err = error(Suite::new(base.path()).pattern("zzz"));
    let SuiteErrorKind::NoGroups { skipped } = &err.kind else {
        panic!("{err:?}");
    };
    assert_eq!(skipped.len(), 5);
    assert_eq!(err.exit_code(), TestriumExitCode::NO_GROUPS);

    let err = error(Suite::new(base.path().join("missing")));
    assert!(matches!(err.kind, SuiteErrorKind::Discover(_)));
    assert_eq!(err.exit_code(), TestriumExitCode::CONFIG_ERROR);

    let empty = Base::new("empty");
    let err = error(Suite::new(empty.path()));
    assert!(matches!(&err.kind, SuiteErrorKind::NoGroups { skipped } if skipped.is_empty()));
}

fn group(name: &str) -> Group {
    Group::builder(name, format!("/base/{name}"))
        .build()
        .unwrap()
}

fn outcome(name: &str, passed: bool) -> GroupOutcome {
    let failures = (!passed).then(|| {
        testrium_verify::Failure::new(testrium_verify::FailureKind::NonZeroExit, "exit 1")
    });
    let verdict = Verdict::new(name, failures);
    GroupOutcome::new(name, [AttemptOutcome::new(name, 1, "/base/run", verdict)])
}

fn run_error(name: &str, config: bool) -> RunError {
    let kind = if config {
        crate::error::RunErrorKind::DependencyCycle {
            units: vec!["a".into(), "a".into()],
        }
    } else {
        crate::error::RunErrorKind::RunDir {
            path: "/base".into(),
            source: std::io::Error::other("full"),
        }
    };
    RunError::new(name, kind)
}

#[test]
fn exit_code_policy() {
    let suite = |groups: Vec<GroupRun>, interrupted: bool| {
        let mut outcome = SuiteOutcome::new("/base");
        outcome.groups = groups;
        outcome.interrupted = interrupted;
        outcome.exit_code()
    };
    let ok = || GroupRun::new(group("test_ok"), Ok(outcome("test_ok", true)));
    let bad = || GroupRun::new(group("test_bad"), Ok(outcome("test_bad", false)));
    let env = || GroupRun::new(group("test_env"), Err(run_error("test_env", false)));
    let cfg = || GroupRun::new(group("test_cfg"), Err(run_error("test_cfg", true)));
    let table = [
        (vec![], false, TestriumExitCode::SUCCESS),
        (vec![ok()], false, TestriumExitCode::SUCCESS),
        (vec![ok(), bad()], false, TestriumExitCode::GROUP_FAILED),
        (
            vec![bad(), env()],
            false,
            TestriumExitCode::ENVIRONMENT_ERROR,
        ),
        (vec![env(), cfg()], false, TestriumExitCode::CONFIG_ERROR),
        (vec![ok(), cfg()], true, TestriumExitCode::INTERRUPTED),
        (vec![ok()], true, TestriumExitCode::INTERRUPTED),
    ];
    for (i, (groups, interrupted, code)) in table.into_iter().enumerate() {
        assert_eq!(suite(groups, interrupted), code, "row {i}");
    }
}

#[test]
fn skip_kinds_read_back_and_unknown_ones_are_other() {
    let json = r#"[{"name":"a","reason":"r","kind":"fail_fast"},{"name":"b","reason":"r","kind":"from_the_future"},{"name":"c","reason":"r"}]"#;
    let read: Vec<SkippedGroup> = serde_json::from_str(json).unwrap();
    assert_eq!(
        skipped(&read),
        [
            ("a", SkipKind::FailFast),
            ("b", SkipKind::Other),
            ("c", SkipKind::Other)
        ]
    );
    assert_eq!(
        serde_json::to_string(&SkipKind::NotSelected).unwrap(),
        "\"not_selected\""
    );
}

#[test]
fn fail_fast_stops_after_the_first_failure_and_history_is_recorded() {
    let base = Base::new("run")
        .group("test_1_fails", "false", "")
        .group("test_2_passes", "true", "")
        .group("test_3_unrecorded", "true", "save-metrics = false");
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let outcome = Suite::new(base.path())
        .fail_fast(true)
        .observer(move |event| {
            let line = match event {
                SuiteEvent::GroupStarted { group } => format!("start {}", group.name),
                SuiteEvent::Run {
                    group,
                    event: RunEvent::AttemptStarted { attempt, .. },
                } => format!("attempt {group} {attempt}"),
                SuiteEvent::GroupFinished { group, run } => {
                    format!("finish {} {}", group.name, run.passed())
                }
                _ => return,
            };
            seen.lock().unwrap().push(line);
        })
        .run()
        .unwrap();
    assert_eq!(
        *events.lock().unwrap(),
        [
            "start test_1_fails",
            "attempt test_1_fails 1",
            "finish test_1_fails false"
        ]
    );
    assert_eq!(outcome.groups.len(), 1);
    assert_eq!(
        skipped(&outcome.skipped),
        [
            ("test_2_passes", SkipKind::FailFast),
            ("test_3_unrecorded", SkipKind::FailFast)
        ]
    );
    assert_eq!(outcome.exit_code(), TestriumExitCode::GROUP_FAILED);
    let history = testrium_events::History::open(base.path()).unwrap();
    let records = history.recent(None, 10).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].group, "test_1_fails");
    assert!(!records[0].passed);

    // Without fail-fast every group runs, two at a time; `save-metrics = false` is honoured.
    let outcome = Suite::new(base.path()).jobs(2).run().unwrap();
    let ran: Vec<&str> = outcome
        .groups
        .iter()
        .map(|g| g.group.name.as_str())
        .collect();
    assert_eq!(ran, ["test_1_fails", "test_2_passes", "test_3_unrecorded"]);
    assert!(outcome.groups[1].passed() && outcome.groups[2].passed());
    let records = history.recent(None, 10).unwrap();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.group != "test_3_unrecorded"));
}

#[test]
fn a_cancelled_suite_starts_nothing_and_exits_130() {
    let base = Base::new("cancel").group("test_a", "true", "");
    let token = CancelToken::new();
    token.cancel();
    let outcome = Suite::new(base.path())
        .cancel(token)
        .record_history(false)
        .run()
        .unwrap();
    assert!(outcome.groups.is_empty());
    assert_eq!(
        skipped(&outcome.skipped),
        [("test_a", SkipKind::Interrupted)]
    );
    assert_eq!(outcome.exit_code(), TestriumExitCode::INTERRUPTED);
    assert!(!testrium_events::History::path_for(base.path()).exists());
}
