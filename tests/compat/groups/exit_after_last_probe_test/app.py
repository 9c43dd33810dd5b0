import sys

from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="quitter", path=".").Set_Event("started")
    sys.exit(3)
