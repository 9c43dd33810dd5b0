//! The run database schema: the original tables with their original columns, the columns and
//! tables added since, and the connection settings every client uses.
//!
//! | version (`PRAGMA user_version`) | change |
//! |---|---|
//! | 0 | the original Python Testrium 0.3: `Events`, `UnitStatus`, `Results` (rollback journal) |
//! | 1 | WAL; `Events.MonoNs`, `Events.Pid`, `UnitStatus.MonoNs`; tables `UnitTransitions`, `TestriumMeta` |
//! | 2 | `Events.Cause` (the key of the event that caused this one; NULL by default) |
//!
//! The schema is only ever extended: columns are added with defaults, never renamed or
//! dropped, so rows written by any client version are read by every other one. The Python
//! client (`python/testrium/modules/events.py`) creates exactly the same schema.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{StoreError, StoreErrorKind};

/// The schema version this build writes (`PRAGMA user_version`). See the module table in the
/// crate documentation for what each version added.
pub const SCHEMA_VERSION: i64 = 2;

/// How long a writer waits for the write lock before SQLite reports "database is locked".
/// Generous on purpose: a probe must never be lost because another unit was writing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The write-ahead log size past which a writer restarts the log itself (every
/// [`WAL_CAP_EVERY`] commits it looks): the runner restarts it past 8 MiB, but on a machine so
/// busy that the runner is rarely scheduled, writers committing without a pause grew it to
/// 53 MiB (8 busy loops on 2 cores; the bound the tests hold is 64 MiB).
pub(crate) const WAL_CAP_BYTES: u64 = 24 << 20;
/// How many commits of one connection apart a writer looks at the log's size.
pub(crate) const WAL_CAP_EVERY: u32 = 64;
/// How long a writer's restart of the log waits for readers of older snapshots.
const WAL_CAP_WAIT: Duration = Duration::from_millis(200);

/// Restarts the write-ahead log of the database `db` (whose log file is `wal`) when it is past
/// [`WAL_CAP_BYTES`], on a connection of its own (its wait is shorter than a writer's). Best
/// effort: a reader holding a snapshot past the wait only postpones it to a later look, and a
/// failure costs disk space, never a probe.
pub(crate) fn cap_wal(db: &Path, wal: &Path) {
    if std::fs::metadata(wal).map_or(true, |m| m.len() <= WAL_CAP_BYTES) {
        return;
    }
    let Ok(mut conn) = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return;
    };
    if conn.busy_handler(Some(busy_handler(WAL_CAP_WAIT))).is_ok() {
        let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
    }
}
/// `PRAGMA journal_size_limit` of every connection (bytes): the size the write-ahead log is
/// cut back to when it restarts (the Python client sets the same).
pub(crate) const JOURNAL_SIZE_LIMIT: i64 = 4 << 20;

const CREATE_EVENTS: &str = "CREATE TABLE IF NOT EXISTS Events (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    Unit TEXT,
    StepCompleted TEXT,
    EventType TEXT,
    EventKey TEXT,
    Time NUMBER,
    Metadata TEXT,
    MonoNs INTEGER DEFAULT NULL,
    Pid INTEGER DEFAULT NULL,
    Cause TEXT DEFAULT NULL
)";

const CREATE_UNIT_STATUS: &str = "CREATE TABLE IF NOT EXISTS UnitStatus (
    Unit TEXT PRIMARY KEY,
    Status TEXT,
    UpdatedAt NUMBER,
    MonoNs INTEGER DEFAULT NULL
)";

const CREATE_RESULTS: &str = "CREATE TABLE IF NOT EXISTS Results (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    TestGroup TEXT,
    Passed INTEGER,
    Duration NUMBER,
    AverageLatency NUMBER,
    Summary TEXT,
    Time NUMBER
)";

const CREATE_TRANSITIONS: &str = "CREATE TABLE IF NOT EXISTS UnitTransitions (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    Unit TEXT,
    Status TEXT,
    Time NUMBER,
    MonoNs INTEGER
)";

const CREATE_META: &str = "CREATE TABLE IF NOT EXISTS TestriumMeta (
    Key TEXT PRIMARY KEY,
    Value TEXT
)";

/// Columns added to tables that may have been created by an older client.
/// Every table, as [`connect`] creates them.
const CREATE_TABLES: [&str; 5] = [
    CREATE_EVENTS,
    CREATE_UNIT_STATUS,
    CREATE_RESULTS,
    CREATE_TRANSITIONS,
    CREATE_META,
];

const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("Events", "Metadata", "TEXT"),
    ("Events", "MonoNs", "INTEGER DEFAULT NULL"),
    ("Events", "Pid", "INTEGER DEFAULT NULL"),
    ("Events", "Cause", "TEXT DEFAULT NULL"),
    ("UnitStatus", "MonoNs", "INTEGER DEFAULT NULL"),
];

