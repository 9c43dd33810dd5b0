def test_private():
    raise AssertionError("files starting with _ are not collected")
