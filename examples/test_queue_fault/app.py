"""A producer and a worker around a queue (the run's Events table), at-least-once."""
import time

from testrium.modules.events import Events_Manager

ORDERS = ["order-%d" % n for n in range(1, 6)]


def _steps(step):
    """The rows of `step`, every unit's, in the order they were recorded."""
    rows = Events_Manager(Unit="*", path=".").list_events()
    return [e for e in rows if e["StepCompleted"] == step]


def worker():
    events = Events_Manager(Unit="worker", path=".")
    events.Set_Event("worker-ready")
    taken = 0  # Send rows taken in this life of the worker
    while True:
        acked = {e["EventKey"] for e in _steps("order-acked")}
        sends = _steps("order-sent")
        for send in sends[taken:]:
            taken += 1
            key = send["EventKey"]
            if "ack-" + key in acked:
                continue  # already done: a re-send of an order acknowledged meanwhile
            events.Set_Event("order-received", event_type="Receive", event_key=key)
            time.sleep(0.05)  # the work; a fault may end this life here
            events.Set_Event("order-acked", event_key="ack-" + key)
            acked.add("ack-" + key)
        if len({e["EventKey"] for e in _steps("order-acked")}) == len(ORDERS):
            return
        events.wait_for_event("order-sent", unit="producer", timeout=0.2)


def producer():
    events = Events_Manager(Unit="producer", path=".")
    for key in ORDERS:
        events.Set_Event("order-sent", event_type="Send", event_key=key)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        acked = {e["EventKey"] for e in _steps("order-acked")}
        if all("ack-" + key in acked for key in ORDERS):
            events.Set_Event("all-acked")
            return
        time.sleep(1.0)  # an acknowledgement timeout, as producers have
        acked = {e["EventKey"] for e in _steps("order-acked")}
        for key in ORDERS:
            if "ack-" + key not in acked:
                events.Set_Event("order-sent", event_type="Send", event_key=key)
    raise RuntimeError("orders never acknowledged")
