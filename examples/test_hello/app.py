from testrium.modules.events import Events_Manager


def run_server():
    server = Events_Manager(Unit="server", path=".")
    server.Set_Event("server-ready")
    if server.wait_for_event("request-sent", unit="client", timeout=5):
        server.Set_Event("request-received", event_type="Receive", event_key="req-001")
        # Its own key: the verifier links it to the request it answers (program order), and
        # the client's receive to it (same key). `cause="req-001"` would say so explicitly.
        server.Set_Event("response-sent", event_type="Send", event_key="resp-001")


def run_client():
    client = Events_Manager(Unit="client", path=".")
    client.Set_Event("request-sent", event_type="Send", event_key="req-001")
    if client.wait_for_event("response-sent", unit="server", timeout=5):
        client.Set_Event("response-received", event_type="Receive", event_key="resp-001")
