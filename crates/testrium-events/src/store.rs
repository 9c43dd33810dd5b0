//! [`RunDb`]: the runner's handle on one run database.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::error::StoreError;
use crate::event::{Event, EventLog, MalformedEvent};
use crate::state::{UnitState, UnitStateRecord};
use crate::sys::{FileWatch, monotonic_ns, unix_time};
use crate::{read, schema};

/// The runner's handle on one run database: creates the schema, reads events for the
/// verifier, records unit lifecycle states and small key/value metadata.
///
/// One SQLite connection; `Send` but not `Sync` (wrap it in a `Mutex` to share it).
pub struct RunDb {
    path: PathBuf,
    conn: Connection,
    /// The busy timeout set with [`RunDb::set_busy_timeout`].
    busy: Duration,
}

/// Copies `from` to `to`, which must not exist yet (an existing file is never overwritten).
fn copy_new(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut source = std::fs::File::open(from)?;
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    match std::io::copy(&mut source, &mut target) {
        Ok(_) => Ok(()),
        Err(e) => {
            drop(target);
            let _ = std::fs::remove_file(to);
            Err(e)
        }
    }
}

/// Makes the empty database `template` (best effort): created beside it under a name of this
/// process, closed (so its log is folded into it and removed), then renamed into place, so
/// that no reader ever sees half of it.
fn keep_template(template: &Path) {
    let Some(dir) = template.parent() else {
        return;
    };
    let scratch = dir.join(format!(
        ".run-db-{}-{}.tmp",
        std::process::id(),
        monotonic_ns()
    ));
    let made = RunDb::create(&scratch).map(drop);
    let kept = made.is_ok() && std::fs::rename(&scratch, template).is_ok();
    if !kept {
        for leftover in ["", "-wal", "-shm", "-journal"] {
            let mut path = scratch.clone().into_os_string();
            path.push(leftover);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The `TestriumMeta` key of [`RunDb::relinks`].
const RELINKS_META_KEY: &str = "testrium.relinks";

impl fmt::Debug for RunDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunDb").field("path", &self.path).finish()
    }
}

impl RunDb {
    /// Creates (or opens) the database at `path`, creating its folder, in WAL mode with a busy
    /// timeout, and brings the schema up to date.
    ///
    /// This connection runs with `synchronous=OFF`: a run database is disposable evidence, so
    /// the runner never waits for the disk (creating, checkpointing and closing cost no fsync);
    /// it is still safe against any process crash, only an OS crash could lose the last
    /// commits. Units' probes keep `synchronous=NORMAL`.
    pub fn create(path: &Path) -> Result<RunDb, StoreError> {
        let conn = schema::connect(path, true, schema::Durability::Off)?;
        Ok(RunDb {
            path: path.to_path_buf(),
            conn,
            busy: schema::BUSY_TIMEOUT,
        })
    }

    /// [`RunDb::create`] for a database that does not exist yet, made faster with the help of
    /// `cache_dir`: the first call keeps an empty database there (named after everything
    /// that decides its contents: schema, SQLite version), and later calls copy it instead of
    /// creating the schema (0.9 → 0.5 ms on the machines it was measured on). Anything wrong
    /// with the cache (not writable, a copy that fails, a file there that is not a database)
    /// only means the database is created as `create` does.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("testrium-doc-cache-{}", std::process::id()));
    /// use testrium_events::RunDb;
    /// let cache = dir.join("cache");
    /// let first = RunDb::create_in_cache(&dir.join("one/Data.db"), &cache)?; // keeps a copy
    /// let second = RunDb::create_in_cache(&dir.join("two/Data.db"), &cache)?; // copies it
    /// assert_eq!(second.schema_version()?, testrium_events::SCHEMA_VERSION);
    /// # drop((first, second));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_in_cache(path: &Path, cache_dir: &Path) -> Result<RunDb, StoreError> {
        let template = cache_dir.join(format!("run-db-{:016x}.db", schema::fingerprint()));
        if !path.exists() && copy_new(&template, path).is_ok() {
            match RunDb::create(path) {
                Ok(db) => return Ok(db),
                // The kept one is not a database after all: start again from nothing, and
                // keep a good one instead.
                Err(_) => {
                    let _ = std::fs::remove_file(path);
                    let _ = std::fs::remove_file(&template);
                }
            }
        }
        let db = RunDb::create(path)?;
        if !template.exists() {
            keep_template(&template);
        }
        Ok(db)
    }

    /// Opens an existing database (e.g. a stored run for `testrium report`); a database
    /// written by the original Python Testrium is migrated by adding columns.
    ///
    /// Same connection settings as [`RunDb::create`].
    pub fn open(path: &Path) -> Result<RunDb, StoreError> {
        let conn = schema::connect(path, false, schema::Durability::Off)?;
        Ok(RunDb {
            path: path.to_path_buf(),
            conn,
            busy: schema::BUSY_TIMEOUT,
        })
    }

    /// Opens an existing database read-only, to read a stored run without changing it: no
    /// migration, no journal-mode switch, no write. When no write-ahead log sits beside it
    /// (the run is over and its last connection closed), it is opened immutable, so not even
    /// the `-shm` / `-wal` files are created.
    pub fn open_read_only(path: &Path) -> Result<RunDb, StoreError> {
        let conn = schema::open_read_only(path)?;
        Ok(RunDb {
            path: path.to_path_buf(),
            conn,
            busy: schema::BUSY_TIMEOUT,
        })
    }

    /// The schema version the database was written with (`PRAGMA user_version`: 0 for the
    /// original Python Testrium, [`SCHEMA_VERSION`](crate::SCHEMA_VERSION) for this one; more
    /// for a newer Testrium).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| StoreError::sqlite(&self.path, "read the schema version", e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long this connection waits for a lock another process holds (30 s by default)
    /// before an operation fails with an error whose [`StoreError::is_busy`] is true. A
    /// supervisor can set it short (e.g. 20 ms) and retry later instead of blocking behind a
    /// unit that holds the write lock.
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> Result<(), StoreError> {
        self.conn
            .busy_handler(Some(schema::busy_handler(timeout)))
            .map_err(|e| StoreError::sqlite(&self.path, "set the busy timeout", e))?;
        self.busy = timeout;
        Ok(())
    }

    /// Every row of `Events`, in `ID` order.
    pub fn read_events(&self) -> Result<EventLog, StoreError> {
        self.read_events_after(0)
    }

    /// The rows of `Events` whose `ID` is greater than `after_id`, in `ID` order. IDs grow
    /// with commit order (one writer at a time), so reading after the last ID seen never skips
    /// a row.
    pub fn read_events_after(&self, after_id: i64) -> Result<EventLog, StoreError> {
        let mut log = EventLog::default();
        self.for_each_event_after(after_id, |row| match row {
            Ok(event) => log.events.push(event),
            Err(bad) => log.malformed.push(bad),
        })?;
        Ok(log)
    }

    /// Like [`RunDb::read_events_after`], one row at a time: `f` gets each row whose `ID` is
    /// greater than `after_id`, in `ID` order, read as an event or as a malformed row, and
    /// no list of them is built (a reader of a large run holds one row at a time).
    ///
    /// On an error part of the rows may have been given to `f` already.
    pub fn for_each_event_after(
        &self,
        after_id: i64,
        f: impl FnMut(Result<Event, MalformedEvent>),
    ) -> Result<(), StoreError> {
        self.for_each_event_after_limit(after_id, u64::MAX, f)
            .map(drop)
    }

    /// Like [`RunDb::for_each_event_after`], at most `limit` rows (the first ones after
    /// `after_id`, in `ID` order); returns how many `f` got. A reader of a live database
    /// reads in such batches so that it holds its read snapshot only briefly.
    pub fn for_each_event_after_limit(
        &self,
        after_id: i64,
        limit: u64,
        mut f: impl FnMut(Result<Event, MalformedEvent>),
    ) -> Result<u64, StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "read events", e);
        let present = schema::table_columns(&self.conn, "Events").map_err(err)?;
        if present.is_empty() {
            return Ok(0);
        }
        let mut stmt = self
            .conn
            .prepare_cached(&read::select_sql(&present))
            .map_err(err)?;
        let mut rows = stmt.query([after_id]).map_err(err)?;
        let mut given = 0;
        while given < limit {
            let Some(row) = rows.next().map_err(err)? else {
                break;
            };
            f(read::decode(row).map_err(err)?);
            given += 1;
        }
        Ok(given)
    }

    /// The greatest `ID` in `Events` (0 without rows or without the table).
    pub fn max_event_id(&self) -> Result<i64, StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "read the last event id", e);
        if schema::table_columns(&self.conn, "Events")
            .map_err(err)?
            .is_empty()
        {
            return Ok(0);
        }
        self.conn
            .prepare_cached("SELECT COALESCE(MAX(ID), 0) FROM Events")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(err)
    }

    /// How many rows `Events` holds and its greatest `ID` (0 for both without rows or
    /// without the table): with [`RunDb::for_each_event_after`], a reader that kept count
    /// can tell whether what it read is still the table (no row deleted, no row inserted
    /// below an `ID` it read); [`RunDb::schema_cookie`] tells whether the table was
    /// recreated.
    pub fn event_count(&self) -> Result<(u64, i64), StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "count events", e);
        if schema::table_columns(&self.conn, "Events")
            .map_err(err)?
            .is_empty()
        {
            return Ok((0, 0));
        }
        self.conn
            .prepare_cached("SELECT COUNT(*), COALESCE(MAX(ID), 0) FROM Events")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?))))
            .map(|(rows, max)| (u64::try_from(rows).unwrap_or(0), max))
            .map_err(err)
    }

    /// `PRAGMA schema_version`: changes whenever a table is created, dropped or altered (a
    /// unit that drops and recreates `Events` restarts its `ID`s).
    pub fn schema_cookie(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "schema_version", |r| r.get(0))
            .map_err(|e| StoreError::sqlite(&self.path, "read the schema version", e))
    }

    /// `PRAGMA data_version`: changes whenever another connection commits. Costs a few
    /// microseconds; poll it and re-read only when it changed.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        data_version(&self.conn).map_err(|e| StoreError::sqlite(&self.path, "read data_version", e))
    }

    /// The size of the write-ahead log (`<db>-wal`) in bytes; 0 when there is none.
    pub fn wal_size(&self) -> u64 {
        std::fs::metadata(wal_path(&self.path)).map_or(0, |m| m.len())
    }

    /// When the write-ahead log has grown past `limit` bytes, copies it into the database and
    /// makes the next writer start it again from its beginning (`PRAGMA
    /// wal_checkpoint(RESTART)`): it stops growing. Returns whether it was restarted.
    ///
    /// Writers that commit without a pause never let SQLite's own (passive) checkpoints
    /// restart the log: each of them holds a read snapshot while it writes, so the checkpoint
    /// never catches up with the log's end, and the log grows with every commit (about 3.5
    /// KiB per probe). The restart takes the write lock for as long as it copies the log
    /// (milliseconds for some MiB; this connection never waits for the disk) and waits up to
    /// `wait` for the writer holding the lock and for readers of older snapshots (a writer
    /// descheduled on a busy machine can hold them for tens of milliseconds); when they hold
    /// on longer it copies what it can and returns `false`, to be tried again later.
    ///
    /// The log file keeps its inode: a [`ChangeWatch`] (or a Python client's watch) on it keeps
    /// waking on the writes that follow. Testrium's clients set `journal_size_limit` (4 MiB),
    /// so the first commit after the restart cuts the file back and its size tells again how
    /// much of it is in use. (`TRUNCATE` would cut it at once, but it also waits for the
    /// readers of the database file, and a flood's writers are always some: it almost never
    /// succeeds then.)
    pub fn restart_wal_above(&mut self, limit: u64, wait: Duration) -> Result<bool, StoreError> {
        if self.wal_size() <= limit {
            return Ok(false);
        }
        let err = |e| StoreError::sqlite(&self.path, "checkpoint the write-ahead log", e);
        self.conn
            .busy_handler(Some(schema::busy_handler(wait)))
            .map_err(err)?;
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        self.conn
            .busy_handler(Some(schema::busy_handler(self.busy)))
            .map_err(err)?;
        Ok(busy.map_err(err)? == 0)
    }

    /// A watch woken whenever another process writes to this database, so a supervisor can
    /// sleep until something happened instead of polling [`RunDb::data_version`] every
    /// millisecond. `None` where that is not available (not Linux, inotify limits reached):
    /// poll then.
    pub fn watch_changes(&self) -> Option<ChangeWatch> {
        FileWatch::new(&wal_path(&self.path)).map(|inner| ChangeWatch { inner })
    }

    /// Records that `unit` entered `state` now: the `UnitStatus` row (as the original) and a
    /// row in `UnitTransitions`, both with wall-clock and monotonic timestamps.
    pub fn set_unit_state(&self, unit: &str, state: UnitState) -> Result<(), StoreError> {
        let record = UnitStateRecord::new(unit, state, unix_time(), Some(monotonic_ns()));
        self.set_unit_states(std::slice::from_ref(&record))
    }

    /// Records several state changes, in order, each with its own timestamps, in one
    /// transaction (one commit instead of one each: the runner writes a turn's changes at
    /// once). A record without a monotonic time stores none.
    pub fn set_unit_states(&self, records: &[UnitStateRecord]) -> Result<(), StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "record a unit state", e);
        if records.is_empty() {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        {
            let mut status = tx
                .prepare_cached(
                    "INSERT INTO UnitStatus (Unit, Status, UpdatedAt, MonoNs) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(Unit) DO UPDATE SET Status = excluded.Status,
                         UpdatedAt = excluded.UpdatedAt, MonoNs = excluded.MonoNs",
                )
                .map_err(err)?;
            let mut transition = tx
                .prepare_cached(
                    "INSERT INTO UnitTransitions (Unit, Status, Time, MonoNs) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for r in records {
                let row = (r.unit.as_str(), r.state.as_str(), r.time, r.mono_ns);
                status.execute(row).map_err(err)?;
                transition.execute(row).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// The latest state of every unit (from `UnitStatus`), sorted by unit name. Rows with a
    /// status this build does not know are skipped.
    pub fn unit_states(&self) -> Result<Vec<UnitStateRecord>, StoreError> {
        self.state_rows(
            "SELECT Unit, Status, UpdatedAt, MonoNs FROM UnitStatus ORDER BY Unit",
            "read unit states",
        )
    }

    /// Every recorded transition, oldest first.
    pub fn unit_transitions(&self) -> Result<Vec<UnitStateRecord>, StoreError> {
        self.state_rows(
            "SELECT Unit, Status, Time, MonoNs FROM UnitTransitions ORDER BY ID",
            "read unit transitions",
        )
    }

    fn state_rows(
        &self,
        sql: &str,
        action: &'static str,
    ) -> Result<Vec<UnitStateRecord>, StoreError> {
        let err = |e| StoreError::sqlite(&self.path, action, e);
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let text = |i| match row.get_ref(i) {
                Ok(ValueRef::Text(b)) => std::str::from_utf8(b).ok().map(str::to_owned),
                _ => None,
            };
            let (Some(unit), Some(state)) = (text(0), text(1).and_then(|s| s.parse().ok())) else {
                continue;
            };
            let time = match row.get_ref(2).map_err(err)? {
                ValueRef::Real(f) => f,
                ValueRef::Integer(i) => i as f64,
                _ => 0.0,
            };
            let mono_ns = match row.get_ref(3).map_err(err)? {
                ValueRef::Integer(i) => Some(i),
                _ => None,
            };
            out.push(UnitStateRecord::new(unit, state, time, mono_ns));
        }
        Ok(out)
    }

    /// Inserts `events` into `Events` in one transaction, in order, and returns their new
    /// `ID`s (each event's own `id` is ignored). For writers that receive probes from elsewhere
    /// in batches, such as the OTLP receiver: one commit per batch instead of one per probe.
    /// An empty key or cause is stored as no key or no cause, as [`Probe`](crate::Probe) does.
    pub fn insert_events(&self, events: &[Event]) -> Result<Vec<i64>, StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "insert events", e);
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        let mut ids = Vec::with_capacity(events.len());
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO Events
                     (Unit, StepCompleted, EventType, EventKey, Time, Metadata, MonoNs, Pid, Cause)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(err)?;
            for e in events {
                stmt.execute((
                    &e.unit,
                    &e.step,
                    e.event_type.as_str(),
                    e.key.as_deref().unwrap_or(""),
                    e.time,
                    e.metadata.as_deref().unwrap_or("{}"),
                    e.mono_ns,
                    e.pid,
                    e.cause.as_deref().filter(|c| !c.is_empty()),
                ))
                .map_err(err)?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit().map_err(err)?;
        Ok(ids)
    }

    /// Sets both the `EventKey` and the `Cause` of the rows `keyed`, and the `Cause` of the
    /// rows `caused`, to `value`, in one transaction: a writer that learns how an event is
    /// linked only after storing it (a span whose parent arrives later) completes it before
    /// the run is verified. The same transaction counts the change (see [`RunDb::relinks`]):
    /// a reader that took those rows as they were first stored must read them again.
    pub fn set_links(&self, keyed: &[i64], caused: &[i64], value: &str) -> Result<(), StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "update links", e);
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        {
            let mut both = tx
                .prepare_cached("UPDATE Events SET EventKey = ?1, Cause = ?1 WHERE ID = ?2")
                .map_err(err)?;
            for id in keyed {
                both.execute((value, id)).map_err(err)?;
            }
            let mut cause = tx
                .prepare_cached("UPDATE Events SET Cause = ?1 WHERE ID = ?2")
                .map_err(err)?;
            for id in caused {
                cause.execute((value, id)).map_err(err)?;
            }
            tx.prepare_cached(
                "INSERT INTO TestriumMeta (Key, Value) VALUES (?1, '1')
                 ON CONFLICT(Key) DO UPDATE SET Value = CAST(Value AS INTEGER) + 1",
            )
            .and_then(|mut s| s.execute([RELINKS_META_KEY]))
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// How many times [`RunDb::set_links`] changed rows already stored (0: never). A reader
    /// that takes rows once, as they arrive, notes it before its first read: when it has
    /// changed by the end, rows it took were rewritten since, and it reads them again.
    pub fn relinks(&self) -> Result<i64, StoreError> {
        use rusqlite::OptionalExtension;

        self.conn
            .prepare_cached("SELECT CAST(Value AS INTEGER) FROM TestriumMeta WHERE Key = ?1")
            .and_then(|mut s| s.query_row([RELINKS_META_KEY], |r| r.get(0)).optional())
            .map(Option::unwrap_or_default)
            .map_err(|e| StoreError::sqlite(&self.path, "read the relink count", e))
    }

    /// Stores `value` under `key` in the `TestriumMeta` table (replacing an earlier value).
    pub fn write_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO TestriumMeta (Key, Value) VALUES (?1, ?2)
                 ON CONFLICT(Key) DO UPDATE SET Value = excluded.Value",
            )
            .and_then(|mut s| s.execute((key, value)))
            .map(drop)
            .map_err(|e| StoreError::sqlite(&self.path, "write metadata", e))
    }

    /// Stores `value`, serialized as JSON, under `key` (replacing an earlier value), without
    /// holding the serialized text in memory: it is serialized once to count its bytes, then
    /// again straight into the row through SQLite's incremental BLOB I/O, in one transaction.
    /// The value holds exactly the bytes `serde_json::to_string` gives (stored as a BLOB of
    /// UTF-8 JSON); [`RunDb::read_meta`] reads it back as text. For values of any size, such
    /// as a verdict with hundreds of thousands of pairs, where [`RunDb::write_meta`] would
    /// need the text plus two copies SQLite makes of it.
    pub fn write_meta_json<T: serde::Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "write metadata", e);
        let json_err = |e: serde_json::Error| {
            if e.io_error_kind().is_none() {
                return err(rusqlite::Error::ToSqlConversionFailure(Box::new(e)));
            }
            // A failed write into the blob carries the SQLite error (e.g. busy) inside.
            let io = std::io::Error::from(e);
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rusqlite::Error>())
            {
                if let Some(Ok(sqlite)) = io.into_inner().map(|i| i.downcast::<rusqlite::Error>()) {
                    return err(*sqlite);
                }
                return err(rusqlite::Error::ToSqlConversionFailure(
                    "cannot write the value".into(),
                ));
            }
            err(rusqlite::Error::ToSqlConversionFailure(Box::new(io)))
        };
        let mut counter = ByteCounter(0);
        serde_json::to_writer(&mut counter, value).map_err(json_err)?;
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        tx.prepare_cached(
            "INSERT INTO TestriumMeta (Key, Value) VALUES (?1, ?2)
             ON CONFLICT(Key) DO UPDATE SET Value = excluded.Value",
        )
        .and_then(|mut s| s.execute((key, rusqlite::blob::ZeroBlob(counter.0))))
        .map_err(err)?;
        let row: i64 = tx
            .prepare_cached("SELECT rowid FROM TestriumMeta WHERE Key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)))
            .map_err(err)?;
        {
            let blob = tx
                .blob_open(rusqlite::MAIN_DB, "TestriumMeta", "Value", row, false)
                .map_err(err)?;
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, blob);
            serde_json::to_writer(&mut out, value).map_err(json_err)?;
            std::io::Write::flush(&mut out).map_err(|e| json_err(serde_json::Error::io(e)))?;
        }
        tx.commit().map_err(err)
    }

    /// The value stored under `key`, or `None` when absent or unreadable (see
    /// [`RunDb::try_read_meta`] to tell the two apart).
    pub fn read_meta(&self, key: &str) -> Option<String> {
        self.try_read_meta(key).ok().flatten()
    }

    /// The value stored under `key`, or `None` when absent.
    pub fn try_read_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let err = |e| StoreError::sqlite(&self.path, "read metadata", e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT Value FROM TestriumMeta WHERE Key = ?1")
            .map_err(err)?;
        let mut rows = stmt.query([key]).map_err(err)?;
        match rows.next().map_err(err)? {
            Some(row) => Ok(match row.get_ref(0).map_err(err)? {
                ValueRef::Text(b) | ValueRef::Blob(b) => {
                    Some(String::from_utf8_lossy(b).into_owned())
                }
                _ => None,
            }),
            None => Ok(None),
        }
    }
}

/// Wakes its owner when another process commits to a run database: returned by
/// [`RunDb::watch_changes`].
///
/// It is woken by writes to the database's `-wal` file (inotify on Linux), which precede the
/// commit's publication by microseconds: after a wake-up, check [`RunDb::data_version`], and if
/// it has not changed yet, look again a few times over the next milliseconds.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChangeWatch {
    inner: FileWatch,
}

impl ChangeWatch {
    /// Blocks until the database was written since the last call, or `timeout` passes.
    /// Returns whether it was written.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.inner.wait(timeout)
    }

    /// Consumes pending notifications without blocking (after the descriptor polled readable);
    /// returns whether there were any.
    pub fn drain(&self) -> bool {
        self.inner.drain()
    }
}

#[cfg(target_os = "linux")]
impl std::os::fd::AsFd for ChangeWatch {
    /// Readable when the database was written: add it to a `poll`/`ppoll` set, then call
    /// [`ChangeWatch::drain`].
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// The write-ahead log SQLite keeps next to the database: `<db>-wal`.
pub(crate) fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

pub(crate) fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))
}

/// Counts the bytes written to it.
struct ByteCounter(u64);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
