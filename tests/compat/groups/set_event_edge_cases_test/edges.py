import datetime

from testrium.modules.events import *  # noqa: F403 - as units written for the original do


def expect(error_type, message, action):
    try:
        action()
    except error_type as error:
        assert str(error) == message, f"{type(error).__name__}: {error}"
    except Exception as error:
        raise AssertionError(f"{type(error).__name__}: {error}, expected {error_type.__name__}")
    else:
        raise AssertionError(f"no {error_type.__name__}: {message}")


def run():
    # The star import gave the modules the original's module had imported.
    assert json.dumps([1]) == "[1]" and os.getcwd() and time.time()  # noqa: F405
    events = Events_Manager(Unit="edges", path=".")  # noqa: F405
    expect(TypeError, "'list' object is not a mapping",
           lambda: events.Set_Event("a", metadata=[1, 2], extra=1))
    expect(TypeError, "'NoneType' object is not a mapping",
           lambda: events.Set_Event("b", metadata=None, extra=1))
    expect(ValueError, "metadata must be a dictionary",
           lambda: events.Set_Event("c", metadata=None))
    expect(TypeError, "Object of type date is not JSON serializable",
           lambda: events.Set_Event("d", when=datetime.date(2020, 1, 2)))
    expect(TypeError, "Object of type set is not JSON serializable",
           lambda: events.Set_Event("e", metadata={"s": {1}}))
    assert events.completed_steps() == set(), events.completed_steps()
    events.Set_Event("keyless", event_key=None)
    events.Set_Event("sent", event_type="Send", event_key=7)
    events.Set_Event("received", event_type="Receive", event_key="7")
    keys = {event["StepCompleted"]: event["EventKey"] for event in events.list_events()}
    assert keys == {"keyless": None, "sent": "7", "received": "7"}, keys
    events.Set_Event("done")
