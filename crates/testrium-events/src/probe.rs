//! [`Probe`]: what units record with.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::env::{ENV_EVENT_DB, ENV_UNIT};
use crate::error::{ProbeError, ProbeErrorKind, StoreError, StoreErrorKind};
use crate::event::{Event, EventType};
use crate::store::wal_path;
use crate::sys::{FileWatch, monotonic_ns, unix_time};
use crate::{read, schema, store};

/// How often [`Probe::wait_for`] checks `PRAGMA data_version` when it cannot be woken by the
/// `-wal` file's writes (a few microseconds each).
pub(crate) const WAIT_POLL: Duration = Duration::from_millis(1);

/// A wait polls `PRAGMA data_version` this often for its first [`POLL_FIRST`], and only then
/// takes the `-wal` watch. The watch is closed with its probe or at exit, and closing an
/// inotify instance waits for the kernel's grace period when another one was closed just
/// before (10-20 ms, typically when two units of a circuit end together): a process that only
/// waited briefly would end that much later.
const POLL_FIRST: Duration = Duration::from_millis(50);
/// 0.15 ms: the wake-up p99 stays what the watch gave (0.26–0.28 ms against 0.33–0.78 ms at
/// 0.25 ms, interleaved in one call); the Python client polls every 0.25 ms (each of its polls
/// costs more).
const POLL_FIRST_INTERVAL: Duration = Duration::from_micros(150);

/// With a file watch: how long to sleep at most between two checks anyway (a safety net for
/// writes the watch cannot see, e.g. from another host on a network file system).
pub(crate) const WATCH_CHECK: Duration = Duration::from_millis(50);

/// With a file watch: after a write that did not (yet) change `data_version` — the commit is
/// published in shared memory microseconds after its frames were written — poll this often,
/// this many times (20 ms in all).
const POLL_AFTER_WRITE: Duration = Duration::from_micros(100);
const POLLS_AFTER_WRITE: u32 = 200;

const INSERT: &str = "INSERT INTO Events
    (Unit, StepCompleted, EventType, EventKey, Time, Metadata, MonoNs, Pid, Cause)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// One probe to record with [`Probe::record`]: a step, a type, an optional key, an optional
/// cause and metadata.
///
/// ```
/// use testrium_events::{EventType, ProbeRecord};
///
/// let record = ProbeRecord::new("order-sent")
///     .event_type(EventType::Send)
///     .key("order-42")
///     .meta("size", 3);
/// // A response sent with its own key, linked to the request that caused it.
/// let response = ProbeRecord::new("response-sent")
///     .event_type(EventType::Send)
///     .key("resp-7")
///     .cause("req-7");
/// # let _ = (record, response);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProbeRecord {
    /// The probe name (`StepCompleted`).
    pub step: String,
    /// The event type.
    pub event_type: EventType,
    /// The event key (required for `Send` and `Receive`).
    pub key: Option<String>,
    /// The metadata; must be a JSON object (checked when recorded).
    pub metadata: serde_json::Value,
    /// The key of the event that caused this one (the `Cause` column): links this probe to
    /// that event in a declared circuit, whatever its own key. `None` or empty: no cause.
    pub cause: Option<String>,
}

impl ProbeRecord {
    /// A `Default` probe with no key and empty metadata.
    pub fn new(step: impl Into<String>) -> Self {
        ProbeRecord {
            step: step.into(),
            event_type: EventType::Default,
            key: None,
            metadata: serde_json::Value::Object(serde_json::Map::new()),
            cause: None,
        }
    }

    /// Sets the event type.
    #[must_use]
    pub fn event_type(mut self, event_type: EventType) -> Self {
        self.event_type = event_type;
        self
    }

