def run():
    raise RuntimeError("this group fails whenever it runs")
