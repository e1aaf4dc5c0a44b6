#!/usr/bin/env python3
"""`dorameter serve` against seed 001's FastAPI service (issue 12), side by
side in one run, on the same data in the same PostgreSQL database.

Modes (default: --read):

  --read     GET /api/dora/metrics?project=payment-service&timeRange=last30days
             (dorameter) and GET /metrics/dora/payment-service (seed 001) over
             the same 100k deployments, each server alone, `wrk -c32 -t2` after
             a warm-up: req/s, p50, p99, non-2xx, RSS idle / after load.
             Target: dorameter >= 10x the FastAPI service's req/s.
  --ingest   32 concurrent senders POST seed 001 /events/deployment bodies
             (each unique), retrying the same body on a timeout, 5xx or 429
             until it is taken; then the stores are counted: none lost, none
             doubled. dorameter into SQLite and PostgreSQL, the seed service
             for reference. Target: >= 1,000 deployments/s, 0 lost, 0 doubled.
  --soak M   M minutes at a fixed request rate (reads, /metrics, webhooks)
             against dorameter serving the 100k store, its RSS sampled every
             10 s. Target: RSS growth <= 10 %, no errors.

The data is `benches/core.rs`'s report store (`benches/support/report_data.rs`,
cached as target/bench-data/report-N.db by `cargo bench --bench core -- report`),
shifted so its year ends an hour ago, its service renamed payment-service,
every 10th deployment also copied as planned deployments of three other
services. dorameter's PostgreSQL store gets it with `dorameter store copy`;
seed 001's tables get the same successful deployments with `psql \\copy`.
The loaded database is cached as a pg_dump under target/bench-data/serve/ and
shifted to the current time when reused (--fresh reloads it).

    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install -r benches/serve/requirements.txt
    python3 benches/serve.py [--bin target/release/dorameter] [--duration 30]
    python3 benches/serve.py --ingest [--ingest-count 20000]
    python3 benches/serve.py --soak 10 [--soak-rate 200]

Needs: PostgreSQL server binaries (scripts/postgres.sh), psql, pg_dump,
pg_restore, wrk. Python 3.11 standard library only (the seed service runs in
the venv). Progress goes to stderr, results to stdout (--json: one JSON
document).
"""
import argparse
import datetime as dt
import hashlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "target", "bench-data", "serve")
VENV = os.path.join(ROOT, "target", "bench-venv")
SEED_DIR = os.path.join(ROOT, "benches", "serve")
SEED_SCHEMA = os.path.join(SEED_DIR, "seed001_schema.sql")

SERVICE, ENV = "payment-service", "production"
OTHER_SERVICES = ("checkout-service", "user-service", "api-gateway")
BENCH_DB, INGEST_SEED_DB, INGEST_DORA_DB = "serve_bench", "ingest_seed", "ingest_dorameter"
DORA_READ = f"/api/dora/metrics?project={SERVICE}&timeRange=last30days"
SEED_READ = f"/metrics/dora/{SERVICE}"
WEBHOOK = "/events/deployment"  # seed 001's path; dorameter serves it too (SPEC §9)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def iso(ts):
    """Naive UTC ISO 8601, as seed 001 stores and compares (datetime.utcnow())."""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


# ------------------------------------------------------------------ PostgreSQL

class Postgres:
    """A throwaway server from scripts/postgres.sh; stopped by stop() unless kept."""

    def __init__(self, keep=False):
        self.keep, self.dir, self.url = keep, None, None

    def start(self):
        r = subprocess.run([os.path.join(ROOT, "scripts", "postgres.sh"), "start"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"scripts/postgres.sh start failed ({r.returncode}): {r.stderr.strip()}")
        self.dir = re.search(r"PGDIR=(\S+)", r.stderr).group(1)
        self.url = r.stdout.strip()
        log(f"PostgreSQL at {self.url} ({self.dir})")
        return self

    def db(self, name):
        """The server's URL with its database replaced by `name`."""
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self):
        if not self.dir:
            return
        if self.keep:
            log(f"--keep: PostgreSQL left running at {self.url}; stop it with scripts/postgres.sh stop {self.dir}")
            return
        subprocess.run([os.path.join(ROOT, "scripts", "postgres.sh"), "stop", self.dir], check=False)
        self.dir = None


def psql(url, sql=None, file=None):
    """Runs SQL through psql (stopping at the first error); returns its unaligned output."""
    cmd = ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    cmd += ["-f", file] if file else ["-c", sql]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql {file or sql[:200]!r}: {r.stderr.strip()}")
    return r.stdout.strip()


def recreate_db(pg, name):
    psql(pg.db("postgres"), f"DROP DATABASE IF EXISTS {name}")
    psql(pg.db("postgres"), f"CREATE DATABASE {name}")
    return pg.db(name)


# ------------------------------------------------------------------ the data set

