import threading

from testrium.common.utils import log_test_time, suppress_output, test_config, verify_condition
from testrium.modules.events import Events_Manager

ORDER = []
# Both parallel tests wait for each other: they pass only when they run at the same time.
BARRIER = threading.Barrier(2, timeout=10)


@test_config(priority=0)
def test_units_ran_first():
    everyone = Events_Manager(Unit="*", path=".")
    verify_condition("served" in everyone.completed_steps(unit="server"), "units did not run first")
    ORDER.append("first")


@test_config(priority=1, parallelize=True)
def test_parallel_left():
    BARRIER.wait()
    ORDER.append("parallel")


@test_config(priority=1, parallelize=True)
def test_parallel_right():
    BARRIER.wait()
    ORDER.append("parallel")


@test_config(priority=1)
def test_sequential_middle():
    ORDER.append("middle")


@test_config(priority=5)
@log_test_time
def test_last_sees_the_order():
    with suppress_output():
        print("hidden")
    verify_condition(ORDER == ["first", "middle", "parallel", "parallel"], f"order {ORDER}")
    Events_Manager(Unit="checker", path=".").Set_Event("verified")


def test_results():
    raise AssertionError("test_results is not a test")


def validate_test(test_name):
    return test_name.startswith("test_")
