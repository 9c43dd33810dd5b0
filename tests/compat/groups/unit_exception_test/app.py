from testrium.modules.events import Events_Manager


def crash():
    Events_Manager(Unit="crasher", path=".").Set_Event("started")
    raise RuntimeError("kaputt")