def source_store(args):
    """The report bench's SQLite store of N deployments (benches/support/report_data.rs)."""
    path = args.source_db or os.path.join(ROOT, "target", "bench-data", f"report-{args.deployments}.db")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: it is benches/core.rs's report store. Build it with\n"
                 f"  DORAMETER_BENCH_DEPLOYMENTS={args.deployments} DORAMETER_BENCH_RUNS=1 cargo bench --bench core -- report\n"
                 f"or pass --source-db PATH.")
    return path


def prepare_store(src, dst, now):
    """Copies the report store to `dst` and moves it into the benchmark's shape:
    the year shifted to end an hour before `now`, service `bench` renamed
    payment-service, and every 10th deployment copied (with its changes) as a
    planned deployment of each of the other services. Returns per-service counts."""
    shutil.copyfile(src, dst)
    con = sqlite3.connect(dst)
    with con:
        (last,) = con.execute("SELECT max(finished_at) FROM deployments").fetchone()
        services = [r[0] for r in con.execute("SELECT DISTINCT service FROM deployments")]
        if services != ["bench"]:
            sys.exit(f"{src}: expected the report store's one service `bench`, found {services}")
        off = (now - 3600) * 1000 - last  # integer milliseconds, as the store keeps them
        con.execute("UPDATE deployments SET service = ?, started_at = started_at + ?, finished_at = finished_at + ?", (SERVICE, off, off))
        con.execute("UPDATE changes SET authored_at = authored_at + ?, committed_at = committed_at + ?", (off, off))
        con.execute("UPDATE incidents SET started_at = started_at + ?, detected_at = detected_at + ?, resolved_at = resolved_at + ?", (off, off, off))
        con.execute("UPDATE incident_services SET service = ?", (SERVICE,))
        cols = ("env, repository_url, sha, previous_sha, started_at, finished_at, status, version, team, "
                "pipeline_id, pipeline_url, deployed_by, tags, lead_time_from, lead_time_note, clamped_changes, truncated, recorded_at")
        for k, other in enumerate(OTHER_SERVICES):
            prefix = other + "-"
            con.execute(f"INSERT INTO deployments (id, service, kind, {cols}) SELECT ? || id, ?, 'planned', {cols} "
                        f"FROM deployments WHERE service = ? AND seq % 10 = ?", (prefix, other, SERVICE, k + 1))
            con.execute("INSERT INTO changes SELECT d2.seq, c.sha, c.authored_at, c.committed_at, c.lead_time_seconds "
                        "FROM deployments d1 JOIN deployments d2 ON d2.id = ? || d1.id JOIN changes c ON c.deployment_seq = d1.seq "
                        "WHERE d1.service = ?", (prefix, SERVICE))
    counts = dict(con.execute("SELECT service, count(*) FROM deployments GROUP BY service"))
    con.close()
    return counts


def export_seed_rows(store, out_dir):
    """Writes seed 001's rows for the store's successful deployments (a seed
    user posts only those) and its incidents as CSV files for psql's \\copy.
    commit_timestamp is the committed time of the deployed commit (the
    deployment's sha is its first change); rollback -> is_rollback,
    rollforward (hotfix) -> is_hotfix."""
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    dep = os.path.join(out_dir, "seed-deployments.csv")
    inc = os.path.join(out_dir, "seed-incidents.csv")
    n = m = 0
    with open(dep, "w") as f:
        for service, env, sha, committed, finished, kind in con.execute(
                "SELECT d.service, d.env, d.sha, c.committed_at, d.finished_at, d.kind FROM deployments d "
                "LEFT JOIN changes c ON c.deployment_seq = d.seq AND c.sha = d.sha "
                "WHERE d.status = 'success' ORDER BY d.seq"):
            commit_ts = iso((committed if committed is not None else finished) / 1000)
            f.write(f"{service},{env},{sha},{commit_ts},{iso(finished / 1000)},success,"
                    f"{'t' if kind == 'rollback' else 'f'},{'t' if kind == 'rollforward' else 'f'}\n")
            n += 1
    with open(inc, "w") as f:
        for iid, service, severity, detected, resolved in con.execute(
                "SELECT i.id, s.service, i.severity, coalesce(i.detected_at, i.started_at), i.resolved_at "
                "FROM incidents i JOIN incident_services s ON s.incident_seq = i.seq ORDER BY i.seq"):
            f.write(f"{iid},{service},{severity or ''},{iso(detected / 1000)},{iso(resolved / 1000) if resolved else ''}\n")
            m += 1
    con.close()
    return dep, inc, n, m


def load_seed(url, dep_csv, inc_csv):
    psql(url, file=SEED_SCHEMA)
    psql(url, f"\\copy deployments (service, environment, commit_sha, commit_timestamp, deployed_at, status, is_rollback, is_hotfix) FROM '{dep_csv}' WITH (FORMAT csv)")
    psql(url, f"\\copy incidents (incident_id, service, severity, detected_at, resolved_at) FROM '{inc_csv}' WITH (FORMAT csv)")


