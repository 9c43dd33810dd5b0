import time

from testrium.modules.events import Events_Manager


def run():
    time.sleep(2)
    Events_Manager(Unit="slow", path=".").Set_Event("done")
