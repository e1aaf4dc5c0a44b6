#!/usr/bin/env python3
"""`deploy --store git` against a local bare remote, against the git round
trips it cannot avoid: a `git fetch` of the event ref plus a `git push` of one
small commit, timed alone in the same run (SPEC §8, issue 11's target:
<= 1.5x). Alternated runs, medians.

    cargo build --release && python3 benches/git_store.py [target/release/dorameter] [RUNS]
"""
import os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/dorameter"))
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 21
scratch = tempfile.mkdtemp()
home = os.path.join(scratch, "home")
os.makedirs(home)
env = {"PATH": os.environ["PATH"], "HOME": home, "GIT_CONFIG_GLOBAL": "/dev/null",
       "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
ident = dict(env, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@x", GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@x")

def git(*args, cwd=scratch, e=ident, inp=None):
    r = subprocess.run(["git", *args], cwd=cwd, env=e, input=inp, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"git {args}: {r.stderr}")
    return r.stdout.strip()

remote = os.path.join(scratch, "remote.git")
git("init", "-q", "--bare", remote)
work = os.path.join(scratch, "work")
git("init", "-q", work)
git("commit", "-q", "--allow-empty", "-m", "one", cwd=work)
git("remote", "add", "origin", "file://" + remote, cwd=work)
git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
sha = git("rev-parse", "HEAD", cwd=work)
base_ref = "refs/bench/baseline"
n = [0]

def ours():
    n[0] += 1
    t = time.perf_counter()
    r = subprocess.run([BIN, "--store", "git", "deploy", "--service", "api", "--sha", sha,
                        "--id", f"d{n[0]}", "--finished-at", str(1700000000 + n[0]), "-q"],
                       cwd=work, env=env, capture_output=True)
    d = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(r.stderr.decode())
    return d

def floor():
    """What any writer of the ref must do: fetch it, write one blob in a
    commit on its tip, push."""
    n[0] += 1
    t = time.perf_counter()
    subprocess.run(["git", "fetch", "-q", "origin", f"+{base_ref}:{base_ref}"], cwd=work, env=env, capture_output=True)
    parent = subprocess.run(["git", "rev-parse", "-q", "--verify", base_ref], cwd=work, env=env, capture_output=True, text=True).stdout.strip()
    blob = git("hash-object", "-w", "--stdin", cwd=work, inp='{"id": "%d"}\n' % n[0])
    tree = git("mktree", cwd=work, inp=f"100644 blob {blob}\tevent-{n[0]}.json\n")
    args = ["commit-tree", tree, "-m", "event"] + (["-p", parent] if parent else [])
    commit = git(*args, cwd=work)
    git("push", "-q", "origin", f"{commit}:{base_ref}", cwd=work)
    return time.perf_counter() - t

a, b = [], []
ours(); floor()
for i in range(RUNS):
    for f, acc in ([(ours, a), (floor, b)] if i % 2 == 0 else [(floor, b), (ours, a)]):
        acc.append(f())
ma, mb = statistics.median(a), statistics.median(b)
print("| benchmark | dorameter | git floor | ratio | target |\n|---|---|---|---|---|")
print(f"| `deploy --store git`, local remote ({RUNS} runs) | {ma*1000:.1f} ms | {mb*1000:.1f} ms | {ma/mb:.2f}x | <= 1.5x |")
