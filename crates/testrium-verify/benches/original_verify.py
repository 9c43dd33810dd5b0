"""Time the original Testrium 0.3.0 verification on the same shape as benches/verify.rs.

Usage: python original_verify.py [PAIRS]   (default 50,000 pairs = 100,000 events, 10 routes)
Needs the original package importable (e.g. /tmp/orig-venv/bin/python).
"""

import os
import sqlite3
import sys
import tempfile
import time

from testrium.modules.events import Events_Manager


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "Data.db")
        os.environ["TESTRIUM_EVENT_DB"] = db
        manager = Events_Manager(Unit="*", path=tmp)
        rows = []
        for i in range(pairs):
            r = i % 10
            key = f"msg-{i:07}"
            sent = 1_700_000_000.0 + i * 1e-6
            latency = (50 + (i * 7919) % 1000) * 1e-6
            rows.append((f"sender-{r}", "sent", "Send", key, sent, "{}"))
            rows.append((f"receiver-{r}", "received", "Receive", key, sent + latency, "{}"))
        con = sqlite3.connect(db)
        con.executemany(
            "INSERT INTO Events (Unit, StepCompleted, EventType, EventKey, Time, Metadata)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        con.commit()
        con.close()
        units = [{"name": f"sender-{r}", "events": ["sent"]} for r in range(10)]
        units += [{"name": f"receiver-{r}", "events": ["received"]} for r in range(10)]
        times = []
        for _ in range(5):
            start = time.perf_counter()
            required = manager.verify_required_events(units)
            correlations = manager.correlate_send_receive()
            times.append(time.perf_counter() - start)
        assert not required["missing"] and len(correlations["paired"]) == pairs
        times.sort()
        print(
            f"original 0.3.0: {2 * pairs} events: min {times[0] * 1e3:.0f} ms,"
            f" median {times[len(times) // 2] * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
