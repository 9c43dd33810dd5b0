import queue

from testrium.modules.events import Events_Manager


def run():
    assert hasattr(queue, "SimpleQueue"), queue
    Events_Manager(Unit="checker", path=".").Set_Event("checked")
