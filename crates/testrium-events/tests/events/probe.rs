//! `Probe`: recording and waiting.

use std::time::Duration;

use testrium_events::{Probe, RunDb};

use crate::common::TempDir;

#[test]
fn wait_for_sees_an_existing_probe() {
    let dir = TempDir::new("wait-existing");
    let probe = Probe::open(dir.db(), "a").expect("probe");
    probe.emit("ready").expect("emit");
    assert!(probe.wait_for("a", "ready", Duration::ZERO).expect("wait"));
    assert!(probe.wait_for("*", "ready", Duration::ZERO).expect("wait"));
    assert!(!probe.wait_for("b", "ready", Duration::ZERO).expect("wait"));
}

#[test]
fn wait_for_wakes_on_another_threads_probe() {
    let dir = TempDir::new("wait-thread");
    let _db = RunDb::create(&dir.db()).expect("create");
    let waiter = Probe::open(dir.db(), "waiter").expect("probe");
    let path = dir.db();
    let writer = std::thread::spawn(move || {
        let probe = Probe::open(path, "writer").expect("probe");
        probe.emit("noise").expect("emit");
        probe.emit("ready").expect("emit");
    });
    assert!(
        waiter
            .wait_for("writer", "ready", Duration::from_secs(30))
            .expect("wait")
    );
    writer.join().expect("join");
}

/// Regression: `wait_for` now keeps one `-wal` watch per `Probe` (closing an inotify instance
/// per call added 10–20 ms to some wake-ups). Notifications left from earlier writes must not
/// end a later wait early, and a later write must still wake it.
#[test]
fn repeated_waits_on_one_probe_wake_for_each_new_probe() {
    let dir = TempDir::new("wait-repeated");
    let _db = RunDb::create(&dir.db()).expect("create");
    let waiter = Probe::open(dir.db(), "waiter").expect("probe");
    let writer = Probe::open(dir.db(), "writer").expect("probe");
    for round in 0..3 {
        writer.emit(&format!("noise-{round}")).expect("emit");
        writer.emit(&format!("step-{round}")).expect("emit");
        assert!(
            waiter
                .wait_for("writer", &format!("step-{round}"), Duration::from_secs(30))
                .expect("wait")
        );
        // Stale notifications (the writes above) do not make an absent probe appear.
        assert!(
            !waiter
                .wait_for("writer", "never", Duration::from_millis(20))
                .expect("wait")
        );
    }
    let path = dir.db();
    let late = std::thread::spawn(move || {
        let probe = Probe::open(path, "writer").expect("probe");
        probe.emit("late").expect("emit");
    });
    assert!(
        waiter
            .wait_for("writer", "late", Duration::from_secs(30))
            .expect("wait")
    );
    late.join().expect("join");
}
