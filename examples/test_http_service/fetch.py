"""Fetches the page the `web` unit serves and records what it got."""
import os
import urllib.request

from testrium.modules.events import Events_Manager

port = os.environ["TESTRIUM_WEB_PORT_HTTP"]
with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
    body = response.read().decode()
assert "http.server" in body, body
Events_Manager(Unit="fetcher", path=".").Set_Event(
    "page-fetched", status=response.status, length=len(body)
)
