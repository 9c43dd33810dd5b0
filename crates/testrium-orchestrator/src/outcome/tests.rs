//! Reading back what an attempt stored in its run database.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use testrium_events::{Probe, RunDb};
use testrium_verify::{FailureKind, UnitFailure, UnitStatus, Verdict};

use super::{AttemptOutcome, StoredOutcome};
use crate::error::StoredAttemptErrorKind;
use crate::{OUTCOME_META_KEY, VERDICT_META_KEY};

/// The outcome and verdict JSON that `testrium run` stored for some groups of the CLI's test
/// fixtures and bundled examples, before these types could be read back (copied from their
/// `Data.db`): what is in run databases out there.
const STORED: [(&str, &str, &str); 5] = [
    (
        "test_failing",
        include_str!("stored/test_failing.outcome.json"),
        include_str!("stored/test_failing.verdict.json"),
    ),
    (
        "test_not_ready",
        include_str!("stored/test_not_ready.outcome.json"),
        include_str!("stored/test_not_ready.verdict.json"),
    ),
    (
        "test_over_budget",
        include_str!("stored/test_over_budget.outcome.json"),
        include_str!("stored/test_over_budget.verdict.json"),
    ),
    (
        "test_hostile",
        include_str!("stored/test_hostile.outcome.json"),
        include_str!("stored/test_hostile.verdict.json"),
    ),
    (
        "test_api_queue_worker",
        include_str!("stored/test_api_queue_worker.outcome.json"),
        include_str!("stored/test_api_queue_worker.verdict.json"),
    ),
];

/// A fresh run database in a scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> (Scratch, RunDb) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "testrium-stored-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = RunDb::create(&dir.join("Data.db")).unwrap();
        (Scratch(dir), db)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stored JSON reads back into the real types, which write it again byte for byte.
#[test]
fn stored_records_read_back_and_write_the_same_bytes() {
    for (group, outcome, verdict) in STORED {
        let (_scratch, db) = Scratch::new(group);
        db.write_meta(OUTCOME_META_KEY, outcome).unwrap();
        db.write_meta(VERDICT_META_KEY, verdict).unwrap();
        let read = AttemptOutcome::read_stored(&db).unwrap().unwrap();
        assert_eq!(read.group, group);
        assert_eq!(read.verdict.group, group);
        assert_eq!(
            serde_json::to_string(&StoredOutcome::of(&read)).unwrap(),
            outcome,
            "{group}"
        );
        assert_eq!(
            serde_json::to_string(&read.verdict).unwrap(),
            verdict,
            "{group}"
        );
    }
}

#[test]
fn a_stored_attempt_comes_back_whole_with_its_events() {
    let (_scratch, db) = Scratch::new("whole");
    let (_, outcome, verdict) = STORED[1];
    db.write_meta(OUTCOME_META_KEY, outcome).unwrap();
    db.write_meta(VERDICT_META_KEY, verdict).unwrap();
    Probe::open(db.path(), "server")
        .unwrap()
        .emit("booting")
        .unwrap();
    let read = AttemptOutcome::read_stored(&db).unwrap().unwrap();
    assert!(!read.passed());
    assert_eq!(read.attempt, 1);
    assert_eq!(read.end, super::EndReason::AllExited);
    assert_eq!(read.units[0].status, UnitStatus::Failed);
    assert_eq!(
        read.units[0].failure,
        Some(UnitFailure::ReadinessTimeout {
            probe: "listening".into(),
            waited: std::time::Duration::from_millis(500),
        })
    );
    assert_eq!(read.timings.total.as_secs_f64(), 0.516801821);
    assert_eq!(read.timings.all_ready, None);
    assert_eq!(
        read.verdict.failure_kinds(),
        [
            FailureKind::MissingProbe,
            FailureKind::ReadinessTimeout,
            FailureKind::DependencyFailed
        ]
    );
    assert_eq!(read.events.count, 1);
    assert_eq!(read.events.units, ["server"]);
    assert_eq!(read.events.earliest[0].step, "booting");
}

/// The attempt never finished (the runner was killed): nothing to read, not an error.
#[test]
fn no_stored_outcome_reads_as_none() {
    let (_scratch, db) = Scratch::new("none");
    db.write_meta(VERDICT_META_KEY, STORED[0].2).unwrap();
    assert!(AttemptOutcome::read_stored(&db).unwrap().is_none());
}

