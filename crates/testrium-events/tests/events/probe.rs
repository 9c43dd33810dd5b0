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
