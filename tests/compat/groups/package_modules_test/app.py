import os


def run():
    import testrium
    import testrium.common
    import testrium.modules
    import testrium.modules.events
    from testrium import modules
    from testrium.common import utils
    from testrium.common.sql_pool import SQLiteConnectionPool
    from testrium.common.utils import (
        Fore,
        log_test_time,
        print_banner,
        suppress_output,
        test_config,
        verify_condition,
    )
    from testrium.modules.events import (
        EVENT_DB_ENV,
        VALID_EVENT_TYPES,
        Events_Manager,
        Results_Manager,
        UnitStatus_Manager,
        resolve_database_path,
    )

    assert modules.events is testrium.modules.events
    assert callable(utils.test_config) and callable(test_config)
    assert callable(log_test_time) and callable(print_banner) and callable(suppress_output)
    assert callable(verify_condition) and isinstance(Fore.GREEN, str)
    assert callable(Results_Manager) and callable(UnitStatus_Manager)
    assert VALID_EVENT_TYPES == {"Default", "Exception", "Send", "Receive"}
    database = resolve_database_path(".")
    assert database == os.environ[EVENT_DB_ENV]

    pool = SQLiteConnectionPool(2, database)
    connection = pool.get_connection()
    pool.get_connection()
    try:
        pool.get_connection()
    except Exception as exc:
        assert str(exc) == "No available connections in the pool"
    else:
        raise AssertionError("a third connection from a pool of two")
    pool.release_connection(connection)
    assert pool.get_connection() is connection

    Events_Manager(Unit="importer", path=".").Set_Event("imported")
    assert connection.execute(
        "SELECT COUNT(*) FROM Events WHERE StepCompleted = 'imported'"
    ).fetchone() == (1,)
    pool.close_all_connections()
