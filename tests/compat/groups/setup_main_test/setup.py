import threading

from testrium.modules.events import Events_Manager


def main():
    Events_Manager(Unit="setup", path=".").Set_Event("setup-started")
    threading.Event().wait()  # serve until the runner tears the setup down
