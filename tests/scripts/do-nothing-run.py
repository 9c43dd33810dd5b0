"""The whole `testrium run` of a do-nothing 2-unit group (two `command = ["true"]` units)
against `sh -c 'true & true & wait'` (bare spawn), for one or more builds, interleaved round
after round in one call (issue 15's target: < 10 ms over bare spawn). The machine is shared
and noisy: compare the builds' figures from the same call.

    cargo build --release -p testrium-cli
    python3 tests/scripts/do-nothing-run.py [-n 60] BIN [BIN ...]

Prints, per build, the median and quartiles of the wall time, and the median over bare
spawn; and the 1-minute load average before and after.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=60, help="rounds (default 60)")
    parser.add_argument("bins", nargs="+", help="testrium binaries")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="testrium-do-nothing-")
    try:
        group = os.path.join(base, "test_noop")
        os.makedirs(os.path.join(group, "units"))
        with open(os.path.join(group, "config.toml"), "w") as f:
            f.write('["Configs"]\nunits = ["a", "b"]\n')
        for init, name in enumerate(("a", "b"), start=1):
            with open(os.path.join(group, "units", f"{name}.toml"), "w") as f:
                f.write(f'["{name}"]\ninit = {init}\ncommand = ["true"]\n')
        print(f"load average before: {os.getloadavg()}")
        sh, runs = [], {b: [] for b in args.bins}
        for _ in range(args.n):
            start = time.perf_counter()
            subprocess.run(["sh", "-c", "true & true & wait"], check=True)
            sh.append(time.perf_counter() - start)
            for binary in args.bins:
                start = time.perf_counter()
                subprocess.run(
                    [os.path.abspath(binary), "run", "-q"],
                    cwd=base,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                runs[binary].append(time.perf_counter() - start)
        bare = statistics.median(sh)
        print(f"sh -c 'true & true & wait': median {bare * 1e3:.2f} ms (n={args.n})")
        for binary, times in runs.items():
            q1, median, q3 = statistics.quantiles(times, n=4)
            print(
                f"{binary}: median {median * 1e3:.2f} ms (quartiles {q1 * 1e3:.2f}-"
                f"{q3 * 1e3:.2f}), over bare spawn {(median - bare) * 1e3:.2f} ms"
            )
        print(f"load average after: {os.getloadavg()}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
