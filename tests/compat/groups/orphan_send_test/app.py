from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="sender", path=".").Set_Event("sent", event_type="Send", event_key="lost-1")
