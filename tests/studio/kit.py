"""Test kit for the studio: a live server in a thread, an HTTP client that logs in like a browser."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tuneprep.studio.db import create_schema, make_engine, session_factory
from tuneprep.studio.projects import add_members, add_user, create_project
from tuneprep.studio.ratelimit import LoginLimits

CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')


def cheap_hashing() -> None:
    """Tests create dozens of accounts on a busy 2-core machine: hash them with cheap argon2
    parameters (the hash records its parameters, so verification follows). Production code keeps
    argon2-cffi's defaults; test_security checks those through the real CLI."""
    from argon2 import PasswordHasher

    from tuneprep.studio import security

    security._hasher = lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def rt_records(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` real Rotten Tomatoes snippets (ids rt-00000…), labels removed: people label them."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            out.append({"id": rec["id"], "text": rec["text"], "movie_name": rec["movie_name"],
                        "meta": {"gold": rec["label"]}})
            if len(out) == n:
                break
    return out


@dataclass
class Studio:
    url: str  # http://127.0.0.1:PORT
    db_url: str
    sf: Any
    app: Any
    passwords: dict[str, str] = field(default_factory=dict)
    projects: dict[str, int] = field(default_factory=dict)
    server: Any = None
    thread: Any = None

    def client(self, name: str | None = None) -> StudioClient:
        c = StudioClient(self.url)
        if name:
            c.login(name, self.passwords[name])
        return c

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.engine.dispose()


class StudioClient:
    """httpx with the cookie jar a browser would keep, and the CSRF token taken from pages."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
        self.token = ""

    def page(self, path: str) -> httpx.Response:
        r = self.http.get(path)
        m = CSRF_RE.search(r.text)
        if m and m.group(1):
            self.token = m.group(1)
        return r

    def login(self, name: str, password: str) -> httpx.Response:
        m = CSRF_RE.search(self.http.get("/login").text)
        r = self.http.post("/login", data={"username": name, "password": password, "csrf": m.group(1)})
        if r.status_code == 303:
            self.page("/")
        return r

    def post(self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kw: Any) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            data["csrf"] = self.token
        return self.http.post(path, data=data, **kw)

    def next_item(self, pid: int) -> int | None:
        r = self.http.get(f"/p/{pid}/next")
        if r.status_code == 200:  # the "nothing left" page
            return None
        assert r.status_code == 303, r.text
        return int(r.headers["location"].rsplit("/", 1)[1])

    def label(self, pid: int, item_id: int, label: str, comment: str = "") -> httpx.Response:
        return self.post(f"/p/{pid}/items/{item_id}/label", {"label": label, "comment": comment})


def build_studio(db_url: str, tmp: Path, records: list[dict[str, Any]], annotators: list[str],
                 overlap: int = 2, labels: tuple[str, ...] = ("positive", "negative", "neutral"),
                 guidelines: str = "", extra_projects: dict[str, list[dict[str, Any]]] | None = None,
                 limits: LoginLimits | None = None, main_members: list[str] | None = None) -> Studio:
    """Schema, an admin, a reviewer, the annotators, project ``main`` (+ extras), then a live server."""
    from tuneprep.studio.web import create_app

    cheap_hashing()
    engine = make_engine(db_url)
    create_schema(engine)
    sf = session_factory(engine)
    pw = {"admin": add_user(sf, "admin", "admin"), "rev": add_user(sf, "rev", "reviewer")}
    for a in annotators:
        pw[a] = add_user(sf, a, "annotator")
    projects = {"main": create_project(sf, "main", records, list(labels), overlap, guidelines)}
    add_members(sf, "main", ["rev", *(annotators if main_members is None else main_members)])
    for name, recs in (extra_projects or {}).items():
        projects[name] = create_project(sf, name, recs, list(labels), overlap)
    engine.dispose()
    app = create_app(db_url, secrets.token_hex(32).encode(), limits=limits)
    url, server, thread = serve_app(app)
    return Studio(url, db_url, app.state.sf, app, pw, projects, server, thread)


def serve_app(app: Any) -> tuple[str, Any, threading.Thread]:
    """Run an ASGI app with uvicorn in a daemon thread on a free loopback port."""
    import uvicorn

    from tuneprep.studio.pgtemp import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "studio server did not start"
    return f"http://127.0.0.1:{port}", server, thread