/// The verdict's write can find the database locked after the outcome's went through: the
/// attempt still reads, with an empty verdict that passed as the outcome says (as the
/// report's own reader did before these types were read back).
#[test]
fn an_outcome_without_its_verdict_reads_with_an_empty_one() {
    let (_scratch, db) = Scratch::new("no-verdict");
    let passing = STORED[4].1;
    db.write_meta(OUTCOME_META_KEY, passing).unwrap();
    let read = AttemptOutcome::read_stored(&db).unwrap().unwrap();
    assert!(read.passed());
    let mut empty = Verdict::default();
    empty.group = "test_api_queue_worker".into();
    empty.passed = true;
    assert_eq!(read.verdict, empty);

    let (_scratch, db) = Scratch::new("no-verdict-failed");
    db.write_meta(OUTCOME_META_KEY, STORED[0].1).unwrap();
    let read = AttemptOutcome::read_stored(&db).unwrap().unwrap();
    assert!(!read.passed());
    assert!(read.verdict.failures.is_empty());
}

/// Outcomes stored before the verdict was split out embedded it and had no `passed`.
#[test]
fn an_outcome_with_its_verdict_embedded_still_reads() {
    let (_scratch, db) = Scratch::new("embedded");
    let (_, outcome, verdict) = STORED[0];
    let mut old: serde_json::Value = serde_json::from_str(outcome).unwrap();
    let old_map = old.as_object_mut().unwrap();
    old_map.remove("passed");
    old_map.insert("verdict".into(), serde_json::from_str(verdict).unwrap());
    db.write_meta(OUTCOME_META_KEY, &old.to_string()).unwrap();
    db.write_meta(VERDICT_META_KEY, verdict).unwrap();
    let read = AttemptOutcome::read_stored(&db).unwrap().unwrap();
    assert_eq!(serde_json::to_string(&read.verdict).unwrap(), verdict);
}

#[test]
fn a_broken_record_is_an_error_naming_it() {
    let (_scratch, db) = Scratch::new("broken");
    db.write_meta(OUTCOME_META_KEY, STORED[0].1).unwrap();
    db.write_meta(VERDICT_META_KEY, r#"{"group": "g", "passed": "#)
        .unwrap();
    let err = AttemptOutcome::read_stored(&db).unwrap_err();
    assert_eq!(err.path, db.path());
    assert!(
        matches!(err.kind, StoredAttemptErrorKind::Invalid { key, .. } if key == VERDICT_META_KEY),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read the attempt stored in `{}`",
            db.path().display()
        )
    );
}

/// Issue 16: an attempt that failed and was retried counts as its retry; a group that passed
/// only that way is flaky. Without retries, every attempt counts (`repeat`).
#[test]
fn a_failed_attempt_counts_as_its_retry() {
    let failed = || {
        AttemptOutcome::new(
            "g",
            1,
            "/b/runs/g-1",
            Verdict::new(
                "g",
                [testrium_verify::Failure::new(
                    FailureKind::NonZeroExit,
                    "exit 1",
                )],
            ),
        )
    };
    let passed = |retry: bool| {
        let mut a = AttemptOutcome::new("g", 2, "/b/runs/g-2", Verdict::new("g", []));
        a.retry = retry;
        a
    };
    let on_retry = super::GroupOutcome::new("g", [failed(), passed(true)]);
    assert!(on_retry.passed());
    assert!(on_retry.flaky());
    assert!(on_retry.retried(0));
    let repeated = super::GroupOutcome::new("g", [failed(), passed(false)]);
    assert!(!repeated.passed());
    assert!(!repeated.flaky());
    let mut failed_again = failed();
    failed_again.retry = true;
    let still_failing = super::GroupOutcome::new("g", [failed(), failed_again]);
    assert!(!still_failing.passed());
    assert!(!still_failing.flaky());

    // The flag is stored with the attempt, and older outcomes read as no retry.
    let stored = serde_json::to_string(&StoredOutcome::of(&passed(true))).unwrap();
    assert!(stored.contains("\"retry\":true"), "{stored}");
}

/// Issue 16: the lifecycle states a report draws on the lanes are kept with the attempt, and
/// read back as they were written.
#[test]
fn stored_transitions_read_back() {
    let (_scratch, db) = Scratch::new("transitions");
    let (_, outcome, verdict) = STORED[1];
    db.write_meta(OUTCOME_META_KEY, outcome).unwrap();
    db.write_meta(VERDICT_META_KEY, verdict).unwrap();
    let mut read = AttemptOutcome::read_stored(&db).unwrap().unwrap();
    assert!(read.transitions.is_empty(), "records before them have none");
    read.transitions = vec![
        super::UnitTransition::new(
            "server",
            testrium_events::UnitState::Starting,
            std::time::Duration::from_millis(3),
        ),
        super::UnitTransition::new(
            "server",
            testrium_events::UnitState::Failed,
            std::time::Duration::from_millis(503),
        ),
    ];
    let text = serde_json::to_string(&StoredOutcome::of(&read)).unwrap();
    assert!(text.contains(r#""transitions":[{"unit":"server","state":"starting","at":0.003}"#));
    db.write_meta(OUTCOME_META_KEY, &text).unwrap();
    let again = AttemptOutcome::read_stored(&db).unwrap().unwrap();
    assert_eq!(again.transitions, read.transitions);
}
