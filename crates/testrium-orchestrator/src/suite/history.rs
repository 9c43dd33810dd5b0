//! The base folder's history (`<base>/.testrium/history.db`): one row per attempt of a group
//! whose `save-metrics` is true.

use std::path::Path;

use testrium_events::{History, HistoryRecord, StoreError};

use crate::outcome::AttemptOutcome;

/// An attempt could not be recorded in the history. The run itself is done: this is a
/// warning, not a failure of the group.
#[derive(Debug, thiserror::Error)]
#[error("cannot record history")]
#[non_exhaustive]
pub struct HistoryError {
    /// The group.
    pub group: String,
    /// The attempt, 1-based.
    pub attempt: u32,
    /// What went wrong.
    #[source]
    pub source: Box<StoreError>,
}

/// Appends `outcome` to the history of `base`.
pub(crate) fn record(base: &Path, outcome: &AttemptOutcome) -> Result<(), HistoryError> {
    let fail = |source| HistoryError {
        group: outcome.group.clone(),
        attempt: outcome.attempt,
        source: Box::new(source),
    };
    let history = History::open(base).map_err(fail)?;
    history.record(&history_record(outcome)).map_err(fail)
}

/// What the history keeps of an attempt: verdict, timings, latency, failure kinds (plus
/// `interrupted`) and a small JSON summary of the evidence.
fn history_record(outcome: &AttemptOutcome) -> HistoryRecord {
    let v = &outcome.verdict;
    let mut record = HistoryRecord::new(&outcome.group, &outcome.run_id);
    record.attempt = outcome.attempt;
    record.passed = outcome.passed();
    record.time = outcome.timings.started_unix_s;
    record.duration_s = outcome.timings.total.as_secs_f64();
    record.average_latency_s = v.average_latency_s();
    if let Some(l) = &v.latency.overall {
        record.p50_s = Some(l.p50_s);
        record.p95_s = Some(l.p95_s);
        record.p99_s = Some(l.p99_s);
        record.max_s = Some(l.max_s);
    }
    let mut kinds: Vec<String> = v
        .failures
        .iter()
        .map(|f| f.kind.as_str().to_owned())
        .collect();
    kinds.dedup();
    if outcome.interrupted {
        kinds.push("interrupted".into());
    }
    record.failure_kinds = kinds;
    record.run_dir = outcome.run_dir.clone();
    let c = &v.correlation;
    record.summary = serde_json::json!({
        "failures": v.failures.len(),
        "paired": c.paired(),
        "orphan_sends": c.orphan_sends.len(),
        "orphan_receives": c.orphan_receives.len(),
        "duplicate_keys": c.duplicate_keys.len(),
        "probes_missing": v.probes.missing.len(),
        "interrupted": outcome.interrupted,
    })
    .to_string();
    record
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]
mod tests {
    use super::*;
    use testrium_verify::{Failure, FailureKind, Verdict};

    #[test]
    fn a_record_carries_the_verdict_and_its_kinds() {
        let verdict = Verdict::new(
            "test_x",
            [
                Failure::new(FailureKind::MissingProbe, "a"),
                Failure::new(FailureKind::MissingProbe, "b"),
                Failure::new(FailureKind::NonZeroExit, "c"),
            ],
        );
        let mut outcome = AttemptOutcome::new("test_x", 2, "/b/.testrium/runs/test_x-1-2", verdict);
        outcome.interrupted = true;
        let record = history_record(&outcome);
        assert_eq!(record.run_id, "test_x-1-2");
        assert_eq!(record.attempt, 2);
        assert!(!record.passed);
        assert_eq!(
            record.failure_kinds,
            ["missing_probe", "non_zero_exit", "interrupted"]
        );
        let summary: serde_json::Value = serde_json::from_str(&record.summary).unwrap();
        assert_eq!(summary["failures"], 3);
        assert_eq!(summary["interrupted"], true);
    }
}
