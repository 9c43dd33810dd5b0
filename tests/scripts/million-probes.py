"""Usage: million-probes.py OLD_TESTRIUM NEW_TESTRIUM TESTRIUM_FIXTURE_HOSTILE ROUNDS PAIRS

1M-probe run, old and new `testrium run` interleaved: the time after the units phase
(stored outcome: total - units_phase - teardown) and the runner's peak RSS (/usr/bin/time)."""
import glob, json, os, shutil, sqlite3, statistics, subprocess, sys
old, new, hostile, rounds, pairs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
import tempfile
base = tempfile.mkdtemp(prefix="testrium-million-")
shutil.rmtree(base, ignore_errors=True)
g = os.path.join(base, "test_million"); os.makedirs(os.path.join(g, "units"))
open(os.path.join(g, "config.toml"), "w").write('["Configs"]\ntimeout = 600\nunits = ["m"]\n')
open(os.path.join(g, "units", "m.toml"), "w").write(
    '[m]\ninit = 1\ncommand = ["%s", "pairs:%d:m", "emit:m-done"]\nevents = ["m-done"]\n' % (hostile, pairs))
res = {"old": [], "new": []}
for r in range(rounds):
    for name, cli in (("old", old), ("new", new)):
        shutil.rmtree(os.path.join(base, ".testrium"), ignore_errors=True)
        p = subprocess.run(["/usr/bin/time", "-f", "%M %e", cli, "run"], cwd=base,
                           capture_output=True, text=True)
        rss_kib, wall = p.stderr.strip().splitlines()[-1].split()
        db = glob.glob(os.path.join(base, ".testrium/runs/*/Data.db"))[0]
        con = sqlite3.connect(db)
        out = json.loads(con.execute("SELECT Value FROM TestriumMeta WHERE Key='testrium.outcome'").fetchone()[0])
        rows = con.execute("SELECT COUNT(*) FROM Events").fetchone()[0]
        t = out["timings"]
        after = t["total"] - t["units_phase"] - t["teardown"]
        res[name].append((after, int(rss_kib) / 1024, float(wall), t["units_phase"], rows, p.returncode))
        print(name, "after units %.3f s, peak RSS %.1f MiB, wall %.2f s, units phase %.2f s, rows %d, exit %d" % res[name][-1], flush=True)
for name in res:
    a = [x[0] for x in res[name]]; m = [x[1] for x in res[name]]
    print("%s: after the units phase median %.3f s (min %.3f, max %.3f); peak RSS median %.1f MiB" % (
        name, statistics.median(a), min(a), max(a), statistics.median(m)))
shutil.rmtree(base, ignore_errors=True)
