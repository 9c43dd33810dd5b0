def test_passes():
    assert True


def test_raises():
    raise RuntimeError("this test fails")
