"""Phase B of a final ranked selection (``select.sample``, ``select.top``) in parallel, with the
serial path's output.

A ranked op (``GlobalOp.ranked``) answers each record from its prepared key, except for a budget:
of the records with a rank, the ``rank_budget`` best by (rank, input position) are kept. The
input position is (shard, position in the shard), so the budget's boundary is one entry of the
merged, sorted ranks of every shard, and every record can be judged against it alone:

1. **count** (one task per shard): the records with a rank, from phase A's ``[key, id, position]``
   lines (``engine/keyfiles.py``); the driver sums them and asks the op for its budget ``k``;
2. **rank** (one task per shard, when there is a budget): the shard's best ``k`` (rank, position)
   pairs, sorted, into ``WorkDir.ranks``;
3. **boundary** (driver): the ``k``-th entry of those files merged as (rank, shard, position) —
   read lazily, holding one entry per shard;
4. **verdicts** (one task per shard): each record's ``rank_verdict`` (kept when its entry is not
   after the boundary), the drops as ``[position, reason, detail]`` lines in ``WorkDir.drops``, as
   ``keyed.decide_group`` writes them; then the records move as in ``keyed.py`` (its ``_move``).

So no process holds every record or every key (the serial ``select.top`` holds a rank per
record), and the files are byte for byte the serial path's (``phases.BarrierSteps``): the same
kept records, rejects, reasons and details, and counts.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from typing import Any

import orjson

from tuneprep.engine.forkpool import PoolOf, fork_pool
from tuneprep.engine.keyed import SplitRoute, _move, _procs, drop_line
from tuneprep.engine.keyfiles import BUCKETS, read_buckets
from tuneprep.engine.phases import OutputWriter, Progress
from tuneprep.engine.shard import RejectFiles, Shard
from tuneprep.engine.stats import StepStats
from tuneprep.engine.workdir import WorkDir
from tuneprep.ops.base import GlobalOp, Op


def applies(ops: list[Op], k: int, shards: list[Shard], wd: WorkDir, workers: int) -> bool:
    """True when step ``k`` is the last step, ranked, with more than one worker and shard and every
    shard's keys file in place (the caller checks the rest, as for ``keyed.applies``)."""
    return (workers > 1 and len(shards) > 1 and k == len(ops) - 1
            and isinstance(ops[k], GlobalOp) and ops[k].ranked  # type: ignore[attr-defined]
            and all(wd.keys(s.index).exists() and wd.keys_index(s.index).exists() for s in shards))


def _keys(wd: WorkDir, shard: int) -> list[tuple[Any, int]]:
    """(key, position) of a shard's kept records, in position order."""
    lines = read_buckets(wd.keys(shard), wd.keys_index(shard), 0, BUCKETS)
    return sorted(((key, pos) for key, _, pos in lines), key=lambda kp: kp[1])


def count_ranked(op: GlobalOp, wd: WorkDir, shard: int) -> int:
    """Task (step 1): how many of the shard's records have a rank."""
    return sum(1 for key, _ in _keys(wd, shard) if op.rank_of(key) is not None)


def best_ranks(op: GlobalOp, wd: WorkDir, shard: int, k: int) -> None:
    """Task (step 2): the shard's best ``k`` ``[rank, position]`` pairs, sorted, one JSON line each."""
    ranked = ([op.rank_of(key), pos] for key, pos in _keys(wd, shard))
    best = heapq.nsmallest(k, (r for r in ranked if r[0] is not None))
    with open(wd.ranks(shard), "wb") as fh:
        fh.write(b"".join(orjson.dumps(r) + b"\n" for r in best))


def _entries(wd: WorkDir, shard: int) -> Iterator[list[Any]]:
    with open(wd.ranks(shard), "rb") as fh:
        for line in fh:
            rank, pos = orjson.loads(line)
            yield [rank, shard, pos]


def boundary(wd: WorkDir, shards: list[int], k: int) -> list[Any] | None:
    """Step 3: the ``k``-th best (rank, shard, position) over every shard (None: fewer than ``k``,
    or ``k`` is 0)."""
    if k <= 0:
        return None
    for n, entry in enumerate(heapq.merge(*(_entries(wd, s) for s in shards)), 1):
        if n == k:
            return entry
    return None


def verdicts(op: GlobalOp, name: str, wd: WorkDir, shard: int, budget: bool, keep_all: bool,
             last: list[Any] | None) -> tuple[StepStats, int]:
    """Task (step 4): the shard's verdicts; drops into ``wd.drops(shard)``. ``budget``: the op has
    one (else each verdict is the key's alone); ``keep_all``: the budget holds every ranked record;
    ``last``: the boundary entry (None: the budget is 0, or above the ranked records). Returns the
    counts and the bytes written."""
    st = StepStats(name)
    written = 0
    with open(wd.drops(shard), "wb") as fh:
        for key, pos in _keys(wd, shard):
            rank = op.rank_of(key)
            kept: bool | None = None
            if budget and rank is not None:
                kept = keep_all or (last is not None and [rank, shard, pos] <= last)
            line = drop_line(st, pos, op.rank_verdict(key, kept, last[0] if last is not None else None))
            fh.write(line)
            written += len(line)
    st.collect(op)
    return st, written


def run_ranked(op: GlobalOp, name: str, st: StepStats, shards: list[Shard], wd: WorkDir, workers: int,
               rejects: RejectFiles, writer: OutputWriter, progress: Progress,
               route: SplitRoute | None = None, pool_of: PoolOf = fork_pool) -> None:
    """Steps 1–4 above: the step's stats into ``st``, its rejects into ``rejects(name)``, the kept
    records through ``writer`` into ``data/`` (or, with ``route``, their splits)."""
    op.setup()
    progress.start(name, None, "records")
    t0 = time.perf_counter()
    ids = [s.index for s in shards]
    procs = _procs(workers, len(shards), pool_of)
    with pool_of(procs) as pool:
        total = sum(f.result() for f in [pool.submit(count_ranked, op, wd, i) for i in ids])
        k = op.rank_budget(total)
        last = None
        if k is not None and 0 < k <= total:
            for f in [pool.submit(best_ranks, op, wd, i, k) for i in ids]:
                f.result()
            last = boundary(wd, ids, k)
        keep_all = k is not None and k >= total
        pieces: dict[int, list[tuple[str, int, int]]] = {}
        for i, f in zip(ids, [pool.submit(verdicts, op, name, wd, i, k is not None, keep_all, last)
                              for i in ids], strict=True):
            shard_st, written = f.result()
            shard_st.seconds = 0.0  # the step's time is the wall time below
            st.merge(shard_st)
            pieces[i] = [(str(wd.drops(i)), 0, written)] if written else []
        _move(pool, procs, ((i, pieces[i]) for i in ids), name, shards, wd, rejects, writer, progress, route)
    st.seconds += time.perf_counter() - t0
    progress.finish(name)
