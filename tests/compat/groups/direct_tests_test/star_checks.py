from testrium.common.utils import *  # noqa: F403 - the original's star export, modules included


def test_star_import_gives_the_original_names():
    verify_condition(callable(time.time) and os.sep and sys.version, "time, os, sys")  # noqa: F405
    verify_condition(callable(shutil.which) and callable(contextlib.contextmanager), "shutil")  # noqa: F405
    verify_condition(isinstance(Fore.GREEN, str), "Fore")  # noqa: F405
    verify_condition(callable(print_banner) and callable(log_test_time), "helpers")  # noqa: F405
