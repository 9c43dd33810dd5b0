"""Usage: python-client-cost.py PYTHON ROUNDS OLD_TREE NEW_TREE (folders holding testrium/modules/events.py)

Interleaved: the old and new probe client, N rounds: `-X importtime` of the module and the
CPU (user+sys) of a whole `python -S` process that imports it and records one probe."""
import os, resource, shutil, statistics, subprocess, sys, tempfile
PY = sys.argv[1]; N = int(sys.argv[2]); trees = {"old": sys.argv[3], "new": sys.argv[4]}
probe = ("from testrium.modules.events import Events_Manager;"
         "Events_Manager(Unit='a', path=%r).Set_Event('x')")
imp = {k: [] for k in trees}; cpu = {k: [] for k in trees}; cpu_pass = []
def child_cpu(cmd, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, check=True, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
for i in range(N):
    for name, tree in trees.items():
        env = dict(os.environ, PYTHONPATH=tree); env.pop("TESTRIUM_EVENT_DB", None)
        out = subprocess.run([PY, "-S", "-X", "importtime", "-c", "import testrium.modules.events"],
                             env=env, check=True, capture_output=True, text=True).stderr
        line = [l for l in out.splitlines() if l.endswith("testrium.modules.events")][0]
        imp[name].append(int(line.split("|")[1]) / 1000)
        d = tempfile.mkdtemp(prefix="testrium-pyclient-")
        cpu[name].append(child_cpu([PY, "-S", "-c", probe % d], env))
        shutil.rmtree(d, ignore_errors=True)
    cpu_pass.append(child_cpu([PY, "-S", "-c", "pass"], dict(os.environ)))
for name in trees:
    print(f"{name}: import (cumulative, -X importtime) median {statistics.median(imp[name]):.1f} ms "
          f"min {min(imp[name]):.1f}; CPU of a process importing it + 1 probe: median "
          f"{statistics.median(cpu[name]):.1f} ms min {min(cpu[name]):.1f}")
print(f"bare `python -S -c pass`: CPU median {statistics.median(cpu_pass):.1f} ms min {min(cpu_pass):.1f}")
