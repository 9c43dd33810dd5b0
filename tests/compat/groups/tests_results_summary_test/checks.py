def test_one():
    pass


def tests_results(data):
    expected_keys = {"duration", "passed", "tests_results", "events_completed", "events_missing", "correlations"}
    assert set(data) == expected_keys, sorted(data)
    names = [test["name"] for test in data["tests_results"]]
    assert names == ["unit_processes", "test_one"], names
    assert all({"name", "passed", "total_time"} <= set(test) for test in data["tests_results"])
    assert data["passed"] is True
    assert data["duration"] >= 0
    assert data["events_completed"] == [
        {"unit": "server", "step": "sent"},
        {"unit": "server", "step": "received"},
    ], data["events_completed"]
    assert data["events_missing"] == []
    correlations = data["correlations"]
    assert len(correlations["paired"]) == 1 and correlations["paired"][0]["event_key"] == "s-1"
    assert correlations["orphan_sends"] == [] and correlations["duplicate_keys"] == []
    return True
