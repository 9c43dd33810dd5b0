from testrium.modules.events import Events_Manager


def run():
    everyone = Events_Manager(Unit="*", path=".")
    if everyone.wait_for_event("setup-started", unit="setup", timeout=5):
        Events_Manager(Unit="client", path=".").Set_Event("ran")
