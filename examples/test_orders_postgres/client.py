"""Places 10 orders through nginx (port given as the first argument): a Send `order-sent`
before each request, `order-confirmed` once nginx answered 201 from the order service."""

import json
import sys
import urllib.request

from testrium.modules.events import Events_Manager

probe = Events_Manager("client")
port = sys.argv[1]
for i in range(10):
    key = f"order-{i}"
    probe.Set_Event("order-sent", event_type="Send", event_key=key)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/orders",
        data=json.dumps({"order": key, "qty": i}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201, response.status
    probe.Set_Event("order-confirmed", event_key=key)
