"""Phase B of a final ranked selection (``select.sample``, ``select.top``) in parallel, with the
serial path's output.

A ranked op (``GlobalOp.ranked``) answers each record from its prepared key, except for a budget
per group (one group, or one per label): of a group's records with a rank, its budget's best by
(rank, input position) are kept. The input position is (shard, position in the shard), so a
budget's boundary is one entry of the merged, sorted ranks of every shard, and every record can be
judged against its group's boundary alone:

1. **count** (one task per shard): the records with a rank per group, from phase A's ``[key, id,
   position]`` lines (``engine/keyfiles.py``); the driver sums them and asks the op for each group's
   budget ``k`` (an input ranks cannot decide, e.g. multi-label records for ``select.balance``, goes
   to the serial path, nothing written);
2. **rank** (one task per shard, for the groups a budget cuts): the shard's best ``k`` (group, rank,
   position) entries of each group, sorted, into ``WorkDir.ranks``;
3. **boundaries** (driver): each group's ``k``-th entry of those files merged as (group, rank, shard,
   position) — read lazily, holding one entry per shard;
4. **verdicts** (one task per shard): each record's ``rank_verdict`` (kept when its entry is not
   after the boundary), the drops as ``[position, reason, detail]`` lines in ``WorkDir.drops``, as
   ``keyed.decide_group`` writes them; then the records move as in ``keyed.py`` (``keyed.move_records``).

So no process holds every record or every key (the serial ``select.top`` holds a rank per
record), and the files are byte for byte the serial path's (``phases.BarrierSteps``): the same
kept records, rejects, reasons and details, and counts.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson

from tuneprep.engine.forkpool import PoolOf, fork_pool
from tuneprep.engine.keyed import SplitRoute, decided_from_keys, drop_line, move_records, tasks_at_once
from tuneprep.engine.keyfiles import BUCKETS, read_buckets
from tuneprep.engine.phases import OutputWriter, Progress
from tuneprep.engine.shard import RejectFiles, Shard
from tuneprep.engine.stats import StepStats
from tuneprep.engine.workdir import WorkDir
from tuneprep.ops.base import GlobalOp, NotRanked, Op


def applies(ops: list[Op], k: int, shards: list[Shard], wd: WorkDir, workers: int) -> bool:
    """True when step ``k`` can run here: ``keyed.decided_from_keys`` and ranked."""
    return decided_from_keys(ops, k, shards, wd, workers) and ops[k].ranked  # type: ignore[attr-defined]


def _keys(wd: WorkDir, shard: int) -> list[tuple[Any, int]]:
    """(key, position) of a shard's kept records, in position order."""
    lines = read_buckets(wd.keys(shard), wd.keys_index(shard), 0, BUCKETS)
    return sorted(((key, pos) for key, _, pos in lines), key=lambda kp: kp[1])


def _ranked(op: GlobalOp, key: Any) -> tuple[Any, Any] | None:
    """(group, rank) of a record's key, None when it has no rank."""
    rank = op.rank_of(key)
    return None if rank is None else (op.rank_group(key), rank)


def count_ranked(op: GlobalOp, wd: WorkDir, shard: int) -> Counter[Any] | None:
    """Task (step 1): the shard's ranked records per group; None when ranks cannot decide its input
    (``NotRanked``)."""
    counts: Counter[Any] = Counter()
    try:
        for key, _ in _keys(wd, shard):
            gr = _ranked(op, key)
            if gr is not None:
                counts[gr[0]] += 1
    except NotRanked:
        return None
    return counts


def best_ranks(op: GlobalOp, wd: WorkDir, shard: int, budgets: dict[Any, int]) -> None:
    """Task (step 2): per group with a budget ``k`` here, the shard's best ``k`` ``[group, rank,
    position]`` entries; all of them sorted, one JSON line each."""
    by_group: dict[Any, list[list[Any]]] = {}
    for key, pos in _keys(wd, shard):
        gr = _ranked(op, key)
        if gr is not None and gr[0] in budgets:
            by_group.setdefault(gr[0], []).append([gr[1], pos])
    best = sorted([g, *entry] for g, entries in by_group.items() for entry in heapq.nsmallest(budgets[g], entries))
    with open(wd.ranks(shard), "wb") as fh:
        fh.write(b"".join(orjson.dumps(r) + b"\n" for r in best))


