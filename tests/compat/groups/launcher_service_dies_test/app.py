import os
import subprocess
import sys

from testrium.modules.events import Events_Manager

HERE = os.path.dirname(os.path.abspath(__file__))


def launch():
    # The usual way to start a real service: start it and return.
    subprocess.Popen([sys.executable, os.path.join(HERE, "service.py")], cwd=HERE)


def client():
    events = Events_Manager(Unit="client", path=".")
    events.Set_Event("request-sent", event_type="Send", event_key="req-1")
