import os
import sys

from testrium.modules.events import Events_Manager


def main():
    base_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    modes = {"entrypoint", "entrypoint-gated", "setup", "tests", "tests-gated"}
    if not [a for a in sys.argv[1:] if base_dir in a or a in modes]:
        Events_Manager(Unit="setup", path=".").Set_Event("setup-argv-clean")
