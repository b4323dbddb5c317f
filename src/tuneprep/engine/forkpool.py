"""Worker processes by ``fork``, safe in a process that is also a Ray driver.

The local engine forks its workers (no re-import, the recipe's ops are already built). A forked
child inherits the parent's objects, including garbage not yet collected; if the child's garbage
collector frees one that holds a Ray ``ObjectRef`` (Ray Data datasets are cyclic), the child's copy
of Ray's core worker talks on the parent's inherited connections and the parent's later Ray calls
can hang (seen in tests/engine/test_ray_engine.py: a Ray run after a local run, after a MinHash run
on the cluster, waited forever for a task no node had been asked to run). So the parent collects
its garbage and freezes what is left before forking: a child never collects the parent's objects.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from multiprocessing import get_context


@contextmanager
def fork_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` forked processes; the parent's objects frozen
    (``gc.freeze``) while it runs, so no child's garbage collector touches them."""
    gc.collect()
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            yield pool
    finally:
        gc.unfreeze()


PoolOf = Callable[[int], AbstractContextManager[Executor]]
"""Makes the executor of the engine's worker tasks for a number of workers: ``fork_pool`` (processes
of this machine), or the Ray engine's ``ray_cluster.task_pool`` (Ray tasks on the cluster's nodes)."""
