import os

from testrium.modules.events import Events_Manager


def run():
    marker = os.path.join(os.path.dirname(os.environ["TESTRIUM_EVENT_DB"]), "flaky.started")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first start crashes")
    Events_Manager(Unit="flaky", path=".").Set_Event("worked")
