"""Helpers for direct test functions: ``from testrium.common.utils import test_config``."""
