"""Testrium probe client for Python units (standard library only).

The API of the original Python Testrium 0.3 ``testrium.modules.events`` module:
``Events_Manager``, ``UnitStatus_Manager`` and ``Results_Manager``, writing the same rows
as the Rust ``testrium_events::Probe`` into the run database:

* the original tables and columns, plus ``Events.MonoNs`` (``time.monotonic_ns()``, the
  CLOCK_MONOTONIC shared by every process on the host), ``Events.Pid`` and ``Events.Cause``
  (``Set_Event(..., cause="req-7")``: the key of the event that caused this one);
* WAL journal, ``synchronous=NORMAL`` and a 30 s busy timeout, so concurrent writers queue
  instead of losing probes to "database is locked";
* ``wait_for_event`` wakes within about a millisecond of the awaited probe's commit: it
  polls the cheap ``PRAGMA data_version`` and queries ``Events`` only when another
  connection committed.

When ``TESTRIUM_EVENT_DB`` is set (the runner sets it for every unit), every client writes to
that run database whatever path user code passes. When instead ``TESTRIUM_EVENT_URL`` is set
(a unit on another host), ``Set_Event`` and ``wait_for_event`` go over HTTP to the runner's
remote probe API with ``TESTRIUM_TOKEN`` (``urllib``, still the standard library only).

This file is the source of truth of ``testrium_events::PYTHON_EVENTS_MODULE``; the schema it
creates must stay identical to the Rust side (``crates/testrium-events/src/schema.rs``).
"""

import os
import sqlite3
import sys
import time

# Only what a probe needs is imported at import time: `json` (which pulls in `re` and `enum`,
# some 15 ms of a unit's start), `select` and `threading` are imported on first use. They stay
# attributes of this module, as in the original: `events.json` and `from ... import *` import
# them then (PEP 562).
import _thread

_LAZY_MODULES = ("json", "select", "threading")


def __getattr__(name):
    if name in _LAZY_MODULES:
        module = __import__(name)
        globals()[name] = module
        return module
    raise AttributeError("module %r has no attribute %r" % (__name__, name))

# What `from testrium.modules.events import *` gave with the original (it had no __all__):
# its public names, the modules json, os and time included (units used them unimported).
__all__ = [
    "json",
    "os",
    "time",
    "EVENT_DB_ENV",
    "UNIT_ENV",
    "VALID_EVENT_TYPES",
    "SCHEMA_VERSION",
    "resolve_database_path",
    "Events_Manager",
    "UnitStatus_Manager",
    "Results_Manager",
]

EVENT_DB_ENV = "TESTRIUM_EVENT_DB"
EVENT_URL_ENV = "TESTRIUM_EVENT_URL"
TOKEN_ENV = "TESTRIUM_TOKEN"
UNIT_ENV = "TESTRIUM_UNIT"
VALID_EVENT_TYPES = {"Default", "Exception", "Send", "Receive"}

#: ``PRAGMA user_version`` written by this client (0 is the original package's schema).
SCHEMA_VERSION = 2
_BUSY_TIMEOUT_S = 30.0
# As the Rust probe (`schema::cap_wal`): every 64th commit of a connection looks at the
# write-ahead log, and past 24 MiB restarts it, waiting up to 200 ms for readers. The runner
# restarts it past 8 MiB, but on a machine so busy that the runner is rarely scheduled,
# writers committing without a pause grew it to 53 MiB.
_WAL_CAP_BYTES = 24 << 20
_WAL_CAP_EVERY = 64


def _cap_wal(connection, database_path):
    try:
        if os.stat(database_path + "-wal").st_size <= _WAL_CAP_BYTES:
            return
        # Tried again after 50 µs pauses growing to 1 ms, as `_retry` (SQLite's own busy
        # handler sleeps 1 to 100 ms and misses readers' short gaps), for up to 200 ms.
        deadline = time.monotonic() + 0.2
        pause = 0.00005
        while True:
            try:
                busy = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                busy = 1
            if not busy or time.monotonic() >= deadline:
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.001)
    except (OSError, sqlite3.Error):
        pass  # best effort: a later look tries again; disk space, never a probe
