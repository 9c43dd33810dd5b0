from testrium.modules.events import Events_Manager


def serve():
    Events_Manager(Unit="server", path=".").Set_Event("served")
