//! `History`: results across runs, newest first, per group.

use testrium_events::{History, HistoryRecord};

use crate::common::TempDir;

fn record(group: &str, n: u32, time: f64, passed: bool) -> HistoryRecord {
    let mut r = HistoryRecord::new(group, format!("{group}-{n}"));
    r.attempt = n;
    r.time = time;
    r.passed = passed;
    r.duration_s = 1.5;
    r.p99_s = passed.then_some(0.25);
    r.failure_kinds = if passed {
        Vec::new()
    } else {
        vec!["MissingProbe".into(), "Timeout".into()]
    };
    r.run_dir = format!("/runs/{group}-{n}").into();
    r.summary = format!("{{\"n\":{n}}}");
    r
}

#[test]
fn recent_is_newest_first_and_filters_by_group() {
    let dir = TempDir::new("history");
    let history = History::open(dir.path()).expect("open");
    assert_eq!(
        history.path(),
        dir.path().join(".testrium").join("history.db")
    );
    history
        .record(&record("a", 1, 100.0, true))
        .expect("record");
    history
        .record(&record("b", 1, 101.0, false))
        .expect("record");
    history
        .record(&record("a", 2, 102.0, false))
        .expect("record");

    let all = History::open(dir.path())
        .expect("reopen")
        .recent(None, 10)
        .expect("recent");
    let ids: Vec<&str> = all.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["a-2", "b-1", "a-1"]);
    assert_eq!(
        all[0],
        record("a", 2, 102.0, false),
        "every field round-trips"
    );
    assert_eq!(all[2], record("a", 1, 100.0, true));

    let a = history.recent(Some("a"), 1).expect("recent");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].run_id, "a-2");
    assert!(history.recent(Some("zzz"), 5).expect("recent").is_empty());
}
