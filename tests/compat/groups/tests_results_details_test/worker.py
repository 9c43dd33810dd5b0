from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="worker", path=".").Set_Event("worked")


def tests_results(data):
    first = data["tests_results"][0]
    assert first["name"] == "unit_processes", first
    [detail] = first["details"]
    assert sorted(detail) == ["exitcode", "name", "passed", "status"], detail
    assert detail["name"] == "worker" and detail["passed"] is True, detail
    # Exited by itself, or stopped (SIGTERM: -15) once its probe was recorded: either passes.
    assert (detail["status"], detail["exitcode"]) in {("finished", 0), ("stopped", -15)}, detail
    return True
