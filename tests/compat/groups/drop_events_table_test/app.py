from testrium.modules.events import Events_Manager
from testrium.common.utils import verify_condition


def early():
    Events_Manager(Unit="early", path=".").Set_Event("before-drop")


def dropper():
    events = Events_Manager(Unit="dropper", path=".")
    everyone = Events_Manager(Unit="*", path=".")
    verify_condition("before-drop" in everyone.completed_steps(unit="early"), "early probe")
    events.drop_events_table()
    verify_condition(everyone.list_events() == [], "table not emptied")
    events.Set_Event("after-drop")
    steps = [e["StepCompleted"] for e in everyone.list_events()]
    verify_condition(steps == ["after-drop"], f"steps {steps}")
    events.Set_Event("only-after")
