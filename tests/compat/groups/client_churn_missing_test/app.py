from testrium.modules.events import Events_Manager


def churn(unit):
    # A new client for every probe, closed right after: connection churn.
    for i in range(40):
        manager = Events_Manager(Unit=unit, path=".")
        manager.Set_Event("churn-%d" % i)
        manager.connection.close()
    Events_Manager(Unit=unit, path=".").Set_Event("churn-done")


def run_c1():
    churn("c1")


def run_c2():
    churn("c2")


def run_c3():
    churn("c3")


def run_c4():
    churn("c4")


def run_c5():
    churn("c5")


def run_c6():
    churn("c6")


def run_c7():
    churn("c7")


def run_c8():
    churn("c8")
