def main():
    raise RuntimeError("broker: cannot bind 127.0.0.1:5672")