_WAIT_POLL_S = 0.001
# A wait polls (every 0.25 ms) for its first 50 ms and only then takes an inotify watch: the
# watch is closed when its manager goes or at exit, and closing an inotify instance waits for
# the kernel's grace period when another was closed just before (10-20 ms, typically when two
# units of a circuit end together): a unit that waited briefly would end that much later.
_POLL_FIRST_S = 0.05
_POLL_FIRST_INTERVAL_S = 0.00025
# With a watch on the -wal file: the longest sleep between two checks anyway, and the polls
# (100 µs apart, 20 ms in all) that follow a write that has not changed data_version yet (the
# commit is published microseconds after its frames are written).
_WATCH_CHECK_S = 0.05
_POLL_AFTER_WRITE_S = 0.0001
_POLLS_AFTER_WRITE = 200

_CREATE_TABLES = (
    """CREATE TABLE IF NOT EXISTS Events (
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
)""",
    """CREATE TABLE IF NOT EXISTS UnitStatus (
    Unit TEXT PRIMARY KEY,
    Status TEXT,
    UpdatedAt NUMBER,
    MonoNs INTEGER DEFAULT NULL
)""",
    """CREATE TABLE IF NOT EXISTS Results (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    TestGroup TEXT,
    Passed INTEGER,
    Duration NUMBER,
    AverageLatency NUMBER,
    Summary TEXT,
    Time NUMBER
)""",
    """CREATE TABLE IF NOT EXISTS UnitTransitions (
    ID INTEGER PRIMARY KEY AUTOINCREMENT,
    Unit TEXT,
    Status TEXT,
    Time NUMBER,
    MonoNs INTEGER
)""",
    """CREATE TABLE IF NOT EXISTS TestriumMeta (
    Key TEXT PRIMARY KEY,
    Value TEXT
)""",
)

# Columns added to tables an older client may have created.
_ADDED_COLUMNS = (
    ("Events", "Metadata", "TEXT"),
    ("Events", "MonoNs", "INTEGER DEFAULT NULL"),
    ("Events", "Pid", "INTEGER DEFAULT NULL"),
    ("Events", "Cause", "TEXT DEFAULT NULL"),
    ("UnitStatus", "MonoNs", "INTEGER DEFAULT NULL"),
)

_INSERT_EVENT = (
    "INSERT INTO Events"
    " (Unit, StepCompleted, EventType, EventKey, Time, Metadata, MonoNs, Pid, Cause)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_FIND_AFTER = (
    "SELECT COALESCE(MAX(ID), ?3),"
    " COALESCE(MAX((?1 = '*' OR Unit = ?1) AND StepCompleted = ?2), 0)"
    " FROM Events WHERE ID > ?3"
)


def resolve_database_path(path: "str | None") -> str:
    """The database file: ``TESTRIUM_EVENT_DB`` when set, else ``path`` when it ends in
    ``.db``, else ``<path>/Data.db``; creates the folder."""
    override = os.environ.get(EVENT_DB_ENV)
    if override:
        database_path = os.path.abspath(os.path.expanduser(override))
        os.makedirs(os.path.dirname(database_path), exist_ok=True)
        return database_path

    base_path = os.path.abspath(os.path.expanduser(path or "."))
    if base_path.lower().endswith(".db"):
        os.makedirs(os.path.dirname(base_path), exist_ok=True)
        return base_path

    os.makedirs(base_path, exist_ok=True)
    return os.path.join(base_path, "Data.db")


def _decode_metadata(value) -> dict:
    if not value or value == "{}":
        return {}
    import json

    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _text(raw: bytes) -> str:
    # Units may write anything into the tables: never fail a read on bad UTF-8.
    return raw.decode("utf-8", "replace")


_LIBC = []


