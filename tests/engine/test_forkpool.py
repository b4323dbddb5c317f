"""The local engine's forked workers never collect the parent's garbage (engine/forkpool.py).

Why it matters: in a process that is also a Ray driver, a child that frees an inherited Ray object
talks to Ray on the parent's connections, and the parent's next Ray call can hang.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from tuneprep.engine.forkpool import fork_pool


class _Finalized:
    """Writes the pid of the process that finalizes it."""

    def __init__(self, log: Path):
        self.log = log
        self.me = self  # a cycle: only the garbage collector frees it

    def __del__(self) -> None:
        with open(self.log, "a") as fh:
            fh.write(f"{os.getpid()}\n")


def _collect_in_child(_: int) -> int:
    gc.collect()  # what a worker's own garbage collector may do at any allocation
    return os.getpid()


def test_forked_workers_never_collect_the_parents_garbage(tmp_path: Path) -> None:
    log = tmp_path / "finalized"
    gc.disable()  # the garbage must still exist when the pool forks (explicit collect() still works)
    try:
        _Finalized(log)
        with fork_pool(2) as pool:
            children = set(pool.map(_collect_in_child, range(8)))
    finally:
        gc.enable()
    assert os.getpid() not in children and children
    assert log.read_text().split() == [str(os.getpid())]  # freed once, by the parent
