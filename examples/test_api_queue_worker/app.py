"""A tiny job system: api -> queue (TCP, line protocol) -> worker.

Each job id is the event key: `api` records a Send when it submits a job, `queue` a Receive
when the job is enqueued and a Send when it hands it to the worker, `worker` a Receive when it
takes it and a Default `job-done` probe when it finishes.
"""

import json
import socket
import threading

from testrium.modules.events import Events_Manager

JOBS = 5


def _queue_port(events):
    for event in events.list_events(unit="queue"):
        if event["StepCompleted"] == "queue-ready":
            return int(event["Metadata"]["port"])
    raise RuntimeError("queue-ready probe carries no port")


def run_queue():
    events = Events_Manager(Unit="queue", path=".")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    pending = []
    lock = threading.Condition()
    done = threading.Event()

    def serve(conn):
        with conn, conn.makefile("rw") as stream:
            for line in stream:
                msg = json.loads(line)
                if msg["op"] == "put":
                    with lock:
                        pending.append(msg["job"])
                        events.Set_Event("job-received", event_type="Receive", event_key="submit-" + msg["job"])
                        events.Set_Event("job-enqueued")
                        lock.notify_all()
                    stream.write("ok\n")
                    stream.flush()
                elif msg["op"] == "take":
                    with lock:
                        while not pending:
                            lock.wait()
                        job = pending.pop(0)
                    events.Set_Event("job-dispatched", event_type="Send", event_key="dispatch-" + job)
                    stream.write(json.dumps({"job": job}) + "\n")
                    stream.flush()
                elif msg["op"] == "bye":
                    done.set()
                    return

    events.Set_Event("queue-ready", port=port)
    server.settimeout(0.2)
    while not done.is_set():
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    events.Set_Event("queue-drained")


def run_worker():
    events = Events_Manager(Unit="worker", path=".")
    port = _queue_port(events)
    events.Set_Event("worker-ready")
    with socket.create_connection(("127.0.0.1", port)) as conn, conn.makefile("rw") as stream:
        for _ in range(JOBS):
            stream.write(json.dumps({"op": "take"}) + "\n")
            stream.flush()
            job = json.loads(stream.readline())["job"]
            events.Set_Event("job-taken", event_type="Receive", event_key="dispatch-" + job)
            events.Set_Event("job-done", job=job)
    events.Set_Event("jobs-complete", jobs=JOBS)


def run_api():
    events = Events_Manager(Unit="api", path=".")
    port = _queue_port(events)
    with socket.create_connection(("127.0.0.1", port)) as conn, conn.makefile("rw") as stream:
        for n in range(JOBS):
            job = "job-%d" % n
            events.Set_Event("job-submitted", event_type="Send", event_key="submit-" + job)
            stream.write(json.dumps({"op": "put", "job": job}) + "\n")
            stream.flush()
            if stream.readline().strip() != "ok":
                raise RuntimeError("queue refused " + job)
        if not events.wait_for_event("jobs-complete", unit="worker", timeout=10):
            raise RuntimeError("worker never finished its jobs")
        stream.write(json.dumps({"op": "bye"}) + "\n")
        stream.flush()
    events.Set_Event("all-jobs-done")
