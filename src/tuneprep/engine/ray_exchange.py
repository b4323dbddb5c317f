"""How the Ray engine's stages pass records: the work directory, or Ray's object store.

``files``: the local engine's worker functions run as Ray tasks that read and write the run's work
directory themselves (``run_recipe`` with ``ray_cluster.task_pool``); every node must see it.
``objects``: phase A is a Ray Data pipeline whose rows come back to the driver through the object
store (``ray.ray_phase_a``). ``choose_exchange`` decides per run (docs/scaling.md, "Two exchanges").
"""

from __future__ import annotations

from collections.abc import Callable

from tuneprep.engine import keyed
from tuneprep.engine.local import RunError
from tuneprep.engine.outputs import OutputPlace
from tuneprep.engine.ray_global import distributed_global
from tuneprep.engine.shard import n_parallel_steps
from tuneprep.ops.base import BatchOp, build_op
from tuneprep.ray_cluster import Exchange, every_node_sees
from tuneprep.recipe import Recipe
from tuneprep.urls import is_url, scheme

# URL schemes whose files exist in one process only (fsspec's memory filesystem).
PROCESS_LOCAL = ("memory",)


def files_fit(recipe: Recipe) -> str | None:
    """Why the recipe needs the object-store exchange (None: the work-file tasks can run all of it).

    The tasks are the local engine's: phase A per shard, then, when the recipe ends with a keys-only
    step (``dedup.exact``) or a ranked one (``select.sample``, ``select.top``, ``select.balance``) and has no split or a
    hash split, that step decided per group of key buckets or ranked per shard, and the records moved
    per shard (``engine/keyed.py``, ``engine/ranked.py``). A model step (an actor pool), a
    step with ``resources:``, or a dedup the keyed tasks cannot take (MinHash; exact dedup before
    other global steps or an exact split) runs through Ray Data, where the cluster runs it."""
    ops = [build_op(s.op, s.params()) for s in recipe.steps]
    k = n_parallel_steps(ops)
    for i in range(k):
        if isinstance(ops[i], BatchOp) or recipe.steps[i].resources is not None:
            return f"step {i + 1} ({recipe.steps[i].op}) runs in an actor pool or with its own resources"
    if distributed_global(recipe) is None:
        return None
    name = recipe.steps[k].op
    keyed_takes = (k == len(ops) - 1 and ops[k].keys_only  # type: ignore[attr-defined]
                   and keyed.moves_in_workers(recipe))
    return None if keyed_takes else f"step {k + 1} ({name}) runs on the cluster through Ray Data"


def choose_exchange(recipe: Recipe, exchange: Exchange, log: Callable[[str], None]) -> str:
    """``files`` (the tasks read and write the work directory) or ``objects`` (records through Ray's
    object store to the driver, ``ray_phase_a``). ``auto`` takes files when the recipe fits them
    (``files_fit``) and a task on every node reads back a file the driver writes in the run's
    local directory (one machine, or a shared mount: ``ray_cluster.every_node_sees``)."""
    if exchange == "objects":
        log("ray: records travel through the object store (exchange 'objects' asked for)")
        return "objects"
    patterns = [recipe.input.path] if isinstance(recipe.input.path, str) else recipe.input.path
    why = files_fit(recipe)
    if why is None and any(is_url(p) and scheme(p) in PROCESS_LOCAL for p in patterns):
        why = "an in-memory input"
    if why is None and not every_node_sees(OutputPlace.of(recipe.output.path).local):
        why = "not every node sees the output directory"
    if why is None:
        log("ray: every task reads and writes the work directory (shared by every node)")
        return "files"
    if exchange == "files":
        raise RunError(f"ray engine: exchange 'files' cannot run this recipe: {why}")
    log(f"ray: records travel through the object store ({why})")
    return "objects"
