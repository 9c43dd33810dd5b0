from testrium.modules.events import Events_Manager


def greet():
    Events_Manager(Unit="greeter", path=".").Set_Event("greeted")
