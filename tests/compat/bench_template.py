"""Wall time of a whole `testrium run` of the original's 2-unit starter template
(groups/template_test): the original Python Testrium 0.3.0 against this implementation.

    python3 -m venv /tmp/orig-venv && /tmp/orig-venv/bin/pip install testrium==0.3.0
    cargo build --release -p testrium-cli
    python3 tests/compat/bench_template.py --original /tmp/orig-venv/bin/testrium \\
        --ours target/release/testrium -n 10

Each implementation runs in its own fresh base folder (under the system temp dir); every run
must pass. Prints median, min and max wall time, and the CPU time of the runs.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "groups", "template_test")


def bench(binary, runs):
    base = tempfile.mkdtemp(prefix="testrium-bench-")
    try:
        shutil.copytree(TEMPLATE, os.path.join(base, "template_test"))
        walls = []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(runs):
            start = time.perf_counter()
            code = subprocess.run(
                [binary, "run"], cwd=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ).returncode
            walls.append(time.perf_counter() - start)
            if code != 0:
                raise SystemExit(f"{binary} run exited {code}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / runs
        return statistics.median(walls), min(walls), max(walls), cpu
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", required=True, help="the original's testrium command")
    parser.add_argument("--ours", required=True, help="this implementation's testrium binary")
    parser.add_argument("-n", type=int, default=10, help="runs of each (default 10)")
    args = parser.parse_args()
    results = {}
    for name, binary in (("original", args.original), ("here", args.ours)):
        results[name] = bench(binary, args.n)
        median, low, high, cpu = results[name]
        print(
            f"{name:9} median {median * 1000:7.1f} ms  min {low * 1000:7.1f}  "
            f"max {high * 1000:7.1f}  cpu/run {cpu * 1000:6.1f} ms  (n={args.n})"
        )
    ratio = results["original"][0] / results["here"][0]
    print(f"median ratio {ratio:.1f}x; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
