"""Whole `testrium run` of the original's 2-unit starter template (groups/template_test):
the original Python Testrium 0.3.0 against this implementation, interleaved in one session,
with the bare cost of the same two Python processes started by a hand-written script (timed
from the first unit's start to the last unit's exit).

    python3 -m venv /tmp/orig-venv && /tmp/orig-venv/bin/pip install testrium==0.3.0
    cargo build --release -p testrium-cli
    python3 tests/compat/bench_vs_original.py --original /tmp/orig-venv/bin/testrium \\
        --ours target/release/testrium -n 20

Each contender runs in its own fresh base folder (system temp dir); each round runs the three
in turn (original, here, bare), so machine load affects them alike. Every run must pass.
Wall time is measured around the whole command; CPU time includes the units (rusage of
waited-for descendants); peak RSS is the runner process's own VmHWM, read from /proc every
millisecond until it exits (units are separate processes and not counted).
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "groups", "template_test")


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_command(argv, cwd, env=None):
    """Runs argv; returns (wall s, cpu s, peak RSS KiB of the process itself)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, vm_hwm_kib(process.pid) or 0)
        time.sleep(0.001)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} exited {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, peak


BARE = r'''
import os, sqlite3, subprocess, sys, time
python, group, database, timing = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
began = time.perf_counter()

def start(function):
    env = dict(os.environ, TESTRIUM_EVENT_DB=database)
    code = f"import test_case; test_case.{function}()"
    return subprocess.Popen([python, "-c", code], cwd=group, env=env)

def wait_for(step):
    connection = sqlite3.connect(database, timeout=30)
    while True:
        try:
            row = connection.execute(
                "SELECT 1 FROM Events WHERE StepCompleted = ?", (step,)).fetchone()
        except sqlite3.OperationalError:
            row = None
        if row:
            return
        time.sleep(0.001)

target = start("run_target")
wait_for("target-ready")
source = start("run_source")
code = source.wait() or target.wait()
with open(timing, "w") as out:
    out.write(str(time.perf_counter() - began))
sys.exit(code)
'''


def bare_command(base, package_dir):
    """The same two processes, started by hand: target, then source once target is ready."""
    database = os.path.join(base, "Data.db")
    if os.path.exists(database):
        os.remove(database)
    env = dict(os.environ, PYTHONPATH=package_dir)
    timing = os.path.join(base, "elapsed")
    return [sys.executable, "-c", BARE, sys.executable, os.path.join(base, "template_test"),
            database, timing], env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", required=True, help="the original's testrium command")
    parser.add_argument("--ours", required=True, help="this implementation's testrium binary")
    parser.add_argument("-n", type=int, default=20, help="rounds (default 20)")
    args = parser.parse_args()
    # Each command runs inside its own base folder: a relative path given on the command line
    # (`target/release/testrium`) is resolved here, against the folder the bench was started in.
    for name in ("original", "ours"):
        command = getattr(args, name)
        if os.sep in command:
            setattr(args, name, os.path.abspath(command))

    bases = {}
    for name in ("original", "here", "bare"):
        bases[name] = tempfile.mkdtemp(prefix=f"testrium-bench-{name}-")
        shutil.copytree(TEMPLATE, os.path.join(bases[name], "template_test"))
    # The bare script uses the runner's own probe client (installed by one run of ours).
    run_command([args.ours, "run"], bases["here"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    packages = sorted(
        (os.path.join(cache, "testrium", d) for d in os.listdir(os.path.join(cache, "testrium"))
         if d.startswith("python-package-")),
        key=os.path.getmtime,
    )
    bare_argv, bare_env = bare_command(bases["bare"], packages[-1])

    samples = {name: [] for name in bases}
    try:
        for _ in range(args.n):
            samples["original"].append(run_command([args.original, "run"], bases["original"]))
            samples["here"].append(run_command([args.ours, "run"], bases["here"]))
            bare_argv, bare_env = bare_command(bases["bare"], packages[-1])
            _, cpu, _ = run_command(bare_argv, bases["bare"], bare_env)
            with open(os.path.join(bases["bare"], "elapsed")) as elapsed:
                # From the first unit's start to the last exit: the driver's own start is not
                # part of the work (a runner's own start is, for the two others).
                samples["bare"].append((float(elapsed.read()), cpu, 0))
    finally:
        for base in bases.values():
            shutil.rmtree(base, ignore_errors=True)

    print(f"{'':9} {'median':>9} {'min':>9} {'max':>9} {'cpu/run':>9} {'peak RSS':>9}  (n={args.n})")
    for name, runs in samples.items():
        walls = [r[0] for r in runs]
        cpu = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs) / 1024
        rss_text = f"{rss:7.1f}MiB" if rss else "        -"
        print(f"{name:9} {statistics.median(walls) * 1000:7.1f}ms {min(walls) * 1000:7.1f}ms "
              f"{max(walls) * 1000:7.1f}ms {cpu * 1000:7.1f}ms {rss_text}")
    original = statistics.median(r[0] for r in samples["original"])
    here = statistics.median(r[0] for r in samples["here"])
    bare = statistics.median(r[0] for r in samples["bare"])
    print(f"here is {original / here:.1f}x faster than the original (median); "
          f"overhead over the bare script {(here - bare) * 1000:.0f} ms; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
