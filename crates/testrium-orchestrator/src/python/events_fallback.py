"""Stand-in for ``testrium.modules.events`` used only until ``testrium-events`` ships its
``PYTHON_EVENTS_MODULE``: the original 0.3.0 API over the original tables, stdlib only."""

import json
import os
import sqlite3
import time

EVENT_DB_ENV = "TESTRIUM_EVENT_DB"
VALID_EVENT_TYPES = {"Default", "Exception", "Send", "Receive"}
_COLUMNS = ["ID", "Unit", "StepCompleted", "EventType", "EventKey", "Time", "Metadata"]


def resolve_database_path(path):
    override = os.environ.get(EVENT_DB_ENV)
    chosen = os.path.abspath(os.path.expanduser(override or path or "."))
    if override or chosen.lower().endswith(".db"):
        os.makedirs(os.path.dirname(chosen), exist_ok=True)
        return chosen
    os.makedirs(chosen, exist_ok=True)
    return os.path.join(chosen, "Data.db")


def _connect(path):
    connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


def _decode(value):
    if not value:
        return {}
    try:
        decoded = json.loads(value)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


class Events_Manager:
    def __init__(self, Unit, path="."):
        self.database_path = resolve_database_path(path)
        self.connection = _connect(self.database_path)
        self.Unit = Unit
        self._ensure_schema()

    def _ensure_schema(self):
        with self.connection:
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS Events (ID INTEGER PRIMARY KEY AUTOINCREMENT,"
                " Unit TEXT, StepCompleted TEXT, EventType TEXT, EventKey TEXT,"
                " Time NUMBER, Metadata TEXT)"
            )

    def drop_events_table(self):
        with self.connection:
            self.connection.execute("DROP TABLE IF EXISTS Events")
        self._ensure_schema()

    def list_events(self, unit=None):
        selected = self.Unit if unit is None else unit
        query = "SELECT " + ", ".join(_COLUMNS) + " FROM Events"
        arguments = ()
        if selected != "*":
            query += " WHERE Unit = ?"
            arguments = (selected,)
        rows = self.connection.execute(query + " ORDER BY Time, ID", arguments).fetchall()
        return [dict(zip(_COLUMNS, row[:6] + (_decode(row[6]),))) for row in rows]

    def List_Events(self):
        events = self.list_events()
        return {c: {i: e[c] for i, e in enumerate(events)} for c in _COLUMNS}

    def Set_Event(self, step, event_type="Default", **kwargs):
        if self.Unit == "*":
            raise ValueError("Can't set an event for generalized unit '*'")
        if event_type not in VALID_EVENT_TYPES:
            raise ValueError(
                "Event type can only be one of: " + ", ".join(sorted(VALID_EVENT_TYPES))
            )
        event_key = kwargs.pop("event_key", "")
        if event_type in {"Send", "Receive"} and not event_key:
            raise ValueError("Send and Receive events require event_key")
        metadata = kwargs.pop("metadata", {})
        if kwargs:
            metadata = {**metadata, **kwargs}
        if not isinstance(metadata, dict):
            raise ValueError("metadata must be a dictionary")
        with self.connection:
            self.connection.execute(
                "INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self.Unit, step, event_type, event_key, time.time(),
                 json.dumps(metadata, sort_keys=True)),
            )

    def completed_steps(self, unit=None):
        return {event["StepCompleted"] for event in self.list_events(unit=unit)}

    def wait_for_event(self, step, unit=None, timeout=10.0, poll_interval=0.1):
        deadline = time.monotonic() + timeout
        while True:
            if step in self.completed_steps(unit=unit):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.002, poll_interval))

    def verify_required_events(self, units):
        completed, missing = [], []
        for unit in units:
            if not unit.get("enabled", True):
                continue
            steps = self.completed_steps(unit=unit["name"])
            for step in unit.get("events", []):
                entry = {"unit": unit["name"], "step": step}
                (completed if step in steps else missing).append(entry)
        return {"completed": completed, "missing": missing}

    def correlate_send_receive(self):
        sends, receives = {}, {}
        for event in self.list_events(unit="*"):
            key = event.get("EventKey") or ""
            if key and event["EventType"] == "Send":
                sends.setdefault(key, []).append(event)
            elif key and event["EventType"] == "Receive":
                receives.setdefault(key, []).append(event)
        paired, orphan_sends, orphan_receives, duplicates = [], [], [], []
        for key in sorted(set(sends) | set(receives)):
            s, r = sends.get(key, []), receives.get(key, [])
            if len(s) > 1 or len(r) > 1:
                duplicates.append({"event_key": key, "send_count": len(s),
                                   "receive_count": len(r)})
            if s and r:
                paired.append({
                    "event_key": key, "send_unit": s[0]["Unit"], "receive_unit": r[0]["Unit"],
                    "send_step": s[0]["StepCompleted"], "receive_step": r[0]["StepCompleted"],
                    "latency": max(0.0, r[0]["Time"] - s[0]["Time"]),
                })
            elif s:
                orphan_sends.extend(s)
            else:
                orphan_receives.extend(r)
        latencies = [pair["latency"] for pair in paired]
        return {
            "paired": paired, "orphan_sends": orphan_sends, "orphan_receives": orphan_receives,
            "duplicate_keys": duplicates,
            "average_latency": sum(latencies) / len(latencies) if latencies else 0.0,
        }


class UnitStatus_Manager:
    VALID_STATES = {"created", "starting", "ready", "running", "finished", "failed", "stopped"}

    def __init__(self, path="."):
        self.database_path = resolve_database_path(path)
        self.connection = _connect(self.database_path)
        with self.connection:
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS UnitStatus (Unit TEXT PRIMARY KEY, Status TEXT,"
                " UpdatedAt NUMBER)"
            )

    def set_status(self, unit, status):
        if status not in self.VALID_STATES:
            raise ValueError(
                "unit status must be one of: " + ", ".join(sorted(self.VALID_STATES))
            )
        with self.connection:
            self.connection.execute(
                "INSERT INTO UnitStatus (Unit, Status, UpdatedAt) VALUES (?, ?, ?)"
                " ON CONFLICT(Unit) DO UPDATE SET Status = excluded.Status,"
                " UpdatedAt = excluded.UpdatedAt",
                (unit, status, time.time()),
            )

    def get_status(self, unit):
        row = self.connection.execute(
            "SELECT Status FROM UnitStatus WHERE Unit = ?", (unit,)
        ).fetchone()
        return row[0] if row else None

    def list_statuses(self):
        return dict(self.connection.execute("SELECT Unit, Status FROM UnitStatus").fetchall())


class Results_Manager:
    def __init__(self, path="."):
        self.database_path = resolve_database_path(path)
        self.connection = _connect(self.database_path)
        with self.connection:
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS Results (ID INTEGER PRIMARY KEY AUTOINCREMENT,"
                " TestGroup TEXT, Passed INTEGER, Duration NUMBER, AverageLatency NUMBER,"
                " Summary TEXT, Time NUMBER)"
            )

    def store_result(self, test_group, passed, duration, average_latency, summary):
        with self.connection:
            self.connection.execute(
                "INSERT INTO Results (TestGroup, Passed, Duration, AverageLatency, Summary,"
                " Time) VALUES (?, ?, ?, ?, ?, ?)",
                (test_group, int(passed), duration, average_latency,
                 json.dumps(summary, sort_keys=True), time.time()),
            )