    /// Sets the event key.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the cause: the key of the event that caused this one (for example the request
    /// key on the probe that sends its response under another key). An explicit cause is
    /// authoritative when the verifier links a circuit's hops.
    #[must_use]
    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// Replaces the metadata. Anything but a JSON object is rejected by [`Probe::record`].
    #[must_use]
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Adds one metadata entry (turning non-object metadata into an object).
    #[must_use]
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        if !self.metadata.is_object() {
            self.metadata = serde_json::Value::Object(serde_json::Map::new());
        }
        if let serde_json::Value::Object(map) = &mut self.metadata {
            map.insert(key.into(), value.into());
        }
        self
    }

    fn validate(&self) -> Result<(), ProbeErrorKind> {
        if self.step.is_empty() {
            return Err(ProbeErrorKind::EmptyStep);
        }
        if self.event_type.requires_key() && self.key.as_deref().is_none_or(str::is_empty) {
            return Err(ProbeErrorKind::KeyRequired {
                event_type: self.event_type,
            });
        }
        let found = match &self.metadata {
            serde_json::Value::Object(_) => return Ok(()),
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Array(_) => "an array",
        };
        Err(ProbeErrorKind::MetadataNotObject { found })
    }
}

/// A unit's probe client: records probes into the run database and waits for other units'
/// probes.
///
/// Each probe is one autocommit `INSERT` in WAL mode with `synchronous=NORMAL` (no fsync per
/// probe), waiting up to 30 s for the write lock, so concurrent writers queue instead of
/// failing. One SQLite connection: `Send`, not `Sync` — open one probe per thread, or share
/// it behind a `Mutex`.
pub struct Probe {
    path: PathBuf,
    unit: String,
    pid: i64,
    conn: Connection,
    /// The `-wal` watch [`Probe::wait_for`] sleeps on once a wait is long, made once and kept: closing an inotify
    /// instance can block for 10–20 ms (the kernel waits for an RCU grace period), which a
    /// watch per call would add to the wake-up it measures.
    watch: RefCell<Option<FileWatch>>,
    /// Commits so far: every [`schema::WAL_CAP_EVERY`]th looks at the write-ahead log's size
    /// (see [`schema::cap_wal`]).
    commits: Cell<u32>,
    /// Set when the probe records and waits over the runner's remote probe API.
    #[cfg(feature = "remote")]
    remote: Option<crate::remote::Remote>,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("path", &self.path)
            .field("unit", &self.unit)
            .finish()
    }
}

