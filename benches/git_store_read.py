#!/usr/bin/env python3
"""Reads and size of `--store git` at scale (SPEC §8, issue 11's targets).

The data set is benches/core.rs's 10,000 deployments (~98,000 changes, 1,000
incidents), `target/bench-data/report-10000.db` (made by `cargo bench --bench
core`). It is moved to a ref with `dorameter store copy`, then re-committed
one event per commit, as 11,000 jobs would have left it, on a local bare
remote (`git repack -adf`, as a forge's housekeeping leaves it). Then:

1. a fresh clone's first `report --store git` (fetch the ref, load the
   cache); target <= 3 s;
2. a read with nothing new, against the same report on SQLite plus one
   `git fetch` of the ref, each timed alone in the same run; target <= 1.2x;
3. a read after 1 and after 10 new events (pushed from another clone): the
   extra cost over (2) grows with the new events, not with the history;
4. the ref's packed size against the same events as gzip-compressed JSON
   Lines (gzip level 6); target <= 2x; and bytes per 1,000 deployments.

    cargo build --release && python3 benches/git_store_read.py [BIN] [RUNS]
"""
import gzip, json, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/dorameter"))
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
DATA = os.path.join(ROOT, "target", "bench-data", "report-10000.db")
EPOCH, SPAN, DAY = 1_640_995_200, 365 * 86_400, 86_400
if not os.path.exists(DATA):
    sys.exit(f"{DATA} is missing: run `cargo bench --bench core` once to make it")
scratch = tempfile.mkdtemp()
home = os.path.join(scratch, "home")
os.makedirs(home)
env = {"PATH": os.environ["PATH"], "HOME": home, "GIT_CONFIG_GLOBAL": "/dev/null",
       "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "DORAMETER_NOW": str(EPOCH + SPAN + 2 * DAY)}
ident = dict(env, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@x", GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@x")


def run(cmd, cwd=scratch, e=env, inp=None, binary=False):
    r = subprocess.run(cmd, cwd=cwd, env=e, input=inp, capture_output=True, text=not binary)
    if r.returncode != 0:
        sys.exit(f"{cmd}: exit {r.returncode}: {r.stderr[:800]}")
    return r.stdout


def timed(cmd, cwd):
    t = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - t


remote = os.path.join(scratch, "remote.git")
url = "file://" + remote
run(["git", "init", "-q", "--bare", remote])
work = os.path.join(scratch, "work")
run(["git", "init", "-q", work])
run(["git", "commit", "-q", "--allow-empty", "-m", "one"], cwd=work, e=ident)
run(["git", "remote", "add", "origin", url], cwd=work)
run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], cwd=work)
sha = run(["git", "rev-parse", "HEAD"], cwd=work).strip()

# The events as files, in one commit (store copy), then one commit each.
t = time.perf_counter()
run([BIN, "store", "copy", "--from", f"sqlite:{DATA}", "--to", "git:origin#refs/dorameter/seed"], cwd=work)
copy_s = time.perf_counter() - t
listing = run(["git", "ls-tree", "-r", "refs/dorameter/seed"], cwd=remote).splitlines()
entries = [(l.split("\t", 1)[1], l.split()[2]) for l in listing]
blobs = run(["git", "cat-file", "--batch"], cwd=remote,
            inp="".join(f"{b}\n" for _, b in entries).encode(), binary=True)
contents, pos = {}, 0
for path, blob in entries:
    header_end = blobs.index(b"\n", pos)
    size = int(blobs[pos:header_end].split()[2])
    contents[path] = blobs[header_end + 1: header_end + 1 + size]
    pos = header_end + 1 + size + 1


def when(path):
    doc = json.loads(contents[path])
    return doc.get("finished_at") or doc.get("started_at") or ""


order = sorted(contents, key=lambda p: (when(p), p))
blob_of = dict(entries)
stream = []
for i, path in enumerate(order, 1):
    msg = b"dorameter: 1 event\n"  # as the store writes it
    stream.append(b"commit refs/dorameter/events\nmark :%d\n" % i)
    stream.append(b"committer dorameter <dorameter@localhost> %d +0000\n" % (EPOCH + i * 2800))
    stream.append(b"data %d\n" % len(msg) + msg)
    if i > 1:
        stream.append(b"from :%d\n" % (i - 1))
    stream.append(b"M 100644 %s %s\n\n" % (blob_of[path].encode(), path.encode()))
run(["git", "fast-import", "--quiet"], cwd=remote, inp=b"".join(stream), binary=True)
run(["git", "update-ref", "-d", "refs/dorameter/seed"], cwd=remote)
run(["git", "reflog", "expire", "--expire=now", "--all"], cwd=remote)
run(["git", "repack", "-adfq"], cwd=remote)
run(["git", "prune", "--expire=now"], cwd=remote)
pack_dir = os.path.join(remote, "objects", "pack")
packed = sum(os.path.getsize(os.path.join(pack_dir, f)) for f in os.listdir(pack_dir) if f.endswith(".pack"))
jsonl = b"".join(json.dumps(json.loads(c), separators=(",", ":")).encode() + b"\n" for c in contents.values())
gz = len(gzip.compress(jsonl, 6))
deployments = sum(1 for p in contents if p.startswith("deployments-"))

