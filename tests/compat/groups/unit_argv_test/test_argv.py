import sys

from testrium.modules.events import Events_Manager


def test_command_line_is_clean():
    group_dir = __file__.rsplit("/", 1)[0]
    modes = {"entrypoint", "entrypoint-gated", "setup", "tests", "tests-gated"}
    leaked = [a for a in sys.argv[1:] if group_dir in a or a in modes or ".testrium" in a]
    assert leaked == [], sys.argv


def test_setup_saw_a_clean_command_line():
    events = Events_Manager(Unit="tester")
    assert events.wait_for_event("setup-argv-clean", unit="setup", timeout=5)
