"""Testrium's Python bootstrap: the script the runner starts for every unit entrypoint, setup
and direct-tests process. It sits next to the runner's ``testrium`` package, so that directory
is ``sys.path[0]`` and the runner's package takes precedence over any installed one. The work is
in ``testrium._runner`` (a module, so its bytecode is cached)."""

import sys

if __name__ == "__main__":
    _loaded = sys.modules.get("testrium")
    if _loaded is not None and not getattr(_loaded, "TESTRIUM_RUNNER_PACKAGE", False):
        # A .pth file imported an installed testrium before us: forget it.
        for _name in [n for n in sys.modules if n == "testrium" or n.startswith("testrium.")]:
            del sys.modules[_name]
    if getattr(sys.flags, "safe_path", False):
        import os

        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from testrium._runner import main

    sys.exit(main(sys.argv))
