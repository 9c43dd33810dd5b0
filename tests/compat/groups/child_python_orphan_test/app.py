import subprocess
import sys

from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="parent", path=".").Set_Event("parent-started")
    subprocess.run([sys.executable, "child.py"], check=True)
