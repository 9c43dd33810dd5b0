# The original imported every Python file of the group inside its runner: scripts keep
# their work under `__main__`.
import subprocess
import sys

if __name__ == "__main__":
    from testrium.modules.events import Events_Manager

    Events_Manager(Unit="parent", path=".").Set_Event("child-imported")
    subprocess.run([sys.executable, "grandchild.py"], check=True)
