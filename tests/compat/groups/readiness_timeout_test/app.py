import threading

from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="sleepy", path=".").Set_Event("started")
    threading.Event().wait(30)  # never ready; torn down by the runner


def after():
    Events_Manager(Unit="after", path=".").Set_Event("ran")