def dorameter_env(extra=None):
    """The environment without the caller's DORAMETER_* / CI settings."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("DORAMETER_", "GITHUB_", "GITLAB_", "CI_")) or k == "CI")}
    env.update(extra or {})
    return env


def load_bench_db(args, pg, now):
    """The read benchmark's database: seed 001's tables (schema public) and
    dorameter's store (schema dorameter) holding the same deployments.
    Restored from the cached dump and shifted to `now` when there is one."""
    if getattr(args, "loaded_url", None):
        return args.loaded_url
    os.makedirs(DATA, exist_ok=True)
    dump = os.path.join(DATA, f"pg-{args.deployments}.dump")
    meta_path = dump + ".json"
    meta = None
    if os.path.exists(meta_path) and not args.fresh:
        with open(meta_path) as f:
            meta = json.load(f)
    src = args.source_db or os.path.join(ROOT, "target", "bench-data", f"report-{args.deployments}.db")
    with open(SEED_SCHEMA, "rb") as f:
        key = {"schema": hashlib.sha256(f.read()).hexdigest(), "others": list(OTHER_SERVICES)}
    if os.path.exists(src):
        key.update(source=os.path.abspath(src), size=os.path.getsize(src), mtime=int(os.path.getmtime(src)))
    elif meta:
        log(f"{src} is missing; using the cached {dump} (made from {meta['source']})")
        key.update({k: meta[k] for k in ("source", "size", "mtime")})
    else:
        src = source_store(args)  # exits with how to build it
    if meta and {k: meta.get(k) for k in key} != key:
        log(f"the cached {dump} was made from other data; reloading")
        meta = None
    url = recreate_db(pg, BENCH_DB)
    if meta:
        t = time.time()
        subprocess.run(["pg_restore", "-d", url, "-j", "2", dump], check=True)
        delta = now - meta["now"]
        shift = f"make_interval(secs => {delta})"
        psql(url, f"""
            UPDATE public.deployments SET deployed_at = deployed_at + {shift}, commit_timestamp = commit_timestamp + {shift};
            UPDATE public.incidents SET detected_at = detected_at + {shift}, resolved_at = resolved_at + {shift};
            UPDATE dorameter.deployments SET started_at = started_at + {shift}, finished_at = finished_at + {shift};
            UPDATE dorameter.changes SET authored_at = authored_at + {shift}, committed_at = committed_at + {shift};
            UPDATE dorameter.incidents SET started_at = started_at + {shift}, detected_at = detected_at + {shift}, resolved_at = resolved_at + {shift};""")
        log(f"restored {dump} and shifted it by {delta} s in {time.time() - t:.1f} s")
    else:
        t = time.time()
        store = os.path.join(DATA, f"store-{args.deployments}.db")
        counts = prepare_store(src, store, now)
        log(f"prepared {store} from {src}: {counts} ({time.time() - t:.1f} s)")
        dep_csv, inc_csv, n, m = export_seed_rows(store, DATA)
        load_seed(url, dep_csv, inc_csv)
        log(f"seed 001 tables: {n} deployments, {m} incidents loaded with \\copy ({time.time() - t:.1f} s)")
        t = time.time()
        r = subprocess.run([args.bin, "store", "copy", "--from", f"sqlite:{store}", "--to", url, "-q"],
                           env=dorameter_env(), capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"dorameter store copy failed ({r.returncode}): {r.stderr.strip()}")
        log(f"dorameter store: {r.stdout.strip()} ({time.time() - t:.1f} s)")
        subprocess.run(["pg_dump", "-Fc", "-Z1", "-d", url, "-f", dump], check=True)
        with open(meta_path, "w") as f:
            json.dump(dict(key, now=now), f)
        for p in (store, dep_csv, inc_csv):
            if not args.keep:
                os.remove(p)
    psql(url, "VACUUM ANALYZE")
    args.loaded_url = url
    return url


def window_counts(url):
    """Deployments of payment-service/production in the last 30 days, as each side counts them."""
    seed = int(psql(url, f"SELECT count(*) FROM public.deployments WHERE service = '{SERVICE}' AND environment = '{ENV}' "
                         "AND deployed_at >= (now() AT TIME ZONE 'UTC') - interval '30 days'"))
    dora = int(psql(url, f"SELECT count(*) FROM dorameter.deployments WHERE service = '{SERVICE}' AND env = '{ENV}' "
                         "AND status = 'success' AND finished_at >= now() - interval '30 days'"))
    seed_all = int(psql(url, f"SELECT count(*) FROM public.deployments WHERE service = '{SERVICE}'"))
    dora_all = int(psql(url, f"SELECT count(*) FROM dorameter.deployments WHERE service = '{SERVICE}' AND status = 'success'"))
    return {"seed001_30d": seed, "dorameter_30d": dora, "seed001_all": seed_all, "dorameter_all_success": dora_all}


# ------------------------------------------------------------------ servers

def process_tree(pid):
    """`pid` and its descendants (uvicorn --workers N forks worker processes)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_kb(pids):
    """Summed VmRSS and VmHWM (peak RSS) of the processes, in kB."""
    rss = hwm = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    return rss, hwm


