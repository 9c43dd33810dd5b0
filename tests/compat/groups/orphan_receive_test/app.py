from testrium.modules.events import Events_Manager


def run():
    Events_Manager(Unit="receiver", path=".").Set_Event("received", event_type="Receive", event_key="ghost-1")