/// Identifies the empty database [`connect`] makes: the schema version, every statement of the
/// schema and the SQLite library. A copy of an empty database with the same fingerprint is
/// what creating one would give (see `RunDb::create_in_cache`).
pub(crate) fn fingerprint() -> u64 {
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes.iter().chain(b"\0") {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(&SCHEMA_VERSION.to_le_bytes());
    feed(rusqlite::version().as_bytes());
    for sql in CREATE_TABLES {
        feed(sql.as_bytes());
    }
    for (table, column, decl) in ADDED_COLUMNS {
        feed(table.as_bytes());
        feed(column.as_bytes());
        feed(decl.as_bytes());
    }
    feed(&JOURNAL_SIZE_LIMIT.to_le_bytes());
    hash
}

/// How much a connection's own commits and checkpoints wait for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// `synchronous=NORMAL`: probe clients and the history; in WAL mode no fsync per commit,
    /// and a crash of the OS loses at most the last commits, never the database.
    Normal,
    /// `synchronous=OFF`: the runner's connection to a run database (disposable evidence):
    /// safe against process crashes, no fsync even when switching to WAL, checkpointing or
    /// closing.
    Off,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Off => "OFF",
        }
    }
}

/// Opens (creating it when `create`) a database with the settings every client uses: WAL,
/// a generous busy timeout, then brings the schema up to date.
pub(crate) fn connect(
    path: &Path,
    create: bool,
    sync: Durability,
) -> Result<Connection, StoreError> {
    let conn = open_configured(path, create, sync)?;
    ensure_schema(&conn, path)?;
    Ok(conn)
}

/// Opens a database with the shared settings, without touching its tables.
pub(crate) fn open_configured(
    path: &Path,
    create: bool,
    sync: Durability,
) -> Result<Connection, StoreError> {
    if create {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| {
                StoreError::new(
                    path,
                    StoreErrorKind::CreateDir {
                        dir: dir.to_path_buf(),
                        source,
                    },
                )
            })?;
        }
    } else if !path.exists() {
        return Err(StoreError::new(path, StoreErrorKind::NotFound));
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let mut conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::sqlite(path, "open the database", e))?;
    configure(&mut conn, sync)
        .map_err(|e| StoreError::sqlite(path, "configure the connection", e))?;
    Ok(conn)
}

/// Opens an existing database read-only (see [`RunDb::open_read_only`](crate::RunDb)).
pub(crate) fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::new(path, StoreErrorKind::NotFound));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let uri = if Path::new(&wal).exists() {
        // A live (or crashed) run: its log holds rows, so read through it.
        format!("file:{}?mode=ro", uri_path(path))
    } else {
        format!("file:{}?immutable=1", uri_path(path))
    };
    let mut conn = Connection::open_with_flags(&uri, flags)
        .map_err(|e| StoreError::sqlite(path, "open the database", e))?;
    conn.busy_handler(Some(busy_handler(BUSY_TIMEOUT)))
        .map_err(|e| StoreError::sqlite(path, "configure the connection", e))?;
    Ok(conn)
}

/// `path` for a `file:` URI: every byte but unreserved ones and `/` percent-encoded.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn configure(conn: &mut Connection, sync: Durability) -> rusqlite::Result<()> {
    conn.busy_handler(Some(busy_handler(BUSY_TIMEOUT)))?;
    conn.set_prepared_statement_cache_capacity(32);
    // Before the switch to WAL: with the default (FULL) the switch itself fsyncs.
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            break;
        }
        // Switching to WAL needs an exclusive lock; another process may be setting up the same
        // database at this very moment, so retry until the busy deadline.
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => {}
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    // Switching the journal mode can reset it; set it again.
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    // The first commit after the log was restarted (by the runner's checkpoint during a flood,
    // see `RunDb::restart_wal_above`) truncates the file to this size, so its size tells
    // again how much of it is in use.
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    Ok(())
}

/// Waits for a lock with short pauses (50 µs growing to 1 ms) for up to `timeout`.
///
/// In WAL mode the write lock is held for microseconds; SQLite's default busy handler backs
/// off to 100 ms sleeps, which lets the writers that keep retrying starve the others (a probe
/// could stall for more than a second behind seven busy writers).
pub(crate) fn busy_handler(timeout: Duration) -> impl FnMut(i32) -> bool + Send + 'static {
    let mut since = Instant::now();
    move |count| {
        if count == 0 {
            since = Instant::now();
        }
        if since.elapsed() >= timeout {
            return false;
        }
        let step = u64::from(count.unsigned_abs()).saturating_add(1);
        thread::sleep(Duration::from_micros(step.saturating_mul(50).min(1_000)));
        true
    }
}

pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn ensure_schema(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e| StoreError::sqlite(path, "set up the schema", e);
    let found = user_version(conn).map_err(err)?;
    // A newer Testrium only ever adds columns and tables, so its databases work as they are.
    if found >= SCHEMA_VERSION {
        return Ok(());
    }
    // IMMEDIATE: take the write lock before reading, so two processes migrating at once
    // serialise on the busy handler instead of failing on a stale snapshot.
    conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    let result = migrate(conn);
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(err),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err(e))
        }
    }
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    if user_version(conn)? >= SCHEMA_VERSION {
        return Ok(());
    }
    create_and_extend(conn)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
}

fn create_and_extend(conn: &Connection) -> rusqlite::Result<()> {
    for sql in CREATE_TABLES {
        conn.execute_batch(sql)?;
    }
    for (table, column, decl) in ADDED_COLUMNS {
        if !table_columns(conn, table)?.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    Ok(())
}

/// The column names of `table` (empty when it does not exist).
pub(crate) fn table_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
    rows.collect()
}

/// Re-creates missing tables and columns whatever `user_version` says (an older client may
/// have dropped and recreated `Events` without the new columns).
pub(crate) fn repair(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e| StoreError::sqlite(path, "repair the schema", e);
    conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    create_and_extend(conn).map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        err(e)
    })?;
    conn.execute_batch("COMMIT").map_err(err)
}
