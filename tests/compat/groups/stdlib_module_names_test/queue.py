import concurrent.futures

from testrium.modules.events import Events_Manager


def run():
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        doubled = sorted(pool.map(lambda x: x * 2, [1, 2, 3]))
    assert doubled == [2, 4, 6], doubled
    Events_Manager(Unit="consumer", path=".").Set_Event("consumed")
