import os

GROUP = os.path.basename(os.path.dirname(os.path.abspath(__file__)))


def test_cwd_is_the_base_folder():
    assert os.path.isdir(GROUP), os.getcwd()
    assert not os.path.exists("checks.py"), os.getcwd()


def test_reads_the_units_file():
    with open(os.path.join(GROUP, "out.txt")) as handle:
        assert handle.read() == "hello"
