import os
import threading
import time


def main():
    time.sleep(0.1)  # a little work before the "service" is up
    run_dir = os.path.dirname(os.environ["TESTRIUM_EVENT_DB"])
    with open(os.path.join(run_dir, "service.ready"), "w") as flag:
        flag.write("up")
    threading.Event().wait()  # serve until the runner tears the setup down