def request(port, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP request on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class Server:
    """A server process of the benchmark, in its own process group."""

    def __init__(self, name, cmd, env, port, probe, headers):
        self.name, self.cmd, self.env, self.port, self.probe, self.headers = name, cmd, env, port, probe, headers
        self.proc = None
        self.log_path = os.path.join(DATA, re.sub(r"\W+", "-", name) + ".log")

    def start(self, timeout=60):
        """Starts the process and waits until the probe path answers 2xx."""
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                status, body = request(self.port, "GET", self.probe, headers=self.headers, timeout=5)
                if 200 <= status < 300:
                    return body
                last = f"{status} {body[:300]!r}"
            except OSError as e:
                last = str(e)
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout} s (last: {last}): {self.log_tail()}")

    def log_tail(self):
        self.logf.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()[-1500:]

    def memory_mb(self):
        rss, hwm = memory_kb(process_tree(self.proc.pid))
        return rss / 1024, hwm / 1024

    def stop(self):
        """SIGTERM to the process group it leads (graceful shutdown), SIGKILL after 15 s."""
        if not self.proc or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logf.close()


def seed_server(db_url, workers, pool):
    """Seed 001's FastAPI service under uvicorn, from the venv."""
    uvicorn = os.path.join(VENV, "bin", "uvicorn")
    if not os.path.exists(uvicorn):
        sys.exit(f"{uvicorn} missing: python3 -m venv {VENV} && {VENV}/bin/pip install -r benches/serve/requirements.txt")
    port = free_port()
    cmd = [uvicorn, "--app-dir", SEED_DIR, "seed001_service:app", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    env = dict(os.environ, DATABASE_URL=db_url, DB_POOL_MIN=str(pool), DB_POOL_MAX=str(pool))
    return Server(f"seed001 FastAPI, {workers} worker{'s' if workers > 1 else ''}", cmd, env, port, "/healthz", {})


def serve_available(binary):
    r = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, env=dorameter_env())
    return r.returncode == 0


def dorameter_server(args, store, tokens, probe, headers, extra=(), name="dorameter serve"):
    port = free_port()
    # A benchmark is one client sending as fast as it can: no per-token limit
    # (the 5000/h default would answer 429 within a second).
    cmd = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--store", store, "--rate-limit", "off", *extra]
    return Server(name, cmd, dorameter_env({"DORAMETER_API_TOKENS": tokens}), port, probe, headers)


# ------------------------------------------------------------------ wrk

WRK_LUA = r"""
-- Counts non-2xx responses (wrk itself only reports "Non-2xx or 3xx") and
-- prints exact latency percentiles in microseconds for benches/serve.py.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non2xx") end
  io.write(string.format(
    "BENCH non2xx=%d requests=%d duration_us=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    n, summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk(port, path, headers, duration, connections=32, threads=2):
    """wrk -cC -tT -dDs --latency with the counting script: a dict of results."""
    script = os.path.join(DATA, "count-non2xx.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA)
    cmd = ["wrk", f"-c{connections}", f"-t{threads}", f"-d{duration}s", "--latency", "--timeout", "10s", "-s", script]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}")
    out = r.stdout
    m = re.search(r"^BENCH (.*)$", out, re.M)
    res = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    line99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    res["p99_line"] = line99.group(1) if line99 else None
    res["socket_errors"] = res["connect"] + res["read"] + res["write"] + res["timeout"]
    return res


# ------------------------------------------------------------------ --read

def key_numbers(name, body):
    """The deployments in the window, as the server's own response gives them."""
    try:
        doc = json.loads(body)
    except ValueError:
        return f"unparsed body {body[:200]!r}"
    if "period_days" in doc:  # seed 001
        m = doc["metrics"]
        return (f"deployment_frequency {m['deployment_frequency']['value']}/day "
                f"(= {round(m['deployment_frequency']['value'] * doc['period_days'])} deployments), "
                f"lead_time mean {m['lead_time']['mean_hours']} h, CFR {m['change_failure_rate']['value']} %, MTTR {m['mttr']['value']} min")
    m = doc.get("metrics", {})
    cfr = m.get("changeFailureRate", {})
    return (f"deploymentFrequency {m.get('deploymentFrequency', {}).get('value')}/day, "
            f"total_deployments {cfr.get('total_deployments')}, lead time {m.get('leadTimeForChanges', {}).get('value')} "
            f"{m.get('leadTimeForChanges', {}).get('unit')}, CFR {cfr.get('value')} %, MTTR {m.get('meanTimeToRestore', {}).get('value')}")


