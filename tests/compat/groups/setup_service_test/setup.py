import threading

from testrium.modules.events import Events_Manager


def main():
    Events_Manager(Unit="broker", path=".").Set_Event("broker-up")
    threading.Event().wait()  # a broker serves until the runner stops it
