"""Renders EXPECTED.md from expected.json and the first comment lines of each group's
config.toml: `python3 tests/compat/render_expected.py`."""
import json, os
os.chdir(os.path.dirname(os.path.abspath(__file__)))
d = json.load(open("expected.json"))
def first_comment(g):
    lines = []
    for line in open(f"groups/{g}/config.toml", encoding="utf-8-sig"):
        if line.startswith("#"):
            lines.append(line[1:].strip())
        else:
            break
    return " ".join(lines)
out = ["# Compatibility groups and the original's verdicts", "",
"Every folder under `groups/` is a test group in the original Testrium 0.3.0 format (written",
"here by hand). `tests/tests/compat.rs` copies each one alone into a fresh base folder, runs",
"`testrium run` there and asserts the exit code in `expected.json`.", "",
"The *original* column was measured by running the original on the same copies",
"(`measure_original.py` re-measures it and compares with the manifest):", "",
"```sh", "python3 -m venv /tmp/orig-venv && /tmp/orig-venv/bin/pip install testrium==0.3.0",
"python3 tests/compat/measure_original.py --original /tmp/orig-venv/bin/testrium",
"```", "",
"Exit codes: 0 passed, 1 a group failed, 2 no test group found, 3 configuration error.",
"*here* differs from *original* only where the original is buggy (see the notes and",
"`docs/MIGRATING.md`). *pending*: a known gap in this implementation, reported by the test",
"without failing it, until fixed. *timing-dependent*: the verdict depends on machine load, in the",
"original too; reported, not asserted.", "",
"| group | what it covers | original | here |", "|---|---|---|---|"]
for g in d["groups"]:
    here = str(g["expected_exit"])
    if g.get("differs_because"): here += " (differs, see notes)"
    if g.get("pending"): here += " (pending)"
    if g.get("timing_dependent"): here += " (timing-dependent)"
    if g.get("requires_original"): here += " (needs the original installed)"
    covers = first_comment(g['group'])
    if g.get("args"): covers += f" (`testrium run {' '.join(g['args'])}`)"
    out.append(f"| `{g['group']}` | {covers} | {g['original_exit']} | {here} |")
out.append(f"| *(empty base folder)* | no group at all | {d['empty_base']['original_exit']} | {d['empty_base']['expected_exit']} |")
out.append(f"| *(template_test + config_error_test)* | {d['mixed_base']['comment']} | {d['mixed_base']['original_exit']} | {d['mixed_base']['expected_exit']} |")
out += ["", "## Notes", ""]
for g in d["groups"]:
    if g.get("differs_because"):
        out.append(f"- `{g['group']}`: {g['differs_because']}.")
for g in d["groups"]:
    if g.get("pending"):
        out.append(f"- `{g['group']}` (pending): {g['pending']}.")
for g in d["groups"]:
    if g.get("timing_dependent"):
        out.append(f"- `{g['group']}` (timing-dependent): {g['timing_dependent']}.")
out += ["- `mixed_writers_test` needs an interpreter with the original installed: run the suite with",
"  `TESTRIUM_COMPAT_ORIGINAL_PYTHON=/tmp/orig-venv/bin/python` (the test then runs the group with",
"  `TESTRIUM_PYTHON` set to it). Without it, the test says it is skipped; the precedence of the",
"  runner's package is also covered by the orchestrator's unit tests with a fake installed package.", ""]
open("EXPECTED.md", "w").write("\n".join(out))
