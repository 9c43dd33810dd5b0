from testrium.modules.events import Events_Manager


def tests_results(data):
    events = Events_Manager(Unit="crasher", path=".").list_events()
    exceptions = [e for e in events if e["EventType"] == "Exception"]
    assert [e["StepCompleted"] for e in exceptions] == ["testrium-unit-exception:RuntimeError"]
    assert exceptions[0]["Metadata"] == {"message": "kaputt"}
    assert data["tests_results"][0]["name"] == "unit_processes"
    assert data["tests_results"][0]["passed"] is False
    return True
