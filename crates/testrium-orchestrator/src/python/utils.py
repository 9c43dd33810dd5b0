"""Helpers for direct test functions, compatible with ``testrium.common.utils`` of
Testrium 0.3.0. Standard library only (no colorama)."""

# No __all__: `from testrium.common.utils import *` exports what the original's did, modules
# included (time, os, sys, shutil, contextlib), and a colourless `Fore`.
import contextlib
import os
import shutil
import sys
import time


class Fore:
    """Stand-in for colorama's ``Fore`` (the original's ``from colorama import Fore``): no
    colours, so that code written against the original's names keeps working."""

    BLACK = RED = GREEN = YELLOW = BLUE = MAGENTA = CYAN = WHITE = RESET = ""
    LIGHTBLACK_EX = LIGHTRED_EX = LIGHTGREEN_EX = LIGHTYELLOW_EX = ""
    LIGHTBLUE_EX = LIGHTMAGENTA_EX = LIGHTCYAN_EX = LIGHTWHITE_EX = ""


def log_test_time(func):
    """Print how long each call of ``func`` took."""

    def wrapper(*args, **kwargs):
        start_time = time.time()
        result = func(*args, **kwargs)
        elapsed_time = time.time() - start_time
        print(f"{func.__name__} took {elapsed_time:.2f} seconds")
        return result

    wrapper.__name__ = getattr(func, "__name__", "wrapper")
    wrapper.__doc__ = getattr(func, "__doc__", None)
    wrapper.__wrapped__ = func
    return wrapper


def test_config(priority: int = 0, parallelize: bool = False):
    """Order a direct test function (lower ``priority`` first) and let tests of the same
    priority with ``parallelize=True`` run concurrently."""

    def decorator(func):
        func.testrium_priority = priority
        func.testrium_parallelize = parallelize
        return func

    return decorator


# Not a test itself, whatever the collector (pytest included) thinks of its name.
test_config.__test__ = False


def verify_condition(condition, message="Verification failed"):
    """Raise ``AssertionError(message)`` when ``condition`` is falsy."""
    if not condition:
        raise AssertionError(message)


@contextlib.contextmanager
def suppress_output():
    """Send ``sys.stdout`` and ``sys.stderr`` to the null device inside the block."""
    with open(os.devnull, "w") as devnull:
        old_stdout = sys.stdout
        old_stderr = sys.stderr
        sys.stdout = devnull
        sys.stderr = devnull
        try:
            yield
        finally:
            sys.stdout = old_stdout
            sys.stderr = old_stderr


def print_banner(message, color=Fore.GREEN):
    """Print ``message`` centred in a line of ``=`` as wide as the terminal."""
    term_width = shutil.get_terminal_size().columns
    padding = max(0, (term_width - len(message)) // 2)
    banner = "=" * padding + message + "=" * padding
    if len(banner) < term_width:
        banner += "=" * (term_width - len(banner))
    print(f"{color}{banner}")
