"""Studio server CPU per request, before vs after, side by side in one run.

The app is driven in-process (httpx's ASGI transport, one client, one event loop) with
FastAPI's thread pool made inline, so one thread does all the work and ``time.thread_time()``
taken around the ASGI app counts exactly the server's CPU for each request (routing, auth,
CSRF, SQL, templates) — not the client's and not uvicorn's HTTP parsing. The loop is the one
benchmarks/studio.py times: GET /p/ID/next (303) → GET the item page → POST the label (303),
on SQLite (WAL, synchronous=NORMAL), real Rotten Tomatoes snippets, overlap 1.

"before" is the studio source at ``--base`` (a git revision, default the commit before the
CPU work), extracted with ``git archive``; "after" is this checkout's ``src``. They run as
separate processes in the order A-B-B-A, so a change in machine load hits both.

Usage: ``python benchmarks/studio_cpu.py [--base REV] [--items 200] [--warmup 30]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "764f2c2"  # the studio before this CPU work (studio2 branch point)
KINDS = ("next", "page", "submit")


def measure(items: int, warmup: int) -> dict:
    """One variant, in this process (whichever ``tuneprep`` is first on sys.path)."""
    import asyncio
    import re
    import secrets

    import anyio.to_thread
    import httpx

    from tuneprep.datasets import rotten_tomatoes
    from tuneprep.studio.db import create_schema, make_engine, session_factory
    from tuneprep.studio.projects import add_members, add_user, create_project
    from tuneprep.studio.web import create_app

    async def inline(func, *args, **_kw):  # the thread pool, made inline: one thread does everything
        return func(*args)

    anyio.to_thread.run_sync = inline
    work = Path(tempfile.mkdtemp(prefix="tuneprep-studio-cpu-"))
    url = f"sqlite:///{work / 'studio.db'}"
    engine = make_engine(url)
    create_schema(engine)
    sf = session_factory(engine)
    password = add_user(sf, "ann", "annotator")
    with open(rotten_tomatoes(), encoding="utf-8") as fh:
        recs = [json.loads(next(fh)) for _ in range(items + warmup)]
    for r in recs:
        r.pop("label")
    guidelines = "# Tone\n\nPick **positive** if the critic recommends the film, *negative* if not.\n"
    pid = create_project(sf, "cpu", recs, ["positive", "negative", "neutral"], 1, guidelines)
    add_members(sf, "cpu", ["ann"])
    engine.dispose()
    app = create_app(url, secrets.token_hex(32).encode())
    spent = {k: 0.0 for k in KINDS}
    current = {"kind": "next"}

    async def timed(scope, receive, send):
        t0 = time.thread_time()
        try:
            await app(scope, receive, send)
        finally:
            spent[current["kind"]] += time.thread_time() - t0

    rx = re.compile(r'name="csrf" value="([^"]*)"')

    async def run() -> int:
        transport = httpx.ASGITransport(app=timed, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
            tok = rx.search((await c.get("/login")).text).group(1)
            r = await c.post("/login", data={"username": "ann", "password": password, "csrf": tok})
            assert r.status_code == 303, r.text

            async def loop(n: int) -> None:
                for i in range(n):
                    current["kind"] = "next"
                    r = await c.get(f"/p/{pid}/next")
                    assert r.status_code == 303, r.text
                    loc = r.headers["location"]
                    current["kind"] = "page"
                    page = await c.get(loc)
                    current["kind"] = "submit"
                    r = await c.post(f"{loc}/label", data={"label": ("positive", "negative", "neutral")[i % 3],
                                                          "csrf": rx.search(page.text).group(1)})
                    assert r.status_code == 303, r.text

            await loop(warmup)
            for k in KINDS:
                spent[k] = 0.0
            await loop(items)
            return items

    n = asyncio.run(run())
    out = {f"cpu_ms_{k}": round(1000 * v / n, 3) for k, v in spent.items()}
    out["cpu_ms_per_request"] = round(1000 * sum(spent.values()) / (3 * n), 3)
    out["labels"] = n
    return out


def extract(rev: str, dest: Path) -> Path:
    """The ``src`` tree of ``rev`` (git archive), for the "before" process."""
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def run_variant(src: Path, items: int, warmup: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--measure", "--items", str(items), "--warmup", str(warmup)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default=DEFAULT_BASE, help="git revision of the 'before' studio")
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.items, args.warmup)))
        return
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from resultfile import Measurement

    m = Measurement("studio_cpu", libraries=["fastapi", "starlette", "sqlalchemy", "jinja2", "markdown-it-py"])
    base_src = extract(args.base, Path(tempfile.mkdtemp(prefix="tuneprep-studio-base-")))
    srcs = {"before": base_src, "after": ROOT / "src"}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for variant in ("before", "after", "after", "before"):
        res = run_variant(srcs[variant], args.items, args.warmup)
        print(f"{variant}: {res}", flush=True)
        runs[variant].append(res)
    figures: dict = {"base_revision": args.base, "labels_per_run": args.items, "requests_per_label": 3,
                     "backend": "sqlite", "runs": runs}
    for v, rs in runs.items():
        for k in ("cpu_ms_per_request", *(f"cpu_ms_{k}" for k in KINDS)):
            figures[f"{v}_{k}"] = round(float(np.mean([r[k] for r in rs])), 2)
    figures["before_over_after"] = round(figures["before_cpu_ms_per_request"] / figures["after_cpu_ms_per_request"], 2)
    print(f"server CPU per request: before {figures['before_cpu_ms_per_request']} ms, after "
          f"{figures['after_cpu_ms_per_request']} ms ({figures['before_over_after']}x less)")
    m.write(figures)


if __name__ == "__main__":
    main()
