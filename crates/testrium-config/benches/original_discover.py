# The original Testrium 0.3.0 discovery, timed like benches/discover.rs (median of 11 runs):
#   python original_discover.py BASE   (with the original installed, e.g. /tmp/orig-venv/bin/python)
import io, contextlib, statistics, sys, time
from testrium.common.loaders import discover_tests
base = sys.argv[1]
samples = []
for _ in range(11):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        t = time.perf_counter()
        found = discover_tests(base, [])
        samples.append(time.perf_counter() - t)
print(len(found), "groups; median %.2f ms" % (statistics.median(samples) * 1e3))
