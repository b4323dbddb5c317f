"""One result-file format for every benchmark: ``benchmarks/results/<name>.json``.

Every published figure must come from a committed result file, so each benchmark calls
:func:`write_result` with its figures; the file records how and where they were measured
(the exact command, date, git commit, machine, load average before/after, library versions).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=RESULTS_DIR.parent, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=RESULTS_DIR.parent,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _versions(packages: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


class Measurement:
    """Context for one benchmark run: captures the load average when it starts.

    Usage::

        m = Measurement("neardup", libraries=["datatrove", "datasketch"])
        ...  # measure
        m.write({"f1": 0.93, "wall_s": 12.1})
    """

    def __init__(self, name: str, libraries: list[str] | None = None) -> None:
        self.name = name
        self.libraries = ["tuneprep", *(libraries or [])]
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.load_before = os.getloadavg()

    def write(self, figures: dict[str, Any], out_dir: Path | None = None) -> Path:
        """Write ``<out_dir or benchmarks/results>/<name>.json`` and print it; returns the path."""
        doc = {
            "name": self.name,
            "figures": figures,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "started": self.started.isoformat(timespec="seconds"),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "machine": {
                "cores": os.cpu_count(),
                "memory_gib": _memory_gib(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_avg_before": [round(x, 2) for x in self.load_before],
                "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            },
            "versions": _versions(self.libraries),
        }
        target_dir = out_dir or RESULTS_DIR
        target_dir.mkdir(parents=True, exist_ok=True)
        path = target_dir / f"{self.name}.json"
        text = json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        print(text)
        print(f"result file: {path}")
        return path


def write_result(name: str, figures: dict[str, Any], libraries: list[str] | None = None) -> Path:
    """Shortcut when the load average at the start does not matter: measure, then call this."""
    return Measurement(name, libraries).write(figures)
