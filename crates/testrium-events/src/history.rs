//! [`History`]: results of past runs, in `<base>/.testrium/history.db`, a database separate
//! from the run directories so it survives their cleanup.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::error::StoreError;
use crate::schema;
use crate::sys::unix_time;

/// The history database's schema version (`PRAGMA user_version` of `history.db`).
const HISTORY_VERSION: i64 = 1;

const CREATE_HISTORY: &str = "CREATE TABLE IF NOT EXISTS History (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    TestGroup TEXT NOT NULL,
    RunId TEXT NOT NULL,
    Attempt INTEGER NOT NULL,
    Passed INTEGER NOT NULL,
    Time NUMBER NOT NULL,
    Duration NUMBER NOT NULL,
    AverageLatency NUMBER,
    P50 NUMBER,
    P95 NUMBER,
    P99 NUMBER,
    Max NUMBER,
    FailureKinds TEXT,
    RunDir TEXT,
    Summary TEXT
);
CREATE INDEX IF NOT EXISTS HistoryByGroup ON History (TestGroup, Time)";

/// One attempt of one group, as stored in the history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct HistoryRecord {
    /// The test group.
    pub group: String,
    /// The run's unique id (the run directory's suffix).
    pub run_id: String,
    /// Attempt number, 1-based (`repeat` runs a group several times).
    pub attempt: u32,
    /// Whether the attempt passed.
    pub passed: bool,
    /// When it started, Unix seconds.
    pub time: f64,
    /// How long it took, seconds.
    pub duration_s: f64,
    /// Average Send→Receive latency, seconds (0 when there was no pair, as the original).
    pub average_latency_s: f64,
    /// Latency percentiles and maximum, seconds, when there was at least one pair.
    pub p50_s: Option<f64>,
    /// 95th percentile.
    pub p95_s: Option<f64>,
    /// 99th percentile.
    pub p99_s: Option<f64>,
    /// Maximum.
    pub max_s: Option<f64>,
    /// The failure kinds of a failed attempt (stable names from the verifier).
    pub failure_kinds: Vec<String>,
    /// The run directory.
    pub run_dir: PathBuf,
    /// The summary, as JSON text.
    pub summary: String,
}

impl HistoryRecord {
    /// A record for `group`/`run_id`, attempt 1, not passed, started now, everything else
    /// empty; set the fields you know.
    pub fn new(group: impl Into<String>, run_id: impl Into<String>) -> Self {
        HistoryRecord {
            group: group.into(),
            run_id: run_id.into(),
            attempt: 1,
            passed: false,
            time: unix_time(),
            duration_s: 0.0,
            average_latency_s: 0.0,
            p50_s: None,
            p95_s: None,
            p99_s: None,
            max_s: None,
            failure_kinds: Vec::new(),
            run_dir: PathBuf::new(),
            summary: String::from("{}"),
        }
    }
}

/// The history database of a base folder: `<base>/.testrium/history.db`.
pub struct History {
    path: PathBuf,
    conn: Connection,
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History").field("path", &self.path).finish()
    }
}

/// Past this size [`History::record`] checkpoints the history's log and truncates it (about
/// every tenth run).
const HISTORY_WAL_TRUNCATE_BYTES: u64 = 64 * 1024;

impl History {
    /// The history file of `base`.
    pub fn path_for(base: &Path) -> PathBuf {
        base.join(".testrium").join("history.db")
    }

    /// Opens (creating it and its folder if needed) `<base>/.testrium/history.db`.
    pub fn open(base: &Path) -> Result<History, StoreError> {
        History::open_file(&History::path_for(base))
    }

