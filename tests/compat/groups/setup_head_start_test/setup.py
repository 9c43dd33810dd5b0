import os
import threading


def main():
    run_dir = os.path.dirname(os.environ["TESTRIUM_EVENT_DB"])
    with open(os.path.join(run_dir, "service.ready"), "w") as flag:
        flag.write("up")
    threading.Event().wait()  # serve until the runner tears the setup down
