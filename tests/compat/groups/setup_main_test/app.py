from testrium.modules.events import Events_Manager
from testrium.common.utils import verify_condition


def run():
    everyone = Events_Manager(Unit="*", path=".")
    verify_condition(everyone.wait_for_event("setup-started", unit="setup", timeout=10), "no setup")
    Events_Manager(Unit="client", path=".").Set_Event("setup-seen")
