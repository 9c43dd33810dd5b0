def test_accepted():
    pass


def test_rejected():
    pass


def validate_test(test_name):
    return test_name != "test_rejected"