class _Watch:
    """An inotify descriptor woken by writes to one database's -wal file. Kept and reused:
    closing an inotify instance can block for 10-20 ms (the kernel waits for an RCU grace
    period), which a watch per wait would add to the wake-up."""

    __slots__ = ("fd", "poller")

    def __init__(self, fd, poller):
        self.fd = fd
        self.poller = poller

    def __del__(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


def _watch_wal(database_path):
    """A `_Watch` on the database's -wal file (every commit appends to it), or None where
    that is not available: the caller then polls."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not _LIBC:
            import ctypes

            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        libc = _LIBC[0]
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        if libc.inotify_add_watch(fd, os.fsencode(database_path + "-wal"), 0x2) < 0:  # IN_MODIFY
            os.close(fd)
            return None
        import select

        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return _Watch(fd, poller)
    except Exception:  # no ctypes, no inotify, limits reached: poll instead
        return None


def _watch_drain(watch) -> None:
    """Drops pending notifications without blocking."""
    while True:
        try:
            if not os.read(watch.fd, 4096):
                break
        except OSError:
            break


def _watch_wait(watch, timeout: float) -> bool:
    """Blocks until the watched file was written or `timeout` seconds pass."""
    if not watch.poller.poll(max(0, int(timeout * 1000 + 0.999))):
        return False
    _watch_drain(watch)
    return True


def _is_busy(error: Exception) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (and extended codes)
    message = str(error).lower()
    return "locked" in message or "busy" in message


def _retry(operation):
    """Runs `operation`, retrying while the database is busy (50 µs pauses growing to 1 ms,
    for up to 30 s). The connection has no SQLite busy handler: the built-in one backs off to
    100 ms sleeps, which lets busy writers starve the others."""
    deadline = None
    pause = 0.00005
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + _BUSY_TIMEOUT_S
            elif now >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.001)


def _ensure_schema(connection, force: bool = False) -> None:
    """Creates the tables and adds missing columns, once per database (``user_version``)."""
    version = _retry(lambda: connection.execute("PRAGMA user_version").fetchone()[0])
    if version >= SCHEMA_VERSION and not force:
        return
    # IMMEDIATE: take the write lock before reading so concurrent setups queue.
    _retry(lambda: connection.execute("BEGIN IMMEDIATE"))
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if force or version < SCHEMA_VERSION:
            for sql in _CREATE_TABLES:
                connection.execute(sql)
            for table, column, declaration in _ADDED_COLUMNS:
                columns = {
                    row[1]
                    for row in connection.execute("PRAGMA table_info(%s)" % table)
                }
                if column not in columns:
                    connection.execute(
                        "ALTER TABLE %s ADD COLUMN %s %s" % (table, column, declaration)
                    )
            if version < SCHEMA_VERSION:
                connection.execute("PRAGMA user_version = %d" % SCHEMA_VERSION)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _connect(database_path: str):
    """A connection with the settings every Testrium client uses."""
    connection = sqlite3.connect(
        database_path,
        timeout=0,  # busy: see _retry
        isolation_level=None,  # autocommit: one INSERT is one transaction
        check_same_thread=False,
    )
    connection.text_factory = _text
    # Every statement of a new connection goes through `_retry`, the first ones too: a
    # connection opened while another process closes the database's last connection (which
    # checkpoints and resets the write-ahead log) or runs its recovery gets "database is
    # locked" from its very first statement (issue 11: 6 of 24 churning units crashed).
    # Before the switch to WAL: with the default (FULL) the switch itself fsyncs.
    _retry(lambda: connection.execute("PRAGMA synchronous=NORMAL"))
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        mode = _retry(lambda: connection.execute("PRAGMA journal_mode").fetchone()[0])
        if str(mode).lower() == "wal":
            break
        # Needs an exclusive lock: another process may be setting up the same database.
        _retry(lambda: connection.execute("PRAGMA journal_mode=WAL").fetchone())
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("cannot switch %s to WAL" % database_path)
        time.sleep(0.0005)
    _retry(lambda: connection.execute("PRAGMA synchronous=NORMAL"))
    # As the Rust side: the first commit after the runner restarted the write-ahead log during
    # a flood cuts the file back to 4 MiB.
    _retry(lambda: connection.execute("PRAGMA journal_size_limit=4194304").fetchone())
    _ensure_schema(connection)
    return connection


class _Remote:
    """The runner's remote probe API (``TESTRIUM_EVENT_URL``), for units without a database
    path: ``POST /v1/probes`` records, ``GET /v1/wait`` waits (see docs/CONFIG.md)."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.token = token

    def _call(self, method: str, path: str, body=None, timeout: float = 30.0) -> dict:
        import json
        import urllib.request  # only units that talk to a remote runner pay for it

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read() or b"{}")

    def record(self, unit, step, event_type, key, metadata, cause) -> None:
        self._call("POST", "/v1/probes", {
            "unit": unit, "step": step, "type": event_type, "key": key or None,
            "metadata": metadata, "cause": cause or None, "time": time.time(),
            "pid": os.getpid(),
        })

    def wait(self, unit: str, step: str, timeout: float) -> bool:
        import urllib.parse

        query = urllib.parse.urlencode(
            {"unit": unit, "step": step, "timeout_ms": int(max(timeout, 0) * 1000)}
        )
        answer = self._call("GET", "/v1/wait?" + query, timeout=timeout + 30.0)
        return bool(answer.get("found"))


