from testrium.modules.events import Events_Manager


def run():
    events = Events_Manager(Unit="worker", path=".")
    if events.wait_for_event("broker-up", unit="broker", timeout=5):
        events.Set_Event("broker-seen")
