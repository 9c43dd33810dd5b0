import os

from testrium.modules.events import Events_Manager


def run():
    run_dir = os.path.dirname(os.environ["TESTRIUM_EVENT_DB"])
    if not os.path.exists(os.path.join(run_dir, "service.ready")):
        raise RuntimeError("the setup had not run before the unit started")
    Events_Manager(Unit="client", path=".").Set_Event("setup-was-ready")