impl Probe {
    /// Opens the run database named by `TESTRIUM_EVENT_DB` as the unit named by
    /// `TESTRIUM_UNIT` (both set by the runner for every unit it starts).
    ///
    /// The database must exist: the runner creates it before it starts a unit. Outside a
    /// run this is an error — [`ProbeErrorKind::MissingEnv`] when a variable is not set,
    /// [`ProbeErrorKind::DatabaseMissing`] when `TESTRIUM_EVENT_DB` names a file that does not
    /// exist (an environment left over from an earlier run) — and nothing is created where the
    /// variable points.
    pub fn from_env() -> Result<Probe, ProbeError> {
        let var = |var: &'static str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .ok_or(ProbeErrorKind::MissingEnv { var })
        };
        // No database path but the remote probe API: a unit on another host.
        #[cfg(feature = "remote")]
        if var(ENV_EVENT_DB).is_err()
            && let Ok(url) = var(crate::env::ENV_EVENT_URL)
        {
            let token = std::env::var(crate::env::ENV_TOKEN).unwrap_or_default();
            let unit = var(ENV_UNIT)?;
            return Probe::remote(&url.to_string_lossy(), &token, &unit.to_string_lossy());
        }
        let db = PathBuf::from(var(ENV_EVENT_DB)?);
        let unit = var(ENV_UNIT)?;
        Probe::open_existing(&db, &unit.to_string_lossy()).map_err(|e| match e.kind() {
            ProbeErrorKind::Store(store) if matches!(store.kind(), StoreErrorKind::NotFound) => {
                ProbeErrorKind::DatabaseMissing {
                    var: ENV_EVENT_DB,
                    path: db,
                }
                .into()
            }
            _ => e,
        })
    }

    /// Opens (creating it and its folder if needed) the run database at `db`, recording as
    /// `unit`. For tools and tests that own the database; a unit started by the runner uses
    /// [`Probe::from_env`].
    pub fn open(db: impl AsRef<Path>, unit: &str) -> Result<Probe, ProbeError> {
        Probe::connect(db.as_ref(), unit, true)
    }

    /// Opens the run database at `db`, which must exist (it is never created, nor its
    /// folder), recording as `unit`. A missing file is a [`StoreErrorKind::NotFound`] store
    /// error.
    pub fn open_existing(db: impl AsRef<Path>, unit: &str) -> Result<Probe, ProbeError> {
        Probe::connect(db.as_ref(), unit, false)
    }

    fn connect(db: &Path, unit: &str, create: bool) -> Result<Probe, ProbeError> {
        if unit.is_empty() || unit == "*" {
            return Err(ProbeErrorKind::InvalidUnit {
                unit: unit.to_owned(),
            }
            .into());
        }
        let path = db.to_path_buf();
        let conn = schema::connect(&path, create, schema::Durability::Normal)?;
        Ok(Probe {
            path,
            unit: unit.to_owned(),
            pid: i64::from(std::process::id()),
            conn,
            watch: RefCell::new(None),
            commits: Cell::new(0),
            #[cfg(feature = "remote")]
            remote: None,
        })
    }

    /// A probe that records and waits over the runner's remote probe API at `url` (what
    /// `TESTRIUM_EVENT_URL` holds) with the run's `token`, as `unit` (feature `remote`).
    /// [`Probe::path`] is empty for it.
    #[cfg(feature = "remote")]
    pub fn remote(url: &str, token: &str, unit: &str) -> Result<Probe, ProbeError> {
        if unit.is_empty() || unit == "*" {
            return Err(ProbeErrorKind::InvalidUnit {
                unit: unit.to_owned(),
            }
            .into());
        }
        // Never used for a remote probe: the same struct, no database.
        let conn = Connection::open_in_memory()
            .map_err(|e| StoreError::sqlite(Path::new(":memory:"), "open", e))?;
        Ok(Probe {
            path: PathBuf::new(),
            unit: unit.to_owned(),
            pid: i64::from(std::process::id()),
            conn,
            watch: RefCell::new(None),
            commits: Cell::new(0),
            remote: Some(crate::remote::Remote::new(url, token)),
        })
    }

    /// The unit this probe records as.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a `Default` probe. Returns the row's `ID`.
    pub fn emit(&self, step: &str) -> Result<i64, ProbeError> {
        self.record(ProbeRecord::new(step))
    }

    /// Records a `Send` probe with `key` (pairs with a `Receive` of the same key).
    pub fn send(&self, step: &str, key: &str) -> Result<i64, ProbeError> {
        self.record(ProbeRecord::new(step).event_type(EventType::Send).key(key))
    }

    /// Records a `Receive` probe with `key`.
    pub fn receive(&self, step: &str, key: &str) -> Result<i64, ProbeError> {
        self.record(
            ProbeRecord::new(step)
                .event_type(EventType::Receive)
                .key(key),
        )
    }

    /// Records an `Exception` probe with `{"message": message}` as metadata.
    pub fn exception(&self, step: &str, message: &str) -> Result<i64, ProbeError> {
        self.record(
            ProbeRecord::new(step)
                .event_type(EventType::Exception)
                .meta("message", message),
        )
    }

    /// Records a probe. Returns the row's `ID`.
    pub fn record(&self, record: ProbeRecord) -> Result<i64, ProbeError> {
        record.validate()?;
        #[cfg(feature = "remote")]
        if let Some(remote) = &self.remote {
            return remote.record(&self.unit, self.pid, &record);
        }
        let metadata = record.metadata.to_string();
        let key = record.key.as_deref().unwrap_or("");
        let insert = || -> rusqlite::Result<i64> {
            let mut stmt = self.conn.prepare_cached(INSERT)?;
            stmt.execute((
                &self.unit,
                &record.step,
                record.event_type.as_str(),
                key,
                unix_time(),
                &metadata,
                monotonic_ns(),
                self.pid,
                record.cause.as_deref().filter(|c| !c.is_empty()),
            ))?;
            Ok(self.conn.last_insert_rowid())
        };
        let commits = self.commits.get().wrapping_add(1);
        self.commits.set(commits);
        if commits.is_multiple_of(schema::WAL_CAP_EVERY) {
            schema::cap_wal(&self.path, &wal_path(&self.path));
        }
        match insert() {
            Ok(id) => Ok(id),
            // The Events table was dropped or recreated by an older client after we opened
            // the database: bring the schema back and try once more.
            Err(first) if !schema::is_busy(&first) => {
                schema::repair(&self.conn, &self.path)?;
                insert().map_err(|e| StoreError::sqlite(&self.path, "insert an event", e).into())
            }
            Err(e) => Err(StoreError::sqlite(&self.path, "insert an event", e).into()),
        }
    }

    /// Waits until `unit` has recorded `step` (`unit` `"*"`: any unit), or `timeout` passes.
    /// Returns whether the probe was recorded.
    ///
    /// Wakes within about a millisecond of the probe's commit, and costs little while
    /// waiting: for its first 50 ms it checks the cheap `PRAGMA data_version` every 0.15 ms;
    /// after that, on Linux, it sleeps until the database's `-wal` file is written (an
    /// inotify watch, kept by the probe for its later waits), elsewhere it checks every
    /// millisecond. It queries `Events` only when another connection committed, and then
    /// only the rows after the last one seen.
    pub fn wait_for(&self, unit: &str, step: &str, timeout: Duration) -> Result<bool, ProbeError> {
        #[cfg(feature = "remote")]
        if let Some(remote) = &self.remote {
            return Ok(remote.wait_for_event(unit, step, None, timeout)?.is_some());
        }
        let found = self.wait_until(timeout, |after| {
            let (found, last) = self.find_after(unit, step, after)?;
            Ok((found.then_some(()), last))
        })?;
        Ok(found.is_some())
    }

    /// Waits like [`Probe::wait_for`] and returns the event itself — its metadata, key and
    /// timestamps included — so a unit can read what another one published (a port, a path,
    /// an id). `key`: only an event with that key counts. `None` when `timeout` passed first.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::time::Duration;
    /// let probe = testrium_events::Probe::from_env()?;
    /// if let Some(event) = probe.wait_for_event("db", "listening", None, Duration::from_secs(5))? {
    ///     println!("db said: {}", event.metadata.as_deref().unwrap_or("{}"));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_for_event(
        &self,
        unit: &str,
        step: &str,
        key: Option<&str>,
        timeout: Duration,
    ) -> Result<Option<Event>, ProbeError> {
        #[cfg(feature = "remote")]
        if let Some(remote) = &self.remote {
            return remote.wait_for_event(unit, step, key, timeout);
        }
        self.wait_until(timeout, |after| {
            let present = schema::table_columns(&self.conn, "Events")?;
            if present.is_empty() {
                return Ok((None, after));
            }
            let mut stmt = self.conn.prepare_cached(&read::select_sql(&present))?;
            let mut rows = stmt.query([after])?;
            let mut last = after;
            while let Some(row) = rows.next()? {
                let Ok(event) = read::decode(row)? else {
                    continue;
                };
                last = last.max(event.id);
                let matches = (unit == "*" || event.unit == unit)
                    && event.step == step
                    && key.is_none_or(|k| event.key.as_deref() == Some(k));
                if matches {
                    return Ok((Some(event), last));
                }
            }
            Ok((None, last))
        })
    }

    /// The waiting loop of [`Probe::wait_for`] and [`Probe::wait_for_event`]: `look(after)`
    /// looks at the rows with `ID > after` and returns what it found and the highest `ID`
    /// it saw; it is called again whenever another connection committed.
    fn wait_until<T>(
        &self,
        timeout: Duration,
        mut look: impl FnMut(i64) -> rusqlite::Result<(Option<T>, i64)>,
    ) -> Result<Option<T>, ProbeError> {
        let err =
            |e| -> ProbeError { StoreError::sqlite(&self.path, "wait for an event", e).into() };
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        // A watch kept from an earlier long wait may hold notifications of earlier writes:
        // drop them, the version read below covers those writes.
        let mut kept = self.watch.borrow_mut();
        if let Some(w) = kept.as_ref() {
            w.drain();
        }
        let mut watching = kept.is_some();
        let mut after = 0_i64;
        let mut version = store::data_version(&self.conn).map_err(err)?;
        let mut polls = 0_u32;
        loop {
            let (found, last) = look(after).map_err(err)?;
            if found.is_some() {
                return Ok(found);
            }
            after = last;
            loop {
                let now = Instant::now();
                let left = match deadline {
                    Some(d) if now >= d => return Ok(None),
                    Some(d) => d - now,
                    None => WATCH_CHECK,
                };
                if !watching {
                    if now.duration_since(start) < POLL_FIRST {
                        thread::sleep(left.min(POLL_FIRST_INTERVAL));
                    } else {
                        // A long wait: from now on, sleep until the -wal file is written.
                        // Watch first, then read the version: a commit in between is seen by
                        // both.
                        watching = true;
                        *kept = FileWatch::new(&wal_path(&self.path));
                    }
                } else {
                    match kept.as_ref() {
                        Some(w) if polls == 0 => {
                            if w.wait(left.min(WATCH_CHECK)) {
                                polls = POLLS_AFTER_WRITE;
                            }
                        }
                        Some(_) => {
                            thread::sleep(left.min(POLL_AFTER_WRITE));
                            polls = polls.saturating_sub(1);
                        }
                        None => thread::sleep(left.min(WAIT_POLL)),
                    }
                }
                let v = store::data_version(&self.conn).map_err(err)?;
                if v != version {
                    version = v;
                    polls = 0;
                    break;
                }
            }
        }
    }

    /// Whether a row of `unit`/`step` exists with `ID > after`, and the highest `ID` seen —
    /// in one statement, so one snapshot.
    fn find_after(&self, unit: &str, step: &str, after: i64) -> rusqlite::Result<(bool, i64)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(MAX(ID), ?3),
                    COALESCE(MAX((?1 = '*' OR Unit = ?1) AND StepCompleted = ?2), 0)
             FROM Events WHERE ID > ?3",
        )?;
        stmt.query_row((unit, step, after), |r| {
            Ok((r.get::<_, i64>(1)? != 0, r.get::<_, i64>(0)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 15): a wait takes no inotify watch for its first 50 ms. The watch is
    /// closed with the probe or at exit, and that close waited 10-20 ms for the kernel when
    /// another unit had closed one just before: the template circuit's source ended 13 ms
    /// (median) after its last probe. A longer wait takes the watch, and keeps it.
    #[test]
    fn a_short_wait_takes_no_watch_and_a_long_one_keeps_it() {
        let dir = std::env::temp_dir().join(format!(
            "testrium-probe-watch-{}-{}",
            std::process::id(),
            monotonic_ns()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("Data.db");
        let probe = Probe::open(&db, "a").expect("probe");
        probe.emit("there").expect("emit");
        assert!(probe.wait_for("a", "there", WATCH_CHECK).expect("wait"));
        let short = POLL_FIRST / 2;
        assert!(!probe.wait_for("a", "never", short).expect("wait"));
        assert!(probe.watch.borrow().is_none(), "a short wait took a watch");
        let long = POLL_FIRST + Duration::from_millis(30);
        assert!(!probe.wait_for("a", "never", long).expect("wait"));
        #[cfg(target_os = "linux")]
        assert!(probe.watch.borrow().is_some(), "a long wait took no watch");
        drop(probe);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