def _remote_from_env() -> "_Remote | None":
    """The remote probe API when ``TESTRIUM_EVENT_URL`` is set and ``TESTRIUM_EVENT_DB`` is
    not (a database path always wins)."""
    url = os.environ.get(EVENT_URL_ENV)
    if not url or os.environ.get(EVENT_DB_ENV):
        return None
    return _Remote(url, os.environ.get(TOKEN_ENV, ""))


class _Store:
    """One connection shared by the methods of a manager, guarded by a lock."""

    def __init__(self, path):
        self.remote = _remote_from_env()
        if self.remote is not None:
            self.database_path = None
            self.connection = None
            self._lock = _thread.RLock()
            self._watches = _thread._local()
            return
        self.database_path = resolve_database_path(path)
        self.connection = _connect(self.database_path)
        self._commits = 0
        # `threading.RLock` and `threading.local` are these.
        self._lock = _thread.RLock()
        self._watches = _thread._local()

    def _ensure_schema(self) -> None:
        with self._lock:
            _ensure_schema(self.connection, force=True)

    def _execute(self, sql, parameters=()):
        """Runs one statement; if a table or column vanished (an older client dropped and
        recreated it), repairs the schema and retries once."""
        if self.remote is not None:
            raise RuntimeError(
                "only Set_Event and wait_for_event work over TESTRIUM_EVENT_URL "
                "(this unit has no run database)"
            )

        def run():
            return self.connection.execute(sql, parameters).fetchall()

        with self._lock:
            try:
                return _retry(run)
            except sqlite3.OperationalError as error:
                if _is_busy(error):
                    raise
                _ensure_schema(self.connection, force=True)
                return _retry(run)


