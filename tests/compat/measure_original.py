"""Re-measure the `original_exit` column of expected.json: run the original Python Testrium
0.3.0 on every group (each alone in a fresh base folder) and on an empty base folder, and
compare with the manifest.

    python3 -m venv /tmp/orig-venv && /tmp/orig-venv/bin/pip install testrium==0.3.0
    python3 tests/compat/measure_original.py --original /tmp/orig-venv/bin/testrium

Exits 1 when a measured exit code differs from the manifest. `mixed_writers_test` needs the
original importable by the units: with the original's own runner that is always the case.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(original, base, extra=()):
    start = time.perf_counter()
    code = subprocess.run(
        [original, "run", *extra], cwd=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=300,
    ).returncode
    return code, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", required=True, help="the original's testrium command")
    args = parser.parse_args()
    with open(os.path.join(HERE, "expected.json")) as handle:
        manifest = json.load(handle)
    mismatches = 0
    for entry in manifest["groups"]:
        group = entry["group"]
        base = tempfile.mkdtemp(prefix="testrium-original-")
        try:
            shutil.copytree(os.path.join(HERE, "groups", group), os.path.join(base, group))
            code, seconds = run(args.original, base, entry.get("args", []))
        finally:
            shutil.rmtree(base, ignore_errors=True)
        same = code == entry["original_exit"]
        mismatches += not same
        print(f"{group:32} exit {code}  manifest {entry['original_exit']}  {seconds:5.2f}s"
              + ("" if same else "  <-- differs"))
    base = tempfile.mkdtemp(prefix="testrium-original-")
    try:
        os.makedirs(os.path.join(base, "notes"))
        code, _ = run(args.original, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    same = code == manifest["empty_base"]["original_exit"]
    mismatches += not same
    print(f"{'(empty base folder)':32} exit {code}  manifest "
          f"{manifest['empty_base']['original_exit']}" + ("" if same else "  <-- differs"))
    raise SystemExit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
