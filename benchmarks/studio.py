"""Annotation studio throughput: "next item + submit" with 20 concurrent clients, SQLite vs PostgreSQL.

The server is the real ``tuneprep studio serve`` in its own process(es) (uvicorn; ``--workers 1,2``
measures each worker count, every one of them on both backends); the clients are 20 threads in this process, each logged in like a browser, looping
GET /p/ID/next (303) → GET the item page → POST the label (303) until the project is done.
Every project holds real Rotten Tomatoes snippets, overlap 2. The backends run interleaved
(A-B-B-A: sqlite, postgresql, postgresql, sqlite) on fresh projects, so machine load hits both.
SQLite runs in WAL mode with synchronous=NORMAL; PostgreSQL is a throwaway server from Debian's
package with its default durability (fsync on, synchronous_commit on).

Then one client alone per backend (``--single-items``): the latency without queueing.

Usage: ``python benchmarks/studio.py [--items 150] [--clients 20] [--single-items 40] [--workers 1,2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from tuneprep.studio.pgtemp import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resultfile import Measurement  # noqa: E402

CSRF = 'name="csrf" value="'


def _token(html: str) -> str:
    i = html.index(CSRF) + len(CSRF)
    return html[i:html.index('"', i)]


def setup_db(url: str, secret_file: Path, n_items: int, clients: int, tag: str) -> tuple[int, dict[str, str]]:
    from tuneprep.datasets import rotten_tomatoes
    from tuneprep.studio.db import User, create_schema, make_engine, session_factory
    from tuneprep.studio.projects import add_members, create_project
    from tuneprep.studio.security import hash_password, write_secret

    if not secret_file.exists():
        write_secret(secret_file)
    engine = make_engine(url)
    create_schema(engine)
    sf = session_factory(engine)
    password = secrets.token_urlsafe(16)
    h = hash_password(password)  # one hash for all bench users: hashing is not what we measure
    names = [f"{tag}{i:02d}" for i in range(clients)]
    with sf.begin() as s:
        s.add_all([User(name=n, password_hash=h, role="annotator") for n in names])
    with open(rotten_tomatoes(), encoding="utf-8") as fh:
        recs = [json.loads(next(fh)) for _ in range(n_items)]
    for r in recs:
        r.pop("label")
    pid = create_project(sf, f"bench-{tag}", recs, ["positive", "negative", "neutral"], overlap=2)
    add_members(sf, f"bench-{tag}", names)
    engine.dispose()
    return pid, {n: password for n in names}


def start_server(url: str, secret_file: Path, port: int, workers: int = 1) -> subprocess.Popen:
    env = {**os.environ, "TUNEPREP_STUDIO_SECRET_FILE": str(secret_file)}
    # the server's log (one access line per request, as in production) goes to a file, never to
    # a pipe nobody reads (a full pipe would stall the server)
    log_path = secret_file.with_suffix(f".{port}.log")
    log = open(log_path, "wb")  # the child keeps it open; ours closes when the benchmark ends
    proc = subprocess.Popen([sys.executable, "-m", "tuneprep.cli", "studio", "serve", "--db", url, "--port", str(port),
                             "--workers", str(workers)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def run_clients(base: str, pid: int, users: dict[str, str], on_start=None) -> dict:
    """The clients log in, wait for each other, then loop; ``on_start`` runs when all are logged in."""
    lat: dict[str, list[float]] = {"next": [], "page": [], "submit": [], "pair": []}
    lock = threading.Lock()
    errors: list[str] = []
    barrier = threading.Barrier(len(users) + 1)

    def client(name: str, password: str) -> None:
        try:
            loop(name, password)
        except Exception as e:  # a client that dies would silently leave the others less contention
            errors.append(f"{name}: {type(e).__name__}: {e}")
            raise

    def loop(name: str, password: str) -> None:
        # idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them under us
        # (waiting at the barrier while 19 others log in can take longer than that)
        c = httpx.Client(base_url=base, follow_redirects=False, timeout=60,
                         limits=httpx.Limits(keepalive_expiry=4.0))
        tok = _token(c.get("/login").text)
        c.post("/login", data={"username": name, "password": password, "csrf": tok})
        barrier.wait()
        mine = {k: [] for k in lat}
        n = 0
        while True:
            t0 = time.perf_counter()
            r = c.get(f"/p/{pid}/next")
            t1 = time.perf_counter()
            if r.status_code != 303:
                break
            loc = r.headers["location"]
            page = c.get(loc)
            t2 = time.perf_counter()
            r = c.post(f"{loc}/label", data={"label": ("positive", "negative", "neutral")[n % 3],
                                             "csrf": _token(page.text)})
            t3 = time.perf_counter()
            if r.status_code != 303:
                errors.append(f"{r.status_code} {r.text[:200]}")
                break
            n += 1
            mine["next"].append(t1 - t0)
            mine["page"].append(t2 - t1)
            mine["submit"].append(t3 - t2)
            mine["pair"].append(t3 - t0)
        with lock:
            for k in lat:
                lat[k] += mine[k]

    threads = [threading.Thread(target=client, args=kv) for kv in users.items()]
    for t in threads:
        t.start()
    barrier.wait()
    if on_start:
        on_start()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} failed clients or submits, first: {errors[0]}")
    n = len(lat["pair"])
    ms = {k: np.array(v) * 1000 for k, v in lat.items()}
    return {"labels_submitted": n, "wall_s": round(wall, 2), "requests_per_s": round(3 * n / wall, 1),
            "labels_per_s": round(n / wall, 1),
            **{f"p50_{k}_ms": round(float(np.percentile(v, 50)), 1) for k, v in ms.items()},
            **{f"p95_{k}_ms": round(float(np.percentile(v, 95)), 1) for k, v in ms.items()},
            "p95_request_ms": round(float(np.percentile(np.concatenate([ms["next"], ms["page"], ms["submit"]]), 95)), 1)}


def measured(proc: subprocess.Popen, base: str, pid: int, users: dict[str, str]) -> dict:
    """run_clients plus the server's CPU time per request (all its processes; less load-dependent
    than wall time)."""
    import psutil

    procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]

    def cpu_s() -> float:
        return sum(sum(p.cpu_times()[:2]) for p in procs)

    # from the moment every client is logged in: the logins' argon2 verifications are not requests
    # of the loop (earlier result files, before this fix, counted them in)
    start: dict[str, float] = {}
    load_before = os.getloadavg()[0]
    res = run_clients(base, pid, users, on_start=lambda: start.setdefault("cpu", cpu_s()))
    cpu = cpu_s() - start["cpu"]
    res["load_avg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    res["server_cpu_ms_per_request"] = round(1000 * cpu / (3 * res["labels_submitted"]), 2)
    return res


def one_run(url: str, secret: Path, items: int, clients: int, tag: str, workers: int = 1) -> dict:
    """A fresh project, a fresh server, the clients until the project is done."""
    pid, users = setup_db(url, secret, items, clients, tag)
    port = free_port()
    proc = start_server(url, secret, port, workers)
    try:
        return measured(proc, f"http://127.0.0.1:{port}", pid, users)
    finally:
        proc.terminate()
        proc.wait(10)


def _key(backend: str, workers: int) -> str:
    # one worker keeps the plain backend name, as in earlier result files
    return backend if workers == 1 else f"{backend}_{workers}workers"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--single-items", type=int, default=40, help="Items for the one-client latency run.")
    ap.add_argument("--workers", default="1", help="Server worker counts to measure, comma-separated (e.g. 1,2).")
    args = ap.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    from tuneprep.studio.pgtemp import TempPostgres

    # a killed benchmark still stops its PostgreSQL server and deletes its directory
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    m = Measurement("studio", libraries=["fastapi", "sqlalchemy", "uvicorn", "psycopg", "starlette", "psutil"])
    work = Path(tempfile.mkdtemp(prefix="tuneprep-studio-bench-"))
    pg = TempPostgres(fast=False).start()
    urls = {"sqlite": f"sqlite:///{work / 'studio.db'}", "postgresql": pg.create_database("bench")}
    runs: dict[str, list[dict]] = {}
    single: dict[str, dict] = {}
    try:
        for w in worker_counts:
            for i, backend in enumerate(["sqlite", "postgresql", "postgresql", "sqlite"]):
                res = one_run(urls[backend], work / f"{backend}.secret", args.items, args.clients, f"w{w}r{i}u", w)
                assert res["labels_submitted"] == 2 * args.items, res
                print(f"workers {w}, run {i + 1} {backend}: {res}", flush=True)
                runs.setdefault(_key(backend, w), []).append(res)
        # one client alone: the latency one annotator sees when the server is not queueing requests
        for backend in ("sqlite", "postgresql"):
            res = one_run(urls[backend], work / f"{backend}.secret", args.single_items, 1, f"single{backend[:2]}")
            print(f"one client, {backend}: {res}", flush=True)
            single[backend] = res
    finally:
        pg.stop()
    figures: dict = {"clients": args.clients, "items_per_run": args.items, "overlap": 2,
                     "requests_per_label": 3, "workers": worker_counts, "runs": runs, "one_client": single}
    for b, rs in runs.items():
        figures[f"{b}_requests_per_s"] = round(float(np.mean([r["requests_per_s"] for r in rs])), 1)
        figures[f"{b}_p95_request_ms"] = round(float(np.mean([r["p95_request_ms"] for r in rs])), 1)
        figures[f"{b}_p95_next_plus_submit_ms"] = round(float(np.mean([r["p95_pair_ms"] for r in rs])), 1)
        figures[f"{b}_server_cpu_ms_per_request"] = round(float(np.mean([r["server_cpu_ms_per_request"] for r in rs])), 2)
    w0 = worker_counts[0]
    figures["sqlite_over_postgresql_requests_per_s"] = round(
        figures[f"{_key('sqlite', w0)}_requests_per_s"] / figures[f"{_key('postgresql', w0)}_requests_per_s"], 2)
    for b, r in single.items():
        figures[f"{b}_one_client_p95_request_ms"] = r["p95_request_ms"]
        figures[f"{b}_one_client_p50_request_ms"] = round(float(np.mean([r["p50_next_ms"], r["p50_page_ms"],
                                                                        r["p50_submit_ms"]])), 1)
    best = min(figures[f"{_key('sqlite', w)}_p95_request_ms"] for w in worker_counts)
    figures["target_sqlite_p95_request_ms_below_50"] = best < 50
    for w in worker_counts:
        s_, p_ = _key("sqlite", w), _key("postgresql", w)
        print(f"workers {w}: SQLite {figures[f'{s_}_requests_per_s']} req/s, p95 {figures[f'{s_}_p95_request_ms']} ms "
              f"per request | PostgreSQL {figures[f'{p_}_requests_per_s']} req/s, p95 {figures[f'{p_}_p95_request_ms']} ms")
    m.write(figures)


if __name__ == "__main__":
    main()
