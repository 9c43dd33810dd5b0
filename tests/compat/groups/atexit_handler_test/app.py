import atexit

from testrium.modules.events import Events_Manager


def run():
    events = Events_Manager(Unit="worker", path=".")
    atexit.register(events.Set_Event, "cleaned-up")
    events.Set_Event("started")