    /// Opens (creating it if needed) a history database at an explicit path.
    pub fn open_file(path: &Path) -> Result<History, StoreError> {
        let conn = schema::open_configured(path, true, schema::Durability::Normal)?;
        let err = |e| StoreError::sqlite(path, "set up the history schema", e);
        // No checkpoint when the connection closes (with `synchronous=NORMAL` a commit does
        // not sync, but that checkpoint synced the log, the folder and the database: four
        // fsyncs, 1-1.5 ms of every `testrium run`); `record` truncates the log once it holds
        // 64 KiB instead, so the next process's first connection, which reads the whole log
        // to rebuild its index, reads little.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version < HISTORY_VERSION {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {CREATE_HISTORY}; PRAGMA user_version = {HISTORY_VERSION}; COMMIT;"
            ))
            .map_err(err)?;
        }
        Ok(History {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a record.
    pub fn record(&self, record: &HistoryRecord) -> Result<(), StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "record history", e);
        let kinds = serde_json::to_string(&record.failure_kinds).unwrap_or_else(|_| "[]".into());
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO History (TestGroup, RunId, Attempt, Passed, Time, Duration,
                    AverageLatency, P50, P95, P99, Max, FailureKinds, RunDir, Summary)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .map_err(err)?;
        stmt.execute(rusqlite::params![
            record.group,
            record.run_id,
            record.attempt,
            record.passed,
            record.time,
            record.duration_s,
            record.average_latency_s,
            record.p50_s,
            record.p95_s,
            record.p99_s,
            record.max_s,
            kinds,
            record.run_dir.to_string_lossy(),
            record.summary,
        ])
        .map_err(err)?;
        // Best effort: a reader in the way only postpones it to a later record.
        if std::fs::metadata(crate::store::wal_path(&self.path))
            .is_ok_and(|m| m.len() > HISTORY_WAL_TRUNCATE_BYTES)
        {
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                });
        }
        Ok(())
    }

    /// The last `limit` records, newest first; only `group`'s when given.
    pub fn recent(
        &self,
        group: Option<&str>,
        limit: usize,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "read history", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT TestGroup, RunId, Attempt, Passed, Time, Duration, AverageLatency,
                    P50, P95, P99, Max, FailureKinds, RunDir, Summary
                 FROM History WHERE ?1 IS NULL OR TestGroup = ?1
                 ORDER BY Time DESC, ID DESC LIMIT ?2",
            )
            .map_err(err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query((group, limit)).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let text = |i| match row.get_ref(i) {
                Ok(ValueRef::Text(b) | ValueRef::Blob(b)) => {
                    String::from_utf8_lossy(b).into_owned()
                }
                _ => String::new(),
            };
            let real = |i| match row.get_ref(i) {
                Ok(ValueRef::Real(f)) => Some(f),
                Ok(ValueRef::Integer(n)) => Some(n as f64),
                _ => None,
            };
            let int = |i| match row.get_ref(i) {
                Ok(ValueRef::Integer(n)) => n,
                _ => 0,
            };
            let mut r = HistoryRecord::new(text(0), text(1));
            r.attempt = u32::try_from(int(2)).unwrap_or(0);
            r.passed = int(3) != 0;
            r.time = real(4).unwrap_or(0.0);
            r.duration_s = real(5).unwrap_or(0.0);
            r.average_latency_s = real(6).unwrap_or(0.0);
            r.p50_s = real(7);
            r.p95_s = real(8);
            r.p99_s = real(9);
            r.max_s = real(10);
            r.failure_kinds = serde_json::from_str(&text(11)).unwrap_or_default();
            r.run_dir = PathBuf::from(text(12));
            r.summary = text(13);
            out.push(r);
        }
        Ok(out)
    }
}

/// When a group's latency counts as regressed: a *lasting* shift, not one noisy run on a shared
/// machine (sub-millisecond pairs spike to 2–8 ms in single runs). The `recent` newest runs
/// must each have a p95 above the median p95 of up to `baseline` earlier runs (at least
/// `min_baseline` of them) by more than `relative` (a fraction) *and* by more than
/// `absolute_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RegressionRule {
    /// Newest runs that must all be shifted.
    pub recent: usize,
    /// Earlier runs the baseline is the median of, at most.
    pub baseline: usize,
    /// Earlier runs needed before anything is flagged.
    pub min_baseline: usize,
    /// Relative shift, e.g. `0.25` for 25 %.
    pub relative: f64,
    /// Absolute shift, seconds.
    pub absolute_s: f64,
}

impl Default for RegressionRule {
    /// 3 recent runs, each > 25 % and > 1 ms above the median of up to 20 earlier runs (at
    /// least 5).
    fn default() -> Self {
        RegressionRule {
            recent: 3,
            baseline: 20,
            min_baseline: 5,
            relative: 0.25,
            absolute_s: 1e-3,
        }
    }
}

/// A lasting latency shift found by [`RegressionRule::judge`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Regression {
    /// Median p95 of the earlier runs, seconds.
    pub baseline_p95_s: f64,
    /// The smallest p95 of the recent runs, seconds: every one of them is at least this.
    pub recent_p95_s: f64,
}

impl RegressionRule {
    /// Sets the relative shift (`0.25` for 25 %).
    #[must_use]
    pub fn relative(mut self, relative: f64) -> Self {
        self.relative = relative;
        self
    }

    /// The median p95 of the runs before the `recent` newest, when there are enough of them.
    /// `p95_s`: one group's p95 values, newest first.
    pub fn baseline_p95_s(&self, p95_s: &[f64]) -> Option<f64> {
        let earlier: Vec<f64> = p95_s
            .iter()
            .skip(self.recent)
            .take(self.baseline)
            .copied()
            .collect();
        (earlier.len() >= self.min_baseline.max(1)).then(|| median(earlier))
    }

    /// Whether the newest runs of one group (`p95_s`: its p95 values, newest first) show a
    /// lasting regression.
    pub fn judge(&self, p95_s: &[f64]) -> Option<Regression> {
        let recent = p95_s.get(..self.recent.max(1))?;
        let baseline_p95_s = self.baseline_p95_s(p95_s)?;
        let recent_p95_s = recent.iter().copied().fold(f64::INFINITY, f64::min);
        let shifted = recent_p95_s > baseline_p95_s * (1.0 + self.relative)
            && recent_p95_s - baseline_p95_s > self.absolute_s;
        shifted.then_some(Regression {
            baseline_p95_s,
            recent_p95_s,
        })
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}
