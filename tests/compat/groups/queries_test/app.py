from testrium.modules.events import Events_Manager
from testrium.common.utils import verify_condition

import os


def run():
    database = os.environ.get("TESTRIUM_EVENT_DB")
    verify_condition(database and os.path.isfile(database), f"TESTRIUM_EVENT_DB {database!r}")
    events = Events_Manager(Unit="querier", path=".")
    everyone = Events_Manager(Unit="*", path=".")
    events.Set_Event("a")
    events.Set_Event("b", event_type="Send", event_key="q-1")
    events.Set_Event("c", event_type="Receive", event_key="q-1")

    verify_condition({"a", "b", "c"} <= events.completed_steps(), "own steps")
    verify_condition(everyone.completed_steps(unit="querier") == events.completed_steps(), "by unit")
    verify_condition([e["StepCompleted"] for e in events.list_events()] == ["a", "b", "c"], "order")
    verify_condition(everyone.list_events(unit="nobody") == [], "unknown unit")

    report = everyone.verify_required_events([
        {"name": "querier", "events": ["a", "zzz"]},
        {"name": "off", "enabled": False, "events": ["q"]},
    ])
    verify_condition(report == {
        "completed": [{"unit": "querier", "step": "a"}],
        "missing": [{"unit": "querier", "step": "zzz"}],
    }, f"report {report}")

    correlations = everyone.correlate_send_receive()
    verify_condition(len(correlations["paired"]) == 1, f"paired {correlations}")
    pair = correlations["paired"][0]
    verify_condition(
        (pair["event_key"], pair["send_unit"], pair["receive_unit"], pair["send_step"], pair["receive_step"])
        == ("q-1", "querier", "querier", "b", "c"),
        f"pair {pair}",
    )
    verify_condition(pair["latency"] >= 0 and correlations["average_latency"] >= 0, "latency")
    for kind in ("orphan_sends", "orphan_receives", "duplicate_keys"):
        verify_condition(correlations[kind] == [], f"{kind}: {correlations[kind]}")
    events.Set_Event("queries-ok")
