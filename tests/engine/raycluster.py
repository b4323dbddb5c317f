"""A real two-node Ray cluster on this machine, for the Ray engine's tests.

Each node is started with `ray start` (one CPU each, a small object store, ports of its own and
a temp dir of its own) and stopped by killing exactly the processes it started (found by its temp
dir), never with `ray stop`, which would stop every Ray instance of the user on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE = 80 * 1024 * 1024  # bytes per node: the machine is shared
# One token for every cluster this test process starts: Ray reads the token once, when it is first
# imported, so a second module's cluster with a token of its own would refuse the driver.
TOKEN = secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalCluster:
    address: str = ""
    env: dict[str, str] = field(default_factory=dict)
    temp_dirs: list[str] = field(default_factory=list)

    def start(self, attempts: int = 3) -> LocalCluster:
        """Start the two nodes; a failed start (e.g. a port taken between choosing and binding it)
        is cleaned up and retried with fresh ports, and the last failure is raised."""
        for attempt in range(attempts):
            try:
                return self._start_once()
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
                self.temp_dirs = []
        raise AssertionError("unreachable")

    def _start_once(self) -> LocalCluster:
        # Token authentication with a token of our own: Ray 2.60 nodes authenticate to the GCS,
        # and a token in ~/.ray (another session's) must not decide whether our nodes can join.
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN,
                    "RAY_USAGE_STATS_ENABLED": "0",
                    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        for head in (True, False):
            # A short path: Ray puts Unix sockets under it (108-byte limit).
            tmp = tempfile.mkdtemp(prefix="tpray", dir="/tmp")
            self.temp_dirs.append(tmp)
            base = 20000 + secrets.randbelow(400) * 100
            args = [RAY, "start", "--num-cpus=1", f"--object-store-memory={OBJECT_STORE}", f"--temp-dir={tmp}",
                    f"--min-worker-port={base}", f"--max-worker-port={base + 99}",
                    f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
                    f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
                    f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
                    "--disable-usage-stats"]
            args += (["--head", f"--port={port}", "--include-dashboard=false", f"--dashboard-port={free_port()}"]
                     if head else [f"--address={self.address}"])
            proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=180)
            if proc.returncode != 0:
                self.stop()
                raise RuntimeError(f"ray start failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        return self

    def processes(self) -> list:
        import psutil

        found = []
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if any(t in cmd for t in self.temp_dirs):
                found.append(p)
        return found

    def stop(self) -> None:
        import psutil

        procs = self.processes()
        for p in list(procs):
            try:
                procs.extend(p.children(recursive=True))  # workers rename themselves "ray::..."
            except psutil.Error:
                pass
        for p in procs:
            try:
                p.terminate()
            except psutil.Error:
                pass
        # Some Ray processes outlive SIGTERM for seconds (the test paid 10 s per cluster here):
        # what is still there after a short grace is killed.
        _, alive = psutil.wait_procs(procs, timeout=3)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        time.sleep(0.5)
        for t in self.temp_dirs:
            shutil.rmtree(t, ignore_errors=True)
