//! [`reverify`]: a stored run judged again against a group's current configuration, without
//! starting anything and without writing into the run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use testrium_config::Group;
use testrium_events::{RunDb, SCHEMA_VERSION, StoreError};
use testrium_verify::{
    Expectations, FailureKind, GroupTiming, UnitStatus, Verifier, VerifyOptions,
};

use crate::error::StoredAttemptError;
use crate::outcome::{AttemptOutcome, EndReason};
use crate::sample::PAIR_LIMIT;

/// A stored run could not be judged again ([`reverify`]).
#[derive(Debug, thiserror::Error)]
#[error("cannot re-verify the run `{}`", path.display())]
#[non_exhaustive]
pub struct ReverifyError {
    /// The run directory (or database) given.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub kind: ReverifyErrorKind,
}

impl ReverifyError {
    fn new(path: &Path, kind: ReverifyErrorKind) -> Self {
        ReverifyError {
            path: path.to_path_buf(),
            kind,
        }
    }

    /// Whether the group, not the run, is at fault (its units no longer match the run's): a
    /// configuration error rather than an unreadable run.
    pub fn is_group_mismatch(&self) -> bool {
        matches!(self.kind, ReverifyErrorKind::UnitsDiffer { .. })
    }
}

/// Why a stored run could not be judged again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReverifyErrorKind {
    /// Neither the path nor `<path>/Data.db` is a file.
    #[error("it is not a run directory (no `Data.db`)")]
    NotARun,
    /// The run database could not be opened or read.
    #[error(transparent)]
    Store(Box<StoreError>),
    /// The run database was written by a newer Testrium: its rows may mean more than this
    /// verifier knows.
    #[error("its database has schema {found}, newer than this testrium reads ({supported})")]
    NewerSchema {
        /// The database's `user_version`.
        found: i64,
        /// [`SCHEMA_VERSION`].
        supported: i64,
    },
    /// The run database holds no finished attempt.
    #[error("it holds no finished attempt (no stored outcome)")]
    NoAttempt,
    /// The stored attempt cannot be read back.
    #[error(transparent)]
    Stored(StoredAttemptError),
    /// The group's units are not the run's.
    #[error(
        "the units of group `{group}` no longer match the run's (only in the group: {}; only in the run: {})",
        names(only_in_group),
        names(only_in_run)
    )]
    UnitsDiffer {
        /// The group's name.
        group: String,
        /// Units of the group the run does not know.
        only_in_group: Vec<String>,
        /// Units of the run the group no longer has.
        only_in_run: Vec<String>,
    },
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        return "none".to_owned();
    }
    let quoted: Vec<String> = list
        .iter()
        .map(|n| format!("`{}`", testrium_config::escape_text(n)))
        .collect();
    quoted.join(", ")
}

/// Judges the attempt stored in `run_dir` (a run directory, or its `Data.db`) again against
/// `group` as it is now — its required probes, circuits, budgets and contracts — and returns
/// the stored attempt with the new verdict. Nothing is started and nothing is written: the
/// database is opened read-only ([`RunDb::open_read_only`]), its rows read one at a time into
/// a [`Verifier`] with the stored unit outcomes, direct tests, timing and timeout, as the run
/// itself did. The runner's own judgements that no event can revisit (`fault_not_triggered`)
/// are kept from the stored verdict.
///
/// # Errors
///
/// A path that holds no run database, a database from a newer schema or without a finished
/// attempt, and a group whose units (by name) are not the run's.
pub fn reverify(run_dir: &Path, group: &Group) -> Result<AttemptOutcome, ReverifyError> {
    let fail = |kind| ReverifyError::new(run_dir, kind);
    let store = |e| fail(ReverifyErrorKind::Store(Box::new(e)));
    let db_path = if run_dir.is_file() {
        run_dir.to_path_buf()
    } else {
        run_dir.join("Data.db")
    };
    if !db_path.is_file() {
        return Err(fail(ReverifyErrorKind::NotARun));
    }
    let db = RunDb::open_read_only(&db_path).map_err(store)?;
    let found = db.schema_version().map_err(store)?;
    if found > SCHEMA_VERSION {
        return Err(fail(ReverifyErrorKind::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        }));
    }
    let mut outcome = AttemptOutcome::read_stored(&db)
        .map_err(|e| fail(ReverifyErrorKind::Stored(e)))?
        .ok_or_else(|| fail(ReverifyErrorKind::NoAttempt))?;

    let in_run: HashSet<&str> = outcome.units.iter().map(|u| u.name.as_str()).collect();
    let only_in_group: Vec<String> = group
        .units
        .keys()
        .filter(|n| !in_run.contains(n.as_str()))
        .cloned()
        .collect();
    let only_in_run: Vec<String> = outcome
        .units
        .iter()
        .filter(|u| !group.units.contains_key(&u.name))
        .map(|u| u.name.clone())
        .collect();
    if !only_in_group.is_empty() || !only_in_run.is_empty() {
        return Err(fail(ReverifyErrorKind::UnitsDiffer {
            group: group.name.clone(),
            only_in_group,
            only_in_run,
        }));
    }

    let expectations = Expectations::from_group(group);
    let mut verifier = Verifier::new(
        &expectations,
        VerifyOptions::default().pair_limit(PAIR_LIMIT),
    );
    db.for_each_event_after(0, |row| match row {
        Ok(event) => verifier.push(&event),
        Err(bad) => verifier.push_malformed(bad),
    })
    .map_err(store)?;
    let mut units = outcome.units.clone();
    if let Some(setup) = outcome
        .setup
        .as_ref()
        .filter(|s| s.status == UnitStatus::Failed)
    {
        units.push(setup.clone());
    }
    // The run's timing: its start, and its end as long after as the stored verdict measured.
    let t = &outcome.timings;
    let timing = match outcome.verdict.summary.group_duration_s {
        Some(d) => GroupTiming::wall(t.started_unix_s, t.started_unix_s + d)
            .with_mono_ns(t.started_mono_ns, t.started_mono_ns + (d * 1e9) as i64),
        None => GroupTiming::default(),
    };
    let mut verdict = verifier.finish(
        &units,
        &outcome.direct_tests,
        timing,
        outcome.end == EndReason::GroupTimeout,
    );
    // The runner's own judgements, which no event can revisit (a fault that never triggered).
    for failure in outcome.verdict.failures() {
        if failure.kind == FailureKind::FaultNotTriggered {
            verdict.add_failure(failure.clone());
        }
    }
    outcome.verdict = verdict;
    Ok(outcome)
}