def measure_read(server, path, headers, args):
    """Starts the server, samples idle RSS, warms up, runs wrk, samples RSS again, stops it."""
    log(f"--- {server.name}")
    try:
        server.start()
        time.sleep(1)
        idle = server.memory_mb()
        status, body = request(server.port, "GET", path, headers=headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{server.name}: GET {path} -> {status} {body[:300]!r}")
        log(f"  {key_numbers(server.name, body)}")
        log(f"  idle RSS {idle[0]:.1f} MB; warm-up {args.warmup} s")
        wrk(server.port, path, headers, args.warmup)
        log(f"  measuring {args.duration} s (load average {os.getloadavg()[0]:.2f})")
        res = wrk(server.port, path, headers, args.duration)
        loaded = server.memory_mb()
        res.update(server=server.name, idle_rss_mb=idle[0], loaded_rss_mb=loaded[0], hwm_mb=loaded[1],
                   loadavg=os.getloadavg()[0], response=key_numbers(server.name, body))
        log(f"  {res['rps']:.1f} req/s, p50 {res['p50_us'] / 1000:.2f} ms, p99 {res['p99_us'] / 1000:.2f} ms, "
            f"non-2xx {res['non2xx']}, socket errors {res['socket_errors']}, RSS {loaded[0]:.1f} MB (peak {loaded[1]:.1f})")
        return res
    finally:
        server.stop()


def bench_read(args, pg, now, results):
    url = load_bench_db(args, pg, now)
    counts = window_counts(url)
    results["read_counts"] = counts
    log(f"payment-service/production deployments in the last 30 days: seed 001 {counts['seed001_30d']}, "
        f"dorameter {counts['dorameter_30d']} (all: {counts['seed001_all']} / {counts['dorameter_all_success']})")
    if counts["seed001_30d"] != counts["dorameter_30d"]:
        log("WARNING: the two stores disagree on the 30-day window")
    rows = []
    for w in args.fastapi_workers:
        rows.append(measure_read(seed_server(url, w, args.pool), SEED_READ, {}, args))
    if serve_available(args.bin):
        auth = {"Authorization": f"Bearer {args.read_token}"}
        srv = dorameter_server(args, url, f"read:{args.read_token}", DORA_READ, auth)
        rows.append(measure_read(srv, DORA_READ, auth, args))
        # The same without the answer cache: every request reads the store
        # and computes, as the seed's service does.
        srv = dorameter_server(args, url, f"read:{args.read_token}", DORA_READ, auth,
                               ["--cache-ttl", "0s"], "dorameter serve, no cache")
        rows.append(measure_read(srv, DORA_READ, auth, args))
    else:
        log(f"SKIP dorameter rows: `{args.bin} serve --help` fails (no serve subcommand in this binary)")
    results["read"] = rows
    return rows


def print_read(rows, counts, args):
    print(f"\nRead: wrk -c32 -t2 -d{args.duration}s after a {args.warmup} s warm-up; {counts['seed001_30d']} "
          f"payment-service deployments in the 30-day window ({args.deployments} in the year) on both sides")
    print("| server | req/s | p50 | p99 | non-2xx | socket errors | RSS idle | RSS after load | peak RSS | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['server']} | {r['rps']:.1f} | {r['p50_us'] / 1000:.2f} ms | {r['p99_us'] / 1000:.2f} ms | {r['non2xx']} | "
              f"{r['socket_errors']} | {r['idle_rss_mb']:.1f} MB | {r['loaded_rss_mb']:.1f} MB | {r['hwm_mb']:.1f} MB | {r['loadavg']:.1f} |")
    dora = [r for r in rows if r["server"].startswith("dorameter")]
    seeds = [r for r in rows if r["server"].startswith("seed001")]
    if dora:
        for d in dora:
            for s in seeds:
                print(f"{d['server']} / {s['server']}: {d['rps'] / s['rps']:.1f}x req/s (target >= 10x)")
        print("dorameter's tokio runtime uses both cores; FastAPI with --workers 2 is the like-for-like "
              "comparison (both cores), --workers 1 is the seed as written (uvicorn's default).")
    else:
        print("dorameter: not measured (no `serve` in the binary); the ratio is filled in when serve lands.")
    print("RSS is the sum over the server's process tree (uvicorn --workers 2: master + 2 workers). "
          "wrk runs on the same 2 cores as the server.")


# ------------------------------------------------------------------ --ingest

def deployment_bodies(count, service, tag):
    """`count` distinct seed 001 DeploymentEvent bodies: distinct commit_sha and deployed_at."""
    base = int(time.time()) - count - 86_400
    out = []
    for i in range(count):
        sha = hashlib.sha1(f"{tag}-{i}".encode()).hexdigest()
        out.append(json.dumps({
            "service": service, "environment": ENV, "commit_sha": sha,
            "commit_timestamp": iso(base + i - 3_600 - i % 7_200), "deployed_at": iso(base + i),
            "is_rollback": i % 20 == 0, "is_hotfix": i % 20 == 10,
        }).encode())
    return out


def send_all(port, bodies, headers, senders, timeout):
    """`senders` threads POST every body once, each retrying the same body on
    a timeout, a connection error, 5xx or 429 until it gets a 2xx. Returns
    (wall seconds, stats)."""
    headers = dict(headers, **{"Content-Type": "application/json"})
    nxt = itertools.count()
    lock = threading.Lock()
    stats = {"ok": 0, "timeouts": 0, "conn_errors": 0, "http_5xx": 0, "http_429": 0, "rejected": 0, "gave_up": 0}
    rejected_sample = []

    def bump(key):
        with lock:
            stats[key] += 1

    def sender():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        while (i := next(nxt)) < len(bodies):
            for _attempt in range(200):
                try:
                    conn.request("POST", WEBHOOK, body=bodies[i], headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                except (socket.timeout, TimeoutError):
                    bump("timeouts")
                    conn.close()
                    continue
                except (OSError, http.client.HTTPException):
                    bump("conn_errors")
                    conn.close()
                    time.sleep(0.05)
                    continue
                if 200 <= r.status < 300:
                    bump("ok")
                    break
                if r.status == 429 or r.status >= 500:
                    bump("http_429" if r.status == 429 else "http_5xx")
                    time.sleep(min(float(r.getheader("Retry-After") or 0.05), 1.0))
                    continue
                bump("rejected")
                if len(rejected_sample) < 3:
                    rejected_sample.append(f"{r.status} {data[:200]!r}")
                break
            else:
                bump("gave_up")
        conn.close()

    t = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    stats["rejected_sample"] = rejected_sample
    return wall, stats


def count_pg(url, table, sha_col, service):
    rows, distinct = psql(url, f"SELECT count(*), count(DISTINCT {sha_col}) FROM {table} WHERE service = '{service}'").split("|")
    return int(rows), int(distinct)


def count_sqlite(path, service):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*), count(DISTINCT sha) FROM deployments WHERE service = ?", (service,)).fetchone()
    finally:
        con.close()


def ingest_one(name, server, bodies, headers, counter, args):
    """Sends every body through `server`, then counts what the store holds;
    then replays one body (a retry after a lost response) and counts again."""
    log(f"--- ingest: {name}, {len(bodies)} deployments, {args.senders} senders, client timeout {args.ingest_timeout} s")
    try:
        server.start()
        wall, stats = send_all(server.port, bodies, headers, args.senders, args.ingest_timeout)
        rss = server.memory_mb()
        rows, distinct = counter()
        status, _ = request(server.port, "POST", WEBHOOK, body=bodies[0], headers=dict(headers, **{"Content-Type": "application/json"}))
        rows2, _ = counter()
    finally:
        server.stop()
    n = len(bodies)
    res = dict(target=name, count=n, wall_s=wall, rate=n / wall, rows=rows, distinct=distinct, lost=n - distinct,
               doubled=rows - distinct, replay_status=status, replay_added=rows2 - rows, rss_mb=rss[0], hwm_mb=rss[1],
               loadavg=os.getloadavg()[0], **stats)
    log(f"  {res['rate']:.0f} deployments/s ({wall:.1f} s); rows {rows}, distinct {distinct}, lost {res['lost']}, "
        f"doubled {res['doubled']}; retries: {stats['timeouts']} timeouts, {stats['http_5xx']} 5xx, {stats['http_429']} 429, "
        f"{stats['conn_errors']} connection errors; rejected {stats['rejected']} {stats['rejected_sample']}; "
        f"one replayed body -> {status}, +{rows2 - rows} rows")
    return res


def bench_ingest(args, pg, results):
    rows = []
    tag = f"ingest-{int(time.time())}"
    service = "ingest-service"
    bodies = deployment_bodies(args.ingest_count, service, tag)
    for w in args.fastapi_workers:
        url = recreate_db(pg, INGEST_SEED_DB)
        psql(url, file=SEED_SCHEMA)
        rows.append(ingest_one(f"seed001 FastAPI, {w} worker{'s' if w > 1 else ''} -> PostgreSQL", seed_server(url, w, args.pool),
                               bodies, {}, lambda u=url: count_pg(u, "public.deployments", "commit_sha", service), args))
    if serve_available(args.bin):
        tokens = args.api_tokens or f"read:{args.read_token},write:{args.write_token}"
        auth = {"Authorization": f"Bearer {args.write_token}"}
        probe_auth = {"Authorization": f"Bearer {args.read_token}"}
        sqlite_path = os.path.join(DATA, f"{tag}.db")
        srv = dorameter_server(args, f"sqlite:{sqlite_path}", tokens, "/healthz", probe_auth)
        rows.append(ingest_one("dorameter serve -> SQLite", srv, bodies, auth, lambda: count_sqlite(sqlite_path, service), args))
        url = recreate_db(pg, INGEST_DORA_DB)
        srv = dorameter_server(args, url, tokens, "/healthz", probe_auth)
        rows.append(ingest_one("dorameter serve -> PostgreSQL", srv, bodies, auth,
                               lambda: count_pg(url, "dorameter.deployments", "sha", service), args))
        if not args.keep:
            for ext in ("", "-wal", "-shm"):
                if os.path.exists(sqlite_path + ext):
                    os.remove(sqlite_path + ext)
    else:
        log(f"SKIP dorameter ingestion: `{args.bin} serve --help` fails (no serve subcommand in this binary)")
    results["ingest"] = rows
    return rows


def print_ingest(rows, args):
    print(f"\nIngest: {args.ingest_count} distinct POST {WEBHOOK} bodies, {args.senders} concurrent senders, "
          f"client timeout {args.ingest_timeout} s, same body retried on timeout / 5xx / 429")
    print("| target | deployments/s | wall | rows | lost | doubled | timeouts | 5xx | 429 | conn errors | rejected | replay of one body | RSS after | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['target']} | {r['rate']:.0f} | {r['wall_s']:.1f} s | {r['rows']} | {r['lost']} | {r['doubled']} | {r['timeouts']} | "
              f"{r['http_5xx']} | {r['http_429']} | {r['conn_errors']} | {r['rejected']} | {r['replay_status']}, +{r['replay_added']} rows | {r['rss_mb']:.1f} MB | {r['loadavg']:.1f} |")
    print("The senders are Python threads in one process; against a trivial server they reach ~3,800 POST/s on this machine.")
    print("Target (dorameter): >= 1,000 deployments/s into SQLite and PostgreSQL, 0 lost, 0 doubled, and a replayed body adds "
          "no row. Seed 001 has no idempotency: every retried body that had been committed is a doubled row.")


# ------------------------------------------------------------------ --soak

def bench_soak(args, pg, now, results):
    """A fixed request rate for --soak minutes: open-loop schedule (request k
    is due at t0 + k/rate), 80 % metrics reads, 10 % GET /metrics, 10 %
    webhook POSTs; the server's RSS sampled every 10 s."""
    use_dora = serve_available(args.bin)
    if not use_dora and not args.soak_seed:
        log(f"SKIP soak: `{args.bin} serve --help` fails (no serve subcommand); --soak-seed runs it against seed 001 instead")
        return None
    url = load_bench_db(args, pg, now)
    if use_dora:
        read_h = {"Authorization": f"Bearer {args.read_token}"}
        write_h = {"Authorization": f"Bearer {args.write_token}", "Content-Type": "application/json"}
        tokens = args.api_tokens or f"read:{args.read_token},write:{args.write_token}"
        server = dorameter_server(args, url, tokens, DORA_READ, read_h)
        mix = [("GET", DORA_READ, read_h)] * 8 + [("GET", "/metrics", read_h), ("POST", WEBHOOK, write_h)]
    else:
        read_h, write_h = {}, {"Content-Type": "application/json"}
        server = seed_server(url, args.fastapi_workers[0], args.pool)
        mix = [("GET", SEED_READ, read_h)] * 9 + [("POST", WEBHOOK, write_h)]  # the seed has no /metrics
    seconds = args.soak * 60
    bodies = deployment_bodies(int(seconds * args.soak_rate / 10) + 100, "soak-service", f"soak-{int(time.time())}")
    body_i = itertools.count()
    nxt = itertools.count()
    lock = threading.Lock()
    lat, errors, late, samples = [], {}, [0], []
    stop = threading.Event()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        while True:
            k = next(nxt)
            due = t0 + k / args.soak_rate
            if due >= t0 + seconds:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                with lock:
                    late[0] += 1
            method, path, h = mix[k % len(mix)]
            body = bodies[next(body_i)] if method == "POST" else None
            t = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                r.read()
                err = None if 200 <= r.status < 300 else f"{method} {path.split('?')[0]} {r.status}"
            except (OSError, http.client.HTTPException) as e:
                err = f"{method} {path.split('?')[0]} {type(e).__name__}"
                conn.close()
            d = time.perf_counter() - t
            with lock:
                lat.append(d)
                if err:
                    errors[err] = errors.get(err, 0) + 1
        conn.close()

    def sampler():
        while not stop.wait(10):
            rss, hwm = server.memory_mb()
            samples.append((round(time.perf_counter() - t0), rss, hwm))
            log(f"  t={samples[-1][0]} s RSS {rss:.1f} MB (peak {hwm:.1f}), {len(lat)} requests, errors {sum(errors.values())}")

    log(f"--- soak: {server.name}, {args.soak} min at {args.soak_rate} req/s")
    try:
        server.start()
        idle = server.memory_mb()
        t0 = time.perf_counter()
        workers = [threading.Thread(target=worker) for _ in range(args.soak_workers)]
        smp = threading.Thread(target=sampler)
        for th in workers + [smp]:
            th.start()
        for th in workers:
            th.join()
        stop.set()
        smp.join()
        final = server.memory_mb()
    finally:
        server.stop()
    first = samples[0][1] if samples else idle[0]
    # Growth is measured from the end of the warm-up: by then every path
    # (the first /metrics computation over the whole history included) has
    # run once; a leak shows as growth after it.
    warm = next((s[1] for s in samples if s[0] >= args.soak_warmup), first)
    rss = [s[1] for s in samples] or [final[0]]
    after = [s[1] for s in samples if s[0] >= args.soak_warmup] or rss
    lat.sort()
    res = dict(server=server.name, minutes=args.soak, rate=args.soak_rate, requests=len(lat),
               achieved_rate=len(lat) / seconds, late=late[0], errors=sum(errors.values()), error_kinds=errors,
               idle_rss_mb=idle[0], first_rss_mb=first, warm_rss_mb=warm, warmup_s=args.soak_warmup, last_rss_mb=rss[-1],
               max_rss_mb=max(rss), hwm_mb=final[1],
               growth_pct=(rss[-1] - warm) / warm * 100, max_growth_pct=(max(after) - warm) / warm * 100,
               p50_ms=lat[len(lat) // 2] * 1000 if lat else None, p99_ms=lat[int(len(lat) * 0.99)] * 1000 if lat else None,
               samples=samples)
    results["soak"] = res
    return res


def print_soak(r):
    print(f"\nSoak: {r['server']}, {r['minutes']} min at {r['rate']} req/s (achieved {r['achieved_rate']:.1f}; {r['late']} sent > 100 ms late)")
    print(f"| requests | errors | p50 | p99 | RSS idle | RSS at 10 s | RSS after warm-up ({r['warmup_s']} s) | RSS last | RSS max | growth last/warm | growth max/warm |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['requests']} | {r['errors']} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['idle_rss_mb']:.1f} MB | {r['first_rss_mb']:.1f} MB | "
          f"{r['warm_rss_mb']:.1f} MB | {r['last_rss_mb']:.1f} MB | {r['max_rss_mb']:.1f} MB | {r['growth_pct']:+.1f} % | {r['max_growth_pct']:+.1f} % |")
    if r["error_kinds"]:
        print(f"errors: {r['error_kinds']}")
    print("Target: growth <= 10 %, no errors.")


# ------------------------------------------------------------------ main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "dorameter"), help="the dorameter binary")
    p.add_argument("--read", action="store_true", help="the read benchmark (the default when no mode is given)")
    p.add_argument("--ingest", action="store_true", help="the webhook ingestion benchmark")
    p.add_argument("--soak", type=float, metavar="MINUTES", help="a soak at a fixed rate for MINUTES")
    p.add_argument("--deployments", type=int, default=100_000, help="payment-service deployments (report-N.db; default 100000)")
    p.add_argument("--source-db", help="the report store to start from (default target/bench-data/report-N.db)")
    p.add_argument("--fresh", action="store_true", help="reload the database instead of restoring the cached dump")
    p.add_argument("--duration", type=int, default=30, help="seconds of each measured wrk run (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="seconds of wrk warm-up per server (default 5)")
    p.add_argument("--fastapi-workers", default="1,2", help="uvicorn --workers values to measure (default 1,2)")
    p.add_argument("--pool", type=int, default=10, help="asyncpg pool size per FastAPI worker (default 10)")
    p.add_argument("--ingest-count", type=int, default=20_000, help="deployments per ingestion run (default 20000)")
    p.add_argument("--senders", type=int, default=32, help="concurrent ingestion senders (default 32)")
    p.add_argument("--ingest-timeout", type=float, default=2.0, help="client timeout per POST, seconds (default 2)")
    p.add_argument("--soak-rate", type=float, default=200, help="soak requests per second (default 200)")
    p.add_argument("--soak-workers", type=int, default=16, help="soak client threads (default 16)")
    p.add_argument("--soak-warmup", type=int, default=60, help="seconds of the soak before RSS growth is measured (default 60)")
    p.add_argument("--soak-seed", action="store_true", help="soak seed 001 when the binary has no serve (harness check)")
    p.add_argument("--read-token", default="benchtoken", help="read-scope bearer token (default benchtoken)")
    p.add_argument("--write-token", default="benchwriter", help="write-scope bearer token (default benchwriter)")
    p.add_argument("--api-tokens", help="DORAMETER_API_TOKENS for ingest/soak (default read:READ,write:WRITE)")
    p.add_argument("--keep", action="store_true", help="keep PostgreSQL running and the scratch files")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    a = p.parse_args()
    a.bin = os.path.abspath(a.bin)
    a.fastapi_workers = [int(w) for w in a.fastapi_workers.split(",") if w]
    if not (a.ingest or a.soak):
        a.read = True
    return a


def main():
    args = parse_args()
    for tool in ("wrk", "psql", "pg_dump", "pg_restore"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install -y wrk postgresql-client)")
    if not os.path.exists(args.bin):
        sys.exit(f"{args.bin} not found (cargo build --release, or --bin PATH)")
    os.makedirs(DATA, exist_ok=True)
    results = {"bin": args.bin, "cpus": os.cpu_count(), "started": dt.datetime.now(dt.timezone.utc).isoformat()}
    pg = Postgres(keep=args.keep).start()
    now = int(time.time())
    try:
        if args.read:
            bench_read(args, pg, now, results)
        if args.ingest:
            bench_ingest(args, pg, results)
        if args.soak:
            bench_soak(args, pg, now, results)
    finally:
        pg.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    if "read" in results:
        print_read(results["read"], results["read_counts"], args)
    if "ingest" in results:
        print_ingest(results["ingest"], args)
    if results.get("soak"):
        print_soak(results["soak"])


if __name__ == "__main__":
    main()
