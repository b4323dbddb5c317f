"""Global steps the Ray engine runs on the cluster when they are the first global step.

``dedup.exact`` (grouping by key, here) and ``dedup.minhash`` (band keys and distributed connected
components, ``engine/ray_minhash.py``). Each gives a verdict per kept record, by (shard, pos),
that the driver applies while it writes the shard files (``ray._ShardSink``): only the records a
step drops or changes come back from the cluster. docs/scaling.md has the algorithms and costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from tuneprep.engine.ray_minhash import Decision, find_near_duplicates
from tuneprep.engine.ray_rows import ITEM
from tuneprep.engine.shard import n_parallel_steps
from tuneprep.ops.base import Drop, build_op
from tuneprep.ops.neardup import DedupMinHash
from tuneprep.recipe import Recipe

DISTRIBUTED_GLOBAL = ("dedup.exact", "dedup.minhash")

def first_global(recipe: Recipe) -> int:
    """The index of the first global step (``len(steps)`` when there is none)."""
    ops = [build_op(s.op, s.params()) for s in recipe.steps]
    return n_parallel_steps(ops)


def distributed_global(recipe: Recipe) -> str | None:
    """The first global step's op when the cluster runs it itself (``DISTRIBUTED_GLOBAL``), else None."""
    k = first_global(recipe)
    op = recipe.steps[k].op if k < len(recipe.steps) else None
    return op if op in DISTRIBUTED_GLOBAL else None


Decide = Callable[[int, int, bytes], tuple[Drop | None, dict[str, Any] | None]]
"""A distributed global step's verdict on the kept line ``data`` of (shard, pos): (why it is dropped
or None, the parsed line when the step looked at the record: dropped, or changed in place). Most
records are neither, and the driver copies their line without parsing it."""

_KEPT = object()


def _dedup_keys(batch: Any) -> Any:
    """The items' (key, shard, pos, rid) columns: what exact dedup groups."""
    import pyarrow.compute as pc

    items = batch.filter(pc.equal(batch.column("kind"), ITEM))
    return items.select(["key", "shard", "pos", "rid"])


def _duplicates(block: Any) -> Any:
    """A block of the key-sorted items (every item of a key is in one block): per key, the first
    by (shard, pos), i.e. by input order, survives (as in the local engine, where the first seen
    survives); the others are duplicates of it. Vectorised over the block: one call per block,
    not per key (one Python call and table sort per key cost seconds per 50,000 keys)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = block.sort_by([("key", "ascending"), ("shard", "ascending"), ("pos", "ascending")])
    n = t.num_rows
    if n < 2:
        return pa.table({"shard": pa.array([], pa.int64()), "pos": pa.array([], pa.int64()),
                         "dup_of": pa.array([], pa.binary())})
    keys = t.column("key")
    same = np.concatenate([[False], pc.equal(keys.slice(1), keys.slice(0, n - 1)).to_numpy(zero_copy_only=False)])
    first = np.maximum.accumulate(np.where(same, 0, np.arange(n)))  # each row's group start
    dup = pa.array(same)
    return pa.table({"shard": t.column("shard").filter(dup), "pos": t.column("pos").filter(dup),
                     "dup_of": t.column("rid").take(pa.array(first[same]))})


def find_duplicates(ds: Any) -> dict[tuple[int, int], Any]:
    """Exact dedup on the cluster: items range-partitioned by key (Ray Data's sort, a shuffle; the
    keys are 128-bit hashes, so the ranges are hash partitions), the survivor picked per key within
    each block; only the duplicates (shard, pos) -> survivor id come back to the driver."""
    dups: dict[tuple[int, int], Any] = {}
    # As GroupedData.map_groups does after its sort: a whole block per batch, so no key straddles two.
    found = ds.map_batches(_dedup_keys, batch_format="pyarrow").sort("key").map_batches(
        _duplicates, batch_size=None, batch_format="pyarrow")
    for batch in found.iter_batches(batch_size=None, batch_format="pyarrow"):
        for shard, pos, rid in zip(*(batch.column(c).to_pylist() for c in ("shard", "pos", "dup_of")), strict=True):
            dups[(shard, pos)] = orjson.loads(rid)
    return dups


def exact_verdicts(dups: dict[tuple[int, int], Any]) -> Decide:
    """Exact dedup's verdicts: a duplicate names its survivor's id."""
    def decide(shard: int, pos: int, data: bytes) -> tuple[Drop | None, dict[str, Any] | None]:
        survivor = dups.get((shard, pos), _KEPT)
        return (None if survivor is _KEPT else Drop("duplicate", {"duplicate_of": survivor})), None
    return decide


def minhash_verdicts(op: DedupMinHash, found: dict[tuple[int, int], Decision]) -> Decide:
    """MinHash's verdicts, through the op's own ``outcome`` (reject detail, the survivor's meta)."""
    def decide(shard: int, pos: int, data: bytes) -> tuple[Drop | None, dict[str, Any] | None]:
        d = found.get((shard, pos))
        if d is None:
            return None, None
        line = orjson.loads(data)
        drop = op.outcome(line["r"], d[0], d[2], d[1])  # a survivor's (d[0] None) meta changes in place
        return drop, (line if drop is not None or d[0] is None else None)
    return decide


def verdicts_on_cluster(recipe: Recipe, k: int, name: str, ds: Any, workers: int,
                        log: Callable[[str], None]) -> Decide:
    """Run step ``k`` (named ``name``; one of ``DISTRIBUTED_GLOBAL``) over the materialised phase-A
    dataset ``ds`` on the cluster; its verdicts for the driver."""
    t0 = time.perf_counter()
    op = build_op(recipe.steps[k].op, recipe.steps[k].params())
    if isinstance(op, DedupMinHash):
        return minhash_verdicts(op, find_near_duplicates(ds, op.params.model_dump(), workers, ds.count(), log,
                                                             name))
    dups = find_duplicates(ds)
    log(f"ray: {name} on the cluster: {time.perf_counter() - t0:.1f} s ({len(dups):,} duplicates)")
    return exact_verdicts(dups)
