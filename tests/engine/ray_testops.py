"""A test-only operator for the killed-worker test, registered in Ray workers by a setup hook.

``test.pause_once`` passes records through unchanged; the first time a worker process applies
it with a given ``pid_dir``, the process writes its pid there and sleeps, so that the test can kill it
mid-task (per ``pid_dir``: Ray reuses a worker process across the tests of a module).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

from tuneprep.ops.base import _REGISTRY, OpParams, RecordOp, register


class PauseParams(OpParams):
    pid_dir: str
    seconds: float = 2.0


_PAUSED: set[str] = set()  # the pid_dirs this process has paused for


class PauseOnce(RecordOp):
    name: ClassVar[str] = "test.pause_once"
    Params: ClassVar[type[OpParams]] = PauseParams

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.params.pid_dir not in _PAUSED:  # type: ignore[attr-defined]
            _PAUSED.add(self.params.pid_dir)  # type: ignore[attr-defined]
            Path(self.params.pid_dir, str(os.getpid())).write_text("")  # type: ignore[attr-defined]
            time.sleep(self.params.seconds)  # type: ignore[attr-defined]
        return record


def register_ops() -> None:
    """Ray ``worker_process_setup_hook``: make the operator known in every worker."""
    register(PauseOnce)  # registering the same class again is a no-op


def unregister_ops() -> None:
    """Remove the operator from this process's registry (other tests list every registered operator)."""
    _REGISTRY.pop(PauseOnce.name, None)