class Events_Manager(_Store):
    def __init__(self, Unit: str, path: "str | None" = "."):
        """
        Store and query unit probes.

        `Unit="*"` reads all units. When `TESTRIUM_EVENT_DB` is set by the
        runner, every process writes to that isolated run database regardless
        of the path passed by user code.
        """
        super().__init__(path)
        self.Unit = Unit

    def drop_events_table(self) -> None:
        with self._lock:
            _retry(lambda: self.connection.execute("DROP TABLE IF EXISTS Events"))
            _ensure_schema(self.connection, force=True)

    def _rows(self, unit, with_mono: bool = False):
        selected_unit = self.Unit if unit is None else unit
        columns = "ID, Unit, StepCompleted, EventType, EventKey, Time, Metadata"
        if with_mono:
            columns += ", MonoNs"
        if selected_unit == "*":
            return self._execute(
                "SELECT %s FROM Events ORDER BY Time, ID" % columns
            )
        return self._execute(
            "SELECT %s FROM Events WHERE Unit = ? ORDER BY Time, ID" % columns,
            (selected_unit,),
        )

    @staticmethod
    def _event(row) -> dict:
        return {
            "ID": row[0],
            "Unit": row[1],
            "StepCompleted": row[2],
            "EventType": row[3],
            "EventKey": row[4],
            "Time": row[5],
            "Metadata": _decode_metadata(row[6]),
        }

    def list_events(self, unit: "str | None" = None) -> "list[dict]":
        return [self._event(row) for row in self._rows(unit)]

    def List_Events(self) -> dict:
        """All events of this manager's unit as ``{column: {row_index: value}}`` (the shape
        of the original's ``pandas.DataFrame.to_dict()``, without pandas)."""
        columns = ["ID", "Unit", "StepCompleted", "EventType", "EventKey", "Time", "Metadata"]
        table = {column: {} for column in columns}
        for index, event in enumerate(self.list_events()):
            for column in columns:
                table[column][index] = event[column]
        return table

    def Set_Event(self, step: str, event_type: str = "Default", **kwargs) -> None:
        if self.Unit == "*":
            raise ValueError("Can't set an event for generalized unit '*'")

        if event_type not in VALID_EVENT_TYPES:
            raise ValueError(
                "Event type can only be one of: "
                + ", ".join(sorted(VALID_EVENT_TYPES))
            )

        event_key = kwargs.pop("event_key", "")
        if event_type in {"Send", "Receive"} and not event_key:
            raise ValueError("Send and Receive events require event_key")
        # New: the key of the event that caused this one (``cause="req-7"``). The original
        # folds unknown keyword arguments into the metadata, so a group that passes it still
        # runs there; a ``cause`` string in the metadata counts as the cause too.
        cause = kwargs.pop("cause", None)

        # In the original's order: extra keyword arguments are merged first (so metadata that
        # is not a mapping raises TypeError there), then the result must be a dict.
        metadata = kwargs.pop("metadata", {})
        if kwargs:
            metadata = {**metadata, **kwargs}
        if not isinstance(metadata, dict):
            raise ValueError("metadata must be a dictionary")
        if cause is None and isinstance(metadata.get("cause"), str):
            cause = metadata["cause"]
        if cause is not None and not isinstance(cause, str):
            raise ValueError("cause must be a string (the key of the causing event)")
        # As the original: a value JSON cannot encode raises TypeError and records nothing.
        # No metadata (most probes): the text `json.dumps({})` gives, without importing json.
        if metadata:
            import json

            encoded = json.dumps(metadata, sort_keys=True)
        else:
            encoded = "{}"
        if self.remote is not None:
            self.remote.record(self.Unit, step, event_type, event_key, metadata, cause)
            return

        self._commits += 1
        if self._commits % _WAL_CAP_EVERY == 0:
            with self._lock:
                _cap_wal(self.connection, self.database_path)
        self._execute(
            _INSERT_EVENT,
            (
                self.Unit,
                step,
                event_type,
                event_key,  # None is stored as NULL, as the original stored it
                time.time(),
                encoded,
                time.monotonic_ns(),
                os.getpid(),
                cause or None,
            ),
        )

    def completed_steps(self, unit: "str | None" = None) -> "set[str]":
        return {event["StepCompleted"] for event in self.list_events(unit=unit)}

    def _data_version(self) -> int:
        with self._lock:
            return _retry(lambda: self.connection.execute("PRAGMA data_version").fetchone()[0])

    def wait_for_event(
        self,
        step: str,
        unit: "str | None" = None,
        timeout: float = 10.0,
        poll_interval: float = 0.1,
    ) -> bool:
        """Waits until `unit` (default: this manager's unit; "*": any unit) has recorded
        `step`. Returns False after `timeout` seconds.

        Wakes within about a millisecond of the probe and costs little while waiting: for
        its first 50 ms it checks the cheap ``PRAGMA data_version`` every 0.25 ms; after
        that, on Linux, it sleeps until the database's -wal file is written (an inotify
        watch through ctypes, kept by the manager for its thread's later waits), elsewhere
        it checks every millisecond (or every `poll_interval` if that is shorter). It
        queries only new rows, and only when another connection committed.
        """
        selected_unit = self.Unit if unit is None else unit
        if self.remote is not None:
            return self.remote.wait(selected_unit, step, timeout)
        interval = _WAIT_POLL_S
        if poll_interval is not None and 0 < poll_interval < interval:
            interval = poll_interval
        start = time.monotonic()
        deadline = start + timeout
        # A watch this manager made for an earlier long wait of this thread is kept: drop the
        # notifications of earlier writes (the version read below covers them).
        watch = getattr(self._watches, "watch", None)
        if watch is not None:
            _watch_drain(watch)
        watching = watch is not None
        version = self._data_version()
        last_id = 0
        polls = 0
        while True:
            last_id, found = self._execute(_FIND_AFTER, (selected_unit, step, last_id))[0]
            if found:
                return True
            while True:
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    return False
                if not watching and now - start >= _POLL_FIRST_S:
                    # A long wait: from now on, sleep until the -wal file is written. Watch
                    # first, then read the version: a commit in between is seen by both.
                    watching = True
                    watch = self._watches.watch = _watch_wal(self.database_path)
                elif not watching:
                    time.sleep(min(_POLL_FIRST_INTERVAL_S, interval, left))
                elif watch is not None and polls == 0:
                    if _watch_wait(watch, min(left, _WATCH_CHECK_S)):
                        polls = _POLLS_AFTER_WRITE
                elif watch is not None:
                    time.sleep(min(_POLL_AFTER_WRITE_S, left))
                    polls -= 1
                else:
                    time.sleep(min(interval, left))
                current = self._data_version()
                if current != version:
                    version = current
                    polls = 0
                    break

    def verify_required_events(self, units: "list[dict]") -> dict:
        completed = []
        missing = []
        for unit in units:
            if not unit.get("enabled", True):
                continue
            unit_name = unit["name"]
            completed_steps = self.completed_steps(unit=unit_name)
            for step in unit.get("events", []):
                result = {"unit": unit_name, "step": step}
                if step in completed_steps:
                    completed.append(result)
                else:
                    missing.append(result)
        return {"completed": completed, "missing": missing}

    def correlate_send_receive(self) -> dict:
        """Pairs Send and Receive events by key. The latency of a pair comes from the
        monotonic timestamps when both ends recorded one, else from the wall clock."""
        sends = {}
        receives = {}
        monos = {}
        for row in self._rows("*", with_mono=True):
            event = self._event(row)
            event_key = event.get("EventKey") or ""
            if not event_key:
                continue
            monos[event["ID"]] = row[7]
            if event["EventType"] == "Send":
                sends.setdefault(event_key, []).append(event)
            elif event["EventType"] == "Receive":
                receives.setdefault(event_key, []).append(event)

        paired = []
        orphan_sends = []
        orphan_receives = []
        duplicate_keys = []

        for event_key in sorted(set(sends) | set(receives), key=str):
            send_events = sends.get(event_key, [])
            receive_events = receives.get(event_key, [])
            if len(send_events) > 1 or len(receive_events) > 1:
                duplicate_keys.append(
                    {
                        "event_key": event_key,
                        "send_count": len(send_events),
                        "receive_count": len(receive_events),
                    }
                )
            if send_events and receive_events:
                first_send = send_events[0]
                first_receive = receive_events[0]
                paired.append(
                    {
                        "event_key": event_key,
                        "send_unit": first_send["Unit"],
                        "receive_unit": first_receive["Unit"],
                        "send_step": first_send["StepCompleted"],
                        "receive_step": first_receive["StepCompleted"],
                        "latency": _latency(first_send, first_receive, monos),
                    }
                )
            elif send_events:
                orphan_sends.extend(send_events)
            elif receive_events:
                orphan_receives.extend(receive_events)

        latencies = [pair["latency"] for pair in paired]
        average_latency = sum(latencies) / len(latencies) if latencies else 0.0
        return {
            "paired": paired,
            "orphan_sends": orphan_sends,
            "orphan_receives": orphan_receives,
            "duplicate_keys": duplicate_keys,
            "average_latency": average_latency,
        }


