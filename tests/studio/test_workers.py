"""Several server processes on one database: the login rate limit lives in the database, so an
attacker gains nothing by spreading guesses over workers or waiting for a restart."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time

import httpx
import psutil

from tests.conftest import run_cli
from tests.studio.kit import StudioClient, build_studio, rt_records, serve_app
from tuneprep.studio.pgtemp import free_port
from tuneprep.studio.ratelimit import LoginLimits
from tuneprep.studio.web import create_app


def test_login_limit_holds_across_app_instances_and_restarts(db_url, rt_path, tmp_path):
    limits = LoginLimits(per_user=5, per_address=30, window_s=300)
    a = build_studio(db_url, tmp_path, rt_records(rt_path, 4), ["ann0", "ann1"], limits=limits)
    # a second server on the same database: another worker (its own secret would log nobody in
    # elsewhere, which does not matter for failed logins)
    app_b = create_app(db_url, secrets.token_hex(32).encode(), limits=limits)
    url_b, server_b, thread_b = serve_app(app_b)
    try:
        for _ in range(3):
            assert StudioClient(a.url).login("ann0", "wrong").status_code == 401
        for _ in range(2):
            assert StudioClient(url_b).login("ANN0", "wrong").status_code == 401  # case does not dodge it
        # 5 failures in all, spread over two processes: both refuse even the right password
        assert StudioClient(url_b).login("ann0", a.passwords["ann0"]).status_code == 429
        assert StudioClient(a.url).login("ann0", a.passwords["ann0"]).status_code == 429
        # a restarted process (a fresh app on the same database) still remembers
        app_c = create_app(db_url, secrets.token_hex(32).encode(), limits=limits)
        url_c, server_c, thread_c = serve_app(app_c)
        try:
            assert StudioClient(url_c).login("ann0", a.passwords["ann0"]).status_code == 429
        finally:
            server_c.should_exit = True
            thread_c.join(10)
            app_c.state.engine.dispose()
        # another account from the same address is not locked out by ann0's guesses
        assert StudioClient(url_b).login("ann1", a.passwords["ann1"]).status_code == 303
        # clearing the failures (what the window passing does) lets the right password in again
        a.app.state.limiter.reset("user:ann0")
        assert StudioClient(url_b).login("ann0", a.passwords["ann0"]).status_code == 303
    finally:
        server_b.should_exit = True
        thread_b.join(10)
        app_b.state.engine.dispose()
        a.stop()


def test_serve_with_two_workers_shares_sessions_and_limits(tmp_path):
    db = tmp_path / "studio.db"
    res = run_cli("studio", "init", "--db", str(db))
    assert res.returncode == 0, res.stderr
    password = re.search(r"password:\s+(\S+)", res.stdout).group(1)
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tuneprep.cli", "studio", "serve", "--db", str(db),
                             "--port", str(port), "--workers", "2"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True) if "python" in c.name().lower()]
        assert len(workers) >= 2, (tmp_path / "serve.log").read_text()
        # a session made on one connection works on fresh connections (whichever worker takes them)
        c = StudioClient(base)
        assert c.login("admin", password).status_code == 303
        cookie = c.http.cookies["studio_session"]
        for _ in range(6):
            fresh = httpx.Client(base_url=base, follow_redirects=False)
            fresh.cookies.set("studio_session", cookie)
            assert fresh.get("/").status_code == 200
            fresh.close()
        # guesses on new connections, whichever worker answers: the 6th attempt is refused
        for _ in range(5):
            assert StudioClient(base).login("admin", "wrong").status_code == 401
        assert StudioClient(base).login("admin", password).status_code == 429
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
