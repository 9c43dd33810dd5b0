"""Python units at fork speed (issue 15): whole `testrium run` wall times, original Testrium
0.3.0 against this implementation, interleaved round after round in one session.

Two benchmarks (each contender in its own fresh base folder in the system temp dir; every run
must pass):

1. `circuit`: the original's 2-unit starter template (groups/template_test), together with
   the floor (`floor.py`, the same circuit with no framework: the parent creates the database,
   starts `target`, waits for `target-ready`, starts `source`, waits for the 6 probes), its
   units forked (`floor.py 0.001 fork`) and exec'd (`floor.py 0.001 exec`). Targets: here ≥ 15×
   faster than the original, ≤ 1.5× the forked floor.
2. `units`: N independent Python entrypoint units (each the `run` function of its own small
   module, recording one required probe), for each N of `--units` (default 100 and 500). Target: here ≥ 3× faster than the
   original.

    python3 -m venv /tmp/orig-venv && /tmp/orig-venv/bin/pip install testrium==0.3.0
    CARGO_TARGET_DIR=target cargo build --release -p testrium-cli
    PY=$(python3 -c 'import sys; print(sys.executable)')   # not the pyenv shim
    $PY tests/compat/bench_fork.py --original /tmp/orig-venv/bin/testrium \\
        --ours target/release/testrium --floor ../shared/bench/floor.py -n 20 --units-rounds 5
    # like for like: the floor and ours on a virtual environment's interpreter too (the
    # original's never processes the base interpreter's site-packages .pth files)
    python3 -m venv /tmp/bench-venv
    $PY tests/compat/bench_fork.py ... --python /tmp/bench-venv/bin/python3

Wall time is measured around the whole command (the runner's own start included; for the
floor, its interpreter's start too). Prints medians, minimums, the ratios and the 1-minute
load average before and after. `--before BIN` adds another build of testrium (the commit
before a change) to both benchmarks, interleaved like the others.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "groups", "template_test")


FAILED = {}


def timed(argv, cwd, env=None, may_fail=False):
    """Runs argv to its end; returns the wall time in seconds. A failed run stops the bench,
    unless `may_fail` (the original, whose own bugs fail some of its runs: those are
    counted and reported, their time kept)."""
    start = time.perf_counter()
    result = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - start
    if result.returncode != 0 and may_fail:
        FAILED[argv[0]] = FAILED.get(argv[0], 0) + 1
        return wall
    if result.returncode != 0:
        raise SystemExit(
            f"{argv} in {cwd} exited {result.returncode}: {result.stderr.decode()[-2000:]}"
        )
    return wall


def write_units_group(base, count):
    """`units<count>_test`: `count` independent entrypoint units `u<i>`, each the function
    `run` of its own small module `u<i>.py`, recording its required probe `done`. (One
    module holding every unit's function would be compiled again by each unit where
    bytecode is not written, as on these machines: the bench would measure the compiler.)"""
    group = os.path.join(base, f"units{count}_test")
    os.makedirs(os.path.join(group, "units"))
    names = [f"u{i}" for i in range(count)]
    with open(os.path.join(group, "config.toml"), "w") as config:
        config.write('["Configs"]\nunits = [%s]\ntimeout = 300\n'
                     % ", ".join(f'"{n}"' for n in names))
    for init, name in enumerate(names):
        with open(os.path.join(group, f"{name}.py"), "w") as module:
            module.write("from testrium.modules.events import Events_Manager\n\n\n"
                         f"def run():\n    Events_Manager(Unit=\"{name}\", path=\".\")"
                         ".Set_Event(\"done\")\n")
        with open(os.path.join(group, "units", f"{name}.toml"), "w") as unit:
            unit.write(f'["{name}"]\ninit = {init}\nentrypoint = "{name}:run"\n'
                       f'events = ["done"]\n')


def summary(name, walls):
    return (f"{name:14} median {statistics.median(walls) * 1000:8.1f} ms   "
            f"min {min(walls) * 1000:8.1f} ms   (n={len(walls)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", required=True, help="the original's testrium command")
    parser.add_argument("--ours", required=True, help="this implementation's testrium binary")
    parser.add_argument("--floor", required=True, help="floor.py (the no-framework circuit)")
    parser.add_argument("--before", help="optional: another testrium binary (e.g. a build of "
                        "the commit before the fork server), run as a fourth contender")
    parser.add_argument("-n", type=int, default=20, help="rounds of the circuit (default 20)")
    parser.add_argument("--units", default="100,500", help="unit counts (default 100,500)")
    parser.add_argument("--units-rounds", type=int, default=5,
                        help="rounds of each unit count (default 5)")
    parser.add_argument("--only", choices=("circuit", "units"), help="run one benchmark")
    parser.add_argument("--python", help="the interpreter the floor and this implementation's "
                        "units run on (default: the one running this script). The original runs "
                        "on its own virtual environment's: pass a virtual environment's "
                        "interpreter of the same Python to compare like with like")
    args = parser.parse_args()
    if args.python is None:
        args.python = sys.executable
    # Ours finds its interpreter through TESTRIUM_PYTHON, as a user would point it at one.
    args.ours_env = dict(os.environ, TESTRIUM_PYTHON=args.python)
    print(f"interpreter of the floor and of ours: {args.python}")
    for name in ("original", "ours", "floor", "before"):
        command = getattr(args, name)
        if command and os.sep in command:
            setattr(args, name, os.path.abspath(command))
    print(f"load average before: {os.getloadavg()}")
    temp = tempfile.mkdtemp(prefix="testrium-bench-fork-")
    try:
        if args.only in (None, "circuit"):
            circuit(args, temp)
        if args.only in (None, "units"):
            for count in [int(c) for c in args.units.split(",") if c]:
                units(args, temp, count)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}")


def circuit(args, temp):
    bases = {}
    for name in ("original", "here", "before"):
        bases[name] = os.path.join(temp, f"circuit-{name}")
        shutil.copytree(TEMPLATE, os.path.join(bases[name], "template_test"))
    floor_dir = os.path.join(temp, "floor")
    os.makedirs(floor_dir)
    floor_env = dict(os.environ, SEEDBENCH=floor_dir)
    samples = {"original": [], "here": [], "floor fork": [], "floor exec": []}
    if args.before:
        samples["before"] = []
        timed([args.before, "run"], bases["before"], args.ours_env)
    # One warm-up run each (caches, the runner's package).
    timed([args.ours, "run"], bases["here"], args.ours_env)
    timed([args.original, "run"], bases["original"])
    for _ in range(args.n):
        samples["original"].append(timed([args.original, "run"], bases["original"]))
        samples["here"].append(timed([args.ours, "run"], bases["here"], args.ours_env))
        samples["floor fork"].append(
            timed([args.python, args.floor, "0.001", "fork"], floor_dir, floor_env))
        samples["floor exec"].append(
            timed([args.python, args.floor, "0.001", "exec"], floor_dir, floor_env))
        if args.before:
            samples["before"].append(
                timed([args.before, "run"], bases["before"], args.ours_env))
    print("\n2-unit Python circuit, whole run:")
    for name, walls in samples.items():
        print(summary(name, walls))
    median = {name: statistics.median(walls) for name, walls in samples.items()}
    print(f"here is {median['original'] / median['here']:.1f}x faster than the original "
          f"(target >= 15x); {median['here'] / median['floor fork']:.2f}x the forked floor "
          f"(target <= 1.5x); {median['here'] / median['floor exec']:.2f}x the exec'd floor; "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.before:
        print(f"here is {median['before'] / median['here']:.1f}x faster than before")


def units(args, temp, count):
    bases = {}
    for name in ("original", "here", "before"):
        bases[name] = os.path.join(temp, f"units{count}-{name}")
        write_units_group(bases[name], count)
    samples = {"original": [], "here": []}
    if args.before:
        samples["before"] = []
    for _ in range(args.units_rounds):
        samples["original"].append(
            timed([args.original, "run"], bases["original"], may_fail=True))
        samples["here"].append(timed([args.ours, "run"], bases["here"], args.ours_env))
        if args.before:
            samples["before"].append(
                timed([args.before, "run"], bases["before"], args.ours_env))
        # Run folders pile up: keep the bases small.
        for base in bases.values():
            shutil.rmtree(os.path.join(base, ".testrium"), ignore_errors=True)
    print(f"\n{count} independent Python units, whole run:")
    for name, walls in samples.items():
        print(summary(name, walls))
    original = statistics.median(samples["original"])
    here = statistics.median(samples["here"])
    if args.before:
        print(f"here is {statistics.median(samples['before']) / here:.1f}x faster than before")
    if FAILED:
        print(f"failed runs so far (the original's own bugs): {FAILED}")
    print(f"here is {original / here:.1f}x faster than the original (target >= 3x); "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
