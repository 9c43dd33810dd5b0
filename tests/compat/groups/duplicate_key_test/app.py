from testrium.modules.events import Events_Manager


def send():
    events = Events_Manager(Unit="sender", path=".")
    events.Set_Event("sent", event_type="Send", event_key="dup-1")
    events.Set_Event("sent", event_type="Send", event_key="dup-1")


def receive():
    everyone = Events_Manager(Unit="*", path=".")
    everyone.wait_for_event("sent", unit="sender", timeout=10)
    Events_Manager(Unit="receiver", path=".").Set_Event("received", event_type="Receive", event_key="dup-1")
