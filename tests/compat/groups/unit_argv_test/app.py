import argparse
import os
import sys

from testrium.modules.events import Events_Manager


def runner_arguments():
    """The arguments that name the group folder, the run folder or a runner mode."""
    group_dir = os.path.dirname(os.path.abspath(__file__))
    base_dir = os.path.dirname(group_dir)
    modes = {"entrypoint", "entrypoint-gated", "setup", "tests", "tests-gated"}
    return [a for a in sys.argv[1:] if base_dir in a or a in modes]


def run():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    options, _ = parser.parse_known_args()
    assert options.port == 8000
    assert runner_arguments() == [], sys.argv
    Events_Manager(Unit="server", path=".").Set_Event("argv-clean")
