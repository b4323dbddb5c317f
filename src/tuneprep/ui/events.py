"""Machine-readable logs: one JSON event per line, for schedulers and dashboards.

Enabled by ``tuneprep --log-json FILE VERB …`` or the ``TUNEPREP_LOG_JSON`` environment variable
(which child processes inherit). Events: ``stage_start`` / ``stage_end`` (a verb or a long step),
``progress`` (counts, rate, ETA), ``warning`` and ``error`` (with the exit code).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

ENV_VAR = "TUNEPREP_LOG_JSON"
_lock = threading.Lock()


def set_log_file(path: str | None) -> None:
    """Send events to ``path`` (appended); ``None`` keeps the environment's setting."""
    if path:
        os.environ[ENV_VAR] = str(path)


def emit(event: str, **fields: Any) -> None:
    """Append one event if a JSON log is configured; never raises into the caller's work."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    row = {"ts": round(time.time(), 3), "pid": os.getpid(), "event": event, **fields}
    line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
    try:
        with _lock, open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
    except OSError:
        pass
