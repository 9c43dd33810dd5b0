from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="forgetful", path=".").Set_Event("recorded")
