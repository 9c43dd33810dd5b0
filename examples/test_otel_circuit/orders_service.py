"""An order service instrumented with OpenTelemetry only (no Testrium code).

The exporter is configured by the standard OTEL_* variables the runner exports
(endpoint, protocol, headers with the run's token, service name, batch delay).
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

provider = TracerProvider(resource=Resource.create({}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("orders")

# ORDERS_BROKEN=1: the service answers but never stores the order (the "order-stored" span
# is missing and the server span ends in ERROR).
BROKEN = os.environ.get("ORDERS_BROKEN") == "1"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        parent = propagate.extract(dict(self.headers))
        with tracer.start_as_current_span(
            "POST /orders", context=parent, kind=SpanKind.SERVER
        ) as span:
            length = int(self.headers.get("Content-Length", "0"))
            order = json.loads(self.rfile.read(length) or b"{}")
            span.set_attribute("order.id", order.get("id", ""))
            if BROKEN:
                span.set_status(Status(StatusCode.ERROR, "order store unavailable"))
            else:
                with tracer.start_as_current_span("order-stored") as stored:
                    stored.set_attribute("order.items", int(order.get("items", 1)))
            body = json.dumps({"stored": not BROKEN}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def stop(_signum, _frame):
    # SystemExit runs the SDK's exit handler, which flushes the last batch.
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
server = HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
try:
    server.serve_forever()
finally:
    provider.shutdown()
