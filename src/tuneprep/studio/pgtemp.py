"""A throwaway PostgreSQL server in a temp directory, for tests and benchmarks.

Uses Debian's ``postgresql`` binaries (``/usr/lib/postgresql/*/bin``). PostgreSQL refuses to
run as root, so as root the server runs as ``nobody`` (via ``runuser``). Trust authentication
on 127.0.0.1 only; the directory is removed on ``stop()``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PgUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (the message says why)."""


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    def __init__(self, fast: bool = True) -> None:
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise PgUnavailable("PostgreSQL is not installed (apt-get install postgresql; `make system-deps`)")
        self.fast = fast
        self.base = Path(tempfile.mkdtemp(prefix="tuneprep-pg-"))
        self.port = free_port()
        self.user = "studio"
        self._runas: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser") or shutil.which("su")
            if runuser is None:
                raise PgUnavailable("running as root and neither runuser nor su is available")
            self._runas = [runuser, "-u", "nobody", "--"]
            os.chmod(self.base, 0o755)
            shutil.chown(self.base, "nobody")

    def _run(self, *args: str) -> None:
        res = subprocess.run([*self._runas, *args], capture_output=True, text=True, cwd=self.base)
        if res.returncode != 0:
            log = (self.base / "log").read_text() if (self.base / "log").exists() else ""
            raise PgUnavailable(f"{Path(args[0]).name} failed: {res.stderr.strip() or res.stdout.strip()}\n{log[-2000:]}")

    def start(self) -> TempPostgres:
        data = self.base / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if self.fast:  # a throwaway server: durability does not matter
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.base / "log"), "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name from the caller's code, never from data
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "stop")
        except PgUnavailable:
            pass
        shutil.rmtree(self.base, ignore_errors=True)