def _latency(send: dict, receive: dict, monos: dict) -> float:
    send_mono = monos.get(send["ID"])
    receive_mono = monos.get(receive["ID"])
    if isinstance(send_mono, int) and isinstance(receive_mono, int):
        return max(0.0, (receive_mono - send_mono) / 1e9)
    try:
        return max(0.0, float(receive["Time"]) - float(send["Time"]))
    except (TypeError, ValueError):
        return 0.0


class UnitStatus_Manager(_Store):
    VALID_STATES = {
        "created",
        "starting",
        "ready",
        "running",
        "finished",
        "failed",
        "stopped",
    }

    def __init__(self, path: "str | None" = "."):
        super().__init__(path)

    def set_status(self, unit: str, status: str) -> None:
        if status not in self.VALID_STATES:
            raise ValueError(
                "unit status must be one of: " + ", ".join(sorted(self.VALID_STATES))
            )
        now = time.time()
        mono = time.monotonic_ns()
        with self._lock:
            _retry(lambda: self.connection.execute("BEGIN IMMEDIATE"))
            try:
                self.connection.execute(
                    """
                    INSERT INTO UnitStatus (Unit, Status, UpdatedAt, MonoNs)
                    VALUES (?, ?, ?, ?)
                    ON CONFLICT(Unit)
                    DO UPDATE SET Status = excluded.Status, UpdatedAt = excluded.UpdatedAt,
                        MonoNs = excluded.MonoNs
                    """,
                    (unit, status, now, mono),
                )
                self.connection.execute(
                    "INSERT INTO UnitTransitions (Unit, Status, Time, MonoNs) VALUES (?, ?, ?, ?)",
                    (unit, status, now, mono),
                )
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise

    def get_status(self, unit: str) -> "str | None":
        rows = self._execute("SELECT Status FROM UnitStatus WHERE Unit = ?", (unit,))
        return rows[0][0] if rows else None

    def list_statuses(self) -> "dict[str, str]":
        rows = self._execute("SELECT Unit, Status FROM UnitStatus")
        return {unit: status for unit, status in rows}


class Results_Manager(_Store):
    def __init__(self, path: "str | None" = "."):
        super().__init__(path)

    def store_result(
        self,
        test_group: str,
        passed: bool,
        duration: float,
        average_latency: float,
        summary: dict,
    ) -> None:
        import json

        self._execute(
            """
            INSERT INTO Results (TestGroup, Passed, Duration, AverageLatency, Summary, Time)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (
                test_group,
                int(passed),
                duration,
                average_latency,
                json.dumps(summary, sort_keys=True),
                time.time(),
            ),
        )
