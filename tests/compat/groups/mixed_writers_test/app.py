import os
import subprocess
import sys

import testrium
from testrium.modules.events import Events_Manager

CHILD = """
import testrium.modules.events as original
assert hasattr(original, "pd"), "the child did not import the installed original"
original.Events_Manager(Unit="mixer", path=".").Set_Event("through-original", event_type="Default", origin="original")
"""


def run():
    events = Events_Manager(Unit="mixer", path=".")
    if "TESTRIUM_UNIT" in os.environ:  # started by the new runner: its package must win
        assert getattr(testrium, "TESTRIUM_RUNNER_PACKAGE", False), testrium.__file__
    else:  # started by the original runner, in its own process
        assert hasattr(sys.modules["testrium.modules.events"], "pd"), testrium.__file__
    events.Set_Event("through-runner", origin="runner")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-I", "-c", CHILD], env=environment, cwd="/", check=True)
    by_step = {e["StepCompleted"]: e for e in events.list_events()}
    assert by_step["through-original"]["Metadata"] == {"origin": "original"}, by_step
    assert by_step["through-runner"]["Metadata"] == {"origin": "runner"}, by_step
    events.Set_Event("both-read")
