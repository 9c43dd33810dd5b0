from testrium.modules.events import Events_Manager
from testrium.common.utils import verify_condition


def wait():
    events = Events_Manager(Unit="waiter", path=".")
    everyone = Events_Manager(Unit="*", path=".")
    verify_condition(not everyone.wait_for_event("never", unit="signaller", timeout=0.3), "never")
    events.Set_Event("timeout-ok")
    events.Set_Event("waiting")
    verify_condition(everyone.wait_for_event("go", unit="signaller", timeout=10), "no go")
    events.Set_Event("got-go")


def signal():
    events = Events_Manager(Unit="signaller", path=".")
    events.Set_Event("go")
    verify_condition(events.wait_for_event("go", timeout=5), "own probe not seen")
    events.Set_Event("own-seen")
