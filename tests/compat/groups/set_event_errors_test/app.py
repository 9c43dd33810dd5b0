from testrium.modules.events import Events_Manager
from testrium.common.utils import verify_condition


def expect_value_error(action, message):
    try:
        action()
    except ValueError as error:
        verify_condition(str(error) == message, f"message {error!s}")
    else:
        raise AssertionError(f"no ValueError: {message}")


def run():
    events = Events_Manager(Unit="checker", path=".")
    everyone = Events_Manager(Unit="*", path=".")
    expect_value_error(lambda: everyone.Set_Event("x"), "Can't set an event for generalized unit '*'")
    expect_value_error(
        lambda: events.Set_Event("x", event_type="Bogus"),
        "Event type can only be one of: Default, Exception, Receive, Send",
    )
    expect_value_error(
        lambda: events.Set_Event("x", event_type="Send"),
        "Send and Receive events require event_key",
    )
    expect_value_error(
        lambda: events.Set_Event("x", event_type="Receive", event_key=""),
        "Send and Receive events require event_key",
    )
    expect_value_error(
        lambda: events.Set_Event("x", metadata=["not", "a", "dict"]),
        "metadata must be a dictionary",
    )
    verify_condition("x" not in everyone.completed_steps(), "a rejected probe was stored")
    events.Set_Event("errors-checked")
