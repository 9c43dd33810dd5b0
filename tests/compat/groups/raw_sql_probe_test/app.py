import json
import os
import sqlite3
import time


def run():
    rows = [
        ("writer", "raw-probe", "Default", "", time.time(), json.dumps({})),
        ("writer", "raw-send", "Send", "raw-1", time.time(), json.dumps({"via": "sql"})),
        ("writer", "raw-receive", "Receive", "raw-1", time.time(), "{}"),
    ]
    with sqlite3.connect(os.environ["TESTRIUM_EVENT_DB"], timeout=30) as connection:
        connection.executemany(
            "INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
