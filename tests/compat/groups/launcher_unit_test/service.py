import time

from testrium.modules.events import Events_Manager

time.sleep(0.5)  # a service that takes a while to come up
events = Events_Manager(Unit="server", path=".")
events.Set_Event("server-ready")
if events.wait_for_event("request-sent", unit="client", timeout=20):
    events.Set_Event("request-received", event_type="Receive", event_key="req-1")
time.sleep(60)  # serve until the runner stops it
