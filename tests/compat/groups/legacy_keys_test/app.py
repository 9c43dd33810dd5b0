from testrium.modules.events import Events_Manager


def first():
    Events_Manager(Unit="first", path=".").Set_Event("first-ready")


def second():
    everyone = Events_Manager(Unit="*", path=".")
    assert "first-ready" in everyone.completed_steps(unit="first"), "started before its dependency"
    Events_Manager(Unit="second", path=".").Set_Event("second-done")


def never():
    raise AssertionError("a disabled unit was started")
