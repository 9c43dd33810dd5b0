from testrium.modules.events import Events_Manager
from testrium.common.utils import verify_condition


def produce():
    events = Events_Manager(Unit="producer", path=".")
    events.Set_Event("plain")
    events.Set_Event("typed", event_type="Default")
    events.Set_Event(step="keyed-send", event_type="Send", event_key="k-1")
    events.Set_Event("with-metadata", metadata={"size": 3, "tags": ["a", "b"]})
    events.Set_Event("with-kwargs", attempt=2, host="localhost")
    events.Set_Event("mixed", metadata={"a": 1}, b=2)


def consume():
    events = Events_Manager(Unit="consumer", path=".")
    everyone = Events_Manager(Unit="*", path=".")
    verify_condition(everyone.wait_for_event("mixed", unit="producer", timeout=10), "no producer")
    events.Set_Event("keyed-receive", event_type="Receive", event_key="k-1")

    by_step = {e["StepCompleted"]: e for e in everyone.list_events(unit="producer")}
    verify_condition(by_step["plain"]["Metadata"] == {}, "plain metadata")
    verify_condition(by_step["plain"]["EventType"] == "Default", "default type")
    verify_condition(not by_step["plain"]["EventKey"], "no key")
    verify_condition(by_step["keyed-send"]["EventType"] == "Send", "send type")
    verify_condition(by_step["keyed-send"]["EventKey"] == "k-1", "send key")
    verify_condition(by_step["with-metadata"]["Metadata"] == {"size": 3, "tags": ["a", "b"]}, "metadata")
    verify_condition(by_step["with-kwargs"]["Metadata"] == {"attempt": 2, "host": "localhost"}, "kwargs")
    verify_condition(by_step["mixed"]["Metadata"] == {"a": 1, "b": 2}, "mixed")
    verify_condition(isinstance(by_step["plain"]["Time"], float), "time is a float")
    verify_condition(by_step["plain"]["ID"] < by_step["mixed"]["ID"], "ids grow")

    table = everyone.List_Events()
    columns = ["ID", "Unit", "StepCompleted", "EventType", "EventKey", "Time", "Metadata"]
    verify_condition(list(table) == columns, f"columns {list(table)}")
    steps = list(table["StepCompleted"].values())
    verify_condition(steps[:6] == ["plain", "typed", "keyed-send", "with-metadata", "with-kwargs", "mixed"], f"steps {steps}")
    verify_condition(list(table["ID"]) == list(range(len(steps))), "row index")
    verify_condition(table["Metadata"][5] == {"a": 1, "b": 2}, "decoded metadata")
    events.Set_Event("checked")