def _entries(wd: WorkDir, shard: int) -> Iterator[list[Any]]:
    with open(wd.ranks(shard), "rb") as fh:
        for line in fh:
            group, rank, pos = orjson.loads(line)
            yield [group, rank, shard, pos]


def boundaries(wd: WorkDir, shards: list[int], budgets: dict[Any, int]) -> dict[Any, list[Any]]:
    """Step 3: per group, its ``k``-th best (group, rank, shard, position) over every shard, the
    shards' sorted files merged lazily (one entry per shard in memory)."""
    last: dict[Any, list[Any]] = {}
    seen: Counter[Any] = Counter()
    for entry in heapq.merge(*(_entries(wd, s) for s in shards)):
        g = entry[0]
        seen[g] += 1
        if seen[g] == budgets[g]:
            last[g] = entry
    return last


def verdicts(op: GlobalOp, name: str, wd: WorkDir, shard: int, budgets: dict[Any, int | None],
             keep_all: set[Any], last: dict[Any, list[Any]]) -> tuple[StepStats, int]:
    """Task (step 4): the shard's verdicts; drops into ``wd.drops(shard)``. A ranked record of a group
    with a budget is kept when the group's budget holds all its records (``keep_all``) or its entry
    is not after the group's boundary (``last``; none: a budget of 0). Returns the counts and the
    bytes written."""
    st = StepStats(name)
    written = 0
    with open(wd.drops(shard), "wb") as fh:
        for key, pos in _keys(wd, shard):
            gr = _ranked(op, key)
            kept: bool | None = None
            bound = None
            if gr is not None and budgets.get(gr[0]) is not None:
                bound = last.get(gr[0])
                kept = gr[0] in keep_all or (bound is not None and [gr[0], gr[1], shard, pos] <= bound)
            line = drop_line(st, pos, op.rank_verdict(key, kept, bound[1] if bound is not None else None))
            fh.write(line)
            written += len(line)
    st.collect(op)
    return st, written


def run_ranked(op: GlobalOp, name: str, st: StepStats, shards: list[Shard], wd: WorkDir, workers: int,
               rejects: RejectFiles, writer: OutputWriter, progress: Progress,
               route: SplitRoute | None = None, pool_of: PoolOf = fork_pool) -> bool:
    """Steps 1–4 above: the step's stats into ``st``, its rejects into ``rejects(name)``, the kept
    records through ``writer`` into ``data/`` (or, with ``route``, their splits). Returns False,
    having written nothing, when ranks cannot decide this input (the caller runs the serial path)."""
    op.setup()
    t0 = time.perf_counter()
    ids = [s.index for s in shards]
    procs = tasks_at_once(workers, len(shards), pool_of)
    with pool_of(procs) as pool:
        per_shard = [f.result() for f in [pool.submit(count_ranked, op, wd, i) for i in ids]]
        if any(c is None for c in per_shard):
            return False
        progress.start(name, None, "records")
        counts: Counter[Any] = sum(per_shard, Counter())  # type: ignore[arg-type]
        budgets = op.rank_budgets(dict(counts))
        # Groups whose budget holds every one of their records need no ranking; a budget of 0, none.
        cut = {g: k for g, k in budgets.items() if k is not None and 0 < k < counts[g]}
        keep_all = {g for g, k in budgets.items() if k is not None and k >= counts[g]}
        last: dict[Any, list[Any]] = {}
        if cut:
            for f in [pool.submit(best_ranks, op, wd, i, cut) for i in ids]:
                f.result()
            last = boundaries(wd, ids, cut)
        pieces: dict[int, list[tuple[str, int, int]]] = {}
        for i, f in zip(ids, [pool.submit(verdicts, op, name, wd, i, budgets, keep_all, last) for i in ids],
                        strict=True):
            shard_st, written = f.result()
            shard_st.seconds = 0.0  # the step's time is the wall time below
            st.merge(shard_st)
            pieces[i] = [(str(wd.drops(i)), 0, written)] if written else []
        move_records(pool, procs, ((i, pieces[i]) for i in ids), name, shards, wd, rejects, writer, progress, route)
    st.seconds += time.perf_counter() - t0
    progress.finish(name)
    return True
