import sys


def test_exits():
    sys.exit(0)
