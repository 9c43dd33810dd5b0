from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="worker", path=".").Set_Event("done")
