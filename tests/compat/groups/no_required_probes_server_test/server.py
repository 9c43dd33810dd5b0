import threading

from testrium.modules.events import Events_Manager


def serve():
    Events_Manager(Unit="server", path=".").Set_Event("listening")
    threading.Event().wait()