report = ["report", "--service", "bench", "--since", str(EPOCH), "--until", str(EPOCH + SPAN + DAY), "--format", "json"]


def clone(name):
    dest = os.path.join(scratch, name)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    run(["git", "clone", "-q", url, dest])
    return dest


# 1. First reads, each in a fresh clone, and the first fetch alone.
first, first_fetch = [], []
for i in range(max(3, RUNS // 2)):
    c = clone(f"fresh{i}")
    first.append(timed([BIN, "--store", "git", *report], c))
    shutil.rmtree(c)
    c = clone(f"fresh{i}")
    first_fetch.append(timed(["git", "fetch", "-q", "origin", "+refs/dorameter/events:refs/dorameter/x"], c))
    shutil.rmtree(c)

# 2. Nothing new vs SQLite + one fetch; 3. after new events.
reader, writer = clone("reader"), clone("writer")
run([BIN, "--store", "git", *report], reader)
run([BIN, "--store", "git", *report], writer)
sqlite_db = os.path.join(scratch, "same.db")
shutil.copy(DATA, sqlite_db)
tracking = "refs/dorameter/remotes/bench"
run(["git", "fetch", "-q", "origin", f"+refs/dorameter/events:{tracking}"], reader)
nothing, base_sqlite, base_fetch, after1, after10 = [], [], [], [], []
n = [0]


def push_events(k):
    for _ in range(k):
        n[0] += 1
        run([BIN, "--store", "git", "deploy", "--service", "bench", "--sha", sha, "--id", f"new-{n[0]}",
             "--finished-at", str(EPOCH + SPAN + n[0]), "-q"], writer)


for i in range(RUNS):
    steps = [
        lambda: nothing.append(timed([BIN, "--store", "git", *report], reader)),
        lambda: base_sqlite.append(timed([BIN, "--store", f"sqlite:{sqlite_db}", *report], reader)),
        lambda: base_fetch.append(timed(["git", "fetch", "-q", "origin", f"+refs/dorameter/events:{tracking}"], reader)),
    ]
    for s in (steps if i % 2 == 0 else steps[::-1]):
        s()
    push_events(1)
    after1.append(timed([BIN, "--store", "git", *report], reader))
    push_events(10)
    after10.append(timed([BIN, "--store", "git", *report], reader))

med = statistics.median
m_first, m_nothing = med(first), med(nothing)
m_base = med(base_sqlite) + med(base_fetch)
m1, m10 = med(after1), med(after10)
ms = lambda s: f"{s * 1000:.1f} ms"
print(f"data: {deployments} deployments, {len(contents) - deployments} incidents, one commit each; store copy took {copy_s:.1f} s\n")
print("| benchmark | dorameter | baseline | ratio | target |\n|---|---|---|---|---|")
print(f"| fresh clone's first `report --store git` ({len(first)} runs) vs its `git fetch` alone | {ms(m_first)} | {ms(med(first_fetch))} | {m_first / med(first_fetch):.2f}x | <= 3 s |")
print(f"| read with nothing new ({RUNS}) vs SQLite report {ms(med(base_sqlite))} + fetch {ms(med(base_fetch))} | {ms(m_nothing)} | {ms(m_base)} | {m_nothing / m_base:.2f}x | <= 1.2x |")
print(f"| read after 1 new event ({RUNS}) | {ms(m1)} | nothing new {ms(m_nothing)} | +{ms(m1 - m_nothing)} | O(1 event) |")
print(f"| read after 10 new events ({RUNS}) | {ms(m10)} | nothing new {ms(m_nothing)} | +{ms(m10 - m_nothing)} | O(10 events) |")
print(f"| ref's pack file (`git repack -adf`) vs gzip JSON Lines | {packed / 1e6:.2f} MB | {gz / 1e6:.2f} MB | {packed / gz:.2f}x | <= 2x |")
print(f"| packed size per 1,000 deployments (with their incidents) | {packed / deployments * 1000 / 1e3:.0f} kB | | | |")
kinds = {}
for pack in [f for f in os.listdir(os.path.join(remote, "objects", "pack")) if f.endswith(".idx")]:
    for line in run(["git", "verify-pack", "-v", os.path.join(remote, "objects", "pack", pack)]).splitlines():
        f = line.split()
        if len(f) >= 5 and f[1] in ("commit", "tree", "blob", "tag"):
            kinds[f[1]] = kinds.get(f[1], 0) + int(f[3])
print("\npacked bytes by object type: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(kinds.items())))
if os.environ.get("KEEP"):
    print(f"kept: {scratch}")
else:
    shutil.rmtree(scratch)
