import json
import os
import sqlite3

from testrium.common.utils import verify_condition
from testrium.modules.events import Events_Manager, Results_Manager, UnitStatus_Manager


def run():
    statuses = UnitStatus_Manager(path=".")
    statuses.set_status("custom", "running")
    verify_condition(statuses.get_status("custom") == "running", "custom status")
    try:
        statuses.set_status("custom", "bogus")
    except ValueError as error:
        expected = "unit status must be one of: created, failed, finished, ready, running, starting, stopped"
        verify_condition(str(error) == expected, f"message {error!s}")
    else:
        raise AssertionError("no ValueError for a bogus status")
    verify_condition(statuses.get_status("nobody") is None, "unknown unit")
    listed = statuses.list_statuses()
    verify_condition(listed.get("custom") == "running", f"listed {listed}")
    verify_condition(listed.get("bookkeeper") in {"starting", "ready", "running"}, f"own {listed}")

    Results_Manager(path=".").store_result(
        test_group="manual", passed=True, duration=0.25, average_latency=0.0, summary={"k": 1}
    )
    with sqlite3.connect(os.environ["TESTRIUM_EVENT_DB"]) as connection:
        row = connection.execute(
            "SELECT TestGroup, Passed, Duration, Summary FROM Results WHERE TestGroup = 'manual'"
        ).fetchone()
    verify_condition(row is not None and row[:3] == ("manual", 1, 0.25), f"row {row}")
    verify_condition(json.loads(row[3]) == {"k": 1}, f"summary {row[3]}")
    Events_Manager(Unit="bookkeeper", path=".").Set_Event("status-ok")
