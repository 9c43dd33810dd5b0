from testrium.modules.events import Events_Manager


def serve():
    events = Events_Manager(Unit="server", path=".")
    events.Set_Event("sent", event_type="Send", event_key="s-1")
    events.Set_Event("received", event_type="Receive", event_key="s-1")
