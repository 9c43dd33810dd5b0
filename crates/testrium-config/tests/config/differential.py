"""Differential test against the original Testrium 0.3.0 (run with its interpreter).

usage: python differential.py BASE SEED COUNT

Writes COUNT random groups (known keys, mostly valid values) under BASE, then prints the JSON list
of the groups the original's loader accepts (enabled ones: disabled groups are skipped by both).
"""
import contextlib
import io
import json
import os
import random
import shutil
import sys

import toml

random.seed(int(sys.argv[2]))
base = sys.argv[1]
shutil.rmtree(base, ignore_errors=True)
os.makedirs(base)

POOL = [True, False, 0, 1, 5, 10, 11, -1, 0.5, 2.5, "x", "", "All", "DEBUG", "INFO",
        ["DEBUG"], ["INFO", "WARNING"], ["BAD"], [], ["a"], ["a", "b"], ["b"], ["c"], [1],
        "Resume", "Reload", "Resume-ALL", "m:f", "test_case:run", "bad", ":f",
        ["p", "q"], ["p", "p"], [""], "src-ready", {"k": "v"}]
B = [True, False]
VALID = {"enabled": [True, True, True, False], "timeout": [1, 0.5, 30, 1e6], "repeat": [0, 3, 10],
  "debug-modes": [[], ["DEBUG"], ["INFO", "EXCEPT"], ["DEBUG", "DEBUG"]],
  "test-modes": ["All", "INFO", ["WARNING"], []],
  "use-ai": B, "diagnostics": B, "detect-bad-behavior": B, "save-resume": B, "gen-metrics": B,
  "save-metrics": B, "save-scores": B, "analitics": B, "save-analitics": B, "save-performance": B,
  "init": [0, 1, 2, 7], "entrypoint": ["m:f", "pkg.mod:run", "a.b.c:d", " m : f ", "m:f:g", "é:f"],
  "ready_event": ["p", "q", "x y"], "ready_timeout": [1, 0.1, 100], "timeout": [1, 2.5],
  "use_setup": B, "in-except": ["Resume", "Reload", "Resume-ALL"],
  "unit_dependencies": [[], ["a"], ["b"]], "unity_depencies": [[], ["a"], ["b"]],
  "events": [[], ["p"], ["p", "q"], ["p q", "x:y"]]}
CONFIG_KEYS = ["enabled", "timeout", "repeat", "debug-modes", "test-modes", "use-ai", "diagnostics",
               "detect-bad-behavior", "save-resume", "gen-metrics", "save-metrics", "save-scores",
               "analitics", "save-analitics", "save-performance"]
UNIT_KEYS = ["init", "enabled", "entrypoint", "ready_event", "ready_timeout", "timeout", "use_setup",
             "in-except", "unit_dependencies", "unity_depencies", "events"]

for g in range(int(sys.argv[3])):
    name = f"test_{g:04}"
    d = os.path.join(base, name)
    os.makedirs(os.path.join(d, "units"))
    configs = {"units": ["a", "b"]}
    for k in random.sample(CONFIG_KEYS, random.randint(0, 4)):
        configs[k] = random.choice(VALID.get(k, POOL)) if random.random() < 0.8 else random.choice(POOL)
    with open(os.path.join(d, "config.toml"), "w") as f:
        toml.dump({"Configs": configs}, f)
    for i, u in enumerate(["a", "b"]):
        unit = {"init": i, "events": ["p"]}
        for k in random.sample(UNIT_KEYS, random.randint(0, 3)):
            unit[k] = random.choice(VALID.get(k, POOL)) if random.random() < 0.8 else random.choice(POOL)
        with open(os.path.join(d, "units", u + ".toml"), "w") as f:
            toml.dump({u: unit}, f)

from testrium.common.loaders import load_config, resolve_units
ok = []
for g in range(int(sys.argv[3])):
    name = f"test_{g:04}"
    d = os.path.join(base, name)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            cfg = load_config(os.path.join(d, "config.toml"))
            if not cfg["Configs"].get("enabled", True):
                continue
            resolve_units(os.path.join(d, "units"), os.path.join(d, "config.toml"))
        ok.append(name)
    except Exception:
        pass
print(json.dumps(ok))
