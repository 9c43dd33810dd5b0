import os

from testrium.modules.events import Events_Manager


def run():
    marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "first-run.done")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("the first run fails")
    Events_Manager(Unit="flaky", path=".").Set_Event("worked")
