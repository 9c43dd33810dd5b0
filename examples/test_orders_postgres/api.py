"""The order service: a plain HTTP server (standard library) on the port the runner picked
for it (`TESTRIUM_PORT_API`), storing each order in PostgreSQL through `psql` (port
`DB_PORT`, the db unit's port, from the unit's `env`). It records a Receive `order-received`
under the order's key when a request arrives and `order-stored` once the row is in the
database."""

import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from testrium.modules.events import Events_Manager

probe = Events_Manager("api")


def psql(sql):
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", os.environ["DB_PORT"], "-U", "app",
         "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qtAc", sql],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = body["order"]
        probe.Set_Event("order-received", event_type="Receive", event_key=key)
        psql(f"insert into orders(id, qty) values ('{key}', {int(body['qty'])})")
        probe.Set_Event("order-stored", event_key=key)
        answer = json.dumps({"stored": key}).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def main():
    psql("create table if not exists orders(id text primary key, qty int)")
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["TESTRIUM_PORT_API"])), Handler)
    probe.Set_Event("api-listening")
    server.serve_forever()
