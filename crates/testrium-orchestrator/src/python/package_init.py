"""Testrium's Python side, provided by the runner to the processes it starts (units, setup,
direct tests). Standard library only; it takes precedence over an installed ``testrium``
package for those processes."""

__version__ = "0.4.0"
TESTRIUM_RUNNER_PACKAGE = True
