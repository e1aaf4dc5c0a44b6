#!/usr/bin/env python3
"""A/B of two dorameter release binaries on the core and JUnit benches' own
data and command lines, alternated run by run (A B, B A, ...): medians of
whole-process wall time. For a refactoring, where the question is "did it
get slower?" rather than "how far from git or sqlite3?".

    cargo bench --bench core --no-run && cargo bench --bench junit -- python   # generate the data once
    python3 benches/ab.py OLD_BINARY NEW_BINARY [version report comment walk deploy backfill junit]

AB_RUNS sets the runs of the backfill and junit --dry-run rows. Each row gives
the ratio of the medians, and the median of the alternated pairs' ratios of
wall time and of CPU time (user + system), which the machine's drift during a
long run moves less.
"""
import os, resource, shutil, statistics, subprocess, sys, tempfile, time
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OLD, NEW = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
DATA = os.path.join(ROOT, "target", "bench-data")
EPOCH, SPAN, DAY = 1_640_995_200, 365 * 86_400, 86_400
env = {k: v for k, v in os.environ.items() if not (k.startswith("DORAMETER_") or k == "CI" or k.startswith(("GITHUB_", "GITLAB_", "CI_")))}
def timed(cmd, cwd, now):
    """Wall time and CPU time (user + system, all threads) of one run."""
    e = dict(env, DORAMETER_NOW=str(now))
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    d = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{cmd}: exit {r.returncode}: {r.stderr.decode()[:500]}")
    return d, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
def ab(name, make, runs):
    a, b = [], []
    make(OLD)(); make(NEW)()  # warm-up
    for i in range(runs):
        order = [(OLD, a), (NEW, b)] if i % 2 == 0 else [(NEW, b), (OLD, a)]
        for binary, acc in order:
            acc.append(make(binary)())
    ma, mb = (statistics.median(w for w, _ in x) for x in (a, b))
    # The machine's speed drifts during a long run: the ratio of each
    # alternated pair, then their median, cancels the drift.
    pw = statistics.median(y[0] / x[0] for x, y in zip(a, b))
    pc = statistics.median(y[1] / x[1] for x, y in zip(a, b))
    print(f"| {name} | {ma*1000:.1f} ms | {mb*1000:.1f} ms | {mb/ma:.3f} | {pw:.3f} | {pc:.3f} |", flush=True)
scratch = tempfile.mkdtemp()
def db_for(name, binary, source=None):
    """A store per binary: a newer binary migrates its file, which an older
    one would then refuse."""
    db = os.path.join(scratch, f"{name}-{'old' if binary == OLD else 'new'}.db")
    if source and not os.path.exists(db):
        shutil.copy(source, db)
    return db
def report(n):
    def make(binary):
        db = db_for(f"r{n}", binary, f"{DATA}/report-{n}.db")
        return lambda: timed([binary, "report", "--service", "bench", "--since", str(EPOCH), "--until", str(EPOCH + SPAN + 60), "--format", "json", "--store", f"sqlite:{db}"], scratch, EPOCH + SPAN + DAY)
    return make
def comment():
    def make(binary):
        db = db_for("c", binary, f"{DATA}/report-100000.db")
        return lambda: timed([binary, "comment", "--dry-run", "--service", "bench", "--store", f"sqlite:{db}"], scratch, EPOCH + SPAN)
    return make
repo = f"{DATA}/repo-200000.git"
tip = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
base = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD~49510"], capture_output=True, text=True).stdout.strip()
last = int(subprocess.run(["git", "-C", repo, "log", "-1", "--format=%ct"], capture_output=True, text=True).stdout)
def walk(binary):
    return lambda: timed([binary, "deploy", "--dry-run", "--repo", repo, "--service", "bench", "--sha", tip, "--previous-sha", base, "--max-commits", "100000", "--format", "json", "--store", f"sqlite:{db_for('w', binary)}"], scratch, last + DAY)
deploys = [0]
def deploy(binary):
    """One real deploy (10 new commits) recorded into a store that already
    holds 10,000 deployments of the service: the deploy job's latency."""
    def run():
        deploys[0] += 1
        db = db_for("d", binary, f"{DATA}/report-10000.db")
        return timed([binary, "deploy", "--repo", repo, "--service", "bench", "--sha", tip, "--previous-sha", f"{tip}~10", "--id", f"ab-{deploys[0]}", "--finished-at", str(last + DAY + deploys[0]), "--store", f"sqlite:{db}", "-q"], scratch, last + 2 * DAY)
    return run
n = [0]
def backfill(binary):
    def run():
        n[0] += 1
        return timed([binary, "backfill", "--from-tags", "bench-*", "--service", "bench", "--repo", repo, "--store", f"sqlite:{scratch}/b{n[0]}.db", "-q"], scratch, last + DAY)
    return run
def version(binary):
    return lambda: timed([binary, "--version"], scratch, EPOCH)
print("| benchmark | before | after | after/before | median of pair ratios | CPU time, median of pair ratios |\n|---|---|---|---|---|---|")
which = sys.argv[3:] or ["version", "report", "comment", "walk", "deploy", "backfill"]
if "version" in which: ab("`--version`", version, 41)
if "report" in which:
    for k in (1000, 10000, 100000): ab(f"report {k} deploys", report(k), 15 if k < 100000 else 9)
if "comment" in which: ab("comment --dry-run, 100k deploys", comment(), 9)
if "walk" in which: ab("walk 49,510 commits (deploy --dry-run)", walk, 7)
if "deploy" in which: ab("deploy, 10 commits, 10k deploys stored", deploy, 21)
if "backfill" in which: ab("backfill 1,000 tags", backfill, int(os.environ.get("AB_RUNS", "3")))
JUNIT = os.path.join(DATA, "junit-v1-1000000.xml")
if "junit" in which:
    def jdry(binary):
        return lambda: timed([binary, "junit", JUNIT, "--dry-run", "--format", "json"], scratch, EPOCH)
    ab("junit --dry-run, 177 MB report", jdry, int(os.environ.get("AB_RUNS", "9")))
    if os.environ.get("AB_DRY_ONLY"): sys.exit(0)
    m = [0]
    def jsql(binary):
        def run():
            m[0] += 1
            return timed([binary, "junit", JUNIT, "--service", "bench", "--store", f"sqlite:{scratch}/j{m[0]}.db", "-q"], scratch, EPOCH)
        return run
    ab("junit into a fresh SQLite store, 177 MB", jsql, 3)
