//! `History`: results across runs, newest first, per group.

use testrium_events::{History, HistoryRecord, RegressionRule};

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

/// A deterministic noise in [0, 1) (no random crate for one test).
fn noise(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// Records `p95_ms` (oldest first) as runs of `group` and reads back its p95s, newest first.
fn recorded_p95s(group: &str, p95_ms: &[f64]) -> Vec<f64> {
    let dir = TempDir::new(group);
    let history = History::open(dir.path()).expect("open");
    for (n, ms) in p95_ms.iter().enumerate() {
        let mut r = record(group, n as u32 + 1, 1000.0 + n as f64, true);
        r.p95_s = Some(ms / 1e3);
        history.record(&r).expect("record");
    }
    let records = history.recent(Some(group), 1000).expect("recent");
    assert_eq!(records.len(), p95_ms.len());
    records.iter().filter_map(|r| r.p95_s).collect()
}

/// Sub-millisecond pairs on a shared machine: 0.3–0.9 ms, with single runs spiking to 2–8 ms.
fn unchanged_runs(count: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut runs = Vec::with_capacity(count);
    let mut last_spiked = false;
    for _ in 0..count {
        let spike = !last_spiked && noise(&mut state) < 0.15;
        runs.push(if spike {
            2.0 + 6.0 * noise(&mut state)
        } else {
            0.3 + 0.6 * noise(&mut state)
        });
        last_spiked = spike;
    }
    runs
}

/// Regression (issue 16): 4 of 20 runs of unchanged examples were flagged as latency
/// regressions (`p95 8.151ms REGRESSION (median of previous 1.869ms)`). 50 runs of an
/// unchanged group with single-run spikes flag nothing, judged after every run.
#[test]
fn fifty_unchanged_runs_with_single_spikes_flag_nothing() {
    let rule = RegressionRule::default();
    for seed in [1, 7, 42, 2026] {
        let runs = unchanged_runs(50, seed);
        assert!(
            runs.iter().filter(|&&ms| ms >= 2.0).count() >= 3,
            "{runs:?}"
        );
        let p95s = recorded_p95s("unchanged", &runs);
        for i in 0..p95s.len() {
            assert_eq!(
                rule.judge(&p95s[i..]),
                None,
                "seed {seed}, run {i}: {p95s:?}"
            );
        }
    }
}

#[test]
fn a_lasting_shift_of_half_is_flagged() {
    // 20 runs around 4 ms, then 3 around 6 ms (+50 %).
    let mut state = 3;
    let mut runs: Vec<f64> = (0..20).map(|_| 3.8 + 0.4 * noise(&mut state)).collect();
    runs.extend([6.1, 5.9, 6.2]);
    let p95s = recorded_p95s("shifted", &runs);
    let regression = RegressionRule::default().judge(&p95s).expect("flagged");
    assert!(
        (regression.baseline_p95_s - 0.004).abs() < 0.000_3,
        "{regression:?}"
    );
    assert!(
        (regression.recent_p95_s - 0.0059).abs() < 1e-9,
        "{regression:?}"
    );
    // Two shifted runs are not lasting yet.
    assert_eq!(RegressionRule::default().judge(&p95s[1..]), None);
}

#[test]
fn a_single_spike_alone_is_not_flagged() {
    let mut runs = vec![0.5; 20];
    runs.push(8.151);
    let p95s = recorded_p95s("spike", &runs);
    assert_eq!(RegressionRule::default().judge(&p95s), None);
    // Nor a lasting shift of a sub-millisecond pair by less than 1 ms (0.5 → 0.9 ms).
    let mut runs = vec![0.5; 20];
    runs.extend([0.9, 0.9, 0.9]);
    assert_eq!(
        RegressionRule::default().judge(&recorded_p95s("small", &runs)),
        None
    );
    // Too few earlier runs: nothing to judge against.
    assert_eq!(
        RegressionRule::default().judge(&[0.009, 0.009, 0.009, 0.001, 0.001]),
        None
    );
}

/// Each run opens the history, records and closes it. Without a checkpoint at close (it cost
/// four fsyncs a run) the log must still stay short: a first connection rebuilds its index
/// by reading the whole log, and it was never restarted (3.3 MB after 40 runs, 2.5 ms a run).
/// Every record stays visible to a new connection, and the log is truncated past 64 KiB.
#[test]
fn a_run_after_run_history_keeps_its_log_short_and_loses_nothing() {
    let dir = TempDir::new("history-wal");
    let mut wal = dir
        .path()
        .join(".testrium")
        .join("history.db")
        .into_os_string();
    wal.push("-wal");
    let mut largest = 0;
    for n in 1..=60 {
        let history = History::open(dir.path()).expect("open");
        history
            .record(&record("g", n, f64::from(n), true))
            .expect("record");
        drop(history);
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        let seen = History::open(dir.path())
            .expect("reopen")
            .recent(Some("g"), 100)
            .expect("recent");
        assert_eq!(seen.len(), n as usize, "record {n} visible after the close");
    }
    assert!(largest <= 128 * 1024, "the log reached {largest} bytes");
}
