from testrium.modules.events import Events_Manager


def server():
    Events_Manager(Unit="server", path=".").Set_Event("server-ready")


def client():
    Events_Manager(Unit="client", path=".").Set_Event("request-sent")
